#![allow(clippy::unwrap_used)]
//! The vendor ES10 extension for IMEI binding records (`FF20` GetImeiBinding, `FF21`
//! SetImeiBinding; docs/veuicc.md "Vendor ES10 extensions"): stored per installed profile,
//! read back with or without an ICCID filter, removed with the profile, kept across a reopen
//! of the store; bad input answers a status word and changes nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsp::pki;
use veuicc::card::CardCore;
use veuicc::euicc::records::FORMAT_VERSION;
use veuicc::euicc::{Euicc, EuiccState, ProfileId, SeedOptions, ISDR_AID};
use veuicc::isdr::vendor::{
    self, BindingEntry, BindingEvent, BindingPolicy, BindingStatus, ImeiBindingRecord,
};
use veuicc::store::{MemStore, Store};

fn package(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let p = dir.join("ts48").join(name);
    if !p.is_file() {
        assert!(
            std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "testdata not found at {}",
            p.display()
        );
        println!("SKIPPED: testdata not found");
        return None;
    }
    Some(std::fs::read(p).unwrap())
}

fn open(store: Arc<dyn Store>) -> EuiccState {
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let eid = pki::eid_with_check_digits("890490320000000000000000000042").unwrap();
    let (identity, _ci) = pki::mint_test_pki(
        eid,
        &mut rng,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        pki::not_after_no_expiry(),
    )
    .unwrap();
    EuiccState::open(store, identity, [1; 32]).unwrap()
}

fn record(iccid: &[u8], imei: &str, n: usize) -> ImeiBindingRecord {
    ImeiBindingRecord {
        version: FORMAT_VERSION,
        iccid: iccid.to_vec(),
        policy: BindingPolicy::Exclusive,
        status: BindingStatus::Bound,
        imei: Some(imei.into()),
        history: (0..n)
            .map(|i| BindingEntry {
                imei: imei.into(),
                time: 1_700_000_000 + i as u64,
                event: if i % 2 == 0 {
                    BindingEvent::Enabled
                } else {
                    BindingEvent::Disabled
                },
            })
            .collect(),
    }
}

fn sw(r: &veuicc::apdu::Response) -> u16 {
    r.sw.0
}

fn get(s: &mut EuiccState, iccid: Option<&[u8]>) -> Vec<ImeiBindingRecord> {
    let r = veuicc::isdr::handle(s, &vendor::get_request(iccid));
    assert_eq!(sw(&r), 0x9000);
    vendor::decode_get_response(&r.data).unwrap()
}

fn set(s: &mut EuiccState, rec: &ImeiBindingRecord) -> (u8, Option<ImeiBindingRecord>) {
    let (code, mut recs) = set_many(s, std::slice::from_ref(rec));
    assert!(recs.len() <= 1);
    (code, recs.pop())
}

fn set_many(s: &mut EuiccState, recs: &[ImeiBindingRecord]) -> (u8, Vec<ImeiBindingRecord>) {
    let r = veuicc::isdr::handle(s, &vendor::set_request_many(recs).unwrap());
    assert_eq!(sw(&r), 0x9000);
    vendor::decode_set_response(&r.data).unwrap()
}

const IMEI_A: &str = "490154203237518";
const IMEI_B: &str = "356938035643809";

#[test]
fn stores_and_returns_records_per_profile() {
    let (Some(a), Some(b)) = (
        package("TS48V1-A-UNIQUE.der"),
        package("TS48V1-B-UNIQUE.der"),
    ) else {
        return;
    };
    let mut s = open(Arc::new(MemStore::default()));
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    let ib = s.seed_package(&b, &SeedOptions::default()).unwrap();
    assert!(get(&mut s, None).is_empty(), "no records at first");

    let ra = record(&ia, IMEI_A, 2);
    let (code, echoed) = set(&mut s, &ra);
    assert_eq!(code, vendor::RESULT_OK);
    assert_eq!(echoed.as_ref(), Some(&ra));
    let mut rb = record(&ib, IMEI_B, 0);
    rb.policy = BindingPolicy::Shareable;
    assert_eq!(set(&mut s, &rb).0, vendor::RESULT_OK);

    assert_eq!(get(&mut s, None), vec![ra.clone(), rb.clone()]);
    assert_eq!(get(&mut s, Some(&ib)), vec![rb.clone()]);

    // A second set replaces the record.
    let mut ra2 = record(&ia, IMEI_B, 3);
    ra2.status = BindingStatus::Bound;
    assert_eq!(set(&mut s, &ra2).0, vendor::RESULT_OK);
    assert_eq!(get(&mut s, Some(&ia)), vec![ra2]);
}

#[test]
fn refuses_records_of_profiles_not_installed() {
    let mut s = open(Arc::new(MemStore::default()));
    let iccid = hex::decode("984944999999990920F3").unwrap();
    let (code, rec) = set(&mut s, &record(&iccid, IMEI_A, 1));
    assert_eq!(code, vendor::RESULT_ICCID_NOT_FOUND);
    assert!(rec.is_none());
    assert!(get(&mut s, None).is_empty());
}

#[test]
fn removes_the_record_with_the_profile() {
    let Some(a) = package("TS48V1-A-UNIQUE.der") else {
        return;
    };
    let mut s = open(Arc::new(MemStore::default()));
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    set(&mut s, &record(&ia, IMEI_A, 1));
    s.delete(&ProfileId::Iccid(ia.clone())).unwrap();
    assert!(get(&mut s, None).is_empty());
    // Reinstalled, the profile starts without a record on the card.
    let ia2 = s.seed_package(&a, &SeedOptions::default()).unwrap();
    assert_eq!(ia, ia2);
    assert!(get(&mut s, None).is_empty());
}

#[test]
fn memory_and_factory_reset_remove_records() {
    let Some(a) = package("TS48V1-A-UNIQUE.der") else {
        return;
    };
    let mut s = open(Arc::new(MemStore::default()));
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    set(&mut s, &record(&ia, IMEI_A, 1));
    s.memory_reset(true, true, false).unwrap();
    assert!(get(&mut s, None).is_empty());
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    set(&mut s, &record(&ia, IMEI_A, 1));
    s.factory_reset().unwrap();
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    assert!(get(&mut s, Some(&ia)).is_empty());
}

#[test]
fn records_survive_a_reopen_of_the_store() {
    let Some(a) = package("TS48V1-A-UNIQUE.der") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rec;
    {
        let store: Arc<dyn Store> =
            Arc::new(veuicc::store::SledStore::open(&dir.path().join("db")).unwrap());
        let mut s = open(store);
        let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
        rec = record(&ia, IMEI_A, 5);
        set(&mut s, &rec);
    }
    let store: Arc<dyn Store> =
        Arc::new(veuicc::store::SledStore::open(&dir.path().join("db")).unwrap());
    let mut s = open(store);
    assert_eq!(get(&mut s, None), vec![rec]);
}

#[test]
fn malformed_commands_answer_6a80_and_change_nothing() {
    let Some(a) = package("TS48V1-A-UNIQUE.der") else {
        return;
    };
    let mut s = open(Arc::new(MemStore::default()));
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    let good = record(&ia, IMEI_A, 1);
    set(&mut s, &good);
    let valid = vendor::set_request(&record(&ia, IMEI_B, 2)).unwrap();

    let mut bad: Vec<Vec<u8>> = vec![
        vec![0xFF, 0x21, 0x00],                   // no record
        vec![0xFF, 0x21, 0x05, 0xA0, 0x00],       // length beyond the data
        vec![0xFF, 0x20, 0x03, 0x5A, 0x01, 0x00], // short ICCID filter
        vec![0xFF, 0x20, 0x02, 0x80, 0x00],       // not an ICCID
    ];
    // Truncations and trailing bytes of a valid command.
    for n in [3, 10, valid.len() - 1] {
        bad.push(valid[..n].to_vec());
    }
    let mut trailing = valid.clone();
    trailing.push(0);
    bad.push(trailing);
    // Wrong check digit: flip the last IMEI digit of the current IMEI (82 08 …).
    let pos = valid.windows(2).position(|w| w == [0x82, 0x08]).unwrap();
    let mut flipped = valid.clone();
    flipped[pos + 9] ^= 0x01;
    bad.push(flipped);
    // An unknown member in the record.
    let mut unknown = valid.clone();
    unknown.extend([0x85, 0x00]);
    unknown[2] += 2;
    unknown[4] += 2;
    bad.push(unknown);

    for cmd in bad {
        let r = veuicc::isdr::handle(&mut s, &cmd);
        assert_eq!(sw(&r), 0x6A80, "{}", hex::encode_upper(&cmd));
        assert!(r.data.is_empty());
        assert_eq!(
            get(&mut s, None),
            vec![good.clone()],
            "{}",
            hex::encode_upper(&cmd)
        );
    }
}

#[test]
fn history_is_bounded() {
    let Some(a) = package("TS48V1-A-UNIQUE.der") else {
        return;
    };
    let mut s = open(Arc::new(MemStore::default()));
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    assert_eq!(
        set(&mut s, &record(&ia, IMEI_A, vendor::MAX_HISTORY)).0,
        vendor::RESULT_OK
    );
    let too_long = vendor::set_request(&record(&ia, IMEI_A, vendor::MAX_HISTORY + 1)).unwrap();
    assert_eq!(sw(&veuicc::isdr::handle(&mut s, &too_long)), 0x6A80);
}

/// Through the card core: SELECT ISD-R on a logical channel, the command as several STORE DATA
/// blocks, the response chained with 61xx / GET RESPONSE.
#[test]
fn works_over_store_data_blocks_on_a_logical_channel() {
    let Some(a) = package("TS48V1-A-UNIQUE.der") else {
        return;
    };
    let mut s = open(Arc::new(MemStore::default()));
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    let mut card = Euicc::new(s);
    card.power_on();
    let ch = card.handle(&[0x00, 0x70, 0x00, 0x00, 0x01]);
    assert_eq!(&ch[1..], &[0x90, 0x00]);
    let ch = ch[0];
    let cla = veuicc::apdu::Class::encode(ch, false);
    let sel = veuicc::apdu::build(cla, 0xA4, 0x04, 0x00, &ISDR_AID, Some(256));
    assert_eq!(card.handle(&sel).last(), Some(&0x00));
    let rec = record(&ia, IMEI_A, 40);
    let cmd = vendor::set_request(&rec).unwrap();
    assert!(cmd.len() > 255, "several blocks");
    let blocks = veuicc::isdr::storedata::split(&cmd, 255);
    let mut resp = Vec::new();
    for (p1, p2, data) in &blocks {
        let apdu = veuicc::apdu::build(cla | 0x80, 0xE2, *p1, *p2, data, Some(256));
        resp = card.handle(&apdu);
    }
    let mut data = resp[..resp.len() - 2].to_vec();
    let mut sw = [resp[resp.len() - 2], resp[resp.len() - 1]];
    while sw[0] == 0x61 {
        let r = card.handle(&veuicc::apdu::build(cla, 0xC0, 0, 0, &[], Some(256)));
        data.extend_from_slice(&r[..r.len() - 2]);
        sw = [r[r.len() - 2], r[r.len() - 1]];
    }
    assert_eq!(sw, [0x90, 0x00]);
    let (code, back) = vendor::decode_set_response(&data).unwrap();
    assert_eq!(code, 0);
    assert_eq!(back, vec![rec]);
}

#[test]
fn stores_several_records_all_or_none() {
    let (Some(a), Some(b)) = (
        package("TS48V1-A-UNIQUE.der"),
        package("TS48V1-B-UNIQUE.der"),
    ) else {
        return;
    };
    let mut s = open(Arc::new(MemStore::default()));
    let ia = s.seed_package(&a, &SeedOptions::default()).unwrap();
    let ib = s.seed_package(&b, &SeedOptions::default()).unwrap();
    let (ra, rb) = (record(&ia, IMEI_A, 1), record(&ib, IMEI_B, 2));
    let (code, back) = set_many(&mut s, &[ra.clone(), rb.clone()]);
    assert_eq!(code, vendor::RESULT_OK);
    assert_eq!(back, vec![ra.clone(), rb.clone()]);
    assert_eq!(get(&mut s, None), vec![ra.clone(), rb.clone()]);
    // One profile unknown: nothing of the command is stored.
    let unknown = record(&hex::decode("984944999999990920F3").unwrap(), IMEI_A, 0);
    let (code, back) = set_many(&mut s, &[record(&ia, IMEI_B, 3), unknown]);
    assert_eq!(code, vendor::RESULT_ICCID_NOT_FOUND);
    assert!(back.is_empty());
    assert_eq!(get(&mut s, None), vec![ra.clone(), rb]);
    // The same profile twice, or more than eight records: malformed, nothing stored.
    assert!(vendor::set_request_many(&[ra.clone(), ra.clone()]).is_err());
    let one = vendor::set_request(&ra).unwrap();
    let body = one[3..].to_vec();
    let mut twice = vec![0xFF, 0x21, (body.len() * 2) as u8];
    twice.extend_from_slice(&body);
    twice.extend_from_slice(&body);
    assert_eq!(sw(&veuicc::isdr::handle(&mut s, &twice)), 0x6A80);
    let nine: Vec<ImeiBindingRecord> = (0..9).map(|_| ra.clone()).collect();
    assert!(vendor::set_request_many(&nine).is_err());
    assert_eq!(get(&mut s, Some(&ia)), vec![ra]);
}
