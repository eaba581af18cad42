//! The engine of one AT port (ITU-T V.250 §5–6, TS 27.007 §4–5), sans-IO: bytes and the time
//! come in, bytes go out; commands run synchronously through an [`Executor`].
//!
//! - Command state: every byte is echoed under `E1` and fed to the [`Assembler`]; each completed
//!   line is tokenized ([`token::parse`]) and its commands run left to right, stopping at the
//!   first error or at a final result other than `OK` (`CONNECT`, `NO CARRIER`, …). The line
//!   gets one final result code; the information text of its commands is sent as they run.
//!   The engine runs `E V Q X Z &C &D &F &W &V O`, the S-registers and `A/` itself; every other
//!   command (`I H D A L M`, other basic commands, all extended commands) goes to the executor.
//! - Data state: a [`Final::Connect`] enters it. Host bytes are then **discarded** (there is no
//!   PPP peer behind this port) and not echoed, except that the escape sequence `+++` (S2) with
//!   a guard time (S12, in 1/50 s) of silence before and after returns `OK` and the
//!   online-command state, where lines run as usual: `ATO` goes back to data, `ATH` ends the
//!   call (the executor runs `H`, then [`Executor::data_mode_ended`] is called). The escape
//!   does not end the call. [`Port::hangup`] (DTR drop) ends it too.
//! - URCs: sent at once only when the port is idle (no partial line, not in data mode);
//!   otherwise queued (bounded, oldest dropped) and sent right after the next final result
//!   code, or by [`Port::take_urcs`] once idle — never inside a command's response.
//!
//! Each executed command runs in a tracing span `at{port, cmd}` recording `result`; `cmd` is
//! the command's name and form only (see [`crate::Command::label`]); parameter values
//! are logged at trace level only, and never for PIN, password and IMEI-write commands.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::format;
use super::line::{Assembler, LineEvent};
use super::token;
use super::{Command, Executor, Final, Reply, Settings};
use crate::error::CmdError;

/// Options of one port, from the modem's quirk profile.
#[derive(Debug, Clone)]
pub struct PortOptions {
    /// Port name, for tracing spans and transcripts.
    pub name: String,
    /// The settings `ATZ` / `AT&F` restore (and the initial ones).
    pub factory: Settings,
    /// Longest accepted command line after `AT` (at least 2048; default 4096). Longer → `ERROR`.
    pub max_line: usize,
    /// Final result text for [`crate::error::CmdError::Unknown`] instead of `ERROR`
    /// (e.g. `COMMAND NOT SUPPORT`), if the vendor profile says so.
    pub unknown_command_text: Option<String>,
    /// URC lines kept while the port is busy; the oldest are dropped beyond this.
    pub urc_queue_limit: usize,
}

impl PortOptions {
    pub fn named(name: &str) -> PortOptions {
        PortOptions {
            name: name.to_string(),
            factory: Settings::factory(),
            max_line: 4096,
            unknown_command_text: None,
            urc_queue_limit: 64,
        }
    }
}

/// The escape sequence detector of the data state (V.250 §6.3.5 `O`, S2, S12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Escape {
    /// When the last data byte arrived (or data mode began).
    last_data: Instant,
    /// Escape characters seen in a row (0–3).
    plus: u8,
    /// When the last escape character arrived.
    last_plus: Instant,
}

impl Escape {
    fn new(now: Instant) -> Escape {
        Escape {
            last_data: now,
            plus: 0,
            last_plus: now,
        }
    }

    /// One byte of the data state. `s2` > 127 disables the escape (V.250 S2).
    fn byte(&mut self, b: u8, now: Instant, s2: u8, guard: Duration) {
        if s2 <= 127 && b == s2 {
            let fits = match self.plus {
                0 => now.saturating_duration_since(self.last_data) >= guard,
                1 | 2 => now.saturating_duration_since(self.last_plus) <= guard,
                _ => false,
            };
            if fits {
                self.plus += 1;
                self.last_plus = now;
                return;
            }
        }
        self.plus = 0;
        self.last_data = now;
    }

    /// When the escape completes, if three escape characters are waiting for the guard time.
    fn deadline(&self, guard: Duration) -> Option<Instant> {
        (self.plus == 3).then(|| self.last_plus.checked_add(guard).unwrap_or(self.last_plus))
    }
}

/// Where the port is (V.250 §5.1 and §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Command state, no data call.
    Command,
    /// Online data state after `CONNECT`: host bytes are data.
    Data(Escape),
    /// Online command state: a data call suspended by the escape sequence.
    OnlineCommand,
}

/// One AT port's engine: line assembly, tokenizing, basic commands, formatting, URC queue,
/// data mode.
#[derive(Debug)]
pub struct Port {
    opts: PortOptions,
    settings: Settings,
    asm: Assembler,
    /// The body of the last command line, for `A/`.
    last_line: Vec<u8>,
    mode: Mode,
    urcs: VecDeque<String>,
    /// URCs dropped because the queue was full, since the port was created.
    urcs_dropped: u64,
}

/// The guard time of S12, in 1/50 s (V.250 §6.3 S12).
fn guard_time(st: &Settings) -> Duration {
    Duration::from_millis(u64::from(st.s[12]) * 20)
}

/// A 0/1 argument of `E`, `V`, `Q` (absent means 0, V.250 §5.3.1).
fn flag(arg: Option<u32>) -> Result<bool, CmdError> {
    match arg.unwrap_or(0) {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(CmdError::Syntax),
    }
}

/// A small argument within `0..=max` (absent means 0).
fn small(arg: Option<u32>, max: u8) -> Result<u8, CmdError> {
    u8::try_from(arg.unwrap_or(0))
        .ok()
        .filter(|v| *v <= max)
        .ok_or(CmdError::Syntax)
}

impl Port {
    pub fn new(opts: PortOptions) -> Port {
        let settings = opts.factory.clone();
        let asm = Assembler::new(opts.max_line);
        Port {
            opts,
            settings,
            asm,
            last_line: Vec::new(),
            mode: Mode::Command,
            urcs: VecDeque::new(),
            urcs_dropped: 0,
        }
    }

    pub fn name(&self) -> &str {
        &self.opts.name
    }

    pub fn options(&self) -> &PortOptions {
        &self.opts
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Bytes from the host. Returns the bytes to send back: echo, and for each completed line
    /// its information text and one final result code, then any URCs queued meanwhile.
    /// Commands run synchronously through `exec`.
    pub fn feed(&mut self, input: &[u8], now: Instant, exec: &mut dyn Executor) -> Vec<u8> {
        let mut out = Vec::new();
        self.escape_due(now, &mut out);
        for &b in input {
            if let Mode::Data(mut esc) = self.mode {
                // A completed escape turns the following bytes into command characters.
                self.escape_due(now, &mut out);
                if let Mode::Data(_) = self.mode {
                    esc.byte(b, now, self.settings.s[2], guard_time(&self.settings));
                    self.mode = Mode::Data(esc);
                    continue;
                }
            }
            if self.settings.echo {
                out.push(b);
            }
            if let Some(ev) = self.asm.push(b, self.settings.s[3], self.settings.s[5]) {
                self.run_event(ev, now, exec, &mut out);
            }
        }
        out
    }

    /// An unsolicited result code line (without CR/LF). Returns the bytes to send now if the
    /// port is idle; otherwise queues it for after the current command line's final result.
    pub fn urc(&mut self, line: &str) -> Vec<u8> {
        if self.is_idle() {
            let mut out = self.take_urcs();
            format::urc(&self.settings, line, &mut out);
            out
        } else {
            if self.opts.urc_queue_limit == 0 {
                self.urcs_dropped = self.urcs_dropped.saturating_add(1);
                return Vec::new();
            }
            while self.urcs.len() >= self.opts.urc_queue_limit {
                self.urcs.pop_front();
                self.urcs_dropped = self.urcs_dropped.saturating_add(1);
                tracing::debug!(port = %self.opts.name, "URC queue full: oldest dropped");
            }
            self.urcs.push_back(line.to_string());
            Vec::new()
        }
    }

    /// Queued URCs, if the port is idle now (empty otherwise).
    pub fn take_urcs(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.is_idle() {
            self.flush_urcs(&mut out);
        }
        out
    }

    /// URCs waiting for the port to become idle.
    pub fn queued_urcs(&self) -> usize {
        self.urcs.len()
    }

    /// URCs dropped because the queue was full.
    pub fn dropped_urcs(&self) -> u64 {
        self.urcs_dropped
    }

    /// No partial command line and not in data mode.
    pub fn is_idle(&self) -> bool {
        self.asm.is_idle() && !self.in_data_mode()
    }

    pub fn in_data_mode(&self) -> bool {
        matches!(self.mode, Mode::Data(_))
    }

    /// A data call exists: in data mode, or suspended by the escape sequence.
    pub fn data_call_active(&self) -> bool {
        !matches!(self.mode, Mode::Command)
    }

    /// The client closed the port (DTR drop): the partial line is dropped, data mode ends
    /// (`exec.data_mode_ended()`), queued URCs are discarded, settings are kept.
    pub fn hangup(&mut self, exec: &mut dyn Executor) {
        self.asm.reset();
        self.end_call(exec);
        self.urcs.clear();
    }

    /// The device lost the data call (the network released it): leaves data or
    /// online-command mode and returns `NO CARRIER` (and any queued URCs). Empty when no data
    /// call was active.
    pub fn carrier_lost(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.data_call_active() {
            self.mode = Mode::Command;
            format::final_result(&self.settings, &Final::NoCarrier, &mut out);
            if self.is_idle() {
                self.flush_urcs(&mut out);
            }
        }
        out
    }

    /// Timers (the `+++` escape guard time). Returns bytes to send (e.g. `OK` after an escape).
    pub fn poll(&mut self, now: Instant, exec: &mut dyn Executor) -> Vec<u8> {
        let _ = exec;
        let mut out = Vec::new();
        self.escape_due(now, &mut out);
        out
    }

    /// When [`Port::poll`] must be called next, if a timer runs.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.mode {
            Mode::Data(esc) => esc.deadline(guard_time(&self.settings)),
            _ => None,
        }
    }

    /// Completes the escape sequence if its closing guard time has passed: `OK`, online
    /// command state, then the URCs queued during data mode.
    fn escape_due(&mut self, now: Instant, out: &mut Vec<u8>) {
        let Mode::Data(esc) = self.mode else { return };
        if esc
            .deadline(guard_time(&self.settings))
            .is_some_and(|d| now >= d)
        {
            tracing::debug!(port = %self.opts.name, "escape sequence: online command state");
            self.mode = Mode::OnlineCommand;
            format::final_result(&self.settings, &Final::Ok, out);
            if self.is_idle() {
                self.flush_urcs(out);
            }
        }
    }

    fn flush_urcs(&mut self, out: &mut Vec<u8>) {
        while let Some(u) = self.urcs.pop_front() {
            format::urc(&self.settings, &u, out);
        }
    }

    /// Ends a data call (suspended or not) and tells the device.
    fn end_call(&mut self, exec: &mut dyn Executor) {
        if self.data_call_active() {
            self.mode = Mode::Command;
            exec.data_mode_ended();
        }
    }

    fn run_event(
        &mut self,
        ev: LineEvent,
        now: Instant,
        exec: &mut dyn Executor,
        out: &mut Vec<u8>,
    ) {
        let body = match ev {
            LineEvent::Overflow => {
                tracing::debug!(port = %self.opts.name, "command line too long");
                self.finish(Err(CmdError::Syntax), now, out);
                return;
            }
            LineEvent::Repeat => self.last_line.clone(),
            LineEvent::Line(body) => {
                self.last_line.clone_from(&body);
                body
            }
        };
        let res = self.run_line(&body, exec, out);
        self.finish(res, now, out);
    }

    /// Runs a line's commands left to right; the result is the line's final result.
    fn run_line(
        &mut self,
        body: &[u8],
        exec: &mut dyn Executor,
        out: &mut Vec<u8>,
    ) -> Result<Final, CmdError> {
        let cmds = token::parse(body).map_err(|e| {
            tracing::debug!(port = %self.opts.name, error = %e, "command line refused");
            CmdError::from(e)
        })?;
        for cmd in &cmds {
            let span = tracing::info_span!(
                "at",
                port = %self.opts.name,
                cmd = %cmd.label(),
                result = tracing::field::Empty
            );
            let _entered = span.enter();
            if !cmd.is_sensitive() {
                tracing::trace!(command = %cmd, "executing");
            }
            match self.execute(cmd, exec) {
                Ok(reply) => {
                    format::info(&self.settings, &reply.info, out);
                    span.record(
                        "result",
                        tracing::field::display(format::final_text(&reply.fin)),
                    );
                    if reply.fin != Final::Ok {
                        // V.250 §5.2.1: CONNECT, NO CARRIER, … end the line.
                        return Ok(reply.fin);
                    }
                }
                Err(e) => {
                    let text = format::outcome_text(
                        self.settings.cmee,
                        &Err(e.clone()),
                        self.opts.unknown_command_text.as_deref(),
                    );
                    span.record("result", tracing::field::display(text));
                    return Err(e);
                }
            }
        }
        Ok(Final::Ok)
    }

    /// The line's final result code; `CONNECT` enters data mode, anything else lets queued
    /// URCs out.
    fn finish(&mut self, res: Result<Final, CmdError>, now: Instant, out: &mut Vec<u8>) {
        format::outcome(
            &self.settings,
            &res,
            self.opts.unknown_command_text.as_deref(),
            out,
        );
        if let Ok(Final::Connect(_)) = res {
            self.mode = Mode::Data(Escape::new(now));
        } else if self.is_idle() {
            self.flush_urcs(out);
        }
    }

    /// One command: the engine's own, or the executor's.
    fn execute(&mut self, cmd: &Command, exec: &mut dyn Executor) -> Result<Reply, CmdError> {
        let st = &mut self.settings;
        match cmd {
            Command::Basic { name, arg } => match name.as_str() {
                // V.250 §6.2.4
                "E" => st.echo = flag(*arg)?,
                // V.250 §6.2.6: the result code of ATV0 is already numeric.
                "V" => st.verbose = flag(*arg)?,
                // V.250 §6.2.5
                "Q" => st.quiet = flag(*arg)?,
                // V.250 §6.2.7
                "X" => st.x = small(*arg, 4)?,
                // V.250 §6.1.1 Z, §6.1.2 &F: restore the factory profile (there is no stored
                // profile; &W accepts and keeps nothing).
                "Z" | "&F" => {
                    small(*arg, 0)?;
                    *st = self.opts.factory.clone();
                }
                "&W" => {
                    small(*arg, 0)?;
                }
                // V.250 §6.2.8, §6.2.9 (stored only: a PTY has no DCD/DTR lines)
                "&C" => st.amp_c = small(*arg, 1)?,
                "&D" => st.amp_d = small(*arg, 2)?,
                "&V" => {
                    small(*arg, 0)?;
                    return Ok(Reply::lines(profile_lines(st)));
                }
                // V.250 §6.3.7: back to the suspended call, if any.
                "O" => {
                    small(*arg, 1)?;
                    let fin = if self.mode == Mode::OnlineCommand {
                        Final::Connect(None)
                    } else {
                        Final::NoCarrier
                    };
                    return Ok(Reply {
                        info: Vec::new(),
                        fin,
                    });
                }
                "H" => {
                    let r = exec.execute(st, cmd);
                    self.end_call(exec);
                    return r;
                }
                _ => return exec.execute(st, cmd),
            },
            // V.250 §6.3 (3 decimal digits)
            Command::SRead(n) => {
                let v = st.s.get(usize::from(*n)).ok_or(CmdError::Syntax)?;
                return Ok(Reply::lines([format!("{v:03}")]));
            }
            Command::SSet(n, v) => {
                let max = if matches!(n, 3..=5) { 127 } else { 255 };
                let v = u8::try_from(*v)
                    .ok()
                    .filter(|v| u32::from(*v) <= max)
                    .ok_or(CmdError::Syntax)?;
                let slot = st.s.get_mut(usize::from(*n)).ok_or(CmdError::Syntax)?;
                *slot = v;
            }
            Command::Dial(_) | Command::Extended { .. } => return exec.execute(st, cmd),
        }
        Ok(Reply::ok())
    }
}

/// `AT&V`: the active settings.
fn profile_lines(st: &Settings) -> Vec<String> {
    let regs: Vec<String> =
        st.s.iter()
            .enumerate()
            .map(|(i, v)| format!("S{i:02}:{v:03}"))
            .collect();
    vec![
        "ACTIVE PROFILE:".to_string(),
        format!(
            "E{} Q{} V{} X{} &C{} &D{} +CMEE: {} +CSCS: \"{}\"",
            u8::from(st.echo),
            u8::from(st.quiet),
            u8::from(st.verbose),
            st.x,
            st.amp_c,
            st.amp_d,
            st.cmee,
            st.charset.name()
        ),
        regs.join(" "),
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::CmeError;
    use crate::{Charset, ExtOp};

    /// A test double: a few identity commands, `+CMEE`/`+CSCS`, `D` → CONNECT, `H`.
    #[derive(Default)]
    struct Dev {
        seen: Vec<String>,
        ended: usize,
    }

    impl Executor for Dev {
        fn execute(&mut self, st: &mut Settings, cmd: &Command) -> Result<Reply, CmdError> {
            self.seen.push(cmd.to_string());
            match cmd {
                Command::Basic { name, .. } if name == "I" => {
                    Ok(Reply::lines(["FakeModem".to_string(), "FM-1".to_string()]))
                }
                Command::Basic { name, .. } if name == "H" => Ok(Reply::ok()),
                Command::Dial(_) => Ok(Reply {
                    info: vec![],
                    fin: Final::Connect(None),
                }),
                Command::Extended { name, op } => match (name.as_str(), op) {
                    ("+CGMI", ExtOp::Exec) => Ok(Reply::lines(["FakeModem Inc.".to_string()])),
                    ("+CGSN", ExtOp::Exec) => Ok(Reply::lines(["490154203237518".to_string()])),
                    ("+CSIM", ExtOp::Test) => Ok(Reply::ok()),
                    ("+CPIN", ExtOp::Read) => Err(CmeError::SimNotInserted.into()),
                    ("+CMEE", ExtOp::Set(p)) => {
                        st.cmee = u8::try_from(token::nth(p, 0).as_u32(0..=2)?).unwrap();
                        Ok(Reply::ok())
                    }
                    ("+CSCS", ExtOp::Set(p)) => {
                        let name = token::nth(p, 0).as_str(st.charset)?;
                        st.charset = Charset::from_name(&name)
                            .ok_or(CmdError::Cme(CmeError::OperationNotSupported))?;
                        Ok(Reply::ok())
                    }
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

    fn feed(p: &mut Port, d: &mut Dev, input: &str) -> String {
        String::from_utf8(p.feed(input.as_bytes(), Instant::now(), d)).unwrap()
    }

    #[test]
    fn echoes_and_answers_ok_like_pysim_expects() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "AT\r"), "AT\r\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATZ\r"), "ATZ\r\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "AT+CSIM=?\r"), "AT+CSIM=?\r\r\nOK\r\n");
    }

    #[test]
    fn modemmanager_port_setup() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "ATE0\r\n"), "ATE0\r\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATV1\r\n"), "\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "AT+CMEE=1\r\n"), "\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATX4\r\n"), "\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "AT&C1\r\n"), "\r\nOK\r\n");
        let st = p.settings();
        assert!(!st.echo && st.verbose && st.x == 4 && st.amp_c == 1 && st.cmee == 1);
        assert_eq!(d.seen, vec!["+CMEE=1"]);
        assert_eq!(
            feed(&mut p, &mut d, "AT+CPIN?\r\n"),
            "\r\n+CME ERROR: 10\r\n"
        );
    }

    #[test]
    fn lpac_crlf_lines_with_echo() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(
            feed(&mut p, &mut d, "AT+CGMI\r\n"),
            "AT+CGMI\r\r\nFakeModem Inc.\r\n\r\nOK\r\n\n"
        );
    }

    #[test]
    fn runs_commands_of_a_line_left_to_right() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        assert_eq!(
            feed(&mut p, &mut d, "AT+CGMI;+CGSN\r"),
            "\r\nFakeModem Inc.\r\n\r\n490154203237518\r\n\r\nOK\r\n"
        );
    }

    #[test]
    fn error_stops_the_line() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        assert_eq!(
            feed(&mut p, &mut d, "AT+CGMI;+NOPE;+CGSN\r"),
            "\r\nFakeModem Inc.\r\n\r\nERROR\r\n"
        );
        assert_eq!(d.seen, vec!["+CGMI", "+NOPE"]);
        assert_eq!(feed(&mut p, &mut d, "ATE7V0\r"), "\r\nERROR\r\n");
        assert!(p.settings().verbose);
    }

    #[test]
    fn syntax_error_executes_nothing() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        assert_eq!(feed(&mut p, &mut d, "AT+CGMI;+X=\"abc\r"), "\r\nERROR\r\n");
        assert!(d.seen.is_empty());
    }

    #[test]
    fn cmee_selects_error_format() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        assert_eq!(feed(&mut p, &mut d, "AT+CPIN?\r"), "\r\nERROR\r\n");
        assert_eq!(
            feed(&mut p, &mut d, "AT+CMEE=1;+CPIN?\r"),
            "\r\n+CME ERROR: 10\r\n"
        );
        assert_eq!(
            feed(&mut p, &mut d, "AT+CMEE=2;+CPIN?\r"),
            "\r\n+CME ERROR: SIM not inserted\r\n"
        );
        assert_eq!(
            feed(&mut p, &mut d, "AT+CMEE=3\r"),
            "\r\n+CME ERROR: incorrect parameters\r\n"
        );
    }

    #[test]
    fn unknown_command_text_from_options() {
        let mut o = PortOptions::named("at0");
        o.unknown_command_text = Some("COMMAND NOT SUPPORT".into());
        o.factory.echo = false;
        let (mut p, mut d) = (Port::new(o), Dev::default());
        assert_eq!(
            feed(&mut p, &mut d, "AT+XYZ\r"),
            "\r\nCOMMAND NOT SUPPORT\r\n"
        );
        assert_eq!(feed(&mut p, &mut d, "AT+X=\"\r"), "\r\nERROR\r\n");
    }

    #[test]
    fn v0_gives_numeric_results() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "ATE0V0\r"), "ATE0V0\r0\r");
        assert_eq!(feed(&mut p, &mut d, "AT+CGMI\r"), "FakeModem Inc.\r\n0\r");
        assert_eq!(feed(&mut p, &mut d, "AT+NOPE\r"), "4\r");
        assert_eq!(feed(&mut p, &mut d, "ATV1\r"), "\r\nOK\r\n");
    }

    #[test]
    fn q1_suppresses_final_results() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "ATE0Q1\r"), "ATE0Q1\r");
        assert_eq!(feed(&mut p, &mut d, "AT+CGMI\r"), "\r\nFakeModem Inc.\r\n");
        assert_eq!(feed(&mut p, &mut d, "AT+NOPE\r"), "");
        assert_eq!(feed(&mut p, &mut d, "ATQ0\r"), "\r\nOK\r\n");
    }

    #[test]
    fn z_restores_factory_settings() {
        let (mut p, mut d) = (port(), Dev::default());
        feed(&mut p, &mut d, "ATE0V0+CMEE=2;+CSCS=\"UCS2\"\r");
        assert_eq!(p.settings().charset, Charset::Ucs2);
        assert_eq!(feed(&mut p, &mut d, "ATZ\r"), "\r\nOK\r\n");
        assert_eq!(p.settings(), &Settings::factory());
        assert_eq!(feed(&mut p, &mut d, "AT&F0\r"), "AT&F0\r\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATZ1\r"), "ATZ1\r\r\nERROR\r\n");
    }

    #[test]
    fn a_slash_repeats_previous_line() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        feed(&mut p, &mut d, "AT+CGSN\r");
        assert_eq!(
            feed(&mut p, &mut d, "A/"),
            "\r\n490154203237518\r\n\r\nOK\r\n"
        );
        assert_eq!(d.seen, vec!["+CGSN", "+CGSN"]);
    }

    #[test]
    fn a_slash_with_no_previous_line_is_ok() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "a/"), "a/\r\nOK\r\n");
    }

    #[test]
    fn backspace_is_echoed_and_edits_the_line() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "ATE1\x080\r"), "ATE1\x080\r\r\nOK\r\n");
        assert!(!p.settings().echo);
    }

    #[test]
    fn rejects_overlong_line_and_executes_nothing() {
        let mut o = PortOptions::named("at0");
        o.max_line = 8;
        o.factory.echo = false;
        let (mut p, mut d) = (Port::new(o), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "AT+CGMI;+CGSN\r"), "\r\nERROR\r\n");
        assert!(d.seen.is_empty());
        assert_eq!(
            feed(&mut p, &mut d, "AT+CGSN\r"),
            "\r\n490154203237518\r\n\r\nOK\r\n"
        );
    }

    #[test]
    fn s_registers_read_set_and_change_framing() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        assert_eq!(feed(&mut p, &mut d, "ATS3?\r"), "\r\n013\r\n\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATS4=33\r"), "\r!OK\r!");
        // The result of a line that changes S3/S4 is framed with the new values.
        assert_eq!(feed(&mut p, &mut d, "ATS3=35\r"), "#!OK#!");
        assert_eq!(feed(&mut p, &mut d, "ATS3=13S4=10#"), "\r\nOK\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATS5=200\r"), "\r\nERROR\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATS13=1\r"), "\r\nERROR\r\n");
        assert_eq!(feed(&mut p, &mut d, "ATS99?\r"), "\r\nERROR\r\n");
    }

    #[test]
    fn amp_v_lists_active_profile() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        let out = feed(&mut p, &mut d, "AT&V\r");
        assert!(
            out.starts_with("\r\nACTIVE PROFILE:\r\nE0 Q0 V1 X4 &C1 &D2"),
            "{out}"
        );
        assert!(out.ends_with("S12:050\r\n\r\nOK\r\n"), "{out}");
    }

    #[test]
    fn other_basic_commands_go_to_the_executor() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        assert_eq!(
            feed(&mut p, &mut d, "ATI\r"),
            "\r\nFakeModem\r\nFM-1\r\n\r\nOK\r\n"
        );
        assert_eq!(feed(&mut p, &mut d, "ATL1\r"), "\r\nERROR\r\n");
        assert_eq!(d.seen, vec!["I", "L1"]);
    }

    #[test]
    fn urc_is_sent_at_once_when_idle() {
        let mut p = port();
        assert_eq!(p.urc("+CREG: 1"), b"\r\n+CREG: 1\r\n");
    }

    #[test]
    fn urc_held_while_line_is_partial_and_sent_after_final() {
        let (mut p, mut d) = (port(), Dev::default());
        assert_eq!(feed(&mut p, &mut d, "AT+CG"), "AT+CG");
        assert!(!p.is_idle());
        assert!(p.urc("+CREG: 1").is_empty());
        assert!(p.take_urcs().is_empty());
        assert_eq!(
            feed(&mut p, &mut d, "MI\r"),
            "MI\r\r\nFakeModem Inc.\r\n\r\nOK\r\n\r\n+CREG: 1\r\n"
        );
        assert_eq!(p.queued_urcs(), 0);
    }

    #[test]
    fn urc_queue_drops_oldest_beyond_limit() {
        let mut o = PortOptions::named("at0");
        o.urc_queue_limit = 2;
        let (mut p, mut d) = (Port::new(o), Dev::default());
        feed(&mut p, &mut d, "A");
        for i in 0..4 {
            assert!(p.urc(&format!("U{i}")).is_empty());
        }
        assert_eq!(p.dropped_urcs(), 2);
        p.hangup(&mut d);
        assert_eq!(p.queued_urcs(), 0);
        assert!(p.is_idle());
    }

    #[test]
    fn backspace_never_deletes_at_so_urcs_stay_held() {
        let (mut p, mut d) = (port(), Dev::default());
        feed(&mut p, &mut d, "AT");
        p.urc("RING");
        feed(&mut p, &mut d, "\x08\x08\x08");
        assert!(!p.is_idle());
        p.hangup(&mut d);
        assert!(p.take_urcs().is_empty());
        p.urc("RING");
        assert_eq!(p.queued_urcs(), 0);
    }

    fn connect(p: &mut Port, d: &mut Dev, t: Instant) {
        p.settings_mut().echo = false;
        assert_eq!(p.feed(b"ATD*99#\r", t, d), b"\r\nCONNECT\r\n");
        assert!(p.in_data_mode());
    }

    #[test]
    fn connect_enters_data_mode_and_discards_bytes() {
        let (mut p, mut d) = (port(), Dev::default());
        let t = Instant::now();
        connect(&mut p, &mut d, t);
        assert!(!p.is_idle());
        assert!(p.feed(b"\x7e\xff\x7dAT\r", t, &mut d).is_empty());
        assert!(p.urc("+CREG: 1").is_empty());
        assert_eq!(p.queued_urcs(), 1);
    }

    #[test]
    fn escape_with_guard_times_returns_ok_then_ato_and_ath() {
        let (mut p, mut d) = (port(), Dev::default());
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        connect(&mut p, &mut d, t0);
        p.urc("+CGREG: 1");
        assert!(p.feed(b"+++", t0 + s, &mut d).is_empty());
        assert_eq!(p.next_deadline(), Some(t0 + 2 * s));
        assert!(p.poll(t0 + s + s / 2, &mut d).is_empty());
        assert_eq!(p.poll(t0 + 2 * s, &mut d), b"\r\nOK\r\n\r\n+CGREG: 1\r\n");
        assert!(!p.in_data_mode() && p.data_call_active() && p.next_deadline().is_none());
        assert_eq!(p.feed(b"ATO\r", t0 + 3 * s, &mut d), b"\r\nCONNECT\r\n");
        assert!(p.in_data_mode());
        p.feed(b"+++", t0 + 5 * s, &mut d);
        assert_eq!(p.poll(t0 + 6 * s, &mut d), b"\r\nOK\r\n");
        assert_eq!(p.feed(b"ATH\r", t0 + 7 * s, &mut d), b"\r\nOK\r\n");
        assert_eq!(d.ended, 1);
        assert!(!p.data_call_active());
        assert_eq!(p.feed(b"ATO\r", t0 + 8 * s, &mut d), b"\r\nNO CARRIER\r\n");
    }

    #[test]
    fn escape_needs_silence_before() {
        let (mut p, mut d) = (port(), Dev::default());
        let t0 = Instant::now();
        connect(&mut p, &mut d, t0);
        let ms = Duration::from_millis(1);
        p.feed(b"+++", t0 + 500 * ms, &mut d);
        assert!(p.next_deadline().is_none());
        assert!(p.poll(t0 + 5000 * ms, &mut d).is_empty());
        assert!(p.in_data_mode());
    }

    #[test]
    fn data_after_escape_characters_cancels_the_escape() {
        let (mut p, mut d) = (port(), Dev::default());
        let t0 = Instant::now();
        connect(&mut p, &mut d, t0);
        let s = Duration::from_secs(1);
        p.feed(b"+++", t0 + 2 * s, &mut d);
        p.feed(b"x", t0 + 2 * s + s / 2, &mut d);
        assert!(p.poll(t0 + 4 * s, &mut d).is_empty());
        assert!(p.in_data_mode());
        p.feed(b"++++", t0 + 6 * s, &mut d);
        assert!(p.poll(t0 + 8 * s, &mut d).is_empty());
    }

    #[test]
    fn escape_completes_before_later_input_is_read() {
        let (mut p, mut d) = (port(), Dev::default());
        let t0 = Instant::now();
        connect(&mut p, &mut d, t0);
        let s = Duration::from_secs(1);
        p.feed(b"+++", t0 + 2 * s, &mut d);
        // The endpoint did not poll in time; the guard time has passed when the next line comes.
        assert_eq!(
            p.feed(b"ATH\r", t0 + 4 * s, &mut d),
            b"\r\nOK\r\n\r\nOK\r\n"
        );
        assert_eq!(d.ended, 1);
    }

    #[test]
    fn hangup_ends_data_mode_and_keeps_settings() {
        let (mut p, mut d) = (port(), Dev::default());
        let t0 = Instant::now();
        connect(&mut p, &mut d, t0);
        p.hangup(&mut d);
        assert_eq!(d.ended, 1);
        assert!(!p.data_call_active() && p.is_idle());
        assert!(!p.settings().echo);
        p.hangup(&mut d);
        assert_eq!(d.ended, 1);
    }

    #[test]
    fn carrier_lost_reports_no_carrier() {
        let (mut p, mut d) = (port(), Dev::default());
        connect(&mut p, &mut d, Instant::now());
        assert_eq!(p.carrier_lost(), b"\r\nNO CARRIER\r\n");
        assert!(p.carrier_lost().is_empty());
        assert!(p.is_idle());
    }

    #[test]
    fn dial_eats_the_rest_of_the_line() {
        let (mut p, mut d) = (port(), Dev::default());
        p.settings_mut().echo = false;
        let out = p.feed(b"ATD*99#;+CGMI\r", Instant::now(), &mut d);
        assert_eq!(out, b"\r\nCONNECT\r\n");
        assert_eq!(d.seen, vec!["D*99#;+CGMI"]);
    }
}
