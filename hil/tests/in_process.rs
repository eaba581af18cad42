//! Sans-IO scenario tests: the card core with a store, driven through the same ES10 client the
//! PC/SC test uses, in-process.

#![allow(clippy::unwrap_used)]

use hil::client::{iccid_digits, imsi_digits, Client};
use hil::transport::{ApduTransport, InProcess};
use rand_chacha::rand_core::SeedableRng;
use std::path::PathBuf;
use std::sync::Arc;
use veuicc::card::CardCore;
use veuicc::euicc::{Euicc, EuiccState, SeedOptions};
use veuicc::store::{MemStore, SledStore, Store};

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

fn identity() -> rsp::pki::Identity {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000042").unwrap();
    let nb = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry())
        .unwrap()
        .0
}

fn card(store: Arc<dyn Store>) -> Euicc {
    Euicc::new(EuiccState::open(store, identity(), [9; 32]).unwrap())
}

fn sw(raw: &[u8]) -> u16 {
    u16::from_be_bytes([raw[raw.len() - 2], raw[raw.len() - 1]])
}

const USIM: [u8; 12] = [
    0xA0, 0, 0, 0, 0x87, 0x10, 0x02, 0xFF, 0x49, 0xFF, 0x05, 0x89,
];

#[test]
fn all_ts48_profiles_match_the_oracle_through_es10_and_read_binary() {
    let Some(td) = testdata() else { return };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(td.join("ts48/expected.json")).unwrap()).unwrap();
    let mut e = card(Arc::new(MemStore::default()));
    let mut by_iccid = std::collections::HashMap::new();
    for (file, exp) in expected.as_object().unwrap() {
        let pkg = std::fs::read(td.join("ts48").join(file)).unwrap();
        let iccid = e
            .state_mut()
            .seed_package(&pkg, &SeedOptions::default())
            .unwrap();
        assert_eq!(
            iccid_digits(&iccid),
            exp["iccid"].as_str().unwrap(),
            "{file}"
        );
        by_iccid.insert(iccid, exp.clone());
    }
    let mut c = Client::new(InProcess::new(e));
    c.open_channel().unwrap();
    c.select_isdr().unwrap();
    // 18 profiles make a response far over 256 bytes: 61xx + GET RESPONSE chaining.
    let list = c.profiles(None).unwrap();
    assert_eq!(list.len(), 18);
    for p in &list {
        let iccid = p.iccid.clone().unwrap().to_vec();
        let exp = &by_iccid[&iccid];
        assert_eq!(p.service_provider_name.as_deref(), exp["spn"].as_str());
        assert_eq!(p.profile_name.as_deref(), exp["profile_type"].as_str());
        assert_eq!(p.profile_class.unwrap().0, 2);
    }
    for (iccid, exp) in &by_iccid {
        c.select_isdr().unwrap();
        assert_eq!(c.enable(iccid, true).unwrap(), 0);
        let mut basic = Client::new(c.transport());
        assert_eq!(&basic.read_ef(None, &[0x2FE2]).unwrap(), iccid);
        let aid = hex::decode(exp["usim_aid"].as_str().unwrap()).unwrap();
        let imsi = basic.read_ef(Some(&aid), &[0x6F07]).unwrap();
        assert_eq!(imsi_digits(&imsi).as_deref(), exp["imsi"].as_str());
        let ad = basic.read_ef(Some(&aid), &[0x6FAD]).unwrap();
        assert_eq!(i64::from(ad[3] & 0x0F), exp["mnc_len"].as_i64().unwrap());
        let spn = basic.read_ef(Some(&aid), &[0x6F46]).unwrap();
        let text: String = spn[1..]
            .iter()
            .take_while(|b| **b != 0xFF)
            .map(|b| if *b == 0x11 { '_' } else { *b as char })
            .collect();
        assert_eq!(text, exp["spn"].as_str().unwrap());
    }
}

fn two_profiles(e: &mut Euicc) -> Option<(Vec<u8>, Vec<u8>)> {
    let td = testdata()?;
    let a = std::fs::read(td.join("ts48/TS48V1-A-UNIQUE.der")).unwrap();
    let b = std::fs::read(td.join("ts48/TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der")).unwrap();
    let ia = e
        .state_mut()
        .seed_package(&a, &SeedOptions::default())
        .unwrap();
    let ib = e
        .state_mut()
        .seed_package(&b, &SeedOptions::default())
        .unwrap();
    Some((ia, ib))
}

#[test]
fn lifecycle_rules_and_signed_notifications() {
    let mut e = card(Arc::new(MemStore::default()));
    let Some((a, b)) = two_profiles(&mut e) else {
        return;
    };
    let cert = e.state().identity().euicc_cert.clone();
    let mut c = Client::new(InProcess::new(e));
    c.select_isdr().unwrap();
    assert_eq!(c.disable(&a, false).unwrap(), 2, "not enabled");
    assert_eq!(c.enable(&[0x98; 10], false).unwrap(), 1, "unknown ICCID");
    assert_eq!(c.enable(&a, false).unwrap(), 0);
    assert_eq!(c.enable(&a, false).unwrap(), 2, "already enabled");
    assert_eq!(
        c.delete(&a).unwrap(),
        2,
        "enabled profile cannot be deleted"
    );
    assert_eq!(c.enable(&b, false).unwrap(), 0, "implicitly disables a");
    let states: Vec<i64> = c
        .profiles(None)
        .unwrap()
        .iter()
        .map(|p| p.profile_state.unwrap().0)
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == 1).count(),
        1,
        "one enabled profile"
    );
    assert_eq!(c.delete(&a).unwrap(), 0);
    assert_eq!(c.delete(&a).unwrap(), 1);
    assert_eq!(c.set_nickname(&b, "work").unwrap(), 0);
    assert_eq!(c.set_nickname(&a, "gone").unwrap(), 1);
    assert_eq!(
        c.profiles(None).unwrap()[0].profile_nickname.as_deref(),
        Some("work")
    );

    // enable a; enable b (= disable a + enable b); delete a → 4 notifications, increasing.
    let list = c.list_notifications().unwrap();
    let seqs: Vec<i64> = list.iter().map(|n| n.seq_number).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    let pending = c.retrieve_notifications().unwrap();
    assert_eq!(pending.len(), 4);
    let pk = rsp::pki::cert_public_key(&cert).unwrap();
    for p in &pending {
        let rsp::es10::PendingNotification::OtherSignedNotification(n) = p else {
            panic!("expected OtherSignedNotification");
        };
        let tbs = rsp::es10::encode(&n.tbs_other_notification);
        assert!(rsp::keys::verify_raw(
            &pk,
            &tbs,
            &n.euicc_notification_signature
        ));
        assert_eq!(n.euicc_certificate.as_bytes(), &cert[..]);
    }
    assert_eq!(c.remove_notification(2).unwrap(), 0);
    assert_eq!(c.remove_notification(2).unwrap(), 1);
    assert_eq!(c.list_notifications().unwrap().len(), 3);

    // Default SM-DP+ address and memory reset.
    assert_eq!(c.set_default_dp("smdp.example.org").unwrap(), 0);
    assert_eq!(
        c.configured_addresses()
            .unwrap()
            .default_dp_address
            .as_deref(),
        Some("smdp.example.org")
    );
}

#[test]
fn state_survives_reopen_of_the_sled_store() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b);
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let mut e = card(store);
        let Some(ids) = two_profiles(&mut e) else {
            return;
        };
        (a, b) = ids;
        let mut c = Client::new(InProcess::new(e));
        c.select_isdr().unwrap();
        assert_eq!(c.enable(&b, false).unwrap(), 0);
        assert_eq!(c.set_nickname(&a, "spare").unwrap(), 0);
        // An UPDATE BINARY on the enabled profile is persisted too (EF.LOCI-like write on the
        // USIM's EF.SPN would need ADM; use a PIN1-level file: EF.LOCI 6F7E).
        let mut basic = Client::new(c.transport());
        basic.read_ef(Some(&USIM), &[0x6F7E]).unwrap();
        let r = basic
            .transport()
            .transmit(&[0x00, 0xD6, 0x00, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44])
            .unwrap();
        assert_eq!(sw(&r), 0x9000);
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let e = card(store);
    assert_eq!(e.state().enabled_iccid(), Some(&b[..]));
    let mut c = Client::new(InProcess::new(e));
    let loci = c.read_ef(Some(&USIM), &[0x6F7E]).unwrap();
    assert_eq!(&loci[..4], &[0x11, 0x22, 0x33, 0x44]);
    c.select_isdr().unwrap();
    let p = c.profiles(None).unwrap();
    let pa = p
        .iter()
        .find(|x| x.iccid.as_deref() == Some(&a[..]))
        .unwrap();
    assert_eq!(pa.profile_nickname.as_deref(), Some("spare"));
}

#[test]
fn channels_chaining_and_power_cycle() {
    let mut t = InProcess::new(card(Arc::new(MemStore::default())));
    // Open channels 1..=19 (card-assigned), then the 20th fails.
    for want in 1..=19u8 {
        let r = t.transmit(&[0x00, 0x70, 0x00, 0x00, 0x01]).unwrap();
        assert_eq!(r, vec![want, 0x90, 0x00]);
    }
    assert_eq!(
        sw(&t.transmit(&[0x00, 0x70, 0x00, 0x00, 0x01]).unwrap()),
        0x6A81
    );
    // Extended CLA on channel 19: SELECT ISD-R then GetEID.
    let mut sel = vec![0x4F, 0xA4, 0x04, 0x00, 0x10];
    sel.extend(veuicc::euicc::ISDR_AID);
    sel.push(0x00);
    assert_eq!(sw(&t.transmit(&sel).unwrap()), 0x9000);
    let r = t
        .transmit(&[
            0xCF, 0xE2, 0x91, 0x00, 0x06, 0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A, 0x00,
        ])
        .unwrap();
    assert_eq!(&r[..3], &[0xBF, 0x3E, 0x12]);
    assert_eq!(sw(&r), 0x9000);
    // Close channel 19; commands on it now fail.
    assert_eq!(sw(&t.transmit(&[0x00, 0x70, 0x80, 19]).unwrap()), 0x9000);
    assert_eq!(
        sw(&t
            .transmit(&[0xCF, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x3E, 0x00])
            .unwrap()),
        0x6881
    );
    // Le shorter than the response: 61xx then GET RESPONSE (CLA 80 and 00 accepted).
    let mut sel1 = sel.clone();
    sel1[0] = 0x01;
    assert_eq!(sw(&t.transmit(&sel1).unwrap()), 0x9000);
    let r = t
        .transmit(&[0x81, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x3E, 0x00, 0x08])
        .unwrap();
    assert_eq!(r.len(), 10);
    assert_eq!(sw(&r), 0x610D);
    let r2 = t.transmit(&[0x81, 0xC0, 0x00, 0x00, 0x00]).unwrap();
    assert_eq!(sw(&r2), 0x9000);
    assert_eq!(r2.len(), 15);
    // Power cycle: logical channels are gone.
    let card = t.card();
    card.lock().unwrap().power_off();
    card.lock().unwrap().power_on();
    assert_eq!(
        sw(&t
            .transmit(&[0x81, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x3E, 0x00])
            .unwrap()),
        0x6881
    );
    assert_eq!(
        t.transmit(&[0x00, 0x70, 0x00, 0x00, 0x01]).unwrap(),
        vec![1, 0x90, 0x00]
    );
}

#[test]
fn bad_input_gets_a_status_word_and_changes_nothing() {
    let mut e = card(Arc::new(MemStore::default()));
    let ids = two_profiles(&mut e);
    let mut t = InProcess::new(e);
    let mut sel = vec![0x00, 0xA4, 0x04, 0x00, 0x10];
    sel.extend(veuicc::euicc::ISDR_AID);
    assert_eq!(sw(&t.transmit(&sel).unwrap()), 0x9000);
    let cases: &[(&[u8], u16, &str)] = &[
        (&[0x80], 0x6700, "one byte"),
        (&[0x80, 0xE2, 0x91], 0x6700, "truncated header"),
        (
            &[0x80, 0xE2, 0x91, 0x00, 0x05, 0xBF, 0x3E],
            0x6700,
            "Lc larger than data",
        ),
        (
            &[0x80, 0xE2, 0x91, 0x00, 0x01, 0xBF, 0x3E, 0x00],
            0x6700,
            "Lc smaller than data",
        ),
        (
            &[0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x3E, 0x05],
            0x6A80,
            "TLV length past the end",
        ),
        (
            &[
                0x80, 0xE2, 0x91, 0x00, 0x06, 0xBF, 0x3E, 0x84, 0xFF, 0xFF, 0xFF,
            ],
            0x6A80,
            "oversize length",
        ),
        (
            &[0x80, 0xE2, 0x91, 0x00, 0x04, 0xBF, 0x3E, 0x00, 0x00],
            0x6A80,
            "trailing bytes",
        ),
        (
            &[0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x31, 0x00],
            0x6A80,
            "enable without identifier",
        ),
        (
            &[0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x7F, 0x00],
            0x6A88,
            "unknown function",
        ),
        (
            &[0x80, 0xE2, 0x21, 0x00, 0x03, 0xBF, 0x3E, 0x00],
            0x6A86,
            "bad P1",
        ),
        (
            &[0x80, 0xE2, 0x91, 0x05, 0x03, 0xBF, 0x3E, 0x00],
            0x6A86,
            "block out of order",
        ),
        (
            &[0x00, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x3E, 0x00],
            0x6E00,
            "STORE DATA with CLA 00",
        ),
        (&[0x80, 0x12, 0x00, 0x00], 0x6D00, "unknown INS"),
        (&[0xFF, 0xA4, 0x00, 0x00], 0x6E00, "CLA FF"),
        (
            &[0x00, 0xC0, 0x00, 0x00, 0x00],
            0x6985,
            "GET RESPONSE with nothing pending",
        ),
    ];
    for (apdu, want, what) in cases {
        assert_eq!(sw(&t.transmit(apdu).unwrap()), *want, "{what}");
    }
    let mut deep = vec![0x80, 0x00];
    for _ in 0..40 {
        let mut n = vec![0xA0, deep.len() as u8];
        n.extend(deep);
        deep = n;
    }
    let mut cmd = vec![0xBF, 0x2D, deep.len() as u8];
    cmd.extend(&deep);
    let mut apdu = vec![0x80, 0xE2, 0x91, 0x00, cmd.len() as u8];
    apdu.extend(&cmd);
    assert_eq!(sw(&t.transmit(&apdu).unwrap()), 0x6A80, "deep nesting");
    // Still serving, and nothing changed.
    let mut c = Client::new(t);
    assert_eq!(c.get_eid().unwrap().len(), 16);
    if let Some((a, b)) = ids {
        let p = c.profiles(None).unwrap();
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|x| x.profile_state.unwrap().0 == 0));
        assert!(p.iter().any(|x| x.iccid.as_deref() == Some(&a[..])));
        assert!(p.iter().any(|x| x.iccid.as_deref() == Some(&b[..])));
    }
}

#[test]
fn malformed_packages_are_refused_and_leave_nothing() {
    let Some(td) = testdata() else { return };
    let mut e = card(Arc::new(MemStore::default()));
    let good = std::fs::read(td.join("ts48/TS48V1-A-UNIQUE.der")).unwrap();
    for bad in [
        good[..good.len() / 2].to_vec(),
        vec![0x30, 0x03, 0x01, 0x02, 0x03],
        Vec::new(),
        good[20..].to_vec(),
    ] {
        assert!(e
            .state_mut()
            .seed_package(&bad, &SeedOptions::default())
            .is_err());
    }
    assert_eq!(e.state().profiles().count(), 0);
    let iccid = e
        .state_mut()
        .seed_package(&good, &SeedOptions::default())
        .unwrap();
    let again = e.state_mut().seed_package(&good, &SeedOptions::default());
    assert!(again.is_err(), "same ICCID twice");
    assert_eq!(e.state().profiles().count(), 1);
    assert_eq!(e.state().profiles().next().unwrap().iccid, iccid);
}
