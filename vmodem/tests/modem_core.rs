//! The modem core, sans-IO: byte strings into `Modem::input`, answers and URCs out, time moved
//! by hand. Real clients' dialogues (ModemManager's init and enable sequence, pySim, lpac `at`
//! and `at_csim`; facts in shared/design/modem.md §2), registration with a real AKA run against
//! the simulated HSS, SIM refresh on a profile switch made by an LPA over `+CGLA`, hot removal,
//! IMEIs, vendor quirk profiles.
//!
//! TS.48 packages come from `$VEUICC_TESTDATA/ts48` or `../shared/testdata/ts48`; tests that
//! need them are skipped with a message when they are absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use vmodem::config::{ModemConfig, PortConfig, SlotConfig};
use vmodem::control::{ControlRequest, Domain};
use vmodem::device::imei::luhn_check_digit;
use vmodem::device::network::Timing;
use vmodem::modem::{Modem, ModemOptions};

const PKG_A: &str = "TS48V1-A-UNIQUE.der";
const PKG_B: &str = "TS48V1-B-UNIQUE.der";
const ICCID_A: &str = "8949449999999990023";
const ICCID_B: &str = "8949449999999990031";
const IMSI: &str = "001010123456063";
/// EF.IMSI of the TS.48 profiles, and the IMSI a patched copy of package B carries instead.
const EF_IMSI: &str = "080910101032540636";
const EF_IMSI_PATCHED: &str = "080910101032540637";
const IMSI_PATCHED: &str = "001010123456073";
const ISDR_AID: &str = "A0000005591010FFFFFFFF8900000100";

fn testdata() -> Option<PathBuf> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    if dir.join("ts48").is_dir() {
        Some(dir.join("ts48"))
    } else {
        eprintln!("SKIPPED: shared test data not found (set VEUICC_TESTDATA)");
        None
    }
}

/// Package B with another IMSI (same length, so the DER stays valid), written to `dir`.
fn patched_b(td: &std::path::Path, dir: &std::path::Path) -> PathBuf {
    let mut b = std::fs::read(td.join(PKG_B)).unwrap();
    let from = hex::decode(EF_IMSI).unwrap();
    let to = hex::decode(EF_IMSI_PATCHED).unwrap();
    let at = b.windows(from.len()).position(|w| w == from).unwrap();
    b[at..at + to.len()].copy_from_slice(&to);
    let p = dir.join("b-patched.der");
    std::fs::write(&p, b).unwrap();
    p
}

/// Lines as lpac's reader sees them: split on LF, CR stripped, empty lines dropped.
fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .split('\n')
        .map(|l| l.trim_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether a line is a final result code.
fn is_final(l: &str) -> bool {
    matches!(
        l,
        "OK" | "ERROR" | "CONNECT" | "NO CARRIER" | "BUSY" | "NO ANSWER" | "NO DIALTONE"
    ) || l.starts_with("+CME ERROR: ")
        || l.starts_with("+CMS ERROR: ")
        || l.starts_with("CONNECT ")
}

/// A modem under test and its clock.
struct T {
    m: Modem,
    now: Instant,
    cfg: ModemConfig,
    /// What `cmd` terminates lines with (pySim CR, lpac and MM CRLF).
    term: &'static str,
    /// URC lines that arrived after a final result code, per port.
    pending: [Vec<String>; 2],
}

impl T {
    fn open(cfg: ModemConfig) -> T {
        let m = Modem::open_with(
            &cfg,
            &ModemOptions {
                timing: Timing::immediate(),
                seed: Some([7; 32]),
            },
        )
        .unwrap();
        T {
            m,
            now: Instant::now(),
            cfg,
            term: "\r",
            pending: [Vec::new(), Vec::new()],
        }
    }

    /// Closes and opens the modem again on the same configuration (and state directory).
    fn reopen(self) -> T {
        let cfg = self.cfg.clone();
        drop(self.m);
        T::open(cfg)
    }

    /// Raw bytes in, raw bytes out.
    fn raw(&mut self, port: usize, bytes: &str) -> String {
        String::from_utf8_lossy(&self.m.input(port, bytes.as_bytes(), self.now)).into_owned()
    }

    /// One command line on `port`: the answer's lines up to the final result code, echo
    /// included if on; URCs after it are kept for [`T::urcs`].
    fn cmd_on(&mut self, port: usize, line: &str) -> Vec<String> {
        let out = self
            .m
            .input(port, format!("{line}{}", self.term).as_bytes(), self.now);
        let mut all = lines(&out);
        let end = all
            .iter()
            .position(|l| is_final(l))
            .map_or(all.len(), |i| i + 1);
        let urcs = all.split_off(end);
        self.pending[port].extend(urcs);
        all
    }

    fn cmd(&mut self, line: &str) -> Vec<String> {
        self.cmd_on(0, line)
    }

    /// A command that must succeed: its information text (the final `OK` checked and removed).
    fn ok(&mut self, line: &str) -> Vec<String> {
        let mut r = self.cmd(line);
        assert_eq!(r.last().map(String::as_str), Some("OK"), "{line} → {r:?}");
        r.pop();
        r
    }

    /// A command with exactly one line of information text.
    fn one(&mut self, line: &str) -> String {
        let r = self.ok(line);
        assert_eq!(r.len(), 1, "{line} → {r:?}");
        r.into_iter().next().unwrap()
    }

    fn control(&mut self, req: ControlRequest) -> serde_json::Value {
        self.m.control(&req, self.now).unwrap()
    }

    /// Runs the timers (the registration procedure with immediate timing).
    fn poll(&mut self) {
        for _ in 0..4 {
            self.now += Duration::from_millis(10);
            self.m.poll(self.now);
        }
    }

    fn urcs(&mut self, port: usize) -> Vec<String> {
        let mut v = std::mem::take(&mut self.pending[port]);
        v.extend(lines(&self.m.take_output(port)));
        v
    }

    fn status(&mut self) -> serde_json::Value {
        self.control(ControlRequest::Status)
    }
}

/// Slot 1: a plain UICC with TS.48 V1-A; slot 2: the virtual eUICC (empty). In memory.
fn uicc_modem(td: &std::path::Path) -> T {
    let mut cfg = ModemConfig::named("core");
    cfg.slots = vec![
        SlotConfig::Uicc {
            package: td.join(PKG_A),
        },
        SlotConfig::Euicc { state_dir: None },
    ];
    T::open(cfg)
}

/// Slot 1 empty, slot 2 the virtual eUICC with TS.48 V1-A installed and enabled (by control).
fn euicc_modem(td: &std::path::Path, quirks: &str) -> T {
    let mut cfg = ModemConfig::named("core-e");
    cfg.quirks = quirks.into();
    cfg.slots = vec![SlotConfig::Empty, SlotConfig::Euicc { state_dir: None }];
    let mut t = T::open(cfg);
    let r = t.control(ControlRequest::AddProfile {
        package: td.join(PKG_A),
        enable: true,
    });
    assert_eq!(r["iccid"], ICCID_A);
    t.poll();
    t
}

fn hex_of(s: &str) -> String {
    // The value of `+CSIM: n,"HEX"` / `+CGLA: n,"HEX"`.
    let q = s.split('"').nth(1).unwrap_or_default();
    q.to_string()
}

// --- ModemManager (modem.md §2(a)) ------------------------------------------------------------

#[test]
fn modemmanager_init_and_enable_sequence_succeeds() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    let imei1 = t.m.device().imei(1).unwrap().as_str().to_string();

    // Port setup: echo goes off with the first command.
    assert_eq!(t.raw(0, "ATE0\r\n"), "ATE0\r\r\nOK\r\n");
    for c in ["ATV1", "AT+CMEE=1", "ATX4", "AT&C1"] {
        t.ok(c);
    }
    // Interface initialization.
    assert_eq!(t.one("AT+GCAP"), "+GCAP: +CGSM,+DS,+ES");
    assert!(t.one("AT+WS46=?").starts_with("+WS46: ("));
    assert!(t.one("AT+CSCS=?").contains("\"UCS2\""));
    t.ok("AT+CSCS=\"UCS2\"");
    assert_eq!(t.one("AT+CSCS?"), "+CSCS: \"UCS2\"");
    assert_eq!(t.one("AT+CGMI"), "Virtual Modem Inc.");
    assert_eq!(t.one("AT+CGMM"), "VM-1000");
    assert_eq!(t.one("AT+CGMR"), "VM1000_1.0.0");
    assert_eq!(t.one("AT+CGSN"), imei1);
    assert_eq!(
        t.ok("ATI"),
        ["Virtual Modem Inc.", "VM-1000", "Revision: VM1000_1.0.0"]
    );
    // Not a generic command: a real modem errors and MM copes.
    assert_eq!(t.cmd("AT*CNTI=2"), ["ERROR"]);
    assert_eq!(t.ok("AT+CGDCONT=?").len(), 3);
    assert_eq!(t.one("AT+CFUN?"), "+CFUN: 1");
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: READY");
    for apdu in ["0020000100", "002C000100", "0020008100", "002C008100"] {
        let r = t.one(&format!("AT+CSIM=10,\"{apdu}\""));
        assert!(r.starts_with("+CSIM: 4,\""), "{apdu} → {r}");
    }
    assert_eq!(
        t.one("AT+CRSM=176,12258,0,0,10"),
        "+CRSM: 144,0,\"989444999999990920F3\""
    );
    assert_eq!(t.one("AT+CIMI"), IMSI);
    assert_eq!(
        t.one("AT+CRSM=176,28589,0,0,4"),
        "+CRSM: 144,0,\"80000002\""
    );
    assert_eq!(
        t.one("AT+CRSM=176,28486,0,0,17"),
        "+CRSM: 144,0,\"0147534D411154455354FFFFFFFFFFFFFF\""
    );
    // EF.ECC is a record file in a USIM: READ BINARY is refused by the card, not the modem.
    assert_eq!(t.one("AT+CRSM=176,28599,0,0,15"), "+CRSM: 105,129");
    t.ok("AT+CPLS=0");
    t.ok("AT+CPOL=,2");
    t.ok("AT+CPOL?");
    assert_eq!(t.one("AT+CRSM=176,28478,0,0,0"), "+CRSM: 144,0,\"FFFF\"");
    assert!(t
        .one("AT+CRSM=176,28479,0,0,0")
        .starts_with("+CRSM: 144,0,"));
    t.ok("AT+CNUM");
    assert!(t.one("AT+CLCK=?").contains("\"SC\""));
    assert_eq!(t.one("AT+CLCK=\"SC\",2"), "+CLCK: 0");
    assert_eq!(t.one("AT+CLCK=\"FD\",2"), "+CLCK: 0");
    assert_eq!(t.one("AT+CLCK=\"PS\",2"), "+CLCK: 0");
    assert_eq!(t.one("AT+CEMODE?"), "+CEMODE: 2");
    t.ok("AT+CUSD=?");
    t.ok("AT+CNMI=?");
    t.ok("AT+CPMS=?");
    assert_eq!(
        t.one("AT+CPMS?"),
        "+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30"
    );
    t.ok("AT+CTZU=1");
    t.ok("AT+CESQ=?");
    t.ok("ATH");

    // Time passes: the modem registers (URCs are off on this port, n = 0).
    t.poll();
    assert!(t.urcs(0).is_empty());

    // Enable.
    for c in ["ATE0", "ATV1", "AT+CMEE=1", "ATX4", "AT&C1"] {
        t.ok(c);
    }
    assert_eq!(t.one("AT+CFUN?"), "+CFUN: 1");
    assert!(t
        .one("AT+CRSM=176,12258,0,0,10")
        .starts_with("+CRSM: 144,0,\"9894"));
    assert_eq!(t.one("AT+CIMI"), IMSI);
    t.ok("AT+IFC=?");
    assert!(t.one("AT+CIND=?").contains("(\"signal\",(0-5))"));
    t.ok("AT+CMER=?");
    t.ok("AT+CGEREP=?");
    t.ok("AT+CGEREP=2");
    t.ok("AT+CREG=2");
    t.ok("AT+CGREG=2");
    t.ok("AT+CEREG=2");
    assert_eq!(t.one("AT+CREG?"), "+CREG: 2,1,\"00C3\",\"0001A2B5\",7");
    t.ok("AT+CMGF=?");
    assert_eq!(t.one("AT+CGREG?"), "+CGREG: 2,1,\"00C3\",\"0001A2B5\",7");
    t.ok("AT+CMGF=0");
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 2,1,\"00C3\",\"0001A2B5\",7");
    assert_eq!(
        t.one("AT+CPMS=\"SM\",\"ME\",\"ME\""),
        "+CPMS: 0,30,0,100,0,100"
    );
    assert_eq!(t.one("AT+CPMS=\"ME\""), "+CPMS: 0,100,0,100,0,100");
    t.ok("AT+CMGL=4");
    t.ok("AT+CPMS=\"SM\"");
    t.ok("AT+CMGL=4");
    t.ok("AT+CNMI=2,1,2,1,0");
    assert_eq!(t.one("AT+CREG?"), "+CREG: 2,1,\"00C3\",\"0001A2B5\",7");
    t.ok("AT+COPS=3,2");
    assert_eq!(t.one("AT+COPS?"), "+COPS: 0,2,\"00101\",7");
    t.ok("AT+COPS=3,0");
    // The operator name (EF.SPN) in the port's character set, UCS2.
    assert_eq!(
        t.one("AT+COPS?"),
        "+COPS: 0,0,\"00470053004D0041005F0054004500530054\",7"
    );
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 2,1,\"00C3\",\"0001A2B5\",7");
    assert_eq!(t.one("AT+CIND?"), "+CIND: 5,4,1,0,0,0,0");

    // Simple connect.
    assert_eq!(t.one("AT+CGDCONT?"), "+CGDCONT: 1,\"IPV4V6\",\"\",\"\",0,0");
    t.ok("AT+CGDCONT=1,\"IPV4V6\",\"internet\"");
    assert_eq!(t.one("AT+CGACT?"), "+CGACT: 1,0");
    assert_eq!(t.cmd("ATD*99***1#"), ["CONNECT"]);
    assert_eq!(t.cmd_on(1, "ATE0"), ["ATE0", "OK"]);
    assert!(t.cmd_on(1, "AT+CEER")[0].starts_with("+CEER: "));
    assert_eq!(t.cmd_on(1, "AT+CGACT?"), ["+CGACT: 1,1", "OK"]);
}

#[test]
fn registration_urcs_follow_each_ports_n() {
    let Some(td) = testdata() else { return };
    let mut cfg = ModemConfig::named("urc");
    cfg.slots = vec![SlotConfig::Uicc {
        package: td.join(PKG_A),
    }];
    let mut t = T::open(cfg);
    t.raw(0, "ATE0\r");
    t.raw(1, "ATE0\r");
    t.ok("AT+CEREG=2");
    assert_eq!(t.cmd_on(1, "AT+CEREG=1"), ["OK"]);
    t.poll();
    assert_eq!(
        t.urcs(0),
        ["+CEREG: 2", "+CEREG: 1,\"00C3\",\"0001A2B5\",7"]
    );
    assert_eq!(t.urcs(1), ["+CEREG: 2", "+CEREG: 1"]);
    // Roaming scripted through the control plane, with a new cell.
    t.control(ControlRequest::SetRegistration {
        domain: Some(Domain::Eps),
        stat: 5,
        tac: Some("00c4".into()),
        ci: Some("0001A2B6".into()),
        act: None,
    });
    assert_eq!(t.urcs(0), ["+CEREG: 5,\"00C4\",\"0001A2B6\",7"]);
    assert_eq!(t.urcs(1), ["+CEREG: 5"]);
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 2,5,\"00C4\",\"0001A2B6\",7");
}

// --- pySim (modem.md §2(b)) -------------------------------------------------------------------

#[test]
fn pysim_dialogue_is_answered_as_it_expects() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    // Echo on (factory): pySim strips exactly len(cmd)+1 bytes.
    assert_eq!(t.raw(0, "AT\r"), "AT\r\r\nOK\r\n");
    assert_eq!(t.raw(0, "ATZ\r"), "ATZ\r\r\nOK\r\n");
    // +CSIM=? must be a bare OK or pySim gives up.
    assert_eq!(t.raw(0, "AT+CSIM=?\r"), "AT+CSIM=?\r\r\nOK\r\n");
    // SELECT MF without Le: a T=0 link answers 61xx, pySim fetches the FCP itself.
    let out = t.raw(0, "AT+CSIM=14,\"00A40004023F00\"\r");
    let l = lines(out.as_bytes());
    assert_eq!(l.len(), 3, "{out:?}");
    assert_eq!(l[2], "OK");
    let hex = hex_of(&l[1]);
    assert_eq!(l[1], format!("+CSIM: 4,\"{hex}\""));
    assert!(hex.starts_with("61"), "{hex}");
    let le = &hex[2..];
    let r = lines(
        t.raw(0, &format!("AT+CSIM=10,\"00C00000{le}\"\r"))
            .as_bytes(),
    );
    let fcp = hex_of(&r[1]);
    assert_eq!(r[1], format!("+CSIM: {},\"{fcp}\"", fcp.len()));
    assert!(fcp.starts_with("62") && fcp.ends_with("9000"), "{fcp}");
    assert_eq!(fcp.len(), 2 * usize::from_str_radix(le, 16).unwrap() + 4);
    assert!(fcp
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    // EF.ICCID: SELECT, GET RESPONSE, READ BINARY with Le (data at once).
    let r = lines(t.raw(0, "AT+CSIM=14,\"00A40004022FE2\"\r").as_bytes());
    assert!(hex_of(&r[1]).starts_with("61"));
    let r = lines(t.raw(0, "AT+CSIM=10,\"00B000000A\"\r").as_bytes());
    assert_eq!(r[1], "+CSIM: 24,\"989444999999990920F39000\"");
    // Lower-case hex in, upper-case out; no FCP asked (P2 0C): no 61xx.
    let r = lines(t.raw(0, "AT+CSIM=14,\"00a4000c023f00\"\r").as_bytes());
    assert_eq!(r[1], "+CSIM: 4,\"9000\"");
    // A <length> that does not match the command is refused.
    assert_eq!(
        lines(t.raw(0, "AT+CSIM=12,\"00a4000c023f00\"\r").as_bytes())[1],
        "ERROR"
    );
}

// --- lpac (modem.md §2(c)) --------------------------------------------------------------------

#[test]
fn lpac_at_dialogue_reads_the_eid_through_ccho_and_cgla() {
    let Some(td) = testdata() else { return };
    let mut t = euicc_modem(&td, "generic");
    t.term = "\r\n";
    let eid = t.m.device().eid().unwrap();
    // lpac never sends ATE0 nor +CMEE: errors must stay plain ERROR.
    assert_eq!(t.cmd("AT"), ["AT", "OK"]);
    for c in ["AT+CCHO=?", "AT+CCHC=?", "AT+CGLA=?"] {
        assert_eq!(t.cmd(c), [c, "OK"]);
    }
    let r = t.cmd(&format!("AT+CCHO=\"{}\"", ISDR_AID.to_lowercase()));
    assert_eq!(r.len(), 3, "{r:?}");
    let ch: u8 = r[1].strip_prefix("+CCHO: ").unwrap().parse().unwrap();
    assert_eq!(r[2], "OK");

    let r = t.cmd(&format!("AT+CGLA={ch},22,\"81e2910006bf3e035c015a\""));
    assert_eq!(r[1], format!("+CGLA: 46,\"BF3E125A10{eid}9000\""));
    assert_eq!(r[2], "OK");

    for get in ["81e2910003bf3c00", "81e2910003bf4300", "81e2910003bf2200"] {
        let r = t.cmd(&format!("AT+CGLA={ch},16,\"{get}\""));
        assert_eq!(r.last().unwrap(), "OK", "{r:?}");
        let mut resp = hex_of(&r[1]);
        // libeuicc chains 61xx with GET RESPONSE on the same session (CLA 0x80 as sent).
        while resp[resp.len() - 4..].starts_with("61") {
            let le = &resp[resp.len() - 2..].to_string();
            resp.truncate(resp.len() - 4);
            let more = t.cmd(&format!("AT+CGLA={ch},10,\"80C00000{le}\""));
            resp.push_str(&hex_of(&more[1]));
        }
        assert!(resp.ends_with("9000"), "{get}: {resp}");
        assert!(
            resp.starts_with(&get[10..14].to_uppercase()),
            "{get}: {resp}"
        );
    }
    assert_eq!(
        t.cmd(&format!("AT+CCHC={ch}")),
        [format!("AT+CCHC={ch}"), "OK".into()]
    );
    // The session is gone.
    let r = t.cmd(&format!("AT+CGLA={ch},22,\"81e2910006bf3e035c015a\""));
    assert_eq!(r.last().unwrap(), "ERROR");
}

#[test]
fn lpac_at_csim_dialogue_manages_its_own_channel() {
    let Some(td) = testdata() else { return };
    let mut t = euicc_modem(&td, "generic");
    let eid = t.m.device().eid().unwrap();
    t.raw(0, "ATE0\r");
    t.ok("AT+CSIM=?");
    // MANAGE CHANNEL open: exactly <ch> 90 00.
    let r = t.one("AT+CSIM=10,\"0070000001\"");
    let h = hex_of(&r);
    assert_eq!(h.len(), 6, "{r}");
    assert!(h.ends_with("9000"));
    let ch = u8::from_str_radix(&h[..2], 16).unwrap();
    assert!((1..=3).contains(&ch));
    // SELECT the ISD-R with CLA = channel number.
    let r = t.one(&format!(
        "AT+CSIM=42,\"0{ch}a4040010{}\"",
        ISDR_AID.to_lowercase()
    ));
    let h = hex_of(&r);
    assert!(
        h.ends_with("9000") || h[h.len() - 4..].starts_with("61"),
        "{r}"
    );
    let r = t.one(&format!("AT+CSIM=24,\"8{ch}e2910006bf3e035c015a00\""));
    assert_eq!(hex_of(&r), format!("BF3E125A10{eid}9000"));
    assert_eq!(
        t.one(&format!("AT+CSIM=10,\"007080{ch:02X}00\"")),
        "+CSIM: 4,\"9000\""
    );
}

#[test]
fn plain_uicc_hides_the_isdr() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    t.ok("AT+CMEE=1");
    assert_eq!(
        t.cmd(&format!("AT+CCHO=\"{ISDR_AID}\"")),
        ["+CME ERROR: 22"]
    );
    let r = t.one(&format!("AT+CSIM=42,\"00a4040010{ISDR_AID}\""));
    assert_eq!(r, "+CSIM: 4,\"6A82\"");
}

// --- network: AKA -----------------------------------------------------------------------------

#[test]
fn registers_after_aka_with_a_ts48_profile_in_the_euicc() {
    let Some(td) = testdata() else { return };
    let mut cfg = ModemConfig::named("aka");
    cfg.slots = vec![SlotConfig::Euicc { state_dir: None }];
    let mut t = T::open(cfg);
    t.raw(0, "ATE0\r");
    t.ok("AT+CMEE=1");
    t.ok("AT+CEREG=2");
    // No profile yet: a card, but no USIM to register with.
    t.poll();
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 2,0");
    assert_eq!(t.cmd("AT+CIMI"), ["+CME ERROR: 13"]);

    t.control(ControlRequest::AddProfile {
        package: td.join(PKG_A),
        enable: true,
    });
    assert_eq!(t.urcs(0), ["+CPIN: NOT READY"]);
    t.poll();
    assert_eq!(
        t.urcs(0),
        [
            "+CPIN: READY",
            "+CEREG: 2",
            "+CEREG: 1,\"00C3\",\"0001A2B5\",7"
        ]
    );
    let st = t.status();
    assert_eq!(st["network"]["last_auth"], "success");
    assert_eq!(st["sim"]["imsi"], IMSI);
    assert_eq!(st["network"]["plmn"], "00101");
    assert_eq!(t.one("AT+CIMI"), IMSI);
    // The HSS was provisioned from the package the profile was built from.
    let snap = t.control(ControlRequest::Snapshot);
    assert_eq!(snap["hss"][0]["imsi"], IMSI);
    assert_eq!(snap["hss"][0]["algorithm"], "test_algorithm");
    assert!(snap["hss"][0]["sqn"].as_u64().unwrap() >= 1);
}

#[test]
fn registration_is_denied_when_the_hss_credentials_do_not_match() {
    let Some(td) = testdata() else { return };
    let mut t = euicc_modem(&td, "generic");
    t.raw(0, "ATE0\r");
    t.ok("AT+CEREG=2");
    t.ok("AT+CREG=3");
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 2,1,\"00C3\",\"0001A2B5\",7");
    t.control(ControlRequest::SetSubscriber {
        imsi: IMSI.into(),
        k: "00112233445566778899AABBCCDDEEFF".into(),
        opc: None,
        op_key: None,
        algorithm: None,
        sqn: None,
    });
    t.control(ControlRequest::Reregister);
    assert_eq!(t.urcs(0), ["+CREG: 0", "+CEREG: 0"]);
    t.poll();
    assert_eq!(
        t.urcs(0),
        ["+CREG: 2", "+CEREG: 2", "+CREG: 3,,,,0,3", "+CEREG: 3"]
    );
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 2,3");
    assert_eq!(t.status()["network"]["last_auth"], "mac_failure");
    assert_eq!(t.one("AT+COPS?"), "+COPS: 0");
    assert_eq!(t.cmd("ATD*99#"), ["NO CARRIER"]);

    // The right key again: registered.
    t.control(ControlRequest::SetSubscriber {
        imsi: IMSI.into(),
        k: "000102030405060708090A0B0C0D0E0F".into(),
        opc: None,
        op_key: None,
        algorithm: Some(vmodem::device::aka::Algorithm::TestAlgorithm),
        sqn: Some(0x20),
    });
    t.control(ControlRequest::Reregister);
    t.poll();
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 2,1,\"00C3\",\"0001A2B5\",7");
}

#[test]
fn inserted_card_provisions_the_hss_from_its_package() {
    let Some(td) = testdata() else { return };
    let mut cfg = ModemConfig::named("insert");
    cfg.slots = vec![SlotConfig::Uicc {
        package: td.join(PKG_A),
    }];
    let mut t = T::open(cfg);
    t.raw(0, "ATE0\r");
    let dir = tempfile::tempdir().unwrap();
    let b = patched_b(&td, dir.path());
    t.control(ControlRequest::InsertSim {
        slot: 1,
        card: SlotConfig::Uicc { package: b },
    });
    t.poll();
    assert_eq!(t.status()["sim"]["imsi"], IMSI_PATCHED);
    assert_eq!(t.status()["sim"]["iccid"], ICCID_B);
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 0,1");
    assert_eq!(t.status()["network"]["last_auth"], "success");
}

#[test]
fn unknown_subscriber_is_denied_unless_accepted() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    t.ok("AT+CEREG=2");
    t.poll();
    t.urcs(0);
    // As for a real card in a PC/SC reader: the HSS has no entry for the IMSI.
    t.control(ControlRequest::DeleteSubscriber { imsi: IMSI.into() });
    t.control(ControlRequest::Reregister);
    t.poll();
    assert_eq!(t.urcs(0), ["+CEREG: 0", "+CEREG: 2", "+CEREG: 3"]);
    assert_eq!(t.status()["network"]["last_auth"], "unknown_subscriber");
    t.control(ControlRequest::SetNetwork {
        roaming: Some(true),
        accept_unknown: Some(true),
        auto_register: None,
        plmn: Some("00102".into()),
        search_ms: None,
        register_ms: None,
        sim_ready_ms: None,
    });
    t.control(ControlRequest::Reregister);
    t.poll();
    assert_eq!(
        t.urcs(0),
        [
            "+CEREG: 0",
            "+CEREG: 2",
            "+CEREG: 5,\"00C3\",\"0001A2B5\",7"
        ]
    );
    assert_eq!(t.status()["network"]["last_auth"], "accepted_unknown");
    t.ok("AT+COPS=3,2");
    assert_eq!(t.one("AT+COPS?"), "+COPS: 0,2,\"00102\",7");
}

// --- SIM refresh on a profile switch by an LPA ---------------------------------------------------

#[test]
fn profile_switch_over_cgla_refreshes_the_sim_and_reports_the_new_imsi() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let b = patched_b(&td, dir.path());
    let mut t = euicc_modem(&td, "generic");
    t.control(ControlRequest::AddProfile {
        package: b,
        enable: false,
    });
    t.raw(0, "ATE0\r");
    t.ok("AT+CEREG=2");
    assert_eq!(t.one("AT+CIMI"), IMSI);
    let ch: u8 = t
        .one(&format!("AT+CCHO=\"{ISDR_AID}\""))
        .strip_prefix("+CCHO: ")
        .unwrap()
        .parse()
        .unwrap();
    // ES10c EnableProfile (SGP.22 §5.7.16) for B, refreshFlag true.
    let iccid_b = hex::encode_upper(vmodem::device::iccid_to_ef(ICCID_B).unwrap());
    let req = format!("BF3111A00C5A0A{iccid_b}8101FF");
    let apdu = format!("81E29100{:02X}{req}", req.len() / 2);
    let out = t.raw(0, &format!("AT+CGLA={ch},{},\"{apdu}\"\r", apdu.len()));
    // The response first, then the refresh URCs after the final result.
    assert_eq!(
        lines(out.as_bytes()),
        [
            "+CGLA: 16,\"BF31038001009000\"",
            "OK",
            "+CPIN: NOT READY",
            "+CEREG: 0",
        ]
    );
    t.poll();
    assert_eq!(
        t.urcs(0),
        [
            "+CPIN: READY",
            "+CEREG: 2",
            "+CEREG: 1,\"00C3\",\"0001A2B5\",7"
        ]
    );
    assert_eq!(t.one("AT+CIMI"), IMSI_PATCHED);
    assert_eq!(
        t.one("AT+CRSM=176,12258,0,0,10"),
        format!("+CRSM: 144,0,\"{iccid_b}\"")
    );
    // The LPA's channel survives the switch.
    t.ok(&format!("AT+CCHC={ch}"));
    // And a switch by the control plane (as an LPA would) refreshes the same way.
    t.control(ControlRequest::EnableProfile {
        iccid: ICCID_A.into(),
    });
    assert_eq!(t.urcs(0), ["+CPIN: NOT READY", "+CEREG: 0"]);
    t.poll();
    assert_eq!(t.urcs(0).first().map(String::as_str), Some("+CPIN: READY"));
    assert_eq!(t.one("AT+CIMI"), IMSI);
}

#[test]
fn profile_switch_over_csim_is_a_refresh_too() {
    let Some(td) = testdata() else { return };
    let mut t = euicc_modem(&td, "quectel");
    t.raw(0, "ATE0\r");
    let h = hex_of(&t.one("AT+CSIM=10,\"0070000001\""));
    let ch = u8::from_str_radix(&h[..2], 16).unwrap();
    t.one(&format!("AT+CSIM=42,\"0{ch}A4040010{ISDR_AID}\""));
    let iccid_a = hex::encode_upper(vmodem::device::iccid_to_ef(ICCID_A).unwrap());
    // DisableProfile (BF32).
    let req = format!("BF3211A00C5A0A{iccid_a}8101FF");
    let apdu = format!("8{ch}E29100{:02X}{req}", req.len() / 2);
    let r = t.cmd(&format!("AT+CSIM={},\"{apdu}\"", apdu.len()));
    assert_eq!(r, ["+CSIM: 16,\"BF32038001009000\"", "OK"]);
    assert_eq!(t.urcs(0), ["+CPIN: NOT READY"]);
    t.poll();
    // Quectel's SIM URCs; no USIM any more: no IMSI, no registration.
    assert_eq!(t.urcs(0), ["+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"]);
    t.ok("AT+CMEE=1");
    assert_eq!(t.cmd("AT+CIMI"), ["+CME ERROR: 13"]);
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: READY");
    assert_eq!(t.one("AT+CGREG?"), "+CGREG: 0,0");
}

// --- SIM removal --------------------------------------------------------------------------------

#[test]
fn sim_removal_gives_cme_10_and_insertion_brings_it_back() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    t.ok("AT+CREG=1");
    t.poll();
    t.urcs(0);
    t.control(ControlRequest::RemoveSim { slot: 1 });
    assert_eq!(t.urcs(0), ["+CPIN: NOT READY", "+CREG: 0"]);
    assert_eq!(t.cmd("AT+CPIN?"), ["ERROR"]);
    t.ok("AT+CMEE=1");
    assert_eq!(t.cmd("AT+CPIN?"), ["+CME ERROR: 10"]);
    assert_eq!(t.cmd("AT+CIMI"), ["+CME ERROR: 10"]);
    assert_eq!(t.cmd("AT+CSIM=10,\"0020000100\""), ["+CME ERROR: 10"]);
    assert_eq!(t.cmd("AT+CRSM=176,12258,0,0,10"), ["+CME ERROR: 10"]);
    t.ok("AT+CMEE=2");
    assert_eq!(t.cmd("AT+CPIN?"), ["+CME ERROR: SIM not inserted"]);
    assert_eq!(t.status()["sim"]["state"], "absent");

    t.control(ControlRequest::InsertSim {
        slot: 1,
        card: SlotConfig::Uicc {
            package: td.join(PKG_A),
        },
    });
    assert_eq!(t.urcs(0), ["+CPIN: NOT READY"]);
    t.poll();
    assert_eq!(t.urcs(0), ["+CPIN: READY", "+CREG: 2", "+CREG: 1"]);
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: READY");
}

// --- IMEIs ----------------------------------------------------------------------------------------

#[test]
fn imei_follows_the_active_slot_and_validates_luhn() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    let imei1 = t.m.device().imei(1).unwrap().as_str().to_string();
    let imei2 = t.m.device().imei(2).unwrap().as_str().to_string();
    for i in [&imei1, &imei2] {
        assert_eq!(i.len(), 15);
        assert_eq!(
            luhn_check_digit(&i[..14]).unwrap().to_string(),
            i[14..].to_string()
        );
    }
    assert_eq!(t.one("AT+CGSN"), imei1);
    assert_eq!(t.one("AT+CGSN=1"), format!("+CGSN: {imei1}"));
    assert_eq!(t.one("AT+CGSN=2"), format!("+CGSN: {}01", &imei1[..14]));
    assert_eq!(t.one("AT+CGSN=3"), "+CGSN: 01");
    assert_eq!(t.one("AT+CGSN=?"), "+CGSN: (0-3)");
    assert_eq!(t.cmd("AT+CGSN=4"), ["ERROR"]);
    t.control(ControlRequest::SelectSlot { slot: 2 });
    assert_eq!(t.one("AT+CGSN"), imei2);

    let e =
        t.m.control(
            &ControlRequest::SetImei {
                index: 2,
                imei: "490154203237519".into(),
            },
            t.now,
        )
        .unwrap_err();
    assert!(e.to_string().contains("check digit"), "{e}");
    t.control(ControlRequest::SetImei {
        index: 2,
        imei: "49015420323751".into(),
    });
    assert_eq!(t.one("AT+CGSN"), "490154203237518");
}

// --- vendor quirk profiles ----------------------------------------------------------------------

#[test]
fn quectel_profile_answers_qccid_egmr_and_qsimstat() {
    let Some(td) = testdata() else { return };
    let mut t = euicc_modem(&td, "quectel");
    t.raw(0, "ATE0\r");
    assert_eq!(
        t.ok("ATI"),
        ["Quectel", "EG25", "Revision: EG25GGBR07A08M2G"]
    );
    assert_eq!(t.one("AT+QCCID"), format!("+QCCID: {ICCID_A}"));
    let imei1 = t.m.device().imei(1).unwrap().as_str().to_string();
    assert_eq!(t.one("AT+EGMR=0,7"), format!("+EGMR: \"{imei1}\""));
    t.ok("AT+EGMR=1,10,\"490154203237518\"");
    assert_eq!(t.one("AT+EGMR=0,10"), "+EGMR: \"490154203237518\"");
    // Slot 2 is active: the written IMEI2 is what +CGSN reports.
    assert_eq!(t.one("AT+CGSN"), "490154203237518");
    assert_eq!(t.cmd("AT+EGMR=1,7,\"490154203237519\""), ["ERROR"]);
    assert_eq!(t.one("AT+QSIMSTAT?"), "+QSIMSTAT: 0,1");
    // Not a SIMCom modem.
    assert_eq!(t.cmd("AT+CICCID"), ["ERROR"]);
}

#[test]
fn simcom_profile_answers_ciccid_and_simei() {
    let Some(td) = testdata() else { return };
    let mut t = euicc_modem(&td, "simcom");
    t.raw(0, "ATE0\r");
    assert_eq!(t.one("AT+CICCID"), format!("+ICCID: {ICCID_A}"));
    let imei = t.m.device().imei_for_active().as_str().to_string();
    assert_eq!(t.one("AT+SIMEI?"), format!("+SIMEI: {imei}"));
    t.ok("AT+SIMEI=35000000000000");
    let new = t.m.device().imei_for_active().as_str().to_string();
    assert!(new.starts_with("35000000000000"));
    assert_eq!(t.one("AT+SIMEI?"), format!("+SIMEI: {new}"));
    assert!(t.ok("ATI").contains(&format!("IMEI: {new}")));
    assert_eq!(t.cmd("AT+QCCID"), ["ERROR"]);
    assert_eq!(t.cmd("AT+EGMR=0,7"), ["ERROR"]);
}

#[test]
fn generic_profile_knows_no_vendor_commands() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    for c in [
        "AT+QCCID",
        "AT+EGMR=0,7",
        "AT+SIMEI?",
        "AT+CICCID",
        "AT+QSIMSTAT?",
    ] {
        assert_eq!(t.cmd(c), ["ERROR"], "{c}");
    }
    assert_eq!(t.one("AT+CCID"), format!("+CCID: {ICCID_A}"));
}

// --- control plane ----------------------------------------------------------------------------

#[test]
fn injected_errors_latency_urcs_and_signal_reach_the_ports() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    t.ok("AT+CMEE=1");
    t.control(ControlRequest::InjectError {
        command: "AT+CSQ".into(),
        count: 1,
        cme: Some(30),
    });
    assert_eq!(t.cmd("AT+CSQ"), ["+CME ERROR: 30"]);
    assert_eq!(t.one("AT+CSQ"), "+CSQ: 20,99");

    t.control(ControlRequest::SetLatency {
        command: "+CGMI".into(),
        ms: 250,
    });
    t.ok("AT+CGMI");
    assert_eq!(t.m.response_delay(0), Duration::from_millis(250));
    t.ok("AT+CGMM");
    assert_eq!(t.m.response_delay(0), Duration::ZERO);

    t.control(ControlRequest::InjectUrc {
        line: "+QIND: \"FOTA\",\"START\"".into(),
        port: Some("at0".into()),
    });
    assert_eq!(t.urcs(0), ["+QIND: \"FOTA\",\"START\""]);
    assert!(t.urcs(1).is_empty());

    t.poll();
    t.ok("AT+CMER=3,0,0,1");
    t.control(ControlRequest::SetSignal {
        rssi: 5,
        ber: Some(0),
    });
    assert_eq!(t.urcs(0), ["+CIEV: 2,1"]);
    assert_eq!(t.one("AT+CSQ"), "+CSQ: 5,0");
    t.control(ControlRequest::SetOperator {
        name: "Acme".into(),
    });
    assert_eq!(t.one("AT+COPS?"), "+COPS: 0,0,\"Acme\",7");

    for bad in [
        ControlRequest::SetSignal {
            rssi: 40,
            ber: None,
        },
        ControlRequest::SelectSlot { slot: 9 },
        ControlRequest::SetImei {
            index: 3,
            imei: "490154203237518".into(),
        },
        ControlRequest::InjectUrc {
            line: "a\r\nb".into(),
            port: None,
        },
        ControlRequest::SetLatency {
            command: "*".into(),
            ms: u64::MAX,
        },
        ControlRequest::SetNetwork {
            roaming: None,
            accept_unknown: None,
            auto_register: None,
            plmn: None,
            search_ms: Some(u64::MAX),
            register_ms: None,
            sim_ready_ms: None,
        },
        ControlRequest::SetNetwork {
            roaming: None,
            accept_unknown: None,
            auto_register: None,
            plmn: Some("12".into()),
            search_ms: None,
            register_ms: None,
            sim_ready_ms: None,
        },
        ControlRequest::SetSubscriber {
            imsi: "x".into(),
            k: "00".into(),
            opc: None,
            op_key: None,
            algorithm: None,
            sqn: None,
        },
        ControlRequest::InjectError {
            command: "+CSQ".into(),
            count: 1,
            cme: Some(9999),
        },
        ControlRequest::EnableProfile {
            iccid: "89xx".into(),
        },
        ControlRequest::AddProfile {
            package: "/nonexistent.der".into(),
            enable: true,
        },
    ] {
        assert!(t.m.control(&bad, t.now).is_err(), "{bad:?}");
    }
}

#[test]
fn cfun_zero_deregisters_and_one_registers_again() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    t.ok("AT+CEREG=1");
    t.poll();
    t.urcs(0);
    t.ok("AT+CFUN=4");
    assert_eq!(t.urcs(0), ["+CEREG: 0"]);
    assert_eq!(t.one("AT+CSQ"), "+CSQ: 99,99");
    t.ok("AT+CFUN=1");
    t.poll();
    assert_eq!(t.urcs(0), ["+CEREG: 2", "+CEREG: 1"]);
    // Reset: a SIM refresh and a new registration.
    t.ok("AT+CFUN=1,1");
    assert_eq!(t.urcs(0), ["+CPIN: NOT READY", "+CEREG: 0"]);
    t.poll();
    assert_eq!(t.urcs(0), ["+CPIN: READY", "+CEREG: 2", "+CEREG: 1"]);
}

#[test]
fn malformed_commands_get_a_final_result_and_never_panic() {
    let Some(td) = testdata() else { return };
    let mut t = euicc_modem(&td, "quectel");
    t.raw(0, "ATE0\r");
    t.ok("AT+CMEE=1");
    let cases = [
        "AT+CRSM=176",
        "AT+CRSM=999,12258",
        "AT+CRSM=176,12258,0,0,10,\"zz\"",
        "AT+CRSM=176,70000,0,0,1",
        "AT+CRSM=178,28480,1,4,0,,\"3F007FFF\"",
        "AT+CRSM=176,28423,0,0,9,,\"3F007F\"",
        "AT+CRSM=242",
        "AT+CRSM=192,28423",
        "AT+CSIM=2,\"0\"",
        "AT+CSIM=4,\"00\"",
        "AT+CSIM=10,\"FFA4000000\"",
        "AT+CSIM=,",
        "AT+CSIM=10",
        "AT+CGLA=99,10,\"00A4000000\"",
        "AT+CGLA=1,2,\"\"",
        "AT+CCHO=\"\"",
        "AT+CCHO=\"A0\"",
        "AT+CCHO=\"0102030405060708090A0B0C0D0E0F1011\"",
        "AT+CCHC=77",
        "AT+CPIN=\"\"",
        "AT+CPIN=1234",
        "AT+CLCK=\"SC\",1,\"12\"",
        "AT+CLCK=\"XX\",2",
        "AT+EGMR=1",
        "AT+EGMR=1,7",
        "AT+EGMR=0,99",
        "AT+CGDCONT=0",
        "AT+CGDCONT=1,\"FOO\"",
        "AT+CGACT=1,9",
        "ATD",
        "ATD*99*x#",
        "ATD12345;",
        "AT+COPS=1,2,\"99999\"",
        "AT+CFUN=7",
        "AT+CSCS=\"KLINGON\"",
        "AT+CPMS=\"XX\"",
        "AT+CREG=9",
        "AT+CMER=9",
        "AT+WS46=99",
        "AT+CSIM=10,\"007080FF00\"",
    ];
    for c in cases {
        let r = t.cmd(c);
        let last = r.last().cloned().unwrap_or_default();
        assert!(
            last == "OK"
                || last == "ERROR"
                || last == "NO CARRIER"
                || last.starts_with("+CME ERROR: ")
                || last.starts_with("+CMS ERROR: "),
            "{c} → {r:?}"
        );
    }
    // Still working.
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: READY");
}

#[test]
fn urcs_for_a_port_without_client_are_dropped() {
    let Some(td) = testdata() else { return };
    let mut cfg = ModemConfig::named("drop");
    cfg.ports = vec![PortConfig::pty("at0"), PortConfig::pty("at1")];
    cfg.slots = vec![SlotConfig::Uicc {
        package: td.join(PKG_A),
    }];
    let mut t = T::open(cfg);
    t.raw(1, "ATE0\r");
    t.m.detach(1);
    t.control(ControlRequest::InjectUrc {
        line: "RING".into(),
        port: None,
    });
    assert!(t.urcs(1).is_empty());
    t.m.attach(1);
    t.control(ControlRequest::InjectUrc {
        line: "RING".into(),
        port: None,
    });
    assert_eq!(t.urcs(1), ["RING"]);
}

// --- persistence ----------------------------------------------------------------------------------

#[test]
fn state_survives_a_restart() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let b = patched_b(&td, dir.path());
    let mut cfg = ModemConfig::named("persist");
    cfg.state_dir = Some(dir.path().join("state"));
    cfg.slots = vec![
        SlotConfig::Uicc {
            package: td.join(PKG_A),
        },
        SlotConfig::Euicc { state_dir: None },
    ];
    let mut t = T::open(cfg);
    // The eUICC (slot 2, not active) gets a profile: its state dir is under the modem's.
    t.control(ControlRequest::AddProfile {
        package: b,
        enable: true,
    });
    let eid = t.m.device().eid().unwrap();
    t.control(ControlRequest::SetImei {
        index: 2,
        imei: "490154203237518".into(),
    });
    t.control(ControlRequest::SelectSlot { slot: 2 });
    t.control(ControlRequest::SetOperator {
        name: "Acme".into(),
    });
    t.control(ControlRequest::SetSignal { rssi: 9, ber: None });
    t.control(ControlRequest::SetSubscriber {
        imsi: IMSI_PATCHED.into(),
        k: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF".into(),
        opc: None,
        op_key: None,
        algorithm: None,
        sqn: None,
    });
    t.poll();
    assert_eq!(t.status()["network"]["last_auth"], "mac_failure");

    let mut t = t.reopen();
    let st = t.status();
    assert_eq!(st["imei"][1], "490154203237518");
    assert_eq!(st["active_slot"], 2);
    assert_eq!(st["euicc"]["eid"], eid);
    assert_eq!(st["euicc"]["profiles"][0]["iccid"], ICCID_B);
    assert_eq!(st["euicc"]["profiles"][0]["state"], "enabled");
    assert_eq!(st["sim"]["imsi"], IMSI_PATCHED);
    assert_eq!(st["network"]["operator"], "Acme");
    assert_eq!(st["network"]["rssi"], 9);
    t.raw(0, "ATE0\r");
    assert_eq!(t.one("AT+CGSN"), "490154203237518");
    // The credentials set at run time are still the HSS's: still denied.
    t.poll();
    assert_eq!(t.status()["network"]["last_auth"], "mac_failure");
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 0,3");
}

#[test]
fn hot_swaps_persist_until_the_configuration_changes() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ModemConfig::named("swap");
    cfg.state_dir = Some(dir.path().join("state"));
    cfg.slots = vec![
        SlotConfig::Uicc {
            package: td.join(PKG_A),
        },
        SlotConfig::Empty,
    ];
    let mut t = T::open(cfg.clone());
    t.control(ControlRequest::RemoveSim { slot: 1 });
    let mut t = t.reopen();
    assert_eq!(t.status()["sim"]["state"], "absent");
    assert_eq!(t.status()["slots"][0]["kind"], "empty");
    // An edited configuration wins over the persisted slots.
    drop(t);
    cfg.slots.pop();
    let mut t = T::open(cfg);
    assert_eq!(t.status()["sim"]["state"], "ready");
    assert_eq!(t.status()["slots"][0]["kind"], "uicc");
}

#[test]
fn refuses_a_state_record_of_another_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ModemConfig::named("version");
    cfg.state_dir = Some(dir.path().join("state"));
    cfg.slots = vec![SlotConfig::Empty];
    drop(T::open(cfg.clone()));
    {
        let s = vmodem::device::state::StateStore::open(&dir.path().join("state")).unwrap();
        s.save_raw(br#"{"version":2}"#).unwrap();
    }
    let e = Modem::open(&cfg).unwrap_err();
    assert!(matches!(e, vmodem::modem::ModemError::State(_)), "{e}");
    assert!(e.to_string().contains("format version 2"), "{e}");
}

#[test]
fn modem_is_send() {
    fn send<T: Send>() {}
    send::<Modem>();
}

#[test]
fn pin1_lock_asks_for_the_pin_after_a_reset_and_registers_once_verified() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    t.ok("AT+CMEE=1");
    t.ok("AT+CEREG=1");
    t.poll();
    t.urcs(0);
    // TS.48: PIN1 0000 (disabled), PUK1 11111111.
    assert_eq!(t.cmd("AT+CLCK=\"SC\",1,\"1234\""), ["+CME ERROR: 16"]);
    t.ok("AT+CLCK=\"SC\",1,\"0000\"");
    assert_eq!(t.one("AT+CLCK=\"SC\",2"), "+CLCK: 1");
    t.ok("AT+CFUN=1,1");
    t.poll();
    assert_eq!(
        t.urcs(0),
        ["+CPIN: NOT READY", "+CEREG: 0", "+CPIN: SIM PIN"]
    );
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: SIM PIN");
    assert_eq!(t.cmd("AT+CIMI"), ["+CME ERROR: 11"]);
    // What ModemManager reads the retry counters with (modem.md §2(a)).
    assert_eq!(t.one("AT+CSIM=10,\"0020000100\""), "+CSIM: 4,\"63C3\"");
    assert_eq!(t.cmd("AT+CPIN=\"1234\""), ["+CME ERROR: 16"]);
    assert_eq!(t.one("AT+CSIM=10,\"0020000100\""), "+CSIM: 4,\"63C2\"");
    t.ok("AT+CPIN=\"0000\"");
    assert_eq!(t.urcs(0), ["+CPIN: READY"]);
    assert_eq!(t.one("AT+CIMI"), IMSI);
    t.poll();
    assert_eq!(t.urcs(0), ["+CEREG: 2", "+CEREG: 1"]);

    // Three wrong PINs block it; the PUK and a new PIN unblock it.
    t.ok("AT+CFUN=1,1");
    t.poll();
    t.urcs(0);
    for _ in 0..3 {
        assert_eq!(t.cmd("AT+CPIN=\"9876\""), ["+CME ERROR: 16"]);
    }
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: SIM PUK");
    assert_eq!(t.cmd("AT+CPIN=\"0000\""), ["+CME ERROR: 12"]);
    t.ok("AT+CPIN=\"11111111\",\"4321\"");
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: READY");
    t.ok("AT+CPWD=\"SC\",\"4321\",\"0000\"");
    t.ok("AT+CLCK=\"SC\",0,\"0000\"");
    assert_eq!(t.one("AT+CLCK=\"SC\",2"), "+CLCK: 0");
}

#[test]
fn losing_packet_service_ends_the_data_call_with_no_carrier() {
    let Some(td) = testdata() else { return };
    let mut t = uicc_modem(&td);
    t.raw(0, "ATE0\r");
    assert_eq!(t.cmd_on(1, "ATE0"), ["ATE0", "OK"]);
    assert_eq!(t.cmd_on(1, "AT+CGEREP=2,1"), ["OK"]);
    assert_eq!(t.cmd("ATD*99#"), ["NO CARRIER"]);
    t.poll();
    assert_eq!(t.cmd("ATD*99#"), ["CONNECT"]);
    assert_eq!(t.urcs(1), ["+CGEV: ME PDN ACT 1"]);
    assert_eq!(t.cmd_on(1, "AT+CGACT?"), ["+CGACT: 1,1", "OK"]);
    t.control(ControlRequest::SetRegistration {
        domain: None,
        stat: 0,
        tac: None,
        ci: None,
        act: None,
    });
    assert_eq!(t.urcs(0), ["NO CARRIER"]);
    assert_eq!(t.urcs(1), ["+CGEV: NW PDN DEACT 1", "+CGEV: NW DETACH"]);
    assert_eq!(t.one("AT+CGACT?"), "+CGACT: 1,0");
    assert_eq!(t.cmd("AT+CGACT=1,1"), ["ERROR"]);
}

#[test]
fn an_unreachable_pcsc_reader_is_a_sim_failure() {
    let mut cfg = ModemConfig::named("pcsc");
    cfg.slots = vec![SlotConfig::Pcsc {
        reader: "no such reader, vmodem test".into(),
    }];
    let mut t = T::open(cfg);
    t.raw(0, "ATE0\r");
    t.ok("AT+CMEE=1");
    assert_eq!(t.cmd("AT+CPIN?"), ["+CME ERROR: 13"]);
    assert_eq!(t.cmd("AT+CSIM=10,\"0020000100\""), ["+CME ERROR: 13"]);
    let st = t.status();
    assert_eq!(st["sim"]["state"], "failure");
    assert!(st["slots"][0]["error"].is_string());
}

#[test]
fn a_quirk_file_from_a_path_changes_the_answers() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("telit.toml");
    std::fs::write(
        &q,
        r##"
name = "telit-like"
manufacturer = "Telit"
model = "LE910C1"
ccho_prefix = false
cchc_line = true
cgsn_quoted = true
csim_test_info = "+CSIM: (2-520)"
unknown_command_text = "COMMAND NOT SUPPORT"
echo = false
urc_sim_ready = ["#QSS: 1"]
[latency_ms]
"+CGLA" = 120
"##,
    )
    .unwrap();
    let mut cfg = ModemConfig::named("telit");
    cfg.quirks = q.to_str().unwrap().into();
    cfg.model = Some("LE910C4".into());
    cfg.slots = vec![SlotConfig::Empty, SlotConfig::Euicc { state_dir: None }];
    let mut t = T::open(cfg);
    // Factory echo off: no echo from the first command.
    assert_eq!(t.raw(0, "AT\r"), "\r\nOK\r\n");
    assert_eq!(t.one("AT+CGMI"), "Telit");
    assert_eq!(t.one("AT+CGMM"), "LE910C4");
    let imei = t.m.device().imei_for_active().as_str().to_string();
    assert_eq!(t.one("AT+CGSN=1"), format!("+CGSN: \"{imei}\""));
    assert_eq!(t.one("AT+CSIM=?"), "+CSIM: (2-520)");
    assert_eq!(t.cmd("AT+FOO"), ["COMMAND NOT SUPPORT"]);
    t.control(ControlRequest::AddProfile {
        package: td.join(PKG_A),
        enable: true,
    });
    t.poll();
    assert_eq!(t.urcs(0), ["+CPIN: NOT READY", "#QSS: 1"]);
    let ch = t.one(&format!("AT+CCHO=\"{ISDR_AID}\""));
    assert!(ch.parse::<u8>().is_ok(), "{ch}");
    t.ok(&format!("AT+CGLA={ch},22,\"81e2910006bf3e035c015a\""));
    assert_eq!(t.m.response_delay(0), Duration::from_millis(120));
    assert_eq!(t.one(&format!("AT+CCHC={ch}")), "+CCHC");
}

/// Package A with its USIM/ISIM AKA algorithm switched from the TS 34.108 test algorithm to
/// Milenage (same K, OPc all zero): `algorithmID` 3 → 1 in each akaParameter.
fn milenage_a(td: &std::path::Path, dir: &std::path::Path) -> PathBuf {
    let mut a = std::fs::read(td.join(PKG_A)).unwrap();
    let from = hex::decode("a12a8001038101028210").unwrap();
    let mut n = 0;
    let mut i = 0;
    while let Some(at) = a[i..].windows(from.len()).position(|w| w == from) {
        a[i + at + 4] = 0x01;
        i += at + from.len();
        n += 1;
    }
    assert!(n >= 1);
    let p = dir.join("a-milenage.der");
    std::fs::write(&p, a).unwrap();
    p
}

#[test]
fn milenage_subscriber_registers_and_the_hss_resynchronises_from_auts() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ModemConfig::named("milenage");
    cfg.slots = vec![SlotConfig::Uicc {
        package: milenage_a(&td, dir.path()),
    }];
    let mut t = T::open(cfg);
    t.raw(0, "ATE0\r");
    t.ok("AT+CEREG=1");
    t.poll();
    assert_eq!(t.urcs(0), ["+CEREG: 2", "+CEREG: 1"]);
    let snap = t.control(ControlRequest::Snapshot);
    assert_eq!(snap["hss"][0]["algorithm"], "milenage");
    assert_eq!(snap["network"]["last_auth"], "success");
    assert_eq!(snap["network"]["resyncs"], 0);
    // The USIM keeps its SQN; an HSS that forgot its own sends a stale one, the USIM answers
    // AUTS, the HSS takes the USIM's SQN and the second vector is accepted.
    for _ in 0..3 {
        t.control(ControlRequest::Reregister);
        t.poll();
    }
    t.control(ControlRequest::SetSubscriber {
        imsi: IMSI.into(),
        k: "000102030405060708090A0B0C0D0E0F".into(),
        opc: Some("00000000000000000000000000000000".into()),
        op_key: None,
        algorithm: Some(vmodem::device::aka::Algorithm::Milenage),
        sqn: Some(0),
    });
    t.control(ControlRequest::Reregister);
    t.poll();
    assert_eq!(t.status()["network"]["last_auth"], "success");
    assert_eq!(t.status()["network"]["resyncs"], 1);
    let snap = t.control(ControlRequest::Snapshot);
    assert!(
        snap["hss"][0]["sqn"].as_u64().unwrap() >= 5,
        "{}",
        snap["hss"]
    );
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 1,1");
    // A wrong OPc: MAC failure, denied.
    t.control(ControlRequest::SetSubscriber {
        imsi: IMSI.into(),
        k: "000102030405060708090A0B0C0D0E0F".into(),
        opc: None,
        op_key: Some("11111111111111111111111111111111".into()),
        algorithm: Some(vmodem::device::aka::Algorithm::Milenage),
        sqn: None,
    });
    t.control(ControlRequest::Reregister);
    t.poll();
    assert_eq!(t.status()["network"]["last_auth"], "mac_failure");
    assert_eq!(t.one("AT+CEREG?"), "+CEREG: 1,3");
}
