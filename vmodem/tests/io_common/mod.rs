//! Shared by the `io_*` tests: a small fake modem core (so the IO is tested on its own) and
//! blocking clients for PTYs, Unix sockets and TCP.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use vmodem::config::{Config, ModemConfig, PortConfig};
use vmodem::control::{ControlError, ControlRequest};
use vmodem::endpoint::{EndpointOptions, ModemCore};
use vmodem::modem::PortId;
use vmodem::server::{Server, ServerOptions};
use vmodem::transcript::TranscriptOptions;

pub const T: Duration = Duration::from_secs(5);

/// A fake core: echoes, answers every `\r`-terminated line with `OK` (`ATSLOW` after a 300 ms
/// response delay), queues injected URCs for attached ports only (a real modem drops them while
/// nobody listens), and records what the IO told it.
#[derive(Debug, Default)]
pub struct Fake {
    pub ports: Vec<FakePort>,
    pub lines: Vec<(PortId, String)>,
    pub delay: Duration,
}

#[derive(Debug, Default)]
pub struct FakePort {
    pub attached: bool,
    pub attaches: usize,
    pub detaches: usize,
    pub partial: Vec<u8>,
    pub urcs: Vec<u8>,
}

impl Fake {
    pub fn new(cfg: &ModemConfig) -> Fake {
        Fake {
            ports: cfg.ports.iter().map(|_| FakePort::default()).collect(),
            ..Fake::default()
        }
    }
}

impl ModemCore for Fake {
    fn input(&mut self, port: PortId, bytes: &[u8], _now: Instant) -> Vec<u8> {
        let mut out = bytes.to_vec();
        self.delay = Duration::ZERO;
        for &b in bytes {
            let p = &mut self.ports[port];
            if b == b'\r' {
                let line = String::from_utf8_lossy(&p.partial).to_string();
                p.partial.clear();
                if line == "ATSLOW" {
                    self.delay = Duration::from_millis(300);
                }
                self.lines.push((port, line));
                out.extend_from_slice(b"\r\nOK\r\n");
            } else if b != b'\n' {
                p.partial.push(b);
            }
        }
        out
    }
    fn attach(&mut self, port: PortId) {
        self.ports[port].attached = true;
        self.ports[port].attaches += 1;
    }
    fn detach(&mut self, port: PortId) {
        let p = &mut self.ports[port];
        p.attached = false;
        p.detaches += 1;
        p.partial.clear();
        p.urcs.clear();
    }
    fn take_output(&mut self, port: PortId) -> Vec<u8> {
        std::mem::take(&mut self.ports[port].urcs)
    }
    fn poll(&mut self, _now: Instant) -> Option<Duration> {
        None
    }
    fn response_delay(&self, _port: PortId) -> Duration {
        self.delay
    }
    fn control(
        &mut self,
        req: &ControlRequest,
        _now: Instant,
    ) -> Result<serde_json::Value, ControlError> {
        match req {
            ControlRequest::Status => Ok(serde_json::json!({"fake": true})),
            ControlRequest::InjectUrc { line, port: None } => {
                for p in self.ports.iter_mut().filter(|p| p.attached) {
                    p.urcs
                        .extend_from_slice(format!("\r\n{line}\r\n").as_bytes());
                }
                Ok(serde_json::json!({}))
            }
            _ => Err(ControlError::Refused("the fake does not do that".into())),
        }
    }
}

/// Quick options for tests: a short hang-up poll.
pub fn opts(transcripts: bool) -> ServerOptions {
    ServerOptions {
        transcript: TranscriptOptions {
            enabled: transcripts,
            ..TranscriptOptions::default()
        },
        endpoint: EndpointOptions {
            hup_poll: Duration::from_millis(20),
            ..EndpointOptions::default()
        },
    }
}

/// A config with one modem `m0` and the given ports, rooted in `dir`.
pub fn config(dir: &Path, ports: Vec<PortConfig>) -> Config {
    let mut m = ModemConfig::named("m0");
    m.ports = ports;
    Config {
        run_dir: Some(dir.join("run")),
        control: None,
        modems: vec![m],
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn start_fake(rt: &tokio::runtime::Runtime, cfg: &Config, transcripts: bool) -> Server<Fake> {
    rt.block_on(Server::start_with(cfg, opts(transcripts), |mc| {
        Ok::<_, String>(Fake::new(mc))
    }))
    .unwrap()
}

pub fn start_real(rt: &tokio::runtime::Runtime, cfg: &Config) -> Server {
    rt.block_on(Server::start(cfg, opts(true))).unwrap()
}

/// Reads from a blocking stream (with a read timeout set) until `ends` or `timeout`.
pub fn read_until<S: Read>(s: &mut S, ends: &[&[u8]], timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if !ends.is_empty() && ends.iter().any(|e| out.ends_with(e)) {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    out
}

/// Sends `AT\r` and expects exactly the echo and `OK` (factory defaults: E1 V1).
pub fn assert_at_ok<S: Read + Write>(s: &mut S) {
    s.write_all(b"AT\r").unwrap();
    let got = read_until(s, &[b"OK\r\n", b"ERROR\r\n"], T);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "AT\r\r\nOK\r\n",
        "answer to AT"
    );
}

/// Waits until `f` holds (polling), or panics after `T`.
pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn unix_client(path: &Path) -> std::os::unix::net::UnixStream {
    let s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s
}

pub fn tcp_client(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}
