//! End to end, in one process, no network: the LPA (`hil::lpa`) drives the card core
//! (`veuicc`, through `InProcess` + `Client`) and the SM-DP+ core (`testbeds::Smdp`, through
//! `InProcessEs9`, which still serialises every ES9+ body to JSON text and back).
//!
//! - every one of the 18 TS.48 profiles is ordered over ES2+, downloaded, then shows in
//!   GetProfilesInfo with its ICCID, name and class, enables, and EF.ICCID / EF.IMSI show it;
//!   the notifications are processed;
//! - interop: a card whose CERT.EUICC is issued by the GSMA SGP.26 test EUM downloads from an
//!   SM-DP+ running on the SGP.26 DPauth/DPpb certificates;
//! - errors name the step and carry the SM-DP+'s or the eUICC's code.
//!
//! Test data: `$VEUICC_TESTDATA` or `../../shared/testdata` (TS.48 and SGP.26); without it the
//! tests print SKIPPED (or fail with `VEUICC_REQUIRE_TESTDATA=1`).

#![allow(clippy::unwrap_used)]

use hil::client::{iccid_digits, imsi_digits, Client};
use hil::lpa::{
    self, DownloadParams, InProcessEs9, LpaError, NotificationDelivery, Progress, Step,
};
use hil::transport::InProcess;
use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};
use veuicc::euicc::{Euicc, EuiccState};
use veuicc::store::MemStore;

const ADDRESS: &str = "smdpplus.example.com";

fn testdata() -> Option<PathBuf> {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    if p.join("ts48/expected.json").is_file() {
        Some(p)
    } else {
        assert!(
            std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "testdata not found at {}",
            p.display()
        );
        eprintln!("SKIPPED: testdata not found at {}", p.display());
        None
    }
}

fn provider() -> Arc<dyn CryptoProvider> {
    Arc::new(rsp::crypto::awslc::AwsLc)
}

fn eid() -> [u8; 16] {
    rsp::pki::eid_with_check_digits("890490320000000000000000000077").unwrap()
}

/// A card (identity minted under a fresh test CI) and an SM-DP+ under the same CI.
fn minted() -> (Euicc, Smdp) {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    let nb = SystemTime::now() - Duration::from_secs(86_400);
    let (identity, ci) =
        rsp::pki::mint_test_pki(eid(), &mut rng, nb, rsp::pki::not_after_no_expiry()).unwrap();
    let dp = SmdpIdentity::under_ci(
        &ci.ci_key,
        &ci.ci_cert,
        ADDRESS,
        provider().as_ref(),
        SystemTime::now(),
    )
    .unwrap();
    (card(identity), smdp(dp))
}

fn card(identity: rsp::pki::Identity) -> Euicc {
    let state = EuiccState::open(Arc::new(MemStore::default()), identity, [7; 32])
        .unwrap()
        .with_provider(provider());
    Euicc::new(state)
}

fn smdp(identity: SmdpIdentity) -> Smdp {
    Smdp::new(
        identity,
        testbeds::store::Store::temporary().unwrap(),
        provider(),
        testbeds::smdp::system_clock(),
        SmdpConfig::default(),
    )
    .unwrap()
}

/// Adds `package` to the SM-DP+ and places a released order for this EID: the matching ID.
fn order(smdp: &Smdp, package: Vec<u8>, name: &str, class: ProfileClassKind) -> (String, String) {
    let iccid = smdp
        .add_profile(
            package,
            ProfileMeta {
                service_provider_name: "GSMA Test".into(),
                profile_name: name.into(),
                class,
                profile_type: name.into(),
            },
        )
        .unwrap();
    let r = smdp.download_order(&DownloadOrderRequest {
        iccid: Some(iccid.clone()),
        ..Default::default()
    });
    assert!(r.header.is_success(), "downloadOrder: {:?}", r.header);
    let r = smdp.confirm_order(&ConfirmOrderRequest {
        iccid: iccid.clone(),
        eid: Some(rsp::pki::eid_to_string(&eid())),
        release_flag: true,
        ..Default::default()
    });
    assert!(r.header.is_success(), "confirmOrder: {:?}", r.header);
    (iccid, r.matching_id.unwrap())
}

const USIM: [u8; 12] = [
    0xA0, 0, 0, 0, 0x87, 0x10, 0x02, 0xFF, 0x49, 0xFF, 0x05, 0x89,
];

#[test]
fn every_ts48_profile_downloads_installs_enables_and_notifies() {
    let Some(td) = testdata() else { return };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(td.join("ts48/expected.json")).unwrap()).unwrap();
    let (euicc, smdp) = minted();
    let mut es9 = InProcessEs9::new(&smdp);
    let mut c = Client::new(InProcess::new(euicc));
    c.open_channel().unwrap();
    // The card supports test and operational profiles (provisioning: see the errors test).
    let classes = [ProfileClassKind::Operational, ProfileClassKind::Test];
    let mut times = Vec::new();
    for (i, (file, exp)) in expected.as_object().unwrap().iter().enumerate() {
        let package = std::fs::read(td.join("ts48").join(file)).unwrap();
        let class = classes[i % classes.len()];
        let name = format!("TS.48 {}", file.trim_end_matches(".der"));
        let (iccid, mid) = order(&smdp, package, &name, class);
        assert_eq!(iccid, exp["iccid"].as_str().unwrap(), "{file}");

        let mut steps = Vec::new();
        let mut segments = 0;
        let mut cb = |p: &Progress| match p {
            Progress::Finished(s, _) => steps.push(*s),
            Progress::Segment { total, .. } => segments = *total,
            _ => {}
        };
        let params = DownloadParams::new(ADDRESS, &mid).with_progress(&mut cb);
        let o = lpa::download(&mut c, &mut es9, params).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(o.iccid, iccid, "{file}");
        assert_eq!(o.profile_name, name);
        assert_eq!(o.notification, NotificationDelivery::Delivered, "{file}");
        assert_eq!(o.segments, segments);
        assert!(o.segments > 10, "{file}: {} segments", o.segments);
        assert!(steps.contains(&Step::LoadBoundProfilePackage));
        assert!(steps.contains(&Step::HandleNotification));
        times.push(o.total);

        // GetProfilesInfo: ICCID, name, class, disabled.
        let list = c.profiles(None).unwrap();
        let p = list
            .iter()
            .find(|p| p.iccid.as_ref().map(|i| iccid_digits(i)) == Some(iccid.clone()))
            .unwrap_or_else(|| panic!("{file}: not in GetProfilesInfo"));
        assert_eq!(p.profile_name.as_deref(), Some(name.as_str()));
        assert_eq!(
            p.profile_class.map(|c| c.0),
            Some(class.to_asn().0),
            "{file}"
        );
        assert_eq!(
            p.profile_state.map(|s| s.0),
            Some(0),
            "{file}: installed disabled"
        );
        assert_eq!(
            p.isdp_aid.as_ref().map(|a| a.to_vec()),
            Some(o.isdp_aid.clone())
        );
        assert_eq!(list.len(), i + 1);

        // Enable, then the UICC side shows it.
        let raw = o.iccid_raw.clone();
        assert_eq!(c.enable(&raw, true).unwrap(), 0, "{file}: enable");
        c.close_channel().unwrap();
        let ef_iccid = c.read_ef(None, &[0x2FE2]).unwrap();
        assert_eq!(iccid_digits(&ef_iccid), iccid, "{file}: EF.ICCID");
        let imsi = c.read_ef(Some(&USIM), &[0x6F07]).unwrap();
        assert_eq!(
            imsi_digits(&imsi).unwrap(),
            exp["imsi"].as_str().unwrap(),
            "{file}: EF.IMSI"
        );
        c.open_channel().unwrap();

        // Notifications: enable (and the disable of the previous profile) go to the SM-DP+.
        let reports = lpa::process_notifications(&mut c, &mut es9, None).unwrap();
        let want = if i == 0 { 1 } else { 2 };
        assert_eq!(reports.len(), want, "{file}: {reports:?}");
        for r in &reports {
            assert!(r.delivered && r.removed, "{file}: {r:?}");
            assert_eq!(r.address, ADDRESS);
        }
        assert!(c.list_notifications().unwrap().is_empty());
    }
    times.sort();
    eprintln!(
        "18 in-process downloads: median {:?}, min {:?}, max {:?}",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}

#[test]
fn sgp26_identity_downloads_from_the_sgp26_smdp() {
    let Some(td) = testdata() else { return };
    let sgp26 = td.join("sgp26");
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([6; 32]);
    let nb = SystemTime::now() - Duration::from_secs(86_400);
    let identity =
        rsp::pki::identity_from_sgp26(&sgp26, eid(), &mut rng, nb, rsp::pki::not_after_no_expiry())
            .unwrap();
    let dp = SmdpIdentity::from_sgp26(
        &sgp26,
        rsp::pki::SGP26_DP_HOST,
        provider().as_ref(),
        SystemTime::now(),
    )
    .unwrap();
    let smdp = smdp(dp);
    let package = std::fs::read(td.join("ts48/TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der")).unwrap();
    let (iccid, mid) = order(&smdp, package, "SGP.26 interop", ProfileClassKind::Test);
    let mut c = Client::new(InProcess::new(card(identity)));
    let mut es9 = InProcessEs9::new(&smdp);
    let ac = format!("LPA:1${}${mid}", rsp::pki::SGP26_DP_HOST);
    let o = lpa::download(
        &mut c,
        &mut es9,
        DownloadParams::from_activation_code(&ac).unwrap(),
    )
    .unwrap();
    assert_eq!(o.iccid, iccid);
    assert_eq!(o.notification, NotificationDelivery::Delivered);
    // The SM-DP+ knows the profile as installed.
    let rec = smdp.profile(&iccid).unwrap().unwrap();
    assert_eq!(rec.state, testbeds::ProfileState::Installed, "{rec:?}");
}

#[test]
fn errors_name_the_step_and_carry_the_codes() {
    let Some(td) = testdata() else { return };
    let (euicc, smdp) = minted();
    let mut es9 = InProcessEs9::new(&smdp);
    let mut c = Client::new(InProcess::new(euicc));

    // An unknown matching ID: the SM-DP+ refuses authenticateClient with 8.2.6 / 3.8.
    let e = lpa::download(
        &mut c,
        &mut es9,
        DownloadParams::new(ADDRESS, "NO-SUCH-ORDER"),
    )
    .unwrap_err();
    assert_eq!(e.step(), Some(Step::AuthenticateClient), "{e}");
    let code = e.smdp_status().unwrap();
    assert_eq!(
        (code.subject_code.as_str(), code.reason_code.as_str()),
        ("8.2.6", "3.8"),
        "{e}"
    );
    assert!(e.to_string().contains("authenticateClient"), "{e}");

    // A wrong SM-DP+ address: initiateAuthentication refused with 8.8.1 / 3.8.
    let e = lpa::download(
        &mut c,
        &mut es9,
        DownloadParams::new("other.example.com", "X"),
    )
    .unwrap_err();
    assert_eq!(e.step(), Some(Step::InitiateAuthentication), "{e}");
    assert_eq!(e.smdp_status().unwrap().subject_code, "8.8.1", "{e}");

    // A provisioning profile: the eUICC refuses it in StoreMetadata (unsupportedProfileClass,
    // 6); the LPA delivers the signed error result to the SM-DP+, which records the failure.
    let package = std::fs::read(td.join("ts48/TS48V1-A-UNIQUE.der")).unwrap();
    let (iccid, mid) = order(&smdp, package, "prov", ProfileClassKind::Provisioning);
    let e = lpa::download(&mut c, &mut es9, DownloadParams::new(ADDRESS, &mid)).unwrap_err();
    match &e {
        LpaError::Installation {
            bpp_command_id,
            error_reason,
            ..
        } => assert_eq!((*bpp_command_id, *error_reason), (2, 6), "{e}"),
        other => panic!("{other}"),
    }
    assert_eq!(e.euicc_code(), Some(6));
    assert!(e.to_string().contains("unsupportedProfileClass"), "{e}");
    let rec = smdp.profile(&iccid).unwrap().unwrap();
    assert_eq!(rec.state, testbeds::ProfileState::Error, "{rec:?}");
    assert!(
        c.list_notifications().unwrap().is_empty(),
        "the error result was removed"
    );
    assert!(c.profiles(None).unwrap().is_empty(), "nothing installed");

    // Confirmation code required and missing: cancelled on both sides, step PrepareDownload.
    let package = std::fs::read(td.join("ts48/TS48V1-B-UNIQUE.der")).unwrap();
    let iccid = smdp
        .add_profile(
            package,
            ProfileMeta {
                service_provider_name: "GSMA Test".into(),
                profile_name: "cc".into(),
                class: ProfileClassKind::Test,
                profile_type: "cc".into(),
            },
        )
        .unwrap();
    let r = smdp.download_order(&DownloadOrderRequest {
        iccid: Some(iccid.clone()),
        ..Default::default()
    });
    assert!(r.header.is_success());
    let r = smdp.confirm_order(&ConfirmOrderRequest {
        iccid: iccid.clone(),
        confirmation_code: Some("1234".into()),
        release_flag: true,
        ..Default::default()
    });
    assert!(r.header.is_success(), "{:?}", r.header);
    let mid = r.matching_id.unwrap();
    let mut cancelled = None;
    let mut cb = |p: &Progress| {
        if let Progress::Cancelled { detail } = p {
            cancelled = Some(detail.clone());
        }
    };
    let e = lpa::download(
        &mut c,
        &mut es9,
        DownloadParams::new(ADDRESS, &mid).with_progress(&mut cb),
    )
    .unwrap_err();
    assert!(matches!(e, LpaError::ConfirmationCodeRequired), "{e}");
    let detail = cancelled.expect("the session was cancelled");
    assert!(
        detail.starts_with("cancelled on the eUICC and the SM-DP+"),
        "{detail}"
    );

    // With the wrong code the SM-DP+ refuses getBoundProfilePackage (8.2.7 / 3.8).
    let mut params = DownloadParams::new(ADDRESS, &mid);
    params.confirmation_code = Some("9999".into());
    let e = lpa::download(&mut c, &mut es9, params).unwrap_err();
    assert_eq!(e.step(), Some(Step::GetBoundProfilePackage), "{e}");
    assert_eq!(
        e.smdp_status()
            .map(|s| (s.subject_code.as_str(), s.reason_code.as_str())),
        Some(("8.2.7", "3.8")),
        "{e}"
    );

    // With the right code it installs.
    let mut params = DownloadParams::new(ADDRESS, &mid);
    params.confirmation_code = Some("1234".into());
    params.imei = Some("356938035643809".into());
    let o = lpa::download(&mut c, &mut es9, params).unwrap();
    assert_eq!(o.iccid, iccid);
}

#[test]
fn activation_codes_and_device_info_are_encoded_as_specified() {
    let p = DownloadParams::from_activation_code("LPA:1$smdp.example.com$ABC-123").unwrap();
    assert_eq!(p.smdp_address, "smdp.example.com");
    assert_eq!(p.matching_id.as_deref(), Some("ABC-123"));
    assert!(DownloadParams::from_activation_code("LPA:2$x$y").is_err());
    assert_eq!(
        lpa::encode_tac("35693803").unwrap(),
        vec![0x35, 0x69, 0x38, 0x03]
    );
    assert_eq!(
        lpa::encode_imei("356938035643809").unwrap(),
        vec![0x53, 0x96, 0x83, 0x30, 0x65, 0x34, 0x08, 0xF9]
    );
    assert!(lpa::encode_imei("12345").is_err());
    let ctx = lpa::ctx_params1(Some("MID"), None, Some("356938035643809")).unwrap();
    let parsed = rsp::es10::RawCtxParams1::new(ctx).unwrap().parse().unwrap();
    assert_eq!(parsed.matching_id(), Some("MID"));
    assert_eq!(
        parsed.device_info().tac.to_vec(),
        vec![0x35, 0x69, 0x38, 0x03]
    );
    // hashCc = SHA-256(SHA-256(CC) || txId)
    let p = rsp::crypto::rustcrypto::RustCrypto;
    let mut inner = p.sha256(b"1234").to_vec();
    inner.extend_from_slice(&[1, 2, 3]);
    assert_eq!(lpa::hash_cc("1234", &[1, 2, 3]), p.sha256(&inner));
}
