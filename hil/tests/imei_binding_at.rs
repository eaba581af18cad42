//! IMEI binding end to end through a modem: the `hil` binary downloads over the virtual
//! modem's PTY without `--imei`, so it reads the IMEI with `AT+CGSN=1` and sends it in
//! DeviceInfo; the SM-DP+ (HTTPS, in this process) records it in the order; the modem binds the
//! installed profile to that IMEI when the policies allow, so `AT+CGSN` after the enable agrees
//! with the SM-DP+'s record; `hil imei-binding` reads the records from the card over AT, and
//! from the card's state directory in-process once the modem is gone.
//!
//! Test data: `$VEUICC_TESTDATA` or `../../shared/testdata` (TS.48); without it the tests print
//! SKIPPED (or fail with `VEUICC_REQUIRE_TESTDATA=1`).

#![allow(clippy::unwrap_used)]

use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::server::{SmdpServer, TlsConfig};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};

const I1: &str = "352099001761481";
const I2: &str = "352099001761499";

fn testdata() -> Option<PathBuf> {
    let p = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    if p.join("ts48/expected.json").is_file() {
        Some(p)
    } else {
        assert!(
            std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "testdata not found at {}",
            p.display()
        );
        eprintln!("SKIPPED: testdata not found at {}", p.display());
        None
    }
}

struct Setup {
    rt: tokio::runtime::Runtime,
    smdp: Arc<Smdp>,
    address: String,
    ca: PathBuf,
    eid: String,
    euicc_dir: PathBuf,
    modem: Option<vmodem::server::Server>,
    smdp_handle: Option<testbeds::server::ServerHandle>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn start() -> Setup {
        let provider: Arc<dyn CryptoProvider> = Arc::new(rsp::crypto::awslc::AwsLc);
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([51; 32]);
        let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000077").unwrap();
        let nb = SystemTime::now() - Duration::from_secs(86_400);
        let (_, ci) =
            rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry()).unwrap();
        let ci_cert = dir.path().join("ci.der");
        let ci_key = dir.path().join("ci-key.pem");
        std::fs::write(&ci_cert, &ci.ci_cert).unwrap();
        ci.ci_key.write_pem_file(&ci_key).unwrap();
        let euicc_dir = dir.path().join("euicc");
        veuicc::statedir::init(
            &euicc_dir,
            eid,
            &veuicc::statedir::IdentitySource::UnderCi {
                cert: ci_cert,
                key: ci_key,
            },
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dp = SmdpIdentity::under_ci(
            &ci.ci_key,
            &ci.ci_cert,
            "localhost",
            provider.as_ref(),
            SystemTime::now(),
        )
        .unwrap();
        let tls = TlsConfig::from_identity(&dp).unwrap();
        let ca = dir.path().join("tls-ca.pem");
        std::fs::write(&ca, testbeds::identity::cert_pem(&dp.tls_ca)).unwrap();
        let smdp = Arc::new(
            Smdp::new(
                dp,
                testbeds::store::Store::temporary().unwrap(),
                provider,
                testbeds::smdp::system_clock(),
                SmdpConfig::default(),
            )
            .unwrap(),
        );
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (local, handle) = rt
            .block_on(SmdpServer::bind(listen, smdp.clone(), tls))
            .unwrap();
        let address = format!("localhost:{}", local.port());
        smdp.set_address(&address);
        let cfg = {
            use vmodem::config::{Config, ModemConfig, PortConfig, SlotConfig};
            Config {
                run_dir: Some(dir.path().join("run")),
                control: None,
                modems: vec![ModemConfig {
                    imei: vec![I1.into(), I2.into()],
                    ports: vec![PortConfig::pty("at0")],
                    slots: vec![
                        SlotConfig::Empty,
                        SlotConfig::Euicc {
                            state_dir: Some(euicc_dir.clone()),
                        },
                    ],
                    ..ModemConfig::named("m0")
                }],
            }
        };
        let modem = rt
            .block_on(vmodem::server::Server::start(
                &cfg,
                vmodem::server::ServerOptions::default(),
            ))
            .unwrap();
        Setup {
            rt,
            smdp,
            address,
            ca,
            eid: rsp::pki::eid_to_string(&eid),
            euicc_dir,
            modem: Some(modem),
            smdp_handle: Some(handle),
            _dir: dir,
        }
    }

    fn pty(&self) -> String {
        let p = self
            .modem
            .as_ref()
            .unwrap()
            .port("m0", "at0")
            .unwrap()
            .clone();
        p.symlink.or(p.pty).unwrap().display().to_string()
    }

    fn control(&self, line: &str) -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(&self.modem.as_ref().unwrap().control_line(line)).unwrap();
        assert_eq!(v["ok"], true, "{line}: {v}");
        v["result"].clone()
    }

    /// A released order for this eUICC: the activation code and the ICCID.
    fn order(&self, td: &Path, file: &str) -> (String, String) {
        let package = std::fs::read(td.join("ts48").join(file)).unwrap();
        let iccid = self
            .smdp
            .add_profile(
                package,
                ProfileMeta {
                    service_provider_name: "GSMA Test".into(),
                    profile_name: file.into(),
                    class: ProfileClassKind::Operational,
                    profile_type: file.into(),
                },
            )
            .unwrap();
        let r = self.smdp.download_order(&DownloadOrderRequest {
            iccid: Some(iccid.clone()),
            ..Default::default()
        });
        assert!(r.header.is_success());
        let r = self.smdp.confirm_order(&ConfirmOrderRequest {
            iccid: iccid.clone(),
            eid: Some(self.eid.clone()),
            release_flag: true,
            ..Default::default()
        });
        assert!(r.header.is_success());
        (
            format!("LPA:1${}${}", self.address, r.matching_id.unwrap()),
            iccid,
        )
    }

    /// The IMEI of the last download of `iccid` as the SM-DP+ recorded it.
    fn download_imei(&self, iccid: &str) -> Option<String> {
        let rec = self.smdp.store().profile(iccid).unwrap().unwrap();
        rec.order?.devices.last()?.imei.clone()
    }

    fn stop_modem(&mut self) {
        if let Some(m) = self.modem.take() {
            self.rt.block_on(m.shutdown());
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.stop_modem();
        if let Some(h) = self.smdp_handle.take() {
            let _ = self.rt.block_on(h.shutdown(Duration::from_secs(1)));
        }
    }
}

fn hil(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hil"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn hil_ok(args: &[&str]) -> String {
    let (ok, out, err) = hil(args);
    assert!(ok, "hil {args:?} failed:\n{out}\n{err}");
    out + &err
}

/// `AT+CGSN` until the modem answers it (the SIM refresh after an enable takes a moment).
fn cgsn(pty: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (ok, out, _) = hil(&["--at", pty, "at", "AT+CGSN"]);
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("< ").filter(|v| v.len() == 15));
        if let (true, Some(v)) = (ok, line) {
            return v.to_string();
        }
        assert!(Instant::now() < deadline, "AT+CGSN: {out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn download_imei_from_the_modem_binds_the_profile_and_agrees_with_the_smdp() {
    let Some(td) = testdata() else { return };
    let mut s = Setup::start();
    let pty = s.pty();
    let ca = s.ca.display().to_string();
    assert_eq!(cgsn(&pty), I2, "no profile: slot 2's IMEI");

    // First profile: DeviceInfo carries IMEI2; the profile is bound to it.
    let (ac, a) = s.order(&td, "TS48V1-A-UNIQUE.der");
    let out = hil_ok(&[
        "--at",
        &pty,
        "download",
        "-a",
        &ac,
        "--ca",
        &ca,
        "--resolve",
        "localhost=127.0.0.1",
    ]);
    assert!(
        out.contains(&format!("IMEI from the modem (AT+CGSN=1): {I2}")),
        "{out}"
    );
    assert_eq!(s.download_imei(&a).as_deref(), Some(I2));
    hil_ok(&["--at", &pty, "enable", &a]);
    assert_eq!(cgsn(&pty), I2, "AT+CGSN agrees with the SM-DP+");

    // Second profile, shareable (the default): downloaded while A reports IMEI2, bound to it.
    let (ac, b) = s.order(&td, "TS48V1-B-UNIQUE.der");
    hil_ok(&[
        "--at",
        &pty,
        "download",
        "-a",
        &ac,
        "--ca",
        &ca,
        "--resolve",
        "localhost=127.0.0.1",
    ]);
    assert_eq!(s.download_imei(&b).as_deref(), Some(I2));
    hil_ok(&["--at", &pty, "enable", &b]);
    assert_eq!(cgsn(&pty), I2, "B shares A's IMEI, as its download said");

    // Third profile, exclusive by the control plane: the download IMEI is taken, so it gets
    // the free IMEI1; the SM-DP+ recorded IMEI2 (documented: the policy wins).
    let (ac, c) = s.order(&td, "TS48V2-SAIP2-1-BERTLV-UNIQUE.der");
    s.control(&format!(
        r#"{{"op":"set_binding_policy","iccid":"{c}","policy":"exclusive"}}"#
    ));
    hil_ok(&[
        "--at",
        &pty,
        "download",
        "-a",
        &ac,
        "--ca",
        &ca,
        "--resolve",
        "localhost=127.0.0.1",
    ]);
    assert_eq!(s.download_imei(&c).as_deref(), Some(I2));
    hil_ok(&["--at", &pty, "enable", &c]);
    assert_eq!(cgsn(&pty), I1);

    // With --imei the LPA sends what it is told (no AT+CGSN=1).
    let (ac, d) = s.order(&td, "TS48V2-SAIP2-1-NOBERTLV-UNIQUE.der");
    let out = hil_ok(&[
        "--at",
        &pty,
        "download",
        "-a",
        &ac,
        "--ca",
        &ca,
        "--resolve",
        "localhost=127.0.0.1",
        "--imei",
        "490154203237518",
    ]);
    assert!(!out.contains("IMEI from the modem"), "{out}");
    assert_eq!(s.download_imei(&d).as_deref(), Some("490154203237518"));

    // The records on the card, over AT (FF20 through AT+CGLA).
    let out = hil_ok(&["--at", &pty, "--json", "imei-binding"]);
    let list: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let find = |i: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|b| b["iccid"] == i)
            .unwrap_or_else(|| panic!("{i} not in {list}"))
            .clone()
    };
    assert_eq!(find(&a)["imei"], I2);
    assert_eq!(find(&a)["source"], "card");
    assert_eq!(find(&c)["imei"], I1);
    assert_eq!(find(&c)["policy"], "exclusive");
    assert_eq!(find(&c)["history"][1]["event"], "enabled");
    assert_eq!(find(&d)["status"], "bound");
    let out = hil_ok(&["--at", &pty, "imei-binding", "--iccid", &b]);
    assert!(
        out.starts_with(&format!("{b} bound shareable imei={I2}")),
        "{out}"
    );
    assert!(!out.contains(&a), "filtered: {out}");
    // And from the modem itself.
    let out = hil_ok(&["--at", &pty, "at", "AT+VIMEIBIND?"]);
    assert!(
        out.contains(&format!(
            "+VIMEIBIND: \"{c}\",2,\"bound\",\"exclusive\",\"{I1}\""
        )),
        "{out}"
    );

    // The admin listing of the SM-DP+ over HTTPS carries the devices too.
    let out = Command::new(PathBuf::from(env!("CARGO_BIN_EXE_hil")).with_file_name("testbed"))
        .args([
            "get",
            &format!("https://{}/admin/orders", s.address),
            "--ca",
            &ca,
        ])
        .output();
    if let Ok(o) = out {
        if o.status.success() {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(text.contains(&format!("\"imei\":\"{I2}\"")), "{text}");
        } else {
            // `localhost` may not resolve to 127.0.0.1 here; the in-process check above holds.
            eprintln!("testbed get: {}", String::from_utf8_lossy(&o.stderr));
        }
    }

    // The modem gone, the card's state directory still has the records.
    s.stop_modem();
    let dir = s.euicc_dir.display().to_string();
    let out = hil_ok(&["--state", &dir, "imei-binding", "--iccid", &a]);
    assert!(
        out.starts_with(&format!("{a} bound shareable imei={I2}")),
        "{out}"
    );
}
