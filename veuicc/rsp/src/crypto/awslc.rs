//! [`AwsLc`]: the provider built on aws-lc-rs (AWS-LC, the library rustls brings).
//!
//! - ECDSA: `ECDSA_P256_SHA256_FIXED_SIGNING` / `ECDSA_P256_SHA256_FIXED` (plain `r‖s`). The
//!   signing key pair is built per call from the raw scalar, wrapped as an RFC 5915
//!   `ECPrivateKey` without the optional public key (AWS-LC derives it: one base-point
//!   multiplication). AWS-LC's ECDSA nonces are random, so signatures differ from call to call.
//! - ECDH: `agreement::ECDH_P256`, private key from the raw scalar.
//! - AES-128-CBC (no padding) and one-block AES (ECB) via `cipher`, CMAC via `cmac`.
//!
//! `aes_encrypt_block` and `aes_cmac` cannot report errors (the trait returns plain arrays).
//! aws-lc-rs only fails there on a wrong key length, which the `[u8; 16]` type rules out; should
//! it fail anyway, the value is computed with [`RustCrypto`] instead, so the result is always
//! correct and nothing panics.

use aws_lc_rs::agreement;
use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey, AES_128,
};
use aws_lc_rs::cmac;
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsBigEndian, EcPrivateKeyBin};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use zeroize::Zeroizing;

use super::rustcrypto::RustCrypto;
use super::{CryptoError, CryptoProvider, EcPrivateKey, EcPublicKey};

/// The aws-lc-rs provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct AwsLc;

impl AwsLc {
    /// The provider.
    pub const fn new() -> Self {
        AwsLc
    }
}

/// DER prefix of an RFC 5915 `ECPrivateKey` for P-256 with no public key:
/// `SEQUENCE(49) { INTEGER 1, OCTET STRING(32) d, [0] { OID prime256v1 } }`; `d` goes at
/// [`DER_SCALAR_OFFSET`].
const DER_PREFIX: [u8; 7] = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20];
/// DER suffix: `[0] { OID 1.2.840.10045.3.1.7 }`.
const DER_SUFFIX: [u8; 12] = [
    0xA0, 0x0A, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07,
];
const DER_SCALAR_OFFSET: usize = DER_PREFIX.len();
const DER_LEN: usize = DER_PREFIX.len() + 32 + DER_SUFFIX.len();

/// The ECDSA signing key pair of a raw scalar (AWS-LC checks 0 < d < n).
fn ecdsa_key_pair(key: &EcPrivateKey) -> Result<EcdsaKeyPair, CryptoError> {
    let mut der = Zeroizing::new([0u8; DER_LEN]);
    der[..DER_SCALAR_OFFSET].copy_from_slice(&DER_PREFIX);
    der[DER_SCALAR_OFFSET..DER_SCALAR_OFFSET + 32].copy_from_slice(&*key.to_bytes());
    der[DER_SCALAR_OFFSET + 32..].copy_from_slice(&DER_SUFFIX);
    EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &*der)
        .map_err(|_| CryptoError::InvalidPrivateKey)
}

/// The ECDH private key of a raw scalar (AWS-LC checks 0 < d < n).
fn agreement_key(key: &EcPrivateKey) -> Result<agreement::PrivateKey, CryptoError> {
    agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, &*key.to_bytes())
        .map_err(|_| CryptoError::InvalidPrivateKey)
}

/// The uncompressed public key of an ECDH private key.
fn agreement_public(key: &agreement::PrivateKey) -> Result<EcPublicKey, CryptoError> {
    let public = key
        .compute_public_key()
        .map_err(|_| CryptoError::Provider("public key computation failed".into()))?;
    public
        .as_ref()
        .try_into()
        .map_err(|_| CryptoError::Provider("unexpected public key length".into()))
}

/// SGP.22 carries uncompressed points only; AWS-LC would also take compressed points and SPKI.
fn is_uncompressed_point(bytes: &[u8]) -> bool {
    bytes.len() == 65 && bytes[0] == 0x04
}

fn cipher_key(key: &[u8; 16]) -> Result<UnboundCipherKey, CryptoError> {
    UnboundCipherKey::new(&AES_128, key).map_err(|_| CryptoError::Provider("AES key".into()))
}

fn block_via_awslc(key: &[u8; 16], block: &mut [u8; 16]) -> Result<(), CryptoError> {
    let ecb = EncryptingKey::ecb(cipher_key(key)?)
        .map_err(|_| CryptoError::Provider("AES-ECB key".into()))?;
    ecb.less_safe_encrypt(block, EncryptionContext::None)
        .map_err(|_| CryptoError::Provider("AES-ECB".into()))?;
    Ok(())
}

fn cmac_via_awslc(key: &[u8; 16], data: &[u8]) -> Option<[u8; 16]> {
    let key = cmac::Key::new(cmac::AES_128, key).ok()?;
    let tag = cmac::sign(&key, data).ok()?;
    tag.as_ref().try_into().ok()
}

impl CryptoProvider for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        let d = digest::digest(&digest::SHA256, data);
        let mut out = [0u8; 32];
        // SHA-256 always yields 32 bytes.
        out.copy_from_slice(&d.as_ref()[..32]);
        out
    }

    fn random(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        SystemRandom::new().fill(out).map_err(|_| CryptoError::Rng)
    }

    fn generate_key(&self) -> Result<(EcPrivateKey, EcPublicKey), CryptoError> {
        let key =
            agreement::PrivateKey::generate(&agreement::ECDH_P256).map_err(|_| CryptoError::Rng)?;
        let d: EcPrivateKeyBin<'static> = key
            .as_be_bytes()
            .map_err(|_| CryptoError::Provider("private key export failed".into()))?;
        let scalar: [u8; 32] = d
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError::Provider("unexpected private key length".into()))?;
        let scalar = Zeroizing::new(scalar);
        Ok((EcPrivateKey::from_bytes(*scalar), agreement_public(&key)?))
    }

    fn public_key(&self, key: &EcPrivateKey) -> Result<EcPublicKey, CryptoError> {
        agreement_public(&agreement_key(key)?)
    }

    fn sign(&self, key: &EcPrivateKey, msg: &[u8]) -> Result<[u8; 64], CryptoError> {
        let pair = ecdsa_key_pair(key)?;
        let sig = pair
            .sign(&SystemRandom::new(), msg)
            .map_err(|_| CryptoError::Provider("ECDSA signing failed".into()))?;
        sig.as_ref()
            .try_into()
            .map_err(|_| CryptoError::Provider("unexpected signature length".into()))
    }

    fn verify(&self, public: &[u8], msg: &[u8], signature: &[u8]) -> bool {
        if !is_uncompressed_point(public) || signature.len() != 64 {
            return false;
        }
        signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(msg, signature)
            .is_ok()
    }

    fn ecdh(&self, key: &EcPrivateKey, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let private = agreement_key(key)?;
        if !is_uncompressed_point(peer) {
            return Err(CryptoError::InvalidPublicKey);
        }
        let peer = agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, peer);
        agreement::agree(&private, peer, CryptoError::InvalidPublicKey, |z| {
            let mut out = Zeroizing::new([0u8; 32]);
            if z.len() != out.len() {
                return Err(CryptoError::Provider(
                    "unexpected shared secret length".into(),
                ));
            }
            out.copy_from_slice(z);
            Ok(out)
        })
    }

    fn aes_cbc_encrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        super::check_blocks(data)?;
        if data.is_empty() {
            return Ok(());
        }
        let cbc = EncryptingKey::cbc(cipher_key(key)?)
            .map_err(|_| CryptoError::Provider("AES-CBC key".into()))?;
        cbc.less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| CryptoError::Provider("AES-CBC encryption failed".into()))?;
        Ok(())
    }

    fn aes_cbc_decrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        super::check_blocks(data)?;
        if data.is_empty() {
            return Ok(());
        }
        let cbc = DecryptingKey::cbc(cipher_key(key)?)
            .map_err(|_| CryptoError::Provider("AES-CBC key".into()))?;
        cbc.decrypt(data, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| CryptoError::Provider("AES-CBC decryption failed".into()))?;
        Ok(())
    }

    fn aes_encrypt_block(&self, key: &[u8; 16], block: &mut [u8; 16]) {
        let mut work = *block;
        if block_via_awslc(key, &mut work).is_ok() {
            *block = work;
        } else {
            RustCrypto.aes_encrypt_block(key, block);
        }
    }

    fn aes_cmac(&self, key: &[u8; 16], data: &[u8]) -> [u8; 16] {
        cmac_via_awslc(key, data).unwrap_or_else(|| RustCrypto.aes_cmac(key, data))
    }
}
