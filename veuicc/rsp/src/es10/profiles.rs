//! ES10c profile management: GetProfilesInfo (`BF2D`), EnableProfile (`BF31`), DisableProfile
//! (`BF32`), DeleteProfile (`BF33`), eUICCMemoryReset (`BF34`) and SetNickname (`BF29`).

use rasn::prelude::*;

use super::common::{
    DpProprietaryData, IconType, NamedBits, NotificationConfigurationInformation, OperatorId,
    ProfileClass, ProfileIdentifier, ProfileState,
};

// --- GetProfilesInfo -------------------------------------------------------------------------

/// `ProfileInfoListRequest ::= [45] SEQUENCE {…}`: `BF2D{[A0{4F|5A|95}], [5C tags]}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 45))]
pub struct ProfileInfoListRequest {
    /// Which profiles to list; `[0] CHOICE` is always explicit, hence `A0{…}`.
    #[rasn(tag(explicit(context, 0)))]
    pub search_criteria: Option<SearchCriteria>,
    /// The ProfileInfo tags to return (concatenated tag bytes), tag `5C`.
    #[rasn(tag(application, 28))]
    pub tag_list: Option<OctetString>,
}

/// ProfileInfoListRequest's `searchCriteria` CHOICE.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice)]
pub enum SearchCriteria {
    /// ISD-P AID, tag `4F`.
    #[rasn(tag(application, 15))]
    IsdpAid(OctetString),
    /// ICCID, tag `5A`.
    #[rasn(tag(application, 26))]
    Iccid(OctetString),
    /// Profile class, tag `95`.
    #[rasn(tag(context, 21))]
    ProfileClass(ProfileClass),
}

/// `ProfileInfoListResponse ::= [45] CHOICE {…}`: `BF2D{A0{E3…}}` or `BF2D{81 error}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, tag(explicit(context, 45)))]
pub enum ProfileInfoListResponse {
    /// `profileInfoListOk SEQUENCE OF ProfileInfo`, tag `A0`.
    #[rasn(tag(context, 0))]
    ProfileInfoListOk(Vec<ProfileInfo>),
    /// `profileInfoListError`, tag `81`; see [`super::profile_info_list_error`].
    #[rasn(tag(context, 1))]
    ProfileInfoListError(i64),
}

/// `ProfileInfo ::= [PRIVATE 3] SEQUENCE {…}` (tag `E3`); every member is optional.
///
/// `profileClass` is `DEFAULT operational` in the ASN.1; it is an `Option` here so the card
/// decides whether to send it (many real eUICCs always send `95 01 02`), and a received value is
/// kept exactly. Absent means operational.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(private, 3))]
pub struct ProfileInfo {
    /// ICCID, tag `5A`.
    #[rasn(tag(application, 26))]
    pub iccid: Option<OctetString>,
    /// ISD-P AID, tag `4F`.
    #[rasn(tag(application, 15))]
    pub isdp_aid: Option<OctetString>,
    /// Tag `9F70`.
    #[rasn(tag(context, 112))]
    pub profile_state: Option<ProfileState>,
    /// Tag `90`.
    #[rasn(tag(context, 16))]
    pub profile_nickname: Option<Utf8String>,
    /// Tag `91`.
    #[rasn(tag(context, 17))]
    pub service_provider_name: Option<Utf8String>,
    /// Tag `92`.
    #[rasn(tag(context, 18))]
    pub profile_name: Option<Utf8String>,
    /// Tag `93`.
    #[rasn(tag(context, 19))]
    pub icon_type: Option<IconType>,
    /// Tag `94`.
    #[rasn(tag(context, 20))]
    pub icon: Option<OctetString>,
    /// Tag `95`; absent means [`ProfileClass::OPERATIONAL`].
    #[rasn(tag(context, 21))]
    pub profile_class: Option<ProfileClass>,
    /// Tag `B6`.
    #[rasn(tag(context, 22))]
    pub notification_configuration_info: Option<Vec<NotificationConfigurationInformation>>,
    /// Tag `B7`.
    #[rasn(tag(context, 23))]
    pub profile_owner: Option<OperatorId>,
    /// Tag `B8`.
    #[rasn(tag(context, 24))]
    pub dp_proprietary_data: Option<DpProprietaryData>,
    /// `PprIds`, tag `99`.
    #[rasn(tag(context, 25))]
    pub profile_policy_rules: Option<NamedBits>,
}

// --- Enable / Disable / Delete ---------------------------------------------------------------

/// `EnableProfileRequest ::= [49] SEQUENCE {…}`: `BF31{A0{4F|5A}, 81 refreshFlag}`.
///
/// `refreshFlag` is mandatory in SGP.22; it is optional here only so that a request without it
/// still decodes. Encode it always; read it with [`EnableProfileRequest::refresh`].
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 49))]
pub struct EnableProfileRequest {
    /// Untagged CHOICE under AUTOMATIC TAGS: `[0]`, explicit, hence `A0{…}`.
    #[rasn(tag(explicit(context, 0)))]
    pub profile_identifier: ProfileIdentifier,
    /// Whether a REFRESH is required, tag `81`.
    #[rasn(tag(context, 1))]
    pub refresh_flag: Option<bool>,
}

impl EnableProfileRequest {
    /// The refresh flag, `false` where absent.
    pub fn refresh(&self) -> bool {
        self.refresh_flag.unwrap_or(false)
    }
}

/// `EnableProfileResponse ::= [49] SEQUENCE { enableResult INTEGER }`: `BF31 03 80 01 xx`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 49))]
pub struct EnableProfileResponse {
    /// See [`super::enable_result`], tag `80`.
    #[rasn(tag(context, 0))]
    pub enable_result: i64,
}

/// `DisableProfileRequest ::= [50] SEQUENCE {…}`: same shape as [`EnableProfileRequest`].
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 50))]
pub struct DisableProfileRequest {
    /// `A0{4F|5A}`.
    #[rasn(tag(explicit(context, 0)))]
    pub profile_identifier: ProfileIdentifier,
    /// Tag `81`; mandatory in SGP.22, tolerated absent on decode.
    #[rasn(tag(context, 1))]
    pub refresh_flag: Option<bool>,
}

impl DisableProfileRequest {
    /// The refresh flag, `false` where absent.
    pub fn refresh(&self) -> bool {
        self.refresh_flag.unwrap_or(false)
    }
}

/// `DisableProfileResponse ::= [50] SEQUENCE { disableResult INTEGER }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 50))]
pub struct DisableProfileResponse {
    /// See [`super::disable_result`], tag `80`.
    #[rasn(tag(context, 0))]
    pub disable_result: i64,
}

/// `DeleteProfileRequest ::= [51] CHOICE { isdpAid, iccid }`: `BF33{4F|5A}`, no `A0` wrapper.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, tag(explicit(context, 51)))]
pub enum DeleteProfileRequest {
    /// ISD-P AID, tag `4F`.
    #[rasn(tag(application, 15))]
    IsdpAid(OctetString),
    /// ICCID, tag `5A`.
    #[rasn(tag(application, 26))]
    Iccid(OctetString),
}

impl DeleteProfileRequest {
    /// The same identifier as a [`ProfileIdentifier`].
    pub fn profile_identifier(&self) -> ProfileIdentifier {
        match self {
            Self::IsdpAid(a) => ProfileIdentifier::IsdpAid(a.clone()),
            Self::Iccid(i) => ProfileIdentifier::Iccid(i.clone()),
        }
    }
}

/// `DeleteProfileResponse ::= [51] SEQUENCE { deleteResult INTEGER }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 51))]
pub struct DeleteProfileResponse {
    /// See [`super::delete_result`], tag `80`.
    #[rasn(tag(context, 0))]
    pub delete_result: i64,
}

// --- Memory reset ----------------------------------------------------------------------------

/// `EuiccMemoryResetRequest ::= [52] SEQUENCE { resetOptions [2] BIT STRING {…} }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 52))]
pub struct EuiccMemoryResetRequest {
    /// Bits in [`super::reset_options`], tag `82`.
    #[rasn(tag(context, 2))]
    pub reset_options: NamedBits,
}

/// `EuiccMemoryResetResponse ::= [52] SEQUENCE { resetResult INTEGER }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 52))]
pub struct EuiccMemoryResetResponse {
    /// See [`super::reset_result`], tag `80`.
    #[rasn(tag(context, 0))]
    pub reset_result: i64,
}

// --- SetNickname -----------------------------------------------------------------------------

/// `SetNicknameRequest ::= [41] SEQUENCE { iccid Iccid, profileNickname [16] UTF8String }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 41))]
pub struct SetNicknameRequest {
    /// ICCID, tag `5A`.
    #[rasn(tag(application, 26))]
    pub iccid: OctetString,
    /// New nickname (0..64 bytes), tag `90`.
    #[rasn(tag(context, 16))]
    pub profile_nickname: Utf8String,
}

/// `SetNicknameResponse ::= [41] SEQUENCE { setNicknameResult INTEGER }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 41))]
pub struct SetNicknameResponse {
    /// See [`super::set_nickname_result`], tag `80`.
    #[rasn(tag(context, 0))]
    pub set_nickname_result: i64,
}
