//! Added latency of admin-operation authorisation on EnableProfile, in the same run:
//! `cargo bench -p veuicc --bench authz`.
//!
//! For each store (memory, and sled in a temporary directory, flushed per commit as on a real
//! card), the median of:
//! - `enable (no policy)`: EnableProfile alone, the open policy;
//! - `enable + authz (card)`: GetAdminNonce + AuthoriseAdminOperation (assertion and intent
//!   verified: two ECDSA P-256 verifications) + EnableProfile — the card's share;
//! - `enable + authz (end to end)`: the same plus the device side in process: the account
//!   server signing the assertion and the secure element signing the intent (no HTTPS).
//!
//! and the ratios to `enable (no policy)`. Iterations: `AUTHZ_BENCH_N` (default 2000 in memory,
//! a tenth of it on sled). ES10 commands go through `isdr::handle` (no APDU framing).

use rand_chacha::rand_core::SeedableRng;
use rsp::authz::{
    self as codec, AccountAssertion, AssertionClaims, AuthoriseRequest, Operation, Requirement,
};
use rsp::crypto::rustcrypto::RustCrypto;
use rsp::crypto::CryptoProvider;
use rsp::es10::{self, EnableProfileRequest, ProfileIdentifier};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use veuicc::euicc::{EuiccState, SeedOptions};
use veuicc::isdr::{self, authz::policy::AuthzPolicy};
use veuicc::store::{MemStore, SledStore, Store};

fn testdata() -> PathBuf {
    std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"))
}

fn state(store: Arc<dyn Store>) -> (EuiccState, Vec<u8>, Vec<u8>) {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000077").expect("eid");
    let nb = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let (identity, _) =
        rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry()).expect("pki");
    let mut s = EuiccState::open(store, identity, [1; 32]).expect("state");
    let dir = testdata().join("ts48");
    let opts = SeedOptions {
        notification_address: None,
        ..SeedOptions::default()
    };
    let mut seed = |name: &str| {
        let pkg = std::fs::read(dir.join(name)).expect("TS.48 test data (set VEUICC_TESTDATA)");
        s.seed_package(&pkg, &opts).expect("seed")
    };
    let a = seed("TS48V2-SAIP2-1-BERTLV-UNIQUE.der");
    let b = seed("TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der");
    (s, a, b)
}

fn enable_cmd(iccid: &[u8]) -> Vec<u8> {
    es10::encode(&EnableProfileRequest {
        profile_identifier: ProfileIdentifier::Iccid(iccid.to_vec().into()),
        refresh_flag: Some(true),
    })
}

fn run(s: &mut EuiccState, cmd: &[u8]) -> Vec<u8> {
    let r = isdr::handle(s, cmd);
    assert!(r.sw.is_success(), "{}", r.sw);
    r.data
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Figures {
    plain: Duration,
    card: Duration,
    end_to_end: Duration,
}

fn bench(store: Arc<dyn Store>, n: usize) -> Figures {
    let (mut s, a, b) = state(store);
    let crypto = RustCrypto::new();
    let (account_sk, account_pk) = crypto.generate_key().expect("key");
    let (se_sk, se_pk) = crypto.generate_key().expect("key");
    let eid = s.identity().eid;
    let targets = [enable_cmd(&a), enable_cmd(&b)];
    let iccids = [a.clone(), b.clone()];

    // 1. No policy.
    let mut plain = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        let r = run(&mut s, &targets[i % 2]);
        let d = t.elapsed();
        assert_eq!(r, [0xBF, 0x31, 0x03, 0x80, 0x01, 0x00], "enable ok");
        if i >= n / 10 {
            plain.push(d);
        }
    }

    // 2. Both proofs required.
    let mut p = AuthzPolicy::default();
    p.rules.insert(Operation::Enable, Requirement::Both);
    p.account_keys = vec![hex::encode_upper(account_pk)];
    p.intent_keys = vec![hex::encode_upper(se_pk)];
    s.authz_mut().set_policy(p).expect("policy");
    let now = 1_800_000_000;
    let mut card = Vec::with_capacity(n);
    let mut e2e = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let iccid = &iccids[i % 2];
        let t0 = Instant::now();
        let data = run(&mut s, &codec::get_admin_nonce_request());
        let nonce = codec::parse_admin_nonce_response(&data).expect("nonce").0;
        let t_nonce = t0.elapsed();
        // The device side: the account server's assertion and the secure element's intent.
        let t1 = Instant::now();
        let assertion = AccountAssertion::sign(
            &crypto,
            &account_sk,
            AssertionClaims {
                account: "alice".into(),
                eid,
                iccid: iccid.clone(),
                operation: Operation::Enable,
                issued_at: now,
                expires_at: now + 120,
                id: [i as u8; 16],
                nonce: Some(nonce),
            },
        )
        .expect("sign");
        let intent = crypto
            .sign(
                &se_sk,
                &codec::intent_data(&eid, Operation::Enable, iccid, &nonce),
            )
            .expect("sign");
        let cmd = AuthoriseRequest {
            operation: Operation::Enable,
            iccid: Some(iccid.clone()),
            nonce,
            assertion: Some(assertion.to_bytes()),
            intent_signature: Some(intent),
        }
        .encode();
        let t_device = t1.elapsed();
        let t2 = Instant::now();
        let r = run(&mut s, &cmd);
        assert_eq!(
            codec::parse_result_response(codec::tags::AUTHORISE_ADMIN_OPERATION, &r),
            Ok(0)
        );
        let r = run(&mut s, &targets[i % 2]);
        assert_eq!(r, [0xBF, 0x31, 0x03, 0x80, 0x01, 0x00], "enable ok");
        let t_card = t_nonce + t2.elapsed();
        if i >= n / 10 {
            card.push(t_card);
            e2e.push(t_card + t_device);
        }
    }
    Figures {
        plain: median(plain),
        card: median(card),
        end_to_end: median(e2e),
    }
}

fn report(name: &str, f: &Figures) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |d: Duration| d.as_secs_f64() / f.plain.as_secs_f64();
    println!("{name}");
    println!(
        "  enable (no policy)            median {:9.1} µs",
        us(f.plain)
    );
    println!(
        "  enable + authz (card)         median {:9.1} µs   ratio {:5.2}   added {:8.1} µs",
        us(f.card),
        ratio(f.card),
        us(f.card) - us(f.plain)
    );
    println!(
        "  enable + authz (end to end)   median {:9.1} µs   ratio {:5.2}   added {:8.1} µs",
        us(f.end_to_end),
        ratio(f.end_to_end),
        us(f.end_to_end) - us(f.plain)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !testdata().join("ts48").is_dir() {
        println!("SKIPPED: TS.48 test data not found (set VEUICC_TESTDATA)");
        return;
    }
    let n: usize = std::env::var("AUTHZ_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
        .max(10);
    report(
        &format!("memory store, {n} iterations"),
        &bench(Arc::new(MemStore::default()), n),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sled = Arc::new(SledStore::open(dir.path()).expect("sled"));
    let m = (n / 10).max(10);
    report(
        &format!("sled store (flushed), {m} iterations"),
        &bench(sled, m),
    );
}
