#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Admin-operation authorisation on the card core (isdr::authz): every check of
//! AuthoriseAdminOperation, the gate in front of each admin function, and that a refusal
//! changes nothing on the card. ES10 commands go through `isdr::handle` as the ISD-R gets them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsp::authz::{
    self as codec, authorise_result as res, AccountAssertion, AssertionClaims, AuthoriseRequest,
    Operation, PolicyAnswer, Requirement,
};
use rsp::crypto::deterministic::Deterministic;
use rsp::crypto::{CryptoProvider, EcPrivateKey};
use rsp::es10::{self, *};
use rsp::pki;
use serde::de::DeserializeOwned;
use serde::Serialize;
use veuicc::apdu::Sw;
use veuicc::euicc::records::{ProfileClass, ProfileState, FORMAT_VERSION};
use veuicc::euicc::{EuiccState, ProfileId, SeedOptions};
use veuicc::isdr;
use veuicc::isdr::authz::policy::{AccountLink, AuthzClock, AuthzPolicy};
use veuicc::store::{MemStore, Store, Tree};

const NOW: u64 = 1_800_000_000;

fn package(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata"));
    let p = dir.join("ts48").join(name);
    if !p.is_file() {
        assert!(
            std::env::var("VEUICC_REQUIRE_TESTDATA").as_deref() != Ok("1"),
            "testdata not found at {}",
            p.display()
        );
        println!("SKIPPED: testdata not found");
        return None;
    }
    Some(std::fs::read(p).unwrap())
}

/// A card with three profiles (operational A enabled, operational B, provisioning P), an
/// account server key and a secure element key.
struct Bed {
    s: EuiccState,
    store: Arc<MemStore>,
    crypto: Deterministic,
    account_sk: EcPrivateKey,
    se_sk: EcPrivateKey,
    a: Vec<u8>,
    b: Vec<u8>,
    p: Vec<u8>,
    ids: u8,
}

fn bed() -> Option<Bed> {
    let a = package("TS48V2-SAIP2-1-BERTLV-UNIQUE.der")?;
    let b = package("TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der")?;
    let p = package("TS48V3-SAIP2-1-BERTLV-UNIQUE.der")?;
    let mut rng = ChaCha20Rng::from_seed([5; 32]);
    let eid = pki::eid_with_check_digits("890490320000000000000000000077").unwrap();
    let (identity, _ci) = pki::mint_test_pki(
        eid,
        &mut rng,
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        pki::not_after_no_expiry(),
    )
    .unwrap();
    let store = Arc::new(MemStore::default());
    let mut s = EuiccState::open(store.clone(), identity, [1; 32]).unwrap();
    let ia = s
        .seed_package(
            &a,
            &SeedOptions {
                enable: true,
                ..SeedOptions::default()
            },
        )
        .unwrap();
    let ib = s.seed_package(&b, &SeedOptions::default()).unwrap();
    let ip = s
        .seed_package(
            &p,
            &SeedOptions {
                class: ProfileClass::Provisioning,
                ..SeedOptions::default()
            },
        )
        .unwrap();
    let crypto = Deterministic::new([9; 32]);
    let (account_sk, account_pk) = crypto.generate_key().unwrap();
    let (se_sk, se_pk) = crypto.generate_key().unwrap();
    let mut policy = AuthzPolicy::default();
    for op in Operation::ALL {
        policy.rules.insert(op, Requirement::Both);
    }
    policy.account_keys = vec![hex::encode_upper(account_pk)];
    policy.intent_keys = vec![hex::encode_upper(se_pk)];
    s.authz_mut().set_policy(policy).unwrap();
    s.take_events();
    Some(Bed {
        s,
        store,
        crypto,
        account_sk,
        se_sk,
        a: ia,
        b: ib,
        p: ip,
        ids: 0,
    })
}

/// Everything the card has persisted, tree by tree.
fn dump(store: &MemStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for t in [
        Tree::Meta,
        Tree::Profiles,
        Tree::Packages,
        Tree::Files,
        Tree::Notifications,
    ] {
        out.extend(store.scan(t, b"").unwrap());
    }
    out
}

fn ok(s: &mut EuiccState, cmd: &[u8]) -> Vec<u8> {
    let r = isdr::handle(s, cmd);
    assert_eq!(r.sw, Sw::OK, "command {}", hex::encode_upper(cmd));
    r.data
}

impl Bed {
    fn eid(&self) -> [u8; 16] {
        self.s.identity().eid
    }

    fn nonce(&mut self) -> [u8; 16] {
        let data = ok(&mut self.s, &codec::get_admin_nonce_request());
        codec::parse_admin_nonce_response(&data).unwrap().0
    }

    fn claims(&mut self, op: Operation, iccid: &[u8], nonce: Option<[u8; 16]>) -> AssertionClaims {
        self.ids += 1;
        AssertionClaims {
            account: "alice".into(),
            eid: self.eid(),
            iccid: iccid.to_vec(),
            operation: op,
            issued_at: NOW,
            expires_at: NOW + 120,
            id: [self.ids; 16],
            nonce,
        }
    }

    fn assertion(&self, c: AssertionClaims) -> Vec<u8> {
        AccountAssertion::sign(&self.crypto, &self.account_sk, c)
            .unwrap()
            .to_bytes()
    }

    fn intent(&self, op: Operation, iccid: &[u8], nonce: &[u8; 16]) -> [u8; 64] {
        self.crypto
            .sign(
                &self.se_sk,
                &codec::intent_data(&self.eid(), op, iccid, nonce),
            )
            .unwrap()
    }

    /// A complete, valid AuthoriseAdminOperation for `op` on `iccid` (empty: eUICC-wide).
    fn full_request(&mut self, op: Operation, iccid: &[u8]) -> AuthoriseRequest {
        let nonce = self.nonce();
        let c = self.claims(op, iccid, Some(nonce));
        AuthoriseRequest {
            operation: op,
            iccid: (!iccid.is_empty()).then(|| iccid.to_vec()),
            nonce,
            assertion: Some(self.assertion(c)),
            intent_signature: Some(self.intent(op, iccid, &nonce)),
        }
    }

    fn authorise(&mut self, req: &AuthoriseRequest) -> i64 {
        let data = ok(&mut self.s, &req.encode());
        codec::parse_result_response(codec::tags::AUTHORISE_ADMIN_OPERATION, &data).unwrap()
    }

    fn enable(&mut self, iccid: &[u8]) -> i64 {
        let cmd = es10::encode(&EnableProfileRequest {
            profile_identifier: ProfileIdentifier::Iccid(iccid.to_vec().into()),
            refresh_flag: Some(true),
        });
        let r: EnableProfileResponse = es10::decode(&ok(&mut self.s, &cmd)).unwrap();
        r.enable_result
    }

    fn disable(&mut self, iccid: &[u8]) -> i64 {
        let cmd = es10::encode(&DisableProfileRequest {
            profile_identifier: ProfileIdentifier::Iccid(iccid.to_vec().into()),
            refresh_flag: Some(true),
        });
        let r: DisableProfileResponse = es10::decode(&ok(&mut self.s, &cmd)).unwrap();
        r.disable_result
    }

    fn delete(&mut self, iccid: &[u8]) -> i64 {
        let cmd = es10::encode(&DeleteProfileRequest::Iccid(iccid.to_vec().into()));
        let r: DeleteProfileResponse = es10::decode(&ok(&mut self.s, &cmd)).unwrap();
        r.delete_result
    }

    fn nickname(&mut self, iccid: &[u8], name: &str) -> i64 {
        let cmd = es10::encode(&SetNicknameRequest {
            iccid: iccid.to_vec().into(),
            profile_nickname: name.into(),
        });
        let r: SetNicknameResponse = es10::decode(&ok(&mut self.s, &cmd)).unwrap();
        r.set_nickname_result
    }

    fn state_of(&self, iccid: &[u8]) -> Option<ProfileState> {
        self.s
            .profile(&ProfileId::Iccid(iccid.to_vec()))
            .map(|p| p.state)
    }

    /// Runs `f`, which must be refused, and checks that nothing persisted or reported changed.
    fn unchanged<R>(&mut self, f: impl FnOnce(&mut Bed) -> R) -> R {
        self.s.take_events();
        let before = dump(&self.store);
        let enabled = self.s.enabled_iccid().map(<[u8]>::to_vec);
        let r = f(self);
        assert_eq!(dump(&self.store), before, "the store changed");
        assert_eq!(self.s.enabled_iccid().map(<[u8]>::to_vec), enabled);
        assert!(self.s.take_events().is_empty(), "events were reported");
        r
    }

    /// AuthoriseAdminOperation with `req`, expected to be refused with `code`; then the
    /// operation itself is refused too, and nothing changed.
    fn refused(&mut self, req: &AuthoriseRequest, code: i64) {
        let b = self.b.clone();
        self.unchanged(|bed| {
            assert_eq!(bed.authorise(req), code, "expected {}", res::name(code));
            assert_eq!(bed.enable(&b), enable_result::DISALLOWED_BY_POLICY);
        });
        assert_eq!(self.state_of(&self.b.clone()), Some(ProfileState::Disabled));
    }
}

#[test]
fn open_policy_leaves_admin_operations_as_in_sgp22() {
    let Some(mut bed) = bed() else { return };
    bed.s
        .authz_mut()
        .set_policy(AuthzPolicy::default())
        .unwrap();
    let b = bed.b.clone();
    assert_eq!(bed.enable(&b), enable_result::OK);
    assert_eq!(bed.state_of(&b), Some(ProfileState::Enabled));
}

#[test]
fn enable_without_authorisation_is_disallowed_by_policy_and_changes_nothing() {
    let Some(mut bed) = bed() else { return };
    let (a, b) = (bed.a.clone(), bed.b.clone());
    bed.unchanged(|bed| {
        assert_eq!(bed.enable(&b), enable_result::DISALLOWED_BY_POLICY);
        assert_eq!(bed.disable(&a), disable_result::DISALLOWED_BY_POLICY);
        assert_eq!(bed.delete(&b), delete_result::DISALLOWED_BY_POLICY);
    });
    assert_eq!(bed.state_of(&a), Some(ProfileState::Enabled));
}

#[test]
fn enable_with_assertion_and_intent_is_allowed_once() {
    let Some(mut bed) = bed() else { return };
    let (a, b) = (bed.a.clone(), bed.b.clone());
    let req = bed.full_request(Operation::Enable, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(bed.enable(&b), enable_result::OK);
    assert_eq!(bed.state_of(&b), Some(ProfileState::Enabled));
    assert_eq!(bed.state_of(&a), Some(ProfileState::Disabled));
    // One shot: switching back needs a new authorisation.
    bed.unchanged(|bed| assert_eq!(bed.enable(&a), enable_result::DISALLOWED_BY_POLICY));
}

#[test]
fn missing_intent_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    req.intent_signature = None;
    bed.refused(&req, res::INTENT_MISSING);
}

#[test]
fn missing_assertion_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    req.assertion = None;
    bed.refused(&req, res::ASSERTION_MISSING);
}

#[test]
fn user_only_policy_accepts_an_assertion_without_intent() {
    let Some(mut bed) = bed() else { return };
    let mut p = bed.s.authz().policy().clone();
    p.rules.insert(Operation::Enable, Requirement::User);
    bed.s.authz_mut().set_policy(p).unwrap();
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    req.intent_signature = None;
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(bed.enable(&b), enable_result::OK);
}

#[test]
fn assertion_signed_by_an_unknown_key_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    let (rogue, _) = bed.crypto.generate_key().unwrap();
    let c = bed.claims(Operation::Enable, &b, Some(req.nonce));
    req.assertion = Some(
        AccountAssertion::sign(&bed.crypto, &rogue, c)
            .unwrap()
            .to_bytes(),
    );
    bed.refused(&req, res::ASSERTION_INVALID);
}

#[test]
fn malformed_assertion_is_refused_as_invalid() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    req.assertion = Some(rsp::tlv::tlv(
        0xE1,
        &rsp::tlv::tlv(0x30, &[0x80, 0x01, 0x01]),
    ));
    bed.refused(&req, res::ASSERTION_INVALID);
}

#[test]
fn assertion_for_another_eid_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    let mut c = bed.claims(Operation::Enable, &b, Some(req.nonce));
    c.eid[15] ^= 1;
    req.assertion = Some(bed.assertion(c));
    bed.refused(&req, res::ASSERTION_WRONG_EID);
}

#[test]
fn assertion_for_another_iccid_is_refused() {
    let Some(mut bed) = bed() else { return };
    let (a, b) = (bed.a.clone(), bed.b.clone());
    let mut req = bed.full_request(Operation::Enable, &b);
    let c = bed.claims(Operation::Enable, &a, Some(req.nonce));
    req.assertion = Some(bed.assertion(c));
    bed.refused(&req, res::ASSERTION_WRONG_ICCID);
}

#[test]
fn assertion_for_another_operation_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    let c = bed.claims(Operation::Delete, &b, Some(req.nonce));
    req.assertion = Some(bed.assertion(c));
    bed.refused(&req, res::ASSERTION_WRONG_OPERATION);
}

#[test]
fn assertion_bound_to_another_nonce_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    let c = bed.claims(Operation::Enable, &b, Some([0x55; 16]));
    req.assertion = Some(bed.assertion(c));
    bed.refused(&req, res::ASSERTION_WRONG_NONCE);
}

#[test]
fn expired_or_overlong_assertions_are_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    // expiresAt not after issuedAt.
    let mut req = bed.full_request(Operation::Enable, &b);
    let mut c = bed.claims(Operation::Enable, &b, Some(req.nonce));
    c.expires_at = c.issued_at;
    req.assertion = Some(bed.assertion(c));
    bed.refused(&req, res::ASSERTION_EXPIRED);
    // A lifetime above the policy's maximum (300 s).
    let mut req = bed.full_request(Operation::Enable, &b);
    let mut c = bed.claims(Operation::Enable, &b, Some(req.nonce));
    c.expires_at = c.issued_at + 3600;
    req.assertion = Some(bed.assertion(c));
    bed.refused(&req, res::ASSERTION_EXPIRED);
}

#[test]
fn assertion_expired_against_the_last_trusted_time_is_refused() {
    let Some(mut bed) = bed() else { return };
    let (a, b) = (bed.a.clone(), bed.b.clone());
    // A fresh assertion moves the card's trusted time to NOW + 1000.
    let nonce = bed.nonce();
    let mut c = bed.claims(Operation::Enable, &b, Some(nonce));
    c.issued_at = NOW + 1000;
    c.expires_at = NOW + 1100;
    let req = AuthoriseRequest {
        operation: Operation::Enable,
        iccid: Some(b.clone()),
        nonce,
        assertion: Some(bed.assertion(c)),
        intent_signature: Some(bed.intent(Operation::Enable, &b, &nonce)),
    };
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(bed.enable(&b), enable_result::OK);
    assert_eq!(bed.s.authz().last_time(), NOW + 1000);
    // An assertion that expired before that time is refused, though fresh by its own clock.
    let mut req = bed.full_request(Operation::Enable, &a);
    let c = bed.claims(Operation::Enable, &a, Some(req.nonce));
    req.assertion = Some(bed.assertion(c));
    bed.unchanged(|bed| {
        assert_eq!(bed.authorise(&req), res::ASSERTION_EXPIRED);
        assert_eq!(bed.enable(&a), enable_result::DISALLOWED_BY_POLICY);
    });
}

#[test]
fn trusted_time_survives_a_restart() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let req = bed.full_request(Operation::Enable, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    let identity = bed.s.identity().clone();
    let s = EuiccState::open(bed.store.clone(), identity, [2; 32]).unwrap();
    assert_eq!(s.authz().last_time(), NOW);
    assert_eq!(s.authz().policy(), bed.s.authz().policy());
}

#[test]
fn replayed_authorisation_is_refused() {
    let Some(mut bed) = bed() else { return };
    let (a, b) = (bed.a.clone(), bed.b.clone());
    let req = bed.full_request(Operation::Enable, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(bed.enable(&b), enable_result::OK);
    // The same command again (and after a fresh GetAdminNonce, too).
    bed.unchanged(|bed| {
        assert_eq!(bed.authorise(&req), res::INVALID_NONCE);
        bed.nonce();
        assert_eq!(bed.authorise(&req), res::INVALID_NONCE);
        assert_eq!(bed.enable(&a), enable_result::DISALLOWED_BY_POLICY);
    });
}

#[test]
fn a_nonce_is_burnt_by_a_failed_attempt() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let good = bed.full_request(Operation::Enable, &b);
    let mut bad = good.clone();
    bad.intent_signature = None;
    bed.unchanged(|bed| {
        assert_eq!(bed.authorise(&bad), res::INTENT_MISSING);
        assert_eq!(bed.authorise(&good), res::INVALID_NONCE);
    });
}

#[test]
fn nonce_expires_after_its_lifetime_in_es10_commands() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let req = bed.full_request(Operation::Enable, &b);
    let get_eid = es10::encode(&GetEuiccDataRequest {
        tag_list: Some(vec![0x5A].into()),
    });
    for _ in 0..16 {
        ok(&mut bed.s, &get_eid);
    }
    bed.refused(&req, res::NONCE_EXPIRED);
}

#[test]
fn armed_authorisation_expires_after_its_lifetime() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let req = bed.full_request(Operation::Enable, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    let get_eid = es10::encode(&GetEuiccDataRequest {
        tag_list: Some(vec![0x5A].into()),
    });
    for _ in 0..16 {
        ok(&mut bed.s, &get_eid);
    }
    bed.unchanged(|bed| assert_eq!(bed.enable(&b), enable_result::DISALLOWED_BY_POLICY));
}

#[test]
fn reset_forgets_the_nonce_and_the_armed_authorisation() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let armed = bed.full_request(Operation::Enable, &b);
    assert_eq!(bed.authorise(&armed), res::OK);
    bed.s.clear_session();
    bed.unchanged(|bed| assert_eq!(bed.enable(&b), enable_result::DISALLOWED_BY_POLICY));
    let pending = bed.full_request(Operation::Enable, &b);
    bed.s.clear_session();
    bed.refused(&pending, res::INVALID_NONCE);
}

#[test]
fn intent_by_an_unregistered_key_or_for_another_nonce_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    let (rogue, _) = bed.crypto.generate_key().unwrap();
    let data = codec::intent_data(&bed.eid(), Operation::Enable, &b, &req.nonce);
    req.intent_signature = Some(bed.crypto.sign(&rogue, &data).unwrap());
    bed.refused(&req, res::INTENT_INVALID);
    let mut req = bed.full_request(Operation::Enable, &b);
    req.intent_signature = Some(bed.intent(Operation::Enable, &b, &[0x11; 16]));
    bed.refused(&req, res::INTENT_INVALID);
}

#[test]
fn required_proof_without_a_configured_key_is_not_configured() {
    let Some(mut bed) = bed() else { return };
    let mut p = bed.s.authz().policy().clone();
    p.intent_keys.clear();
    bed.s.authz_mut().set_policy(p).unwrap();
    let b = bed.b.clone();
    let req = bed.full_request(Operation::Enable, &b);
    bed.refused(&req, res::NOT_CONFIGURED);
}

#[test]
fn iccid_must_match_the_kind_of_operation() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut req = bed.full_request(Operation::Enable, &b);
    req.iccid = None;
    bed.refused(&req, res::INCORRECT_INPUT);
    let mut req = bed.full_request(Operation::MemoryReset, &[]);
    req.iccid = Some(b.clone());
    bed.refused(&req, res::INCORRECT_INPUT);
}

#[test]
fn authorisation_is_bound_to_its_operation_and_profile() {
    let Some(mut bed) = bed() else { return };
    let (a, b) = (bed.a.clone(), bed.b.clone());
    // Armed for enabling B: disabling A is refused and disarms.
    let req = bed.full_request(Operation::Enable, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    bed.unchanged(|bed| {
        assert_eq!(bed.disable(&a), disable_result::DISALLOWED_BY_POLICY);
        assert_eq!(bed.enable(&b), enable_result::DISALLOWED_BY_POLICY);
    });
    // Armed for deleting B: enabling B is refused.
    let req = bed.full_request(Operation::Delete, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    bed.unchanged(|bed| assert_eq!(bed.enable(&b), enable_result::DISALLOWED_BY_POLICY));
}

#[test]
fn provisioning_and_emergency_profiles_are_exempt_for_enable_and_disable_only() {
    let Some(mut bed) = bed() else { return };
    let (a, b, p) = (bed.a.clone(), bed.b.clone(), bed.p.clone());
    assert_eq!(bed.enable(&p), enable_result::OK, "switch to provisioning");
    assert_eq!(bed.disable(&p), disable_result::OK);
    // Deleting it is not exempt.
    bed.unchanged(|bed| assert_eq!(bed.delete(&p), delete_result::DISALLOWED_BY_POLICY));
    // An emergency ICCID.
    let mut pol = bed.s.authz().policy().clone();
    pol.emergency_iccids = vec![veuicc::euicc::records::iccid_digits(&b)];
    bed.s.authz_mut().set_policy(pol.clone()).unwrap();
    assert_eq!(bed.enable(&b), enable_result::OK, "switch to emergency");
    assert_eq!(bed.disable(&b), disable_result::OK);
    // The exemption can be switched off.
    pol.exempt_provisioning = false;
    bed.s.authz_mut().set_policy(pol).unwrap();
    bed.unchanged(|bed| assert_eq!(bed.enable(&p), enable_result::DISALLOWED_BY_POLICY));
    let _ = a;
}

#[test]
fn per_profile_rules_override_the_default() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let mut pol = bed.s.authz().policy().clone();
    pol.profiles.insert(
        veuicc::euicc::records::iccid_digits(&b),
        BTreeMap::from([(Operation::Enable, Requirement::None)]),
    );
    bed.s.authz_mut().set_policy(pol).unwrap();
    assert_eq!(bed.enable(&b), enable_result::OK);
}

#[test]
fn nickname_and_memory_reset_without_authorisation_are_undefined_errors() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    bed.unchanged(|bed| {
        assert_eq!(
            bed.nickname(&b, "mine"),
            set_nickname_result::UNDEFINED_ERROR
        );
        let cmd = es10::encode(&EuiccMemoryResetRequest {
            reset_options: NamedBits::from_bits(&[reset_options::DELETE_OPERATIONAL_PROFILES]),
        });
        let r: EuiccMemoryResetResponse = es10::decode(&ok(&mut bed.s, &cmd)).unwrap();
        assert_eq!(r.reset_result, reset_result::UNDEFINED_ERROR);
    });
    assert_eq!(bed.s.profiles().count(), 3);
    let req = bed.full_request(Operation::Nickname, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(bed.nickname(&b, "mine"), set_nickname_result::OK);
}

#[test]
fn authorised_memory_reset_deletes_operational_profiles() {
    let Some(mut bed) = bed() else { return };
    let req = bed.full_request(Operation::MemoryReset, &[]);
    assert_eq!(bed.authorise(&req), res::OK);
    let cmd = es10::encode(&EuiccMemoryResetRequest {
        reset_options: NamedBits::from_bits(&[reset_options::DELETE_OPERATIONAL_PROFILES]),
    });
    let r: EuiccMemoryResetResponse = es10::decode(&ok(&mut bed.s, &cmd)).unwrap();
    assert_eq!(r.reset_result, reset_result::OK);
    assert_eq!(
        bed.s.profiles().count(),
        1,
        "the provisioning profile stays"
    );
}

#[test]
fn profile_linked_to_another_account_is_refused() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    bed.s.authz_mut().set_link(&b, Some("bob")).unwrap();
    let req = bed.full_request(Operation::Delete, &b);
    bed.unchanged(|bed| {
        assert_eq!(bed.authorise(&req), res::ACCOUNT_MISMATCH);
        assert_eq!(bed.delete(&b), delete_result::DISALLOWED_BY_POLICY);
    });
    bed.s.authz_mut().set_link(&b, Some("alice")).unwrap();
    let req = bed.full_request(Operation::Delete, &b);
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(bed.delete(&b), delete_result::OK);
    // The link went with the profile.
    assert_eq!(bed.s.authz().link(&b).unwrap(), None);
}

#[test]
fn get_admin_policy_answers_requirements_and_the_policy_when_readable() {
    let Some(mut bed) = bed() else { return };
    let (b, p) = (bed.b.clone(), bed.p.clone());
    let ask = |bed: &mut Bed, q: Option<(Operation, Option<&[u8]>)>| {
        PolicyAnswer::decode(&ok(&mut bed.s, &codec::get_admin_policy_request(q))).unwrap()
    };
    let r = ask(&mut bed, Some((Operation::Enable, Some(&b))));
    assert_eq!(r.requirement, Some(Requirement::Both));
    let r = ask(&mut bed, Some((Operation::Enable, Some(&p))));
    assert_eq!(
        r.requirement,
        Some(Requirement::None),
        "provisioning is exempt"
    );
    let r = ask(&mut bed, None);
    let text = r.policy.unwrap();
    assert_eq!(
        &AuthzPolicy::from_json(text.as_bytes()).unwrap(),
        bed.s.authz().policy()
    );
    let mut pol = bed.s.authz().policy().clone();
    pol.readable = false;
    bed.s.authz_mut().set_policy(pol).unwrap();
    let r = ask(&mut bed, None);
    assert_eq!(r.result, codec::vendor_result::DISALLOWED_BY_POLICY);
    assert_eq!(r.policy, None);
}

#[test]
fn set_admin_policy_needs_es10_writable_and_an_authorisation() {
    let Some(mut bed) = bed() else { return };
    let set = |bed: &mut Bed, text: &str| {
        let data = ok(&mut bed.s, &codec::set_admin_policy_request(text));
        codec::parse_result_response(codec::tags::SET_ADMIN_POLICY, &data).unwrap()
    };
    let open = AuthzPolicy::default().to_json();
    bed.unchanged(|bed| assert_eq!(set(bed, &open), codec::vendor_result::DISALLOWED_BY_POLICY));
    let mut pol = bed.s.authz().policy().clone();
    pol.es10_writable = true;
    bed.s.authz_mut().set_policy(pol).unwrap();
    bed.unchanged(|bed| assert_eq!(set(bed, &open), codec::vendor_result::DISALLOWED_BY_POLICY));
    let req = bed.full_request(Operation::Policy, &[]);
    assert_eq!(bed.authorise(&req), res::OK);
    bed.unchanged(|bed| {
        assert_eq!(
            set(bed, "{\"version\":1,\"bogus\":1}"),
            codec::vendor_result::INVALID_POLICY
        )
    });
    let req = bed.full_request(Operation::Policy, &[]);
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(set(&mut bed, &open), codec::vendor_result::OK);
    assert_eq!(bed.s.authz().policy(), &AuthzPolicy::default());
}

#[test]
fn firmware_update_is_gated() {
    let Some(mut bed) = bed() else { return };
    let fw = |bed: &mut Bed| {
        let data = ok(
            &mut bed.s,
            &codec::firmware_update_request(Some(&[1, 2, 3])),
        );
        codec::parse_result_response(codec::tags::FIRMWARE_UPDATE, &data).unwrap()
    };
    assert_eq!(fw(&mut bed), codec::vendor_result::DISALLOWED_BY_POLICY);
    let req = bed.full_request(Operation::Firmware, &[]);
    assert_eq!(bed.authorise(&req), res::OK);
    assert_eq!(fw(&mut bed), codec::vendor_result::OK);
}

#[test]
fn malformed_vendor_commands_are_refused_without_change() {
    let Some(mut bed) = bed() else { return };
    let b = bed.b.clone();
    let good = bed.full_request(Operation::Enable, &b).encode();
    let mut cases: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    let mut trailing = good.clone();
    trailing.push(0);
    cases.push(trailing);
    cases.push(codec::vendor_command(
        0xFF23,
        &[0x80, 0x01, 0x63, 0x81, 0x01, 0x00],
    ));
    cases.push(codec::vendor_command(0xFF22, &[0x80, 0x00]));
    cases.push(codec::vendor_command(0xFF24, &[0x5A, 0x00]));
    bed.unchanged(|bed| {
        for c in &cases {
            let r = isdr::handle(&mut bed.s, c);
            assert_ne!(r.sw, Sw::OK, "{}", hex::encode_upper(c));
        }
        assert_eq!(bed.enable(&b), enable_result::DISALLOWED_BY_POLICY);
    });
}

// --- golden files of the persisted records ---------------------------------------------------

fn golden<T>(name: &str, value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
    let bytes = serde_json::to_vec(value).unwrap();
    let golden = match std::fs::read(&path) {
        Ok(g) => g,
        Err(_) if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") => {
            std::fs::write(&path, &bytes).unwrap();
            bytes.clone()
        }
        Err(e) => panic!(
            "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        ),
    };
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(&golden),
        "{name}: the serialised form changed"
    );
    let back: T = serde_json::from_slice(&golden).unwrap();
    assert_eq!(&back, value);
}

#[test]
fn persisted_authz_records_match_their_golden_files() {
    let mut p = AuthzPolicy::default();
    p.rules.insert(Operation::Install, Requirement::User);
    p.rules.insert(Operation::Enable, Requirement::Both);
    p.rules.insert(Operation::MemoryReset, Requirement::Intent);
    p.profiles.insert(
        "8949449999999990023".into(),
        BTreeMap::from([(Operation::Delete, Requirement::None)]),
    );
    p.emergency_iccids = vec!["8949449999999990031".into()];
    p.account_keys = vec![format!("04{}", "11".repeat(64))];
    p.intent_keys = vec![format!("04{}", "22".repeat(64))];
    golden("authz_policy", &p);
    golden("authz_policy_default", &AuthzPolicy::default());
    golden(
        "authz_clock",
        &AuthzClock {
            version: FORMAT_VERSION,
            last_time: NOW,
        },
    );
    golden(
        "authz_link",
        &AccountLink {
            version: FORMAT_VERSION,
            iccid: hex::decode("984944999999990920F3").unwrap(),
            account: "alice".into(),
            linked_at: NOW,
        },
    );
}

#[test]
fn policy_of_another_format_version_or_with_unknown_fields_is_refused() {
    assert!(AuthzPolicy::from_json(br#"{"version":2}"#).is_err());
    assert!(AuthzPolicy::from_json(br#"{"version":1,"extra":true}"#).is_err());
    assert!(AuthzPolicy::from_json(br#"{"version":1,"account_keys":["04AB"]}"#).is_err());
    assert!(AuthzPolicy::from_json(br#"{"version":1,"rules":{"enable":"sometimes"}}"#).is_err());
    assert!(AuthzPolicy::from_json(br#"{"version":1,"nonce_lifetime":0}"#).is_err());
    assert!(AuthzPolicy::from_json(br#"{"version":1}"#).is_ok());
}
