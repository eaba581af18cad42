#![allow(clippy::unwrap_used)]
//! Property tests of the V.250 engine: commands rendered to a line parse back equal; a byte
//! stream gives the same output however it is split into reads; arbitrary bytes (with URCs,
//! timer polls and hang-ups in between) never panic; every terminated line in command state
//! gets exactly one final result code.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use vmodem::error::{CmdError, CmeError};
use vmodem::v250::token::{self, render};
use vmodem::v250::{Command, Executor, ExtOp, Final, Param, Port, PortOptions, Reply, Settings};

/// Deterministic executor: the reply depends on the command only.
struct Echoing;

impl Executor for Echoing {
    fn execute(&mut self, st: &mut Settings, cmd: &Command) -> Result<Reply, CmdError> {
        match cmd {
            Command::Dial(d) if d.starts_with('9') => Ok(Reply {
                info: vec![],
                fin: Final::Connect(None),
            }),
            Command::Dial(_) => Ok(Reply {
                info: vec![],
                fin: Final::Busy,
            }),
            Command::Extended { name, op } => {
                if name.ends_with('E') {
                    return Err(CmeError::SimBusy.into());
                }
                if name.ends_with('S') {
                    return Err(CmdError::Cms(500));
                }
                if name.ends_with('X') {
                    return Err(CmdError::Unknown);
                }
                if let ExtOp::Set(p) = op {
                    if name == "+CMEE" {
                        st.cmee = u8::try_from(token::nth(p, 0).as_u32(0..=2)?).unwrap();
                    }
                }
                Ok(Reply::lines([format!("{}: 1", name)]))
            }
            _ => Ok(Reply::ok()),
        }
    }
}

fn basic_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-CE-RT-Z]".prop_map(|s| s),
        "[A-Z]".prop_map(|s| format!("&{s}")),
    ]
}

fn ext_name() -> impl Strategy<Value = String> {
    ("[-+^$#%!*]", "[A-Z0-9!%./:_-]{1,16}").prop_map(|(p, n)| {
        // '-' is not a prefix; use '+' for it.
        let p = if p == "-" { "+".to_string() } else { p };
        format!("{p}{n}")
    })
}

fn param() -> impl Strategy<Value = Param> {
    prop_oneof![
        Just(Param::Omitted),
        "[A-Za-z0-9+.:*#()/_-]{1,10}".prop_map(Param::Bare),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Param::Quoted),
    ]
}

fn ext_op() -> impl Strategy<Value = ExtOp> {
    prop_oneof![
        Just(ExtOp::Test),
        Just(ExtOp::Read),
        Just(ExtOp::Exec),
        proptest::collection::vec(param(), 1..5).prop_map(ExtOp::Set),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (basic_name(), proptest::option::of(0u32..100_000))
            .prop_map(|(name, arg)| Command::Basic { name, arg }),
        any::<u8>().prop_map(Command::SRead),
        (any::<u8>(), any::<u32>()).prop_map(|(n, v)| Command::SSet(n, v)),
        (ext_name(), ext_op()).prop_map(|(name, op)| Command::Extended { name, op }),
    ]
}

fn commands() -> impl Strategy<Value = Vec<Command>> {
    (
        proptest::collection::vec(command(), 0..6),
        proptest::option::of("[0-9*#+,TPWtpw>iIgG;]{0,12}"),
    )
        .prop_map(|(mut cmds, dial)| {
            if let Some(d) = dial {
                cmds.push(Command::Dial(d));
            }
            cmds
        })
}

/// A byte stream: valid lines, fragments, control characters and noise.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        commands().prop_map(|c| format!("AT{}\r", render(&c)).into_bytes()),
        commands().prop_map(|c| format!("at{}\r\n", render(&c)).into_bytes()),
        Just(b"A/".to_vec()),
        Just(b"+++".to_vec()),
        Just(b"ATE1\r".to_vec()),
        Just(b"ATV0\r".to_vec()),
        Just(b"ATS3=33\r".to_vec()),
        Just(b"ATO\r".to_vec()),
        Just(b"ATD9\r".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn rendered_commands_parse_back_equal(cmds in commands()) {
        let line = render(&cmds);
        prop_assert_eq!(token::parse(line.as_bytes()), Ok(cmds), "{}", line);
    }

    #[test]
    fn tokenizer_never_panics_and_its_rendering_reparses(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(cmds) = token::parse(&body) {
            let again = render(&cmds);
            prop_assert_eq!(token::parse(again.as_bytes()), Ok(cmds));
        }
    }

    #[test]
    fn chunked_feed_matches_whole_feed(bytes in stream(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let now = Instant::now();
        let mut whole = Port::new(PortOptions::named("a"));
        let want = whole.feed(&bytes, now, &mut Echoing);

        let mut idx: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        idx.sort_unstable();
        let mut split = Port::new(PortOptions::named("b"));
        let mut got = Vec::new();
        let mut from = 0;
        for i in idx.into_iter().chain([bytes.len()]) {
            got.extend(split.feed(bytes.get(from..i).unwrap(), now, &mut Echoing));
            from = i;
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(split.settings(), whole.settings());
        prop_assert_eq!(split.is_idle(), whole.is_idle());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_port(
        steps in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40), 0u64..3000, 0u8..8), 0..20)
    ) {
        let mut opts = PortOptions::named("fuzz");
        opts.max_line = 32;
        opts.urc_queue_limit = 3;
        let mut p = Port::new(opts);
        let mut now = Instant::now();
        for (bytes, ms, action) in steps {
            now += Duration::from_millis(ms);
            let _ = p.feed(&bytes, now, &mut Echoing);
            match action {
                0 => { let _ = p.urc("+CREG: 1"); }
                1 => { let _ = p.take_urcs(); }
                2 => p.hangup(&mut Echoing),
                3 => { let _ = p.carrier_lost(); }
                _ => {
                    if p.next_deadline().is_some_and(|d| d <= now) {
                        let _ = p.poll(now, &mut Echoing);
                    }
                }
            }
            prop_assert!(p.queued_urcs() <= 3);
            if p.is_idle() {
                let _ = p.take_urcs();
                prop_assert_eq!(p.queued_urcs(), 0);
            }
        }
    }

    #[test]
    fn every_line_gets_exactly_one_final_result(lines in proptest::collection::vec(commands(), 1..8)) {
        let mut p = Port::new(PortOptions::named("a"));
        p.settings_mut().echo = false;
        for cmds in lines {
            // Only lines that stay in command state and keep the framing.
            let cmds: Vec<Command> = cmds
                .into_iter()
                .filter(|c| !matches!(c, Command::Dial(_) | Command::SSet(..) | Command::Basic { .. }))
                .collect();
            let out = p.feed(format!("AT{}\r", render(&cmds)).as_bytes(), Instant::now(), &mut Echoing);
            let text = String::from_utf8_lossy(&out).into_owned();
            let finals = text
                .split("\r\n")
                .filter(|l| {
                    matches!(*l, "OK" | "ERROR") || l.starts_with("+CME ERROR:") || l.starts_with("+CMS ERROR:")
                })
                .count();
            prop_assert_eq!(finals, 1, "{:?}", text);
            prop_assert!(text.ends_with("\r\n"));
        }
    }
}
