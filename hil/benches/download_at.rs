//! A full profile download through the virtual modem's AT port vs the same download with the
//! card in-process, in the same run: what the AT path (V.250 line assembly, hex encoding, the
//! PTY, the modem's channel handling) costs an LPA.
//!
//! - `in-process`: `hil::transport::InProcess` over a `veuicc` card opened from its state
//!   directory (sled), as the modem opens its own;
//! - `AT+CGLA`: `hil::transport::at::AtModem` (cgla mode) over the PTY of a `vmodem` running in
//!   this process, whose eUICC is a state directory like the one above;
//! - `AT+CSIM`: the same in csim mode (MANAGE CHANNEL inside +CSIM, CLA channel bits set by hil).
//!
//! Both cards are minted under the CI of the SM-DP+, which runs in-process (`InProcessEs9`, the
//! ES9+ bodies still serialised to JSON and back), one SM-DP+ per transport so every download
//! is of a fresh order. Only `lpa::download` is timed. PC/SC is not measured here (a reader's
//! card would need an identity under this run's CI).
//!
//! `cargo bench -p hil --bench download_at` (env `BENCH_N`, default 9 downloads per transport,
//! at most 18: one per TS.48 package).

#![allow(clippy::unwrap_used)]

use hil::client::Client;
use hil::lpa::{self, DownloadParams, InProcessEs9};
use hil::transport::at::{AtMode, AtModem, AtOptions};
use hil::transport::{ApduTransport, InProcess, TransportError};
use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};

const ADDRESS: &str = "smdpplus.example.com";

/// Counts APDUs (one AT command each on the modem paths).
struct Counting<T> {
    inner: T,
    apdus: usize,
    bytes: usize,
}

impl<T: ApduTransport> ApduTransport for Counting<T> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.apdus += 1;
        self.bytes += apdu.len();
        let r = self.inner.transmit(apdu)?;
        self.bytes += r.len();
        Ok(r)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Ci {
    cert: PathBuf,
    key: PathBuf,
    ci: rsp::pki::TestCi,
}

fn card_dir(dir: &Path, ci: &Ci, eid: [u8; 16]) -> PathBuf {
    let d = dir.to_path_buf();
    veuicc::statedir::init(
        &d,
        eid,
        &veuicc::statedir::IdentitySource::UnderCi {
            cert: ci.cert.clone(),
            key: ci.key.clone(),
        },
    )
    .unwrap();
    d
}

fn smdp(ci: &Ci, provider: &Arc<dyn CryptoProvider>) -> Smdp {
    let dp = SmdpIdentity::under_ci(
        &ci.ci.ci_key,
        &ci.ci.ci_cert,
        ADDRESS,
        provider.as_ref(),
        SystemTime::now(),
    )
    .unwrap();
    Smdp::new(
        dp,
        testbeds::store::Store::temporary().unwrap(),
        provider.clone(),
        testbeds::smdp::system_clock(),
        SmdpConfig::default(),
    )
    .unwrap()
}

fn order(smdp: &Smdp, eid: &[u8; 16], package: Vec<u8>) -> String {
    let iccid = smdp
        .add_profile(
            package,
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
        eid: Some(rsp::pki::eid_to_string(eid)),
        release_flag: true,
        ..Default::default()
    });
    assert!(r.header.is_success());
    r.matching_id.unwrap()
}

struct Row {
    name: &'static str,
    times: Vec<Duration>,
    apdus: usize,
    bytes: usize,
    segments: usize,
}

fn run<T: ApduTransport>(
    name: &'static str,
    transport: T,
    smdp: &Smdp,
    eid: &[u8; 16],
    packages: &[Vec<u8>],
) -> Row {
    let mut card = Client::new(Counting {
        inner: transport,
        apdus: 0,
        bytes: 0,
    });
    let mut es9 = InProcessEs9::new(smdp);
    let mut row = Row {
        name,
        times: Vec::new(),
        apdus: 0,
        bytes: 0,
        segments: 0,
    };
    for p in packages {
        let mid = order(smdp, eid, p.clone());
        let (a0, b0) = (card.transport().apdus, card.transport().bytes);
        let t = Instant::now();
        let o = lpa::download(&mut card, &mut es9, DownloadParams::new(ADDRESS, &mid))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        row.times.push(t.elapsed());
        row.apdus = card.transport().apdus - a0;
        row.bytes = card.transport().bytes - b0;
        row.segments = o.segments;
    }
    row
}

fn main() {
    let td = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let Ok(list) = std::fs::read(td.join("ts48/expected.json")) else {
        eprintln!("SKIPPED: testdata not found at {}", td.display());
        return;
    };
    let expected: serde_json::Value = serde_json::from_slice(&list).unwrap();
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9)
        .clamp(1, 18);
    let packages: Vec<Vec<u8>> = expected
        .as_object()
        .unwrap()
        .keys()
        .take(n)
        .map(|f| std::fs::read(td.join("ts48").join(f)).unwrap())
        .collect();

    let provider: Arc<dyn CryptoProvider> = Arc::new(rsp::crypto::awslc::AwsLc);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([77; 32]);
    let nb = SystemTime::now() - Duration::from_secs(86_400);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000055").unwrap();
    let (_, pki) =
        rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry()).unwrap();
    let ci = Ci {
        cert: dir.path().join("ci.der"),
        key: dir.path().join("ci-key.pem"),
        ci: pki,
    };
    std::fs::write(&ci.cert, &ci.ci.ci_cert).unwrap();
    ci.ci.ci_key.write_pem_file(&ci.key).unwrap();

    let mut rows = Vec::new();

    // In-process.
    let d = card_dir(&dir.path().join("card-inprocess"), &ci, eid);
    let card = veuicc::statedir::open(&d).unwrap();
    rows.push(run(
        "in-process",
        InProcess::new(card),
        &smdp(&ci, &provider),
        &eid,
        &packages,
    ));

    // Through the modem, one modem per mode (each eUICC takes every package once).
    for (name, mode) in [("AT+CGLA", AtMode::Cgla), ("AT+CSIM", AtMode::Csim)] {
        let tag = mode.to_string();
        let euicc = card_dir(&dir.path().join(format!("card-{tag}")), &ci, eid);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let cfg = {
            use vmodem::config::{Config, ModemConfig, PortConfig, SlotConfig};
            Config {
                run_dir: Some(dir.path().join(format!("run-{tag}"))),
                control: None,
                modems: vec![ModemConfig {
                    ports: vec![PortConfig::pty("at0")],
                    slots: vec![SlotConfig::Euicc {
                        state_dir: Some(euicc),
                    }],
                    ..ModemConfig::named("m0")
                }],
            }
        };
        let server = rt
            .block_on(vmodem::server::Server::start(
                &cfg,
                vmodem::server::ServerOptions::default(),
            ))
            .unwrap();
        let port = server.port("m0", "at0").unwrap().clone();
        let pty = port.symlink.or(port.pty).unwrap();
        let at = AtModem::connect(
            &pty.display().to_string(),
            AtOptions::default().with_mode(mode),
        )
        .unwrap();
        rows.push(run(name, at, &smdp(&ci, &provider), &eid, &packages));
        rt.block_on(server.shutdown());
    }

    let base = median(&rows[0].times);
    println!(
        "full TS.48 download, LPA + eUICC + SM-DP+ in-process ES9+, {} downloads per transport",
        packages.len()
    );
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>7} {:>6} {:>9} {:>11}",
        "transport", "median ms", "min ms", "max ms", "ratio", "APDUs", "APDU kB", "segments"
    );
    for r in &rows {
        let m = median(&r.times);
        println!(
            "{:<12} {:>10.1} {:>10.1} {:>10.1} {:>7.2} {:>6} {:>9.1} {:>11}",
            r.name,
            ms(m),
            ms(*r.times.iter().min().unwrap()),
            ms(*r.times.iter().max().unwrap()),
            m.as_secs_f64() / base.as_secs_f64(),
            r.apdus,
            r.bytes as f64 / 1024.0,
            r.segments
        );
    }
    for r in &rows[1..] {
        let extra = median(&r.times).saturating_sub(base);
        println!(
            "{}: +{:.1} ms per download over in-process, {:.3} ms per APDU",
            r.name,
            ms(extra),
            ms(extra) / r.apdus.max(1) as f64
        );
    }
}
