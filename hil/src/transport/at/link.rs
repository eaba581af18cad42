//! The byte link to a modem's AT port and the response reader.
//!
//! Endpoints: a serial device or PTY (opened `O_NOCTTY`, raw mode, 115200 8N1, `CLOCAL`), a Unix
//! socket (path, or `@name` in the abstract namespace), or TCP. Responses are read line by line
//! (split on `\n`, `\r` stripped, empty lines and the echo of the command skipped) until a final
//! result code (V.250 §5.7.1, TS 27.007 §9.2): `OK`, `ERROR`, `+CME ERROR: …`, `+CMS ERROR: …`,
//! or one of `NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE`, `COMMAND NOT SUPPORT`; or until
//! the timeout.

use super::AtError;
use std::fmt;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the AT port is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A serial device or PTY: `/dev/ttyUSB2`, `/dev/serial/by-id/…-if02-port0`, a vmodem PTY
    /// symlink.
    Serial(PathBuf),
    /// A Unix stream socket (`unix:PATH`).
    Unix(PathBuf),
    /// A Unix stream socket in the abstract namespace (`unix:@NAME` or `abstract:NAME`).
    UnixAbstract(String),
    /// TCP (`tcp:HOST:PORT`).
    Tcp(String),
}

impl Endpoint {
    /// Parses `unix:PATH`, `unix:@NAME`, `abstract:NAME`, `tcp:HOST:PORT`, or a device path
    /// (optionally written `serial:PATH`).
    pub fn parse(spec: &str) -> Result<Endpoint, AtError> {
        let bad = |reason: &str| AtError::Endpoint {
            spec: spec.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = spec.strip_prefix("unix:") {
            if let Some(name) = rest.strip_prefix('@') {
                if name.is_empty() {
                    return Err(bad("empty abstract socket name"));
                }
                return Ok(Endpoint::UnixAbstract(name.to_string()));
            }
            if rest.is_empty() {
                return Err(bad("empty socket path"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(rest)));
        }
        if let Some(name) = spec.strip_prefix("abstract:") {
            if name.is_empty() {
                return Err(bad("empty abstract socket name"));
            }
            return Ok(Endpoint::UnixAbstract(name.to_string()));
        }
        if let Some(addr) = spec.strip_prefix("tcp:") {
            if !addr.contains(':') {
                return Err(bad("expected tcp:HOST:PORT"));
            }
            return Ok(Endpoint::Tcp(addr.to_string()));
        }
        let path = spec.strip_prefix("serial:").unwrap_or(spec);
        if path.is_empty() {
            return Err(bad("empty device path"));
        }
        Ok(Endpoint::Serial(PathBuf::from(path)))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Serial(p) => write!(f, "{}", p.display()),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::UnixAbstract(n) => write!(f, "unix:@{n}"),
            Endpoint::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = AtError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

/// The final result code that ended a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalCode {
    Ok,
    /// `ERROR` (also the answer to every error with `+CMEE=0`).
    Error,
    /// `+CME ERROR: <n|text>` (TS 27.007 §9.2), the text after the colon.
    Cme(String),
    /// `+CMS ERROR: <n|text>` (TS 27.005 §3.2.5).
    Cms(String),
    /// `NO CARRIER`, `BUSY`, `NO ANSWER`, `NO DIALTONE`, `COMMAND NOT SUPPORT`, `CONNECT…`.
    Other(String),
}

impl FinalCode {
    /// Classifies one response line; `None` for information text and URCs.
    pub fn classify(line: &str) -> Option<FinalCode> {
        let l = line.trim();
        if l == "OK" {
            return Some(FinalCode::Ok);
        }
        if l == "ERROR" {
            return Some(FinalCode::Error);
        }
        if let Some(r) = l.strip_prefix("+CME ERROR:") {
            return Some(FinalCode::Cme(r.trim().to_string()));
        }
        if let Some(r) = l.strip_prefix("+CMS ERROR:") {
            return Some(FinalCode::Cms(r.trim().to_string()));
        }
        const OTHERS: [&str; 5] = [
            "NO CARRIER",
            "BUSY",
            "NO ANSWER",
            "NO DIALTONE",
            "COMMAND NOT SUPPORT",
        ];
        if OTHERS.contains(&l) || l.starts_with("CONNECT") {
            return Some(FinalCode::Other(l.to_string()));
        }
        None
    }
}

impl fmt::Display for FinalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FinalCode::Ok => f.write_str("OK"),
            FinalCode::Error => f.write_str("ERROR"),
            FinalCode::Cme(c) => write!(f, "+CME ERROR: {c}"),
            FinalCode::Cms(c) => write!(f, "+CMS ERROR: {c}"),
            FinalCode::Other(s) => f.write_str(s),
        }
    }
}

/// The complete answer to one command line: information text (and URCs that arrived meanwhile)
/// in order, and the final result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtResponse {
    pub lines: Vec<String>,
    pub fin: FinalCode,
}

impl AtResponse {
    /// The last line starting with `prefix` (e.g. `"+CGLA:"`), with the prefix removed and
    /// spaces trimmed (as lpac does: the last matching line wins).
    pub fn value(&self, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    }

    /// The answer as one text, for error messages: `line | line | FINAL`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self.lines.clone();
        parts.push(self.fin.to_string());
        parts.join(" | ")
    }
}

/// What a byte stream to a modem must do: read, write, and be pollable.
trait Stream: Read + Write + AsFd + Send + fmt::Debug {}
impl<T: Read + Write + AsFd + Send + fmt::Debug> Stream for T {}

/// An open link to one AT port.
#[derive(Debug)]
pub(crate) struct Link {
    stream: Box<dyn Stream>,
    endpoint: Endpoint,
    buf: Vec<u8>,
    terminator: &'static [u8],
    /// Lines received outside a command (unsolicited result codes), oldest first.
    pub(crate) urcs: Vec<String>,
}

/// Unsolicited lines kept at most; the oldest are dropped.
const URC_LIMIT: usize = 256;

impl Link {
    /// Opens `endpoint`. Commands end with `\r` (V.250 S3), or `\r\n` with `crlf`.
    pub(crate) fn open(endpoint: &Endpoint, crlf: bool) -> Result<Link, AtError> {
        let io = |what: &str| {
            let endpoint = endpoint.to_string();
            let what = what.to_string();
            move |source| AtError::Io {
                endpoint,
                what,
                source,
            }
        };
        let stream: Box<dyn Stream> = match endpoint {
            Endpoint::Serial(path) => Box::new(open_serial(path).map_err(io("opening"))?),
            Endpoint::Unix(path) => {
                Box::new(std::os::unix::net::UnixStream::connect(path).map_err(io("connecting"))?)
            }
            Endpoint::UnixAbstract(name) => {
                Box::new(connect_abstract(name).map_err(io("connecting"))?)
            }
            Endpoint::Tcp(addr) => {
                let s = std::net::TcpStream::connect(addr.as_str()).map_err(io("connecting"))?;
                s.set_nodelay(true).map_err(io("setting TCP_NODELAY"))?;
                Box::new(s)
            }
        };
        Ok(Link {
            stream,
            endpoint: endpoint.clone(),
            buf: Vec::with_capacity(1024),
            terminator: if crlf { b"\r\n" } else { b"\r" },
            urcs: Vec::new(),
        })
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn io_error(&self, what: &str, source: std::io::Error) -> AtError {
        AtError::Io {
            endpoint: self.endpoint.to_string(),
            what: what.to_string(),
            source,
        }
    }

    /// Waits until `deadline` for bytes and appends them to the buffer. `Ok(false)`: nothing
    /// arrived in time.
    fn fill(&mut self, deadline: Instant, command: &str) -> Result<bool, AtError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let ready = {
            let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(n) => n > 0,
                Err(nix::errno::Errno::EINTR) => false,
                Err(e) => return Err(self.io_error("waiting for the answer", e.into())),
            }
        };
        if !ready {
            return Ok(false);
        }
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(AtError::Closed {
                command: command.to_string(),
            }),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::Interrupted
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                Ok(true)
            }
            Err(e) => Err(self.io_error("reading", e)),
        }
    }

    /// The next complete non-empty line in the buffer, `\r` stripped.
    fn take_line(&mut self) -> Option<String> {
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&raw);
            let line = text.trim_matches(|c| c == '\r' || c == '\n');
            // An echo with the modem's CR left inside ("AT\r\r\n" splits to "AT\r\r").
            let line = line.trim_end_matches('\r');
            if !line.trim().is_empty() {
                return Some(line.to_string());
            }
        }
        None
    }

    /// Reads whatever already arrived (URCs between commands) without waiting.
    fn drain(&mut self) -> Result<(), AtError> {
        while self.fill(Instant::now(), "(between commands)")? {}
        while let Some(l) = self.take_line() {
            self.push_urc(l);
        }
        Ok(())
    }

    fn push_urc(&mut self, line: String) {
        if self.urcs.len() >= URC_LIMIT {
            self.urcs.remove(0);
        }
        self.urcs.push(line);
    }

    /// Sends one command line and reads its answer until a final result code.
    pub(crate) fn exchange(
        &mut self,
        command: &str,
        timeout: Duration,
    ) -> Result<AtResponse, AtError> {
        self.drain()?;
        let mut out = Vec::with_capacity(command.len() + 2);
        out.extend_from_slice(command.as_bytes());
        out.extend_from_slice(self.terminator);
        let name = command_name(command);
        tracing::debug!(target: "hil::at", endpoint = %self.endpoint, cmd = name, len = command.len(), "AT command");
        if let Err(e) = self
            .stream
            .write_all(&out)
            .and_then(|_| self.stream.flush())
        {
            return Err(self.io_error(&format!("sending {name}"), e));
        }
        let started = Instant::now();
        let deadline = started + timeout;
        let mut lines = Vec::new();
        let mut echo_seen = false;
        loop {
            while let Some(line) = self.take_line() {
                if !echo_seen && lines.is_empty() && line.trim().eq_ignore_ascii_case(command) {
                    echo_seen = true;
                    continue;
                }
                if let Some(fin) = FinalCode::classify(&line) {
                    tracing::debug!(target: "hil::at", cmd = name, fin = %fin, lines = lines.len(),
                        ms = started.elapsed().as_millis() as u64, "AT answer");
                    return Ok(AtResponse { lines, fin });
                }
                lines.push(line);
            }
            if !self.fill(deadline, command)? {
                let mut received = lines.join(" | ");
                if !self.buf.is_empty() {
                    if !received.is_empty() {
                        received.push_str(" | ");
                    }
                    received.push_str(
                        &String::from_utf8_lossy(&self.buf)
                            .escape_debug()
                            .to_string(),
                    );
                }
                return Err(AtError::Timeout {
                    command: command.to_string(),
                    after: timeout,
                    received,
                });
            }
        }
    }
}

/// The command's name for logs and errors, without its parameters (which may carry APDUs).
pub(crate) fn command_name(command: &str) -> &str {
    let end = command.find(['=', '?']).unwrap_or(command.len());
    command.get(..end).unwrap_or(command)
}

/// Opens a serial device or PTY slave without making it the controlling terminal, in raw mode
/// (no echo, no CR/LF translation), 115200 baud (ignored by PTYs and USB), `CLOCAL | CREAD`, and
/// drops stale input.
fn open_serial(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use nix::sys::termios::{self, BaudRate, ControlFlags, FlushArg, SetArg};
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK so that opening a real tty does not wait for carrier; cleared right after.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags((OFlag::O_NOCTTY | OFlag::O_NONBLOCK).bits())
        .open(path)?;
    fcntl(&file, FcntlArg::F_SETFL(OFlag::empty())).map_err(std::io::Error::from)?;
    let mut t = termios::tcgetattr(&file).map_err(std::io::Error::from)?;
    termios::cfmakeraw(&mut t);
    termios::cfsetspeed(&mut t, BaudRate::B115200).map_err(std::io::Error::from)?;
    t.control_flags |= ControlFlags::CLOCAL | ControlFlags::CREAD;
    t.control_flags &= !ControlFlags::CRTSCTS;
    termios::tcsetattr(&file, SetArg::TCSANOW, &t).map_err(std::io::Error::from)?;
    termios::tcflush(&file, FlushArg::TCIFLUSH).map_err(std::io::Error::from)?;
    Ok(file)
}

fn connect_abstract(name: &str) -> std::io::Result<std::os::unix::net::UnixStream> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    std::os::unix::net::UnixStream::connect_addr(&addr)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_endpoints() {
        assert_eq!(
            Endpoint::parse("unix:/run/m0.sock").unwrap(),
            Endpoint::Unix("/run/m0.sock".into())
        );
        assert_eq!(
            Endpoint::parse("unix:@vmodem-at0").unwrap(),
            Endpoint::UnixAbstract("vmodem-at0".into())
        );
        assert_eq!(
            Endpoint::parse("abstract:x").unwrap(),
            Endpoint::UnixAbstract("x".into())
        );
        assert_eq!(
            Endpoint::parse("tcp:127.0.0.1:7001").unwrap(),
            Endpoint::Tcp("127.0.0.1:7001".into())
        );
        assert_eq!(
            Endpoint::parse("/dev/ttyUSB2").unwrap(),
            Endpoint::Serial("/dev/ttyUSB2".into())
        );
        assert!(Endpoint::parse("tcp:7001").is_err());
        assert!(Endpoint::parse("unix:").is_err());
        assert_eq!(
            Endpoint::parse("tcp:localhost:1").unwrap().to_string(),
            "tcp:localhost:1"
        );
    }

    #[test]
    fn classifies_final_result_codes() {
        assert_eq!(FinalCode::classify("OK"), Some(FinalCode::Ok));
        assert_eq!(FinalCode::classify("ERROR"), Some(FinalCode::Error));
        assert_eq!(
            FinalCode::classify("+CME ERROR: 3"),
            Some(FinalCode::Cme("3".into()))
        );
        assert_eq!(
            FinalCode::classify("+CMS ERROR: 500"),
            Some(FinalCode::Cms("500".into()))
        );
        assert_eq!(
            FinalCode::classify("NO CARRIER"),
            Some(FinalCode::Other("NO CARRIER".into()))
        );
        assert_eq!(FinalCode::classify("+CGLA: 4,\"9000\""), None);
        assert_eq!(FinalCode::classify("OKAY"), None);
    }

    #[test]
    fn strips_parameters_from_command_names() {
        assert_eq!(command_name("AT+CGLA=1,4,\"0000\""), "AT+CGLA");
        assert_eq!(command_name("AT+CPIN?"), "AT+CPIN");
        assert_eq!(command_name("ATE0"), "ATE0");
    }
}
