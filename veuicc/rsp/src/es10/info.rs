//! eUICC information and configuration: GetEID (`BF3E`), GetEUICCInfo1/2 (`BF20`/`BF22`),
//! GetEUICCChallenge (`BF2E`), GetEuiccConfiguredAddresses (`BF3C`), SetDefaultDpAddress
//! (`BF3F`) and GetRAT (`BF43`).

use rasn::prelude::*;

use super::common::{EuiccCategory, NamedBits, OperatorId};

/// `SubjectKeyIdentifier ::= OCTET STRING` (PKIX1Implicit88), a CI public key identifier.
pub type SubjectKeyIdentifier = OctetString;

/// `VersionType ::= OCTET STRING (SIZE(3))`: major, minor, revision (`02 02 00` is v2.2.0).
pub type VersionType = OctetString;

// --- GetEID -----------------------------------------------------------------------------------

/// `GetEuiccDataRequest ::= [62] SEQUENCE { tagList [APPLICATION 28] Octet1 }`: `BF3E{5C 01 5A}`.
///
/// `tagList` is mandatory in SGP.22 but kept optional here so that a bare `BF3E 00` from a
/// non-conformant LPA still decodes (treat an absent list as a request for the EID).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 62))]
pub struct GetEuiccDataRequest {
    /// Tags requested, tag `5C`; the only value SGP.22 defines is `5A` (EID).
    #[rasn(tag(application, 28))]
    pub tag_list: Option<OctetString>,
}

impl GetEuiccDataRequest {
    /// The standard request for the EID: `BF3E 03 5C 01 5A`.
    pub fn eid() -> Self {
        Self {
            tag_list: Some(OctetString::from_static(&[0x5A])),
        }
    }

    /// Whether the EID is asked for (tag list absent, or containing `5A`).
    pub fn wants_eid(&self) -> bool {
        self.tag_list.as_ref().is_none_or(|t| t.contains(&0x5A))
    }
}

/// `GetEuiccDataResponse ::= [62] SEQUENCE { eidValue [APPLICATION 26] Octet16 }`:
/// `BF3E 12 5A 10 <EID>`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 62))]
pub struct GetEuiccDataResponse {
    /// The 16-byte EID, tag `5A`.
    #[rasn(tag(application, 26))]
    pub eid_value: OctetString,
}

// --- EUICCInfo1 ------------------------------------------------------------------------------

/// `GetEuiccInfo1Request ::= [32] SEQUENCE {}`: `BF20 00`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 32))]
pub struct GetEuiccInfo1Request {}

/// `EUICCInfo1 ::= [32] SEQUENCE {…}`: `BF20{82 svn, A9{04 SKI…}, AA{04 SKI…}}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 32))]
pub struct EuiccInfo1 {
    /// GSMA SGP.22 version supported, tag `82`.
    #[rasn(tag(context, 2))]
    pub svn: VersionType,
    /// CI public key identifiers usable for signature verification, tag `A9`.
    #[rasn(tag(context, 9))]
    pub euicc_ci_pkid_list_for_verification: Vec<SubjectKeyIdentifier>,
    /// CI public key identifiers usable for signature creation, tag `AA`.
    #[rasn(tag(context, 10))]
    pub euicc_ci_pkid_list_for_signing: Vec<SubjectKeyIdentifier>,
}

// --- EUICCInfo2 ------------------------------------------------------------------------------

/// `GetEuiccInfo2Request ::= [34] SEQUENCE {}`: `BF22 00`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 34))]
pub struct GetEuiccInfo2Request {}

/// `EUICCInfo2 ::= [34] SEQUENCE {…}` as in the SGP.22 v2.x RSPDefinitions module.
///
/// The members carry explicit context tags except `ppVersion` and `sasAcreditationNumber`,
/// which therefore keep their universal tags `04` and `0C` (AUTOMATIC TAGS does not apply to a
/// SEQUENCE where some members are tagged). Member 6 is `javacardVersion` in v2.0–v2.2 and
/// `ts102241Version` from v2.3 on; same tag `86`. The v3 additions after
/// `certificationDataObject` (treProperties, …) are not modelled.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 34))]
pub struct EuiccInfo2 {
    /// SIMalliance profile package version supported, tag `81`.
    #[rasn(tag(context, 1))]
    pub profile_version: VersionType,
    /// GSMA SGP.22 version supported, tag `82`.
    #[rasn(tag(context, 2))]
    pub svn: VersionType,
    /// eUICC firmware version, tag `83`.
    #[rasn(tag(context, 3))]
    pub euicc_firmware_ver: VersionType,
    /// Extended card resource information (ETSI TS 102 226), tag `84`.
    #[rasn(tag(context, 4))]
    pub ext_card_resource: OctetString,
    /// `UICCCapability` BIT STRING, tag `85` (bits in [`super::uicc_capability`]).
    #[rasn(tag(context, 5))]
    pub uicc_capability: NamedBits,
    /// ETSI TS 102 241 (Java Card API) version, tag `86`.
    #[rasn(tag(context, 6))]
    pub ts102241_version: Option<VersionType>,
    /// GlobalPlatform version, tag `87`.
    #[rasn(tag(context, 7))]
    pub globalplatform_version: Option<VersionType>,
    /// `RspCapability` BIT STRING, tag `88` (bits in [`super::rsp_capability`]).
    #[rasn(tag(context, 8))]
    pub rsp_capability: NamedBits,
    /// CI public key identifiers for verification, tag `A9`.
    #[rasn(tag(context, 9))]
    pub euicc_ci_pkid_list_for_verification: Vec<SubjectKeyIdentifier>,
    /// CI public key identifiers for signing, tag `AA`.
    #[rasn(tag(context, 10))]
    pub euicc_ci_pkid_list_for_signing: Vec<SubjectKeyIdentifier>,
    /// eUICC category, tag `8B`.
    #[rasn(tag(context, 11))]
    pub euicc_category: Option<EuiccCategory>,
    /// PPRs the eUICC refuses (`PprIds`), tag `99`.
    #[rasn(tag(context, 25))]
    pub forbidden_profile_policy_rules: Option<NamedBits>,
    /// Protection Profile version, untagged: universal `04`.
    pub pp_version: VersionType,
    /// SAS accreditation number (ASN.1 spelling `sasAcreditationNumber`), untagged: `0C`.
    pub sas_acreditation_number: Utf8String,
    /// GlobalPlatform DLOA data, tag `AC`.
    #[rasn(tag(context, 12))]
    pub certification_data_object: Option<CertificationDataObject>,
}

/// `CertificationDataObject ::= SEQUENCE { platformLabel, discoveryBaseURL }` (automatic tags).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct CertificationDataObject {
    /// Platform_Label (GlobalPlatform DLOA), tag `80`.
    #[rasn(tag(context, 0))]
    pub platform_label: Utf8String,
    /// Discovery base URL of the default DLOA registrar, tag `81`.
    #[rasn(tag(context, 1))]
    pub discovery_base_url: Utf8String,
}

// --- GetEUICCChallenge -----------------------------------------------------------------------

/// `GetEuiccChallengeRequest ::= [46] SEQUENCE {}`: `BF2E 00`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 46))]
pub struct GetEuiccChallengeRequest {}

/// `GetEuiccChallengeResponse ::= [46] SEQUENCE { euiccChallenge Octet16 }`: `BF2E 12 80 10 …`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 46))]
pub struct GetEuiccChallengeResponse {
    /// The 16-byte eUICC challenge, tag `80`.
    #[rasn(tag(context, 0))]
    pub euicc_challenge: OctetString,
}

// --- Configured addresses --------------------------------------------------------------------

/// `EuiccConfiguredAddressesRequest ::= [60] SEQUENCE {}`: `BF3C 00`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 60))]
pub struct EuiccConfiguredAddressesRequest {}

/// `EuiccConfiguredAddressesResponse ::= [60] SEQUENCE {…}` (automatic tags).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 60))]
pub struct EuiccConfiguredAddressesResponse {
    /// Default SM-DP+ address (FQDN), tag `80`.
    #[rasn(tag(context, 0))]
    pub default_dp_address: Option<Utf8String>,
    /// Root SM-DS address (FQDN), tag `81`.
    #[rasn(tag(context, 1))]
    pub root_ds_address: Utf8String,
}

/// `SetDefaultDpAddressRequest ::= [63] SEQUENCE { defaultDpAddress UTF8String }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 63))]
pub struct SetDefaultDpAddressRequest {
    /// New default SM-DP+ address (FQDN; empty clears it), tag `80`.
    #[rasn(tag(context, 0))]
    pub default_dp_address: Utf8String,
}

/// `SetDefaultDpAddressResponse ::= [63] SEQUENCE { setDefaultDpAddressResult INTEGER }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 63))]
pub struct SetDefaultDpAddressResponse {
    /// See [`super::set_default_dp_address_result`], tag `80`.
    #[rasn(tag(context, 0))]
    pub set_default_dp_address_result: i64,
}

// --- GetRAT ----------------------------------------------------------------------------------

/// `GetRatRequest ::= [67] SEQUENCE {}`: `BF43 00`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 67))]
pub struct GetRatRequest {}

/// `GetRatResponse ::= [67] SEQUENCE { rat RulesAuthorisationTable }`: `BF43{A0{30…}*}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 67))]
pub struct GetRatResponse {
    /// `RulesAuthorisationTable ::= SEQUENCE OF ProfilePolicyAuthorisationRule`, tag `A0`.
    #[rasn(tag(context, 0))]
    pub rat: Vec<ProfilePolicyAuthorisationRule>,
}

/// `ProfilePolicyAuthorisationRule ::= SEQUENCE {…}` (automatic tags 80/A1/82).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct ProfilePolicyAuthorisationRule {
    /// The PPRs this rule is about (`PprIds`), tag `80`.
    #[rasn(tag(context, 0))]
    pub ppr_ids: NamedBits,
    /// Operators allowed to set them, tag `A1`.
    #[rasn(tag(context, 1))]
    pub allowed_operators: Vec<OperatorId>,
    /// `BIT STRING {consentRequired(0)}`, tag `82`.
    #[rasn(tag(context, 2))]
    pub ppr_flags: NamedBits,
}
