//! The SM-DP+'s identity: its address, the DPauth / DPpb / TLS keys and certificates, the CIs it
//! trusts for eUICC certificates, and its OID.
//!
//! Three ways to get one:
//! - [`SmdpIdentity::under_ci`]: a CI key and certificate are given; DPauth, DPpb and TLS are
//!   minted under it ([`rsp::pki::mint_dp_certs`]).
//! - [`SmdpIdentity::from_sgp26`]: the published GSMA SGP.26 test SM-DP+ (DPauth, DPpb as
//!   published; a TLS certificate minted for the configured host under the SGP.26 CI).
//! - [`SmdpIdentity::self_minted`]: a CI of our own, kept in the state directory (`ci.der`,
//!   `ci-key.pem` with mode 0600) so that a veuicc can be initialised under it, reused on the next
//!   start.
//!
//! Keys are never logged: `Debug` is redacted by [`EcKey`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rsp::cert::Cert;
use rsp::crypto::CryptoProvider;
use rsp::keys::EcKey;
use rsp::pki::{self, DpCertKind, DpIdentity, DpSpec};

/// Why an identity could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Minting or loading certificates failed.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// A key file could not be read or written.
    #[error(transparent)]
    Key(#[from] rsp::keys::KeyError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate is unusable.
    #[error("certificate {what}: {reason}")]
    Certificate {
        /// Which one.
        what: String,
        /// Why.
        reason: String,
    },
    /// The random generator failed.
    #[error("random generator: {0}")]
    Rng(#[from] rsp::crypto::CryptoError),
}

/// File names in the state directory.
pub mod files {
    /// The self-minted CI certificate (DER).
    pub const CI_CERT: &str = "ci.der";
    /// The self-minted CI key (PKCS#8 PEM, 0600).
    pub const CI_KEY: &str = "ci-key.pem";
    /// The certificate a TLS client must trust (PEM).
    pub const TLS_CA: &str = "tls-ca.pem";
}

/// Validity given to minted certificates: from a day ago, for ten years.
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);
const BACKDATE: Duration = Duration::from_secs(86_400);

/// Common name of a self-minted CI.
pub const SELF_CI_CN: &str = "testbeds SM-DP+ Test CI";

/// An SM-DP+'s credentials.
#[derive(Debug, Clone)]
pub struct SmdpIdentity {
    /// The SM-DP+ address, `host[:port]` (FQDN as in activation codes).
    pub address: String,
    /// SK.DPauth.ECDSA.
    pub auth_key: EcKey,
    /// CERT.DPauth.ECDSA (DER).
    pub auth_cert: Vec<u8>,
    /// SK.DPpb.ECDSA.
    pub pb_key: EcKey,
    /// CERT.DPpb.ECDSA (DER).
    pub pb_cert: Vec<u8>,
    /// The TLS server key.
    pub tls_key: EcKey,
    /// The TLS server certificate (DER), for the address's host.
    pub tls_cert: Vec<u8>,
    /// The certificate that issued the TLS certificate (what clients trust), DER.
    pub tls_ca: Vec<u8>,
    /// CI certificates (DER) eUICC chains may end at; the first issued DPauth.
    pub trusted_cis: Vec<Vec<u8>>,
    /// The SM-DP+ OID (DPauth SAN registeredID), dotted.
    pub dp_oid: String,
}

/// The host part of `host[:port]`.
pub fn host_of(address: &str) -> &str {
    match address.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => address,
    }
}

/// A ChaCha20 generator seeded from the provider (deterministic providers give reproducible
/// certificates).
fn rng_from(provider: &dyn CryptoProvider) -> Result<ChaCha20Rng, IdentityError> {
    let mut seed = [0u8; 32];
    provider.random(&mut seed)?;
    Ok(ChaCha20Rng::from_seed(seed))
}

fn read(path: &Path) -> Result<Vec<u8>, IdentityError> {
    std::fs::read(path).map_err(|source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write(path: &Path, data: &[u8]) -> Result<(), IdentityError> {
    std::fs::write(path, data).map_err(|source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn dp_oid_of(auth_cert: &[u8]) -> Result<String, IdentityError> {
    pki::cert_san_registered_id(auth_cert)
        .and_then(|c| pki::oid_content_to_dotted(&c))
        .ok_or_else(|| IdentityError::Certificate {
            what: "CERT.DPauth".into(),
            reason: "no subjectAltName registeredID (SM-DP+ OID)".into(),
        })
}

/// PEM text of a DER certificate.
pub fn cert_pem(der: &[u8]) -> String {
    let b64 = rsp::es9::b64_encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Mints a fresh self-signed test CI (key, certificate DER).
pub fn mint_ci(
    provider: &dyn CryptoProvider,
    now: SystemTime,
) -> Result<(EcKey, Vec<u8>), IdentityError> {
    let mut rng = rng_from(provider)?;
    let key = EcKey::generate(&mut rng);
    let cert = pki::mint_ci_cert(
        &key,
        &pki::CiSpec {
            organization: pki::TEST_CI_ORG,
            common_name: SELF_CI_CN,
            registered_id: pki::oid::TEST_CI_RID,
        },
        &mut rng,
        now - BACKDATE,
        now + VALIDITY,
    )?;
    Ok((key, cert))
}

impl SmdpIdentity {
    fn from_dp(
        dp: DpIdentity,
        tls_ca: Vec<u8>,
        address: &str,
    ) -> Result<SmdpIdentity, IdentityError> {
        let dp_oid = dp_oid_of(&dp.auth_cert)?;
        let identity = SmdpIdentity {
            address: address.to_owned(),
            auth_key: dp.auth_key,
            auth_cert: dp.auth_cert,
            pb_key: dp.pb_key,
            pb_cert: dp.pb_cert,
            tls_key: dp.tls_key,
            tls_cert: dp.tls_cert,
            trusted_cis: vec![tls_ca.clone()],
            tls_ca,
            dp_oid,
        };
        identity.check()?;
        Ok(identity)
    }

    /// Mints DPauth, DPpb and a TLS certificate for the address's host under the CI
    /// `ci_key` / `ci_cert`, with the SM-DP+ OID `2.999.10`; trusts that CI.
    pub fn under_ci(
        ci_key: &EcKey,
        ci_cert: &[u8],
        address: &str,
        provider: &dyn CryptoProvider,
        now: SystemTime,
    ) -> Result<SmdpIdentity, IdentityError> {
        match pki::cert_public_key(ci_cert) {
            Some(pk) if pk == ci_key.public_key_uncompressed() => {}
            _ => {
                return Err(IdentityError::Certificate {
                    what: "CI".into(),
                    reason: "the CI key does not match the CI certificate".into(),
                })
            }
        }
        let mut rng = rng_from(provider)?;
        let dp = pki::mint_dp_certs(
            ci_key,
            ci_cert,
            &mut rng,
            now - BACKDATE,
            now + VALIDITY,
            None,
            host_of(address),
        )?;
        Self::from_dp(dp, ci_cert.to_vec(), address)
    }

    /// The GSMA SGP.26 test SM-DP+ from `dir` (`CERT_S_SM_DPauth_ECDSA_NIST.der`, …), trusting
    /// `CERT_CI_ECDSA_NIST.der`. The published TLS certificate has expired, so one is minted for
    /// the address's host under the SGP.26 CI key.
    pub fn from_sgp26(
        dir: &Path,
        address: &str,
        provider: &dyn CryptoProvider,
        now: SystemTime,
    ) -> Result<SmdpIdentity, IdentityError> {
        let mut rng = rng_from(provider)?;
        let mut dp = pki::load_sgp26_dp(dir, &mut rng, now - BACKDATE, now + VALIDITY)?;
        let ci_cert = read(&dir.join(pki::SGP26_CI_CERT))?;
        let host = host_of(address);
        if host != pki::SGP26_DP_HOST {
            let ci_key = EcKey::read_pem_file(dir.join(pki::SGP26_CI_KEY))?;
            let dp_oid = dp_oid_of(&dp.auth_cert)?;
            let tls_key = EcKey::generate(&mut rng);
            dp.tls_cert = pki::mint_dp_cert(
                &tls_key.public_key_uncompressed(),
                &DpSpec {
                    kind: DpCertKind::Tls,
                    organization: pki::SGP26_DP_ORG,
                    common_name: host,
                    registered_id: &dp_oid,
                    dns_name: Some(host),
                },
                &ci_key,
                &ci_cert,
                &mut rng,
                now - BACKDATE,
                now + VALIDITY,
            )?;
            dp.tls_key = tls_key;
        }
        Self::from_dp(dp, ci_cert, address)
    }

    /// A CI of our own in `state_dir` (`ci.der` and `ci-key.pem`, created with mode 0600 on
    /// first use and reused afterwards), with DPauth, DPpb and TLS minted under it.
    pub fn self_minted(
        state_dir: &Path,
        address: &str,
        provider: &dyn CryptoProvider,
        now: SystemTime,
    ) -> Result<SmdpIdentity, IdentityError> {
        let cert_path = state_dir.join(files::CI_CERT);
        let key_path = state_dir.join(files::CI_KEY);
        let (key, cert) = if cert_path.exists() && key_path.exists() {
            (EcKey::read_pem_file(&key_path)?, read(&cert_path)?)
        } else {
            std::fs::create_dir_all(state_dir).map_err(|source| IdentityError::Io {
                path: state_dir.to_path_buf(),
                source,
            })?;
            let (key, cert) = mint_ci(provider, now)?;
            write(&cert_path, &cert)?;
            key.write_pem_file(&key_path)?;
            (key, cert)
        };
        Self::under_ci(&key, &cert, address, provider, now)
    }

    /// Adds a CI certificate (DER) eUICC chains may end at.
    pub fn trust_ci(&mut self, der: Vec<u8>) -> Result<(), IdentityError> {
        let cert = Cert::from_der(&der).map_err(|e| IdentityError::Certificate {
            what: "trusted CI".into(),
            reason: e.to_string(),
        })?;
        if cert.ski().is_none() {
            return Err(IdentityError::Certificate {
                what: "trusted CI".into(),
                reason: "no subjectKeyIdentifier".into(),
            });
        }
        if !self.trusted_cis.contains(&der) {
            self.trusted_cis.push(der);
        }
        Ok(())
    }

    /// Writes the TLS trust anchor as PEM to `path`.
    pub fn write_tls_ca(&self, path: &Path) -> Result<(), IdentityError> {
        write(path, cert_pem(&self.tls_ca).as_bytes())
    }

    /// The host the TLS certificate is for.
    pub fn host(&self) -> &str {
        host_of(&self.address)
    }

    /// Checks that keys and certificates belong together.
    fn check(&self) -> Result<(), IdentityError> {
        for (what, key, cert) in [
            ("CERT.DPauth", &self.auth_key, &self.auth_cert),
            ("CERT.DPpb", &self.pb_key, &self.pb_cert),
            ("TLS", &self.tls_key, &self.tls_cert),
        ] {
            if pki::cert_public_key(cert) != Some(key.public_key_uncompressed()) {
                return Err(IdentityError::Certificate {
                    what: what.into(),
                    reason: "does not match its private key".into(),
                });
            }
        }
        if pki::cert_aki(&self.auth_cert).is_none() {
            return Err(IdentityError::Certificate {
                what: "CERT.DPauth".into(),
                reason: "no authorityKeyIdentifier".into(),
            });
        }
        Ok(())
    }
}
