//! More real-stack scenarios: pcscd + vsmartcard-vpcd + the `veuicc serve` process + PC/SC
//! clients. Two cards in one process, a pcscd restart, the SGP.26 identity seen over PC/SC, a
//! T=0-only client, and `serve` refusing broken state directories.
//!
//! Runs only inside `scripts/pcsc-isolated` (private pcscd; `VPCD_PORT` and `PCSC_STATE_DIR`
//! set), signalled by `VEUICC_PCSC_TEST=1`; `scripts/test` does that. Without it each test says
//! SKIPPED, unless `VEUICC_REQUIRE_PCSC=1` makes the absence a failure. The tests share that
//! pcscd, so they run with `--test-threads=1`.

#![allow(clippy::unwrap_used)]

use hil::client::Client;
use hil::transport::{self, ApduTransport, TransportError};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/testdata` beside the checkout, or `VEUICC_TESTDATA`; `sub` must exist in it.
fn testdata(sub: &str) -> PathBuf {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/testdata"));
    assert!(
        p.join(sub).is_dir(),
        "testdata not found at {} (set VEUICC_TESTDATA)",
        p.join(sub).display()
    );
    p
}

/// The `veuicc` binary built beside this test (`cargo build --workspace --bins` first).
fn veuicc_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VEUICC_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|d| d.parent())
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
    let out = Command::new(veuicc_bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run veuicc");
    assert!(
        out.status.success(),
        "veuicc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `veuicc init` + `veuicc --json list`: returns the EID (32 digits).
fn init_card(state: &Path, extra: &[&str]) -> String {
    let st = state.to_str().unwrap();
    let mut args = vec!["init", "--state", st];
    args.extend_from_slice(extra);
    veuicc(&args);
    let listed: serde_json::Value =
        serde_json::from_str(&veuicc(&["--json", "list", "--state", st])).unwrap();
    listed["eid"].as_str().unwrap().to_string()
}

fn port() -> u16 {
    std::env::var("VPCD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(35963)
}

/// A running `veuicc serve`; killed (SIGKILL) and reaped on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(cards: &[(&Path, u16)]) -> Served {
    let mut cmd = Command::new(veuicc_bin());
    cmd.arg("serve");
    for (dir, port) in cards {
        cmd.arg("--card")
            .arg(format!("{}@127.0.0.1:{port}", dir.display()));
    }
    let child = cmd
        .env("VEUICC_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start veuicc serve");
    Served(child)
}

/// The name of the vpcd reader whose name ends with `suffix` (" 00 00" or " 00 01").
fn reader(suffix: &str) -> CString {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(names) = transport::list_readers() {
            if let Some(n) = names.into_iter().find(|r| r.ends_with(suffix)) {
                return CString::new(n).unwrap();
            }
        }
        assert!(Instant::now() < deadline, "no reader ending in {suffix:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn card_present(reader: &CString) -> Option<bool> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).ok()?;
    let mut rs = [pcsc::ReaderState::new(reader.clone(), pcsc::State::UNAWARE)];
    ctx.get_status_change(Duration::from_millis(0), &mut rs)
        .ok()?;
    Some(rs[0].event_state().contains(pcsc::State::PRESENT))
}

/// Waits until the reader does (or does not) show a card; returns how long that took.
fn wait_presence(suffix: &str, present: bool, limit: Duration) -> Duration {
    let r = reader(suffix);
    let start = Instant::now();
    loop {
        if card_present(&r) == Some(present) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "reader {r:?}: card present={present} not reached within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A PC/SC card handle with a chosen protocol, usable by `hil::client::Client`.
struct Direct {
    card: Option<pcsc::Card>,
    buf: Vec<u8>,
}

impl Direct {
    fn connect(reader: &CString, protocols: pcsc::Protocols) -> Result<Direct, pcsc::Error> {
        let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
        let card = ctx.connect(reader, pcsc::ShareMode::Shared, protocols)?;
        Ok(Direct {
            card: Some(card),
            buf: vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED],
        })
    }

    /// Connects once the reader shows a card (and the card answers the connect).
    fn connect_when_present(suffix: &str, protocols: pcsc::Protocols) -> Direct {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let r = reader(suffix);
            if card_present(&r) == Some(true) {
                if let Ok(d) = Direct::connect(&r, protocols) {
                    return d;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no card appeared in reader {suffix:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn card(&self) -> &pcsc::Card {
        self.card.as_ref().unwrap()
    }

    fn protocol(&self) -> Option<pcsc::Protocol> {
        self.card().status2_owned().unwrap().protocol2()
    }

    fn disconnect(mut self, how: pcsc::Disposition) {
        let card = self.card.take().unwrap();
        card.disconnect(how).map_err(|(_, e)| e).unwrap();
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // The pcsc crate resets the card on drop; leave it as it is (errors ignored: pcscd may
        // be gone on purpose).
        if let Some(c) = self.card.take() {
            let _ = c.disconnect(pcsc::Disposition::LeaveCard);
        }
    }
}

impl ApduTransport for Direct {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let card = self
            .card
            .as_ref()
            .ok_or_else(|| TransportError::Card("disconnected".into()))?;
        let r = card.transmit(apdu, &mut self.buf)?;
        if r.len() < 2 {
            return Err(TransportError::ShortResponse(r.len()));
        }
        Ok(r.to_vec())
    }
    fn describe(&self) -> String {
        "test PC/SC handle".into()
    }
}

fn sw(raw: &[u8]) -> u16 {
    u16::from_be_bytes([raw[raw.len() - 2], raw[raw.len() - 1]])
}

fn eid_hex<T: ApduTransport>(c: &mut Client<T>) -> String {
    c.select_isdr().unwrap();
    hex::encode_upper(c.get_eid().unwrap())
}

/// Runs `scripts/NAME` (pcsc-up / pcsc-down) with this process's environment.
fn script(name: &str) -> Output {
    let out = Command::new(repo_root().join("scripts").join(name))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{name}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn one_serve_process_drives_two_cards_in_two_readers() {
    if !enabled() {
        return;
    }
    let td = testdata("ts48");
    let dir = tempfile::tempdir().unwrap();
    let (d1, d2) = (dir.path().join("card1"), dir.path().join("card2"));
    let eid1 = init_card(&d1, &["--eid", "890490320000000000000000001111"]);
    let eid2 = init_card(&d2, &["--eid", "890490320000000000000000002222"]);
    assert_ne!(eid1, eid2);
    let pkg = td.join("ts48/TS48V1-A-UNIQUE.der");
    veuicc(&[
        "load-profile",
        "--state",
        d2.to_str().unwrap(),
        pkg.to_str().unwrap(),
    ]);

    wait_presence(" 00 00", false, Duration::from_secs(5));
    wait_presence(" 00 01", false, Duration::from_secs(5));
    let _served = serve(&[(&d1, port()), (&d2, port() + 1)]);
    let t0 = Instant::now();
    let mut h1 = Direct::connect_when_present(" 00 00", pcsc::Protocols::ANY);
    let mut h2 = Direct::connect_when_present(" 00 01", pcsc::Protocols::ANY);
    eprintln!("both cards present after {:?}", t0.elapsed());
    assert_eq!(card_present(&reader(" 00 00")), Some(true));
    assert_eq!(card_present(&reader(" 00 01")), Some(true));

    // Both handles open at once, commands interleaved: each card answers with its own state.
    let mut c1 = Client::new(&mut h1);
    let mut c2 = Client::new(&mut h2);
    for _ in 0..3 {
        assert_eq!(eid_hex(&mut c1), eid1);
        assert_eq!(eid_hex(&mut c2), eid2);
    }
    assert!(c1.profiles(None).unwrap().is_empty());
    let p2 = c2.profiles(None).unwrap();
    assert_eq!(p2.len(), 1);
    // A logical channel on card 1 does not exist on card 2.
    let ch = c1.open_channel().unwrap();
    assert_eq!(ch, 1);
    let r = c2
        .transport()
        .transmit(&[0x01, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00])
        .unwrap();
    assert_eq!(sw(&r), 0x6881, "channel 1 is only open on card 1");
    assert_eq!(eid_hex(&mut c1), eid1, "card 1 on its channel {ch}");
    // Enabling a profile on card 2 gives card 2 a file system; card 1 still has none.
    let iccid = p2[0].iccid.clone().unwrap().to_vec();
    assert_eq!(c2.enable(&iccid, false).unwrap(), 0);
    assert_eq!(c2.read_ef(None, &[0x2FE2]).unwrap(), iccid);
    let r = c1
        .transport()
        .transmit(&[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00])
        .unwrap();
    assert_eq!(sw(&r), 0x6A82, "card 1 has no enabled profile");
}

/// Runs `scripts/pcsc-up` again if a test stopped pcscd and did not restart it.
struct PcscdBack(bool);

impl Drop for PcscdBack {
    fn drop(&mut self) {
        if !self.0 {
            let _ = Command::new(repo_root().join("scripts/pcsc-up"))
                .stdin(Stdio::null())
                .output();
        }
    }
}

#[test]
fn card_comes_back_by_itself_after_pcscd_restarts_with_volatile_state_cleared() {
    if !enabled() {
        return;
    }
    assert!(
        std::env::var_os("PCSC_STATE_DIR").is_some(),
        "PCSC_STATE_DIR is not set: run inside scripts/pcsc-isolated"
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card");
    let eid = init_card(&state, &[]);
    wait_presence(" 00 00", false, Duration::from_secs(5));
    let mut served = serve(&[(&state, port())]);

    let mut h = Direct::connect_when_present(" 00 00", pcsc::Protocols::ANY);
    let mut c = Client::new(&mut h);
    assert_eq!(eid_hex(&mut c), eid);
    // Volatile: a logical channel with the ISD-R selected. Persistent: the default SM-DP+.
    let ch = c.open_channel().unwrap();
    c.select_isdr().unwrap();
    assert_eq!(c.set_default_dp("smdp.restart.test").unwrap(), 0);
    let on_channel = [0x80 | ch, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x3E, 0x00];
    assert_eq!(sw(&c.transport().transmit(&on_channel).unwrap()), 0x9000);

    // pcscd goes away while the client still holds the card: the card sees EOF, no POWER_OFF.
    let mut back = PcscdBack(false);
    let t_down = Instant::now();
    script("pcsc-down");
    eprintln!("pcsc-down took {:?}", t_down.elapsed());
    drop(h);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        served.0.try_wait().unwrap().is_none(),
        "veuicc serve must keep running (and retrying) while pcscd is down"
    );

    script("pcsc-up");
    back.0 = true;
    let t_up = Instant::now();
    let mut h = Direct::connect_when_present(" 00 00", pcsc::Protocols::ANY);
    let mut c = Client::new(&mut h);
    assert_eq!(eid_hex(&mut c), eid);
    let back_after = t_up.elapsed();
    eprintln!("card answered GetEID {back_after:?} after pcscd was up again");
    assert!(
        back_after < Duration::from_secs(8),
        "the card took {back_after:?} to come back"
    );
    // The channel opened before the restart is closed now; persistent state is intact.
    assert_eq!(
        sw(&c.transport().transmit(&on_channel).unwrap()),
        0x6881,
        "logical channel {ch} must be closed after the restart"
    );
    assert_eq!(
        c.configured_addresses()
            .unwrap()
            .default_dp_address
            .as_deref(),
        Some("smdp.restart.test")
    );
    assert!(served.0.try_wait().unwrap().is_none());
}

#[test]
fn sgp26_identity_is_visible_and_verifiable_over_pcsc() {
    if !enabled() {
        return;
    }
    let td = testdata("sgp26");
    let sgp26 = td.join("sgp26");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card");
    let eid = init_card(
        &state,
        &[
            "--eid",
            "890490320000000000000000000123",
            "--sgp26",
            sgp26.to_str().unwrap(),
        ],
    );
    assert!(eid.starts_with("890490320000000000000000000123"));
    wait_presence(" 00 00", false, Duration::from_secs(5));
    let _served = serve(&[(&state, port())]);
    let mut h = Direct::connect_when_present(" 00 00", pcsc::Protocols::ANY);
    let mut c = Client::new(&mut h);

    const CI_SKI: &str = "F54172BDF98A95D65CBEB88A38A1C11D800A85C3";
    assert_eq!(eid_hex(&mut c), eid);
    let info1 = c.euicc_info1().unwrap();
    let ver: Vec<String> = info1
        .euicc_ci_pkid_list_for_verification
        .iter()
        .map(hex::encode_upper)
        .collect();
    let sign: Vec<String> = info1
        .euicc_ci_pkid_list_for_signing
        .iter()
        .map(hex::encode_upper)
        .collect();
    assert_eq!(ver, vec![CI_SKI]);
    assert_eq!(sign, vec![CI_SKI]);
    let info2 = c.euicc_info2().unwrap();
    assert_eq!(
        hex::encode_upper(&info2.euicc_ci_pkid_list_for_signing[0]),
        CI_SKI
    );

    // ECASD: GET DATA 7F21 (CERT.EUICC, longer than 256 bytes: 61xx + GET RESPONSE) and 5A.
    c.select_aid(&veuicc::euicc::ECASD_AID).unwrap();
    let first = c
        .transport()
        .transmit(&[0x00, 0xCA, 0x7F, 0x21, 0x00])
        .unwrap();
    assert_eq!(first[first.len() - 2], 0x61, "chained over PC/SC");
    let r = c.send(&[0x00, 0xCA, 0x7F, 0x21, 0x00]).unwrap();
    assert_eq!(r.sw.0, 0x9000);
    let cert = rsp::tlv::parse_tagged(&r.data, 0x7F21)
        .unwrap()
        .value
        .to_vec();
    assert_eq!(
        cert,
        std::fs::read(state.join("identity/euicc.der")).unwrap()
    );
    let eum = std::fs::read(sgp26.join("CERT_EUM_ECDSA_NIST.der")).unwrap();
    let ci = std::fs::read(sgp26.join("CERT_CI_ECDSA_NIST.der")).unwrap();
    let eum_pk = rsp::pki::cert_public_key(&eum).unwrap();
    assert!(
        rsp::pki::verify_cert_signature(&cert, &eum_pk),
        "CERT.EUICC is signed by the SGP.26 EUM"
    );
    let ci_pk = rsp::pki::cert_public_key(&ci).unwrap();
    assert!(
        !rsp::pki::verify_cert_signature(&cert, &ci_pk),
        "not by the CI"
    );
    assert_eq!(rsp::pki::cert_aki(&cert), rsp::pki::cert_ski(&eum));
    assert_eq!(
        rsp::pki::cert_serial_number_subject(&cert).as_deref(),
        Some(eid.as_str()),
        "subject serialNumber is the EID"
    );
    assert_eq!(
        rsp::pki::cert_subject_organization(&cert).as_deref(),
        Some(rsp::pki::SGP26_EUM_ORG)
    );
    let r = c.send(&[0x00, 0xCA, 0x00, 0x5A, 0x00]).unwrap();
    assert_eq!(r.sw.0, 0x9000);
    assert_eq!(
        hex::encode_upper(rsp::tlv::parse_tagged(&r.data, 0x5A).unwrap().value),
        eid
    );
}

#[test]
fn t0_only_client_connects_after_the_card_was_unpowered() {
    if !enabled() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card");
    let eid = init_card(&state, &[]);
    wait_presence(" 00 00", false, Duration::from_secs(5));
    let _served = serve(&[(&state, port())]);

    // A T=1 client first, then it unpowers the card on disconnect.
    let mut h = Direct::connect_when_present(" 00 00", pcsc::Protocols::T1);
    assert_eq!(h.protocol(), Some(pcsc::Protocol::T1));
    assert_eq!(eid_hex(&mut Client::new(&mut h)), eid);
    h.disconnect(pcsc::Disposition::UnpowerCard);

    // A T=0-only client (as lpac connects) now gets the card with T=0.
    let r = reader(" 00 00");
    let mut h = Direct::connect(&r, pcsc::Protocols::T0).unwrap();
    assert_eq!(h.protocol(), Some(pcsc::Protocol::T0));
    let atr = h.card().status2_owned().unwrap().atr().to_vec();
    assert_eq!(atr, veuicc::card::default_atr());
    let mut c = Client::new(&mut h);
    assert_eq!(eid_hex(&mut c), eid);
    // Case 4 without Le, as T=0 clients send it; and a chained response (61xx + GET RESPONSE).
    let mut sel = vec![0x00, 0xA4, 0x04, 0x00, 0x10];
    sel.extend(veuicc::euicc::ECASD_AID);
    let r = c.transport().transmit(&sel).unwrap();
    assert_eq!(sw(&r), 0x9000);
    let r = c.send(&[0x00, 0xCA, 0x7F, 0x21, 0x00]).unwrap();
    assert_eq!(r.sw.0, 0x9000);
    assert_eq!(
        rsp::tlv::parse_tagged(&r.data, 0x7F21).unwrap().value,
        &std::fs::read(state.join("identity/euicc.der")).unwrap()[..]
    );
    h.disconnect(pcsc::Disposition::LeaveCard);
}

/// Runs `veuicc serve` with `args`, expecting it to give up: returns (exit code, stderr).
/// Fails if it is still running after a few seconds (it accepted the state).
fn serve_must_fail(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(veuicc_bin())
        .arg("serve")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("VEUICC_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "veuicc serve {args:?} is still running: it accepted the state (stderr: {})",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_refused(what: &str, args: &[&str], expect: &str) {
    let (code, err) = serve_must_fail(args);
    assert_eq!(code, Some(1), "{what}: exit status (stderr: {err})");
    assert!(!err.contains("panicked"), "{what}: panicked: {err}");
    assert!(
        err.contains(expect),
        "{what}: stderr should mention {expect:?}: {err}"
    );
}

fn store_of(state: &Path) -> veuicc::store::SledStore {
    veuicc::store::SledStore::open(&state.join("db")).unwrap()
}

#[test]
fn serve_refuses_missing_or_corrupt_state_with_a_clear_message() {
    if !enabled() {
        return;
    }
    use veuicc::store::{Batch, Store, Tree};
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    init_card(&good, &[]);
    // Port 1: nothing listens there, so a serve that wrongly starts never reaches vpcd.
    let spec = |d: &Path| format!("{}@127.0.0.1:1", d.display());
    let copy = |name: &str| {
        let to = dir.path().join(name);
        let st = Command::new("cp")
            .arg("-a")
            .arg(&good)
            .arg(&to)
            .status()
            .unwrap();
        assert!(st.success());
        to
    };

    let missing = dir.path().join("missing");
    assert_refused(
        "no such directory",
        &["--card", &spec(&missing)],
        "holds no card identity",
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_refused(
        "empty directory",
        &["--card", &spec(&empty)],
        "holds no card identity",
    );

    let d = copy("bad-eid");
    std::fs::write(d.join("identity/eid"), "not an EID").unwrap();
    assert_refused("garbage EID file", &["--card", &spec(&d)], "EID");

    let d = copy("bad-key");
    std::fs::write(d.join("identity/euicc-key.pem"), "-----BEGIN nonsense").unwrap();
    let (code, err) = serve_must_fail(&["--card", &spec(&d)]);
    assert_eq!(code, Some(1), "garbage key file: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.starts_with("Error: ") || err.contains("\nError: "),
        "{err}"
    );

    let d = copy("swapped-cert");
    std::fs::copy(d.join("identity/eum.der"), d.join("identity/euicc.der")).unwrap();
    assert_refused(
        "CERT.EUICC of another key",
        &["--card", &spec(&d)],
        "does not match SK.EUICC",
    );

    let d = copy("bad-record");
    {
        let store = store_of(&d);
        let mut b = Batch::new();
        b.put(Tree::Profiles, vec![0x98; 10], b"{\"version\":1,".to_vec());
        store.commit(b).unwrap();
    }
    assert_refused(
        "truncated profile record",
        &["--card", &spec(&d)],
        "persisted record profile is corrupt",
    );

    let d = copy("bad-config");
    {
        let store = store_of(&d);
        let mut b = Batch::new();
        b.put(Tree::Meta, b"config".to_vec(), b"[1,2,3]".to_vec());
        store.commit(b).unwrap();
    }
    assert_refused(
        "config of the wrong shape",
        &["--card", &spec(&d)],
        "persisted record config is corrupt",
    );

    let d = copy("bad-sled-conf");
    std::fs::write(d.join("db/conf"), [0xFFu8; 64]).unwrap();
    assert_refused(
        "corrupt sled configuration",
        &["--card", &spec(&d)],
        "opening",
    );

    // One broken card among good ones: nothing is served.
    let d = copy("second-bad");
    std::fs::remove_file(d.join("identity/euicc.der")).unwrap();
    assert_refused(
        "second card broken",
        &["--card", &spec(&good), "--card", &spec(&d)],
        "euicc.der",
    );

    assert_refused(
        "unparsable address",
        &["--card", &format!("{}@nowhere", good.display())],
        "address",
    );

    // The same directory twice in one process: the store lock is held.
    assert_refused(
        "directory served twice",
        &["--card", &spec(&good), "--card", &spec(&good)],
        "in use by another process",
    );
}

/// Records carry `"version": 1`; a state directory written by a later, incompatible format
/// must be refused rather than served (and silently rewritten as version 1 on the next change).
#[test]
fn serve_refuses_records_of_an_unknown_format_version() {
    if !enabled() {
        return;
    }
    use veuicc::store::{Batch, Store, Tree};
    let td = testdata("ts48");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("card");
    init_card(&d, &[]);
    let pkg = td.join("ts48/TS48V1-A-UNIQUE.der");
    veuicc(&[
        "load-profile",
        "--state",
        d.to_str().unwrap(),
        pkg.to_str().unwrap(),
    ]);
    {
        let store = store_of(&d);
        let (k, v) = store
            .scan(Tree::Profiles, b"")
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        let mut rec: serde_json::Value = serde_json::from_slice(&v).unwrap();
        rec["version"] = 2.into();
        rec["field_of_the_future"] = "keep me".into();
        let mut b = Batch::new();
        b.put(Tree::Profiles, k, serde_json::to_vec(&rec).unwrap());
        store.commit(b).unwrap();
    }
    let (code, err) = serve_must_fail(&["--card", &format!("{}@127.0.0.1:1", d.display())]);
    assert_eq!(code, Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("version"), "{err}");
}
