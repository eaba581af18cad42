//! Profile download over the real stack: the SM-DP+ as a separate `testbed smdp` process on real
//! HTTPS (127.0.0.1), the card as a separate `veuicc serve` process behind pcscd + vpcd, and the
//! LPA (`hil::lpa` and the `hil` binary) over PC/SC.
//!
//! Runs only inside `scripts/pcsc-isolated` (a private pcscd), signalled by `VEUICC_PCSC_TEST=1`;
//! `scripts/test` does that. Without it the test says SKIPPED, unless `VEUICC_REQUIRE_PCSC=1`
//! makes the absence a failure.

#![allow(clippy::unwrap_used)]

use hil::client::{iccid_digits, imsi_digits, Client};
use hil::lpa::{self, DownloadParams, HttpsEs9, HttpsOptions, NotificationDelivery};
use hil::transport::{self, Pcsc};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn testdata() -> PathBuf {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/testdata"));
    assert!(
        p.join("ts48").is_dir(),
        "testdata not found: set VEUICC_TESTDATA"
    );
    p
}

/// A binary built beside this test (`cargo build --workspace --bins` first).
fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|d| d.parent())
        .map(|d| d.join(name))
        .expect("target directory")
}

fn enabled() -> bool {
    if std::env::var("VEUICC_PCSC_TEST").as_deref() == Ok("1") {
        return true;
    }
    if std::env::var("VEUICC_REQUIRE_PCSC").as_deref() == Ok("1") {
        panic!("VEUICC_REQUIRE_PCSC=1 but not running inside scripts/pcsc-isolated");
    }
    eprintln!("SKIPPED: PC/SC stack tests run inside scripts/pcsc-isolated (VEUICC_PCSC_TEST=1)");
    false
}

fn run(name: &str, args: &[&str]) -> String {
    let out = Command::new(bin(name)).args(args).output().expect(name);
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn vpcd_port() -> u16 {
    std::env::var("VPCD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(35963)
}

fn connect_when_present() -> Pcsc {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(readers) = transport::list_readers() {
            if let Some(r) = readers.iter().find(|r| r.ends_with(" 00 00")) {
                if let Ok(p) = Pcsc::connect(r) {
                    return p;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no card appeared in the vpcd reader"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `testbed smdp` on 127.0.0.1 (any free port) under the card's CI: its address and TLS CA.
fn start_smdp(state: &Path, card_identity: &Path, ts48: &Path) -> (Proc, String, PathBuf) {
    let mut child = Command::new(bin("testbed"))
        .args(["smdp", "--state"])
        .arg(state)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--host",
            "localhost",
            "--ci-cert",
        ])
        .arg(card_identity.join("ci.der"))
        .arg("--ci-key")
        .arg(card_identity.join("ci-key.pem"))
        .arg("--profiles")
        .arg(ts48)
        .env("TESTBED_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start testbed smdp");
    let stdout = child.stdout.take().unwrap();
    let proc = Proc(child);
    let mut address = None;
    let mut ca = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("smdp address ") {
            address = Some(a.trim().to_string());
        }
        if let Some(c) = line.strip_prefix("tls ca ") {
            ca = Some(PathBuf::from(c.trim()));
        }
        if line.starts_with("profiles ") {
            break;
        }
    }
    // Keep draining its stdout: a closed pipe would make its next write fail.
    std::thread::spawn(move || lines.for_each(drop));
    (
        proc,
        address.expect("testbed smdp printed no address"),
        ca.expect("testbed smdp printed no TLS CA"),
    )
}

fn order(address: &str, ca: &Path, iccid: &str) -> String {
    let ac = run(
        "testbed",
        &[
            "order",
            "--server",
            &format!("https://{address}"),
            "--ca",
            ca.to_str().unwrap(),
            "--iccid",
            iccid,
        ],
    );
    ac.trim().to_string()
}

#[test]
fn download_over_pcsc_and_https_with_separate_processes() {
    if !enabled() {
        return;
    }
    let td = testdata();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(td.join("ts48/expected.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let card_state = dir.path().join("card");
    let cs = card_state.to_str().unwrap();
    run("veuicc", &["init", "--state", cs]);
    let (_smdp, address, ca) = start_smdp(
        &dir.path().join("smdp"),
        &card_state.join("identity"),
        &td.join("ts48"),
    );
    assert!(address.starts_with("localhost:"), "{address}");

    let spec = format!("{cs}@127.0.0.1:{}", vpcd_port());
    let _card = Proc(
        Command::new(bin("veuicc"))
            .args(["serve", "--card", &spec])
            .env("VEUICC_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start veuicc serve"),
    );
    let mut pcsc = connect_when_present();

    // 1. The `hil` binary: activation code, PC/SC, HTTPS trusting the SM-DP+'s CA only.
    let first = "TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der";
    let first_iccid = expected[first]["iccid"].as_str().unwrap();
    let ac = order(&address, &ca, first_iccid);
    assert!(ac.starts_with("LPA:1$localhost:"), "{ac}");
    let out = Command::new(bin("hil"))
        .args(["--channel", "--json", "download", "--activation-code", &ac])
        .arg("--ca")
        .arg(&ca)
        .args([
            "--resolve",
            "localhost=127.0.0.1",
            "--imei",
            "356938035643809",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hil download: {stderr}");
    assert!(
        stderr.contains("LoadBoundProfilePackage"),
        "progress: {stderr}"
    );
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(o["iccid"], first_iccid);
    assert_eq!(o["notification"], "delivered and removed");

    // 2. The library over the same PC/SC connection, for every other TS.48 profile.
    let opts = HttpsOptions::default().with_ca_file(&ca, true).unwrap();
    let mut opts = opts;
    opts.resolve
        .push(("localhost".into(), "127.0.0.1".parse().unwrap()));
    let mut es9 = HttpsEs9::new(&opts).unwrap();
    let mut c = Client::new(&mut pcsc);
    c.open_channel().unwrap();
    let mut times = Vec::new();
    let mut installed = vec![first_iccid.to_string()];
    for (file, exp) in expected.as_object().unwrap() {
        if file == first {
            continue;
        }
        let iccid = exp["iccid"].as_str().unwrap();
        let ac = order(&address, &ca, iccid);
        let o = lpa::download(
            &mut c,
            &mut es9,
            DownloadParams::from_activation_code(&ac).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(o.iccid, iccid);
        assert_eq!(o.notification, NotificationDelivery::Delivered);
        times.push(o.total);
        installed.push(iccid.to_string());
    }
    let profiles = c.profiles(None).unwrap();
    assert_eq!(profiles.len(), installed.len());
    for iccid in &installed {
        assert!(
            profiles
                .iter()
                .any(|p| p.iccid.as_ref().map(|i| iccid_digits(i)).as_deref() == Some(iccid)),
            "{iccid} missing"
        );
    }

    // Enable the first; EF.ICCID / EF.IMSI show it; the notifications reach the SM-DP+.
    let raw = veuicc::euicc::records::parse_iccid(first_iccid).unwrap();
    assert_eq!(c.enable(&raw, true).unwrap(), 0);
    c.close_channel().unwrap();
    assert_eq!(
        iccid_digits(&c.read_ef(None, &[0x2FE2]).unwrap()),
        first_iccid
    );
    let usim = hex::decode("A0000000871002FF49FF0589").unwrap();
    let imsi = c.read_ef(Some(&usim), &[0x6F07]).unwrap();
    assert_eq!(imsi_digits(&imsi).unwrap(), expected[first]["imsi"]);
    let out = Command::new(bin("hil"))
        .args(["--channel", "--json", "notifications", "process"])
        .arg("--ca")
        .arg(&ca)
        .args(["--resolve", "localhost=127.0.0.1"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hil notifications process: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 1, "{reports}");
    assert_eq!(reports[0]["event"], "enable");
    assert_eq!(reports[0]["removed"], true);

    times.sort();
    eprintln!(
        "{} downloads over pcscd + vpcd + HTTPS (separate processes): median {:.1} ms, min {:.1} ms, max {:.1} ms",
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1000.0,
        times[0].as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
}
