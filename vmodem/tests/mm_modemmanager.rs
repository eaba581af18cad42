//! ModemManager (1.20, the Debian 12 package) drives the virtual modem: a private D-Bus session
//! bus and `ModemManager --test-session --test-no-udev --test-enable` (scripts/mm-session), the
//! modem handed over with `Test.SetProfile(…, "generic", [unix socket])` (shared/design/modem.md
//! §2(a)), and everything checked with `mmcli --test-session -J`:
//!
//! - the modem is listed with the configured manufacturer and model, and its IMEI;
//! - `-e` enables it; it registers (home) on the operator of the enabled eUICC profile's IMSI
//!   (MCC/MNC 001/01) with a signal;
//! - the SIM object shows the IMSI and ICCID of the enabled TS.48 profile;
//! - registration changes injected on the control plane (`set_registration`) show up as
//!   roaming, searching and home again;
//! - a profile switch on the eUICC (`enable_profile` of a second TS.48 profile whose EF.IMSI was
//!   changed to 001020123456099: every TS.48 profile has IMSI 001010123456063).
//!
//! What MM 1.20 does on the profile switch (asserted): the modem sends what a real one sends on
//! a REFRESH (`+CPIN: NOT READY`, `+CREG: 0`, `+CGREG: 0`, `+CEREG: 0`, `+CIEV: 3,0`, then
//! `+CPIN: READY` and the registration URCs). The generic plugin follows the registration
//! (home → idle → searching → home) but ignores the `+CPIN` URCs: its SIM object keeps the old
//! ICCID and IMSI. `mmcli -d` then `-e` makes MM notice: enabling checks for a SIM swap (reads
//! EF.ICCID), logs "SIM identifier has changed", drops the modem object and probes the port
//! again; a new modem object (`Modem/1`) appears ~3 s later, **disabled**, with the new SIM
//! (ICCID, IMSI 001020123456099, operator 00102) and the new profile's IMEI (IMEI binding:
//! profile B is bound to the pool's free IMEI, not profile A's); another `-e` registers it on
//! 00102.
//!
//! Needs root and ModemManager, mmcli, dbus-daemon, gdbus (scripts/setup installs them) and the
//! TS.48 test data; otherwise the test prints SKIPPED, or fails when `VMODEM_REQUIRE_MM=1`.
//! Everything it starts (modem, bus, ModemManager) is stopped at the end, also on failure; on
//! failure (or with `VMODEM_MM_KEEP_LOG=1`) MM's debug log is copied to
//! `$TMPDIR/vmodem-mm-<pid>.log` and its tail printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MANUFACTURER: &str = "Virtual Modems Ltd";
const MODEL: &str = "VM-1000";
const IMEI: &str = "356938035643809";
const PROFILE_A: &str = "TS48V1-A-UNIQUE.der";
const PROFILE_B: &str = "TS48V1-B-UNIQUE.der";
/// EF.IMSI of every TS.48 profile (001010123456063) and the one given to profile B here.
const IMSI_TS48: [u8; 9] = [0x08, 0x09, 0x10, 0x10, 0x10, 0x32, 0x54, 0x06, 0x36];
const IMSI_B: [u8; 9] = [0x08, 0x09, 0x10, 0x20, 0x10, 0x32, 0x54, 0x06, 0x99];
const IMSI_B_DIGITS: &str = "001020123456099";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn testdata() -> PathBuf {
    std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/testdata"))
}

fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .any(|d| d.join(cmd).is_file())
}

/// Why this machine cannot run the test, if it cannot.
fn missing() -> Option<String> {
    // /proc/self belongs to the process's effective user.
    let euid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
    if euid != 0 {
        return Some("not root (ModemManager needs root)".into());
    }
    for c in ["ModemManager", "mmcli", "dbus-daemon", "gdbus"] {
        if !which(c) {
            return Some(format!("{c} not found (scripts/setup installs it)"));
        }
    }
    if !testdata().join("ts48").join(PROFILE_A).is_file() {
        return Some(format!(
            "TS.48 test data not found at {}",
            testdata().display()
        ));
    }
    None
}

fn skip_or_fail(reason: &str) {
    assert!(
        std::env::var("VMODEM_REQUIRE_MM").as_deref() != Ok("1"),
        "VMODEM_REQUIRE_MM=1 but the ModemManager test cannot run: {reason}"
    );
    eprintln!("SKIPPED: {reason}");
}

/// What the test started; stopped on drop (also when an assertion fails).
struct Session {
    rt: tokio::runtime::Runtime,
    server: Option<vmodem::server::Server>,
    mm_dir: PathBuf,
    bus: String,
    mm_log: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        let out = Command::new(repo().join("scripts/mm-session"))
            .arg("stop")
            .arg(&self.mm_dir)
            .output();
        if let Ok(o) = out {
            if !o.status.success() {
                eprintln!("mm-session stop: {}", String::from_utf8_lossy(&o.stderr));
            }
        }
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
        if std::thread::panicking() || std::env::var_os("VMODEM_MM_KEEP_LOG").is_some() {
            let keep = std::env::temp_dir().join(format!("vmodem-mm-{}.log", std::process::id()));
            if std::fs::copy(&self.mm_log, &keep).is_ok() {
                eprintln!("ModemManager's log: {}", keep.display());
            }
            if let Ok(log) = std::fs::read_to_string(&self.mm_log) {
                let tail: Vec<&str> = log.lines().rev().take(80).collect();
                eprintln!("--- last lines of {}:", self.mm_log.display());
                for l in tail.iter().rev() {
                    eprintln!("{l}");
                }
            }
        }
    }
}

impl Session {
    fn cmd(&self, prog: &str, args: &[&str]) -> (bool, String) {
        let o = Command::new(prog)
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .unwrap_or_else(|e| panic!("{prog}: {e}"));
        let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&o.stderr));
        (o.status.success(), text)
    }

    fn mmcli(&self, args: &[&str]) -> (bool, String) {
        let mut a = vec!["--test-session"];
        a.extend_from_slice(args);
        self.cmd("mmcli", &a)
    }

    /// `mmcli -J` output as JSON (panics with the output when the call fails).
    fn mmcli_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("-J");
        let (ok, out) = self.mmcli(&a);
        assert!(ok, "mmcli {args:?}: {out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("mmcli {args:?}: {e}: {out}"))
    }

    fn modem(&self) -> Value {
        self.mmcli_json(&["-m", "any"])["modem"].clone()
    }

    /// `mmcli -J` output, or `None` when the call fails (no modem right now).
    fn try_mmcli_json(&self, args: &[&str]) -> Option<Value> {
        let mut a = args.to_vec();
        a.push("-J");
        let (ok, out) = self.mmcli(&a);
        if !ok {
            return None;
        }
        serde_json::from_str(&out).ok()
    }

    fn try_modem(&self) -> Option<Value> {
        self.try_mmcli_json(&["-m", "any"])
            .map(|v| v["modem"].clone())
    }

    fn sim(&self) -> Value {
        let path = self.modem()["generic"]["sim"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(path.starts_with("/org/"), "no SIM object: {path:?}");
        self.mmcli_json(&["-i", &path])["sim"].clone()
    }

    fn control(&self, req: &str) -> Value {
        let line = self.server.as_ref().unwrap().control_line(req);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], true, "control {req}: {line}");
        v
    }
}

/// Polls `probe` until it returns `Some` or `within` passes; panics with `what` and the last
/// value seen.
fn wait_for<T>(what: &str, within: Duration, mut probe: impl FnMut() -> (Option<T>, String)) -> T {
    let deadline = Instant::now() + within;
    loop {
        let (v, seen) = probe();
        if let Some(v) = v {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}; last seen: {seen}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The eUICC: a minted identity, profile A enabled, profile B (IMSI changed) disabled.
/// Returns the ICCIDs (digits) of A and B.
fn seed_euicc(dir: &Path) -> (String, String) {
    use veuicc::euicc::SeedOptions;
    let td = testdata().join("ts48");
    let eid = veuicc::statedir::parse_eid("890490320000000000000000000043").unwrap();
    veuicc::statedir::init(dir, eid, &veuicc::statedir::IdentitySource::Mint).unwrap();
    let mut card = veuicc::statedir::open(dir).unwrap();
    let a = std::fs::read(td.join(PROFILE_A)).unwrap();
    let mut b = std::fs::read(td.join(PROFILE_B)).unwrap();
    let at = b
        .windows(IMSI_TS48.len())
        .position(|w| w == IMSI_TS48)
        .expect("EF.IMSI content in the TS.48 package");
    b[at..at + IMSI_B.len()].copy_from_slice(&IMSI_B);
    let seed = |enable| SeedOptions {
        enable,
        notification_address: None,
        ..Default::default()
    };
    let ia = card.state_mut().seed_package(&a, &seed(true)).unwrap();
    let ib = card.state_mut().seed_package(&b, &seed(false)).unwrap();
    let digits = |i: &[u8]| veuicc::euicc::records::iccid_digits(i);
    (digits(&ia), digits(&ib))
}

fn start(dir: &Path) -> Session {
    use vmodem::config::{Config, ModemConfig, PortConfig, SlotConfig};
    let socket = dir.join("at0.sock");
    let cfg = Config {
        run_dir: Some(dir.join("run")),
        control: None,
        modems: vec![ModemConfig {
            manufacturer: Some(MANUFACTURER.into()),
            model: Some(MODEL.into()),
            imei: vec![IMEI.into()],
            ports: vec![PortConfig {
                name: "at0".into(),
                pty: false,
                unix: Some(socket.display().to_string()),
                tcp: None,
            }],
            slots: vec![SlotConfig::Euicc {
                state_dir: Some(dir.join("euicc")),
            }],
            ..ModemConfig::named("m0")
        }],
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(vmodem::server::Server::start(
            &cfg,
            vmodem::server::ServerOptions::default(),
        ))
        .unwrap();

    let mm_dir = dir.join("mm");
    let out = Command::new(repo().join("scripts/mm-session"))
        .arg("start")
        .arg(&mm_dir)
        .output()
        .unwrap();
    let mut session = Session {
        rt,
        server: Some(server),
        mm_dir: mm_dir.clone(),
        bus: String::new(),
        mm_log: mm_dir.join("mm.log"),
    };
    assert!(
        out.status.success(),
        "scripts/mm-session start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(v) = line.strip_prefix("DBUS_SESSION_BUS_ADDRESS=") {
            session.bus = v.to_string();
        }
    }
    assert!(!session.bus.is_empty(), "mm-session printed no bus address");

    // Hand the modem's Unix socket to ModemManager with the generic plugin.
    let (ok, out) = session.cmd(
        "gdbus",
        &[
            "call",
            "--session",
            "--dest",
            "org.freedesktop.ModemManager1",
            "--object-path",
            "/org/freedesktop/ModemManager1",
            "--method",
            "org.freedesktop.ModemManager1.Test.SetProfile",
            "vmodem-m0",
            "generic",
            &format!("['{}']", socket.display()),
        ],
    );
    assert!(ok, "Test.SetProfile: {out}");
    session
}

#[test]
fn modemmanager_sees_identity_registration_sim_and_profile_switch() {
    if let Some(reason) = missing() {
        skip_or_fail(&reason);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (iccid_a, iccid_b) = seed_euicc(&dir.path().join("euicc"));
    let mm = start(dir.path());

    // Listed with the configured identity.
    let listed = wait_for(
        "the modem listed by mmcli -L",
        Duration::from_secs(30),
        || {
            let (_, out) = mm.mmcli(&["-L"]);
            (out.contains("/Modem/").then_some(out.clone()), out)
        },
    );
    assert!(
        listed.contains(&format!("[{MANUFACTURER}] {MODEL}")),
        "{listed}"
    );
    let m = wait_for("the modem initialised", Duration::from_secs(30), || {
        let m = mm.modem();
        let state = s(&m["generic"]["state"]);
        (
            (state != "unknown" && state != "initializing").then(|| m.clone()),
            state,
        )
    });
    assert_eq!(s(&m["generic"]["manufacturer"]), MANUFACTURER);
    assert_eq!(s(&m["generic"]["model"]), MODEL);
    assert_eq!(s(&m["generic"]["equipment-identifier"]), IMEI);
    assert_eq!(s(&m["3gpp"]["imei"]), IMEI);
    assert_eq!(s(&m["generic"]["state"]), "disabled", "{m:#}");

    // Enabled: registered at home on 00101 with a signal.
    let (ok, out) = mm.mmcli(&["-m", "any", "-e"]);
    assert!(ok && out.contains("successfully enabled"), "{out}");
    let m = wait_for("registered after -e", Duration::from_secs(30), || {
        let m = mm.modem();
        let state = s(&m["generic"]["state"]);
        ((state == "registered").then(|| m.clone()), format!("{m}"))
    });
    assert_eq!(s(&m["3gpp"]["registration-state"]), "home");
    assert_eq!(s(&m["3gpp"]["operator-code"]), "00101");
    let signal: u32 = s(&m["generic"]["signal-quality"]["value"]).parse().unwrap();
    assert!(signal > 0, "signal {signal}: {m:#}");
    eprintln!(
        "registered: operator {:?} {}, signal {signal}%, access tech {}",
        s(&m["3gpp"]["operator-name"]),
        s(&m["3gpp"]["operator-code"]),
        m["generic"]["access-technologies"]
    );

    // The SIM: the enabled profile's IMSI and ICCID.
    let sim = mm.sim();
    assert_eq!(s(&sim["properties"]["imsi"]), "001010123456063");
    assert_eq!(s(&sim["properties"]["iccid"]), iccid_a);
    assert_eq!(s(&sim["properties"]["operator-code"]), "00101");

    // Registration changes from the control plane arrive as +CREG/+CGREG/+CEREG URCs.
    let reg = |stat: u8, want: &str| {
        mm.control(&format!(r#"{{"op":"set_registration","stat":{stat}}}"#));
        wait_for(
            &format!("registration-state {want} after stat {stat}"),
            Duration::from_secs(15),
            || {
                let m = mm.modem();
                let r = s(&m["3gpp"]["registration-state"]);
                (
                    (r == want).then_some(()),
                    format!("{r} ({})", s(&m["generic"]["state"])),
                )
            },
        );
    };
    reg(5, "roaming");
    assert_eq!(s(&mm.modem()["generic"]["state"]), "registered");
    reg(2, "searching");
    assert_eq!(s(&mm.modem()["generic"]["state"]), "searching");
    reg(1, "home");
    assert_eq!(s(&mm.modem()["generic"]["state"]), "registered");

    // Profile switch on the eUICC. The modem does what a real one does on a REFRESH: URCs
    // +CPIN: NOT READY, registration lost (+CREG/+CGREG/+CEREG: 0), +CPIN: READY, registered
    // again. MM 1.20's generic plugin follows the registration URCs but ignores +CPIN: its SIM
    // object keeps the old ICCID and IMSI.
    mm.control(&format!(r#"{{"op":"enable_profile","iccid":"{iccid_b}"}}"#));
    let t0 = Instant::now();
    // MM's own log says it lost the registration (polling mmcli could miss the short gap).
    wait_for(
        "the refresh seen by MM (registration lost)",
        Duration::from_secs(10),
        || {
            let log = std::fs::read_to_string(&mm.mm_log).unwrap_or_default();
            let lost = log.contains("registration state changed (home -> idle)");
            (lost.then_some(()), "no 'home -> idle' in MM's log".into())
        },
    );
    wait_for(
        "registered again after the refresh",
        Duration::from_secs(15),
        || {
            let st = mm.try_modem().map(|m| s(&m["generic"]["state"]));
            (
                (st.as_deref() == Some("registered")).then_some(()),
                format!("{st:?}"),
            )
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    let sim = mm.sim();
    assert_eq!(
        (
            s(&sim["properties"]["iccid"]),
            s(&sim["properties"]["imsi"])
        ),
        (iccid_a.clone(), "001010123456063".to_string()),
        "MM 1.20 (generic) now re-reads the SIM after +CPIN URCs by itself: update this test \
         and docs/vmodem.md"
    );
    eprintln!(
        "refresh: registration lost and back in {:?}; MM's SIM object unchanged",
        t0.elapsed()
    );

    // What makes MM see the new profile: disable + enable. Enabling checks for a SIM swap
    // (reads EF.ICCID): "SIM identifier has changed" → MM drops the modem object and probes
    // the port again; the new object comes up disabled with the new SIM.
    let old_path = s(&mm.modem()["dbus-path"]);
    let (ok, out) = mm.mmcli(&["-m", "any", "-d"]);
    assert!(ok, "mmcli -d: {out}");
    let (ok, out) = mm.mmcli(&["-m", "any", "-e"]);
    eprintln!("mmcli -e after the switch: success={ok}: {}", out.trim());
    let m = wait_for(
        "a new modem object with the new SIM",
        Duration::from_secs(30),
        || {
            let Some(m) = mm.try_modem() else {
                return (None, "no modem".into());
            };
            let path = s(&m["dbus-path"]);
            let sim = s(&m["generic"]["sim"]);
            let props = mm.try_mmcli_json(&["-i", &sim]);
            let iccid = props
                .as_ref()
                .map(|p| s(&p["sim"]["properties"]["iccid"]))
                .unwrap_or_default();
            let done = path != old_path && iccid == iccid_b;
            (done.then(|| m.clone()), format!("{path} {iccid}"))
        },
    );
    assert_eq!(s(&m["generic"]["state"]), "disabled", "{m:#}");
    // IMEI binding: profile B was never bound, so it got the free IMEI of the pool (the
    // modem's derived IMEI2), and the re-probed modem object shows that one.
    let reported =
        s(&mm.control(r#"{"modem":"m0","op":"status"}"#)["result"]["state"]["imei_reported"]);
    assert_ne!(reported, IMEI, "profile B has an IMEI of its own");
    assert_eq!(s(&m["generic"]["equipment-identifier"]), reported);
    let sim = mm.sim();
    assert_eq!(s(&sim["properties"]["imsi"]), IMSI_B_DIGITS);
    assert_eq!(s(&sim["properties"]["iccid"]), iccid_b);
    assert_eq!(s(&sim["properties"]["operator-code"]), "00102");

    // Enabled again: registered on the new profile's network.
    let (ok, out) = mm.mmcli(&["-m", "any", "-e"]);
    assert!(ok && out.contains("successfully enabled"), "{out}");
    wait_for("registered on 00102", Duration::from_secs(30), || {
        let m = mm.try_modem();
        let seen = m
            .as_ref()
            .map(|m| (s(&m["generic"]["state"]), s(&m["3gpp"]["operator-code"])));
        let done = seen
            .as_ref()
            .is_some_and(|(st, op)| st == "registered" && op == "00102");
        (done.then_some(()), format!("{seen:?}"))
    });
}
