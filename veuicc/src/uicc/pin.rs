//! PINs, ADM keys and PUKs of the enabled profile (ETSI TS 102 221 §9.5, §11.1.9–§11.1.13).
//!
//! PINs belong to a DF: global ones (01–08, ADM 0A–0E) to the MF, local ones (81–88) to the
//! DF/ADF whose pinCodes PE defined them. A key reference is looked up from a DF upwards, so
//! `81` in ADF.USIM is the USIM's PIN2 and `01` anywhere is the global PIN1. Verification status
//! is volatile (cleared by [`PinState::reset`]); value, enabled flag and retry counters are
//! persistent and reported as [`PinRecord`]s.

use serde::{Deserialize, Serialize};

use super::fs::{FileSystem, NodeId};
use crate::apdu::Sw;
use crate::profile::saip::ProfilePackage;
use crate::profile::secret::Secret;

/// Persistent state of one PIN (what [`super::UiccChange::Pin`] carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    pub value: Secret,
    pub enabled: bool,
    pub retries_left: u8,
}

/// One PIN or ADM key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub key_ref: u8,
    value: Secret,
    pub puk_ref: Option<u8>,
    pub attributes: u8,
    pub enabled: bool,
    pub max_attempts: u8,
    pub retries_left: u8,
    /// Volatile: verified since the last reset.
    pub verified: bool,
}

impl Pin {
    pub fn blocked(&self) -> bool {
        self.retries_left == 0
    }

    /// Whether an access condition on this key reference is met: verified, or (for PINs whose
    /// attributes allow it) disabled.
    pub fn satisfied(&self) -> bool {
        !self.blocked() && (self.verified || !self.enabled)
    }

    pub fn record(&self) -> PinRecord {
        PinRecord {
            value: self.value.clone(),
            enabled: self.enabled,
            retries_left: self.retries_left,
        }
    }

    /// Whether DISABLE PIN is allowed (SAIP pinAttributes b3, see `PinDefinition::enabled`).
    fn disable_allowed(&self) -> bool {
        self.attributes & 0x04 != 0
    }
}

/// One PUK (global).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Puk {
    pub key_ref: u8,
    value: Secret,
    pub max_attempts: u8,
    pub retries_left: u8,
}

/// Where a PIN lives: index of its set and of the PIN in the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinLoc {
    set: usize,
    idx: usize,
}

/// The PINs of one DF.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PinSet {
    owner: NodeId,
    pins: Vec<Pin>,
}

/// What a PIN command changed persistently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinEffect {
    None,
    Pin(PinLoc),
    Puk(u8),
    PinAndPuk(PinLoc, u8),
}

/// All PINs and PUKs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinState {
    sets: Vec<PinSet>,
    shares: Vec<(NodeId, NodeId)>,
    puks: Vec<Puk>,
}

/// TS 102 221 §9.5.1: PIN values are 4–8 ASCII digits padded with FF (ADM keys are free-form).
fn valid_pin_format(key_ref: u8, v: &[u8]) -> bool {
    let adm = matches!(key_ref, 0x0A..=0x0E | 0x8A..=0x8E);
    if v.len() != 8 {
        return false;
    }
    if adm {
        return true;
    }
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    digits >= 4 && v.iter().skip(digits).all(|b| *b == 0xFF)
}

impl PinState {
    /// The PINs and PUKs a package defines.
    pub fn from_package(p: &ProfilePackage) -> PinState {
        let mut s = PinState::default();
        for d in &p.pins {
            let pin = Pin {
                key_ref: d.key_ref,
                value: d.value.clone(),
                puk_ref: d.puk_ref,
                attributes: d.attributes,
                enabled: d.enabled(),
                max_attempts: d.max_attempts,
                retries_left: d.retries_left,
                verified: false,
            };
            match s.sets.iter_mut().find(|set| set.owner == d.context) {
                Some(set) => {
                    set.pins.retain(|x| x.key_ref != d.key_ref);
                    set.pins.push(pin);
                }
                None => s.sets.push(PinSet {
                    owner: d.context,
                    pins: vec![pin],
                }),
            }
        }
        s.shares = p
            .pin_shares
            .iter()
            .map(|x| (x.context, x.shares_with))
            .collect();
        s.puks = p
            .puks
            .iter()
            .map(|d| Puk {
                key_ref: d.key_ref,
                value: d.value.clone(),
                max_attempts: d.max_attempts,
                retries_left: d.retries_left,
            })
            .collect();
        s
    }

    /// Forgets every verification (card reset).
    pub fn reset(&mut self) {
        for set in &mut self.sets {
            for p in &mut set.pins {
                p.verified = false;
            }
        }
    }

    /// Finds `key_ref` from `df` upwards.
    pub fn find(&self, fs: &FileSystem, df: NodeId, key_ref: u8) -> Option<PinLoc> {
        for a in fs.ancestors(df) {
            let owner = self
                .shares
                .iter()
                .find(|(c, _)| *c == a)
                .map_or(a, |(_, t)| *t);
            for (si, set) in self.sets.iter().enumerate() {
                if set.owner != owner {
                    continue;
                }
                if let Some(pi) = set.pins.iter().position(|p| p.key_ref == key_ref) {
                    return Some(PinLoc { set: si, idx: pi });
                }
            }
        }
        None
    }

    /// Like [`PinState::find`], then, for a local key reference (81–88, 8A–8E) that the DF
    /// chain does not define, the PIN of the current application `adf`: files outside any ADF
    /// (DF.TELECOM) are protected by the selected application's local PINs (TS 102 221 §9.5.1).
    pub fn find_in_context(
        &self,
        fs: &FileSystem,
        df: NodeId,
        adf: Option<NodeId>,
        key_ref: u8,
    ) -> Option<PinLoc> {
        self.find(fs, df, key_ref).or_else(|| {
            let local = matches!(key_ref, 0x81..=0x88 | 0x8A..=0x8E);
            adf.filter(|_| local)
                .and_then(|a| self.find(fs, a, key_ref))
        })
    }

    pub fn get(&self, loc: PinLoc) -> Option<&Pin> {
        self.sets.get(loc.set)?.pins.get(loc.idx)
    }

    fn get_mut(&mut self, loc: PinLoc) -> Option<&mut Pin> {
        self.sets.get_mut(loc.set)?.pins.get_mut(loc.idx)
    }

    /// The DF a PIN belongs to.
    pub fn owner(&self, loc: PinLoc) -> Option<NodeId> {
        self.sets.get(loc.set).map(|s| s.owner)
    }

    pub fn puk(&self, key_ref: u8) -> Option<&Puk> {
        self.puks.iter().find(|p| p.key_ref == key_ref)
    }

    /// Whether the access condition "user verification with `key_ref`" holds in `df` (with
    /// `adf` the current application, see [`PinState::find_in_context`]).
    pub fn satisfied(&self, fs: &FileSystem, df: NodeId, adf: Option<NodeId>, key_ref: u8) -> bool {
        self.find_in_context(fs, df, adf, key_ref)
            .and_then(|l| self.get(l))
            .is_some_and(Pin::satisfied)
    }

    /// Compares `value` with the PIN, counting a failure (shared by VERIFY, CHANGE, ENABLE,
    /// DISABLE).
    fn check(&mut self, loc: PinLoc, value: &[u8]) -> Result<(), Sw> {
        let pin = self.get_mut(loc).ok_or(Sw::REFERENCE_NOT_FOUND)?;
        if pin.blocked() {
            return Err(Sw::AUTH_METHOD_BLOCKED);
        }
        if pin.value.ct_eq(value) {
            pin.retries_left = pin.max_attempts;
            pin.verified = true;
            Ok(())
        } else {
            pin.retries_left = pin.retries_left.saturating_sub(1);
            pin.verified = false;
            Err(Sw::retries_left(pin.retries_left))
        }
    }

    /// VERIFY PIN (TS 102 221 §11.1.9). `data` empty = status query.
    pub fn verify(&mut self, loc: PinLoc, data: &[u8]) -> (Sw, PinEffect) {
        let Some(pin) = self.get(loc) else {
            return (Sw::REFERENCE_NOT_FOUND, PinEffect::None);
        };
        if data.is_empty() {
            let sw = if pin.blocked() {
                Sw::AUTH_METHOD_BLOCKED
            } else if pin.verified || !pin.enabled {
                Sw::OK
            } else {
                Sw::retries_left(pin.retries_left)
            };
            return (sw, PinEffect::None);
        }
        if data.len() != 8 {
            return (Sw::WRONG_LENGTH, PinEffect::None);
        }
        let before = pin.retries_left;
        let r = self.check(loc, data);
        let changed = self.get(loc).is_some_and(|p| p.retries_left != before);
        let effect = if changed {
            PinEffect::Pin(loc)
        } else {
            PinEffect::None
        };
        (r.err().unwrap_or(Sw::OK), effect)
    }

    /// CHANGE PIN (§11.1.10): old ‖ new, 8 bytes each.
    pub fn change(&mut self, loc: PinLoc, data: &[u8]) -> (Sw, PinEffect) {
        let Some(pin) = self.get(loc) else {
            return (Sw::REFERENCE_NOT_FOUND, PinEffect::None);
        };
        let (Some(old), Some(new), 16) = (data.get(..8), data.get(8..16), data.len()) else {
            return (Sw::WRONG_LENGTH, PinEffect::None);
        };
        if !pin.enabled {
            return (Sw::REFERENCE_DATA_INVALIDATED, PinEffect::None);
        }
        if !valid_pin_format(pin.key_ref, new) {
            return (Sw::WRONG_DATA, PinEffect::None);
        }
        let new = new.to_vec();
        match self.check(loc, old) {
            Ok(()) => {
                if let Some(p) = self.get_mut(loc) {
                    p.value = Secret::new(new);
                }
                (Sw::OK, PinEffect::Pin(loc))
            }
            Err(sw) if sw == Sw::AUTH_METHOD_BLOCKED => (sw, PinEffect::None),
            Err(sw) => (sw, PinEffect::Pin(loc)),
        }
    }

    /// DISABLE PIN (§11.1.11, P1 = 00) and ENABLE PIN (§11.1.12).
    pub fn set_enabled(&mut self, loc: PinLoc, data: &[u8], enable: bool) -> (Sw, PinEffect) {
        let Some(pin) = self.get(loc) else {
            return (Sw::REFERENCE_NOT_FOUND, PinEffect::None);
        };
        if data.len() != 8 {
            return (Sw::WRONG_LENGTH, PinEffect::None);
        }
        if pin.enabled == enable || (!enable && !pin.disable_allowed()) {
            return (Sw::CONDITIONS_NOT_SATISFIED, PinEffect::None);
        }
        match self.check(loc, data) {
            Ok(()) => {
                if let Some(p) = self.get_mut(loc) {
                    p.enabled = enable;
                }
                (Sw::OK, PinEffect::Pin(loc))
            }
            Err(sw) if sw == Sw::AUTH_METHOD_BLOCKED => (sw, PinEffect::None),
            Err(sw) => (sw, PinEffect::Pin(loc)),
        }
    }

    /// UNBLOCK PIN (§11.1.13): empty data = PUK retry status; else PUK ‖ new PIN.
    pub fn unblock(&mut self, loc: PinLoc, data: &[u8]) -> (Sw, PinEffect) {
        let Some(pin) = self.get(loc) else {
            return (Sw::REFERENCE_NOT_FOUND, PinEffect::None);
        };
        let Some(puk_ref) = pin.puk_ref else {
            return (Sw::CONDITIONS_NOT_SATISFIED, PinEffect::None);
        };
        let key_ref = pin.key_ref;
        let Some(pi) = self.puks.iter().position(|p| p.key_ref == puk_ref) else {
            return (Sw::REFERENCE_NOT_FOUND, PinEffect::None);
        };
        let Some(puk) = self.puks.get_mut(pi) else {
            return (Sw::REFERENCE_NOT_FOUND, PinEffect::None);
        };
        if data.is_empty() {
            let sw = if puk.retries_left == 0 {
                Sw::AUTH_METHOD_BLOCKED
            } else {
                Sw::retries_left(puk.retries_left)
            };
            return (sw, PinEffect::None);
        }
        let (Some(code), Some(new), 16) = (data.get(..8), data.get(8..16), data.len()) else {
            return (Sw::WRONG_LENGTH, PinEffect::None);
        };
        if puk.retries_left == 0 {
            return (Sw::AUTH_METHOD_BLOCKED, PinEffect::None);
        }
        if !valid_pin_format(key_ref, new) {
            return (Sw::WRONG_DATA, PinEffect::None);
        }
        if !puk.value.ct_eq(code) {
            puk.retries_left = puk.retries_left.saturating_sub(1);
            return (Sw::retries_left(puk.retries_left), PinEffect::Puk(puk_ref));
        }
        puk.retries_left = puk.max_attempts;
        let new = new.to_vec();
        if let Some(p) = self.get_mut(loc) {
            p.value = Secret::new(new);
            p.retries_left = p.max_attempts;
            p.verified = true;
        }
        (Sw::OK, PinEffect::PinAndPuk(loc, puk_ref))
    }

    /// Replays a persisted PIN record.
    pub fn apply_pin(&mut self, loc: PinLoc, r: &PinRecord) -> bool {
        match self.get_mut(loc) {
            Some(p) => {
                p.value = r.value.clone();
                p.enabled = r.enabled;
                p.retries_left = r.retries_left.min(p.max_attempts);
                true
            }
            None => false,
        }
    }

    /// Replays a persisted PUK retry counter.
    pub fn apply_puk(&mut self, key_ref: u8, retries_left: u8) -> bool {
        match self.puks.iter_mut().find(|p| p.key_ref == key_ref) {
            Some(p) => {
                p.retries_left = retries_left.min(p.max_attempts);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_formats() {
        assert!(valid_pin_format(0x01, b"0000\xFF\xFF\xFF\xFF"));
        assert!(valid_pin_format(0x01, b"12345678"));
        assert!(!valid_pin_format(0x01, b"123\xFF\xFF\xFF\xFF\xFF"));
        assert!(!valid_pin_format(0x01, b"1234\xFF5\xFF\xFF"));
        assert!(valid_pin_format(0x0A, b"55555555"));
    }
}
