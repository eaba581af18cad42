//! PC/SC round-trip time of a card under test against the no-op baseline, through one pcscd.
//!
//! Run it inside an isolated pcscd whose vpcd listens on `VPCD_PORT` and `VPCD_PORT + 1`:
//!
//! ```text
//! cargo bench -p veuicc --bench pcsc_rtt --no-run
//! scripts/pcsc-isolated cargo bench -p veuicc --bench pcsc_rtt
//! ```
//!
//! The card under test sits on slot 0 (`VPCD_PORT`), the no-op card on slot 1. Both readers get
//! the same APDU, alternating in blocks, so both see the same conditions.
//!
//! Environment:
//! - `VPCD_PORT` (35963): the first vpcd port.
//! - `PCSC_BENCH_CARD_CMD`: shell command starting the card under test; `{addr}` and `{port}`
//!   are replaced (`VPCD_ADDR` / `VPCD_PORT` are also set), e.g.
//!   `$PWD/target/release/veuicc serve --init --card /tmp/card@{addr}` (cargo runs benches in
//!   the package directory: use absolute paths). When it is set, the baseline runs as a
//!   `vpcd-noop` process too. Unset: both cards are in-process `NoopCard`s (the bench then
//!   measures the noise floor; the ratio should be ≈ 1).
//! - `PCSC_BENCH_N` (2000; 20 when run without `--bench`, as `cargo test` does): timed APDUs
//!   per reader. `PCSC_BENCH_WARMUP` (50), `PCSC_BENCH_BLOCK` (100).
//! - `PCSC_BENCH_APDU` (GetEID: `80E2910006BF3E035C015A00`), `PCSC_BENCH_SELECT=1`: SELECT
//!   ISD-R first.
//! - `PCSC_BENCH_READER` ("Virtual PCD"): reader name prefix. `PCSC_BENCH_TIMEOUT` (15 s) to
//!   wait for both cards.
//! - `PCSC_BENCH_REQUIRE=1`: fail instead of skipping when no pcscd is running.

use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use veuicc::vpcd::{self, CardSlot, NoopCard, SharedCard, ShutdownTrigger, VpcdOptions};

/// SGP.22 §2.2.3 / GlobalPlatform: SELECT by AID of the ISD-R.
const SELECT_ISDR: &str = "00A4040010A0000005591010FFFFFFFF8900000100";
/// SGP.22 §5.7.20 GetEID: STORE DATA with `BF3E 03 5C 01 5A`.
const GET_EID: &str = "80E2910006BF3E035C015A00";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}")),
        _ => Ok(default),
    }
}

fn decode_hex(name: &str, s: &str) -> anyhow::Result<Vec<u8>> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = hex::decode(&cleaned).with_context(|| format!("{name}: not hex: {s:?}"))?;
    if bytes.len() < 4 {
        bail!("{name}: an APDU has at least 4 bytes");
    }
    Ok(bytes)
}

struct Config {
    port: u16,
    n: usize,
    warmup: usize,
    block: usize,
    apdu: Vec<u8>,
    select: bool,
    reader_prefix: String,
    card_cmd: Option<String>,
    wait: Duration,
    require: bool,
}

impl Config {
    fn from_env() -> anyhow::Result<Config> {
        // cargo bench passes --bench; cargo test runs bench targets without it: be quick then.
        let bench_mode = std::env::args().any(|a| a == "--bench");
        let n = env_or("PCSC_BENCH_N", if bench_mode { 2000 } else { 20 })?;
        let apdu = std::env::var("PCSC_BENCH_APDU").unwrap_or_else(|_| GET_EID.to_string());
        Ok(Config {
            port: env_or("VPCD_PORT", vpcd::DEFAULT_PORT)?,
            n: n.max(1),
            warmup: env_or("PCSC_BENCH_WARMUP", if bench_mode { 50 } else { 5 })?,
            block: env_or("PCSC_BENCH_BLOCK", 100usize)?.max(1),
            apdu: decode_hex("PCSC_BENCH_APDU", &apdu)?,
            select: env_or("PCSC_BENCH_SELECT", 0u8)? == 1,
            reader_prefix: std::env::var("PCSC_BENCH_READER")
                .unwrap_or_else(|_| "Virtual PCD".to_string()),
            card_cmd: std::env::var("PCSC_BENCH_CARD_CMD")
                .ok()
                .filter(|c| !c.trim().is_empty()),
            wait: Duration::from_secs(env_or("PCSC_BENCH_TIMEOUT", 15u64)?),
            require: env_or("PCSC_BENCH_REQUIRE", 0u8)? == 1,
        })
    }
}

/// A card process we started; killed (by its pid, via `Child`) when dropped.
struct CardProcess {
    child: Child,
}

impl Drop for CardProcess {
    fn drop(&mut self) {
        if let Err(e) = self.child.kill() {
            eprintln!("pcsc_rtt: stopping card pid {}: {e}", self.child.id());
        }
        let _ = self.child.wait();
    }
}

fn spawn_process(cmd: &str, addr: SocketAddr) -> anyhow::Result<CardProcess> {
    let cmd = cmd
        .replace("{addr}", &addr.to_string())
        .replace("{port}", &addr.port().to_string());
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .env("VPCD_ADDR", addr.to_string())
        .env("VPCD_PORT", addr.port().to_string())
        .spawn()
        .with_context(|| format!("starting card: {cmd}"))?;
    Ok(CardProcess { child })
}

/// In-process no-op cards on their own single-threaded runtime.
struct InProcessCards {
    trigger: ShutdownTrigger,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl InProcessCards {
    fn start(addrs: Vec<SocketAddr>) -> anyhow::Result<InProcessCards> {
        let (trigger, shutdown) = vpcd::shutdown_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("noop-cards".into())
            .spawn(move || {
                let slots = addrs.into_iter().map(|addr| {
                    let card: SharedCard = Arc::new(Mutex::new(NoopCard::new()));
                    CardSlot { addr, card }
                });
                runtime.block_on(vpcd::serve_many(slots, VpcdOptions::default(), shutdown))?;
                Ok(())
            })?;
        Ok(InProcessCards { trigger, thread })
    }

    fn stop(self) -> anyhow::Result<()> {
        self.trigger.trigger();
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => bail!("in-process card thread panicked"),
        }
    }
}

/// Waits until readers `PREFIX 00 00` and `PREFIX 00 01` exist and hold a card.
fn wait_for_cards(
    ctx: &Context,
    cfg: &Config,
    processes: &mut [CardProcess],
) -> anyhow::Result<[CString; 2]> {
    let names = [
        CString::new(format!("{} 00 00", cfg.reader_prefix))?,
        CString::new(format!("{} 00 01", cfg.reader_prefix))?,
    ];
    let deadline = Instant::now() + cfg.wait;
    let mut listed = Vec::new();
    while Instant::now() < deadline {
        for p in processes.iter_mut() {
            if let Some(status) = p.child.try_wait()? {
                bail!("card process {} exited early: {status}", p.child.id());
            }
        }
        listed = match ctx.list_readers_owned() {
            Ok(l) => l,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(e).context("listing readers"),
        };
        if names.iter().all(|n| listed.contains(n)) {
            let mut states: Vec<ReaderState> = names
                .iter()
                .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
                .collect();
            ctx.get_status_change(Duration::from_millis(100), &mut states)
                .context("reader status")?;
            if states
                .iter()
                .all(|s| s.event_state().contains(State::PRESENT))
            {
                return Ok(names);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "timed out after {:?} waiting for cards in {names:?}; readers: {listed:?}",
        cfg.wait
    )
}

struct Reader {
    label: &'static str,
    name: CString,
    card: Card,
    times: Vec<Duration>,
    sw: [u8; 2],
}

impl Reader {
    fn transmit(&self, apdu: &[u8], buf: &mut [u8]) -> anyhow::Result<[u8; 2]> {
        let r = self
            .card
            .transmit(apdu, buf)
            .with_context(|| format!("{} ({:?}): transmit", self.label, self.name))?;
        match r {
            [.., sw1, sw2] => Ok([*sw1, *sw2]),
            _ => bail!(
                "{}: response shorter than a status word: {r:02X?}",
                self.label
            ),
        }
    }

    fn run(&mut self, apdu: &[u8], count: usize, buf: &mut [u8]) -> anyhow::Result<()> {
        for _ in 0..count {
            let t = Instant::now();
            let sw = self.transmit(apdu, buf)?;
            self.times.push(t.elapsed());
            self.sw = sw;
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Stats {
    median: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    rate: f64,
}

impl Stats {
    fn of(times: &[Duration]) -> Stats {
        let mut sorted = times.to_vec();
        sorted.sort();
        // Nearest rank.
        let pct = |p: f64| -> Duration {
            let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            sorted[rank - 1]
        };
        let total: Duration = sorted.iter().sum();
        Stats {
            median: pct(0.50),
            p90: pct(0.90),
            p99: pct(0.99),
            max: sorted.last().copied().unwrap_or_default(),
            rate: sorted.len() as f64 / total.as_secs_f64().max(1e-9),
        }
    }

    fn json(&self) -> serde_json::Value {
        let us = |d: Duration| (d.as_secs_f64() * 1e7).round() / 10.0;
        serde_json::json!({
            "median_us": us(self.median),
            "p90_us": us(self.p90),
            "p99_us": us(self.p99),
            "max_us": us(self.max),
            "rate_per_s": self.rate.round(),
        })
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() -> anyhow::Result<()> {
    let cfg = Config::from_env()?;
    let ctx = match Context::establish(Scope::User) {
        Ok(ctx) => ctx,
        Err(e) if !cfg.require => {
            eprintln!(
                "pcsc_rtt: skipped, no PC/SC service ({e}); run it inside scripts/pcsc-isolated"
            );
            return Ok(());
        }
        Err(e) => return Err(e).context("no PC/SC service; run inside scripts/pcsc-isolated"),
    };

    let [card_addr, noop_addr] =
        vpcd::slot_addrs(SocketAddr::from((Ipv4Addr::LOCALHOST, cfg.port)));
    let (card_desc, mut processes, in_process) = match &cfg.card_cmd {
        Some(cmd) => {
            let card = spawn_process(cmd, card_addr)?;
            let noop_cmd = format!("'{}' --addr {{addr}}", env!("CARGO_BIN_EXE_vpcd-noop"));
            let noop = spawn_process(&noop_cmd, noop_addr)?;
            (cmd.clone(), vec![card, noop], None)
        }
        None => (
            "in-process NoopCard (set PCSC_BENCH_CARD_CMD for a real card)".to_string(),
            Vec::new(),
            Some(InProcessCards::start(vec![card_addr, noop_addr])?),
        ),
    };

    let result = measure(&ctx, &cfg, &card_desc, &mut processes);
    processes.clear();
    if let Some(cards) = in_process {
        cards.stop()?;
    }
    result
}

fn measure(
    ctx: &Context,
    cfg: &Config,
    card_desc: &str,
    processes: &mut [CardProcess],
) -> anyhow::Result<()> {
    let [card_reader, noop_reader] = wait_for_cards(ctx, cfg, processes)?;
    let mut readers = Vec::new();
    for (label, name) in [("card", card_reader), ("noop", noop_reader)] {
        let card = ctx
            .connect(&name, ShareMode::Shared, Protocols::T0 | Protocols::T1)
            .with_context(|| format!("connecting to {name:?}"))?;
        readers.push(Reader {
            label,
            name,
            card,
            times: Vec::with_capacity(cfg.n),
            sw: [0, 0],
        });
    }
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let select = decode_hex("SELECT", SELECT_ISDR)?;
    let mut protocols = Vec::new();
    for r in &mut readers {
        protocols.push(format!("{:?}", r.card.status2_owned()?.protocol2()));
        if cfg.select {
            let sw = r.transmit(&select, &mut buf)?;
            if sw != [0x90, 0x00] {
                bail!("{}: SELECT ISD-R answered {sw:02X?}", r.label);
            }
        }
        r.run(&cfg.apdu, cfg.warmup, &mut buf)?;
        r.times.clear();
    }

    let wall = Instant::now();
    let mut done = 0;
    let mut round = 0usize;
    while done < cfg.n {
        let count = cfg.block.min(cfg.n - done);
        // Alternate which reader goes first so neither always follows the other.
        let order: [usize; 2] = if round.is_multiple_of(2) {
            [0, 1]
        } else {
            [1, 0]
        };
        for i in order {
            readers[i].run(&cfg.apdu, count, &mut buf)?;
        }
        done += count;
        round += 1;
    }
    let wall = wall.elapsed();

    let stats: Vec<Stats> = readers.iter().map(|r| Stats::of(&r.times)).collect();
    let ratio = stats[0].median.as_secs_f64() / stats[1].median.as_secs_f64().max(1e-12);
    println!(
        "pcsc_rtt: N={} per reader, warm-up {}, blocks of {}, APDU {}{}, wall {:.2} s",
        cfg.n,
        cfg.warmup,
        cfg.block,
        hex::encode_upper(&cfg.apdu),
        if cfg.select {
            " after SELECT ISD-R"
        } else {
            ""
        },
        wall.as_secs_f64()
    );
    for ((r, s), proto) in readers.iter().zip(&stats).zip(&protocols) {
        println!(
            "  {} [{}, {proto}, SW {:02X}{:02X}]: median {}  p90 {}  p99 {}  max {}  rate {:.0}/s",
            r.label,
            r.name.to_string_lossy(),
            r.sw[0],
            r.sw[1],
            us(s.median),
            us(s.p90),
            us(s.p99),
            us(s.max),
            s.rate
        );
    }
    println!("  card under test: {card_desc}");
    for r in &readers {
        if r.sw != [0x90, 0x00] && r.sw[0] != 0x61 {
            println!(
                "  note: {} answered SW {:02X}{:02X}, not 9000 (PCSC_BENCH_SELECT=1 selects the ISD-R first)",
                r.label, r.sw[0], r.sw[1]
            );
        }
    }
    println!("  ratio median(card)/median(noop) = {ratio:.3}");
    let json = serde_json::json!({
        "bench": "pcsc_rtt",
        "n": cfg.n,
        "warmup": cfg.warmup,
        "block": cfg.block,
        "apdu": hex::encode_upper(&cfg.apdu),
        "select_isdr": cfg.select,
        "card_cmd": cfg.card_cmd,
        "card": stats[0].json(),
        "noop": stats[1].json(),
        "ratio_median": (ratio * 1000.0).round() / 1000.0,
    });
    println!("{json}");

    for r in readers {
        r.card
            .disconnect(Disposition::LeaveCard)
            .map_err(|(_, e)| e)
            .context("disconnect")?;
    }
    Ok(())
}
