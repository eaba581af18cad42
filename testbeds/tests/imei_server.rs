//! The IMEI assignment server: its rules on the core (stable per device and ICCID, never one
//! IMEI for two devices, Luhn-valid IMEIs from the TAC ranges, exhaustion, persistence, bad
//! input changes nothing) and its HTTPS front on 127.0.0.1:0 (status codes, JSON bodies), plus
//! the golden file of its persisted record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use testbeds::identity::SmdpIdentity;
use testbeds::imei::{
    luhn, AssignRequest, AssignResponse, Assignment, ImeiError, ImeiServer, TacRange,
    FORMAT_VERSION, PATH_ASSIGN, PATH_ASSIGNMENTS,
};
use testbeds::server::TlsConfig;

fn req(device: &str, iccid: &str) -> AssignRequest {
    AssignRequest {
        device_id: device.into(),
        iccid: iccid.into(),
    }
}

fn ranges() -> Vec<TacRange> {
    vec!["35999999".parse().unwrap()]
}

const A: &str = "8949449999999990023";
const B: &str = "8949449999999990031";

fn check_imei(imei: &str) {
    assert_eq!(imei.len(), 15);
    assert!(imei.starts_with("35999999"));
    assert_eq!(
        luhn(&imei[..14]).to_string(),
        &imei[14..],
        "check digit of {imei}"
    );
}

#[test]
fn same_device_and_iccid_get_the_same_imei() {
    let s = ImeiServer::temporary(ranges()).unwrap();
    let (a, new) = s.assign(&req("dev-1", A), 10).unwrap();
    assert!(new);
    check_imei(&a.imei);
    let (again, new) = s.assign(&req("dev-1", A), 20).unwrap();
    assert!(!new);
    assert_eq!(again, a, "same IMEI, same assignment time");
}

#[test]
fn no_imei_is_given_twice() {
    let s = ImeiServer::temporary(ranges()).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for d in ["dev-1", "dev-2", "dev-3"] {
        for i in [A, B] {
            let (a, new) = s.assign(&req(d, i), 1).unwrap();
            assert!(new);
            check_imei(&a.imei);
            assert!(seen.insert(a.imei.clone()), "{} given twice", a.imei);
        }
    }
    assert_eq!(s.assignments().unwrap().len(), 6);
}

#[test]
fn an_exhausted_pool_refuses_and_keeps_the_old_assignments() {
    let s = ImeiServer::temporary(ranges()).unwrap().with_limit(1);
    let (a, _) = s.assign(&req("dev-1", A), 1).unwrap();
    assert!(matches!(
        s.assign(&req("dev-2", A), 2),
        Err(ImeiError::Exhausted)
    ));
    assert_eq!(s.assign(&req("dev-1", A), 3).unwrap().0, a);
    assert_eq!(s.assignments().unwrap(), vec![a]);
}

#[test]
fn bad_requests_change_nothing() {
    let s = ImeiServer::temporary(ranges()).unwrap();
    for r in [
        req("", A),
        req(&"x".repeat(129), A),
        req("dev\n1", A),
        req("dev-1", ""),
        req("dev-1", "89494499999999900x3"),
        req("dev-1", "123"),
        req("dev-1", "894944999999999002312"),
    ] {
        assert!(
            matches!(s.assign(&r, 1), Err(ImeiError::BadRequest(_))),
            "{r:?}"
        );
    }
    assert!(s.assignments().unwrap().is_empty());
    let (a, _) = s.assign(&req("dev-1", A), 1).unwrap();
    assert!(a.imei.ends_with(&luhn("35999999000000").to_string()));
}

#[test]
fn assignments_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let a = {
        let s = ImeiServer::open(dir.path(), ranges()).unwrap();
        s.assign(&req("dev-1", A), 1).unwrap().0
    };
    let s = ImeiServer::open(dir.path(), ranges()).unwrap();
    assert_eq!(s.assign(&req("dev-1", A), 2).unwrap(), (a.clone(), false));
    let (b, _) = s.assign(&req("dev-2", A), 3).unwrap();
    assert_ne!(b.imei, a.imei, "the serial counter survived too");
    // Another TAC range configured later: IMEIs given before are never given again.
    let s2 = {
        drop(s);
        ImeiServer::open(dir.path(), vec!["35999999-35999999".parse().unwrap()]).unwrap()
    };
    let (c, _) = s2.assign(&req("dev-3", A), 4).unwrap();
    assert!(c.imei != a.imei && c.imei != b.imei);
}

#[test]
fn assignment_record_encoding_is_frozen() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/imei_assignment.json");
    let value = Assignment {
        version: FORMAT_VERSION,
        device_id: "352099001761481".into(),
        iccid: A.into(),
        imei: "359999990000002".into(),
        assigned_at: 1_700_000_000,
    };
    let bytes = serde_json::to_vec(&value).unwrap();
    match std::fs::read(&path) {
        Ok(g) => {
            assert_eq!(
                String::from_utf8_lossy(&g),
                String::from_utf8_lossy(&bytes),
                "the serialised form changed"
            );
            assert_eq!(serde_json::from_slice::<Assignment>(&g).unwrap(), value);
        }
        Err(_) => {
            assert_eq!(
                std::env::var("UPDATE_GOLDEN").as_deref(),
                Ok("1"),
                "{} is missing; run with UPDATE_GOLDEN=1",
                path.display()
            );
            std::fs::write(&path, &bytes).unwrap();
        }
    }
}

struct Running {
    client: reqwest::Client,
    base: String,
    _dir: tempfile::TempDir,
}

async fn start(server: ImeiServer) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let provider = rsp::crypto::awslc::AwsLc;
    let id =
        SmdpIdentity::self_minted(dir.path(), "localhost", &provider, SystemTime::now()).unwrap();
    let tls = TlsConfig::from_identity(&id).unwrap();
    let (addr, _handle) = ImeiServer::bind("127.0.0.1:0".parse().unwrap(), Arc::new(server), tls)
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_der(&id.tls_ca).unwrap()])
        .resolve("localhost", SocketAddr::new(addr.ip(), addr.port()))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    Running {
        client,
        base: format!("https://localhost:{}", addr.port()),
        _dir: dir,
    }
}

#[tokio::test]
async fn serves_assignments_over_https() {
    let r = start(ImeiServer::temporary(ranges()).unwrap().with_limit(2)).await;
    let post = |body: String, ct: &'static str| {
        r.client
            .post(format!("{}{PATH_ASSIGN}", r.base))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let resp = post(
        serde_json::to_string(&req("dev-1", A)).unwrap(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let a: AssignResponse = resp.json().await.unwrap();
    assert!(a.new);
    check_imei(&a.imei);
    let again: AssignResponse = post(
        serde_json::to_string(&req("dev-1", A)).unwrap(),
        "application/json; charset=utf-8",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!((again.imei.as_str(), again.new), (a.imei.as_str(), false));

    for (body, ct, status) in [
        ("{}".to_string(), "application/json", 400),
        (
            r#"{"device_id":"d","iccid":"1"}"#.to_string(),
            "application/json",
            400,
        ),
        (
            r#"{"device_id":"d","iccid":"8949449999999990031","x":1}"#.to_string(),
            "application/json",
            400,
        ),
        ("not json".to_string(), "application/json", 400),
        (
            serde_json::to_string(&req("dev-2", A)).unwrap(),
            "text/plain",
            415,
        ),
        ("x".repeat(5000), "application/json", 413),
    ] {
        let resp = post(body.clone(), ct).await.unwrap();
        assert_eq!(
            resp.status(),
            status,
            "{ct} {}",
            &body[..body.len().min(60)]
        );
    }
    // The second and last IMEI, then 503.
    let b: AssignResponse = post(
        serde_json::to_string(&req("dev-2", A)).unwrap(),
        "application/json",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_ne!(b.imei, a.imei);
    let resp = post(
        serde_json::to_string(&req("dev-3", A)).unwrap(),
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    let e: serde_json::Value = resp.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("assigned"));

    let list: Vec<Assignment> = r
        .client
        .get(format!("{}{PATH_ASSIGNMENTS}", r.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.iter().map(|x| x.imei.as_str()).collect::<Vec<_>>(),
        vec![a.imei.as_str(), b.imei.as_str()]
    );
    let resp = r
        .client
        .get(format!("{}{PATH_ASSIGN}", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let resp = r
        .client
        .get(format!("{}/nothing", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
