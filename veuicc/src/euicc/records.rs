//! Persisted records of the eUICC (format version 1, JSON in the store). Golden-file tests in
//! `tests/golden.rs` freeze these encodings.

use serde::{Deserialize, Serialize};

/// Current format version of every record written by this module.
pub const FORMAT_VERSION: u32 = 1;

/// Hex (upper case) for byte fields, so records stay readable in a dump.
pub mod hexbytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// Profile state (SGP.22 ProfileState).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileState {
    Disabled,
    Enabled,
}

/// Profile class (SGP.22 ProfileClass: test 0, provisioning 1, operational 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileClass {
    Test,
    Provisioning,
    Operational,
}

impl ProfileClass {
    pub fn code(self) -> u8 {
        match self {
            ProfileClass::Test => 0,
            ProfileClass::Provisioning => 1,
            ProfileClass::Operational => 2,
        }
    }
    pub fn from_code(c: i64) -> Option<ProfileClass> {
        match c {
            0 => Some(ProfileClass::Test),
            1 => Some(ProfileClass::Provisioning),
            2 => Some(ProfileClass::Operational),
            _ => None,
        }
    }
}

/// Lifecycle events that may produce notifications (SGP.22 NotificationEvent bit numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Install,
    Enable,
    Disable,
    Delete,
}

impl Event {
    /// Bit number in the NotificationEvent BIT STRING.
    pub fn bit(self) -> u8 {
        match self {
            Event::Install => 0,
            Event::Enable => 1,
            Event::Disable => 2,
            Event::Delete => 3,
        }
    }
    pub fn all() -> [Event; 4] {
        [Event::Install, Event::Enable, Event::Disable, Event::Delete]
    }
}

/// One entry of notificationConfigurationInfo: which events go to which address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfig {
    pub events: Vec<Event>,
    pub address: String,
}

/// Profile owner (SGP.22 OperatorId).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorId {
    #[serde(with = "hexbytes")]
    pub mcc_mnc: Vec<u8>,
    #[serde(with = "hexbytes", default)]
    pub gid1: Vec<u8>,
    #[serde(with = "hexbytes", default)]
    pub gid2: Vec<u8>,
}

/// An installed profile (its ISD-P and metadata). The SAIP package itself is kept separately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub version: u32,
    /// ICCID as in SGP.22 `Iccid` / EF.ICCID (nibble-swapped), 10 bytes.
    #[serde(with = "hexbytes")]
    pub iccid: Vec<u8>,
    /// ISD-P AID, 16 bytes.
    #[serde(with = "hexbytes")]
    pub isdp_aid: Vec<u8>,
    pub state: ProfileState,
    pub nickname: Option<String>,
    pub service_provider_name: String,
    pub profile_name: String,
    pub class: ProfileClass,
    pub notifications: Vec<NotificationConfig>,
    pub owner: Option<OperatorId>,
    /// Profile policy rules: ppr1 (disable not allowed), ppr2 (delete not allowed).
    #[serde(default)]
    pub ppr1: bool,
    #[serde(default)]
    pub ppr2: bool,
    /// SM-DP+ OID from dpProprietaryData / the DPpb certificate, dotted form.
    pub dp_oid: Option<String>,
}

/// A pending notification (SGP.22 §4.4.x), kept until RemoveNotificationFromList.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub version: u32,
    pub seq: u32,
    pub event: Event,
    pub address: String,
    #[serde(with = "hexbytes")]
    pub iccid: Vec<u8>,
    /// DER of the NotificationMetadata (`BF2F`) as signed.
    #[serde(with = "hexbytes")]
    pub metadata: Vec<u8>,
    /// DER of the PendingNotification: `BF37` ProfileInstallationResult or `30`
    /// OtherSignedNotification.
    #[serde(with = "hexbytes")]
    pub pending: Vec<u8>,
}

/// eUICC-wide settings and counters (the `Meta` tree, key `config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EuiccConfig {
    pub version: u32,
    pub default_dp_address: Option<String>,
    pub root_ds_address: String,
    /// Last notification sequence number used (SGP.22: increases across all notifications).
    pub notification_seq: u32,
}

impl Default for EuiccConfig {
    fn default() -> Self {
        EuiccConfig {
            version: FORMAT_VERSION,
            default_dp_address: None,
            // GSMA's root SM-DS, the conventional default of consumer eUICCs.
            root_ds_address: "lpa.ds.gsma.com".to_string(),
            notification_seq: 0,
        }
    }
}

/// ICCID digits from the EF.ICCID / SGP.22 `Iccid` form (nibble-swapped, `F` filler dropped).
pub fn iccid_digits(swapped: &[u8]) -> String {
    swapped
        .iter()
        .flat_map(|b| [b & 0x0F, b >> 4])
        .filter(|n| *n <= 9)
        .map(|n| char::from(b'0' + n))
        .collect()
}

/// Parses an ICCID given as 19–20 digits, or as the 10-byte EF.ICCID form in hex (20 hex
/// digits with an `F` filler), into the EF.ICCID form.
pub fn parse_iccid(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.len() == 20 && s.chars().any(|c| c.is_ascii_alphabetic()) {
        return hex::decode(s).ok();
    }
    if !(s.len() == 19 || s.len() == 20) || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut nibbles: Vec<u8> = s.bytes().map(|b| b - b'0').collect();
    if nibbles.len() == 19 {
        nibbles.push(0xF);
    }
    Some(nibbles.chunks(2).map(|p| p[0] | (p[1] << 4)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iccid_digits_and_parse_round_trip() {
        let swapped = parse_iccid("8949449999999990171").unwrap();
        assert_eq!(hex::encode_upper(&swapped), "989444999999990971F1");
        assert_eq!(iccid_digits(&swapped), "8949449999999990171");
        assert_eq!(parse_iccid("989444999999990971F1").unwrap(), swapped);
        assert!(parse_iccid("12345").is_none());
        assert!(parse_iccid("89494499999999901x1").is_none());
    }
}
