//! More in-process scenarios: eUICCMemoryReset, GetProfilesInfo filters and tag lists, PIN
//! counters across a store reopen, volatile state across power cycles, refresh flags and profile
//! policy rules. ES10 commands are sent as raw bytes through `Client::es10` and the answers are
//! checked both as raw DER and decoded with the `rsp::es10` types.

#![allow(clippy::unwrap_used)]

use hil::client::Client;
use hil::transport::{ApduTransport, InProcess};
use rand_chacha::rand_core::SeedableRng;
use rsp::es10::{self, ProfileInfo, ProfileInfoListResponse};
use rsp::tlv::tlv;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use veuicc::card::CardCore;
use veuicc::euicc::records::{ProfileClass, ProfileRecord};
use veuicc::euicc::{Euicc, EuiccState, SeedOptions};
use veuicc::store::{Batch, MemStore, SledStore, Store, Tree};

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
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000077").unwrap();
    let nb = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry())
        .unwrap()
        .0
}

fn card(store: Arc<dyn Store>) -> Euicc {
    Euicc::new(EuiccState::open(store, identity(), [7; 32]).unwrap())
}

fn sw(raw: &[u8]) -> u16 {
    u16::from_be_bytes([raw[raw.len() - 2], raw[raw.len() - 1]])
}

/// Hex with optional spaces → bytes.
fn hx(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

const OP_PKG: &str = "TS48V1-A-UNIQUE.der";
const TEST_PKG: &str = "TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der";
const PROV_PKG: &str = "TS48V2-SAIP2-1-NOBERTLV-UNIQUE.der";

const USIM: [u8; 12] = [
    0xA0, 0, 0, 0, 0x87, 0x10, 0x02, 0xFF, 0x49, 0xFF, 0x05, 0x89,
];

/// The two ways a reader takes a card's session away: a power cycle and a warm reset.
type PowerEvent = (&'static str, fn(&mut Euicc));

const POWER_EVENTS: [PowerEvent; 2] = [
    ("power off/on", |c| {
        c.power_off();
        c.power_on();
    }),
    ("reset", |c| c.reset()),
];

fn seed(e: &mut Euicc, td: &Path, file: &str, class: ProfileClass) -> Vec<u8> {
    let pkg = std::fs::read(td.join("ts48").join(file)).unwrap();
    e.state_mut()
        .seed_package(
            &pkg,
            &SeedOptions {
                class,
                ..SeedOptions::default()
            },
        )
        .unwrap()
}

fn memory_reset<T: ApduTransport>(c: &mut Client<T>, options: &str) -> i64 {
    let raw = c.es10(&hx(&format!("BF34 04 82 02 {options}"))).unwrap();
    let r: es10::EuiccMemoryResetResponse = es10::decode(&raw).unwrap();
    assert_eq!(raw, tlv(0xBF34, &tlv(0x80, &[r.reset_result as u8])));
    r.reset_result
}

fn profiles_raw<T: ApduTransport>(c: &mut Client<T>, request_body: &[u8]) -> Vec<u8> {
    c.es10(&tlv(0xBF2D, request_body)).unwrap()
}

fn profile_list(raw: &[u8]) -> Vec<ProfileInfo> {
    match es10::decode::<ProfileInfoListResponse>(raw).unwrap() {
        ProfileInfoListResponse::ProfileInfoListOk(l) => l,
        ProfileInfoListResponse::ProfileInfoListError(e) => panic!("ProfileInfoListError {e}"),
    }
}

/// The tags inside each `E3` ProfileInfo of a raw `BF2D{A0{E3…}}` response.
fn info_tags(raw: &[u8]) -> Vec<Vec<u32>> {
    let outer = rsp::tlv::parse_tagged(raw, 0xBF2D).unwrap();
    let a0 = outer.find(0xA0).unwrap().unwrap();
    a0.child_vec()
        .unwrap()
        .iter()
        .map(|e3| {
            assert_eq!(e3.tag.0, 0xE3);
            e3.child_vec().unwrap().iter().map(|t| t.tag.0).collect()
        })
        .collect()
}

#[test]
fn memory_reset_deletes_by_class_and_resets_the_default_smdp_address() {
    let Some(td) = testdata() else { return };
    let mut e = card(Arc::new(MemStore::default()));
    let op = seed(&mut e, &td, OP_PKG, ProfileClass::Operational);
    let test = seed(&mut e, &td, TEST_PKG, ProfileClass::Test);
    let mut c = Client::new(InProcess::new(e));
    c.select_isdr().unwrap();
    assert_eq!(c.enable(&op, false).unwrap(), 0);
    // Leave a persisted UICC update behind on the operational profile (EF.LOCI).
    let mut basic = Client::new(c.transport());
    let loci_orig = basic.read_ef(Some(&USIM), &[0x6F7E]).unwrap();
    let upd = basic
        .transport()
        .transmit(&hx("00 D6 00 00 04 11 22 33 44"))
        .unwrap();
    assert_eq!(sw(&upd), 0x9000);
    assert_ne!(&loci_orig[..4], &[0x11, 0x22, 0x33, 0x44]);
    c.select_isdr().unwrap();
    let notes_before = c.list_notifications().unwrap().len();

    // deleteOperationalProfiles only: the enabled operational profile goes, the test one stays.
    assert_eq!(memory_reset(&mut c, "07 80"), 0);
    let left = c.profiles(None).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].iccid.as_deref(), Some(&test[..]));
    assert_eq!(left[0].profile_class, Some(es10::ProfileClass::TEST));
    assert_eq!(
        c.list_notifications().unwrap().len(),
        notes_before,
        "memory reset creates no notifications"
    );
    // No enabled profile any more: no UICC file system.
    let r = c.transport().transmit(&hx("00 A4 00 04 02 3F 00")).unwrap();
    assert_eq!(sw(&r), 0x6A82);
    c.select_isdr().unwrap();

    // Nothing operational left: nothing to delete (1).
    assert_eq!(memory_reset(&mut c, "07 80"), 1);
    // No default SM-DP+ address set: resetting it is nothing to do either.
    assert_eq!(memory_reset(&mut c, "05 20"), 1);

    // resetDefaultSmdpAddress after SetDefaultDpAddress clears it; the root SM-DS stays.
    assert_eq!(c.set_default_dp("smdp.example.org").unwrap(), 0);
    assert_eq!(memory_reset(&mut c, "05 20"), 0);
    let addrs = c.configured_addresses().unwrap();
    assert_eq!(addrs.default_dp_address, None);
    assert_eq!(addrs.root_ds_address, "lpa.ds.gsma.com");
    assert_eq!(c.profiles(None).unwrap().len(), 1, "test profile untouched");

    // deleteFieldLoadedTestProfiles: the test profile goes.
    assert_eq!(memory_reset(&mut c, "06 40"), 0);
    assert!(c.profiles(None).unwrap().is_empty());
    // All three options, nothing left: 1.
    assert_eq!(memory_reset(&mut c, "05 E0"), 1);

    // The deleted profile's UICC updates went with it: reinstalling the same package and
    // enabling it shows the package's original EF.LOCI.
    let pkg = std::fs::read(td.join("ts48").join(OP_PKG)).unwrap();
    let card = c.transport().card();
    let again = card
        .lock()
        .unwrap()
        .state_mut()
        .seed_package(&pkg, &SeedOptions::default())
        .unwrap();
    assert_eq!(again, op);
    assert_eq!(c.enable(&op, false).unwrap(), 0);
    let mut basic = Client::new(c.transport());
    assert_eq!(basic.read_ef(Some(&USIM), &[0x6F7E]).unwrap(), loci_orig);
}

#[test]
fn get_profiles_info_filters_by_search_criteria_and_returns_only_listed_tags() {
    let Some(td) = testdata() else { return };
    let mut e = card(Arc::new(MemStore::default()));
    let op = seed(&mut e, &td, OP_PKG, ProfileClass::Operational);
    let test = seed(&mut e, &td, TEST_PKG, ProfileClass::Test);
    let prov = seed(&mut e, &td, PROV_PKG, ProfileClass::Provisioning);
    let mut c = Client::new(InProcess::new(e));
    c.select_isdr().unwrap();
    assert_eq!(c.set_nickname(&test, "lab").unwrap(), 0);
    let all = c.profiles(None).unwrap();
    assert_eq!(all.len(), 3);
    let aid_of = |iccid: &[u8]| -> Vec<u8> {
        all.iter()
            .find(|p| p.iccid.as_deref() == Some(iccid))
            .unwrap()
            .isdp_aid
            .clone()
            .unwrap()
            .to_vec()
    };

    // Search by ICCID: BF2D{A0{5A iccid}}.
    let raw = profiles_raw(&mut c, &tlv(0xA0, &tlv(0x5A, &test)));
    let l = profile_list(&raw);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].iccid.as_deref(), Some(&test[..]));
    assert_eq!(l[0].profile_nickname.as_deref(), Some("lab"));

    // Search by ISD-P AID: BF2D{A0{4F aid}}.
    let aid = aid_of(&prov);
    let l = profile_list(&profiles_raw(&mut c, &tlv(0xA0, &tlv(0x4F, &aid))));
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].iccid.as_deref(), Some(&prov[..]));
    assert_eq!(l[0].isdp_aid.as_deref(), Some(&aid[..]));

    // Search by class: test (0), provisioning (1), operational (2).
    for (class, want) in [(0u8, &test), (1, &prov), (2, &op)] {
        let l = profile_list(&profiles_raw(&mut c, &tlv(0xA0, &tlv(0x95, &[class]))));
        assert_eq!(l.len(), 1, "class {class}");
        assert_eq!(l[0].iccid.as_deref(), Some(&want[..]), "class {class}");
        assert_eq!(l[0].profile_class.unwrap().0, i64::from(class));
    }

    // No match: an empty list, BF2D 02 A0 00.
    let raw = profiles_raw(&mut c, &tlv(0xA0, &tlv(0x5A, &[0x98; 10])));
    assert_eq!(raw, hx("BF2D 02 A0 00"));
    let raw = profiles_raw(&mut c, &tlv(0xA0, &tlv(0x4F, &[0xA0; 16])));
    assert_eq!(raw, hx("BF2D 02 A0 00"));

    // Tag list 5A 9F70: ICCID and state only, for every profile, in DER order.
    let raw = profiles_raw(&mut c, &hx("5C 03 5A 9F 70"));
    assert_eq!(info_tags(&raw), vec![vec![0x5A, 0x9F70]; 3]);
    for p in profile_list(&raw) {
        assert!(p.iccid.is_some() && p.profile_state.is_some());
        assert_eq!(
            p,
            ProfileInfo {
                iccid: p.iccid.clone(),
                profile_state: p.profile_state,
                ..ProfileInfo::default()
            }
        );
    }

    // Search and tag list together: the exact DER, BF2D{A0{E3{5A iccid, 9F70 00}}}.
    let mut req = tlv(0xA0, &tlv(0x5A, &op));
    req.extend(hx("5C 03 5A 9F 70"));
    let raw = profiles_raw(&mut c, &req);
    let mut e3 = tlv(0x5A, &op);
    e3.extend(hx("9F70 01 00"));
    assert_eq!(raw, tlv(0xBF2D, &tlv(0xA0, &tlv(0xE3, &e3))));

    // Tag list with the nickname only: present where set, an empty E3 elsewhere.
    let raw = profiles_raw(&mut c, &hx("5C 01 90"));
    let l = profile_list(&raw);
    let tags = info_tags(&raw);
    for (p, t) in l.iter().zip(&tags) {
        if p.profile_nickname.is_some() {
            assert_eq!(t, &vec![0x90]);
        } else {
            assert!(t.is_empty(), "{t:X?}");
        }
    }
    assert_eq!(tags.iter().filter(|t| !t.is_empty()).count(), 1);

    // Class, SPN, name: exactly those tags (SGP.22 order 91, 92, 95).
    let raw = profiles_raw(&mut c, &hx("5C 03 95 92 91"));
    assert_eq!(info_tags(&raw), vec![vec![0x91, 0x92, 0x95]; 3]);

    // An empty tag list: empty ProfileInfo for each profile.
    let raw = profiles_raw(&mut c, &hx("5C 00"));
    assert_eq!(raw, hx("BF2D 08 A0 06 E3 00 E3 00 E3 00"));

    // Search by class plus a tag list for ISD-P AID and class.
    let mut req = tlv(0xA0, &tlv(0x95, &[1]));
    req.extend(hx("5C 02 4F 95"));
    let raw = profiles_raw(&mut c, &req);
    let mut e3 = tlv(0x4F, &aid);
    e3.extend(hx("95 01 01"));
    assert_eq!(raw, tlv(0xBF2D, &tlv(0xA0, &tlv(0xE3, &e3))));
}

/// PIN1's value as the TS.48 package defines it (8 bytes, FF-padded).
fn pin1_value(td: &Path) -> Vec<u8> {
    let pkg = std::fs::read(td.join("ts48").join(OP_PKG)).unwrap();
    let p = veuicc::profile::saip::parse_package(&pkg).unwrap();
    let pin = p.pins.iter().find(|d| d.key_ref == 0x01).unwrap();
    pin.value.expose().to_vec()
}

#[test]
fn pin_retry_counter_survives_reopening_the_sled_store() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let verify_wrong = hx("00 20 00 01 08 39 39 39 39 FF FF FF FF");
    let status = hx("00 20 00 01");
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
        let mut e = card(store);
        let iccid = seed(&mut e, &td, OP_PKG, ProfileClass::Operational);
        let mut c = Client::new(InProcess::new(e));
        c.select_isdr().unwrap();
        assert_eq!(c.enable(&iccid, false).unwrap(), 0);
        let t = c.transport();
        assert_eq!(
            sw(&t.transmit(&hx("00 A4 00 0C 02 3F 00")).unwrap()),
            0x9000
        );
        // TS.48 ships PIN1 disabled (no verification required): enable it with its value.
        assert_eq!(sw(&t.transmit(&status).unwrap()), 0x9000, "PIN1 disabled");
        let mut enable_pin = hx("00 28 00 01 08");
        enable_pin.extend(pin1_value(&td));
        assert_eq!(sw(&t.transmit(&enable_pin).unwrap()), 0x9000);
        // ENABLE PIN verified it as well (TS 102 221 §11.1.12).
        assert_eq!(sw(&t.transmit(&status).unwrap()), 0x9000, "PIN1 verified");
        let card = t.card();
        assert_eq!(sw(&t.transmit(&verify_wrong).unwrap()), 0x63C2);
        assert_eq!(sw(&t.transmit(&verify_wrong).unwrap()), 0x63C1);
        // A power cycle keeps the counter (it is persistent, not session state).
        card.lock().unwrap().power_off();
        card.lock().unwrap().power_on();
        assert_eq!(sw(&t.transmit(&status).unwrap()), 0x63C1);
    }
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let mut t = InProcess::new(card(store));
    assert_eq!(
        sw(&t.transmit(&hx("00 A4 00 0C 02 3F 00")).unwrap()),
        0x9000
    );
    assert_eq!(
        sw(&t.transmit(&status).unwrap()),
        0x63C1,
        "counter after reopen"
    );
    // The last try blocks PIN1, and that survives another reopen too.
    assert_eq!(sw(&t.transmit(&verify_wrong).unwrap()), 0x63C0);
    assert_eq!(sw(&t.transmit(&status).unwrap()), 0x6983);
    drop(t);
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let mut t = InProcess::new(card(store));
    assert_eq!(
        sw(&t.transmit(&hx("00 A4 00 0C 02 3F 00")).unwrap()),
        0x9000
    );
    assert_eq!(
        sw(&t.transmit(&status).unwrap()),
        0x6983,
        "blocked after reopen"
    );
}

#[test]
fn power_off_and_reset_drop_partial_store_data_pending_responses_and_the_challenge() {
    let Some(td) = testdata() else { return };
    let mut e = card(Arc::new(MemStore::default()));
    for f in [OP_PKG, TEST_PKG, PROV_PKG] {
        seed(&mut e, &td, f, ProfileClass::Operational);
    }
    let mut t = InProcess::new(e);
    let card = t.card();
    let mut sel = hx("00 A4 04 00 10");
    sel.extend(veuicc::euicc::ISDR_AID);
    for (what, cycle) in POWER_EVENTS {
        // First block of a two-block GetEID (P1 11, block 0), then the power event.
        assert_eq!(sw(&t.transmit(&sel).unwrap()), 0x9000);
        assert_eq!(
            sw(&t.transmit(&hx("80 E2 11 00 02 BF 3E")).unwrap()),
            0x9000,
            "{what}"
        );
        cycle(&mut card.lock().unwrap());
        // After the event the ISD-R is no longer selected on channel 0 (back to the MF).
        let r = t.transmit(&hx("80 E2 91 01 01 00")).unwrap();
        assert_eq!(sw(&r), 0x6D00, "{what}: STORE DATA goes to the MF now");
        assert_eq!(sw(&t.transmit(&sel).unwrap()), 0x9000);
        // The second block alone is out of order: the first was dropped.
        let r = t.transmit(&hx("80 E2 91 01 01 00")).unwrap();
        assert_eq!(sw(&r), 0x6A86, "{what}: partial STORE DATA forgotten");
        // A fresh one-block command works.
        let r = t.transmit(&hx("80 E2 91 00 03 BF 3E 00 00")).unwrap();
        assert_eq!(&r[..3], &[0xBF, 0x3E, 0x12], "{what}");
        assert_eq!(sw(&r), 0x9000);

        // A long response with a short Le leaves data pending (61xx) …
        let r = t.transmit(&hx("80 E2 91 00 03 BF 2D 00 10")).unwrap();
        assert_eq!(r.len(), 0x10 + 2);
        assert_eq!(r[r.len() - 2], 0x61, "{what}");
        // … the power event drops it: GET RESPONSE has nothing to return.
        cycle(&mut card.lock().unwrap());
        assert_eq!(
            sw(&t.transmit(&hx("00 C0 00 00 00")).unwrap()),
            0x6985,
            "{what}: pending GET RESPONSE data forgotten"
        );

        // The eUICC challenge is session state too.
        assert_eq!(sw(&t.transmit(&sel).unwrap()), 0x9000);
        let r = t.transmit(&hx("80 E2 91 00 03 BF 2E 00 00")).unwrap();
        assert_eq!(sw(&r), 0x9000);
        let challenge = card.lock().unwrap().state().challenge().unwrap();
        assert_eq!(&r[r.len() - 18..r.len() - 2], &challenge[..]);
        cycle(&mut card.lock().unwrap());
        assert_eq!(card.lock().unwrap().state().challenge(), None, "{what}");
    }
}

#[test]
fn enable_and_disable_accept_either_refresh_flag() {
    let Some(td) = testdata() else { return };
    let mut e = card(Arc::new(MemStore::default()));
    let a = seed(&mut e, &td, OP_PKG, ProfileClass::Operational);
    let b = seed(&mut e, &td, TEST_PKG, ProfileClass::Operational);
    let mut c = Client::new(InProcess::new(e));
    c.select_isdr().unwrap();
    let enable = |iccid: &[u8], flag: Option<u8>| {
        let mut body = tlv(0xA0, &tlv(0x5A, iccid));
        if let Some(f) = flag {
            body.extend(tlv(0x81, &[f]));
        }
        tlv(0xBF31, &body)
    };
    let disable = |iccid: &[u8], flag: u8| {
        let mut body = tlv(0xA0, &tlv(0x5A, iccid));
        body.extend(tlv(0x81, &[flag]));
        tlv(0xBF32, &body)
    };
    let state_of = |c: &mut Client<InProcess<Euicc>>, iccid: &[u8]| -> i64 {
        c.profiles(None)
            .unwrap()
            .iter()
            .find(|p| p.iccid.as_deref() == Some(iccid))
            .unwrap()
            .profile_state
            .unwrap()
            .0
    };
    // refreshFlag TRUE (FF).
    assert_eq!(
        c.es10(&enable(&a, Some(0xFF))).unwrap(),
        hx("BF31 03 80 01 00")
    );
    assert_eq!(state_of(&mut c, &a), 1);
    // refreshFlag FALSE (00): switches to b.
    assert_eq!(
        c.es10(&enable(&b, Some(0x00))).unwrap(),
        hx("BF31 03 80 01 00")
    );
    assert_eq!(state_of(&mut c, &a), 0);
    assert_eq!(state_of(&mut c, &b), 1);
    // BER TRUE as 01 (some LPAs) and a missing flag are accepted too.
    assert_eq!(
        c.es10(&enable(&a, Some(0x01))).unwrap(),
        hx("BF31 03 80 01 00")
    );
    assert_eq!(c.es10(&enable(&b, None)).unwrap(), hx("BF31 03 80 01 00"));
    assert_eq!(state_of(&mut c, &b), 1);
    // The UICC follows every switch.
    let mut basic = Client::new(c.transport());
    assert_eq!(basic.read_ef(None, &[0x2FE2]).unwrap(), b);
    c.select_isdr().unwrap();
    // Disable with each flag.
    assert_eq!(c.es10(&disable(&b, 0xFF)).unwrap(), hx("BF32 03 80 01 00"));
    assert_eq!(
        c.es10(&enable(&a, Some(0x00))).unwrap(),
        hx("BF31 03 80 01 00")
    );
    assert_eq!(c.es10(&disable(&a, 0x00)).unwrap(), hx("BF32 03 80 01 00"));
    assert_eq!(c.es10(&disable(&a, 0x00)).unwrap(), hx("BF32 03 80 01 02"));
    assert_eq!(state_of(&mut c, &a), 0);
    assert_eq!(state_of(&mut c, &b), 0);
}

/// Sets the PPR flags of a stored profile record directly in the store (no ES10 or seeding
/// option sets them before profile download exists).
fn set_pprs(store: &dyn Store, iccid: &[u8], ppr1: bool, ppr2: bool) {
    let raw = store.get(Tree::Profiles, iccid).unwrap().unwrap();
    let mut rec: ProfileRecord = serde_json::from_slice(&raw).unwrap();
    rec.ppr1 = ppr1;
    rec.ppr2 = ppr2;
    let mut b = Batch::new();
    b.put(
        Tree::Profiles,
        iccid.to_vec(),
        serde_json::to_vec(&rec).unwrap(),
    );
    store.commit(b).unwrap();
}

#[test]
fn profile_policy_rules_block_disable_switch_and_delete() {
    let Some(td) = testdata() else { return };
    let store: Arc<dyn Store> = Arc::new(MemStore::default());
    let (a, b) = {
        let mut e = card(store.clone());
        (
            seed(&mut e, &td, OP_PKG, ProfileClass::Operational),
            seed(&mut e, &td, TEST_PKG, ProfileClass::Operational),
        )
    };
    set_pprs(&*store, &a, true, false);
    set_pprs(&*store, &b, false, true);
    let mut c = Client::new(InProcess::new(card(store.clone())));
    c.select_isdr().unwrap();

    // GetProfilesInfo reports the rules: 99 with PPR1 (bit 1) / PPR2 (bit 2).
    let mut req = tlv(0xA0, &tlv(0x5A, &a));
    req.extend(hx("5C 01 99"));
    assert_eq!(
        profiles_raw(&mut c, &req),
        hx("BF2D 08 A0 06 E3 04 99 02 06 40")
    );
    let mut req = tlv(0xA0, &tlv(0x5A, &b));
    req.extend(hx("5C 01 99"));
    assert_eq!(
        profiles_raw(&mut c, &req),
        hx("BF2D 08 A0 06 E3 04 99 02 05 20")
    );

    // PPR1: enabling is fine, disabling is not, nor is switching away from it.
    assert_eq!(c.enable(&a, false).unwrap(), 0);
    let notes = c.list_notifications().unwrap().len();
    assert_eq!(c.disable(&a, false).unwrap(), 3, "disable with PPR1");
    assert_eq!(c.enable(&b, false).unwrap(), 3, "switch away from PPR1");
    assert_eq!(c.enable(&a, false).unwrap(), 2, "already enabled");
    assert_eq!(c.delete(&a).unwrap(), 2, "enabled: wrong state first");
    // PPR2: the disabled profile b cannot be deleted.
    assert_eq!(c.delete(&b).unwrap(), 3, "delete with PPR2");
    assert_eq!(
        c.list_notifications().unwrap().len(),
        notes,
        "refused operations create no notifications"
    );
    let p = c.profiles(None).unwrap();
    assert_eq!(p.len(), 2);
    let state = |i: &[u8]| {
        p.iter()
            .find(|x| x.iccid.as_deref() == Some(i))
            .unwrap()
            .profile_state
            .unwrap()
            .0
    };
    assert_eq!((state(&a), state(&b)), (1, 0));
    let mut basic = Client::new(c.transport());
    assert_eq!(basic.read_ef(None, &[0x2FE2]).unwrap(), a);

    // Without the rules (rewritten in the store, card reopened) the same operations succeed.
    drop(c);
    set_pprs(&*store, &a, false, false);
    set_pprs(&*store, &b, false, false);
    let mut c = Client::new(InProcess::new(card(store)));
    c.select_isdr().unwrap();
    assert_eq!(c.disable(&a, false).unwrap(), 0);
    assert_eq!(c.delete(&b).unwrap(), 0);
}

/// PIN verification is volatile (TS 102 221 §9.5: a reset or power-off loses it; pcscd
/// power-cycles the card between client sessions): after ENABLE/VERIFY PIN1, a power cycle or
/// a warm reset must require PIN1 again, for the status query and for file access.
#[test]
fn pin_verification_is_lost_on_power_cycle_and_reset() {
    let Some(td) = testdata() else { return };
    let mut e = card(Arc::new(MemStore::default()));
    let iccid = seed(&mut e, &td, OP_PKG, ProfileClass::Operational);
    let mut c = Client::new(InProcess::new(e));
    c.select_isdr().unwrap();
    assert_eq!(c.enable(&iccid, false).unwrap(), 0);
    let t = c.transport();
    let card = t.card();
    let status = hx("00 20 00 01");
    let mut select_imsi = hx("00 A4 04 0C 0C");
    select_imsi.extend(USIM);
    let read_imsi = [hx("00 A4 00 0C 02 6F 07"), hx("00 B0 00 00 09")];
    assert_eq!(
        sw(&t.transmit(&hx("00 A4 00 0C 02 3F 00")).unwrap()),
        0x9000
    );
    let mut enable_pin = hx("00 28 00 01 08");
    enable_pin.extend(pin1_value(&td));
    assert_eq!(sw(&t.transmit(&enable_pin).unwrap()), 0x9000);
    assert_eq!(
        sw(&t.transmit(&status).unwrap()),
        0x9000,
        "verified by ENABLE"
    );
    for (what, cycle) in POWER_EVENTS {
        cycle(&mut card.lock().unwrap());
        assert_eq!(
            sw(&t.transmit(&hx("00 A4 00 0C 02 3F 00")).unwrap()),
            0x9000
        );
        assert_eq!(
            sw(&t.transmit(&status).unwrap()),
            0x63C3,
            "{what}: PIN1 must be verified again"
        );
        assert_eq!(sw(&t.transmit(&select_imsi).unwrap()), 0x9000);
        assert_eq!(sw(&t.transmit(&read_imsi[0]).unwrap()), 0x9000);
        assert_eq!(
            sw(&t.transmit(&read_imsi[1]).unwrap()),
            0x6982,
            "{what}: EF.IMSI needs PIN1"
        );
        let mut verify = hx("00 20 00 01 08");
        verify.extend(pin1_value(&td));
        assert_eq!(sw(&t.transmit(&verify).unwrap()), 0x9000);
        assert_eq!(sw(&t.transmit(&read_imsi[1]).unwrap()), 0x9000, "{what}");
    }
}
