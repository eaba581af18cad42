//! An eUICC behind a modem's AT port: [`AtModem`] implements [`ApduTransport`] with
//! `AT+CCHO` / `AT+CGLA` / `AT+CCHC` (TS 27.007 §8.45, §8.43, §8.46) or with `AT+CSIM`
//! (§8.17) carrying MANAGE CHANNEL and the APDUs, over a serial device, a PTY, a Unix socket or
//! TCP (see [`Endpoint`]).
//!
//! The transport is **one logical channel** opened on the card for the LPA:
//!
//! - `cgla` ([`AtMode::Cgla`]): `AT+CCHO="<AID>"` opens the channel and selects the AID (the ISD-R
//!   by default); the answer `+CCHO: <id>` (or a bare `<id>`, as 27.007 writes it) is the session
//!   id, an opaque string echoed in `AT+CGLA=<id>,<len>,"<HEX>"`; the response is parsed from
//!   `+CGLA: <len>,"<hex>"` (quotes optional, `<len>` checked). The modem sets the channel bits of
//!   CLA. `AT+CCHC=<id>` closes it.
//! - `csim` ([`AtMode::Csim`]): `AT+CSIM=10,"0070000001"` (MANAGE CHANNEL open, answer exactly
//!   `<ch>9000`), SELECT of the AID on that channel, then every APDU as
//!   `AT+CSIM=<len>,"<HEX>"` with the CLA channel bits set to the channel (ISO 7816-4 §5.4.1:
//!   first interindustry class for channels 1–3, further for 4–19); MANAGE CHANNEL close at the
//!   end.
//!
//! The channel is opened on the first APDU (or explicitly, [`AtModem::open_session`]) and
//! closed by [`AtModem::close_session`] or on drop. Every APDU the client sends goes to that
//! channel whatever its CLA channel bits say; a MANAGE CHANNEL open from the client is answered
//! here with the channel (`01` in cgla mode, where only the modem knows the number) and a close
//! with `9000`, so `Client::open_channel` works unchanged. `61xx` and `6Cxx` are passed
//! through: `hil::client::Client` sends GET RESPONSE / repeats with Le, on the same channel, as
//! it does over PC/SC.
//!
//! At open the port is set up with `AT` (sync), `ATE0` (no echo) and `AT+CMEE=1` (numeric
//! `+CME ERROR`), unless [`AtOptions::setup`] is false. Commands end with `\r` (V.250 S3), or
//! `\r\n` with [`AtOptions::crlf`]. Commands that write an IMEI (`+EGMR=1,…`, `+SIMEI=`,
//! `%IMEIWRITE`, …) are refused here and never reach the modem.

mod link;

pub use link::{AtResponse, Endpoint, FinalCode};

use super::{ApduTransport, TransportError};
use link::{command_name, Link};
use std::time::Duration;
use veuicc::apdu::Class;

/// How APDUs are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AtMode {
    /// `AT+CCHO` / `AT+CGLA` / `AT+CCHC`.
    #[default]
    Cgla,
    /// `AT+CSIM` with MANAGE CHANNEL.
    Csim,
}

impl std::str::FromStr for AtMode {
    type Err = AtError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cgla" => Ok(AtMode::Cgla),
            "csim" => Ok(AtMode::Csim),
            _ => Err(AtError::Endpoint {
                spec: s.to_string(),
                reason: "AT mode: cgla or csim".into(),
            }),
        }
    }
}

impl std::fmt::Display for AtMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AtMode::Cgla => "cgla",
            AtMode::Csim => "csim",
        })
    }
}

/// Options of an [`AtModem`].
#[derive(Debug, Clone)]
pub struct AtOptions {
    pub mode: AtMode,
    /// The application the channel selects (default: the ISD-R, SGP.22 §2.2.3).
    pub aid: Vec<u8>,
    /// How long one command may take until its final result code (default 30 s: eUICC
    /// operations behind a modem can be slow).
    pub timeout: Duration,
    /// End commands with `\r\n` instead of `\r`.
    pub crlf: bool,
    /// Send `AT`, `ATE0`, `AT+CMEE=1` at open (default true).
    pub setup: bool,
}

impl Default for AtOptions {
    fn default() -> Self {
        AtOptions {
            mode: AtMode::Cgla,
            aid: veuicc::euicc::ISDR_AID.to_vec(),
            timeout: Duration::from_secs(30),
            crlf: false,
            setup: true,
        }
    }
}

impl AtOptions {
    pub fn with_mode(mut self, mode: AtMode) -> Self {
        self.mode = mode;
        self
    }
}

/// AT transport failures. Each names the AT command (without its parameters when they carry
/// APDU data) and what the modem answered.
#[derive(Debug, thiserror::Error)]
pub enum AtError {
    #[error("AT endpoint {spec:?}: {reason}")]
    Endpoint { spec: String, reason: String },
    #[error("AT port {endpoint}: {what}: {source}")]
    Io {
        endpoint: String,
        what: String,
        source: std::io::Error,
    },
    #[error("{command}: no final result code within {after:?} (received: {received:?})")]
    Timeout {
        command: String,
        after: Duration,
        received: String,
    },
    #[error("{command}: the modem closed the connection")]
    Closed { command: String },
    #[error("{command}: the modem answered {answer}")]
    Refused { command: String, answer: String },
    #[error("{command}: unexpected answer {answer:?}: {what}")]
    Unexpected {
        command: String,
        answer: String,
        what: String,
    },
    #[error("{command}: not sent: hil never sends commands that write an IMEI")]
    ImeiWrite { command: String },
    #[error("APDU not sent: {0}")]
    Apdu(String),
}

/// The open channel on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Session {
    None,
    /// `+CCHO` session id, as the modem wrote it.
    Cgla(String),
    /// Logical channel opened with MANAGE CHANNEL over `+CSIM`.
    Csim(u8),
}

/// A modem's AT port as an APDU transport (see the module documentation).
#[derive(Debug)]
pub struct AtModem {
    link: Link,
    opts: AtOptions,
    session: Session,
}

impl AtModem {
    /// Opens the port at `spec` (`/dev/ttyUSB2`, a PTY path, `unix:PATH`, `unix:@NAME`,
    /// `tcp:HOST:PORT`) and sets it up.
    pub fn connect(spec: &str, opts: AtOptions) -> Result<AtModem, AtError> {
        AtModem::open(&Endpoint::parse(spec)?, opts)
    }

    /// Opens `endpoint` and sets the port up (`AT`, `ATE0`, `AT+CMEE=1`).
    pub fn open(endpoint: &Endpoint, opts: AtOptions) -> Result<AtModem, AtError> {
        let link = Link::open(endpoint, opts.crlf)?;
        let mut m = AtModem {
            link,
            opts,
            session: Session::None,
        };
        if m.opts.setup {
            // The first `AT` also flushes whatever partial line a real modem may hold.
            m.command("AT")?;
            m.command("ATE0")?;
            m.command("AT+CMEE=1")?;
        }
        Ok(m)
    }

    pub fn mode(&self) -> AtMode {
        self.opts.mode
    }

    pub fn endpoint(&self) -> &Endpoint {
        self.link.endpoint()
    }

    /// Sends one command line and returns its answer, whatever the final result code.
    pub fn raw_command(&mut self, command: &str) -> Result<AtResponse, AtError> {
        if writes_imei(command) {
            return Err(AtError::ImeiWrite {
                command: command_name(command).to_string(),
            });
        }
        self.link.exchange(command, self.opts.timeout)
    }

    /// Sends one command line; an answer other than `OK` is an [`AtError::Refused`].
    pub fn command(&mut self, command: &str) -> Result<AtResponse, AtError> {
        let r = self.raw_command(command)?;
        if r.fin != FinalCode::Ok {
            return Err(AtError::Refused {
                command: shown(command),
                answer: r.summary(),
            });
        }
        Ok(r)
    }

    /// `AT+CIMI`: the IMSI of the active SIM (TS 27.007 §5.6), digits only.
    pub fn imsi(&mut self) -> Result<String, AtError> {
        let r = self.command("AT+CIMI")?;
        let line = r.lines.last().map(String::as_str).unwrap_or("");
        let imsi = line.strip_prefix("+CIMI:").unwrap_or(line).trim();
        if imsi.len() < 6 || imsi.len() > 15 || !imsi.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AtError::Unexpected {
                command: "AT+CIMI".into(),
                answer: r.summary(),
                what: "expected an IMSI of 6–15 digits".into(),
            });
        }
        Ok(imsi.to_string())
    }

    /// The IMEI the modem reports (TS 27.007 §5.4): `AT+CGSN=1` (`+CGSN: <imei>`, quoted or
    /// not), else plain `AT+CGSN` for modems that do not know `<snt>`; 15 digits.
    pub fn imei(&mut self) -> Result<String, AtError> {
        let valid = |s: &str| s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit());
        let r = self.raw_command("AT+CGSN=1")?;
        if r.fin == FinalCode::Ok {
            if let Some(v) = r.value("+CGSN:").map(|v| v.trim_matches('"')) {
                if valid(v) {
                    return Ok(v.to_string());
                }
            }
        }
        let r = self.command("AT+CGSN")?;
        let line = r.lines.last().map(String::as_str).unwrap_or("");
        let v = line
            .strip_prefix("+CGSN:")
            .unwrap_or(line)
            .trim()
            .trim_matches('"');
        if !valid(v) {
            return Err(AtError::Unexpected {
                command: "AT+CGSN".into(),
                answer: r.summary(),
                what: "expected an IMEI of 15 digits".into(),
            });
        }
        Ok(v.to_string())
    }

    /// Lines that arrived between commands (unsolicited result codes), oldest first.
    pub fn take_urcs(&mut self) -> Vec<String> {
        std::mem::take(&mut self.link.urcs)
    }

    /// The open channel: `+CCHO` session id or `+CSIM` channel number.
    pub fn session(&self) -> Option<String> {
        match &self.session {
            Session::None => None,
            Session::Cgla(id) => Some(id.clone()),
            Session::Csim(ch) => Some(ch.to_string()),
        }
    }

    /// Opens the channel (if not yet open) and selects [`AtOptions::aid`] on it.
    pub fn open_session(&mut self) -> Result<(), AtError> {
        if self.session != Session::None {
            return Ok(());
        }
        self.session = match self.opts.mode {
            AtMode::Cgla => Session::Cgla(self.ccho()?),
            AtMode::Csim => Session::Csim(self.csim_open()?),
        };
        Ok(())
    }

    /// Closes the channel, if open (`AT+CCHC`, or MANAGE CHANNEL close over `AT+CSIM`).
    pub fn close_session(&mut self) -> Result<(), AtError> {
        match std::mem::replace(&mut self.session, Session::None) {
            Session::None => Ok(()),
            Session::Cgla(id) => self.command(&format!("AT+CCHC={id}")).map(drop),
            Session::Csim(ch) => {
                // ISO 7816-4 §11.1.2: MANAGE CHANNEL close, on the basic channel, P2 = channel.
                let r = self.csim(&[0x00, 0x70, 0x80, ch])?;
                expect_sw(&r, "MANAGE CHANNEL close", &[0x90])
            }
        }
    }

    /// Closes the channel if the modem still knows it (a SIM reset or slot switch closes every
    /// channel on the modem; then the close fails and is ignored) and opens a new one.
    pub fn reopen_session(&mut self) -> Result<(), AtError> {
        if let Err(e) = self.close_session() {
            tracing::debug!(target: "hil::at", "closing the old channel: {e}");
        }
        self.open_session()
    }

    fn ccho(&mut self) -> Result<String, AtError> {
        let cmd = format!("AT+CCHO=\"{}\"", hex::encode_upper(&self.opts.aid));
        let r = self.command(&cmd)?;
        // 27.007 writes a bare <sessionid>; modules (and lpac) use "+CCHO: <sessionid>".
        let id = match r.value("+CCHO:") {
            Some(v) => v,
            None => r.lines.last().map(|l| l.trim()).unwrap_or(""),
        };
        let id = id.trim_matches('"');
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(AtError::Unexpected {
                command: cmd,
                answer: r.summary(),
                what: "expected +CCHO: <session id>".into(),
            });
        }
        Ok(id.to_string())
    }

    fn csim_open(&mut self) -> Result<u8, AtError> {
        let r = self.csim(&[0x00, 0x70, 0x00, 0x00, 0x01])?;
        let ch = match r.as_slice() {
            [ch @ 1..=19, 0x90, 0x00] => *ch,
            _ => {
                return Err(AtError::Unexpected {
                    command: "AT+CSIM=10,\"0070000001\"".into(),
                    answer: hex::encode_upper(&r),
                    what: "MANAGE CHANNEL open: expected exactly <channel 01..13> 9000".into(),
                })
            }
        };
        let aid_len = u8::try_from(self.opts.aid.len())
            .map_err(|_| AtError::Apdu("AID longer than 255 bytes".into()))?;
        let mut select = vec![Class::encode(ch, false), 0xA4, 0x04, 0x00, aid_len];
        select.extend_from_slice(&self.opts.aid);
        let r = self.csim(&select)?;
        // 9000 with the FCI, or 61xx (T=0: the FCI waits for a GET RESPONSE nobody needs).
        expect_sw(&r, "SELECT on the new channel", &[0x90, 0x61])?;
        Ok(ch)
    }

    /// One APDU over `AT+CSIM`, as is.
    fn csim(&mut self, apdu: &[u8]) -> Result<Vec<u8>, AtError> {
        let hexed = hex::encode_upper(apdu);
        let cmd = format!("AT+CSIM={},\"{hexed}\"", hexed.len());
        self.apdu_command(&cmd, "+CSIM:")
    }

    /// One APDU over `AT+CGLA` on the session.
    fn cgla(&mut self, id: &str, apdu: &[u8]) -> Result<Vec<u8>, AtError> {
        let hexed = hex::encode_upper(apdu);
        let cmd = format!("AT+CGLA={id},{},\"{hexed}\"", hexed.len());
        self.apdu_command(&cmd, "+CGLA:")
    }

    /// Sends an APDU-carrying command and parses `<prefix> <len>,"<hex>"`.
    fn apdu_command(&mut self, cmd: &str, prefix: &str) -> Result<Vec<u8>, AtError> {
        let r = self.command(cmd)?;
        let unexpected = |what: &str| AtError::Unexpected {
            command: command_name(cmd).to_string(),
            answer: r.summary(),
            what: what.to_string(),
        };
        let v = r
            .value(prefix)
            .ok_or_else(|| unexpected(&format!("no {prefix} line")))?;
        let (len, data) = v
            .split_once(',')
            .ok_or_else(|| unexpected("expected <length>,<response>"))?;
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| unexpected("<length> is not a number"))?;
        let data = data.trim().trim_matches('"');
        if data.len() != len {
            return Err(unexpected(&format!(
                "<length> {len} but {} hex digits",
                data.len()
            )));
        }
        let bytes = hex::decode(data).map_err(|_| unexpected("<response> is not hex"))?;
        if bytes.len() < 2 {
            return Err(unexpected("response shorter than a status word"));
        }
        Ok(bytes)
    }
}

/// The command as shown in errors: APDU-carrying commands by name only.
fn shown(command: &str) -> String {
    let name = command_name(command);
    if name.eq_ignore_ascii_case("AT+CGLA") || name.eq_ignore_ascii_case("AT+CSIM") {
        name.to_string()
    } else {
        command.to_string()
    }
}

fn expect_sw(r: &[u8], what: &str, sw1: &[u8]) -> Result<(), AtError> {
    let n = r.len();
    let ok = n >= 2 && sw1.contains(&r[n - 2]) && (r[n - 2] != 0x90 || r[n - 1] == 0x00);
    if ok {
        Ok(())
    } else {
        Err(AtError::Unexpected {
            command: "AT+CSIM".into(),
            answer: hex::encode_upper(r),
            what: format!("{what}: the card refused it"),
        })
    }
}

/// Whether `command` writes an IMEI on some vendor's modem (modem.md §2(d)): MediaTek/Quectel
/// `+EGMR=1,…`, SIMCom `+SIMEI=`, Nordic `%IMEIWRITE`, Sierra `+WIMEI=`, Quectel `+QCFG="imei"`.
fn writes_imei(command: &str) -> bool {
    let c: String = command
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    [
        "+EGMR=1",
        "+SIMEI=",
        "%IMEIWRITE",
        "+WIMEI=",
        "+QCFG=\"IMEI\"",
    ]
    .iter()
    .any(|p| c.contains(p))
}

/// Puts `channel` into the CLA byte (ISO 7816-4 §5.4.1), keeping the proprietary, chaining and
/// secure-messaging indications.
fn cla_for_channel(cla: u8, channel: u8) -> Result<u8, AtError> {
    let c = Class::parse(cla).map_err(|_| AtError::Apdu(format!("invalid CLA {cla:02X}")))?;
    if c.channel == channel {
        return Ok(cla);
    }
    let first_form = cla & 0x40 == 0;
    let secure = if first_form {
        cla & 0x0C != 0
    } else {
        cla & 0x20 != 0
    };
    let mut out = Class::encode(channel, c.proprietary);
    if c.chaining {
        out |= 0x10;
    }
    if secure {
        out |= if channel < 4 { 0x08 } else { 0x20 };
    }
    Ok(out)
}

impl ApduTransport for AtModem {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        if apdu.len() < 4 {
            return Err(AtError::Apdu(format!("{} bytes, less than a header", apdu.len())).into());
        }
        // MANAGE CHANNEL from the client: the transport is the channel (module docs).
        if apdu[1] == 0x70 && apdu[0] & 0x80 == 0 {
            self.open_session()?;
            return Ok(match apdu[2] {
                0x00 => {
                    let ch = match self.session {
                        Session::Csim(ch) => ch,
                        _ => 1,
                    };
                    vec![ch, 0x90, 0x00]
                }
                _ => vec![0x90, 0x00],
            });
        }
        self.open_session()?;
        let r = match self.session.clone() {
            Session::Cgla(id) => self.cgla(&id, apdu)?,
            Session::Csim(ch) => {
                let mut a = apdu.to_vec();
                a[0] = cla_for_channel(apdu[0], ch)?;
                self.csim(&a)?
            }
            Session::None => return Err(AtError::Apdu("no channel open".into()).into()),
        };
        Ok(r)
    }

    fn describe(&self) -> String {
        let s = match &self.session {
            Session::None => String::new(),
            Session::Cgla(id) => format!(", +CCHO session {id}"),
            Session::Csim(ch) => format!(", channel {ch}"),
        };
        format!("AT modem {} ({}{s})", self.link.endpoint(), self.opts.mode)
    }
}

impl Drop for AtModem {
    fn drop(&mut self) {
        if let Err(e) = self.close_session() {
            tracing::debug!(target: "hil::at", "closing the channel on drop: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sets_channel_bits_in_cla() {
        assert_eq!(cla_for_channel(0x00, 1).unwrap(), 0x01);
        assert_eq!(cla_for_channel(0x80, 2).unwrap(), 0x82);
        assert_eq!(cla_for_channel(0x81, 2).unwrap(), 0x82);
        assert_eq!(cla_for_channel(0x00, 5).unwrap(), 0x41);
        assert_eq!(cla_for_channel(0x80, 19).unwrap(), 0xCF);
        assert_eq!(cla_for_channel(0x90, 1).unwrap(), 0x91); // chaining kept
        assert_eq!(cla_for_channel(0x03, 3).unwrap(), 0x03);
        assert!(cla_for_channel(0xFF, 1).is_err());
    }

    #[test]
    fn recognises_imei_writes() {
        assert!(writes_imei("AT+EGMR=1,7,\"350000000000006\""));
        assert!(writes_imei("at+egmr = 1,10,\"1\""));
        assert!(writes_imei("AT+SIMEI=350000000000006"));
        assert!(writes_imei("AT%IMEIWRITE=0,\"350000000000006\""));
        assert!(!writes_imei("AT+EGMR=0,7"));
        assert!(!writes_imei("AT+CGSN=1"));
        assert!(!writes_imei("AT+SIMEI?"));
    }

    /// A scripted fake modem on a Unix socket: echo on until `ATE0`, CR-terminated commands,
    /// answers from `answer(line)`. Returns the socket spec and the thread (joined: the lines).
    fn fake(
        answer: fn(&str) -> String,
    ) -> (
        tempfile::TempDir,
        String,
        std::thread::JoinHandle<Vec<String>>,
    ) {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("at.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut echo = true;
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while s.read(&mut b).unwrap_or(0) == 1 {
                if echo {
                    s.write_all(&b).unwrap();
                }
                if b[0] != b'\r' {
                    line.push(b[0]);
                    continue;
                }
                let l = String::from_utf8(std::mem::take(&mut line)).unwrap();
                if l == "ATE0" {
                    echo = false;
                }
                s.write_all(answer(&l).as_bytes()).unwrap();
                seen.push(l);
            }
            seen
        });
        (dir, format!("unix:{}", path.display()), t)
    }

    fn cgla_modem(l: &str) -> String {
        match l {
            "AT" | "ATE0" | "AT+CMEE=1" | "AT+CCHC=7" => "\r\nOK\r\n".into(),
            "AT+CCHO=\"A0000005591010FFFFFFFF8900000100\"" => "\r\n+CCHO: 7\r\n\r\nOK\r\n".into(),
            "AT+CGLA=7,10,\"81E2910000\"" => {
                // a URC before the answer, the answer split over two lines of info text
                "\r\n+CEREG: 1\r\n\r\n+CGLA: 8,\"BF3E9000\"\r\n\r\nOK\r\n".into()
            }
            "AT+CGLA=7,10,\"80CA000000\"" => "\r\n+CME ERROR: 3\r\n".into(),
            "AT+CGLA=7,10,\"00B0000000\"" => "\r\n+CGLA: 6,\"9000\"\r\n\r\nOK\r\n".into(),
            _ => "\r\nERROR\r\n".into(),
        }
    }

    #[test]
    fn cgla_session_carries_apdus_and_names_errors() {
        let (_dir, spec, t) = fake(cgla_modem);
        let mut m = AtModem::connect(&spec, AtOptions::default()).unwrap();
        // MANAGE CHANNEL from a client is answered locally after +CCHO.
        assert_eq!(m.transmit(&[0, 0x70, 0, 0, 1]).unwrap(), vec![1, 0x90, 0]);
        assert_eq!(m.session().as_deref(), Some("7"));
        assert_eq!(
            m.transmit(&[0x81, 0xE2, 0x91, 0, 0]).unwrap(),
            vec![0xBF, 0x3E, 0x90, 0]
        );
        let e = m.transmit(&[0x80, 0xCA, 0, 0, 0]).unwrap_err().to_string();
        assert_eq!(e, "AT+CGLA: the modem answered +CME ERROR: 3");
        let e = m.transmit(&[0, 0xB0, 0, 0, 0]).unwrap_err().to_string();
        assert!(e.contains("<length> 6 but 4 hex digits"), "{e}");
        let e = m.command("AT+EGMR=1,7,\"350000000000006\"").unwrap_err();
        assert!(matches!(e, AtError::ImeiWrite { .. }), "{e}");
        assert_eq!(m.take_urcs(), Vec::<String>::new());
        assert!(m.describe().contains("+CCHO session 7"), "{}", m.describe());
        drop(m);
        let seen = t.join().unwrap();
        assert_eq!(&seen[..3], &["AT", "ATE0", "AT+CMEE=1"]);
        assert_eq!(seen.last().map(String::as_str), Some("AT+CCHC=7"));
        assert!(!seen.iter().any(|l| l.contains("EGMR")));
    }

    fn csim_modem(l: &str) -> String {
        let ok = |r: &str| format!("\r\n+CSIM: {},\"{r}\"\r\n\r\nOK\r\n", r.len());
        match l {
            "AT" | "ATE0" | "AT+CMEE=1" => "\r\nOK\r\n".into(),
            "AT+CSIM=10,\"0070000001\"" => ok("029000"),
            "AT+CSIM=42,\"02A4040010A0000005591010FFFFFFFF8900000100\"" => ok("6121"),
            "AT+CSIM=10,\"82E2910000\"" => ok("BF3E9000"),
            "AT+CSIM=8,\"00708002\"" => ok("9000"),
            _ => "\r\nERROR\r\n".into(),
        }
    }

    #[test]
    fn csim_mode_opens_a_channel_and_sets_its_cla_bits() {
        let (_dir, spec, t) = fake(csim_modem);
        let mut m = AtModem::connect(&spec, AtOptions::default().with_mode(AtMode::Csim)).unwrap();
        assert_eq!(m.transmit(&[0, 0x70, 0, 0, 1]).unwrap(), vec![2, 0x90, 0]);
        assert_eq!(
            m.transmit(&[0x80, 0xE2, 0x91, 0, 0]).unwrap(),
            vec![0xBF, 0x3E, 0x90, 0]
        );
        m.close_session().unwrap();
        drop(m);
        let seen = t.join().unwrap();
        assert_eq!(
            seen.last().map(String::as_str),
            Some("AT+CSIM=8,\"00708002\"")
        );
    }

    #[test]
    fn times_out_naming_the_command_and_what_arrived() {
        let (_dir, spec, t) = fake(|l| {
            if l == "AT+CGMI" {
                "\r\nVirtual".into()
            } else {
                "\r\nOK\r\n".into()
            }
        });
        let opts = AtOptions {
            timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let mut m = AtModem::connect(&spec, opts).unwrap();
        let e = m.command("AT+CGMI").unwrap_err().to_string();
        assert!(
            e.starts_with("AT+CGMI: no final result code within 200ms"),
            "{e}"
        );
        assert!(e.contains("Virtual"), "{e}");
        drop(m);
        t.join().unwrap();
    }

    #[test]
    fn parses_modes() {
        assert_eq!("CGLA".parse::<AtMode>().unwrap(), AtMode::Cgla);
        assert_eq!("csim".parse::<AtMode>().unwrap(), AtMode::Csim);
        assert!("pcsc".parse::<AtMode>().is_err());
    }
}
