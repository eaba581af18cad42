//! In-process full download (LPA + eUICC + SM-DP+ logic, no network), per crypto provider, and
//! its ratio to the P-256 operations a download must perform, measured in the same run with the
//! same provider.
//!
//! A download does, on each side, 5 ECDSA verifications (eUICC: CERT.DPauth, serverSignature1,
//! CERT.DPpb, smdpSignature2, the InitialiseSecureChannel signature; SM-DP+: CERT.EUM,
//! CERT.EUICC, euiccSignature1, euiccSignature2, the ProfileInstallationResult), 3 signatures, 1
//! key generation and 1 ECDH: 10 verifications, 6 signatures, 2 key generations, 2 ECDH in all.
//!
//! `cargo bench -p hil --bench download` (env `BENCH_N`, default 40 downloads per provider and
//! store; `BENCH_PROVIDER=rustcrypto|aws-lc-rs` for one provider only; `BENCH_STORE=memory|sled`
//! for one SM-DP+ store only).
//! Each download gets a fresh card (memory store) and a fresh SM-DP+ store (not timed); only
//! `lpa::download` is timed, with its ES9+ bodies serialised to JSON text and parsed back as
//! over HTTPS. The SM-DP+ store is either in memory (`memory`: the logic alone, like the card's
//! memory store) or a temporary sled database on disk with its durable flushes (`sled`).

#![allow(clippy::unwrap_used)]

use hil::client::Client;
use hil::lpa::{self, DownloadParams, InProcessEs9};
use hil::transport::InProcess;
use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};
use veuicc::euicc::{Euicc, EuiccState};
use veuicc::store::MemStore;

const ADDRESS: &str = "smdpplus.example.com";
const PACKAGE: &str = "TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_op(n: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 + 1 {
        f();
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f();
        v.push(t.elapsed());
    }
    median(v)
}

struct Ops {
    sign: Duration,
    verify: Duration,
    keygen: Duration,
    ecdh: Duration,
}

impl Ops {
    fn download_sum(&self) -> Duration {
        self.verify * 10 + self.sign * 6 + self.keygen * 2 + self.ecdh * 2
    }
}

fn p256_ops(p: &dyn CryptoProvider) -> Ops {
    let (sk, pk) = p.generate_key().unwrap();
    let (_, peer) = p.generate_key().unwrap();
    let msg = vec![0x5Au8; 300];
    let sig = p.sign(&sk, &msg).unwrap();
    let n = 300;
    Ops {
        sign: time_op(n, || {
            black_box(p.sign(&sk, black_box(&msg)).unwrap());
        }),
        verify: time_op(n, || {
            assert!(p.verify(black_box(&pk), &msg, &sig));
        }),
        keygen: time_op(n, || {
            black_box(p.generate_key().unwrap());
        }),
        ecdh: time_op(n, || {
            black_box(p.ecdh(&sk, black_box(&peer)).unwrap());
        }),
    }
}

fn eid() -> [u8; 16] {
    rsp::pki::eid_with_check_digits("890490320000000000000000000099").unwrap()
}

/// One timed download with a fresh card and SM-DP+ store: the total and the per-step times.
fn one_download(
    provider: &Arc<dyn CryptoProvider>,
    identity: &rsp::pki::Identity,
    dp: &SmdpIdentity,
    package: &[u8],
    sled: bool,
) -> (Duration, Vec<(lpa::Step, Duration)>) {
    let store = if sled {
        testbeds::store::Store::temporary().unwrap()
    } else {
        testbeds::store::Store::memory()
    };
    let smdp = Smdp::new(
        dp.clone(),
        store,
        provider.clone(),
        testbeds::smdp::system_clock(),
        SmdpConfig::default(),
    )
    .unwrap();
    let iccid = smdp
        .add_profile(
            package.to_vec(),
            ProfileMeta {
                service_provider_name: "GSMA Test".into(),
                profile_name: "bench".into(),
                class: ProfileClassKind::Operational,
                profile_type: "bench".into(),
            },
        )
        .unwrap();
    let r = smdp.download_order(&DownloadOrderRequest {
        iccid: Some(iccid.clone()),
        ..Default::default()
    });
    assert!(r.header.is_success());
    let r = smdp.confirm_order(&ConfirmOrderRequest {
        iccid,
        eid: Some(rsp::pki::eid_to_string(&eid())),
        release_flag: true,
        ..Default::default()
    });
    let mid = r.matching_id.unwrap();
    let state = EuiccState::open(Arc::new(MemStore::default()), identity.clone(), [7; 32])
        .unwrap()
        .with_provider(provider.clone());
    let mut card = Client::new(InProcess::new(Euicc::new(state)));
    card.open_channel().unwrap();
    let mut es9 = InProcessEs9::new(&smdp);
    let t = Instant::now();
    let o = lpa::download(&mut card, &mut es9, DownloadParams::new(ADDRESS, &mid)).unwrap();
    let d = t.elapsed();
    assert_eq!(o.notification, lpa::NotificationDelivery::Delivered);
    (d, o.timings)
}

fn main() {
    let td = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let Ok(package) = std::fs::read(td.join("ts48").join(PACKAGE)) else {
        println!("SKIPPED: testdata not found at {}", td.display());
        return;
    };
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    let nb = SystemTime::now() - Duration::from_secs(86_400);
    let (identity, ci) =
        rsp::pki::mint_test_pki(eid(), &mut rng, nb, rsp::pki::not_after_no_expiry()).unwrap();
    let providers: [Arc<dyn CryptoProvider>; 2] = [
        Arc::new(rsp::crypto::rustcrypto::RustCrypto),
        Arc::new(rsp::crypto::awslc::AwsLc),
    ];
    println!(
        "in-process full download ({PACKAGE}, {} bytes; {n} downloads per provider)",
        package.len()
    );
    println!(
        "{:<11} {:<7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12} {:>8}",
        "provider", "store", "download", "sign", "verify", "keygen", "ecdh", "P-256 sum", "ratio"
    );
    let only = std::env::var("BENCH_PROVIDER").ok();
    let only_store = std::env::var("BENCH_STORE").ok();
    let stores: Vec<bool> = [false, true]
        .into_iter()
        .filter(|sled| {
            only_store
                .as_deref()
                .is_none_or(|o| o == if *sled { "sled" } else { "memory" })
        })
        .collect();
    for p in providers
        .iter()
        .filter(|p| only.as_deref().is_none_or(|o| o == p.name()))
    {
        let dp = SmdpIdentity::under_ci(
            &ci.ci_key,
            &ci.ci_cert,
            ADDRESS,
            p.as_ref(),
            SystemTime::now(),
        )
        .unwrap();
        let mut results = Vec::new();
        for &sled in &stores {
            for _ in 0..3 {
                one_download(p, &identity, &dp, &package, sled);
            }
            let runs: Vec<(Duration, Vec<(lpa::Step, Duration)>)> = (0..n)
                .map(|_| one_download(p, &identity, &dp, &package, sled))
                .collect();
            results.push((sled, runs));
        }
        let ops = p256_ops(p.as_ref());
        let sum = ops.download_sum();
        let us = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
        for (sled, runs) in results {
            let download = median(runs.iter().map(|r| r.0).collect());
            let steps: Vec<String> = runs[0]
                .1
                .iter()
                .enumerate()
                .map(|(i, (step, _))| {
                    let m = median(runs.iter().map(|r| r.1[i].1).collect());
                    format!("{step} {:.0} µs", m.as_secs_f64() * 1e6)
                })
                .collect();
            println!(
                "{:<11} {:<7} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12} {:>7.2}x",
                p.name(),
                if sled { "sled" } else { "memory" },
                format!("{:.2} ms", download.as_secs_f64() * 1e3),
                us(ops.sign),
                us(ops.verify),
                us(ops.keygen),
                us(ops.ecdh),
                format!("{:.2} ms", sum.as_secs_f64() * 1e3),
                download.as_secs_f64() / sum.as_secs_f64()
            );
            println!("  per step (median): {}", steps.join(", "));
            let mut gaps: Vec<Duration> = runs
                .iter()
                .map(|(t, s)| t.saturating_sub(s.iter().map(|x| x.1).sum()))
                .collect();
            gaps.sort();
            println!(
                "  outside the steps: median {:?}, max {:?}",
                gaps[gaps.len() / 2],
                gaps[gaps.len() - 1]
            );
        }
    }
}
