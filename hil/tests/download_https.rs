//! The LPA's HTTPS transport against the SM-DP+'s HTTPS server on 127.0.0.1 (both in this
//! process, the server on its own tokio runtime), with the card in-process: the ES9+ binding
//! (headers, JSON, 204 for handleNotification, keep-alive) and TLS trust, without pcscd.

#![allow(clippy::unwrap_used)]

use hil::client::Client;
use hil::lpa::{
    self, DownloadParams, HttpsEs9, HttpsOptions, LpaError, NotificationDelivery, Step,
};
use hil::transport::InProcess;
use rand_chacha::rand_core::SeedableRng;
use rsp::crypto::CryptoProvider;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use testbeds::es2::{ConfirmOrderRequest, DownloadOrderRequest};
use testbeds::server::{SmdpServer, TlsConfig};
use testbeds::{ProfileClassKind, ProfileMeta, Smdp, SmdpConfig, SmdpIdentity};
use veuicc::euicc::{Euicc, EuiccState};
use veuicc::store::MemStore;

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

#[test]
fn download_over_https_on_loopback_with_an_in_process_card() {
    let Some(td) = testdata() else { return };
    let provider: Arc<dyn CryptoProvider> = Arc::new(rsp::crypto::awslc::AwsLc);
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([8; 32]);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000088").unwrap();
    let nb = SystemTime::now() - Duration::from_secs(86_400);
    let (identity, ci) =
        rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry()).unwrap();

    // The SM-DP+ on 127.0.0.1, any port; its TLS certificate names "localhost".
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
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
    let ca = dp.tls_ca.clone();
    let smdp = Arc::new(
        Smdp::new(
            dp,
            testbeds::store::Store::temporary().unwrap(),
            provider.clone(),
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

    let package = std::fs::read(td.join("ts48/TS48V4-SAIP2-3-BERTLV-UNIQUE.der")).unwrap();
    let iccid = smdp
        .add_profile(
            package,
            ProfileMeta {
                service_provider_name: "GSMA Test".into(),
                profile_name: "https".into(),
                class: ProfileClassKind::Test,
                profile_type: "https".into(),
            },
        )
        .unwrap();
    assert!(smdp
        .download_order(&DownloadOrderRequest {
            iccid: Some(iccid.clone()),
            ..Default::default()
        })
        .header
        .is_success());
    let confirmed = smdp.confirm_order(&ConfirmOrderRequest {
        iccid: iccid.clone(),
        release_flag: true,
        ..Default::default()
    });
    let mid = confirmed.matching_id.unwrap();

    let state = EuiccState::open(Arc::new(MemStore::default()), identity, [4; 32])
        .unwrap()
        .with_provider(provider.clone());
    let mut card = Client::new(InProcess::new(Euicc::new(state)));
    card.open_channel().unwrap();

    // Without the SM-DP+'s CA (system roots only) the TLS handshake fails: step named.
    let mut untrusting = HttpsEs9::new(&HttpsOptions {
        resolve: vec![("localhost".into(), "127.0.0.1".parse().unwrap())],
        ..Default::default()
    })
    .unwrap();
    let e = lpa::download(
        &mut card,
        &mut untrusting,
        DownloadParams::new(&address, &mid),
    )
    .unwrap_err();
    assert!(matches!(e, LpaError::Es9 { .. }), "{e}");
    assert_eq!(e.step(), Some(Step::InitiateAuthentication));

    // With it (given as PEM, as `testbed smdp` writes it): the whole download over HTTPS.
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, testbeds::identity::cert_pem(&ca)).unwrap();
    let mut opts = HttpsOptions::default().with_ca_file(&pem, true).unwrap();
    opts.resolve
        .push(("localhost".into(), "127.0.0.1".parse().unwrap()));
    let mut es9 = HttpsEs9::new(&opts).unwrap();
    let o = lpa::download(&mut card, &mut es9, DownloadParams::new(&address, &mid)).unwrap();
    assert_eq!(o.iccid, iccid);
    assert_eq!(o.notification, NotificationDelivery::Delivered);
    assert_eq!(
        smdp.profile(&iccid).unwrap().unwrap().state,
        testbeds::ProfileState::Installed
    );

    // Enable, then the enable notification goes over HTTPS too (204 from the server).
    assert_eq!(card.enable(&o.iccid_raw, true).unwrap(), 0);
    let reports = lpa::process_notifications(&mut card, &mut es9, None).unwrap();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].delivered && reports[0].removed, "{reports:?}");
    eprintln!(
        "download over HTTPS on loopback (in-process card): {:.1} ms",
        o.total.as_secs_f64() * 1000.0
    );
    rt.block_on(handle.shutdown(Duration::from_secs(1)))
        .unwrap();
}

#[test]
fn ca_files_are_read_as_pem_or_der() {
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([9; 32]);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000089").unwrap();
    let nb = SystemTime::now() - Duration::from_secs(86_400);
    let (_, ci) =
        rsp::pki::mint_test_pki(eid, &mut rng, nb, rsp::pki::not_after_no_expiry()).unwrap();
    let der = ci.ci_cert.clone();
    let pem = testbeds::identity::cert_pem(&der);
    assert_eq!(
        lpa::es9::parse_certificates(&der).unwrap(),
        vec![der.clone()]
    );
    let two = format!("{pem}{pem}");
    assert_eq!(
        lpa::es9::parse_certificates(two.as_bytes()).unwrap(),
        vec![der.clone(), der]
    );
    assert!(lpa::es9::parse_certificates(b"not a certificate").is_err());
    assert!(lpa::es9::parse_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA").is_err());
}
