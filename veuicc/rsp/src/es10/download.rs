//! ES10b profile download: AuthenticateServer (`BF38`), PrepareDownload (`BF21`),
//! LoadBoundProfilePackage (`BF36`, segmented) and its content (`BF23`, `BF24`, `BF25`, `BF26`),
//! the ProfileInstallationResult (`BF37`/`BF27`) and CancelSession (`BF41`).
//!
//! Tags follow the SGP.22 v2 `RSPDefinitions` module (`AUTOMATIC TAGS`): a SEQUENCE whose members
//! carry no tags at all gets `[0]`, `[1]`, … (CancelSessionRequest, EuiccCancelSessionSigned,
//! ErrorResult, ReplaceSessionKeysRequest, CtxParamsForCommonAuthentication, DeviceInfo,
//! DeviceCapabilities, the CHOICE alternatives), while one where some members are tagged keeps the
//! universal tags of its untagged members (`04` euiccCiPKIdToBeUsed and hashCc, `01`
//! ccRequiredFlag, `02` error codes, `06` smdpOid, `30` certificates and signed parts).
//!
//! **Signed parts.** What the eUICC signs is canonical DER; what it verifies is taken as received.
//! Both needs are served by [`Verbatim`]: a signed part (serverSigned1, euiccSigned1, smdpSigned2,
//! euiccSigned2, profileInstallationResultData, euiccCancelSessionSigned) decodes to the typed
//! value *and* keeps its exact received TLV, and re-encodes to those bytes; built locally with
//! [`Verbatim::new`] it holds the DER of the value. The data each signature covers is given by
//! [`Verbatim::as_bytes`] and the helpers in [`signed_data`]. `ctxParams1` is kept as raw bytes
//! ([`RawCtxParams1`]) because the eUICC copies it verbatim from AuthenticateServer into
//! euiccSigned1; [`RawCtxParams1::parse`] gives the typed [`CtxParams1`].

use core::fmt;
use core::ops::Deref;

use rasn::prelude::*;

use super::common::{
    DpProprietaryData, IconType, NamedBits, NotificationConfigurationInformation, OperatorId,
    ProfileClass, RawCertificate, RawProfileInstallationResult,
};
use super::info::{EuiccInfo2, VersionType};
use super::notifications::NotificationMetadata;
use super::{decode, encode, try_encode, Es10Error};
use crate::tlv::{self, TlvError};

/// `TransactionId ::= OCTET STRING (SIZE(1..16))`.
pub type TransactionId = OctetString;

// =============================================================================================
// Result codes and enumerations
// =============================================================================================

/// `AuthenticateErrorCode` (AuthenticateServerResponse's `authenticateResponseError`).
pub mod authenticate_error_code {
    /// invalidCertificate(1).
    pub const INVALID_CERTIFICATE: i64 = 1;
    /// invalidSignature(2).
    pub const INVALID_SIGNATURE: i64 = 2;
    /// unsupportedCurve(3).
    pub const UNSUPPORTED_CURVE: i64 = 3;
    /// noSessionContext(4).
    pub const NO_SESSION_CONTEXT: i64 = 4;
    /// invalidOid(5).
    pub const INVALID_OID: i64 = 5;
    /// euiccChallengeMismatch(6).
    pub const EUICC_CHALLENGE_MISMATCH: i64 = 6;
    /// ciPKUnknown(7).
    pub const CI_PK_UNKNOWN: i64 = 7;
    /// undefinedError(127).
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `DownloadErrorCode` (PrepareDownloadResponse's `downloadResponseError`).
pub mod download_error_code {
    /// invalidCertificate(1).
    pub const INVALID_CERTIFICATE: i64 = 1;
    /// invalidSignature(2).
    pub const INVALID_SIGNATURE: i64 = 2;
    /// unsupportedCurve(3).
    pub const UNSUPPORTED_CURVE: i64 = 3;
    /// noSessionContext(4).
    pub const NO_SESSION_CONTEXT: i64 = 4;
    /// invalidTransactionId(5).
    pub const INVALID_TRANSACTION_ID: i64 = 5;
    /// undefinedError(127).
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `CancelSessionReason`.
pub mod cancel_session_reason {
    /// endUserRejection(0).
    pub const END_USER_REJECTION: i64 = 0;
    /// postponed(1).
    pub const POSTPONED: i64 = 1;
    /// timeout(2).
    pub const TIMEOUT: i64 = 2;
    /// pprNotAllowed(3).
    pub const PPR_NOT_ALLOWED: i64 = 3;
}

/// CancelSessionResponse's `cancelSessionResponseError`.
pub mod cancel_session_error {
    /// invalidTransactionId(5).
    pub const INVALID_TRANSACTION_ID: i64 = 5;
    /// undefinedError(127).
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `BppCommandId` (ErrorResult of the ProfileInstallationResult).
pub mod bpp_command_id {
    /// initialiseSecureChannel(0).
    pub const INITIALISE_SECURE_CHANNEL: i64 = 0;
    /// configureISDP(1).
    pub const CONFIGURE_ISDP: i64 = 1;
    /// storeMetadata(2).
    pub const STORE_METADATA: i64 = 2;
    /// storeMetadata2(3).
    pub const STORE_METADATA2: i64 = 3;
    /// replaceSessionKeys(4).
    pub const REPLACE_SESSION_KEYS: i64 = 4;
    /// loadProfileElements(5).
    pub const LOAD_PROFILE_ELEMENTS: i64 = 5;
}

/// `ErrorReason` (ErrorResult of the ProfileInstallationResult).
pub mod error_reason {
    /// incorrectInputValues(1).
    pub const INCORRECT_INPUT_VALUES: i64 = 1;
    /// invalidSignature(2).
    pub const INVALID_SIGNATURE: i64 = 2;
    /// invalidTransactionId(3).
    pub const INVALID_TRANSACTION_ID: i64 = 3;
    /// unsupportedCrtValues(4).
    pub const UNSUPPORTED_CRT_VALUES: i64 = 4;
    /// unsupportedRemoteOperationType(5).
    pub const UNSUPPORTED_REMOTE_OPERATION_TYPE: i64 = 5;
    /// unsupportedProfileClass(6).
    pub const UNSUPPORTED_PROFILE_CLASS: i64 = 6;
    /// scp03tStructureError(7).
    pub const SCP03T_STRUCTURE_ERROR: i64 = 7;
    /// scp03tSecurityError(8).
    pub const SCP03T_SECURITY_ERROR: i64 = 8;
    /// installFailedDueToIccidAlreadyExistsOnEuicc(9).
    pub const ICCID_ALREADY_EXISTS: i64 = 9;
    /// installFailedDueToInsufficientMemoryForProfile(10).
    pub const INSUFFICIENT_MEMORY: i64 = 10;
    /// installFailedDueToInterruption(11).
    pub const INTERRUPTION: i64 = 11;
    /// installFailedDueToPEProcessingError(12).
    pub const PE_PROCESSING_ERROR: i64 = 12;
    /// installFailedDueToIccidMismatch(13).
    pub const ICCID_MISMATCH: i64 = 13;
    /// testProfileInstallFailedDueToInvalidNaaKey(14).
    pub const TEST_PROFILE_INVALID_NAA_KEY: i64 = 14;
    /// pprNotAllowed(15).
    pub const PPR_NOT_ALLOWED: i64 = 15;
    /// installFailedDueToUnknownError(127).
    pub const UNKNOWN_ERROR: i64 = 127;
}

/// `RemoteOpId ::= [2] INTEGER {installBoundProfilePackage(1)}`.
pub mod remote_op_id {
    /// installBoundProfilePackage(1).
    pub const INSTALL_BOUND_PROFILE_PACKAGE: i64 = 1;
}

/// Values of the `ControlRefTemplate` of InitialiseSecureChannel.
pub mod control_ref_template {
    /// keyType: AES (GlobalPlatform Card Specification Table 11-16).
    pub const KEY_TYPE_AES: u8 = 0x88;
    /// keyLen: 16 bytes.
    pub const KEY_LEN_16: u8 = 0x10;
}

// =============================================================================================
// Generic raw and verbatim wrappers
// =============================================================================================

/// The `rasn` tag of a BER tag given as its packed bytes (`0xA0`, `0xBF25`, `0x5F37`).
const fn asn_tag(packed: u32) -> Tag {
    let mut first = packed;
    let mut follow = 0;
    while first > 0xFF {
        first >>= 8;
        follow += 1;
    }
    let class = match first >> 6 {
        0 => Class::Universal,
        1 => Class::Application,
        2 => Class::Context,
        _ => Class::Private,
    };
    if follow == 0 {
        return Tag::new(class, first & 0x1F);
    }
    let mut number = 0;
    let mut i = follow;
    while i > 0 {
        i -= 1;
        number = (number << 7) | ((packed >> (8 * i)) & 0x7F);
    }
    Tag::new(class, number)
}

/// The packed bytes of `tag` (constructed or not): the inverse of [`asn_tag`].
fn packed_tag(tag: Tag, constructed: bool) -> u32 {
    let class_bits: u32 = match tag.class {
        Class::Universal => 0x00,
        Class::Application => 0x40,
        Class::Context => 0x80,
        Class::Private => 0xC0,
    };
    let first = class_bits | if constructed { 0x20 } else { 0 };
    if tag.value < 0x1F {
        return first | tag.value;
    }
    let mut packed = first | 0x1F;
    let mut groups = Vec::new();
    let mut v = tag.value;
    loop {
        groups.push(v & 0x7F);
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    for (i, g) in groups.iter().enumerate().rev() {
        packed = (packed << 8) | g | if i > 0 { 0x80 } else { 0 };
    }
    packed
}

fn de_error<D: Decoder>(decoder: &D, msg: impl fmt::Display) -> D::Error {
    <D::Error as rasn::de::Error>::custom(msg, decoder.codec())
}

/// One complete TLV whose tag is `TAG` (packed bytes, e.g. `0xA0`), kept exactly as received or
/// given: decoding keeps the bytes, encoding writes them back unchanged.
///
/// Used where the content must be copied or forwarded verbatim ([`RawCtxParams1`]) or is only
/// interpreted on demand ([`RawDpProprietaryData`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawTlv<const TAG: u32>(Any);

impl<const TAG: u32> RawTlv<TAG> {
    /// The tag every value carries, as packed bytes.
    pub const TAG_BYTES: u32 = TAG;

    /// Wraps `der`, which must be exactly one well-formed TLV with tag `TAG`.
    pub fn new(der: Vec<u8>) -> Result<Self, TlvError> {
        let t = tlv::parse_exact(&der)?;
        if t.tag.0 != TAG {
            return Err(TlvError::UnexpectedTag {
                expected: tlv::Tag(TAG),
                found: t.tag,
            });
        }
        Ok(Self(Any::new(der)))
    }

    /// The complete encoding (tag, length, value).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The complete encoding, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0.into_bytes()
    }
}

impl<const TAG: u32> AsnType for RawTlv<TAG> {
    const TAG: Tag = asn_tag(TAG);
}

impl<const TAG: u32> Encode for RawTlv<TAG> {
    fn encode<'b, E: Encoder<'b>>(&self, encoder: &mut E) -> Result<(), E::Error> {
        encoder
            .encode_any(Tag::EOC, &self.0, Self::IDENTIFIER)
            .map(drop)
    }

    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        _tag: Tag,
        _constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        // Opaque: the bytes carry their own tag.
        encoder.encode_any(Tag::EOC, &self.0, identifier).map(drop)
    }
}

impl<const TAG: u32> Decode for RawTlv<TAG> {
    fn decode<D: Decoder>(decoder: &mut D) -> Result<Self, D::Error> {
        let any = decoder.decode_any(Tag::EOC)?;
        match tlv::read_tag(any.as_bytes()) {
            Ok((t, _)) if t.0 == TAG => Ok(Self(any)),
            _ => Err(de_error(
                decoder,
                format_args!("expected a TLV with tag {}", tlv::Tag(TAG)),
            )),
        }
    }

    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        _tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        Self::decode(decoder)
    }
}

/// A typed value together with its exact encoding: the received bytes when decoded, the DER of
/// the value when built with [`Verbatim::new`].
///
/// Encoding writes those bytes back unchanged, so a signed part that was received survives any
/// re-encoding of its container, and signatures are computed or checked over
/// [`Verbatim::as_bytes`]. Use it only for members that carry the value's own tag (untagged
/// members, or members whose context tag equals the type's tag, as `[34] EUICCInfo2`).
/// Equality compares the bytes.
#[derive(Debug, Clone)]
pub struct Verbatim<T> {
    value: T,
    der: Any,
}

impl<T: Encode> Verbatim<T> {
    /// Wraps `value` with its DER encoding (canonical: what the eUICC signs).
    ///
    /// The types of this module have no constraints rasn checks, so encoding does not fail; use
    /// [`Verbatim::try_new`] to see an error anyway.
    pub fn new(value: T) -> Self {
        let der = encode(&value);
        Self {
            value,
            der: Any::new(der),
        }
    }

    /// Like [`Verbatim::new`], reporting an encoding failure.
    pub fn try_new(value: T) -> Result<Self, Es10Error> {
        let der = try_encode(&value)?;
        Ok(Self {
            value,
            der: Any::new(der),
        })
    }

    /// Whether the kept bytes are the DER encoding of the value (always true for
    /// [`Verbatim::new`]; false for a received part that was not canonical DER).
    pub fn is_canonical(&self) -> bool {
        try_encode(&self.value).is_ok_and(|der| der == self.der.as_bytes())
    }
}

impl<T: Decode> Verbatim<T> {
    /// Decodes `der` (exactly one TLV, BER) and keeps the bytes.
    pub fn from_der(der: Vec<u8>) -> Result<Self, Es10Error> {
        let value = decode::<T>(&der)?;
        Ok(Self {
            value,
            der: Any::new(der),
        })
    }
}

impl<T> Verbatim<T> {
    /// The typed value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The exact encoding (tag, length, value): the data a signature over this part covers.
    pub fn as_bytes(&self) -> &[u8] {
        self.der.as_bytes()
    }

    /// The value and its encoding.
    pub fn into_parts(self) -> (T, Vec<u8>) {
        (self.value, self.der.into_bytes())
    }
}

impl<T> Deref for Verbatim<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> PartialEq for Verbatim<T> {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl<T> Eq for Verbatim<T> {}

impl<T: AsnType> AsnType for Verbatim<T> {
    const TAG: Tag = T::TAG;
}

impl<T: AsnType> Encode for Verbatim<T> {
    fn encode<'b, E: Encoder<'b>>(&self, encoder: &mut E) -> Result<(), E::Error> {
        encoder
            .encode_any(Tag::EOC, &self.der, Self::IDENTIFIER)
            .map(drop)
    }

    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        _tag: Tag,
        _constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        encoder
            .encode_any(Tag::EOC, &self.der, identifier)
            .map(drop)
    }
}

impl<T: Decode> Decode for Verbatim<T> {
    fn decode<D: Decoder>(decoder: &mut D) -> Result<Self, D::Error> {
        let der = decoder.decode_any(Tag::EOC)?;
        let value = rasn::ber::decode::<T>(der.as_bytes()).map_err(|e| de_error(decoder, e))?;
        Ok(Self { value, der })
    }

    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        _tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        Self::decode(decoder)
    }
}

// =============================================================================================
// AuthenticateServer
// =============================================================================================

/// `ctxParams1` kept as received (`A0{80 matchingId, A1 deviceInfo}`): copied verbatim into
/// euiccSigned1. Decoding only requires one well-formed TLV tagged `A0` (the v2
/// ctxParamsForCommonAuthentication alternative); see [`RawCtxParams1::parse`].
pub type RawCtxParams1 = RawTlv<0xA0>;

impl RawTlv<0xA0> {
    /// The typed content.
    pub fn parse(&self) -> Result<CtxParams1, Es10Error> {
        decode(self.as_bytes())
    }

    /// The DER of a typed value.
    pub fn from_ctx_params(ctx: &CtxParams1) -> Self {
        Self(Any::new(encode(ctx)))
    }
}

/// `AuthenticateServerRequest ::= [56] SEQUENCE {…}`:
/// `BF38{30 serverSigned1, 5F37 serverSignature1, 04 euiccCiPKIdToBeUsed, 30 serverCertificate,
/// A0 ctxParams1}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 56))]
pub struct AuthenticateServerRequest {
    /// Signed by the server; verify [`Verbatim::as_bytes`] (as received).
    pub server_signed1: Verbatim<ServerSigned1>,
    /// Plain r‖s over serverSigned1, tag `5F37`.
    #[rasn(tag(application, 55))]
    pub server_signature1: OctetString,
    /// CI public key identifier (SubjectKeyIdentifier), untagged: universal `04`.
    pub euicc_ci_pkid_to_be_used: OctetString,
    /// CERT.DPauth (or CERT.DSauth), raw DER `30…`.
    pub server_certificate: RawCertificate,
    /// Copied verbatim into euiccSigned1.
    pub ctx_params1: RawCtxParams1,
}

/// `ServerSigned1 ::= SEQUENCE {80 transactionId, 81 euiccChallenge, 83 serverAddress,
/// 84 serverChallenge}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct ServerSigned1 {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// The eUICC's 16-byte challenge, tag `81`.
    #[rasn(tag(context, 1))]
    pub euicc_challenge: OctetString,
    /// RSP server address (FQDN), tag `83`.
    #[rasn(tag(context, 3))]
    pub server_address: Utf8String,
    /// The server's 16-byte challenge, tag `84`.
    #[rasn(tag(context, 4))]
    pub server_challenge: OctetString,
}

/// `CtxParams1 ::= CHOICE { ctxParamsForCommonAuthentication }` (automatic tag `A0`).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice)]
pub enum CtxParams1 {
    /// Tag `A0`.
    #[rasn(tag(context, 0))]
    CtxParamsForCommonAuthentication(CtxParamsForCommonAuthentication),
}

impl CtxParams1 {
    /// The matching ID, if any.
    pub fn matching_id(&self) -> Option<&str> {
        match self {
            Self::CtxParamsForCommonAuthentication(c) => c.matching_id.as_deref(),
        }
    }

    /// The device information.
    pub fn device_info(&self) -> &DeviceInfo {
        match self {
            Self::CtxParamsForCommonAuthentication(c) => &c.device_info,
        }
    }
}

/// `CtxParamsForCommonAuthentication ::= SEQUENCE {80 matchingId OPTIONAL, A1 deviceInfo}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct CtxParamsForCommonAuthentication {
    /// Activation code token or EventID (may be empty), tag `80`.
    #[rasn(tag(context, 0))]
    pub matching_id: Option<Utf8String>,
    /// Tag `A1`.
    #[rasn(tag(context, 1))]
    pub device_info: DeviceInfo,
}

/// `DeviceInfo ::= SEQUENCE {80 tac, A1 deviceCapabilities, 82 imei OPTIONAL}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Type Allocation Code (`Octet8` in the module; 4 bytes in practice), tag `80`.
    #[rasn(tag(context, 0))]
    pub tac: OctetString,
    /// Tag `A1`.
    #[rasn(tag(context, 1))]
    pub device_capabilities: DeviceCapabilities,
    /// Tag `82`.
    #[rasn(tag(context, 2))]
    pub imei: Option<OctetString>,
}

/// `DeviceCapabilities ::= SEQUENCE {…}`: every member an optional `VersionType`, tags `80`…`88`
/// in the v2 module.
///
/// Later versions append members (NR releases, lpaSvn, …); LPAs send them, so they are decoded
/// liberally: every member with a tag other than `80`…`88` is kept as a raw TLV in
/// [`DeviceCapabilities::additional`] and written back after the known ones. A known tag seen
/// twice is an error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceCapabilities {
    /// Tag `80`.
    pub gsm_supported_release: Option<VersionType>,
    /// Tag `81`.
    pub utran_supported_release: Option<VersionType>,
    /// Tag `82`.
    pub cdma2000onex_supported_release: Option<VersionType>,
    /// Tag `83`.
    pub cdma2000hrpd_supported_release: Option<VersionType>,
    /// Tag `84`.
    pub cdma2000ehrpd_supported_release: Option<VersionType>,
    /// Tag `85`.
    pub eutran_supported_release: Option<VersionType>,
    /// Tag `86`.
    pub contactless_supported_release: Option<VersionType>,
    /// Tag `87`.
    pub rsp_crl_supported_version: Option<VersionType>,
    /// Tag `88`.
    pub rsp_rpm_supported_version: Option<VersionType>,
    /// Members not in the v2 module, as complete TLVs in received order.
    pub additional: Vec<Vec<u8>>,
}

impl DeviceCapabilities {
    fn known(&self) -> [&Option<VersionType>; 9] {
        [
            &self.gsm_supported_release,
            &self.utran_supported_release,
            &self.cdma2000onex_supported_release,
            &self.cdma2000hrpd_supported_release,
            &self.cdma2000ehrpd_supported_release,
            &self.eutran_supported_release,
            &self.contactless_supported_release,
            &self.rsp_crl_supported_version,
            &self.rsp_rpm_supported_version,
        ]
    }

    fn known_mut(&mut self, index: usize) -> Option<&mut Option<VersionType>> {
        Some(match index {
            0 => &mut self.gsm_supported_release,
            1 => &mut self.utran_supported_release,
            2 => &mut self.cdma2000onex_supported_release,
            3 => &mut self.cdma2000hrpd_supported_release,
            4 => &mut self.cdma2000ehrpd_supported_release,
            5 => &mut self.eutran_supported_release,
            6 => &mut self.contactless_supported_release,
            7 => &mut self.rsp_crl_supported_version,
            8 => &mut self.rsp_rpm_supported_version,
            _ => return None,
        })
    }

    /// The content octets (members in DER order: known ones by tag, then the additional ones).
    fn content(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, member) in self.known().iter().enumerate() {
            if let Some(v) = member {
                tlv::write_tlv(0x80 | i as u32, v, &mut out);
            }
        }
        for extra in &self.additional {
            out.extend_from_slice(extra);
        }
        out
    }

    /// Parses the content octets.
    fn from_content(content: &[u8]) -> Result<Self, String> {
        let mut caps = Self::default();
        for child in tlv::TlvIter::new(content) {
            let child = child.map_err(|e| e.to_string())?;
            let tag = child.tag.0;
            if (0x80..=0x88).contains(&tag) {
                if let Some(slot) = caps.known_mut((tag - 0x80) as usize) {
                    if slot.is_some() {
                        return Err(format!("member {} repeated", child.tag));
                    }
                    *slot = Some(OctetString::from_slice(child.value));
                }
            } else {
                if child.tag.is_constructed() {
                    tlv::check_depth(child.value, tlv::MAX_DEPTH).map_err(|e| e.to_string())?;
                }
                caps.additional.push(child.raw.to_vec());
            }
        }
        Ok(caps)
    }
}

impl AsnType for DeviceCapabilities {
    const TAG: Tag = Tag::SEQUENCE;
}

impl Encode for DeviceCapabilities {
    fn encode_with_tag_and_constraints<'b, E: Encoder<'b>>(
        &self,
        encoder: &mut E,
        tag: Tag,
        _constraints: &Constraints,
        identifier: Identifier,
    ) -> Result<(), E::Error> {
        let der = tlv::tlv(packed_tag(tag, true), &self.content());
        encoder
            .encode_any(Tag::EOC, &Any::new(der), identifier)
            .map(drop)
    }
}

impl Decode for DeviceCapabilities {
    fn decode_with_tag_and_constraints<D: Decoder>(
        decoder: &mut D,
        tag: Tag,
        _constraints: &Constraints,
    ) -> Result<Self, D::Error> {
        let any = decoder.decode_any(Tag::EOC)?;
        let outer = tlv::parse_exact(any.as_bytes()).map_err(|e| de_error(decoder, e))?;
        if outer.tag.0 != packed_tag(tag, true) {
            return Err(de_error(
                decoder,
                format_args!("DeviceCapabilities: unexpected tag {}", outer.tag),
            ));
        }
        Self::from_content(outer.value)
            .map_err(|e| de_error(decoder, format_args!("DeviceCapabilities: {e}")))
    }
}

/// `AuthenticateServerResponse ::= [56] CHOICE {…}`: `BF38{A0 ok}` or `BF38{A1 error}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, tag(explicit(context, 56)))]
pub enum AuthenticateServerResponse {
    /// Tag `A0` (boxed: it holds EUICCInfo2 and two certificates).
    #[rasn(tag(context, 0))]
    AuthenticateResponseOk(Box<AuthenticateResponseOk>),
    /// Tag `A1`.
    #[rasn(tag(context, 1))]
    AuthenticateResponseError(AuthenticateResponseError),
}

/// `AuthenticateResponseOk ::= SEQUENCE {30 euiccSigned1, 5F37 euiccSignature1,
/// 30 euiccCertificate, 30 eumCertificate}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateResponseOk {
    /// Signed by the eUICC: build with [`Verbatim::new`], sign [`Verbatim::as_bytes`].
    pub euicc_signed1: Verbatim<EuiccSigned1>,
    /// Plain r‖s, tag `5F37`.
    #[rasn(tag(application, 55))]
    pub euicc_signature1: OctetString,
    /// CERT.EUICC, raw DER.
    pub euicc_certificate: RawCertificate,
    /// CERT.EUM, raw DER.
    pub eum_certificate: RawCertificate,
}

/// `EuiccSigned1 ::= SEQUENCE {80 transactionId, 83 serverAddress, 84 serverChallenge,
/// BF22 euiccInfo2, A0 ctxParams1}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct EuiccSigned1 {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// Tag `83`.
    #[rasn(tag(context, 3))]
    pub server_address: Utf8String,
    /// Tag `84`.
    #[rasn(tag(context, 4))]
    pub server_challenge: OctetString,
    /// Tag `BF22`.
    pub euicc_info2: EuiccInfo2,
    /// Copied verbatim from the AuthenticateServerRequest.
    pub ctx_params1: RawCtxParams1,
}

/// `AuthenticateResponseError ::= SEQUENCE {80 transactionId, 02 authenticateErrorCode}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateResponseError {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// See [`authenticate_error_code`], universal `02`.
    pub authenticate_error_code: i64,
}

// =============================================================================================
// PrepareDownload
// =============================================================================================

/// `PrepareDownloadRequest ::= [33] SEQUENCE {…}`:
/// `BF21{30 smdpSigned2, 5F37 smdpSignature2, [04 hashCc], 30 smdpCertificate}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 33))]
pub struct PrepareDownloadRequest {
    /// Signed by the SM-DP+ (together with euiccSignature1, see
    /// [`PrepareDownloadRequest::signed_data`]).
    pub smdp_signed2: Verbatim<SmdpSigned2>,
    /// Plain r‖s, tag `5F37`.
    #[rasn(tag(application, 55))]
    pub smdp_signature2: OctetString,
    /// SHA-256(SHA-256(CC) ‖ transactionId) (32 bytes), untagged: universal `04`.
    pub hash_cc: Option<OctetString>,
    /// CERT.DPpb, raw DER.
    pub smdp_certificate: RawCertificate,
}

impl PrepareDownloadRequest {
    /// The data smdpSignature2 covers: smdpSigned2 as received ‖ `5F37 40` ‖ euiccSignature1.
    pub fn signed_data(&self, euicc_signature1: &[u8]) -> Vec<u8> {
        signed_data::with_signature_tlv(self.smdp_signed2.as_bytes(), euicc_signature1)
    }
}

/// `SmdpSigned2 ::= SEQUENCE {80 transactionId, 01 ccRequiredFlag, [5F49 bppEuiccOtpk]}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct SmdpSigned2 {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// Whether a confirmation code is required, universal `01`.
    pub cc_required_flag: bool,
    /// otPK.EUICC.ECKA already used for binding (retry), tag `5F49`.
    #[rasn(tag(application, 73))]
    pub bpp_euicc_otpk: Option<OctetString>,
}

/// `PrepareDownloadResponse ::= [33] CHOICE {…}`: `BF21{A0 ok}` or `BF21{A1 error}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, tag(explicit(context, 33)))]
pub enum PrepareDownloadResponse {
    /// Tag `A0`.
    #[rasn(tag(context, 0))]
    DownloadResponseOk(PrepareDownloadResponseOk),
    /// Tag `A1`.
    #[rasn(tag(context, 1))]
    DownloadResponseError(PrepareDownloadResponseError),
}

/// `PrepareDownloadResponseOk ::= SEQUENCE {30 euiccSigned2, 5F37 euiccSignature2}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct PrepareDownloadResponseOk {
    /// Signed by the eUICC together with smdpSignature2, see
    /// [`PrepareDownloadResponseOk::signed_data`].
    pub euicc_signed2: Verbatim<EuiccSigned2>,
    /// Plain r‖s, tag `5F37`.
    #[rasn(tag(application, 55))]
    pub euicc_signature2: OctetString,
}

impl PrepareDownloadResponseOk {
    /// The data euiccSignature2 covers: euiccSigned2 ‖ `5F37 40` ‖ smdpSignature2.
    pub fn signed_data(&self, smdp_signature2: &[u8]) -> Vec<u8> {
        signed_data::with_signature_tlv(self.euicc_signed2.as_bytes(), smdp_signature2)
    }
}

/// `EUICCSigned2 ::= SEQUENCE {80 transactionId, 5F49 euiccOtpk, [04 hashCc]}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct EuiccSigned2 {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// otPK.EUICC.ECKA (`04‖X‖Y`), tag `5F49`.
    #[rasn(tag(application, 73))]
    pub euicc_otpk: OctetString,
    /// Copied from the request, universal `04`.
    pub hash_cc: Option<OctetString>,
}

/// `PrepareDownloadResponseError ::= SEQUENCE {80 transactionId, 02 downloadErrorCode}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct PrepareDownloadResponseError {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// See [`download_error_code`], universal `02`.
    pub download_error_code: i64,
}

// =============================================================================================
// Bound Profile Package content
// =============================================================================================

/// `BoundProfilePackage ::= [54] SEQUENCE {BF23, A0{87…}, A1{88…}, [A2{87…}], A3{86…}}`, as
/// built by an SM-DP+. The eUICC receives it in segments (see
/// [`split_bound_profile_package`]) and never decodes it whole.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 54))]
pub struct BoundProfilePackage {
    /// Tag `BF23`.
    pub initialise_secure_channel_request: InitialiseSecureChannelRequest,
    /// ConfigureISDP, encrypted, tag `A0`.
    #[rasn(tag(context, 0))]
    pub first_sequence_of87: Vec<Bpp87>,
    /// StoreMetadata, MAC-only, tag `A1`.
    #[rasn(tag(context, 1))]
    pub sequence_of88: Vec<Bpp88>,
    /// ReplaceSessionKeys, encrypted, tag `A2`.
    #[rasn(tag(context, 2))]
    pub second_sequence_of87: Option<Vec<Bpp87>>,
    /// Profile elements, encrypted, tag `A3`.
    #[rasn(tag(context, 3))]
    pub sequence_of86: Vec<Bpp86>,
}

/// `[7] OCTET STRING`: one protected segment, tag `87` (payload ‖ MAC).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(delegate, tag(context, 7))]
pub struct Bpp87(pub OctetString);

/// `[8] OCTET STRING`: one MAC-only segment, tag `88` (payload ‖ MAC).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(delegate, tag(context, 8))]
pub struct Bpp88(pub OctetString);

/// `[6] OCTET STRING`: one profile-data segment, tag `86` (payload ‖ MAC).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(delegate, tag(context, 6))]
pub struct Bpp86(pub OctetString);

/// `InitialiseSecureChannelRequest ::= [35] SEQUENCE {…}`:
/// `BF23{82 remoteOpId, 80 transactionId, A6 controlRefTemplate, 5F49 smdpOtpk, 5F37 smdpSign}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 35))]
pub struct InitialiseSecureChannelRequest {
    /// See [`remote_op_id`], tag `82`.
    #[rasn(tag(context, 2))]
    pub remote_op_id: i64,
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// `[6] IMPLICIT`, tag `A6`.
    #[rasn(tag(context, 6))]
    pub control_ref_template: ControlRefTemplate,
    /// otPK.DP.ECKA (`04‖X‖Y`), tag `5F49`.
    #[rasn(tag(application, 73))]
    pub smdp_otpk: OctetString,
    /// Plain r‖s, see [`InitialiseSecureChannelRequest::signed_data`], tag `5F37`.
    #[rasn(tag(application, 55))]
    pub smdp_sign: OctetString,
}

impl InitialiseSecureChannelRequest {
    /// The data smdpSign covers, from this value's DER (what an SM-DP+ signs): the member TLVs
    /// before smdpSign ‖ `5F49 41` otPK.EUICC. A verifier uses
    /// [`signed_data::initialise_secure_channel`] on the bytes as received instead.
    pub fn signed_data(&self, euicc_otpk: &[u8]) -> Result<Vec<u8>, Es10Error> {
        signed_data::initialise_secure_channel(&try_encode(self)?, euicc_otpk)
    }
}

/// `ControlRefTemplate ::= SEQUENCE {80 keyType, 81 keyLen, 84 hostId}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct ControlRefTemplate {
    /// `88` (AES), tag `80`.
    #[rasn(tag(context, 0))]
    pub key_type: OctetString,
    /// `10` (16 bytes), tag `81`.
    #[rasn(tag(context, 1))]
    pub key_len: OctetString,
    /// Host ID (1..16 bytes), tag `84`.
    #[rasn(tag(context, 4))]
    pub host_id: OctetString,
}

/// `dpProprietaryData` kept as received (`B8{06 dpOid, …}`): the module allows the SM-DP+ to
/// append data objects, so it is only interpreted on demand.
pub type RawDpProprietaryData = RawTlv<0xB8>;

impl RawTlv<0xB8> {
    /// The leading `dpOid`, if the content starts with a well-formed `80` OID (automatic tag).
    pub fn dp_oid(&self) -> Option<ObjectIdentifier> {
        let outer = tlv::parse_exact(self.as_bytes()).ok()?;
        let first = outer.children().next()?.ok()?;
        if first.tag.0 != 0x80 {
            return None;
        }
        // Decode the OID with rasn by giving it a universal OBJECT IDENTIFIER header.
        let der = tlv::tlv(0x06, first.value);
        rasn::ber::decode::<ObjectIdentifier>(&der).ok()
    }

    /// The typed value, when the content is exactly `{80 dpOid}`.
    pub fn parse(&self) -> Result<DpProprietaryData, Es10Error> {
        let outer = tlv::parse_exact(self.as_bytes())?;
        decode(&tlv::tlv(0x30, outer.value))
    }

    /// The DER of a typed value.
    pub fn from_dp_proprietary_data(data: &DpProprietaryData) -> Self {
        let der = encode(data);
        let value = tlv::parse_exact(&der)
            .map(|t| t.value.to_vec())
            .unwrap_or_default();
        Self(Any::new(tlv::tlv(0xB8, &value)))
    }
}

/// `ConfigureISDPRequest ::= [36] SEQUENCE {[B8 dpProprietaryData]}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 36))]
pub struct ConfigureIsdpRequest {
    /// Tag `B8`.
    pub dp_proprietary_data: Option<RawDpProprietaryData>,
}

/// `StoreMetadataRequest ::= [37] SEQUENCE {…}` (SGP.22 v2): `BF25{5A iccid, 91 spn, 92 name,
/// [93 iconType], [94 icon], [95 profileClass], [B6 notificationConfigurationInfo],
/// [B7 profileOwner], [99 profilePolicyRules]}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 37))]
pub struct StoreMetadataRequest {
    /// ICCID as in EF.ICCID (10 bytes), tag `5A`.
    #[rasn(tag(application, 26))]
    pub iccid: OctetString,
    /// Tag `91`.
    #[rasn(tag(context, 17))]
    pub service_provider_name: Utf8String,
    /// Tag `92`.
    #[rasn(tag(context, 18))]
    pub profile_name: Utf8String,
    /// Tag `93`.
    #[rasn(tag(context, 19))]
    pub icon_type: Option<IconType>,
    /// Tag `94`.
    #[rasn(tag(context, 20))]
    pub icon: Option<OctetString>,
    /// Tag `95`; absent means operational, see [`StoreMetadataRequest::profile_class`].
    #[rasn(tag(context, 21))]
    pub profile_class: Option<ProfileClass>,
    /// Tag `B6`.
    #[rasn(tag(context, 22))]
    pub notification_configuration_info: Option<Vec<NotificationConfigurationInformation>>,
    /// Tag `B7`.
    #[rasn(tag(context, 23))]
    pub profile_owner: Option<OperatorId>,
    /// `PprIds`, tag `99`.
    #[rasn(tag(context, 25))]
    pub profile_policy_rules: Option<NamedBits>,
}

impl StoreMetadataRequest {
    /// The profile class, [`ProfileClass::OPERATIONAL`] where absent.
    pub fn profile_class(&self) -> ProfileClass {
        self.profile_class.unwrap_or(ProfileClass::OPERATIONAL)
    }
}

/// `ReplaceSessionKeysRequest ::= [38] SEQUENCE {80 initialMacChainingValue, 81 ppkEnc,
/// 82 ppkCmac}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 38))]
pub struct ReplaceSessionKeysRequest {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub initial_mac_chaining_value: OctetString,
    /// Tag `81`.
    #[rasn(tag(context, 1))]
    pub ppk_enc: OctetString,
    /// Tag `82`.
    #[rasn(tag(context, 2))]
    pub ppk_cmac: OctetString,
}

// =============================================================================================
// ProfileInstallationResult
// =============================================================================================

/// `ProfileInstallationResult ::= [55] SEQUENCE {BF27 profileInstallationResultData,
/// 5F37 euiccSignPIR}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 55))]
pub struct ProfileInstallationResult {
    /// Signed by the eUICC: sign [`Verbatim::as_bytes`] (the whole `BF27` TLV).
    pub profile_installation_result_data: Verbatim<ProfileInstallationResultData>,
    /// Plain r‖s, tag `5F37`.
    #[rasn(tag(application, 55))]
    pub euicc_sign_pir: OctetString,
}

impl ProfileInstallationResult {
    /// The same result as opaque DER, for the notification list.
    pub fn to_raw(&self) -> Result<RawProfileInstallationResult, Es10Error> {
        RawProfileInstallationResult::new(try_encode(self)?).map_err(Es10Error::from)
    }

    /// Decodes a stored or received opaque result.
    pub fn from_raw(raw: &RawProfileInstallationResult) -> Result<Self, Es10Error> {
        decode(raw.as_bytes())
    }
}

/// `ProfileInstallationResultData ::= [39] SEQUENCE {80 transactionId, BF2F notificationMetadata,
/// [06 smdpOid], A2 finalResult}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 39))]
pub struct ProfileInstallationResultData {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// Tag `BF2F`.
    pub notification_metadata: NotificationMetadata,
    /// OID of CERT.DPpb, universal `06`.
    pub smdp_oid: Option<ObjectIdentifier>,
    /// `[2] CHOICE`, always explicit: `A2{A0…|A1…}`.
    #[rasn(tag(explicit(context, 2)))]
    pub final_result: FinalResult,
}

/// ProfileInstallationResultData's `finalResult` CHOICE.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice)]
pub enum FinalResult {
    /// Tag `A0`.
    #[rasn(tag(context, 0))]
    SuccessResult(SuccessResult),
    /// Tag `A1`.
    #[rasn(tag(context, 1))]
    ErrorResult(ErrorResult),
}

/// `SuccessResult ::= SEQUENCE {4F aid, 04 simaResponse}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct SuccessResult {
    /// ISD-P AID, tag `4F`.
    #[rasn(tag(application, 15))]
    pub aid: OctetString,
    /// SAIP `EUICCResponse` DER, universal `04`.
    pub sima_response: OctetString,
}

/// `ErrorResult ::= SEQUENCE {80 bppCommandId, 81 errorReason, [82 simaResponse]}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct ErrorResult {
    /// See [`bpp_command_id`], tag `80`.
    #[rasn(tag(context, 0))]
    pub bpp_command_id: i64,
    /// See [`error_reason`], tag `81`.
    #[rasn(tag(context, 1))]
    pub error_reason: i64,
    /// Tag `82`.
    #[rasn(tag(context, 2))]
    pub sima_response: Option<OctetString>,
}

// =============================================================================================
// CancelSession
// =============================================================================================

/// `CancelSessionRequest ::= [65] SEQUENCE {80 transactionId, 81 reason}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 65))]
pub struct CancelSessionRequest {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// See [`cancel_session_reason`], tag `81`.
    #[rasn(tag(context, 1))]
    pub reason: i64,
}

/// `CancelSessionResponse ::= [65] CHOICE {…}`: `BF41{A0 ok}` or `BF41{81 error}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, tag(explicit(context, 65)))]
pub enum CancelSessionResponse {
    /// Tag `A0`.
    #[rasn(tag(context, 0))]
    CancelSessionResponseOk(CancelSessionResponseOk),
    /// See [`cancel_session_error`], tag `81`.
    #[rasn(tag(context, 1))]
    CancelSessionResponseError(i64),
}

/// `CancelSessionResponseOk ::= SEQUENCE {30 euiccCancelSessionSigned,
/// 5F37 euiccCancelSessionSignature}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct CancelSessionResponseOk {
    /// Signed by the eUICC: sign [`Verbatim::as_bytes`].
    pub euicc_cancel_session_signed: Verbatim<EuiccCancelSessionSigned>,
    /// Plain r‖s, tag `5F37`.
    #[rasn(tag(application, 55))]
    pub euicc_cancel_session_signature: OctetString,
}

/// `EuiccCancelSessionSigned ::= SEQUENCE {80 transactionId, 81 smdpOid, 82 reason}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct EuiccCancelSessionSigned {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub transaction_id: TransactionId,
    /// OID of CERT.DPauth, implicitly tagged `81` (OID contents only).
    #[rasn(tag(context, 1))]
    pub smdp_oid: ObjectIdentifier,
    /// See [`cancel_session_reason`], tag `82`.
    #[rasn(tag(context, 2))]
    pub reason: i64,
}

// =============================================================================================
// Signed data and BPP segments
// =============================================================================================

/// The byte strings the download signatures cover (SGP.22 §3.1.3 / §5.7), for data that is not a
/// single [`Verbatim`] part.
pub mod signed_data {
    use super::{tlv, Es10Error};

    /// `signed ‖ 5F37 L signature`: the input of smdpSignature2 (smdpSigned2 ‖ euiccSignature1)
    /// and of euiccSignature2 (euiccSigned2 ‖ smdpSignature2). `signature` is the plain r‖s.
    pub fn with_signature_tlv(signed: &[u8], signature: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(signed.len() + signature.len() + 4);
        out.extend_from_slice(signed);
        tlv::write_tlv(0x5F37, signature, &mut out);
        out
    }

    /// The input of InitialiseSecureChannel's smdpSign, from the `BF23` TLV as received: every
    /// member TLV of `BF23` except `5F37` (remoteOpId, transactionId, controlRefTemplate,
    /// smdpOtpk, exactly as received) ‖ `5F49 L` otPK.EUICC.
    pub fn initialise_secure_channel(bf23: &[u8], euicc_otpk: &[u8]) -> Result<Vec<u8>, Es10Error> {
        let outer = tlv::parse_tagged(bf23, 0xBF23)?;
        let mut out = Vec::with_capacity(outer.value.len() + euicc_otpk.len() + 3);
        let mut signature = false;
        for child in outer.children() {
            let child = child?;
            if child.tag.0 == 0x5F37 {
                signature = true;
            } else {
                out.extend_from_slice(child.raw);
            }
        }
        if !signature {
            return Err(Es10Error::Decode {
                type_name: "InitialiseSecureChannelRequest",
                reason: "no smdpSign (5F37)".into(),
            });
        }
        tlv::write_tlv(0x5F49, euicc_otpk, &mut out);
        Ok(out)
    }
}

/// Whether `tag` (packed bytes) may start a LoadBoundProfilePackage segment: `BF36` (the first
/// segment) or, while a BPP is being loaded, `A0`…`A3` (a section, whole or header only) and
/// `86`/`87`/`88` (one protected TLV).
///
/// Only `BF36` is routed by [`super::decode_request`]; the card routes the others itself while a
/// BPP session is active (a header-only segment is not a complete TLV).
pub fn is_bpp_segment_tag(tag: u32) -> bool {
    matches!(tag, 0xBF36 | 0xA0..=0xA3 | 0x86..=0x88)
}

/// The tag a LoadBoundProfilePackage segment starts with, if `input` starts with such a tag.
pub fn bpp_segment_tag(input: &[u8]) -> Option<u32> {
    let (tag, _) = tlv::read_tag(input).ok()?;
    is_bpp_segment_tag(tag.0).then_some(tag.0)
}

/// Checks the shape of one segment: a tag and a definite length, then complete TLVs (possibly
/// none) that fit in that length. The length of a header may cover later segments.
pub fn check_bpp_segment(input: &[u8]) -> Result<u32, Es10Error> {
    let (tag, tl) = tlv::read_tag(input)?;
    if !is_bpp_segment_tag(tag.0) {
        return Err(Es10Error::Decode {
            type_name: "LoadBoundProfilePackage segment",
            reason: format!("tag {tag} does not start a segment"),
        });
    }
    let (len, ll) = tlv::read_len(&input[tl..])?;
    let rest = &input[tl + ll..];
    if !tag.is_constructed() || rest.len() >= len {
        // A primitive 86/87/88, or a section sent whole: exactly one TLV.
        tlv::parse_exact(input)?;
    }
    if tag.is_constructed() {
        tlv::check_depth(&rest[..rest.len().min(len)], tlv::MAX_DEPTH)?;
    }
    Ok(tag.0)
}

/// Splits a whole `BF36` Bound Profile Package into the ES10b LoadBoundProfilePackage segments an
/// LPA sends (SGP.22 §2.5.5): the `BF36` header with the whole `BF23`; the whole `A0`; the `A1`
/// header, then each `88`; the whole `A2` if present; the `A3` header, then each `86`.
pub fn split_bound_profile_package(bpp: &[u8]) -> Result<Vec<Vec<u8>>, Es10Error> {
    const ORDER: [u32; 5] = [0xBF23, 0xA0, 0xA1, 0xA2, 0xA3];
    let bad = |reason: String| Es10Error::Decode {
        type_name: "BoundProfilePackage",
        reason,
    };
    let outer = tlv::parse_tagged(bpp, 0xBF36)?;
    let header_len = bpp.len() - outer.value.len();
    // Index in ORDER of the next section allowed; only A2 may be skipped.
    let mut next = 0;
    let mut segments = Vec::new();
    for child in outer.children() {
        let child = child?;
        let pos = ORDER
            .iter()
            .skip(next)
            .position(|t| *t == child.tag.0)
            .map(|p| p + next)
            .ok_or_else(|| bad(format!("unexpected or misplaced {}", child.tag)))?;
        if let Some(missing) = ORDER[next..pos].iter().find(|t| **t != 0xA2) {
            return Err(bad(format!("{} missing", tlv::Tag(*missing))));
        }
        next = pos + 1;
        match child.tag.0 {
            0xBF23 => {
                let mut first = bpp[..header_len].to_vec();
                first.extend_from_slice(child.raw);
                segments.push(first);
            }
            0xA0 | 0xA2 => segments.push(child.raw.to_vec()),
            _ => {
                // A1 / A3: the header, then each inner TLV on its own.
                let hdr = child.raw.len() - child.value.len();
                segments.push(child.raw[..hdr].to_vec());
                for inner in child.children() {
                    segments.push(inner?.raw.to_vec());
                }
            }
        }
    }
    if let Some(missing) = ORDER[next..].iter().find(|t| **t != 0xA2) {
        return Err(bad(format!("{} missing", tlv::Tag(*missing))));
    }
    Ok(segments)
}
