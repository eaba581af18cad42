//! The on-disk layout of one card's state directory:
//!
//! ```text
//! DIR/identity/eid            EID, 32 hex digits
//! DIR/identity/euicc.der      CERT.EUICC
//! DIR/identity/euicc-key.pem  SK.EUICC.ECDSA (PKCS#8, mode 0600)
//! DIR/identity/eum.der        CERT.EUM
//! DIR/identity/ci.der         CERT.CI
//! DIR/identity/eum-key.pem    the test EUM key, when the PKI was minted here (0600)
//! DIR/identity/ci-key.pem     the test CI key, when the PKI was minted here (0600)
//! DIR/db/                     sled database: profiles, packages, file updates, notifications
//! ```
//!
//! Keys are files with 0600 permissions, never in the database and never logged.

use crate::euicc::{Euicc, EuiccState};
use crate::store::{SledStore, Store};
use anyhow::{bail, Context, Result};
use rand_chacha::rand_core::SeedableRng;
use rsp::keys::EcKey;
use rsp::pki::{self, Identity};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Default EID of a freshly initialised card (SGP.26 test range `89049032…`, valid check digits).
pub const DEFAULT_EID_PREFIX: &str = "890490320000000000000000000001";

/// Where the identity of a card lives.
pub fn identity_dir(dir: &Path) -> PathBuf {
    dir.join("identity")
}

/// Whether `dir` holds an initialised card.
pub fn is_initialised(dir: &Path) -> bool {
    identity_dir(dir).join("euicc-key.pem").exists()
}

/// How to create a card's identity.
#[derive(Debug, Clone)]
pub enum IdentitySource {
    /// Mint a fresh CI → EUM → eUICC chain.
    Mint,
    /// Use the GSMA SGP.26 test EUM in this directory (the EID must start 89049032).
    Sgp26(PathBuf),
    /// Mint a fresh EUM and eUICC under an existing CI (certificate DER file, key PEM file),
    /// e.g. the CI of a test SM-DP+.
    UnderCi { cert: PathBuf, key: PathBuf },
}

/// Creates the identity of a new card in `dir`. Refuses to overwrite an existing one.
pub fn init(dir: &Path, eid: [u8; 16], source: &IdentitySource) -> Result<Identity> {
    let idir = identity_dir(dir);
    if is_initialised(dir) {
        bail!(
            "{} already holds a card identity (use `veuicc reset --all` first)",
            dir.display()
        );
    }
    std::fs::create_dir_all(&idir).with_context(|| format!("creating {}", idir.display()))?;
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(os_seed()?);
    let now = SystemTime::now();
    let not_before = now - Duration::from_secs(86_400);
    let identity = match source {
        IdentitySource::Mint => {
            let (identity, ci) =
                pki::mint_test_pki(eid, &mut rng, not_before, pki::not_after_no_expiry())?;
            ci.ci_key.write_pem_file(idir.join("ci-key.pem"))?;
            ci.eum_key.write_pem_file(idir.join("eum-key.pem"))?;
            identity
        }
        IdentitySource::UnderCi { cert, key } => {
            let ci_cert =
                std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
            let ci_key = EcKey::read_pem_file(key)?;
            let (identity, eum_key) = pki::mint_under_ci(
                &ci_key,
                &ci_cert,
                eid,
                &mut rng,
                not_before,
                pki::not_after_no_expiry(),
            )?;
            eum_key.write_pem_file(idir.join("eum-key.pem"))?;
            identity
        }
        IdentitySource::Sgp26(path) => {
            pki::identity_from_sgp26(path, eid, &mut rng, not_before, pki::not_after_no_expiry())?
        }
    };
    std::fs::write(idir.join("eid"), hex::encode_upper(identity.eid))?;
    std::fs::write(idir.join("euicc.der"), &identity.euicc_cert)?;
    std::fs::write(idir.join("eum.der"), &identity.eum_cert)?;
    std::fs::write(idir.join("ci.der"), &identity.ci_cert)?;
    // The key file last: its presence marks the identity complete.
    identity
        .euicc_key
        .write_pem_file(idir.join("euicc-key.pem"))?;
    Ok(identity)
}

/// Loads the identity of the card in `dir`.
pub fn load_identity(dir: &Path) -> Result<Identity> {
    let idir = identity_dir(dir);
    if !is_initialised(dir) {
        bail!(
            "{} holds no card identity: run `veuicc init --state {}` first",
            dir.display(),
            dir.display()
        );
    }
    let read = |name: &str| {
        std::fs::read(idir.join(name))
            .with_context(|| format!("reading {}", idir.join(name).display()))
    };
    let eid_hex = String::from_utf8(read("eid")?).context("eid file is not text")?;
    let eid = pki::eid_from_hex(eid_hex.trim())?;
    let euicc_key = EcKey::read_pem_file(idir.join("euicc-key.pem"))?;
    let euicc_cert = read("euicc.der")?;
    match pki::cert_public_key(&euicc_cert) {
        Some(pk) if pk == euicc_key.public_key_uncompressed() => {}
        _ => bail!("CERT.EUICC in {} does not match SK.EUICC", idir.display()),
    }
    Ok(Identity {
        eid,
        euicc_cert,
        euicc_key,
        eum_cert: read("eum.der")?,
        ci_cert: read("ci.der")?,
    })
}

/// Opens the sled store of the card in `dir`.
pub fn open_store(dir: &Path) -> Result<Arc<SledStore>> {
    let db = dir.join("db");
    match SledStore::open(&db) {
        Ok(s) => Ok(Arc::new(s)),
        Err(e) if e.to_string().contains("could not acquire lock") => bail!(
            "{} is in use by another process (is `veuicc serve` running on it?)",
            dir.display()
        ),
        Err(e) => Err(e).with_context(|| format!("opening {}", db.display())),
    }
}

/// Opens the card in `dir`: identity, store and state, ready to serve.
pub fn open(dir: &Path) -> Result<Euicc> {
    let identity = load_identity(dir)?;
    let store: Arc<dyn Store> = open_store(dir)?;
    let state = EuiccState::open(store, identity, os_seed()?)?;
    Ok(Euicc::new(state))
}

/// 32 bytes from the operating system's random generator.
pub fn os_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("OS random generator: {e}"))?;
    Ok(seed)
}

/// Parses an EID given as 32 hex/decimal digits, or as a 30-digit prefix to which the check
/// digits are added.
pub fn parse_eid(s: &str) -> Result<[u8; 16]> {
    match s.len() {
        30 => Ok(pki::eid_with_check_digits(s)?),
        32 => Ok(pki::eid_from_hex(s)?),
        n => bail!("an EID has 32 digits (or 30 without check digits), not {n}"),
    }
}
