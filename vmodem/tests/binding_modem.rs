//! IMEI binding inside the modem, sans-IO: profiles switched by control requests and by an LPA
//! over `+CCHO`/`+CGLA`, a plain UICC and hot-swaps, `+CGSN`/`+EGMR`/`+VIMEIBIND`, the card's
//! copy read back with GetImeiBinding (`FF20`), a fake IMEI assignment server, restarts on the
//! same state directory, the DeviceInfo IMEI of a download, bad input.
//!
//! TS.48 packages come from `$VEUICC_TESTDATA/ts48` or `../shared/testdata/ts48`; tests that
//! need them are skipped with a message when they are absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vmodem::config::{BindingPolicy, ModemConfig, SlotConfig};
use vmodem::control::ControlRequest;
use vmodem::device::binding::assign::{Answer, ImeiSource};
use vmodem::device::binding::glue::UnixClock;
use vmodem::device::imei::Imei;
use vmodem::device::network::Timing;
use vmodem::modem::{Modem, ModemOptions};

const PKG_A: &str = "TS48V1-A-UNIQUE.der";
const PKG_B: &str = "TS48V1-B-UNIQUE.der";
const PKG_C: &str = "TS48V2-SAIP2-1-BERTLV-UNIQUE.der";
const PKG_P: &str = "TS48V2-SAIP2-3-NOBERTLV-UNIQUE.der";
const A: &str = "8949449999999990023";
const B: &str = "8949449999999990031";
const C: &str = "8949449999999990049";
const P: &str = "8949449999999990015";
const ISDR_AID: &str = "A0000005591010FFFFFFFF8900000100";
const I1: &str = "352099001761481";
const I2: &str = "352099001761499";
const I3: &str = "359999990000010";

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

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .split('\n')
        .map(|l| l.trim_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_final(l: &str) -> bool {
    matches!(l, "OK" | "ERROR") || l.starts_with("+CME ERROR: ")
}

/// A fake assignment server: answers queued by the test, delivered at the next poll.
#[derive(Debug, Clone, Default)]
struct FakeServer {
    answers: Arc<Mutex<VecDeque<Result<String, String>>>>,
    asked: Arc<Mutex<Vec<(String, String)>>>,
    ready: Arc<Mutex<Vec<Answer>>>,
}

impl ImeiSource for FakeServer {
    fn request(&mut self, device_id: &str, iccid: &str) {
        self.asked
            .lock()
            .unwrap()
            .push((device_id.into(), iccid.into()));
        let a = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Err("no answer queued".into()));
        self.ready
            .lock()
            .unwrap()
            .push((iccid.into(), a.map(|s| Imei::parse(&s).unwrap())));
    }
    fn take_results(&mut self) -> Vec<Answer> {
        std::mem::take(&mut *self.ready.lock().unwrap())
    }
    fn in_flight(&self) -> bool {
        !self.ready.lock().unwrap().is_empty()
    }
}

struct T {
    m: Modem,
    now: Instant,
    cfg: ModemConfig,
    urcs: Vec<String>,
    td: PathBuf,
}

impl T {
    fn open(cfg: ModemConfig, td: &Path) -> T {
        let mut m = Modem::open_with(
            &cfg,
            &ModemOptions {
                timing: Timing::immediate(),
                seed: Some([9; 32]),
            },
        )
        .unwrap();
        m.set_binding_clock(UnixClock::new(|| 1_700_000_000));
        let mut t = T {
            m,
            now: Instant::now(),
            cfg,
            urcs: Vec::new(),
            td: td.to_path_buf(),
        };
        t.ok("ATE0");
        t.ok("AT+CMEE=1");
        t
    }

    fn reopen(self) -> T {
        let (cfg, td) = (self.cfg.clone(), self.td.clone());
        drop(self.m);
        T::open(cfg, &td)
    }

    fn cmd(&mut self, line: &str) -> Vec<String> {
        let out = self.m.input(0, format!("{line}\r").as_bytes(), self.now);
        let mut all = lines(&out);
        let end = all
            .iter()
            .position(|l| is_final(l))
            .map_or(all.len(), |i| i + 1);
        let urcs = all.split_off(end);
        self.urcs.extend(urcs);
        all
    }

    fn ok(&mut self, line: &str) -> Vec<String> {
        let mut r = self.cmd(line);
        assert_eq!(r.last().map(String::as_str), Some("OK"), "{line} → {r:?}");
        r.pop();
        r
    }

    fn one(&mut self, line: &str) -> String {
        let r = self.ok(line);
        assert_eq!(r.len(), 1, "{line} → {r:?}");
        r.into_iter().next().unwrap()
    }

    fn control(&mut self, req: ControlRequest) -> serde_json::Value {
        self.m.control(&req, self.now).unwrap()
    }

    fn control_err(&mut self, req: ControlRequest) -> String {
        self.m.control(&req, self.now).unwrap_err().to_string()
    }

    fn poll(&mut self) {
        for _ in 0..4 {
            self.now += Duration::from_millis(25);
            self.m.poll(self.now);
        }
        let out = self.m.take_output(0);
        self.urcs.extend(lines(&out));
    }

    fn take_urcs(&mut self) -> Vec<String> {
        self.poll();
        std::mem::take(&mut self.urcs)
    }

    fn add(&mut self, pkg: &str, enable: bool) {
        self.control(ControlRequest::AddProfile {
            package: self.td.join(pkg),
            enable,
        });
        self.poll();
    }

    fn enable(&mut self, iccid: &str) {
        self.control(ControlRequest::EnableProfile {
            iccid: iccid.into(),
        });
        self.poll();
    }

    fn binding(&mut self) -> serde_json::Value {
        self.control(ControlRequest::ImeiBinding { iccid: None })
    }

    /// An ES10 command over `+CCHO`/`+CGLA` (one STORE DATA block); the response data and SW.
    fn es10(&mut self, command: &[u8]) -> (Vec<u8>, String) {
        let ch = self.one(&format!("AT+CCHO=\"{ISDR_AID}\""));
        let ch = ch.trim_start_matches("+CCHO: ").to_string();
        let mut apdu = vec![0x81, 0xE2, 0x91, 0x00, command.len() as u8];
        apdu.extend_from_slice(command);
        apdu.push(0x00);
        let hex = hex::encode_upper(&apdu);
        let r = self.one(&format!("AT+CGLA={ch},{},\"{hex}\"", hex.len()));
        self.ok(&format!("AT+CCHC={ch}"));
        let body = r.rsplit(',').next().unwrap().trim_matches('"').to_string();
        let bytes = hex::decode(&body).unwrap();
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        (data.to_vec(), hex::encode_upper(sw))
    }

    /// EnableProfile (BF31, refreshFlag) as an LPA sends it over `+CGLA`.
    fn lpa_enable(&mut self, iccid: &str) {
        let ef = vmodem::device::iccid_to_ef(iccid).unwrap();
        let mut inner = rsp::tlv::tlv(0xA0, &rsp::tlv::tlv(0x5A, &ef));
        inner.extend(rsp::tlv::tlv(0x81, &[0xFF]));
        let (data, sw) = self.es10(&rsp::tlv::tlv(0xBF31, &inner));
        assert_eq!(
            (hex::encode_upper(data), sw.as_str()),
            ("BF3103800100".into(), "9000")
        );
        self.poll();
    }
}

fn config(name: &str) -> ModemConfig {
    let mut cfg = ModemConfig::named(name);
    cfg.imei = vec![I1.into(), I2.into()];
    cfg.slots = vec![SlotConfig::Empty, SlotConfig::Euicc { state_dir: None }];
    cfg
}

#[test]
fn cgsn_follows_the_enabled_profile() {
    let Some(td) = testdata() else { return };
    let mut t = T::open(config("b1"), &td);
    assert_eq!(t.one("AT+CGSN"), I2, "no profile: slot 2's own IMEI");
    t.add(PKG_A, true);
    assert_eq!(t.one("AT+CGSN"), I2, "A takes slot 2's own IMEI");
    t.add(PKG_B, false);
    t.lpa_enable(B);
    assert_eq!(t.one("AT+CGSN"), I1, "B, never bound, takes the free one");
    assert_eq!(t.one("AT+CGSN=1"), format!("+CGSN: {I1}"));
    assert_eq!(
        t.one("AT+CGSN=2"),
        format!("+CGSN: {}01", &I1[..14]),
        "IMEISV: TAC, SNR, SVN"
    );
    t.lpa_enable(A);
    assert_eq!(t.one("AT+CGSN"), I2, "A has its IMEI back");
    let st = t.control(ControlRequest::Status);
    assert_eq!(st["imei_reported"], I2);
    assert_eq!(st["imei_binding"]["slots"][1]["iccid"], A);
}

#[test]
fn vimeibind_lists_profiles_and_their_history() {
    let Some(td) = testdata() else { return };
    let mut t = T::open(config("b2"), &td);
    assert_eq!(t.one("AT+VIMEIBIND=?"), "+VIMEIBIND: \"<iccid>\"");
    assert!(t.ok("AT+VIMEIBIND?").is_empty());
    t.add(PKG_A, true);
    t.add(PKG_B, false);
    t.enable(B);
    assert_eq!(
        t.ok("AT+VIMEIBIND?"),
        vec![
            format!("+VIMEIBIND: \"{A}\",0,\"bound\",\"shareable\",\"{I2}\""),
            format!("+VIMEIBIND: \"{B}\",2,\"bound\",\"shareable\",\"{I1}\""),
        ]
    );
    assert_eq!(
        t.ok(&format!("AT+VIMEIBIND=\"{A}\"")),
        vec![
            format!("+VIMEIBIND: \"{A}\",1,\"{I2}\",1700000000,\"installed\""),
            format!("+VIMEIBIND: \"{A}\",2,\"{I2}\",1700000000,\"enabled\""),
            format!("+VIMEIBIND: \"{A}\",3,\"{I2}\",1700000000,\"disabled\""),
        ]
    );
}

#[test]
fn the_card_keeps_a_copy_until_the_profile_is_deleted() {
    let Some(td) = testdata() else { return };
    let mut t = T::open(config("b3"), &td);
    t.add(PKG_A, true);
    t.add(PKG_B, false);
    t.enable(B);
    let (data, sw) = t.es10(&veuicc::isdr::vendor::get_request(None));
    assert_eq!(sw, "9000");
    let on_card = veuicc::isdr::vendor::decode_get_response(&data).unwrap();
    let engine = t.m.device().binding().unwrap();
    assert_eq!(
        on_card,
        vec![
            engine.card_record(A).unwrap(),
            engine.card_record(B).unwrap()
        ]
    );
    // Delete A (disabled): its copy leaves the card; the modem keeps the history.
    let ef = vmodem::device::iccid_to_ef(A).unwrap();
    let del = rsp::tlv::tlv(0xBF33, &rsp::tlv::tlv(0x5A, &ef));
    assert_eq!(
        t.es10(&del),
        (hex::decode("BF3303800100").unwrap(), "9000".into())
    );
    t.poll();
    let (data, _) = t.es10(&veuicc::isdr::vendor::get_request(None));
    let on_card = veuicc::isdr::vendor::decode_get_response(&data).unwrap();
    assert_eq!(on_card.len(), 1);
    let hist = t.ok(&format!("AT+VIMEIBIND=\"{A}\""));
    assert!(hist.last().unwrap().ends_with("\"deleted\""), "{hist:?}");
    assert!(t.ok("AT+VIMEIBIND?").contains(&format!(
        "+VIMEIBIND: \"{A}\",0,\"released\",\"shareable\",\"\""
    )));
    // Reinstalled: its previous IMEI again, and a fresh copy on the card.
    t.add(PKG_A, false);
    t.enable(A);
    assert_eq!(t.one("AT+CGSN"), I2);
    let (data, _) = t.es10(&veuicc::isdr::vendor::get_request(Some(&ef)));
    let on_card = veuicc::isdr::vendor::decode_get_response(&data).unwrap();
    assert_eq!(on_card.len(), 1);
    assert_eq!(on_card[0].imei.as_deref(), Some(I2));
}

#[test]
fn bindings_survive_a_restart() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config("b4");
    cfg.state_dir = Some(dir.path().join("state"));
    let mut t = T::open(cfg, &td);
    t.add(PKG_A, true);
    t.add(PKG_B, false);
    t.enable(B);
    assert_eq!(t.one("AT+CGSN"), I1);
    let before = t.binding();
    let mut t = t.reopen();
    t.poll();
    assert_eq!(t.one("AT+CGSN"), I1, "B is still enabled and bound");
    assert_eq!(
        t.binding()["profiles"],
        before["profiles"],
        "nothing recorded at start"
    );
    t.enable(A);
    assert_eq!(t.one("AT+CGSN"), I2);
}

#[test]
fn exhausted_pool_asks_the_assignment_server() {
    let Some(td) = testdata() else { return };
    let mut cfg = config("b5");
    cfg.binding.default_policy = Some(BindingPolicy::Exclusive);
    cfg.binding.device_id = Some("dev-b5".into());
    let mut t = T::open(cfg, &td);
    let server = FakeServer::default();
    server.answers.lock().unwrap().push_back(Ok(I3.into()));
    t.m.set_imei_source(Box::new(server.clone()));
    t.add(PKG_A, true);
    t.add(PKG_B, false);
    t.enable(B);
    assert!(server.asked.lock().unwrap().is_empty());
    t.add(PKG_C, false);
    assert_eq!(
        server.asked.lock().unwrap().as_slice(),
        [("dev-b5".to_string(), C.to_string())],
        "asked at install: no pool IMEI is free for an exclusive profile"
    );
    t.enable(C);
    assert_eq!(t.one("AT+CGSN"), I3);
    assert_eq!(
        t.ok(&format!("AT+VIMEIBIND=\"{C}\"")),
        vec![
            format!("+VIMEIBIND: \"{C}\",1,\"{I3}\",1700000000,\"assigned\""),
            format!("+VIMEIBIND: \"{C}\",2,\"{I3}\",1700000000,\"enabled\""),
        ]
    );
    let b = t.binding();
    assert_eq!(b["assigned"], serde_json::json!([I3]));
}

#[test]
fn pending_assignment_resolves_with_a_urc() {
    let Some(td) = testdata() else { return };
    let mut cfg = config("b6");
    cfg.binding.default_policy = Some(BindingPolicy::Exclusive);
    let mut t = T::open(cfg, &td);
    let server = FakeServer::default();
    server.answers.lock().unwrap().push_back(Ok(I3.into()));
    server
        .answers
        .lock()
        .unwrap()
        .push_back(Err("HTTP 503".into()));
    t.m.set_imei_source(Box::new(server.clone()));
    t.add(PKG_A, true);
    t.add(PKG_B, true);
    t.take_urcs();
    // C enabled at once: pending, then bound when the answer arrives.
    t.add(PKG_C, true);
    let urcs = t.take_urcs();
    assert!(
        urcs.contains(&format!(
            "+VIMEIBIND: \"{C}\",2,\"bound\",\"exclusive\",\"{I3}\""
        )),
        "{urcs:?}"
    );
    assert_eq!(t.one("AT+CGSN"), I3);
    // A fourth profile: the server fails → unbound, announced; the SIM works all the same.
    t.control(ControlRequest::AddProfile {
        package: td.join(PKG_P),
        enable: true,
    });
    let urcs = t.take_urcs();
    assert!(
        urcs.contains(&format!(
            "+VIMEIBIND: \"{P}\",2,\"unbound\",\"exclusive\",\"\""
        )),
        "{urcs:?}"
    );
    assert!(urcs.contains(&"+CPIN: READY".to_string()), "{urcs:?}");
    assert_eq!(t.one("AT+CGSN"), I2, "unbound: the slot's own IMEI");
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: READY");
}

#[test]
fn unbound_without_a_server_is_announced_and_the_profile_still_works() {
    let Some(td) = testdata() else { return };
    let mut cfg = config("b7");
    cfg.binding.default_policy = Some(BindingPolicy::Exclusive);
    let mut t = T::open(cfg, &td);
    t.add(PKG_A, true);
    t.add(PKG_B, true);
    t.take_urcs();
    t.add(PKG_C, true);
    let urcs = t.take_urcs();
    assert!(
        urcs.contains(&format!(
            "+VIMEIBIND: \"{C}\",2,\"unbound\",\"exclusive\",\"\""
        )),
        "{urcs:?}"
    );
    assert_eq!(t.one("AT+CPIN?"), "+CPIN: READY");
    let st = t.binding();
    assert_eq!(st["profiles"][2]["status"], "unbound");
    // Made shareable, C still cannot share: A and B are exclusive and keep their IMEIs.
    t.control(ControlRequest::SetBindingPolicy {
        iccid: C.into(),
        policy: Some(BindingPolicy::Shareable),
    });
    t.enable(A);
    t.enable(C);
    assert_eq!(t.binding()["profiles"][2]["status"], "unbound");
    assert_eq!(t.one("AT+CGSN"), I2, "unbound: slot 2's own IMEI");
    // B made shareable too: C shares B's IMEI1 at its next enable.
    t.control(ControlRequest::SetBindingPolicy {
        iccid: B.into(),
        policy: Some(BindingPolicy::Shareable),
    });
    t.enable(A);
    t.enable(C);
    assert_eq!(t.one("AT+CGSN"), I1);
}

#[test]
fn psim_and_esim_stacks_report_their_own_bindings() {
    let Some(td) = testdata() else { return };
    let mut cfg = config("b8");
    cfg.quirks = "quectel".into();
    cfg.slots = vec![
        SlotConfig::Uicc {
            package: td.join(PKG_P),
        },
        SlotConfig::Euicc { state_dir: None },
    ];
    cfg.binding
        .policies
        .insert(P.into(), BindingPolicy::Exclusive);
    let mut t = T::open(cfg, &td);
    assert_eq!(
        t.one("AT+EGMR=0,7"),
        format!("+EGMR: \"{I1}\""),
        "pSIM: slot 1"
    );
    assert_eq!(t.one("AT+CGSN"), I1, "slot 1 is active");
    t.add(PKG_A, true);
    t.add(PKG_B, true);
    assert_eq!(
        t.one("AT+EGMR=0,10"),
        format!("+EGMR: \"{I2}\""),
        "B (shareable) shares A's IMEI2: the pSIM's IMEI1 is exclusive"
    );
    // C exclusive: IMEI1 is the pSIM's, IMEI2 is A's and B's → unbound, slot 2 reports IMEI2.
    t.control(ControlRequest::SetBindingPolicy {
        iccid: C.into(),
        policy: Some(BindingPolicy::Exclusive),
    });
    t.add(PKG_C, true);
    let b = t.binding();
    let c = b["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["iccid"] == C)
        .unwrap()
        .clone();
    assert_eq!(c["status"], "unbound");
    assert_eq!(t.one("AT+EGMR=0,10"), format!("+EGMR: \"{I2}\""));
    // The pSIM removed: disabled in its history, still installed; back in: same IMEI.
    t.control(ControlRequest::RemoveSim { slot: 1 });
    let hist = t.ok(&format!("AT+VIMEIBIND=\"{P}\""));
    assert!(hist.last().unwrap().ends_with("\"disabled\""), "{hist:?}");
    t.control(ControlRequest::InsertSim {
        slot: 1,
        card: SlotConfig::Uicc {
            package: td.join(PKG_P),
        },
    });
    t.poll();
    assert_eq!(t.one("AT+EGMR=0,7"), format!("+EGMR: \"{I1}\""));
    let hist = t.ok(&format!("AT+VIMEIBIND=\"{P}\""));
    assert!(hist.last().unwrap().ends_with("\"enabled\""), "{hist:?}");
}

#[test]
fn an_imei_write_moves_the_binding() {
    let Some(td) = testdata() else { return };
    let mut cfg = config("b9");
    cfg.quirks = "quectel".into();
    let mut t = T::open(cfg, &td);
    t.add(PKG_A, true);
    t.ok("AT+EGMR=1,10,\"490154203237518\"");
    assert_eq!(t.one("AT+CGSN"), "490154203237518");
    let hist = t.ok(&format!("AT+VIMEIBIND=\"{A}\""));
    assert_eq!(
        hist.last().unwrap(),
        &format!("+VIMEIBIND: \"{A}\",3,\"490154203237518\",1700000000,\"assigned\"")
    );
}

#[test]
fn the_download_imei_binds_the_installed_profile() {
    let Some(td) = testdata() else { return };
    let mut t = T::open(config("b10"), &td);
    t.add(PKG_A, true);
    // An LPA sends AuthenticateServer with DeviceInfo.imei = IMEI2, the IMEI the modem reports
    // now (the card refuses the made-up server signature; the modem has seen the IMEI).
    t.es10(&authenticate_server(I2));
    t.add(PKG_B, false);
    // Without a download in between, the next install takes the free pool IMEI as usual: the
    // IMEI seen is used once.
    t.add(PKG_C, false);
    let b = t.binding();
    let imei_of = |i: &str| {
        b["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["iccid"] == i)
            .unwrap()["imei"]
            .clone()
    };
    assert_eq!(
        imei_of(B),
        I2,
        "shareable: shares A's IMEI, as the download said"
    );
    assert_eq!(imei_of(C), I1);
}

/// An AuthenticateServer command whose ctxParams1 carries `imei` (signature and certificate
/// are made up: only the shape matters here).
fn authenticate_server(imei: &str) -> Vec<u8> {
    use rsp::es10::*;
    let signed1 = ServerSigned1 {
        transaction_id: vec![1; 16].into(),
        euicc_challenge: vec![2; 16].into(),
        server_address: "smdp.example".into(),
        server_challenge: vec![3; 16].into(),
    };
    let mut tbcd: Vec<u8> = imei.bytes().map(|b| b - b'0').collect();
    tbcd.push(0x0F);
    let tbcd: Vec<u8> = tbcd.chunks(2).map(|p| p[0] | (p[1] << 4)).collect();
    let ctx = CtxParams1::CtxParamsForCommonAuthentication(CtxParamsForCommonAuthentication {
        matching_id: Some("MID".into()),
        device_info: DeviceInfo {
            tac: vec![0x35, 0x20, 0x99, 0x00].into(),
            device_capabilities: DeviceCapabilities::default(),
            imei: Some(tbcd.into()),
        },
    });
    let req = AuthenticateServerRequest {
        server_signed1: Verbatim::new(signed1),
        server_signature1: vec![4; 64].into(),
        euicc_ci_pkid_to_be_used: vec![5; 20].into(),
        server_certificate: RawCertificate::new(vec![0x30, 0x03, 0x02, 0x01, 0x00]).unwrap(),
        ctx_params1: RawCtxParams1::from_ctx_params(&ctx),
    };
    encode(&req)
}

#[test]
fn switched_off_the_modem_reports_slot_imeis() {
    let Some(td) = testdata() else { return };
    let mut cfg = config("b12");
    cfg.binding.enabled = false;
    let mut t = T::open(cfg, &td);
    t.add(PKG_A, true);
    t.add(PKG_B, true);
    assert_eq!(t.one("AT+CGSN"), I2, "slot 2's IMEI whatever the profile");
    assert_eq!(t.cmd("AT+VIMEIBIND?"), ["+CME ERROR: 4"]);
    assert_eq!(t.binding(), serde_json::json!({"enabled": false}));
    assert!(t
        .control_err(ControlRequest::SetBindingPolicy {
            iccid: A.into(),
            policy: None
        })
        .contains("switched off"));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let Some(td) = testdata() else { return };
    let mut t = T::open(config("b13"), &td);
    t.add(PKG_A, true);
    let before = t.binding();
    assert_eq!(t.cmd("AT+VIMEIBIND=\"89x\""), ["+CME ERROR: 50"]);
    assert_eq!(t.cmd("AT+VIMEIBIND=\"1\""), ["+CME ERROR: 22"]);
    assert_eq!(t.cmd("AT+VIMEIBIND=\"1\",2"), ["+CME ERROR: 50"]);
    assert_eq!(t.cmd("AT+VIMEIBIND"), ["ERROR"]);
    for req in [
        ControlRequest::SetBindingPolicy {
            iccid: "89ab".into(),
            policy: None,
        },
        ControlRequest::ImeiBinding {
            iccid: Some("1234".into()),
        },
        ControlRequest::SetAssignmentServer {
            url: Some("http://localhost:1".into()),
            ca: None,
        },
        ControlRequest::SetAssignmentServer {
            url: Some("https://localhost:1".into()),
            ca: Some("/nonexistent/ca.pem".into()),
        },
    ] {
        t.control_err(req);
    }
    // Garbage SetImeiBinding and a record for an unknown ICCID straight to the card.
    let (_, sw) = t.es10(&[0xFF, 0x21, 0x02, 0xA0, 0x00]);
    assert_eq!(sw, "6A80");
    let mut foreign = t.m.device().binding().unwrap().card_record(A).unwrap();
    foreign.iccid = vmodem::device::iccid_to_ef(C).unwrap();
    let (data, sw) = t.es10(&veuicc::isdr::vendor::set_request(&foreign).unwrap());
    assert_eq!(sw, "9000");
    assert_eq!(
        veuicc::isdr::vendor::decode_set_response(&data).unwrap().0,
        veuicc::isdr::vendor::RESULT_ICCID_NOT_FOUND
    );
    // Control requests that are not JSON of the right shape are refused by the parser.
    for bad in [
        r#"{"op":"set_binding_policy","iccid":"8949449999999990023","policy":"sometimes"}"#,
        r#"{"op":"set_binding_policy"}"#,
        r#"{"op":"imei_binding","iccid":5}"#,
    ] {
        assert!(
            serde_json::from_str::<vmodem::control::Envelope>(bad).is_err(),
            "{bad}"
        );
    }
    assert_eq!(t.binding(), before);
    assert_eq!(t.one("AT+CGSN"), I2);
}

#[test]
fn bad_binding_configuration_is_refused() {
    let cases: Vec<fn(&mut ModemConfig)> = vec![
        |c: &mut ModemConfig| c.binding.pool = vec!["12345".into()],
        |c: &mut ModemConfig| {
            c.binding
                .policies
                .insert("abc".into(), BindingPolicy::Exclusive);
        },
        |c: &mut ModemConfig| c.binding.assignment_server = Some("ftp://x".into()),
        |c: &mut ModemConfig| c.binding.device_id = Some(String::new()),
    ];
    for f in cases {
        let mut cfg = config("b14");
        f(&mut cfg);
        let e = Modem::open(&cfg).unwrap_err().to_string();
        assert!(e.contains("[modem.binding]"), "{e}");
    }
    let t: Result<vmodem::config::Config, _> = toml::from_str(
        "[[modem]]\nname = \"m\"\n[modem.binding]\ndefault_policy = \"sometimes\"\n",
    );
    assert!(t.is_err());
    let t: Result<vmodem::config::Config, _> =
        toml::from_str("[[modem]]\nname = \"m\"\n[modem.binding]\nbogus = 1\n");
    assert!(t.is_err());
}
