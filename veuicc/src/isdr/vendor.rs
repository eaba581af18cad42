//! Vendor ES10 extensions of this eUICC (not in SGP.22; documented in `docs/veuicc.md`,
//! "Vendor ES10 extensions"). They travel like ES10 functions: STORE DATA to the ISD-R, one
//! BER-TLV per command, with private-class constructed outer tags (first byte `FF`), which no
//! SGP.22 function uses. A card that does not know them answers an error status word (`6A88`
//! on most cards; this card's SGP.22 parser would say `6A80`), so a device can tell.
//!
//! **IMEI binding record** (issue 5, flow 1). The device's IMEI binding engine (the virtual
//! modem) keeps, per profile, a policy, the IMEI the profile is bound to and a history of
//! (IMEI, time, event). After each re-evaluation it stores the profile's record on the card
//! (`SetImeiBinding`, `FF21`); anyone can read the records back (`GetImeiBinding`, `FF20`). The
//! card keeps one record per installed profile and removes it with the profile.
//!
//! ```text
//! GetImeiBinding request   FF20 L [5A 0A iccid]            ICCID filter optional
//! GetImeiBinding response  FF20 L {A0 record}*              in ICCID order; none: FF20 00
//! SetImeiBinding request   FF21 L {A0 record}1..8           distinct ICCIDs, stored all or
//!                                                           none (one store commit)
//! SetImeiBinding response  FF21 L 80 01 result {A0 record}* 00 ok (then the records as
//!                                                           stored), 01 iccidNotFound (one
//!                                                           is not installed: none stored),
//!                                                           7F undefined
//! record   A0 L  5A 0A iccid            EF.ICCID form (nibble-swapped BCD, F filler)
//!                80 01 policy           00 exclusive, 01 shareable
//!                81 01 status           00 bound, 01 unbound, 02 pending (server asked)
//!                82 08 imei             present iff status is bound
//!                A3 L {30 L entry}*     history, oldest first, at most 64 entries
//! entry    30 L  82 08 imei
//!                83 1..8 time           Unix seconds, unsigned big-endian
//!                84 01 event            00 installed, 01 enabled, 02 disabled, 03 deleted,
//!                                       04 assigned
//! imei     8 bytes TBCD as SGP.22 DeviceInfo.imei (TS 24.008 §10.5.1.4 digit order: low
//!          nibble first), 15 digits with a valid check digit and an F filler
//! ```
//!
//! Malformed commands (bad TLV, trailing bytes, a missing, repeated or unknown member, a value
//! out of range, an IMEI with a wrong check digit) answer `6A80` and change nothing; a failed
//! store write answers `6581`.

use rsp::es10::Es10Error;
use rsp::tlv::{self, Tlv};
use serde::{Deserialize, Serialize};

use super::IsdrError;
use crate::euicc::records::{hexbytes, FORMAT_VERSION};
use crate::euicc::EuiccState;
use crate::store::{Batch, Tree};

/// Outer tag of GetImeiBinding.
pub const GET_IMEI_BINDING: u32 = 0xFF20;
/// Outer tag of SetImeiBinding.
pub const SET_IMEI_BINDING: u32 = 0xFF21;
/// Most history entries a record may hold.
pub const MAX_HISTORY: usize = 64;
/// Most records one SetImeiBinding may carry.
pub const MAX_SET_RECORDS: usize = 8;

/// SetImeiBinding result: stored.
pub const RESULT_OK: u8 = 0;
/// SetImeiBinding result: no installed profile has this ICCID.
pub const RESULT_ICCID_NOT_FOUND: u8 = 1;
/// SetImeiBinding result: anything else.
pub const RESULT_UNDEFINED: u8 = 0x7F;

/// Key prefix of the records in the card's `Meta` tree (then the 10-byte ICCID).
pub const STORE_PREFIX: &[u8] = b"vendor/imei-binding/";

/// Whether a profile's IMEI may be shared with other profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingPolicy {
    /// The IMEI is never shared with another profile.
    Exclusive,
    /// The IMEI may be shared with other shareable profiles.
    Shareable,
}

impl BindingPolicy {
    pub fn code(self) -> u8 {
        match self {
            BindingPolicy::Exclusive => 0,
            BindingPolicy::Shareable => 1,
        }
    }

    pub fn from_code(c: u8) -> Option<BindingPolicy> {
        match c {
            0 => Some(BindingPolicy::Exclusive),
            1 => Some(BindingPolicy::Shareable),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BindingPolicy::Exclusive => "exclusive",
            BindingPolicy::Shareable => "shareable",
        }
    }
}

impl std::str::FromStr for BindingPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<BindingPolicy, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exclusive" => Ok(BindingPolicy::Exclusive),
            "shareable" => Ok(BindingPolicy::Shareable),
            other => Err(format!(
                "unknown IMEI binding policy {other:?} (exclusive, shareable)"
            )),
        }
    }
}

/// Where a profile's binding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingStatus {
    /// Bound to an IMEI.
    Bound,
    /// No IMEI could be given under the policies.
    Unbound,
    /// Waiting for the IMEI assignment server.
    Pending,
}

impl BindingStatus {
    pub fn code(self) -> u8 {
        match self {
            BindingStatus::Bound => 0,
            BindingStatus::Unbound => 1,
            BindingStatus::Pending => 2,
        }
    }

    pub fn from_code(c: u8) -> Option<BindingStatus> {
        match c {
            0 => Some(BindingStatus::Bound),
            1 => Some(BindingStatus::Unbound),
            2 => Some(BindingStatus::Pending),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BindingStatus::Bound => "bound",
            BindingStatus::Unbound => "unbound",
            BindingStatus::Pending => "pending",
        }
    }
}

/// What happened to a binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindingEvent {
    /// The profile was installed (or first seen) and bound.
    Installed,
    /// The profile was enabled with this IMEI.
    Enabled,
    /// The profile was disabled (or its card removed) while bound to this IMEI.
    Disabled,
    /// The profile was deleted; its binding was released.
    Deleted,
    /// The profile was bound to this IMEI outside a lifecycle change: an IMEI from the
    /// assignment server, a policy change or an IMEI write.
    Assigned,
}

impl BindingEvent {
    pub fn code(self) -> u8 {
        match self {
            BindingEvent::Installed => 0,
            BindingEvent::Enabled => 1,
            BindingEvent::Disabled => 2,
            BindingEvent::Deleted => 3,
            BindingEvent::Assigned => 4,
        }
    }

    pub fn from_code(c: u8) -> Option<BindingEvent> {
        match c {
            0 => Some(BindingEvent::Installed),
            1 => Some(BindingEvent::Enabled),
            2 => Some(BindingEvent::Disabled),
            3 => Some(BindingEvent::Deleted),
            4 => Some(BindingEvent::Assigned),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BindingEvent::Installed => "installed",
            BindingEvent::Enabled => "enabled",
            BindingEvent::Disabled => "disabled",
            BindingEvent::Deleted => "deleted",
            BindingEvent::Assigned => "assigned",
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingEntry {
    /// 15 digits.
    pub imei: String,
    /// Unix seconds.
    pub time: u64,
    pub event: BindingEvent,
}

/// The IMEI binding record of one profile, as the card stores it (persisted JSON, format
/// version 1, frozen by `tests/golden_imei_binding.rs`) and as it travels in `A0`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImeiBindingRecord {
    pub version: u32,
    /// EF.ICCID form, 10 bytes.
    #[serde(with = "hexbytes")]
    pub iccid: Vec<u8>,
    pub policy: BindingPolicy,
    pub status: BindingStatus,
    /// The bound IMEI (15 digits) when `status` is bound.
    pub imei: Option<String>,
    /// Oldest first.
    pub history: Vec<BindingEntry>,
}

/// Why a vendor command or response could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VendorError {
    #[error("malformed TLV: {0}")]
    Tlv(#[from] tlv::TlvError),
    #[error("{0}")]
    Invalid(String),
}

fn invalid(s: impl Into<String>) -> VendorError {
    VendorError::Invalid(s.into())
}

// --- IMEI digits ---------------------------------------------------------------------------

/// The Luhn check digit of `digits` (3GPP TS 23.003 Annex B); `None` if not all digits.
fn luhn(digits: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        if *d > 9 {
            return None;
        }
        let d = u32::from(*d);
        sum += if i % 2 == 0 {
            let x = d * 2;
            x / 10 + x % 10
        } else {
            d
        };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Checks 15 decimal digits with a valid check digit.
pub fn check_imei(imei: &str) -> Result<(), VendorError> {
    let d: Vec<u8> = imei.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if d.len() != 15 || d.iter().any(|x| *x > 9) {
        return Err(invalid(format!("an IMEI has 15 digits, not {imei:?}")));
    }
    let (body, cd) = d.split_at(14);
    if luhn(body) != cd.first().copied() {
        return Err(invalid(format!("IMEI {imei} has a wrong check digit")));
    }
    Ok(())
}

/// 15 IMEI digits → 8 TBCD bytes (low nibble first, `F` filler).
pub fn imei_to_tbcd(imei: &str) -> Result<Vec<u8>, VendorError> {
    check_imei(imei)?;
    let mut d: Vec<u8> = imei.bytes().map(|b| b - b'0').collect();
    d.push(0x0F);
    Ok(d.chunks(2).map(|p| p[0] | (p[1] << 4)).collect())
}

/// 8 TBCD bytes → 15 IMEI digits (checked).
pub fn imei_from_tbcd(b: &[u8]) -> Result<String, VendorError> {
    if b.len() != 8 {
        return Err(invalid(format!("an IMEI is 8 TBCD bytes, not {}", b.len())));
    }
    let mut s = String::with_capacity(15);
    for (i, n) in b.iter().flat_map(|x| [x & 0x0F, x >> 4]).enumerate() {
        match (i, n) {
            (0..=14, 0..=9) => s.push(char::from(b'0' + n)),
            (15, 0x0F) => {}
            _ => return Err(invalid(format!("bad TBCD IMEI {}", hex::encode_upper(b)))),
        }
    }
    check_imei(&s)?;
    Ok(s)
}

// --- codec ---------------------------------------------------------------------------------

/// Reads the outer tag of a vendor command: `FF2x`, a definite length, the value, nothing after
/// ([`tlv::split_vendor`]), and checks it is `tag`.
fn outer(input: &[u8], tag: u32) -> Result<&[u8], VendorError> {
    match tlv::split_vendor(input) {
        Some(Ok((found, value))) if found == tag => Ok(value),
        Some(Err(e)) => Err(e.into()),
        _ => Err(invalid(format!(
            "expected tag {tag:04X}, found {}",
            hex::encode_upper(input.get(..2).unwrap_or(input))
        ))),
    }
}

fn wrap(tag: u32, value: &[u8]) -> Vec<u8> {
    tlv::vendor_tlv(tag, value)
}

/// The TLVs of `value`, all well-formed.
fn children(value: &[u8]) -> Result<Vec<Tlv<'_>>, VendorError> {
    Ok(tlv::TlvIter::new(value).collect::<Result<Vec<_>, _>>()?)
}

fn one_byte(t: &Tlv<'_>, what: &str) -> Result<u8, VendorError> {
    match t.value {
        [b] => Ok(*b),
        _ => Err(invalid(format!("{what} is one byte"))),
    }
}

fn time_bytes(t: u64) -> Vec<u8> {
    let b = t.to_be_bytes();
    let skip = b.iter().take(7).take_while(|x| **x == 0).count();
    b.get(skip..).unwrap_or(&b).to_vec()
}

impl ImeiBindingRecord {
    /// The `A0` TLV. Fails only on an IMEI that is not 15 digits with a valid check digit.
    pub fn encode(&self) -> Result<Vec<u8>, VendorError> {
        let mut v = tlv::tlv(0x5A, &self.iccid);
        v.extend(tlv::tlv(0x80, &[self.policy.code()]));
        v.extend(tlv::tlv(0x81, &[self.status.code()]));
        if let Some(i) = &self.imei {
            v.extend(tlv::tlv(0x82, &imei_to_tbcd(i)?));
        }
        let mut h = Vec::new();
        for e in &self.history {
            let mut ev = tlv::tlv(0x82, &imei_to_tbcd(&e.imei)?);
            ev.extend(tlv::tlv(0x83, &time_bytes(e.time)));
            ev.extend(tlv::tlv(0x84, &[e.event.code()]));
            h.extend(tlv::tlv(0x30, &ev));
        }
        v.extend(tlv::tlv(0xA3, &h));
        Ok(tlv::tlv(0xA0, &v))
    }

    /// Decodes one `A0` TLV (its whole encoding), checking every member.
    pub fn decode(t: &Tlv<'_>) -> Result<ImeiBindingRecord, VendorError> {
        if t.tag.0 != 0xA0 {
            return Err(invalid(format!("expected a record A0, found {}", t.tag)));
        }
        let (mut iccid, mut policy, mut status, mut imei, mut history) =
            (None, None, None, None, None);
        for c in children(t.value)? {
            let dup = || invalid(format!("member {} appears twice", c.tag));
            match c.tag.0 {
                0x5A => {
                    if c.value.len() != 10 {
                        return Err(invalid("an ICCID is 10 bytes"));
                    }
                    if iccid.replace(c.value.to_vec()).is_some() {
                        return Err(dup());
                    }
                }
                0x80 => {
                    let p = BindingPolicy::from_code(one_byte(&c, "policy")?)
                        .ok_or_else(|| invalid("unknown policy"))?;
                    if policy.replace(p).is_some() {
                        return Err(dup());
                    }
                }
                0x81 => {
                    let s = BindingStatus::from_code(one_byte(&c, "status")?)
                        .ok_or_else(|| invalid("unknown status"))?;
                    if status.replace(s).is_some() {
                        return Err(dup());
                    }
                }
                0x82 => {
                    if imei.replace(imei_from_tbcd(c.value)?).is_some() {
                        return Err(dup());
                    }
                }
                0xA3 => {
                    if history.replace(decode_history(c.value)?).is_some() {
                        return Err(dup());
                    }
                }
                other => return Err(invalid(format!("unknown member {:X} in a record", other))),
            }
        }
        let status = status.ok_or_else(|| invalid("the record has no status (81)"))?;
        if (status == BindingStatus::Bound) != imei.is_some() {
            return Err(invalid(
                "a record has an IMEI (82) exactly when its status is bound",
            ));
        }
        Ok(ImeiBindingRecord {
            version: FORMAT_VERSION,
            iccid: iccid.ok_or_else(|| invalid("the record has no ICCID (5A)"))?,
            policy: policy.ok_or_else(|| invalid("the record has no policy (80)"))?,
            status,
            imei,
            history: history.ok_or_else(|| invalid("the record has no history (A3)"))?,
        })
    }
}

fn decode_history(value: &[u8]) -> Result<Vec<BindingEntry>, VendorError> {
    let entries = children(value)?;
    if entries.len() > MAX_HISTORY {
        return Err(invalid(format!(
            "{} history entries (at most {MAX_HISTORY})",
            entries.len()
        )));
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        if e.tag.0 != 0x30 {
            return Err(invalid(format!(
                "expected a history entry 30, found {}",
                e.tag
            )));
        }
        let (mut imei, mut time, mut event) = (None, None, None);
        for c in children(e.value)? {
            let dup = || invalid(format!("entry member {} appears twice", c.tag));
            match c.tag.0 {
                0x82 => {
                    if imei.replace(imei_from_tbcd(c.value)?).is_some() {
                        return Err(dup());
                    }
                }
                0x83 => {
                    if c.value.is_empty() || c.value.len() > 8 {
                        return Err(invalid("a time is 1 to 8 bytes"));
                    }
                    let t = c.value.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b));
                    if time.replace(t).is_some() {
                        return Err(dup());
                    }
                }
                0x84 => {
                    let ev = BindingEvent::from_code(one_byte(&c, "event")?)
                        .ok_or_else(|| invalid("unknown event"))?;
                    if event.replace(ev).is_some() {
                        return Err(dup());
                    }
                }
                other => return Err(invalid(format!("unknown member {other:X} in an entry"))),
            }
        }
        out.push(BindingEntry {
            imei: imei.ok_or_else(|| invalid("an entry has no IMEI (82)"))?,
            time: time.ok_or_else(|| invalid("an entry has no time (83)"))?,
            event: event.ok_or_else(|| invalid("an entry has no event (84)"))?,
        });
    }
    Ok(out)
}

/// The GetImeiBinding command, optionally for one ICCID (EF.ICCID form).
pub fn get_request(iccid: Option<&[u8]>) -> Vec<u8> {
    wrap(
        GET_IMEI_BINDING,
        &iccid.map(|i| tlv::tlv(0x5A, i)).unwrap_or_default(),
    )
}

/// Decodes a GetImeiBinding response.
pub fn decode_get_response(data: &[u8]) -> Result<Vec<ImeiBindingRecord>, VendorError> {
    let value = outer(data, GET_IMEI_BINDING)?;
    children(value)?
        .iter()
        .map(ImeiBindingRecord::decode)
        .collect()
}

/// The SetImeiBinding command for `record`.
pub fn set_request(record: &ImeiBindingRecord) -> Result<Vec<u8>, VendorError> {
    set_request_many(std::slice::from_ref(record))
}

/// The SetImeiBinding command for up to [`MAX_SET_RECORDS`] records of distinct profiles.
pub fn set_request_many(records: &[ImeiBindingRecord]) -> Result<Vec<u8>, VendorError> {
    check_set(records)?;
    let mut body = Vec::new();
    for r in records {
        body.extend(r.encode()?);
    }
    Ok(wrap(SET_IMEI_BINDING, &body))
}

fn check_set(records: &[ImeiBindingRecord]) -> Result<(), VendorError> {
    if records.is_empty() || records.len() > MAX_SET_RECORDS {
        return Err(invalid(format!(
            "SetImeiBinding takes 1 to {MAX_SET_RECORDS} records, not {}",
            records.len()
        )));
    }
    for (i, r) in records.iter().enumerate() {
        if records
            .get(..i)
            .unwrap_or_default()
            .iter()
            .any(|o| o.iccid == r.iccid)
        {
            return Err(invalid("SetImeiBinding names a profile twice"));
        }
    }
    Ok(())
}

/// Decodes a SetImeiBinding response: the result code and, on success, the records as stored.
pub fn decode_set_response(data: &[u8]) -> Result<(u8, Vec<ImeiBindingRecord>), VendorError> {
    let value = outer(data, SET_IMEI_BINDING)?;
    let kids = children(value)?;
    let result = match kids.first() {
        Some(t) if t.tag.0 == 0x80 => one_byte(t, "result")?,
        _ => return Err(invalid("the response has no result (80)")),
    };
    let records = kids
        .get(1..)
        .unwrap_or_default()
        .iter()
        .map(ImeiBindingRecord::decode)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((result, records))
}

// --- the card's side -------------------------------------------------------------------------

/// Whether `command` is one of the vendor functions above (by its first two bytes).
pub fn is_vendor_command(command: &[u8]) -> bool {
    matches!(command, [0xFF, 0x20 | 0x21, ..])
}

fn malformed(e: VendorError) -> IsdrError {
    IsdrError::Malformed(Es10Error::Decode {
        type_name: "vendor ES10 extension (IMEI binding)",
        reason: e.to_string(),
    })
}

fn storage(e: impl std::fmt::Display) -> IsdrError {
    IsdrError::Storage(e.to_string())
}

/// The store key of a profile's record.
pub fn store_key(iccid: &[u8]) -> Vec<u8> {
    let mut k = STORE_PREFIX.to_vec();
    k.extend_from_slice(iccid);
    k
}

/// Handles a vendor command (see [`is_vendor_command`]): the response data, or the error that
/// becomes a status word.
pub fn handle(state: &mut EuiccState, command: &[u8]) -> Result<Vec<u8>, IsdrError> {
    if command.get(..2) == Some(&[0xFF, 0x20]) {
        get_binding(state, command)
    } else {
        set_binding(state, command)
    }
}

fn stored(state: &EuiccState) -> Result<Vec<ImeiBindingRecord>, IsdrError> {
    let mut out = Vec::new();
    for (k, v) in state
        .store()
        .scan(Tree::Meta, STORE_PREFIX)
        .map_err(storage)?
    {
        let iccid = k.get(STORE_PREFIX.len()..).unwrap_or_default();
        // A record whose profile is gone (a store written before this version removed them
        // with the profile) is not shown.
        if !state.has_iccid(iccid) {
            continue;
        }
        match serde_json::from_slice::<ImeiBindingRecord>(&v) {
            Ok(r) if r.version == FORMAT_VERSION => out.push(r),
            Ok(r) => tracing::warn!(
                version = r.version,
                "IMEI binding record of another format version skipped"
            ),
            Err(e) => tracing::warn!(error = %e, "corrupt IMEI binding record skipped"),
        }
    }
    Ok(out)
}

fn get_binding(state: &mut EuiccState, command: &[u8]) -> Result<Vec<u8>, IsdrError> {
    let value = outer(command, GET_IMEI_BINDING).map_err(malformed)?;
    let filter = match children(value).map_err(malformed)?.as_slice() {
        [] => None,
        [t] if t.tag.0 == 0x5A && t.value.len() == 10 => Some(t.value.to_vec()),
        _ => {
            return Err(malformed(invalid(
                "GetImeiBinding takes nothing or one ICCID (5A, 10 bytes)",
            )))
        }
    };
    let mut body = Vec::new();
    for r in stored(state)? {
        if filter.as_ref().is_some_and(|f| *f != r.iccid) {
            continue;
        }
        body.extend(r.encode().map_err(|e| IsdrError::Internal(e.to_string()))?);
    }
    Ok(wrap(GET_IMEI_BINDING, &body))
}

fn set_binding(state: &mut EuiccState, command: &[u8]) -> Result<Vec<u8>, IsdrError> {
    let value = outer(command, SET_IMEI_BINDING).map_err(malformed)?;
    let records = children(value)
        .map_err(malformed)?
        .iter()
        .map(ImeiBindingRecord::decode)
        .collect::<Result<Vec<_>, _>>()
        .map_err(malformed)?;
    check_set(&records).map_err(malformed)?;
    if records.iter().any(|r| !state.has_iccid(&r.iccid)) {
        return Ok(wrap(
            SET_IMEI_BINDING,
            &tlv::tlv(0x80, &[RESULT_ICCID_NOT_FOUND]),
        ));
    }
    let mut b = Batch::new();
    let mut body = tlv::tlv(0x80, &[RESULT_OK]);
    for rec in &records {
        let json = serde_json::to_vec(rec).map_err(|e| IsdrError::Internal(e.to_string()))?;
        b.put(Tree::Meta, store_key(&rec.iccid), json);
        body.extend(
            rec.encode()
                .map_err(|e| IsdrError::Internal(e.to_string()))?,
        );
    }
    state.store().commit(b).map_err(storage)?;
    Ok(wrap(SET_IMEI_BINDING, &body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record() -> ImeiBindingRecord {
        ImeiBindingRecord {
            version: FORMAT_VERSION,
            iccid: hex::decode("984944999999990920F3").unwrap(),
            policy: BindingPolicy::Exclusive,
            status: BindingStatus::Bound,
            imei: Some("490154203237518".into()),
            history: vec![
                BindingEntry {
                    imei: "490154203237518".into(),
                    time: 1_700_000_000,
                    event: BindingEvent::Installed,
                },
                BindingEntry {
                    imei: "490154203237518".into(),
                    time: 0,
                    event: BindingEvent::Enabled,
                },
            ],
        }
    }

    #[test]
    fn record_round_trips_through_tlv() {
        let r = record();
        let der = r.encode().unwrap();
        let t = tlv::parse_exact(&der).unwrap();
        assert_eq!(ImeiBindingRecord::decode(&t).unwrap(), r);
    }

    #[test]
    fn encodes_imei_as_tbcd_low_nibble_first() {
        let tbcd = imei_to_tbcd("490154203237518").unwrap();
        assert_eq!(hex::encode_upper(&tbcd), "94104502237315F8");
        assert_eq!(imei_from_tbcd(&tbcd).unwrap(), "490154203237518");
    }

    #[test]
    fn rejects_imei_with_wrong_check_digit() {
        assert!(imei_to_tbcd("490154203237519").is_err());
        assert!(imei_from_tbcd(&[0x94, 0x10, 0x45, 0x02, 0x23, 0x73, 0x15, 0xF9]).is_err());
    }

    #[test]
    fn decodes_the_example_of_docs_veuicc_md() {
        let resp = hex::decode(concat!(
            "FF2035A0335A0A989444999999990920F3800101810100820853029900711694F9",
            "A3153013820853029900711694F983046553F100840101"
        ))
        .unwrap();
        let r = decode_get_response(&resp).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].imei.as_deref(), Some("352099001761499"));
        assert_eq!(r[0].policy, BindingPolicy::Shareable);
        assert_eq!(
            r[0].history,
            vec![BindingEntry {
                imei: "352099001761499".into(),
                time: 1_700_000_000,
                event: BindingEvent::Enabled
            }]
        );
        assert_eq!(wrap(GET_IMEI_BINDING, &r[0].encode().unwrap()), resp);
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic_on_arbitrary_input(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)
        ) {
            let _ = decode_get_response(&body);
            let _ = decode_set_response(&body);
            for tag in [GET_IMEI_BINDING, SET_IMEI_BINDING] {
                let _ = decode_get_response(&wrap(tag, &body));
                let _ = decode_set_response(&wrap(tag, &body));
            }
            if let Ok(t) = tlv::parse_exact(&body) {
                let _ = ImeiBindingRecord::decode(&t);
            }
        }

        #[test]
        fn records_round_trip(
            policy in 0u8..2, status in 0u8..3,
            times in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..10),
        ) {
            let status = BindingStatus::from_code(status).unwrap();
            let r = ImeiBindingRecord {
                version: FORMAT_VERSION,
                iccid: vec![0x98; 10],
                policy: BindingPolicy::from_code(policy).unwrap(),
                status,
                imei: (status == BindingStatus::Bound).then(|| "490154203237518".to_string()),
                history: times
                    .iter()
                    .enumerate()
                    .map(|(i, t)| BindingEntry {
                        imei: "356938035643809".into(),
                        time: *t,
                        event: BindingEvent::from_code((i % 5) as u8).unwrap(),
                    })
                    .collect(),
            };
            let der = r.encode().unwrap();
            let back = ImeiBindingRecord::decode(&tlv::parse_exact(&der).unwrap()).unwrap();
            proptest::prop_assert_eq!(back, r);
        }
    }

    #[test]
    fn time_is_minimal_big_endian() {
        assert_eq!(time_bytes(0), vec![0]);
        assert_eq!(time_bytes(0x0102), vec![1, 2]);
        assert_eq!(time_bytes(u64::MAX).len(), 8);
    }

    #[test]
    fn rejects_bound_status_without_imei() {
        let mut r = record();
        r.imei = None;
        let der = r.encode().unwrap();
        let t = tlv::parse_exact(&der).unwrap();
        assert!(ImeiBindingRecord::decode(&t).is_err());
    }

    #[test]
    fn outer_tag_must_match_and_cover_the_input() {
        assert!(outer(&[0xFF, 0x20, 0x00], GET_IMEI_BINDING).is_ok());
        assert!(outer(&[0xFF, 0x20, 0x00, 0x00], GET_IMEI_BINDING).is_err());
        assert!(outer(&[0xFF, 0x20, 0x02, 0x00], GET_IMEI_BINDING).is_err());
        assert!(outer(&[0xFF, 0x21, 0x00], GET_IMEI_BINDING).is_err());
        assert!(outer(&[0xFF], GET_IMEI_BINDING).is_err());
    }
}
