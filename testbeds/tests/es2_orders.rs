//! ES2+ on the SM-DP+ core: the profile state machine (downloadOrder → confirmOrder →
//! releaseProfile / cancelOrder), its refusals, expiry, and persistence in sled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use testbeds::es2::{
    status_codes as c, CancelOrderRequest, ConfirmOrderRequest, DownloadOrderRequest,
    ReleaseProfileRequest,
};
use testbeds::store::{ProfileState, Store};

fn state(f: &Fixture, iccid: &str) -> ProfileState {
    f.smdp.profile(iccid).unwrap().unwrap().state
}

fn by_type(t: &str, eid: Option<&str>) -> DownloadOrderRequest {
    DownloadOrderRequest {
        profile_type: Some(t.into()),
        eid: eid.map(Into::into),
        ..Default::default()
    }
}

const EID: &str = "89049032000000000000000000000148";

#[test]
fn order_confirm_release_cancel() {
    let Some(f) = Fixture::new() else { return };
    // By type: the first available profile, allocated.
    let d = f.smdp.download_order(&by_type("ts48", None));
    assert!(d.header.is_success(), "{:?}", d.header);
    let iccid = d.iccid.unwrap();
    assert_eq!(iccid, ICCID_A);
    assert_eq!(state(&f, ICCID_A), ProfileState::Allocated);
    // With an EID: linked.
    let d = f.smdp.download_order(&by_type("ts48", Some(EID)));
    assert_eq!(d.iccid.as_deref(), Some(ICCID_B));
    assert_eq!(state(&f, ICCID_B), ProfileState::Linked);
    // Type exhausted.
    let d = f.smdp.download_order(&by_type("ts48", None));
    assert_code(&d.header, c::PROFILE_TYPE_EXHAUSTED);

    // Confirm without release, with a generated matching ID.
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_A.into(),
        release_flag: false,
        ..Default::default()
    });
    assert!(cfm.header.is_success(), "{:?}", cfm.header);
    let mid = cfm.matching_id.unwrap();
    assert_eq!(mid.len(), 23);
    assert_eq!(cfm.smdp_address.as_deref(), Some(ADDRESS));
    assert_eq!(state(&f, ICCID_A), ProfileState::Confirmed);
    // A second confirmation is an invalid transition.
    let again = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_A.into(),
        release_flag: true,
        ..Default::default()
    });
    assert_code(&again.header, c::INVALID_TRANSITION);
    // Release.
    let rel = f.smdp.release_profile(&ReleaseProfileRequest {
        iccid: ICCID_A.into(),
        ..Default::default()
    });
    assert!(rel.header.is_success());
    assert_eq!(state(&f, ICCID_A), ProfileState::Released);
    let rel = f.smdp.release_profile(&ReleaseProfileRequest {
        iccid: ICCID_A.into(),
        ..Default::default()
    });
    assert_code(&rel.header, c::INVALID_TRANSITION);

    // The linked one: its matching ID may not be taken twice, its EID not changed.
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_B.into(),
        matching_id: Some(mid.clone()),
        release_flag: true,
        ..Default::default()
    });
    assert_code(&cfm.header, c::MATCHING_ID_IN_USE);
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_B.into(),
        eid: Some("89049032000000000000000000000999".into()),
        release_flag: true,
        ..Default::default()
    });
    assert_code(&cfm.header, c::EID_MISMATCH);
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_B.into(),
        matching_id: Some("has space".into()),
        release_flag: true,
        ..Default::default()
    });
    assert_code(&cfm.header, c::MATCHING_ID_INVALID);
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_B.into(),
        matching_id: Some("MY-ID-1".into()),
        confirmation_code: Some("1234".into()),
        release_flag: true,
        ..Default::default()
    });
    assert!(cfm.header.is_success());
    assert_eq!(cfm.eid.as_deref(), Some(EID));
    let rec = f.smdp.profile(ICCID_B).unwrap().unwrap();
    let order = rec.order.unwrap();
    assert!(order.cc_hash.is_some());
    assert!(!order.cc_hash.unwrap().contains("1234"));

    // Cancel: wrong matching ID, wrong EID, bad indicator; then for real.
    let cancel = |mid: Option<&str>, eid: Option<&str>, fin: &str| {
        f.smdp.cancel_order(&CancelOrderRequest {
            iccid: ICCID_B.into(),
            matching_id: mid.map(Into::into),
            eid: eid.map(Into::into),
            final_profile_status_indicator: fin.into(),
            ..Default::default()
        })
    };
    assert_code(
        &cancel(Some("OTHER"), None, "Available").header,
        c::MATCHING_ID_MISMATCH,
    );
    assert_code(
        &cancel(None, Some("89049032000000000000000000000999"), "Available").header,
        c::EID_MISMATCH,
    );
    assert_code(
        &cancel(Some("MY-ID-1"), None, "Gone").header,
        c::ICCID_OR_STATUS_MISSING,
    );
    assert!(cancel(Some("MY-ID-1"), Some(EID), "Available")
        .header
        .is_success());
    assert_eq!(state(&f, ICCID_B), ProfileState::Available);
    assert!(f.smdp.store().matching("MY-ID-1").unwrap().is_none());
    assert_code(
        &cancel(None, None, "Available").header,
        c::INVALID_TRANSITION,
    );

    // Withdrawn for good.
    let cancel_a = f.smdp.cancel_order(&CancelOrderRequest {
        iccid: ICCID_A.into(),
        final_profile_status_indicator: "Unavailable".into(),
        ..Default::default()
    });
    assert!(cancel_a.header.is_success());
    assert_eq!(state(&f, ICCID_A), ProfileState::Unavailable);
    let d = f.smdp.download_order(&DownloadOrderRequest {
        iccid: Some(ICCID_A.into()),
        ..Default::default()
    });
    assert_code(&d.header, c::ICCID_NOT_AVAILABLE);
}

#[test]
fn download_order_refusals() {
    let Some(f) = Fixture::new() else { return };
    let d = f.smdp.download_order(&DownloadOrderRequest::default());
    assert_code(&d.header, c::PROFILE_TYPE_MISSING);
    let d = f.smdp.download_order(&by_type("nope", None));
    assert_code(&d.header, c::PROFILE_TYPE_UNKNOWN);
    let d = f.smdp.download_order(&by_type("ts48", Some("1234")));
    assert_code(&d.header, c::EID_INVALID);
    let d = f.smdp.download_order(&DownloadOrderRequest {
        iccid: Some("8949449999999990999".into()),
        ..Default::default()
    });
    assert_code(&d.header, c::ICCID_UNKNOWN);
    let d = f.smdp.download_order(&DownloadOrderRequest {
        iccid: Some("89494499999999900X".into()),
        ..Default::default()
    });
    assert_code(&d.header, c::ICCID_INVALID);
    let d = f.smdp.download_order(&DownloadOrderRequest {
        iccid: Some(ICCID_A.into()),
        profile_type: Some("other".into()),
        ..Default::default()
    });
    assert_code(&d.header, c::PROFILE_TYPE_MISMATCH);
    // The ICCID may carry its F filler.
    let d = f.smdp.download_order(&DownloadOrderRequest {
        iccid: Some(format!("{ICCID_A}F")),
        ..Default::default()
    });
    assert!(d.header.is_success());
    let d = f.smdp.download_order(&DownloadOrderRequest {
        iccid: Some(ICCID_A.into()),
        ..Default::default()
    });
    assert_code(&d.header, c::ICCID_NOT_AVAILABLE);
    // Unknown ICCID on the other functions.
    let r = f.smdp.release_profile(&ReleaseProfileRequest {
        iccid: "8949449999999990999".into(),
        ..Default::default()
    });
    assert_code(&r.header, c::ICCID_UNKNOWN);
    // Empty matching ID without an EID; SM-DS registration.
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_A.into(),
        matching_id: Some(String::new()),
        release_flag: true,
        ..Default::default()
    });
    assert_code(&cfm.header, c::EID_MISSING);
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: ICCID_A.into(),
        smds_address: Some("smds.example".into()),
        release_flag: true,
        ..Default::default()
    });
    assert_code(&cfm.header, c::SMDS_INACCESSIBLE);
}

#[test]
fn expired_order() {
    let Some(f) = Fixture::new() else { return };
    let d = f.smdp.download_order(&by_type("ts48", None));
    let iccid = d.iccid.unwrap();
    f.clock.advance(Duration::from_secs(8 * 86_400));
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: iccid.clone(),
        release_flag: true,
        ..Default::default()
    });
    assert_code(&cfm.header, c::ORDER_EXPIRED);
    // The operator frees it.
    let cancel = f.smdp.cancel_order(&CancelOrderRequest {
        iccid,
        final_profile_status_indicator: "Available".into(),
        ..Default::default()
    });
    assert!(cancel.header.is_success());
}

#[test]
fn wrong_matching_id_at_authentication() {
    let Some(f) = Fixture::new() else { return };
    let d = f.smdp.download_order(&by_type("ts48", None));
    let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
        iccid: d.iccid.unwrap(),
        matching_id: Some("RIGHT-ONE".into()),
        release_flag: true,
        ..Default::default()
    });
    assert!(cfm.header.is_success());
    let mut euicc = f.euicc("890490320000000000000000000001");
    let (_, auth) = authenticate(&f.smdp, &mut euicc, Some("WRONG-ONE"));
    assert_code(&auth.header, rsp::es9::status_codes::MATCHING_ID_REFUSED);
    let (_, auth) = authenticate(&f.smdp, &mut euicc, Some("RIGHT-ONE"));
    assert!(auth.header.is_success(), "{:?}", auth.header);
}

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mid = {
        let Some(f) = Fixture::with_store(Store::open(dir.path()).unwrap()) else {
            return;
        };
        let d = f.smdp.download_order(&by_type("ts48", Some(EID)));
        assert!(d.header.is_success());
        let cfm = f.smdp.confirm_order(&ConfirmOrderRequest {
            iccid: ICCID_A.into(),
            release_flag: true,
            ..Default::default()
        });
        cfm.matching_id.unwrap()
    };
    let store = Store::open(dir.path()).unwrap();
    let rec = store.profile(ICCID_A).unwrap().unwrap();
    assert_eq!(rec.state, ProfileState::Released);
    assert_eq!(rec.order.unwrap().eid.as_deref(), Some(EID));
    assert_eq!(store.matching(&mid).unwrap().as_deref(), Some(ICCID_A));
    assert_eq!(store.profiles().unwrap().len(), 2);
    // Adding the same packages again keeps the state.
    let f = Fixture::with_store(store).unwrap();
    assert_eq!(state(&f, ICCID_A), ProfileState::Released);
    // Another package under a known ICCID is refused.
    let mut other = ts48(PKG_B).unwrap();
    let swapped = testbeds::smdp::iccid_to_swapped(ICCID_B).unwrap();
    let header_iccid: Vec<u8> = swapped.iter().map(|b| b.rotate_left(4)).collect();
    let pos = other
        .windows(10)
        .position(|w| w == header_iccid.as_slice())
        .unwrap();
    let a_header: Vec<u8> = testbeds::smdp::iccid_to_swapped(ICCID_A)
        .unwrap()
        .iter()
        .map(|b| b.rotate_left(4))
        .collect();
    other[pos..pos + 10].copy_from_slice(&a_header);
    assert!(f.smdp.add_profile(other, meta("x")).is_err());
}
