//! TS 27.007 / 27.005 / vendor command handlers over the [`crate::device`] model, one module
//! per area. [`Exec`] is the [`Executor`] a port runs its commands through: the shared device,
//! the port's own command state ([`PortState`]: `+CREG` `<n>`, `+COPS` format, `+CMER`, …), the
//! vendor profile and the fault-injection knobs.
//!
//! Text in responses that 27.007 encodes per `+CSCS` (operator names, phone numbers' alpha
//! tags) goes through [`text`]; hex data, identifiers and numbers do not.

mod basic;
mod data;
mod network;
mod sim;
mod sms;
mod vendor;

use std::time::{Duration, Instant};

use crate::control::Domain;
use crate::device::network::{stat, Radio};
use crate::device::sim::PinStatus;
use crate::device::{DevEvent, Device, SimEvent};
use crate::error::{CmdError, CmeError};
use crate::quirks::Quirks;
use crate::v250::{charset, Command, Executor, ExtOp, Param, Reply, Settings};

pub use network::reg_line;

/// The command state of one port that is not a V.250 setting (TS 27.007 keeps these per
/// connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortState {
    /// `<n>` of `+CREG`, `+CGREG`, `+CEREG`, `+C5GREG`.
    pub reg_n: [u8; 4],
    /// `+COPS=3,<format>`: 0 long, 1 short, 2 numeric.
    pub cops_format: u8,
    /// `+CMER` mode, keyp, disp, ind, bfr.
    pub cmer: [u8; 5],
    /// `+CIND` values last reported by `+CIEV`.
    pub ciev: [u8; 7],
    /// `+CGEREP` mode, bfr.
    pub cgerep: [u8; 2],
    /// `+CMGF`.
    pub cmgf: u8,
    /// `+CNMI` mode, mt, bm, ds, bfr.
    pub cnmi: [u8; 5],
    /// `+CPOL` format, `+CPLS` list.
    pub cpol_format: u8,
    pub cpls: u8,
    /// `+CTZU`, `+CTZR`, `+CUSD` `<n>`, `+WS46`, `+IFC`.
    pub ctzu: u8,
    pub ctzr: u8,
    pub cusd: u8,
    pub ws46: u8,
    pub ifc: [u8; 2],
    /// `+CEMODE`.
    pub cemode: u8,
}

impl Default for PortState {
    fn default() -> PortState {
        PortState {
            reg_n: [0; 4],
            cops_format: 0,
            cmer: [0; 5],
            ciev: [0; 7],
            cgerep: [0; 2],
            cmgf: 0,
            cnmi: [0, 0, 0, 0, 0],
            cpol_format: 2,
            cpls: 0,
            ctzu: 0,
            ctzr: 0,
            cusd: 0,
            ws46: 25,
            ifc: [2, 2],
            cemode: 2,
        }
    }
}

/// One injected failure (control request `inject_error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedError {
    pub command: String,
    pub count: u32,
    pub cme: Option<u16>,
}

/// Latency and error injection, shared by the modem's ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Command name prefix (or `*`) → extra latency.
    pub latency: Vec<(String, Duration)>,
    pub errors: Vec<InjectedError>,
}

/// Normalises a command pattern: upper case, without a leading `AT`.
pub fn normalise_pattern(p: &str) -> String {
    let u = p.trim().to_ascii_uppercase();
    match u.strip_prefix("AT") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => u,
    }
}

fn matches_pattern(pattern: &str, name: &str) -> bool {
    pattern == "*" || name.starts_with(pattern)
}

impl Faults {
    /// Sets (or with 0 removes) the latency of commands matching `pattern`.
    pub fn set_latency(&mut self, pattern: &str, ms: u64) {
        let p = normalise_pattern(pattern);
        self.latency.retain(|(k, _)| *k != p);
        if ms > 0 {
            self.latency.push((p, Duration::from_millis(ms)));
        }
    }

    fn latency_of(&self, name: &str) -> Duration {
        self.latency
            .iter()
            .filter(|(p, _)| matches_pattern(p, name))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Takes an injected error for `name`, if one is armed.
    fn take_error(&mut self, name: &str) -> Option<CmdError> {
        let e = self
            .errors
            .iter_mut()
            .find(|e| e.count > 0 && matches_pattern(&e.command, name))?;
        e.count -= 1;
        let err = match e.cme {
            Some(c) => CmdError::Cme(CmeError::from_code(c).unwrap_or(CmeError::Unknown)),
            None => CmdError::Syntax,
        };
        self.errors.retain(|e| e.count > 0);
        Some(err)
    }
}

/// The executor of one port's commands.
#[derive(Debug)]
pub struct Exec<'a> {
    pub dev: &'a mut Device,
    pub port: &'a mut PortState,
    pub quirks: &'a Quirks,
    pub faults: &'a mut Faults,
    pub now: Instant,
    /// Latency accumulated by the commands run (the endpoint waits this long before replying).
    pub delay: Duration,
    /// The port's data call ended (`ATH`, DTR drop).
    pub data_ended: bool,
}

/// The name a command is matched by for latency and error injection (`+CGLA`, `I`, `D`).
pub fn command_name(cmd: &Command) -> String {
    match cmd {
        Command::Basic { name, .. } => name.clone(),
        Command::SRead(n) | Command::SSet(n, _) => format!("S{n}"),
        Command::Dial(_) => "D".into(),
        Command::Extended { name, .. } => name.clone(),
    }
}

impl Executor for Exec<'_> {
    fn execute(&mut self, settings: &mut Settings, cmd: &Command) -> Result<Reply, CmdError> {
        let name = command_name(cmd);
        let extra = self
            .quirks
            .latency(&name)
            .max(self.faults.latency_of(&name));
        self.delay = self.delay.saturating_add(extra);
        if let Some(e) = self.faults.take_error(&name) {
            return Err(e);
        }
        match cmd {
            Command::Basic { name, arg } => basic::basic(self, settings, name, *arg),
            Command::Dial(s) => data::dial(self, s),
            Command::Extended { name, op } => dispatch(self, settings, name, op),
            Command::SRead(_) | Command::SSet(..) => Err(CmdError::Unknown),
        }
    }

    fn data_mode_ended(&mut self) {
        self.dev.data_call = false;
        self.data_ended = true;
    }
}

fn dispatch(
    x: &mut Exec<'_>,
    st: &mut Settings,
    name: &str,
    op: &ExtOp,
) -> Result<Reply, CmdError> {
    if let Some(r) = basic::run(x, st, name, op) {
        return r;
    }
    if let Some(r) = sim::run(x, st, name, op) {
        return r;
    }
    if let Some(r) = network::run(x, st, name, op) {
        return r;
    }
    if let Some(r) = sms::run(x, st, name, op) {
        return r;
    }
    if let Some(r) = data::run(x, st, name, op) {
        return r;
    }
    if let Some(r) = vendor::run(x, st, name, op) {
        return r;
    }
    Err(CmdError::Unknown)
}

// --- helpers shared by the handlers ---------------------------------------------------------

/// The parameters of a set command (none for the other forms).
fn params(op: &ExtOp) -> &[Param] {
    match op {
        ExtOp::Set(p) => p,
        _ => &[],
    }
}

/// The `i`-th parameter ([`Param::Omitted`] beyond the last).
fn nth(op: &ExtOp, i: usize) -> &Param {
    crate::v250::token::nth(params(op), i)
}

/// Text encoded for the port's character set (`+CSCS`).
pub fn text(st: &Settings, s: &str) -> String {
    charset::encode(st.charset, s)
}

/// `"text"` encoded for the port's character set.
pub fn quoted(st: &Settings, s: &str) -> String {
    format!("\"{}\"", text(st, s))
}

fn one(line: String) -> Result<Reply, CmdError> {
    Ok(Reply::lines([line]))
}

fn ok() -> Result<Reply, CmdError> {
    Ok(Reply::ok())
}

fn cme(e: CmeError) -> CmdError {
    CmdError::Cme(e)
}

/// SIM ready for commands that need the USIM (`+CIMI`, `+CNUM`): the CME error otherwise.
fn need_sim(dev: &Device) -> Result<&crate::device::sim::SimInfo, CmdError> {
    use crate::device::SimState;
    match dev.sim() {
        SimState::Ready(i) => Ok(i),
        SimState::Absent => Err(cme(CmeError::SimNotInserted)),
        SimState::Initialising(_) => Err(cme(CmeError::SimBusy)),
        SimState::Locked(PinStatus::Puk, _) => Err(cme(CmeError::SimPukRequired)),
        SimState::Locked(_, _) => Err(cme(CmeError::SimPinRequired)),
        SimState::Failure(_) => Err(cme(CmeError::SimFailure)),
    }
}

/// A card present and working (`+CSIM`, `+CRSM`, `+CCHO`…): PIN state does not matter.
fn need_card(dev: &Device) -> Result<(), CmdError> {
    use crate::device::SimState;
    match dev.sim() {
        SimState::Absent => Err(cme(CmeError::SimNotInserted)),
        SimState::Failure(_) => Err(cme(CmeError::SimFailure)),
        _ => Ok(()),
    }
}

// --- URCs -------------------------------------------------------------------------------------

/// `+CIND` values: battchg, signal, service, call, roam, smsfull, message.
pub fn indicators(dev: &Device) -> [u8; 7] {
    let radio: &Radio = &dev.net.radio;
    let on = dev.cfun() == 1;
    let service = u8::from(dev.net.registered());
    let roam = u8::from(
        dev.net.domain(Domain::Eps).stat == stat::ROAMING
            || dev.net.domain(Domain::Cs).stat == stat::ROAMING,
    );
    [
        5,
        if on { radio.signal_bars() } else { 0 },
        service,
        0,
        roam,
        0,
        0,
    ]
}

/// The URC lines a device event gives on a port with this state.
pub fn urc_lines(
    ev: &DevEvent,
    dev: &Device,
    port: &mut PortState,
    st: &Settings,
    q: &Quirks,
) -> Vec<String> {
    match ev {
        DevEvent::Sim(SimEvent::Ready) => q.urc_sim_ready.clone(),
        DevEvent::Sim(SimEvent::NotReady) => q.urc_sim_not_ready.clone(),
        DevEvent::Sim(SimEvent::Removed) => q.urc_sim_removed.clone(),
        DevEvent::Sim(SimEvent::Locked(p)) => vec![match p {
            PinStatus::Puk => "+CPIN: SIM PUK".to_string(),
            _ => "+CPIN: SIM PIN".to_string(),
        }],
        DevEvent::Registration {
            domain,
            stat,
            cause,
        } => {
            let i = crate::device::network::domain_index(*domain);
            let n = port.reg_n.get(i).copied().unwrap_or(0);
            if n == 0 {
                return Vec::new();
            }
            vec![reg_line(*domain, n, *stat, *cause, &dev.net.radio, false)]
        }
        DevEvent::Indicators => {
            let _ = st;
            if port.cmer[0] == 0 || port.cmer[3] == 0 {
                return Vec::new();
            }
            let now = indicators(dev);
            let mut out = Vec::new();
            for (i, (new, old)) in now.iter().zip(port.ciev.iter_mut()).enumerate() {
                if new != old {
                    *old = *new;
                    out.push(format!("+CIEV: {},{}", i + 1, new));
                }
            }
            out
        }
        DevEvent::Raw { line, .. } => vec![line.clone()],
        DevEvent::Cgev(text) => {
            if port.cgerep[0] == 0 {
                return Vec::new();
            }
            vec![format!("+CGEV: {text}")]
        }
    }
}
