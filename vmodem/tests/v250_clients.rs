#![allow(clippy::unwrap_used)]
//! The V.250 engine against the exchanges real clients were observed to have
//! (`../shared/design/modem.md` §2): ModemManager's port setup, pySim's echo detection and
//! `+CSIM`, lpac's CR LF lines and its reader. The executor is a small test double; the
//! command handlers of the modem are tested elsewhere.

use std::time::{Duration, Instant};

use vmodem::error::{CmdError, CmeError};
use vmodem::v250::token::nth;
use vmodem::v250::{Charset, Command, Executor, ExtOp, Final, Port, PortOptions, Reply, Settings};

/// Answers a few identity, SIM and channel commands the way the clients expect.
#[derive(Default)]
struct Fake {
    log: Vec<String>,
    ended: usize,
}

impl Executor for Fake {
    fn execute(&mut self, st: &mut Settings, cmd: &Command) -> Result<Reply, CmdError> {
        self.log.push(cmd.to_string());
        let line = |s: &str| Ok(Reply::lines([s.to_string()]));
        match cmd {
            Command::Basic { name, .. } if name == "I" => line("FakeModem Inc. FM-1000"),
            Command::Basic { name, .. } if name == "H" => Ok(Reply::ok()),
            Command::Dial(d) if d.starts_with("*99") => Ok(Reply {
                info: vec![],
                fin: Final::Connect(None),
            }),
            Command::Dial(_) => Ok(Reply {
                info: vec![],
                fin: Final::NoCarrier,
            }),
            Command::Extended { name, op } => match (name.as_str(), op) {
                ("+CGMI", ExtOp::Exec) => line("FakeModem Inc."),
                ("+CGMM", ExtOp::Exec) => line("FM-1000"),
                ("+CGSN", ExtOp::Exec) => line("490154203237518"),
                ("+CMEE", ExtOp::Set(p)) => {
                    st.cmee = u8::try_from(nth(p, 0).as_u32(0..=2)?).unwrap();
                    Ok(Reply::ok())
                }
                ("+CMEE", ExtOp::Read) => line(&format!("+CMEE: {}", st.cmee)),
                ("+CSCS", ExtOp::Set(p)) => {
                    let n = nth(p, 0).as_str(st.charset)?;
                    st.charset = Charset::from_name(&n).ok_or(CmeError::OperationNotSupported)?;
                    Ok(Reply::ok())
                }
                ("+CSCS", ExtOp::Read) => {
                    let name = vmodem::v250::charset::encode(st.charset, st.charset.name());
                    line(&format!("+CSCS: \"{name}\""))
                }
                ("+CSIM" | "+CCHO" | "+CCHC" | "+CGLA", ExtOp::Test) => Ok(Reply::ok()),
                ("+CSIM", ExtOp::Set(p)) => {
                    let apdu = nth(p, 1).as_hex()?;
                    let len = nth(p, 0).as_u32(0..=520)?;
                    if usize::try_from(len).unwrap() != apdu.len() * 2 {
                        return Err(CmeError::IncorrectParameters.into());
                    }
                    line("+CSIM: 4,\"6A82\"")
                }
                ("+CCHO", ExtOp::Set(p)) => {
                    let aid = nth(p, 0).as_hex()?;
                    assert_eq!(aid.len(), 16);
                    line("+CCHO: 1")
                }
                ("+CGLA", ExtOp::Set(p)) => {
                    assert_eq!(nth(p, 0).as_u32(1..=19)?, 1);
                    let apdu = nth(p, 2).as_hex()?;
                    assert_eq!(apdu.first(), Some(&0x81));
                    line("+CGLA: 4,\"9000\"")
                }
                ("+CCHC", ExtOp::Set(_)) => Ok(Reply::ok()),
                ("+CPIN", ExtOp::Read) => Err(CmeError::SimNotInserted.into()),
                _ => Err(CmdError::Unknown),
            },
            _ => Err(CmdError::Unknown),
        }
    }

    fn data_mode_ended(&mut self) {
        self.ended += 1;
    }
}

fn port() -> Port {
    Port::new(PortOptions::named("at0"))
}

fn send(p: &mut Port, f: &mut Fake, line: &str) -> String {
    String::from_utf8(p.feed(line.as_bytes(), Instant::now(), f)).unwrap()
}

/// pySim `ModemATCommandLink`: strips `len(cmd)+1` bytes of echo, then splits lines.
fn pysim_lines(cmd: &str, raw: &str) -> Vec<String> {
    let rest = raw.get(cmd.len() + 1..).unwrap_or_default();
    rest.split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// lpac's reader: split on LF, strip CR, skip empty lines and the echo; the response ends on a
/// line exactly `OK` or `ERROR`.
fn lpac_lines(cmd: &str, raw: &str) -> (Vec<String>, Option<bool>) {
    let mut lines = Vec::new();
    for l in raw.split('\n').map(|l| l.trim_end_matches('\r')) {
        if l.is_empty() || l == cmd {
            continue;
        }
        match l {
            "OK" => return (lines, Some(true)),
            "ERROR" => return (lines, Some(false)),
            _ => lines.push(l.to_string()),
        }
    }
    (lines, None)
}

#[test]
fn pysim_detects_echo_and_gets_exact_answers() {
    let (mut p, mut f) = (port(), Fake::default());
    // Echo is on by default: exactly the raw command, CR, then the result.
    assert_eq!(send(&mut p, &mut f, "AT\r"), "AT\r\r\nOK\r\n");
    let raw = send(&mut p, &mut f, "ATZ\r");
    assert_eq!(pysim_lines("ATZ", &raw), ["OK"]);
    let raw = send(&mut p, &mut f, "AT+CSIM=?\r");
    assert_eq!(pysim_lines("AT+CSIM=?", &raw), ["OK"]);
    let cmd = "AT+CSIM=14,\"00A40004023F00\"";
    let raw = send(&mut p, &mut f, &format!("{cmd}\r"));
    assert_eq!(pysim_lines(cmd, &raw), ["+CSIM: 4,\"6A82\"", "OK"]);
}

#[test]
fn modemmanager_setup_sequence_with_crlf() {
    let (mut p, mut f) = (port(), Fake::default());
    let setup = [
        ("ATE0", "ATE0\r\r\nOK\r\n"),
        ("ATV1", "\r\nOK\r\n"),
        ("AT+CMEE=1", "\r\nOK\r\n"),
        ("ATX4", "\r\nOK\r\n"),
        ("AT&C1", "\r\nOK\r\n"),
        ("AT+CSCS=\"UCS2\"", "\r\nOK\r\n"),
        ("AT+CSCS?", "\r\n+CSCS: \"0055004300530032\"\r\n\r\nOK\r\n"),
        ("AT+CGMI", "\r\nFakeModem Inc.\r\n\r\nOK\r\n"),
        ("ATI", "\r\nFakeModem Inc. FM-1000\r\n\r\nOK\r\n"),
        ("AT+CPIN?", "\r\n+CME ERROR: 10\r\n"),
        ("AT*CNTI=2", "\r\nERROR\r\n"),
        ("ATH", "\r\nOK\r\n"),
    ];
    for (cmd, want) in setup {
        assert_eq!(send(&mut p, &mut f, &format!("{cmd}\r\n")), want, "{cmd}");
    }
    let st = p.settings();
    assert!(!st.echo && st.verbose && !st.quiet && st.x == 4 && st.amp_c == 1);
    assert_eq!((st.cmee, st.charset), (1, Charset::Ucs2));
    // In UCS2, a charset name parameter is UCS2 hex too.
    assert_eq!(
        send(&mut p, &mut f, "AT+CSCS=\"004900520041\"\r\n"),
        "\r\nOK\r\n"
    );
    assert_eq!(p.settings().charset, Charset::Ira);
}

#[test]
fn lpac_channel_flow_with_echo_and_crlf() {
    let (mut p, mut f) = (port(), Fake::default());
    let steps: [(&str, &[&str], bool); 7] = [
        ("AT", &[], true),
        ("AT+CCHO=?", &[], true),
        ("AT+CCHC=?", &[], true),
        ("AT+CGLA=?", &[], true),
        (
            "AT+CCHO=\"a0000005591010ffffffff8900000100\"",
            &["+CCHO: 1"],
            true,
        ),
        (
            "AT+CGLA=1,22,\"81e2910006bf3e035c015a\"",
            &["+CGLA: 4,\"9000\""],
            true,
        ),
        ("AT+CCHC=1", &[], true),
    ];
    for (cmd, want, ok) in steps {
        let raw = send(&mut p, &mut f, &format!("{cmd}\r\n"));
        let (lines, end) = lpac_lines(cmd, &raw);
        assert_eq!(lines, want, "{cmd}: {raw:?}");
        assert_eq!(end, Some(ok), "{cmd}: {raw:?}");
    }
    // lpac never sets +CMEE: errors must be a plain ERROR line or it hangs.
    let (lines, end) = lpac_lines("AT+CPIN?", &send(&mut p, &mut f, "AT+CPIN?\r\n"));
    assert_eq!((lines.len(), end), (0, Some(false)));
}

#[test]
fn modemmanager_parser_sees_only_verbose_finals() {
    let (mut p, mut f) = (port(), Fake::default());
    send(&mut p, &mut f, "ATE0\r");
    for cmd in ["AT+CGMI", "AT+NOPE", "ATD123;", "AT+CMEE=2;+CPIN?"] {
        let raw = send(&mut p, &mut f, &format!("{cmd}\r"));
        let last = raw.trim_end_matches("\r\n").rsplit("\r\n").next().unwrap();
        assert!(
            ["OK", "ERROR", "NO CARRIER", "+CME ERROR: SIM not inserted"].contains(&last),
            "{cmd}: {raw:?}"
        );
        assert!(raw.starts_with("\r\n") && raw.ends_with("\r\n"), "{raw:?}");
    }
}

#[test]
fn urcs_never_split_a_response() {
    let (mut p, mut f) = (port(), Fake::default());
    send(&mut p, &mut f, "ATE0\r\n");
    let mut out = p.feed(b"AT+CG", Instant::now(), &mut f);
    out.extend(p.urc("+CREG: 1,\"00C3\",\"0001A2B5\",7"));
    out.extend(p.feed(b"MI;+CGMM\r", Instant::now(), &mut f));
    out.extend(p.feed(b"\n", Instant::now(), &mut f));
    out.extend(p.urc("+CEREG: 1"));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "\r\nFakeModem Inc.\r\n\r\nFM-1000\r\n\r\nOK\r\n\r\n+CREG: 1,\"00C3\",\"0001A2B5\",7\r\n\r\n+CEREG: 1\r\n"
    );
}

#[test]
fn ppp_dial_escape_and_hangup() {
    let (mut p, mut f) = (port(), Fake::default());
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let mut feed = |p: &mut Port, b: &[u8], t| String::from_utf8(p.feed(b, t, &mut f)).unwrap();
    assert_eq!(feed(&mut p, b"ATE0\r", t0), "ATE0\r\r\nOK\r\n");
    assert_eq!(feed(&mut p, b"ATD*99***1#\r", t0), "\r\nCONNECT\r\n");
    // PPP frames go nowhere.
    assert_eq!(
        feed(&mut p, b"\x7e\xff\x7d\x23\xc0\x21\x7e", t0 + s / 10),
        ""
    );
    assert_eq!(feed(&mut p, b"+++", t0 + 2 * s), "");
    assert_eq!(p.next_deadline(), Some(t0 + 3 * s));
    assert_eq!(p.poll(t0 + 3 * s, &mut Fake::default()), b"\r\nOK\r\n");
    assert_eq!(
        feed(&mut p, b"AT+CGMI\r", t0 + 4 * s),
        "\r\nFakeModem Inc.\r\n\r\nOK\r\n"
    );
    assert_eq!(feed(&mut p, b"ATH\r", t0 + 5 * s), "\r\nOK\r\n");
    assert!(!p.data_call_active());
    assert_eq!(f.ended, 1);
}
