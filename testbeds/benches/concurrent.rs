//! Sustained profile downloads: many virtual eUICCs at once against ONE SM-DP+ over real HTTPS.
//!
//! - One SM-DP+ ([`SmdpServer::bind`] on 127.0.0.1:0, rustls, its own tokio runtime whose
//!   threads are named `smdp-server`) on a temporary sled store, under a freshly minted CI.
//! - Its inventory is stocked with copies of a TS.48 package, each with its own ICCID (the
//!   header ICCID and EF.ICCID rewritten, see [`IccidRewriter`]), ordered and released over ES2+
//!   (in-process calls, before the clock starts).
//! - `BENCH_CARDS` (64) in-process eUICCs (`veuicc`, memory store, identity minted under the
//!   SM-DP+'s CI), one OS thread each (`card-N`), each driven by the LPA (`hil::lpa::download`)
//!   over its own keep-alive HTTPS connection ([`HttpsEs9`], blocking reqwest, whose runtime
//!   thread is `reqwest-internal-sync-runtime`). Each card downloads, then deletes the profile
//!   and removes the delete notification, again and again.
//! - After `BENCH_WARMUP` seconds (3) the figures are taken over `BENCH_SECONDS` (10).
//!
//! Environment: `BENCH_PROVIDER=aws-lc-rs|rustcrypto` (default aws-lc-rs; both the SM-DP+ and
//! the cards use it), `BENCH_CARDS`, `BENCH_SECONDS`, `BENCH_WARMUP`, `BENCH_PROFILES` (profiles
//! to stock; default enough for 1200 downloads/s), `BENCH_PACKAGE` (a file name under
//! `$VEUICC_TESTDATA/ts48`, or `all` to cycle through every TS.48 package), `VEUICC_TESTDATA`.
//!
//! CPU time is split by thread, from each thread's scheduler clock
//! (`/proc/self/task/*/schedstat`) at the window's ends, plus the process CPU clock for what
//! exited threads used: card threads (card core + LPA logic), the LPA's HTTPS client threads,
//! the SM-DP+'s server runtime (handlers + HTTP + TLS + JSON), other threads (sled). Inside
//! them, thread CPU clocks around the APDUs where the card does its work and around each
//! SM-DP+ ES9+ handler (a tracing layer on the `es9.*` spans; tracing events are off, so the
//! SM-DP+ logs nothing) split the card core from the LPA and the SM-DP+ logic from its
//! HTTP/TLS stack. `BENCH_SPLIT=0` leaves the card's clock reads out (and the card core / LPA
//! split with them), to see what they cost (1–3 % of the throughput).
//!
//! Memory per eUICC: VmRSS before and after creating the cards (each powered on, a logical
//! channel open, ISD-R selected, no profile), divided by their number; likewise for the LPAs'
//! HTTPS clients. Both are measured before the SM-DP+ exists, so that freed heap from its setup
//! cannot hide the growth.
//!
//! `cargo bench -p testbeds --bench concurrent`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hil::client::Client;
use hil::lpa::{self, DownloadParams, HttpsEs9, HttpsOptions, NotificationDelivery, Step, Trust};
use hil::transport::{ApduTransport, InProcess, TransportError};
use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::server::{SmdpServer, TlsConfig};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;
use veuicc::euicc::{Euicc, EuiccState};
use veuicc::store::MemStore;

const HOST: &str = "smdp.bench.test";
const DEFAULT_PACKAGE: &str = "TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// =============================================================================================
// Clocks and /proc
// =============================================================================================

fn ns(t: rustix::time::Timespec) -> u64 {
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// CPU time of the calling thread, ns.
fn thread_cpu() -> u64 {
    ns(rustix::time::clock_gettime(
        rustix::time::ClockId::ThreadCPUTime,
    ))
}

/// CPU time of the whole process (exited threads included), ns.
fn process_cpu() -> u64 {
    ns(rustix::time::clock_gettime(
        rustix::time::ClockId::ProcessCPUTime,
    ))
}

/// VmRSS of this process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The class a thread's CPU time is counted in, by its name.
fn class_of(comm: &str) -> &'static str {
    if comm.starts_with("card-") {
        "card"
    } else if comm.starts_with("reqwest-intern") {
        "lpa-https"
    } else if comm.starts_with("smdp-server") {
        "smdp-server"
    } else if comm.starts_with("sled") {
        "sled"
    } else {
        "other"
    }
}

/// CPU time (ns, from the scheduler's per-thread run time) and number of the live threads of
/// this process, by class.
fn cpu_by_class() -> BTreeMap<&'static str, (u64, usize)> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let run_ns: u64 = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let e = out.entry(class_of(comm.trim())).or_insert((0, 0));
        e.0 += run_ns;
        e.1 += 1;
    }
    out
}

// =============================================================================================
// SM-DP+ handler CPU: a tracing layer on the `es9.*` spans
// =============================================================================================

const HANDLERS: [&str; 4] = [
    "es9.initiateAuthentication",
    "es9.authenticateClient",
    "es9.getBoundProfilePackage",
    "es9.handleNotification",
];

#[derive(Default)]
struct HandlerCpu {
    /// Thread CPU ns spent inside each of [`HANDLERS`].
    ns: [AtomicU64; 4],
    calls: [AtomicU64; 4],
}

impl HandlerCpu {
    fn snapshot(&self) -> [(u64, u64); 4] {
        std::array::from_fn(|i| {
            (
                self.ns[i].load(Ordering::Relaxed),
                self.calls[i].load(Ordering::Relaxed),
            )
        })
    }
}

struct HandlerLayer(Arc<HandlerCpu>);

struct EnteredAt(u64);

impl<S> Layer<S> for HandlerLayer
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(EnteredAt(thread_cpu()));
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let now = thread_cpu();
        let Some(span) = ctx.span(id) else { return };
        let Some(EnteredAt(t)) = span.extensions_mut().remove::<EnteredAt>() else {
            return;
        };
        if let Some(i) = HANDLERS.iter().position(|h| *h == span.name()) {
            self.0.ns[i].fetch_add(now.saturating_sub(t), Ordering::Relaxed);
            self.0.calls[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

// =============================================================================================
// Distinct ICCIDs
// =============================================================================================

/// Rewrites the ICCID of a TS.48 package: in the ProfileHeader PE (`iccid`, 10 bytes in reading
/// order, `F` filler) and in EF.ICCID's content (the same nibble-swapped). Both byte patterns
/// must occur exactly once in the template; the copies keep every other byte.
struct IccidRewriter {
    template: Vec<u8>,
    digits: usize,
    header_at: usize,
    ef_at: usize,
}

fn find_once(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut hits = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    let first = hits.next()?;
    hits.next().is_none().then_some(first)
}

/// The Luhn check digit of `digits`.
fn luhn(digits: &str) -> char {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + u8::try_from((10 - sum % 10) % 10).unwrap_or(0))
}

impl IccidRewriter {
    fn new(template: Vec<u8>) -> Result<Self, String> {
        let parsed = veuicc::profile::saip::parse_package(&template).map_err(|e| e.to_string())?;
        let header = parsed.header.iccid;
        let swapped = parsed.iccid_swapped();
        let header_at = find_once(&template, &header)
            .ok_or("the header ICCID is not found exactly once in the package")?;
        let ef_at = find_once(&template, &swapped)
            .ok_or("the EF.ICCID content is not found exactly once in the package")?;
        Ok(IccidRewriter {
            digits: parsed.iccid_digits().len(),
            template,
            header_at,
            ef_at,
        })
    }

    /// The `n`th ICCID of this bench: `8999`, `n`, a Luhn digit, as many digits as the
    /// template's ICCID.
    fn iccid(&self, n: u64) -> String {
        let width = self.digits - 5;
        let body = format!("8999{n:0width$}");
        format!("{body}{}", luhn(&body))
    }

    /// A copy of the template with ICCID `digits`.
    fn package(&self, digits: &str) -> Vec<u8> {
        let swapped = testbeds::smdp::iccid_to_swapped(digits).expect("ICCID digits");
        let header = swapped.map(|b| b.rotate_left(4));
        let mut out = self.template.clone();
        out[self.header_at..self.header_at + 10].copy_from_slice(&header);
        out[self.ef_at..self.ef_at + 10].copy_from_slice(&swapped);
        out
    }
}

// =============================================================================================
// The card, with its CPU time counted
// =============================================================================================

/// The in-process card transport, adding the thread CPU time spent in the card to `card_ns`
/// when `timed`. To keep the clock reads few (each is a system call), only the APDUs where the
/// card does its work are timed: the last STORE DATA block of each ES10 command (P1 bit 8) and
/// everything but GET RESPONSE; the other blocks (the card buffers them) and GET RESPONSE (it
/// slices its answer) are left to the LPA's share.
struct TimedCard {
    inner: InProcess<Euicc>,
    card_ns: u64,
    timed: bool,
}

impl ApduTransport for TimedCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let work = match apdu {
            [_, 0xE2, p1, ..] => p1 & 0x80 != 0,
            [_, 0xC0, ..] => false,
            _ => true,
        };
        if !self.timed || !work {
            return self.inner.transmit(apdu);
        }
        let t = thread_cpu();
        let r = self.inner.transmit(apdu);
        self.card_ns += thread_cpu().saturating_sub(t);
        r
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Totals the card threads add to as they go (ns of thread CPU).
#[derive(Default)]
struct DeviceCpu {
    /// Inside `lpa::download`, all of it.
    download_ns: AtomicU64,
    /// Of which inside the card.
    card_ns: AtomicU64,
    /// Deleting the profile and removing the delete notification.
    delete_ns: AtomicU64,
}

struct Done {
    end: Instant,
    latency: Duration,
    timings: Vec<(Step, Duration)>,
}

struct Shared {
    address: String,
    stock: Mutex<Vec<String>>,
    stop: AtomicBool,
    exhausted_at: Mutex<Option<Instant>>,
    errors: AtomicUsize,
    device: DeviceCpu,
}

fn card_loop(mut card: Client<TimedCard>, mut es9: HttpsEs9, shared: &Shared) -> Vec<Done> {
    let mut done = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let next = shared.stock.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let Some(matching_id) = next else {
            shared
                .exhausted_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(Instant::now);
            break;
        };
        card.transport().card_ns = 0;
        let cpu = thread_cpu();
        let start = Instant::now();
        let r = lpa::download(
            &mut card,
            &mut es9,
            DownloadParams::new(&shared.address, &matching_id),
        );
        let end = Instant::now();
        let cpu_after = thread_cpu();
        shared
            .device
            .download_ns
            .fetch_add(cpu_after.saturating_sub(cpu), Ordering::Relaxed);
        shared
            .device
            .card_ns
            .fetch_add(card.transport().card_ns, Ordering::Relaxed);
        let outcome = match r {
            Ok(o) => o,
            Err(e) => {
                if shared.errors.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("download {matching_id}: {e}");
                }
                continue;
            }
        };
        if outcome.notification == NotificationDelivery::Delivered {
            done.push(Done {
                end,
                latency: end - start,
                timings: outcome.timings,
            });
        } else if shared.errors.fetch_add(1, Ordering::Relaxed) < 3 {
            eprintln!(
                "download {matching_id}: installed, but the notification: {:?}",
                outcome.notification
            );
        }
        // Free the card's memory for the next one: delete, and drop the delete notification.
        let t = thread_cpu();
        let deleted = card.delete(&outcome.iccid_raw).map_err(|e| e.to_string());
        let removed = card
            .list_notifications()
            .map_err(|e| e.to_string())
            .and_then(|l| {
                l.iter()
                    .try_for_each(|n| card.remove_notification(n.seq_number).map(drop))
                    .map_err(|e| e.to_string())
            });
        shared
            .device
            .delete_ns
            .fetch_add(thread_cpu().saturating_sub(t), Ordering::Relaxed);
        if let Err(e) = deleted.and_then(|code| {
            (code == 0)
                .then_some(())
                .ok_or(format!("DeleteProfile result {code}"))
        }) {
            eprintln!("delete: {e}");
        }
        if let Err(e) = removed {
            eprintln!("remove notification: {e}");
        }
    }
    done
}

// =============================================================================================
// Setup
// =============================================================================================

fn provider_named(name: &str) -> Arc<dyn CryptoProvider> {
    match name {
        "rustcrypto" => Arc::new(rsp::crypto::rustcrypto::RustCrypto),
        "aws-lc-rs" => Arc::new(rsp::crypto::awslc::AwsLc),
        other => panic!("BENCH_PROVIDER={other}: use aws-lc-rs or rustcrypto"),
    }
}

/// Adds `count` profiles (copies with distinct ICCIDs), orders and releases each; returns the
/// matching IDs. Runs on a few threads: every ES2+ call flushes the store.
fn stock(smdp: &Smdp, rewriters: &[IccidRewriter], count: usize) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let rw = &rewriters[i % rewriters.len()];
                let iccid = rw.iccid(u64::try_from(i).unwrap_or(0));
                let added = smdp
                    .add_profile(
                        rw.package(&iccid),
                        ProfileMeta {
                            service_provider_name: "GSMA Test".into(),
                            profile_name: format!("bench {i}"),
                            class: ProfileClassKind::Operational,
                            profile_type: "bench".into(),
                        },
                    )
                    .unwrap();
                assert_eq!(added, iccid);
                let r = smdp.download_order(&DownloadOrderRequest {
                    iccid: Some(iccid.clone()),
                    ..Default::default()
                });
                assert!(r.header.is_success(), "downloadOrder {iccid}");
                let r = smdp.confirm_order(&ConfirmOrderRequest {
                    iccid,
                    release_flag: true,
                    ..Default::default()
                });
                let mid = r.matching_id.expect("confirmOrder gives a matching ID");
                out.lock().unwrap_or_else(|p| p.into_inner()).push(mid);
            });
        }
    });
    out.into_inner().unwrap_or_else(|p| p.into_inner())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(ns: f64) -> f64 {
    (ns / 1e6 * 1000.0).round() / 1000.0
}

fn main() {
    let td = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let ts48 = td.join("ts48");
    let package_choice = std::env::var("BENCH_PACKAGE").unwrap_or_else(|_| DEFAULT_PACKAGE.into());
    let names: Vec<String> = if package_choice == "all" {
        let mut v: Vec<String> = std::fs::read_dir(&ts48)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".der"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    } else {
        vec![package_choice.clone()]
    };
    let mut templates = Vec::new();
    for n in &names {
        match std::fs::read(ts48.join(n)) {
            Ok(p) => templates.push(p),
            Err(e) => {
                println!("SKIPPED: TS.48 package {} ({e})", ts48.join(n).display());
                return;
            }
        }
    }
    if templates.is_empty() {
        println!("SKIPPED: no TS.48 packages in {}", ts48.display());
        return;
    }

    let provider_name = std::env::var("BENCH_PROVIDER").unwrap_or_else(|_| "aws-lc-rs".into());
    let provider = provider_named(&provider_name);
    let cards: usize = env_or("BENCH_CARDS", 64);
    let seconds: f64 = env_or("BENCH_SECONDS", 10.0);
    let warmup: f64 = env_or("BENCH_WARMUP", 3.0);
    let split = env_or("BENCH_SPLIT", 1u8) != 0;
    let profiles: usize = env_or(
        "BENCH_PROFILES",
        (1200.0 * (seconds + warmup + 2.0)) as usize + 2 * cards,
    );

    // Only the SM-DP+'s ES9+ handler spans are recorded (events and other spans are disabled).
    let handler_cpu = Arc::new(HandlerCpu::default());
    let filter =
        tracing_subscriber::filter::filter_fn(|m| m.is_span() && HANDLERS.contains(&m.name()));
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(HandlerLayer(handler_cpu.clone()).with_filter(filter)),
    )
    .expect("tracing subscriber");

    // --- the cards, first (their memory is measured before the SM-DP+'s heap churn) ---------
    let setup = Instant::now();
    let now = SystemTime::now();
    let (ci_key, ci_cert) = testbeds::identity::mint_ci(provider.as_ref(), now).unwrap();
    let eid = |i: usize| {
        rsp::pki::eid_with_check_digits(&format!("8904903200000000000000{i:08}")).unwrap()
    };
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([5; 32]);
    let nb = now - Duration::from_secs(3600);
    let identities: Vec<rsp::pki::Identity> = (0..=cards)
        .map(|i| {
            rsp::pki::mint_under_ci(
                &ci_key,
                &ci_cert,
                eid(i),
                &mut rng,
                nb,
                rsp::pki::not_after_no_expiry(),
            )
            .unwrap()
            .0
        })
        .collect();
    let make_card = |i: usize, identity: rsp::pki::Identity| {
        let mut seed = [0u8; 32];
        provider.random(&mut seed).unwrap();
        let state = EuiccState::open(Arc::new(MemStore::default()), identity, seed)
            .unwrap()
            .with_provider(provider.clone());
        let mut card = Client::new(TimedCard {
            inner: InProcess::new(Euicc::new(state)),
            card_ns: 0,
            timed: split,
        });
        card.open_channel().unwrap();
        card.select_isdr()
            .unwrap_or_else(|e| panic!("card {i}: {e}"));
        card.get_eid().unwrap_or_else(|e| panic!("card {i}: {e}"));
        card
    };
    let mut identities = identities.into_iter();
    // One card first, so that one-time initialisation is not counted per card.
    drop(make_card(cards, identities.next_back().unwrap()));
    let rss_before = rss_kib();
    let clients: Vec<Client<TimedCard>> = identities
        .enumerate()
        .map(|(i, id)| make_card(i, id))
        .collect();
    let rss_cards = rss_kib();

    // --- the LPAs' HTTPS clients (they trust the SM-DP+'s TLS CA only) ------------------------
    let identity = SmdpIdentity::under_ci(&ci_key, &ci_cert, HOST, provider.as_ref(), now).unwrap();
    let options = HttpsOptions {
        ca_der: vec![identity.tls_ca.clone()],
        trust: Trust::CaOnly,
        resolve: vec![(HOST.to_owned(), IpAddr::V4(Ipv4Addr::LOCALHOST))],
        timeout: Some(Duration::from_secs(120)),
    };
    drop(HttpsEs9::new(&options).unwrap());
    let rss_lpa_before = rss_kib();
    let transports: Vec<HttpsEs9> = (0..cards)
        .map(|_| HttpsEs9::new(&options).unwrap())
        .collect();
    let rss_lpas = rss_kib();

    // --- the SM-DP+ -------------------------------------------------------------------------
    let smdp = Arc::new(
        Smdp::new(
            identity,
            testbeds::store::Store::temporary().unwrap(),
            provider.clone(),
            testbeds::smdp::system_clock(),
            SmdpConfig::default(),
        )
        .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("smdp-server")
        .enable_all()
        .build()
        .unwrap();
    let tls = TlsConfig::from_identity(smdp.identity()).unwrap();
    let (addr, server) = rt
        .block_on(SmdpServer::bind(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            smdp.clone(),
            tls,
        ))
        .unwrap();
    let address = format!("{HOST}:{}", addr.port());
    smdp.set_address(&address);

    let rewriters: Vec<IccidRewriter> = templates
        .into_iter()
        .map(|t| IccidRewriter::new(t).unwrap())
        .collect();
    {
        // The rewritten copy parses with the new ICCID in its header and EF.ICCID.
        let rw = &rewriters[0];
        let iccid = rw.iccid(999_999);
        let copy = rw.package(&iccid);
        let parsed = veuicc::profile::saip::parse_package(&copy).unwrap();
        assert_eq!(parsed.iccid_digits(), iccid);
        let swapped = testbeds::smdp::iccid_to_swapped(&iccid).unwrap();
        assert_eq!(find_once(&copy, &swapped), Some(rw.ef_at));
        assert_eq!(find_once(&rw.template, &swapped), None);
    }
    let stock_start = Instant::now();
    let mut matching_ids = stock(&smdp, &rewriters, profiles);
    let stock_time = stock_start.elapsed();
    // Taken in order of creation (popped from the end).
    matching_ids.reverse();
    let setup_time = setup.elapsed();

    let shared = Arc::new(Shared {
        address,
        stock: Mutex::new(matching_ids),
        stop: AtomicBool::new(false),
        exhausted_at: Mutex::new(None),
        errors: AtomicUsize::new(0),
        device: DeviceCpu::default(),
    });
    println!(
        "{cards} eUICCs, one SM-DP+ at https://{} (127.0.0.1:{}), provider {provider_name}, \
         {} package(s) ({}{}), {profiles} profiles stocked in {:.1} s (setup {:.1} s); \
         warm-up {warmup} s, measuring {seconds} s",
        shared.address,
        addr.port(),
        rewriters.len(),
        names[0],
        if names.len() > 1 { ", …" } else { "" },
        stock_time.as_secs_f64(),
        setup_time.as_secs_f64(),
    );

    // --- the run -----------------------------------------------------------------------------
    let threads: Vec<std::thread::JoinHandle<Vec<Done>>> = clients
        .into_iter()
        .zip(transports)
        .enumerate()
        .map(|(i, (card, es9))| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("card-{i}"))
                .spawn(move || card_loop(card, es9, &shared))
                .unwrap()
        })
        .collect();

    let device_snapshot = |d: &DeviceCpu| {
        [
            d.download_ns.load(Ordering::Relaxed),
            d.card_ns.load(Ordering::Relaxed),
            d.delete_ns.load(Ordering::Relaxed),
        ]
    };
    std::thread::sleep(Duration::from_secs_f64(warmup));
    let t0 = Instant::now();
    let (cpu0, proc0, handlers0, device0, load0) = (
        cpu_by_class(),
        process_cpu(),
        handler_cpu.snapshot(),
        device_snapshot(&shared.device),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default(),
    );
    let planned_end = t0 + Duration::from_secs_f64(seconds);
    while Instant::now() < planned_end {
        let exhausted = shared
            .exhausted_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if exhausted {
            break;
        }
        std::thread::sleep(Duration::from_millis(20).min(planned_end - Instant::now()));
    }
    let t1 = Instant::now();
    let (cpu1, proc1, handlers1, device1, load1) = (
        cpu_by_class(),
        process_cpu(),
        handler_cpu.snapshot(),
        device_snapshot(&shared.device),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default(),
    );
    shared.stop.store(true, Ordering::Relaxed);
    let done: Vec<Done> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let rss_end = rss_kib();
    rt.block_on(server.shutdown(Duration::from_secs(5)))
        .unwrap();
    let exhausted = shared
        .exhausted_at
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_some_and(|t| t < planned_end);

    // --- figures -----------------------------------------------------------------------------
    let window = (t1 - t0).as_secs_f64();
    let in_window: Vec<&Done> = done.iter().filter(|d| d.end >= t0 && d.end <= t1).collect();
    let n = in_window.len();
    let nf = n.max(1) as f64;
    let rate = n as f64 / window;
    let mut lat: Vec<Duration> = in_window.iter().map(|d| d.latency).collect();
    lat.sort();
    let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));

    let class = |c: &str| {
        let at = |m: &BTreeMap<&str, (u64, usize)>| m.get(c).map_or(0, |v| v.0);
        at(&cpu1).saturating_sub(at(&cpu0)) as f64
    };
    let live_total: f64 = ["card", "lpa-https", "smdp-server", "sled", "other"]
        .iter()
        .map(|c| class(c))
        .sum();
    let proc_total = proc1.saturating_sub(proc0) as f64;
    let exited = (proc_total - live_total).max(0.0);
    let device_total = class("card") + class("lpa-https");
    let smdp_total = class("smdp-server") + class("sled") + class("other") + exited;
    let handlers: Vec<(&str, f64, u64)> = HANDLERS
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                *h,
                handlers1[i].0.saturating_sub(handlers0[i].0) as f64,
                handlers1[i].1.saturating_sub(handlers0[i].1),
            )
        })
        .collect();
    let handler_total: f64 = handlers.iter().map(|h| h.1).sum();
    let dev = |i: usize| device1[i].saturating_sub(device0[i]) as f64;
    let (download_cpu, card_cpu, delete_cpu) = (dev(0), dev(1), dev(2));
    let per = |x: f64| ms(x / nf);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // (The load average counts this bench's own threads too.)
    println!(
        "window {window:.2} s{}: {n} downloads, {} errors; loadavg before {} after {}",
        if exhausted {
            " (SHORTENED: the stock ran out; raise BENCH_PROFILES)"
        } else {
            ""
        },
        shared.errors.load(Ordering::Relaxed),
        load0
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load1
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    println!(
        "downloads per second: {rate:.1} (target ≥ 500: {})",
        if rate >= 500.0 { "met" } else { "NOT met" }
    );
    println!(
        "latency per download: median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "CPU per download: {:.3} ms in all ({:.0} % of {cores} cores busy)",
        per(proc_total),
        proc_total / 1e9 / window / cores as f64 * 100.0
    );
    let inside_download = if split {
        format!(
            "card core {:.3} + LPA {:.3}",
            per(card_cpu),
            per(download_cpu - card_cpu)
        )
    } else {
        "card core / LPA not split (BENCH_SPLIT=0)".to_owned()
    };
    println!(
        "  device side {:.3} ms: card threads {:.3} ms [lpa::download {:.3} ms = {inside_download}; \
         delete + notification removal {:.3}], LPA HTTPS client threads {:.3} ms",
        per(device_total),
        per(class("card")),
        per(download_cpu),
        per(delete_cpu),
        per(class("lpa-https")),
    );
    println!(
        "  SM-DP+ side {:.3} ms: server runtime threads {:.3} ms [ES9+ handlers {:.3} ms, \
         HTTP + TLS + JSON + runtime {:.3} ms], sled {:.3} ms, other live threads {:.3} ms, \
         threads that exited (sled's IO pool) {:.3} ms",
        per(smdp_total),
        per(class("smdp-server")),
        per(handler_total),
        per(class("smdp-server") - handler_total),
        per(class("sled")),
        per(class("other")),
        per(exited),
    );
    let thread_counts: Vec<String> = cpu1
        .iter()
        .map(|(c, (_, count))| format!("{c} {count}"))
        .collect();
    println!("  live threads by class: {}", thread_counts.join(", "));
    let handler_text: Vec<String> = handlers
        .iter()
        .map(|(h, t, calls)| {
            format!(
                "{} {:.3} ms ({calls} calls)",
                h.trim_start_matches("es9."),
                per(*t)
            )
        })
        .collect();
    println!("  ES9+ handlers per download: {}", handler_text.join(", "));
    // Median wall time per LPA step (queueing included).
    let mut steps: Vec<(Step, Vec<Duration>)> = Vec::new();
    for d in &in_window {
        for (s, t) in &d.timings {
            match steps.iter_mut().find(|(k, _)| k == s) {
                Some((_, v)) => v.push(*t),
                None => steps.push((*s, vec![*t])),
            }
        }
    }
    let step_text: Vec<String> = steps
        .iter_mut()
        .map(|(s, v)| {
            v.sort();
            format!("{s} {:.2}", percentile(v, 0.5).as_secs_f64() * 1e3)
        })
        .collect();
    println!("  median wall ms per step: {}", step_text.join(", "));
    let card_kib = rss_cards.saturating_sub(rss_before) as f64 / cards as f64;
    let lpa_kib = rss_lpas.saturating_sub(rss_lpa_before) as f64 / cards as f64;
    println!(
        "memory: {card_kib:.1} KiB per eUICC (RSS {rss_before} → {rss_cards} KiB for {cards} \
         cards); {lpa_kib:.1} KiB per LPA HTTPS client; RSS at the end {rss_end} KiB"
    );

    let json = serde_json::json!({
        "bench": "concurrent",
        "provider": provider_name,
        "cards": cards,
        "seconds": (window * 100.0).round() / 100.0,
        "shortened": exhausted,
        "downloads": n,
        "errors": shared.errors.load(Ordering::Relaxed),
        "downloads_per_s": (rate * 10.0).round() / 10.0,
        "latency_ms": {
            "median": ms(p50.as_nanos() as f64),
            "p99": ms(p99.as_nanos() as f64),
        },
        "cpu_ms_per_download": {
            "total": per(proc_total),
            "device": per(device_total),
            "lpa_download": per(download_cpu),
            "card_core": split.then(|| per(card_cpu)),
            "lpa": split.then(|| per(download_cpu - card_cpu)),
            "delete": per(delete_cpu),
            "lpa_https": per(class("lpa-https")),
            "smdp": per(smdp_total),
            "smdp_handlers": per(handler_total),
            "smdp_http_tls": per(class("smdp-server") - handler_total),
            "smdp_sled_other": per(class("sled") + class("other") + exited),
        },
        "memory_kib": {
            "per_euicc": (card_kib * 10.0).round() / 10.0,
            "per_lpa_https_client": (lpa_kib * 10.0).round() / 10.0,
            "rss_end": rss_end,
        },
        "cores": cores,
        "cores_busy_pct": (proc_total / 1e9 / window / cores as f64 * 1000.0).round() / 10.0,
        "loadavg_1m": load1.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()),
    });
    println!("{json}");
}
