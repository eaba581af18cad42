//! In-process cost of the card core per command (no transport): `cargo bench -p veuicc --bench card`.
//!
//! Prints median / p99 per command over N runs (env `CARD_BENCH_N`, default 20000) and the ratio
//! to the trivial no-op card measured in the same run. Target (issue 2): ES10c commands under
//! 20 µs. Profiles are seeded from the TS.48 test data (`VEUICC_TESTDATA`, default
//! `../shared/testdata` beside the checkout).

use rand_chacha::rand_core::SeedableRng;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use veuicc::apdu::build;
use veuicc::card::CardCore;
use veuicc::euicc::{Euicc, EuiccState, SeedOptions, ISDR_AID};
use veuicc::isdr::storedata::split;
use veuicc::store::{MemStore, SledStore, Store};
use veuicc::vpcd::NoopCard;

fn testdata() -> PathBuf {
    std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"))
}

fn card(store: Arc<dyn Store>, profiles: usize) -> (Euicc, Vec<Vec<u8>>) {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000077").expect("eid");
    let nb = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let (identity, _) =
        rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry()).expect("pki");
    let mut e = Euicc::new(EuiccState::open(store, identity, [1; 32]).expect("state"));
    let mut files: Vec<_> = std::fs::read_dir(testdata().join("ts48"))
        .expect("TS.48 test data (set VEUICC_TESTDATA)")
        .filter_map(|f| f.ok().map(|f| f.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "der"))
        .collect();
    files.sort();
    let mut iccids = Vec::new();
    for f in files.iter().take(profiles) {
        let pkg = std::fs::read(f).expect("read package");
        iccids.push(
            e.state_mut()
                .seed_package(&pkg, &SeedOptions::default())
                .expect("seed"),
        );
    }
    e.power_on();
    (e, iccids)
}

struct Stats {
    median: Duration,
    p99: Duration,
}

fn measure(n: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..n.min(1000) {
        f();
    }
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    Stats {
        median: t[t.len() / 2],
        p99: t[t.len() * 99 / 100],
    }
}

fn es10(cmd: &[u8]) -> Vec<u8> {
    let (p1, p2, d) = split(cmd, 255).remove(0);
    build(0x80, 0xE2, p1, p2, &d, Some(256))
}

fn report(name: &str, s: &Stats, base: &Stats) {
    println!(
        "{name:<44} median {:>9.2?}  p99 {:>9.2?}  ratio to no-op {:>7.1}x",
        s.median,
        s.p99,
        s.median.as_secs_f64() / base.median.as_secs_f64().max(1e-9)
    );
}

fn main() {
    let n: usize = std::env::var("CARD_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut noop = NoopCard::new();
    let get_eid = es10(&[0xBF, 0x3E, 0x03, 0x5C, 0x01, 0x5A]);
    let base = measure(n, || {
        std::hint::black_box(noop.handle(&get_eid));
    });
    report("no-op card (baseline)", &base, &base);

    let mut sel = build(0x00, 0xA4, 0x04, 0x00, &ISDR_AID, Some(256));
    let (mut e, iccids) = card(Arc::new(MemStore::default()), 18);
    assert_eq!(&e.handle(&sel)[e.handle(&sel).len() - 2..], &[0x90, 0x00]);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("GetEID (BF3E)", get_eid.clone()),
        ("GetEUICCInfo1 (BF20)", es10(&[0xBF, 0x20, 0x00])),
        ("GetEUICCInfo2 (BF22)", es10(&[0xBF, 0x22, 0x00])),
        ("GetEUICCChallenge (BF2E)", es10(&[0xBF, 0x2E, 0x00])),
        ("ListNotification (BF28)", es10(&[0xBF, 0x28, 0x00])),
        (
            "GetEuiccConfiguredAddresses (BF3C)",
            es10(&[0xBF, 0x3C, 0x00]),
        ),
    ];
    let mut search = vec![0xBF, 0x2D, 0x0E, 0xA0, 0x0C, 0x5A, 0x0A];
    search.extend(&iccids[0]);
    cases.push((
        "GetProfilesInfo by ICCID, 18 installed (BF2D)",
        es10(&search),
    ));
    cases.push((
        "GetProfilesInfo all 18, first 256 B (BF2D)",
        es10(&[0xBF, 0x2D, 0x00]),
    ));
    for (name, apdu) in &cases {
        let r = e.handle(apdu);
        assert!(
            r.ends_with(&[0x90, 0x00]) || r[r.len() - 2] == 0x61,
            "{name}: {r:02X?}"
        );
        let s = measure(n, || {
            std::hint::black_box(e.handle(apdu));
        });
        report(name, &s, &base);
    }

    // UICC: SELECT EF.ICCID by path + READ BINARY, with a profile enabled.
    let mut en = vec![0xBF, 0x31, 0x11, 0xA0, 0x0C, 0x5A, 0x0A];
    en.extend(&iccids[1]);
    en.extend([0x81, 0x01, 0x00]);
    e.handle(&es10(&en));
    sel = build(0x00, 0xA4, 0x08, 0x04, &[0x2F, 0xE2], Some(256));
    let read = build(0x00, 0xB0, 0x00, 0x00, &[], Some(10));
    let s = measure(n, || {
        std::hint::black_box(e.handle(&sel));
        std::hint::black_box(e.handle(&read));
    });
    report("SELECT 2FE2 + READ BINARY (two APDUs)", &s, &base);

    // Enable/disable round trip: memory store vs sled on disk (flush before answering).
    let isdr = build(0x00, 0xA4, 0x04, 0x0C, &ISDR_AID, None);
    let mut dis = vec![0xBF, 0x32, 0x11, 0xA0, 0x0C, 0x5A, 0x0A];
    dis.extend(&iccids[1]);
    dis.extend([0x81, 0x01, 0x00]);
    let (enable, disable) = (es10(&en), es10(&dis));
    let lifecycle = |e: &mut Euicc| {
        e.handle(&isdr);
        let a = e.handle(&disable);
        let b = e.handle(&enable);
        assert!(a.ends_with(&[0x90, 0x00]) && b.ends_with(&[0x90, 0x00]));
    };
    let s = measure(n / 20, || lifecycle(&mut e));
    report("Disable + Enable, memory store", &s, &base);
    let dir = std::env::temp_dir().join(format!("veuicc-bench-{}", std::process::id()));
    {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir).expect("sled"));
        let (mut e, _) = card(store, 2);
        e.handle(&isdr);
        e.handle(&enable);
        let s = measure(n / 100, || lifecycle(&mut e));
        report("Disable + Enable, sled on disk (flushed)", &s, &base);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
