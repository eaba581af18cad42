//! NIST P-256 key handling for the eUICC and its test PKI.
//!
//! [`EcKey`] wraps a [`p256::SecretKey`]. The secret scalar is zeroized on drop
//! (by `SecretKey` itself), never printed by `Debug`, and never put into an
//! error value. Signatures are ECDSA with SHA-256 in the plain `r || s` form
//! (BSI TR-03111) that SGP.22 carries inside `5F37`; nonces are deterministic
//! (RFC 6979).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::rand_core::CryptoRng;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use p256::{PublicKey, SecretKey};
use zeroize::Zeroizing;

/// PEM label of a SEC 1 (RFC 5915) EC private key, as OpenSSL writes it.
const LABEL_SEC1: &str = "EC PRIVATE KEY";
/// PEM label of an unencrypted PKCS #8 private key.
const LABEL_PKCS8: &str = "PRIVATE KEY";
/// PEM label of an `ECParameters` block (OpenSSL `ecparam -genkey` output).
const LABEL_EC_PARAMS: &str = "EC PARAMETERS";
/// DER of `ECParameters ::= namedCurve prime256v1` (OID 1.2.840.10045.3.1.7).
const EC_PARAMS_P256: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// Errors from key loading, storing and generation. They never carry key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The text holds no PEM block with one of the accepted labels.
    #[error("no private key PEM block found (accepted labels: {expected})")]
    NoKeyBlock {
        /// The labels that would have been accepted.
        expected: &'static str,
    },
    /// A PEM block is not well formed (armour or Base64).
    #[error("malformed PEM block \"{label}\"")]
    MalformedPem {
        /// Label of the offending block.
        label: String,
    },
    /// An `EC PARAMETERS` block names a curve other than P-256.
    #[error("EC PARAMETERS block names a curve other than NIST P-256")]
    UnsupportedCurve,
    /// The DER inside the PEM block is not a valid P-256 private key.
    #[error("invalid {format} P-256 private key")]
    InvalidKey {
        /// `"SEC1"` or `"PKCS#8"`.
        format: &'static str,
    },
    /// Encoding the key failed.
    #[error("could not encode the private key as PKCS#8")]
    Encode,
    /// The operating system's random generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// A file operation failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A key file is not valid UTF-8 text.
    #[error("{} is not a UTF-8 PEM file", path.display())]
    NotText {
        /// The file concerned.
        path: PathBuf,
    },
}

/// A NIST P-256 private key.
#[derive(Clone, PartialEq, Eq)]
pub struct EcKey(SecretKey);

impl fmt::Debug for EcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcKey(<redacted>)")
    }
}

impl From<SecretKey> for EcKey {
    fn from(key: SecretKey) -> Self {
        Self(key)
    }
}

impl EcKey {
    /// Generates a fresh key from `rng` (a rand_core 0.10 `CryptoRng`).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        Self(SecretKey::generate_from_rng(rng))
    }

    /// Generates a fresh key from the operating system's random generator.
    pub fn generate_os() -> Result<Self, KeyError> {
        SecretKey::try_generate()
            .map(Self)
            .map_err(|_| KeyError::Rng)
    }

    /// Parses a PKCS #8 (`PRIVATE KEY`) PEM key. Leading or trailing other PEM
    /// blocks and text are ignored.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        parse_pem_key(pem, &[LABEL_PKCS8], "\"PRIVATE KEY\"")
    }

    /// Parses a SEC 1 (`EC PRIVATE KEY`) PEM key, as in the SGP.26 `SK_*.pem`
    /// files (which put an `EC PARAMETERS` block first). A PKCS #8 `PRIVATE
    /// KEY` block is accepted too.
    pub fn from_sec1_pem(pem: &str) -> Result<Self, KeyError> {
        parse_pem_key(
            pem,
            &[LABEL_SEC1, LABEL_PKCS8],
            "\"EC PRIVATE KEY\", \"PRIVATE KEY\"",
        )
    }

    /// Parses a PEM key in either format (same as [`EcKey::from_sec1_pem`]).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_sec1_pem(pem)
    }

    /// Encodes the key as PKCS #8 PEM (`PRIVATE KEY`, LF line endings).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)
    }

    /// The public key as an uncompressed SEC 1 point `04 || X || Y`.
    pub fn public_key_uncompressed(&self) -> [u8; 65] {
        public_key_to_uncompressed(&self.0.public_key())
    }

    /// The public key.
    pub fn public_key(&self) -> PublicKey {
        self.0.public_key()
    }

    /// Borrows the inner secret key (for ECDH and the like).
    pub fn secret_key(&self) -> &SecretKey {
        &self.0
    }

    /// An ECDSA signing key for this private key.
    pub fn signing_key(&self) -> SigningKey {
        SigningKey::from(&self.0)
    }

    /// ECDSA P-256 with SHA-256 over `msg`; returns plain `r || s` (64 bytes).
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        let sig: Signature = self.signing_key().sign(msg);
        let mut out = [0u8; 64];
        out.copy_from_slice(&sig.to_bytes());
        out
    }

    /// Writes the key as PKCS #8 PEM to `path` with mode 0600. An existing
    /// file is truncated and its permissions forced to 0600 before the key is
    /// written.
    pub fn write_pem_file(&self, path: impl AsRef<Path>) -> Result<(), KeyError> {
        let path = path.as_ref();
        let io_err = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let pem = self.to_pkcs8_pem()?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io_err)?;
        // `mode` only applies when the file is created: tighten an existing one too.
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io_err)?;
        file.write_all(pem.as_bytes()).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Ok(())
    }

    /// Reads a PEM key file in either format (see [`EcKey::from_sec1_pem`]).
    pub fn read_pem_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?);
        let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::NotText {
            path: path.to_path_buf(),
        })?;
        Self::from_pem(text)
    }
}

/// Verifies an ECDSA P-256 / SHA-256 signature in plain `r || s` form
/// (64 bytes) over `msg` with a SEC 1 encoded public key (normally the
/// uncompressed 65-byte form). Returns `false` on any malformed input.
pub fn verify_raw(pubkey_uncompressed: &[u8], msg: &[u8], sig_rs: &[u8]) -> bool {
    let Ok(vk) = VerifyingKey::from_sec1_bytes(pubkey_uncompressed) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(sig_rs) else {
        return false;
    };
    vk.verify(msg, &sig).is_ok()
}

/// Encodes a public key as an uncompressed SEC 1 point.
pub(crate) fn public_key_to_uncompressed(pk: &PublicKey) -> [u8; 65] {
    let point = pk.to_sec1_point(false);
    let mut out = [0u8; 65];
    // A non-identity P-256 point always encodes to 65 bytes uncompressed.
    let bytes = point.as_bytes();
    if bytes.len() == out.len() {
        out.copy_from_slice(bytes);
    }
    out
}

/// One PEM block found in a text.
struct PemBlock<'a> {
    label: &'a str,
    /// The whole block, from `-----BEGIN` through the `-----END ...-----` line.
    text: &'a str,
}

/// Splits `text` into its PEM blocks, ignoring anything between them.
fn pem_blocks(text: &str) -> Vec<PemBlock<'_>> {
    const BEGIN: &str = "-----BEGIN ";
    const DASHES: &str = "-----";
    let mut blocks = Vec::new();
    let mut rest = text;
    let mut offset = 0usize;
    while let Some(begin) = rest.find(BEGIN) {
        let after_begin = &rest[begin + BEGIN.len()..];
        let Some(label_end) = after_begin.find(DASHES) else {
            break;
        };
        let label = &after_begin[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end_rel) = rest[begin..].find(&end_marker) else {
            break;
        };
        let block_end = begin + end_rel + end_marker.len();
        blocks.push(PemBlock {
            label,
            text: &text[offset + begin..offset + block_end],
        });
        offset += block_end;
        rest = &rest[block_end..];
    }
    blocks
}

/// Finds the first block whose label is in `labels` (in block order) and
/// decodes it as a P-256 private key. An `EC PARAMETERS` block, if present,
/// must name P-256.
fn parse_pem_key(pem: &str, labels: &[&str], expected: &'static str) -> Result<EcKey, KeyError> {
    let blocks = pem_blocks(pem);
    for block in blocks.iter().filter(|b| b.label == LABEL_EC_PARAMS) {
        let (_, der) = decode_block(block)?;
        if der.as_slice() != EC_PARAMS_P256 {
            return Err(KeyError::UnsupportedCurve);
        }
    }
    let block = blocks
        .iter()
        .find(|b| labels.contains(&b.label))
        .ok_or(KeyError::NoKeyBlock { expected })?;
    let (label, der) = decode_block(block)?;
    let key = if label == LABEL_SEC1 {
        SecretKey::from_sec1_der(&der).map_err(|_| KeyError::InvalidKey { format: "SEC1" })?
    } else {
        SecretKey::from_pkcs8_der(&der).map_err(|_| KeyError::InvalidKey { format: "PKCS#8" })?
    };
    Ok(EcKey(key))
}

/// Base64-decodes one PEM block; the DER is zeroized on drop.
fn decode_block<'a>(block: &PemBlock<'a>) -> Result<(&'a str, Zeroizing<Vec<u8>>), KeyError> {
    let (label, der) =
        der::pem::decode_vec(block.text.as_bytes()).map_err(|_| KeyError::MalformedPem {
            label: block.label.to_owned(),
        })?;
    let der = Zeroizing::new(der);
    if label != block.label {
        return Err(KeyError::MalformedPem {
            label: block.label.to_owned(),
        });
    }
    Ok((block.label, der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

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

    fn tmp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rsp-keys-test-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create temp dir");
        dir.join(name)
    }

    #[test]
    fn debug_is_redacted() {
        let key = EcKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
        assert_eq!(format!("{key:?}"), "EcKey(<redacted>)");
    }

    #[test]
    fn sign_and_verify_raw() {
        let key = EcKey::generate(&mut ChaCha20Rng::seed_from_u64(2));
        let pk = key.public_key_uncompressed();
        assert_eq!(pk[0], 0x04);
        let sig = key.sign_raw(b"hello");
        assert!(verify_raw(&pk, b"hello", &sig));
        assert!(!verify_raw(&pk, b"hellO", &sig));
        let mut bad = sig;
        bad[10] ^= 1;
        assert!(!verify_raw(&pk, b"hello", &bad));
        assert!(!verify_raw(&pk, b"hello", &sig[..63]));
        assert!(!verify_raw(&pk[..64], b"hello", &sig));
        // RFC 6979: deterministic.
        assert_eq!(sig, key.sign_raw(b"hello"));
    }

    #[test]
    fn generate_os_works() {
        let a = EcKey::generate_os().expect("os rng");
        let b = EcKey::generate_os().expect("os rng");
        assert_ne!(a.public_key_uncompressed(), b.public_key_uncompressed());
    }

    #[test]
    fn pkcs8_pem_roundtrip() {
        let key = EcKey::generate(&mut ChaCha20Rng::seed_from_u64(3));
        let pem = key.to_pkcs8_pem().expect("encode");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = EcKey::from_pkcs8_pem(&pem).expect("decode");
        assert_eq!(back, key);
        assert_eq!(EcKey::from_sec1_pem(&pem).expect("decode"), key);
    }

    #[test]
    fn sec1_pem_accepted_and_pkcs8_strict() {
        let key = EcKey::generate(&mut ChaCha20Rng::seed_from_u64(4));
        let sec1 = key.0.to_sec1_pem(LineEnding::LF).expect("sec1 pem");
        // With a leading EC PARAMETERS block, as OpenSSL's `ecparam -genkey` writes.
        let text = format!(
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n{}",
            &*sec1
        );
        assert_eq!(EcKey::from_sec1_pem(&text).expect("sec1"), key);
        assert!(matches!(
            EcKey::from_pkcs8_pem(&text),
            Err(KeyError::NoKeyBlock { .. })
        ));
        // An EC PARAMETERS block naming another curve (secp384r1) is refused.
        let wrong = format!(
            "-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n{}",
            &*sec1
        );
        assert!(matches!(
            EcKey::from_sec1_pem(&wrong),
            Err(KeyError::UnsupportedCurve)
        ));
        assert!(matches!(
            EcKey::from_sec1_pem("nothing here"),
            Err(KeyError::NoKeyBlock { .. })
        ));
    }

    #[test]
    fn write_pem_file_mode_0600() {
        let key = EcKey::generate(&mut ChaCha20Rng::seed_from_u64(5));
        let path = tmp_path("key.pem");
        let _ = fs::remove_file(&path);
        key.write_pem_file(&path).expect("write");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(EcKey::read_pem_file(&path).expect("read"), key);

        // Pre-existing file with loose permissions: forced to 0600 and overwritten.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let key2 = EcKey::generate(&mut ChaCha20Rng::seed_from_u64(6));
        key2.write_pem_file(&path).expect("rewrite");
        let mode = fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(EcKey::read_pem_file(&path).expect("read"), key2);
        let _ = fs::remove_file(&path);
    }

    #[test]
    fn sgp26_keys_load() {
        let Some(dir) = testdata_sgp26() else {
            return;
        };
        for name in [
            "SK_CI_ECDSA_NIST.pem",
            "SK_EUM_ECDSA_NIST.pem",
            "SK_S_SM_DPauth_ECDSA_NIST.pem",
            "SK_S_SM_DPpb_ECDSA_NIST.pem",
        ] {
            let key = EcKey::read_pem_file(dir.join(name)).expect(name);
            let sig = key.sign_raw(b"msg");
            assert!(verify_raw(&key.public_key_uncompressed(), b"msg", &sig));
        }
    }
}
