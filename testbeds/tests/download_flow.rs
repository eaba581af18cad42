//! The SM-DP+ core in-process against a minimal eUICC: a full download (every signature the
//! eUICC checks verifies, the BPP opens to the original package), the installation result, and
//! the refusals of ES9+.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use rsp::es10::{cancel_session_reason, decode, notification_event, StoreMetadataRequest};
use rsp::es9::{
    status_codes as sc, AuthenticateClientRequest, Base64, CancelSessionRequest,
    GetBoundProfilePackageRequest, HandleNotificationRequest, HexBytes,
};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::smdp::{iccid_to_swapped, Smdp};
use testbeds::store::ProfileState;

const EID_PREFIX: &str = "890490320000000000000000000001";

/// downloadOrder + confirmOrder; returns the matching ID.
fn order(
    smdp: &Smdp,
    iccid: &str,
    eid: Option<&str>,
    matching_id: Option<&str>,
    cc: Option<&str>,
) -> String {
    let d = smdp.download_order(&DownloadOrderRequest {
        iccid: Some(iccid.into()),
        eid: eid.map(Into::into),
        ..Default::default()
    });
    assert!(d.header.is_success(), "{:?}", d.header);
    let c = smdp.confirm_order(&ConfirmOrderRequest {
        iccid: iccid.into(),
        matching_id: matching_id.map(Into::into),
        confirmation_code: cc.map(Into::into),
        release_flag: true,
        ..Default::default()
    });
    assert!(c.header.is_success(), "{:?}", c.header);
    c.matching_id.unwrap()
}

fn state(smdp: &Smdp, iccid: &str) -> ProfileState {
    smdp.profile(iccid).unwrap().unwrap().state
}

#[test]
fn full_download_installs_and_verifies_everything() {
    let Some(f) = Fixture::new() else { return };
    full_download_checks(f);
}

/// The same on the memory store ([`testbeds::store::Store::memory`], what the in-process
/// download bench measures the logic with).
#[test]
fn full_download_on_the_memory_store() {
    let Some(f) = Fixture::with_store(testbeds::store::Store::memory()) else {
        return;
    };
    assert!(f.smdp.store().is_memory());
    full_download_checks(f);
}

fn full_download_checks(f: Fixture) {
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, None);
    let run = download(&f.smdp, &mut euicc, Some(&mid), None);
    assert!(run.bpp.header.is_success(), "{:?}", run.bpp.header);
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Downloaded);

    // The metadata announced in authenticateClient is the one in the BPP.
    let announced = run
        .auth
        .profile_metadata
        .as_ref()
        .unwrap()
        .as_bytes()
        .to_vec();
    let md: StoreMetadataRequest = decode(&announced).unwrap();
    assert_eq!(md.iccid.as_ref(), &iccid_to_swapped(ICCID_A).unwrap());
    assert_eq!(md.service_provider_name, "GSMA_TEST");
    let bpp = run.bpp.bound_profile_package.as_ref().unwrap().as_bytes();
    let dppb = run.auth.smdp_certificate.as_ref().unwrap().as_bytes();
    let (metadata, package) = euicc.open_bpp(bpp, dppb);
    assert_eq!(metadata, announced);
    assert_eq!(package, ts48(PKG_A).unwrap());
    // Every segment within the specification's limit.
    for seg in rsp::bsp::segments(bpp).unwrap().iter().skip(1) {
        assert!(seg.len() <= 1020, "segment of {} bytes", seg.len());
    }

    // The signed installation result.
    let pir = euicc.pir(
        run.tx.as_bytes(),
        &iccid_to_swapped(ICCID_A).unwrap(),
        &f.smdp.identity().dp_oid,
        true,
    );
    f.smdp
        .handle_notification(&HandleNotificationRequest {
            pending_notification: Base64(pir),
        })
        .unwrap();
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Installed);
    let notes = f.smdp.store().notifications().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].result.as_deref(), Some("success"));
    assert_eq!(notes[0].eid, euicc.eid_string());

    // The matching ID is consumed.
    let (_, again) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    assert_code(&again.header, sc::MATCHING_ID_REFUSED);

    // An enable notification, signed by the eUICC.
    let other = euicc.other_notification(
        notification_event::ENABLE,
        &iccid_to_swapped(ICCID_A).unwrap(),
        2,
    );
    f.smdp
        .handle_notification(&HandleNotificationRequest {
            pending_notification: Base64(other.clone()),
        })
        .unwrap();
    assert_eq!(f.smdp.store().notifications().unwrap()[1].event, "enable");
    // Tampered: refused.
    let mut bad = other;
    let n = bad.len();
    bad[n - 300] ^= 1;
    assert!(f
        .smdp
        .handle_notification(&HandleNotificationRequest {
            pending_notification: Base64(bad),
        })
        .is_err());
}

#[test]
fn failed_installation_and_tampered_pir() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, None);
    let run = download(&f.smdp, &mut euicc, Some(&mid), None);
    assert!(run.bpp.header.is_success());
    let iccid = iccid_to_swapped(ICCID_A).unwrap();
    let oid = f.smdp.identity().dp_oid.clone();

    // Signature over other data: refused, no state change.
    let mut pir = euicc.pir(run.tx.as_bytes(), &iccid, &oid, true);
    let n = pir.len();
    pir[n - 1] ^= 0x01;
    let err = f
        .smdp
        .handle_notification(&HandleNotificationRequest {
            pending_notification: Base64(pir),
        })
        .unwrap_err();
    assert_eq!(err.status_code(), sc::EUICC_SIGNATURE_INVALID, "{err}");
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Downloaded);

    // Another SM-DP+'s OID.
    let pir = euicc.pir(run.tx.as_bytes(), &iccid, "2.999.77", true);
    let err = f
        .smdp
        .handle_notification(&HandleNotificationRequest {
            pending_notification: Base64(pir),
        })
        .unwrap_err();
    assert_eq!(err.status_code(), sc::INVALID_SMDP_OID, "{err}");

    // A signed failure: the profile goes to Error, and may be downloaded again.
    let pir = euicc.pir(run.tx.as_bytes(), &iccid, &oid, false);
    f.smdp
        .handle_notification(&HandleNotificationRequest {
            pending_notification: Base64(pir),
        })
        .unwrap();
    let rec = f.smdp.profile(ICCID_A).unwrap().unwrap();
    assert_eq!(rec.state, ProfileState::Error);
    assert!(rec.last_error.unwrap().contains("errorReason 12"));
    let retry = download(&f.smdp, &mut euicc, Some(&mid), None);
    assert!(retry.bpp.header.is_success(), "{:?}", retry.bpp.header);
}

#[test]
fn confirmation_code() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, Some("1234"));

    // Missing hashCc.
    let run = download(&f.smdp, &mut euicc, Some(&mid), None);
    let flag: rsp::es10::SmdpSigned2 =
        decode(run.auth.smdp_signed2.as_ref().unwrap().as_bytes()).unwrap();
    assert!(flag.cc_required_flag);
    assert_code(&run.bpp.header, sc::CONFIRMATION_CODE_MISSING);
    // Wrong code, then the right one.
    let run = download(&f.smdp, &mut euicc, Some(&mid), Some("9999"));
    assert_code(&run.bpp.header, sc::CONFIRMATION_CODE_REFUSED);
    let run = download(&f.smdp, &mut euicc, Some(&mid), Some("1234"));
    assert!(run.bpp.header.is_success(), "{:?}", run.bpp.header);
}

#[test]
fn confirmation_code_retries_exhausted() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, Some("1234"));
    for _ in 0..2 {
        let run = download(&f.smdp, &mut euicc, Some(&mid), Some("0000"));
        assert_code(&run.bpp.header, sc::CONFIRMATION_CODE_REFUSED);
    }
    let run = download(&f.smdp, &mut euicc, Some(&mid), Some("0000"));
    assert_code(&run.bpp.header, sc::CONFIRMATION_CODE_RETRIES_EXCEEDED);
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Error);
    let (_, auth) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    assert_code(&auth.header, sc::CONFIRMATION_CODE_RETRIES_EXCEEDED);
}

#[test]
fn retry_reuses_the_one_time_key() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, None);
    let first = download(&f.smdp, &mut euicc, Some(&mid), None);
    assert!(first.bpp.header.is_success());
    let first_otpk = euicc.otpk.unwrap();
    // The BPP never reached the card: a new session.
    let (tx, auth) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    let s2: rsp::es10::SmdpSigned2 =
        decode(auth.smdp_signed2.as_ref().unwrap().as_bytes()).unwrap();
    assert_eq!(
        s2.bpp_euicc_otpk.as_deref(),
        Some(first_otpk.as_slice()),
        "smdpSigned2 names the otPK.EUICC of the earlier binding"
    );
    let pdr = euicc.prepare_download(&auth, None);
    let bpp = f
        .smdp
        .get_bound_profile_package(&GetBoundProfilePackageRequest {
            transaction_id: tx.clone(),
            prepare_download_response: Base64(pdr.clone()),
        });
    assert!(bpp.header.is_success());
    let (_, package) = euicc.open_bpp(
        bpp.bound_profile_package.as_ref().unwrap().as_bytes(),
        auth.smdp_certificate.as_ref().unwrap().as_bytes(),
    );
    assert_eq!(package, ts48(PKG_A).unwrap());
    // The same session may fetch it again (network retry).
    let again = f
        .smdp
        .get_bound_profile_package(&GetBoundProfilePackageRequest {
            transaction_id: tx,
            prepare_download_response: Base64(pdr),
        });
    assert!(again.header.is_success());
    // The first session has been superseded.
    let stale = f
        .smdp
        .get_bound_profile_package(&GetBoundProfilePackageRequest {
            transaction_id: first.tx,
            prepare_download_response: Base64(vec![0xBF, 0x21, 0x00]),
        });
    assert!(!stale.header.is_success());
}

#[test]
fn authenticate_client_refusals() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, None);

    // Unknown transaction.
    let auth = f.smdp.authenticate_client(&AuthenticateClientRequest {
        transaction_id: HexBytes(vec![1, 2, 3]),
        authenticate_server_response: Base64(vec![0xBF, 0x38, 0x00]),
    });
    assert_code(&auth.header, sc::TRANSACTION_ID_UNKNOWN);

    // Wrong matching ID.
    let (_, auth) = authenticate(&f.smdp, &mut euicc, Some("NOT-THE-ONE"));
    assert_code(&auth.header, sc::MATCHING_ID_REFUSED);
    // No matching ID and no order for the EID.
    let (_, auth) = authenticate(&f.smdp, &mut euicc, None);
    assert_code(&auth.header, sc::MATCHING_ID_REFUSED);

    // Tampered euiccSigned1 (one byte of the signed part): signature refused.
    let init = f
        .smdp
        .initiate_authentication(&euicc.initiate_request(ADDRESS));
    let mut asr = euicc.authenticate_server(&init, Some(&mid));
    let pos = asr.windows(2).position(|w| w == [0x84, 0x10]).unwrap() + 2;
    asr[pos] ^= 0xFF;
    let auth = f.smdp.authenticate_client(&AuthenticateClientRequest {
        transaction_id: init.transaction_id.clone().unwrap(),
        authenticate_server_response: Base64(asr),
    });
    assert_code(&auth.header, sc::EUICC_SIGNATURE_INVALID);

    // Replayed: a session authenticates once.
    let init = f
        .smdp
        .initiate_authentication(&euicc.initiate_request(ADDRESS));
    let asr = euicc.authenticate_server(&init, Some(&mid));
    let req = AuthenticateClientRequest {
        transaction_id: init.transaction_id.clone().unwrap(),
        authenticate_server_response: Base64(asr),
    };
    assert!(f.smdp.authenticate_client(&req).header.is_success());
    assert_code(
        &f.smdp.authenticate_client(&req).header,
        sc::TRANSACTION_ID_UNKNOWN,
    );
    // The response of one session replayed in another: serverChallenge mismatch.
    let init2 = f
        .smdp
        .initiate_authentication(&euicc.initiate_request(ADDRESS));
    let replay = AuthenticateClientRequest {
        transaction_id: init2.transaction_id.clone().unwrap(),
        ..req
    };
    let auth = f.smdp.authenticate_client(&replay);
    assert!(!auth.header.is_success());

    // Malformed BF38.
    let init = f
        .smdp
        .initiate_authentication(&euicc.initiate_request(ADDRESS));
    let auth = f.smdp.authenticate_client(&AuthenticateClientRequest {
        transaction_id: init.transaction_id.unwrap(),
        authenticate_server_response: Base64(vec![0xBF, 0x38, 0x03, 0x01]),
    });
    assert_eq!(code(&auth.header).unwrap().0, "1.3.1");
}

#[test]
fn euicc_of_an_unknown_ci_is_refused() {
    let Some(f) = Fixture::new() else { return };
    let (other_key, other_cert) = testbeds::identity::mint_ci(&*f.provider, f.clock.now()).unwrap();
    let mut stranger = TestEuicc::under_ci(&other_key, &other_cert, EID_PREFIX, f.clock.now());
    let mid = order(&f.smdp, ICCID_A, None, None, None);
    // It announces our CI for verification (so initiateAuthentication passes) but its own
    // certificate chains to the other CI.
    let mut init_req = stranger.initiate_request(ADDRESS);
    let ours = f.euicc(EID_PREFIX);
    init_req.euicc_info1 = Base64(ours.info1());
    let init = f.smdp.initiate_authentication(&init_req);
    assert!(init.header.is_success());
    stranger.ci_cert = ours.ci_cert.clone();
    let asr = stranger.authenticate_server(&init, Some(&mid));
    let auth = f.smdp.authenticate_client(&AuthenticateClientRequest {
        transaction_id: init.transaction_id.unwrap(),
        authenticate_server_response: Base64(asr),
    });
    assert_code(&auth.header, sc::CI_PK_UNKNOWN);
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Released);
}

#[test]
fn order_for_another_eid() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let other = pki_eid("890490320000000000000000000002");
    let mid = order(&f.smdp, ICCID_A, Some(&other), None, None);
    let (_, auth) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    assert_code(&auth.header, sc::EID_REFUSED);
}

fn pki_eid(prefix30: &str) -> String {
    hex::encode_upper(rsp::pki::eid_with_check_digits(prefix30).unwrap())
}

#[test]
fn default_smdp_order_without_matching_id() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_B, Some(&euicc.eid_string()), Some(""), None);
    assert_eq!(mid, "");
    let run = download(&f.smdp, &mut euicc, None, None);
    assert!(run.bpp.header.is_success(), "{:?}", run.bpp.header);
}

#[test]
fn not_released_and_expired_orders() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let d = f.smdp.download_order(&DownloadOrderRequest {
        iccid: Some(ICCID_A.into()),
        ..Default::default()
    });
    assert!(d.header.is_success());
    let c = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_A.into(),
        matching_id: Some("HOLD-1".into()),
        release_flag: false,
        ..Default::default()
    });
    assert!(c.header.is_success());
    let (_, auth) = authenticate(&f.smdp, &mut euicc, Some("HOLD-1"));
    assert_code(&auth.header, sc::PROFILE_NOT_RELEASED);

    let mid = order(&f.smdp, ICCID_B, None, None, None);
    f.clock.advance(Duration::from_secs(8 * 86_400));
    let (_, auth) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    assert_code(&auth.header, sc::DOWNLOAD_ORDER_EXPIRED);
}

#[test]
fn session_expiry() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, None);
    let init = f
        .smdp
        .initiate_authentication(&euicc.initiate_request(ADDRESS));
    let asr = euicc.authenticate_server(&init, Some(&mid));
    f.clock.advance(Duration::from_secs(3600));
    let auth = f.smdp.authenticate_client(&AuthenticateClientRequest {
        transaction_id: init.transaction_id.unwrap(),
        authenticate_server_response: Base64(asr),
    });
    assert_code(&auth.header, sc::TRANSACTION_ID_UNKNOWN);
}

#[test]
fn tampered_prepare_download_and_wrong_session() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let mid = order(&f.smdp, ICCID_A, None, None, None);
    let (tx, auth) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    let mut pdr = euicc.prepare_download(&auth, None);
    let n = pdr.len();
    pdr[n - 2] ^= 0x40;
    let bpp = f
        .smdp
        .get_bound_profile_package(&GetBoundProfilePackageRequest {
            transaction_id: tx.clone(),
            prepare_download_response: Base64(pdr),
        });
    assert_code(&bpp.header, sc::EUICC_SIGNATURE_INVALID);
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Released);
    // getBoundProfilePackage before authenticateClient.
    let init = f
        .smdp
        .initiate_authentication(&euicc.initiate_request(ADDRESS));
    let bpp = f
        .smdp
        .get_bound_profile_package(&GetBoundProfilePackageRequest {
            transaction_id: init.transaction_id.unwrap(),
            prepare_download_response: Base64(vec![0xBF, 0x21, 0x00]),
        });
    assert_code(&bpp.header, sc::TRANSACTION_ID_UNKNOWN);
}

#[test]
fn cancel_session() {
    let Some(f) = Fixture::new() else { return };
    let mut euicc = f.euicc(EID_PREFIX);
    let oid = f.smdp.identity().dp_oid.clone();
    let mid = order(&f.smdp, ICCID_A, None, None, None);

    // Postponed: the order stays open.
    let (tx, _) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    let resp = f.smdp.cancel_session(&CancelSessionRequest {
        transaction_id: tx.clone(),
        cancel_session_response: Base64(euicc.cancel(
            tx.as_bytes(),
            &oid,
            cancel_session_reason::POSTPONED,
        )),
    });
    assert!(resp.header.is_success(), "{:?}", resp.header);
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Released);
    // The session is gone.
    let again = f.smdp.cancel_session(&CancelSessionRequest {
        transaction_id: tx.clone(),
        cancel_session_response: Base64(euicc.cancel(tx.as_bytes(), &oid, 1)),
    });
    assert_code(&again.header, sc::TRANSACTION_ID_UNKNOWN);

    // Wrong OID, wrong signature: refused.
    let (tx, _) = authenticate(&f.smdp, &mut euicc, Some(&mid));
    let resp = f.smdp.cancel_session(&CancelSessionRequest {
        transaction_id: tx.clone(),
        cancel_session_response: Base64(euicc.cancel(tx.as_bytes(), "2.999.99", 0)),
    });
    assert_code(&resp.header, sc::INVALID_SMDP_OID);
    let mut forged = euicc.cancel(tx.as_bytes(), &oid, 0);
    let n = forged.len();
    forged[n - 1] ^= 1;
    let resp = f.smdp.cancel_session(&CancelSessionRequest {
        transaction_id: tx.clone(),
        cancel_session_response: Base64(forged),
    });
    assert_code(&resp.header, sc::EUICC_SIGNATURE_INVALID);
    assert_eq!(state(&f.smdp, ICCID_A), ProfileState::Released);

    // End-user rejection ends the order.
    let resp = f.smdp.cancel_session(&CancelSessionRequest {
        transaction_id: tx.clone(),
        cancel_session_response: Base64(euicc.cancel(
            tx.as_bytes(),
            &oid,
            cancel_session_reason::END_USER_REJECTION,
        )),
    });
    assert!(resp.header.is_success());
    let rec = f.smdp.profile(ICCID_A).unwrap().unwrap();
    assert_eq!(rec.state, ProfileState::Error);
}

#[test]
fn initiate_authentication_refusals() {
    let Some(f) = Fixture::new() else { return };
    let euicc = f.euicc(EID_PREFIX);
    // Another SM-DP+'s address.
    let r = f
        .smdp
        .initiate_authentication(&euicc.initiate_request("other.example:8443"));
    assert_code(&r.header, sc::INVALID_SMDP_ADDRESS);
    // Port-less address of this host is accepted.
    let r = f
        .smdp
        .initiate_authentication(&euicc.initiate_request("SMDP.test"));
    assert!(r.header.is_success());
    // An unknown CI.
    let mut req = euicc.initiate_request(ADDRESS);
    req.euicc_info1 = Base64(rsp::es10::encode(&rsp::es10::EuiccInfo1 {
        svn: os(&[2, 2, 0]),
        euicc_ci_pkid_list_for_verification: vec![os(&[0xAB; 20])],
        euicc_ci_pkid_list_for_signing: vec![os(&[0xAB; 20])],
    }));
    assert_code(
        &f.smdp.initiate_authentication(&req).header,
        sc::CI_PKID_NOT_SUPPORTED,
    );
    // SVN 3.
    req.euicc_info1 = Base64(rsp::es10::encode(&rsp::es10::EuiccInfo1 {
        svn: os(&[3, 0, 0]),
        euicc_ci_pkid_list_for_verification: vec![os(&euicc.ci_ski())],
        euicc_ci_pkid_list_for_signing: vec![os(&euicc.ci_ski())],
    }));
    assert_code(
        &f.smdp.initiate_authentication(&req).header,
        sc::SVN_NOT_SUPPORTED,
    );
    // Short challenge.
    let mut req = euicc.initiate_request(ADDRESS);
    req.euicc_challenge = Base64(vec![1, 2, 3]);
    assert_eq!(
        code(&f.smdp.initiate_authentication(&req).header)
            .unwrap()
            .0,
        "1.3.1"
    );
}
