//! The vpcd transport against an in-test fake vpcd: a TCP listener on loopback that plays the
//! reader side of the protocol, and a recording card behind the `CardCore` seam.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use veuicc::card::CardCore;
use veuicc::vpcd::{
    self, shutdown_channel, CardSlot, Control, NoopCard, ShutdownTrigger, VpcdError, VpcdOptions,
};

const STEP: Duration = Duration::from_secs(5);
const ATR: [u8; 4] = [0x3B, 0x02, 0x14, 0x50];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    PowerOn,
    PowerOff,
    Reset,
    Apdu(Vec<u8>),
}

/// Records everything that reaches the card; answers APDUs with a fixed response.
#[derive(Debug)]
struct RecordingCard {
    events: Vec<Event>,
    response: Vec<u8>,
}

impl RecordingCard {
    fn shared(response: &[u8]) -> Arc<Mutex<RecordingCard>> {
        Arc::new(Mutex::new(RecordingCard {
            events: Vec::new(),
            response: response.to_vec(),
        }))
    }
}

impl CardCore for RecordingCard {
    fn atr(&self) -> Vec<u8> {
        ATR.to_vec()
    }
    fn power_on(&mut self) {
        self.events.push(Event::PowerOn);
    }
    fn power_off(&mut self) {
        self.events.push(Event::PowerOff);
    }
    fn reset(&mut self) {
        self.events.push(Event::Reset);
    }
    fn handle(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.events.push(Event::Apdu(apdu.to_vec()));
        self.response.clone()
    }
}

fn events(card: &Mutex<RecordingCard>) -> Vec<Event> {
    card.lock().expect("card mutex").events.clone()
}

fn fast_options() -> VpcdOptions {
    VpcdOptions {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..VpcdOptions::default()
    }
}

/// The vpcd side of one card connection.
struct Vpcd {
    stream: TcpStream,
}

impl Vpcd {
    async fn accept(listener: &TcpListener) -> Vpcd {
        let (stream, _) = timeout(STEP, listener.accept())
            .await
            .expect("card connects in time")
            .expect("accept");
        Vpcd { stream }
    }

    /// Sends a frame the way Debian 12's vpcd does: length and payload in separate writes.
    async fn send(&mut self, payload: &[u8]) {
        let len = u16::try_from(payload.len()).expect("frame fits u16");
        self.stream
            .write_all(&len.to_be_bytes())
            .await
            .expect("write length");
        self.stream.write_all(payload).await.expect("write payload");
    }

    async fn control(&mut self, c: Control) {
        self.send(&[c.to_byte()]).await;
    }

    async fn recv(&mut self) -> Vec<u8> {
        timeout(STEP, async {
            let mut len = [0u8; 2];
            self.stream.read_exact(&mut len).await.expect("read length");
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            self.stream.read_exact(&mut body).await.expect("read body");
            body
        })
        .await
        .expect("card answers in time")
    }

    async fn get_atr(&mut self) -> Vec<u8> {
        self.control(Control::GetAtr).await;
        self.recv().await
    }

    async fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.send(apdu).await;
        self.recv().await
    }

    /// Asserts the card sends nothing for `wait`.
    async fn expect_silence(&mut self, wait: Duration) {
        let mut byte = [0u8; 1];
        if let Ok(read) = timeout(wait, self.stream.read(&mut byte)).await {
            panic!("card sent something unsolicited: {read:?} {byte:02X?}");
        }
    }
}

struct Harness {
    listener: TcpListener,
    addr: SocketAddr,
    card: Arc<Mutex<RecordingCard>>,
    trigger: ShutdownTrigger,
    task: JoinHandle<Result<(), VpcdError>>,
}

impl Harness {
    async fn start(response: &[u8]) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let card = RecordingCard::shared(response);
        let (trigger, shutdown) = shutdown_channel();
        let task = vpcd::spawn_card(addr, card.clone(), fast_options(), shutdown);
        Harness {
            listener,
            addr,
            card,
            trigger,
            task,
        }
    }

    async fn stop(self) {
        self.trigger.trigger();
        let result = timeout(STEP, self.task)
            .await
            .expect("card task stops in time")
            .expect("card task does not panic");
        assert!(result.is_ok(), "serve_card failed: {result:?}");
    }
}

#[tokio::test]
async fn get_atr_is_answered_in_every_power_state() {
    let h = Harness::start(&[0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    assert_eq!(vpcd.get_atr().await, ATR, "unpowered");
    vpcd.control(Control::PowerOn).await;
    assert_eq!(vpcd.get_atr().await, ATR, "powered");
    vpcd.control(Control::Reset).await;
    assert_eq!(vpcd.get_atr().await, ATR, "after reset");
    vpcd.control(Control::PowerOff).await;
    assert_eq!(vpcd.get_atr().await, ATR, "powered off again");
    h.stop().await;
}

#[tokio::test]
async fn power_events_reach_the_card_without_a_reply() {
    let h = Harness::start(&[0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    vpcd.control(Control::PowerOn).await;
    vpcd.expect_silence(Duration::from_millis(100)).await;
    vpcd.control(Control::Reset).await;
    vpcd.expect_silence(Duration::from_millis(100)).await;
    vpcd.control(Control::PowerOff).await;
    vpcd.expect_silence(Duration::from_millis(100)).await;
    // Lockstep: had any of them been answered, that answer would come before the ATR.
    assert_eq!(vpcd.get_atr().await, ATR);
    assert_eq!(
        events(&h.card),
        [Event::PowerOn, Event::Reset, Event::PowerOff]
    );
    h.stop().await;
}

#[tokio::test]
async fn apdu_is_answered_with_exactly_one_frame() {
    let h = Harness::start(&[0x5A, 0x01, 0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    vpcd.control(Control::PowerOn).await;
    let apdu = [
        0x80, 0xE2, 0x91, 0x00, 0x06, 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A, 0x00,
    ];
    assert_eq!(vpcd.transmit(&apdu).await, [0x5A, 0x01, 0x90, 0x00]);
    vpcd.expect_silence(Duration::from_millis(150)).await;
    assert_eq!(
        events(&h.card),
        [Event::PowerOn, Event::Apdu(apdu.to_vec())]
    );
    h.stop().await;
}

#[tokio::test]
async fn two_byte_payload_is_an_apdu() {
    let h = Harness::start(&[0x6D, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    assert_eq!(vpcd.transmit(&[0x00, 0x04]).await, [0x6D, 0x00]);
    assert_eq!(events(&h.card), [Event::Apdu(vec![0x00, 0x04])]);
    h.stop().await;
}

#[tokio::test]
async fn response_frame_is_sent_in_one_segment() {
    let mut response = vec![0xA5; 256];
    response.extend_from_slice(&[0x90, 0x00]);
    let h = Harness::start(&response).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    for _ in 0..20 {
        vpcd.send(&[0x00, 0xB0, 0x00, 0x00, 0x00]).await;
        // Read as soon as the first byte is there: with one write the whole frame is in the
        // first segment; a separate length write would show up as a 2-byte read here.
        let mut buf = vec![0u8; 4096];
        let n = timeout(STEP, async {
            loop {
                vpcd.stream.readable().await.expect("readable");
                match vpcd.stream.try_read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    read => break read.expect("read"),
                }
            }
        })
        .await
        .expect("answer in time");
        assert_eq!(n, 2 + response.len(), "frame split over several segments");
        assert_eq!(buf[..2], [0x01, 0x02]);
        assert_eq!(buf[2..n], response[..]);
    }
    h.stop().await;
}

#[tokio::test]
async fn one_byte_payload_is_always_control() {
    let h = Harness::start(&[0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    // 0x04 on its own is GET_ATR, not a 1-byte APDU.
    assert_eq!(vpcd.transmit(&[0x04]).await, ATR);
    // Unknown control codes: no reply, nothing reaches the card.
    for code in [0x03, 0x05, 0x80, 0xFF] {
        vpcd.send(&[code]).await;
    }
    vpcd.expect_silence(Duration::from_millis(150)).await;
    assert!(events(&h.card).is_empty(), "{:?}", events(&h.card));
    // The session is still in step.
    assert_eq!(vpcd.transmit(&[0x00, 0xA4, 0x00, 0x0C]).await, [0x90, 0x00]);
    h.stop().await;
}

#[tokio::test]
async fn empty_card_response_becomes_6f00() {
    let h = Harness::start(&[]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    assert_eq!(vpcd.transmit(&[0x00, 0xA4, 0x04, 0x00]).await, [0x6F, 0x00]);
    h.stop().await;
}

#[tokio::test]
async fn reconnects_when_vpcd_closes_the_connection() {
    let h = Harness::start(&[0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    vpcd.control(Control::PowerOn).await;
    assert_eq!(vpcd.transmit(&[0x00, 0x70, 0x00, 0x00]).await, [0x90, 0x00]);
    drop(vpcd);
    let mut vpcd = Vpcd::accept(&h.listener).await;
    assert_eq!(vpcd.get_atr().await, ATR);
    assert_eq!(
        events(&h.card),
        [
            Event::PowerOn,
            Event::Apdu(vec![0x00, 0x70, 0x00, 0x00]),
            Event::PowerOff
        ],
        "the removed card is powered off"
    );
    h.stop().await;
}

#[tokio::test]
async fn reconnects_with_backoff_after_vpcd_goes_away() {
    let h = Harness::start(&[0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    vpcd.control(Control::PowerOn).await;
    assert_eq!(vpcd.get_atr().await, ATR);
    // pcscd stops: the connection closes and the port refuses connections for a while.
    let Harness {
        listener,
        addr,
        card,
        trigger,
        task,
    } = h;
    drop(vpcd);
    drop(listener);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!task.is_finished(), "serve_card keeps retrying");
    let listener = TcpListener::bind(addr).await.expect("rebind the vpcd port");
    let started = Instant::now();
    let mut vpcd = Vpcd::accept(&listener).await;
    // Back-off is capped at 200 ms in these options.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(vpcd.get_atr().await, ATR);
    vpcd.control(Control::PowerOn).await;
    assert_eq!(vpcd.transmit(&[0x00, 0xA4, 0x00, 0x0C]).await, [0x90, 0x00]);
    assert_eq!(
        events(&card),
        [
            Event::PowerOn,
            Event::PowerOff,
            Event::PowerOn,
            Event::Apdu(vec![0x00, 0xA4, 0x00, 0x0C])
        ]
    );
    Harness {
        listener,
        addr,
        card,
        trigger,
        task,
    }
    .stop()
    .await;
}

#[tokio::test]
async fn shutdown_removes_the_card() {
    let h = Harness::start(&[0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    vpcd.control(Control::PowerOn).await;
    assert_eq!(vpcd.get_atr().await, ATR);
    let card = h.card.clone();
    h.stop().await;
    let mut byte = [0u8; 1];
    let n = timeout(STEP, vpcd.stream.read(&mut byte))
        .await
        .expect("EOF in time")
        .expect("read");
    assert_eq!(n, 0, "vpcd sees EOF");
    assert_eq!(events(&card), [Event::PowerOn, Event::PowerOff]);
}

#[tokio::test]
async fn without_reconnect_a_refused_connect_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let (_trigger, shutdown) = shutdown_channel();
    let opts = VpcdOptions {
        reconnect: false,
        ..fast_options()
    };
    let result = vpcd::serve_card(addr, Arc::new(Mutex::new(NoopCard::new())), opts, shutdown);
    let result = timeout(STEP, result).await.expect("returns in time");
    assert!(
        matches!(result, Err(VpcdError::Connect { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn rejects_an_unusable_atr_before_connecting() {
    let (_trigger, shutdown) = shutdown_channel();
    let card = Arc::new(Mutex::new(NoopCard::with_atr(vec![0x3B; 34])));
    let result = vpcd::serve_card(vpcd::DEFAULT_ADDR, card, VpcdOptions::default(), shutdown);
    let result = timeout(STEP, result).await.expect("returns in time");
    assert!(
        matches!(result, Err(VpcdError::InvalidAtr(34))),
        "{result:?}"
    );
}

/// Debian 12's vpcd writes length and payload separately with Nagle on. Unless the card
/// re-arms TCP_QUICKACK after every read, each exchange stalls ~40 ms on the delayed ACK.
#[tokio::test]
async fn split_writes_from_vpcd_do_not_stall() {
    let h = Harness::start(&[0x90, 0x00]).await;
    let mut vpcd = Vpcd::accept(&h.listener).await;
    vpcd.stream.set_nodelay(false).expect("nagle on, like vpcd");
    vpcd.control(Control::PowerOn).await;
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        assert_eq!(vpcd.transmit(&[0x00, 0xA4, 0x00, 0x0C]).await, [0x90, 0x00]);
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    let p90 = times[times.len() * 9 / 10];
    assert!(
        median < Duration::from_millis(5) && p90 < Duration::from_millis(20),
        "median {median:?} p90 {p90:?}: delayed-ACK stall"
    );
    h.stop().await;
}

#[tokio::test]
async fn serve_many_runs_one_task_per_card() {
    let a = TcpListener::bind("127.0.0.1:0").await.expect("bind a");
    let b = TcpListener::bind("127.0.0.1:0").await.expect("bind b");
    let card_a = RecordingCard::shared(&[0x61, 0x90, 0x00]);
    let card_b = RecordingCard::shared(&[0x62, 0x90, 0x00]);
    let slots = [
        CardSlot {
            addr: a.local_addr().expect("addr a"),
            card: card_a.clone(),
        },
        CardSlot {
            addr: b.local_addr().expect("addr b"),
            card: card_b.clone(),
        },
    ];
    let (trigger, shutdown) = shutdown_channel();
    let all = tokio::spawn(vpcd::serve_many(slots, fast_options(), shutdown));
    let mut va = Vpcd::accept(&a).await;
    let mut vb = Vpcd::accept(&b).await;
    assert_eq!(vb.transmit(&[0x00, 0x01]).await, [0x62, 0x90, 0x00]);
    assert_eq!(va.transmit(&[0x00, 0x01]).await, [0x61, 0x90, 0x00]);
    trigger.trigger();
    let result = timeout(STEP, all).await.expect("stops").expect("no panic");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(events(&card_a).last(), Some(&Event::PowerOff));
    assert_eq!(events(&card_b).last(), Some(&Event::PowerOff));
}
