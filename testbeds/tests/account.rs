#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The account server of admin-operation authorisation: the accounts file (Argon2id PHC
//! strings, mode 0600, golden format), assertions for correct credentials only, lockout after
//! repeated failures, and the same over HTTPS.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::Params;
use rsp::authz::{AccountAssertion, Operation};
use rsp::crypto::deterministic::Deterministic;
use testbeds::account::{
    self, AccountConfig, AccountError, AccountRecord, AccountServer, AccountStore, AccountsFile,
    AssertionRequest, AssertionResponse,
};
use zeroize::Zeroizing;

const EID: &str = "89049032000000000000000000000077";
const ICCID: &str = "8949449999999990023";

fn cheap() -> Params {
    Params::new(1024, 1, 1, None).unwrap()
}

/// A server over a fresh state directory with alice/secret, and a settable clock.
fn server(dir: &std::path::Path) -> (Arc<AccountServer>, Arc<AtomicU64>) {
    let store = AccountStore::new(dir).with_params(cheap());
    store
        .add("alice", "secret", false, SystemTime::now())
        .unwrap();
    let key = account::load_or_create_key(dir).unwrap();
    let now = Arc::new(AtomicU64::new(1_800_000_000));
    let n = now.clone();
    let clock: testbeds::smdp::Clock =
        Arc::new(move || UNIX_EPOCH + Duration::from_secs(n.load(Ordering::SeqCst)));
    let s = AccountServer::new(
        store,
        &key,
        Arc::new(Deterministic::new([4; 32])),
        clock,
        AccountConfig::default(),
    );
    (Arc::new(s), now)
}

fn request(account: &str, password: &str, op: &str, iccid: Option<&str>) -> AssertionRequest {
    AssertionRequest {
        account: account.into(),
        password: Zeroizing::new(password.into()),
        eid: EID.into(),
        iccid: iccid.map(str::to_string),
        operation: op.into(),
        nonce: Some("00112233445566778899AABBCCDDEEFF".into()),
    }
}

#[test]
fn accounts_file_holds_argon2id_phc_strings_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let store = AccountStore::new(dir.path()).with_params(cheap());
    store.add("alice", "secret", false, UNIX_EPOCH).unwrap();
    let f = store.load().unwrap();
    assert!(f.accounts[0]
        .password_hash
        .starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    assert!(!std::fs::read_to_string(dir.path().join("accounts.json"))
        .unwrap()
        .contains("secret"));
    let mode = std::fs::metadata(dir.path().join("accounts.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(store.verify("alice", "secret").unwrap());
    assert!(!store.verify("alice", "Secret").unwrap());
    assert!(!store.verify("mallory", "secret").unwrap());
    assert!(matches!(
        store.add("alice", "other", false, UNIX_EPOCH),
        Err(AccountError::Exists(_))
    ));
    store.add("alice", "other", true, UNIX_EPOCH).unwrap();
    assert!(store.verify("alice", "other").unwrap());
    assert!(store.add("with space", "x", false, UNIX_EPOCH).is_err());
    store.remove("alice").unwrap();
    assert!(store.load().unwrap().accounts.is_empty());
    let key_mode = {
        account::load_or_create_key(dir.path()).unwrap();
        std::fs::metadata(dir.path().join("assertion-key.pem"))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_eq!(key_mode & 0o777, 0o600);
}

#[test]
fn accounts_file_matches_its_golden_file() {
    let f = AccountsFile {
        version: 1,
        accounts: vec![AccountRecord {
            id: "alice".into(),
            password_hash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$Zr1Pl4rkm1CF0bFr35Rb5GFlYp0YaUMmZkZrDCzHBg8".into(),
            created_at: 1_800_000_000,
        }],
    };
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/accounts.json");
    let bytes = serde_json::to_vec_pretty(&f).unwrap();
    if !path.exists() && std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).expect("golden file (UPDATE_GOLDEN=1 creates it)");
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(&golden)
    );
    let back: AccountsFile = serde_json::from_slice(&golden).unwrap();
    assert_eq!(back, f);
}

#[test]
fn correct_credentials_get_a_signed_assertion_bound_to_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = server(dir.path());
    let r = s
        .issue(&request("alice", "secret", "enable", Some(ICCID)))
        .unwrap();
    assert_eq!(r.expires_at - r.issued_at, 120);
    let bytes = rsp::es9::b64_decode(&r.assertion).unwrap();
    let a = AccountAssertion::from_bytes(&bytes).unwrap();
    assert!(a.verify(&Deterministic::new([0; 32]), &s.public_key()));
    assert_eq!(a.claims.account, "alice");
    assert_eq!(a.claims.operation, Operation::Enable);
    assert_eq!(hex::encode_upper(a.claims.eid), EID);
    assert_eq!(veuicc::euicc::records::iccid_digits(&a.claims.iccid), ICCID);
    assert_eq!(
        a.claims.nonce,
        Some(
            hex::decode("00112233445566778899AABBCCDDEEFF")
                .unwrap()
                .try_into()
                .unwrap()
        )
    );
    // eUICC-wide operations carry no ICCID.
    let r = s
        .issue(&request("alice", "secret", "install", None))
        .unwrap();
    let a = AccountAssertion::from_bytes(&rsp::es9::b64_decode(&r.assertion).unwrap()).unwrap();
    assert!(a.claims.iccid.is_empty());
}

#[test]
fn wrong_password_or_unknown_account_is_unauthorized() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = server(dir.path());
    assert!(matches!(
        s.issue(&request("alice", "wrong", "enable", Some(ICCID))),
        Err(AccountError::Unauthorized)
    ));
    assert!(matches!(
        s.issue(&request("bob", "secret", "enable", Some(ICCID))),
        Err(AccountError::Unauthorized)
    ));
}

#[test]
fn malformed_requests_are_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = server(dir.path());
    let bad = |r: AssertionRequest| matches!(s.issue(&r), Err(AccountError::BadRequest(_)));
    assert!(
        bad(request("alice", "secret", "enable", None)),
        "enable needs an ICCID"
    );
    assert!(
        bad(request("alice", "secret", "install", Some(ICCID))),
        "install has none"
    );
    assert!(bad(request("alice", "secret", "teleport", Some(ICCID))));
    assert!(bad(request("alice", "secret", "enable", Some("123"))));
    let mut r = request("alice", "secret", "enable", Some(ICCID));
    r.eid = "89".into();
    assert!(bad(r));
    let mut r = request("alice", "secret", "enable", Some(ICCID));
    r.nonce = Some("zz".into());
    assert!(bad(r));
}

#[test]
fn repeated_failures_lock_the_account_until_the_lockout_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (s, now) = server(dir.path());
    for _ in 0..5 {
        assert!(matches!(
            s.issue(&request("alice", "guess", "enable", Some(ICCID))),
            Err(AccountError::Unauthorized)
        ));
    }
    // Locked: even the right password is refused, without being checked.
    match s.issue(&request("alice", "secret", "enable", Some(ICCID))) {
        Err(AccountError::Locked(left)) => assert!(left > 0 && left <= 60),
        other => panic!("expected a lock, got {other:?}"),
    }
    now.fetch_add(61, Ordering::SeqCst);
    assert!(s
        .issue(&request("alice", "secret", "enable", Some(ICCID)))
        .is_ok());
}

#[test]
fn debug_of_a_request_redacts_the_password() {
    let r = request("alice", "hunter2", "enable", Some(ICCID));
    let d = format!("{r:?}");
    assert!(d.contains("alice") && !d.contains("hunter2"));
}

#[test]
fn https_server_answers_200_401_429_and_400() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = server(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (tls, ca) = account::tls_config(
        dir.path(),
        "localhost",
        &Deterministic::new([5; 32]),
        SystemTime::now(),
    )
    .unwrap();
    let (addr, handle) = rt
        .block_on(account::bind(
            "127.0.0.1:0".parse().unwrap(),
            s.clone(),
            tls,
        ))
        .unwrap();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    let client = reqwest::blocking::Client::builder()
        .tls_certs_only([ca])
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/assertion", addr.port());
    let post = |body: serde_json::Value| client.post(&url).json(&body).send().unwrap();
    let body = |pw: &str| {
        serde_json::json!({"account": "alice", "password": pw, "eid": EID, "iccid": ICCID,
                           "operation": "delete"})
    };
    let r = post(body("secret"));
    assert_eq!(r.status(), 200);
    let a: AssertionResponse = r.json().unwrap();
    assert_eq!(a.operation, "delete");
    let r = post(body("nope"));
    assert_eq!(r.status(), 401);
    assert!(!r.text().unwrap().contains("nope"));
    let r = post(serde_json::json!({"account": "alice", "password": "secret-in-a-bad-body"}));
    assert_eq!(r.status(), 400);
    assert!(!r.text().unwrap().contains("secret-in-a-bad-body"));
    for _ in 0..4 {
        assert_eq!(post(body("nope")).status(), 401);
    }
    let r = post(body("secret"));
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let k: serde_json::Value = client
        .get(format!("https://localhost:{}/key", addr.port()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(k["key"], hex::encode_upper(s.public_key()));
    rt.block_on(handle.shutdown(Duration::from_secs(1)))
        .unwrap();
}
