#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The LPA side of admin-operation authorisation against the card in process and the account
//! server on HTTPS (127.0.0.1, in this process): the whole flow, the secure element's binding
//! and confirmation, and the messages naming missing proofs.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hil::authz::{self, AccountClient, AdminProofs, AuthzError, Credentials, UserProof};
use hil::client::Client;
use hil::intent::{Confirm, IntentError, SecureElement};
use hil::transport::InProcess;
use rand_chacha::rand_core::SeedableRng;
use rsp::authz::{authorise_result as res, Operation, Requirement};
use rsp::crypto::rustcrypto::RustCrypto;
use testbeds::account::{self, AccountConfig, AccountServer, AccountStore};
use veuicc::euicc::{Euicc, EuiccState, SeedOptions};
use veuicc::isdr::authz::policy::AuthzPolicy;
use veuicc::store::MemStore;
use zeroize::Zeroizing;

fn package(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let p = dir.join("ts48").join(name);
    if !p.is_file() {
        assert!(std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"));
        println!("SKIPPED: testdata not found");
        return None;
    }
    Some(std::fs::read(p).unwrap())
}

struct Bed {
    card: Client<InProcess<Euicc>>,
    b: Vec<u8>,
    se: SecureElement,
    server: AccountClient,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn bed() -> Option<Bed> {
    let a = package("TS48V2-SAIP2-1-BERTLV-UNIQUE.der")?;
    let b = package("TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der")?;
    let dir = tempfile::tempdir().unwrap();
    // The account server.
    let store = AccountStore::new(dir.path()).with_params(argon2_cheap());
    store
        .add("alice", "secret", false, SystemTime::now())
        .unwrap();
    let key = account::load_or_create_key(dir.path()).unwrap();
    let server = Arc::new(AccountServer::new(
        store,
        &key,
        Arc::new(RustCrypto::new()),
        testbeds::smdp::system_clock(),
        AccountConfig::default(),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (tls, ca) = account::tls_config(
        dir.path(),
        "localhost",
        &RustCrypto::new(),
        SystemTime::now(),
    )
    .unwrap();
    let (addr, _handle) = rt
        .block_on(account::bind(
            "127.0.0.1:0".parse().unwrap(),
            server.clone(),
            tls,
        ))
        .unwrap();
    let client = AccountClient::new(&format!("localhost:{}", addr.port()), Some(&ca)).unwrap();
    // The card, its SE and its policy.
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([6; 32]);
    let eid = rsp::pki::eid_with_check_digits("890490320000000000000000000088").unwrap();
    let (identity, _) = rsp::pki::mint_test_pki(
        eid,
        &mut rng,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        rsp::pki::not_after_no_expiry(),
    )
    .unwrap();
    let mut s = EuiccState::open(Arc::new(MemStore::default()), identity, [1; 32]).unwrap();
    s.seed_package(
        &a,
        &SeedOptions {
            enable: true,
            ..SeedOptions::default()
        },
    )
    .unwrap();
    let ib = s.seed_package(&b, &SeedOptions::default()).unwrap();
    let se = SecureElement::create(&dir.path().join("se.pem"), eid).unwrap();
    let mut p = AuthzPolicy::default();
    p.rules.insert(Operation::Enable, Requirement::Both);
    p.account_keys = vec![hex::encode_upper(server.public_key())];
    p.intent_keys = vec![hex::encode_upper(se.public_key())];
    s.authz_mut().set_policy(p).unwrap();
    let mut card = Client::new(InProcess::new(Euicc::new(s)));
    card.select_isdr().unwrap();
    Some(Bed {
        card,
        b: ib,
        se,
        server: client,
        _rt: rt,
        _dir: dir,
    })
}

fn argon2_cheap() -> argon2::Params {
    argon2::Params::new(1024, 1, 1, None).unwrap()
}

fn creds(password: &str) -> Credentials {
    Credentials {
        account: "alice".into(),
        password: Zeroizing::new(password.into()),
    }
}

#[test]
fn lpa_flow_with_both_proofs_authorises_one_enable() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut confirm = Confirm::Yes;
    let mut lines = Vec::new();
    authz::authorise(
        &mut bed.card,
        Operation::Enable,
        Some(&b),
        AdminProofs {
            user: Some(UserProof::Server(&bed.server, creds("secret"))),
            se: Some(&bed.se),
            confirm: &mut confirm,
        },
        &mut |l| lines.push(l.to_string()),
    )
    .unwrap();
    assert!(lines.iter().any(|l| l == "authorised enable"), "{lines:?}");
    assert_eq!(bed.card.enable(&b, true).unwrap(), 0);
    assert_eq!(bed.card.disable(&b, true).unwrap(), 0, "disable is open");
    assert_eq!(bed.card.enable(&b, true).unwrap(), 3, "one shot");
}

#[test]
fn declined_confirmation_signs_nothing_and_the_card_refuses() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut confirm = Confirm::No;
    let e = authz::authorise(
        &mut bed.card,
        Operation::Enable,
        Some(&b),
        AdminProofs {
            user: Some(UserProof::Server(&bed.server, creds("secret"))),
            se: Some(&bed.se),
            confirm: &mut confirm,
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(e, AuthzError::Intent(IntentError::Declined(_))),
        "{e}"
    );
    assert_eq!(bed.card.enable(&b, true).unwrap(), 3);
}

#[test]
fn wrong_password_is_an_account_error_and_missing_intent_a_card_refusal() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut confirm = Confirm::Yes;
    let e = authz::authorise(
        &mut bed.card,
        Operation::Enable,
        Some(&b),
        AdminProofs {
            user: Some(UserProof::Server(&bed.server, creds("wrong"))),
            se: Some(&bed.se),
            confirm: &mut confirm,
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, AuthzError::Account { status: 401, .. }), "{e}");
    assert!(!e.to_string().contains("wrong"));
    let e = authz::authorise(
        &mut bed.card,
        Operation::Enable,
        Some(&b),
        AdminProofs {
            user: Some(UserProof::Server(&bed.server, creds("secret"))),
            se: None,
            confirm: &mut confirm,
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(e.card_code(), Some(res::INTENT_MISSING));
    assert!(e.to_string().contains("--intent-key"), "{e}");
    assert_eq!(
        authz::requirement(&mut bed.card, Operation::Enable, Some(&b)),
        Some(Requirement::Both)
    );
    let msg = authz::refusal_message(
        Operation::Enable,
        Some(&b),
        Some(Requirement::Both),
        true,
        false,
    );
    assert!(
        msg.contains("missing a secure-element intent signature"),
        "{msg}"
    );
    assert!(!msg.contains("account assertion"), "{msg}");
}

#[test]
fn secure_element_key_is_0600_bound_to_its_eid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("se.pem");
    let eid = [0x89; 16];
    let se = SecureElement::create(&path, eid).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(&format!("veuicc-se v1 EID {}\n", hex::encode_upper(eid))));
    let again = SecureElement::open(&path).unwrap();
    assert_eq!(again.public_key(), se.public_key());
    assert!(!format!("{again:?}").contains("PRIVATE"));
    assert!(matches!(
        SecureElement::create(&path, [0x11; 16]),
        Err(IntentError::WrongEid { .. })
    ));
    let e = se
        .confirm_and_sign(
            &[0x11; 16],
            Operation::Enable,
            &[0; 10],
            &[0; 16],
            &mut Confirm::Yes,
        )
        .unwrap_err();
    assert!(matches!(e, IntentError::WrongEid { .. }));
    std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
    assert!(SecureElement::open(&dir.path().join("bad.pem")).is_err());
}
