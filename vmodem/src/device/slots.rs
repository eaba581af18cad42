//! What a SIM slot can hold: the in-process virtual eUICC, a plain UICC built from a SAIP
//! package (a veuicc card whose ISD-R and ECASD are hidden), or a card in a PC/SC reader.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use veuicc::apdu::Command;
use veuicc::card::CardCore;
use veuicc::euicc::{Euicc, EuiccState, LifecycleEvent, SeedOptions, ECASD_AID, ISDR_AID};
use veuicc::profile::saip::parse_package;
use veuicc::statedir::{self, IdentitySource};
use veuicc::store::MemStore;

use super::pcsc::PcscCard;
use crate::config::SlotConfig;

/// Why a slot's card could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("{0}")]
    Card(String),
}

fn err(e: impl std::fmt::Display) -> SlotError {
    SlotError::Card(e.to_string())
}

/// A card in a slot.
#[derive(Debug)]
pub enum Card {
    /// The virtual eUICC (ISD-R, ECASD, profiles).
    Euicc(Box<Euicc>),
    /// A plain UICC: one profile, no ISD-R or ECASD (SELECT of their AIDs gives `6A82`).
    Uicc(Box<Euicc>),
    /// Any card in a PC/SC reader.
    Pcsc(Box<PcscCard>),
}

/// Where a slot's card keeps its state and how it is named.
#[derive(Debug, Clone, Copy)]
pub struct BuildCtx<'a> {
    /// The modem's state directory (`None`: everything in memory).
    pub state_dir: Option<&'a Path>,
    pub modem_name: &'a str,
    /// 1-based slot number.
    pub slot: u8,
}

/// FNV-1a over the parts (stable across runs).
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(&[0u8]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The EID of the modem's eUICC: SGP.26 test range `89049032`, the rest from the modem name.
pub fn derived_eid(modem: &str, what: &str) -> Result<[u8; 16], SlotError> {
    let h = fnv(&[modem.as_bytes(), what.as_bytes()]) % 1_000_000_000_000_000_000;
    statedir::parse_eid(&format!("890490320000{h:018}")).map_err(err)
}

/// A card with a freshly minted identity and an in-memory store.
fn memory_card(eid: [u8; 16]) -> Result<Euicc, SlotError> {
    let seed = statedir::os_seed().map_err(err)?;
    let mut rng = ChaCha20Rng::from_seed(seed);
    let not_before = SystemTime::now()
        .checked_sub(Duration::from_secs(86_400))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let (identity, _ci) =
        rsp::pki::mint_test_pki(eid, &mut rng, not_before, rsp::pki::not_after_no_expiry())
            .map_err(err)?;
    let mut seed2 = seed;
    seed2.reverse();
    let state = EuiccState::open(Arc::new(MemStore::default()), identity, seed2).map_err(err)?;
    Ok(Euicc::new(state))
}

/// Opens (creating with a minted identity on first use) the card whose state is in `dir`.
fn dir_card(dir: &Path, eid: [u8; 16]) -> Result<Euicc, SlotError> {
    if !statedir::is_initialised(dir) {
        statedir::init(dir, eid, &IdentitySource::Mint).map_err(|e| err(format!("{e:#}")))?;
    }
    statedir::open(dir).map_err(|e| err(format!("{e:#}")))
}

impl Card {
    /// Builds the card of a slot configuration (`None` for an empty slot).
    pub fn build(cfg: &SlotConfig, ctx: BuildCtx<'_>) -> Result<Option<Card>, SlotError> {
        match cfg {
            SlotConfig::Empty => Ok(None),
            SlotConfig::Euicc { state_dir } => {
                let eid = derived_eid(ctx.modem_name, "euicc")?;
                let dir: Option<PathBuf> = state_dir
                    .clone()
                    .or_else(|| ctx.state_dir.map(|d| d.join("euicc")));
                let card = match dir {
                    Some(d) => dir_card(&d, eid)?,
                    None => memory_card(eid)?,
                };
                Ok(Some(Card::Euicc(Box::new(card))))
            }
            SlotConfig::Uicc { package } => {
                let bytes = std::fs::read(package)
                    .map_err(|e| err(format!("reading {}: {e}", package.display())))?;
                let pkg = parse_package(&bytes)
                    .map_err(|e| err(format!("{}: {e}", package.display())))?;
                let iccid = pkg.iccid_swapped().to_vec();
                let eid = derived_eid(ctx.modem_name, &format!("uicc{}", ctx.slot))?;
                let mut card = match ctx.state_dir {
                    Some(d) => dir_card(&d.join(format!("slot{}-uicc", ctx.slot)), eid)?,
                    None => memory_card(eid)?,
                };
                let st = card.state_mut();
                if st.enabled_iccid() != Some(iccid.as_slice()) {
                    if st.profiles().next().is_some() {
                        st.factory_reset().map_err(err)?;
                    }
                    let opts = SeedOptions {
                        notification_address: None,
                        enable: true,
                        ..SeedOptions::default()
                    };
                    st.seed_package(&bytes, &opts).map_err(err)?;
                }
                drop(st.take_events());
                Ok(Some(Card::Uicc(Box::new(card))))
            }
            SlotConfig::Pcsc { reader } => {
                let c = PcscCard::connect(reader).map_err(err)?;
                Ok(Some(Card::Pcsc(Box::new(c))))
            }
        }
    }

    /// `euicc`, `uicc` or `pcsc`.
    pub fn kind(&self) -> &'static str {
        match self {
            Card::Euicc(_) => "euicc",
            Card::Uicc(_) => "uicc",
            Card::Pcsc(_) => "pcsc",
        }
    }

    /// The eUICC behind this card, if it is the virtual eUICC.
    pub fn euicc_mut(&mut self) -> Option<&mut Euicc> {
        match self {
            Card::Euicc(e) => Some(e),
            _ => None,
        }
    }

    /// The veuicc core of a virtual card (eUICC or plain UICC).
    pub fn veuicc(&self) -> Option<&Euicc> {
        match self {
            Card::Euicc(e) | Card::Uicc(e) => Some(e),
            Card::Pcsc(_) => None,
        }
    }

    /// The EID of the virtual eUICC.
    pub fn eid(&self) -> Option<String> {
        match self {
            Card::Euicc(e) => Some(hex::encode_upper(e.state().identity().eid)),
            _ => None,
        }
    }

    /// Why the card stopped working (PC/SC transport errors).
    pub fn failure(&self) -> Option<&str> {
        match self {
            Card::Pcsc(p) => p.failure(),
            _ => None,
        }
    }

    /// Lifecycle events the card committed since the last call (eUICC only; a plain UICC has
    /// no ISD-R, so nothing changes there).
    pub fn take_events(&mut self) -> Vec<LifecycleEvent> {
        match self {
            Card::Euicc(e) => e.state_mut().take_events(),
            Card::Uicc(e) => {
                drop(e.state_mut().take_events());
                Vec::new()
            }
            Card::Pcsc(_) => Vec::new(),
        }
    }

    /// The SAIP packages of the card's installed profiles (the operator's data, for the HSS).
    pub fn packages(&self) -> Vec<Vec<u8>> {
        let Some(e) = self.veuicc() else {
            return Vec::new();
        };
        let st = e.state();
        st.profiles()
            .filter_map(|p| st.profile_package(&p.iccid).ok().flatten())
            .collect()
    }

    /// The package of one profile (ICCID in EF.ICCID form).
    pub fn package(&self, iccid: &[u8]) -> Option<Vec<u8>> {
        self.veuicc()?.state().profile_package(iccid).ok().flatten()
    }

    fn core(&mut self) -> &mut dyn CardCore {
        match self {
            Card::Euicc(e) | Card::Uicc(e) => e.as_mut(),
            Card::Pcsc(p) => p.as_mut(),
        }
    }

    pub fn atr(&mut self) -> Vec<u8> {
        self.core().atr()
    }

    pub fn power_on(&mut self) {
        self.core().power_on();
    }

    pub fn power_off(&mut self) {
        self.core().power_off();
    }

    pub fn reset(&mut self) {
        self.core().reset();
    }

    /// One command APDU → one response APDU (never empty: at least a status word).
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        if let Card::Uicc(e) = self {
            if hides(e, apdu) {
                return vec![0x6A, 0x82];
            }
        }
        let r = self.core().handle(apdu);
        if r.len() < 2 {
            return vec![0x6F, 0x00];
        }
        r
    }
}

/// Whether a plain UICC must refuse this APDU as if the application did not exist: SELECT by
/// DF name of the ISD-R or the ECASD (or a partial name only they match).
fn hides(e: &Euicc, apdu: &[u8]) -> bool {
    let Ok(cmd) = Command::parse(apdu) else {
        return false;
    };
    if cmd.ins != 0xA4 || cmd.p1 != 0x04 || cmd.data.len() < 5 {
        return false;
    }
    let sd = ISDR_AID.starts_with(cmd.data) || ECASD_AID.starts_with(cmd.data);
    sd && !e.state().uicc_has_aid_prefix(cmd.data)
}
