#![allow(clippy::unwrap_used)]
//! AT round trips over a real PTY (client in raw mode, as ModemManager/pySim/lpac do), against
//! two baselines measured in the same run: `AT` over the same PTY, and the same command through
//! the sans-IO `Modem::input` with no IO at all.
//!
//! `cargo bench -p vmodem --bench at_rtt` (`AT_RTT_N` sets the iterations, default 2000).
//! Target: `AT+CGSN` median < 100 µs.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use vmodem::config::{Config, ModemConfig, PortConfig};
use vmodem::modem::Modem;
use vmodem::pty::PtyClient;
use vmodem::server::{Server, ServerOptions};
use vmodem::transcript::TranscriptOptions;

const ISD_R: &str = "A0000005591010FFFFFFFF8900000100";
/// SGP.22 GetEID: STORE DATA `BF3E 03 5C 01 5A` (CLA channel bits are set by the modem).
const GET_EID: &str = "80E2910006BF3E035C015A";
const ENDS: &[&[u8]] = &[b"OK\r\n", b"ERROR\r\n"];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Figures {
    median: Duration,
    p99: Duration,
}

fn report(name: &str, mut samples: Vec<Duration>) -> Figures {
    samples.sort();
    let f = Figures {
        median: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
    };
    println!(
        "{name:<44} n={:<5} median {:>8.1} µs   p99 {:>8.1} µs",
        samples.len(),
        f.median.as_secs_f64() * 1e6,
        f.p99.as_secs_f64() * 1e6
    );
    f
}

fn round_trip(c: &mut PtyClient, cmd: &[u8]) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    c.write_all(cmd).unwrap();
    let got = c.read_until(ENDS, Duration::from_secs(10)).unwrap();
    (t.elapsed(), got)
}

fn measure(
    c: &mut PtyClient,
    cmd: &[u8],
    n: usize,
    check: impl Fn(&[u8]) -> bool,
) -> Vec<Duration> {
    for _ in 0..n / 10 + 1 {
        let (_, got) = round_trip(c, cmd);
        assert!(
            check(&got),
            "unexpected answer to {}: {}",
            String::from_utf8_lossy(cmd).trim(),
            String::from_utf8_lossy(&got)
        );
    }
    (0..n).map(|_| round_trip(c, cmd).0).collect()
}

fn config(dir: &Path) -> Config {
    let mut m = ModemConfig::named("m0");
    m.ports = vec![PortConfig::pty("at0")];
    Config {
        run_dir: Some(dir.to_path_buf()),
        control: None,
        modems: vec![m],
    }
}

/// Waits for `+CPIN: READY` (the SIM of the active slot finishes its start-up on a timer).
fn wait_sim_ready(c: &mut PtyClient) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, got) = round_trip(c, b"AT+CPIN?\r");
        if String::from_utf8_lossy(&got).contains("+CPIN: READY") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "SIM not ready: {}",
            String::from_utf8_lossy(&got)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn open_channel(c: &mut PtyClient) -> String {
    wait_sim_ready(c);
    let (_, got) = round_trip(c, format!("AT+CCHO=\"{ISD_R}\"\r").as_bytes());
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(text.ends_with("OK\r\n"), "AT+CCHO: {text}");
    text.lines()
        .map(|l| l.trim().trim_start_matches("+CCHO:").trim())
        .find(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no session id in {text:?}"))
        .to_string()
}

fn in_process(dir: &Path, n: usize) -> Vec<Duration> {
    let mut cfg = ModemConfig::named("inproc");
    cfg.ports = vec![PortConfig::pty("at0")];
    cfg.state_dir = Some(dir.join("inproc-state"));
    let mut modem = Modem::open(&cfg).unwrap();
    modem.attach(0);
    let mut out = modem.input(0, b"AT+CGSN\r", Instant::now());
    out.extend(modem.take_output(0));
    assert!(
        out.ends_with(b"OK\r\n"),
        "in-process: {}",
        String::from_utf8_lossy(&out)
    );
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let out = modem.input(0, b"AT+CGSN\r", Instant::now());
            std::hint::black_box(out);
            t.elapsed()
        })
        .collect()
}

fn run(transcripts: bool, n: usize) -> (Figures, Figures, Figures) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.modems[0].state_dir = Some(dir.path().join("state"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = ServerOptions {
        transcript: TranscriptOptions {
            enabled: transcripts,
            ..TranscriptOptions::default()
        },
        ..ServerOptions::default()
    };
    let server = rt.block_on(Server::start(&cfg, opts)).unwrap();
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    let mut c = PtyClient::open(&link).unwrap();
    let label = if transcripts {
        "transcripts on"
    } else {
        "transcripts off"
    };
    let at = report(
        &format!("AT over PTY ({label})"),
        measure(&mut c, b"AT\r", n, |g| g.ends_with(b"OK\r\n")),
    );
    let cgsn = report(
        &format!("AT+CGSN over PTY ({label})"),
        measure(&mut c, b"AT+CGSN\r", n, |g| {
            g.ends_with(b"OK\r\n") && g.windows(15).any(|w| w.iter().all(u8::is_ascii_digit))
        }),
    );
    let ch = open_channel(&mut c);
    let cmd = format!("AT+CGLA={ch},{},\"{GET_EID}\"\r", GET_EID.len());
    let eid = report(
        &format!("AT+CGLA GetEID over PTY ({label})"),
        measure(&mut c, cmd.as_bytes(), n, |g| {
            let s = String::from_utf8_lossy(g);
            s.ends_with("OK\r\n")
                && s.contains("+CGLA:")
                && s.contains("BF3E")
                && s.contains("9000")
        }),
    );
    let _ = round_trip(&mut c, format!("AT+CCHC={ch}\r").as_bytes());
    drop(c);
    rt.block_on(server.shutdown());
    (at, cgsn, eid)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let n: usize = std::env::var("AT_RTT_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    println!("vmodem AT round trips (client: raw PTY, blocking; server: tokio, 2 workers)");
    let dir = tempfile::tempdir().unwrap();
    let base = report(
        "AT+CGSN in-process (Modem::input, no IO)",
        in_process(dir.path(), n),
    );
    let (at, cgsn, eid) = run(false, n);
    let (_, cgsn_t, _) = run(true, n);
    let ratio =
        |a: &Figures, b: &Figures| a.median.as_secs_f64() / b.median.as_secs_f64().max(1e-9);
    println!(
        "AT+CGSN / AT over PTY (median)              {:.2}x",
        ratio(&cgsn, &at)
    );
    println!(
        "AT+CGSN PTY / in-process (median)           {:.1}x",
        ratio(&cgsn, &base)
    );
    println!(
        "AT+CGSN transcripts on / off (median)       {:.2}x",
        ratio(&cgsn_t, &cgsn)
    );
    println!(
        "GetEID / AT+CGSN over PTY (median)          {:.2}x",
        ratio(&eid, &cgsn)
    );
    let target = Duration::from_micros(100);
    println!(
        "target AT+CGSN median < 100 µs: {}",
        if cgsn.median < target {
            "met"
        } else {
            "NOT met"
        }
    );
}
