#![allow(clippy::unwrap_used)]
//! What the IMEI binding engine adds to a profile enable, against the same enable with the
//! engine switched off (`[modem.binding] enabled = false`), measured in the same run.
//!
//! Two modems with the same layout (slot 1 empty, the virtual eUICC in slot 2 with two TS.48
//! profiles), state on disk (sled, flushed writes, as `vmodem start` runs them). An LPA's
//! EnableProfile (`BF31` with refreshFlag) arrives as `AT+CGLA` through the sans-IO
//! `Modem::input`; the time is `input` plus the `poll` that finishes the SIM refresh (immediate
//! timing). Each iteration enables the other profile, alternating between the two modems so
//! that both see the same machine load. With the engine on, an enable adds: the re-evaluation,
//! the binding record written to the modem's sled store, and SetImeiBinding (`FF21`) for the
//! enabled and the disabled profile on the modem's own logical channel (the card writes its
//! store too).
//!
//! `cargo bench -p vmodem --bench binding` (`BINDING_N` iterations per modem, default 300;
//! `BINDING_MEMORY=1` for in-memory stores). Target: added median < 1 ms.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use vmodem::config::{ModemConfig, SlotConfig};
use vmodem::control::ControlRequest;
use vmodem::device::network::Timing;
use vmodem::modem::{Modem, ModemOptions};

const ISD_R: &str = "A0000005591010FFFFFFFF8900000100";
const PKG_A: &str = "TS48V1-A-UNIQUE.der";
const PKG_B: &str = "TS48V1-B-UNIQUE.der";

fn testdata() -> Option<PathBuf> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    dir.join("ts48").is_dir().then(|| dir.join("ts48"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Bench {
    m: Modem,
    now: Instant,
    channel: String,
    iccids: [String; 2],
    next: usize,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Bench {
    fn open(name: &str, engine: bool, td: &std::path::Path, state: Option<PathBuf>) -> Bench {
        let mut cfg = ModemConfig::named(name);
        cfg.slots = vec![SlotConfig::Empty, SlotConfig::Euicc { state_dir: None }];
        cfg.state_dir = state;
        cfg.binding.enabled = engine;
        let mut m = Modem::open_with(
            &cfg,
            &ModemOptions {
                timing: Timing::immediate(),
                seed: Some([1; 32]),
            },
        )
        .unwrap();
        let mut now = Instant::now();
        let mut iccids = Vec::new();
        for (i, p) in [PKG_A, PKG_B].iter().enumerate() {
            let r = m
                .control(
                    &ControlRequest::AddProfile {
                        package: td.join(p),
                        enable: i == 0,
                    },
                    now,
                )
                .unwrap();
            iccids.push(r["iccid"].as_str().unwrap().to_string());
        }
        now += Duration::from_millis(10);
        m.poll(now);
        let out = text(&m.input(0, b"ATE0\r", now));
        assert!(out.contains("OK"), "{out}");
        let out = text(&m.input(0, format!("AT+CCHO=\"{ISD_R}\"\r").as_bytes(), now));
        let channel = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("+CCHO: "))
            .unwrap()
            .to_string();
        Bench {
            m,
            now,
            channel,
            iccids: [iccids[0].clone(), iccids[1].clone()],
            next: 1,
        }
    }

    /// One EnableProfile over AT+CGLA of the profile not enabled; its duration.
    fn enable_other(&mut self) -> Duration {
        let ef = vmodem::device::iccid_to_ef(&self.iccids[self.next]).unwrap();
        self.next = 1 - self.next;
        let mut inner = rsp::tlv::tlv(0xA0, &rsp::tlv::tlv(0x5A, &ef));
        inner.extend(rsp::tlv::tlv(0x81, &[0xFF]));
        let es10 = rsp::tlv::tlv(0xBF31, &inner);
        let mut apdu = vec![0x80, 0xE2, 0x91, 0x00, es10.len() as u8];
        apdu.extend(&es10);
        apdu.push(0);
        let hex = hex::encode_upper(&apdu);
        let line = format!("AT+CGLA={},{},\"{hex}\"\r", self.channel, hex.len());
        self.now += Duration::from_millis(50);
        let t = Instant::now();
        let out = self.m.input(0, line.as_bytes(), self.now);
        self.m.poll(self.now + Duration::from_millis(1));
        let d = t.elapsed();
        let out = text(&out);
        assert!(out.contains("BF3103800100"), "{out}");
        // Leave the refresh fully done before the next measurement.
        self.now += Duration::from_millis(50);
        self.m.poll(self.now);
        drop(self.m.take_output(0));
        d
    }
}

fn main() {
    let Some(td) = testdata() else {
        println!("SKIPPED: shared test data not found (set VEUICC_TESTDATA)");
        return;
    };
    let n: usize = std::env::var("BINDING_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let memory = std::env::var("BINDING_MEMORY").as_deref() == Ok("1");
    let dir = tempfile::tempdir().unwrap();
    let state = |s: &str| (!memory).then(|| dir.path().join(s));
    let mut on = Bench::open("bench-on", true, &td, state("on"));
    let mut off = Bench::open("bench-off", false, &td, state("off"));
    // Warm-up.
    for _ in 0..10 {
        on.enable_other();
        off.enable_other();
    }
    let (mut t_on, mut t_off) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        t_on.push(on.enable_other());
        t_off.push(off.enable_other());
    }
    t_on.sort();
    t_off.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let (m_on, m_off) = (percentile(&t_on, 0.5), percentile(&t_off, 0.5));
    println!(
        "profile enable over AT+CGLA (EnableProfile + SIM refresh), {} stores, n={n} each",
        if memory {
            "in-memory"
        } else {
            "sled (on disk)"
        }
    );
    for (name, t) in [("engine off", &t_off), ("engine on", &t_on)] {
        println!(
            "  {name:<11} median {:>8.1} µs   p90 {:>8.1} µs   p99 {:>8.1} µs",
            us(percentile(t, 0.5)),
            us(percentile(t, 0.9)),
            us(percentile(t, 0.99))
        );
    }
    println!(
        "  added by the engine: median {:.1} µs ({:.3} ms; target < 1 ms); ratio on/off {:.2}",
        us(m_on) - us(m_off),
        (us(m_on) - us(m_off)) / 1000.0,
        us(m_on) / us(m_off).max(1e-9)
    );
    // The engine did its work: the history of the first profile has every enable.
    let b =
        on.m.control(&ControlRequest::ImeiBinding { iccid: None }, on.now)
            .unwrap();
    let entries: usize = b["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["history"].as_array().unwrap().len())
        .sum();
    println!("  (history entries kept: {entries}, capped at 32 per profile)");
}
