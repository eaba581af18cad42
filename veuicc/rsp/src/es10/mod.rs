//! Typed ES10a/b/c messages of GSMA SGP.22 v2.x (the `RSPDefinitions` version-two module,
//! `AUTOMATIC TAGS`), as `rasn` types.
//!
//! - Input from the LPA goes through [`decode_request`] (or [`decode`] for one type): BER, so
//!   that the usual LPA deviations (BOOLEAN `01` instead of `FF`, non-minimal lengths or bit
//!   strings) are accepted; trailing bytes after the outer TLV are refused.
//! - Output goes through [`encode`] / [`try_encode`]: DER.
//!
//! Tagging follows the module: a type-level `[n] SEQUENCE` replaces the SEQUENCE tag (so `BF20`…
//! `BF43`), a tagged CHOICE is always explicit (`BF2D{A0…}`, `BF33{5A…}`), and in a SEQUENCE whose
//! members carry no tags at all the members get `[0]`, `[1]`, … (written out by hand here, as
//! `rasn`'s `automatic_tags` would tag CHOICE members implicitly).
//!
//! Certificates and the ProfileInstallationResult inside notifications are kept as raw DER
//! ([`RawCertificate`], [`RawProfileInstallationResult`]) so that they round-trip byte-exactly.

mod common;
mod download;
mod info;
mod notifications;
mod profiles;

#[cfg(test)]
mod tests;

pub use common::*;
pub use download::*;
pub use info::*;
pub use notifications::*;
pub use profiles::*;

use crate::tlv::{self, TlvError};

/// Outer tags of the ES10 functions (the `[n]` of each request type, as packed tag bytes).
pub mod tags {
    /// GetEUICCInfo1 (ES10b).
    pub const GET_EUICC_INFO1: u32 = 0xBF20;
    /// PrepareDownload (ES10b).
    pub const PREPARE_DOWNLOAD: u32 = 0xBF21;
    /// GetEUICCInfo2 (ES10b).
    pub const GET_EUICC_INFO2: u32 = 0xBF22;
    /// ListNotification (ES10b).
    pub const LIST_NOTIFICATION: u32 = 0xBF28;
    /// SetNickname (ES10c).
    pub const SET_NICKNAME: u32 = 0xBF29;
    /// RetrieveNotificationsList (ES10b).
    pub const RETRIEVE_NOTIFICATIONS_LIST: u32 = 0xBF2B;
    /// GetProfilesInfo (ES10c).
    pub const GET_PROFILES_INFO: u32 = 0xBF2D;
    /// GetEUICCChallenge (ES10b).
    pub const GET_EUICC_CHALLENGE: u32 = 0xBF2E;
    /// NotificationMetadata (not a function; inside ListNotification and notifications).
    pub const NOTIFICATION_METADATA: u32 = 0xBF2F;
    /// RemoveNotificationFromList / NotificationSent (ES10b).
    pub const NOTIFICATION_SENT: u32 = 0xBF30;
    /// EnableProfile (ES10c).
    pub const ENABLE_PROFILE: u32 = 0xBF31;
    /// DisableProfile (ES10c).
    pub const DISABLE_PROFILE: u32 = 0xBF32;
    /// DeleteProfile (ES10c).
    pub const DELETE_PROFILE: u32 = 0xBF33;
    /// eUICCMemoryReset (ES10c).
    pub const EUICC_MEMORY_RESET: u32 = 0xBF34;
    /// LoadCRL (ES10b), reserved: decoded by a later change.
    pub const LOAD_CRL: u32 = 0xBF35;
    /// LoadBoundProfilePackage (ES10b, segmented).
    pub const BOUND_PROFILE_PACKAGE: u32 = 0xBF36;
    /// ProfileInstallationResult (output of LoadBoundProfilePackage).
    pub const PROFILE_INSTALLATION_RESULT: u32 = 0xBF37;
    /// AuthenticateServer (ES10b).
    pub const AUTHENTICATE_SERVER: u32 = 0xBF38;
    /// GetEuiccConfiguredAddresses (ES10a).
    pub const EUICC_CONFIGURED_ADDRESSES: u32 = 0xBF3C;
    /// GetEID (ES10c).
    pub const GET_EUICC_DATA: u32 = 0xBF3E;
    /// SetDefaultDpAddress (ES10a).
    pub const SET_DEFAULT_DP_ADDRESS: u32 = 0xBF3F;
    /// CancelSession (ES10b).
    pub const CANCEL_SESSION: u32 = 0xBF41;
    /// LpaeActivation (ES10b, optional), reserved.
    pub const LPAE_ACTIVATION: u32 = 0xBF42;
    /// GetRAT (ES10b).
    pub const GET_RAT: u32 = 0xBF43;
}

// --- Result codes ----------------------------------------------------------------------------

/// `EnableProfileResponse.enableResult` (SGP.22 v2.5).
pub mod enable_result {
    pub const OK: i64 = 0;
    pub const ICCID_OR_AID_NOT_FOUND: i64 = 1;
    pub const PROFILE_NOT_IN_DISABLED_STATE: i64 = 2;
    pub const DISALLOWED_BY_POLICY: i64 = 3;
    pub const WRONG_PROFILE_REENABLING: i64 = 4;
    /// Added in v2.3 (not in v2.2).
    pub const CAT_BUSY: i64 = 5;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `DisableProfileResponse.disableResult` (SGP.22 v2.5).
pub mod disable_result {
    pub const OK: i64 = 0;
    pub const ICCID_OR_AID_NOT_FOUND: i64 = 1;
    pub const PROFILE_NOT_IN_ENABLED_STATE: i64 = 2;
    pub const DISALLOWED_BY_POLICY: i64 = 3;
    /// Added in v2.3 (not in v2.2).
    pub const CAT_BUSY: i64 = 5;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `DeleteProfileResponse.deleteResult`.
pub mod delete_result {
    pub const OK: i64 = 0;
    pub const ICCID_OR_AID_NOT_FOUND: i64 = 1;
    pub const PROFILE_NOT_IN_DISABLED_STATE: i64 = 2;
    pub const DISALLOWED_BY_POLICY: i64 = 3;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `SetNicknameResponse.setNicknameResult`.
pub mod set_nickname_result {
    pub const OK: i64 = 0;
    pub const ICCID_NOT_FOUND: i64 = 1;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `EuiccMemoryResetResponse.resetResult`.
pub mod reset_result {
    pub const OK: i64 = 0;
    pub const NOTHING_TO_DELETE: i64 = 1;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `SetDefaultDpAddressResponse.setDefaultDpAddressResult`.
pub mod set_default_dp_address_result {
    pub const OK: i64 = 0;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `NotificationSentResponse.deleteNotificationStatus`.
pub mod delete_notification_status {
    pub const OK: i64 = 0;
    pub const NOTHING_TO_DELETE: i64 = 1;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `ProfileInfoListError`.
pub mod profile_info_list_error {
    pub const INCORRECT_INPUT_VALUES: i64 = 1;
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `ListNotificationResponse.listNotificationsResultError`.
pub mod list_notifications_result_error {
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `RetrieveNotificationsListResponse.notificationsListResultError`.
pub mod retrieve_notifications_list_error {
    pub const NO_RESULT_AVAILABLE: i64 = 1;
    pub const UNDEFINED_ERROR: i64 = 127;
}

// --- Errors, encode, decode ------------------------------------------------------------------

/// Why an ES10 message could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Es10Error {
    /// The input is not exactly one well-formed BER-TLV.
    #[error("malformed ES10 command: {0}")]
    Tlv(#[from] TlvError),
    /// The outer TLV is fine but its content does not match the ASN.1 type.
    #[error("cannot decode {type_name}: {reason}")]
    Decode {
        /// The Rust type that was expected.
        type_name: &'static str,
        /// rasn's description of the problem.
        reason: String,
    },
    /// Bytes left after the value.
    #[error("{0} trailing bytes after the ES10 message")]
    Trailing(usize),
    /// rasn refused to encode the value.
    #[error("cannot encode {type_name}: {reason}")]
    Encode {
        /// The Rust type that was being encoded.
        type_name: &'static str,
        /// rasn's description of the problem.
        reason: String,
    },
}

/// Decodes exactly one `T` from `input` with BER (liberal), refusing trailing bytes.
pub fn decode<T: rasn::Decode>(input: &[u8]) -> Result<T, Es10Error> {
    let (value, rest) =
        rasn::ber::decode_with_remainder::<T>(input).map_err(|e| Es10Error::Decode {
            type_name: short_type_name::<T>(),
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(Es10Error::Trailing(rest.len()));
    }
    Ok(value)
}

/// DER-encodes `v`, or says why rasn could not.
pub fn try_encode<T: rasn::Encode>(v: &T) -> Result<Vec<u8>, Es10Error> {
    rasn::der::encode(v).map_err(|e| Es10Error::Encode {
        type_name: short_type_name::<T>(),
        reason: e.to_string(),
    })
}

/// DER-encodes `v`.
///
/// The types of this module have no constraints rasn checks, so their encoding does not fail; if
/// it ever did, this returns an empty vector (and fails debug builds). Use [`try_encode`] to see
/// the error.
pub fn encode<T: rasn::Encode>(v: &T) -> Vec<u8> {
    match try_encode(v) {
        Ok(der) => der,
        Err(e) => {
            debug_assert!(false, "{e}");
            Vec::new()
        }
    }
}

fn short_type_name<T>() -> &'static str {
    let full = core::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// An ES10 command received from the LPA, by its outer tag.
///
/// Functions without input data (`GetEuiccInfo1`, `GetEuiccInfo2`, `GetEuiccChallenge`,
/// `GetConfiguredAddresses`, `GetRat`) only need a well-formed outer TLV: whatever it contains
/// (normally nothing: `BF20 00`) is ignored, as later versions may add members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Es10Request {
    /// `BF3E` GetEID.
    GetEid(GetEuiccDataRequest),
    /// `BF20` GetEUICCInfo1.
    GetEuiccInfo1,
    /// `BF22` GetEUICCInfo2.
    GetEuiccInfo2,
    /// `BF2E` GetEUICCChallenge.
    GetEuiccChallenge,
    /// `BF2D` GetProfilesInfo.
    GetProfilesInfo(ProfileInfoListRequest),
    /// `BF31` EnableProfile.
    Enable(EnableProfileRequest),
    /// `BF32` DisableProfile.
    Disable(DisableProfileRequest),
    /// `BF33` DeleteProfile.
    Delete(DeleteProfileRequest),
    /// `BF29` SetNickname.
    SetNickname(SetNicknameRequest),
    /// `BF3C` GetEuiccConfiguredAddresses.
    GetConfiguredAddresses,
    /// `BF3F` SetDefaultDpAddress.
    SetDefaultDpAddress(SetDefaultDpAddressRequest),
    /// `BF34` eUICCMemoryReset.
    MemoryReset(EuiccMemoryResetRequest),
    /// `BF28` ListNotification.
    ListNotification(ListNotificationRequest),
    /// `BF2B` RetrieveNotificationsList.
    RetrieveNotifications(RetrieveNotificationsListRequest),
    /// `BF30` RemoveNotificationFromList (NotificationSentRequest).
    RemoveNotification(NotificationSentRequest),
    /// `BF43` GetRAT.
    GetRat,
    /// `BF38` AuthenticateServer.
    AuthenticateServer(Box<AuthenticateServerRequest>),
    /// `BF21` PrepareDownload.
    PrepareDownload(Box<PrepareDownloadRequest>),
    /// `BF36` LoadBoundProfilePackage: the first segment (the `BF36` header, whose length covers
    /// the whole package, and the `BF23`), as received. The later segments (`A0`…`A3`,
    /// `86`/`87`/`88`, see [`is_bpp_segment_tag`]) are routed by the card while a BPP is loaded.
    LoadBoundProfilePackage(Vec<u8>),
    /// `BF41` CancelSession.
    CancelSession(CancelSessionRequest),
    // Reserved for later changes (they arrive as `Unknown` for now):
    //   LoadCrl(..)                  BF35
    //   LpaeActivation(..)           BF42
    /// Any other outer tag, as packed tag bytes (`0xBF38`); answer with an error status word.
    Unknown(u32),
}

impl Es10Request {
    /// The outer tag this request arrived with (packed tag bytes).
    pub fn tag(&self) -> u32 {
        match self {
            Self::GetEid(_) => tags::GET_EUICC_DATA,
            Self::GetEuiccInfo1 => tags::GET_EUICC_INFO1,
            Self::GetEuiccInfo2 => tags::GET_EUICC_INFO2,
            Self::GetEuiccChallenge => tags::GET_EUICC_CHALLENGE,
            Self::GetProfilesInfo(_) => tags::GET_PROFILES_INFO,
            Self::Enable(_) => tags::ENABLE_PROFILE,
            Self::Disable(_) => tags::DISABLE_PROFILE,
            Self::Delete(_) => tags::DELETE_PROFILE,
            Self::SetNickname(_) => tags::SET_NICKNAME,
            Self::GetConfiguredAddresses => tags::EUICC_CONFIGURED_ADDRESSES,
            Self::SetDefaultDpAddress(_) => tags::SET_DEFAULT_DP_ADDRESS,
            Self::MemoryReset(_) => tags::EUICC_MEMORY_RESET,
            Self::ListNotification(_) => tags::LIST_NOTIFICATION,
            Self::RetrieveNotifications(_) => tags::RETRIEVE_NOTIFICATIONS_LIST,
            Self::RemoveNotification(_) => tags::NOTIFICATION_SENT,
            Self::GetRat => tags::GET_RAT,
            Self::AuthenticateServer(_) => tags::AUTHENTICATE_SERVER,
            Self::PrepareDownload(_) => tags::PREPARE_DOWNLOAD,
            Self::LoadBoundProfilePackage(_) => tags::BOUND_PROFILE_PACKAGE,
            Self::CancelSession(_) => tags::CANCEL_SESSION,
            Self::Unknown(t) => *t,
        }
    }
}

/// Decodes a reassembled ES10 command (one BER-TLV, nothing after it) by its outer tag.
///
/// Fails on malformed or truncated input, trailing bytes, or content that does not match the
/// type for a known tag; returns [`Es10Request::Unknown`] for a well-formed TLV whose tag is not
/// handled here.
///
/// The exception is `BF36`: the first LoadBoundProfilePackage segment is the header of the whole
/// package followed by the complete `BF23`, so its length exceeds the bytes given; it is checked
/// with [`check_bpp_segment`] and returned raw.
pub fn decode_request(der: &[u8]) -> Result<Es10Request, Es10Error> {
    if tlv::read_tag(der)?.0 .0 == tags::BOUND_PROFILE_PACKAGE {
        check_bpp_segment(der)?;
        return Ok(Es10Request::LoadBoundProfilePackage(der.to_vec()));
    }
    let outer = tlv::parse_exact(der)?;
    if !outer.tag.is_constructed() {
        return Ok(Es10Request::Unknown(outer.tag.0));
    }
    Ok(match outer.tag.0 {
        tags::GET_EUICC_DATA => Es10Request::GetEid(decode(der)?),
        tags::GET_EUICC_INFO1 => no_input(outer, Es10Request::GetEuiccInfo1)?,
        tags::GET_EUICC_INFO2 => no_input(outer, Es10Request::GetEuiccInfo2)?,
        tags::GET_EUICC_CHALLENGE => no_input(outer, Es10Request::GetEuiccChallenge)?,
        tags::GET_PROFILES_INFO => Es10Request::GetProfilesInfo(decode(der)?),
        tags::ENABLE_PROFILE => Es10Request::Enable(decode(der)?),
        tags::DISABLE_PROFILE => Es10Request::Disable(decode(der)?),
        tags::DELETE_PROFILE => Es10Request::Delete(decode(der)?),
        tags::SET_NICKNAME => Es10Request::SetNickname(decode(der)?),
        tags::EUICC_CONFIGURED_ADDRESSES => no_input(outer, Es10Request::GetConfiguredAddresses)?,
        tags::SET_DEFAULT_DP_ADDRESS => Es10Request::SetDefaultDpAddress(decode(der)?),
        tags::EUICC_MEMORY_RESET => Es10Request::MemoryReset(decode(der)?),
        tags::LIST_NOTIFICATION => Es10Request::ListNotification(decode(der)?),
        tags::RETRIEVE_NOTIFICATIONS_LIST => Es10Request::RetrieveNotifications(decode(der)?),
        tags::NOTIFICATION_SENT => Es10Request::RemoveNotification(decode(der)?),
        tags::GET_RAT => no_input(outer, Es10Request::GetRat)?,
        tags::AUTHENTICATE_SERVER => Es10Request::AuthenticateServer(Box::new(decode(der)?)),
        tags::PREPARE_DOWNLOAD => Es10Request::PrepareDownload(Box::new(decode(der)?)),
        tags::CANCEL_SESSION => Es10Request::CancelSession(decode(der)?),
        other => Es10Request::Unknown(other),
    })
}

/// A function without input data: the content must be well-formed TLVs and is otherwise ignored.
fn no_input(outer: tlv::Tlv<'_>, request: Es10Request) -> Result<Es10Request, Es10Error> {
    tlv::check_depth(outer.value, tlv::MAX_DEPTH)?;
    Ok(request)
}
