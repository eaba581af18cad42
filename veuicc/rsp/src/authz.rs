//! Admin-operation authorisation (flow 2 of `shared/design/flows.md`): the vendor ES10
//! extension spoken between the LPA and the eUICC, the account assertion issued by an account
//! server, and the human-intent data a device's secure element signs. Codec only, no IO.
//!
//! Everything here is BER-TLV with minimal lengths. The vendor ES10 functions use private-class
//! tags `FF22`…`FF26` (the `FF20`/`FF21` pair belongs to the IMEI-binding extension). Because
//! ISO 7816-4 reserves `FF` as a padding byte, [`crate::tlv`] refuses `FF` as the first byte of a
//! tag; the outer header of these commands is therefore framed by [`vendor_command`] /
//! [`parse_vendor`], and their content (ordinary context and application tags) goes through
//! [`crate::tlv`].
//!
//! ```text
//! GetAdminNonce            FF22 {}                                   → FF22 { 80 nonce(16), 81 lifetime }
//! AuthoriseAdminOperation  FF23 { 80 operation, [5A iccid(10)], 81 nonce(16),
//!                                 [E1 accountAssertion], [5F37 intentSignature(64)] }
//!                                                                    → FF23 { 80 result }
//! GetAdminPolicy           FF24 { [80 operation, [5A iccid]] }       → FF24 { 80 result,
//!                                                                         [81 policy (UTF-8 JSON)],
//!                                                                         [82 requirement] }
//! SetAdminPolicy           FF25 { 81 policy (UTF-8 JSON) }           → FF25 { 80 result }
//! FirmwareUpdate (no-op)   FF26 { [80 imageDigest] }                 → FF26 { 80 result }
//!
//! accountAssertion         E1 { 30 { 80 version=1, 81 account (UTF-8, 1..64), 82 EID(16),
//!                                    83 ICCID (10, or empty for eUICC-wide operations),
//!                                    84 operation, 85 issuedAt (u64 BE, Unix s),
//!                                    86 expiresAt (u64 BE), 87 assertionId(16), [88 nonce(16)] },
//!                               5F37 signature(64, ECDSA P-256 SHA-256 r‖s over the 30 TLV) }
//! intent data (signed)     E2 { 82 EID(16), 83 ICCID (10 or empty), 84 operation, 88 nonce(16) }
//! ```
//!
//! INTEGERs (operation, result, lifetime, requirement) are one or two bytes, minimal two's
//! complement as in DER.

use std::fmt;
use std::str::FromStr;

use crate::crypto::{CryptoError, CryptoProvider, EcPrivateKey};
use crate::tlv::{self, TlvError};

/// Outer tags (packed tag bytes).
pub mod tags {
    /// GetAdminNonce.
    pub const GET_ADMIN_NONCE: u32 = 0xFF22;
    /// AuthoriseAdminOperation.
    pub const AUTHORISE_ADMIN_OPERATION: u32 = 0xFF23;
    /// GetAdminPolicy.
    pub const GET_ADMIN_POLICY: u32 = 0xFF24;
    /// SetAdminPolicy.
    pub const SET_ADMIN_POLICY: u32 = 0xFF25;
    /// FirmwareUpdate (a no-op standing for the eUICC's firmware operations).
    pub const FIRMWARE_UPDATE: u32 = 0xFF26;
    /// An account assertion.
    pub const ACCOUNT_ASSERTION: u32 = 0xE1;
    /// The data a secure element signs to show human intent.
    pub const INTENT_DATA: u32 = 0xE2;
    /// A signature (as in SGP.22).
    pub const SIGNATURE: u32 = 0x5F37;
}

/// Whether `tag` is one of this extension's functions.
pub fn is_authz_tag(tag: u32) -> bool {
    (tags::GET_ADMIN_NONCE..=tags::FIRMWARE_UPDATE).contains(&tag)
}

/// Results of AuthoriseAdminOperation (`FF23 { 80 result }`).
pub mod authorise_result {
    pub const OK: i64 = 0;
    /// The nonce is not the card's outstanding nonce (never issued, already used, or replaced).
    pub const INVALID_NONCE: i64 = 1;
    /// The nonce was issued too many ES10 commands ago, or the card was reset since.
    pub const NONCE_EXPIRED: i64 = 2;
    /// The policy requires user authentication and no account assertion was given.
    pub const ASSERTION_MISSING: i64 = 3;
    /// The assertion is malformed or not signed by a configured account server key.
    pub const ASSERTION_INVALID: i64 = 4;
    /// The assertion has expired (or its lifetime exceeds the policy's maximum).
    pub const ASSERTION_EXPIRED: i64 = 5;
    /// The assertion names another EID.
    pub const ASSERTION_WRONG_EID: i64 = 6;
    /// The assertion names another ICCID.
    pub const ASSERTION_WRONG_ICCID: i64 = 7;
    /// The assertion is for another operation.
    pub const ASSERTION_WRONG_OPERATION: i64 = 8;
    /// The policy requires human intent and no intent signature was given.
    pub const INTENT_MISSING: i64 = 9;
    /// The intent signature does not verify with a registered secure-element key.
    pub const INTENT_INVALID: i64 = 10;
    /// A proof is required but the card has no key to check it with.
    pub const NOT_CONFIGURED: i64 = 11;
    /// The profile is linked to another account.
    pub const ACCOUNT_MISMATCH: i64 = 12;
    /// ICCID absent for a per-profile operation, or present for an eUICC-wide one.
    pub const INCORRECT_INPUT: i64 = 13;
    /// The assertion is bound to another card nonce (a replayed assertion).
    pub const ASSERTION_WRONG_NONCE: i64 = 14;
    pub const UNDEFINED_ERROR: i64 = 127;

    /// A short name for logs and LPA messages.
    pub fn name(code: i64) -> &'static str {
        match code {
            OK => "ok",
            INVALID_NONCE => "invalidNonce",
            NONCE_EXPIRED => "nonceExpired",
            ASSERTION_MISSING => "assertionMissing",
            ASSERTION_INVALID => "assertionInvalid",
            ASSERTION_EXPIRED => "assertionExpired",
            ASSERTION_WRONG_EID => "assertionWrongEid",
            ASSERTION_WRONG_ICCID => "assertionWrongIccid",
            ASSERTION_WRONG_OPERATION => "assertionWrongOperation",
            INTENT_MISSING => "intentMissing",
            INTENT_INVALID => "intentInvalid",
            NOT_CONFIGURED => "notConfigured",
            ACCOUNT_MISMATCH => "accountMismatch",
            INCORRECT_INPUT => "incorrectInput",
            ASSERTION_WRONG_NONCE => "assertionWrongNonce",
            _ => "undefinedError",
        }
    }
}

/// Results of GetAdminPolicy, SetAdminPolicy and FirmwareUpdate.
pub mod vendor_result {
    pub const OK: i64 = 0;
    /// SetAdminPolicy: the policy text is not a valid policy.
    pub const INVALID_POLICY: i64 = 1;
    /// As SGP.22's disallowedByPolicy.
    pub const DISALLOWED_BY_POLICY: i64 = 3;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// Codec failures. They never carry secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzCodecError {
    #[error(transparent)]
    Tlv(#[from] TlvError),
    #[error("expected tag {expected:X}, found {found:X}")]
    UnexpectedTag { expected: u32, found: u32 },
    #[error("unexpected member {0:X}")]
    UnknownMember(u32),
    #[error("member {0:X} appears twice")]
    Duplicate(u32),
    #[error("member {0:X} is missing")]
    Missing(u32),
    #[error("member {tag:X}: {reason}")]
    Value { tag: u32, reason: &'static str },
    #[error("unknown operation code {0}")]
    UnknownOperation(i64),
}

// --- operations and requirements -------------------------------------------------------------

/// An administrative operation the policy can guard.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// Profile download and installation (gated at AuthenticateServer / PrepareDownload).
    Install,
    /// Metadata change: SetNickname.
    Nickname,
    /// EnableProfile.
    Enable,
    /// DisableProfile.
    Disable,
    /// DeleteProfile.
    Delete,
    /// Export of a profile (policy only: this eUICC has no export function).
    Export,
    /// eUICCMemoryReset.
    MemoryReset,
    /// The eUICC's firmware operations (vendor FirmwareUpdate, a no-op here).
    Firmware,
    /// SetAdminPolicy through ES10.
    Policy,
}

impl Operation {
    /// Every operation, in code order.
    pub const ALL: [Operation; 9] = [
        Operation::Install,
        Operation::Nickname,
        Operation::Enable,
        Operation::Disable,
        Operation::Delete,
        Operation::Export,
        Operation::MemoryReset,
        Operation::Firmware,
        Operation::Policy,
    ];

    /// The code carried in `80` / `84`.
    pub fn code(self) -> i64 {
        match self {
            Operation::Install => 1,
            Operation::Nickname => 2,
            Operation::Enable => 3,
            Operation::Disable => 4,
            Operation::Delete => 5,
            Operation::Export => 6,
            Operation::MemoryReset => 7,
            Operation::Firmware => 8,
            Operation::Policy => 9,
        }
    }

    pub fn from_code(code: i64) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.code() == code)
    }

    /// The name used in policies, on the command line and in HTTP requests.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Install => "install",
            Operation::Nickname => "nickname",
            Operation::Enable => "enable",
            Operation::Disable => "disable",
            Operation::Delete => "delete",
            Operation::Export => "export",
            Operation::MemoryReset => "memory-reset",
            Operation::Firmware => "firmware",
            Operation::Policy => "policy",
        }
    }

    /// Whether the operation targets one profile (the ICCID is then bound); install is
    /// eUICC-wide because the ICCID is unknown to the eUICC before StoreMetadata.
    pub fn per_profile(self) -> bool {
        matches!(
            self,
            Operation::Nickname
                | Operation::Enable
                | Operation::Disable
                | Operation::Delete
                | Operation::Export
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let norm = match norm.as_str() {
            "download" => "install",
            "set-nickname" | "metadata" => "nickname",
            "euicc-memory-reset" | "reset" => "memory-reset",
            other => other,
        }
        .to_string();
        Operation::ALL
            .into_iter()
            .find(|o| o.name() == norm)
            .ok_or_else(|| {
                format!(
                    "unknown operation {s:?} (one of: {})",
                    Operation::ALL.map(|o| o.name()).join(", ")
                )
            })
    }
}

/// Which proofs an operation needs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, Hash,
)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// Nothing: the operation runs as in plain SGP.22.
    #[default]
    None,
    /// User authentication: an account assertion.
    User,
    /// Human intent: a secure element's signature.
    Intent,
    /// Both.
    Both,
}

impl Requirement {
    pub fn user(self) -> bool {
        matches!(self, Requirement::User | Requirement::Both)
    }
    pub fn intent(self) -> bool {
        matches!(self, Requirement::Intent | Requirement::Both)
    }
    pub fn from_parts(user: bool, intent: bool) -> Requirement {
        match (user, intent) {
            (false, false) => Requirement::None,
            (true, false) => Requirement::User,
            (false, true) => Requirement::Intent,
            (true, true) => Requirement::Both,
        }
    }
    /// The code carried in GetAdminPolicy (`82`): 0 none, 1 user, 2 intent, 3 both.
    pub fn code(self) -> i64 {
        i64::from(self.user()) | (i64::from(self.intent()) << 1)
    }
    pub fn from_code(code: i64) -> Option<Requirement> {
        match code {
            0..=3 => Some(Requirement::from_parts(code & 1 != 0, code & 2 != 0)),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Requirement::None => "none",
            Requirement::User => "user",
            Requirement::Intent => "intent",
            Requirement::Both => "both",
        }
    }
    /// Whether proofs `got` satisfy this requirement.
    pub fn satisfied_by(self, user: bool, intent: bool) -> bool {
        (!self.user() || user) && (!self.intent() || intent)
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Requirement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "open" => Ok(Requirement::None),
            "user" | "account" => Ok(Requirement::User),
            "intent" | "human" => Ok(Requirement::Intent),
            "both" | "user+intent" | "intent+user" => Ok(Requirement::Both),
            _ => Err(format!(
                "unknown requirement {s:?} (none, user, intent or both)"
            )),
        }
    }
}

// --- small codec helpers ---------------------------------------------------------------------

/// Minimal two's-complement INTEGER content.
pub fn int_content(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// An INTEGER content of 1..=8 bytes.
pub fn parse_int(tag: u32, content: &[u8]) -> Result<i64, AuthzCodecError> {
    if content.is_empty() || content.len() > 8 {
        return Err(AuthzCodecError::Value {
            tag,
            reason: "INTEGER of 1 to 8 bytes expected",
        });
    }
    let mut v: i64 = if content[0] & 0x80 != 0 { -1 } else { 0 };
    for b in content {
        v = (v << 8) | i64::from(*b);
    }
    Ok(v)
}

/// A member of a constructed value: tag, value, whole TLV.
type Member<'a> = (u32, &'a [u8], &'a [u8]);

/// The members of a constructed value, each tag at most once and only from `allowed`.
fn members<'a>(content: &'a [u8], allowed: &[u32]) -> Result<Vec<Member<'a>>, AuthzCodecError> {
    let mut out: Vec<Member<'a>> = Vec::new();
    for t in tlv::TlvIter::new(content) {
        let t = t?;
        if !allowed.contains(&t.tag.0) {
            return Err(AuthzCodecError::UnknownMember(t.tag.0));
        }
        if out.iter().any(|(tag, _, _)| *tag == t.tag.0) {
            return Err(AuthzCodecError::Duplicate(t.tag.0));
        }
        out.push((t.tag.0, t.value, t.raw));
    }
    Ok(out)
}

fn get<'a>(m: &[Member<'a>], tag: u32) -> Option<&'a [u8]> {
    m.iter().find(|(t, _, _)| *t == tag).map(|(_, v, _)| *v)
}

fn need<'a>(m: &[Member<'a>], tag: u32) -> Result<&'a [u8], AuthzCodecError> {
    get(m, tag).ok_or(AuthzCodecError::Missing(tag))
}

fn fixed<const N: usize>(tag: u32, v: &[u8]) -> Result<[u8; N], AuthzCodecError> {
    v.try_into().map_err(|_| AuthzCodecError::Value {
        tag,
        reason: "wrong length",
    })
}

fn iccid_value(tag: u32, v: &[u8]) -> Result<Vec<u8>, AuthzCodecError> {
    match v.len() {
        0 | 10 => Ok(v.to_vec()),
        _ => Err(AuthzCodecError::Value {
            tag,
            reason: "an ICCID is 10 bytes (or empty)",
        }),
    }
}

fn operation_value(tag: u32, v: &[u8]) -> Result<Operation, AuthzCodecError> {
    let code = parse_int(tag, v)?;
    Operation::from_code(code).ok_or(AuthzCodecError::UnknownOperation(code))
}

/// A vendor command or response: `FF xx`, minimal length, content.
pub fn vendor_command(tag: u32, content: &[u8]) -> Vec<u8> {
    tlv::vendor_tlv(tag, content)
}

/// Splits a vendor command `FF xx L content` (one TLV, nothing after it). `None` when `cmd` does
/// not start with a two-byte `FF` tag (not a vendor command at all).
pub fn parse_vendor(cmd: &[u8]) -> Option<Result<(u32, &[u8]), AuthzCodecError>> {
    Some(
        tlv::split_vendor(cmd)?
            .and_then(|(tag, body)| {
                tlv::check_depth(body, tlv::MAX_DEPTH)?;
                Ok((tag, body))
            })
            .map_err(Into::into),
    )
}

/// A vendor response `FF xx { 80 result }`.
pub fn result_response(tag: u32, result: i64) -> Vec<u8> {
    vendor_command(tag, &tlv::tlv(0x80, &int_content(result)))
}

/// Reads `FF xx { 80 result, … }` and returns the result and the other members' raw TLVs.
pub fn parse_result_response(tag: u32, data: &[u8]) -> Result<i64, AuthzCodecError> {
    let (found, content) = parse_vendor(data).ok_or(AuthzCodecError::UnexpectedTag {
        expected: tag,
        found: data.first().copied().map(u32::from).unwrap_or(0),
    })??;
    if found != tag {
        return Err(AuthzCodecError::UnexpectedTag {
            expected: tag,
            found,
        });
    }
    let m = members(content, &[0x80, 0x81, 0x82])?;
    parse_int(0x80, need(&m, 0x80)?)
}

// --- the account assertion -------------------------------------------------------------------

/// Version of the assertion format ([`AssertionClaims`] `80`).
pub const ASSERTION_VERSION: i64 = 1;
/// Longest account identifier, in bytes.
pub const MAX_ACCOUNT_LEN: usize = 64;

/// What an account server asserts: this account authenticated for this operation on this
/// eUICC (and profile), until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionClaims {
    pub account: String,
    pub eid: [u8; 16],
    /// EF.ICCID form (10 bytes), or empty for eUICC-wide operations.
    pub iccid: Vec<u8>,
    pub operation: Operation,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Random, unique per assertion.
    pub id: [u8; 16],
    /// The card nonce the LPA asked the assertion to be bound to.
    pub nonce: Option<[u8; 16]>,
}

impl AssertionClaims {
    /// The DER of the signed part (`30 {…}`).
    pub fn to_der(&self) -> Vec<u8> {
        let mut c = Vec::new();
        tlv::write_tlv(0x80, &int_content(ASSERTION_VERSION), &mut c);
        tlv::write_tlv(0x81, self.account.as_bytes(), &mut c);
        tlv::write_tlv(0x82, &self.eid, &mut c);
        tlv::write_tlv(0x83, &self.iccid, &mut c);
        tlv::write_tlv(0x84, &int_content(self.operation.code()), &mut c);
        tlv::write_tlv(0x85, &self.issued_at.to_be_bytes(), &mut c);
        tlv::write_tlv(0x86, &self.expires_at.to_be_bytes(), &mut c);
        tlv::write_tlv(0x87, &self.id, &mut c);
        if let Some(n) = &self.nonce {
            tlv::write_tlv(0x88, n, &mut c);
        }
        tlv::tlv(0x30, &c)
    }

    /// Parses the signed part (one `30` TLV, nothing after it).
    pub fn from_der(der: &[u8]) -> Result<AssertionClaims, AuthzCodecError> {
        let outer = tlv::parse_tagged(der, 0x30)?;
        let m = members(
            outer.value,
            &[0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88],
        )?;
        if parse_int(0x80, need(&m, 0x80)?)? != ASSERTION_VERSION {
            return Err(AuthzCodecError::Value {
                tag: 0x80,
                reason: "unsupported assertion version",
            });
        }
        let account = need(&m, 0x81)?;
        if account.is_empty() || account.len() > MAX_ACCOUNT_LEN {
            return Err(AuthzCodecError::Value {
                tag: 0x81,
                reason: "account of 1 to 64 bytes expected",
            });
        }
        let account = std::str::from_utf8(account)
            .map_err(|_| AuthzCodecError::Value {
                tag: 0x81,
                reason: "account is not UTF-8",
            })?
            .to_string();
        Ok(AssertionClaims {
            account,
            eid: fixed(0x82, need(&m, 0x82)?)?,
            iccid: iccid_value(0x83, need(&m, 0x83)?)?,
            operation: operation_value(0x84, need(&m, 0x84)?)?,
            issued_at: u64::from_be_bytes(fixed(0x85, need(&m, 0x85)?)?),
            expires_at: u64::from_be_bytes(fixed(0x86, need(&m, 0x86)?)?),
            id: fixed(0x87, need(&m, 0x87)?)?,
            nonce: get(&m, 0x88).map(|v| fixed(0x88, v)).transpose()?,
        })
    }
}

/// A signed account assertion: `E1 { 30 claims, 5F37 signature }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAssertion {
    pub claims: AssertionClaims,
    /// The `30` TLV exactly as signed (verification never re-encodes).
    signed: Vec<u8>,
    signature: [u8; 64],
}

impl AccountAssertion {
    /// Signs `claims` with the account server's key.
    pub fn sign(
        provider: &dyn CryptoProvider,
        key: &EcPrivateKey,
        claims: AssertionClaims,
    ) -> Result<AccountAssertion, CryptoError> {
        let signed = claims.to_der();
        let signature = provider.sign(key, &signed)?;
        Ok(AccountAssertion {
            claims,
            signed,
            signature,
        })
    }

    /// The encoding carried in AuthoriseAdminOperation and in the account server's answer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut c = self.signed.clone();
        tlv::write_tlv(tags::SIGNATURE, &self.signature, &mut c);
        tlv::tlv(tags::ACCOUNT_ASSERTION, &c)
    }

    /// Parses `E1 { 30 …, 5F37 … }` strictly (no signature check).
    pub fn from_bytes(bytes: &[u8]) -> Result<AccountAssertion, AuthzCodecError> {
        let outer = tlv::parse_tagged(bytes, tags::ACCOUNT_ASSERTION)?;
        let m = members(outer.value, &[0x30, tags::SIGNATURE])?;
        let raw = m
            .iter()
            .find(|(t, _, _)| *t == 0x30)
            .map(|(_, _, raw)| *raw)
            .ok_or(AuthzCodecError::Missing(0x30))?;
        Ok(AccountAssertion {
            claims: AssertionClaims::from_der(raw)?,
            signed: raw.to_vec(),
            signature: fixed(tags::SIGNATURE, need(&m, tags::SIGNATURE)?)?,
        })
    }

    /// Whether the signature verifies with `public_key` (uncompressed P-256).
    pub fn verify(&self, provider: &dyn CryptoProvider, public_key: &[u8]) -> bool {
        provider.verify(public_key, &self.signed, &self.signature)
    }
}

// --- human intent ----------------------------------------------------------------------------

/// The bytes a secure element signs to show that a person confirmed `operation` on `iccid`
/// (empty for eUICC-wide operations) of the eUICC `eid`, for the card nonce `nonce`.
pub fn intent_data(
    eid: &[u8; 16],
    operation: Operation,
    iccid: &[u8],
    nonce: &[u8; 16],
) -> Vec<u8> {
    let mut c = Vec::with_capacity(64);
    tlv::write_tlv(0x82, eid, &mut c);
    tlv::write_tlv(0x83, iccid, &mut c);
    tlv::write_tlv(0x84, &int_content(operation.code()), &mut c);
    tlv::write_tlv(0x88, nonce, &mut c);
    tlv::tlv(tags::INTENT_DATA, &c)
}

// --- the vendor commands ---------------------------------------------------------------------

/// AuthoriseAdminOperation (`FF23`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthoriseRequest {
    pub operation: Operation,
    /// EF.ICCID form; `None` for eUICC-wide operations.
    pub iccid: Option<Vec<u8>>,
    pub nonce: [u8; 16],
    /// The account assertion as received from the account server (`E1` TLV).
    pub assertion: Option<Vec<u8>>,
    /// The secure element's signature over [`intent_data`].
    pub intent_signature: Option<[u8; 64]>,
}

impl AuthoriseRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut c = Vec::new();
        tlv::write_tlv(0x80, &int_content(self.operation.code()), &mut c);
        if let Some(i) = &self.iccid {
            tlv::write_tlv(0x5A, i, &mut c);
        }
        tlv::write_tlv(0x81, &self.nonce, &mut c);
        if let Some(a) = &self.assertion {
            c.extend_from_slice(a);
        }
        if let Some(s) = &self.intent_signature {
            tlv::write_tlv(tags::SIGNATURE, s, &mut c);
        }
        vendor_command(tags::AUTHORISE_ADMIN_OPERATION, &c)
    }

    /// Decodes the content of `FF23`. The assertion is kept raw (checked by the card).
    pub fn decode(content: &[u8]) -> Result<AuthoriseRequest, AuthzCodecError> {
        let m = members(
            content,
            &[0x80, 0x5A, 0x81, tags::ACCOUNT_ASSERTION, tags::SIGNATURE],
        )?;
        let iccid = get(&m, 0x5A)
            .map(|v| match v.len() {
                10 => Ok(v.to_vec()),
                _ => Err(AuthzCodecError::Value {
                    tag: 0x5A,
                    reason: "an ICCID is 10 bytes",
                }),
            })
            .transpose()?;
        Ok(AuthoriseRequest {
            operation: operation_value(0x80, need(&m, 0x80)?)?,
            iccid,
            nonce: fixed(0x81, need(&m, 0x81)?)?,
            assertion: m
                .iter()
                .find(|(t, _, _)| *t == tags::ACCOUNT_ASSERTION)
                .map(|(_, _, raw)| raw.to_vec()),
            intent_signature: get(&m, tags::SIGNATURE)
                .map(|v| fixed(tags::SIGNATURE, v))
                .transpose()?,
        })
    }
}

/// GetAdminNonce (`FF22 {}`).
pub fn get_admin_nonce_request() -> Vec<u8> {
    vendor_command(tags::GET_ADMIN_NONCE, &[])
}

/// The answer to GetAdminNonce: the nonce and its lifetime in ES10 commands.
pub fn get_admin_nonce_response(nonce: &[u8; 16], lifetime: u32) -> Vec<u8> {
    let mut c = tlv::tlv(0x80, nonce);
    tlv::write_tlv(0x81, &int_content(i64::from(lifetime)), &mut c);
    vendor_command(tags::GET_ADMIN_NONCE, &c)
}

/// Parses the answer to GetAdminNonce.
pub fn parse_admin_nonce_response(data: &[u8]) -> Result<([u8; 16], u32), AuthzCodecError> {
    let content = expect_vendor(tags::GET_ADMIN_NONCE, data)?;
    let m = members(content, &[0x80, 0x81])?;
    let lifetime = parse_int(0x81, need(&m, 0x81)?)?;
    Ok((
        fixed(0x80, need(&m, 0x80)?)?,
        u32::try_from(lifetime).unwrap_or(0),
    ))
}

fn expect_vendor(tag: u32, data: &[u8]) -> Result<&[u8], AuthzCodecError> {
    match parse_vendor(data) {
        Some(Ok((t, c))) if t == tag => Ok(c),
        Some(Ok((t, _))) => Err(AuthzCodecError::UnexpectedTag {
            expected: tag,
            found: t,
        }),
        Some(Err(e)) => Err(e),
        None => Err(AuthzCodecError::UnexpectedTag {
            expected: tag,
            found: data.first().copied().map(u32::from).unwrap_or(0),
        }),
    }
}

/// GetAdminPolicy (`FF24`): the whole policy (`None`), or the requirement of one operation.
pub fn get_admin_policy_request(query: Option<(Operation, Option<&[u8]>)>) -> Vec<u8> {
    let mut c = Vec::new();
    if let Some((op, iccid)) = query {
        tlv::write_tlv(0x80, &int_content(op.code()), &mut c);
        if let Some(i) = iccid {
            tlv::write_tlv(0x5A, i, &mut c);
        }
    }
    vendor_command(tags::GET_ADMIN_POLICY, &c)
}

/// The decoded GetAdminPolicy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyQuery {
    pub operation: Option<Operation>,
    pub iccid: Option<Vec<u8>>,
}

impl PolicyQuery {
    pub fn decode(content: &[u8]) -> Result<PolicyQuery, AuthzCodecError> {
        let m = members(content, &[0x80, 0x5A])?;
        let operation = get(&m, 0x80)
            .map(|v| operation_value(0x80, v))
            .transpose()?;
        let iccid = get(&m, 0x5A).map(|v| iccid_value(0x5A, v)).transpose()?;
        if operation.is_none() && iccid.is_some() {
            return Err(AuthzCodecError::Missing(0x80));
        }
        Ok(PolicyQuery { operation, iccid })
    }
}

/// The answer to GetAdminPolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAnswer {
    pub result: i64,
    /// The policy as JSON text (whole-policy query, when readable).
    pub policy: Option<String>,
    /// The requirement (operation query).
    pub requirement: Option<Requirement>,
}

impl PolicyAnswer {
    pub fn encode(&self) -> Vec<u8> {
        let mut c = tlv::tlv(0x80, &int_content(self.result));
        if let Some(p) = &self.policy {
            tlv::write_tlv(0x81, p.as_bytes(), &mut c);
        }
        if let Some(r) = self.requirement {
            tlv::write_tlv(0x82, &int_content(r.code()), &mut c);
        }
        vendor_command(tags::GET_ADMIN_POLICY, &c)
    }

    pub fn decode(data: &[u8]) -> Result<PolicyAnswer, AuthzCodecError> {
        let content = expect_vendor(tags::GET_ADMIN_POLICY, data)?;
        let m = members(content, &[0x80, 0x81, 0x82])?;
        let policy = get(&m, 0x81)
            .map(|v| {
                std::str::from_utf8(v)
                    .map(str::to_string)
                    .map_err(|_| AuthzCodecError::Value {
                        tag: 0x81,
                        reason: "policy is not UTF-8",
                    })
            })
            .transpose()?;
        let requirement = get(&m, 0x82)
            .map(|v| {
                Requirement::from_code(parse_int(0x82, v)?).ok_or(AuthzCodecError::Value {
                    tag: 0x82,
                    reason: "requirement 0..3 expected",
                })
            })
            .transpose()?;
        Ok(PolicyAnswer {
            result: parse_int(0x80, need(&m, 0x80)?)?,
            policy,
            requirement,
        })
    }
}

/// SetAdminPolicy (`FF25 { 81 policy }`).
pub fn set_admin_policy_request(policy_json: &str) -> Vec<u8> {
    vendor_command(
        tags::SET_ADMIN_POLICY,
        &tlv::tlv(0x81, policy_json.as_bytes()),
    )
}

/// The policy text of a SetAdminPolicy request.
pub fn parse_set_admin_policy(content: &[u8]) -> Result<&str, AuthzCodecError> {
    let m = members(content, &[0x81])?;
    std::str::from_utf8(need(&m, 0x81)?).map_err(|_| AuthzCodecError::Value {
        tag: 0x81,
        reason: "policy is not UTF-8",
    })
}

/// FirmwareUpdate (`FF26 { [80 imageDigest] }`): checks the content only.
pub fn parse_firmware_update(content: &[u8]) -> Result<Option<Vec<u8>>, AuthzCodecError> {
    let m = members(content, &[0x80])?;
    Ok(get(&m, 0x80).map(<[u8]>::to_vec))
}

/// FirmwareUpdate request.
pub fn firmware_update_request(digest: Option<&[u8]>) -> Vec<u8> {
    let c = digest.map(|d| tlv::tlv(0x80, d)).unwrap_or_default();
    vendor_command(tags::FIRMWARE_UPDATE, &c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::deterministic::Deterministic;

    fn claims() -> AssertionClaims {
        AssertionClaims {
            account: "alice".into(),
            eid: [0x89; 16],
            iccid: vec![0x98; 10],
            operation: Operation::Enable,
            issued_at: 1_700_000_000,
            expires_at: 1_700_000_120,
            id: [7; 16],
            nonce: Some([1; 16]),
        }
    }

    #[test]
    fn assertion_round_trips_and_verifies() {
        let p = Deterministic::new([3; 32]);
        let (sk, pk) = p.generate_key().unwrap();
        let a = AccountAssertion::sign(&p, &sk, claims()).unwrap();
        let bytes = a.to_bytes();
        assert_eq!(bytes[0], 0xE1);
        let b = AccountAssertion::from_bytes(&bytes).unwrap();
        assert_eq!(b, a);
        assert!(b.verify(&p, &pk));
        let (_, other) = p.generate_key().unwrap();
        assert!(!b.verify(&p, &other));
    }

    #[test]
    fn rejects_tampered_or_trailing_assertions() {
        let p = Deterministic::new([4; 32]);
        let (sk, pk) = p.generate_key().unwrap();
        let bytes = AccountAssertion::sign(&p, &sk, claims())
            .unwrap()
            .to_bytes();
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(AccountAssertion::from_bytes(&trailing).is_err());
        // Flip a byte of the account name: still parses, no longer verifies.
        let mut tampered = bytes.clone();
        let pos = tampered.windows(5).position(|w| w == b"alice").unwrap();
        tampered[pos] = b'b';
        let t = AccountAssertion::from_bytes(&tampered).unwrap();
        assert!(!t.verify(&p, &pk));
        for n in 0..bytes.len() {
            let _ = AccountAssertion::from_bytes(&bytes[..n]);
        }
    }

    #[test]
    fn authorise_request_round_trips() {
        let r = AuthoriseRequest {
            operation: Operation::Delete,
            iccid: Some(vec![0x98; 10]),
            nonce: [2; 16],
            assertion: Some(tlv::tlv(0xE1, &tlv::tlv(0x30, &[]))),
            intent_signature: Some([9; 64]),
        };
        let bytes = r.encode();
        let (tag, content) = parse_vendor(&bytes).unwrap().unwrap();
        assert_eq!(tag, tags::AUTHORISE_ADMIN_OPERATION);
        assert_eq!(AuthoriseRequest::decode(content).unwrap(), r);
    }

    #[test]
    fn parse_vendor_refuses_trailing_and_truncated() {
        assert!(parse_vendor(&[0xBF, 0x22, 0x00]).is_none());
        assert!(parse_vendor(&[0xFF, 0x22, 0x00]).unwrap().is_ok());
        assert!(parse_vendor(&[0xFF, 0x22, 0x00, 0x00]).unwrap().is_err());
        assert!(parse_vendor(&[0xFF, 0x22, 0x02, 0x80]).unwrap().is_err());
        assert!(parse_vendor(&[0xFF, 0x22]).unwrap().is_err());
    }

    #[test]
    fn operations_and_requirements_parse_by_name() {
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>().unwrap(), op);
            assert_eq!(Operation::from_code(op.code()), Some(op));
        }
        assert_eq!("download".parse::<Operation>().unwrap(), Operation::Install);
        for r in ["none", "user", "intent", "both"] {
            let q: Requirement = r.parse().unwrap();
            assert_eq!(Requirement::from_code(q.code()), Some(q));
        }
        assert!("sometimes".parse::<Requirement>().is_err());
    }

    #[test]
    fn int_content_is_minimal() {
        assert_eq!(int_content(0), vec![0]);
        assert_eq!(int_content(127), vec![0x7F]);
        assert_eq!(int_content(128), vec![0x00, 0x80]);
        assert_eq!(int_content(-1), vec![0xFF]);
        assert_eq!(parse_int(0x80, &[0x00, 0x80]).unwrap(), 128);
    }
}
