//! The device model behind the AT ports: SIM slots (virtual eUICC, plain UICC, PC/SC card,
//! empty), the active slot's SIM state, two IMEIs, the simulated network with its HSS, PDP
//! contexts. Sans-IO: time comes in as `now`, randomness from a seeded generator.
//!
//! Changes the ports must hear about are queued as [`DevEvent`]s; the modem turns them into
//! URCs per port (each port's `+CREG` `<n>` etc.).

mod admin;
pub mod aka;
mod attach;
pub mod binding;
pub mod imei;
pub mod network;
pub mod pcsc;
pub mod sim;
pub mod slots;
pub mod state;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use tracing::{debug, info, warn};
use veuicc::euicc::LifecycleEvent;
use veuicc::profile::saip::{parse_package, ProfilePackage};

use crate::config::{ModemConfig, SlotConfig};
use crate::control::Domain;
use crate::error::CmeError;
use aka::{Hss, Subscriber};
use imei::{Imei, ImeiError, Svn};
use network::{stat, Network, Radio, RegPhase, Timing};
use sim::{PinStatus, SimInfo, SimRead};
use slots::{BuildCtx, Card};
use state::{ModemRecord, StateError, StateStore, FORMAT_VERSION};

/// Why the device could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("slot {0}: {1}")]
    Slot(u8, String),
}

/// Options that are not part of the configuration file.
#[derive(Debug, Clone, Default)]
pub struct DeviceOptions {
    pub timing: Timing,
    /// Seeds the network's RAND generator (`None`: from the OS).
    pub seed: Option<[u8; 32]>,
}

/// The SIM of the active slot, as the MT sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimState {
    /// No card in the active slot.
    Absent,
    /// Card being (re-)read after power-up, insertion or refresh; ready at the instant (`None`:
    /// at the next poll).
    Initialising(Option<Instant>),
    /// PIN1 (or PUK) needed before the USIM can be used.
    Locked(PinStatus, SimInfo),
    Ready(SimInfo),
    /// The card does not work (PC/SC errors, unreadable).
    Failure(String),
}

/// SIM state changes the ports announce (vendor URCs per quirk profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimEvent {
    NotReady,
    Ready,
    /// Ready except for PIN1 / PUK.
    Locked(PinStatus),
    Removed,
}

/// Something the ports must be told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevEvent {
    Sim(SimEvent),
    /// A registration state change of one domain, with the state at that moment.
    Registration {
        domain: Domain,
        stat: u8,
        cause: Option<u8>,
    },
    /// Signal or service indicators changed (`+CIEV`).
    Indicators,
    /// A line for one port (by name) or for all.
    Raw {
        line: String,
        port: Option<String>,
    },
    /// A packet-domain event (TS 27.007 §10.1.19), the text after `+CGEV: `.
    Cgev(String),
}

/// One PDP context (TS 27.007 `+CGDCONT`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PdpContext {
    pub cid: u8,
    pub pdp_type: String,
    pub apn: String,
    pub active: bool,
}

/// The result of the last network authentication, for status and tests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthResult {
    Success,
    ResMismatch,
    MacFailure,
    SyncFailure,
    UnknownSubscriber,
    AcceptedUnknown,
    CardError(u16),
}

/// A slot: its configuration and its card (or why it has none).
#[derive(Debug)]
pub struct Slot {
    pub cfg: SlotConfig,
    pub card: Option<Card>,
    pub error: Option<String>,
}

/// The device.
#[derive(Debug)]
pub struct Device {
    name: String,
    state_dir: Option<PathBuf>,
    store: StateStore,
    slots: Vec<Slot>,
    config_slots: Vec<SlotConfig>,
    config_network: crate::config::NetworkConfig,
    /// 0-based index of the active slot.
    active: usize,
    imeis: [Imei; 2],
    svn: Svn,
    sim: SimState,
    pub net: Network,
    hss: Hss,
    overrides: Vec<Subscriber>,
    cfun: u8,
    /// Logical channels opened with `+CCHO` (session id = channel number).
    sessions: BTreeSet<u8>,
    rng: ChaCha20Rng,
    events: Vec<DevEvent>,
    pub contexts: Vec<PdpContext>,
    /// A data call is up (`ATD*99#` → `CONNECT`).
    pub data_call: bool,
    /// Response data of a `+CSIM` SELECT waiting for GET RESPONSE, by channel (T=0 emulation).
    pub t0_pending: std::collections::BTreeMap<u8, Vec<u8>>,
    /// `+CPMS` memories.
    pub sms_mem: [String; 3],
    last_auth: Option<AuthResult>,
    /// Re-synchronisations the HSS made from an AUTS (TS 33.102 §6.3.5).
    resyncs: u32,
    /// The IMEI binding engine (`None`: switched off in the configuration).
    binding: Option<binding::glue::Binding>,
}

/// `ICCID` digits → EF.ICCID form (nibble-swapped BCD, F-padded to 10 bytes).
pub fn iccid_to_ef(digits: &str) -> Option<Vec<u8>> {
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nibbles: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    nibbles.resize(20, 0x0F);
    Some(nibbles.chunks(2).map(|p| (p[1] << 4) | p[0]).collect())
}

/// The IMSI of the USIM of a package (EF.IMSI content in the package file system).
pub fn package_imsi(pkg: &ProfilePackage) -> Option<String> {
    let aid = pkg.usim_aid.as_deref()?;
    let adf = pkg.fs.adf_by_aid(aid)?;
    let ef = pkg.fs.child_by_fid(adf, 0x6F07, false)?;
    let (_, _, content) = pkg.fs.ef(ef)?;
    sim::decode_imsi(content)
}

fn default_active(slots: &[SlotConfig]) -> usize {
    slots
        .iter()
        .position(|s| *s != SlotConfig::Empty)
        .unwrap_or(0)
}

impl Device {
    /// Builds the device of `cfg`, restoring its persistent record if there is one.
    pub fn open(cfg: &ModemConfig, opts: &DeviceOptions) -> Result<Device, DeviceError> {
        let store = match &cfg.state_dir {
            Some(d) => StateStore::open(d)?,
            None => StateStore::memory(),
        };
        let rec = store.load()?;
        let mut imeis = Vec::new();
        for s in &cfg.imei {
            imeis.push(Imei::parse(s).map_err(|e| DeviceError::Config(e.to_string()))?);
        }
        let mut svn = match &cfg.svn {
            Some(s) => Svn::parse(s).map_err(|e| DeviceError::Config(e.to_string()))?,
            None => Svn::default(),
        };
        let mut slot_cfgs = cfg.slots.clone();
        if slot_cfgs.is_empty() {
            slot_cfgs.push(SlotConfig::Empty);
        }
        let mut radio = Radio::from_config(&cfg.network);
        let mut active = default_active(&slot_cfgs);
        let mut overrides = Vec::new();
        let mut sqns = Vec::new();
        if let Some(r) = rec {
            imeis = r.imeis;
            svn = r.svn;
            if r.config_slots == slot_cfgs {
                slot_cfgs = r.slots;
                active = usize::from(r.active_slot.max(1) - 1);
            }
            if r.config_network == cfg.network {
                radio = r.radio;
            }
            overrides = r.subscribers;
            sqns = r.sqns;
        }
        let mut given = imeis.into_iter();
        let imeis = [
            given.next().unwrap_or_else(|| Imei::derived(&cfg.name, 1)),
            given.next().unwrap_or_else(|| Imei::derived(&cfg.name, 2)),
        ];
        if active >= slot_cfgs.len() {
            active = 0;
        }
        let seed = match opts.seed {
            Some(s) => s,
            None => veuicc::statedir::os_seed().map_err(|e| DeviceError::Config(e.to_string()))?,
        };
        let mut dev = Device {
            name: cfg.name.clone(),
            state_dir: cfg.state_dir.clone(),
            store,
            slots: Vec::new(),
            config_slots: cfg.slots.clone(),
            config_network: cfg.network.clone(),
            active,
            imeis,
            svn,
            sim: SimState::Absent,
            net: Network::new(radio, opts.timing),
            hss: Hss::default(),
            overrides,
            cfun: 1,
            sessions: BTreeSet::new(),
            rng: ChaCha20Rng::from_seed(seed),
            events: Vec::new(),
            contexts: vec![PdpContext {
                cid: 1,
                pdp_type: "IPV4V6".into(),
                apn: String::new(),
                active: false,
            }],
            data_call: false,
            t0_pending: std::collections::BTreeMap::new(),
            sms_mem: ["SM".into(), "SM".into(), "SM".into()],
            last_auth: None,
            resyncs: 0,
            binding: None,
        };
        for (i, c) in slot_cfgs.iter().enumerate() {
            let slot = dev.build_slot(i, c);
            dev.slots.push(slot);
        }
        for o in dev.overrides.clone() {
            dev.hss.put(o);
        }
        for (imsi, sqn) in sqns {
            if let Some(s) = dev.hss.get_mut(&imsi) {
                s.sqn = sqn;
            }
        }
        // Power up the active card and read it now, so the first AT commands find it ready.
        if let Some(card) = dev.active_card_mut() {
            card.power_on();
        }
        dev.read_active_sim();
        dev.binding = dev.open_binding(&cfg.binding)?;
        dev.binding_scan_all();
        dev.events.clear();
        if dev.can_attach() && dev.net.radio.auto_register {
            dev.net.phase = RegPhase::Pending(None);
        }
        dev.save()?;
        Ok(dev)
    }

    fn build_slot(&mut self, i: usize, cfg: &SlotConfig) -> Slot {
        let ctx = BuildCtx {
            state_dir: self.state_dir.as_deref(),
            modem_name: &self.name,
            slot: (i + 1) as u8,
        };
        match Card::build(cfg, ctx) {
            Ok(card) => {
                if let Some(c) = &card {
                    self.provision(c);
                }
                Slot {
                    cfg: cfg.clone(),
                    card,
                    error: None,
                }
            }
            Err(e) => {
                warn!(slot = i + 1, error = %e, "SIM slot card unusable");
                Slot {
                    cfg: cfg.clone(),
                    card: None,
                    error: Some(e.to_string()),
                }
            }
        }
    }

    /// Provisions the HSS from the packages of a card's profiles.
    fn provision(&mut self, card: &Card) {
        for bytes in card.packages() {
            self.provision_package(&bytes);
        }
    }

    fn provision_package(&mut self, bytes: &[u8]) {
        let Ok(pkg) = parse_package(bytes) else {
            return;
        };
        let Some(imsi) = package_imsi(&pkg) else {
            return;
        };
        if let Some(s) = Subscriber::from_package(&pkg, &imsi) {
            debug!(imsi = %imsi, "HSS provisioned from package");
            self.hss.provision(s);
        }
    }

    // --- persistence -------------------------------------------------------------------

    fn record(&self) -> ModemRecord {
        ModemRecord {
            version: FORMAT_VERSION,
            imeis: self.imeis.to_vec(),
            svn: self.svn.clone(),
            slots: self.slots.iter().map(|s| s.cfg.clone()).collect(),
            config_slots: self.config_slots.clone(),
            active_slot: (self.active + 1) as u8,
            radio: self.net.radio.clone(),
            config_network: self.config_network.clone(),
            subscribers: self.overrides.clone(),
            sqns: self.hss.iter().map(|s| (s.imsi.clone(), s.sqn)).collect(),
        }
    }

    /// Writes the persistent record.
    pub fn save(&self) -> Result<(), StateError> {
        self.store.save(&self.record())
    }

    fn save_logged(&self) {
        if let Err(e) = self.save() {
            warn!(error = %e, "could not persist the modem state");
        }
    }

    // --- accessors ---------------------------------------------------------------------

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// 1-based number of the active slot.
    pub fn active_slot(&self) -> u8 {
        (self.active + 1) as u8
    }

    pub fn sim(&self) -> &SimState {
        &self.sim
    }

    /// The SIM information when the USIM is usable.
    pub fn sim_info(&self) -> Option<&SimInfo> {
        match &self.sim {
            SimState::Ready(i) => Some(i),
            _ => None,
        }
    }

    /// The SIM information read so far, locked or not (ICCID is readable without PIN).
    pub fn sim_info_any(&self) -> Option<&SimInfo> {
        match &self.sim {
            SimState::Ready(i) | SimState::Locked(_, i) => Some(i),
            _ => None,
        }
    }

    pub fn cfun(&self) -> u8 {
        self.cfun
    }

    pub fn hss(&self) -> &Hss {
        &self.hss
    }

    /// How many times the HSS re-synchronised its SQN from the USIM's AUTS.
    pub fn resyncs(&self) -> u32 {
        self.resyncs
    }

    pub fn last_auth(&self) -> Option<&AuthResult> {
        self.last_auth.as_ref()
    }

    /// IMEI `index` (1 or 2).
    pub fn imei(&self, index: u8) -> Option<&Imei> {
        self.imeis.get(usize::from(index).checked_sub(1)?)
    }

    pub fn imeis(&self) -> &[Imei] {
        &self.imeis
    }

    /// Which IMEI (1 or 2) the active slot's MT stack reports.
    pub fn active_imei_index(&self) -> u8 {
        if self.active == 0 {
            1
        } else {
            2
        }
    }

    pub fn svn(&self) -> &Svn {
        &self.svn
    }

    /// The IMEI the MT reports now: the one of the active slot's MT stack.
    pub fn imei_for_active(&self) -> &Imei {
        self.imei_for_slot(self.active_slot())
    }

    /// The IMEI the MT stack of `slot` (1-based) reports: the IMEI bound to its active profile
    /// (the IMEI binding engine, `device::binding`), else its own IMEI (IMEI1 for slot 1, IMEI2
    /// for the others).
    pub fn imei_for_slot(&self, slot: u8) -> &Imei {
        if let Some(x) = self.binding.as_ref().and_then(|b| b.engine.reported(slot)) {
            return x;
        }
        let [imei1, imei2] = &self.imeis;
        if slot <= 1 {
            imei1
        } else {
            imei2
        }
    }

    /// Sets IMEI `index` (1-based) and persists it.
    pub fn set_imei(&mut self, index: u8, imei: &str) -> Result<(), ImeiError> {
        let i = Imei::parse(imei)?;
        let Some(slot) = usize::from(index)
            .checked_sub(1)
            .and_then(|n| self.imeis.get_mut(n))
        else {
            return Err(ImeiError::Format(format!("IMEI index {index}")));
        };
        let old = std::mem::replace(slot, i.clone());
        self.save_logged();
        self.binding_imei_written(&old, &i);
        Ok(())
    }

    /// The serving PLMN: the configured one, else the SIM's home PLMN.
    pub fn plmn(&self) -> Option<String> {
        self.net
            .radio
            .plmn
            .clone()
            .or_else(|| self.sim_info_any().and_then(SimInfo::home_plmn))
    }

    /// The operator name `+COPS` shows.
    pub fn operator_name(&self) -> String {
        if let Some(n) = &self.net.radio.operator_name {
            return n.clone();
        }
        self.sim_info_any()
            .and_then(|i| i.spn.clone())
            .unwrap_or_else(|| "Test Network".into())
    }

    /// The events queued since the last call.
    pub fn take_events(&mut self) -> Vec<DevEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn push_event(&mut self, e: DevEvent) {
        if self.events.len() < 1024 {
            self.events.push(e);
        }
    }

    fn active_card_mut(&mut self) -> Option<&mut Card> {
        self.slots.get_mut(self.active)?.card.as_mut()
    }

    /// The card of the active slot for a SIM access command: `SimNotInserted` if none,
    /// `SimFailure` if it does not work.
    fn usable_card(&mut self) -> Result<&mut Card, CmeError> {
        let failed = matches!(self.sim, SimState::Failure(_));
        let card = self.active_card_mut().ok_or(CmeError::SimNotInserted)?;
        if failed || card.failure().is_some() {
            return Err(CmeError::SimFailure);
        }
        Ok(card)
    }

    // --- card I/O ----------------------------------------------------------------------

    /// A raw APDU to the active card (`+CSIM`, `+CGLA`), then the card's lifecycle events.
    pub fn transmit(&mut self, apdu: &[u8], now: Instant) -> Result<Vec<u8>, CmeError> {
        self.usable_card()?;
        self.binding_snoop(apdu);
        let r = self.usable_card()?.transmit(apdu);
        self.after_card_io(now);
        Ok(r)
    }

    /// Runs `f` on the active card (the modem's own use), then handles lifecycle events.
    pub fn with_card<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut Card) -> R,
    ) -> Result<R, CmeError> {
        let r = f(self.usable_card()?);
        self.after_card_io(now);
        Ok(r)
    }

    /// Drains the cards' lifecycle events: new profiles provision the HSS; a profile enabled
    /// or disabled on the active card is a SIM refresh.
    fn after_card_io(&mut self, now: Instant) {
        self.check_card_failure();
        let mut refresh = false;
        let mut lifecycle = Vec::new();
        for i in 0..self.slots.len() {
            let Some(card) = self.slots.get_mut(i).and_then(|s| s.card.as_mut()) else {
                continue;
            };
            let events = card.take_events();
            let mut packages = Vec::new();
            for e in &events {
                match e {
                    LifecycleEvent::Installed { iccid } => {
                        packages.extend(card.package(iccid));
                    }
                    LifecycleEvent::Enabled { .. } | LifecycleEvent::Disabled { .. } => {
                        if i == self.active {
                            refresh = true;
                        }
                    }
                    LifecycleEvent::Deleted { .. } => {}
                }
            }
            for p in packages {
                self.provision_package(&p);
            }
            if !events.is_empty() {
                lifecycle.push((i, events));
            }
        }
        for (i, events) in lifecycle {
            self.binding_lifecycle(i, &events);
        }
        if refresh {
            info!("profile change on the active card: SIM refresh");
            self.refresh(now, false);
        }
    }

    /// The active card stopped answering (a PC/SC card left its reader): the SIM is in failure
    /// from now on, as a real MT reports it — `+CPIN: NOT READY`, deregistration, channels gone —
    /// until a reset or an insertion reads it again.
    fn check_card_failure(&mut self) {
        let Some(err) = self
            .active_card_mut()
            .and_then(|c| c.failure().map(str::to_string))
        else {
            return;
        };
        if matches!(self.sim, SimState::Failure(_)) {
            return;
        }
        warn!(error = %err, "the active card stopped answering: SIM failure");
        self.t0_pending.clear();
        self.sessions.clear();
        self.push_event(DevEvent::Sim(SimEvent::NotReady));
        self.deregister(stat::NOT_REGISTERED);
        self.net.phase = RegPhase::Idle;
        self.sim = SimState::Failure(err);
    }

    /// SIM refresh (TS 102 223 REFRESH "UICC reset" semantics at the MT level): `+CPIN: NOT
    /// READY`, deregistration, the SIM is read again after a delay, then `READY` and
    /// re-registration. `power_cycle` resets the card (slot switch, insertion, `+CFUN=1,1`);
    /// a profile switch keeps the host's logical channels open.
    pub fn refresh(&mut self, now: Instant, power_cycle: bool) {
        self.t0_pending.clear();
        if power_cycle {
            self.sessions.clear();
            if let Some(c) = self.active_card_mut() {
                c.reset();
            }
        }
        self.push_event(DevEvent::Sim(SimEvent::NotReady));
        self.deregister(stat::NOT_REGISTERED);
        self.net.phase = RegPhase::Idle;
        self.sim = if self.active_card_mut().is_some() {
            SimState::Initialising(Some(network::later(now, self.net.timing.sim_ready)))
        } else {
            SimState::Absent
        };
    }

    /// Sets every registered/searching domain to `to` (with URCs).
    fn deregister(&mut self, to: u8) {
        let domains: Vec<Domain> = network::DOMAINS
            .iter()
            .copied()
            .filter(|d| self.net.domain(*d).stat != stat::NOT_REGISTERED)
            .collect();
        let had_ps = self.net.ps_registered();
        self.set_stat(&domains, to, None);
        self.release_pdp(had_ps);
    }

    /// The network released packet service: the contexts and the data call end, with
    /// `+CGEV: NW PDN DEACT <cid>` and (if it was attached) `+CGEV: NW DETACH`.
    fn release_pdp(&mut self, detach: bool) {
        let cids: Vec<u8> = self
            .contexts
            .iter()
            .filter(|c| c.active)
            .map(|c| c.cid)
            .collect();
        for c in &mut self.contexts {
            c.active = false;
        }
        self.data_call = false;
        for cid in cids {
            self.push_event(DevEvent::Cgev(format!("NW PDN DEACT {cid}")));
        }
        if detach {
            self.push_event(DevEvent::Cgev("NW DETACH".into()));
        }
    }

    /// Activates or deactivates a context at the MT's request (`+CGACT`, `ATD*99#`).
    pub fn set_context_active(&mut self, cid: u8, active: bool) -> bool {
        let Some(c) = self.contexts.iter_mut().find(|c| c.cid == cid) else {
            return false;
        };
        if c.active != active {
            c.active = active;
            let what = if active { "ACT" } else { "DEACT" };
            self.push_event(DevEvent::Cgev(format!("ME PDN {what} {cid}")));
        }
        true
    }

    fn set_stat(&mut self, domains: &[Domain], s: u8, cause: Option<u8>) {
        let before = self.net.registered();
        for d in self.net.set(domains, s, cause) {
            self.push_event(DevEvent::Registration {
                domain: d,
                stat: s,
                cause,
            });
        }
        if before != self.net.registered() {
            self.push_event(DevEvent::Indicators);
        }
    }

    /// Reads the active SIM and sets the SIM state (no events).
    fn read_active_sim(&mut self) {
        let Some(card) = self.active_card_mut() else {
            self.sim = match self.slots.get(self.active).and_then(|s| s.error.clone()) {
                Some(e) => SimState::Failure(e),
                None => SimState::Absent,
            };
            return;
        };
        self.sim = match sim::read_sim(card) {
            SimRead::Ready(i) => SimState::Ready(i),
            SimRead::Locked(p, i) => SimState::Locked(p, i),
            SimRead::Failure(e) => SimState::Failure(e),
        };
        // Our own reads never change profiles, but drain to keep the queues short.
        let _ = self.active_card_mut().map(Card::take_events);
        self.binding_sim_read();
    }

    /// Starts the registration procedure if the MT can register.
    pub fn start_registration(&mut self, now: Instant) {
        if self.cfun == 1 && self.net.radio.auto_register && self.can_attach() {
            self.net.phase = RegPhase::Pending(Some(network::later(now, self.net.timing.search)));
        }
    }

    /// A USIM with an IMSI is ready (an eUICC without an enabled profile has none).
    fn can_attach(&self) -> bool {
        self.sim_info()
            .is_some_and(|i| i.imsi.is_some() && i.usim_aid.is_some())
    }

    // --- PIN ----------------------------------------------------------------------------

    /// `+CPIN=<pin>[,<newpin>]`.
    pub fn enter_pin(
        &mut self,
        pin: &str,
        newpin: Option<&str>,
        now: Instant,
    ) -> Result<(), CmeError> {
        let (status, info) = match &self.sim {
            SimState::Locked(p, i) => (*p, i.clone()),
            SimState::Absent => return Err(CmeError::SimNotInserted),
            SimState::Initialising(_) => return Err(CmeError::SimBusy),
            SimState::Failure(_) => return Err(CmeError::SimFailure),
            SimState::Ready(_) => return Err(CmeError::OperationNotAllowed),
        };
        let aid = info.usim_aid.clone();
        let r = match status {
            PinStatus::Pin(_) => {
                let block = sim::pin_block(pin).ok_or(CmeError::IncorrectParameters)?;
                self.with_card(now, |c| {
                    sim::pin_command(c, aid.as_deref(), 0x20, 0x01, &block)
                })?
            }
            PinStatus::Puk => {
                let newpin = newpin.ok_or(CmeError::SimPukRequired)?;
                let puk = pin.as_bytes();
                if puk.len() != 8 || !puk.iter().all(u8::is_ascii_digit) {
                    return Err(CmeError::IncorrectParameters);
                }
                let mut data = puk.to_vec();
                data.extend(sim::pin_block(newpin).ok_or(CmeError::IncorrectParameters)?);
                self.with_card(now, |c| {
                    sim::pin_command(c, aid.as_deref(), 0x2C, 0x01, &data)
                })?
            }
            PinStatus::Ready => return Err(CmeError::OperationNotAllowed),
        };
        match r.sw {
            0x9000 => {
                let info = self.with_card(now, |c| sim::read_after_pin(c, info))?;
                self.sim = SimState::Ready(info);
                self.push_event(DevEvent::Sim(SimEvent::Ready));
                self.start_registration(now);
                Ok(())
            }
            0x6983 => {
                self.sim = SimState::Locked(
                    PinStatus::Puk,
                    self.sim_info_any().cloned().unwrap_or_default(),
                );
                Err(CmeError::SimPukRequired)
            }
            sw if sw & 0xFFF0 == 0x63C0 => {
                let left = (sw & 0x0F) as u8;
                if let SimState::Locked(p, _) = &mut self.sim {
                    *p = if status == PinStatus::Puk || left == 0 {
                        PinStatus::Puk
                    } else {
                        PinStatus::Pin(left)
                    };
                }
                Err(CmeError::IncorrectPassword)
            }
            _ => Err(CmeError::SimFailure),
        }
    }

    /// Sends a PIN command for `+CLCK`/`+CPWD` on the USIM.
    pub fn pin_apdu(
        &mut self,
        ins: u8,
        p2: u8,
        data: &[u8],
        now: Instant,
    ) -> Result<u16, CmeError> {
        let aid = self.sim_info_any().and_then(|i| i.usim_aid.clone());
        let r = self.with_card(now, |c| sim::pin_command(c, aid.as_deref(), ins, p2, data))?;
        Ok(r.sw)
    }

    /// Records PIN1's enabled state after `+CLCK="SC",0|1`.
    pub fn set_pin1_enabled(&mut self, enabled: bool) {
        if let SimState::Ready(i) | SimState::Locked(_, i) = &mut self.sim {
            i.pin1_enabled = enabled;
        }
    }

    // --- logical channels (+CCHO / +CCHC / +CGLA) ------------------------------------------

    /// `+CCHO`: MANAGE CHANNEL open, then SELECT the AID on the new channel.
    pub fn open_channel(&mut self, aid: &[u8], now: Instant) -> Result<u8, CmeError> {
        if aid.is_empty() || aid.len() > 16 {
            return Err(CmeError::IncorrectParameters);
        }
        let r = self.with_card(now, |c| sim::xfer(c, &[0x00, 0x70, 0x00, 0x00, 0x01]))?;
        let ch = match (r.ok(), r.data.first()) {
            (true, Some(&ch)) if (1..20).contains(&ch) => ch,
            _ => return Err(CmeError::MemoryFull),
        };
        let select = veuicc::apdu::build(
            veuicc::apdu::Class::encode(ch, false),
            0xA4,
            0x04,
            0x00,
            aid,
            Some(256),
        );
        let r = self.with_card(now, |c| sim::xfer(c, &select))?;
        if !r.ok() {
            let _ = self.with_card(now, |c| sim::xfer(c, &[0x00, 0x70, 0x80, ch, 0x00]));
            return Err(CmeError::NotFound);
        }
        self.sessions.insert(ch);
        Ok(ch)
    }

    /// `+CCHC`.
    pub fn close_channel(&mut self, sid: u8, now: Instant) -> Result<(), CmeError> {
        if !self.sessions.remove(&sid) {
            return Err(CmeError::InvalidIndex);
        }
        self.with_card(now, |c| sim::xfer(c, &[0x00, 0x70, 0x80, sid, 0x00]))?;
        Ok(())
    }

    /// Whether `+CCHO` opened this session.
    pub fn has_session(&self, sid: u8) -> bool {
        self.sessions.contains(&sid)
    }
}
