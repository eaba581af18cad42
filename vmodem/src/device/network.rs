//! The simulated network as the MT sees it: registration state per domain (TS 27.007 `+CREG`,
//! `+CGREG`, `+CEREG`, `+C5GREG`), serving cell, operator and signal.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::NetworkConfig;
use crate::control::Domain;

/// All domains in `+CREG`, `+CGREG`, `+CEREG`, `+C5GREG` order.
pub const DOMAINS: [Domain; 4] = [Domain::Cs, Domain::Ps, Domain::Eps, Domain::FiveGs];

/// Index of a domain in [`DOMAINS`].
pub fn domain_index(d: Domain) -> usize {
    match d {
        Domain::Cs => 0,
        Domain::Ps => 1,
        Domain::Eps => 2,
        Domain::FiveGs => 3,
    }
}

/// `<stat>` values (TS 27.007 §7.2).
pub mod stat {
    pub const NOT_REGISTERED: u8 = 0;
    pub const HOME: u8 = 1;
    pub const SEARCHING: u8 = 2;
    pub const DENIED: u8 = 3;
    pub const UNKNOWN: u8 = 4;
    pub const ROAMING: u8 = 5;
}

/// Registration of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainReg {
    pub stat: u8,
    /// Reject cause (TS 24.301 EMM cause) when denied, for `<n>` = 3.
    pub reject_cause: Option<u8>,
}

/// The serving cell and radio, changeable at run time; persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Radio {
    /// `<AcT>` (7 = E-UTRAN).
    pub act: u8,
    /// LAC/TAC, hex (4 digits; 6 for NR).
    pub tac: String,
    /// Cell id, hex.
    pub ci: String,
    /// `+CSQ` rssi 0..31 or 99.
    pub rssi: u8,
    /// `+CSQ` ber 0..7 or 99.
    pub ber: u8,
    /// `+COPS` name; `None`: the SIM's SPN, else "Test Network".
    pub operator_name: Option<String>,
    /// Serving PLMN; `None`: the home PLMN of the SIM.
    pub plmn: Option<String>,
    pub roaming: bool,
    pub auto_register: bool,
    /// Register SIMs whose IMSI the HSS does not know, without AKA (e.g. real cards in PC/SC
    /// readers).
    pub accept_unknown: bool,
}

impl Radio {
    pub fn from_config(c: &NetworkConfig) -> Radio {
        Radio {
            act: c.act,
            tac: c.tac.clone(),
            ci: c.ci.clone(),
            rssi: c.rssi.min(31),
            ber: 99,
            operator_name: c.operator_name.clone(),
            plmn: None,
            roaming: c.roaming,
            auto_register: c.auto_register,
            accept_unknown: false,
        }
    }

    /// `+CIND` "signal" 0..5 from rssi.
    pub fn signal_bars(&self) -> u8 {
        match self.rssi {
            99 => 0,
            r if r >= 25 => 5,
            r if r >= 19 => 4,
            r if r >= 13 => 3,
            r if r >= 7 => 2,
            r if r >= 1 => 1,
            _ => 0,
        }
    }

    /// `+CESQ` rsrq (0..34) and rsrp (0..97) derived from rssi (255: unknown).
    pub fn rsrq_rsrp(&self) -> (u8, u8) {
        if self.rssi > 31 {
            return (255, 255);
        }
        let r = u32::from(self.rssi);
        ((r * 34 / 31) as u8, (r * 97 / 31) as u8)
    }
}

/// `now + d`, or `now` if that is not representable (never panics on a huge delay).
pub fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d).unwrap_or(now)
}

/// The longest delay the control plane may set for a step of the procedures.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// Delays of the registration procedure (0 in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// SIM ready → "searching" (`<stat>` 2).
    pub search: Duration,
    /// Searching → AKA and the outcome.
    pub register: Duration,
    /// SIM refresh / insertion → SIM ready again.
    pub sim_ready: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            search: Duration::from_millis(200),
            register: Duration::from_millis(500),
            sim_ready: Duration::from_millis(300),
        }
    }
}

impl Timing {
    /// No delays: every step happens at the next `poll`.
    pub fn immediate() -> Timing {
        Timing {
            search: Duration::ZERO,
            register: Duration::ZERO,
            sim_ready: Duration::ZERO,
        }
    }
}

/// Where the automatic registration procedure is (protocol state as an enum, not flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegPhase {
    /// Nothing to do (not started, finished, or under control-plane scripting).
    Idle,
    /// Start searching at the next poll at or after the instant (`None`: the next poll).
    Pending(Option<Instant>),
    /// Searching: run AKA at the instant.
    Searching(Instant),
}

/// The network state.
#[derive(Debug, Clone)]
pub struct Network {
    pub radio: Radio,
    pub domains: [DomainReg; 4],
    pub phase: RegPhase,
    pub timing: Timing,
}

impl Network {
    pub fn new(radio: Radio, timing: Timing) -> Network {
        let d = DomainReg {
            stat: stat::NOT_REGISTERED,
            reject_cause: None,
        };
        Network {
            radio,
            domains: [d.clone(), d.clone(), d.clone(), d],
            phase: RegPhase::Idle,
            timing,
        }
    }

    pub fn domain(&self, d: Domain) -> &DomainReg {
        // domain_index is always < 4.
        &self.domains[domain_index(d) & 3]
    }

    /// Whether the domains the registration procedure drives include 5GS (NR access).
    pub fn uses_5gs(&self) -> bool {
        matches!(self.radio.act, 10..=13)
    }

    /// The domains the automatic procedure updates: CS, PS, EPS, and 5GS on NR.
    pub fn auto_domains(&self) -> Vec<Domain> {
        let mut v = vec![Domain::Cs, Domain::Ps, Domain::Eps];
        if self.uses_5gs() {
            v.push(Domain::FiveGs);
        }
        v
    }

    /// Sets `stat` on `domains`; returns the domains whose state changed.
    pub fn set(&mut self, domains: &[Domain], stat: u8, cause: Option<u8>) -> Vec<Domain> {
        let mut changed = Vec::new();
        for d in domains {
            let r = &mut self.domains[domain_index(*d) & 3];
            if r.stat != stat || r.reject_cause != cause {
                r.stat = stat;
                r.reject_cause = cause;
                changed.push(*d);
            }
        }
        changed
    }

    /// Registered (home or roaming) in any domain.
    pub fn registered(&self) -> bool {
        self.domains
            .iter()
            .any(|d| d.stat == stat::HOME || d.stat == stat::ROAMING)
    }

    /// PS service available (PS or EPS or 5GS registered).
    pub fn ps_registered(&self) -> bool {
        self.domains[1..]
            .iter()
            .any(|d| d.stat == stat::HOME || d.stat == stat::ROAMING)
    }

    /// When the procedure needs the next poll.
    pub fn deadline(&self) -> Option<Option<Instant>> {
        match self.phase {
            RegPhase::Idle => None,
            RegPhase::Pending(at) => Some(at),
            RegPhase::Searching(at) => Some(Some(at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_bars_follow_rssi() {
        let mut r = Radio::from_config(&NetworkConfig::default());
        assert_eq!(r.signal_bars(), 4);
        r.rssi = 99;
        assert_eq!(r.signal_bars(), 0);
        r.rssi = 31;
        assert_eq!(r.signal_bars(), 5);
        assert_eq!(r.rsrq_rsrp(), (34, 97));
    }

    #[test]
    fn set_reports_only_changed_domains() {
        let mut n = Network::new(
            Radio::from_config(&NetworkConfig::default()),
            Timing::immediate(),
        );
        assert_eq!(
            n.set(&[Domain::Cs, Domain::Eps], 1, None),
            vec![Domain::Cs, Domain::Eps]
        );
        assert_eq!(n.set(&[Domain::Cs, Domain::Ps], 1, None), vec![Domain::Ps]);
        assert!(n.registered());
        assert!(n.ps_registered());
    }
}
