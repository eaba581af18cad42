//! Parsed X.509 certificates and SGP.22 certificate chain validation.
//!
//! [`Cert`] is a read-only view of one DER certificate with the fields the RSP
//! certificate profiles (SGP.22 section 4.5.2) use. [`verify_chain`] validates
//! a chain such as CI → EUM → eUICC or CI → DPauth:
//!
//! - chaining is by key identifier (issuer SKI = subject AKI), never by names:
//!   the SGP.26 CI was re-issued with the same key and a different name;
//! - every signature must be ecdsa-with-SHA256 (DER `ECDSA-Sig-Value` in the
//!   BIT STRING) by a NIST P-256 key; any other curve (e.g. the SGP.26
//!   brainpoolP256r1 CI) gives [`CertError::UnsupportedCurve`];
//! - every certificate, the trusted CI included, must be within its validity
//!   period at `now` (inclusive bounds, RFC 5280 section 4.1.2.5);
//! - each level must carry exactly its `id-rspRole-*` policy (the leaf the
//!   expected role; the EUM `id-rspRole-eum`; the CI `id-rspRole-ci`);
//! - CAs need `cA` and keyCertSign, and their pathLenConstraint is enforced;
//!   leaves need digitalSignature (plus serverAuth for TLS roles);
//! - name constraints use the GSMA semantics (SGP.22 section 4.5.2.2): for
//!   each attribute of a permitted directoryName subtree, the subject's
//!   serialNumber (the EID) must *start with* the constraint's serialNumber,
//!   and any other attribute (O) must be equal. This is not RFC 5280 DN-prefix
//!   matching, which is why `openssl verify` refuses these chains;
//! - unknown critical extensions are refused.
//!
//! Certificate signatures are checked by a [`CryptoProvider`]: the `*_with`
//! functions ([`verify_chain_with`], [`verify_chain_for_roles_with`],
//! [`Cert::verify_signed_by_with`]) take it, the others use RustCrypto.
//!
//! Nothing here reads the clock or does I/O: callers pass `now`.

use std::fmt;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use der::asn1::{AnyRef, Ia5StringRef, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
use der::oid::AssociatedOid;
use der::{Any, Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use p256::PublicKey;
use sha1::{Digest, Sha1};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, ExtendedKeyUsage, KeyUsage,
    NameConstraints, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::Certificate;

use crate::crypto::rustcrypto::RustCrypto;
use crate::crypto::CryptoProvider;
use crate::keys::public_key_to_uncompressed;
use crate::pki::{oid, oid_content_from_dotted, oid_content_to_dotted};

/// `id-kp-serverAuth` 1.3.6.1.5.5.7.3.1.
pub const ID_KP_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
/// `id-kp-clientAuth` 1.3.6.1.5.5.7.3.2.
pub const ID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// Longest chain (leaf plus intermediates) [`verify_chain`] will build.
const MAX_PATH: usize = 8;

// ---------------------------------------------------------------------------
// Object identifiers of any shape
// ---------------------------------------------------------------------------

/// An object identifier kept as its BER content octets, so that any arcs are
/// representable (`const-oid` cannot hold the `2.999.x` test OIDs of SGP.26).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RawOid(Vec<u8>);

impl RawOid {
    /// From BER content octets (no tag or length); `None` if malformed.
    pub fn from_content(content: &[u8]) -> Option<Self> {
        oid_content_to_dotted(content).map(|_| Self(content.to_vec()))
    }

    /// From dotted form (e.g. `"2.999.10"`); `None` if malformed.
    pub fn from_dotted(dotted: &str) -> Option<Self> {
        oid_content_from_dotted(dotted).ok().map(Self)
    }

    /// The BER content octets (what SGP.22 carries in `smdpOid`).
    pub fn content(&self) -> &[u8] {
        &self.0
    }

    /// Dotted form, e.g. `2.999.10`.
    pub fn dotted(&self) -> String {
        oid_content_to_dotted(&self.0).unwrap_or_default()
    }

    /// Whether this is `oid`.
    pub fn is(&self, oid: &ObjectIdentifier) -> bool {
        self.0 == oid.as_bytes()
    }
}

impl From<ObjectIdentifier> for RawOid {
    fn from(oid: ObjectIdentifier) -> Self {
        Self(oid.as_bytes().to_vec())
    }
}

impl fmt::Debug for RawOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawOid({})", self.dotted())
    }
}

impl fmt::Display for RawOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dotted())
    }
}

// ---------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------

/// Certificate roles, identified by the SGP.22 certificate policies
/// `id-rspRole-*` (2.23.146.1.2.1.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `id-rspRole-ci` (.0): the GSMA Certificate Issuer.
    Ci,
    /// `id-rspRole-euicc` (.1): CERT.EUICC.ECDSA.
    Euicc,
    /// `id-rspRole-eum` (.2): CERT.EUM.ECDSA.
    Eum,
    /// `id-rspRole-dp-tls` (.3): CERT.DP.TLS.
    DpTls,
    /// `id-rspRole-dp-auth` (.4): CERT.DPauth.ECDSA.
    DpAuth,
    /// `id-rspRole-dp-pb` (.5): CERT.DPpb.ECDSA.
    DpPb,
    /// `id-rspRole-ds-tls` (.6): CERT.DS.TLS.
    DsTls,
    /// `id-rspRole-ds-auth` (.7): CERT.DSauth.ECDSA.
    DsAuth,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::Ci,
        Role::Euicc,
        Role::Eum,
        Role::DpTls,
        Role::DpAuth,
        Role::DpPb,
        Role::DsTls,
        Role::DsAuth,
    ];

    /// The certificate policy OID of the role.
    pub fn policy_oid(self) -> ObjectIdentifier {
        match self {
            Role::Ci => oid::ID_RSP_ROLE_CI,
            Role::Euicc => oid::ID_RSP_ROLE_EUICC,
            Role::Eum => oid::ID_RSP_ROLE_EUM,
            Role::DpTls => oid::ID_RSP_ROLE_DP_TLS,
            Role::DpAuth => oid::ID_RSP_ROLE_DP_AUTH,
            Role::DpPb => oid::ID_RSP_ROLE_DP_PB,
            Role::DsTls => oid::ID_RSP_ROLE_DS_TLS,
            Role::DsAuth => oid::ID_RSP_ROLE_DS_AUTH,
        }
    }

    /// The role a policy OID names, if it is an `id-rspRole-*`.
    pub fn from_policy(policy: &RawOid) -> Option<Role> {
        Role::ALL.into_iter().find(|r| policy.is(&r.policy_oid()))
    }

    /// Short name as SGP.22 writes it (`CI`, `EUM`, `eUICC`, `DPauth`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Role::Ci => "CI",
            Role::Euicc => "eUICC",
            Role::Eum => "EUM",
            Role::DpTls => "DPtls",
            Role::DpAuth => "DPauth",
            Role::DpPb => "DPpb",
            Role::DsTls => "DStls",
            Role::DsAuth => "DSauth",
        }
    }

    /// Whether certificates of this role issue certificates.
    pub fn is_ca(self) -> bool {
        matches!(self, Role::Ci | Role::Eum)
    }

    /// The roles between a leaf of this role and the CI, leaf side first
    /// (SGP.22 v2: the EUM for an eUICC, nothing for the others).
    fn intermediate_roles(self) -> &'static [Role] {
        match self {
            Role::Euicc => &[Role::Eum],
            _ => &[],
        }
    }

    /// Whether the subjectAltName must carry a registeredID (the entity's OID).
    fn needs_registered_id(self) -> bool {
        matches!(self, Role::DpAuth | Role::DpPb | Role::DsAuth)
    }

    fn is_tls(self) -> bool {
        matches!(self, Role::DpTls | Role::DsTls)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Where in a chain a certificate sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainLevel {
    /// The end-entity certificate (eUICC, DPauth, DPpb, TLS, ...).
    Leaf,
    /// An intermediate CA; 0 is the leaf's issuer (the EUM in an eUICC chain).
    Intermediate(usize),
    /// The trusted CI certificate.
    Ci,
}

impl fmt::Display for ChainLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainLevel::Leaf => f.write_str("leaf"),
            ChainLevel::Intermediate(i) => write!(f, "intermediate {i}"),
            ChainLevel::Ci => f.write_str("CI"),
        }
    }
}

/// Why a certificate or chain was refused. Map to SGP.22 codes with
/// [`CertError::authenticate_error_code`], [`CertError::download_error_code`]
/// and [`CertError::authenticate_client_status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The bytes are not a well-formed X.509 certificate (or an extension
    /// we must understand cannot be decoded).
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// A key is not on NIST P-256 (or not an EC key at all).
    #[error("{level} certificate: unsupported curve / key type {curve}")]
    UnsupportedCurve {
        /// Which certificate.
        level: ChainLevel,
        /// The named curve (or key algorithm) found, dotted.
        curve: String,
    },
    /// The signature algorithm is not ecdsa-with-SHA256 (or is inconsistent).
    #[error("{level} certificate: unsupported signature algorithm {algorithm}")]
    UnsupportedSignatureAlgorithm {
        /// Which certificate.
        level: ChainLevel,
        /// The algorithm found, dotted.
        algorithm: String,
    },
    /// The signature does not verify with the issuer's key.
    #[error("{level} certificate: signature does not verify with the issuer's key")]
    BadSignature {
        /// Which certificate.
        level: ChainLevel,
    },
    /// `now` is after notAfter.
    #[error("{level} certificate expired (notAfter {not_after}, now {now}, unix seconds)")]
    Expired {
        /// Which certificate.
        level: ChainLevel,
        /// notAfter, unix seconds.
        not_after: u64,
        /// The time checked, unix seconds.
        now: u64,
    },
    /// `now` is before notBefore.
    #[error("{level} certificate not yet valid (notBefore {not_before}, now {now}, unix seconds)")]
    NotYetValid {
        /// Which certificate.
        level: ChainLevel,
        /// notBefore, unix seconds.
        not_before: u64,
        /// The time checked, unix seconds.
        now: u64,
    },
    /// The certificate policies do not name exactly the expected role.
    #[error("{level} certificate: expected policy id-rspRole-{expected}, found {found:?}")]
    WrongRole {
        /// Which certificate.
        level: ChainLevel,
        /// The role required at this level.
        expected: Role,
        /// The policy OIDs present, dotted.
        found: Vec<String>,
    },
    /// An SM-DP+/SM-DS certificate has no subjectAltName registeredID.
    #[error("{level} certificate: no subjectAltName registeredID (entity OID)")]
    MissingRegisteredId {
        /// Which certificate.
        level: ChainLevel,
    },
    /// An authorityKeyIdentifier (or, on a CA, subjectKeyIdentifier) is missing.
    #[error("{level} certificate: no {which}")]
    MissingKeyIdentifier {
        /// Which certificate.
        level: ChainLevel,
        /// `"authorityKeyIdentifier"` or `"subjectKeyIdentifier"`.
        which: &'static str,
    },
    /// The chain leads (by AKI) to a key that is neither a trusted CI nor a
    /// supplied intermediate, or to an untrusted self-issued root.
    #[error(
        "unknown CI: no trusted CI has key identifier {}",
        hex::encode_upper(aki)
    )]
    UnknownCi {
        /// The authority key identifier that could not be resolved.
        aki: Vec<u8>,
    },
    /// The chain does not have the shape the leaf role requires (e.g. an
    /// eUICC certificate must come with exactly one EUM certificate).
    #[error("chain for a {role} certificate must have {expected} intermediate(s), found {found}")]
    ChainLength {
        /// The leaf role.
        role: Role,
        /// Intermediates required.
        expected: usize,
        /// Intermediates found by AKI chaining.
        found: usize,
    },
    /// An issuing certificate lacks basicConstraints `cA = TRUE`; or a leaf has it.
    #[error("{level} certificate: basicConstraints cA is {}", if *.is_ca { "TRUE on an end entity" } else { "not TRUE on an issuer" })]
    CaFlag {
        /// Which certificate.
        level: ChainLevel,
        /// The offending flag value.
        is_ca: bool,
    },
    /// A pathLenConstraint is exceeded.
    #[error("{level} certificate: pathLenConstraint exceeded")]
    PathLenExceeded {
        /// Which certificate.
        level: ChainLevel,
    },
    /// keyUsage / extendedKeyUsage does not allow the use.
    #[error("{level} certificate: key usage does not include {required}")]
    KeyUsage {
        /// Which certificate.
        level: ChainLevel,
        /// What is missing (`digitalSignature`, `keyCertSign`, `serverAuth`).
        required: &'static str,
    },
    /// A critical extension we do not process.
    #[error("{level} certificate: unsupported critical extension {oid}")]
    UnsupportedCriticalExtension {
        /// Which certificate.
        level: ChainLevel,
        /// Its OID, dotted.
        oid: String,
    },
    /// The subject O differs from the one an issuer's name constraint permits.
    #[error(
        "{level} certificate: organization {found:?} not permitted (permitted: {permitted:?})"
    )]
    OrganizationNotPermitted {
        /// Which certificate.
        level: ChainLevel,
        /// The subject's O, if any.
        found: Option<String>,
        /// The permitted O.
        permitted: String,
    },
    /// The subject serialNumber (EID) does not start with the permitted prefix.
    #[error("{level} certificate: EID {found:?} outside the permitted range {prefix}*")]
    EidNotPermitted {
        /// Which certificate.
        level: ChainLevel,
        /// The subject's serialNumber, if any.
        found: Option<String>,
        /// The permitted prefix.
        prefix: String,
    },
    /// The subject violates a name constraint in another way (another
    /// attribute differs, or it falls in an excluded subtree).
    #[error("{level} certificate: subject not permitted by a name constraint ({reason})")]
    NameNotPermitted {
        /// Which certificate.
        level: ChainLevel,
        /// Why.
        reason: String,
    },
    /// An eUICC certificate's subject serialNumber is not a 32-digit EID.
    #[error("{level} certificate: subject serialNumber {found:?} is not a 32-digit EID")]
    InvalidEid {
        /// Which certificate.
        level: ChainLevel,
        /// The serialNumber found.
        found: Option<String>,
    },
    /// [`Role::Ci`] was requested as leaf role (a CI is a trust anchor, not a leaf).
    #[error("role {0} cannot be validated as a leaf")]
    UnsupportedLeafRole(Role),
}

/// `AuthenticateErrorCode` values (SGP.22 ES10b.AuthenticateServer).
pub mod authenticate_error {
    /// invalidCertificate.
    pub const INVALID_CERTIFICATE: i64 = 1;
    /// invalidSignature.
    pub const INVALID_SIGNATURE: i64 = 2;
    /// unsupportedCurve.
    pub const UNSUPPORTED_CURVE: i64 = 3;
    /// noSessionContext.
    pub const NO_SESSION_CONTEXT: i64 = 4;
    /// invalidOid.
    pub const INVALID_OID: i64 = 5;
    /// euiccChallengeMismatch.
    pub const EUICC_CHALLENGE_MISMATCH: i64 = 6;
    /// ciPKUnknown.
    pub const CI_PK_UNKNOWN: i64 = 7;
    /// undefinedError.
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// `DownloadErrorCode` values (SGP.22 ES10b.PrepareDownload).
pub mod download_error {
    /// invalidCertificate.
    pub const INVALID_CERTIFICATE: i64 = 1;
    /// invalidSignature.
    pub const INVALID_SIGNATURE: i64 = 2;
    /// unsupportedCurve.
    pub const UNSUPPORTED_CURVE: i64 = 3;
    /// noSessionContext.
    pub const NO_SESSION_CONTEXT: i64 = 4;
    /// invalidTransactionId.
    pub const INVALID_TRANSACTION_ID: i64 = 5;
    /// undefinedError.
    pub const UNDEFINED_ERROR: i64 = 127;
}

/// An ES9+ function execution status code pair (SGP.22 section 6.5.2 /
/// the subject and reason code tables), as an SM-DP+ returns it in
/// `statusCodeData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Es9Status {
    /// Subject code, e.g. `8.1.3` (eUICC certificate).
    pub subject_code: &'static str,
    /// Reason code, e.g. `6.1` (verification failed).
    pub reason_code: &'static str,
    /// The SGP.22 description.
    pub message: &'static str,
}

/// 8.1.2 / 6.1: EUM certificate invalid.
pub const ES9_EUM_INVALID: Es9Status = Es9Status {
    subject_code: "8.1.2",
    reason_code: "6.1",
    message: "EUM Certificate is invalid",
};
/// 8.1.2 / 6.3: EUM certificate expired.
pub const ES9_EUM_EXPIRED: Es9Status = Es9Status {
    subject_code: "8.1.2",
    reason_code: "6.3",
    message: "EUM Certificate has expired",
};
/// 8.1.3 / 6.1: eUICC certificate invalid.
pub const ES9_EUICC_INVALID: Es9Status = Es9Status {
    subject_code: "8.1.3",
    reason_code: "6.1",
    message: "eUICC Certificate is invalid",
};
/// 8.1.3 / 6.3: eUICC certificate expired.
pub const ES9_EUICC_EXPIRED: Es9Status = Es9Status {
    subject_code: "8.1.3",
    reason_code: "6.3",
    message: "eUICC Certificate has expired",
};
/// 8.11.1 / 3.9: unknown CI public key.
pub const ES9_CI_UNKNOWN: Es9Status = Es9Status {
    subject_code: "8.11.1",
    reason_code: "3.9",
    message: "Unknown CI Public Key: the CI used by the EUM Certificate is not a trusted root",
};

impl CertError {
    /// The certificate the error is about, when known.
    pub fn level(&self) -> Option<ChainLevel> {
        match self {
            CertError::Malformed(_)
            | CertError::UnknownCi { .. }
            | CertError::ChainLength { .. }
            | CertError::UnsupportedLeafRole(_) => None,
            CertError::UnsupportedCurve { level, .. }
            | CertError::UnsupportedSignatureAlgorithm { level, .. }
            | CertError::BadSignature { level }
            | CertError::Expired { level, .. }
            | CertError::NotYetValid { level, .. }
            | CertError::WrongRole { level, .. }
            | CertError::MissingRegisteredId { level }
            | CertError::MissingKeyIdentifier { level, .. }
            | CertError::CaFlag { level, .. }
            | CertError::PathLenExceeded { level }
            | CertError::KeyUsage { level, .. }
            | CertError::UnsupportedCriticalExtension { level, .. }
            | CertError::OrganizationNotPermitted { level, .. }
            | CertError::EidNotPermitted { level, .. }
            | CertError::NameNotPermitted { level, .. }
            | CertError::InvalidEid { level, .. } => Some(*level),
        }
    }

    /// The `AuthenticateErrorCode` for ES10b.AuthenticateServer when this
    /// error comes from verifying `serverCertificate` (CERT.DPauth/DSauth):
    /// unsupportedCurve (3) for a non-P-256 key anywhere in the chain;
    /// invalidOid (5) when the leaf does not carry the DPauth/DSauth policy
    /// or lacks its registeredID; ciPKUnknown (7) when the chain does not
    /// lead to a known CI; invalidCertificate (1) otherwise.
    pub fn authenticate_error_code(&self) -> i64 {
        match self {
            CertError::UnsupportedCurve { .. } => authenticate_error::UNSUPPORTED_CURVE,
            CertError::WrongRole {
                level: ChainLevel::Leaf,
                ..
            }
            | CertError::MissingRegisteredId {
                level: ChainLevel::Leaf,
            } => authenticate_error::INVALID_OID,
            CertError::UnknownCi { .. } => authenticate_error::CI_PK_UNKNOWN,
            _ => authenticate_error::INVALID_CERTIFICATE,
        }
    }

    /// The `DownloadErrorCode` for ES10b.PrepareDownload when this error
    /// comes from verifying CERT.DPpb: unsupportedCurve (3) for a non-P-256
    /// key, invalidCertificate (1) for everything else.
    pub fn download_error_code(&self) -> i64 {
        match self {
            CertError::UnsupportedCurve { .. } => download_error::UNSUPPORTED_CURVE,
            _ => download_error::INVALID_CERTIFICATE,
        }
    }

    /// The ES9+.AuthenticateClient status an SM-DP+ returns when this error
    /// comes from verifying the eUICC chain (CERT.EUICC, CERT.EUM): expiry
    /// is 6.3, every other failure 6.1 "verification failed", with subject
    /// 8.1.3 (eUICC certificate) or 8.1.2 (EUM certificate) by level; an
    /// unresolvable or unusable CI is 8.11.1 / 3.9 "unknown CI public key".
    /// Name constraint failures (EID outside the EUM's range, wrong O) are
    /// reported against the eUICC certificate (8.1.3 / 6.1). A malformed
    /// certificate has no level and is reported as 8.1.3 / 6.1; callers that
    /// failed to parse the EUM certificate should use [`ES9_EUM_INVALID`].
    pub fn authenticate_client_status(&self) -> Es9Status {
        match self {
            CertError::UnknownCi { .. } => ES9_CI_UNKNOWN,
            _ => match self.level() {
                Some(ChainLevel::Ci) => ES9_CI_UNKNOWN,
                Some(ChainLevel::Intermediate(_)) => match self {
                    CertError::Expired { .. } => ES9_EUM_EXPIRED,
                    _ => ES9_EUM_INVALID,
                },
                Some(ChainLevel::Leaf) | None => match self {
                    CertError::Expired { .. } => ES9_EUICC_EXPIRED,
                    _ => ES9_EUICC_INVALID,
                },
            },
        }
    }
}

// ---------------------------------------------------------------------------
// The certificate view
// ---------------------------------------------------------------------------

/// One directoryName subtree of a nameConstraints extension: its attributes
/// as (type, string value) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameSubtree {
    /// The attributes of the base name, in order.
    pub attributes: Vec<(ObjectIdentifier, String)>,
}

impl NameSubtree {
    /// The organizationName the subtree requires, if any.
    pub fn organization(&self) -> Option<&str> {
        self.attribute(oid::AT_ORGANIZATION)
    }

    /// The serialNumber prefix (EID prefix) the subtree requires, if any.
    pub fn serial_number_prefix(&self) -> Option<&str> {
        self.attribute(oid::AT_SERIAL_NUMBER)
    }

    fn attribute(&self, oid: ObjectIdentifier) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(o, _)| *o == oid)
            .map(|(_, v)| v.as_str())
    }

    /// GSMA matching: serialNumber by prefix, every other attribute by
    /// equality. Returns the first violated attribute.
    fn check(&self, subject: &Cert, level: ChainLevel) -> Result<(), CertError> {
        for (attr, value) in &self.attributes {
            let found = subject.subject_attribute(*attr);
            if *attr == oid::AT_SERIAL_NUMBER {
                if !found
                    .as_deref()
                    .is_some_and(|s| s.starts_with(value.as_str()))
                {
                    return Err(CertError::EidNotPermitted {
                        level,
                        found,
                        prefix: value.clone(),
                    });
                }
            } else if found.as_deref() != Some(value.as_str()) {
                if *attr == oid::AT_ORGANIZATION {
                    return Err(CertError::OrganizationNotPermitted {
                        level,
                        found,
                        permitted: value.clone(),
                    });
                }
                return Err(CertError::NameNotPermitted {
                    level,
                    reason: format!("attribute {attr} must be {value:?}, found {found:?}"),
                });
            }
        }
        Ok(())
    }
}

/// The directoryName parts of a nameConstraints extension (other name forms
/// do not constrain subject names and are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameConstraintsView {
    /// Permitted directoryName subtrees.
    pub permitted: Vec<NameSubtree>,
    /// Excluded directoryName subtrees.
    pub excluded: Vec<NameSubtree>,
}

impl NameConstraintsView {
    fn check(&self, subject: &Cert, level: ChainLevel) -> Result<(), CertError> {
        if let Some(first) = self.permitted.first() {
            if !self
                .permitted
                .iter()
                .any(|t| t.check(subject, level).is_ok())
            {
                // Report against the first subtree (SGP.22 EUMs carry one).
                first.check(subject, level)?;
            }
        }
        if self
            .excluded
            .iter()
            .any(|t| !t.attributes.is_empty() && t.check(subject, level).is_ok())
        {
            return Err(CertError::NameNotPermitted {
                level,
                reason: "subject falls in an excluded subtree".to_owned(),
            });
        }
        Ok(())
    }
}

/// A parsed X.509 v3 certificate: the raw DER plus the fields the RSP
/// profiles use. Parsing succeeds for any well-formed certificate, including
/// ones with non-P-256 keys (so that validation can report the curve).
#[derive(Debug, Clone)]
pub struct Cert {
    der: Vec<u8>,
    tbs: Range<usize>,
    serial: Vec<u8>,
    issuer: Name,
    subject: Name,
    not_before: u64,
    not_after: u64,
    ski: Option<Vec<u8>>,
    aki: Option<Vec<u8>>,
    policies: Vec<RawOid>,
    san_registered_id: Option<RawOid>,
    san_dns_names: Vec<String>,
    key_usage: Option<KeyUsage>,
    extended_key_usage: Option<Vec<RawOid>>,
    basic_constraints: Option<BasicConstraints>,
    name_constraints: Option<NameConstraintsView>,
    key_algorithm: ObjectIdentifier,
    curve: Option<ObjectIdentifier>,
    public_key: Option<[u8; 65]>,
    key_id: Vec<u8>,
    signature_algorithm: ObjectIdentifier,
    signature_algorithm_consistent: bool,
    signature: Vec<u8>,
    unhandled_critical: Vec<RawOid>,
}

impl PartialEq for Cert {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Cert {}

fn malformed(what: &str) -> impl Fn(der::Error) -> CertError + '_ {
    move |e| CertError::Malformed(format!("{what}: {e}"))
}

impl Cert {
    /// Parses one DER certificate (no trailing bytes).
    pub fn from_der(der: &[u8]) -> Result<Cert, CertError> {
        let cert = Certificate::from_der(der).map_err(malformed("certificate"))?;
        let tbs = raw_tbs_range(der)
            .ok_or_else(|| CertError::Malformed("cannot locate tbsCertificate".to_owned()))?;
        let t = cert.tbs_certificate();

        let spki = t.subject_public_key_info();
        let key_algorithm = spki.algorithm.oid;
        let curve = if key_algorithm == oid::ID_EC_PUBLIC_KEY {
            match spki.algorithm.parameters.as_ref() {
                Some(p) => Some(
                    p.decode_as::<ObjectIdentifier>()
                        .map_err(malformed("EC parameters (only named curves are supported)"))?,
                ),
                None => None,
            }
        } else {
            None
        };
        let key_bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| CertError::Malformed("subjectPublicKey has unused bits".to_owned()))?;
        let public_key = if curve == Some(oid::PRIME256V1) {
            let pk = PublicKey::from_sec1_bytes(key_bits).map_err(|_| {
                CertError::Malformed("subjectPublicKey is not a valid P-256 point".to_owned())
            })?;
            Some(public_key_to_uncompressed(&pk))
        } else {
            None
        };
        let signature = cert
            .signature()
            .as_bytes()
            .ok_or_else(|| CertError::Malformed("signature has unused bits".to_owned()))?
            .to_vec();
        let signature_algorithm_consistent = cert.signature_algorithm().parameters.is_none()
            && t.signature() == cert.signature_algorithm();

        let mut out = Cert {
            der: der.to_vec(),
            tbs,
            serial: t.serial_number().as_bytes().to_vec(),
            issuer: t.issuer().clone(),
            subject: t.subject().clone(),
            not_before: t.validity().not_before.to_unix_duration().as_secs(),
            not_after: t.validity().not_after.to_unix_duration().as_secs(),
            ski: None,
            aki: None,
            policies: Vec::new(),
            san_registered_id: None,
            san_dns_names: Vec::new(),
            key_usage: None,
            extended_key_usage: None,
            basic_constraints: None,
            name_constraints: None,
            key_algorithm,
            curve,
            public_key,
            key_id: Sha1::digest(key_bits).to_vec(),
            signature_algorithm: cert.signature_algorithm().oid,
            signature_algorithm_consistent,
            signature,
            unhandled_critical: Vec::new(),
        };

        let mut seen: Vec<ObjectIdentifier> = Vec::new();
        for ext in t.extensions().map(|e| e.as_slice()).unwrap_or_default() {
            if seen.contains(&ext.extn_id) {
                return Err(CertError::Malformed(format!(
                    "duplicate extension {}",
                    ext.extn_id
                )));
            }
            seen.push(ext.extn_id);
            let value = ext.extn_value.as_bytes();
            let id = ext.extn_id;
            if id == SubjectKeyIdentifier::OID {
                let ski = SubjectKeyIdentifier::from_der(value)
                    .map_err(malformed("subjectKeyIdentifier"))?;
                out.ski = Some(ski.0.as_bytes().to_vec());
            } else if id == AuthorityKeyIdentifier::OID {
                let aki = AuthorityKeyIdentifier::from_der(value)
                    .map_err(malformed("authorityKeyIdentifier"))?;
                out.aki = aki.key_identifier.map(|k| k.as_bytes().to_vec());
            } else if id == KeyUsage::OID {
                out.key_usage = Some(KeyUsage::from_der(value).map_err(malformed("keyUsage"))?);
            } else if id == BasicConstraints::OID {
                out.basic_constraints =
                    Some(BasicConstraints::from_der(value).map_err(malformed("basicConstraints"))?);
            } else if id == CertificatePolicies::OID {
                out.policies = parse_policies(value).map_err(malformed("certificatePolicies"))?;
            } else if id == SubjectAltName::OID {
                let (rid, dns) = parse_san(value).map_err(malformed("subjectAltName"))?;
                out.san_registered_id = rid;
                out.san_dns_names = dns;
            } else if id == ExtendedKeyUsage::OID {
                out.extended_key_usage =
                    Some(parse_oid_sequence(value).map_err(malformed("extendedKeyUsage"))?);
            } else if id == NameConstraints::OID {
                out.name_constraints = Some(parse_name_constraints(value)?);
            } else if ext.critical {
                out.unhandled_critical.push(RawOid::from(id));
            }
        }
        Ok(out)
    }

    /// The whole certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The tbsCertificate TLV exactly as it appears in [`Cert::der`] (the
    /// signed bytes).
    pub fn tbs(&self) -> &[u8] {
        self.der.get(self.tbs.clone()).unwrap_or_default()
    }

    /// serialNumber INTEGER content octets (a positive value whose top bit
    /// is set keeps its leading `00`).
    pub fn serial_number(&self) -> &[u8] {
        &self.serial
    }

    /// The subject name.
    pub fn subject(&self) -> &Name {
        &self.subject
    }

    /// The issuer name.
    pub fn issuer(&self) -> &Name {
        &self.issuer
    }

    /// The first subject attribute of type `attr` as a string (PrintableString,
    /// UTF8String or IA5String).
    pub fn subject_attribute(&self, attr: ObjectIdentifier) -> Option<String> {
        self.subject
            .iter()
            .find(|atv| atv.oid == attr)
            .and_then(|atv| any_to_string(&atv.value))
    }

    /// Subject organizationName.
    pub fn subject_organization(&self) -> Option<String> {
        self.subject_attribute(oid::AT_ORGANIZATION)
    }

    /// Subject serialNumber (the EID in an eUICC certificate).
    pub fn subject_serial_number(&self) -> Option<String> {
        self.subject_attribute(oid::AT_SERIAL_NUMBER)
    }

    /// Subject commonName.
    pub fn subject_common_name(&self) -> Option<String> {
        self.subject_attribute(oid::AT_COMMON_NAME)
    }

    /// notBefore, unix seconds.
    pub fn not_before(&self) -> u64 {
        self.not_before
    }

    /// notAfter, unix seconds.
    pub fn not_after(&self) -> u64 {
        self.not_after
    }

    /// Whether `now` (unix seconds) is within the validity period (inclusive).
    pub fn is_valid_at(&self, now: u64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// subjectKeyIdentifier, if present.
    pub fn ski(&self) -> Option<&[u8]> {
        self.ski.as_deref()
    }

    /// keyIdentifier of authorityKeyIdentifier, if present.
    pub fn aki(&self) -> Option<&[u8]> {
        self.aki.as_deref()
    }

    /// The identifier chaining uses: the SKI, or SHA-1 of the subjectPublicKey
    /// bits when the certificate has no SKI (RFC 5280 section 4.2.1.2 method 1).
    pub fn key_identifier(&self) -> &[u8] {
        self.ski.as_deref().unwrap_or(&self.key_id)
    }

    /// certificatePolicies policy OIDs, in order (empty if absent).
    pub fn policies(&self) -> &[RawOid] {
        &self.policies
    }

    /// The `id-rspRole-*` roles among the policies.
    pub fn roles(&self) -> Vec<Role> {
        self.policies.iter().filter_map(Role::from_policy).collect()
    }

    /// The first subjectAltName registeredID (SM-DP+/SM-DS/CI/EUM OID).
    pub fn san_registered_id(&self) -> Option<&RawOid> {
        self.san_registered_id.as_ref()
    }

    /// subjectAltName dNSNames.
    pub fn san_dns_names(&self) -> &[String] {
        &self.san_dns_names
    }

    /// keyUsage, if present.
    pub fn key_usage(&self) -> Option<KeyUsage> {
        self.key_usage
    }

    /// extendedKeyUsage purposes, if the extension is present.
    pub fn extended_key_usage(&self) -> Option<&[RawOid]> {
        self.extended_key_usage.as_deref()
    }

    /// basicConstraints, if present.
    pub fn basic_constraints(&self) -> Option<&BasicConstraints> {
        self.basic_constraints.as_ref()
    }

    /// Whether basicConstraints says `cA = TRUE`.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.as_ref().is_some_and(|b| b.ca)
    }

    /// nameConstraints (directoryName parts), if present.
    pub fn name_constraints(&self) -> Option<&NameConstraintsView> {
        self.name_constraints.as_ref()
    }

    /// subjectPublicKeyInfo algorithm (normally id-ecPublicKey).
    pub fn key_algorithm(&self) -> ObjectIdentifier {
        self.key_algorithm
    }

    /// The named curve of an EC key (prime256v1, brainpoolP256r1, ...).
    pub fn curve(&self) -> Option<ObjectIdentifier> {
        self.curve
    }

    /// The P-256 public key as an uncompressed point; `None` for other keys.
    pub fn public_key(&self) -> Option<&[u8; 65]> {
        self.public_key.as_ref()
    }

    /// The certificate's signature algorithm.
    pub fn signature_algorithm(&self) -> ObjectIdentifier {
        self.signature_algorithm
    }

    /// The signature value (DER `ECDSA-Sig-Value` for ECDSA).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Critical extensions this parser does not process.
    pub fn unhandled_critical_extensions(&self) -> &[RawOid] {
        &self.unhandled_critical
    }

    /// Whether issuer and subject key are the same (AKI absent or equal to
    /// the key identifier).
    pub fn is_self_issued(&self) -> bool {
        self.aki
            .as_deref()
            .is_none_or(|a| a == self.key_identifier())
    }

    /// Verifies this certificate's ecdsa-with-SHA256 signature over its tbs
    /// bytes with the issuer's P-256 public key (SEC 1 encoding), using
    /// RustCrypto. See [`Cert::verify_signed_by_with`] to choose the provider.
    pub fn verify_signed_by(&self, issuer_public: &[u8]) -> bool {
        self.verify_signed_by_with(&RustCrypto, issuer_public)
    }

    /// As [`Cert::verify_signed_by`], with `provider` doing the ECDSA
    /// verification: the DER `ECDSA-Sig-Value` is converted to plain `r‖s`
    /// ([`ecdsa_signature_from_der`]; a malformed one does not verify) and
    /// checked over the tbsCertificate bytes. `issuer_public` may be an
    /// uncompressed or a compressed SEC 1 point (a compressed one is
    /// decompressed first).
    pub fn verify_signed_by_with(
        &self,
        provider: &dyn CryptoProvider,
        issuer_public: &[u8],
    ) -> bool {
        if self.signature_algorithm != oid::ECDSA_WITH_SHA256
            || !self.signature_algorithm_consistent
        {
            return false;
        }
        let Some(signature) = ecdsa_signature_from_der(&self.signature) else {
            return false;
        };
        if issuer_public.len() == 65 && issuer_public.first() == Some(&0x04) {
            return provider.verify(issuer_public, self.tbs(), &signature);
        }
        let Ok(pk) = PublicKey::from_sec1_bytes(issuer_public) else {
            return false;
        };
        provider.verify(&public_key_to_uncompressed(&pk), self.tbs(), &signature)
    }

    /// The subject serialNumber as an EID (32 decimal digits), if it is one.
    pub fn eid(&self) -> Option<[u8; 16]> {
        let s = self.subject_serial_number()?;
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut eid = [0u8; 16];
        hex::decode_to_slice(&s, &mut eid).ok()?;
        Some(eid)
    }

    // --- checks used by chain validation ---------------------------------

    fn check_curve(&self, level: ChainLevel) -> Result<(), CertError> {
        if self.public_key.is_some() {
            return Ok(());
        }
        let curve = match self.curve {
            Some(c) => c.to_string(),
            None => format!("key algorithm {}", self.key_algorithm),
        };
        Err(CertError::UnsupportedCurve { level, curve })
    }

    fn check_signature_algorithm(&self, level: ChainLevel) -> Result<(), CertError> {
        if self.signature_algorithm == oid::ECDSA_WITH_SHA256 && self.signature_algorithm_consistent
        {
            Ok(())
        } else {
            Err(CertError::UnsupportedSignatureAlgorithm {
                level,
                algorithm: self.signature_algorithm.to_string(),
            })
        }
    }

    fn check_validity(&self, level: ChainLevel, now: u64) -> Result<(), CertError> {
        if now < self.not_before {
            return Err(CertError::NotYetValid {
                level,
                not_before: self.not_before,
                now,
            });
        }
        if now > self.not_after {
            return Err(CertError::Expired {
                level,
                not_after: self.not_after,
                now,
            });
        }
        Ok(())
    }

    fn check_role(&self, level: ChainLevel, expected: Role) -> Result<(), CertError> {
        if self.roles() == [expected] {
            Ok(())
        } else {
            Err(CertError::WrongRole {
                level,
                expected,
                found: self.policies.iter().map(RawOid::dotted).collect(),
            })
        }
    }

    fn check_critical(&self, level: ChainLevel) -> Result<(), CertError> {
        match self.unhandled_critical.first() {
            Some(oid) => Err(CertError::UnsupportedCriticalExtension {
                level,
                oid: oid.dotted(),
            }),
            None => Ok(()),
        }
    }

    /// CA checks: cA, keyCertSign, SKI, pathLen (`below` = number of
    /// intermediate CAs between this certificate and the leaf).
    fn check_issuer(&self, level: ChainLevel, below: usize) -> Result<(), CertError> {
        let bc = self
            .basic_constraints
            .as_ref()
            .filter(|b| b.ca)
            .ok_or(CertError::CaFlag {
                level,
                is_ca: false,
            })?;
        if bc
            .path_len_constraint
            .is_some_and(|max| below > usize::from(max))
        {
            return Err(CertError::PathLenExceeded { level });
        }
        if !self.key_usage.is_some_and(|k| k.key_cert_sign()) {
            return Err(CertError::KeyUsage {
                level,
                required: "keyCertSign",
            });
        }
        if self.ski.is_none() {
            return Err(CertError::MissingKeyIdentifier {
                level,
                which: "subjectKeyIdentifier",
            });
        }
        Ok(())
    }

    fn check_leaf(&self, role: Role) -> Result<(), CertError> {
        let level = ChainLevel::Leaf;
        if self.is_ca() {
            return Err(CertError::CaFlag { level, is_ca: true });
        }
        if !self.key_usage.is_some_and(|k| k.digital_signature()) {
            return Err(CertError::KeyUsage {
                level,
                required: "digitalSignature",
            });
        }
        if role.is_tls()
            && !self
                .extended_key_usage
                .as_deref()
                .is_some_and(|e| e.iter().any(|p| p.is(&ID_KP_SERVER_AUTH)))
        {
            return Err(CertError::KeyUsage {
                level,
                required: "serverAuth (extendedKeyUsage)",
            });
        }
        if role.needs_registered_id() && self.san_registered_id.is_none() {
            return Err(CertError::MissingRegisteredId { level });
        }
        if role == Role::Euicc && self.eid().is_none() {
            return Err(CertError::InvalidEid {
                level,
                found: self.subject_serial_number(),
            });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Chain validation
// ---------------------------------------------------------------------------

/// A chain that passed [`verify_chain`].
#[derive(Debug, Clone)]
pub struct ValidatedChain {
    leaf: Cert,
    intermediates: Vec<Cert>,
    ci: Cert,
    leaf_role: Role,
}

impl ValidatedChain {
    /// The leaf certificate.
    pub fn leaf(&self) -> &Cert {
        &self.leaf
    }

    /// The intermediates, the leaf's issuer first (the EUM of an eUICC chain).
    pub fn intermediates(&self) -> &[Cert] {
        &self.intermediates
    }

    /// The trusted CI certificate the chain ends at.
    pub fn ci(&self) -> &Cert {
        &self.ci
    }

    /// The role the leaf was validated for.
    pub fn leaf_role(&self) -> Role {
        self.leaf_role
    }

    /// The CI's key identifier (the SGP.22 CI PKId).
    pub fn ci_pkid(&self) -> &[u8] {
        self.ci.key_identifier()
    }

    /// The leaf's P-256 public key (always present after validation).
    pub fn leaf_public_key(&self) -> [u8; 65] {
        self.leaf.public_key.unwrap_or([0; 65])
    }

    /// The leaf's subjectAltName registeredID (e.g. the SM-DP+ OID).
    pub fn registered_id(&self) -> Option<&RawOid> {
        self.leaf.san_registered_id()
    }

    /// The EID of an eUICC leaf.
    pub fn eid(&self) -> Option<[u8; 16]> {
        self.leaf.eid()
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn level_of(index: usize) -> ChainLevel {
    match index {
        0 => ChainLevel::Leaf,
        i => ChainLevel::Intermediate(i - 1),
    }
}

/// Among `candidates` (all with the right key identifier), the one whose key
/// verifies `child`, else the first; plus whether the signature verified.
fn pick_issuer<'a>(
    provider: &dyn CryptoProvider,
    child: &Cert,
    candidates: &[&'a Cert],
) -> Option<(&'a Cert, bool)> {
    candidates
        .iter()
        .find(|c| {
            c.public_key
                .is_some_and(|pk| child.verify_signed_by_with(provider, &pk))
        })
        .map(|c| (*c, true))
        .or_else(|| candidates.first().map(|c| (*c, false)))
}

/// Validates `leaf` for `expected_leaf_role` against `trusted_cis`, using
/// `intermediates` (in any order) to bridge the gap; see the module
/// documentation for the checks. `now` is the time to check validity at.
/// Signatures are checked with RustCrypto; [`verify_chain_with`] takes the
/// crypto provider to use.
pub fn verify_chain(
    leaf: &Cert,
    intermediates: &[Cert],
    trusted_cis: &[Cert],
    expected_leaf_role: Role,
    now: SystemTime,
) -> Result<ValidatedChain, CertError> {
    verify_chain_with(
        &RustCrypto,
        leaf,
        intermediates,
        trusted_cis,
        expected_leaf_role,
        now,
    )
}

/// As [`verify_chain`], with `provider` checking every certificate signature.
pub fn verify_chain_with(
    provider: &dyn CryptoProvider,
    leaf: &Cert,
    intermediates: &[Cert],
    trusted_cis: &[Cert],
    expected_leaf_role: Role,
    now: SystemTime,
) -> Result<ValidatedChain, CertError> {
    verify_chain_for_roles_with(
        provider,
        leaf,
        intermediates,
        trusted_cis,
        &[expected_leaf_role],
        now,
    )
}

/// As [`verify_chain`], accepting a leaf of any of `allowed_leaf_roles` (e.g.
/// DPauth or DSauth for the eUICC's AuthenticateServer). The first allowed
/// role the leaf carries is used; if it carries none, the error names the
/// first allowed role. An empty `allowed_leaf_roles`, or [`Role::Ci`], is
/// refused with [`CertError::UnsupportedLeafRole`]. Signatures are checked
/// with RustCrypto; [`verify_chain_for_roles_with`] takes the provider.
pub fn verify_chain_for_roles(
    leaf: &Cert,
    intermediates: &[Cert],
    trusted_cis: &[Cert],
    allowed_leaf_roles: &[Role],
    now: SystemTime,
) -> Result<ValidatedChain, CertError> {
    verify_chain_for_roles_with(
        &RustCrypto,
        leaf,
        intermediates,
        trusted_cis,
        allowed_leaf_roles,
        now,
    )
}

/// As [`verify_chain_for_roles`], with `provider` checking every certificate
/// signature.
pub fn verify_chain_for_roles_with(
    provider: &dyn CryptoProvider,
    leaf: &Cert,
    intermediates: &[Cert],
    trusted_cis: &[Cert],
    allowed_leaf_roles: &[Role],
    now: SystemTime,
) -> Result<ValidatedChain, CertError> {
    let now = unix_seconds(now);
    let leaf_roles = leaf.roles();
    let role = allowed_leaf_roles
        .iter()
        .copied()
        .find(|r| leaf_roles.contains(r))
        .or_else(|| allowed_leaf_roles.first().copied())
        .ok_or(CertError::UnsupportedLeafRole(Role::Ci))?;
    if role == Role::Ci {
        return Err(CertError::UnsupportedLeafRole(role));
    }

    // 1. Build the path leaf → ... → CI by AKI = SKI.
    let mut path: Vec<&Cert> = vec![leaf];
    // signature_ok[i]: path[i]'s signature verified with its issuer's key.
    let mut signature_ok: Vec<bool> = Vec::new();
    let ci = loop {
        let current = path[path.len() - 1];
        let level = level_of(path.len() - 1);
        let aki = current.aki().ok_or(CertError::MissingKeyIdentifier {
            level,
            which: "authorityKeyIdentifier",
        })?;
        let anchors: Vec<&Cert> = trusted_cis
            .iter()
            .filter(|c| c.key_identifier() == aki)
            .collect();
        if let Some((ci, ok)) = pick_issuer(provider, current, &anchors) {
            signature_ok.push(ok);
            break ci;
        }
        let next: Vec<&Cert> = intermediates
            .iter()
            .filter(|c| c.key_identifier() == aki && !path.iter().any(|p| p.der == c.der))
            .collect();
        let Some((issuer, ok)) = pick_issuer(provider, current, &next) else {
            return Err(CertError::UnknownCi { aki: aki.to_vec() });
        };
        if issuer.is_self_issued() {
            // A root that is not among the trusted CIs.
            return Err(CertError::UnknownCi { aki: aki.to_vec() });
        }
        if path.len() >= MAX_PATH {
            return Err(CertError::ChainLength {
                role,
                expected: role.intermediate_roles().len(),
                found: path.len(),
            });
        }
        signature_ok.push(ok);
        path.push(issuer);
    };

    // 2. The leaf's role and the chain's shape.
    leaf.check_role(ChainLevel::Leaf, role)?;
    let expected_roles = role.intermediate_roles();
    if path.len() - 1 != expected_roles.len() {
        return Err(CertError::ChainLength {
            role,
            expected: expected_roles.len(),
            found: path.len() - 1,
        });
    }

    // 3. Top down: the CI, then each certificate below it.
    let level = ChainLevel::Ci;
    ci.check_curve(level)?;
    ci.check_signature_algorithm(level)?;
    ci.check_validity(level, now)?;
    ci.check_role(level, Role::Ci)?;
    ci.check_critical(level)?;
    ci.check_issuer(level, path.len() - 1)?;

    for index in (0..path.len()).rev() {
        let cert = path[index];
        let level = level_of(index);
        cert.check_curve(level)?;
        cert.check_signature_algorithm(level)?;
        if !signature_ok.get(index).copied().unwrap_or(false) {
            return Err(CertError::BadSignature { level });
        }
        cert.check_validity(level, now)?;
        let expected = match index {
            0 => role,
            i => expected_roles.get(i - 1).copied().unwrap_or(Role::Eum),
        };
        cert.check_role(level, expected)?;
        cert.check_critical(level)?;
        if index == 0 {
            cert.check_leaf(role)?;
        } else {
            cert.check_issuer(level, index - 1)?;
        }
        // Name constraints of every CA above apply to this certificate.
        if index == 0 || !cert.is_self_issued() {
            for above in path[index + 1..].iter().copied().chain([ci]) {
                if let Some(nc) = &above.name_constraints {
                    nc.check(cert, level)?;
                }
            }
        }
    }

    Ok(ValidatedChain {
        leaf: leaf.clone(),
        intermediates: path[1..].iter().map(|c| (*c).clone()).collect(),
        ci: ci.clone(),
        leaf_role: role,
    })
}

// ---------------------------------------------------------------------------
// DER helpers
// ---------------------------------------------------------------------------

/// An X.509 ECDSA signature value (DER `ECDSA-Sig-Value ::= SEQUENCE { r
/// INTEGER, s INTEGER }`) as the plain `r‖s` the crypto providers take, each
/// left-padded to 32 bytes. `None` unless the input is exactly one DER
/// SEQUENCE of two positive, minimally encoded INTEGERs of at most 256 bits
/// (definite short-form lengths, no trailing bytes). Range checks (0 < r, s
/// < n) are left to the provider's verification.
pub fn ecdsa_signature_from_der(der: &[u8]) -> Option<[u8; 64]> {
    // The whole value is at most 2 + 2 × (2 + 33) = 72 bytes, so every DER
    // length is in short form (< 128); a long form would not be canonical.
    let (&tag, rest) = der.split_first()?;
    let (&len, body) = rest.split_first()?;
    if tag != 0x30 || len >= 0x80 || usize::from(len) != body.len() {
        return None;
    }
    let mut out = [0u8; 64];
    let (r, rest) = der_positive_integer(body)?;
    let (s, rest) = der_positive_integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    out.get_mut(32 - r.len()..32)?.copy_from_slice(r);
    out.get_mut(64 - s.len()..)?.copy_from_slice(s);
    Some(out)
}

/// One DER INTEGER at the start of `input` that is non-negative, minimally
/// encoded and at most 32 bytes once its sign octet is dropped: its magnitude
/// (big-endian, no leading zero unless the value is 0) and the bytes after it.
fn der_positive_integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if tag != 0x02 || len == 0 || len >= 0x80 || rest.len() < len {
        return None;
    }
    let (value, after) = rest.split_at(len);
    let magnitude = match value {
        // A leading zero only where the next octet would otherwise read as negative.
        [0x00, next, ..] if next & 0x80 == 0 => return None,
        [0x00, tail @ ..] if !tail.is_empty() => tail,
        [first, ..] if first & 0x80 != 0 => return None, // negative
        _ => value,
    };
    (magnitude.len() <= 32).then_some((magnitude, after))
}

/// The byte range of the tbsCertificate TLV inside a certificate.
fn raw_tbs_range(cert_der: &[u8]) -> Option<Range<usize>> {
    let mut reader = SliceReader::new(cert_der).ok()?;
    let outer = der::Header::decode(&mut reader).ok()?;
    if outer.tag() != Tag::Sequence {
        return None;
    }
    let start = usize::try_from(reader.position()).ok()?;
    let tbs = reader.tlv_bytes().ok()?;
    (tbs.first() == Some(&0x30)).then_some(start..start + tbs.len())
}

fn read_oid(r: &mut SliceReader<'_>) -> der::Result<RawOid> {
    let any: AnyRef<'_> = r.decode()?;
    if any.tag() != Tag::ObjectIdentifier {
        return Err(Tag::ObjectIdentifier.value_error().into());
    }
    RawOid::from_content(any.value()).ok_or_else(|| Tag::ObjectIdentifier.value_error().into())
}

/// certificatePolicies: SEQUENCE OF PolicyInformation { policyIdentifier, qualifiers OPTIONAL }.
fn parse_policies(value: &[u8]) -> der::Result<Vec<RawOid>> {
    let mut reader = SliceReader::new(value)?;
    let out = reader.sequence(|r| {
        let mut out = Vec::new();
        while !r.is_finished() {
            r.sequence(|info| {
                out.push(read_oid(info)?);
                while !info.is_finished() {
                    let _qualifiers: AnyRef<'_> = info.decode()?;
                }
                Ok::<_, der::Error>(())
            })?;
        }
        Ok::<_, der::Error>(out)
    })?;
    reader.finish()?;
    Ok(out)
}

/// A SEQUENCE OF OBJECT IDENTIFIER (extendedKeyUsage).
fn parse_oid_sequence(value: &[u8]) -> der::Result<Vec<RawOid>> {
    let mut reader = SliceReader::new(value)?;
    let out = reader.sequence(|r| {
        let mut out = Vec::new();
        while !r.is_finished() {
            out.push(read_oid(r)?);
        }
        Ok::<_, der::Error>(out)
    })?;
    reader.finish()?;
    Ok(out)
}

/// subjectAltName: the first registeredID `[8]` and all dNSNames `[2]`.
/// Walked by hand because `const-oid` cannot hold `2.999.x` registered IDs.
fn parse_san(value: &[u8]) -> der::Result<(Option<RawOid>, Vec<String>)> {
    let registered_id = Tag::ContextSpecific {
        constructed: false,
        number: TagNumber(8),
    };
    let dns_name = Tag::ContextSpecific {
        constructed: false,
        number: TagNumber(2),
    };
    let mut reader = SliceReader::new(value)?;
    let out = reader.sequence(|r| {
        let mut rid = None;
        let mut dns = Vec::new();
        while !r.is_finished() {
            let any: AnyRef<'_> = r.decode()?;
            if any.tag() == registered_id {
                let oid = RawOid::from_content(any.value())
                    .ok_or_else(|| der::Error::from(registered_id.value_error()))?;
                rid.get_or_insert(oid);
            } else if any.tag() == dns_name {
                let name = Ia5StringRef::new(any.value())?;
                dns.push(name.as_str().to_owned());
            }
        }
        Ok::<_, der::Error>((rid, dns))
    })?;
    reader.finish()?;
    Ok(out)
}

fn parse_name_constraints(value: &[u8]) -> Result<NameConstraintsView, CertError> {
    let nc = NameConstraints::from_der(value).map_err(malformed("nameConstraints"))?;
    let convert =
        |subtrees: Option<Vec<x509_cert::ext::pkix::constraints::name::GeneralSubtree>>| {
            subtrees
                .unwrap_or_default()
                .iter()
                .filter_map(|st| match &st.base {
                    GeneralName::DirectoryName(name) => Some(name_attributes(name)),
                    _ => None,
                })
                .collect::<Result<Vec<_>, CertError>>()
        };
    Ok(NameConstraintsView {
        permitted: convert(nc.permitted_subtrees)?,
        excluded: convert(nc.excluded_subtrees)?,
    })
}

fn name_attributes(name: &Name) -> Result<NameSubtree, CertError> {
    let attributes = name
        .iter()
        .map(|atv| {
            any_to_string(&atv.value)
                .map(|s| (atv.oid, s))
                .ok_or_else(|| {
                    CertError::Malformed(format!(
                        "nameConstraints attribute {} is not a string",
                        atv.oid
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NameSubtree { attributes })
}

fn any_to_string(value: &Any) -> Option<String> {
    match value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_owned()),
        Tag::Utf8String => Utf8StringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_owned()),
        Tag::Ia5String => Ia5StringRef::try_from(value)
            .ok()
            .map(|s| s.as_str().to_owned()),
        _ => None,
    }
}
