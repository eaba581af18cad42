//! Certificate chain validation (`rsp::cert`) against the SGP.26 test PKI and
//! freshly minted PKIs, positives and each refusal with its SGP.22 code.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::OctetString;
use der::oid::AssociatedOid;
use der::Encode;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsp::cert::{
    authenticate_error, download_error, ecdsa_signature_from_der, verify_chain,
    verify_chain_for_roles, verify_chain_for_roles_with, verify_chain_with, Cert, CertError,
    ChainLevel, RawOid, Role, ES9_CI_UNKNOWN, ES9_EUICC_EXPIRED, ES9_EUICC_INVALID,
    ES9_EUM_EXPIRED, ES9_EUM_INVALID,
};
use rsp::crypto::awslc::AwsLc;
use rsp::crypto::rustcrypto::RustCrypto;
use rsp::crypto::CryptoProvider;
use rsp::keys::EcKey;
use rsp::pki::{self, oid, DpIdentity, EuiccSpec, EumSpec, Identity, TestCi};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

const SGP26_CI_SKI: &str = "F54172BDF98A95D65CBEB88A38A1C11D800A85C3";
const SGP26_EID: &str = "89049032123451234512345678901235";

// 2020-01-01, 2021-01-01, 2024-01-01, 2026-01-01, 2027-01-01, 2030-01-01,
// 2040-01-01, 2099-12-31T23:59:59Z.
const T2020: u64 = 1_577_836_800;
const T2021: u64 = 1_609_459_200;
const T2024: u64 = 1_704_067_200;
const T2026: u64 = 1_767_225_600;
const T2027: u64 = 1_798_761_600;
const T2030: u64 = 1_893_456_000;
const T2040: u64 = 2_208_988_800;
const T2099: u64 = 4_102_444_799;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The "now" of most tests: 2027-01-01, when the SGP.26 DP certificates
/// (to 2030) are valid and the SGP.26 TLS certificate (to 2026-08-02) is not.
fn now() -> SystemTime {
    at(T2027)
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn sgp26() -> Option<PathBuf> {
    let base = std::env::var_os("VEUICC_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"));
    let dir = base.join("sgp26");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: SGP.26 test data not found at {} (set VEUICC_TESTDATA)",
            dir.display()
        );
        None
    }
}

fn load(dir: &Path, name: &str) -> Cert {
    let der = std::fs::read(dir.join(name)).unwrap();
    Cert::from_der(&der).unwrap()
}

fn parse(der: &[u8]) -> Cert {
    Cert::from_der(der).unwrap()
}

fn eid() -> [u8; 16] {
    pki::eid_from_hex(SGP26_EID).unwrap()
}

fn minted_pki(seed: u64) -> (Identity, TestCi) {
    pki::mint_test_pki(eid(), &mut rng(seed), at(T2024), at(T2099)).unwrap()
}

fn euicc_chain(id: &Identity) -> (Cert, Vec<Cert>, Vec<Cert>) {
    (
        parse(&id.euicc_cert),
        vec![parse(&id.eum_cert)],
        vec![parse(&id.ci_cert)],
    )
}

// ---------------------------------------------------------------------------
// Crafting certificates the minting API deliberately cannot produce
// ---------------------------------------------------------------------------

struct Fixed {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Fixed {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

fn ext<T: Encode>(id: der::asn1::ObjectIdentifier, critical: bool, value: &T) -> Extension {
    Extension {
        extn_id: id,
        critical,
        extn_value: OctetString::new(value.to_der().unwrap()).unwrap(),
    }
}

fn ski_ext(public: &[u8; 65]) -> Extension {
    let ski = SubjectKeyIdentifier(OctetString::new(pki::key_identifier(public)).unwrap());
    ext(SubjectKeyIdentifier::OID, false, &ski)
}

fn aki_ext(key_id: &[u8]) -> Extension {
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id).unwrap()),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    ext(AuthorityKeyIdentifier::OID, false, &aki)
}

fn ku_ext(usage: der::flagset::FlagSet<KeyUsages>) -> Extension {
    ext(KeyUsage::OID, true, &KeyUsage(usage))
}

fn policy_ext(role: Role) -> Extension {
    let cp = CertificatePolicies(vec![PolicyInformation {
        policy_identifier: role.policy_oid(),
        policy_qualifiers: None,
    }]);
    ext(CertificatePolicies::OID, true, &cp)
}

/// subjectAltName { registeredID 2.999.10 }.
fn san_rid_ext() -> Extension {
    Extension {
        extn_id: der::asn1::ObjectIdentifier::new_unwrap("2.5.29.17"),
        critical: false,
        extn_value: OctetString::new(vec![0x30, 0x05, 0x88, 0x03, 0x88, 0x37, 0x0A]).unwrap(),
    }
}

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// Signs a certificate for `public` with `issuer_key`, with exactly the given
/// names and extensions.
fn craft(
    issuer_key: &EcKey,
    issuer: Name,
    subject: Name,
    public: &[u8; 65],
    extensions: Vec<Extension>,
) -> Vec<u8> {
    let validity = Validity::new(
        Time::try_from(at(T2024)).unwrap(),
        Time::try_from(at(T2040)).unwrap(),
    );
    let pk = p256::PublicKey::from_sec1_bytes(public).unwrap();
    let spki = SubjectPublicKeyInfoOwned::from_key(&pk).unwrap();
    let profile = Fixed {
        issuer,
        subject,
        extensions,
    };
    let serial = SerialNumber::new(&[0x42, 0x01]).unwrap();
    let builder = CertificateBuilder::new(profile, serial, validity, spki).unwrap();
    builder
        .build::<_, p256::ecdsa::DerSignature>(&issuer_key.signing_key())
        .unwrap()
        .to_der()
        .unwrap()
}

/// A DPauth-shaped certificate for a fresh key, issued under `issuer_key`
/// with the given AKI and issuer name.
fn craft_dpauth(issuer_key: &EcKey, issuer: Name, aki: &[u8], extra: Vec<Extension>) -> Vec<u8> {
    let key = EcKey::generate(&mut rng(77));
    let public = key.public_key_uncompressed();
    let mut extensions = vec![
        aki_ext(aki),
        ski_ext(&public),
        san_rid_ext(),
        ku_ext(KeyUsages::DigitalSignature.into()),
        policy_ext(Role::DpAuth),
    ];
    extensions.extend(extra);
    craft(
        issuer_key,
        issuer,
        name("O=ACME,CN=crafted"),
        &public,
        extensions,
    )
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// The certificate view exposes every field the RSP profiles use, read from
/// the published SGP.26 files.
#[test]
fn sgp26_certificate_views() {
    let Some(dir) = sgp26() else { return };
    let ci = load(&dir, "CERT_CI_ECDSA_NIST.der");
    assert_eq!(hex::encode_upper(ci.ski().unwrap()), SGP26_CI_SKI);
    assert_eq!(ci.aki(), None);
    assert!(ci.is_self_issued());
    assert_eq!(ci.roles(), vec![Role::Ci]);
    assert!(ci.is_ca());
    assert_eq!(ci.basic_constraints().unwrap().path_len_constraint, None);
    assert!(ci.key_usage().unwrap().key_cert_sign());
    assert_eq!(ci.san_registered_id().unwrap().dotted(), "2.999.1");
    assert_eq!(ci.curve(), Some(oid::PRIME256V1));
    assert_eq!(ci.public_key().unwrap()[0], 0x04);
    assert_eq!(ci.signature_algorithm(), oid::ECDSA_WITH_SHA256);
    assert_eq!(ci.subject(), ci.issuer());
    assert_eq!(ci.subject_organization().as_deref(), Some("RSPTEST"));
    assert!(ci.verify_signed_by(ci.public_key().unwrap()));
    // INTEGER content octets: a positive value keeps its leading 00.
    assert_eq!(
        ci.serial_number(),
        hex::decode("00B874F3ABFA6C44D3").unwrap()
    );
    // 2020-04-01T08:27:51Z .. 2055-04-01T08:27:51Z
    assert_eq!(ci.not_before(), 1_585_729_671);
    assert_eq!(ci.not_after(), 2_690_180_871);
    assert_eq!(
        ci.der(),
        std::fs::read(dir.join("CERT_CI_ECDSA_NIST.der")).unwrap()
    );
    assert_eq!(ci.tbs()[0], 0x30);

    let eum = load(&dir, "CERT_EUM_ECDSA_NIST.der");
    assert_eq!(eum.aki(), ci.ski());
    assert_eq!(eum.roles(), vec![Role::Eum]);
    assert_eq!(eum.serial_number(), [0x12, 0x34, 0x56, 0x78]);
    assert_eq!(
        eum.basic_constraints().unwrap().path_len_constraint,
        Some(0)
    );
    assert_eq!(eum.san_registered_id().unwrap().dotted(), "2.999.5");
    assert_eq!(
        eum.san_registered_id().unwrap().content(),
        [0x88, 0x37, 0x05]
    );
    let nc = eum.name_constraints().unwrap();
    assert_eq!(nc.permitted.len(), 1);
    assert!(nc.excluded.is_empty());
    assert_eq!(nc.permitted[0].organization(), Some(pki::SGP26_EUM_ORG));
    assert_eq!(
        nc.permitted[0].serial_number_prefix(),
        Some(pki::SGP26_EID_PREFIX)
    );
    assert!(eum.verify_signed_by(ci.public_key().unwrap()));

    let auth = load(&dir, "CERT_S_SM_DPauth_ECDSA_NIST.der");
    assert_eq!(auth.roles(), vec![Role::DpAuth]);
    assert_eq!(
        auth.san_registered_id(),
        RawOid::from_dotted("2.999.10").as_ref()
    );
    assert!(auth.key_usage().unwrap().digital_signature());
    assert!(!auth.is_ca());
    assert_eq!(auth.subject_common_name().as_deref(), Some("TEST SM-DP+"));

    let tls = load(&dir, "CERT_S_SM_DP_TLS_NIST.der");
    assert_eq!(tls.roles(), vec![Role::DpTls]);
    assert_eq!(tls.san_dns_names(), [pki::SGP26_DP_HOST.to_owned()]);
    assert_eq!(tls.san_registered_id().unwrap().dotted(), "2.999.10");
    let eku: Vec<String> = tls
        .extended_key_usage()
        .unwrap()
        .iter()
        .map(RawOid::dotted)
        .collect();
    assert_eq!(eku, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);

    let brp = load(&dir, "CERT_CI_ECDSA_BRP.der");
    assert_eq!(brp.curve(), Some(oid::BRAINPOOL_P256R1));
    assert_eq!(brp.public_key(), None);
    assert_eq!(
        hex::encode_upper(brp.ski().unwrap()),
        "C0BC70BA36929D43B467FF57570530E57AB8FCD8"
    );
}

#[test]
fn malformed_input_refused() {
    for bad in [&[][..], &[0x30, 0x00], &[0x04, 0x01, 0x00]] {
        assert!(matches!(Cert::from_der(bad), Err(CertError::Malformed(_))));
    }
    let (id, _) = minted_pki(1);
    let mut trailing = id.euicc_cert.clone();
    trailing.push(0);
    assert!(matches!(
        Cert::from_der(&trailing),
        Err(CertError::Malformed(_))
    ));
    let truncated = &id.euicc_cert[..id.euicc_cert.len() - 1];
    assert!(matches!(
        Cert::from_der(truncated),
        Err(CertError::Malformed(_))
    ));
}

// ---------------------------------------------------------------------------
// Chains that validate
// ---------------------------------------------------------------------------

/// The published SGP.26 DPauth/DPpb certificates (both SM-DP+ identities)
/// validate under the SGP.26 CI with their roles and SM-DP+ OIDs.
#[test]
fn sgp26_dp_certs_validate_with_their_roles() {
    let Some(dir) = sgp26() else { return };
    let ci = load(&dir, "CERT_CI_ECDSA_NIST.der");
    for (file, role, rid) in [
        ("CERT_S_SM_DPauth_ECDSA_NIST.der", Role::DpAuth, "2.999.10"),
        ("CERT_S_SM_DPpb_ECDSA_NIST.der", Role::DpPb, "2.999.10"),
        ("CERT_S_SM_DP2auth_ECDSA_NIST.der", Role::DpAuth, "2.999.12"),
        ("CERT_S_SM_DP2pb_ECDSA_NIST.der", Role::DpPb, "2.999.12"),
    ] {
        let leaf = load(&dir, file);
        let chain = verify_chain(&leaf, &[], std::slice::from_ref(&ci), role, now())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(chain.leaf_role(), role);
        assert_eq!(hex::encode_upper(chain.ci_pkid()), SGP26_CI_SKI);
        assert_eq!(chain.registered_id().unwrap().dotted(), rid);
        assert!(chain.intermediates().is_empty());
        assert_eq!(chain.ci(), &ci);
        assert_eq!(&chain.leaf_public_key(), leaf.public_key().unwrap());
    }

    // AuthenticateServer accepts DPauth or DSauth.
    let auth = load(&dir, "CERT_S_SM_DPauth_ECDSA_NIST.der");
    let chain = verify_chain_for_roles(
        &auth,
        &[],
        std::slice::from_ref(&ci),
        &[Role::DpAuth, Role::DsAuth],
        now(),
    )
    .unwrap();
    assert_eq!(chain.leaf_role(), Role::DpAuth);

    // Among several trusted CIs the right one is found by key identifier.
    let (other, _) = minted_pki(2);
    let trusted = [
        load(&dir, "CERT_CI_ECDSA_BRP.der"),
        parse(&other.ci_cert),
        ci.clone(),
    ];
    let chain = verify_chain(&auth, &[], &trusted, Role::DpAuth, now()).unwrap();
    assert_eq!(chain.ci(), &ci);
}

/// Chaining is by key identifier: a re-issued CI certificate with the same key
/// and a different name (as SGP.26 did in 2020) anchors the same chains.
#[test]
fn reissued_ci_with_same_key_still_anchors() {
    let Some(dir) = sgp26() else { return };
    let ci_key = EcKey::read_pem_file(dir.join(pki::SGP26_CI_KEY)).unwrap();
    let reissued = pki::mint_ci_cert(
        &ci_key,
        &pki::CiSpec {
            organization: "Re-issued",
            common_name: "Not the SGP.26 name",
            registered_id: oid::TEST_CI_RID,
        },
        &mut rng(3),
        at(T2024),
        at(T2099),
    )
    .unwrap();
    let reissued = parse(&reissued);
    let auth = load(&dir, "CERT_S_SM_DPauth_ECDSA_NIST.der");
    assert_ne!(auth.issuer(), reissued.subject());
    assert_eq!(hex::encode_upper(reissued.ski().unwrap()), SGP26_CI_SKI);
    let chain = verify_chain(
        &auth,
        &[],
        std::slice::from_ref(&reissued),
        Role::DpAuth,
        now(),
    )
    .unwrap();
    assert_eq!(chain.ci(), &reissued);
}

/// An eUICC minted under the SGP.26 EUM (identity_from_sgp26) validates: the
/// EUM's GSMA name constraint (O + EID prefix) is satisfied.
#[test]
fn sgp26_euicc_chain_validates() {
    let Some(dir) = sgp26() else { return };
    let id = pki::identity_from_sgp26(&dir, eid(), &mut rng(4), at(T2024), at(T2099)).unwrap();
    let (leaf, eum, ci) = euicc_chain(&id);
    let chain = verify_chain(&leaf, &eum, &ci, Role::Euicc, now()).unwrap();
    assert_eq!(chain.eid(), Some(eid()));
    assert_eq!(chain.intermediates(), &eum[..]);
    assert_eq!(hex::encode_upper(chain.ci_pkid()), SGP26_CI_SKI);
    assert_eq!(
        chain.leaf_public_key(),
        id.euicc_key.public_key_uncompressed()
    );

    // Intermediates may come in any order, with unrelated ones among them.
    let auth = load(&dir, "CERT_S_SM_DPauth_ECDSA_NIST.der");
    let mixed = [auth.clone(), eum[0].clone()];
    verify_chain(&leaf, &mixed, &ci, Role::Euicc, now()).unwrap();

    // Without the EUM certificate the eUICC's AKI leads nowhere.
    let err = verify_chain(&leaf, &[], &ci, Role::Euicc, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::UnknownCi {
            aki: eum[0].ski().unwrap().to_vec()
        }
    );

    // An eUICC certificate is not a DPauth certificate.
    let err = verify_chain(&leaf, &eum, &ci, Role::DpAuth, now()).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::WrongRole {
                level: ChainLevel::Leaf,
                expected: Role::DpAuth,
                ..
            }
        ),
        "{err:?}"
    );
}

/// A fully minted PKI: the eUICC chain and the SM-DP+ certificates from
/// mint_dp_certs all validate with their roles.
#[test]
fn minted_pki_chains_validate() {
    let (id, ci) = minted_pki(5);
    let (leaf, eum, cis) = euicc_chain(&id);
    let chain = verify_chain(&leaf, &eum, &cis, Role::Euicc, now()).unwrap();
    assert_eq!(chain.eid(), Some(eid()));
    assert_eq!(chain.ci_pkid(), id.ci_ski());

    let host = "smdp.example.org";
    let dp = pki::mint_dp_certs(
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng(6),
        at(T2024),
        at(T2099),
        None,
        host,
    )
    .unwrap();
    check_dp_identity(&dp, &cis, "2.999.10", host);
    assert_eq!(dp.dp_oid(), Some(vec![0x88, 0x37, 0x0A]));
    let auth = parse(&dp.auth_cert);
    assert_eq!(
        auth.subject_organization().as_deref(),
        Some(pki::TEST_DP_ORG)
    );
    assert_eq!(auth.subject_common_name().as_deref(), Some(pki::TEST_DP_CN));
    let tls = parse(&dp.tls_cert);
    assert_eq!(tls.subject_common_name().as_deref(), Some(host));

    // Another SM-DP+ OID.
    let dp2 = pki::mint_dp_certs(
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng(7),
        at(T2024),
        at(T2099),
        Some("2.999.77"),
        host,
    )
    .unwrap();
    check_dp_identity(&dp2, &cis, "2.999.77", host);
}

fn check_dp_identity(dp: &DpIdentity, cis: &[Cert], rid: &str, host: &str) {
    for (der, key, role) in [
        (&dp.auth_cert, &dp.auth_key, Role::DpAuth),
        (&dp.pb_cert, &dp.pb_key, Role::DpPb),
        (&dp.tls_cert, &dp.tls_key, Role::DpTls),
    ] {
        let leaf = parse(der);
        let chain =
            verify_chain(&leaf, &[], cis, role, now()).unwrap_or_else(|e| panic!("{role}: {e}"));
        assert_eq!(chain.registered_id().unwrap().dotted(), rid, "{role}");
        assert_eq!(
            chain.leaf_public_key(),
            key.public_key_uncompressed(),
            "{role}"
        );
        assert_eq!(leaf.roles(), vec![role]);
    }
    let tls = parse(&dp.tls_cert);
    assert_eq!(tls.san_dns_names(), [host.to_owned()]);
    let eku = tls.extended_key_usage().unwrap();
    assert!(eku.iter().any(|p| p.is(&rsp::cert::ID_KP_SERVER_AUTH)));
    assert!(tls.key_usage().unwrap().digital_signature());
    // DPauth is not usable as DPpb and vice versa.
    let auth = parse(&dp.auth_cert);
    assert!(verify_chain(&auth, &[], cis, Role::DpPb, now()).is_err());
}

/// load_sgp26_dp: the published DPauth/DPpb plus a fresh TLS certificate under
/// the SGP.26 CI; all three validate.
#[test]
fn load_sgp26_dp_identity() {
    let Some(dir) = sgp26() else { return };
    let dp = pki::load_sgp26_dp(&dir, &mut rng(8), at(T2024), at(T2099)).unwrap();
    assert_eq!(
        dp.auth_cert,
        std::fs::read(dir.join(pki::SGP26_DPAUTH_CERT)).unwrap()
    );
    assert_eq!(
        dp.pb_cert,
        std::fs::read(dir.join(pki::SGP26_DPPB_CERT)).unwrap()
    );
    let ci = [load(&dir, pki::SGP26_CI_CERT)];
    check_dp_identity(&dp, &ci, "2.999.10", pki::SGP26_DP_HOST);
    let tls = parse(&dp.tls_cert);
    assert_eq!(hex::encode_upper(tls.aki().unwrap()), SGP26_CI_SKI);
    assert_eq!(
        tls.subject_organization().as_deref(),
        Some(pki::SGP26_DP_ORG)
    );
    // Valid today and in 2027, unlike the published one.
    verify_chain(&tls, &[], &ci, Role::DpTls, SystemTime::now()).unwrap();
}

// ---------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------

/// A flipped bit in the signature or in the signed bytes is caught.
#[test]
fn tampered_signature_refused() {
    let (id, ci) = minted_pki(9);
    let cis = [parse(&id.ci_cert)];
    let dp = pki::mint_dp_certs(
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng(10),
        at(T2024),
        at(T2099),
        None,
        "h.example",
    )
    .unwrap();

    // Last byte of the DER = last byte of the signature's s.
    let mut bad_sig = dp.auth_cert.clone();
    *bad_sig.last_mut().unwrap() ^= 0x01;
    let err = verify_chain(&parse(&bad_sig), &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::BadSignature {
            level: ChainLevel::Leaf
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::INVALID_CERTIFICATE
    );
    assert_eq!(
        err.download_error_code(),
        download_error::INVALID_CERTIFICATE
    );

    // A changed byte in the subject CN (inside the tbsCertificate).
    let cn = pki::TEST_DP_CN.as_bytes();
    let mut bad_tbs = dp.auth_cert.clone();
    let pos = bad_tbs.windows(cn.len()).position(|w| w == cn).unwrap();
    bad_tbs[pos] ^= 0x20;
    let err = verify_chain(&parse(&bad_tbs), &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::BadSignature {
            level: ChainLevel::Leaf
        }
    );

    // A tampered EUM in an eUICC chain is reported at the EUM's level.
    let mut bad_eum = id.eum_cert.clone();
    *bad_eum.last_mut().unwrap() ^= 0x01;
    let err = verify_chain(
        &parse(&id.euicc_cert),
        &[parse(&bad_eum)],
        &cis,
        Role::Euicc,
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        CertError::BadSignature {
            level: ChainLevel::Intermediate(0)
        }
    );
    assert_eq!(err.authenticate_client_status(), ES9_EUM_INVALID);
}

/// The SGP.26 tampered-file variant: the published DPauth with a flipped
/// signature bit.
#[test]
fn sgp26_tampered_dpauth_refused() {
    let Some(dir) = sgp26() else { return };
    let mut der = std::fs::read(dir.join(pki::SGP26_DPAUTH_CERT)).unwrap();
    *der.last_mut().unwrap() ^= 0x80;
    let ci = [load(&dir, pki::SGP26_CI_CERT)];
    let err = verify_chain(&parse(&der), &[], &ci, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::BadSignature {
            level: ChainLevel::Leaf
        }
    );
}

/// DPpb presented where DPauth is expected (and vice versa): invalidOid for
/// AuthenticateServer, invalidCertificate for PrepareDownload.
#[test]
fn wrong_policy_refused() {
    let Some(dir) = sgp26() else { return };
    let ci = [load(&dir, pki::SGP26_CI_CERT)];
    let pb = load(&dir, pki::SGP26_DPPB_CERT);
    let err = verify_chain(&pb, &[], &ci, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::WrongRole {
            level: ChainLevel::Leaf,
            expected: Role::DpAuth,
            found: vec!["2.23.146.1.2.1.5".to_owned()],
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::INVALID_OID
    );
    assert_eq!(
        err.download_error_code(),
        download_error::INVALID_CERTIFICATE
    );

    let err =
        verify_chain_for_roles(&pb, &[], &ci, &[Role::DpAuth, Role::DsAuth], now()).unwrap_err();
    assert!(matches!(
        err,
        CertError::WrongRole {
            expected: Role::DpAuth,
            ..
        }
    ));

    let auth = load(&dir, pki::SGP26_DPAUTH_CERT);
    let err = verify_chain(&auth, &[], &ci, Role::DpPb, now()).unwrap_err();
    assert!(matches!(
        err,
        CertError::WrongRole {
            expected: Role::DpPb,
            ..
        }
    ));
    assert_eq!(
        err.download_error_code(),
        download_error::INVALID_CERTIFICATE
    );
}

/// The published SGP.26 TLS certificate expired on 2026-08-02T13:14:38Z.
#[test]
fn sgp26_tls_certificate_expired() {
    let Some(dir) = sgp26() else { return };
    let ci = [load(&dir, pki::SGP26_CI_CERT)];
    let tls = load(&dir, "CERT_S_SM_DP_TLS_NIST.der");
    // Still fine in early 2026: the only problem is the date.
    verify_chain(&tls, &[], &ci, Role::DpTls, at(T2026)).unwrap();
    let err = verify_chain(&tls, &[], &ci, Role::DpTls, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::Expired {
            level: ChainLevel::Leaf,
            not_after: 1_785_676_478,
            now: T2027,
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::INVALID_CERTIFICATE
    );
    // Inclusive bounds: valid at its notAfter second, expired one second later.
    verify_chain(&tls, &[], &ci, Role::DpTls, at(1_785_676_478)).unwrap();
    assert!(verify_chain(&tls, &[], &ci, Role::DpTls, at(1_785_676_479)).is_err());
}

/// Minted certificates with past or future validity, at every level.
#[test]
fn expired_and_not_yet_valid_refused() {
    let (id, ci) = minted_pki(11);
    let cis = [parse(&id.ci_cert)];
    let mint_dp = |nb, na| {
        pki::mint_dp_certs(
            &ci.ci_key,
            &ci.ci_cert,
            &mut rng(12),
            at(nb),
            at(na),
            None,
            "h",
        )
        .unwrap()
    };
    let past = parse(&mint_dp(T2020, T2021).auth_cert);
    let err = verify_chain(&past, &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::Expired {
            level: ChainLevel::Leaf,
            not_after: T2021,
            now: T2027
        }
    );
    assert_eq!(
        err.download_error_code(),
        download_error::INVALID_CERTIFICATE
    );

    let future = parse(&mint_dp(T2030, T2040).pb_cert);
    let err = verify_chain(&future, &[], &cis, Role::DpPb, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::NotYetValid {
            level: ChainLevel::Leaf,
            not_before: T2030,
            now: T2027
        }
    );
    assert_eq!(
        err.download_error_code(),
        download_error::INVALID_CERTIFICATE
    );
    // Inclusive: valid from its notBefore second.
    verify_chain(&future, &[], &cis, Role::DpPb, at(T2030)).unwrap();

    // An expired eUICC certificate: ES9+ 8.1.3 / 6.3.
    let key = EcKey::generate(&mut rng(13));
    let old_euicc = pki::mint_euicc_cert(
        &key.public_key_uncompressed(),
        &EuiccSpec {
            organization: pki::TEST_EUM_ORG,
            common_name: pki::TEST_EUICC_CN,
            eid: eid(),
        },
        &ci.eum_key,
        &ci.eum_cert,
        &mut rng(14),
        at(T2020),
        at(T2021),
    )
    .unwrap();
    let err = verify_chain(
        &parse(&old_euicc),
        &[parse(&id.eum_cert)],
        &cis,
        Role::Euicc,
        now(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        CertError::Expired {
            level: ChainLevel::Leaf,
            ..
        }
    ));
    assert_eq!(err.authenticate_client_status(), ES9_EUICC_EXPIRED);

    // An expired EUM certificate: ES9+ 8.1.2 / 6.3.
    let old_eum = pki::mint_eum_cert(
        &ci.eum_key.public_key_uncompressed(),
        &EumSpec {
            organization: pki::TEST_EUM_ORG,
            common_name: pki::TEST_EUM_CN,
            registered_id: oid::TEST_EUM_RID,
            permitted: Some((pki::TEST_EUM_ORG, "89049032")),
        },
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng(15),
        at(T2020),
        at(T2021),
    )
    .unwrap();
    let err = verify_chain(
        &parse(&id.euicc_cert),
        &[parse(&old_eum)],
        &cis,
        Role::Euicc,
        now(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        CertError::Expired {
            level: ChainLevel::Intermediate(0),
            ..
        }
    ));
    assert_eq!(err.authenticate_client_status(), ES9_EUM_EXPIRED);

    // An expired CI.
    let (old, _) = pki::mint_test_pki(eid(), &mut rng(16), at(T2020), at(T2021)).unwrap();
    let (leaf, eum, cis) = euicc_chain(&old);
    let err = verify_chain(&leaf, &eum, &cis, Role::Euicc, now()).unwrap_err();
    assert!(matches!(
        err,
        CertError::Expired {
            level: ChainLevel::Ci,
            ..
        }
    ));
    assert_eq!(err.authenticate_client_status(), ES9_CI_UNKNOWN);
}

/// A chain leading to a CI the verifier does not trust: ciPKUnknown (7) for
/// AuthenticateServer, 8.11.1 / 3.9 for ES9+.AuthenticateClient.
#[test]
fn unknown_ci_refused() {
    let (a, _) = minted_pki(17);
    let (b, _) = minted_pki(18);
    let (leaf, eum, _) = euicc_chain(&a);
    let trusted_b = [parse(&b.ci_cert)];
    let err = verify_chain(&leaf, &eum, &trusted_b, Role::Euicc, now()).unwrap_err();
    assert_eq!(err, CertError::UnknownCi { aki: a.ci_ski() });
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::CI_PK_UNKNOWN
    );
    assert_eq!(
        err.download_error_code(),
        download_error::INVALID_CERTIFICATE
    );
    assert_eq!(err.authenticate_client_status(), ES9_CI_UNKNOWN);

    // Supplying the untrusted CI as an "intermediate" does not help.
    let with_root = [eum[0].clone(), parse(&a.ci_cert)];
    let err = verify_chain(&leaf, &with_root, &trusted_b, Role::Euicc, now()).unwrap_err();
    assert_eq!(err, CertError::UnknownCi { aki: a.ci_ski() });

    // The SGP.26 DPauth against a minted CI.
    if let Some(dir) = sgp26() {
        let auth = load(&dir, pki::SGP26_DPAUTH_CERT);
        let err = verify_chain(&auth, &[], &trusted_b, Role::DpAuth, now()).unwrap_err();
        assert_eq!(
            err,
            CertError::UnknownCi {
                aki: hex::decode(SGP26_CI_SKI).unwrap()
            }
        );
    }
}

/// A certificate that chains (by AKI) to the brainpoolP256r1 CI: unsupported
/// curve (3) for both AuthenticateServer and PrepareDownload.
#[test]
fn brainpool_ci_unsupported_curve() {
    let Some(dir) = sgp26() else { return };
    let brp = load(&dir, "CERT_CI_ECDSA_BRP.der");
    // We cannot sign with the brainpool key; the curve is refused before the
    // signature is looked at.
    let signer = EcKey::generate(&mut rng(19));
    let leaf = parse(&craft_dpauth(
        &signer,
        brp.subject().clone(),
        brp.ski().unwrap(),
        vec![],
    ));
    let err =
        verify_chain(&leaf, &[], std::slice::from_ref(&brp), Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::UnsupportedCurve {
            level: ChainLevel::Ci,
            curve: "1.3.36.3.3.2.8.1.1.7".to_owned()
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::UNSUPPORTED_CURVE
    );
    assert_eq!(err.download_error_code(), download_error::UNSUPPORTED_CURVE);
}

/// An eUICC certificate whose EID is outside the EUM's permitted prefix. It is
/// minted under a copy of the EUM (same key) without the name constraint, then
/// presented with the constrained EUM.
#[test]
fn eid_outside_permitted_prefix_refused() {
    let (id, ci) = minted_pki(20);
    let cis = [parse(&id.ci_cert)];
    let other = pki::eid_with_check_digits("890490990000000000000000000001").unwrap();
    let rogue = rogue_euicc(
        &ci.ci_key,
        &ci.ci_cert,
        &ci.eum_key,
        pki::TEST_EUM_ORG,
        other,
    );
    let err = verify_chain(
        &parse(&rogue.1),
        &[parse(&id.eum_cert)],
        &cis,
        Role::Euicc,
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        CertError::EidNotPermitted {
            level: ChainLevel::Leaf,
            found: Some(pki::eid_to_string(&other)),
            prefix: "89049032".to_owned(),
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::INVALID_CERTIFICATE
    );
    assert_eq!(err.authenticate_client_status(), ES9_EUICC_INVALID);
    // Only the constraint refuses it: with the unconstrained EUM copy it validates.
    verify_chain(
        &parse(&rogue.1),
        &[parse(&rogue.0)],
        &cis,
        Role::Euicc,
        now(),
    )
    .unwrap();

    // The same against the published SGP.26 EUM (permits 89049032*).
    if let Some(dir) = sgp26() {
        let ci_key = EcKey::read_pem_file(dir.join(pki::SGP26_CI_KEY)).unwrap();
        let ci_der = std::fs::read(dir.join(pki::SGP26_CI_CERT)).unwrap();
        let eum_key = EcKey::read_pem_file(dir.join(pki::SGP26_EUM_KEY)).unwrap();
        let (_, euicc) = rogue_euicc(&ci_key, &ci_der, &eum_key, pki::SGP26_EUM_ORG, other);
        let err = verify_chain(
            &parse(&euicc),
            &[load(&dir, pki::SGP26_EUM_CERT)],
            &[parse(&ci_der)],
            Role::Euicc,
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, CertError::EidNotPermitted { prefix, .. } if prefix == pki::SGP26_EID_PREFIX),
            "{err:?}"
        );
    }
}

/// An eUICC certificate whose O differs from the EUM's permitted O.
#[test]
fn wrong_organization_refused() {
    let (id, ci) = minted_pki(21);
    let (_, rogue) = rogue_euicc(&ci.ci_key, &ci.ci_cert, &ci.eum_key, "Someone Else", eid());
    let err = verify_chain(
        &parse(&rogue),
        &[parse(&id.eum_cert)],
        &[parse(&id.ci_cert)],
        Role::Euicc,
        now(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        CertError::OrganizationNotPermitted {
            level: ChainLevel::Leaf,
            found: Some("Someone Else".to_owned()),
            permitted: pki::TEST_EUM_ORG.to_owned(),
        }
    );
    assert_eq!(err.authenticate_client_status(), ES9_EUICC_INVALID);
}

/// (EUM copy without name constraint, eUICC under it) for `eum_key`.
fn rogue_euicc(
    ci_key: &EcKey,
    ci_cert: &[u8],
    eum_key: &EcKey,
    organization: &str,
    eid: [u8; 16],
) -> (Vec<u8>, Vec<u8>) {
    let eum = pki::mint_eum_cert(
        &eum_key.public_key_uncompressed(),
        &EumSpec {
            organization,
            common_name: "unconstrained copy",
            registered_id: oid::TEST_EUM_RID,
            permitted: None,
        },
        ci_key,
        ci_cert,
        &mut rng(22),
        at(T2024),
        at(T2099),
    )
    .unwrap();
    let key = EcKey::generate(&mut rng(23));
    let euicc = pki::mint_euicc_cert(
        &key.public_key_uncompressed(),
        &EuiccSpec {
            organization,
            common_name: pki::TEST_EUICC_CN,
            eid,
        },
        eum_key,
        &eum,
        &mut rng(24),
        at(T2024),
        at(T2099),
    )
    .unwrap();
    (eum, euicc)
}

/// An EUM certificate without `cA = TRUE` (or without keyCertSign) cannot
/// issue eUICC certificates.
#[test]
fn eum_without_ca_flag_refused() {
    let (id, ci) = minted_pki(25);
    let ci_cert = parse(&ci.ci_cert);
    let cis = [ci_cert.clone()];
    let eum_public = ci.eum_key.public_key_uncompressed();
    let make_eum = |bc: Option<BasicConstraints>, usage: der::flagset::FlagSet<KeyUsages>| {
        let mut extensions = vec![
            aki_ext(ci_cert.ski().unwrap()),
            ski_ext(&eum_public),
            ku_ext(usage),
            policy_ext(Role::Eum),
        ];
        if let Some(bc) = bc {
            extensions.push(ext(BasicConstraints::OID, true, &bc));
        }
        craft(
            &ci.ci_key,
            ci_cert.subject().clone(),
            name("O=veuicc Test EUM,CN=crafted EUM"),
            &eum_public,
            extensions,
        )
    };
    let euicc_under = |eum: &[u8]| {
        let der = pki::mint_euicc_cert(
            &id.euicc_key.public_key_uncompressed(),
            &EuiccSpec {
                organization: pki::TEST_EUM_ORG,
                common_name: pki::TEST_EUICC_CN,
                eid: eid(),
            },
            &ci.eum_key,
            eum,
            &mut rng(26),
            at(T2024),
            at(T2099),
        )
        .unwrap();
        verify_chain(&parse(&der), &[parse(eum)], &cis, Role::Euicc, now())
    };

    let not_ca = BasicConstraints {
        ca: false,
        path_len_constraint: None,
    };
    let ca = BasicConstraints {
        ca: true,
        path_len_constraint: Some(0),
    };
    let err = euicc_under(&make_eum(Some(not_ca), KeyUsages::KeyCertSign.into())).unwrap_err();
    assert_eq!(
        err,
        CertError::CaFlag {
            level: ChainLevel::Intermediate(0),
            is_ca: false
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::INVALID_CERTIFICATE
    );
    assert_eq!(err.authenticate_client_status(), ES9_EUM_INVALID);

    let err = euicc_under(&make_eum(None, KeyUsages::KeyCertSign.into())).unwrap_err();
    assert!(
        matches!(err, CertError::CaFlag { is_ca: false, .. }),
        "{err:?}"
    );

    let err = euicc_under(&make_eum(
        Some(ca.clone()),
        KeyUsages::DigitalSignature.into(),
    ))
    .unwrap_err();
    assert_eq!(
        err,
        CertError::KeyUsage {
            level: ChainLevel::Intermediate(0),
            required: "keyCertSign"
        }
    );

    // Control: the same crafting with cA and keyCertSign validates.
    euicc_under(&make_eum(Some(ca), KeyUsages::KeyCertSign.into())).unwrap();
}

/// Chaining is by AKI → SKI, not by names: a certificate signed by the CI key
/// and naming the CI as issuer, but whose AKI is not the CI's SKI, is refused.
#[test]
fn aki_not_matching_any_ci_refused() {
    let (id, ci) = minted_pki(27);
    let ci_cert = parse(&id.ci_cert);
    let cis = [ci_cert.clone()];
    let issuer = ci_cert.subject().clone();

    let good = parse(&craft_dpauth(
        &ci.ci_key,
        issuer.clone(),
        ci_cert.ski().unwrap(),
        vec![],
    ));
    verify_chain(&good, &[], &cis, Role::DpAuth, now()).unwrap();

    let wrong_aki = [0xAA; 20];
    let bad = parse(&craft_dpauth(
        &ci.ci_key,
        issuer.clone(),
        &wrong_aki,
        vec![],
    ));
    assert_eq!(bad.issuer(), ci_cert.subject());
    let err = verify_chain(&bad, &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::UnknownCi {
            aki: wrong_aki.to_vec()
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::CI_PK_UNKNOWN
    );

    // The right AKI but another key's signature.
    let impostor = EcKey::generate(&mut rng(28));
    let forged = parse(&craft_dpauth(
        &impostor,
        issuer,
        ci_cert.ski().unwrap(),
        vec![],
    ));
    let err = verify_chain(&forged, &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::BadSignature {
            level: ChainLevel::Leaf
        }
    );

    // No AKI at all.
    let key = EcKey::generate(&mut rng(29));
    let public = key.public_key_uncompressed();
    let no_aki = craft(
        &ci.ci_key,
        ci_cert.subject().clone(),
        name("CN=no aki"),
        &public,
        vec![
            ski_ext(&public),
            san_rid_ext(),
            ku_ext(KeyUsages::DigitalSignature.into()),
            policy_ext(Role::DpAuth),
        ],
    );
    let err = verify_chain(&parse(&no_aki), &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::MissingKeyIdentifier {
            level: ChainLevel::Leaf,
            which: "authorityKeyIdentifier"
        }
    );
}

/// Unknown critical extensions, missing SM-DP+ OIDs and wrong chain shapes.
#[test]
fn other_profile_violations_refused() {
    let (id, ci) = minted_pki(30);
    let ci_cert = parse(&id.ci_cert);
    let cis = [ci_cert.clone()];
    let issuer = ci_cert.subject().clone();
    let ski = ci_cert.ski().unwrap().to_vec();

    let unknown = Extension {
        extn_id: der::asn1::ObjectIdentifier::new_unwrap("1.2.3.4"),
        critical: true,
        extn_value: OctetString::new(vec![0x05, 0x00]).unwrap(),
    };
    let leaf = parse(&craft_dpauth(
        &ci.ci_key,
        issuer.clone(),
        &ski,
        vec![unknown],
    ));
    let err = verify_chain(&leaf, &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::UnsupportedCriticalExtension {
            level: ChainLevel::Leaf,
            oid: "1.2.3.4".to_owned()
        }
    );

    // A DPauth without subjectAltName registeredID: invalidOid.
    let key = EcKey::generate(&mut rng(31));
    let public = key.public_key_uncompressed();
    let no_rid = craft(
        &ci.ci_key,
        issuer.clone(),
        name("CN=no rid"),
        &public,
        vec![
            aki_ext(&ski),
            ski_ext(&public),
            ku_ext(KeyUsages::DigitalSignature.into()),
            policy_ext(Role::DpAuth),
        ],
    );
    let err = verify_chain(&parse(&no_rid), &[], &cis, Role::DpAuth, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::MissingRegisteredId {
            level: ChainLevel::Leaf
        }
    );
    assert_eq!(
        err.authenticate_error_code(),
        authenticate_error::INVALID_OID
    );

    // An eUICC certificate issued directly by the CI (no EUM).
    let direct = craft(
        &ci.ci_key,
        issuer,
        name("O=veuicc Test EUM,serialNumber=89049032123451234512345678901235,CN=direct"),
        &public,
        vec![
            aki_ext(&ski),
            ski_ext(&public),
            ku_ext(KeyUsages::DigitalSignature.into()),
            policy_ext(Role::Euicc),
        ],
    );
    let err = verify_chain(&parse(&direct), &[], &cis, Role::Euicc, now()).unwrap_err();
    assert_eq!(
        err,
        CertError::ChainLength {
            role: Role::Euicc,
            expected: 1,
            found: 0
        }
    );

    // A CI cannot be validated as a leaf.
    let err = verify_chain(&ci_cert, &[], &cis, Role::Ci, now()).unwrap_err();
    assert_eq!(err, CertError::UnsupportedLeafRole(Role::Ci));
}

// ---------------------------------------------------------------------------
// Signature checks through a crypto provider (`*_with`)
// ---------------------------------------------------------------------------

fn providers() -> [&'static dyn CryptoProvider; 2] {
    [&RustCrypto, &AwsLc]
}

/// Every chain the RustCrypto-only functions accept, the provider variants
/// accept too, with the same result, for RustCrypto and aws-lc-rs.
#[test]
fn provider_variants_accept_the_same_chains() {
    let (id, ci) = minted_pki(20);
    let (leaf, eum, cis) = euicc_chain(&id);
    let dp = pki::mint_dp_certs(
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng(21),
        at(T2024),
        at(T2099),
        None,
        "p.example",
    )
    .unwrap();
    let sgp26 = sgp26().map(|dir| {
        let id = pki::identity_from_sgp26(&dir, eid(), &mut rng(22), at(T2024), at(T2099)).unwrap();
        (dir, id)
    });
    for p in providers() {
        let name = p.name();
        let a = verify_chain(&leaf, &eum, &cis, Role::Euicc, now()).unwrap();
        let b = verify_chain_with(p, &leaf, &eum, &cis, Role::Euicc, now())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.leaf(), b.leaf(), "{name}");
        assert_eq!(a.intermediates(), b.intermediates(), "{name}");
        assert_eq!(a.ci(), b.ci(), "{name}");
        assert_eq!(b.eid(), Some(eid()), "{name}");
        assert_eq!(b.leaf_public_key(), id.euicc_key.public_key_uncompressed());

        for (der, role) in [
            (&dp.auth_cert, Role::DpAuth),
            (&dp.pb_cert, Role::DpPb),
            (&dp.tls_cert, Role::DpTls),
        ] {
            let chain = verify_chain_with(p, &parse(der), &[], &cis, role, now())
                .unwrap_or_else(|e| panic!("{name} {role}: {e}"));
            assert_eq!(chain.leaf_role(), role);
        }
        let chain = verify_chain_for_roles_with(
            p,
            &parse(&dp.auth_cert),
            &[],
            &cis,
            &[Role::DpAuth, Role::DsAuth],
            now(),
        )
        .unwrap();
        assert_eq!(chain.leaf_role(), Role::DpAuth);

        // Single certificates, the self-signed CI included; an uncompressed
        // or a compressed issuer key.
        let ci_cert = &cis[0];
        let ci_pk = *ci_cert.public_key().unwrap();
        assert!(ci_cert.verify_signed_by_with(p, &ci_pk), "{name}");
        assert!(eum[0].verify_signed_by_with(p, &ci_pk), "{name}");
        use p256::elliptic_curve::sec1::ToSec1Point;
        let compressed = p256::PublicKey::from_sec1_bytes(&ci_pk)
            .unwrap()
            .to_sec1_point(true);
        assert_eq!(compressed.as_bytes().len(), 33);
        assert!(eum[0].verify_signed_by_with(p, compressed.as_bytes()));
        // The wrong key, and keys that are not points.
        let eum_pk = *eum[0].public_key().unwrap();
        assert!(!eum[0].verify_signed_by_with(p, &eum_pk), "{name}");
        assert!(leaf.verify_signed_by_with(p, &eum_pk), "{name}");
        assert!(!eum[0].verify_signed_by_with(p, &[]), "{name}");
        assert!(!eum[0].verify_signed_by_with(p, &ci_pk[..64]), "{name}");
        let mut off_curve = ci_pk;
        off_curve[64] ^= 1;
        assert!(!eum[0].verify_signed_by_with(p, &off_curve), "{name}");

        if let Some((dir, sgp_id)) = &sgp26 {
            let ci = [load(dir, pki::SGP26_CI_CERT)];
            for (file, role) in [
                (pki::SGP26_DPAUTH_CERT, Role::DpAuth),
                (pki::SGP26_DPPB_CERT, Role::DpPb),
                ("CERT_S_SM_DP2auth_ECDSA_NIST.der", Role::DpAuth),
                ("CERT_S_SM_DP2pb_ECDSA_NIST.der", Role::DpPb),
            ] {
                verify_chain_with(p, &load(dir, file), &[], &ci, role, now())
                    .unwrap_or_else(|e| panic!("{name} {file}: {e}"));
            }
            let (leaf, eum, ci) = euicc_chain(sgp_id);
            let chain = verify_chain_with(p, &leaf, &eum, &ci, Role::Euicc, now()).unwrap();
            assert_eq!(hex::encode_upper(chain.ci_pkid()), SGP26_CI_SKI);
            // A brainpool CI among the trusted ones is skipped by key identifier.
            let trusted = [load(dir, "CERT_CI_ECDSA_BRP.der"), ci[0].clone()];
            verify_chain_with(p, &leaf, &eum, &trusted, Role::Euicc, now()).unwrap();
        }
    }
}

/// Tampered signatures and signed bytes are refused by the provider variants
/// at the right level, as by the RustCrypto-only functions.
#[test]
fn provider_variants_refuse_tampered_signatures() {
    let (id, ci) = minted_pki(23);
    let cis = [parse(&id.ci_cert)];
    let dp = pki::mint_dp_certs(
        &ci.ci_key,
        &ci.ci_cert,
        &mut rng(24),
        at(T2024),
        at(T2099),
        None,
        "t.example",
    )
    .unwrap();
    let leaf_bad = CertError::BadSignature {
        level: ChainLevel::Leaf,
    };
    let mut bad_sig = dp.pb_cert.clone();
    *bad_sig.last_mut().unwrap() ^= 0x01;
    let cn = pki::TEST_DP_CN.as_bytes();
    let mut bad_tbs = dp.auth_cert.clone();
    let pos = bad_tbs.windows(cn.len()).position(|w| w == cn).unwrap();
    bad_tbs[pos] ^= 0x20;
    let mut bad_eum = id.eum_cert.clone();
    *bad_eum.last_mut().unwrap() ^= 0x01;
    let mut bad_euicc = id.euicc_cert.clone();
    *bad_euicc.last_mut().unwrap() ^= 0x01;
    // A DER signature value that is not well formed (its SEQUENCE tag changed),
    // so it cannot be converted to r‖s.
    let mut bad_der = dp.auth_cert.clone();
    let sig = parse(&dp.auth_cert).signature().to_vec();
    let at_sig = bad_der.len() - sig.len();
    assert_eq!(bad_der[at_sig], 0x30);
    bad_der[at_sig] = 0x31;

    for p in providers() {
        let name = p.name();
        let err = verify_chain_with(p, &parse(&bad_sig), &[], &cis, Role::DpPb, now()).unwrap_err();
        assert_eq!(err, leaf_bad, "{name}");
        let err =
            verify_chain_with(p, &parse(&bad_tbs), &[], &cis, Role::DpAuth, now()).unwrap_err();
        assert_eq!(err, leaf_bad, "{name}");
        let err =
            verify_chain_with(p, &parse(&bad_der), &[], &cis, Role::DpAuth, now()).unwrap_err();
        assert_eq!(err, leaf_bad, "{name}");
        let err = verify_chain_for_roles_with(
            p,
            &parse(&bad_tbs),
            &[],
            &cis,
            &[Role::DpAuth, Role::DsAuth],
            now(),
        )
        .unwrap_err();
        assert_eq!(err, leaf_bad, "{name}");
        assert_eq!(
            err.authenticate_error_code(),
            authenticate_error::INVALID_CERTIFICATE
        );

        let err = verify_chain_with(
            p,
            &parse(&id.euicc_cert),
            &[parse(&bad_eum)],
            &cis,
            Role::Euicc,
            now(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            CertError::BadSignature {
                level: ChainLevel::Intermediate(0)
            },
            "{name}"
        );
        assert_eq!(err.authenticate_client_status(), ES9_EUM_INVALID);
        let err = verify_chain_with(
            p,
            &parse(&bad_euicc),
            &[parse(&id.eum_cert)],
            &cis,
            Role::Euicc,
            now(),
        )
        .unwrap_err();
        assert_eq!(err, leaf_bad, "{name}");
        assert_eq!(err.authenticate_client_status(), ES9_EUICC_INVALID);

        // The single-certificate check agrees.
        let ci_pk = *cis[0].public_key().unwrap();
        assert!(parse(&dp.pb_cert).verify_signed_by_with(p, &ci_pk));
        for der in [&bad_sig, &bad_tbs, &bad_der] {
            assert!(!parse(der).verify_signed_by_with(p, &ci_pk), "{name}");
        }
    }
}

/// The DER → r‖s conversion: round trips against p256's DER encoding (short
/// and high-bit integers among them), and malformed encodings are refused.
#[test]
fn ecdsa_der_signature_conversion() {
    let key = rsp::crypto::EcPrivateKey::from_bytes([0x11; 32]);
    let mut short = 0;
    let mut high_bit = 0;
    for i in 0u32..300 {
        let raw = RustCrypto.sign(&key, &i.to_be_bytes()).unwrap();
        let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
        assert_eq!(ecdsa_signature_from_der(der.as_bytes()), Some(raw), "{i}");
        short += usize::from(raw[0] == 0 || raw[32] == 0);
        high_bit += usize::from(raw[0] & 0x80 != 0);
    }
    assert!(short > 0 && high_bit > 0, "{short} {high_bit}");

    // SEQUENCE { INTEGER 1, INTEGER 0x80…(32 bytes) } converts with padding.
    let mut s = vec![0x00];
    s.extend([0x80; 32]);
    let mut der = vec![0x30, 3 + 2 + 33, 0x02, 0x01, 0x01, 0x02, 33];
    der.extend(&s);
    let mut expected = [0u8; 64];
    expected[31] = 1;
    expected[32..].copy_from_slice(&[0x80; 32]);
    assert_eq!(ecdsa_signature_from_der(&der), Some(expected));

    let int = |v: &[u8]| {
        let mut out = vec![0x02, u8::try_from(v.len()).unwrap()];
        out.extend(v);
        out
    };
    let seq = |parts: &[Vec<u8>]| {
        let body: Vec<u8> = parts.concat();
        let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
        out.extend(body);
        out
    };
    let one = int(&[1]);
    assert!(ecdsa_signature_from_der(&seq(&[one.clone(), one.clone()])).is_some());
    let refused: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("empty SEQUENCE", seq(&[])),
        ("one INTEGER", seq(std::slice::from_ref(&one))),
        (
            "three INTEGERs",
            seq(&[one.clone(), one.clone(), one.clone()]),
        ),
        ("trailing byte", {
            let mut v = seq(&[one.clone(), one.clone()]);
            v.push(0);
            v
        }),
        ("trailing byte inside", {
            let mut body = [one.clone(), one.clone()].concat();
            body.push(0);
            let mut v = vec![0x30, u8::try_from(body.len()).unwrap()];
            v.extend(body);
            v
        }),
        ("SET instead of SEQUENCE", {
            let mut v = seq(&[one.clone(), one.clone()]);
            v[0] = 0x31;
            v
        }),
        ("length too long", {
            let mut v = seq(&[one.clone(), one.clone()]);
            v[1] += 1;
            v
        }),
        ("long-form length", {
            let body = [one.clone(), one.clone()].concat();
            let mut v = vec![0x30, 0x81, u8::try_from(body.len()).unwrap()];
            v.extend(body);
            v
        }),
        (
            "OCTET STRING r",
            seq(&[vec![0x04, 0x01, 0x01], one.clone()]),
        ),
        ("empty INTEGER", seq(&[vec![0x02, 0x00], one.clone()])),
        ("negative r", seq(&[int(&[0x80]), one.clone()])),
        ("negative s", seq(&[one.clone(), int(&[0xFF, 0x01])])),
        ("non-minimal 00", seq(&[int(&[0x00, 0x01]), one.clone()])),
        ("non-minimal 00 00", seq(&[one.clone(), int(&[0x00, 0x00])])),
        ("33-byte r", seq(&[int(&[0x01; 33]), one.clone()])),
        ("33-byte s after its sign octet", {
            let mut v = vec![0x00];
            v.extend([0x80; 33]);
            seq(&[one.clone(), int(&v)])
        }),
        ("truncated INTEGER", {
            let mut v = seq(&[one.clone(), int(&[1, 2, 3])]);
            v.truncate(v.len() - 1);
            v[1] -= 1;
            v
        }),
    ];
    for (what, der) in refused {
        assert_eq!(ecdsa_signature_from_der(&der), None, "{what}");
    }
    // Zero is well formed; the providers refuse it when verifying.
    let zero = seq(&[int(&[0]), one]);
    assert_eq!(
        ecdsa_signature_from_der(&zero).map(|v| v[..32] == [0; 32]),
        Some(true)
    );
}
