//! The LPA through a modem: `hil::lpa::download` drives the virtual modem's eUICC over the
//! modem's PTY with `AT+CCHO`/`AT+CGLA` (and once with `AT+CSIM`), against the SM-DP+ on HTTPS
//! (127.0.0.1, in this process); then enables the profile over the same AT channel and reads
//! the IMSI with `AT+CIMI`.
//!
//! Everything runs in this process: the SM-DP+ server and the modem (`vmodem::server::Server`)
//! on one tokio runtime, the LPA on the test thread, bytes through a real PTY.
//!
//! Test data: `$VEUICC_TESTDATA` or `../../shared/testdata` (TS.48); without it the tests print
//! SKIPPED (or fail with `VEUICC_REQUIRE_TESTDATA=1`).

#![allow(clippy::unwrap_used)]

use hil::client::{iccid_digits, Client};
use hil::lpa::{self, DownloadParams, HttpsEs9, HttpsOptions, NotificationDelivery};
use hil::transport::at::{AtMode, AtModem, AtOptions};
use hil::transport::ApduTransport;
use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::server::{SmdpServer, TlsConfig};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};

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

/// The SM-DP+ on HTTPS, a modem whose eUICC was minted under the SM-DP+'s CI, and the HTTPS
/// options that trust the SM-DP+.
struct Bench {
    rt: tokio::runtime::Runtime,
    smdp: Arc<Smdp>,
    address: String,
    https: HttpsOptions,
    eid: String,
    modem: Option<vmodem::server::Server>,
    smdp_handle: Option<testbeds::server::ServerHandle>,
    _dir: tempfile::TempDir,
}

impl Bench {
    fn start(seed: u8) -> Bench {
        let provider: Arc<dyn CryptoProvider> = Arc::new(rsp::crypto::awslc::AwsLc);
        let dir = tempfile::tempdir().unwrap();
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([seed; 32]);
        let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000066").unwrap();
        let nb = SystemTime::now() - Duration::from_secs(86_400);
        let (_, ci) =
            rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry()).unwrap();

        // The modem's eUICC: EUM and eUICC minted under the same CI as the SM-DP+.
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

        // The SM-DP+ on 127.0.0.1, any port; its TLS certificate names "localhost".
        let dp = SmdpIdentity::under_ci(
            &ci.ci_key,
            &ci.ci_cert,
            "localhost",
            provider.as_ref(),
            SystemTime::now(),
        )
        .unwrap();
        let tls = TlsConfig::from_identity(&dp).unwrap();
        let pem = dir.path().join("tls-ca.pem");
        std::fs::write(&pem, testbeds::identity::cert_pem(&dp.tls_ca)).unwrap();
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
        let mut https = HttpsOptions::default().with_ca_file(&pem, true).unwrap();
        https
            .resolve
            .push(("localhost".into(), "127.0.0.1".parse().unwrap()));

        let modem = rt
            .block_on(vmodem::server::Server::start(
                &modem_config(&dir.path().join("run"), &euicc_dir),
                vmodem::server::ServerOptions::default(),
            ))
            .unwrap();
        Bench {
            rt,
            smdp,
            address,
            https,
            eid: rsp::pki::eid_to_string(&eid),
            modem: Some(modem),
            smdp_handle: Some(handle),
            _dir: dir,
        }
    }

    /// The modem's AT port (its PTY symlink).
    fn pty(&self) -> PathBuf {
        let p = self
            .modem
            .as_ref()
            .unwrap()
            .port("m0", "at0")
            .unwrap()
            .clone();
        p.symlink.or(p.pty).unwrap()
    }

    /// Adds `package` and places a released order for this eUICC: (ICCID, matching ID).
    fn order(&self, package: Vec<u8>, name: &str) -> (String, String) {
        order(&self.smdp, &self.eid, package, name)
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(m) = self.modem.take() {
            self.rt.block_on(m.shutdown());
        }
        if let Some(h) = self.smdp_handle.take() {
            let _ = self.rt.block_on(h.shutdown(Duration::from_secs(1)));
        }
    }
}

/// One modem `m0`, one PTY port `at0`, the eUICC of `euicc_dir` in its only slot.
fn modem_config(run_dir: &Path, euicc_dir: &Path) -> vmodem::config::Config {
    use vmodem::config::{Config, ModemConfig, PortConfig, SlotConfig};
    Config {
        run_dir: Some(run_dir.to_path_buf()),
        control: None,
        modems: vec![ModemConfig {
            ports: vec![PortConfig::pty("at0")],
            slots: vec![SlotConfig::Euicc {
                state_dir: Some(euicc_dir.to_path_buf()),
            }],
            ..ModemConfig::named("m0")
        }],
    }
}

fn order(smdp: &Smdp, eid: &str, package: Vec<u8>, name: &str) -> (String, String) {
    let iccid = smdp
        .add_profile(
            package,
            ProfileMeta {
                service_provider_name: "GSMA Test".into(),
                profile_name: name.into(),
                class: ProfileClassKind::Operational,
                profile_type: name.into(),
            },
        )
        .unwrap();
    let r = smdp.download_order(&DownloadOrderRequest {
        iccid: Some(iccid.clone()),
        ..Default::default()
    });
    assert!(r.header.is_success(), "downloadOrder: {:?}", r.header);
    let r = smdp.confirm_order(&ConfirmOrderRequest {
        iccid: iccid.clone(),
        eid: Some(eid.to_string()),
        release_flag: true,
        ..Default::default()
    });
    assert!(r.header.is_success(), "confirmOrder: {:?}", r.header);
    (iccid, r.matching_id.unwrap())
}

fn expected(td: &Path, file: &str) -> (String, String) {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(td.join("ts48/expected.json")).unwrap()).unwrap();
    (
        v[file]["iccid"].as_str().unwrap().to_string(),
        v[file]["imsi"].as_str().unwrap().to_string(),
    )
}

/// Download `file` through the modem in `mode`, enable it, check AT+CIMI.
fn download_enable_and_read_imsi(mode: AtMode, file: &str, seed: u8) {
    let Some(td) = testdata() else { return };
    let (exp_iccid, exp_imsi) = expected(&td, file);
    let bench = Bench::start(seed);
    let (iccid, mid) = bench.order(std::fs::read(td.join("ts48").join(file)).unwrap(), file);
    assert_eq!(iccid, exp_iccid);

    let at = AtModem::connect(
        &bench.pty().display().to_string(),
        AtOptions::default().with_mode(mode),
    )
    .unwrap();
    let mut card = Client::new(at);
    // Before a profile is enabled the modem has no IMSI to show.
    assert!(card.transport().imsi().is_err());

    let mut es9 = HttpsEs9::new(&bench.https).unwrap();
    let o = lpa::download(
        &mut card,
        &mut es9,
        DownloadParams::new(&bench.address, &mid),
    )
    .unwrap_or_else(|e| panic!("download over AT ({mode}): {e}"));
    assert_eq!(o.iccid, iccid);
    assert_eq!(o.notification, NotificationDelivery::Delivered);
    assert!(o.segments > 10, "{} segments", o.segments);
    assert_eq!(
        bench.smdp.profile(&iccid).unwrap().unwrap().state,
        testbeds::ProfileState::Installed
    );
    let d = card.transport().describe();
    assert!(d.contains(&format!("({mode}")), "{d}");

    // The profile is listed over the same channel, then enabled (with refresh: the modem
    // re-reads the SIM), and AT+CIMI shows its IMSI.
    let list = card.profiles(None).unwrap();
    assert!(list
        .iter()
        .any(|p| p.iccid.as_ref().map(|i| iccid_digits(i)) == Some(iccid.clone())));
    assert_eq!(card.enable(&o.iccid_raw, true).unwrap(), 0);
    let imsi = wait_for_imsi(card.transport());
    assert_eq!(imsi, exp_imsi);
    eprintln!(
        "download over AT ({mode}) through the modem's PTY: {:.1} ms, {} segments, {} bytes",
        o.total.as_secs_f64() * 1000.0,
        o.segments,
        o.bpp_len
    );
    // The modem keeps the host's channel across the profile switch (a REFRESH, not a card
    // reset): ES10 goes on on the same channel; a fresh channel works too.
    let eid = rsp::pki::eid_from_hex(&bench.eid).unwrap().to_vec();
    let session = card.transport().session();
    assert_eq!(card.get_eid().unwrap(), eid);
    card.transport().reopen_session().unwrap();
    assert!(card.transport().session().is_some());
    card.select_isdr().unwrap();
    assert_eq!(card.get_eid().unwrap(), eid);
    eprintln!(
        "channel before the switch {session:?}, after reopening {:?}",
        card.transport().session()
    );
}

/// `AT+CIMI` until the SIM is ready after the refresh (the modem may answer `+CME ERROR: 14`
/// SIM busy for a moment).
fn wait_for_imsi(at: &mut AtModem) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match at.imsi() {
            Ok(i) => return i,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("{e}; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("AT+CIMI after enable: {e}"),
        }
    }
}

#[test]
fn lpa_downloads_and_enables_through_cgla_over_the_modem_pty() {
    download_enable_and_read_imsi(AtMode::Cgla, "TS48V2-SAIP2-3-BERTLV-UNIQUE.der", 21);
}

#[test]
fn lpa_downloads_and_enables_through_csim_over_the_modem_pty() {
    download_enable_and_read_imsi(AtMode::Csim, "TS48V4-SAIP2-3-NOBERTLV-UNIQUE.der", 22);
}
