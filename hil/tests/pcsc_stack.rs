//! Real-stack integration: pcscd + vsmartcard-vpcd + the `veuicc` process + PC/SC clients.
//!
//! Runs only inside `scripts/pcsc-isolated` (which starts a private pcscd), signalled by
//! `VEUICC_PCSC_TEST=1`; `scripts/test` does that. Without it the test says SKIPPED, unless
//! `VEUICC_REQUIRE_PCSC=1` makes the absence a failure (CI sets it).

#![allow(clippy::unwrap_used)]

use hil::client::{iccid_digits, imsi_digits, Client};
use hil::transport::{self, ApduTransport, Pcsc};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn testdata() -> Option<PathBuf> {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/testdata"));
    p.join("ts48").is_dir().then_some(p)
}

/// The `veuicc` binary built beside this test (`cargo build --workspace --bins` first).
fn veuicc_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VEUICC_BIN") {
        return p.into();
    }
    // target/<profile>/deps/pcsc_stack-… → target/<profile>/veuicc
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
        .output()
        .expect("run veuicc");
    assert!(
        out.status.success(),
        "veuicc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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

/// Waits until the first vpcd reader reports a card, then connects.
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

fn sw(raw: &[u8]) -> u16 {
    u16::from_be_bytes([raw[raw.len() - 2], raw[raw.len() - 1]])
}

#[test]
fn pcsc_clients_see_and_drive_the_virtual_euicc() {
    if !enabled() {
        return;
    }
    let Some(td) = testdata() else {
        panic!("testdata not found: set VEUICC_TESTDATA");
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("card");
    let st = state.to_str().unwrap();
    veuicc(&["init", "--state", st]);
    let p1 = td.join("ts48/TS48V2-SAIP2-1-NOBERTLV-UNIQUE.der");
    let p2 = td.join("ts48/TS48V3-SAIP2-3-BERTLV-UNIQUE.der");
    veuicc(&[
        "load-profile",
        "--state",
        st,
        p1.to_str().unwrap(),
        p2.to_str().unwrap(),
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&veuicc(&["--json", "list", "--state", st])).unwrap();
    let eid_hex = listed["eid"].as_str().unwrap().to_string();

    let _card = serve(&state);
    let mut pcsc = connect_when_present();

    // Unmodified PC/SC tools see the reader and the ATR.
    let atr = pcsc.atr().unwrap();
    assert_eq!(atr, veuicc::card::default_atr());
    let scan = Command::new("pcsc_scan")
        .arg("-r")
        .output()
        .expect("pcsc_scan");
    let scan = String::from_utf8_lossy(&scan.stdout);
    assert!(scan.contains("Virtual PCD"), "pcsc_scan -r: {scan}");
    let osc = Command::new("opensc-tool")
        .arg("-a")
        .output()
        .expect("opensc-tool");
    let osc = String::from_utf8_lossy(&osc.stdout)
        .to_uppercase()
        .replace([' ', ':'], "");
    assert!(
        osc.contains(&hex::encode_upper(&atr)),
        "opensc-tool -a: {osc}"
    );

    // ISD-R on the basic channel.
    let mut c = Client::new(&mut pcsc);
    let fci = c.select_isdr().unwrap();
    assert_eq!(fci[0], 0x6F);
    assert_eq!(hex::encode_upper(c.get_eid().unwrap()), eid_hex);
    let info1 = c.euicc_info1().unwrap();
    assert_eq!(
        hex::encode_upper(&info1.euicc_ci_pkid_list_for_verification[0]),
        listed["ci_ski"].as_str().unwrap()
    );
    let info2 = c.euicc_info2().unwrap();
    assert_eq!(info2.svn.to_vec(), vec![2, 2, 2]);
    let profiles = c.profiles(None).unwrap();
    assert_eq!(profiles.len(), 2);
    let iccids: Vec<Vec<u8>> = profiles
        .iter()
        .map(|p| p.iccid.clone().unwrap().to_vec())
        .collect();

    // ISD-R on a logical channel, as LPAs use it.
    let ch = c.open_channel().unwrap();
    assert!(ch >= 1);
    c.select_isdr().unwrap();
    assert_eq!(hex::encode_upper(c.get_eid().unwrap()), eid_hex);

    // Enable the first profile: EF.ICCID and EF.IMSI show it.
    assert_eq!(c.enable(&iccids[0], false).unwrap(), 0);
    c.close_channel().unwrap();
    assert_eq!(c.read_ef(None, &[0x2FE2]).unwrap(), iccids[0]);
    let usim = hex::decode("A0000000871002FF49FF0589").unwrap();
    let imsi = c.read_ef(Some(&usim), &[0x6F07]).unwrap();
    assert_eq!(imsi_digits(&imsi).unwrap(), "001010123456063");

    // Switch to the second: EF.ICCID follows; the first is disabled and can be deleted.
    c.select_isdr().unwrap();
    assert_eq!(c.enable(&iccids[1], false).unwrap(), 0);
    assert_eq!(c.enable(&iccids[1], false).unwrap(), 2, "already enabled");
    assert_eq!(c.read_ef(None, &[0x2FE2]).unwrap(), iccids[1]);
    c.select_isdr().unwrap();
    assert_eq!(
        c.delete(&iccids[1]).unwrap(),
        2,
        "cannot delete the enabled profile"
    );
    assert_eq!(c.delete(&iccids[0]).unwrap(), 0);
    assert_eq!(c.profiles(None).unwrap().len(), 1);
    let notes = c.list_notifications().unwrap();
    assert!(
        notes.len() >= 4,
        "enable, enable+disable, delete notifications: {notes:?}"
    );

    // Bad input: each refused with the right status word, the card still serving.
    let t = c.transport();
    assert_eq!(
        sw(&t.transmit(&[0x80, 0xE2, 0x91]).unwrap()),
        0x6700,
        "truncated"
    );
    assert_eq!(
        sw(&t
            .transmit(&[0x80, 0xE2, 0x91, 0x00, 0x05, 0xBF, 0x3E])
            .unwrap()),
        0x6700,
        "wrong Lc"
    );
    assert_eq!(
        sw(&t
            .transmit(&[0x80, 0xE2, 0x91, 0x00, 0x05, 0xBF, 0x3E, 0x84, 0xFF, 0xFF])
            .unwrap()),
        0x6A80,
        "oversize TLV length"
    );
    let mut deep = vec![0x80u8, 0x00];
    for _ in 0..40 {
        let mut n = vec![0xA0, deep.len() as u8];
        n.extend(deep);
        deep = n;
    }
    let mut bf = vec![0xBF, 0x2D, deep.len() as u8];
    bf.extend(&deep);
    let mut apdu = vec![0x80, 0xE2, 0x91, 0x00, bf.len() as u8];
    apdu.extend(&bf);
    assert_eq!(sw(&t.transmit(&apdu).unwrap()), 0x6A80, "deep nesting");
    assert_eq!(
        sw(&t
            .transmit(&[0x80, 0xE2, 0x11, 0x00, 0x02, 0xBF, 0x3E])
            .unwrap()),
        0x9000
    );
    assert_eq!(
        sw(&t.transmit(&[0x80, 0xE2, 0x91, 0x02, 0x01, 0x00]).unwrap()),
        0x6A86,
        "block out of order"
    );
    assert_eq!(
        sw(&t
            .transmit(&[0x80, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x7F, 0x00])
            .unwrap()),
        0x6A88,
        "unknown function"
    );
    assert_eq!(
        hex::encode_upper(c.get_eid().unwrap()),
        eid_hex,
        "still serving"
    );

    // SIGKILL the card process and restart it: the state is the same.
    let mut c = Client::new(&mut pcsc);
    c.select_isdr().unwrap();
    let before = (c.profiles(None).unwrap(), c.list_notifications().unwrap());
    drop(_card); // kill -9 (Child::kill sends SIGKILL)
    let _card = serve(&state);
    std::thread::sleep(Duration::from_millis(600));
    drop(pcsc);
    let mut pcsc = connect_when_present();
    let mut c = Client::new(&mut pcsc);
    c.select_isdr().unwrap();
    let after = c.profiles(None).unwrap();
    assert_eq!((after.clone(), c.list_notifications().unwrap()), before);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].iccid.clone().unwrap().to_vec(), iccids[1]);
    assert_eq!(after[0].profile_state.unwrap().0, 1);
    assert_eq!(c.read_ef(None, &[0x2FE2]).unwrap(), iccids[1]);
    assert_eq!(iccid_digits(&iccids[1]).len(), 19);
    drop(pcsc);
    drop(_card);
    let after_list: serde_json::Value =
        serde_json::from_str(&veuicc(&["--json", "list", "--state", st])).unwrap();
    assert_eq!(after_list["profiles"].as_array().unwrap().len(), 1);
    assert_eq!(after_list["eid"], listed["eid"]);
}
