//! The crypto provider seam (as rustls' `CryptoProvider`): every cryptographic operation of the
//! eUICC, the LPA and the SM-DP+ goes through [`CryptoProvider`], so implementations can be
//! swapped and measured side by side.
//!
//! Implementations:
//! - [`rustcrypto::RustCrypto`]: p256, aes, cbc, cmac, sha2 (RustCrypto crates).
//! - [`awslc::AwsLc`]: aws-lc-rs (the library rustls brings).
//! - [`deterministic::Deterministic`]: RustCrypto with a seeded random generator, so test vectors
//!   and transcripts are reproducible.
//!
//! Conventions (SGP.22 §2.6): NIST P-256 only; public keys as uncompressed points `04‖X‖Y`
//! (65 bytes); ECDSA with SHA-256, signatures as plain `r‖s` (64 bytes, BSI TR-03111); ECDH
//! shared secret = the x-coordinate (32 bytes); AES-128 only.

use std::fmt;
use zeroize::Zeroizing;

pub mod awslc;
pub mod deterministic;
pub mod rustcrypto;

/// A P-256 private scalar (32 bytes, big-endian). Zeroized on drop; `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct EcPrivateKey(Zeroizing<[u8; 32]>);

impl EcPrivateKey {
    /// Wraps a raw scalar. Validity (0 < d < n) is checked by the provider that uses it.
    pub fn from_bytes(d: [u8; 32]) -> EcPrivateKey {
        EcPrivateKey(Zeroizing::new(d))
    }
    /// The raw scalar.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        self.0.clone()
    }
}

impl fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcPrivateKey(<redacted>)")
    }
}

impl From<&crate::keys::EcKey> for EcPrivateKey {
    fn from(k: &crate::keys::EcKey) -> Self {
        let mut d = [0u8; 32];
        d.copy_from_slice(&k.secret_key().to_bytes());
        EcPrivateKey::from_bytes(d)
    }
}

/// An uncompressed P-256 public key `04‖X‖Y`.
pub type EcPublicKey = [u8; 65];

/// Provider failures. They carry no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("invalid private key")]
    InvalidPrivateKey,
    #[error("invalid public key (not an uncompressed P-256 point on the curve)")]
    InvalidPublicKey,
    #[error("data length {0} is not a multiple of the AES block size")]
    BlockLength(usize),
    #[error("random generator failed")]
    Rng,
    #[error("provider error: {0}")]
    Provider(String),
}

/// Every cryptographic primitive SGP.22 needs, behind one object-safe trait.
pub trait CryptoProvider: Send + Sync + fmt::Debug {
    /// Short name for reports ("rustcrypto", "aws-lc-rs", "deterministic").
    fn name(&self) -> &'static str;

    /// SHA-256.
    fn sha256(&self, data: &[u8]) -> [u8; 32];

    /// Fills `out` with random bytes.
    fn random(&self, out: &mut [u8]) -> Result<(), CryptoError>;

    /// A fresh P-256 key pair (e.g. otSK/otPK for ECKA).
    fn generate_key(&self) -> Result<(EcPrivateKey, EcPublicKey), CryptoError>;

    /// The public key of `key`.
    fn public_key(&self, key: &EcPrivateKey) -> Result<EcPublicKey, CryptoError>;

    /// ECDSA P-256 / SHA-256 over `msg`, as plain `r‖s`.
    fn sign(&self, key: &EcPrivateKey, msg: &[u8]) -> Result<[u8; 64], CryptoError>;

    /// Verifies a plain `r‖s` ECDSA P-256 / SHA-256 signature. Any malformed input is `false`.
    fn verify(&self, public: &[u8], msg: &[u8], signature: &[u8]) -> bool;

    /// ECKA-DH (BSI TR-03111): the x-coordinate of `key × peer`.
    fn ecdh(&self, key: &EcPrivateKey, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError>;

    /// AES-128-CBC encryption in place, no padding (`data.len()` a multiple of 16).
    fn aes_cbc_encrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// AES-128-CBC decryption in place, no padding.
    fn aes_cbc_decrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// AES-128 of one block (ECB), used for the SCP03t ICV.
    fn aes_encrypt_block(&self, key: &[u8; 16], block: &mut [u8; 16]);

    /// AES-128-CMAC (NIST SP 800-38B).
    fn aes_cmac(&self, key: &[u8; 16], data: &[u8]) -> [u8; 16];
}

/// AES-CBC without padding takes whole 16-byte blocks only.
pub(crate) fn check_blocks(data: &[u8]) -> Result<(), CryptoError> {
    if data.len().is_multiple_of(16) {
        Ok(())
    } else {
        Err(CryptoError::BlockLength(data.len()))
    }
}

/// ANSI X9.63 KDF with SHA-256 (SGP.22 §2.6.4): `out_len` bytes from `z ‖ counter ‖ shared_info`.
pub fn x963_kdf(
    p: &dyn CryptoProvider,
    z: &[u8],
    shared_info: &[u8],
    out_len: usize,
) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(out_len + 32));
    let mut counter: u32 = 1;
    let mut input = Zeroizing::new(Vec::with_capacity(z.len() + 4 + shared_info.len()));
    while out.len() < out_len {
        input.clear();
        input.extend_from_slice(z);
        input.extend_from_slice(&counter.to_be_bytes());
        input.extend_from_slice(shared_info);
        out.extend_from_slice(&p.sha256(&input));
        counter += 1;
    }
    out.truncate(out_len);
    out
}
