//! What each fuzz target of the V.250 engine checks, in one place. The libFuzzer targets
//! (`fuzz_targets/*.rs`) call these functions, and the stable replay test
//! `vmodem/tests/v250_fuzz_regressions.rs` includes this file by path, so a committed
//! regression input runs through exactly the target's logic.
//!
//! No function may panic on any input; the `assert!`s are the targets' invariants.

use std::time::{Duration, Instant};

use v250::charset::{decode, encode, encode_bytes};
use v250::error::{CmdError, CmeError};
use v250::token::{nth, parse, render};
use v250::{Charset, Command, Executor, ExtOp, Final, Param, Port, PortOptions, Reply, Settings};

/// The fuzz targets, as named in `Cargo.toml` and under `corpus/` and `regressions/`.
pub const TARGETS: &[&str] = &["at_line", "at_token"];

/// Runs `data` through the checks of `target`; false when there is no such target.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "at_line" => at_line(data),
        "at_token" => at_token(data),
        _ => return false,
    }
    true
}

const CHARSETS: [Charset; 6] = [
    Charset::Gsm,
    Charset::Ira,
    Charset::Ucs2,
    Charset::Latin1,
    Charset::Utf8,
    Charset::Hex,
];

/// A deterministic executor: the reply depends only on the command and the settings. It uses
/// the parameter accessors the way handlers do.
#[derive(Debug, Default)]
struct Dummy {
    ended: usize,
}

impl Executor for Dummy {
    fn execute(&mut self, st: &mut Settings, cmd: &Command) -> Result<Reply, CmdError> {
        match cmd {
            Command::Dial(d) if d.starts_with('9') => Ok(Reply {
                info: Vec::new(),
                fin: Final::Connect(Some("150000000".to_string())),
            }),
            Command::Dial(_) => Ok(Reply {
                info: Vec::new(),
                fin: Final::NoCarrier,
            }),
            Command::Basic { name, .. } if name == "I" => Ok(Reply::lines([
                "Fuzz Inc.".to_string(),
                encode(st.charset, "Fuzz €"),
            ])),
            Command::Basic { .. } => Err(CmdError::Unknown),
            Command::SRead(_) | Command::SSet(..) => Err(CmdError::Syntax),
            Command::Extended { name, op } => match (name.as_str(), op) {
                ("+CMEE", ExtOp::Set(p)) => {
                    let v = nth(p, 0).as_u32(0..=2)?;
                    st.cmee = u8::try_from(v).map_err(|_| CmdError::Syntax)?;
                    Ok(Reply::ok())
                }
                ("+CSCS", ExtOp::Set(p)) => {
                    let n = nth(p, 0).as_str(st.charset)?;
                    st.charset = Charset::from_name(&n).ok_or(CmeError::OperationNotSupported)?;
                    Ok(Reply::ok())
                }
                ("+CSIM", ExtOp::Set(p)) => {
                    let apdu = nth(p, 1).as_hex()?;
                    let _ = nth(p, 0).opt_u32(0..=520)?;
                    Ok(Reply::lines([format!("+CSIM: 4,\"{:02X}00\"", apdu.len())]))
                }
                ("+CPIN", ExtOp::Read) => Err(CmeError::SimPinRequired.into()),
                ("+CMGS", _) => Err(CmdError::Cms(500)),
                (_, ExtOp::Set(p)) => {
                    let mut info = Vec::new();
                    for q in p {
                        if let Ok(s) = q.as_str(st.charset) {
                            info.push(encode(st.charset, &s));
                        }
                        let _ = q.as_text();
                    }
                    Ok(Reply::lines(info))
                }
                (_, ExtOp::Read) => Ok(Reply::lines([format!("{name}: 0")])),
                (_, ExtOp::Test) => Ok(Reply::ok()),
                (_, ExtOp::Exec) => Err(CmdError::Unknown),
            },
        }
    }

    fn data_mode_ended(&mut self) {
        self.ended += 1;
    }
}

fn options() -> PortOptions {
    let mut o = PortOptions::named("fuzz");
    o.max_line = 256;
    o.urc_queue_limit = 4;
    o
}

/// `at_line`: the first two bytes choose a chunk size (1–16) and a time step (0–5.1 s); the
/// rest is fed to a port in chunks, the clock advancing 1–3 steps before each, with URCs
/// injected (0xFE at a chunk start), hang-ups (0xFF) and carrier loss (0xFD), polling timers
/// when due. Checks: no panic, the URC queue stays bounded and drains once idle, a URC is sent
/// at once exactly when the port is idle, nothing comes out in data mode without a due escape,
/// and — in a second pair of runs at a fixed time — feeding in chunks gives the same bytes as
/// feeding at once.
pub fn at_line(data: &[u8]) {
    let (chunk, step, body) = match data {
        [c, s, rest @ ..] => (
            usize::from(c % 16) + 1,
            Duration::from_millis(u64::from(*s) * 20),
            rest,
        ),
        _ => (1, Duration::ZERO, data),
    };

    let mut exec = Dummy::default();
    let mut port = Port::new(options());
    let mut now = Instant::now();
    let mut urc_n = 0u32;
    for (i, piece) in body.chunks(chunk).enumerate() {
        now += step * (1 + u32::try_from(i % 3).unwrap_or(0));
        // With a guard time, an escape cannot complete within one feed (same instant).
        let quiet_data = port.in_data_mode()
            && port.settings().s[12] != 0
            && port.next_deadline().is_none_or(|d| d > now);
        let out = port.feed(piece, now, &mut exec);
        if quiet_data && port.in_data_mode() {
            assert!(out.is_empty(), "output in data mode");
        }
        match piece.first() {
            Some(0xFE) => {
                let idle = port.is_idle();
                let queued = port.queued_urcs();
                urc_n += 1;
                let sent = port.urc(&format!("+URC: {urc_n}"));
                assert_eq!(!sent.is_empty(), idle, "URC sent iff idle");
                let want = if idle { 0 } else { (queued + 1).min(4) };
                assert_eq!(port.queued_urcs(), want);
            }
            Some(0xFF) => {
                port.hangup(&mut exec);
                assert!(port.is_idle() && !port.data_call_active());
                assert_eq!(port.queued_urcs(), 0);
            }
            Some(0xFD) => {
                let active = port.data_call_active();
                let out = port.carrier_lost();
                if !active {
                    assert!(out.is_empty());
                } else if !port.settings().quiet {
                    assert!(!out.is_empty());
                }
                assert!(!port.data_call_active());
            }
            _ => {}
        }
        if port.next_deadline().is_some_and(|d| d <= now) {
            let _ = port.poll(now, &mut exec);
        }
        assert!(port.queued_urcs() <= 4);
        if port.is_idle() {
            let _ = port.take_urcs();
            assert_eq!(port.queued_urcs(), 0);
        }
    }

    // Split invariance at a fixed instant (no URCs, no timers).
    let t = Instant::now();
    let whole = Port::new(options()).feed(body, t, &mut Dummy::default());
    let mut split = Port::new(options());
    let mut exec = Dummy::default();
    let mut got = Vec::new();
    for piece in body.chunks(chunk) {
        got.extend(split.feed(piece, t, &mut exec));
    }
    assert_eq!(got, whole, "chunked feed differs");
}

/// `at_token`: the tokenizer never panics, and what it parses renders to a line that parses
/// back equal; the parameter accessors and the character sets never panic, and text decoded
/// in a character set encodes back to the same text.
pub fn at_token(data: &[u8]) {
    if let Ok(cmds) = parse(data) {
        let line = render(&cmds);
        assert_eq!(parse(line.as_bytes()).as_ref(), Ok(&cmds), "{line}");
        for c in &cmds {
            let _ = (c.label(), c.is_sensitive());
            if let Command::Extended {
                op: ExtOp::Set(params),
                ..
            } = c
            {
                for p in params {
                    exercise(p);
                }
            }
        }
    }
    for cs in CHARSETS {
        if let Ok(text) = decode(cs, data) {
            let back = if cs == Charset::Latin1 {
                decode(cs, &encode_bytes(cs, &text))
            } else {
                decode(cs, encode(cs, &text).as_bytes())
            };
            assert_eq!(back.as_ref(), Ok(&text), "{}", cs.name());
        }
    }
}

fn exercise(p: &Param) {
    let _ = (p.as_u32(0..=u32::MAX), p.as_u64(1..=10), p.opt_u32(0..=5));
    let _ = (p.as_text(), p.as_hex(), p.is_omitted());
    for cs in CHARSETS {
        let _ = (p.as_str(cs), p.opt_str(cs));
    }
}
