//! The modem's PC/SC-backed SIM slot against a real card: pcscd + vsmartcard-vpcd + a
//! `veuicc serve` process holding a TS.48 profile, the modem in-process with slot 1 =
//! `kind = "pcsc"`, and a client on its AT port (a real PTY).
//!
//! Runs only inside `scripts/pcsc-isolated` (which starts a private pcscd), signalled by
//! `VEUICC_PCSC_TEST=1`; `scripts/test` does that. Without it the test says SKIPPED, unless
//! `VEUICC_REQUIRE_PCSC=1` makes the absence a failure.
//!
//! The `veuicc` binary is taken from beside this test (`target/<profile>/veuicc`; `scripts/test`
//! runs `cargo build --workspace --bins` first) or from `VEUICC_BIN`.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vmodem::config::{Config, ModemConfig, PortConfig, SlotConfig};
use vmodem::control::{ControlRequest, Envelope};
use vmodem::device::pcsc::PcscCard;
use vmodem::pty::PtyClient;
use vmodem::server::{Server, ServerOptions};

const PKG: &str = "TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der";
const READER: &str = "Virtual PCD 00 00";
const ISDR_AID: &str = "A0000005591010FFFFFFFF8900000100";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn testdata() -> Option<PathBuf> {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/testdata"));
    p.join("ts48").is_dir().then_some(p)
}

/// `veuicc` next to the `vmodem` binary cargo built for this test.
fn veuicc_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VEUICC_BIN") {
        return p.into();
    }
    Path::new(env!("CARGO_BIN_EXE_vmodem"))
        .parent()
        .map(|d| d.join("veuicc"))
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

fn veuicc(args: &[&str]) -> String {
    let bin = veuicc_bin();
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (or set VEUICC_BIN)",
        bin.display()
    );
    let out = Command::new(bin).args(args).output().expect("run veuicc");
    assert!(
        out.status.success(),
        "veuicc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `veuicc serve` process; killed (the card leaves the reader) when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn port() -> u16 {
    std::env::var("VPCD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(35963)
}

fn serve(state: &Path) -> Served {
    let spec = format!("{}@127.0.0.1:{}", state.display(), port());
    let child = Command::new(veuicc_bin())
        .args(["serve", "--card", &spec])
        .env("VEUICC_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start veuicc serve");
    Served(child)
}

/// Waits until the reader holds a card that can be connected.
fn wait_for_card() {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match PcscCard::connect(READER) {
            Ok(_) => return,
            Err(e) => assert!(
                Instant::now() < deadline,
                "no card appeared in {READER:?}: {e}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A blocking client on the modem's AT port.
struct At(PtyClient);

impl At {
    fn open(path: &Path) -> At {
        let mut c = PtyClient::open(path).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(50)));
        At(c)
    }

    /// Sends `line` and returns the non-empty lines up to and including the final result code
    /// (URCs that arrive meanwhile included).
    fn cmd(&mut self, line: &str) -> Vec<String> {
        self.0.write_all(format!("{line}\r").as_bytes()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let lines: Vec<String> = String::from_utf8_lossy(&raw)
                .split("\r\n")
                .map(|l| l.trim().to_string())
                .collect();
            // Only complete lines count (the last piece may be partial).
            let complete = &lines[..lines.len() - 1];
            if complete
                .iter()
                .any(|l| l == "OK" || l == "ERROR" || l.starts_with("+CME ERROR:"))
            {
                return complete.iter().filter(|l| !l.is_empty()).cloned().collect();
            }
            assert!(
                Instant::now() < deadline,
                "{line}: no final result; got {:?}",
                String::from_utf8_lossy(&raw)
            );
            match self.0.read(&mut buf) {
                Ok(0) => {}
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// The command's information line starting with `prefix`, after checking it ended in OK.
    fn info(&mut self, line: &str, prefix: &str) -> String {
        let r = self.cmd(line);
        assert_eq!(r.last().map(String::as_str), Some("OK"), "{line}: {r:?}");
        r.iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{line}: no {prefix} line in {r:?}"))
            .clone()
    }

    /// The final result code of `line`.
    fn result(&mut self, line: &str) -> String {
        self.cmd(line).last().unwrap().clone()
    }

    /// Polls `line` until an answer line starts with `want`, or fails after `timeout`.
    fn wait_for(&mut self, line: &str, want: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.cmd(line);
            if r.iter().any(|l| l.starts_with(want)) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "{line}: waited {timeout:?} for {want:?}; last answer {r:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn control(server: &Server, request: ControlRequest) -> serde_json::Value {
    server
        .control(&Envelope {
            modem: None,
            request,
        })
        .unwrap_or_else(|e| panic!("control request failed: {e}"))
}

/// The hex inside the quotes of `+CSIM: n,"…"` / `+CRSM: a,b,"…"` / `+CGLA: n,"…"`.
fn quoted(l: &str) -> String {
    l.split('"').nth(1).unwrap_or_default().to_uppercase()
}

/// ICCID digits → EF.ICCID as stored (nibble-swapped BCD, F-padded).
fn iccid_ef(digits: &str) -> String {
    let mut d: Vec<char> = digits.chars().collect();
    if d.len() % 2 == 1 {
        d.push('F');
    }
    d.chunks(2).map(|p| format!("{}{}", p[1], p[0])).collect()
}

#[test]
fn modem_slot_drives_a_veuicc_card_through_pcscd() {
    if !enabled() {
        return;
    }
    let Some(td) = testdata() else {
        panic!("testdata not found: set VEUICC_TESTDATA");
    };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(td.join("ts48/expected.json")).unwrap()).unwrap();
    let exp = &expected[PKG];
    let imsi = exp["imsi"].as_str().unwrap().to_string();
    let iccid = exp["iccid"].as_str().unwrap().to_string();

    // The card: a veuicc state directory with the TS.48 profile enabled, served to vpcd.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card");
    let st = state.to_str().unwrap();
    veuicc(&["init", "--state", st]);
    let pkg = td.join("ts48").join(PKG);
    veuicc(&[
        "load-profile",
        "--enable",
        "--state",
        st,
        pkg.to_str().unwrap(),
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&veuicc(&["--json", "list", "--state", st])).unwrap();
    let eid = listed["eid"].as_str().unwrap().to_string();
    let mut card = Some(serve(&state));
    wait_for_card();

    // The modem: slot 1 is the card in the vpcd reader (the active slot: the first non-empty).
    let mut m = ModemConfig::named("m0");
    m.ports = vec![PortConfig::pty("at0")];
    m.slots = vec![
        SlotConfig::Pcsc {
            reader: READER.into(),
        },
        SlotConfig::Empty,
    ];
    m.state_dir = Some(dir.path().join("modem"));
    let cfg = Config {
        run_dir: Some(dir.path().join("run")),
        control: None,
        modems: vec![m],
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(Server::start(&cfg, ServerOptions::default()))
        .unwrap();
    let link = server.port("m0", "at0").unwrap().symlink.clone().unwrap();
    let mut at = At::open(&link);
    assert_eq!(at.result("ATE0"), "OK");
    assert_eq!(at.result("AT+CMEE=1"), "OK");
    assert_eq!(at.result("AT+CEREG=2"), "OK");

    // The SIM as the MT read it through PC/SC.
    assert_eq!(at.info("AT+CPIN?", "+CPIN:"), "+CPIN: READY");
    let r = at.cmd("AT+CIMI");
    assert_eq!(r, [imsi.clone(), "OK".into()], "AT+CIMI");

    // EF.ICCID by file id with +CRSM READ BINARY (SW 144,0 = 9000).
    let l = at.info("AT+CRSM=176,12258,0,0,10", "+CRSM:");
    assert!(l.starts_with("+CRSM: 144,0,"), "{l}");
    assert_eq!(quoted(&l), iccid_ef(&iccid), "EF.ICCID: {l}");

    // A raw SELECT MF with +CSIM (case 3 without Le: 61xx or 9000 on T=1).
    let l = at.info("AT+CSIM=14,\"00A40004023F00\"", "+CSIM:");
    let resp = quoted(&l);
    assert!(
        resp.ends_with("9000") || resp[resp.len() - 4..].starts_with("61"),
        "SELECT MF: {l}"
    );

    // The ISD-R on a logical channel: GetEID (BF3E) through the real card.
    let l = at.info(&format!("AT+CCHO=\"{ISDR_AID}\""), "+CCHO:");
    let ch: u8 = l.strip_prefix("+CCHO: ").unwrap().trim().parse().unwrap();
    assert!((1..=3).contains(&ch), "{l}");
    let l = at.info(
        &format!("AT+CGLA={ch},22,\"{:02X}E2910006BF3E035C015A\"", 0x80 | ch),
        "+CGLA:",
    );
    assert_eq!(l, format!("+CGLA: 46,\"BF3E125A10{eid}9000\""), "GetEID");
    assert_eq!(at.result(&format!("AT+CCHC={ch}")), "OK");

    // Network: the HSS knows no package for a PC/SC card, so the IMSI is unknown: denied.
    at.wait_for("AT+CEREG?", "+CEREG: 2,3", Duration::from_secs(5));
    let st = control(&server, ControlRequest::Status);
    assert_eq!(
        st["modems"][0]["state"]["network"]["last_auth"], "unknown_subscriber",
        "status: {st}"
    );

    // With the TS.48 credentials in the HSS, a real AKA run (AUTHENTICATE through pcscd)
    // registers.
    let aka = &exp["aka"];
    control(
        &server,
        ControlRequest::SetSubscriber {
            imsi: imsi.clone(),
            k: aka["k"].as_str().unwrap().into(),
            opc: Some(aka["opc"].as_str().unwrap().into()),
            op_key: None,
            algorithm: Some(serde_json::from_value(aka["algorithm"].clone()).unwrap()),
            sqn: None,
        },
    );
    control(&server, ControlRequest::Reregister);
    at.wait_for("AT+CEREG?", "+CEREG: 2,1", Duration::from_secs(5));
    let st = control(&server, ControlRequest::Status);
    assert_eq!(
        st["modems"][0]["state"]["network"]["last_auth"], "success",
        "status: {st}"
    );

    // Without credentials but with accept_unknown, the network lets it in unauthenticated.
    control(
        &server,
        ControlRequest::DeleteSubscriber { imsi: imsi.clone() },
    );
    control(&server, ControlRequest::Reregister);
    at.wait_for("AT+CEREG?", "+CEREG: 2,3", Duration::from_secs(5));
    control(
        &server,
        ControlRequest::SetNetwork {
            roaming: None,
            accept_unknown: Some(true),
            auto_register: None,
            plmn: None,
            search_ms: None,
            register_ms: None,
            sim_ready_ms: None,
        },
    );
    control(&server, ControlRequest::Reregister);
    at.wait_for("AT+CEREG?", "+CEREG: 2,1", Duration::from_secs(5));
    let st = control(&server, ControlRequest::Status);
    assert_eq!(
        st["modems"][0]["state"]["network"]["last_auth"], "accepted_unknown",
        "status: {st}"
    );

    // The card leaves the reader (veuicc serve killed).
    drop(card.take());
    // The modem does not poll the reader: it learns that the card is gone from the next APDU
    // (the transport error answers 6F00 and marks the card failed). From then on the SIM is in
    // failure: +CPIN? and SIM access give +CME ERROR: 13 and the modem is deregistered. A reset
    // (AT+CFUN=1,1, as a host does after SIM errors) reads the SIM again.
    let l = at.cmd("AT+CSIM=14,\"00A40004023F00\"");
    // The answer may be followed by the URCs of the failure (+CPIN: NOT READY, +CEREG: 0).
    assert!(
        l.starts_with(&["+CSIM: 4,\"6F00\"".to_string(), "OK".to_string()])
            || l.first().map(String::as_str) == Some("+CME ERROR: 13"),
        "SELECT MF without a card: {l:?}"
    );
    let l = at.cmd("AT+CRSM=176,12258,0,0,10");
    assert_eq!(
        l.first().map(String::as_str),
        Some("+CME ERROR: 13"),
        "{l:?}"
    );
    let l = at.cmd("AT+CPIN?");
    assert_eq!(
        l.first().map(String::as_str),
        Some("+CME ERROR: 13"),
        "{l:?}"
    );
    at.wait_for("AT+CEREG?", "+CEREG: 2,0", Duration::from_secs(5));
    at.cmd("AT+CFUN=1,1");
    at.wait_for("AT+CPIN?", "+CME ERROR: 13", Duration::from_secs(5));
    assert_eq!(at.cmd("AT+CIMI"), ["+CME ERROR: 13"]);

    // The card comes back (veuicc serve again): after a reset the modem uses it again (the
    // same handle reconnects to the new card in the reader).
    card = Some(serve(&state));
    wait_for_card();
    at.cmd("AT+CFUN=1,1");
    at.wait_for("AT+CPIN?", "+CPIN: READY", Duration::from_secs(5));
    assert_eq!(at.cmd("AT+CIMI"), [imsi.clone(), "OK".into()]);
    let l = at.info(&format!("AT+CCHO=\"{ISDR_AID}\""), "+CCHO:");
    let ch: u8 = l.strip_prefix("+CCHO: ").unwrap().trim().parse().unwrap();
    let l = at.info(
        &format!("AT+CGLA={ch},22,\"{:02X}E2910006BF3E035C015A\"", 0x80 | ch),
        "+CGLA:",
    );
    assert_eq!(l, format!("+CGLA: 46,\"BF3E125A10{eid}9000\""), "GetEID");
    assert_eq!(at.result(&format!("AT+CCHC={ch}")), "OK");
    at.wait_for("AT+CEREG?", "+CEREG: 2,1", Duration::from_secs(5));
    drop(card.take());

    drop(at);
    rt.block_on(server.shutdown());
}
