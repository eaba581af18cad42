//! Test PKI for the eUICC (NIST P-256 only).
//!
//! Mints the SGP.22 section 4.5.2 certificate chain CI → EUM → eUICC, or an
//! eUICC certificate under the published SGP.26 test EUM, and offers the small
//! certificate accessors the rest of the card needs (SKI, AKI, public key,
//! EID, policies, signature check).
//!
//! Certificate profiles (extension order mirrors the SGP.26 files):
//!
//! | | CI | EUM | eUICC |
//! |---|---|---|---|
//! | authorityKeyIdentifier | – | issuer SKI | issuer SKI |
//! | subjectKeyIdentifier | SHA-1(key) | SHA-1(key) | SHA-1(key) |
//! | keyUsage (critical) | keyCertSign, cRLSign | keyCertSign | digitalSignature |
//! | certificatePolicies (critical) | id-rspRole-ci | id-rspRole-eum | id-rspRole-euicc |
//! | subjectAltName | registeredID | registeredID | – |
//! | basicConstraints (critical) | cA | cA, pathLen 0 | – |
//! | nameConstraints (critical) | – | permitted O + EID prefix | – |
//!
//! Per SGP.22 ("the GSMA CI certificate SHALL only have the Subject Key
//! Identifier extension set") the self-signed CI carries no AKI, like the
//! SGP.26 CI. No CRL distribution points are put in minted certificates.
//!
//! Nothing here reads the clock: callers pass `not_before` / `not_after`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use der::asn1::AnyRef;
use der::asn1::{Any, ObjectIdentifier, OctetString, PrintableStringRef, Utf8StringRef};
use der::oid::AssociatedOid;
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::elliptic_curve::rand_core::CryptoRng;
use p256::PublicKey;
use sha1::{Digest, Sha1};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::constraints::name::GeneralSubtree;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, KeyUsage, KeyUsages,
    NameConstraints, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use crate::keys::{public_key_to_uncompressed, EcKey, KeyError};

/// Object identifiers used by the RSP certificate profiles.
pub mod oid {
    use der::asn1::ObjectIdentifier;

    /// `id-rspRole-ci` 2.23.146.1.2.1.0.
    pub const ID_RSP_ROLE_CI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.146.1.2.1.0");
    /// `id-rspRole-euicc` 2.23.146.1.2.1.1.
    pub const ID_RSP_ROLE_EUICC: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.23.146.1.2.1.1");
    /// `id-rspRole-eum` 2.23.146.1.2.1.2.
    pub const ID_RSP_ROLE_EUM: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.146.1.2.1.2");
    /// `id-rspRole-dp-tls` 2.23.146.1.2.1.3.
    pub const ID_RSP_ROLE_DP_TLS: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.23.146.1.2.1.3");
    /// `id-rspRole-dp-auth` 2.23.146.1.2.1.4.
    pub const ID_RSP_ROLE_DP_AUTH: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.23.146.1.2.1.4");
    /// `id-rspRole-dp-pb` 2.23.146.1.2.1.5.
    pub const ID_RSP_ROLE_DP_PB: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.23.146.1.2.1.5");
    /// `id-rspRole-ds-tls` 2.23.146.1.2.1.6.
    pub const ID_RSP_ROLE_DS_TLS: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.23.146.1.2.1.6");
    /// `id-rspRole-ds-auth` 2.23.146.1.2.1.7.
    pub const ID_RSP_ROLE_DS_AUTH: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.23.146.1.2.1.7");
    /// `ecdsa-with-SHA256` 1.2.840.10045.4.3.2.
    pub const ECDSA_WITH_SHA256: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
    /// `id-ecPublicKey` 1.2.840.10045.2.1.
    pub const ID_EC_PUBLIC_KEY: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    /// `prime256v1` / `secp256r1` 1.2.840.10045.3.1.7.
    pub const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    /// `brainpoolP256r1` 1.3.36.3.3.2.8.1.1.7.
    pub const BRAINPOOL_P256R1: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.36.3.3.2.8.1.1.7");
    /// X.520 `countryName` 2.5.4.6.
    pub const AT_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    /// X.520 `organizationName` 2.5.4.10.
    pub const AT_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    /// X.520 `commonName` 2.5.4.3.
    pub const AT_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    /// X.520 `serialNumber` 2.5.4.5 (carries the EID in eUICC certificates).
    pub const AT_SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
    /// SAN registeredID of the SGP.26 test CI. A dotted string: the `2.999`
    /// arcs used by the SGP.26 test OIDs are outside what `const-oid` can
    /// represent, so registered IDs are handled as strings / raw content bytes
    /// (see [`super::oid_content_from_dotted`]).
    pub const TEST_CI_RID: &str = "2.999.1";
    /// SAN registeredID of the SGP.26 test EUM.
    pub const TEST_EUM_RID: &str = "2.999.5";
}

/// Organization of the SGP.26 test EUM (its name constraint permits only this O).
pub const SGP26_EUM_ORG: &str = "RSP Test EUM";
/// EID prefix the SGP.26 test EUM's name constraint permits.
pub const SGP26_EID_PREFIX: &str = "89049032";
/// SGP.26 file names loaded by [`identity_from_sgp26`].
pub const SGP26_CI_CERT: &str = "CERT_CI_ECDSA_NIST.der";
/// SGP.26 test EUM certificate file name.
pub const SGP26_EUM_CERT: &str = "CERT_EUM_ECDSA_NIST.der";
/// SGP.26 test EUM private key file name.
pub const SGP26_EUM_KEY: &str = "SK_EUM_ECDSA_NIST.pem";

/// Common name of the CI minted by [`mint_test_pki`].
pub const TEST_CI_CN: &str = "veuicc Test CI";
/// Organization of the CI minted by [`mint_test_pki`].
pub const TEST_CI_ORG: &str = "veuicc";
/// Organization of the EUM minted by [`mint_test_pki`] (also the eUICC's O).
pub const TEST_EUM_ORG: &str = "veuicc Test EUM";
/// Common name of the EUM minted by [`mint_test_pki`].
pub const TEST_EUM_CN: &str = "veuicc EUM";
/// Common name of minted eUICC certificates.
pub const TEST_EUICC_CN: &str = "Test eUICC";

/// Errors from minting and loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The EID is malformed (not 32 decimal digits, bad hex, ...).
    #[error("invalid EID: {0}")]
    InvalidEid(String),
    /// The EID is outside the range the issuing EUM may certify.
    #[error("EID {eid} is not permitted by the EUM certificate: it must start with {prefix}")]
    EidNotPermitted {
        /// The EID, as 32 digits.
        eid: String,
        /// The permitted prefix.
        prefix: String,
    },
    /// A subject attribute value cannot be encoded.
    #[error("invalid value for name attribute {attribute}: {reason}")]
    InvalidName {
        /// The attribute (e.g. `O`, `serialNumber`).
        attribute: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// ASN.1 DER encoding or decoding failed.
    #[error("DER error: {0}")]
    Der(#[from] der::Error),
    /// The x509-cert builder failed.
    #[error("certificate builder error: {0}")]
    Builder(#[from] x509_cert::builder::Error),
    /// A certificate could not be used.
    #[error("certificate {what}: {reason}")]
    BadCertificate {
        /// Which certificate.
        what: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A subject public key is not a valid P-256 point.
    #[error("subject public key is not a valid P-256 point")]
    InvalidPublicKey,
    /// A dotted OID string is malformed.
    #[error("invalid object identifier {0:?}")]
    InvalidOid(String),
    /// A private key does not belong to the certificate it was loaded with.
    #[error("private key does not match the public key of {what}")]
    KeyMismatch {
        /// Which certificate.
        what: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The eUICC's credentials: what the ECASD holds.
#[derive(Debug, Clone)]
pub struct Identity {
    /// EID, 16 bytes (32 BCD digits, not nibble-swapped).
    pub eid: [u8; 16],
    /// CERT.EUICC.ECDSA, DER.
    pub euicc_cert: Vec<u8>,
    /// SK.EUICC.ECDSA.
    pub euicc_key: EcKey,
    /// CERT.EUM.ECDSA, DER.
    pub eum_cert: Vec<u8>,
    /// CERT.CI.ECDSA, DER (the trust anchor; its SKI is the CI PKId).
    pub ci_cert: Vec<u8>,
}

impl Identity {
    /// The CI's Subject Key Identifier (the `euiccCiPKId` to announce).
    /// Empty if the CI certificate carries no SKI.
    pub fn ci_ski(&self) -> Vec<u8> {
        cert_ski(&self.ci_cert).unwrap_or_default()
    }

    /// The EID as 32 decimal digits.
    pub fn eid_string(&self) -> String {
        eid_to_string(&self.eid)
    }
}

/// The issuing side of a freshly minted test PKI (to mint more certificates,
/// e.g. SM-DP+ ones under the same CI).
#[derive(Debug, Clone)]
pub struct TestCi {
    /// The CI private key.
    pub ci_key: EcKey,
    /// The self-signed CI certificate, DER.
    pub ci_cert: Vec<u8>,
    /// The EUM private key.
    pub eum_key: EcKey,
    /// The EUM certificate, DER.
    pub eum_cert: Vec<u8>,
}

/// What goes into a CI certificate.
#[derive(Debug, Clone)]
pub struct CiSpec<'a> {
    /// Subject organizationName.
    pub organization: &'a str,
    /// Subject commonName.
    pub common_name: &'a str,
    /// subjectAltName registeredID (the CI's OID), dotted.
    pub registered_id: &'a str,
}

/// What goes into an EUM certificate.
#[derive(Debug, Clone)]
pub struct EumSpec<'a> {
    /// Subject organizationName.
    pub organization: &'a str,
    /// Subject commonName.
    pub common_name: &'a str,
    /// subjectAltName registeredID (the EUM's OID), dotted.
    pub registered_id: &'a str,
    /// Name constraint: permitted subtree `O = .0, serialNumber = .1`
    /// (organization, EID prefix). `None` omits the extension.
    pub permitted: Option<(&'a str, &'a str)>,
}

/// What goes into an eUICC certificate.
#[derive(Debug, Clone)]
pub struct EuiccSpec<'a> {
    /// Subject organizationName (must be the one the EUM's name constraint permits).
    pub organization: &'a str,
    /// Subject commonName.
    pub common_name: &'a str,
    /// The EID, written to the subject serialNumber as 32 digits.
    pub eid: [u8; 16],
}

/// Mints a self-signed CI certificate for `ci_key`.
pub fn mint_ci_cert<R: CryptoRng + ?Sized>(
    ci_key: &EcKey,
    spec: &CiSpec<'_>,
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, PkiError> {
    let public = ci_key.public_key_uncompressed();
    let subject = build_name(&[
        (NameAttr::Organization, spec.organization),
        (NameAttr::CommonName, spec.common_name),
    ])?;
    let extensions = vec![
        ski_extension(&public)?,
        extension(
            BasicConstraints::OID,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: None,
            },
        )?,
        policy_extension(oid::ID_RSP_ROLE_CI)?,
        key_usage_extension(KeyUsages::KeyCertSign | KeyUsages::CRLSign)?,
        san_rid_extension(spec.registered_id)?,
    ];
    sign_certificate(
        CertTemplate {
            issuer: subject.clone(),
            subject,
            public_key: public,
            extensions,
        },
        ci_key,
        rng,
        not_before,
        not_after,
    )
}

/// Mints an EUM certificate for `eum_public` (uncompressed point), issued
/// by the holder of `issuer_key` / `issuer_cert` (normally the CI).
pub fn mint_eum_cert<R: CryptoRng + ?Sized>(
    eum_public: &[u8; 65],
    spec: &EumSpec<'_>,
    issuer_key: &EcKey,
    issuer_cert: &[u8],
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, PkiError> {
    let issuer = Issuer::new(issuer_key, issuer_cert, "issuer of the EUM")?;
    let subject = build_name(&[
        (NameAttr::Organization, spec.organization),
        (NameAttr::CommonName, spec.common_name),
    ])?;
    let mut extensions = vec![
        aki_extension(&issuer.ski)?,
        ski_extension(eum_public)?,
        key_usage_extension(KeyUsages::KeyCertSign.into())?,
        policy_extension(oid::ID_RSP_ROLE_EUM)?,
        san_rid_extension(spec.registered_id)?,
        extension(
            BasicConstraints::OID,
            true,
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            },
        )?,
    ];
    if let Some((org, eid_prefix)) = spec.permitted {
        if eid_prefix.is_empty() || !eid_prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PkiError::InvalidEid(format!(
                "name constraint EID prefix {eid_prefix:?} is not decimal digits"
            )));
        }
        let base = build_name(&[
            (NameAttr::Organization, org),
            (NameAttr::SerialNumber, eid_prefix),
        ])?;
        let nc = NameConstraints {
            permitted_subtrees: Some(vec![GeneralSubtree {
                base: GeneralName::DirectoryName(base),
                minimum: 0,
                maximum: None,
            }]),
            excluded_subtrees: None,
        };
        extensions.push(extension(NameConstraints::OID, true, &nc)?);
    }
    sign_certificate(
        CertTemplate {
            issuer: issuer.name,
            subject,
            public_key: *eum_public,
            extensions,
        },
        issuer_key,
        rng,
        not_before,
        not_after,
    )
}

/// Mints an eUICC certificate for `euicc_public` (uncompressed point),
/// issued by the holder of `eum_key` / `eum_cert`.
///
/// The EID must be 32 decimal digits; when the EUM certificate carries the
/// SGP.22 name constraint, the EID must start with its serialNumber prefix and
/// the organization must equal its O, or [`PkiError::EidNotPermitted`] /
/// [`PkiError::InvalidName`] is returned.
pub fn mint_euicc_cert<R: CryptoRng + ?Sized>(
    euicc_public: &[u8; 65],
    spec: &EuiccSpec<'_>,
    eum_key: &EcKey,
    eum_cert: &[u8],
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, PkiError> {
    let eid = eid_digits(&spec.eid)?;
    let issuer = Issuer::new(eum_key, eum_cert, "EUM")?;
    if let Some(permitted) = cert_permitted_subtrees(eum_cert) {
        let allowed = permitted.iter().any(|(org, prefix)| {
            org.as_deref().is_none_or(|o| o == spec.organization)
                && prefix.as_deref().is_none_or(|p| eid.starts_with(p))
        });
        if !allowed {
            if let Some(prefix) = permitted
                .iter()
                .filter(|(org, _)| org.as_deref().is_none_or(|o| o == spec.organization))
                .find_map(|(_, p)| p.clone())
            {
                return Err(PkiError::EidNotPermitted { eid, prefix });
            }
            return Err(PkiError::InvalidName {
                attribute: "O",
                reason: "organization not permitted by the EUM name constraint",
            });
        }
    }
    let subject = build_name(&[
        (NameAttr::Organization, spec.organization),
        (NameAttr::SerialNumber, &eid),
        (NameAttr::CommonName, spec.common_name),
    ])?;
    let extensions = vec![
        aki_extension(&issuer.ski)?,
        ski_extension(euicc_public)?,
        key_usage_extension(KeyUsages::DigitalSignature.into())?,
        policy_extension(oid::ID_RSP_ROLE_EUICC)?,
    ];
    sign_certificate(
        CertTemplate {
            issuer: issuer.name,
            subject,
            public_key: *euicc_public,
            extensions,
        },
        eum_key,
        rng,
        not_before,
        not_after,
    )
}

/// Mints a fresh EUM and eUICC for `eid` under an existing CI (its key and certificate), so a
/// card can share a CI with an SM-DP+ minted from the same CI. Returns the identity and the EUM
/// key.
pub fn mint_under_ci<R: CryptoRng + ?Sized>(
    ci_key: &EcKey,
    ci_cert: &[u8],
    eid: [u8; 16],
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(Identity, EcKey), PkiError> {
    let eid_str = eid_digits(&eid)?;
    match cert_public_key(ci_cert) {
        Some(pk) if pk == ci_key.public_key_uncompressed() => {}
        _ => {
            return Err(PkiError::InvalidName {
                attribute: "CI",
                reason: "the CI key does not match the CI certificate",
            })
        }
    }
    let eum_key = EcKey::generate(rng);
    let eum_cert = mint_eum_cert(
        &eum_key.public_key_uncompressed(),
        &EumSpec {
            organization: TEST_EUM_ORG,
            common_name: TEST_EUM_CN,
            registered_id: oid::TEST_EUM_RID,
            permitted: Some((TEST_EUM_ORG, &eid_str[..8])),
        },
        ci_key,
        ci_cert,
        rng,
        not_before,
        not_after,
    )?;
    let euicc_key = EcKey::generate(rng);
    let euicc_cert = mint_euicc_cert(
        &euicc_key.public_key_uncompressed(),
        &EuiccSpec {
            organization: TEST_EUM_ORG,
            common_name: TEST_EUICC_CN,
            eid,
        },
        &eum_key,
        &eum_cert,
        rng,
        not_before,
        not_after,
    )?;
    Ok((
        Identity {
            eid,
            euicc_cert,
            euicc_key,
            eum_cert,
            ci_cert: ci_cert.to_vec(),
        },
        eum_key,
    ))
}

/// Mints a fresh CI, EUM and eUICC (keys and certificates). The EUM's name
/// constraint permits `O = TEST_EUM_ORG, serialNumber = <first 8 EID digits>`.
/// All three certificates get the same validity.
pub fn mint_test_pki<R: CryptoRng + ?Sized>(
    eid: [u8; 16],
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<(Identity, TestCi), PkiError> {
    eid_digits(&eid)?;
    let ci_key = EcKey::generate(rng);
    let ci_cert = mint_ci_cert(
        &ci_key,
        &CiSpec {
            organization: TEST_CI_ORG,
            common_name: TEST_CI_CN,
            registered_id: oid::TEST_CI_RID,
        },
        rng,
        not_before,
        not_after,
    )?;
    let (identity, eum_key) = mint_under_ci(&ci_key, &ci_cert, eid, rng, not_before, not_after)?;
    let eum_cert = identity.eum_cert.clone();
    Ok((
        identity,
        TestCi {
            ci_key,
            ci_cert,
            eum_key,
            eum_cert,
        },
    ))
}

/// Builds an identity under the published SGP.26 test PKI: loads
/// `CERT_EUM_ECDSA_NIST.der`, `SK_EUM_ECDSA_NIST.pem` and
/// `CERT_CI_ECDSA_NIST.der` from `dir`, then mints a fresh eUICC key and a
/// certificate issued by the test EUM with subject `O = RSP Test EUM,
/// serialNumber = <EID>, CN = Test eUICC`. The EID must start with 89049032.
pub fn identity_from_sgp26<R: CryptoRng + ?Sized>(
    dir: &Path,
    eid: [u8; 16],
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Identity, PkiError> {
    let eid_str = eid_digits(&eid)?;
    if !eid_str.starts_with(SGP26_EID_PREFIX) {
        return Err(PkiError::EidNotPermitted {
            eid: eid_str,
            prefix: SGP26_EID_PREFIX.to_owned(),
        });
    }
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| PkiError::Io { path, source })
    };
    let ci_cert = read(SGP26_CI_CERT)?;
    let eum_cert = read(SGP26_EUM_CERT)?;
    let eum_key = EcKey::read_pem_file(dir.join(SGP26_EUM_KEY))?;

    let eum_public = cert_public_key(&eum_cert).ok_or_else(|| PkiError::BadCertificate {
        what: SGP26_EUM_CERT.to_owned(),
        reason: "no P-256 public key",
    })?;
    if eum_public != eum_key.public_key_uncompressed() {
        return Err(PkiError::KeyMismatch {
            what: SGP26_EUM_CERT.to_owned(),
        });
    }
    let ci_public = cert_public_key(&ci_cert).ok_or_else(|| PkiError::BadCertificate {
        what: SGP26_CI_CERT.to_owned(),
        reason: "no P-256 public key",
    })?;
    if !verify_cert_signature(&eum_cert, &ci_public) {
        return Err(PkiError::BadCertificate {
            what: SGP26_EUM_CERT.to_owned(),
            reason: "not signed by the CI certificate's key",
        });
    }

    let euicc_key = EcKey::generate(rng);
    let euicc_cert = mint_euicc_cert(
        &euicc_key.public_key_uncompressed(),
        &EuiccSpec {
            organization: SGP26_EUM_ORG,
            common_name: TEST_EUICC_CN,
            eid,
        },
        &eum_key,
        &eum_cert,
        rng,
        not_before,
        not_after,
    )?;
    Ok(Identity {
        eid,
        euicc_cert,
        euicc_key,
        eum_cert,
        ci_cert,
    })
}

/// `9999-12-31T23:59:59Z`, the RFC 5280 "no well-defined expiration date"
/// value (`99991231235959Z`), for `not_after` of eUICC certificates.
pub fn not_after_no_expiry() -> SystemTime {
    Time::INFINITY.to_system_time()
}

// ---------------------------------------------------------------------------
// Certificate accessors
// ---------------------------------------------------------------------------

fn parse_cert(der: &[u8]) -> Option<Certificate> {
    Certificate::from_der(der).ok()
}

/// The Subject Key Identifier, if the certificate has one.
pub fn cert_ski(der: &[u8]) -> Option<Vec<u8>> {
    let cert = parse_cert(der)?;
    let (_, ski) = cert
        .tbs_certificate()
        .get_extension::<SubjectKeyIdentifier>()
        .ok()??;
    Some(ski.0.as_bytes().to_vec())
}

/// The keyIdentifier of the Authority Key Identifier, if present.
pub fn cert_aki(der: &[u8]) -> Option<Vec<u8>> {
    let cert = parse_cert(der)?;
    let (_, aki) = cert
        .tbs_certificate()
        .get_extension::<AuthorityKeyIdentifier>()
        .ok()??;
    aki.key_identifier.map(|k| k.as_bytes().to_vec())
}

/// The named curve of the certificate's EC public key (e.g.
/// [`oid::PRIME256V1`], [`oid::BRAINPOOL_P256R1`]); `None` if the key is not
/// an EC key with a named curve.
pub fn cert_curve_oid(der: &[u8]) -> Option<ObjectIdentifier> {
    let cert = parse_cert(der)?;
    let spki = cert.tbs_certificate().subject_public_key_info();
    if spki.algorithm.oid != oid::ID_EC_PUBLIC_KEY {
        return None;
    }
    spki.algorithm.parameters.as_ref()?.decode_as().ok()
}

/// The certificate's P-256 public key as an uncompressed point; `None` if it
/// is not a valid P-256 key.
pub fn cert_public_key(der: &[u8]) -> Option<[u8; 65]> {
    if cert_curve_oid(der)? != oid::PRIME256V1 {
        return None;
    }
    let cert = parse_cert(der)?;
    let bits = cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .as_bytes()?;
    let pk = PublicKey::from_sec1_bytes(bits).ok()?;
    Some(public_key_to_uncompressed(&pk))
}

/// The subject's serialNumber attribute (the EID in an eUICC certificate).
pub fn cert_serial_number_subject(der: &[u8]) -> Option<String> {
    let cert = parse_cert(der)?;
    let value = cert
        .tbs_certificate()
        .subject()
        .iter()
        .find(|atv| atv.oid == oid::AT_SERIAL_NUMBER)
        .map(|atv| atv.value.clone())?;
    any_to_string(&value)
}

/// The subject's organizationName attribute.
pub fn cert_subject_organization(der: &[u8]) -> Option<String> {
    let cert = parse_cert(der)?;
    let value = cert
        .tbs_certificate()
        .subject()
        .iter()
        .find(|atv| atv.oid == oid::AT_ORGANIZATION)
        .map(|atv| atv.value.clone())?;
    any_to_string(&value)
}

/// The policy OIDs of the certificatePolicies extension (empty if absent).
pub fn cert_policy_oids(der: &[u8]) -> Vec<ObjectIdentifier> {
    let Some(cert) = parse_cert(der) else {
        return Vec::new();
    };
    match cert
        .tbs_certificate()
        .get_extension::<CertificatePolicies>()
    {
        Ok(Some((_, policies))) => policies.0.iter().map(|p| p.policy_identifier).collect(),
        _ => Vec::new(),
    }
}

/// The first registeredID in subjectAltName (e.g. the SM-DP+ OID of a
/// DPauth/DPpb certificate), as the OID's content octets (BER encoding
/// without tag and length, as SGP.22 carries it in `smdpOid`). Use
/// [`oid_content_to_dotted`] to print it. The SAN is walked by hand because
/// `const-oid` cannot represent the `2.999.x` OIDs of the SGP.26 certificates.
pub fn cert_san_registered_id(der: &[u8]) -> Option<Vec<u8>> {
    let cert = parse_cert(der)?;
    let san = cert
        .tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id == SubjectAltName::OID)?;
    let registered_id = Tag::ContextSpecific {
        constructed: false,
        number: TagNumber(8),
    };
    let mut reader = SliceReader::new(san.extn_value.as_bytes()).ok()?;
    reader
        .sequence(|r| {
            let mut found = None;
            while !r.is_finished() {
                let any: AnyRef<'_> = r.decode()?;
                if found.is_none() && any.tag() == registered_id {
                    found = Some(any.value().to_vec());
                }
            }
            Ok::<_, der::Error>(found)
        })
        .ok()?
}

/// Encodes a dotted OID (e.g. `"2.999.10"`) as BER content octets.
pub fn oid_content_from_dotted(dotted: &str) -> Result<Vec<u8>, PkiError> {
    let bad = || PkiError::InvalidOid(dotted.to_owned());
    let arcs = dotted
        .split('.')
        .map(|a| {
            if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            a.parse::<u64>().map_err(|_| bad())
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let [first, second, rest @ ..] = arcs.as_slice() else {
        return Err(bad());
    };
    if *first > 2 || (*first < 2 && *second > 39) {
        return Err(bad());
    }
    let head = first
        .checked_mul(40)
        .and_then(|v| v.checked_add(*second))
        .ok_or_else(bad)?;
    let mut out = Vec::new();
    for arc in std::iter::once(head).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7F) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(((v & 0x7F) as u8) | 0x80);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Ok(out)
}

/// Decodes BER OID content octets to dotted form; `None` if malformed.
pub fn oid_content_to_dotted(content: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    let mut in_arc = false;
    for &b in content {
        if !in_arc && b == 0x80 {
            return None; // non-minimal encoding
        }
        acc = acc.checked_mul(128)?.checked_add(u64::from(b & 0x7F))?;
        in_arc = b & 0x80 != 0;
        if !in_arc {
            arcs.push(acc);
            acc = 0;
        }
    }
    if in_arc || arcs.is_empty() {
        return None;
    }
    let head = arcs[0];
    let (first, second) = match head {
        0..=39 => (0, head),
        40..=79 => (1, head - 40),
        _ => (2, head - 80),
    };
    let mut s = format!("{first}.{second}");
    for arc in &arcs[1..] {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}

/// The directoryName permitted subtrees of a nameConstraints extension, as
/// (organization, serialNumber) pairs; `None` if there is no such extension.
fn cert_permitted_subtrees(der: &[u8]) -> Option<Vec<(Option<String>, Option<String>)>> {
    let cert = parse_cert(der)?;
    let (_, nc) = cert
        .tbs_certificate()
        .get_extension::<NameConstraints>()
        .ok()??;
    let subtrees = nc.permitted_subtrees?;
    let out: Vec<_> = subtrees
        .iter()
        .filter_map(|st| match &st.base {
            GeneralName::DirectoryName(name) => {
                let get = |oid| {
                    name.iter()
                        .find(|atv| atv.oid == oid)
                        .and_then(|atv| any_to_string(&atv.value))
                };
                Some((get(oid::AT_ORGANIZATION), get(oid::AT_SERIAL_NUMBER)))
            }
            _ => None,
        })
        .collect();
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

/// Verifies the certificate's ecdsa-with-SHA256 signature over the
/// tbsCertificate bytes exactly as they appear in `cert_der`, with the
/// issuer's P-256 public key (SEC 1, normally uncompressed).
pub fn verify_cert_signature(cert_der: &[u8], issuer_pubkey_uncompressed: &[u8]) -> bool {
    let Some(cert) = parse_cert(cert_der) else {
        return false;
    };
    if cert.signature_algorithm().oid != oid::ECDSA_WITH_SHA256
        || cert.signature_algorithm().parameters.is_some()
        || cert.tbs_certificate().signature() != cert.signature_algorithm()
    {
        return false;
    }
    let Some(tbs) = raw_tbs(cert_der) else {
        return false;
    };
    let Some(sig_der) = cert.signature().as_bytes() else {
        return false;
    };
    let Ok(sig) = p256::ecdsa::Signature::from_der(sig_der) else {
        return false;
    };
    let Ok(vk) = VerifyingKey::from_sec1_bytes(issuer_pubkey_uncompressed) else {
        return false;
    };
    vk.verify(tbs, &sig).is_ok()
}

/// The raw tbsCertificate TLV inside a certificate.
fn raw_tbs(cert_der: &[u8]) -> Option<&[u8]> {
    let mut reader = SliceReader::new(cert_der).ok()?;
    let outer = der::Header::decode(&mut reader).ok()?;
    if outer.tag() != Tag::Sequence {
        return None;
    }
    let tbs = reader.tlv_bytes().ok()?;
    (tbs.first() == Some(&0x30)).then_some(tbs)
}

// ---------------------------------------------------------------------------
// EID helpers
// ---------------------------------------------------------------------------

/// Parses an EID from 32 decimal digits (hex of the 16 BCD bytes).
pub fn eid_from_hex(s: &str) -> Result<[u8; 16], PkiError> {
    let s = s.trim();
    if s.len() != 32 {
        return Err(PkiError::InvalidEid(format!(
            "expected 32 digits, got {} characters",
            s.len()
        )));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PkiError::InvalidEid(format!(
            "{s:?} contains non-decimal characters"
        )));
    }
    let mut eid = [0u8; 16];
    hex::decode_to_slice(s, &mut eid).map_err(|e| PkiError::InvalidEid(e.to_string()))?;
    Ok(eid)
}

/// Formats an EID as 32 digits (uppercase hex of its 16 bytes).
pub fn eid_to_string(eid: &[u8; 16]) -> String {
    hex::encode_upper(eid)
}

/// Whether the EID's check digits (its last two) are right: the 32-digit
/// number mod 97 equals 1 (ISO 7064 MOD 97-10, as for IBAN). False if any
/// nibble is not a decimal digit.
pub fn eid_check_digits_valid(eid: &[u8; 16]) -> bool {
    let mut rem = 0u32;
    for nibble in eid.iter().flat_map(|b| [b >> 4, b & 0x0F]) {
        if nibble > 9 {
            return false;
        }
        rem = (rem * 10 + u32::from(nibble)) % 97;
    }
    rem == 1
}

/// Completes a 30-digit EID prefix with its two check digits.
pub fn eid_with_check_digits(prefix30: &str) -> Result<[u8; 16], PkiError> {
    if prefix30.len() != 30 || !prefix30.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PkiError::InvalidEid(format!(
            "{prefix30:?} is not 30 decimal digits"
        )));
    }
    // check = 98 - (prefix * 100 mod 97)
    let rem = prefix30
        .bytes()
        .fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
    let check = 98 - (rem * 100) % 97;
    eid_from_hex(&format!("{prefix30}{check:02}"))
}

/// The EID as 32 digits, or an error if a nibble is not decimal.
fn eid_digits(eid: &[u8; 16]) -> Result<String, PkiError> {
    let s = eid_to_string(eid);
    if s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(PkiError::InvalidEid(format!(
            "{s} contains non-decimal digits"
        )))
    }
}

// ---------------------------------------------------------------------------
// Building blocks
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum NameAttr {
    Organization,
    CommonName,
    SerialNumber,
}

/// Builds a Name with one attribute per RDN, in the given order.
/// O and CN are UTF8String; serialNumber is PrintableString (X.520).
fn build_name(attrs: &[(NameAttr, &str)]) -> Result<Name, PkiError> {
    let mut rdns = Vec::with_capacity(attrs.len());
    for &(attr, value) in attrs {
        let (oid, label, tag) = match attr {
            NameAttr::Organization => (oid::AT_ORGANIZATION, "O", Tag::Utf8String),
            NameAttr::CommonName => (oid::AT_COMMON_NAME, "CN", Tag::Utf8String),
            NameAttr::SerialNumber => (oid::AT_SERIAL_NUMBER, "serialNumber", Tag::PrintableString),
        };
        if value.is_empty() || value.len() > 64 {
            return Err(PkiError::InvalidName {
                attribute: label,
                reason: "must be 1 to 64 characters",
            });
        }
        let value = match tag {
            Tag::PrintableString => {
                let s = PrintableStringRef::new(value).map_err(|_| PkiError::InvalidName {
                    attribute: label,
                    reason: "not a PrintableString",
                })?;
                Any::encode_from(&s)?
            }
            _ => Any::encode_from(&Utf8StringRef::new(value)?)?,
        };
        let atv = AttributeTypeAndValue { oid, value };
        rdns.push(RelativeDistinguishedName::try_from(vec![atv])?);
    }
    let seq = RdnSequence::from(rdns);
    Ok(Name::from_der(&seq.to_der()?)?)
}

fn any_to_string(value: &Any) -> Option<String> {
    match value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_owned()),
        Tag::Utf8String => Utf8StringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_owned()),
        _ => None,
    }
}

/// SHA-1 of the subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 method 1).
pub fn key_identifier(public_key_uncompressed: &[u8]) -> Vec<u8> {
    Sha1::digest(public_key_uncompressed).to_vec()
}

fn extension<T: Encode>(
    extn_id: ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension, PkiError> {
    Ok(Extension {
        extn_id,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

fn ski_extension(public: &[u8; 65]) -> Result<Extension, PkiError> {
    let ski = SubjectKeyIdentifier(OctetString::new(key_identifier(public))?);
    extension(SubjectKeyIdentifier::OID, false, &ski)
}

fn aki_extension(issuer_ski: &[u8]) -> Result<Extension, PkiError> {
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(issuer_ski)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    extension(AuthorityKeyIdentifier::OID, false, &aki)
}

fn key_usage_extension(usage: der::flagset::FlagSet<KeyUsages>) -> Result<Extension, PkiError> {
    extension(KeyUsage::OID, true, &KeyUsage(usage))
}

fn policy_extension(policy: ObjectIdentifier) -> Result<Extension, PkiError> {
    let policies = CertificatePolicies(vec![PolicyInformation {
        policy_identifier: policy,
        policy_qualifiers: None,
    }]);
    extension(CertificatePolicies::OID, true, &policies)
}

/// subjectAltName with a single registeredID, DER-encoded by hand (see
/// [`oid::TEST_CI_RID`] for why).
fn san_rid_extension(rid: &str) -> Result<Extension, PkiError> {
    let content = oid_content_from_dotted(rid)?;
    let rid_tlv = der_tlv(0x88, &content)?;
    let san = der_tlv(0x30, &rid_tlv)?;
    Ok(Extension {
        extn_id: SubjectAltName::OID,
        critical: false,
        extn_value: OctetString::new(san)?,
    })
}

/// A DER TLV with a one-byte tag.
fn der_tlv(tag: u8, value: &[u8]) -> Result<Vec<u8>, PkiError> {
    let len = der::Length::try_from(value.len())?;
    let mut out = vec![tag];
    out.extend(len.to_der()?);
    out.extend_from_slice(value);
    Ok(out)
}

/// The issuing side: its subject name and key identifier.
struct Issuer {
    name: Name,
    ski: Vec<u8>,
}

impl Issuer {
    fn new(key: &EcKey, cert: &[u8], what: &str) -> Result<Self, PkiError> {
        let bad = |reason| PkiError::BadCertificate {
            what: what.to_owned(),
            reason,
        };
        let parsed = Certificate::from_der(cert)?;
        let public = cert_public_key(cert).ok_or_else(|| bad("no P-256 public key"))?;
        if public != key.public_key_uncompressed() {
            return Err(PkiError::KeyMismatch {
                what: what.to_owned(),
            });
        }
        // Chain by SKI/AKI: use the issuer's SKI; compute it if absent.
        let ski = cert_ski(cert).unwrap_or_else(|| key_identifier(&public));
        Ok(Self {
            name: parsed.tbs_certificate().subject().clone(),
            ski,
        })
    }
}

struct CertTemplate {
    issuer: Name,
    subject: Name,
    public_key: [u8; 65],
    extensions: Vec<Extension>,
}

/// A builder profile that emits exactly the given names and extensions.
struct FixedProfile {
    issuer: Name,
    subject: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for FixedProfile {
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

/// A positive 16-byte serial number with a non-zero leading byte.
fn random_serial<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    Ok(SerialNumber::new(&bytes)?)
}

fn sign_certificate<R: CryptoRng + ?Sized>(
    template: CertTemplate,
    issuer_key: &EcKey,
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, PkiError> {
    let validity = Validity::new(Time::try_from(not_before)?, Time::try_from(not_after)?);
    let public =
        PublicKey::from_sec1_bytes(&template.public_key).map_err(|_| PkiError::InvalidPublicKey)?;
    let spki =
        SubjectPublicKeyInfoOwned::from_key(&public).map_err(|_| PkiError::BadCertificate {
            what: "subject public key".to_owned(),
            reason: "cannot encode SubjectPublicKeyInfo",
        })?;
    let profile = FixedProfile {
        issuer: template.issuer,
        subject: template.subject,
        extensions: template.extensions,
    };
    let builder = CertificateBuilder::new(profile, random_serial(rng)?, validity, spki)?;
    let signing_key = issuer_key.signing_key();
    let cert = builder.build::<_, DerSignature>(&signing_key)?;
    Ok(cert.to_der()?)
}

// ---------------------------------------------------------------------------
// SM-DP+ certificates
// ---------------------------------------------------------------------------

/// SAN registeredID of the SGP.26 test SM-DP+ (`2.999.10`), the default
/// SM-DP+ OID of [`mint_dp_certs`].
pub const TEST_DP_RID: &str = "2.999.10";
/// Organization of SM-DP+ certificates minted by [`mint_dp_certs`].
pub const TEST_DP_ORG: &str = "veuicc";
/// Common name of the DPauth / DPpb certificates minted by [`mint_dp_certs`].
pub const TEST_DP_CN: &str = "veuicc Test SM-DP+";
/// Host name of the SGP.26 test SM-DP+ (its TLS certificate's dNSName).
pub const SGP26_DP_HOST: &str = "testsmdpplus1.example.com";
/// Organization of the SGP.26 test SM-DP+ certificates.
pub const SGP26_DP_ORG: &str = "ACME";
/// SGP.26 test CI private key file name.
pub const SGP26_CI_KEY: &str = "SK_CI_ECDSA_NIST.pem";
/// SGP.26 DPauth certificate file name.
pub const SGP26_DPAUTH_CERT: &str = "CERT_S_SM_DPauth_ECDSA_NIST.der";
/// SGP.26 DPauth private key file name.
pub const SGP26_DPAUTH_KEY: &str = "SK_S_SM_DPauth_ECDSA_NIST.pem";
/// SGP.26 DPpb certificate file name.
pub const SGP26_DPPB_CERT: &str = "CERT_S_SM_DPpb_ECDSA_NIST.der";
/// SGP.26 DPpb private key file name.
pub const SGP26_DPPB_KEY: &str = "SK_S_SM_DPpb_ECDSA_NIST.pem";
/// `id-kp-serverAuth` 1.3.6.1.5.5.7.3.1.
const ID_KP_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// `id-kp-clientAuth` 1.3.6.1.5.5.7.3.2.
const ID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// An SM-DP+'s keys and certificates.
#[derive(Debug, Clone)]
pub struct DpIdentity {
    /// SK.DPauth.ECDSA.
    pub auth_key: EcKey,
    /// CERT.DPauth.ECDSA, DER.
    pub auth_cert: Vec<u8>,
    /// SK.DPpb.ECDSA.
    pub pb_key: EcKey,
    /// CERT.DPpb.ECDSA, DER.
    pub pb_cert: Vec<u8>,
    /// The TLS server key.
    pub tls_key: EcKey,
    /// CERT.DP.TLS, DER.
    pub tls_cert: Vec<u8>,
}

impl DpIdentity {
    /// The SM-DP+ OID (DPauth SAN registeredID) as BER content octets.
    pub fn dp_oid(&self) -> Option<Vec<u8>> {
        cert_san_registered_id(&self.auth_cert)
    }
}

/// Which SM-DP+ certificate to mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpCertKind {
    /// CERT.DPauth.ECDSA (`id-rspRole-dp-auth`).
    Auth,
    /// CERT.DPpb.ECDSA (`id-rspRole-dp-pb`).
    Pb,
    /// CERT.DP.TLS (`id-rspRole-dp-tls`, serverAuth/clientAuth, dNSName).
    Tls,
}

/// What goes into an SM-DP+ certificate.
#[derive(Debug, Clone)]
pub struct DpSpec<'a> {
    /// Which certificate.
    pub kind: DpCertKind,
    /// Subject organizationName.
    pub organization: &'a str,
    /// Subject commonName (the host name for TLS certificates).
    pub common_name: &'a str,
    /// subjectAltName registeredID (the SM-DP+ OID), dotted.
    pub registered_id: &'a str,
    /// subjectAltName dNSName (TLS certificates; ignored for the others).
    pub dns_name: Option<&'a str>,
}

/// Mints one SM-DP+ certificate for `public` (uncompressed point), issued by
/// the holder of `issuer_key` / `issuer_cert` (normally the CI).
///
/// Profiles (extension order mirrors the SGP.26 files):
/// - DPauth / DPpb: AKI, SKI, SAN registeredID, keyUsage digitalSignature
///   (critical), certificatePolicies dp-auth / dp-pb (critical);
/// - TLS: keyUsage digitalSignature (critical), extendedKeyUsage serverAuth +
///   clientAuth (critical), certificatePolicies dp-tls, SKI, AKI,
///   SAN dNSName + registeredID.
pub fn mint_dp_cert<R: CryptoRng + ?Sized>(
    public: &[u8; 65],
    spec: &DpSpec<'_>,
    issuer_key: &EcKey,
    issuer_cert: &[u8],
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Vec<u8>, PkiError> {
    let issuer = Issuer::new(issuer_key, issuer_cert, "issuer of the SM-DP+ certificate")?;
    let subject = build_name(&[
        (NameAttr::Organization, spec.organization),
        (NameAttr::CommonName, spec.common_name),
    ])?;
    let extensions = match spec.kind {
        DpCertKind::Auth | DpCertKind::Pb => {
            let policy = if spec.kind == DpCertKind::Auth {
                oid::ID_RSP_ROLE_DP_AUTH
            } else {
                oid::ID_RSP_ROLE_DP_PB
            };
            vec![
                aki_extension(&issuer.ski)?,
                ski_extension(public)?,
                san_rid_extension(spec.registered_id)?,
                key_usage_extension(KeyUsages::DigitalSignature.into())?,
                policy_extension(policy)?,
            ]
        }
        DpCertKind::Tls => {
            let host = spec.dns_name.unwrap_or(spec.common_name);
            let eku =
                x509_cert::ext::pkix::ExtendedKeyUsage(vec![ID_KP_SERVER_AUTH, ID_KP_CLIENT_AUTH]);
            let policies = CertificatePolicies(vec![PolicyInformation {
                policy_identifier: oid::ID_RSP_ROLE_DP_TLS,
                policy_qualifiers: None,
            }]);
            vec![
                key_usage_extension(KeyUsages::DigitalSignature.into())?,
                extension(x509_cert::ext::pkix::ExtendedKeyUsage::OID, true, &eku)?,
                extension(CertificatePolicies::OID, false, &policies)?,
                ski_extension(public)?,
                aki_extension(&issuer.ski)?,
                san_dns_rid_extension(host, spec.registered_id)?,
            ]
        }
    };
    sign_certificate(
        CertTemplate {
            issuer: issuer.name,
            subject,
            public_key: *public,
            extensions,
        },
        issuer_key,
        rng,
        not_before,
        not_after,
    )
}

/// Mints a fresh SM-DP+ identity under the CI `ci_key` / `ci_cert`: DPauth,
/// DPpb and TLS keys and certificates, all with SAN registeredID `dp_oid`
/// (default [`TEST_DP_RID`], `2.999.10` like SGP.26), the TLS certificate for
/// `host` (CN and dNSName). All three get the same validity.
pub fn mint_dp_certs<R: CryptoRng + ?Sized>(
    ci_key: &EcKey,
    ci_cert: &[u8],
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
    dp_oid: Option<&str>,
    host: &str,
) -> Result<DpIdentity, PkiError> {
    let dp_oid = dp_oid.unwrap_or(TEST_DP_RID);
    let mut mint = |kind, common_name, dns_name| -> Result<(EcKey, Vec<u8>), PkiError> {
        let key = EcKey::generate(rng);
        let cert = mint_dp_cert(
            &key.public_key_uncompressed(),
            &DpSpec {
                kind,
                organization: TEST_DP_ORG,
                common_name,
                registered_id: dp_oid,
                dns_name,
            },
            ci_key,
            ci_cert,
            rng,
            not_before,
            not_after,
        )?;
        Ok((key, cert))
    };
    let (auth_key, auth_cert) = mint(DpCertKind::Auth, TEST_DP_CN, None)?;
    let (pb_key, pb_cert) = mint(DpCertKind::Pb, TEST_DP_CN, None)?;
    let (tls_key, tls_cert) = mint(DpCertKind::Tls, host, Some(host))?;
    Ok(DpIdentity {
        auth_key,
        auth_cert,
        pb_key,
        pb_cert,
        tls_key,
        tls_cert,
    })
}

/// Loads the SGP.26 test SM-DP+ from `dir`: the DPauth and DPpb certificates
/// and keys as published, and (because the published TLS certificate expired
/// on 2026-08-02) a freshly minted TLS key and certificate for
/// [`SGP26_DP_HOST`] under the SGP.26 CI (`SK_CI_ECDSA_NIST.pem`), with the
/// DPauth certificate's SM-DP+ OID and the given validity.
pub fn load_sgp26_dp<R: CryptoRng + ?Sized>(
    dir: &Path,
    rng: &mut R,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<DpIdentity, PkiError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| PkiError::Io { path, source })
    };
    let load_pair = |cert_name: &str, key_name: &str| -> Result<(EcKey, Vec<u8>), PkiError> {
        let cert = read(cert_name)?;
        let key = EcKey::read_pem_file(dir.join(key_name))?;
        let public = cert_public_key(&cert).ok_or_else(|| PkiError::BadCertificate {
            what: cert_name.to_owned(),
            reason: "no P-256 public key",
        })?;
        if public != key.public_key_uncompressed() {
            return Err(PkiError::KeyMismatch {
                what: cert_name.to_owned(),
            });
        }
        Ok((key, cert))
    };
    let (ci_key, ci_cert) = load_pair(SGP26_CI_CERT, SGP26_CI_KEY)?;
    let (auth_key, auth_cert) = load_pair(SGP26_DPAUTH_CERT, SGP26_DPAUTH_KEY)?;
    let (pb_key, pb_cert) = load_pair(SGP26_DPPB_CERT, SGP26_DPPB_KEY)?;
    let dp_oid = cert_san_registered_id(&auth_cert)
        .and_then(|c| oid_content_to_dotted(&c))
        .ok_or_else(|| PkiError::BadCertificate {
            what: SGP26_DPAUTH_CERT.to_owned(),
            reason: "no subjectAltName registeredID",
        })?;
    let tls_key = EcKey::generate(rng);
    let tls_cert = mint_dp_cert(
        &tls_key.public_key_uncompressed(),
        &DpSpec {
            kind: DpCertKind::Tls,
            organization: SGP26_DP_ORG,
            common_name: SGP26_DP_HOST,
            registered_id: &dp_oid,
            dns_name: Some(SGP26_DP_HOST),
        },
        &ci_key,
        &ci_cert,
        rng,
        not_before,
        not_after,
    )?;
    Ok(DpIdentity {
        auth_key,
        auth_cert,
        pb_key,
        pb_cert,
        tls_key,
        tls_cert,
    })
}

/// subjectAltName with a dNSName and a registeredID, DER-encoded by hand.
fn san_dns_rid_extension(host: &str, rid: &str) -> Result<Extension, PkiError> {
    if host.is_empty() || !host.is_ascii() {
        return Err(PkiError::InvalidName {
            attribute: "dNSName",
            reason: "must be a non-empty ASCII host name",
        });
    }
    let mut names = der_tlv(0x82, host.as_bytes())?;
    names.extend(der_tlv(0x88, &oid_content_from_dotted(rid)?)?);
    Ok(Extension {
        extn_id: SubjectAltName::OID,
        critical: false,
        extn_value: OctetString::new(der_tlv(0x30, &names)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;
    use std::time::{Duration, UNIX_EPOCH};

    const SGP26_CI_SKI: &str = "F54172BDF98A95D65CBEB88A38A1C11D800A85C3";
    const SGP26_EUM_SKI: &str = "DD3DA24D350C1CC5D0AF0965F40EC34C5EE409F1";
    const TEST_EID: &str = "89049032123451234512345678901235";

    fn testdata_sgp26() -> Option<PathBuf> {
        let base = std::env::var_os("VEUICC_TESTDATA")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
            });
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

    fn times() -> (SystemTime, SystemTime) {
        // 2024-01-01T00:00:00Z .. 2099-12-31T23:59:59Z
        (
            UNIX_EPOCH + Duration::from_secs(1_704_067_200),
            UNIX_EPOCH + Duration::from_secs(4_102_444_799),
        )
    }

    fn eid() -> [u8; 16] {
        eid_from_hex(TEST_EID).expect("eid")
    }

    fn minted() -> (Identity, TestCi) {
        let (nb, na) = times();
        mint_test_pki(eid(), &mut ChaCha20Rng::seed_from_u64(7), nb, na).expect("mint")
    }

    fn ext_of(cert: &Certificate, id: ObjectIdentifier) -> Option<&Extension> {
        cert.tbs_certificate()
            .extensions()?
            .iter()
            .find(|e| e.extn_id == id)
    }

    /// (OID, critical) pairs in order.
    fn ext_list(der: &[u8]) -> Vec<(ObjectIdentifier, bool)> {
        let cert = Certificate::from_der(der).expect("parse");
        cert.tbs_certificate()
            .extensions()
            .map(|v| v.iter().map(|e| (e.extn_id, e.critical)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn minted_chain_verifies() {
        let (id, ci) = minted();
        let ci_pk = cert_public_key(&id.ci_cert).expect("ci pk");
        let eum_pk = cert_public_key(&id.eum_cert).expect("eum pk");
        assert_eq!(ci_pk, ci.ci_key.public_key_uncompressed());
        assert_eq!(eum_pk, ci.eum_key.public_key_uncompressed());
        assert_eq!(
            cert_public_key(&id.euicc_cert).expect("euicc pk"),
            id.euicc_key.public_key_uncompressed()
        );
        assert!(verify_cert_signature(&id.ci_cert, &ci_pk));
        assert!(verify_cert_signature(&id.eum_cert, &ci_pk));
        assert!(verify_cert_signature(&id.euicc_cert, &eum_pk));
        // Wrong issuer keys fail.
        assert!(!verify_cert_signature(&id.euicc_cert, &ci_pk));
        assert!(!verify_cert_signature(&id.eum_cert, &eum_pk));
        // A flipped bit inside the TBS fails.
        let mut tampered = id.euicc_cert.clone();
        let idx = tampered.len() / 2;
        tampered[idx] ^= 0x01;
        assert!(!verify_cert_signature(&tampered, &eum_pk));
    }

    #[test]
    fn ski_aki_link() {
        let (id, ci) = minted();
        let ci_ski = cert_ski(&id.ci_cert).expect("ci ski");
        let eum_ski = cert_ski(&id.eum_cert).expect("eum ski");
        let euicc_ski = cert_ski(&id.euicc_cert).expect("euicc ski");
        assert_eq!(ci_ski, key_identifier(&ci.ci_key.public_key_uncompressed()));
        assert_eq!(
            eum_ski,
            key_identifier(&ci.eum_key.public_key_uncompressed())
        );
        assert_eq!(
            euicc_ski,
            key_identifier(&id.euicc_key.public_key_uncompressed())
        );
        assert_eq!(ci_ski.len(), 20);
        assert_eq!(id.ci_ski(), ci_ski);
        // SGP.22: the CI carries only the SKI.
        assert_eq!(cert_aki(&id.ci_cert), None);
        assert_eq!(cert_aki(&id.eum_cert), Some(ci_ski));
        assert_eq!(cert_aki(&id.euicc_cert), Some(eum_ski));
    }

    #[test]
    fn profiles_exact() {
        let (id, _) = minted();
        use x509_cert::ext::pkix as p;
        let ski = p::SubjectKeyIdentifier::OID;
        let aki = p::AuthorityKeyIdentifier::OID;
        let ku = p::KeyUsage::OID;
        let cp = p::CertificatePolicies::OID;
        let san = p::SubjectAltName::OID;
        let bc = p::BasicConstraints::OID;
        let nc = p::NameConstraints::OID;
        assert_eq!(
            ext_list(&id.ci_cert),
            vec![
                (ski, false),
                (bc, true),
                (cp, true),
                (ku, true),
                (san, false)
            ]
        );
        assert_eq!(
            ext_list(&id.eum_cert),
            vec![
                (aki, false),
                (ski, false),
                (ku, true),
                (cp, true),
                (san, false),
                (bc, true),
                (nc, true)
            ]
        );
        assert_eq!(
            ext_list(&id.euicc_cert),
            vec![(aki, false), (ski, false), (ku, true), (cp, true)]
        );

        // Policies parse back.
        assert_eq!(cert_policy_oids(&id.ci_cert), vec![oid::ID_RSP_ROLE_CI]);
        assert_eq!(cert_policy_oids(&id.eum_cert), vec![oid::ID_RSP_ROLE_EUM]);
        assert_eq!(
            cert_policy_oids(&id.euicc_cert),
            vec![oid::ID_RSP_ROLE_EUICC]
        );
        assert_eq!(oid::ID_RSP_ROLE_EUM.to_string(), "2.23.146.1.2.1.2");

        // Key usage, basic constraints, SAN parse back.
        let get = |der: &[u8]| Certificate::from_der(der).expect("parse");
        let ci = get(&id.ci_cert);
        let eum = get(&id.eum_cert);
        let euicc = get(&id.euicc_cert);
        let (_, k) = ci
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .expect("ku")
            .expect("ku present");
        assert!(k.key_cert_sign() && k.crl_sign() && !k.digital_signature());
        let (_, k) = eum
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .expect("ku")
            .expect("ku present");
        assert!(k.key_cert_sign() && !k.crl_sign() && !k.digital_signature());
        let (_, k) = euicc
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .expect("ku")
            .expect("ku present");
        assert!(k.digital_signature() && !k.key_cert_sign());
        let (_, b) = ci
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .expect("bc")
            .expect("bc present");
        assert!(b.ca && b.path_len_constraint.is_none());
        let (_, b) = eum
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .expect("bc")
            .expect("bc present");
        assert!(b.ca && b.path_len_constraint == Some(0));
        let rid = |der: &[u8]| cert_san_registered_id(der).and_then(|c| oid_content_to_dotted(&c));
        assert_eq!(rid(&id.ci_cert).as_deref(), Some(oid::TEST_CI_RID));
        assert_eq!(rid(&id.eum_cert).as_deref(), Some(oid::TEST_EUM_RID));
        assert_eq!(cert_san_registered_id(&id.euicc_cert), None);

        // Exact DER of the small extension values (as in the SGP.26 files).
        let value = |c: &Certificate, o| {
            ext_of(c, o)
                .expect("extension")
                .extn_value
                .as_bytes()
                .to_vec()
        };
        assert_eq!(value(&ci, ku), [0x03, 0x02, 0x01, 0x06]);
        assert_eq!(value(&eum, ku), [0x03, 0x02, 0x02, 0x04]);
        assert_eq!(value(&euicc, ku), [0x03, 0x02, 0x07, 0x80]);
        assert_eq!(value(&ci, bc), [0x30, 0x03, 0x01, 0x01, 0xFF]);
        assert_eq!(
            value(&eum, bc),
            [0x30, 0x06, 0x01, 0x01, 0xFF, 0x02, 0x01, 0x00]
        );
        assert_eq!(
            value(&eum, cp),
            hex::decode("300B3009060767811201020102").expect("hex")
        );
        assert_eq!(
            value(&eum, san),
            hex::decode("30058803883705").expect("hex")
        );

        // Names.
        assert_eq!(
            cert_serial_number_subject(&id.euicc_cert).as_deref(),
            Some(TEST_EID)
        );
        assert_eq!(
            cert_subject_organization(&id.euicc_cert).as_deref(),
            Some(TEST_EUM_ORG)
        );
        assert_eq!(
            euicc.tbs_certificate().issuer(),
            eum.tbs_certificate().subject()
        );
        assert_eq!(
            eum.tbs_certificate().issuer(),
            ci.tbs_certificate().subject()
        );
        assert_eq!(
            ci.tbs_certificate().issuer(),
            ci.tbs_certificate().subject()
        );
        assert_eq!(
            cert_permitted_subtrees(&id.eum_cert),
            Some(vec![(
                Some(TEST_EUM_ORG.to_owned()),
                Some("89049032".to_owned())
            )])
        );

        // Versions, algorithms, serials.
        for c in [&ci, &eum, &euicc] {
            assert_eq!(c.tbs_certificate().version(), x509_cert::Version::V3);
            assert_eq!(c.signature_algorithm().oid, oid::ECDSA_WITH_SHA256);
            assert!(c.signature_algorithm().parameters.is_none());
            let serial = c.tbs_certificate().serial_number().as_bytes();
            assert_eq!(serial.len(), 16);
            assert!(serial[0] & 0x80 == 0 && serial[0] != 0);
        }
        assert_ne!(
            ci.tbs_certificate().serial_number(),
            eum.tbs_certificate().serial_number()
        );

        // Validity as passed in (UTCTime before 2050, GeneralizedTime after).
        let v = euicc.tbs_certificate().validity();
        assert_eq!(v.not_before.to_unix_duration().as_secs(), 1_704_067_200);
        assert_eq!(v.not_after.to_unix_duration().as_secs(), 4_102_444_799);
        assert!(matches!(v.not_before, Time::UtcTime(_)));
        assert!(matches!(v.not_after, Time::GeneralTime(_)));
    }

    #[test]
    fn eum_name_constraint_enforced_when_minting() {
        let (_, ci) = minted();
        let (nb, na) = times();
        let key = EcKey::generate(&mut ChaCha20Rng::seed_from_u64(9));
        let other = eid_with_check_digits("890490990000000000000000000001").expect("eid");
        let err = mint_euicc_cert(
            &key.public_key_uncompressed(),
            &EuiccSpec {
                organization: TEST_EUM_ORG,
                common_name: TEST_EUICC_CN,
                eid: other,
            },
            &ci.eum_key,
            &ci.eum_cert,
            &mut ChaCha20Rng::seed_from_u64(10),
            nb,
            na,
        );
        assert!(
            matches!(err, Err(PkiError::EidNotPermitted { .. })),
            "{err:?}"
        );
        let err = mint_euicc_cert(
            &key.public_key_uncompressed(),
            &EuiccSpec {
                organization: "Someone Else",
                common_name: TEST_EUICC_CN,
                eid: eid(),
            },
            &ci.eum_key,
            &ci.eum_cert,
            &mut ChaCha20Rng::seed_from_u64(10),
            nb,
            na,
        );
        assert!(matches!(err, Err(PkiError::InvalidName { .. })), "{err:?}");
        // Wrong issuer key for the EUM certificate.
        let err = mint_euicc_cert(
            &key.public_key_uncompressed(),
            &EuiccSpec {
                organization: TEST_EUM_ORG,
                common_name: TEST_EUICC_CN,
                eid: eid(),
            },
            &ci.ci_key,
            &ci.eum_cert,
            &mut ChaCha20Rng::seed_from_u64(10),
            nb,
            na,
        );
        assert!(matches!(err, Err(PkiError::KeyMismatch { .. })), "{err:?}");
    }

    #[test]
    fn eid_helpers() {
        let e = eid();
        assert_eq!(e[0], 0x89);
        assert_eq!(e[15], 0x35);
        assert_eq!(eid_to_string(&e), TEST_EID);
        assert!(eid_check_digits_valid(&e));
        let mut bad = e;
        bad[15] = 0x36;
        assert!(!eid_check_digits_valid(&bad));
        bad[15] = 0x3A;
        assert!(!eid_check_digits_valid(&bad));
        assert_eq!(
            eid_with_check_digits(&TEST_EID[..30]).expect("check digits"),
            e
        );
        for prefix in [
            "000000000000000000000000000000",
            "999999999999999999999999999999",
            "890490320000000000000000000001",
        ] {
            let full = eid_with_check_digits(prefix).expect("check digits");
            assert!(eid_check_digits_valid(&full), "{prefix}");
            assert!(eid_to_string(&full).starts_with(prefix));
        }
        assert!(eid_from_hex("8904903212345123451234567890123").is_err());
        assert!(eid_from_hex("8904903212345123451234567890123A").is_err());
        assert!(eid_with_check_digits("12345").is_err());
        assert!(eid_with_check_digits("89049032123451234512345678901x").is_err());
    }

    #[test]
    fn no_expiry_encodes_as_generalized_9999() {
        let (nb, _) = times();
        let (id, _) = mint_test_pki(
            eid(),
            &mut ChaCha20Rng::seed_from_u64(5),
            nb,
            not_after_no_expiry(),
        )
        .expect("mint");
        let cert = Certificate::from_der(&id.euicc_cert).expect("parse");
        let na = cert.tbs_certificate().validity().not_after;
        assert!(matches!(na, Time::GeneralTime(_)));
        assert_eq!(na.to_der().expect("der"), b"\x18\x0f99991231235959Z");
    }

    #[test]
    fn oid_content_codec() {
        for (dotted, hexed) in [
            ("2.999.5", "883705"),
            ("2.999.10", "88370A"),
            ("2.23.146.1.2.1.2", "67811201020102"),
            ("1.2.840.10045.4.3.2", "2A8648CE3D040302"),
            ("0.0", "00"),
        ] {
            let content = oid_content_from_dotted(dotted).expect(dotted);
            assert_eq!(hex::encode_upper(&content), hexed, "{dotted}");
            assert_eq!(oid_content_to_dotted(&content).as_deref(), Some(dotted));
        }
        for bad in ["", "1", "3.1", "1.40", "1..2", "1.2.x"] {
            assert!(oid_content_from_dotted(bad).is_err(), "{bad}");
        }
        assert_eq!(oid_content_to_dotted(&[0x88]), None);
        assert_eq!(oid_content_to_dotted(&[0x80, 0x01]), None);
    }

    #[test]
    fn minting_rejects_non_decimal_eid() {
        let (nb, na) = times();
        let mut e = eid();
        e[3] = 0xAB;
        let r = mint_test_pki(e, &mut ChaCha20Rng::seed_from_u64(1), nb, na);
        assert!(matches!(r, Err(PkiError::InvalidEid(_))));
    }

    #[test]
    fn sgp26_identity() {
        let Some(dir) = testdata_sgp26() else {
            return;
        };
        let (nb, na) = times();

        // The loaded EUM key matches the EUM certificate.
        let eum_key = EcKey::read_pem_file(dir.join(SGP26_EUM_KEY)).expect("eum key");
        let eum_cert = std::fs::read(dir.join(SGP26_EUM_CERT)).expect("eum cert");
        let ci_cert = std::fs::read(dir.join(SGP26_CI_CERT)).expect("ci cert");
        assert_eq!(
            cert_public_key(&eum_cert).expect("eum pk"),
            eum_key.public_key_uncompressed()
        );
        let ci_key = EcKey::read_pem_file(dir.join("SK_CI_ECDSA_NIST.pem")).expect("ci key");
        assert_eq!(
            cert_public_key(&ci_cert).expect("ci pk"),
            ci_key.public_key_uncompressed()
        );

        // SKI = SHA-1 of the key bits reproduces the published SKIs.
        assert_eq!(
            hex::encode_upper(cert_ski(&ci_cert).expect("ski")),
            SGP26_CI_SKI
        );
        assert_eq!(
            hex::encode_upper(key_identifier(&ci_key.public_key_uncompressed())),
            SGP26_CI_SKI
        );
        assert_eq!(
            hex::encode_upper(cert_ski(&eum_cert).expect("ski")),
            SGP26_EUM_SKI
        );
        assert_eq!(cert_policy_oids(&eum_cert), vec![oid::ID_RSP_ROLE_EUM]);
        assert_eq!(
            cert_san_registered_id(&eum_cert),
            Some(vec![0x88, 0x37, 0x05])
        );
        assert_eq!(
            cert_permitted_subtrees(&eum_cert),
            Some(vec![(
                Some(SGP26_EUM_ORG.to_owned()),
                Some(SGP26_EID_PREFIX.to_owned())
            )])
        );
        let ci_pk = cert_public_key(&ci_cert).expect("ci pk");
        assert!(verify_cert_signature(&ci_cert, &ci_pk));
        assert!(verify_cert_signature(&eum_cert, &ci_pk));

        let id = identity_from_sgp26(&dir, eid(), &mut ChaCha20Rng::seed_from_u64(11), nb, na)
            .expect("identity");
        assert_eq!(hex::encode_upper(id.ci_ski()), SGP26_CI_SKI);
        assert_eq!(id.eum_cert, eum_cert);
        assert_eq!(id.ci_cert, ci_cert);
        assert!(verify_cert_signature(
            &id.euicc_cert,
            &eum_key.public_key_uncompressed()
        ));
        assert_eq!(cert_aki(&id.euicc_cert), cert_ski(&eum_cert));
        assert_eq!(
            cert_serial_number_subject(&id.euicc_cert).as_deref(),
            Some(TEST_EID)
        );
        assert_eq!(
            cert_subject_organization(&id.euicc_cert).as_deref(),
            Some(SGP26_EUM_ORG)
        );
        assert_eq!(
            cert_policy_oids(&id.euicc_cert),
            vec![oid::ID_RSP_ROLE_EUICC]
        );
        // The identity key signs and the certificate's key verifies.
        let sig = id.euicc_key.sign_raw(b"euiccSigned1");
        let pk = cert_public_key(&id.euicc_cert).expect("pk");
        assert!(crate::keys::verify_raw(&pk, b"euiccSigned1", &sig));

        // EIDs outside 89049032 are refused with a clear error.
        let other = eid_with_check_digits("890490990000000000000000000001").expect("eid");
        let err = identity_from_sgp26(&dir, other, &mut ChaCha20Rng::seed_from_u64(12), nb, na);
        match err {
            Err(PkiError::EidNotPermitted { prefix, .. }) => assert_eq!(prefix, "89049032"),
            other => panic!("unexpected {other:?}"),
        }

        // The SGP.26 DP certificates verify under the CI and carry their roles.
        let dpauth = std::fs::read(dir.join("CERT_S_SM_DPauth_ECDSA_NIST.der")).expect("dpauth");
        assert!(verify_cert_signature(&dpauth, &ci_pk));
        assert_eq!(cert_policy_oids(&dpauth), vec![oid::ID_RSP_ROLE_DP_AUTH]);
        assert_eq!(
            cert_aki(&dpauth).map(hex::encode_upper).as_deref(),
            Some(SGP26_CI_SKI)
        );
        let dp_oid = cert_san_registered_id(&dpauth).expect("dp oid");
        assert_eq!(oid_content_to_dotted(&dp_oid).as_deref(), Some("2.999.10"));
        let dppb = std::fs::read(dir.join("CERT_S_SM_DPpb_ECDSA_NIST.der")).expect("dppb");
        assert_eq!(cert_policy_oids(&dppb), vec![oid::ID_RSP_ROLE_DP_PB]);
        assert_eq!(cert_san_registered_id(&dppb), Some(dp_oid));
        let brp = std::fs::read(dir.join("CERT_CI_ECDSA_BRP.der")).expect("brp");
        assert_eq!(cert_curve_oid(&brp), Some(oid::BRAINPOOL_P256R1));
        assert_eq!(cert_public_key(&brp), None);
    }

    /// Writes a minted chain for manual `openssl verify` checks when
    /// VEUICC_PKI_DUMP names a directory.
    #[test]
    fn dump_for_openssl() {
        let Some(out) = std::env::var_os("VEUICC_PKI_DUMP").map(PathBuf::from) else {
            return;
        };
        std::fs::create_dir_all(&out).expect("mkdir");
        let (id, ci) = minted();
        std::fs::write(out.join("ci.der"), &id.ci_cert).expect("write");
        std::fs::write(out.join("eum.der"), &id.eum_cert).expect("write");
        std::fs::write(out.join("euicc.der"), &id.euicc_cert).expect("write");
        id.euicc_key
            .write_pem_file(out.join("euicc.key"))
            .expect("key");
        ci.eum_key.write_pem_file(out.join("eum.key")).expect("key");
        // The same profiles without the EUM name constraint: OpenSSL applies
        // RFC 5280 DN-prefix matching, under which the GSMA "EID starts with"
        // constraint can never match, so this variant checks everything else.
        let (nb, na) = times();
        let mut rng = ChaCha20Rng::seed_from_u64(99);
        let eum_nc_free = mint_eum_cert(
            &ci.eum_key.public_key_uncompressed(),
            &EumSpec {
                organization: TEST_EUM_ORG,
                common_name: TEST_EUM_CN,
                registered_id: oid::TEST_EUM_RID,
                permitted: None,
            },
            &ci.ci_key,
            &ci.ci_cert,
            &mut rng,
            nb,
            na,
        )
        .expect("eum");
        let euicc_nc_free = mint_euicc_cert(
            &id.euicc_key.public_key_uncompressed(),
            &EuiccSpec {
                organization: TEST_EUM_ORG,
                common_name: TEST_EUICC_CN,
                eid: id.eid,
            },
            &ci.eum_key,
            &eum_nc_free,
            &mut rng,
            nb,
            na,
        )
        .expect("euicc");
        std::fs::write(out.join("eum_nc_free.der"), &eum_nc_free).expect("write");
        std::fs::write(out.join("euicc_nc_free.der"), &euicc_nc_free).expect("write");
        if let Some(dir) = testdata_sgp26() {
            let (nb, na) = times();
            let id = identity_from_sgp26(&dir, eid(), &mut ChaCha20Rng::seed_from_u64(3), nb, na)
                .expect("identity");
            std::fs::write(out.join("sgp26_euicc.der"), &id.euicc_cert).expect("write");
        }
    }
}
