//! Control-plane operations on the device: scripted registration and signal, operator and
//! network settings, HSS subscribers, SIM hot-swap and slot selection, eUICC profiles (seeded,
//! or enabled/disabled through the ISD-R as an LPA would).

use std::time::Instant;

use veuicc::euicc::ISDR_AID;

use super::aka::Subscriber;
use super::network::{self, stat, RegPhase, Timing};
use super::sim;
use super::slots::Card;
use super::{DevEvent, Device, SimEvent, SimState};
use crate::config::SlotConfig;
use crate::control::Domain;

impl Device {
    // --- control plane ------------------------------------------------------------------

    /// Scripted registration of one domain (or all) with optional location.
    pub fn set_registration(
        &mut self,
        domain: Option<Domain>,
        s: u8,
        tac: Option<String>,
        ci: Option<String>,
        act: Option<u8>,
    ) -> Result<(), String> {
        if s > 11 {
            return Err(format!("<stat> {s} is not a 27.007 registration state"));
        }
        for (v, what) in [(&tac, "tac"), (&ci, "ci")] {
            if let Some(v) = v {
                if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("{what} must be hex digits, not {v:?}"));
                }
            }
        }
        if let Some(a) = act {
            if a > 13 {
                return Err(format!("<AcT> {a} is out of range"));
            }
            self.net.radio.act = a;
        }
        if let Some(t) = tac {
            self.net.radio.tac = t.to_ascii_uppercase();
        }
        if let Some(c) = ci {
            self.net.radio.ci = c.to_ascii_uppercase();
        }
        self.net.phase = RegPhase::Idle;
        let domains: Vec<Domain> = match domain {
            Some(d) => vec![d],
            None => network::DOMAINS.to_vec(),
        };
        let cause = (s == stat::DENIED).then_some(3);
        // A location change is reported even when <stat> stays (TS 27.007 §7.2, n=2).
        let before = self.net.registered();
        let had_ps = self.net.ps_registered();
        for d in &domains {
            let changed = !self.net.set(&[*d], s, cause).is_empty();
            if changed || act.is_some() {
                self.push_event(DevEvent::Registration {
                    domain: *d,
                    stat: s,
                    cause,
                });
            }
        }
        if before != self.net.registered() {
            self.push_event(DevEvent::Indicators);
        }
        if !self.net.ps_registered() {
            // No packet service: the network releases data calls and contexts.
            self.release_pdp(had_ps);
        }
        self.save_logged();
        Ok(())
    }

    pub fn set_signal(&mut self, rssi: u8, ber: Option<u8>) -> Result<(), String> {
        if rssi > 31 && rssi != 99 {
            return Err(format!("rssi {rssi} is not 0..31 or 99"));
        }
        if let Some(b) = ber {
            if b > 7 && b != 99 {
                return Err(format!("ber {b} is not 0..7 or 99"));
            }
            self.net.radio.ber = b;
        }
        self.net.radio.rssi = rssi;
        self.push_event(DevEvent::Indicators);
        self.save_logged();
        Ok(())
    }

    pub fn set_operator(&mut self, name: &str) {
        self.net.radio.operator_name = (!name.is_empty()).then(|| name.to_string());
        self.save_logged();
    }

    /// Network settings from the control plane.
    pub fn set_network(
        &mut self,
        roaming: Option<bool>,
        accept_unknown: Option<bool>,
        auto_register: Option<bool>,
        plmn: Option<String>,
        timing: Option<Timing>,
    ) -> Result<(), String> {
        if let Some(p) = &plmn {
            if !p.is_empty()
                && (!(5..=6).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(format!("a PLMN is 5 or 6 digits, not {p:?}"));
            }
            self.net.radio.plmn = (!p.is_empty()).then(|| p.clone());
        }
        if let Some(r) = roaming {
            self.net.radio.roaming = r;
        }
        if let Some(a) = accept_unknown {
            self.net.radio.accept_unknown = a;
        }
        if let Some(a) = auto_register {
            self.net.radio.auto_register = a;
        }
        if let Some(t) = timing {
            self.net.timing = t;
        }
        self.save_logged();
        Ok(())
    }

    /// Sets (or replaces) a subscriber of the HSS; persisted.
    pub fn set_subscriber(&mut self, s: Subscriber) -> Result<(), String> {
        s.validate().map_err(|e| e.to_string())?;
        self.overrides.retain(|o| o.imsi != s.imsi);
        self.overrides.push(s.clone());
        self.hss.put(s);
        self.save_logged();
        Ok(())
    }

    /// Removes a subscriber from the HSS (and from the persisted overrides); whether it was
    /// there.
    pub fn delete_subscriber(&mut self, imsi: &str) -> bool {
        let had = self.hss.remove(imsi).is_some();
        self.overrides.retain(|o| o.imsi != imsi);
        self.save_logged();
        had
    }

    /// Removes a card (1-based slot).
    pub fn remove_sim(&mut self, slot: u8) -> Result<(), String> {
        let i = self.slot_index(slot)?;
        let was = self.binding_slot_profile(i);
        let Some(s) = self.slots.get_mut(i) else {
            return Err(format!("no slot {slot}"));
        };
        if let Some(mut c) = s.card.take() {
            c.power_off();
        }
        s.cfg = SlotConfig::Empty;
        s.error = None;
        if i == self.active {
            self.sessions.clear();
            self.t0_pending.clear();
            self.push_event(DevEvent::Sim(SimEvent::Removed));
            self.deregister(stat::NOT_REGISTERED);
            self.net.phase = RegPhase::Idle;
            self.sim = SimState::Absent;
        }
        self.binding_card_changed(i, was);
        self.save_logged();
        Ok(())
    }

    /// Inserts a card into a slot (replacing what is there).
    pub fn insert_sim(&mut self, slot: u8, cfg: &SlotConfig, now: Instant) -> Result<(), String> {
        let i = self.slot_index(slot)?;
        let was = self.binding_slot_profile(i);
        if let Some(mut c) = self.slots.get_mut(i).and_then(|s| s.card.take()) {
            c.power_off();
        }
        let built = self.build_slot(i, cfg);
        if let Some(e) = &built.error {
            let e = e.clone();
            if let Some(s) = self.slots.get_mut(i) {
                *s = built;
            }
            self.binding_card_changed(i, was);
            return Err(e);
        }
        if let Some(s) = self.slots.get_mut(i) {
            *s = built;
        }
        if i == self.active {
            if let Some(c) = self.active_card_mut() {
                c.power_on();
            }
            self.refresh(now, false);
        }
        self.binding_card_changed(i, was);
        self.save_logged();
        Ok(())
    }

    /// Makes another slot the active one.
    pub fn select_slot(&mut self, slot: u8, now: Instant) -> Result<(), String> {
        let i = self.slot_index(slot)?;
        if i == self.active {
            return Ok(());
        }
        if let Some(c) = self.active_card_mut() {
            c.power_off();
        }
        self.sessions.clear();
        self.t0_pending.clear();
        self.active = i;
        if let Some(c) = self.active_card_mut() {
            c.power_on();
        }
        self.refresh(now, false);
        self.save_logged();
        Ok(())
    }

    fn slot_index(&self, slot: u8) -> Result<usize, String> {
        let i = usize::from(slot)
            .checked_sub(1)
            .ok_or_else(|| "slots are numbered from 1".to_string())?;
        if i >= self.slots.len() {
            return Err(format!(
                "no slot {slot} (the modem has {})",
                self.slots.len()
            ));
        }
        Ok(i)
    }

    /// The index of the slot holding the virtual eUICC (the active one first).
    fn euicc_slot(&self) -> Option<usize> {
        if matches!(
            self.slots.get(self.active).and_then(|s| s.card.as_ref()),
            Some(Card::Euicc(_))
        ) {
            return Some(self.active);
        }
        self.slots
            .iter()
            .position(|s| matches!(s.card, Some(Card::Euicc(_))))
    }

    /// Installs a profile from an unprotected SAIP package on the eUICC (test seeding; the
    /// HSS learns its credentials as if the operator had provisioned them).
    pub fn add_profile(
        &mut self,
        package: &[u8],
        enable: bool,
        now: Instant,
    ) -> Result<String, String> {
        let i = self.euicc_slot().ok_or("no slot holds the virtual eUICC")?;
        let Some(Card::Euicc(e)) = self.slots.get_mut(i).and_then(|s| s.card.as_mut()) else {
            return Err("no slot holds the virtual eUICC".into());
        };
        let opts = veuicc::euicc::SeedOptions::default();
        let iccid = e
            .state_mut()
            .seed_package(package, &opts)
            .map_err(|e| e.to_string())?;
        self.after_card_io(now);
        let digits = sim::swapped_bcd(&iccid);
        if enable {
            self.es10_profile(0xBF31, &iccid, now)?;
        }
        Ok(digits)
    }

    /// Enables (`BF31`) or disables (`BF32`) a profile through the ISD-R, as an LPA would
    /// (ES10c with refreshFlag), on a scratch channel of the eUICC.
    pub fn es10_profile(&mut self, tag: u32, iccid_ef: &[u8], now: Instant) -> Result<(), String> {
        let i = self.euicc_slot().ok_or("no slot holds the virtual eUICC")?;
        let mut inner = rsp::tlv::tlv(0xA0, &rsp::tlv::tlv(0x5A, iccid_ef));
        inner.extend(rsp::tlv::tlv(0x81, &[0xFF]));
        let req = rsp::tlv::tlv(tag, &inner);
        let Some(card) = self.slots.get_mut(i).and_then(|s| s.card.as_mut()) else {
            return Err("the eUICC is gone".into());
        };
        let r = {
            let mut s = sim::Session::open(card);
            let sel = s.select_aid(&ISDR_AID);
            if !sel.ok() {
                return Err(format!("SELECT ISD-R: {:04X}", sel.sw));
            }
            s.cmd(0x80, 0xE2, 0x91, 0x00, &req, Some(256))
        };
        self.after_card_io(now);
        if !r.ok() {
            return Err(format!("STORE DATA: {:04X}", r.sw));
        }
        let code = rsp::tlv::parse_exact(&r.data).ok().and_then(|t| {
            t.find(0x80)
                .ok()
                .flatten()
                .and_then(|c| c.value.first().copied())
        });
        match code {
            Some(0) => Ok(()),
            Some(1) => Err("profile not found (iccidOrAidNotFound)".into()),
            Some(2) => Err("profile is not in the required state".into()),
            Some(3) => Err("disallowed by policy".into()),
            Some(n) => Err(format!("eUICC result {n}")),
            None => Err(format!(
                "unexpected response {}",
                hex::encode_upper(&r.data)
            )),
        }
    }

    /// The ICCID (EF form) of the eUICC's enabled profile.
    pub fn euicc_enabled_iccid(&self) -> Option<Vec<u8>> {
        let i = self.euicc_slot()?;
        let e = self.slots.get(i)?.card.as_ref()?.veuicc()?;
        e.state().enabled_iccid().map(<[u8]>::to_vec)
    }

    /// EID of the virtual eUICC, if the modem has one.
    pub fn eid(&self) -> Option<String> {
        let i = self.euicc_slot()?;
        self.slots.get(i)?.card.as_ref()?.eid()
    }

    /// Profiles on the virtual eUICC: (ICCID digits, state, name).
    pub fn euicc_profiles(&self) -> Vec<serde_json::Value> {
        let Some(e) = self
            .euicc_slot()
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.card.as_ref())
            .and_then(Card::veuicc)
        else {
            return Vec::new();
        };
        e.state()
            .profiles()
            .map(|p| {
                serde_json::json!({
                    "iccid": sim::swapped_bcd(&p.iccid),
                    "state": format!("{:?}", p.state).to_lowercase(),
                    "name": p.profile_name,
                    "spn": p.service_provider_name,
                })
            })
            .collect()
    }
}
