//! The registration procedure (TS 24.301 attach as the MT sees it): searching, AKA against the
//! simulated HSS with AUTHENTICATE on the USIM (TS 33.102 §6.3), registered / roaming / denied;
//! `+CFUN` and manual (de)registration.

use std::time::Instant;

use rand_chacha::rand_core::Rng;
use tracing::info;

use super::network::{self, stat, RegPhase};
use super::sim::{self, AuthAnswer};
use super::{AuthResult, DevEvent, Device, SimEvent, SimState};
use crate::error::CmeError;

impl Device {
    // --- timers -------------------------------------------------------------------------

    /// Runs what is due at `now`; returns when to poll next (`Some(now)`: immediately).
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        for _ in 0..8 {
            if !self.step(now) {
                break;
            }
        }
        let sim = match self.sim {
            SimState::Initialising(at) => Some(at.unwrap_or(now)),
            _ => None,
        };
        let net = self.net.deadline().map(|d| d.unwrap_or(now));
        let binding = self.poll_binding(now);
        [sim, net, binding].into_iter().flatten().min()
    }

    /// One due step; whether anything happened.
    fn step(&mut self, now: Instant) -> bool {
        if let SimState::Initialising(at) = self.sim {
            if at.is_none_or(|t| now >= t) {
                self.read_active_sim();
                match &self.sim {
                    SimState::Ready(_) => {
                        self.push_event(DevEvent::Sim(SimEvent::Ready));
                        self.start_registration(now);
                    }
                    SimState::Locked(p, _) => {
                        let p = *p;
                        self.push_event(DevEvent::Sim(SimEvent::Locked(p)));
                    }
                    _ => {}
                }
                return true;
            }
            return false;
        }
        match self.net.phase {
            RegPhase::Pending(at) if at.is_none_or(|t| now >= t) => {
                if self.cfun != 1 || !self.can_attach() {
                    self.net.phase = RegPhase::Idle;
                    return true;
                }
                let domains = self.net.auto_domains();
                self.set_stat(&domains, stat::SEARCHING, None);
                self.net.phase = RegPhase::Searching(network::later(now, self.net.timing.register));
                true
            }
            RegPhase::Searching(at) if now >= at => {
                self.net.phase = RegPhase::Idle;
                self.attach(now);
                true
            }
            _ => false,
        }
    }

    /// Network attach with AKA: the HSS's vector, AUTHENTICATE on the USIM, the RES check.
    fn attach(&mut self, now: Instant) {
        let Some(info) = self.sim_info().cloned() else {
            return;
        };
        let (Some(imsi), Some(aid)) = (info.imsi.clone(), info.usim_aid.clone()) else {
            return;
        };
        let domains = self.net.auto_domains();
        let result = self.run_aka(&imsi, &aid, now);
        info!(imsi = %imsi, result = ?result, "network authentication");
        let ok = matches!(result, AuthResult::Success | AuthResult::AcceptedUnknown);
        self.last_auth = Some(result);
        if ok {
            let s = if self.net.radio.roaming {
                stat::ROAMING
            } else {
                stat::HOME
            };
            self.set_stat(&domains, s, None);
        } else {
            // TS 24.301 EMM cause #3 "Illegal UE" after an authentication reject.
            self.set_stat(&domains, stat::DENIED, Some(3));
        }
        self.save_logged();
    }

    fn run_aka(&mut self, imsi: &str, aid: &[u8], now: Instant) -> AuthResult {
        if self.hss.get(imsi).is_none() {
            return if self.net.radio.accept_unknown {
                AuthResult::AcceptedUnknown
            } else {
                AuthResult::UnknownSubscriber
            };
        }
        for _attempt in 0..2 {
            let mut rand = [0u8; 16];
            self.rng.fill_bytes(&mut rand);
            let Some(sub) = self.hss.get_mut(imsi) else {
                return AuthResult::UnknownSubscriber;
            };
            let Ok(v) = sub.vector(rand) else {
                return AuthResult::UnknownSubscriber;
            };
            let answer = match self.with_card(now, |c| sim::authenticate(c, aid, &v.rand, &v.autn))
            {
                Ok(a) => a,
                Err(_) => return AuthResult::CardError(0x6F00),
            };
            let Some(sub) = self.hss.get_mut(imsi) else {
                return AuthResult::UnknownSubscriber;
            };
            match answer {
                AuthAnswer::Res(res) => {
                    return if sub.res_matches(&v, &res) {
                        AuthResult::Success
                    } else {
                        AuthResult::ResMismatch
                    };
                }
                AuthAnswer::SyncFailure(auts) => {
                    if !sub.resync(&v.rand, &auts) {
                        return AuthResult::SyncFailure;
                    }
                    self.resyncs += 1;
                }
                AuthAnswer::MacFailure => return AuthResult::MacFailure,
                AuthAnswer::Error(sw) => return AuthResult::CardError(sw),
            }
        }
        AuthResult::SyncFailure
    }

    // --- MT functionality ----------------------------------------------------------------

    /// `+CFUN=<fun>[,<rst>]` (TS 27.007 §8.2): 0 minimum, 1 full, 4 radio off.
    pub fn set_cfun(&mut self, fun: u8, reset: bool, now: Instant) -> Result<(), CmeError> {
        if !matches!(fun, 0 | 1 | 4) {
            return Err(CmeError::OperationNotSupported);
        }
        if reset {
            self.cfun = 1;
            self.refresh(now, true);
            return Ok(());
        }
        let was = self.cfun;
        self.cfun = fun;
        if fun != 1 {
            self.deregister(stat::NOT_REGISTERED);
            self.net.phase = RegPhase::Idle;
        } else if was != 1 {
            self.start_registration(now);
        }
        Ok(())
    }

    /// `+COPS=0`: (re-)register automatically if not registered.
    pub fn reregister(&mut self, now: Instant) {
        if !self.net.registered() && self.net.phase == RegPhase::Idle {
            self.start_registration(now);
            if self.net.phase == RegPhase::Idle && self.can_attach() && self.cfun == 1 {
                // auto_register off: an explicit request still registers.
                self.net.phase =
                    RegPhase::Pending(Some(network::later(now, self.net.timing.search)));
            }
        }
    }

    /// `+COPS=2`: deregister.
    pub fn deregister_manual(&mut self) {
        self.deregister(stat::NOT_REGISTERED);
        self.net.phase = RegPhase::Idle;
    }
}
