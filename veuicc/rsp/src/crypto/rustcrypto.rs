//! [`RustCrypto`]: the provider built on the RustCrypto crates (p256, sha2, aes, cbc, cmac).
//!
//! ECDSA signing is deterministic (RFC 6979), so the same key and message always give the same
//! signature. Randomness and key generation come from the operating system (getrandom).

use aes::cipher::{
    Block, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, KeyInit, KeyIvInit,
};
use aes::Aes128;
use cmac::{Cmac, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::Generate;
use p256::{FieldBytes, NistP256, PublicKey, SecretKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{CryptoError, CryptoProvider, EcPrivateKey, EcPublicKey};

/// The RustCrypto provider (pure Rust, no C code).
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCrypto;

impl RustCrypto {
    /// The provider.
    pub const fn new() -> Self {
        RustCrypto
    }
}

/// Parses a raw scalar as a P-256 secret key (rejects 0 and values ≥ n).
pub(super) fn secret_key(key: &EcPrivateKey) -> Result<SecretKey, CryptoError> {
    let d = key.to_bytes();
    let bytes: &FieldBytes = (&*d).into();
    SecretKey::from_bytes(bytes).map_err(|_| CryptoError::InvalidPrivateKey)
}

/// The uncompressed encoding `04‖X‖Y` of a public key.
pub(super) fn encode_public(pk: &PublicKey) -> EcPublicKey {
    crate::keys::public_key_to_uncompressed(pk)
}

/// Parses an uncompressed point `04‖X‖Y` (65 bytes) that lies on the curve. Other encodings
/// (compressed, hybrid, SPKI) are refused, as SGP.22 only carries uncompressed points.
fn parse_public(peer: &[u8]) -> Result<PublicKey, CryptoError> {
    if peer.len() != 65 || peer[0] != 0x04 {
        return Err(CryptoError::InvalidPublicKey);
    }
    PublicKey::from_sec1_bytes(peer).map_err(|_| CryptoError::InvalidPublicKey)
}

/// The raw scalar and uncompressed public key of `sk`.
pub(super) fn key_pair_from(sk: &SecretKey) -> (EcPrivateKey, EcPublicKey) {
    let mut d = Zeroizing::new([0u8; 32]);
    d.copy_from_slice(&sk.to_bytes());
    (
        EcPrivateKey::from_bytes(*d),
        encode_public(&sk.public_key()),
    )
}

impl CryptoProvider for RustCrypto {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn random(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        getrandom::fill(out).map_err(|_| CryptoError::Rng)
    }

    fn generate_key(&self) -> Result<(EcPrivateKey, EcPublicKey), CryptoError> {
        let sk = SecretKey::try_generate().map_err(|_| CryptoError::Rng)?;
        Ok(key_pair_from(&sk))
    }

    fn public_key(&self, key: &EcPrivateKey) -> Result<EcPublicKey, CryptoError> {
        Ok(encode_public(&secret_key(key)?.public_key()))
    }

    fn sign(&self, key: &EcPrivateKey, msg: &[u8]) -> Result<[u8; 64], CryptoError> {
        // What `SigningKey::sign` does (RFC 6979 nonce over SHA-256(msg)), minus building a
        // `SigningKey`, which would also compute the public key: a base-point multiplication
        // that signing does not need and that roughly doubled the cost.
        let d = secret_key(key)?.to_nonzero_scalar();
        let z = Sha256::digest(msg);
        let (sig, _) = ecdsa::hazmat::sign_prehashed_rfc6979::<NistP256, Sha256>(&d, &z, &[]);
        Ok(sig.to_bytes().into())
    }

    fn verify(&self, public: &[u8], msg: &[u8], signature: &[u8]) -> bool {
        let Ok(pk) = parse_public(public) else {
            return false;
        };
        if signature.len() != 64 {
            return false;
        }
        let Ok(sig) = Signature::from_slice(signature) else {
            return false;
        };
        VerifyingKey::from(&pk).verify(msg, &sig).is_ok()
    }

    fn ecdh(&self, key: &EcPrivateKey, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let sk = secret_key(key)?;
        let pk = parse_public(peer)?;
        let shared = p256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(shared.raw_secret_bytes());
        Ok(out)
    }

    fn aes_cbc_encrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        super::check_blocks(data)?;
        let (blocks, _) = Block::<Aes128>::slice_as_chunks_mut(data);
        cbc::Encryptor::<Aes128>::new(key.into(), iv.into()).encrypt_blocks(blocks);
        Ok(())
    }

    fn aes_cbc_decrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        super::check_blocks(data)?;
        let (blocks, _) = Block::<Aes128>::slice_as_chunks_mut(data);
        cbc::Decryptor::<Aes128>::new(key.into(), iv.into()).decrypt_blocks(blocks);
        Ok(())
    }

    fn aes_encrypt_block(&self, key: &[u8; 16], block: &mut [u8; 16]) {
        Aes128::new(key.into()).encrypt_block(block.into());
    }

    fn aes_cmac(&self, key: &[u8; 16], data: &[u8]) -> [u8; 16] {
        let mut mac = <Cmac<Aes128> as KeyInit>::new(key.into());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}
