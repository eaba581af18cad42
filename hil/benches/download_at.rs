//! A full profile download through the virtual modem's AT port, through PC/SC (real pcscd +
//! vsmartcard-vpcd) and with the card in-process, all in the same run: what the AT path (V.250
//! line assembly, hex encoding, the PTY, the modem's channel handling) costs an LPA, next to
//! what a PC/SC reader costs.
//!
//! - `in-process`: `hil::transport::InProcess` over a `veuicc` card opened from its state
//!   directory (sled), as the modem opens its own;
//! - `PC/SC`: `hil::transport::Pcsc` on reader `<PCSC_BENCH_READER> 00 00` of a running pcscd,
//!   whose vpcd slot 0 (`127.0.0.1:$VPCD_PORT`) is served by a `veuicc` card running in this
//!   process (`veuicc::vpcd::serve_card` on its own thread), opened from a state directory like
//!   the others;
//! - `AT+CGLA`: `hil::transport::at::AtModem` (cgla mode) over the PTY of a `vmodem` running in
//!   this process, whose eUICC is a state directory like the one above;
//! - `AT+CSIM`: the same in csim mode (MANAGE CHANNEL inside +CSIM, CLA channel bits set by
//!   hil), on a second modem of the same `vmodem` server.
//!
//! Every card is minted under the CI of the SM-DP+, which runs in-process (`InProcessEs9`, the
//! ES9+ bodies still serialised to JSON and back), one SM-DP+ per transport so every download is
//! of a fresh order; each transport's card takes the same packages in the same order. The
//! transports are interleaved: step *i* downloads package *i* through each of them, starting
//! with a different transport every step, so all see the same machine conditions. Only
//! `lpa::download` is timed. After the 18 TS.48 packages (one pass), each card deletes its
//! profiles and their notifications and each transport gets a fresh SM-DP+ (same identity,
//! empty store; none of this is timed), and the next pass starts.
//!
//! The PC/SC leg needs pcscd with a vpcd reader: run the bench inside `scripts/pcsc-isolated`
//! (root: a private network and mount namespace), as `scripts/bench` does:
//!
//! ```text
//! cargo bench -p hil --bench download_at --no-run
//! PCSC_BENCH_REQUIRE=1 scripts/pcsc-isolated cargo bench -p hil --bench download_at
//! ```
//!
//! Without pcscd (or without the reader, or when another card sits in it) the PC/SC leg is
//! skipped with a message and the other three run.
//!
//! Environment:
//! - `BENCH_N`: downloads per transport (default 36: two passes over the 18 TS.48 packages);
//! - `VPCD_PORT` (35963): vpcd's slot-0 port; `PCSC_BENCH_READER` ("Virtual PCD"): the reader
//!   name prefix; `PCSC_BENCH_TIMEOUT` (15 s): how long to wait for the card to show in the
//!   reader;
//! - `PCSC_BENCH_REQUIRE=1`: fail instead of skipping the PC/SC leg.

#![allow(clippy::unwrap_used)]

use hil::client::Client;
use hil::lpa::{self, DownloadParams, InProcessEs9};
use hil::transport::at::{AtMode, AtModem, AtOptions};
use hil::transport::{self, ApduTransport, InProcess, Pcsc, TransportError};
use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};
use veuicc::vpcd::{self, ShutdownTrigger, VpcdError, VpcdOptions};

const ADDRESS: &str = "smdpplus.example.com";

/// Counts APDUs (one AT command each on the modem paths, one SCardTransmit over PC/SC).
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

/// Nearest-rank percentile of a sorted slice.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
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

/// One transport: its card (through the transport), its own SM-DP+, its samples.
struct Leg {
    name: &'static str,
    card: Client<Counting<Box<dyn ApduTransport>>>,
    smdp: Smdp,
    eid: [u8; 16],
    times: Vec<Duration>,
    apdus: usize,
    bytes: usize,
    segments: usize,
    /// EF.ICCID of the profiles downloaded in this pass.
    installed: Vec<Vec<u8>>,
}

impl Leg {
    fn new(
        name: &'static str,
        transport: Box<dyn ApduTransport>,
        smdp: Smdp,
        eid: [u8; 16],
    ) -> Leg {
        Leg {
            name,
            card: Client::new(Counting {
                inner: transport,
                apdus: 0,
                bytes: 0,
            }),
            smdp,
            eid,
            times: Vec::new(),
            apdus: 0,
            bytes: 0,
            segments: 0,
            installed: Vec::new(),
        }
    }

    /// Back to an empty card (profiles deleted, notifications removed) and a fresh SM-DP+.
    fn start_over(&mut self, smdp: Smdp) {
        for iccid in std::mem::take(&mut self.installed) {
            let r = self
                .card
                .delete(&iccid)
                .unwrap_or_else(|e| panic!("{}: DeleteProfile: {e}", self.name));
            assert_eq!(r, 0, "{}: DeleteProfile result", self.name);
        }
        let pending = self
            .card
            .list_notifications()
            .unwrap_or_else(|e| panic!("{}: ListNotification: {e}", self.name));
        for n in pending {
            self.card
                .remove_notification(n.seq_number)
                .unwrap_or_else(|e| panic!("{}: RemoveNotificationFromList: {e}", self.name));
        }
        self.smdp = smdp;
    }

    fn download(&mut self, package: &[u8]) {
        let mid = order(&self.smdp, &self.eid, package.to_vec());
        let mut es9 = InProcessEs9::new(&self.smdp);
        let (a0, b0) = (self.card.transport().apdus, self.card.transport().bytes);
        let t = Instant::now();
        let o = lpa::download(&mut self.card, &mut es9, DownloadParams::new(ADDRESS, &mid))
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        self.times.push(t.elapsed());
        self.apdus = self.card.transport().apdus - a0;
        self.bytes = self.card.transport().bytes - b0;
        self.segments = o.segments;
        self.installed.push(o.iccid_raw);
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut v = self.times.clone();
        v.sort();
        v
    }

    fn median(&self) -> Duration {
        pct(&self.sorted(), 0.5)
    }
}

/// A `veuicc` card served to vpcd from this process, on its own thread and tokio runtime.
/// Stopped (shutdown fired, thread joined) when dropped.
struct VpcdCard {
    trigger: ShutdownTrigger,
    thread: Option<std::thread::JoinHandle<Result<(), VpcdError>>>,
}

impl VpcdCard {
    fn start(state: &Path, addr: SocketAddr) -> Result<VpcdCard, String> {
        let card = veuicc::statedir::open(state).map_err(|e| format!("opening the card: {e}"))?;
        let card = Arc::new(Mutex::new(card));
        let (trigger, shutdown) = vpcd::shutdown_channel();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let thread = std::thread::Builder::new()
            .name("vpcd-card".into())
            .spawn(move || {
                rt.block_on(vpcd::serve_card(
                    addr,
                    card,
                    VpcdOptions::default(),
                    shutdown,
                ))
            })
            .map_err(|e| format!("card thread: {e}"))?;
        Ok(VpcdCard {
            trigger,
            thread: Some(thread),
        })
    }

    /// Whether the card task ended (it only ends on shutdown or a fatal error).
    fn ended(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl Drop for VpcdCard {
    fn drop(&mut self) {
        self.trigger.trigger();
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("download_at: vpcd card: {e}"),
                Err(_) => eprintln!("download_at: vpcd card thread panicked"),
            }
        }
    }
}

/// The PC/SC leg's transport: this process's card in slot 0 of pcscd's vpcd reader, checked by
/// its EID. `Err` says why the leg cannot run.
fn pcsc_transport(state: &Path, eid: &[u8; 16]) -> Result<(Pcsc, VpcdCard), String> {
    let port: u16 = env_or("VPCD_PORT", vpcd::DEFAULT_PORT);
    let prefix = std::env::var("PCSC_BENCH_READER").unwrap_or_else(|_| "Virtual PCD".into());
    let wait = Duration::from_secs(env_or("PCSC_BENCH_TIMEOUT", 15u64));
    let reader = format!("{prefix} 00 00");
    let readers = match transport::list_readers() {
        Ok(r) => r,
        Err(TransportError::Pcsc(pcsc::Error::NoReadersAvailable)) => Vec::new(),
        Err(e) => {
            return Err(format!(
                "no PC/SC service ({e}); run the bench inside scripts/pcsc-isolated"
            ))
        }
    };
    if !readers.contains(&reader) {
        return Err(format!(
            "no reader {reader:?} (readers: {readers:?}); run the bench inside \
             scripts/pcsc-isolated, or set PCSC_BENCH_READER"
        ));
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let card = VpcdCard::start(state, addr)?;
    let deadline = Instant::now() + wait;
    let mut pcsc = loop {
        if card.ended() {
            return Err(format!("the card's vpcd task for {addr} ended early"));
        }
        match Pcsc::connect(&reader) {
            Ok(p) => break p,
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "no card in {reader:?} after {wait:?} with this bench's card on {addr}: {e}"
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    // Another card could hold the slot (ours then waits in vpcd's backlog): check the EID.
    let mut client = Client::new(&mut pcsc);
    client
        .select_isdr()
        .map_err(|e| format!("{reader:?}: SELECT ISD-R: {e}"))?;
    let got = client
        .get_eid()
        .map_err(|e| format!("{reader:?}: GetEID: {e}"))?;
    if got != eid {
        return Err(format!(
            "the card in {reader:?} is not this bench's (EID {}, expected {})",
            hex::encode_upper(&got),
            rsp::pki::eid_to_string(eid)
        ));
    }
    Ok((pcsc, card))
}

struct Ratio {
    name: String,
    /// Ratio of the medians.
    of_medians: f64,
    /// Median of the per-package ratios (each package went through both transports).
    paired: f64,
}

fn ratio(a: &Leg, b: &Leg) -> Ratio {
    let mut per: Vec<f64> = a
        .times
        .iter()
        .zip(&b.times)
        .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64().max(1e-12))
        .collect();
    per.sort_by(f64::total_cmp);
    Ratio {
        name: format!("{} / {}", a.name, b.name),
        of_medians: a.median().as_secs_f64() / b.median().as_secs_f64().max(1e-12),
        paired: per[per.len() / 2],
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
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
    let n: usize = env_or("BENCH_N", 36usize).max(1);
    let require_pcsc = std::env::var("PCSC_BENCH_REQUIRE").as_deref() == Ok("1");
    let files: Vec<&String> = expected.as_object().unwrap().keys().take(n).collect();
    let passes = n.div_ceil(files.len());
    let packages: Vec<Vec<u8>> = files
        .iter()
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

    let mut legs = Vec::new();

    // In-process.
    let d = card_dir(&dir.path().join("card-inprocess"), &ci, eid);
    let card = veuicc::statedir::open(&d).unwrap();
    legs.push(Leg::new(
        "in-process",
        Box::new(InProcess::new(card)),
        smdp(&ci, &provider),
        eid,
    ));

    // PC/SC: the card on vpcd slot 0, with an EID of this process (to recognise it in the
    // reader), minted under the same CI.
    let pcsc_eid =
        rsp::pki::eid_with_check_digits(&format!("8904903200000000000{:011}", std::process::id()))
            .unwrap();
    let pcsc_dir = card_dir(&dir.path().join("card-pcsc"), &ci, pcsc_eid);
    let mut vpcd_card = None;
    let pcsc_skipped = match pcsc_transport(&pcsc_dir, &pcsc_eid) {
        Ok((pcsc, card)) => {
            let reader = pcsc.describe();
            legs.push(Leg::new(
                "PC/SC",
                Box::new(pcsc),
                smdp(&ci, &provider),
                pcsc_eid,
            ));
            vpcd_card = Some(card);
            eprintln!("download_at: PC/SC leg: {reader}, card served in-process through vpcd");
            None
        }
        Err(why) if require_pcsc => panic!("PC/SC leg: {why} (PCSC_BENCH_REQUIRE=1)"),
        Err(why) => Some(why),
    };

    // Through the modem: two modems of one vmodem server, one per mode (each eUICC takes
    // every package once).
    let modes = [("AT+CGLA", AtMode::Cgla), ("AT+CSIM", AtMode::Csim)];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cfg = {
        use vmodem::config::{Config, ModemConfig, PortConfig, SlotConfig};
        Config {
            run_dir: Some(dir.path().join("run")),
            control: None,
            modems: modes
                .iter()
                .map(|(_, mode)| ModemConfig {
                    ports: vec![PortConfig::pty("at0")],
                    slots: vec![SlotConfig::Euicc {
                        state_dir: Some(card_dir(
                            &dir.path().join(format!("card-{mode}")),
                            &ci,
                            eid,
                        )),
                    }],
                    ..ModemConfig::named(&format!("m-{mode}"))
                })
                .collect(),
        }
    };
    let server = rt
        .block_on(vmodem::server::Server::start(
            &cfg,
            vmodem::server::ServerOptions::default(),
        ))
        .unwrap();
    for (name, mode) in modes {
        let port = server.port(&format!("m-{mode}"), "at0").unwrap().clone();
        let pty = port.symlink.or(port.pty).unwrap();
        let at = AtModem::connect(
            &pty.display().to_string(),
            AtOptions::default().with_mode(mode),
        )
        .unwrap();
        legs.push(Leg::new(name, Box::new(at), smdp(&ci, &provider), eid));
    }

    // Interleaved: package i through every transport, rotating which goes first.
    let k = legs.len();
    for i in 0..n {
        if i > 0 && i % packages.len() == 0 {
            for l in &mut legs {
                l.start_over(smdp(&ci, &provider));
            }
        }
        for j in 0..k {
            legs[(i + j) % k].download(&packages[i % packages.len()]);
        }
    }

    let find = |name: &str| legs.iter().find(|l| l.name == name);
    let base = find("in-process").unwrap();
    println!(
        "full TS.48 download, LPA + eUICC + SM-DP+ (in-process ES9+), {n} downloads per transport \
         ({passes} pass(es) over {} packages), interleaved",
        packages.len()
    );
    println!(
        "{:<12} {:>10} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9}",
        "transport", "median ms", "min ms", "p90 ms", "max ms", "APDUs", "APDU kB", "segments"
    );
    for l in &legs {
        let s = l.sorted();
        println!(
            "{:<12} {:>10.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>9.1} {:>9}",
            l.name,
            ms(pct(&s, 0.5)),
            ms(s[0]),
            ms(pct(&s, 0.9)),
            ms(s[s.len() - 1]),
            l.apdus,
            l.bytes as f64 / 1024.0,
            l.segments
        );
    }
    if let Some(why) = &pcsc_skipped {
        println!("PC/SC        skipped: {why}");
    }
    println!("(APDUs, kB and segments: of each transport's last download, the same package)");

    let mut ratios = Vec::new();
    if let Some(pc) = find("PC/SC") {
        for at in ["AT+CGLA", "AT+CSIM"] {
            ratios.push(ratio(find(at).unwrap(), pc));
        }
    }
    for l in legs.iter().filter(|l| l.name != "in-process") {
        ratios.push(ratio(l, base));
    }
    println!("ratios: of the medians (median of the per-package ratios)");
    for r in &ratios {
        println!("  {:<24} {:>6.2} ({:.2})", r.name, r.of_medians, r.paired);
    }
    if pcsc_skipped.is_some() {
        println!("  AT+CGLA / PC/SC, AT+CSIM / PC/SC: n/a (PC/SC leg skipped)");
    }
    for l in legs.iter().filter(|l| l.name != "in-process") {
        let extra = l.median().saturating_sub(base.median());
        println!(
            "{}: +{:.2} ms per download over in-process, {:.1} µs per APDU",
            l.name,
            ms(extra),
            ms(extra) * 1000.0 / l.apdus.max(1) as f64
        );
    }

    let json = serde_json::json!({
        "bench": "download_at",
        "downloads_per_transport": n,
        "packages": packages.len(),
        "transports": legs.iter().map(|l| {
            let s = l.sorted();
            serde_json::json!({
                "name": l.name,
                "median_ms": round3(ms(pct(&s, 0.5))),
                "min_ms": round3(ms(s[0])),
                "p90_ms": round3(ms(pct(&s, 0.9))),
                "max_ms": round3(ms(s[s.len() - 1])),
                "apdus": l.apdus,
                "apdu_bytes": l.bytes,
            })
        }).collect::<Vec<_>>(),
        "ratios": ratios.iter().map(|r| serde_json::json!({
            "name": r.name,
            "of_medians": round3(r.of_medians),
            "paired_median": round3(r.paired),
        })).collect::<Vec<_>>(),
        "pcsc_skipped": pcsc_skipped,
    });
    println!("{json}");

    // The PC/SC client disconnects (leaving the card) before its card goes away.
    drop(legs);
    drop(vpcd_card);
    rt.block_on(server.shutdown());
}
