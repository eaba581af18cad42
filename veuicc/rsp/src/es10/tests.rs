//! Byte-exact vectors, round trips and robustness of the ES10 codec.
//!
//! The hex vectors were built by hand from the SGP.22 v2 RSPDefinitions tags (and the PIR sample
//! of the design digest) and cross-checked by decoding and re-encoding each one with an
//! independent ASN.1 compiler against the module text.

use super::*;
use proptest::prelude::*;
use rasn::types::OctetString;

fn h(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).unwrap()
}

fn os(s: &str) -> OctetString {
    OctetString::from(h(s))
}

const ICCID: &str = "98 44 10 32 54 76 98 10 32 F4";
const AID: &str = "A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 10 00";
const EID: &str = "89 04 90 32 12 34 56 78 90 12 34 56 78 90 12 34";
const SKI: &str = "F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3";

/// Encodes `value` and checks the bytes, then decodes the bytes and checks the value.
#[track_caller]
fn vector<T>(value: &T, hex: &str)
where
    T: rasn::Encode + rasn::Decode + PartialEq + std::fmt::Debug,
{
    let want = h(hex);
    let got = encode(value);
    assert_eq!(
        hex::encode_upper(&got),
        hex::encode_upper(&want),
        "encoding of {value:?}"
    );
    let back: T = decode(&want).unwrap();
    assert_eq!(&back, value);
}

fn nm_install() -> NotificationMetadata {
    NotificationMetadata {
        seq_number: 1,
        profile_management_operation: notification_event::single(notification_event::INSTALL),
        notification_address: "x".into(),
        iccid: Some(os(ICCID)),
    }
}

const NM_INSTALL: &str =
    "BF2F 16 80 01 01 81 02 07 80 0C 01 78 5A 0A 98 44 10 32 54 76 98 10 32 F4";

fn sig64() -> OctetString {
    OctetString::from((0u8..64).collect::<Vec<u8>>())
}

const SIG64: &str = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\
                     202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F";

/// The sample PIR of the digest: `BF37 81 88 {BF27 42 {…}, 5F37 40 <sig>}`.
fn pir_hex() -> String {
    format!(
        "BF37 81 88 BF27 42 80 01 01 {NM_INSTALL} 06 03 88 37 0A \
         A2 1F A0 1D 4F 10 {AID} 04 09 30 07 A0 05 30 03 80 01 00 5F37 40 {SIG64}"
    )
}

// --- ES10c -------------------------------------------------------------------------------------

#[test]
fn get_eid() {
    vector(&GetEuiccDataRequest::eid(), "BF3E 03 5C 01 5A");
    vector(
        &GetEuiccDataResponse { eid_value: os(EID) },
        &format!("BF3E 12 5A 10 {EID}"),
    );
    assert!(GetEuiccDataRequest::eid().wants_eid());
    let bare: GetEuiccDataRequest = decode(&h("BF3E 00")).unwrap();
    assert!(bare.wants_eid());
}

#[test]
fn delete_profile() {
    vector(
        &DeleteProfileRequest::Iccid(os(ICCID)),
        &format!("BF33 0C 5A 0A {ICCID}"),
    );
    vector(
        &DeleteProfileRequest::IsdpAid(os(AID)),
        &format!("BF33 12 4F 10 {AID}"),
    );
    vector(
        &DeleteProfileResponse {
            delete_result: delete_result::PROFILE_NOT_IN_DISABLED_STATE,
        },
        "BF33 03 80 01 02",
    );
}

#[test]
fn enable_disable_profile() {
    vector(
        &EnableProfileRequest {
            profile_identifier: ProfileIdentifier::Iccid(os(ICCID)),
            refresh_flag: Some(true),
        },
        &format!("BF31 11 A0 0C 5A 0A {ICCID} 81 01 FF"),
    );
    vector(
        &EnableProfileRequest {
            profile_identifier: ProfileIdentifier::IsdpAid(os(AID)),
            refresh_flag: Some(false),
        },
        &format!("BF31 17 A0 12 4F 10 {AID} 81 01 00"),
    );
    vector(
        &DisableProfileRequest {
            profile_identifier: ProfileIdentifier::Iccid(os(ICCID)),
            refresh_flag: Some(false),
        },
        &format!("BF32 11 A0 0C 5A 0A {ICCID} 81 01 00"),
    );
    vector(
        &EnableProfileResponse {
            enable_result: enable_result::OK,
        },
        "BF31 03 80 01 00",
    );
    vector(
        &EnableProfileResponse {
            enable_result: enable_result::UNDEFINED_ERROR,
        },
        "BF31 03 80 01 7F",
    );
    vector(
        &DisableProfileResponse {
            disable_result: disable_result::PROFILE_NOT_IN_ENABLED_STATE,
        },
        "BF32 03 80 01 02",
    );
}

#[test]
fn enable_profile_liberal_decoding() {
    // BOOLEAN TRUE as 01 (BER) instead of FF (DER).
    let r: EnableProfileRequest =
        decode(&h(&format!("BF31 11 A0 0C 5A 0A {ICCID} 81 01 01"))).unwrap();
    assert_eq!(r.refresh_flag, Some(true));
    assert!(r.refresh());
    // refreshFlag absent.
    let r: EnableProfileRequest = decode(&h(&format!("BF31 0E A0 0C 5A 0A {ICCID}"))).unwrap();
    assert_eq!(r.refresh_flag, None);
    assert!(!r.refresh());
    // Non-minimal length of the outer TLV.
    let r: DisableProfileRequest =
        decode(&h(&format!("BF32 81 11 A0 0C 5A 0A {ICCID} 81 01 FF"))).unwrap();
    assert!(r.refresh());
}

#[test]
fn profile_info_list_request() {
    vector(&ProfileInfoListRequest::default(), "BF2D 00");
    vector(
        &ProfileInfoListRequest {
            search_criteria: None,
            tag_list: Some(os("5A")),
        },
        "BF2D 03 5C 01 5A",
    );
    vector(
        &ProfileInfoListRequest {
            search_criteria: Some(SearchCriteria::Iccid(os(ICCID))),
            tag_list: None,
        },
        &format!("BF2D 0E A0 0C 5A 0A {ICCID}"),
    );
    vector(
        &ProfileInfoListRequest {
            search_criteria: Some(SearchCriteria::ProfileClass(ProfileClass::OPERATIONAL)),
            tag_list: Some(os("5A 4F 9F70 90 91 92 93 94 95 B6 B7 B8 99")),
        },
        "BF2D 15 A0 03 95 01 02 5C 0E 5A 4F 9F 70 90 91 92 93 94 95 B6 B7 B8 99",
    );
    vector(
        &ProfileInfoListRequest {
            search_criteria: Some(SearchCriteria::IsdpAid(os(AID))),
            tag_list: None,
        },
        &format!("BF2D 14 A0 12 4F 10 {AID}"),
    );
}

fn full_profile_info() -> ProfileInfo {
    ProfileInfo {
        iccid: Some(os(ICCID)),
        isdp_aid: Some(os(AID)),
        profile_state: Some(ProfileState::ENABLED),
        profile_nickname: Some("Work".into()),
        service_provider_name: Some("ACME".into()),
        profile_name: Some("ACME Test".into()),
        icon_type: Some(IconType::PNG),
        icon: Some(os("89 50 4E 47")),
        profile_class: Some(ProfileClass::OPERATIONAL),
        notification_configuration_info: Some(vec![
            NotificationConfigurationInformation {
                profile_management_operation: notification_event::single(
                    notification_event::INSTALL,
                ),
                notification_address: "smdp.example.com".into(),
            },
            NotificationConfigurationInformation {
                profile_management_operation: notification_event::single(
                    notification_event::DELETE,
                ),
                notification_address: "smdp.example.com".into(),
            },
        ]),
        profile_owner: Some(OperatorId {
            mcc_mnc: os("32 F4 51"),
            gid1: Some(os("FF")),
            gid2: None,
        }),
        dp_proprietary_data: Some(DpProprietaryData {
            dp_oid: rasn::types::ObjectIdentifier::new(vec![2, 999, 10]).unwrap(),
        }),
        profile_policy_rules: Some(NamedBits::from_bits(&[ppr_ids::PPR1, ppr_ids::PPR2])),
    }
}

#[test]
fn profile_info_list_response() {
    vector(
        &ProfileInfoListResponse::ProfileInfoListOk(vec![full_profile_info()]),
        "BF2D 81 92 A0 81 8F E3 81 8C 5A 0A 98 44 10 32 54 76 98 10 32 F4 \
         4F 10 A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 10 00 9F 70 01 01 \
         90 04 57 6F 72 6B 91 04 41 43 4D 45 92 09 41 43 4D 45 20 54 65 73 74 \
         93 01 01 94 04 89 50 4E 47 95 01 02 \
         B6 30 30 16 80 02 07 80 81 10 73 6D 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D \
              30 16 80 02 04 10 81 10 73 6D 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D \
         B7 08 80 03 32 F4 51 81 01 FF B8 05 80 03 88 37 0A 99 02 05 60",
    );
    // The short form an LPA gets for `5C 01 5A`.
    vector(
        &ProfileInfoListResponse::ProfileInfoListOk(vec![ProfileInfo {
            iccid: Some(os(ICCID)),
            ..ProfileInfo::default()
        }]),
        &format!("BF2D 10 A0 0E E3 0C 5A 0A {ICCID}"),
    );
    vector(
        &ProfileInfoListResponse::ProfileInfoListOk(vec![]),
        "BF2D 02 A0 00",
    );
    vector(
        &ProfileInfoListResponse::ProfileInfoListError(profile_info_list_error::UNDEFINED_ERROR),
        "BF2D 03 81 01 7F",
    );
}

#[test]
fn set_nickname() {
    vector(
        &SetNicknameRequest {
            iccid: os(ICCID),
            profile_nickname: "Work".into(),
        },
        &format!("BF29 12 5A 0A {ICCID} 90 04 57 6F 72 6B"),
    );
    vector(
        &SetNicknameResponse {
            set_nickname_result: set_nickname_result::ICCID_NOT_FOUND,
        },
        "BF29 03 80 01 01",
    );
}

#[test]
fn memory_reset() {
    vector(
        &EuiccMemoryResetRequest {
            reset_options: NamedBits::from_bits(&[
                reset_options::DELETE_OPERATIONAL_PROFILES,
                reset_options::DELETE_FIELD_LOADED_TEST_PROFILES,
                reset_options::RESET_DEFAULT_SMDP_ADDRESS,
            ]),
        },
        "BF34 04 82 02 05 E0",
    );
    vector(
        &EuiccMemoryResetResponse {
            reset_result: reset_result::NOTHING_TO_DELETE,
        },
        "BF34 03 80 01 01",
    );
}

// --- ES10a -------------------------------------------------------------------------------------

#[test]
fn configured_addresses() {
    vector(&EuiccConfiguredAddressesRequest {}, "BF3C 00");
    vector(
        &EuiccConfiguredAddressesResponse {
            default_dp_address: Some("smdp.example.com".into()),
            root_ds_address: "lpa.ds.gsma.com".into(),
        },
        "BF3C 23 80 10 736D64702E6578616D706C652E636F6D 81 0F 6C70612E64732E67736D612E636F6D",
    );
    vector(
        &EuiccConfiguredAddressesResponse {
            default_dp_address: None,
            root_ds_address: "lpa.ds.gsma.com".into(),
        },
        "BF3C 11 81 0F 6C70612E64732E67736D612E636F6D",
    );
    vector(
        &SetDefaultDpAddressRequest {
            default_dp_address: "smdp.example.com".into(),
        },
        "BF3F 12 80 10 736D64702E6578616D706C652E636F6D",
    );
    vector(
        &SetDefaultDpAddressRequest {
            default_dp_address: String::new(),
        },
        "BF3F 02 80 00",
    );
    vector(
        &SetDefaultDpAddressResponse {
            set_default_dp_address_result: set_default_dp_address_result::OK,
        },
        "BF3F 03 80 01 00",
    );
}

// --- ES10b -------------------------------------------------------------------------------------

#[test]
fn euicc_info1() {
    vector(&GetEuiccInfo1Request {}, "BF20 00");
    vector(
        &EuiccInfo1 {
            svn: os("02 02 00"),
            euicc_ci_pkid_list_for_verification: vec![os(SKI)],
            euicc_ci_pkid_list_for_signing: vec![os(SKI)],
        },
        &format!("BF20 35 82 03 02 02 00 A9 16 04 14 {SKI} AA 16 04 14 {SKI}"),
    );
}

fn full_info2() -> EuiccInfo2 {
    EuiccInfo2 {
        profile_version: os("02 03 01"),
        svn: os("02 02 00"),
        euicc_firmware_ver: os("01 00 00"),
        ext_card_resource: os("01 00 02 02 FF FF 03 02 FF FF"),
        uicc_capability: NamedBits::from_bits(&[
            uicc_capability::USIM_SUPPORT,
            uicc_capability::ISIM_SUPPORT,
            uicc_capability::AKA_MILENAGE,
            uicc_capability::JAVACARD,
            uicc_capability::MULTIPLE_USIM_SUPPORT,
        ]),
        ts102241_version: Some(os("03 00 00")),
        globalplatform_version: Some(os("02 03 00")),
        rsp_capability: NamedBits::from_bits(&[
            rsp_capability::ADDITIONAL_PROFILE,
            rsp_capability::TEST_PROFILE_SUPPORT,
        ]),
        euicc_ci_pkid_list_for_verification: vec![os(SKI)],
        euicc_ci_pkid_list_for_signing: vec![os(SKI)],
        euicc_category: Some(EuiccCategory::BASIC),
        forbidden_profile_policy_rules: Some(NamedBits::from_bits(&[ppr_ids::PPR_UPDATE_CONTROL])),
        pp_version: os("01 00 00"),
        sas_acreditation_number: "GSMA-TEST-SAS-01".into(),
        certification_data_object: Some(CertificationDataObject {
            platform_label: "label".into(),
            discovery_base_url: "https://dloa.example".into(),
        }),
    }
}

#[test]
fn euicc_info2() {
    vector(&GetEuiccInfo2Request {}, "BF22 00");
    vector(
        &full_info2(),
        &format!(
            "BF22 81 9C 81 03 02 03 01 82 03 02 02 00 83 03 01 00 00 \
             84 0A 01 00 02 02 FF FF 03 02 FF FF 85 04 07 68 02 80 86 03 03 00 00 \
             87 03 02 03 00 88 02 04 90 A9 16 04 14 {SKI} AA 16 04 14 {SKI} \
             8B 01 01 99 02 07 80 04 03 01 00 00 0C 10 47534D412D544553542D5341532D3031 \
             AC 1D 80 05 6C6162656C 81 14 68747470733A2F2F646C6F612E6578616D706C65"
        ),
    );
    // Only the mandatory members.
    let min = EuiccInfo2 {
        ts102241_version: None,
        globalplatform_version: None,
        euicc_category: None,
        forbidden_profile_policy_rules: None,
        certification_data_object: None,
        euicc_ci_pkid_list_for_verification: vec![],
        euicc_ci_pkid_list_for_signing: vec![],
        sas_acreditation_number: String::new(),
        ..full_info2()
    };
    vector(
        &min,
        "BF22 30 81 03 02 03 01 82 03 02 02 00 83 03 01 00 00 \
         84 0A 01 00 02 02 FF FF 03 02 FF FF 85 04 07 68 02 80 \
         88 02 04 90 A9 00 AA 00 04 03 01 00 00 0C 00",
    );
}

#[test]
fn euicc_challenge() {
    vector(&GetEuiccChallengeRequest {}, "BF2E 00");
    vector(
        &GetEuiccChallengeResponse {
            euicc_challenge: os("00112233445566778899AABBCCDDEEFF"),
        },
        "BF2E 12 80 10 00112233445566778899AABBCCDDEEFF",
    );
}

#[test]
fn get_rat() {
    vector(&GetRatRequest {}, "BF43 00");
    vector(
        &GetRatResponse {
            rat: vec![ProfilePolicyAuthorisationRule {
                ppr_ids: NamedBits::from_bits(&[ppr_ids::PPR1, ppr_ids::PPR2]),
                allowed_operators: vec![OperatorId {
                    mcc_mnc: os("32 F4 51"),
                    gid1: Some(os("FF")),
                    gid2: None,
                }],
                ppr_flags: NamedBits::from_bits(&[ppr_flags::CONSENT_REQUIRED]),
            }],
        },
        "BF43 18 A0 16 30 14 80 02 05 60 A1 0A 30 08 80 03 32 F4 51 81 01 FF 82 02 07 80",
    );
    vector(&GetRatResponse { rat: vec![] }, "BF43 02 A0 00");
}

#[test]
fn notification_event_encodings() {
    let cases = [
        (notification_event::INSTALL, "81 02 07 80"),
        (notification_event::ENABLE, "81 02 06 40"),
        (notification_event::DISABLE, "81 02 05 20"),
        (notification_event::DELETE, "81 02 04 10"),
    ];
    for (bit, tlv) in cases {
        let req = ListNotificationRequest {
            profile_management_operation: Some(notification_event::single(bit)),
        };
        vector(&req, &format!("BF28 04 {tlv}"));
    }
    vector(&ListNotificationRequest::default(), "BF28 00");
    // Non-minimal bit strings from an LPA decode to the same set; trailing zeros are dropped on
    // output.
    let lax: ListNotificationRequest = decode(&h("BF28 04 81 02 00 80")).unwrap();
    assert_eq!(
        lax.profile_management_operation,
        Some(notification_event::single(notification_event::INSTALL))
    );
    assert_eq!(encode(&lax), h("BF28 04 81 02 07 80"));
    let mut bits = NamedBits::from_bits(&[0, 5]);
    bits.set(5, false);
    assert_eq!(bits.set_bits(), vec![0]);
    assert!(bits.is_set(0) && !bits.is_set(5) && !bits.is_set(100));
    assert!(!bits.is_empty() && NamedBits::new().is_empty());
    assert_eq!(
        encode(&EuiccMemoryResetRequest {
            reset_options: NamedBits::new()
        }),
        h("BF34 03 82 01 00")
    );
}

#[test]
fn list_notification_response() {
    vector(&nm_install(), NM_INSTALL);
    vector(
        &ListNotificationResponse::NotificationMetadataList(vec![nm_install()]),
        &format!("BF28 1B A0 19 {NM_INSTALL}"),
    );
    vector(
        &ListNotificationResponse::NotificationMetadataList(vec![]),
        "BF28 02 A0 00",
    );
    vector(
        &ListNotificationResponse::ListNotificationsResultError(
            list_notifications_result_error::UNDEFINED_ERROR,
        ),
        "BF28 03 81 01 7F",
    );
    // Without ICCID, and a two-byte sequence number.
    vector(
        &NotificationMetadata {
            seq_number: 300,
            profile_management_operation: notification_event::single(notification_event::DELETE),
            notification_address: "x".into(),
            iccid: None,
        },
        "BF2F 0B 80 02 01 2C 81 02 04 10 0C 01 78",
    );
}

fn other_signed() -> OtherSignedNotification {
    OtherSignedNotification {
        tbs_other_notification: NotificationMetadata {
            seq_number: 2,
            profile_management_operation: notification_event::single(notification_event::ENABLE),
            notification_address: "smdp.example.com".into(),
            iccid: Some(os(ICCID)),
        },
        euicc_notification_signature: sig64(),
        euicc_certificate: RawCertificate::new(h("30 03 02 01 01")).unwrap(),
        eum_certificate: RawCertificate::new(h("30 03 02 01 02")).unwrap(),
    }
}

const OTHER_SIGNED: &str =
    "30 75 BF2F 25 80 01 02 81 02 06 40 0C 10 736D64702E6578616D706C652E636F6D \
     5A 0A 98 44 10 32 54 76 98 10 32 F4 5F37 40 {SIG} 30 03 02 01 01 30 03 02 01 02";

#[test]
fn retrieve_notifications() {
    vector(&RetrieveNotificationsListRequest::default(), "BF2B 00");
    vector(
        &RetrieveNotificationsListRequest {
            search_criteria: Some(NotificationSearchCriteria::SeqNumber(5)),
        },
        "BF2B 05 A0 03 80 01 05",
    );
    vector(
        &RetrieveNotificationsListRequest {
            search_criteria: Some(NotificationSearchCriteria::ProfileManagementOperation(
                notification_event::single(notification_event::ENABLE),
            )),
        },
        "BF2B 06 A0 04 81 02 06 40",
    );

    let pir = RawProfileInstallationResult::new(h(&pir_hex())).unwrap();
    let osn_hex = OTHER_SIGNED.replace("{SIG}", SIG64);
    vector(
        &PendingNotification::OtherSignedNotification(other_signed()),
        &osn_hex,
    );
    vector(
        &PendingNotification::ProfileInstallationResult(pir.clone()),
        &pir_hex(),
    );
    let resp = RetrieveNotificationsListResponse::NotificationList(vec![
        PendingNotification::ProfileInstallationResult(pir.clone()),
        PendingNotification::OtherSignedNotification(other_signed()),
    ]);
    vector(
        &resp,
        &format!("BF2B 82 01 07 A0 82 01 03 {} {osn_hex}", pir_hex()),
    );
    vector(
        &RetrieveNotificationsListResponse::NotificationsListResultError(
            retrieve_notifications_list_error::NO_RESULT_AVAILABLE,
        ),
        "BF2B 03 81 01 01",
    );
    assert_eq!(pir.as_bytes(), h(&pir_hex()).as_slice());
}

#[test]
fn raw_der_is_kept_verbatim() {
    // A certificate with a non-minimal length is neither DER nor re-encoded: the exact bytes go
    // back out.
    let odd_cert = "30 81 03 02 01 01";
    let hex = OTHER_SIGNED
        .replace("{SIG}", SIG64)
        .replace("30 75", "30 76")
        .replacen("30 03 02 01 01", odd_cert, 1);
    let p: PendingNotification = decode(&h(&hex)).unwrap();
    let PendingNotification::OtherSignedNotification(osn) = &p else {
        panic!("wrong variant: {p:?}");
    };
    assert_eq!(osn.euicc_certificate.as_bytes(), h(odd_cert).as_slice());
    assert_eq!(encode(&p), h(&hex));
    // Wrong tags are refused.
    assert!(RawCertificate::new(h("31 00")).is_err());
    assert!(RawCertificate::new(h("30 00 00")).is_err());
    assert!(RawProfileInstallationResult::new(h("BF27 00")).is_err());
    let bad = OTHER_SIGNED
        .replace("{SIG}", SIG64)
        .replacen("30 03 02 01 01", "31 03 02 01 01", 1);
    assert!(decode::<PendingNotification>(&h(&bad)).is_err());
}

#[test]
fn notification_sent() {
    vector(
        &NotificationSentRequest { seq_number: 5 },
        "BF30 03 80 01 05",
    );
    vector(
        &NotificationSentResponse {
            delete_notification_status: delete_notification_status::NOTHING_TO_DELETE,
        },
        "BF30 03 80 01 01",
    );
}

// --- decode_request ----------------------------------------------------------------------------

#[test]
fn decode_request_dispatch() {
    let cases: Vec<(String, Es10Request)> = vec![
        (
            "BF3E 03 5C 01 5A".into(),
            Es10Request::GetEid(GetEuiccDataRequest::eid()),
        ),
        ("BF20 00".into(), Es10Request::GetEuiccInfo1),
        ("BF22 00".into(), Es10Request::GetEuiccInfo2),
        ("BF2E 00".into(), Es10Request::GetEuiccChallenge),
        (
            "BF2D 00".into(),
            Es10Request::GetProfilesInfo(ProfileInfoListRequest::default()),
        ),
        (
            "BF2D 03 5C 01 5A".into(),
            Es10Request::GetProfilesInfo(ProfileInfoListRequest {
                search_criteria: None,
                tag_list: Some(os("5A")),
            }),
        ),
        (
            format!("BF31 11 A0 0C 5A 0A {ICCID} 81 01 FF"),
            Es10Request::Enable(EnableProfileRequest {
                profile_identifier: ProfileIdentifier::Iccid(os(ICCID)),
                refresh_flag: Some(true),
            }),
        ),
        (
            format!("BF32 17 A0 12 4F 10 {AID} 81 01 00"),
            Es10Request::Disable(DisableProfileRequest {
                profile_identifier: ProfileIdentifier::IsdpAid(os(AID)),
                refresh_flag: Some(false),
            }),
        ),
        (
            format!("BF33 0C 5A 0A {ICCID}"),
            Es10Request::Delete(DeleteProfileRequest::Iccid(os(ICCID))),
        ),
        (
            format!("BF29 12 5A 0A {ICCID} 90 04 57 6F 72 6B"),
            Es10Request::SetNickname(SetNicknameRequest {
                iccid: os(ICCID),
                profile_nickname: "Work".into(),
            }),
        ),
        ("BF3C 00".into(), Es10Request::GetConfiguredAddresses),
        (
            "BF3F 02 80 00".into(),
            Es10Request::SetDefaultDpAddress(SetDefaultDpAddressRequest {
                default_dp_address: String::new(),
            }),
        ),
        (
            "BF34 04 82 02 07 80".into(),
            Es10Request::MemoryReset(EuiccMemoryResetRequest {
                reset_options: NamedBits::from_bits(&[0]),
            }),
        ),
        (
            "BF28 00".into(),
            Es10Request::ListNotification(ListNotificationRequest::default()),
        ),
        (
            "BF2B 05 A0 03 80 01 05".into(),
            Es10Request::RetrieveNotifications(RetrieveNotificationsListRequest {
                search_criteria: Some(NotificationSearchCriteria::SeqNumber(5)),
            }),
        ),
        (
            "BF30 03 80 01 05".into(),
            Es10Request::RemoveNotification(NotificationSentRequest { seq_number: 5 }),
        ),
        ("BF43 00".into(), Es10Request::GetRat),
        // No-input functions ignore well-formed content.
        ("BF22 03 80 01 00".into(), Es10Request::GetEuiccInfo2),
        // Reserved / unknown functions.
        ("BF35 00".into(), Es10Request::Unknown(0xBF35)),
        // The first BPP segment is returned raw (see tests/es10_download.rs).
        (
            "BF36 00".into(),
            Es10Request::LoadBoundProfilePackage(vec![0xBF, 0x36, 0x00]),
        ),
        ("BF7F 00".into(), Es10Request::Unknown(0xBF7F)),
        ("5A 01 00".into(), Es10Request::Unknown(0x5A)),
    ];
    for (hex, want) in cases {
        let got = decode_request(&h(&hex)).unwrap_or_else(|e| panic!("{hex}: {e}"));
        assert_eq!(got, want, "{hex}");
        assert_eq!(got.tag(), want.tag());
    }
}

#[test]
fn decode_request_errors() {
    let bad = [
        "",                                                              // nothing
        "BF",                                                            // truncated tag
        "BF3E",                                                          // no length
        "BF3E 03 5C 01",                                                 // truncated value
        "BF3E 03 5C 01 5A 00",                                           // trailing byte
        "BF20 00 90 00",                                                 // trailing status word
        "BF31 03 80 01 00", // response shape sent as a request
        "BF31 0E A1 0C 5A 0A 98 44 10 32 54 76 98 10 32 F4", // wrong CHOICE wrapper
        "BF33 03 80 01 00", // DeleteProfile without 4F / 5A
        "BF30 00",          // seqNumber missing
        "BF30 03 80 01",    // inner TLV truncated
        "BF2B 05 A0 03 82 01 05", // unknown search criterion
        "BF22 02 80 05",    // no-input function with malformed content
        "BF3E 80 00 00",    // indefinite length
        "BF29 06 5A 01 00 90 01 FF", // nickname not UTF-8
        "BF31 12 A0 0C 5A 0A 98 44 10 32 54 76 98 10 32 F4 81 02 FF FF", // BOOLEAN of 2 bytes
        "BF38 00",          // AuthenticateServer without content
        "BF21 02 80 00",    // PrepareDownload without smdpSigned2
        "BF41 00",          // CancelSession without content
    ];
    for hex in bad {
        assert!(decode_request(&h(hex)).is_err(), "{hex} should fail");
    }
    assert_eq!(
        decode_request(&h("BF20 00 90 00")),
        Err(Es10Error::Tlv(crate::tlv::TlvError::Trailing(2)))
    );
    assert_eq!(
        decode::<NotificationSentRequest>(&h("BF30 03 80 01 05 00")),
        Err(Es10Error::Trailing(1))
    );
}

#[test]
fn error_messages_name_the_type() {
    let e = decode::<NotificationSentRequest>(&h("BF30 00")).unwrap_err();
    assert!(e.to_string().contains("NotificationSentRequest"), "{e}");
    assert!(try_encode(&NotificationSentRequest { seq_number: 1 }).is_ok());
}

// --- Property tests ----------------------------------------------------------------------------

fn arb_octets(max: usize) -> impl Strategy<Value = OctetString> {
    proptest::collection::vec(any::<u8>(), 0..=max).prop_map(OctetString::from)
}

fn arb_bits() -> impl Strategy<Value = NamedBits> {
    proptest::collection::vec(0usize..24, 0..4).prop_map(|b| NamedBits::from_bits(&b))
}

fn arb_text() -> impl Strategy<Value = String> {
    "[ -~é€]{0,40}"
}

fn arb_profile_identifier() -> impl Strategy<Value = ProfileIdentifier> {
    prop_oneof![
        arb_octets(16).prop_map(ProfileIdentifier::IsdpAid),
        arb_octets(10).prop_map(ProfileIdentifier::Iccid),
    ]
}

fn arb_operator() -> impl Strategy<Value = OperatorId> {
    (
        arb_octets(3),
        proptest::option::of(arb_octets(4)),
        proptest::option::of(arb_octets(4)),
    )
        .prop_map(|(mcc_mnc, gid1, gid2)| OperatorId {
            mcc_mnc,
            gid1,
            gid2,
        })
}

fn arb_metadata() -> impl Strategy<Value = NotificationMetadata> {
    (
        any::<i64>(),
        0usize..4,
        arb_text(),
        proptest::option::of(arb_octets(10)),
    )
        .prop_map(|(seq_number, ev, addr, iccid)| NotificationMetadata {
            seq_number,
            profile_management_operation: notification_event::single(ev),
            notification_address: addr,
            iccid,
        })
}

fn arb_profile_info() -> impl Strategy<Value = ProfileInfo> {
    (
        (
            proptest::option::of(arb_octets(10)),
            proptest::option::of(arb_octets(16)),
            proptest::option::of((0i64..2).prop_map(ProfileState)),
            proptest::option::of(arb_text()),
            proptest::option::of(arb_text()),
            proptest::option::of(arb_text()),
        ),
        (
            proptest::option::of((0i64..2).prop_map(IconType)),
            proptest::option::of(arb_octets(300)),
            proptest::option::of((0i64..3).prop_map(ProfileClass)),
            proptest::option::of(proptest::collection::vec(
                (arb_bits(), arb_text()).prop_map(|(p, a)| NotificationConfigurationInformation {
                    profile_management_operation: p,
                    notification_address: a,
                }),
                0..3,
            )),
            proptest::option::of(arb_operator()),
            proptest::option::of(
                proptest::collection::vec(0u32..1000, 0..4).prop_map(|tail| {
                    let mut arcs = vec![2, 999];
                    arcs.extend(tail);
                    DpProprietaryData {
                        dp_oid: rasn::types::ObjectIdentifier::new(arcs).unwrap(),
                    }
                }),
            ),
            proptest::option::of(arb_bits()),
        ),
    )
        .prop_map(|((a, b, c, d, e, f), (g, i, j, k, l, m, n))| ProfileInfo {
            iccid: a,
            isdp_aid: b,
            profile_state: c,
            profile_nickname: d,
            service_provider_name: e,
            profile_name: f,
            icon_type: g,
            icon: i,
            profile_class: j,
            notification_configuration_info: k,
            profile_owner: l,
            dp_proprietary_data: m,
            profile_policy_rules: n,
        })
}

fn arb_cert() -> impl Strategy<Value = RawCertificate> {
    arb_octets(200).prop_map(|inner| RawCertificate::new(crate::tlv::tlv(0x30, &inner)).unwrap())
}

fn arb_pending() -> impl Strategy<Value = PendingNotification> {
    prop_oneof![
        arb_octets(300).prop_map(|inner| PendingNotification::ProfileInstallationResult(
            RawProfileInstallationResult::new(crate::tlv::tlv(0xBF37, &inner)).unwrap()
        )),
        (arb_metadata(), arb_octets(64), arb_cert(), arb_cert()).prop_map(|(m, s, c1, c2)| {
            PendingNotification::OtherSignedNotification(OtherSignedNotification {
                tbs_other_notification: m,
                euicc_notification_signature: s,
                euicc_certificate: c1,
                eum_certificate: c2,
            })
        }),
    ]
}

/// One encoded TLV, nested up to three levels, with tags taken from the ES10 messages.
fn arb_tlv_tree() -> impl Strategy<Value = Vec<u8>> {
    let primitive = (
        prop::sample::select(vec![
            0x80u32, 0x81, 0x82, 0x5A, 0x4F, 0x95, 0x5C, 0x90, 0x0C, 0x04, 0x01, 0x02, 0x03,
            0x9F70, 0x5F37,
        ]),
        proptest::collection::vec(any::<u8>(), 0..12),
    )
        .prop_map(|(t, v)| crate::tlv::tlv(t, &v));
    primitive.prop_recursive(3, 24, 4, |inner| {
        (
            prop::sample::select(vec![0xA0u32, 0xA1, 0x30, 0xBF2F, 0xB6, 0xE3]),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(t, kids)| crate::tlv::tlv(t, &kids.concat()))
    })
}

#[track_caller]
fn round_trip<T>(v: &T) -> Result<(), TestCaseError>
where
    T: rasn::Encode + rasn::Decode + PartialEq + std::fmt::Debug,
{
    let der = encode(v);
    let back: T = decode(&der).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, v);
    // DER is canonical: re-encoding gives the same bytes.
    prop_assert_eq!(encode(&back), der);
    Ok(())
}

proptest! {
    #[test]
    fn prop_enable_round_trip(id in arb_profile_identifier(), refresh in any::<bool>()) {
        let req = EnableProfileRequest { profile_identifier: id, refresh_flag: Some(refresh) };
        round_trip(&req)?;
        prop_assert_eq!(
            decode_request(&encode(&req)).map_err(|e| TestCaseError::fail(e.to_string()))?,
            Es10Request::Enable(req)
        );
    }

    #[test]
    fn prop_profile_info_round_trip(list in proptest::collection::vec(arb_profile_info(), 0..4)) {
        round_trip(&ProfileInfoListResponse::ProfileInfoListOk(list))?;
    }

    #[test]
    fn prop_notifications_round_trip(list in proptest::collection::vec(arb_pending(), 0..4),
                                     meta in proptest::collection::vec(arb_metadata(), 0..4)) {
        round_trip(&RetrieveNotificationsListResponse::NotificationList(list))?;
        round_trip(&ListNotificationResponse::NotificationMetadataList(meta))?;
    }

    #[test]
    fn prop_info2_round_trip(
        ver in arb_octets(3), skis in proptest::collection::vec(arb_octets(20), 0..3),
        caps in arb_bits(), rsp in arb_bits(), cat in proptest::option::of(0i64..4),
        sas in arb_text(), label in proptest::option::of((arb_text(), arb_text())),
    ) {
        let info = EuiccInfo2 {
            profile_version: ver.clone(),
            svn: ver.clone(),
            euicc_firmware_ver: ver.clone(),
            ext_card_resource: ver.clone(),
            uicc_capability: caps,
            ts102241_version: Some(ver.clone()),
            globalplatform_version: None,
            rsp_capability: rsp,
            euicc_ci_pkid_list_for_verification: skis.clone(),
            euicc_ci_pkid_list_for_signing: skis,
            euicc_category: cat.map(EuiccCategory),
            forbidden_profile_policy_rules: None,
            pp_version: ver,
            sas_acreditation_number: sas,
            certification_data_object: label.map(|(platform_label, discovery_base_url)| {
                CertificationDataObject { platform_label, discovery_base_url }
            }),
        };
        round_trip(&info)?;
    }

    #[test]
    fn prop_decode_request_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_request(&bytes);
    }

    #[test]
    fn prop_decode_request_known_tag_random_body(
        tag in prop::sample::select(vec![
            0xBF20u32, 0xBF22, 0xBF28, 0xBF29, 0xBF2B, 0xBF2D, 0xBF2E, 0xBF30, 0xBF31, 0xBF32,
            0xBF33, 0xBF34, 0xBF3C, 0xBF3E, 0xBF3F, 0xBF43,
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        let _ = decode_request(&crate::tlv::tlv(tag, &body));
    }

    /// Well-formed TLV trees built from the tags these messages use, under every known outer tag:
    /// reaches deeper into the decoders than random bytes do.
    #[test]
    fn prop_decode_request_tlv_trees(
        tag in prop::sample::select(vec![
            0xBF20u32, 0xBF28, 0xBF29, 0xBF2B, 0xBF2D, 0xBF30, 0xBF31, 0xBF32, 0xBF33, 0xBF34,
            0xBF3E, 0xBF3F,
        ]),
        body in proptest::collection::vec(arb_tlv_tree(), 0..4),
    ) {
        let inner: Vec<u8> = body.concat();
        let _ = decode_request(&crate::tlv::tlv(tag, &inner));
    }

    /// Truncating or corrupting a valid request gives an error or another value, never a panic;
    /// every strict prefix of a request is an error.
    #[test]
    fn prop_decode_request_mutations(
        which in 0usize..6, cut in any::<prop::sample::Index>(),
        pos in any::<prop::sample::Index>(), byte in any::<u8>(),
    ) {
        let valid = [
            h(&format!("BF31 11 A0 0C 5A 0A {ICCID} 81 01 FF")),
            h("BF2D 15 A0 03 95 01 02 5C 0E 5A 4F 9F 70 90 91 92 93 94 95 B6 B7 B8 99"),
            h(&format!("BF29 12 5A 0A {ICCID} 90 04 57 6F 72 6B")),
            h("BF2B 06 A0 04 81 02 06 40"),
            h("BF34 04 82 02 05 E0"),
            h(&format!("BF33 12 4F 10 {AID}")),
        ];
        let v = &valid[which];
        prop_assert!(decode_request(v).is_ok());
        let n = cut.index(v.len());
        prop_assert!(decode_request(&v[..n]).is_err(), "prefix {} decoded", n);
        let mut m = v.clone();
        let i = pos.index(m.len());
        m[i] = byte;
        let _ = decode_request(&m);
    }
}
