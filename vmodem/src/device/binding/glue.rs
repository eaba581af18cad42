//! The binding engine inside the device: what feeds it (the cards' lifecycle events after every
//! APDU, SIM insertion and removal, cards read at start, IMEI writes, the control plane, the
//! assignment server's answers) and what its effects do (the record persisted in the modem's
//! sled store, the card's copy written with the vendor ES10 function `SetImeiBinding`, requests
//! to the assignment server, `+VIMEIBIND` URCs).
//!
//! The card's copy is written on a logical channel of the modem's own (MANAGE CHANNEL, SELECT
//! ISD-R, STORE DATA `FF21`, MANAGE CHANNEL close), right after the change, for the virtual
//! eUICC in any slot and for a PC/SC card in the active slot; a card that answers an error
//! status word (real cards: `6A88`) is not asked again until it is re-inserted, and the record
//! lives in the modem only. Plain UICCs (pSIMs) have no ISD-R: the modem keeps their records.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tracing::{debug, info, warn};
use veuicc::apdu::{build, Class};
use veuicc::euicc::{LifecycleEvent, ProfileId, ISDR_AID};
use veuicc::isdr::{storedata, vendor};

use super::assign::{HttpsSource, ImeiSource, POLL_INTERVAL};
use super::snoop::Snoop;
use super::{BindingRecord, Effects, Engine, ServerSetting, Settings, Status};
use crate::config::BindingConfig;
use crate::device::imei::Imei;
use crate::device::sim::{swapped_bcd, xfer};
use crate::device::slots::Card;
use crate::device::{iccid_to_ef, DevEvent, Device, DeviceError};

/// Unix seconds for history entries (the system clock, or a fixed one in tests).
#[derive(Clone)]
pub struct UnixClock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl UnixClock {
    pub fn system() -> UnixClock {
        UnixClock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        }))
    }

    pub fn new(f: impl Fn() -> u64 + Send + Sync + 'static) -> UnixClock {
        UnixClock(Arc::new(f))
    }

    pub fn now(&self) -> u64 {
        (self.0)()
    }
}

impl fmt::Debug for UnixClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnixClock")
    }
}

/// The engine and its IO helpers, owned by the device.
#[derive(Debug)]
pub struct Binding {
    pub engine: Engine,
    source: Option<Box<dyn ImeiSource>>,
    snoop: Snoop,
    /// The DeviceInfo IMEI of the last AuthenticateServer seen per slot, for the next install.
    hints: BTreeMap<u8, Imei>,
    clock: UnixClock,
    /// Slots whose card refused SetImeiBinding.
    no_vendor: BTreeSet<u8>,
    /// The server URL in use (for status).
    server: Option<String>,
    /// The configured extra IMEIs (the pool is IMEI1, IMEI2, these, the assigned ones).
    extra: Vec<Imei>,
}

/// Why the card's copy could not be written.
enum CardWrite {
    /// No logical channel free.
    NoChannel,
    /// The card answered this status word (it does not know the extension).
    Refused(u16),
    /// The record could not be encoded (an IMEI without a valid check digit: never for ours).
    Encode(String),
}

/// IMEI1, IMEI2, then the configured extra IMEIs.
fn base_pool(imeis: &[Imei], extra: &[Imei]) -> Vec<Imei> {
    let mut base = imeis.to_vec();
    for x in extra {
        if !base.contains(x) {
            base.push(x.clone());
        }
    }
    base
}

fn digits(ef: &[u8]) -> String {
    swapped_bcd(ef)
}

/// `+VIMEIBIND: "<iccid>",<slot>,"<status>","<policy>","<imei>"` (slot 0: not active).
pub fn status_line(engine: &Engine, iccid: &str) -> String {
    let status = engine.status(iccid).map_or("unknown", Status::name);
    let imei = engine
        .record()
        .profiles
        .get(iccid)
        .and_then(|b| b.imei.as_ref())
        .map_or("", |i| i.as_str());
    format!(
        "+VIMEIBIND: \"{iccid}\",{},\"{status}\",\"{}\",\"{imei}\"",
        engine.active_slot(iccid).unwrap_or(0),
        engine.policy_of(iccid).name()
    )
}

/// Writes `records` (distinct profiles, at most [`vendor::MAX_SET_RECORDS`]) to the card in one
/// SetImeiBinding on a scratch channel; the result code.
fn write_records(card: &mut Card, records: &[vendor::ImeiBindingRecord]) -> Result<u8, CardWrite> {
    let cmd = vendor::set_request_many(records).map_err(|e| CardWrite::Encode(e.to_string()))?;
    let r = xfer(card, &[0x00, 0x70, 0x00, 0x00, 0x01]);
    let ch = match (r.ok(), r.data.first()) {
        (true, Some(&ch)) if (1..20).contains(&ch) => ch,
        _ => return Err(CardWrite::NoChannel),
    };
    let sel = build(
        Class::encode(ch, false),
        0xA4,
        0x04,
        0x00,
        &ISDR_AID,
        Some(256),
    );
    let mut r = xfer(card, &sel);
    if r.ok() {
        for (p1, p2, data) in storedata::split(&cmd, 255) {
            let le = (p1 & 0x80 != 0).then_some(256);
            r = xfer(
                card,
                &build(Class::encode(ch, true), 0xE2, p1, p2, &data, le),
            );
            if !r.ok() {
                break;
            }
        }
    }
    drop(xfer(card, &[0x00, 0x70, 0x80, ch, 0x00]));
    if !r.ok() {
        return Err(CardWrite::Refused(r.sw));
    }
    match vendor::decode_set_response(&r.data) {
        Ok((code, _)) => Ok(code),
        Err(_) => Err(CardWrite::Refused(r.sw)),
    }
}

impl Device {
    /// Builds the engine from the configuration and the persisted record (`None` when the
    /// binding is switched off).
    pub(crate) fn open_binding(&self, cfg: &BindingConfig) -> Result<Option<Binding>, DeviceError> {
        if !cfg.enabled {
            return Ok(None);
        }
        let bad = |e: String| DeviceError::Config(format!("[modem.binding] {e}"));
        let mut extra: Vec<Imei> = Vec::new();
        for s in &cfg.pool {
            let i = Imei::parse(s).map_err(|e| bad(format!("pool: {e}")))?;
            if !extra.contains(&i) {
                extra.push(i);
            }
        }
        let base = base_pool(&self.imeis, &extra);
        for k in cfg.policies.keys() {
            if iccid_to_ef(k).is_none() {
                return Err(bad(format!("policies: {k:?} is not an ICCID (digits)")));
            }
        }
        let mut record = match self.store.load_binding()? {
            Some(r) => r,
            None => BindingRecord::new(self.imeis[0].as_str()),
        };
        if let Some(id) = &cfg.device_id {
            if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
                return Err(bad(format!("device_id {id:?}: 1–128 printable characters")));
            }
            record.device_id = id.clone();
        }
        let server = match &record.server {
            Some(s) => Some(s.clone()),
            None => cfg.assignment_server.as_ref().map(|u| ServerSetting {
                url: u.clone(),
                ca: cfg.ca.clone(),
            }),
        };
        let source: Option<Box<dyn ImeiSource>> = match &server {
            Some(s) => Some(Box::new(
                HttpsSource::new(&s.url, s.ca.clone()).map_err(bad)?,
            )),
            None => None,
        };
        let settings = Settings {
            default_policy: cfg.default_policy,
            policies: cfg.policies.clone(),
            spn_policies: cfg.spn_policies.clone(),
            scope: cfg.exclusive_scope,
        };
        let engine = Engine::new(settings, base, record, source.is_some());
        Ok(Some(Binding {
            engine,
            source,
            snoop: Snoop::default(),
            hints: BTreeMap::new(),
            clock: UnixClock::system(),
            no_vendor: BTreeSet::new(),
            server: server.map(|s| s.url),
            extra,
        }))
    }

    /// Tells the engine about every slot's card (at start).
    pub(crate) fn binding_scan_all(&mut self) {
        for i in 0..self.slots.len() {
            let fx = self.binding_scan_slot(i);
            self.binding_apply(fx);
        }
    }

    /// The ICCID (digits) and SPN of the enabled profile of slot `i`'s card, if known: the
    /// virtual cards' state; a PC/SC card only in the active slot once read.
    fn slot_enabled(&self, i: usize) -> Option<(String, Option<String>)> {
        match self.slots.get(i)?.card.as_ref()? {
            Card::Euicc(e) | Card::Uicc(e) => {
                let st = e.state();
                let ef = st.enabled_iccid()?.to_vec();
                let spn = st
                    .profile(&ProfileId::Iccid(ef.clone()))
                    .map(|p| p.service_provider_name.clone())
                    .filter(|s| !s.is_empty());
                Some((digits(&ef), spn))
            }
            Card::Pcsc(_) if i == self.active => {
                let info = self.sim_info_any()?;
                Some((info.iccid.clone()?, info.spn.clone()))
            }
            Card::Pcsc(_) => None,
        }
    }

    fn binding_scan_slot(&mut self, i: usize) -> Effects {
        let mut fx = Effects::default();
        let slot = (i + 1) as u8;
        let installed: Vec<(String, Option<String>)> =
            match self.slots.get(i).and_then(|s| s.card.as_ref()) {
                Some(Card::Euicc(e)) => e
                    .state()
                    .profiles()
                    .map(|p| {
                        (
                            digits(&p.iccid),
                            Some(p.service_provider_name.clone()).filter(|s| !s.is_empty()),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
        let enabled = self.slot_enabled(i);
        let Some(b) = self.binding.as_mut() else {
            return fx;
        };
        let now = b.clock.now();
        for (iccid, spn) in installed {
            let known = b
                .engine
                .record()
                .profiles
                .get(&iccid)
                .is_some_and(|p| p.installed);
            if !known {
                fx.merge(b.engine.installed(slot, &iccid, spn.as_deref(), None, now));
            }
        }
        if let Some((iccid, spn)) = enabled {
            fx.merge(b.engine.restore(slot, &iccid, spn.as_deref(), now));
        }
        fx
    }

    /// Persists, writes the cards' copies, asks the server, announces.
    pub(crate) fn binding_apply(&mut self, fx: Effects) {
        let Some(b) = self.binding.as_mut() else {
            return;
        };
        if fx.persist() {
            if let Err(e) = self.store.save_binding(b.engine.record()) {
                warn!(error = %e, "could not persist the IMEI bindings");
            }
        }
        if !fx.assign.is_empty() {
            let device_id = b.engine.record().device_id.clone();
            if let Some(src) = b.source.as_mut() {
                for iccid in &fx.assign {
                    info!(%iccid, "asking the IMEI assignment server");
                    src.request(&device_id, iccid);
                }
            }
        }
        let lines: Vec<String> = fx
            .notices
            .iter()
            .map(|n| status_line(&b.engine, &n.iccid))
            .collect();
        self.binding_write_cards(&fx.changed);
        for line in lines {
            self.push_event(DevEvent::Raw { line, port: None });
        }
    }

    /// Writes the card copies of the `changed` profiles: one SetImeiBinding per card.
    fn binding_write_cards(&mut self, changed: &BTreeSet<String>) {
        let Some(b) = self.binding.as_ref() else {
            return;
        };
        let mut by_slot: BTreeMap<u8, Vec<vendor::ImeiBindingRecord>> = BTreeMap::new();
        for iccid in changed {
            let (Some(rec), Some(slot)) = (
                b.engine.card_record(iccid),
                b.engine.record().profiles.get(iccid).and_then(|p| p.slot),
            ) else {
                continue;
            };
            if !b.no_vendor.contains(&slot) {
                by_slot.entry(slot).or_default().push(rec);
            }
        }
        for (slot, records) in by_slot {
            for chunk in records.chunks(vendor::MAX_SET_RECORDS) {
                self.binding_write_card(slot, chunk);
            }
        }
    }

    fn binding_write_card(&mut self, slot: u8, records: &[vendor::ImeiBindingRecord]) {
        let Some(i) = usize::from(slot).checked_sub(1) else {
            return;
        };
        let active = i == self.active;
        let Some(card) = self.slots.get_mut(i).and_then(|s| s.card.as_mut()) else {
            return;
        };
        match card {
            Card::Uicc(_) => return,
            Card::Pcsc(_) if !active || card.failure().is_some() => return,
            _ => {}
        }
        match write_records(card, records) {
            Ok(vendor::RESULT_OK) => debug!(
                slot,
                n = records.len(),
                "IMEI binding records written to the card"
            ),
            Ok(code) => debug!(slot, code, "the card did not take the IMEI binding records"),
            Err(CardWrite::NoChannel) => debug!("no free channel for the IMEI binding records"),
            Err(CardWrite::Encode(e)) => warn!(error = %e, "IMEI binding records not encodable"),
            Err(CardWrite::Refused(sw)) => {
                info!(
                    slot,
                    sw = format_args!("{sw:04X}"),
                    "the card does not keep IMEI binding records: the modem keeps them"
                );
                if let Some(b) = self.binding.as_mut() {
                    b.no_vendor.insert(slot);
                }
            }
        }
    }

    /// The cards' lifecycle events of slot index `i`.
    pub(crate) fn binding_lifecycle(&mut self, i: usize, events: &[LifecycleEvent]) {
        if self.binding.is_none() || events.is_empty() {
            return;
        }
        let slot = (i + 1) as u8;
        let spns: Vec<Option<String>> = events
            .iter()
            .map(|e| match e {
                LifecycleEvent::Installed { iccid } | LifecycleEvent::Enabled { iccid } => self
                    .slots
                    .get(i)
                    .and_then(|s| s.card.as_ref())
                    .and_then(Card::veuicc)
                    .and_then(|c| {
                        c.state()
                            .profile(&ProfileId::Iccid(iccid.clone()))
                            .map(|p| p.service_provider_name.clone())
                    })
                    .filter(|s| !s.is_empty()),
                _ => None,
            })
            .collect();
        let Some(b) = self.binding.as_mut() else {
            return;
        };
        let now = b.clock.now();
        let mut fx = Effects::default();
        for (e, spn) in events.iter().zip(spns) {
            let spn = spn.as_deref();
            match e {
                LifecycleEvent::Installed { iccid } => {
                    let hint = b.hints.remove(&slot);
                    fx.merge(
                        b.engine
                            .installed(slot, &digits(iccid), spn, hint.as_ref(), now),
                    );
                }
                LifecycleEvent::Enabled { iccid } => {
                    fx.merge(b.engine.enabled(slot, &digits(iccid), spn, now));
                }
                LifecycleEvent::Disabled { iccid } => {
                    fx.merge(b.engine.disabled(slot, &digits(iccid), now));
                }
                LifecycleEvent::Deleted { iccid } => {
                    fx.merge(b.engine.deleted(&digits(iccid), now));
                }
            }
        }
        self.binding_apply(fx);
    }

    /// Looks at an APDU an LPA sends to the active card (the DeviceInfo IMEI of a download).
    pub(crate) fn binding_snoop(&mut self, apdu: &[u8]) {
        let slot = self.active_slot();
        if let Some(b) = self.binding.as_mut() {
            if let Some(imei) = b.snoop.see(apdu) {
                debug!("DeviceInfo IMEI seen in AuthenticateServer");
                b.hints.insert(slot, imei);
            }
        }
    }

    /// What slot index `i` holds changes (insert, removal): its previous enabled profile
    /// `was` stops being active, the new card is scanned.
    pub(crate) fn binding_card_changed(&mut self, i: usize, was: Option<String>) {
        let slot = (i + 1) as u8;
        let mut fx = Effects::default();
        if let Some(b) = self.binding.as_mut() {
            b.no_vendor.remove(&slot);
            if let Some(iccid) = was {
                let now = b.clock.now();
                fx.merge(b.engine.disabled(slot, &iccid, now));
            }
        }
        fx.merge(self.binding_scan_slot(i));
        self.binding_apply(fx);
    }

    /// The enabled profile of slot index `i` (for hot-swap hooks).
    pub(crate) fn binding_slot_profile(&self, i: usize) -> Option<String> {
        self.binding.as_ref()?;
        self.slot_enabled(i).map(|(iccid, _)| iccid)
    }

    /// The active SIM was (re-)read: a PC/SC card's profile becomes known.
    pub(crate) fn binding_sim_read(&mut self) {
        let i = self.active;
        if self.binding.is_none()
            || !matches!(
                self.slots.get(i).and_then(|s| s.card.as_ref()),
                Some(Card::Pcsc(_))
            )
        {
            return;
        }
        let fx = self.binding_scan_slot(i);
        self.binding_apply(fx);
    }

    /// IMEI `old` was rewritten to `new` (`+EGMR`, `+SIMEI`, `set_imei`).
    pub(crate) fn binding_imei_written(&mut self, old: &Imei, new: &Imei) {
        let Some(b) = self.binding.as_mut() else {
            return;
        };
        b.engine.set_base(base_pool(&self.imeis, &b.extra));
        let now = b.clock.now();
        let fx = b.engine.replace_imei(old, new, now);
        self.binding_apply(fx);
    }

    /// Collects the assignment server's answers; when to look again.
    pub(crate) fn poll_binding(&mut self, now: Instant) -> Option<Instant> {
        let b = self.binding.as_mut()?;
        let src = b.source.as_mut()?;
        let answers = src.take_results();
        let again = src.in_flight().then(|| now + POLL_INTERVAL);
        if answers.is_empty() {
            return again;
        }
        let t = b.clock.now();
        let mut fx = Effects::default();
        for (iccid, r) in answers {
            match &r {
                Ok(imei) => info!(%iccid, %imei, "IMEI assigned by the server"),
                Err(e) => warn!(%iccid, error = %e, "no IMEI from the assignment server"),
            }
            fx.merge(b.engine.assignment(&iccid, r, t));
        }
        self.binding_apply(fx);
        again
    }

    // --- control plane and status --------------------------------------------------------

    /// The binding engine, if switched on.
    pub fn binding(&self) -> Option<&Engine> {
        self.binding.as_ref().map(|b| &b.engine)
    }

    /// Uses `clock` for history entries (tests).
    pub fn set_binding_clock(&mut self, clock: UnixClock) {
        if let Some(b) = self.binding.as_mut() {
            b.clock = clock;
        }
    }

    /// Uses `source` for new IMEIs instead of the configured server (tests).
    pub fn set_imei_source(&mut self, source: Box<dyn ImeiSource>) {
        if let Some(b) = self.binding.as_mut() {
            b.engine.set_can_assign(true);
            b.server = Some(format!("{source:?}"));
            b.source = Some(source);
        }
    }

    /// Sets (or clears) a profile's policy.
    pub fn set_binding_policy(
        &mut self,
        iccid: &str,
        policy: Option<vendor::BindingPolicy>,
    ) -> Result<(), String> {
        if iccid_to_ef(iccid).is_none() {
            return Err(format!("{iccid:?} is not an ICCID (up to 20 digits)"));
        }
        let b = self
            .binding
            .as_mut()
            .ok_or("the IMEI binding is switched off ([modem.binding] enabled = false)")?;
        let now = b.clock.now();
        let fx = b.engine.set_policy(iccid, policy, now);
        self.binding_apply(fx);
        Ok(())
    }

    /// Sets (or with `None` removes) the assignment server; persisted.
    pub fn set_assignment_server(
        &mut self,
        url: Option<&str>,
        ca: Option<std::path::PathBuf>,
    ) -> Result<(), String> {
        let b = self
            .binding
            .as_mut()
            .ok_or("the IMEI binding is switched off ([modem.binding] enabled = false)")?;
        match url {
            Some(u) => {
                if let Some(c) = &ca {
                    if !c.is_file() {
                        return Err(format!("CA file {} not found", c.display()));
                    }
                }
                let src = HttpsSource::new(u, ca.clone())?;
                b.server = Some(src.url().to_string());
                b.engine.record_mut().server = Some(ServerSetting {
                    url: src.url().to_string(),
                    ca,
                });
                b.source = Some(Box::new(src));
                b.engine.set_can_assign(true);
            }
            None => {
                b.engine.record_mut().server = None;
                b.source = None;
                b.server = None;
                b.engine.set_can_assign(false);
            }
        }
        self.binding_apply(Effects {
            dirty: true,
            ..Effects::default()
        });
        Ok(())
    }

    /// The bindings as JSON (status, `imei_binding` control request), optionally one profile.
    pub fn binding_json(&self, iccid: Option<&str>) -> Result<Value, String> {
        let Some(b) = self.binding.as_ref() else {
            return Ok(json!({ "enabled": false }));
        };
        let e = &b.engine;
        if let Some(i) = iccid {
            if !e.record().profiles.contains_key(i) {
                return Err(format!("no IMEI binding for ICCID {i}"));
            }
        }
        let profiles: Vec<Value> = e
            .record()
            .profiles
            .iter()
            .filter(|(k, _)| iccid.is_none_or(|i| i == k.as_str()))
            .map(|(k, p)| {
                json!({
                    "iccid": k,
                    "status": e.status(k).map(Status::name),
                    "policy": e.policy_of(k).name(),
                    "imei": p.imei.as_ref().map(Imei::as_str),
                    "installed": p.installed,
                    "slot": p.slot,
                    "active_slot": e.active_slot(k),
                    "spn": p.spn,
                    "history": p.history.iter().map(|h| json!({
                        "imei": h.imei.as_str(), "time": h.time, "event": h.event.name(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let slots: Vec<Value> = (1..=self.slots.len() as u8)
            .map(|s| {
                json!({
                    "slot": s,
                    "iccid": e.active().get(&s),
                    "imei": self.imei_for_slot(s).as_str(),
                    "bound": e.reported(s).is_some(),
                })
            })
            .collect();
        Ok(json!({
            "enabled": true,
            "device_id": e.record().device_id,
            "default_policy": e.settings().default_policy.unwrap_or(vendor::BindingPolicy::Shareable).name(),
            "exclusive_scope": e.settings().scope,
            "pool": e.pool().iter().map(Imei::as_str).collect::<Vec<_>>(),
            "assigned": e.record().assigned.iter().map(Imei::as_str).collect::<Vec<_>>(),
            "server": b.server,
            "cards_without_records": b.no_vendor,
            "slots": slots,
            "profiles": profiles,
        }))
    }

    /// `AT+VIMEIBIND?` lines: one per profile the engine knows.
    pub fn binding_lines(&self) -> Option<Vec<String>> {
        let e = self.binding()?;
        Some(
            e.record()
                .profiles
                .keys()
                .map(|k| status_line(e, k))
                .collect(),
        )
    }

    /// `AT+VIMEIBIND="<iccid>"` lines: the history, oldest first (`None`: unknown ICCID).
    pub fn binding_history_lines(&self, iccid: &str) -> Option<Vec<String>> {
        let p = self.binding()?.record().profiles.get(iccid)?;
        Some(
            p.history
                .iter()
                .enumerate()
                .map(|(n, h)| {
                    format!(
                        "+VIMEIBIND: \"{iccid}\",{},\"{}\",{},\"{}\"",
                        n + 1,
                        h.imei,
                        h.time,
                        h.event.name()
                    )
                })
                .collect(),
        )
    }
}
