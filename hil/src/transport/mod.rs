//! APDU transports: "send this command APDU, return the response APDU".
//!
//! Backends: [`InProcess`] (a card core in this process), [`Pcsc`] (any PC/SC reader) and
//! [`at::AtModem`] (a modem's AT port: `+CCHO`/`+CGLA` or `+CSIM`, over a serial device, a PTY,
//! a Unix socket or TCP).

pub mod at;

use std::ffi::CString;
use std::sync::{Arc, Mutex};
use veuicc::card::CardCore;

/// Transport failures (not card status words: those are in the response).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("PC/SC: {0}")]
    Pcsc(#[from] pcsc::Error),
    #[error("no reader matches {0:?} (readers: {1})")]
    NoReader(String, String),
    #[error("the card returned {0} bytes, less than a status word")]
    ShortResponse(usize),
    #[error("the card is unavailable: {0}")]
    Card(String),
    #[error(transparent)]
    At(#[from] at::AtError),
}

/// Something that carries APDUs to a card.
pub trait ApduTransport {
    /// Sends one command APDU and returns the raw response (data ‖ SW1 SW2).
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError>;
    /// A human-readable description (reader name, "in-process", …).
    fn describe(&self) -> String;
}

/// A card core in this process.
#[derive(Debug)]
pub struct InProcess<C: CardCore> {
    card: Arc<Mutex<C>>,
}

impl<C: CardCore> InProcess<C> {
    /// Powers the card on and wraps it.
    pub fn new(mut card: C) -> Self {
        card.power_on();
        InProcess {
            card: Arc::new(Mutex::new(card)),
        }
    }
    /// The shared card, e.g. to inspect state in tests.
    pub fn card(&self) -> Arc<Mutex<C>> {
        self.card.clone()
    }
}

impl<C: CardCore> ApduTransport for InProcess<C> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut c = self
            .card
            .lock()
            .map_err(|_| TransportError::Card("card mutex poisoned".into()))?;
        Ok(c.handle(apdu))
    }
    fn describe(&self) -> String {
        "in-process card".into()
    }
}

/// A card in a PC/SC reader, connected shared with T=0 or T=1.
pub struct Pcsc {
    card: Option<pcsc::Card>,
    reader: String,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Pcsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pcsc({})", self.reader)
    }
}

/// Names of the PC/SC readers.
pub fn list_readers() -> Result<Vec<String>, TransportError> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let mut buf = vec![0u8; 8192];
    let names = ctx.list_readers(&mut buf)?;
    Ok(names.map(|n| n.to_string_lossy().into_owned()).collect())
}

impl Pcsc {
    /// Connects to the first reader whose name contains `pattern` (empty: the first reader).
    pub fn connect(pattern: &str) -> Result<Pcsc, TransportError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
        let readers = list_readers()?;
        let reader = readers
            .iter()
            .find(|r| r.contains(pattern))
            .cloned()
            .ok_or_else(|| TransportError::NoReader(pattern.into(), readers.join(", ")))?;
        let cname = CString::new(reader.clone())
            .map_err(|_| TransportError::NoReader(pattern.into(), reader.clone()))?;
        let card = ctx.connect(&cname, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)?;
        Ok(Pcsc {
            card: Some(card),
            reader,
            buf: vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED],
        })
    }

    /// The reader's ATR of the connected card.
    pub fn atr(&self) -> Result<Vec<u8>, TransportError> {
        let card = self
            .card
            .as_ref()
            .ok_or_else(|| TransportError::Card("disconnected".into()))?;
        let mut names = vec![0u8; 2048];
        let mut atr = vec![0u8; pcsc::MAX_ATR_SIZE];
        let st = card.status2(&mut names, &mut atr)?;
        Ok(st.atr().to_vec())
    }

    /// Reconnects after the card was reset or re-inserted (e.g. the card process restarted).
    pub fn reconnect(&mut self) -> Result<(), TransportError> {
        if let Some(c) = self.card.as_mut() {
            c.reconnect(
                pcsc::ShareMode::Shared,
                pcsc::Protocols::ANY,
                pcsc::Disposition::LeaveCard,
            )?;
        }
        Ok(())
    }
}

impl Drop for Pcsc {
    fn drop(&mut self) {
        // The pcsc crate resets the card on drop; leave it as it is instead.
        if let Some(c) = self.card.take() {
            let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        }
    }
}

impl ApduTransport for Pcsc {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let card = self
            .card
            .as_ref()
            .ok_or_else(|| TransportError::Card("disconnected".into()))?;
        let r = card.transmit(apdu, &mut self.buf)?;
        if r.len() < 2 {
            return Err(TransportError::ShortResponse(r.len()));
        }
        Ok(r.to_vec())
    }
    fn describe(&self) -> String {
        format!("PC/SC reader {:?}", self.reader)
    }
}

impl<T: ApduTransport + ?Sized> ApduTransport for Box<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(apdu)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

impl<T: ApduTransport + ?Sized> ApduTransport for &mut T {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(apdu)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}
