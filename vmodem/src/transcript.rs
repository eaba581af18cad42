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
//!
//! Secrets are masked by default ([`Redactor`]): the parameters of `+CPIN=`/`+CPIN2=`, the
//! passwords of `+CPWD=`/`+CLCK=`, and the data of PIN APDUs (VERIFY, CHANGE/DISABLE/ENABLE
//! VERIFICATION, UNBLOCK) sent through `+CSIM=`/`+CGLA=` become `*`, in both directions (the echo
//! repeats them). The masking follows the byte stream per client and direction, so a PIN typed
//! one byte at a time is masked too.

use std::collections::HashMap;
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
    /// Mask PINs and passwords ([`Redactor`]).
    pub redact: bool,
}

impl Default for TranscriptOptions {
    fn default() -> Self {
        TranscriptOptions {
            enabled: true,
            max_bytes: 16 * 1024 * 1024,
            redact: true,
        }
    }
}

/// The direction of a data record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    redact: bool,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: Option<File>,
    written: u64,
    failed: bool,
    redactors: HashMap<(String, Direction), Redactor>,
}

impl Transcript {
    /// Opens (appending) or creates the transcript at `path`; `title` (e.g. `m0/at0`) goes into
    /// the header line. `opts.enabled` is not looked at (the caller decides).
    pub fn open(path: &Path, title: &str, opts: &TranscriptOptions) -> io::Result<Transcript> {
        let t = Transcript {
            path: path.to_path_buf(),
            title: title.to_string(),
            max_bytes: opts.max_bytes,
            redact: opts.redact,
            inner: Mutex::new(Inner {
                file: None,
                written: 0,
                failed: false,
                redactors: HashMap::new(),
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
        let mut inner = self.lock();
        let shown = if self.redact {
            let r = inner
                .redactors
                .entry((endpoint.to_string(), dir))
                .or_default();
            escape(&r.mask(bytes))
        } else {
            escape(bytes)
        };
        let line = format!(
            "{} {} {} {}\n",
            timestamp(SystemTime::now()),
            endpoint,
            dir.marker(),
            shown
        );
        self.write_line_locked(&mut inner, &line);
    }

    /// Records an event (`open`, `close`, `note …`). `open` and `close` reset the masking state
    /// of the endpoint.
    pub fn event(&self, endpoint: &str, what: &str) {
        let mut inner = self.lock();
        if what == "open" || what == "close" {
            inner.redactors.retain(|(e, _), _| e != endpoint);
        }
        let line = format!(
            "{} {} {}\n",
            timestamp(SystemTime::now()),
            endpoint,
            escape(what.as_bytes())
        );
        self.write_line_locked(&mut inner, &line);
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

    fn write_line_locked(&self, inner: &mut Inner, line: &str) {
        let result = self.write_locked(inner, line);
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

/// Masks secrets in one direction of one client's byte stream (see the module doc). Tracks the
/// start of the current command line (upper-cased, spaces dropped) across calls.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    line: Vec<u8>,
    state: Mask,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mask {
    #[default]
    Scan,
    /// Everything but quotes and commas to the end of the line.
    Rest,
    /// Like `Rest` once this many more commas have passed.
    AfterCommas(u8),
    /// A quoted APDU (`+CSIM`, `+CGLA`): `hex` digits seen so far, the INS byte.
    Apdu { quoted: bool, hex: usize, ins: u8 },
}

/// The longest line start kept for matching.
const LINE_KEEP: usize = 32;

/// ISO 7816-4 / TS 102 221 PIN commands: VERIFY, CHANGE REFERENCE DATA, DISABLE and ENABLE
/// VERIFICATION REQUIREMENT, RESET RETRY COUNTER (UNBLOCK).
const PIN_INS: [u8; 5] = [0x20, 0x24, 0x26, 0x28, 0x2C];

impl Redactor {
    /// `bytes` with secrets replaced by `*`.
    pub fn mask(&mut self, bytes: &[u8]) -> Vec<u8> {
        bytes.iter().map(|&b| self.step(b)).collect()
    }

    fn step(&mut self, b: u8) -> u8 {
        if b == b'\r' || b == b'\n' || b == b';' {
            self.line.clear();
            self.state = Mask::Scan;
            return b;
        }
        match self.state {
            Mask::Scan => {
                if b != b' ' && self.line.len() < LINE_KEEP {
                    self.line.push(b.to_ascii_uppercase());
                    self.state = self.trigger();
                }
                b
            }
            Mask::Rest => {
                if b == b'"' || b == b',' {
                    b
                } else {
                    b'*'
                }
            }
            Mask::AfterCommas(n) => {
                if b == b',' {
                    self.state = if n <= 1 {
                        Mask::Rest
                    } else {
                        Mask::AfterCommas(n - 1)
                    };
                }
                b
            }
            Mask::Apdu { quoted, hex, ins } => {
                if b == b'"' {
                    self.state = Mask::Apdu {
                        quoted: !quoted,
                        hex,
                        ins,
                    };
                    return b;
                }
                let Some(d) = char::from(b).to_digit(16).filter(|_| quoted) else {
                    return b;
                };
                let hex = hex + 1;
                let ins = match hex {
                    3 => (d as u8) << 4,
                    4 => ins | d as u8,
                    _ => ins,
                };
                self.state = Mask::Apdu { quoted, hex, ins };
                // CLA INS P1 P2 Lc = 10 hex digits; the data after them is the PIN.
                if hex > 10 && PIN_INS.contains(&ins) {
                    b'*'
                } else {
                    b
                }
            }
        }
    }

    fn trigger(&self) -> Mask {
        let l = self.line.as_slice();
        if l.ends_with(b"+CPIN=") || l.ends_with(b"+CPIN2=") {
            Mask::Rest
        } else if l.ends_with(b"+CPWD=") {
            Mask::AfterCommas(1)
        } else if l.ends_with(b"+CLCK=") {
            Mask::AfterCommas(2)
        } else if l.ends_with(b"+CSIM=") || l.ends_with(b"+CGLA=") {
            Mask::Apdu {
                quoted: false,
                hex: 0,
                ins: 0,
            }
        } else {
            Mask::Scan
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
        let opts = TranscriptOptions {
            max_bytes: 300,
            ..TranscriptOptions::default()
        };
        let t = Transcript::open(&path, "m0/at0", &opts).unwrap();
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
    fn masked(chunks: &[&[u8]]) -> String {
        let mut r = Redactor::default();
        let out: Vec<u8> = chunks.iter().flat_map(|c| r.mask(c)).collect();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn masks_pins_and_passwords() {
        assert_eq!(masked(&[b"AT+CPIN=\"1234\"\r"]), "AT+CPIN=\"****\"\r");
        assert_eq!(
            masked(&[b"AT+CPIN=\"12345678\",\"0000\"\r"]),
            "AT+CPIN=\"********\",\"****\"\r"
        );
        assert_eq!(
            masked(&[b"at + cpwd=\"SC\",\"1234\",\"4321\"\r"]),
            "at + cpwd=\"SC\",\"****\",\"****\"\r"
        );
        assert_eq!(
            masked(&[b"AT+CLCK=\"SC\",1,\"1234\"\r", b"AT+CLCK=\"SC\",2\r"]),
            "AT+CLCK=\"SC\",1,\"****\"\rAT+CLCK=\"SC\",2\r"
        );
        // The status answer and other commands are untouched.
        assert_eq!(
            masked(&[b"AT+CPIN?\r\r\n+CPIN: SIM PIN\r\n"]),
            "AT+CPIN?\r\r\n+CPIN: SIM PIN\r\n"
        );
    }

    #[test]
    fn masks_a_pin_typed_one_byte_at_a_time_and_its_echo() {
        let bytes = b"AT+CPIN=1234\r";
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(masked(&chunks), "AT+CPIN=****\r");
    }

    #[test]
    fn masks_the_data_of_pin_apdus_only() {
        assert_eq!(
            masked(&[b"AT+CSIM=26,\"002000010831323334FFFFFFFF\"\r"]),
            "AT+CSIM=26,\"0020000108****************\"\r"
        );
        assert_eq!(
            masked(&[b"AT+CGLA=1,26,\"812C000110", b"3132333435363738\"\r"]),
            "AT+CGLA=1,26,\"812C000110****************\"\r"
        );
        // Retry-counter query (no data), SELECT and STORE DATA stay readable.
        assert_eq!(
            masked(&[b"AT+CSIM=10,\"0020000100\"\r"]),
            "AT+CSIM=10,\"0020000100\"\r"
        );
        let gla = "AT+CGLA=1,22,\"81E2910006BF3E035C015A\"\r";
        assert_eq!(masked(&[gla.as_bytes()]), gla);
    }

    #[test]
    fn transcript_masks_unless_told_not_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("at0.transcript");
        let t = Transcript::open(&path, "m0/at0", &TranscriptOptions::default()).unwrap();
        t.data("pty", Direction::HostToModem, b"AT+CPIN=\"1234\"\r");
        t.data(
            "pty",
            Direction::ModemToHost,
            b"AT+CPIN=\"1234\"\r\r\nOK\r\n",
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("1234"), "{text}");
        let path = dir.path().join("at1.transcript");
        let opts = TranscriptOptions {
            redact: false,
            ..TranscriptOptions::default()
        };
        let t = Transcript::open(&path, "m0/at1", &opts).unwrap();
        t.data("pty", Direction::HostToModem, b"AT+CPIN=\"1234\"\r");
        assert!(std::fs::read_to_string(&path).unwrap().contains("1234"));
    }
}
