//! A byte string that must not leak: redacted in `Debug`, zeroised on drop (house style 14).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

/// Secret bytes (keys, OPc, PIN and PUK values).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    /// The secret bytes; callers must not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison with `other` (length is not secret).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        if self.0.len() != other.len() {
            return false;
        }
        self.0
            .iter()
            .zip(other)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl From<&[u8]> for Secret {
    fn from(b: &[u8]) -> Secret {
        Secret(b.to_vec())
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret([REDACTED; {}])", self.0.len())
    }
}

/// Persisted as hex: the store holds the card's secrets anyway (it is the card's memory).
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(&self.0))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        let h = String::deserialize(d)?;
        hex::decode(h).map(Secret).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_serde_round_trips() {
        let s = Secret::new(vec![0x30, 0x30, 0x30, 0x30]);
        assert_eq!(format!("{s:?}"), "Secret([REDACTED; 4])");
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Secret>(&j).unwrap(), s);
        assert!(s.ct_eq(b"0000"));
        assert!(!s.ct_eq(b"0001"));
        assert!(!s.ct_eq(b"000"));
    }
}
