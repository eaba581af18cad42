//! [`Deterministic`]: the RustCrypto provider with a seeded random generator.
//!
//! `random` and `generate_key` draw from a ChaCha20 generator seeded at construction, so two
//! instances built from the same seed produce the same keys and random bytes in the same order.
//! Everything else (and ECDSA, which is RFC 6979 deterministic anyway) is [`RustCrypto`]'s.
//! For tests, test vectors and reproducible transcripts only: never for real keys.

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use p256::elliptic_curve::Generate;
use p256::SecretKey;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use zeroize::Zeroizing;

use super::rustcrypto::{key_pair_from, RustCrypto};
use super::{CryptoError, CryptoProvider, EcPrivateKey, EcPublicKey};

/// RustCrypto primitives with a reproducible, seeded random generator.
pub struct Deterministic {
    rng: Mutex<ChaCha20Rng>,
}

impl Deterministic {
    /// A provider whose randomness is the ChaCha20 stream of `seed`.
    pub fn new(seed: [u8; 32]) -> Self {
        Deterministic {
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        }
    }

    /// The generator. A panic in another thread while it held the lock cannot leave the
    /// generator in a broken state, so a poisoned lock is simply taken over.
    fn rng(&self) -> MutexGuard<'_, ChaCha20Rng> {
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Deterministic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The generator state (and so the seed) stays out of logs.
        f.write_str("Deterministic { .. }")
    }
}

impl CryptoProvider for Deterministic {
    fn name(&self) -> &'static str {
        "deterministic"
    }

    fn sha256(&self, data: &[u8]) -> [u8; 32] {
        RustCrypto.sha256(data)
    }

    fn random(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        self.rng().fill_bytes(out);
        Ok(())
    }

    fn generate_key(&self) -> Result<(EcPrivateKey, EcPublicKey), CryptoError> {
        let sk = SecretKey::generate_from_rng(&mut *self.rng());
        Ok(key_pair_from(&sk))
    }

    fn public_key(&self, key: &EcPrivateKey) -> Result<EcPublicKey, CryptoError> {
        RustCrypto.public_key(key)
    }

    fn sign(&self, key: &EcPrivateKey, msg: &[u8]) -> Result<[u8; 64], CryptoError> {
        RustCrypto.sign(key, msg)
    }

    fn verify(&self, public: &[u8], msg: &[u8], signature: &[u8]) -> bool {
        RustCrypto.verify(public, msg, signature)
    }

    fn ecdh(&self, key: &EcPrivateKey, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        RustCrypto.ecdh(key, peer)
    }

    fn aes_cbc_encrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        RustCrypto.aes_cbc_encrypt(key, iv, data)
    }

    fn aes_cbc_decrypt(
        &self,
        key: &[u8; 16],
        iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), CryptoError> {
        RustCrypto.aes_cbc_decrypt(key, iv, data)
    }

    fn aes_encrypt_block(&self, key: &[u8; 16], block: &mut [u8; 16]) {
        RustCrypto.aes_encrypt_block(key, block);
    }

    fn aes_cmac(&self, key: &[u8; 16], data: &[u8]) -> [u8; 16] {
        RustCrypto.aes_cmac(key, data)
    }
}
