//! Byte-level transcripts: every byte of every AT port with a timestamp, one record per line, in
//! `<run_dir>/<modem>/<port>.transcript`.
//!
//! ```text
//! # vmodem transcript m0/at0 format 1
//! 2026-06-01T12:00:00.100000Z pty open
//! 2026-06-01T12:00:00.130001Z pty > AT\r
//! 2026-06-01T12:00:00.130050Z pty < AT\r\r\nOK\r\n
//! 2026-06-01T12:00:05.000000Z pty close
//! ```
//!
//! A record is `<UTC timestamp> <endpoint> <what>`: `>` host to modem, `<` modem to host (then
//! one space and the bytes), or an event word (`open`, `close`, `note …`). Bytes are escaped so a
//! record is one line: printable ASCII as is, `\\`, `\r`, `\n`, `\t`, anything else `\xHH`
//! ([`escape`], [`unescape`]). Endpoints are `pty`, `unix:<n>`, `tcp:<peer address>`.
//!
//! The file is bounded: when it would grow past `max_bytes` it is renamed to `<port>.transcript.1`
//! (replacing an older one) and a new file is started. Writing errors are logged once and
//! otherwise ignored: a transcript never stops a port.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Transcript settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscriptOptions {
    /// Write transcripts at all.
    pub enabled: bool,
    /// Rotate when a file would grow past this many bytes (0 = never rotate).
    pub max_bytes: u64,
}

impl Default for TranscriptOptions {
    fn default() -> Self {
        TranscriptOptions {
            enabled: true,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The direction of a data record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `>`: host to modem.
    HostToModem,
    /// `<`: modem to host.
    ModemToHost,
}

impl Direction {
    pub fn marker(self) -> char {
        match self {
            Direction::HostToModem => '>',
            Direction::ModemToHost => '<',
        }
    }
}

/// One port's transcript file (shared by the port's endpoints; records are whole lines).
#[derive(Debug)]
pub struct Transcript {
    path: PathBuf,
    title: String,
    max_bytes: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: Option<File>,
    written: u64,
    failed: bool,
}

impl Transcript {
    /// Opens (appending) or creates the transcript at `path`; `title` (e.g. `m0/at0`) goes into
    /// the header line.
    pub fn open(path: &Path, title: &str, max_bytes: u64) -> io::Result<Transcript> {
        let t = Transcript {
            path: path.to_path_buf(),
            title: title.to_string(),
            max_bytes,
            inner: Mutex::new(Inner {
                file: None,
                written: 0,
                failed: false,
            }),
        };
        {
            let mut inner = t.lock();
            t.start_file(&mut inner)?;
        }
        Ok(t)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotated file (`<path>.1`).
    pub fn rotated_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".1");
        PathBuf::from(p)
    }

    /// Records bytes in one direction.
    pub fn data(&self, endpoint: &str, dir: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let line = format!(
            "{} {} {} {}\n",
            timestamp(SystemTime::now()),
            endpoint,
            dir.marker(),
            escape(bytes)
        );
        self.write_line(&line);
    }

    /// Records an event (`open`, `close`, `note …`).
    pub fn event(&self, endpoint: &str, what: &str) {
        let line = format!(
            "{} {} {}\n",
            timestamp(SystemTime::now()),
            endpoint,
            escape(what.as_bytes())
        );
        self.write_line(&line);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_file(&self, inner: &mut Inner) -> io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let mut written = file.metadata()?.len();
        let header = format!("# vmodem transcript {} format 1\n", self.title);
        file.write_all(header.as_bytes())?;
        written += header.len() as u64;
        inner.file = Some(file);
        inner.written = written;
        Ok(())
    }

    fn write_line(&self, line: &str) {
        let mut inner = self.lock();
        let result = self.write_locked(&mut inner, line);
        if let Err(e) = result {
            if !inner.failed {
                inner.failed = true;
                tracing::warn!(path = %self.path.display(), error = %e, "transcript write failed; further errors are not logged");
            }
        }
    }

    fn write_locked(&self, inner: &mut Inner, line: &str) -> io::Result<()> {
        let len = line.len() as u64;
        if self.max_bytes > 0 && inner.written + len > self.max_bytes && inner.written > 0 {
            inner.file = None;
            std::fs::rename(&self.path, self.rotated_path())?;
            self.start_file(inner)?;
        }
        match inner.file.as_mut() {
            Some(f) => {
                f.write_all(line.as_bytes())?;
                inner.written += len;
                Ok(())
            }
            None => self.start_file(inner),
        }
    }
}

/// Escapes bytes into one printable line (see the module doc).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 8);
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                s.push_str("\\x");
                s.push(hex_digit(b >> 4));
                s.push(hex_digit(b & 0x0f));
            }
        }
    }
    s
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(n & 0x0f)])
}

/// Why an escaped string could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad escape at byte {0}")]
pub struct UnescapeError(pub usize);

/// The inverse of [`escape`].
pub fn unescape(s: &str) -> Result<Vec<u8>, UnescapeError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'\\') => out.push(b'\\'),
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'x') => {
                let hi = b.get(i + 2).and_then(|c| char::from(*c).to_digit(16));
                let lo = b.get(i + 3).and_then(|c| char::from(*c).to_digit(16));
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).map_err(|_| UnescapeError(i))?)
                    }
                    _ => return Err(UnescapeError(i)),
                }
                i += 4;
                continue;
            }
            _ => return Err(UnescapeError(i)),
        }
        i += 2;
    }
    Ok(out)
}

/// One parsed transcript line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Data {
        timestamp: String,
        endpoint: String,
        dir: Direction,
        bytes: Vec<u8>,
    },
    Event {
        timestamp: String,
        endpoint: String,
        what: String,
    },
}

/// Parses one line of a transcript (`None` for the header, comments and malformed lines).
pub fn parse_line(line: &str) -> Option<Record> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.starts_with('#') {
        return None;
    }
    let (timestamp, rest) = line.split_once(' ')?;
    let (endpoint, rest) = rest.split_once(' ')?;
    let dir = match rest.as_bytes().first() {
        Some(b'>') => Some(Direction::HostToModem),
        Some(b'<') => Some(Direction::ModemToHost),
        _ => None,
    };
    match dir {
        Some(dir) => Some(Record::Data {
            timestamp: timestamp.to_string(),
            endpoint: endpoint.to_string(),
            dir,
            bytes: unescape(rest.get(2..).unwrap_or("")).ok()?,
        }),
        None => Some(Record::Event {
            timestamp: timestamp.to_string(),
            endpoint: endpoint.to_string(),
            what: String::from_utf8(unescape(rest).ok()?).ok()?,
        }),
    }
}

/// RFC 3339 UTC with microseconds, e.g. `2026-06-01T12:00:00.130001Z`.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn escapes_control_bytes_readably_and_round_trips() {
        let raw = b"AT+CGLA=1,\"81\"\r\r\n\x1a\\\x00\xff ok";
        let e = escape(raw);
        assert_eq!(e, "AT+CGLA=1,\"81\"\\r\\r\\n\\x1A\\\\\\x00\\xFF ok");
        assert_eq!(unescape(&e).unwrap(), raw);
    }

    #[test]
    fn rejects_truncated_escape() {
        assert_eq!(unescape("ab\\x4"), Err(UnescapeError(2)));
        assert_eq!(unescape("\\q"), Err(UnescapeError(0)));
    }

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        let t = UNIX_EPOCH + Duration::from_micros(1_709_251_199_123_456);
        assert_eq!(timestamp(t), "2024-02-29T23:59:59.123456Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(t), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn writes_parsable_records_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("at0.transcript");
        let t = Transcript::open(&path, "m0/at0", 300).unwrap();
        t.event("pty", "open");
        t.data("pty", Direction::HostToModem, b"AT\r");
        t.data("pty", Direction::ModemToHost, b"AT\r\r\nOK\r\n");
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<Record> = text.lines().filter_map(parse_line).collect();
        assert_eq!(records.len(), 3);
        assert!(matches!(&records[0], Record::Event { what, .. } if what == "open"));
        assert!(
            matches!(&records[2], Record::Data { dir: Direction::ModemToHost, bytes, .. } if bytes == b"AT\r\r\nOK\r\n")
        );
        for _ in 0..10 {
            t.data("pty", Direction::HostToModem, b"AT+CGSN\r");
        }
        assert!(t.rotated_path().exists());
        assert!(std::fs::metadata(&path).unwrap().len() <= 300);
        assert!(std::fs::metadata(t.rotated_path()).unwrap().len() <= 300);
    }
}
