//! ES10b download messages (AuthenticateServer, PrepareDownload, the BPP content,
//! ProfileInstallationResult, CancelSession), the ES9+ JSON bodies and the Activation Code.
//!
//! The hex vectors are written by hand from the SGP.22 v2 RSPDefinitions module (tags, AUTOMATIC
//! TAGS) and the design digest (PIR sample); lengths were counted by hand, so a wrong tag or a
//! wrong length both fail the byte comparison.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rasn::types::{ObjectIdentifier, OctetString};
use rsp::es10::*;
use rsp::es9::{self, ActivationCode, ActivationCodeError, Base64, HexBytes};

fn h(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).unwrap()
}

fn os(s: &str) -> OctetString {
    OctetString::from(h(s))
}

/// Encodes `value` and checks the bytes, then decodes the bytes, checks the value and that
/// re-encoding the decoded value gives the same bytes.
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
    assert_eq!(encode(&back), want, "re-encoding");
}

const TX: &str = "A1 B2 C3 D4";
const CHAL: &str = "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F";
const SCHAL: &str = "10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F";
/// "smdp.io"
const ADDR: &str = "73 6D 64 70 2E 69 6F";
const SKI: &str = "F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3";
const CERT1: &str = "30 03 02 01 01";
const CERT2: &str = "30 03 02 01 02";
const ICCID: &str = "98 44 10 32 54 76 98 10 32 F4";
const AID: &str = "A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 10 00";
const SIG64: &str = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\
                     202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F";

fn sig64() -> OctetString {
    OctetString::from((0u8..64).collect::<Vec<u8>>())
}

fn otpk() -> Vec<u8> {
    let mut v = vec![0x04];
    v.extend(std::iter::repeat_n(0xAA, 64));
    v
}

fn otpk_hex() -> String {
    hex::encode_upper(otpk())
}

fn dp_oid() -> ObjectIdentifier {
    ObjectIdentifier::new(vec![2, 999, 10]).unwrap()
}

// --- AuthenticateServer ------------------------------------------------------------------------

fn server_signed1_hex() -> String {
    format!("30 33 80 04 {TX} 81 10 {CHAL} 83 07 {ADDR} 84 10 {SCHAL}")
}

fn server_signed1() -> ServerSigned1 {
    ServerSigned1 {
        transaction_id: os(TX),
        euicc_challenge: os(CHAL),
        server_address: "smdp.io".into(),
        server_challenge: os(SCHAL),
    }
}

/// lpac's shape: `A0{80 matchingId, A1{80 tac, A1{80 gsm, 85 eutran}}}`.
const CTX: &str = "A0 18 80 02 41 42 A1 12 80 04 35 29 06 11 A1 0A 80 03 08 00 00 85 03 0F 00 00";

fn ctx_params() -> CtxParams1 {
    CtxParams1::CtxParamsForCommonAuthentication(CtxParamsForCommonAuthentication {
        matching_id: Some("AB".into()),
        device_info: DeviceInfo {
            tac: os("35 29 06 11"),
            device_capabilities: DeviceCapabilities {
                gsm_supported_release: Some(os("08 00 00")),
                eutran_supported_release: Some(os("0F 00 00")),
                ..Default::default()
            },
            imei: None,
        },
    })
}

fn auth_server_request_hex() -> String {
    format!(
        "BF38 81 AD {} 5F37 40 {SIG64} 04 14 {SKI} {CERT1} {CTX}",
        server_signed1_hex()
    )
}

fn auth_server_request() -> AuthenticateServerRequest {
    AuthenticateServerRequest {
        server_signed1: Verbatim::new(server_signed1()),
        server_signature1: sig64(),
        euicc_ci_pkid_to_be_used: os(SKI),
        server_certificate: RawCertificate::new(h(CERT1)).unwrap(),
        ctx_params1: RawCtxParams1::from_ctx_params(&ctx_params()),
    }
}

#[test]
fn ctx_params1_tags() {
    vector(&ctx_params(), CTX);
    let raw = RawCtxParams1::new(h(CTX)).unwrap();
    assert_eq!(raw.parse().unwrap(), ctx_params());
    assert_eq!(raw.parse().unwrap().matching_id(), Some("AB"));
    assert_eq!(
        raw.parse().unwrap().device_info().tac.as_ref(),
        h("35 29 06 11").as_slice()
    );
    // Without matchingId, with IMEI.
    let ctx = CtxParams1::CtxParamsForCommonAuthentication(CtxParamsForCommonAuthentication {
        matching_id: None,
        device_info: DeviceInfo {
            tac: os("35 29 06 11"),
            device_capabilities: DeviceCapabilities::default(),
            imei: Some(os("35 29 06 11 22 33 44 55")),
        },
    });
    vector(
        &ctx,
        "A0 14 A1 12 80 04 35 29 06 11 A1 00 82 08 35 29 06 11 22 33 44 55",
    );
    assert!(RawCtxParams1::new(h("A1 00")).is_err());
}

#[test]
fn device_capabilities_keep_later_members() {
    // v2.x members 80..88, then members of later versions (89 nrEpc, 8C lpaSvn, AD constructed)
    // kept in order and written back.
    let hex = "A0 20 A1 1E 80 04 35 29 06 11 A1 16 80 03 08 00 00 88 03 02 02 00 \
               89 03 0F 00 00 8C 03 02 02 00 AD 00";
    let ctx: CtxParams1 = decode(&h(hex)).unwrap();
    let caps = &ctx.device_info().device_capabilities;
    assert_eq!(caps.gsm_supported_release, Some(os("08 00 00")));
    assert_eq!(caps.rsp_rpm_supported_version, Some(os("02 02 00")));
    assert_eq!(
        caps.additional,
        vec![h("89 03 0F 00 00"), h("8C 03 02 02 00"), h("AD 00")]
    );
    assert_eq!(encode(&ctx), h(hex));
    // A repeated member or a malformed one is refused.
    assert!(decode::<CtxParams1>(&h("A0 0C A1 0A 80 00 A1 06 80 01 01 80 01 02")).is_err());
    assert!(decode::<CtxParams1>(&h("A0 09 A1 07 80 00 A1 03 80 05 01")).is_err());
}

#[test]
fn authenticate_server_request() {
    let req = auth_server_request();
    vector(&req, &auth_server_request_hex());
    assert_eq!(
        req.server_signed1.as_bytes(),
        h(&server_signed1_hex()).as_slice()
    );
    assert_eq!(req.ctx_params1.as_bytes(), h(CTX).as_slice());
    assert_eq!(req.server_signed1.transaction_id, os(TX));
    assert_eq!(
        decode_request(&h(&auth_server_request_hex())).unwrap(),
        Es10Request::AuthenticateServer(Box::new(req))
    );
}

#[test]
fn signed_parts_are_kept_as_received() {
    // serverSigned1 with a non-minimal length (81 33) and a ctxParams1 with an unknown v3
    // member: both are kept byte for byte, as the signature and euiccSigned1 need them.
    let odd_ss1 = format!("30 81 33 80 04 {TX} 81 10 {CHAL} 83 07 {ADDR} 84 10 {SCHAL}");
    let odd_ctx = "A0 1B 80 02 41 42 A1 12 80 04 35 29 06 11 A1 0A 80 03 08 00 00 85 03 0F 00 00 \
                   82 01 01";
    let hex = format!("BF38 81 B1 {odd_ss1} 5F37 40 {SIG64} 04 14 {SKI} {CERT1} {odd_ctx}");
    let Es10Request::AuthenticateServer(req) = decode_request(&h(&hex)).unwrap() else {
        panic!("wrong variant");
    };
    assert_eq!(req.server_signed1.as_bytes(), h(&odd_ss1).as_slice());
    assert_eq!(*req.server_signed1.value(), server_signed1());
    assert!(!req.server_signed1.is_canonical());
    assert!(Verbatim::new(server_signed1()).is_canonical());
    assert_eq!(req.ctx_params1.as_bytes(), h(odd_ctx).as_slice());
    assert!(
        req.ctx_params1.parse().is_err(),
        "v3 member not in the v2 type"
    );
    assert_eq!(encode(&*req), h(&hex));
}

fn euicc_info2() -> EuiccInfo2 {
    EuiccInfo2 {
        profile_version: os("02 03 00"),
        svn: os("02 02 00"),
        euicc_firmware_ver: os("01 00 00"),
        ext_card_resource: os("01 02 03"),
        uicc_capability: NamedBits::from_bits(&[
            uicc_capability::USIM_SUPPORT,
            uicc_capability::ISIM_SUPPORT,
        ]),
        ts102241_version: None,
        globalplatform_version: None,
        rsp_capability: NamedBits::from_bits(&[rsp_capability::ADDITIONAL_PROFILE]),
        euicc_ci_pkid_list_for_verification: vec![os(SKI)],
        euicc_ci_pkid_list_for_signing: vec![os(SKI)],
        euicc_category: None,
        forbidden_profile_policy_rules: None,
        pp_version: os("00 00 01"),
        sas_acreditation_number: "XX".into(),
        certification_data_object: None,
    }
}

const INFO2: &str = "BF22 55 81 03 02 03 00 82 03 02 02 00 83 03 01 00 00 84 03 01 02 03 \
                     85 02 05 60 88 02 07 80 A9 16 04 14 {SKI} AA 16 04 14 {SKI} \
                     04 03 00 00 01 0C 02 58 58";

fn info2_hex() -> String {
    INFO2.replace("{SKI}", SKI)
}

fn euicc_signed1_hex() -> String {
    format!(
        "30 81 93 80 04 {TX} 83 07 {ADDR} 84 10 {SCHAL} {} {CTX}",
        info2_hex()
    )
}

fn euicc_signed1() -> EuiccSigned1 {
    EuiccSigned1 {
        transaction_id: os(TX),
        server_address: "smdp.io".into(),
        server_challenge: os(SCHAL),
        euicc_info2: euicc_info2(),
        ctx_params1: RawCtxParams1::new(h(CTX)).unwrap(),
    }
}

#[test]
fn euicc_signed1_is_canonical_der() {
    vector(&euicc_info2(), &info2_hex());
    let signed = Verbatim::new(euicc_signed1());
    assert_eq!(signed.as_bytes(), h(&euicc_signed1_hex()).as_slice());
    assert!(signed.is_canonical());

    // Built from a request whose EUICCInfo2 bit strings arrive non-minimal elsewhere: the eUICC's
    // own EUICCInfo2 value re-encodes minimally (named bits without trailing zeros, minimal
    // lengths, BOOLEAN/INTEGER minimal), so the signed bytes equal the canonical vector.
    let mut info = euicc_info2();
    info.uicc_capability = NamedBits::from_bit_string({
        let mut b = rasn::types::BitString::new();
        b.resize(24, false);
        b.set(uicc_capability::USIM_SUPPORT, true);
        b.set(uicc_capability::ISIM_SUPPORT, true);
        b
    });
    let again = Verbatim::new(EuiccSigned1 {
        euicc_info2: info,
        ..euicc_signed1()
    });
    assert_eq!(again.as_bytes(), signed.as_bytes());

    // A received euiccSigned1 with a non-minimal BIT STRING is kept as received and is not
    // canonical; its value re-encodes to the canonical form.
    let odd = euicc_signed1_hex()
        .replace("30 81 93", "30 81 94")
        .replace("BF22 55", "BF22 56")
        .replace("85 02 05 60", "85 03 00 60 00");
    let v: Verbatim<EuiccSigned1> = Verbatim::from_der(h(&odd)).unwrap();
    assert_eq!(v.as_bytes(), h(&odd).as_slice());
    assert!(!v.is_canonical());
    assert_eq!(encode(v.value()), h(&euicc_signed1_hex()));
}

fn auth_response_ok_hex() -> String {
    format!(
        "BF38 81 E6 A0 81 E3 {} 5F37 40 {SIG64} {CERT1} {CERT2}",
        euicc_signed1_hex()
    )
}

#[test]
fn authenticate_server_response() {
    let ok = AuthenticateServerResponse::AuthenticateResponseOk(Box::new(AuthenticateResponseOk {
        euicc_signed1: Verbatim::new(euicc_signed1()),
        euicc_signature1: sig64(),
        euicc_certificate: RawCertificate::new(h(CERT1)).unwrap(),
        eum_certificate: RawCertificate::new(h(CERT2)).unwrap(),
    }));
    vector(&ok, &auth_response_ok_hex());
    vector(
        &AuthenticateServerResponse::AuthenticateResponseError(AuthenticateResponseError {
            transaction_id: os(TX),
            authenticate_error_code: authenticate_error_code::EUICC_CHALLENGE_MISMATCH,
        }),
        &format!("BF38 0B A1 09 80 04 {TX} 02 01 06"),
    );
    // ctxParams1 is copied verbatim from the request into euiccSigned1.
    let req = auth_server_request();
    let signed = Verbatim::new(EuiccSigned1 {
        ctx_params1: req.ctx_params1.clone(),
        ..euicc_signed1()
    });
    assert_eq!(signed.as_bytes(), h(&euicc_signed1_hex()).as_slice());
    let back: AuthenticateServerResponse = decode(&h(&auth_response_ok_hex())).unwrap();
    let AuthenticateServerResponse::AuthenticateResponseOk(ok) = back else {
        panic!("wrong variant");
    };
    assert_eq!(
        ok.euicc_signed1.as_bytes(),
        h(&euicc_signed1_hex()).as_slice()
    );
    assert_eq!(
        ok.euicc_signed1.ctx_params1.parse().unwrap().matching_id(),
        Some("AB")
    );
}

// --- PrepareDownload -----------------------------------------------------------------------------

const HASH_CC: &str = "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF";

fn prepare_download_request_hex() -> String {
    format!("BF21 75 30 09 80 04 {TX} 01 01 00 5F37 40 {SIG64} 04 20 {HASH_CC} {CERT1}")
}

#[test]
fn prepare_download_request() {
    let req = PrepareDownloadRequest {
        smdp_signed2: Verbatim::new(SmdpSigned2 {
            transaction_id: os(TX),
            cc_required_flag: false,
            bpp_euicc_otpk: None,
        }),
        smdp_signature2: sig64(),
        hash_cc: Some(os(HASH_CC)),
        smdp_certificate: RawCertificate::new(h(CERT1)).unwrap(),
    };
    vector(&req, &prepare_download_request_hex());
    // smdpSignature2 covers smdpSigned2 ‖ 5F37 40 euiccSignature1.
    let euicc_sig1: Vec<u8> = (0x40..0x80).collect();
    assert_eq!(
        req.signed_data(&euicc_sig1),
        h(&format!(
            "30 09 80 04 {TX} 01 01 00 5F37 40 {}",
            hex::encode_upper(&euicc_sig1)
        ))
    );
    assert_eq!(
        decode_request(&h(&prepare_download_request_hex())).unwrap(),
        Es10Request::PrepareDownload(Box::new(req))
    );

    // ccRequired TRUE with bppEuiccOtpk, no hashCc.
    let retry = PrepareDownloadRequest {
        smdp_signed2: Verbatim::new(SmdpSigned2 {
            transaction_id: os(TX),
            cc_required_flag: true,
            bpp_euicc_otpk: Some(OctetString::from(otpk())),
        }),
        smdp_signature2: sig64(),
        hash_cc: None,
        smdp_certificate: RawCertificate::new(h(CERT1)).unwrap(),
    };
    vector(
        &retry,
        &format!(
            "BF21 81 97 30 4D 80 04 {TX} 01 01 FF 5F49 41 {} 5F37 40 {SIG64} {CERT1}",
            otpk_hex()
        ),
    );

    // A BOOLEAN TRUE encoded as 01 (BER) is accepted and kept as received for verification.
    let lax = prepare_download_request_hex().replace("01 01 00", "01 01 01");
    let Es10Request::PrepareDownload(req) = decode_request(&h(&lax)).unwrap() else {
        panic!("wrong variant");
    };
    assert!(req.smdp_signed2.cc_required_flag);
    assert_eq!(
        req.smdp_signed2.as_bytes(),
        h(&format!("30 09 80 04 {TX} 01 01 01")).as_slice()
    );
    assert_eq!(encode(&*req), h(&lax));
}

#[test]
fn prepare_download_response() {
    let ok = PrepareDownloadResponseOk {
        euicc_signed2: Verbatim::new(EuiccSigned2 {
            transaction_id: os(TX),
            euicc_otpk: OctetString::from(otpk()),
            hash_cc: None,
        }),
        euicc_signature2: sig64(),
    };
    vector(
        &PrepareDownloadResponse::DownloadResponseOk(ok.clone()),
        &format!(
            "BF21 81 92 A0 81 8F 30 4A 80 04 {TX} 5F49 41 {} 5F37 40 {SIG64}",
            otpk_hex()
        ),
    );
    // euiccSignature2 covers euiccSigned2 ‖ 5F37 40 smdpSignature2.
    let smdp_sig2: Vec<u8> = (0x80..0xC0).collect();
    assert_eq!(
        ok.signed_data(&smdp_sig2),
        h(&format!(
            "30 4A 80 04 {TX} 5F49 41 {} 5F37 40 {}",
            otpk_hex(),
            hex::encode_upper(&smdp_sig2)
        ))
    );
    // With hashCc.
    vector(
        &Verbatim::new(EuiccSigned2 {
            transaction_id: os(TX),
            euicc_otpk: OctetString::from(otpk()),
            hash_cc: Some(os(HASH_CC)),
        }),
        &format!("30 6C 80 04 {TX} 5F49 41 {} 04 20 {HASH_CC}", otpk_hex()),
    );
    vector(
        &PrepareDownloadResponse::DownloadResponseError(PrepareDownloadResponseError {
            transaction_id: os(TX),
            download_error_code: download_error_code::INVALID_TRANSACTION_ID,
        }),
        &format!("BF21 0B A1 09 80 04 {TX} 02 01 05"),
    );
}

// --- BPP content ---------------------------------------------------------------------------------

fn isc_hex() -> String {
    format!(
        "BF23 81 9B 82 01 01 80 04 {TX} A6 09 80 01 88 81 01 10 84 01 01 5F49 41 {} 5F37 40 {SIG64}",
        otpk_hex()
    )
}

fn isc() -> InitialiseSecureChannelRequest {
    InitialiseSecureChannelRequest {
        remote_op_id: remote_op_id::INSTALL_BOUND_PROFILE_PACKAGE,
        transaction_id: os(TX),
        control_ref_template: ControlRefTemplate {
            key_type: OctetString::from(vec![control_ref_template::KEY_TYPE_AES]),
            key_len: OctetString::from(vec![control_ref_template::KEY_LEN_16]),
            host_id: os("01"),
        },
        smdp_otpk: OctetString::from(otpk()),
        smdp_sign: sig64(),
    }
}

#[test]
fn initialise_secure_channel() {
    vector(&isc(), &isc_hex());
    // smdpSign covers 82 01 01 ‖ 80 txId ‖ A6{…} ‖ 5F49 otPK.DP ‖ 5F49 otPK.EUICC.
    let euicc_otpk: Vec<u8> = std::iter::once(0x04).chain(0x01..=0x40).collect();
    let want = h(&format!(
        "82 01 01 80 04 {TX} A6 09 80 01 88 81 01 10 84 01 01 5F49 41 {} 5F49 41 {}",
        otpk_hex(),
        hex::encode_upper(&euicc_otpk)
    ));
    assert_eq!(isc().signed_data(&euicc_otpk).unwrap(), want);
    assert_eq!(
        signed_data::initialise_secure_channel(&h(&isc_hex()), &euicc_otpk).unwrap(),
        want
    );
    // Without smdpSign, or not BF23: refused.
    let unsigned = format!(
        "BF23 58 82 01 01 80 04 {TX} A6 09 80 01 88 81 01 10 84 01 01 5F49 41 {}",
        otpk_hex()
    );
    assert!(signed_data::initialise_secure_channel(&h(&unsigned), &euicc_otpk).is_err());
    assert!(signed_data::initialise_secure_channel(&h("BF24 00"), &euicc_otpk).is_err());
}

#[test]
fn configure_isdp() {
    vector(&ConfigureIsdpRequest::default(), "BF24 00");
    let with_oid = ConfigureIsdpRequest {
        dp_proprietary_data: Some(RawDpProprietaryData::from_dp_proprietary_data(
            &DpProprietaryData { dp_oid: dp_oid() },
        )),
    };
    vector(&with_oid, "BF24 07 B8 05 80 03 88 37 0A");
    let data = with_oid.dp_proprietary_data.as_ref().unwrap();
    assert_eq!(data.dp_oid(), Some(dp_oid()));
    assert_eq!(data.parse().unwrap().dp_oid, dp_oid());
    // SM-DP+ specific data after the OID is tolerated (kept, OID still readable); an empty B8
    // decodes too.
    let extra: ConfigureIsdpRequest = decode(&h("BF24 0A B8 08 80 03 88 37 0A 81 01 FF")).unwrap();
    let raw = extra.dp_proprietary_data.as_ref().unwrap();
    assert_eq!(raw.dp_oid(), Some(dp_oid()));
    assert!(raw.parse().is_err());
    assert_eq!(encode(&extra), h("BF24 0A B8 08 80 03 88 37 0A 81 01 FF"));
    let empty: ConfigureIsdpRequest = decode(&h("BF24 02 B8 00")).unwrap();
    assert_eq!(empty.dp_proprietary_data.unwrap().dp_oid(), None);
}

fn store_metadata() -> StoreMetadataRequest {
    StoreMetadataRequest {
        iccid: os(ICCID),
        service_provider_name: "Op1".into(),
        profile_name: "Test".into(),
        icon_type: None,
        icon: None,
        profile_class: Some(ProfileClass::PROVISIONING),
        notification_configuration_info: Some(vec![NotificationConfigurationInformation {
            profile_management_operation: notification_event::single(notification_event::INSTALL),
            notification_address: "smdp.io".into(),
        }]),
        profile_owner: Some(OperatorId {
            mcc_mnc: os("02 F8 10"),
            gid1: None,
            gid2: None,
        }),
        profile_policy_rules: Some(NamedBits::from_bits(&[ppr_ids::PPR1, ppr_ids::PPR2])),
    }
}

#[test]
fn store_metadata_request() {
    vector(
        &store_metadata(),
        &format!(
            "BF25 36 5A 0A {ICCID} 91 03 4F 70 31 92 04 54 65 73 74 95 01 01 \
             B6 0F 30 0D 80 02 07 80 81 07 {ADDR} B7 05 80 03 02 F8 10 99 02 05 60"
        ),
    );
    // Minimal, with an icon: class absent means operational.
    let minimal = StoreMetadataRequest {
        iccid: os(ICCID),
        service_provider_name: String::new(),
        profile_name: String::new(),
        icon_type: Some(IconType::PNG),
        icon: Some(os("89 50 4E 47")),
        profile_class: None,
        notification_configuration_info: None,
        profile_owner: None,
        profile_policy_rules: None,
    };
    vector(
        &minimal,
        &format!("BF25 19 5A 0A {ICCID} 91 00 92 00 93 01 01 94 04 89 50 4E 47"),
    );
    assert_eq!(minimal.profile_class(), ProfileClass::OPERATIONAL);
    assert_eq!(store_metadata().profile_class(), ProfileClass::PROVISIONING);
}

#[test]
fn replace_session_keys() {
    let k = |b: u8| OctetString::from(vec![b; 16]);
    vector(
        &ReplaceSessionKeysRequest {
            initial_mac_chaining_value: k(0x11),
            ppk_enc: k(0x22),
            ppk_cmac: k(0x33),
        },
        &format!(
            "BF26 36 80 10 {} 81 10 {} 82 10 {}",
            "11".repeat(16),
            "22".repeat(16),
            "33".repeat(16)
        ),
    );
}

fn bpp_hex() -> String {
    format!(
        "BF36 81 C5 {} A0 0A 87 08 0102030405060708 A1 0A 88 03 AABBCC 88 03 DDEEFF \
         A3 0C 86 04 01020304 86 04 05060708",
        isc_hex()
    )
}

#[test]
fn bound_profile_package_and_segments() {
    let bpp = BoundProfilePackage {
        initialise_secure_channel_request: isc(),
        first_sequence_of87: vec![Bpp87(os("0102030405060708"))],
        sequence_of88: vec![Bpp88(os("AABBCC")), Bpp88(os("DDEEFF"))],
        second_sequence_of87: None,
        sequence_of86: vec![Bpp86(os("01020304")), Bpp86(os("05060708"))],
    };
    vector(&bpp, &bpp_hex());

    let segments = split_bound_profile_package(&h(&bpp_hex())).unwrap();
    let want: Vec<Vec<u8>> = [
        format!("BF36 81 C5 {}", isc_hex()),
        "A0 0A 87 08 0102030405060708".into(),
        "A1 0A".into(),
        "88 03 AABBCC".into(),
        "88 03 DDEEFF".into(),
        "A3 0C".into(),
        "86 04 01020304".into(),
        "86 04 05060708".into(),
    ]
    .iter()
    .map(|s| h(s))
    .collect();
    assert_eq!(segments, want);
    for s in &segments {
        assert!(is_bpp_segment_tag(bpp_segment_tag(s).unwrap()));
        check_bpp_segment(s).unwrap();
    }
    // The first segment is what decode_request routes, though its length exceeds its bytes.
    assert_eq!(
        decode_request(&segments[0]).unwrap(),
        Es10Request::LoadBoundProfilePackage(segments[0].clone())
    );
    assert_eq!(segments[0].len(), 4 + 4 + 155);
    // The whole package in one command is routed the same way.
    assert_eq!(
        decode_request(&h(&bpp_hex())).unwrap(),
        Es10Request::LoadBoundProfilePackage(h(&bpp_hex()))
    );

    // With the optional A2 section.
    let with_a2 = format!(
        "BF36 81 BF {} A0 0A 87 08 0102030405060708 A1 05 88 03 AABBCC A2 03 87 01 77 \
         A3 06 86 04 01020304",
        isc_hex()
    );
    let decoded: BoundProfilePackage = decode(&h(&with_a2)).unwrap();
    assert_eq!(decoded.second_sequence_of87, Some(vec![Bpp87(os("77"))]));
    let segments = split_bound_profile_package(&h(&with_a2)).unwrap();
    assert_eq!(segments.len(), 7);
    assert_eq!(segments[4], h("A2 03 87 01 77"));

    // Sections missing or out of order.
    for bad in [
        format!("BF36 81 A5 {} A3 04 86 02 0102", isc_hex()),
        format!("BF36 81 A9 {} A1 02 88 00 A0 02 87 00 A3 00", isc_hex()),
        "BF36 08 A0 02 87 00 A1 02 88 00".to_string(),
    ] {
        assert!(split_bound_profile_package(&h(&bad)).is_err(), "{bad}");
    }
}

#[test]
fn bpp_segment_tags() {
    for t in [0xBF36, 0xA0, 0xA1, 0xA2, 0xA3, 0x86, 0x87, 0x88] {
        assert!(is_bpp_segment_tag(t), "{t:X}");
    }
    for t in [0xBF38, 0xA4, 0x85, 0x89, 0x30, 0xBF23] {
        assert!(!is_bpp_segment_tag(t), "{t:X}");
    }
    assert_eq!(bpp_segment_tag(&h("A1 82 01 00")), Some(0xA1));
    assert_eq!(bpp_segment_tag(&h("BF38 00")), None);
    assert_eq!(bpp_segment_tag(&[]), None);
    // Header-only segments and single TLVs are well-formed segments; garbage is not.
    check_bpp_segment(&h("A3 82 10 00")).unwrap();
    check_bpp_segment(&h("86 03 01 02 03")).unwrap();
    assert!(check_bpp_segment(&h("86 03 01 02")).is_err());
    assert!(check_bpp_segment(&h("A0 02 87 05 01")).is_err());
    assert!(check_bpp_segment(&h("A0 02 87 00 00")).is_err());
    assert!(check_bpp_segment(&h("BF36 05 BF23 05 80")).is_err());
    assert!(check_bpp_segment(&h("BF36")).is_err());
    assert!(decode_request(&h("BF36")).is_err());
    assert!(decode_request(&h("BF36 81")).is_err());
}

// --- ProfileInstallationResult -------------------------------------------------------------------

const NM_INSTALL: &str =
    "BF2F 16 80 01 01 81 02 07 80 0C 01 78 5A 0A 98 44 10 32 54 76 98 10 32 F4";

/// The sample of the digest: `BF27 42 {80 01 01, BF2F 16 {…}, 06 03 88370A, A2 1F {A0 1D {4F 10
/// <AID>, 04 09 3007A0053003800100}}}`, signed.
fn pir_data_hex() -> String {
    format!(
        "BF27 42 80 01 01 {NM_INSTALL} 06 03 88 37 0A \
         A2 1F A0 1D 4F 10 {AID} 04 09 30 07 A0 05 30 03 80 01 00"
    )
}

fn pir_hex() -> String {
    format!("BF37 81 88 {} 5F37 40 {SIG64}", pir_data_hex())
}

fn pir_data() -> ProfileInstallationResultData {
    ProfileInstallationResultData {
        transaction_id: os("01"),
        notification_metadata: NotificationMetadata {
            seq_number: 1,
            profile_management_operation: notification_event::single(notification_event::INSTALL),
            notification_address: "x".into(),
            iccid: Some(os(ICCID)),
        },
        smdp_oid: Some(dp_oid()),
        final_result: FinalResult::SuccessResult(SuccessResult {
            aid: os(AID),
            sima_response: os("30 07 A0 05 30 03 80 01 00"),
        }),
    }
}

#[test]
fn profile_installation_result_sample() {
    vector(&pir_data(), &pir_data_hex());
    let pir = ProfileInstallationResult {
        profile_installation_result_data: Verbatim::new(pir_data()),
        euicc_sign_pir: sig64(),
    };
    vector(&pir, &pir_hex());
    // The signature covers the whole BF27 TLV.
    assert_eq!(
        pir.profile_installation_result_data.as_bytes(),
        h(&pir_data_hex()).as_slice()
    );
    // Opaque form for the notification list, and back.
    let raw = pir.to_raw().unwrap();
    assert_eq!(raw.as_bytes(), h(&pir_hex()).as_slice());
    assert_eq!(ProfileInstallationResult::from_raw(&raw).unwrap(), pir);
    let pending: PendingNotification = decode(&h(&pir_hex())).unwrap();
    assert_eq!(pending, PendingNotification::ProfileInstallationResult(raw));
}

#[test]
fn profile_installation_result_error() {
    let data = ProfileInstallationResultData {
        final_result: FinalResult::ErrorResult(ErrorResult {
            bpp_command_id: bpp_command_id::LOAD_PROFILE_ELEMENTS,
            error_reason: error_reason::PE_PROCESSING_ERROR,
            sima_response: None,
        }),
        ..pir_data()
    };
    vector(
        &data,
        &format!("BF27 2B 80 01 01 {NM_INSTALL} 06 03 88 37 0A A2 08 A1 06 80 01 05 81 01 0C"),
    );
    // Without smdpOid, with simaResponse.
    let data = ProfileInstallationResultData {
        smdp_oid: None,
        final_result: FinalResult::ErrorResult(ErrorResult {
            bpp_command_id: bpp_command_id::INITIALISE_SECURE_CHANNEL,
            error_reason: error_reason::INVALID_SIGNATURE,
            sima_response: Some(os("30 00")),
        }),
        ..pir_data()
    };
    vector(
        &data,
        &format!("BF27 2A 80 01 01 {NM_INSTALL} A2 0C A1 0A 80 01 00 81 01 02 82 02 30 00"),
    );
}

#[test]
fn error_constants() {
    assert_eq!(authenticate_error_code::CI_PK_UNKNOWN, 7);
    assert_eq!(authenticate_error_code::UNDEFINED_ERROR, 127);
    assert_eq!(download_error_code::INVALID_TRANSACTION_ID, 5);
    assert_eq!(bpp_command_id::REPLACE_SESSION_KEYS, 4);
    assert_eq!(error_reason::ICCID_ALREADY_EXISTS, 9);
    assert_eq!(error_reason::PPR_NOT_ALLOWED, 15);
    assert_eq!(error_reason::UNKNOWN_ERROR, 127);
    assert_eq!(cancel_session_reason::PPR_NOT_ALLOWED, 3);
    assert_eq!(cancel_session_error::INVALID_TRANSACTION_ID, 5);
}

// --- CancelSession -------------------------------------------------------------------------------

#[test]
fn cancel_session() {
    let req = CancelSessionRequest {
        transaction_id: os(TX),
        reason: cancel_session_reason::POSTPONED,
    };
    vector(&req, &format!("BF41 09 80 04 {TX} 81 01 01"));
    assert_eq!(
        decode_request(&h(&format!("BF41 09 80 04 {TX} 81 01 01"))).unwrap(),
        Es10Request::CancelSession(req)
    );
    let signed = Verbatim::new(EuiccCancelSessionSigned {
        transaction_id: os(TX),
        smdp_oid: dp_oid(),
        reason: cancel_session_reason::END_USER_REJECTION,
    });
    assert_eq!(
        signed.as_bytes(),
        h(&format!("30 0E 80 04 {TX} 81 03 88 37 0A 82 01 00")).as_slice()
    );
    vector(
        &CancelSessionResponse::CancelSessionResponseOk(CancelSessionResponseOk {
            euicc_cancel_session_signed: signed,
            euicc_cancel_session_signature: sig64(),
        }),
        &format!("BF41 55 A0 53 30 0E 80 04 {TX} 81 03 88 37 0A 82 01 00 5F37 40 {SIG64}"),
    );
    vector(
        &CancelSessionResponse::CancelSessionResponseError(
            cancel_session_error::INVALID_TRANSACTION_ID,
        ),
        "BF41 03 81 01 05",
    );
}

// --- decode_request --------------------------------------------------------------------------------

#[test]
fn decode_request_download_errors() {
    let bad = [
        "BF38 00".to_string(),
        "BF21 00".into(),
        "BF41 00".into(),
        "BF41 03 80 01 01".into(),                    // reason missing
        format!("BF41 09 81 04 {TX} 80 01 01"),       // members swapped
        format!("BF38 0B A1 09 80 04 {TX} 02 01 06"), // a response sent as a request
        auth_server_request_hex().replace("A0 18", "A1 18"), // wrong ctxParams1 tag
        prepare_download_request_hex().replace("BF21 75", "BF21 76") + "00", // junk inside
        format!("{} 90 00", prepare_download_request_hex()), // trailing status word
    ];
    for hex in bad {
        assert!(decode_request(&h(&hex)).is_err(), "{hex} should fail");
    }
    // Every strict prefix of a valid download request is an error.
    for valid in [
        auth_server_request_hex(),
        prepare_download_request_hex(),
        format!("BF41 09 80 04 {TX} 81 01 01"),
    ] {
        let v = h(&valid);
        assert!(decode_request(&v).is_ok());
        for n in 0..v.len() {
            assert!(decode_request(&v[..n]).is_err(), "prefix {n} of {valid}");
        }
    }
}

// --- Property tests --------------------------------------------------------------------------------

fn arb_octets(max: usize) -> impl Strategy<Value = OctetString> {
    proptest::collection::vec(any::<u8>(), 0..=max).prop_map(OctetString::from)
}

fn arb_text() -> impl Strategy<Value = String> {
    "[ -~é€]{0,40}"
}

fn arb_version() -> impl Strategy<Value = Option<OctetString>> {
    proptest::option::of(arb_octets(3))
}

fn arb_ctx() -> impl Strategy<Value = CtxParams1> {
    (
        proptest::option::of(arb_text()),
        arb_octets(8),
        proptest::option::of(arb_octets(8)),
        proptest::collection::vec(arb_version(), 9),
    )
        .prop_map(|(matching_id, tac, imei, v)| {
            CtxParams1::CtxParamsForCommonAuthentication(CtxParamsForCommonAuthentication {
                matching_id,
                device_info: DeviceInfo {
                    tac,
                    device_capabilities: DeviceCapabilities {
                        gsm_supported_release: v[0].clone(),
                        utran_supported_release: v[1].clone(),
                        cdma2000onex_supported_release: v[2].clone(),
                        cdma2000hrpd_supported_release: v[3].clone(),
                        cdma2000ehrpd_supported_release: v[4].clone(),
                        eutran_supported_release: v[5].clone(),
                        contactless_supported_release: v[6].clone(),
                        rsp_crl_supported_version: v[7].clone(),
                        rsp_rpm_supported_version: v[8].clone(),
                        additional: Vec::new(),
                    },
                    imei,
                },
            })
        })
}

fn arb_cert() -> impl Strategy<Value = RawCertificate> {
    arb_octets(100).prop_map(|inner| RawCertificate::new(rsp::tlv::tlv(0x30, &inner)).unwrap())
}

#[track_caller]
fn round_trip<T>(v: &T) -> Result<Vec<u8>, TestCaseError>
where
    T: rasn::Encode + rasn::Decode + PartialEq + std::fmt::Debug,
{
    let der = encode(v);
    let back: T = decode(&der).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, v);
    prop_assert_eq!(encode(&back), der.clone());
    Ok(der)
}

proptest! {
    #[test]
    fn prop_authenticate_server_request(
        tx in arb_octets(16), chal in arb_octets(16), addr in arb_text(), schal in arb_octets(16),
        sig in arb_octets(64), ski in arb_octets(20), cert in arb_cert(), ctx in arb_ctx(),
    ) {
        let req = AuthenticateServerRequest {
            server_signed1: Verbatim::new(ServerSigned1 {
                transaction_id: tx,
                euicc_challenge: chal,
                server_address: addr,
                server_challenge: schal,
            }),
            server_signature1: sig,
            euicc_ci_pkid_to_be_used: ski,
            server_certificate: cert,
            ctx_params1: RawCtxParams1::from_ctx_params(&ctx),
        };
        let der = round_trip(&req)?;
        prop_assert_eq!(req.ctx_params1.parse().map_err(|e| TestCaseError::fail(e.to_string()))?, ctx);
        prop_assert_eq!(
            decode_request(&der).map_err(|e| TestCaseError::fail(e.to_string()))?,
            Es10Request::AuthenticateServer(Box::new(req))
        );
    }

    #[test]
    fn prop_prepare_download(
        tx in arb_octets(16), cc in any::<bool>(), otpk in proptest::option::of(arb_octets(65)),
        sig in arb_octets(64), hash in proptest::option::of(arb_octets(32)), cert in arb_cert(),
        error in proptest::option::of(0i64..200),
    ) {
        let req = PrepareDownloadRequest {
            smdp_signed2: Verbatim::new(SmdpSigned2 {
                transaction_id: tx.clone(),
                cc_required_flag: cc,
                bpp_euicc_otpk: otpk.clone(),
            }),
            smdp_signature2: sig.clone(),
            hash_cc: hash.clone(),
            smdp_certificate: cert,
        };
        round_trip(&req)?;
        let resp = match error {
            Some(code) => PrepareDownloadResponse::DownloadResponseError(PrepareDownloadResponseError {
                transaction_id: tx,
                download_error_code: code,
            }),
            None => PrepareDownloadResponse::DownloadResponseOk(PrepareDownloadResponseOk {
                euicc_signed2: Verbatim::new(EuiccSigned2 {
                    transaction_id: tx,
                    euicc_otpk: otpk.unwrap_or_default(),
                    hash_cc: hash,
                }),
                euicc_signature2: sig,
            }),
        };
        round_trip(&resp)?;
    }

    #[test]
    fn prop_pir_and_cancel(
        tx in arb_octets(16), seq in any::<i64>(), addr in arb_text(),
        iccid in proptest::option::of(arb_octets(10)),
        tail in proptest::collection::vec(0u32..100_000, 0..4),
        ok in any::<bool>(), aid in arb_octets(16), sima in proptest::option::of(arb_octets(40)),
        cmd in 0i64..6, reason in 0i64..128, sig in arb_octets(64),
    ) {
        let mut arcs = vec![2, 999];
        arcs.extend(tail);
        let oid = ObjectIdentifier::new(arcs).unwrap();
        let data = ProfileInstallationResultData {
            transaction_id: tx.clone(),
            notification_metadata: NotificationMetadata {
                seq_number: seq,
                profile_management_operation: notification_event::single(notification_event::INSTALL),
                notification_address: addr,
                iccid,
            },
            smdp_oid: ok.then(|| oid.clone()),
            final_result: if ok {
                FinalResult::SuccessResult(SuccessResult { aid, sima_response: sima.unwrap_or_default() })
            } else {
                FinalResult::ErrorResult(ErrorResult { bpp_command_id: cmd, error_reason: reason, sima_response: sima })
            },
        };
        let pir = ProfileInstallationResult {
            profile_installation_result_data: Verbatim::new(data),
            euicc_sign_pir: sig.clone(),
        };
        round_trip(&pir)?;
        round_trip(&CancelSessionResponse::CancelSessionResponseOk(CancelSessionResponseOk {
            euicc_cancel_session_signed: Verbatim::new(EuiccCancelSessionSigned {
                transaction_id: tx.clone(),
                smdp_oid: oid,
                reason: reason % 4,
            }),
            euicc_cancel_session_signature: sig,
        }))?;
        round_trip(&CancelSessionRequest { transaction_id: tx, reason })?;
    }

    #[test]
    fn prop_decode_request_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode_request(&bytes);
        let _ = check_bpp_segment(&bytes);
        let _ = split_bound_profile_package(&bytes);
    }

    #[test]
    fn prop_download_tags_random_body(
        tag in prop::sample::select(vec![0xBF38u32, 0xBF21, 0xBF41, 0xBF36]),
        body in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let _ = decode_request(&rsp::tlv::tlv(tag, &body));
        let mut header_only = Vec::new();
        rsp::tlv::Tag(tag).write(&mut header_only);
        header_only.extend_from_slice(&body);
        let _ = decode_request(&header_only);
    }

    /// Corrupting one byte of a valid download request gives an error or a value, never a
    /// panic.
    #[test]
    fn prop_download_mutations(
        which in 0usize..4, pos in any::<prop::sample::Index>(), byte in any::<u8>(),
    ) {
        let valid = [
            h(&auth_server_request_hex()),
            h(&prepare_download_request_hex()),
            h(&format!("BF41 09 80 04 {TX} 81 01 01")),
            h(&bpp_hex()),
        ];
        let mut m = valid[which].clone();
        let i = pos.index(m.len());
        m[i] = byte;
        let _ = decode_request(&m);
        let _ = split_bound_profile_package(&m);
        let _ = decode::<AuthenticateServerResponse>(&m);
        let _ = decode::<ProfileInstallationResult>(&m);
    }
}

// --- ES9+ JSON ------------------------------------------------------------------------------------

/// Parses `json` into `T`, serializes it back, and checks that the JSON values are equal (same
/// member names, same values).
#[track_caller]
fn json_round_trip<T>(json: &str) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let v: T = serde_json::from_str(json).unwrap();
    let back = serde_json::to_value(&v).unwrap();
    let want: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(back, want);
    v
}

#[test]
fn json_initiate_authentication() {
    let req: es9::InitiateAuthenticationRequest = json_round_trip(
        r#"{"euiccChallenge":"AAECAwQFBgcICQoLDA0ODw==","euiccInfo1":"vyAA","smdpAddress":"smdp.io"}"#,
    );
    assert_eq!(req.euicc_challenge.as_bytes(), h(CHAL).as_slice());
    assert_eq!(req.euicc_info1.as_bytes(), h("BF20 00").as_slice());
    assert_eq!(req.smdp_address, "smdp.io");

    let ss1 = es9::b64_encode(&h(&server_signed1_hex()));
    let sig = es9::b64_encode(&h(&format!("5F37 40 {SIG64}")));
    let ski = es9::b64_encode(&h(&format!("04 14 {SKI}")));
    let cert = es9::b64_encode(&h(CERT1));
    let json = format!(
        r#"{{"header":{{"functionExecutionStatus":{{"status":"Executed-Success"}}}},
            "transactionId":"A1B2C3D4","serverSigned1":"{ss1}","serverSignature1":"{sig}",
            "euiccCiPKIdToBeUsed":"{ski}","serverCertificate":"{cert}"}}"#
    );
    let resp: es9::InitiateAuthenticationResponse = json_round_trip(&json);
    assert!(resp.header.is_success());
    assert_eq!(resp.transaction_id, Some(HexBytes(h(TX))));
    // The LPA builds the ES10b request from the response and its ctxParams1.
    assert_eq!(
        resp.authenticate_server_request(&h(CTX)).unwrap(),
        h(&auth_server_request_hex())
    );
    assert!(resp.authenticate_server_request(&h("A0 05 80")).is_err());

    let failed: es9::InitiateAuthenticationResponse = json_round_trip(
        r#"{"header":{"functionExecutionStatus":{"status":"Failed",
            "statusCodeData":{"subjectCode":"8.8.1","reasonCode":"3.8",
            "message":"Invalid SM-DP+ Address"}}}}"#,
    );
    assert_eq!(
        failed,
        es9::InitiateAuthenticationResponse::failed(es9::status_codes::INVALID_SMDP_ADDRESS)
    );
    assert!(!failed.header.is_success());
    assert_eq!(
        failed.authenticate_server_request(&h(CTX)),
        Err(es9::Es9Error::Missing("serverSigned1"))
    );
}

#[test]
fn json_authenticate_client() {
    let asr = es9::b64_encode(&h(&auth_response_ok_hex()));
    let req: es9::AuthenticateClientRequest = json_round_trip(&format!(
        r#"{{"transactionId":"A1B2C3D4","authenticateServerResponse":"{asr}"}}"#
    ));
    let decoded: AuthenticateServerResponse =
        decode(req.authenticate_server_response.as_bytes()).unwrap();
    assert!(matches!(
        decoded,
        AuthenticateServerResponse::AuthenticateResponseOk(_)
    ));

    let meta = es9::b64_encode(&encode(&store_metadata()));
    let ss2 = es9::b64_encode(&h(&format!("30 09 80 04 {TX} 01 01 00")));
    let sig = es9::b64_encode(&h(&format!("5F37 40 {SIG64}")));
    let cert = es9::b64_encode(&h(CERT1));
    let resp: es9::AuthenticateClientResponse = json_round_trip(&format!(
        r#"{{"header":{{"functionExecutionStatus":{{"status":"Executed-Success"}}}},
            "transactionId":"A1B2C3D4","profileMetadata":"{meta}","smdpSigned2":"{ss2}",
            "smdpSignature2":"{sig}","smdpCertificate":"{cert}"}}"#
    ));
    let metadata: StoreMetadataRequest =
        decode(resp.profile_metadata.as_ref().unwrap().as_bytes()).unwrap();
    assert_eq!(metadata, store_metadata());
    assert_eq!(
        resp.prepare_download_request(Some(&h(HASH_CC))).unwrap(),
        h(&prepare_download_request_hex())
    );

    let failed: es9::AuthenticateClientResponse = json_round_trip(
        r#"{"header":{"functionExecutionStatus":{"status":"Failed","statusCodeData":
            {"subjectCode":"8.2.6","reasonCode":"3.8","subjectIdentifier":"matchingId",
             "message":"MatchingID (AC_Token or EventID) is refused"}}}}"#,
    );
    let data = failed
        .header
        .function_execution_status
        .status_code_data
        .as_ref()
        .unwrap();
    assert!(data.is(es9::status_codes::MATCHING_ID_REFUSED));
    assert_eq!(data.subject_identifier.as_deref(), Some("matchingId"));
}

#[test]
fn json_get_bound_profile_package_notification_cancel() {
    let pdr = es9::b64_encode(&h(&format!("BF21 0B A1 09 80 04 {TX} 02 01 05")));
    let req: es9::GetBoundProfilePackageRequest = json_round_trip(&format!(
        r#"{{"transactionId":"A1B2C3D4","prepareDownloadResponse":"{pdr}"}}"#
    ));
    assert_eq!(req.transaction_id.to_string(), "A1B2C3D4");

    let bpp = es9::b64_encode(&h(&bpp_hex()));
    let resp: es9::GetBoundProfilePackageResponse = json_round_trip(&format!(
        r#"{{"header":{{"functionExecutionStatus":{{"status":"Executed-Success"}}}},
            "transactionId":"A1B2C3D4","boundProfilePackage":"{bpp}"}}"#
    ));
    let package = resp.bound_profile_package.unwrap();
    assert_eq!(
        split_bound_profile_package(package.as_bytes())
            .unwrap()
            .len(),
        8
    );
    let failed: es9::GetBoundProfilePackageResponse = json_round_trip(
        r#"{"header":{"functionExecutionStatus":{"status":"Failed","statusCodeData":
            {"subjectCode":"8.2.7","reasonCode":"2.2","message":"Confirmation Code is missing"}}}}"#,
    );
    assert_eq!(
        failed,
        es9::GetBoundProfilePackageResponse::failed(es9::status_codes::CONFIRMATION_CODE_MISSING)
    );

    let pn = es9::b64_encode(&h(&pir_hex()));
    let n: es9::HandleNotificationRequest =
        json_round_trip(&format!(r#"{{"pendingNotification":"{pn}"}}"#));
    let _: PendingNotification = decode(n.pending_notification.as_bytes()).unwrap();

    let csr = es9::b64_encode(&h("BF41 03 81 01 05"));
    let _: es9::CancelSessionRequest = json_round_trip(&format!(
        r#"{{"transactionId":"A1B2C3D4","cancelSessionResponse":"{csr}"}}"#
    ));
    let ok: es9::CancelSessionResponse =
        json_round_trip(r#"{"header":{"functionExecutionStatus":{"status":"Executed-Success"}}}"#);
    assert_eq!(ok.header, es9::ResponseHeader::success());
    let warn: es9::CancelSessionResponse = json_round_trip(
        r#"{"header":{"functionExecutionStatus":{"status":"Executed-WithWarning",
            "statusCodeData":{"subjectCode":"8.1","reasonCode":"6.1"}}}}"#,
    );
    assert!(warn.header.is_success());
    let other: es9::CancelSessionResponse =
        json_round_trip(r#"{"header":{"functionExecutionStatus":{"status":"Something-Else"}}}"#);
    assert_eq!(
        other.header.function_execution_status.status,
        es9::ExecutionStatus::Other("Something-Else".into())
    );
}

#[test]
fn json_liberal_input_and_errors() {
    // Line breaks inside base64, unpadded base64, lower-case hex, unknown members.
    let req: es9::AuthenticateClientRequest = serde_json::from_str(
        r#"{"transactionId":"a1b2c3d4","authenticateServerResponse":"vzgL\noQmA\r\nBKGyw9QCAQY",
            "extra":1}"#,
    )
    .unwrap();
    assert_eq!(req.transaction_id, HexBytes(h(TX)));
    assert_eq!(
        req.authenticate_server_response,
        Base64(h(&format!("BF38 0B A1 09 80 04 {TX} 02 01 06")))
    );
    // Written back canonically.
    let text = serde_json::to_string(&req).unwrap();
    assert!(text.contains(r#""transactionId":"A1B2C3D4""#), "{text}");
    assert!(
        text.contains(r#""authenticateServerResponse":"vzgLoQmABKGyw9QCAQY=""#),
        "{text}"
    );
    for bad in [
        r#"{"transactionId":"A1B","authenticateServerResponse":"vyAA"}"#,
        r#"{"transactionId":"","authenticateServerResponse":"vyAA"}"#,
        r#"{"transactionId":"000102030405060708090A0B0C0D0E0F10","authenticateServerResponse":"vyAA"}"#,
        r#"{"transactionId":"A1B2","authenticateServerResponse":"v*AA"}"#,
        r#"{"transactionId":"A1B2"}"#,
    ] {
        assert!(
            serde_json::from_str::<es9::AuthenticateClientRequest>(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn es9_constants() {
    assert_eq!(es9::headers::X_ADMIN_PROTOCOL, "X-Admin-Protocol");
    assert_eq!(es9::headers::ADMIN_PROTOCOL_V2_2_0, "gsma/rsp/v2.2.0");
    assert_eq!(
        es9::headers::CONTENT_TYPE_JSON,
        "application/json;charset=UTF-8"
    );
    for p in [
        es9::path::INITIATE_AUTHENTICATION,
        es9::path::AUTHENTICATE_CLIENT,
        es9::path::GET_BOUND_PROFILE_PACKAGE,
        es9::path::HANDLE_NOTIFICATION,
        es9::path::CANCEL_SESSION,
    ] {
        assert!(p.starts_with(es9::path::PREFIX), "{p}");
    }
    use es9::status_codes as sc;
    for (code, s, r) in [
        (sc::EID_REFUSED, "8.1.1", "3.8"),
        (sc::MATCHING_ID_REFUSED, "8.2.6", "3.8"),
        (sc::TRANSACTION_ID_UNKNOWN, "8.10.1", "3.9"),
        (sc::EUICC_SIGNATURE_INVALID, "8.1", "6.1"),
        (sc::CI_PK_UNKNOWN, "8.11.1", "3.9"),
        (sc::CONFIRMATION_CODE_REFUSED, "8.2.7", "3.8"),
        (sc::INVALID_SMDP_OID, "8.8", "3.10"),
    ] {
        assert_eq!((code.subject_code, code.reason_code), (s, r));
        assert_eq!(sc::find(s, r), Some(code));
    }
    assert_eq!(sc::find("9.9", "9.9"), None);
    // No two codes share a subject/reason pair.
    for (i, a) in sc::ALL.iter().enumerate() {
        for b in &sc::ALL[i + 1..] {
            assert!(
                (a.subject_code, a.reason_code) != (b.subject_code, b.reason_code),
                "{a:?} / {b:?}"
            );
        }
    }
}

// --- Activation code --------------------------------------------------------------------------------

#[test]
fn activation_code_valid() {
    let cases: [(&str, ActivationCode, &str); 8] = [
        (
            "LPA:1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815",
            ActivationCode {
                smdp_address: "SMDP.GSMA.COM".into(),
                matching_id: "04386-AGYFT-A74Y8-3F815".into(),
                smdp_oid: None,
                confirmation_code_required: false,
            },
            "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815",
        ),
        (
            "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746",
            ActivationCode {
                smdp_address: "SMDP.GSMA.COM".into(),
                matching_id: "04386-AGYFT-A74Y8-3F815".into(),
                smdp_oid: Some("1.3.6.1.4.1.31746".into()),
                confirmation_code_required: false,
            },
            "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746",
        ),
        (
            "LPA:1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746$1",
            ActivationCode {
                smdp_address: "SMDP.GSMA.COM".into(),
                matching_id: "04386-AGYFT-A74Y8-3F815".into(),
                smdp_oid: Some("1.3.6.1.4.1.31746".into()),
                confirmation_code_required: true,
            },
            "1$SMDP.GSMA.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746$1",
        ),
        (
            "LPA:1$rsp.example.com$QR-G-5C-1LS-1W1Z9P7$$1",
            ActivationCode {
                smdp_address: "rsp.example.com".into(),
                matching_id: "QR-G-5C-1LS-1W1Z9P7".into(),
                smdp_oid: None,
                confirmation_code_required: true,
            },
            "1$rsp.example.com$QR-G-5C-1LS-1W1Z9P7$$1",
        ),
        (
            "  lpa:1$smdp.io$$2.999.10\n",
            ActivationCode {
                smdp_address: "smdp.io".into(),
                matching_id: String::new(),
                smdp_oid: Some("2.999.10".into()),
                confirmation_code_required: false,
            },
            "1$smdp.io$$2.999.10",
        ),
        (
            "LPA:1$localhost:8443$TEST$2.999.10$0",
            ActivationCode {
                smdp_address: "localhost:8443".into(),
                matching_id: "TEST".into(),
                smdp_oid: Some("2.999.10".into()),
                confirmation_code_required: false,
            },
            "1$localhost:8443$TEST$2.999.10",
        ),
        (
            "LPA:1$smdp.io$ABC$",
            ActivationCode {
                smdp_address: "smdp.io".into(),
                matching_id: "ABC".into(),
                smdp_oid: None,
                confirmation_code_required: false,
            },
            "1$smdp.io$ABC",
        ),
        (
            "LPA:1$smdp.io$abc-def$$",
            ActivationCode {
                smdp_address: "smdp.io".into(),
                matching_id: "abc-def".into(),
                smdp_oid: None,
                confirmation_code_required: false,
            },
            "1$smdp.io$abc-def",
        ),
    ];
    for (text, want, canonical) in cases {
        let ac: ActivationCode = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(ac, want, "{text}");
        assert_eq!(ac.to_string(), canonical);
        assert_eq!(ac.to_qr_string(), format!("LPA:{canonical}"));
        assert_eq!(canonical.parse::<ActivationCode>().unwrap(), ac);
    }
}

#[test]
fn activation_code_invalid() {
    use ActivationCodeError as E;
    let cases: [(&str, E); 13] = [
        ("", E::FieldCount(1)),
        ("LPA:", E::FieldCount(1)),
        ("LPA:1$smdp.io", E::FieldCount(2)),
        ("LPA:1$smdp.io$A$2.999$1$X", E::FieldCount(6)),
        ("LPA:2$smdp.io$ABC", E::Format("2".into())),
        ("LPA:$smdp.io$ABC", E::Format(String::new())),
        ("LPA:1$$ABC", E::SmdpAddress(String::new())),
        (
            "LPA:1$https://smdp.io$ABC",
            E::SmdpAddress("https://smdp.io".into()),
        ),
        ("LPA:1$smdp..io$ABC", E::SmdpAddress("smdp..io".into())),
        (
            "LPA:1$smdp.io:99999$ABC",
            E::SmdpAddress("smdp.io:99999".into()),
        ),
        ("LPA:1$smdp.io$A B", E::MatchingId("A B".into())),
        ("LPA:1$smdp.io$ABC$2.x.10", E::Oid("2.x.10".into())),
        (
            "LPA:1$smdp.io$ABC$2.999.10$Y",
            E::ConfirmationCodeFlag("Y".into()),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(text.parse::<ActivationCode>(), Err(want), "{text}");
    }
    assert!("LPA:1$smdp.io$ABC$.1".parse::<ActivationCode>().is_err());
    assert!(
        "LPA:1$smdp.io$ABC$1".parse::<ActivationCode>().is_err(),
        "one-arc OID"
    );
    assert!("LPA:1$-smdp.io$ABC".parse::<ActivationCode>().is_err());
}

proptest! {
    #[test]
    fn prop_activation_code_round_trip(
        host in "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}",
        mid in "[A-Z0-9-]{0,30}",
        oid in proptest::option::of("[0-2](\\.[0-9]{1,5}){1,6}"),
        cc in any::<bool>(),
    ) {
        let ac = ActivationCode {
            smdp_address: host,
            matching_id: mid,
            smdp_oid: oid,
            confirmation_code_required: cc,
        };
        prop_assert_eq!(ac.to_qr_string().parse::<ActivationCode>(), Ok(ac.clone()));
        prop_assert_eq!(ac.to_string().parse::<ActivationCode>(), Ok(ac));
    }

    #[test]
    fn prop_activation_code_never_panics(text in "\\PC{0,60}") {
        let _ = text.parse::<ActivationCode>();
    }

    #[test]
    fn prop_base64_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = es9::b64_encode(&bytes);
        prop_assert_eq!(es9::b64_decode(&text), Ok(bytes.clone()));
        let json = serde_json::to_string(&Base64(bytes.clone())).unwrap();
        let back: Base64 = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, Base64(bytes));
    }
}
