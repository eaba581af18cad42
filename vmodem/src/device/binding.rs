//! The IMEI binding engine (issue 5, flow 1): which IMEI each profile (by ICCID, pSIM or eSIM)
//! is bound to, its history, and the per-subscription policy. Sans-IO: lifecycle changes come
//! in with the time (Unix seconds); the engine answers what changed ([`Effects`]): records to
//! persist and to write to the card, ICCIDs to ask the IMEI assignment server about, and status
//! changes to announce. The device glue ([`glue`]) feeds it from the cards' lifecycle events,
//! SIM insertion and removal, and the control plane; [`assign`] talks to the server on its own
//! thread; [`snoop`] finds the IMEI an LPA sent in AuthenticateServer through this modem.
//!
//! # Rules (docs/vmodem.md, "IMEI binding")
//!
//! - The device's *pool*: IMEI1, IMEI2, the configured extra IMEIs, and every IMEI the
//!   assignment server gave it (persisted).
//! - A profile is *active* while it is the enabled profile of a slot's card (every slot with a
//!   card is a stack with its own IMEI: DSDS), *installed* while it exists (a pSIM stays installed
//!   when removed from its slot; an eSIM until deleted).
//! - A profile keeps its *binding* (the IMEI it was last given) while installed, enabled or not;
//!   deleting it releases the binding but keeps its history.
//! - *Conflict*: IMEI X cannot be bound to profile P if another profile Q is bound to X and P or
//!   Q is exclusive, where Q counts when it is installed (`exclusive_scope = "installed"`, the
//!   default: an exclusive subscription's IMEI is reserved for it until it is deleted) or only
//!   when it is active (`"active"`: exclusive profiles never share an IMEI *at the same time*).
//!   Shareable profiles share IMEIs with other shareable ones.
//! - On install and enable the profile P of slot s is (re-)evaluated, first match wins:
//!   1. its most recently used IMEI (its binding, else the newest history entry), if in the pool
//!      and not in conflict;
//!   2. on install: the IMEI in the DeviceInfo of the download that installed it (seen in
//!      AuthenticateServer through this modem), if in the pool and not in conflict;
//!   3. a pool IMEI no other installed profile is bound to (s's own IMEI first: IMEI1 for slot
//!      1, IMEI2 for the others);
//!   4. a pool IMEI not in conflict (sharing), s's own first;
//!   5. a new IMEI from the assignment server, if one is configured (status `pending` until it
//!      answers; then bound, or `unbound` if it failed);
//!   6. none: status `unbound`. The profile is enabled all the same; the modem announces it
//!      (URC `+VIMEIBIND`) and reports its slot's own IMEI meanwhile.
//! - Disable and delete add a history entry; delete releases the binding.
//! - A policy change re-evaluates an installed profile whose binding now conflicts; an IMEI write
//!   (`+EGMR`, `set_imei`) moves the bindings of the old IMEI to the new one (event `assigned`).

pub mod assign;
pub mod glue;
pub mod snoop;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
pub use veuicc::isdr::vendor::{BindingEvent, BindingPolicy, BindingStatus};

use super::imei::Imei;

/// The format version of [`BindingRecord`].
pub const BINDING_FORMAT_VERSION: u32 = 1;

/// History entries kept per profile (older ones are dropped first).
pub const MAX_HISTORY: usize = 32;

/// Which other profiles an exclusive binding is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExclusiveScope {
    /// Every installed profile (an exclusive IMEI stays reserved while its profile exists).
    #[default]
    Installed,
    /// Only active profiles (enabled in some slot).
    Active,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub imei: Imei,
    /// Unix seconds.
    pub time: u64,
    pub event: BindingEvent,
}

/// What the engine knows about one profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileBinding {
    /// The IMEI the profile is bound to.
    pub imei: Option<Imei>,
    /// The profile exists (on a card, or a pSIM out of its slot).
    pub installed: bool,
    /// The slot (1-based) whose card holds the profile, as last seen.
    pub slot: Option<u8>,
    /// Service provider name (profile metadata or EF.SPN), for `spn_policies`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spn: Option<String>,
    /// Oldest first, at most [`MAX_HISTORY`].
    pub history: Vec<Entry>,
}

/// The assignment server as set at run time (`set_assignment_server`), persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSetting {
    pub url: String,
    pub ca: Option<std::path::PathBuf>,
}

/// The engine's persistent state: one versioned JSON record in the modem's sled store
/// (`Meta/imei-binding`), frozen by `vmodem/tests/golden/imei_binding_record.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRecord {
    pub version: u32,
    /// Who the device is to the assignment server.
    pub device_id: String,
    /// By ICCID (digits).
    pub profiles: BTreeMap<String, ProfileBinding>,
    /// IMEIs the assignment server gave this device (part of the pool).
    pub assigned: Vec<Imei>,
    /// Policies set through the control plane (they win over the configuration).
    pub policies: BTreeMap<String, BindingPolicy>,
    /// The assignment server set through the control plane (wins over the configuration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerSetting>,
}

impl BindingRecord {
    /// An empty record for `device_id`.
    pub fn new(device_id: &str) -> BindingRecord {
        BindingRecord {
            version: BINDING_FORMAT_VERSION,
            device_id: device_id.to_string(),
            profiles: BTreeMap::new(),
            assigned: Vec::new(),
            policies: BTreeMap::new(),
            server: None,
        }
    }
}

/// The policy sources of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub default_policy: Option<BindingPolicy>,
    /// By ICCID digits.
    pub policies: BTreeMap<String, BindingPolicy>,
    /// By service provider name (exact match).
    pub spn_policies: BTreeMap<String, BindingPolicy>,
    pub scope: ExclusiveScope,
}

/// A profile's binding as shown to people and written to the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Bound,
    Unbound,
    /// Waiting for the assignment server.
    Pending,
    /// Deleted (history only).
    Released,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Bound => "bound",
            Status::Unbound => "unbound",
            Status::Pending => "pending",
            Status::Released => "released",
        }
    }
}

/// A status change of an active profile worth a URC: it became unbound or pending, or a pending
/// assignment resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub iccid: String,
    pub slot: u8,
}

/// What an input changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Profiles whose record changed (persist; write to their card).
    pub changed: BTreeSet<String>,
    /// Something else of the record changed (pool, policies): persist.
    pub dirty: bool,
    /// Ask the assignment server for an IMEI for these profiles.
    pub assign: Vec<String>,
    /// Announce these profiles' status.
    pub notices: Vec<Notice>,
}

impl Effects {
    pub fn merge(&mut self, other: Effects) {
        self.changed.extend(other.changed);
        self.dirty |= other.dirty;
        self.assign.extend(other.assign);
        self.notices.extend(other.notices);
    }

    /// Whether the record must be written.
    pub fn persist(&self) -> bool {
        self.dirty || !self.changed.is_empty()
    }
}

enum Choice {
    Imei(Imei),
    Server,
    Nothing,
}

/// The engine.
#[derive(Debug, Clone)]
pub struct Engine {
    settings: Settings,
    /// IMEI1, IMEI2, the configured extra IMEIs.
    base: Vec<Imei>,
    record: BindingRecord,
    /// Slot (1-based) → the ICCID of its enabled profile.
    active: BTreeMap<u8, String>,
    pending: BTreeSet<String>,
    can_assign: bool,
}

impl Engine {
    /// An engine over `record`; `base` is IMEI1, IMEI2 and the configured extra IMEIs (IMEI1
    /// first); `can_assign`: an assignment server is configured.
    pub fn new(
        settings: Settings,
        base: Vec<Imei>,
        record: BindingRecord,
        can_assign: bool,
    ) -> Engine {
        Engine {
            settings,
            base,
            record,
            active: BTreeMap::new(),
            pending: BTreeSet::new(),
            can_assign,
        }
    }

    pub fn record(&self) -> &BindingRecord {
        &self.record
    }

    pub fn record_mut(&mut self) -> &mut BindingRecord {
        &mut self.record
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Slot → ICCID of the active profiles.
    pub fn active(&self) -> &BTreeMap<u8, String> {
        &self.active
    }

    pub fn set_can_assign(&mut self, yes: bool) {
        self.can_assign = yes;
    }

    pub fn can_assign(&self) -> bool {
        self.can_assign
    }

    /// Replaces IMEI1/IMEI2/extra IMEIs (after an IMEI write).
    pub fn set_base(&mut self, base: Vec<Imei>) {
        self.base = base;
    }

    /// The pool: the device's own IMEIs, then the assigned ones.
    pub fn pool(&self) -> Vec<Imei> {
        let mut out = self.base.clone();
        for a in &self.record.assigned {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    fn in_pool(&self, imei: &Imei) -> bool {
        self.base.contains(imei) || self.record.assigned.contains(imei)
    }

    /// The pool with slot `slot`'s own IMEI first.
    fn pool_for(&self, slot: u8) -> Vec<Imei> {
        let mut pool = self.pool();
        let own = if slot <= 1 { 0 } else { 1 };
        if own < pool.len() {
            let x = pool.remove(own);
            pool.insert(0, x);
        }
        pool
    }

    /// The effective policy of a profile: control plane, then configuration by ICCID, then by
    /// SPN, then the default (shareable).
    pub fn policy_of(&self, iccid: &str) -> BindingPolicy {
        if let Some(p) = self.record.policies.get(iccid) {
            return *p;
        }
        if let Some(p) = self.settings.policies.get(iccid) {
            return *p;
        }
        let spn = self
            .record
            .profiles
            .get(iccid)
            .and_then(|b| b.spn.as_deref());
        if let Some(p) = spn.and_then(|s| self.settings.spn_policies.get(s)) {
            return *p;
        }
        self.settings
            .default_policy
            .unwrap_or(BindingPolicy::Shareable)
    }

    pub fn is_active(&self, iccid: &str) -> bool {
        self.active.values().any(|a| a == iccid)
    }

    /// The slot a profile is active in.
    pub fn active_slot(&self, iccid: &str) -> Option<u8> {
        self.active
            .iter()
            .find(|(_, a)| a.as_str() == iccid)
            .map(|(s, _)| *s)
    }

    pub fn status(&self, iccid: &str) -> Option<Status> {
        let b = self.record.profiles.get(iccid)?;
        Some(if !b.installed {
            Status::Released
        } else if b.imei.is_some() {
            Status::Bound
        } else if self.pending.contains(iccid) {
            Status::Pending
        } else {
            Status::Unbound
        })
    }

    /// The IMEI the stack of `slot` reports: the binding of its active profile, if bound.
    pub fn reported(&self, slot: u8) -> Option<&Imei> {
        let iccid = self.active.get(&slot)?;
        let b = self.record.profiles.get(iccid)?;
        b.installed.then_some(b.imei.as_ref()).flatten()
    }

    /// Whether binding `imei` to `iccid` conflicts with another profile's binding.
    pub fn conflicts(&self, iccid: &str, imei: &Imei) -> bool {
        let p_excl = self.policy_of(iccid) == BindingPolicy::Exclusive;
        self.record.profiles.iter().any(|(q, b)| {
            q != iccid
                && b.installed
                && b.imei.as_ref() == Some(imei)
                && (p_excl || self.policy_of(q) == BindingPolicy::Exclusive)
                && (self.settings.scope == ExclusiveScope::Installed || self.is_active(q))
        })
    }

    fn unused(&self, iccid: &str, imei: &Imei) -> bool {
        !self
            .record
            .profiles
            .iter()
            .any(|(q, b)| q != iccid && b.installed && b.imei.as_ref() == Some(imei))
    }

    fn choose(&self, iccid: &str, slot: u8, hint: Option<&Imei>) -> Choice {
        let recent = self.record.profiles.get(iccid).and_then(|b| {
            b.imei
                .clone()
                .or_else(|| b.history.last().map(|e| e.imei.clone()))
        });
        for candidate in [recent.as_ref(), hint].into_iter().flatten() {
            if self.in_pool(candidate) && !self.conflicts(iccid, candidate) {
                return Choice::Imei(candidate.clone());
            }
        }
        let pool = self.pool_for(slot);
        if let Some(x) = pool.iter().find(|x| self.unused(iccid, x)) {
            return Choice::Imei(x.clone());
        }
        if let Some(x) = pool.iter().find(|x| !self.conflicts(iccid, x)) {
            return Choice::Imei(x.clone());
        }
        if self.can_assign {
            return Choice::Server;
        }
        Choice::Nothing
    }

    fn entry(&mut self, iccid: &str, imei: &Imei, event: BindingEvent, now: u64) {
        let b = self.record.profiles.entry(iccid.to_string()).or_default();
        b.history.push(Entry {
            imei: imei.clone(),
            time: now,
            event,
        });
        let over = b.history.len().saturating_sub(MAX_HISTORY);
        if over > 0 {
            b.history.drain(..over);
        }
    }

    /// (Re-)evaluates `iccid` and records `event` with the IMEI chosen.
    fn evaluate(
        &mut self,
        iccid: &str,
        slot: u8,
        hint: Option<&Imei>,
        event: BindingEvent,
        now: u64,
    ) -> Effects {
        let mut fx = Effects::default();
        let before = self.status(iccid);
        match self.choose(iccid, slot, hint) {
            Choice::Imei(x) => {
                self.pending.remove(iccid);
                let b = self.record.profiles.entry(iccid.to_string()).or_default();
                b.imei = Some(x.clone());
                self.entry(iccid, &x, event, now);
                if before == Some(Status::Pending) || before == Some(Status::Unbound) {
                    self.notice(iccid, &mut fx);
                }
            }
            Choice::Server => {
                if let Some(b) = self.record.profiles.get_mut(iccid) {
                    b.imei = None;
                }
                if self.pending.insert(iccid.to_string()) {
                    fx.assign.push(iccid.to_string());
                }
                self.notice(iccid, &mut fx);
            }
            Choice::Nothing => {
                self.pending.remove(iccid);
                if let Some(b) = self.record.profiles.get_mut(iccid) {
                    b.imei = None;
                }
                self.notice(iccid, &mut fx);
            }
        }
        fx.changed.insert(iccid.to_string());
        fx
    }

    fn notice(&self, iccid: &str, fx: &mut Effects) {
        if let Some(slot) = self.active_slot(iccid) {
            fx.notices.push(Notice {
                iccid: iccid.to_string(),
                slot,
            });
        }
    }

    fn mark_installed(&mut self, slot: u8, iccid: &str, spn: Option<&str>) {
        let b = self.record.profiles.entry(iccid.to_string()).or_default();
        b.installed = true;
        b.slot = Some(slot);
        if let Some(s) = spn {
            b.spn = Some(s.to_string());
        }
    }

    /// A profile was installed on the card of `slot` (downloaded, seeded, or a card seen for the
    /// first time); `hint` is the IMEI of its download's DeviceInfo.
    pub fn installed(
        &mut self,
        slot: u8,
        iccid: &str,
        spn: Option<&str>,
        hint: Option<&Imei>,
        now: u64,
    ) -> Effects {
        self.mark_installed(slot, iccid, spn);
        self.evaluate(iccid, slot, hint, BindingEvent::Installed, now)
    }

    /// The profile became the enabled one of `slot`.
    pub fn enabled(&mut self, slot: u8, iccid: &str, spn: Option<&str>, now: u64) -> Effects {
        let mut fx = Effects::default();
        if !self.record.profiles.get(iccid).is_some_and(|b| b.installed) {
            fx.merge(self.installed(slot, iccid, spn, None, now));
        } else {
            self.mark_installed(slot, iccid, spn);
        }
        // Another profile active in this slot before (no disable seen) stops being active.
        self.active.insert(slot, iccid.to_string());
        fx.merge(self.evaluate(iccid, slot, None, BindingEvent::Enabled, now));
        fx
    }

    /// The profile stopped being the enabled one of `slot` (disabled, or its card removed).
    pub fn disabled(&mut self, slot: u8, iccid: &str, now: u64) -> Effects {
        let mut fx = Effects::default();
        if self.active.get(&slot).map(String::as_str) == Some(iccid) {
            self.active.remove(&slot);
        }
        if self.pending.remove(iccid) {
            fx.changed.insert(iccid.to_string());
        }
        let imei = self.record.profiles.get(iccid).and_then(|b| b.imei.clone());
        if let Some(x) = imei {
            self.entry(iccid, &x, BindingEvent::Disabled, now);
            fx.changed.insert(iccid.to_string());
        }
        fx
    }

    /// The profile was deleted: its binding is released, its history kept.
    pub fn deleted(&mut self, iccid: &str, now: u64) -> Effects {
        let mut fx = Effects::default();
        self.active.retain(|_, a| a != iccid);
        self.pending.remove(iccid);
        let Some(imei) = self.record.profiles.get(iccid).map(|b| b.imei.clone()) else {
            return fx;
        };
        if let Some(x) = imei {
            self.entry(iccid, &x, BindingEvent::Deleted, now);
        }
        if let Some(b) = self.record.profiles.get_mut(iccid) {
            b.imei = None;
            b.installed = false;
        }
        fx.changed.insert(iccid.to_string());
        fx
    }

    /// `iccid` is the enabled profile of `slot` as found at start or when a card is (re)read:
    /// nothing is recorded if it is installed, bound without conflict and was last recorded
    /// enabled (a restart); otherwise as [`Engine::enabled`] (a card inserted again, a profile
    /// seen for the first time).
    pub fn restore(&mut self, slot: u8, iccid: &str, spn: Option<&str>, now: u64) -> Effects {
        let settled = self.record.profiles.get(iccid).is_some_and(|b| {
            b.installed
                && b.imei.as_ref().is_some_and(|x| !self.conflicts(iccid, x))
                && b.history.last().map(|e| e.event) != Some(BindingEvent::Disabled)
        });
        if !settled || self.pending.contains(iccid) {
            return self.enabled(slot, iccid, spn, now);
        }
        self.mark_installed(slot, iccid, spn);
        if self.active.get(&slot).map(String::as_str) != Some(iccid) {
            self.active.insert(slot, iccid.to_string());
        }
        Effects::default()
    }

    /// The assignment server answered for `iccid`.
    pub fn assignment(&mut self, iccid: &str, result: Result<Imei, String>, now: u64) -> Effects {
        let mut fx = Effects::default();
        let was_pending = self.pending.remove(iccid);
        let imei = match result {
            Ok(x) => x,
            Err(_) => {
                if was_pending {
                    fx.changed.insert(iccid.to_string());
                    self.notice(iccid, &mut fx);
                }
                return fx;
            }
        };
        if !self.in_pool(&imei) {
            self.record.assigned.push(imei.clone());
            fx.dirty = true;
        }
        let needs = self
            .record
            .profiles
            .get(iccid)
            .is_some_and(|b| b.installed && b.imei.is_none());
        if needs && !self.conflicts(iccid, &imei) {
            if let Some(b) = self.record.profiles.get_mut(iccid) {
                b.imei = Some(imei.clone());
            }
            self.entry(iccid, &imei, BindingEvent::Assigned, now);
            fx.changed.insert(iccid.to_string());
        }
        if was_pending {
            fx.changed.insert(iccid.to_string());
            self.notice(iccid, &mut fx);
        }
        fx
    }

    /// Sets (or with `None` clears) the control-plane policy of a profile; a bound installed
    /// profile whose binding now conflicts is re-evaluated.
    pub fn set_policy(&mut self, iccid: &str, policy: Option<BindingPolicy>, now: u64) -> Effects {
        let mut fx = Effects {
            dirty: true,
            ..Effects::default()
        };
        match policy {
            Some(p) => self.record.policies.insert(iccid.to_string(), p),
            None => self.record.policies.remove(iccid),
        };
        let Some(b) = self.record.profiles.get(iccid) else {
            return fx;
        };
        if !b.installed {
            return fx;
        }
        fx.changed.insert(iccid.to_string());
        let conflict = b.imei.as_ref().is_some_and(|x| self.conflicts(iccid, x));
        if conflict {
            let slot = self.active_slot(iccid).or(b.slot).unwrap_or(1);
            if let Some(b) = self.record.profiles.get_mut(iccid) {
                // Forget the current binding so that the choice starts afresh.
                b.imei = None;
            }
            fx.merge(self.evaluate_without_recall(iccid, slot, now));
        }
        fx
    }

    /// Evaluates ignoring the profile's recent IMEIs (they conflict now).
    fn evaluate_without_recall(&mut self, iccid: &str, slot: u8, now: u64) -> Effects {
        let saved = self
            .record
            .profiles
            .get_mut(iccid)
            .map(|b| std::mem::take(&mut b.history));
        let mut fx = self.evaluate(iccid, slot, None, BindingEvent::Assigned, now);
        if let (Some(mut old), Some(b)) = (saved, self.record.profiles.get_mut(iccid)) {
            old.append(&mut b.history);
            let over = old.len().saturating_sub(MAX_HISTORY);
            old.drain(..over);
            b.history = old;
        }
        fx.changed.insert(iccid.to_string());
        fx
    }

    /// IMEI `old` of the device was rewritten to `new`: the profiles bound to `old` are bound
    /// to `new` (event `assigned`).
    pub fn replace_imei(&mut self, old: &Imei, new: &Imei, now: u64) -> Effects {
        let mut fx = Effects::default();
        if old == new {
            return fx;
        }
        let moved: Vec<String> = self
            .record
            .profiles
            .iter()
            .filter(|(_, b)| b.installed && b.imei.as_ref() == Some(old))
            .map(|(k, _)| k.clone())
            .collect();
        for iccid in moved {
            if let Some(b) = self.record.profiles.get_mut(&iccid) {
                b.imei = Some(new.clone());
            }
            self.entry(&iccid, new, BindingEvent::Assigned, now);
            fx.changed.insert(iccid);
        }
        fx
    }

    /// The card-side record of a profile (the vendor ES10 extension's layout), or `None` if
    /// the engine does not know it, it is deleted, or an ICCID that is not digits.
    pub fn card_record(&self, iccid: &str) -> Option<veuicc::isdr::vendor::ImeiBindingRecord> {
        use veuicc::isdr::vendor::{BindingEntry, ImeiBindingRecord};
        let b = self.record.profiles.get(iccid)?;
        let status = match self.status(iccid)? {
            Status::Bound => BindingStatus::Bound,
            Status::Unbound => BindingStatus::Unbound,
            Status::Pending => BindingStatus::Pending,
            Status::Released => return None,
        };
        let ef = super::iccid_to_ef(iccid)?;
        // The card keeps at most 64 entries; the engine keeps fewer.
        Some(ImeiBindingRecord {
            version: veuicc::euicc::records::FORMAT_VERSION,
            iccid: ef,
            policy: self.policy_of(iccid),
            status,
            imei: b.imei.as_ref().map(|i| i.as_str().to_string()),
            history: b
                .history
                .iter()
                .map(|e| BindingEntry {
                    imei: e.imei.as_str().to_string(),
                    time: e.time,
                    event: e.event,
                })
                .collect(),
        })
    }
}
