#![allow(clippy::unwrap_used)]
//! 100 modems in one process, each with its own PTY: memory per modem (RSS from
//! `/proc/self/statm` before and after), idle CPU of the hang-up polling, and `AT+CGSN` round
//! trips while every modem is busy at once.
//!
//! `cargo bench -p vmodem --bench many_modems` (`MANY_MODEMS` = count, default 100;
//! `MANY_MODEMS_N` = round trips per client, default 200).

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use vmodem::config::{Config, ModemConfig, PortConfig};
use vmodem::pty::PtyClient;
use vmodem::server::{Server, ServerOptions};
use vmodem::transcript::TranscriptOptions;

/// The page size, from the first mapping in `/proc/self/smaps` (`KernelPageSize: 4 kB`).
fn page_size() -> u64 {
    std::fs::read_to_string("/proc/self/smaps")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("KernelPageSize:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(4096, |kb| kb * 1024)
}

/// Resident set size in bytes (`/proc/self/statm`, second field, in pages).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * page_size()
}

/// User + system CPU time of this process (`/proc/self/stat` fields 14 and 15, clock ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // /proc reports in USER_HZ, which is 100 on Linux.
    let hz = 100u64;
    Duration::from_secs_f64(ticks as f64 / hz as f64)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let count = env_usize("MANY_MODEMS", 100);
    let n = env_usize("MANY_MODEMS_N", 200);
    let dir = tempfile::tempdir().unwrap();
    let modems = (0..count)
        .map(|i| {
            let mut m = ModemConfig::named(&format!("m{i}"));
            m.ports = vec![PortConfig::pty("at0")];
            m
        })
        .collect();
    let cfg = Config {
        run_dir: Some(dir.path().to_path_buf()),
        control: None,
        modems,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = ServerOptions {
        transcript: TranscriptOptions {
            enabled: false,
            ..TranscriptOptions::default()
        },
        ..ServerOptions::default()
    };
    let before = rss();
    let t = Instant::now();
    let server = rt.block_on(Server::start(&cfg, opts)).unwrap();
    let started = t.elapsed();
    let after_start = rss();

    // Idle: nobody has a PTY open, every port polls for a client every 50 ms.
    let cpu0 = cpu_time();
    std::thread::sleep(Duration::from_secs(2));
    let idle_cpu = cpu_time().saturating_sub(cpu0);

    let links: Vec<_> = (0..count)
        .map(|i| {
            server
                .port(&format!("m{i}"), "at0")
                .unwrap()
                .symlink
                .clone()
                .unwrap()
        })
        .collect();
    let barrier = Arc::new(Barrier::new(count));
    let threads: Vec<_> = links
        .into_iter()
        .map(|link| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = PtyClient::open(&link).unwrap();
                let ends: &[&[u8]] = &[b"OK\r\n", b"ERROR\r\n"];
                c.write_all(b"AT+CGSN\r").unwrap();
                let got = c.read_until(ends, Duration::from_secs(30)).unwrap();
                assert!(
                    got.ends_with(b"OK\r\n"),
                    "{}",
                    String::from_utf8_lossy(&got)
                );
                barrier.wait();
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    c.write_all(b"AT+CGSN\r").unwrap();
                    let got = c.read_until(ends, Duration::from_secs(30)).unwrap();
                    samples.push(t.elapsed());
                    assert!(got.ends_with(b"OK\r\n"));
                }
                (samples, c)
            })
        })
        .collect();
    let t = Instant::now();
    let mut all = Vec::new();
    let mut clients = Vec::new();
    for th in threads {
        let (s, c) = th.join().unwrap();
        all.extend(s);
        clients.push(c);
    }
    let busy = t.elapsed();
    let after_busy = rss();
    all.sort();
    let pct = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
    drop(clients);
    rt.block_on(server.shutdown());

    println!("vmodem: {count} modems in one process, one PTY each (tokio, 2 workers)");
    println!(
        "start                      {:>8.1} ms",
        started.as_secs_f64() * 1e3
    );
    println!(
        "RSS before / started / busy {:>7.1} / {:.1} / {:.1} MiB",
        mib(before),
        mib(after_start),
        mib(after_busy)
    );
    println!(
        "RSS per modem (started)    {:>8.1} KiB",
        (after_start.saturating_sub(before)) as f64 / 1024.0 / count as f64
    );
    println!(
        "RSS per modem (after busy) {:>8.1} KiB",
        (after_busy.saturating_sub(before)) as f64 / 1024.0 / count as f64
    );
    println!(
        "idle CPU (HUP polling)     {:>8.1} % of one core",
        idle_cpu.as_secs_f64() / 2.0 * 100.0
    );
    println!(
        "AT+CGSN all busy           n={} median {:.1} µs  p99 {:.1} µs  ({:.0} commands/s)",
        all.len(),
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        all.len() as f64 / busy.as_secs_f64()
    );
}
