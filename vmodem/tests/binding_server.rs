//! The binding engine's client of the IMEI assignment server, for real: `vmodem::server::Server`
//! (the modem inside its tokio runtime, the command path under the modem's std mutex) and
//! `testbeds::imei::ImeiServer` on HTTPS (127.0.0.1:0, its own minted CA). The modem asks from
//! its worker thread and binds the profile when the answer arrives; a server that is gone gives
//! an unbound profile, and the modem keeps answering meanwhile.
//!
//! TS.48 packages come from `$VEUICC_TESTDATA/ts48` or `../shared/testdata/ts48`; the test is
//! skipped with a message when they are absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use vmodem::config::{BindingPolicy, Config, ModemConfig, PortConfig, SlotConfig};

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

fn ok(server: &vmodem::server::Server, line: &str) -> Value {
    let v: Value = serde_json::from_str(&server.control_line(line)).unwrap();
    assert_eq!(v["ok"], true, "{line}: {v}");
    v["result"].clone()
}

fn profile(server: &vmodem::server::Server, iccid: &str) -> Value {
    ok(
        server,
        &format!(r#"{{"op":"imei_binding","iccid":"{iccid}"}}"#),
    )["profiles"][0]
        .clone()
}

fn wait_for(server: &vmodem::server::Server, iccid: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = profile(server, iccid);
        if p["status"] == status {
            return p;
        }
        assert!(Instant::now() < deadline, "{iccid} never {status}: {p}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_modem_gets_imeis_from_the_assignment_server_over_https() {
    let Some(td) = testdata() else { return };
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let provider = rsp::crypto::awslc::AwsLc;
    let id = testbeds::identity::SmdpIdentity::self_minted(
        &dir.path().join("imei"),
        "localhost",
        &provider,
        SystemTime::now(),
    )
    .unwrap();
    let ca = dir.path().join("imei-ca.pem");
    id.write_tls_ca(&ca).unwrap();
    let tls = testbeds::server::TlsConfig::from_identity(&id).unwrap();
    let imei_server = Arc::new(
        testbeds::imei::ImeiServer::temporary(vec!["35999999".parse().unwrap()])
            .unwrap()
            .with_limit(1),
    );
    let (addr, handle) = rt
        .block_on(testbeds::imei::ImeiServer::bind(
            "127.0.0.1:0".parse().unwrap(),
            imei_server.clone(),
            tls,
        ))
        .unwrap();

    let mut m = ModemConfig::named("m0");
    m.imei = vec!["35209900176148".into(), "35209900176149".into()];
    m.ports = vec![PortConfig::pty("at0")];
    m.slots = vec![SlotConfig::Empty, SlotConfig::Euicc { state_dir: None }];
    m.state_dir = Some(dir.path().join("modem"));
    m.binding.default_policy = Some(BindingPolicy::Exclusive);
    m.binding.device_id = Some("dev-https".into());
    // 127.0.0.1 by name: the certificate is for "localhost", which resolves here.
    m.binding.assignment_server = Some(format!("https://localhost:{}", addr.port()));
    m.binding.ca = Some(ca);
    let cfg = Config {
        run_dir: Some(dir.path().join("run")),
        control: None,
        modems: vec![m],
    };
    let server = rt
        .block_on(vmodem::server::Server::start(
            &cfg,
            vmodem::server::ServerOptions::default(),
        ))
        .unwrap();

    for (pkg, _) in [
        ("TS48V1-A-UNIQUE.der", "8949449999999990023"),
        ("TS48V1-B-UNIQUE.der", "8949449999999990031"),
    ] {
        ok(
            &server,
            &format!(
                r#"{{"op":"add_profile","package":"{}","enable":true}}"#,
                td.join(pkg).display()
            ),
        );
    }
    // C: the pool is used up; the modem asks the server from its worker thread.
    ok(
        &server,
        &format!(
            r#"{{"op":"add_profile","package":"{}","enable":true}}"#,
            td.join("TS48V2-SAIP2-1-BERTLV-UNIQUE.der").display()
        ),
    );
    let c = wait_for(&server, "8949449999999990049", "bound");
    let assigned = imei_server.assignments().unwrap();
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0].device_id, "dev-https");
    assert_eq!(c["imei"], assigned[0].imei.as_str());
    let st = ok(&server, r#"{"modem":"m0","op":"status"}"#);
    assert_eq!(st["state"]["imei_reported"], assigned[0].imei.as_str());

    // D: the server's pool is exhausted (503): unbound.
    ok(
        &server,
        &format!(
            r#"{{"op":"add_profile","package":"{}","enable":true}}"#,
            td.join("TS48V2-SAIP2-1-NOBERTLV-UNIQUE.der").display()
        ),
    );
    wait_for(&server, "8949449999999990007", "unbound");

    // The server gone: E is unbound after the failed request; the modem answers throughout.
    rt.block_on(handle.shutdown(Duration::from_secs(1)))
        .unwrap();
    ok(
        &server,
        &format!(
            r#"{{"op":"add_profile","package":"{}","enable":true}}"#,
            td.join("TS48V2-SAIP2-3-BERTLV-UNIQUE.der").display()
        ),
    );
    let t = Instant::now();
    ok(&server, r#"{"op":"status"}"#);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "the modem was blocked"
    );
    wait_for(&server, "8949449999999990056", "unbound");
    rt.block_on(server.shutdown());
}
