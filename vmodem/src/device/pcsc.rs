//! A card in a PC/SC reader (a real SIM, or a vpcd card) as a [`CardCore`], so a slot of the
//! virtual modem can hold it. Transport errors make the card answer `6F00` and mark it failed;
//! the device then reports a SIM failure.

use std::ffi::CString;

use veuicc::card::CardCore;

/// Why a PC/SC card could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum PcscError {
    #[error("PC/SC: {0}")]
    Pcsc(#[from] pcsc::Error),
    #[error("no PC/SC reader matches {0:?} (readers: {1})")]
    NoReader(String, String),
}

/// A connected card, shared mode, T=0 or T=1.
pub struct PcscCard {
    card: Option<pcsc::Card>,
    reader: String,
    atr: Vec<u8>,
    failed: Option<String>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for PcscCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PcscCard({:?}, failed: {:?})", self.reader, self.failed)
    }
}

impl PcscCard {
    /// Connects to the first reader whose name contains `pattern` (empty: the first reader).
    pub fn connect(pattern: &str) -> Result<PcscCard, PcscError> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
        let mut names = vec![0u8; 16 * 1024];
        let readers: Vec<String> = ctx
            .list_readers(&mut names)?
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let reader = readers
            .iter()
            .find(|r| r.contains(pattern))
            .cloned()
            .ok_or_else(|| PcscError::NoReader(pattern.into(), readers.join(", ")))?;
        let cname = CString::new(reader.clone())
            .map_err(|_| PcscError::NoReader(pattern.into(), reader.clone()))?;
        let card = ctx.connect(&cname, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)?;
        let mut rnames = vec![0u8; 2048];
        let mut atr = vec![0u8; pcsc::MAX_ATR_SIZE];
        let atr = card
            .status2(&mut rnames, &mut atr)
            .map(|s| s.atr().to_vec())
            .unwrap_or_default();
        Ok(PcscCard {
            card: Some(card),
            reader,
            atr,
            failed: None,
            buf: vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED],
        })
    }

    /// The reader's name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// Why the card stopped working, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn reconnect(&mut self, disposition: pcsc::Disposition) {
        if let Some(c) = self.card.as_mut() {
            if let Err(e) = c.reconnect(pcsc::ShareMode::Shared, pcsc::Protocols::ANY, disposition)
            {
                self.failed = Some(e.to_string());
            } else {
                self.failed = None;
            }
        }
    }
}

impl Drop for PcscCard {
    fn drop(&mut self) {
        // Leave the card as it is for the next user (the pcsc crate would reset it).
        if let Some(c) = self.card.take() {
            let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        }
    }
}

impl CardCore for PcscCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn power_on(&mut self) {
        self.reconnect(pcsc::Disposition::ResetCard);
    }

    fn power_off(&mut self) {}

    fn reset(&mut self) {
        self.reconnect(pcsc::Disposition::ResetCard);
    }

    fn handle(&mut self, apdu: &[u8]) -> Vec<u8> {
        let Some(card) = self.card.as_ref() else {
            return vec![0x6F, 0x00];
        };
        match card.transmit(apdu, &mut self.buf) {
            Ok(r) if r.len() >= 2 => r.to_vec(),
            Ok(r) => {
                self.failed = Some(format!("short response ({} bytes)", r.len()));
                vec![0x6F, 0x00]
            }
            Err(e) => {
                self.failed = Some(e.to_string());
                vec![0x6F, 0x00]
            }
        }
    }
}
