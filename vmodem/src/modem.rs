//! One modem: its device model and its AT ports, behind one sans-IO entry point per event.
//! The endpoints (PTY, Unix socket, TCP) and the control socket drive it; tests drive it
//! directly.
//!
//! Each port has its own V.250 engine ([`Port`]) and command state ([`PortState`]) and shares
//! the [`Device`]. After every input, timer run and control request the device's events are
//! turned into URC lines per port (each port's `+CREG` `<n>`, `+CMER`, the quirk profile's SIM
//! URCs) and handed to the ports, which send them when idle; URCs for ports without a client
//! are dropped, as on a real modem.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::commands::{self, Exec, Faults, InjectedError, PortState};
use crate::config::ModemConfig;
use crate::control::{ControlError, ControlRequest, Domain};
use crate::device::aka::{opc_from_op, Algorithm, Subscriber};
use crate::device::network::{Timing, DOMAINS};
use crate::device::{iccid_to_ef, DevEvent, Device, DeviceError, DeviceOptions, SimState};
use crate::error::CmeError;
use crate::quirks::Quirks;
use crate::v250::Port;

/// Index of a port in the modem's configuration order.
pub type PortId = usize;

/// Why a modem could not be built or opened.
#[derive(Debug, thiserror::Error)]
pub enum ModemError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("state: {0}")]
    State(String),
    #[error("SIM: {0}")]
    Sim(String),
}

impl From<DeviceError> for ModemError {
    fn from(e: DeviceError) -> ModemError {
        match e {
            DeviceError::Config(m) => ModemError::Config(m),
            DeviceError::State(s) => ModemError::State(s.to_string()),
            e @ DeviceError::Slot(..) => ModemError::Sim(e.to_string()),
        }
    }
}

/// Options that are not part of the configuration file (tests, the CLI).
#[derive(Debug, Clone, Default)]
pub struct ModemOptions {
    /// Delays of the SIM and registration procedures ([`Timing::immediate`] in tests).
    pub timing: Timing,
    /// Seed of the network's random generator (`None`: from the OS).
    pub seed: Option<[u8; 32]>,
}

#[derive(Debug)]
struct PortSlot {
    port: Port,
    state: PortState,
    attached: bool,
    /// URC bytes produced while the port was idle, not yet taken.
    out: Vec<u8>,
    delay: Duration,
}

/// A virtual modem.
#[derive(Debug)]
pub struct Modem {
    name: String,
    port_names: Vec<String>,
    ports: Vec<PortSlot>,
    dev: Device,
    quirks: Quirks,
    faults: Faults,
    /// The latest time an event brought (for events that come without one, such as detach).
    last_now: Instant,
}

fn bad(e: impl std::fmt::Display) -> ControlError {
    ControlError::BadRequest(e.to_string())
}

fn refused(e: impl std::fmt::Display) -> ControlError {
    ControlError::Refused(e.to_string())
}

fn hex16(s: &str, what: &str) -> Result<veuicc::profile::secret::Secret, ControlError> {
    let b = hex::decode(s.trim()).map_err(|e| bad(format!("{what}: {e}")))?;
    if b.len() != 16 {
        return Err(bad(format!("{what} must be 16 bytes (32 hex digits)")));
    }
    Ok(veuicc::profile::secret::Secret::new(b))
}

impl Modem {
    /// Builds the modem of `cfg`, opening (or creating) its persistent state.
    pub fn open(cfg: &ModemConfig) -> Result<Modem, ModemError> {
        Modem::open_with(cfg, &ModemOptions::default())
    }

    /// As [`Modem::open`], with timing and randomness given.
    pub fn open_with(cfg: &ModemConfig, opts: &ModemOptions) -> Result<Modem, ModemError> {
        let mut quirks =
            Quirks::load(&cfg.quirks).map_err(|e| ModemError::Config(e.to_string()))?;
        if let Some(m) = &cfg.manufacturer {
            quirks.manufacturer = m.clone();
        }
        if let Some(m) = &cfg.model {
            quirks.model = m.clone();
        }
        if let Some(r) = &cfg.revision {
            quirks.revision = r.clone();
        }
        if cfg.ports.is_empty() {
            return Err(ModemError::Config(format!(
                "modem {} has no AT port",
                cfg.name
            )));
        }
        let dev = Device::open(
            cfg,
            &DeviceOptions {
                timing: opts.timing,
                seed: opts.seed,
            },
        )?;
        let ports = cfg
            .ports
            .iter()
            .map(|p| PortSlot {
                port: Port::new(quirks.port_options(&p.name)),
                state: PortState::default(),
                attached: false,
                out: Vec::new(),
                delay: Duration::ZERO,
            })
            .collect();
        Ok(Modem {
            name: cfg.name.clone(),
            port_names: cfg.ports.iter().map(|p| p.name.clone()).collect(),
            ports,
            dev,
            quirks,
            faults: Faults::default(),
            last_now: Instant::now(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Port names in configuration order (a [`PortId`] indexes this list).
    pub fn port_names(&self) -> &[String] {
        &self.port_names
    }

    /// The device model (read-only), for tests and the status of the CLI.
    pub fn device(&self) -> &Device {
        &self.dev
    }

    /// The clock of the IMEI binding engine's history entries (Unix seconds; tests).
    pub fn set_binding_clock(&mut self, clock: crate::device::binding::glue::UnixClock) {
        self.dev.set_binding_clock(clock);
    }

    /// Where the IMEI binding engine gets new IMEIs instead of the configured assignment
    /// server (tests).
    pub fn set_imei_source(&mut self, source: Box<dyn crate::device::binding::assign::ImeiSource>) {
        self.dev.set_imei_source(source);
    }

    /// The vendor profile in use.
    pub fn quirks(&self) -> &Quirks {
        &self.quirks
    }

    /// Bytes from the host on `port`; returns the bytes to send back now (echo, responses, and
    /// URCs that may be delivered after the final result).
    pub fn input(&mut self, port: PortId, bytes: &[u8], now: Instant) -> Vec<u8> {
        self.last_now = self.last_now.max(now);
        let Some(slot) = self.ports.get_mut(port) else {
            return Vec::new();
        };
        slot.attached = true;
        let mut exec = Exec {
            dev: &mut self.dev,
            port: &mut slot.state,
            quirks: &self.quirks,
            faults: &mut self.faults,
            now,
            delay: Duration::ZERO,
            data_ended: false,
        };
        let mut out = slot.port.feed(bytes, now, &mut exec);
        slot.delay = exec.delay;
        self.distribute();
        if let Some(slot) = self.ports.get_mut(port) {
            out.append(&mut slot.out);
            out.extend(slot.port.take_urcs());
        }
        out
    }

    /// A client opened `port`.
    pub fn attach(&mut self, port: PortId) {
        if let Some(s) = self.ports.get_mut(port) {
            s.attached = true;
        }
    }

    /// The client closed `port` (treated as DTR drop: data mode ends, partial line dropped,
    /// URCs are no longer queued for it).
    pub fn detach(&mut self, port: PortId) {
        let Some(slot) = self.ports.get_mut(port) else {
            return;
        };
        slot.attached = false;
        slot.out.clear();
        let mut exec = Exec {
            dev: &mut self.dev,
            port: &mut slot.state,
            quirks: &self.quirks,
            faults: &mut self.faults,
            now: self.last_now,
            delay: Duration::ZERO,
            data_ended: false,
        };
        slot.port.hangup(&mut exec);
        self.distribute();
    }

    /// URC bytes ready for an idle, attached `port`.
    pub fn take_output(&mut self, port: PortId) -> Vec<u8> {
        let Some(slot) = self.ports.get_mut(port) else {
            return Vec::new();
        };
        let mut out = std::mem::take(&mut slot.out);
        if slot.attached {
            out.extend(slot.port.take_urcs());
        }
        out
    }

    /// Runs timers due at `now` (registration steps, `+++` guard time); returns when to call
    /// again, if anything is scheduled.
    pub fn poll(&mut self, now: Instant) -> Option<Duration> {
        self.last_now = self.last_now.max(now);
        for slot in &mut self.ports {
            let mut exec = Exec {
                dev: &mut self.dev,
                port: &mut slot.state,
                quirks: &self.quirks,
                faults: &mut self.faults,
                now,
                delay: Duration::ZERO,
                data_ended: false,
            };
            let b = slot.port.poll(now, &mut exec);
            if slot.attached {
                slot.out.extend(b);
            }
        }
        let dev_next = self.dev.poll(now);
        self.distribute();
        let port_next = self
            .ports
            .iter()
            .filter_map(|s| s.port.next_deadline())
            .min();
        let next = match (dev_next, port_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        next.map(|t| t.saturating_duration_since(now))
    }

    /// The delay the endpoint must wait before sending the response to the last line on `port`
    /// (latency injection; zero normally).
    pub fn response_delay(&self, port: PortId) -> Duration {
        self.ports.get(port).map_or(Duration::ZERO, |s| s.delay)
    }

    /// Turns the device's events into URCs on the attached ports; ends data calls the device
    /// lost.
    fn distribute(&mut self) {
        let events = self.dev.take_events();
        for ev in &events {
            for (i, slot) in self.ports.iter_mut().enumerate() {
                if !slot.attached {
                    continue;
                }
                if let DevEvent::Raw { port: Some(p), .. } = ev {
                    if self.port_names.get(i) != Some(p) {
                        continue;
                    }
                }
                let lines = commands::urc_lines(
                    ev,
                    &self.dev,
                    &mut slot.state,
                    slot.port.settings(),
                    &self.quirks,
                );
                for l in lines {
                    let b = slot.port.urc(&l);
                    slot.out.extend(b);
                }
            }
        }
        if !self.dev.data_call {
            for slot in &mut self.ports {
                if slot.port.data_call_active() {
                    let b = slot.port.carrier_lost();
                    if slot.attached {
                        slot.out.extend(b);
                    }
                }
            }
        }
    }

    /// A control-plane request.
    pub fn control(&mut self, req: &ControlRequest, now: Instant) -> Result<Value, ControlError> {
        self.last_now = self.last_now.max(now);
        let r = self.control_inner(req, now);
        self.distribute();
        r
    }

    fn control_inner(&mut self, req: &ControlRequest, now: Instant) -> Result<Value, ControlError> {
        let done = || Ok(json!({ "done": true }));
        match req {
            ControlRequest::Status => Ok(self.status()),
            ControlRequest::Snapshot => Ok(self.snapshot()),
            ControlRequest::SetRegistration {
                domain,
                stat,
                tac,
                ci,
                act,
            } => {
                self.dev
                    .set_registration(*domain, *stat, tac.clone(), ci.clone(), *act)
                    .map_err(bad)?;
                done()
            }
            ControlRequest::SetSignal { rssi, ber } => {
                self.dev.set_signal(*rssi, *ber).map_err(bad)?;
                done()
            }
            ControlRequest::SetOperator { name } => {
                if name.chars().any(|c| c == '"' || c.is_control()) {
                    return Err(bad(
                        "operator names cannot hold quotes or control characters",
                    ));
                }
                self.dev.set_operator(name);
                done()
            }
            ControlRequest::InjectUrc { line, port } => {
                if line.contains(['\r', '\n']) {
                    return Err(bad("a URC is one line (no CR/LF)"));
                }
                if let Some(p) = port {
                    if !self.port_names.contains(p) {
                        return Err(bad(format!("no port {p:?}")));
                    }
                }
                self.dev.push_event(DevEvent::Raw {
                    line: line.clone(),
                    port: port.clone(),
                });
                done()
            }
            ControlRequest::RemoveSim { slot } => {
                self.dev.remove_sim(*slot).map_err(refused)?;
                done()
            }
            ControlRequest::InsertSim { slot, card } => {
                self.dev.insert_sim(*slot, card, now).map_err(refused)?;
                done()
            }
            ControlRequest::SelectSlot { slot } => {
                self.dev.select_slot(*slot, now).map_err(refused)?;
                done()
            }
            ControlRequest::EnableProfile { iccid } => {
                let ef = iccid_to_ef(iccid).ok_or_else(|| bad("an ICCID is up to 20 digits"))?;
                self.dev.es10_profile(0xBF31, &ef, now).map_err(refused)?;
                done()
            }
            ControlRequest::DisableProfile { iccid } => {
                let ef = match iccid {
                    Some(i) => iccid_to_ef(i).ok_or_else(|| bad("an ICCID is up to 20 digits"))?,
                    None => self
                        .dev
                        .euicc_enabled_iccid()
                        .ok_or_else(|| refused("no profile is enabled on the eUICC"))?,
                };
                self.dev.es10_profile(0xBF32, &ef, now).map_err(refused)?;
                done()
            }
            ControlRequest::SetImei { index, imei } => {
                self.dev.set_imei(*index, imei).map_err(bad)?;
                done()
            }
            ControlRequest::SetLatency { command, ms } => {
                if command.trim().is_empty() {
                    return Err(bad("command pattern is empty"));
                }
                if *ms > 600_000 {
                    return Err(bad("latency above 600000 ms"));
                }
                self.faults.set_latency(command, *ms);
                done()
            }
            ControlRequest::InjectError {
                command,
                count,
                cme,
            } => {
                if let Some(c) = cme {
                    if CmeError::from_code(*c).is_none() {
                        return Err(bad(format!(
                            "+CME ERROR code {c} is not one this modem knows"
                        )));
                    }
                }
                if command.trim().is_empty() {
                    return Err(bad("command pattern is empty"));
                }
                if *count > 0 {
                    self.faults.errors.push(InjectedError {
                        command: commands::normalise_pattern(command),
                        count: *count,
                        cme: *cme,
                    });
                }
                done()
            }
            ControlRequest::SetSubscriber {
                imsi,
                k,
                opc,
                op_key,
                algorithm,
                sqn,
            } => {
                let k = hex16(k, "k")?;
                let opc = match (opc, op_key) {
                    (Some(o), _) => hex16(o, "opc")?,
                    (None, Some(op)) => {
                        let op = hex16(op, "op")?;
                        let kk: [u8; 16] = k
                            .expose()
                            .try_into()
                            .map_err(|_| bad("k must be 16 bytes"))?;
                        let oo: [u8; 16] = op
                            .expose()
                            .try_into()
                            .map_err(|_| bad("op must be 16 bytes"))?;
                        veuicc::profile::secret::Secret::new(opc_from_op(&kk, &oo).to_vec())
                    }
                    (None, None) => veuicc::profile::secret::Secret::new(vec![0; 16]),
                };
                let s = Subscriber {
                    imsi: imsi.clone(),
                    algorithm: algorithm.unwrap_or(Algorithm::TestAlgorithm),
                    k,
                    opc,
                    rotation: Vec::new(),
                    xoring: veuicc::profile::secret::Secret::default(),
                    sqn: sqn.unwrap_or(0),
                    amf: [0x80, 0x00],
                    source: "control".into(),
                };
                self.dev.set_subscriber(s).map_err(bad)?;
                done()
            }
            ControlRequest::DeleteSubscriber { imsi } => {
                if !self.dev.delete_subscriber(imsi) {
                    return Err(refused(format!("the HSS has no subscriber {imsi}")));
                }
                done()
            }
            ControlRequest::AddProfile { package, enable } => {
                let bytes = std::fs::read(package)
                    .map_err(|e| bad(format!("reading {}: {e}", package.display())))?;
                let iccid = self
                    .dev
                    .add_profile(&bytes, *enable, now)
                    .map_err(refused)?;
                Ok(json!({ "iccid": iccid }))
            }
            ControlRequest::SetNetwork {
                roaming,
                accept_unknown,
                auto_register,
                plmn,
                search_ms,
                register_ms,
                sim_ready_ms,
            } => {
                let max = crate::device::network::MAX_DELAY.as_millis() as u64;
                if [search_ms, register_ms, sim_ready_ms]
                    .iter()
                    .any(|v| v.is_some_and(|ms| ms > max))
                {
                    return Err(bad(format!("procedure delays are at most {max} ms")));
                }
                let timing =
                    if search_ms.is_some() || register_ms.is_some() || sim_ready_ms.is_some() {
                        let mut t = self.dev.net.timing;
                        if let Some(ms) = search_ms {
                            t.search = Duration::from_millis(*ms);
                        }
                        if let Some(ms) = register_ms {
                            t.register = Duration::from_millis(*ms);
                        }
                        if let Some(ms) = sim_ready_ms {
                            t.sim_ready = Duration::from_millis(*ms);
                        }
                        Some(t)
                    } else {
                        None
                    };
                self.dev
                    .set_network(
                        *roaming,
                        *accept_unknown,
                        *auto_register,
                        plmn.clone(),
                        timing,
                    )
                    .map_err(bad)?;
                done()
            }
            ControlRequest::Reregister => {
                self.dev.deregister_manual();
                self.dev.reregister(now);
                done()
            }
            ControlRequest::SetBindingPolicy { iccid, policy } => {
                self.dev.set_binding_policy(iccid, *policy).map_err(bad)?;
                done()
            }
            ControlRequest::ImeiBinding { iccid } => {
                self.dev.binding_json(iccid.as_deref()).map_err(refused)
            }
            ControlRequest::SetAssignmentServer { url, ca } => {
                self.dev
                    .set_assignment_server(url.as_deref(), ca.clone())
                    .map_err(bad)?;
                done()
            }
        }
    }

    fn sim_json(&self) -> Value {
        let (state, info) = match self.dev.sim() {
            SimState::Absent => ("absent", None),
            SimState::Initialising(_) => ("initialising", None),
            SimState::Locked(crate::device::sim::PinStatus::Puk, i) => ("puk", Some(i)),
            SimState::Locked(_, i) => ("pin", Some(i)),
            SimState::Ready(i) => ("ready", Some(i)),
            SimState::Failure(_) => ("failure", None),
        };
        let mut v = json!({ "state": state });
        if let SimState::Failure(e) = self.dev.sim() {
            v["error"] = json!(e);
        }
        if let Some(i) = info {
            v["iccid"] = json!(i.iccid);
            v["imsi"] = json!(i.imsi);
            v["spn"] = json!(i.spn);
            v["mnc_len"] = json!(i.mnc_len);
            v["usim_aid"] = json!(i.usim_aid.as_ref().map(hex::encode_upper));
        }
        v
    }

    fn network_json(&self) -> Value {
        let n = &self.dev.net;
        let mut reg = serde_json::Map::new();
        for d in DOMAINS {
            let key = match d {
                Domain::Cs => "cs",
                Domain::Ps => "ps",
                Domain::Eps => "eps",
                Domain::FiveGs => "5gs",
            };
            reg.insert(key.into(), json!(n.domain(d).stat));
        }
        json!({
            "cfun": self.dev.cfun(),
            "registration": reg,
            "plmn": self.dev.plmn(),
            "operator": self.dev.operator_name(),
            "act": n.radio.act,
            "tac": n.radio.tac,
            "ci": n.radio.ci,
            "rssi": n.radio.rssi,
            "ber": n.radio.ber,
            "roaming": n.radio.roaming,
            "auto_register": n.radio.auto_register,
            "accept_unknown": n.radio.accept_unknown,
            "last_auth": self.dev.last_auth(),
            "resyncs": self.dev.resyncs(),
        })
    }

    /// The modem's state for the `status` control request.
    pub fn status(&self) -> Value {
        let slots: Vec<Value> = self
            .dev
            .slots()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "slot": i + 1,
                    "config": s.cfg,
                    "kind": s.card.as_ref().map_or("empty", |c| c.kind()),
                    "eid": s.card.as_ref().and_then(|c| c.eid()),
                    "error": s.error,
                })
            })
            .collect();
        let ports: Vec<Value> = self
            .port_names
            .iter()
            .zip(&self.ports)
            .map(|(n, s)| json!({ "name": n, "attached": s.attached }))
            .collect();
        json!({
            "name": self.name,
            "quirks": self.quirks.name,
            "manufacturer": self.quirks.manufacturer,
            "model": self.quirks.model,
            "revision": self.quirks.revision,
            "imei": self.dev.imeis().iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            "imei_reported": self.dev.imei_for_active().as_str(),
            "imei_binding": self.dev.binding_json(None).unwrap_or(Value::Null),
            "svn": self.dev.svn().as_str(),
            "active_slot": self.dev.active_slot(),
            "slots": slots,
            "sim": self.sim_json(),
            "euicc": {
                "eid": self.dev.eid(),
                "profiles": self.dev.euicc_profiles(),
            },
            "network": self.network_json(),
            "ports": ports,
        })
    }

    /// Status plus everything volatile: port settings and command state, PDP contexts, the
    /// HSS (without keys), fault injection.
    pub fn snapshot(&self) -> Value {
        let mut v = self.status();
        let ports: Vec<Value> = self
            .port_names
            .iter()
            .zip(&self.ports)
            .map(|(n, s)| {
                let st = s.port.settings();
                json!({
                    "name": n,
                    "attached": s.attached,
                    "idle": s.port.is_idle(),
                    "data_mode": s.port.in_data_mode(),
                    "queued_urcs": s.port.queued_urcs(),
                    "settings": {
                        "echo": st.echo, "verbose": st.verbose, "quiet": st.quiet,
                        "cmee": st.cmee, "charset": st.charset.name(),
                    },
                    "reg_n": s.state.reg_n,
                    "cops_format": s.state.cops_format,
                    "cmer": s.state.cmer,
                    "cgerep": s.state.cgerep,
                    "cmgf": s.state.cmgf,
                    "cnmi": s.state.cnmi,
                })
            })
            .collect();
        v["ports"] = json!(ports);
        v["contexts"] = json!(self.dev.contexts);
        v["data_call"] = json!(self.dev.data_call);
        v["hss"] = json!(self
            .dev
            .hss()
            .iter()
            .map(|s| json!({
                "imsi": s.imsi, "algorithm": s.algorithm, "sqn": s.sqn, "source": s.source,
            }))
            .collect::<Vec<_>>());
        v["faults"] = json!({
            "latency": self.faults.latency.iter().map(|(p, d)| json!({"command": p, "ms": d.as_millis() as u64})).collect::<Vec<_>>(),
            "errors": self.faults.errors.iter().map(|e| json!({"command": e.command, "count": e.count, "cme": e.cme})).collect::<Vec<_>>(),
        });
        v
    }
}
