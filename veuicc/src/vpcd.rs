//! vpcd transport: carries a [`CardCore`] to pcscd through vsmartcard's vpcd reader driver.
//!
//! The card is the TCP *client*; vpcd (inside pcscd) listens on `0.0.0.0:PORT` and `PORT+1`,
//! one card per slot. Both directions use frames of a big-endian `u16` length followed by that
//! many bytes:
//!
//! - vpcd → card, length 1: a control byte ([`Control`]): power off, power on, reset, get ATR.
//!   Only get ATR is answered (with the ATR); unknown codes are logged and ignored.
//! - vpcd → card, length ≥ 2: a C-APDU, answered with exactly one R-APDU frame.
//! - The card never sends anything unsolicited and never a zero-length frame (vpcd would hang
//!   in `recv(…, 0, MSG_WAITALL)`): an empty card answer is replaced by `6F00`.
//!
//! Latency: Debian 12's vpcd writes the length and the payload of each frame in two `send`s, so
//! unless the card acknowledges at once every APDU waits for the 40 ms delayed ACK. The card
//! therefore re-arms `TCP_QUICKACK` after every read, sets `TCP_NODELAY`, and writes each
//! reply (length and payload) in one buffer.
//!
//! pcscd going away shows as EOF or a refused connect: [`serve_card`] then powers the card off
//! (pcscd powers it on again) and reconnects with exponential back-off until shut down.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, debug_span, error, field, info, info_span, trace, warn, Instrument};

use crate::apdu::Class;
use crate::card::{default_atr, CardCore};

/// vpcd's default port (`/etc/reader.conf.d/vpcd`: `/dev/null:0x8C7B`); slot 1 is one above.
pub const DEFAULT_PORT: u16 = 35963;
/// Where a card connects by default: slot 0 of a vpcd on this host.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, DEFAULT_PORT));
/// Longest ATR vpcd accepts (more makes power-up fail with "Not enough memory for ATR").
pub const MAX_ATR_LEN: usize = 33;
/// Longest frame payload the `u16` length prefix can carry.
pub const MAX_FRAME_LEN: usize = u16::MAX as usize;
/// Sent instead of an empty or unframeable card answer (ISO 7816-4: no precise diagnosis).
const SW_NO_PRECISE_DIAGNOSIS: [u8; 2] = [0x6F, 0x00];

/// A card shared between its vpcd task and whoever else holds it (tests, a control socket).
///
/// A plain `std` mutex: the card call is synchronous and short, and the lock is never held
/// across an `.await`.
pub type SharedCard = Arc<Mutex<dyn CardCore>>;

/// The control bytes vpcd sends as 1-byte frames (`vpcd.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `00`: power removed; volatile state is lost. No reply.
    PowerOff,
    /// `01`: cold start. No reply.
    PowerOn,
    /// `02`: warm reset. No reply.
    Reset,
    /// `04`: answer with the ATR, in every power state (it is vpcd's presence poll).
    GetAtr,
}

impl Control {
    /// Decodes a control byte; `None` for codes vpcd does not define.
    pub fn from_byte(b: u8) -> Option<Control> {
        match b {
            0x00 => Some(Control::PowerOff),
            0x01 => Some(Control::PowerOn),
            0x02 => Some(Control::Reset),
            0x04 => Some(Control::GetAtr),
            _ => None,
        }
    }

    /// The wire byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Control::PowerOff => 0x00,
            Control::PowerOn => 0x01,
            Control::Reset => 0x02,
            Control::GetAtr => 0x04,
        }
    }
}

/// How [`serve_card`] connects and reconnects.
#[derive(Debug, Clone)]
pub struct VpcdOptions {
    /// First back-off after a lost or refused connection.
    pub initial_backoff: Duration,
    /// The back-off doubles up to this cap; it starts again from `initial_backoff` once a
    /// session has received its first frame.
    pub max_backoff: Duration,
    /// Bound on one TCP connect attempt.
    pub connect_timeout: Duration,
    /// `true` (the default): reconnect for ever. `false`: return after the first session (or
    /// the first failed connect), which suits one-shot tools and tests.
    pub reconnect: bool,
}

impl Default for VpcdOptions {
    fn default() -> Self {
        VpcdOptions {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            reconnect: true,
        }
    }
}

/// Why [`serve_card`] gave up. Lost connections are not errors while `reconnect` is on.
#[derive(Debug, thiserror::Error)]
pub enum VpcdError {
    #[error("the card's ATR is {0} bytes long; vpcd accepts 1 to {MAX_ATR_LEN}")]
    InvalidAtr(usize),
    #[error("the card's mutex is poisoned (a card call panicked)")]
    CardPoisoned,
    #[error("cannot connect to vpcd at {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("vpcd connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("card task for {addr} failed: {message}")]
    Task { addr: SocketAddr, message: String },
}

/// Fires [`Shutdown`]. Dropping the trigger fires it too.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// A shutdown signal that any number of card tasks can wait on (clone it).
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A connected trigger / signal pair.
pub fn shutdown_channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Asks every task holding a [`Shutdown`] of this pair to stop.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Another signal for this trigger.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// Whether shutdown has been asked for (or the trigger dropped).
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once shutdown is asked for (or the trigger dropped). Cancel-safe.
    pub async fn wait(&mut self) {
        // Err means the trigger was dropped, which counts as shutdown.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// A card with no behaviour: a fixed ATR and `9000` for every APDU. The benchmark baseline
/// (`vpcd-noop`), and a stand-in in transport tests.
#[derive(Debug, Clone)]
pub struct NoopCard {
    atr: Vec<u8>,
}

impl NoopCard {
    /// A noop card with the project's ATR ([`default_atr`]), so that pcscd negotiates the same
    /// protocol as with the real card.
    pub fn new() -> NoopCard {
        NoopCard { atr: default_atr() }
    }

    /// A noop card with another ATR.
    pub fn with_atr(atr: Vec<u8>) -> NoopCard {
        NoopCard { atr }
    }
}

impl Default for NoopCard {
    fn default() -> Self {
        NoopCard::new()
    }
}

impl CardCore for NoopCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }
    fn power_on(&mut self) {}
    fn power_off(&mut self) {}
    fn reset(&mut self) {}
    fn handle(&mut self, _apdu: &[u8]) -> Vec<u8> {
        vec![0x90, 0x00]
    }
}

/// Answers one vpcd frame payload (after the length prefix) from `card`, appending the reply
/// frame, length prefix included, to `out`. Nothing is appended for power events and unknown
/// control bytes. Never appends a zero-length frame. This is the whole protocol, without IO.
pub fn handle_frame<C: CardCore + ?Sized>(card: &mut C, payload: &[u8], out: &mut Vec<u8>) {
    match payload {
        [] => warn!("ignoring a zero-length frame from vpcd"),
        [code] => match Control::from_byte(*code) {
            Some(Control::PowerOff) => {
                debug!("power off");
                card.power_off();
            }
            Some(Control::PowerOn) => {
                debug!("power on");
                card.power_on();
            }
            Some(Control::Reset) => {
                debug!("reset");
                card.reset();
            }
            Some(Control::GetAtr) => {
                let atr = card.atr();
                trace!(atr = %hex::encode_upper(&atr), "get ATR");
                if atr.is_empty() || atr.len() > MAX_ATR_LEN {
                    error!(
                        len = atr.len(),
                        "card ATR unusable; sending the default ATR"
                    );
                    push_frame(out, &default_atr());
                } else {
                    push_frame(out, &atr);
                }
            }
            None => warn!(
                code = format_args!("{code:02X}"),
                "ignoring unknown vpcd control byte"
            ),
        },
        apdu => {
            let span = debug_span!(
                "apdu",
                ch = field::Empty,
                ins = format_args!("{:02X}", apdu[1]),
                sw = field::Empty
            );
            let _entered = span.enter();
            if let Ok(class) = Class::parse(apdu[0]) {
                span.record("ch", class.channel);
            }
            trace!(c_apdu = %hex::encode_upper(apdu));
            let response = card.handle(apdu);
            trace!(r_apdu = %hex::encode_upper(&response));
            let response: &[u8] = if response.len() < 2 || response.len() > MAX_FRAME_LEN {
                error!(
                    len = response.len(),
                    "card answer cannot be sent as an R-APDU; sending 6F00"
                );
                &SW_NO_PRECISE_DIAGNOSIS
            } else {
                &response
            };
            let sw = &response[response.len() - 2..];
            span.record("sw", format_args!("{:02X}{:02X}", sw[0], sw[1]));
            push_frame(out, response);
        }
    }
}

/// Appends `u16-BE length ‖ payload`. The caller guarantees `1 ≤ payload.len() ≤ 65535`.
fn push_frame(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    out.reserve(2 + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&payload[..usize::from(len)]);
}

/// Serves `card` to the vpcd at `addr` until `shutdown` fires.
///
/// Connects as a TCP client, answers frames in lockstep, and on EOF or a refused connection
/// powers the card off and reconnects with exponential back-off (see [`VpcdOptions`]).
/// Returns `Ok(())` on shutdown (the card is powered off: it has been removed), or at the end
/// of the first session when `opts.reconnect` is false. Errors: an unusable ATR (checked before
/// connecting), a poisoned card mutex, and — only without `reconnect` — IO errors.
pub async fn serve_card<C>(
    addr: SocketAddr,
    card: Arc<Mutex<C>>,
    opts: VpcdOptions,
    shutdown: Shutdown,
) -> Result<(), VpcdError>
where
    C: CardCore + ?Sized,
{
    let atr_len = lock(&card)?.atr().len();
    if atr_len == 0 || atr_len > MAX_ATR_LEN {
        return Err(VpcdError::InvalidAtr(atr_len));
    }
    serve_loop(addr, &card, &opts, shutdown)
        .instrument(info_span!("vpcd", %addr))
        .await
}

/// Spawns [`serve_card`] on the current tokio runtime.
pub fn spawn_card<C>(
    addr: SocketAddr,
    card: Arc<Mutex<C>>,
    opts: VpcdOptions,
    shutdown: Shutdown,
) -> JoinHandle<Result<(), VpcdError>>
where
    C: CardCore + ?Sized + 'static,
{
    tokio::spawn(serve_card(addr, card, opts, shutdown))
}

/// One card on one vpcd port, for [`serve_many`].
#[derive(Clone)]
pub struct CardSlot {
    pub addr: SocketAddr,
    pub card: SharedCard,
}

impl fmt::Debug for CardSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardSlot")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Serves several cards, one task each, until `shutdown` fires and all have stopped.
///
/// A card task that fails (see [`serve_card`]) is logged and does not stop the others; the
/// first such error is returned once every task has finished.
pub async fn serve_many(
    slots: impl IntoIterator<Item = CardSlot>,
    opts: VpcdOptions,
    shutdown: Shutdown,
) -> Result<(), VpcdError> {
    let mut tasks = JoinSet::new();
    let mut addrs = HashMap::new();
    for slot in slots {
        let (addr, opts, shutdown) = (slot.addr, opts.clone(), shutdown.clone());
        let task = tasks.spawn(serve_card(addr, slot.card, opts, shutdown));
        addrs.insert(task.id(), addr);
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next_with_id().await {
        let failure = match joined {
            Ok((_, Ok(()))) => None,
            Ok((id, Err(e))) => {
                error!(addr = ?addrs.get(&id), error = %e, "card task stopped");
                Some(e)
            }
            Err(e) => {
                let addr = addrs.get(&e.id()).copied().unwrap_or(DEFAULT_ADDR);
                error!(%addr, error = %e, "card task panicked");
                Some(VpcdError::Task {
                    addr,
                    message: e.to_string(),
                })
            }
        };
        if first_error.is_none() {
            first_error = failure;
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The ports of the two slots of one vpcd reader entry: `[port, port + 1]`.
pub fn slot_addrs(first: SocketAddr) -> [SocketAddr; 2] {
    let mut second = first;
    second.set_port(first.port().wrapping_add(1));
    [first, second]
}

fn lock<C: ?Sized>(card: &Mutex<C>) -> Result<MutexGuard<'_, C>, VpcdError> {
    card.lock().map_err(|_| VpcdError::CardPoisoned)
}

/// Exponential back-off: `initial`, `2·initial`, … capped at `max`.
#[derive(Debug)]
struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            next: initial.min(max),
        }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = delay.saturating_mul(2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = self.initial.min(self.max);
    }
}

/// How a session ended without an error.
enum SessionEnd {
    /// vpcd closed the connection (pcscd stopped, or the slot was torn down).
    Eof,
    Shutdown,
}

async fn serve_loop<C: CardCore + ?Sized>(
    addr: SocketAddr,
    card: &Mutex<C>,
    opts: &VpcdOptions,
    mut shutdown: Shutdown,
) -> Result<(), VpcdError> {
    let mut backoff = Backoff::new(opts.initial_backoff, opts.max_backoff);
    let mut failed_connects = 0u32;
    let mut sessions = 0u64;
    loop {
        if shutdown.is_triggered() {
            return Ok(());
        }
        let connected = tokio::select! {
            connected = connect(addr, opts.connect_timeout) => connected,
            () = shutdown.wait() => return Ok(()),
        };
        match connected {
            Ok(stream) => {
                if failed_connects > 0 {
                    info!(attempts = failed_connects + 1, "connected to vpcd");
                } else {
                    debug!("connected to vpcd");
                }
                failed_connects = 0;
                sessions += 1;
                let ended = run_session(stream, card, &mut backoff, &mut shutdown)
                    .instrument(info_span!("session", n = sessions))
                    .await;
                // Whatever happened, the card has left the reader: volatile state goes.
                lock(card)?.power_off();
                debug!("card powered off (removed from the reader)");
                match ended {
                    Ok(SessionEnd::Shutdown) => return Ok(()),
                    Ok(SessionEnd::Eof) if !opts.reconnect => return Ok(()),
                    Ok(SessionEnd::Eof) => info!("vpcd closed the connection; card removed"),
                    Err(SessionError::Fatal(e)) => return Err(e),
                    Err(SessionError::Io(e)) if !opts.reconnect => return Err(e.into()),
                    Err(SessionError::Io(e)) => info!(error = %e, "vpcd connection lost"),
                }
            }
            Err(e) if !opts.reconnect => return Err(VpcdError::Connect { addr, source: e }),
            Err(e) => {
                if failed_connects == 0 {
                    info!(error = %e, "vpcd not reachable; retrying with back-off");
                } else {
                    debug!(error = %e, attempt = failed_connects + 1, "vpcd still not reachable");
                }
                failed_connects = failed_connects.saturating_add(1);
            }
        }
        let delay = backoff.next_delay();
        debug!(?delay, "reconnecting after back-off");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.wait() => return Ok(()),
        }
    }
}

async fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    SockRef::from(&stream).set_tcp_quickack(true)?;
    Ok(stream)
}

enum SessionError {
    /// The connection failed: reconnect.
    Io(io::Error),
    /// The card is unusable: stop.
    Fatal(VpcdError),
}

impl From<io::Error> for SessionError {
    fn from(e: io::Error) -> Self {
        SessionError::Io(e)
    }
}

/// One TCP connection: read frames, answer them, until EOF, an error or shutdown.
async fn run_session<C: CardCore + ?Sized>(
    mut stream: TcpStream,
    card: &Mutex<C>,
    backoff: &mut Backoff,
    shutdown: &mut Shutdown,
) -> Result<SessionEnd, SessionError> {
    let mut reader = FrameReader::default();
    let mut out = Vec::with_capacity(512);
    let mut frames: u64 = 0;
    let mut apdus: u64 = 0;
    let end = loop {
        let len = tokio::select! {
            len = reader.next_frame(&mut stream) => len?,
            () = shutdown.wait() => break SessionEnd::Shutdown,
        };
        let Some(len) = len else {
            break SessionEnd::Eof;
        };
        if frames == 0 {
            // vpcd accepts one card per slot; a queued card hears nothing until it is accepted.
            info!("card inserted (first frame from vpcd)");
            backoff.reset();
        }
        frames += 1;
        let payload = reader.payload(len);
        if payload.len() >= 2 {
            apdus += 1;
        }
        {
            let mut guard = lock(card).map_err(SessionError::Fatal)?;
            handle_frame(&mut *guard, payload, &mut out);
        }
        reader.consume(len);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    };
    debug!(frames, apdus, "vpcd session ended");
    Ok(end)
}

/// Buffers reads and splits them into frames; re-arms `TCP_QUICKACK` after every read.
#[derive(Debug, Default)]
struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// Waits for a complete frame and returns its payload length (`Ok(None)` on a clean EOF
    /// between frames). Cancel-safe: bytes read so far stay buffered.
    async fn next_frame(&mut self, stream: &mut TcpStream) -> io::Result<Option<usize>> {
        loop {
            if let [hi, lo, ..] = self.buf[..] {
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                if self.buf.len() >= 2 + len {
                    return Ok(Some(len));
                }
                self.buf.reserve(2 + len - self.buf.len());
            } else {
                self.buf.reserve(512);
            }
            let n = stream.read_buf(&mut self.buf).await?;
            // Linux leaves quick-ACK mode on its own; without re-arming, vpcd's split writes
            // wait for our 40 ms delayed ACK on every frame.
            SockRef::from(&*stream).set_tcp_quickack(true)?;
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "vpcd closed the connection in the middle of a frame",
                    ))
                };
            }
        }
    }

    fn payload(&self, len: usize) -> &[u8] {
        &self.buf[2..2 + len]
    }

    fn consume(&mut self, len: usize) {
        self.buf.drain(..2 + len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Fixed {
        atr: Vec<u8>,
        response: Vec<u8>,
        powered: bool,
        resets: u32,
    }

    impl CardCore for Fixed {
        fn atr(&self) -> Vec<u8> {
            self.atr.clone()
        }
        fn power_on(&mut self) {
            self.powered = true;
        }
        fn power_off(&mut self) {
            self.powered = false;
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
        fn handle(&mut self, _apdu: &[u8]) -> Vec<u8> {
            self.response.clone()
        }
    }

    fn answer(card: &mut Fixed, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        handle_frame(card, payload, &mut out);
        out
    }

    #[test]
    fn control_bytes_round_trip() {
        for b in 0..=u8::MAX {
            if let Some(c) = Control::from_byte(b) {
                assert_eq!(c.to_byte(), b);
            }
        }
        assert_eq!(Control::from_byte(0x03), None);
    }

    #[test]
    fn power_events_are_not_answered() {
        let mut card = Fixed::default();
        assert!(answer(&mut card, &[0x01]).is_empty());
        assert!(card.powered);
        assert!(answer(&mut card, &[0x02]).is_empty());
        assert_eq!(card.resets, 1);
        assert!(answer(&mut card, &[0x00]).is_empty());
        assert!(!card.powered);
        assert!(answer(&mut card, &[0x7F]).is_empty());
    }

    #[test]
    fn get_atr_is_framed() {
        let mut card = Fixed {
            atr: vec![0x3B, 0x00],
            ..Fixed::default()
        };
        assert_eq!(answer(&mut card, &[0x04]), [0, 2, 0x3B, 0x00]);
    }

    #[test]
    fn empty_or_oversized_atr_falls_back_to_default() {
        let expected = {
            let mut v = vec![0, default_atr().len() as u8];
            v.extend(default_atr());
            v
        };
        let mut card = Fixed::default();
        assert_eq!(answer(&mut card, &[0x04]), expected);
        card.atr = vec![0x3B; 34];
        assert_eq!(answer(&mut card, &[0x04]), expected);
    }

    #[test]
    fn short_or_oversized_response_becomes_6f00() {
        let mut card = Fixed::default();
        assert_eq!(answer(&mut card, &[0, 0xA4, 0, 0]), [0, 2, 0x6F, 0x00]);
        card.response = vec![0x90];
        assert_eq!(answer(&mut card, &[0, 0xA4, 0, 0]), [0, 2, 0x6F, 0x00]);
        card.response = vec![0; MAX_FRAME_LEN + 1];
        assert_eq!(answer(&mut card, &[0, 0xA4, 0, 0]), [0, 2, 0x6F, 0x00]);
    }

    #[test]
    fn largest_response_is_framed() {
        let mut card = Fixed {
            response: vec![0x55; MAX_FRAME_LEN],
            ..Fixed::default()
        };
        let out = answer(&mut card, &[0, 0xB0, 0, 0]);
        assert_eq!(out.len(), 2 + MAX_FRAME_LEN);
        assert_eq!(out[..2], [0xFF, 0xFF]);
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let delays: Vec<u64> = (0..5).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn slot_addrs_are_consecutive() {
        let [a, b] = slot_addrs(DEFAULT_ADDR);
        assert_eq!((a.port(), b.port()), (35963, 35964));
    }

    #[test]
    fn dropped_trigger_counts_as_shutdown() {
        let (trigger, shutdown) = shutdown_channel();
        assert!(!shutdown.is_triggered());
        drop(trigger);
        assert!(shutdown.is_triggered());
    }
}
