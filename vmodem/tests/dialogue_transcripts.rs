//! Real clients' AT dialogues with the virtual modem over a real PTY, byte for byte, as
//! data-driven transcripts (`tests/transcripts/*.txt`, format below; facts in
//! shared/design/modem.md §2(b) pySim `ModemATCommandLink`, §2(c) lpac `at` and `at_csim`).
//!
//! Each test starts a modem (in this process) with one PTY port and a virtual eUICC holding an
//! enabled TS.48 test profile, opens the PTY slave as the client does (`O_NOCTTY`, raw), and runs
//! one transcript. Every answer must be complete (final result code) within the transcript's
//! `@timeout` (200 ms: pySim's read timeout).
//!
//! ## Transcript format
//!
//! ```text
//! # a comment (whole lines only: '#' is part of AT commands such as AT#CCID)
//! @terminator cr|crlf    what `>` appends: pySim sends CR, lpac and ModemManager CRLF
//! @timeout 200ms         each answer's deadline (from the last byte sent to its final code)
//! @echo expect|skip      expect: the echo is a line of the answer to be listed; skip: the
//!                        runner drops it (as lpac does)
//! > TEXT                 send TEXT + terminator; read the answer: bytes up to and including
//!                        the line that is a final result code (OK, ERROR, +CME ERROR: …, …)
//! < PATTERN              the answer's next line (split on \n, \r stripped, empty lines
//!                        dropped); the `<` lines of an exchange must list all of its lines
//! = PATTERN              the answer's bytes, all of them, exactly (escapes \r \n \t \\ \xHH)
//! ! JSON                 a control request on the modem's control socket; must be ok
//! ```
//!
//! Patterns are literal text with `{name:REGEX}` captures (a small regex dialect: literals,
//! `.`, `\d \w \s \h` (hex digit), `[…]` classes with ranges and `^`, quantifiers `* + ? {n}
//! {n,} {n,m}`) and `{name}` references to earlier captures; `{_:…}` matches without keeping.
//! References also work in `>` and `!` lines. `{{` is a literal `{`.
//!
//! Bytes left over after a final result code (an answer that goes on, or an unsolicited line)
//! fail the next step; at the end nothing more may arrive within 100 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Patterns: literal text, captures with a small regex dialect, references.

#[derive(Debug, Clone)]
enum Atom {
    Char(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(x) => *x == c,
            Atom::Any => true,
            Atom::Class { ranges, negated } => {
                ranges.iter().any(|(a, b)| *a <= c && c <= *b) != *negated
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Node {
    Rep { atom: Atom, min: usize, max: usize },
    Open(usize),
    Close(usize),
}

#[derive(Debug, Clone)]
struct Pattern {
    source: String,
    /// Template pieces: literal nodes, captures, and references resolved at match time.
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Nodes(Vec<Node>),
    Capture(String, Vec<Node>),
    Ref(String),
}

fn class_escape(c: char) -> Option<Vec<(char, char)>> {
    Some(match c {
        'd' => vec![('0', '9')],
        'h' => vec![('0', '9'), ('A', 'F'), ('a', 'f')],
        'w' => vec![('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')],
        's' => vec![(' ', ' '), ('\t', '\t'), ('\r', '\r'), ('\n', '\n')],
        _ => return None,
    })
}

/// Parses the regex dialect of a capture into nodes.
fn parse_regex(re: &str) -> Result<Vec<Node>, String> {
    let cs: Vec<char> = re.chars().collect();
    let mut out: Vec<Node> = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let atom = match cs[i] {
            '.' => {
                i += 1;
                Atom::Any
            }
            '\\' => {
                let c = *cs.get(i + 1).ok_or("dangling \\")?;
                i += 2;
                match class_escape(c) {
                    Some(ranges) => Atom::Class {
                        ranges,
                        negated: false,
                    },
                    None => Atom::Char(c),
                }
            }
            '[' => {
                i += 1;
                let negated = cs.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let c = *cs.get(i).ok_or("unterminated [")?;
                    if c == ']' {
                        i += 1;
                        break;
                    }
                    if c == '\\' {
                        let e = *cs.get(i + 1).ok_or("dangling \\")?;
                        match class_escape(e) {
                            Some(r) => ranges.extend(r),
                            None => ranges.push((e, e)),
                        }
                        i += 2;
                        continue;
                    }
                    if cs.get(i + 1) == Some(&'-') && cs.get(i + 2).is_some_and(|x| *x != ']') {
                        ranges.push((c, cs[i + 2]));
                        i += 3;
                    } else {
                        ranges.push((c, c));
                        i += 1;
                    }
                }
                Atom::Class { ranges, negated }
            }
            c @ ('*' | '+' | '?' | '{' | '(' | ')' | '|') => {
                return Err(format!("unsupported or misplaced {c:?} in regex {re:?}"))
            }
            c => {
                i += 1;
                Atom::Char(c)
            }
        };
        let (min, max) = match cs.get(i) {
            Some('*') => {
                i += 1;
                (0, usize::MAX)
            }
            Some('+') => {
                i += 1;
                (1, usize::MAX)
            }
            Some('?') => {
                i += 1;
                (0, 1)
            }
            Some('{') => {
                let end = cs[i..]
                    .iter()
                    .position(|c| *c == '}')
                    .ok_or("unterminated {")?
                    + i;
                let body: String = cs[i + 1..end].iter().collect();
                i = end + 1;
                let num = |s: &str| {
                    s.trim()
                        .parse::<usize>()
                        .map_err(|_| format!("bad {{{body}}}"))
                };
                match body.split_once(',') {
                    None => {
                        let n = num(&body)?;
                        (n, n)
                    }
                    Some((a, "")) => (num(a)?, usize::MAX),
                    Some((a, b)) => (num(a)?, num(b)?),
                }
            }
            _ => (1, 1),
        };
        out.push(Node::Rep { atom, min, max });
    }
    Ok(out)
}

/// Literal text as nodes; with `escapes`, `\r \n \t \\ \xHH` and `\"` are decoded.
fn literal_nodes(text: &str, escapes: bool) -> Result<Vec<Node>, String> {
    let mut out = Vec::new();
    let mut it = text.chars().peekable();
    while let Some(c) = it.next() {
        let c = if escapes && c == '\\' {
            match it.next().ok_or("dangling \\")? {
                'r' => '\r',
                'n' => '\n',
                't' => '\t',
                'x' => {
                    let h: String = [it.next(), it.next()].iter().flatten().collect();
                    char::from(u8::from_str_radix(&h, 16).map_err(|_| format!("bad \\x{h}"))?)
                }
                other => other,
            }
        } else {
            c
        };
        out.push(Node::Rep {
            atom: Atom::Char(c),
            min: 1,
            max: 1,
        });
    }
    Ok(out)
}

impl Pattern {
    fn parse(source: &str, escapes: bool) -> Result<Pattern, String> {
        let cs: Vec<char> = source.chars().collect();
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < cs.len() {
            if cs[i] == '{' && cs.get(i + 1) == Some(&'{') {
                lit.push('{');
                i += 2;
                continue;
            }
            if cs[i] != '{' {
                lit.push(cs[i]);
                i += 1;
                continue;
            }
            // A capture or reference: up to the balancing '}'.
            let mut depth = 0;
            let mut j = i;
            loop {
                match cs.get(j) {
                    Some('{') => depth += 1,
                    Some('}') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Some('\\') => j += 1,
                    Some(_) => {}
                    None => return Err(format!("unterminated {{ in {source:?}")),
                }
                j += 1;
            }
            let body: String = cs[i + 1..j].iter().collect();
            if !lit.is_empty() {
                pieces.push(Piece::Nodes(literal_nodes(&lit, escapes)?));
                lit.clear();
            }
            match body.split_once(':') {
                Some((name, re)) => pieces.push(Piece::Capture(name.to_string(), parse_regex(re)?)),
                None => pieces.push(Piece::Ref(body)),
            }
            i = j + 1;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Nodes(literal_nodes(&lit, escapes)?));
        }
        Ok(Pattern {
            source: source.to_string(),
            pieces,
        })
    }

    /// Matches all of `subject`; on success the new captures are added to `vars`.
    fn matches(&self, subject: &str, vars: &mut HashMap<String, String>) -> Result<bool, String> {
        let mut nodes = Vec::new();
        let mut names = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Nodes(n) => nodes.extend(n.iter().cloned()),
                Piece::Ref(name) => {
                    let v = vars
                        .get(name)
                        .ok_or_else(|| format!("{{{name}}} used before it was captured"))?;
                    nodes.extend(literal_nodes(v, false)?);
                }
                Piece::Capture(name, n) => {
                    nodes.push(Node::Open(names.len()));
                    nodes.extend(n.iter().cloned());
                    nodes.push(Node::Close(names.len()));
                    names.push(name.clone());
                }
            }
        }
        let s: Vec<char> = subject.chars().collect();
        let mut spans = vec![(0usize, 0usize); names.len()];
        if !match_at(&nodes, 0, &s, 0, &mut spans) {
            return Ok(false);
        }
        for (name, (a, b)) in names.iter().zip(spans) {
            if name != "_" {
                vars.insert(name.clone(), s[a..b].iter().collect());
            }
        }
        Ok(true)
    }
}

fn match_at(
    nodes: &[Node],
    i: usize,
    s: &[char],
    pos: usize,
    spans: &mut [(usize, usize)],
) -> bool {
    let Some(node) = nodes.get(i) else {
        return pos == s.len();
    };
    match node {
        Node::Open(k) => {
            spans[*k].0 = pos;
            match_at(nodes, i + 1, s, pos, spans)
        }
        Node::Close(k) => {
            spans[*k].1 = pos;
            match_at(nodes, i + 1, s, pos, spans)
        }
        Node::Rep { atom, min, max } => {
            let mut n = 0;
            while n < *max && pos + n < s.len() && atom.matches(s[pos + n]) {
                n += 1;
            }
            if n < *min {
                return false;
            }
            (*min..=n)
                .rev()
                .any(|k| match_at(nodes, i + 1, s, pos + k, spans))
        }
    }
}

/// Replaces `{name}` references in a line to send.
fn substitute(text: &str, vars: &HashMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        if rest[start..].starts_with("{{") {
            out.push('{');
            rest = &rest[start + 2..];
            continue;
        }
        let end = rest[start..]
            .find('}')
            .ok_or_else(|| format!("unterminated {{ in {text:?}"))?
            + start;
        let name = &rest[start + 1..end];
        out.push_str(
            vars.get(name)
                .ok_or_else(|| format!("{{{name}}} used before it was captured"))?,
        );
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Transcripts.

#[derive(Debug)]
enum Step {
    Terminator(&'static str),
    Timeout(Duration),
    Echo(bool),
    Send(String),
    Line(Pattern),
    Bytes(Pattern),
    Control(String),
}

#[derive(Debug)]
struct Transcript {
    name: String,
    steps: Vec<(usize, Step)>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .trim()
            .parse()
            .map(Duration::from_millis)
            .map_err(|e| e.to_string());
    }
    if let Some(secs) = s.strip_suffix('s') {
        return secs
            .trim()
            .parse::<f64>()
            .map(Duration::from_secs_f64)
            .map_err(|e| e.to_string());
    }
    Err(format!("duration {s:?}: use 200ms or 2s"))
}

impl Transcript {
    fn load(path: &Path) -> Transcript {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut steps = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let lineno = n + 1;
            let line = raw.trim_end();
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let fail = |e: String| -> ! { panic!("{name}:{lineno}: {e}: {line:?}") };
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            let step = match tag {
                "@terminator" => Step::Terminator(match rest.trim() {
                    "cr" => "\r",
                    "crlf" => "\r\n",
                    _ => fail("@terminator cr|crlf".into()),
                }),
                "@timeout" => Step::Timeout(parse_duration(rest).unwrap_or_else(|e| fail(e))),
                "@echo" => Step::Echo(match rest.trim() {
                    "expect" => false,
                    "skip" => true,
                    _ => fail("@echo expect|skip".into()),
                }),
                ">" => Step::Send(rest.to_string()),
                "<" => Step::Line(Pattern::parse(rest, false).unwrap_or_else(|e| fail(e))),
                "=" => Step::Bytes(Pattern::parse(rest, true).unwrap_or_else(|e| fail(e))),
                "!" => Step::Control(rest.to_string()),
                _ => fail("unknown step (> < = ! @terminator @timeout @echo)".into()),
            };
            steps.push((lineno, step));
        }
        Transcript { name, steps }
    }
}

/// Whether a complete response line is a final result code (V.250 §5.7.1, TS 27.007 §9.2).
fn is_final(line: &str) -> bool {
    matches!(
        line,
        "OK" | "ERROR"
            | "NO CARRIER"
            | "BUSY"
            | "NO ANSWER"
            | "NO DIALTONE"
            | "COMMAND NOT SUPPORT"
    ) || line.starts_with("+CME ERROR:")
        || line.starts_with("+CMS ERROR:")
        || line.starts_with("CONNECT")
}

/// The client side of the PTY: opened as pySim/lpac do (pyserial / open(2): `O_NOCTTY`, raw).
struct PtyClient {
    file: std::fs::File,
}

impl PtyClient {
    fn open(path: &Path) -> PtyClient {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NOCTTY.bits())
            .open(path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        let mut t = tcgetattr(&file).unwrap();
        cfmakeraw(&mut t);
        tcsetattr(&file, SetArg::TCSANOW, &t).unwrap();
        PtyClient { file }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.file.write_all(bytes).unwrap();
    }

    /// Reads once (waiting until `deadline`); false if nothing arrived in time.
    fn read_into(&mut self, buf: &mut Vec<u8>, deadline: Instant) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(ms)).unwrap() == 0 {
            return false;
        }
        let mut chunk = [0u8; 4096];
        let n = self.file.read(&mut chunk).unwrap();
        buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// Reads until the last complete line is a final result code, or the deadline.
    fn answer(&mut self, deadline: Instant) -> (Vec<u8>, bool) {
        let mut buf = Vec::new();
        loop {
            let text = String::from_utf8_lossy(&buf);
            let complete = text.rfind('\n').map(|p| &text[..p]).unwrap_or("");
            let last = complete
                .split('\n')
                .map(|l| l.trim_matches('\r'))
                .rfind(|l| !l.is_empty());
            if last.is_some_and(is_final) && text.ends_with('\n') {
                return (buf, true);
            }
            if !self.read_into(&mut buf, deadline) {
                return (buf, false);
            }
        }
    }
}

fn lines_of(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .split('\n')
        .map(|l| l.trim_matches('\r').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Runs `transcript` against the PTY at `pty`; `control` sends one control request (JSON line)
/// and returns the response line. Panics with the transcript line on the first mismatch.
fn run(
    transcript: &Transcript,
    pty: &Path,
    mut vars: HashMap<String, String>,
    control: &mut dyn FnMut(&str) -> String,
) {
    let name = &transcript.name;
    let mut client = PtyClient::open(pty);
    let mut terminator = "\r";
    let mut timeout = Duration::from_millis(200);
    let mut skip_echo = false;
    // The current exchange: the command sent, its answer bytes and lines, how many lines the
    // transcript has listed, and whether it said anything about the answer.
    let mut sent: Option<(usize, String)> = None;
    let mut answer: Vec<u8> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    let mut listed = 0usize;
    let mut described = false;
    let mut slowest = Duration::ZERO;

    let finish =
        |sent: &Option<(usize, String)>, lines: &[String], listed: usize, described: bool| {
            if let Some((at, cmd)) = sent {
                assert!(
                    described,
                    "{name}:{at}: {cmd:?}: the transcript does not say what the answer is"
                );
                if listed > 0 {
                    assert_eq!(
                    listed,
                    lines.len(),
                    "{name}:{at}: {cmd:?}: the answer has lines the transcript does not list: {:?}",
                    &lines[listed..]
                );
                }
            }
        };

    for (at, step) in &transcript.steps {
        let at = *at;
        match step {
            Step::Terminator(t) => terminator = t,
            Step::Timeout(d) => timeout = *d,
            Step::Echo(skip) => skip_echo = *skip,
            Step::Send(text) => {
                finish(&sent, &lines, listed, described);
                let cmd = substitute(text, &vars).unwrap_or_else(|e| panic!("{name}:{at}: {e}"));
                // Nothing may be pending: an answer that went on after its final result code.
                let mut stray = Vec::new();
                client.read_into(&mut stray, Instant::now());
                assert!(
                    stray.is_empty(),
                    "{name}:{at}: before {cmd:?}: unexpected bytes {:?}",
                    escaped(&stray)
                );
                let mut out = cmd.clone().into_bytes();
                out.extend_from_slice(terminator.as_bytes());
                client.send(&out);
                let t0 = Instant::now();
                let (bytes, complete) = client.answer(t0 + timeout);
                let took = t0.elapsed();
                assert!(
                    complete,
                    "{name}:{at}: {cmd:?}: no final result code within {timeout:?}; got {:?}",
                    escaped(&bytes)
                );
                slowest = slowest.max(took);
                lines = lines_of(&bytes);
                if skip_echo && lines.first().is_some_and(|l| l.trim() == cmd) {
                    lines.remove(0);
                }
                answer = bytes;
                listed = 0;
                described = false;
                sent = Some((at, cmd));
            }
            Step::Line(p) => {
                let Some((_, cmd)) = &sent else {
                    panic!("{name}:{at}: `<` before any `>`")
                };
                let got = lines.get(listed).unwrap_or_else(|| {
                    panic!(
                        "{name}:{at}: {cmd:?}: expected a line {:?}, the answer has no more: {:?}",
                        p.source,
                        escaped(&answer)
                    )
                });
                let ok = p
                    .matches(got, &mut vars)
                    .unwrap_or_else(|e| panic!("{name}:{at}: {e}"));
                assert!(
                    ok,
                    "{name}:{at}: {cmd:?}: line {} is {got:?}, expected {:?} (whole answer {:?})",
                    listed + 1,
                    p.source,
                    escaped(&answer)
                );
                listed += 1;
                described = true;
            }
            Step::Bytes(p) => {
                let Some((_, cmd)) = &sent else {
                    panic!("{name}:{at}: `=` before any `>`")
                };
                let subject: String = answer.iter().map(|b| char::from(*b)).collect();
                let ok = p
                    .matches(&subject, &mut vars)
                    .unwrap_or_else(|e| panic!("{name}:{at}: {e}"));
                assert!(
                    ok,
                    "{name}:{at}: {cmd:?}: the answer is {:?}, expected exactly {:?}",
                    escaped(&answer),
                    p.source
                );
                described = true;
            }
            Step::Control(json) => {
                finish(&sent, &lines, listed, described);
                sent = None;
                let req = substitute(json, &vars).unwrap_or_else(|e| panic!("{name}:{at}: {e}"));
                let resp = control(&req);
                let v: serde_json::Value = serde_json::from_str(&resp)
                    .unwrap_or_else(|e| panic!("{name}:{at}: control answer {resp:?}: {e}"));
                assert_eq!(v["ok"], true, "{name}:{at}: control {req} answered {resp}");
            }
        }
    }
    finish(&sent, &lines, listed, described);
    let mut rest = Vec::new();
    client.read_into(&mut rest, Instant::now() + Duration::from_millis(100));
    assert!(
        rest.is_empty(),
        "{name}: unexpected bytes after the last answer: {:?}",
        escaped(&rest)
    );
    eprintln!("{name}: ok, slowest answer {slowest:?}");
}

// ---------------------------------------------------------------------------------------------
// The modem under test.

fn testdata() -> Option<PathBuf> {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    if p.join("ts48/expected.json").is_file() {
        Some(p)
    } else {
        assert!(
            std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "testdata not found at {}",
            p.display()
        );
        eprintln!("SKIPPED: testdata not found at {}", p.display());
        None
    }
}

/// A virtual eUICC state directory with a minted identity and `package` installed and enabled.
/// Returns the EID (hex) and EF.ICCID of the profile (hex, as READ BINARY shows it).
fn seed_euicc(dir: &Path, package: &[u8]) -> (String, String) {
    let eid = veuicc::statedir::parse_eid("890490320000000000000000000042").unwrap();
    veuicc::statedir::init(dir, eid, &veuicc::statedir::IdentitySource::Mint).unwrap();
    let mut card = veuicc::statedir::open(dir).unwrap();
    let iccid = card
        .state_mut()
        .seed_package(
            package,
            &veuicc::euicc::SeedOptions {
                enable: true,
                notification_address: None,
                ..Default::default()
            },
        )
        .unwrap();
    (hex::encode_upper(eid), hex::encode_upper(iccid))
}

/// One modem `m0` with one PTY port `at0` and the eUICC of `euicc_dir` in its only slot,
/// running in this process.
struct TestModem {
    rt: tokio::runtime::Runtime,
    server: Option<vmodem::server::Server>,
}

impl TestModem {
    fn start(run_dir: &Path, euicc_dir: &Path) -> TestModem {
        use vmodem::config::{Config, ModemConfig, PortConfig, SlotConfig};
        let cfg = Config {
            run_dir: Some(run_dir.to_path_buf()),
            control: None,
            modems: vec![ModemConfig {
                ports: vec![PortConfig::pty("at0")],
                slots: vec![SlotConfig::Euicc {
                    state_dir: Some(euicc_dir.to_path_buf()),
                }],
                ..ModemConfig::named("m0")
            }],
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt
            .block_on(vmodem::server::Server::start(
                &cfg,
                vmodem::server::ServerOptions::default(),
            ))
            .unwrap();
        TestModem {
            rt,
            server: Some(server),
        }
    }

    fn server(&self) -> &vmodem::server::Server {
        self.server.as_ref().unwrap()
    }

    fn pty(&self) -> PathBuf {
        let p = self.server().port("m0", "at0").unwrap();
        p.symlink.clone().or_else(|| p.pty.clone()).unwrap()
    }
}

impl Drop for TestModem {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// Runs `tests/transcripts/<file>` against a fresh modem whose eUICC has TS.48 V1-A enabled;
/// `eid` and `iccid_ef` are known to the transcript.
fn run_transcript(file: &str) {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let package = std::fs::read(td.join("ts48/TS48V1-A-UNIQUE.der")).unwrap();
    let (eid, iccid_ef) = seed_euicc(&dir.path().join("euicc"), &package);
    let modem = TestModem::start(&dir.path().join("run"), &dir.path().join("euicc"));
    let transcript = Transcript::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/transcripts")
            .join(file),
    );
    let vars = HashMap::from([("eid".to_string(), eid), ("iccid_ef".to_string(), iccid_ef)]);
    let server = modem.server();
    run(&transcript, &modem.pty(), vars, &mut |line| {
        server.control_line(line)
    });
}

#[test]
fn pysim_modem_atcommandlink_dialogue_is_byte_exact() {
    run_transcript("pysim_modem_atcmd.txt");
}

#[test]
fn lpac_at_dialogue_opens_a_channel_and_carries_es10_over_cgla() {
    run_transcript("lpac_at.txt");
}

#[test]
fn lpac_at_csim_dialogue_manages_its_channel_inside_csim() {
    run_transcript("lpac_at_csim.txt");
}

#[test]
fn patterns_capture_and_reference() {
    let mut vars = HashMap::new();
    let p = Pattern::parse(
        "+CGLA: {n:\\d+},\"BF3E125A10{eid:[0-9A-F]{32}}9000\"",
        false,
    )
    .unwrap();
    let line = format!("+CGLA: 46,\"BF3E125A10{}9000\"", "89".repeat(16));
    assert!(p.matches(&line, &mut vars).unwrap());
    assert_eq!(vars["n"], "46");
    assert_eq!(vars["eid"], "89".repeat(16));
    let r = Pattern::parse("{eid}9000", false).unwrap();
    assert!(r
        .matches(&format!("{}9000", "89".repeat(16)), &mut vars)
        .unwrap());
    assert!(!r.matches("9000", &mut vars).unwrap());
    let b = Pattern::parse("AT\\r\\r\\nOK\\r\\n", true).unwrap();
    assert!(b.matches("AT\r\r\nOK\r\n", &mut vars).unwrap());
    assert!(!b.matches("AT\r\nOK\r\n", &mut vars).unwrap());
    let q = Pattern::parse("{_:[^,]*},{x:.?}{{", false).unwrap();
    assert!(q.matches("abc,d{", &mut vars).unwrap());
    assert_eq!(vars["x"], "d");
    assert_eq!(substitute("AT+CGLA={n},4", &vars).unwrap(), "AT+CGLA=46,4");
    assert!(Pattern::parse("{a:(x|y)}", false).is_err());
}
