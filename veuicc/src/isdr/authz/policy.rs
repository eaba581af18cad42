//! The persisted records of admin-operation authorisation (format version 1, JSON in the
//! store's `Meta` tree, frozen by golden files in `tests/golden/authz_*.json`):
//!
//! - `authz/policy` → [`AuthzPolicy`]: which operation needs which proofs, exemptions, the
//!   account servers' and secure elements' public keys, limits;
//! - `authz/clock` → [`AuthzClock`]: the highest trusted time seen (the card has no RTC);
//! - `authz/link/<ICCID>` → [`AccountLink`]: the user account a profile was installed for.

use crate::euicc::records::{hexbytes, parse_iccid, ProfileClass, FORMAT_VERSION};
use rsp::authz::{Operation, Requirement};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Store key of the policy.
pub const POLICY_KEY: &[u8] = b"authz/policy";
/// Store key of the clock.
pub const CLOCK_KEY: &[u8] = b"authz/clock";
/// Prefix of the account links (followed by the 10-byte ICCID).
pub const LINK_PREFIX: &[u8] = b"authz/link/";

/// Budgets: a policy lives in the card's memory, so its lists are bounded.
pub const MAX_KEYS: usize = 8;
pub const MAX_EMERGENCY: usize = 32;
pub const MAX_PROFILE_RULES: usize = 64;
/// Longest accepted policy text over ES10, in bytes.
pub const MAX_POLICY_TEXT: usize = 16 * 1024;

fn default_true() -> bool {
    true
}
fn default_lifetime() -> u64 {
    300
}
fn default_nonce_lifetime() -> u32 {
    16
}

/// The admin-operation policy of one eUICC. A card without one behaves as plain SGP.22 (every
/// requirement `none`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzPolicy {
    pub version: u32,
    /// Requirement per operation; an absent operation needs nothing.
    #[serde(default)]
    pub rules: BTreeMap<Operation, Requirement>,
    /// Per-profile overrides, by ICCID digits.
    #[serde(default)]
    pub profiles: BTreeMap<String, BTreeMap<Operation, Requirement>>,
    /// Enabling or disabling a provisioning-class profile needs nothing.
    #[serde(default = "default_true")]
    pub exempt_provisioning: bool,
    /// Emergency profiles (ICCID digits): enabling or disabling them needs nothing.
    #[serde(default)]
    pub emergency_iccids: Vec<String>,
    /// Account servers' assertion keys: uncompressed P-256 points, hex.
    #[serde(default)]
    pub account_keys: Vec<String>,
    /// Secure elements registered for this eUICC (bound to its EID): uncompressed P-256
    /// points, hex.
    #[serde(default)]
    pub intent_keys: Vec<String>,
    /// Longest accepted assertion lifetime (expiresAt − issuedAt), seconds.
    #[serde(default = "default_lifetime")]
    pub max_assertion_lifetime_s: u64,
    /// How many ES10 commands a nonce, and an authorisation armed with it, stay valid.
    #[serde(default = "default_nonce_lifetime")]
    pub nonce_lifetime: u32,
    /// Whether GetAdminPolicy returns the whole policy.
    #[serde(default = "default_true")]
    pub readable: bool,
    /// Whether SetAdminPolicy may replace the policy (then also subject to the `policy` rule).
    #[serde(default)]
    pub es10_writable: bool,
}

impl Default for AuthzPolicy {
    fn default() -> Self {
        AuthzPolicy {
            version: FORMAT_VERSION,
            rules: BTreeMap::new(),
            profiles: BTreeMap::new(),
            exempt_provisioning: true,
            emergency_iccids: Vec::new(),
            account_keys: Vec::new(),
            intent_keys: Vec::new(),
            max_assertion_lifetime_s: default_lifetime(),
            nonce_lifetime: default_nonce_lifetime(),
            readable: true,
            es10_writable: false,
        }
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("not a policy: {0}")]
    Json(String),
    #[error("policy format version {0}; this veuicc reads version {FORMAT_VERSION}")]
    Version(u32),
    #[error("{0}")]
    Invalid(String),
}

/// A public key from hex: an uncompressed P-256 point (65 bytes, `04…`).
pub fn parse_public_key(s: &str) -> Option<[u8; 65]> {
    let b = hex::decode(s.trim()).ok()?;
    let k: [u8; 65] = b.try_into().ok()?;
    (k[0] == 0x04).then_some(k)
}

/// The policy in the form the gate uses: keys and ICCIDs decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Compiled {
    pub record: AuthzPolicy,
    pub account_keys: Vec<[u8; 65]>,
    pub intent_keys: Vec<[u8; 65]>,
    pub emergency: Vec<Vec<u8>>,
    pub profiles: BTreeMap<Vec<u8>, BTreeMap<Operation, Requirement>>,
}

impl AuthzPolicy {
    /// Parses policy text (JSON). Unknown fields, another format version, malformed keys or
    /// ICCIDs and exceeded budgets are refused.
    pub fn from_json(text: &[u8]) -> Result<AuthzPolicy, PolicyError> {
        let p: AuthzPolicy =
            serde_json::from_slice(text).map_err(|e| PolicyError::Json(e.to_string()))?;
        p.compile()?;
        Ok(p)
    }

    /// The canonical JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The requirement of `op` without per-profile overrides or exemptions.
    pub fn rule(&self, op: Operation) -> Requirement {
        self.rules.get(&op).copied().unwrap_or_default()
    }

    /// Checks and decodes the policy.
    pub fn compile(&self) -> Result<Compiled, PolicyError> {
        if self.version != FORMAT_VERSION {
            return Err(PolicyError::Version(self.version));
        }
        let bad = |m: String| Err(PolicyError::Invalid(m));
        if self.account_keys.len() > MAX_KEYS || self.intent_keys.len() > MAX_KEYS {
            return bad(format!("at most {MAX_KEYS} keys of each kind"));
        }
        if self.emergency_iccids.len() > MAX_EMERGENCY {
            return bad(format!("at most {MAX_EMERGENCY} emergency ICCIDs"));
        }
        if self.profiles.len() > MAX_PROFILE_RULES {
            return bad(format!("at most {MAX_PROFILE_RULES} per-profile rules"));
        }
        if !(1..=86_400).contains(&self.max_assertion_lifetime_s) {
            return bad("max_assertion_lifetime_s must be 1..=86400".into());
        }
        if !(2..=1000).contains(&self.nonce_lifetime) {
            return bad("nonce_lifetime must be 2..=1000 ES10 commands".into());
        }
        let keys = |list: &[String], what: &str| -> Result<Vec<[u8; 65]>, PolicyError> {
            list.iter()
                .map(|k| {
                    parse_public_key(k).ok_or_else(|| {
                        PolicyError::Invalid(format!(
                            "{what}: {k:?} is not an uncompressed P-256 point in hex (04…, 65 bytes)"
                        ))
                    })
                })
                .collect()
        };
        let iccid = |s: &String| {
            parse_iccid(s).ok_or_else(|| PolicyError::Invalid(format!("{s:?} is not an ICCID")))
        };
        let mut profiles = BTreeMap::new();
        for (i, rules) in &self.profiles {
            profiles.insert(iccid(i)?, rules.clone());
        }
        Ok(Compiled {
            record: self.clone(),
            account_keys: keys(&self.account_keys, "account_keys")?,
            intent_keys: keys(&self.intent_keys, "intent_keys")?,
            emergency: self
                .emergency_iccids
                .iter()
                .map(iccid)
                .collect::<Result<_, _>>()?,
            profiles,
        })
    }
}

impl Compiled {
    /// What `op` on profile `iccid` (EF.ICCID form; `None` for eUICC-wide operations) of class
    /// `class` requires. Enabling or disabling a provisioning (when exempt) or emergency profile
    /// requires nothing.
    pub fn requirement(
        &self,
        op: Operation,
        iccid: Option<&[u8]>,
        class: Option<ProfileClass>,
    ) -> Requirement {
        if matches!(op, Operation::Enable | Operation::Disable) {
            if self.record.exempt_provisioning && class == Some(ProfileClass::Provisioning) {
                return Requirement::None;
            }
            if iccid.is_some_and(|i| self.emergency.iter().any(|e| e == i)) {
                return Requirement::None;
            }
        }
        iccid
            .and_then(|i| self.profiles.get(i))
            .and_then(|m| m.get(&op))
            .copied()
            .unwrap_or_else(|| self.record.rule(op))
    }

    /// Whether any operation requires anything (a card without a policy skips the gate).
    pub fn is_open(&self) -> bool {
        self.record.rules.values().all(|r| *r == Requirement::None)
            && self
                .profiles
                .values()
                .all(|m| m.values().all(|r| *r == Requirement::None))
    }
}

/// The highest trusted time the card has seen (`authz/clock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzClock {
    pub version: u32,
    /// Unix seconds, from the issuedAt of verified assertions.
    pub last_time: u64,
}

/// The account a profile is linked to (`authz/link/<ICCID>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountLink {
    pub version: u32,
    #[serde(with = "hexbytes")]
    pub iccid: Vec<u8>,
    pub account: String,
    /// issuedAt of the assertion presented for the install (Unix seconds).
    pub linked_at: u64,
}

/// The store key of the link of `iccid`.
pub fn link_key(iccid: &[u8]) -> Vec<u8> {
    let mut k = LINK_PREFIX.to_vec();
    k.extend_from_slice(iccid);
    k
}
