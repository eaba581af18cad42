//! The network side of UMTS/EPS AKA (3GPP TS 33.102 §6.3): a simulated HSS holding subscriber
//! credentials, authentication vectors (RAND, AUTN, XRES), the check of the USIM's answer and
//! re-synchronisation from AUTS.
//!
//! Algorithms: the 3GPP TS 34.108 §8.1.2 test algorithm (what every TS.48 test profile uses)
//! and Milenage (TS 35.206), both from `veuicc::uicc::auth`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use veuicc::profile::saip::{AkaAlgorithm, AkaConfig, ProfilePackage};
use veuicc::profile::secret::Secret;
use veuicc::uicc::auth::{Aes128, Milenage};

/// The AKA algorithm of a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// TS 34.108 §8.1.2 (XOR) test algorithm.
    #[serde(alias = "test", alias = "xor", alias = "usim-test-algorithm")]
    TestAlgorithm,
    Milenage,
}

/// One subscriber of the HSS. `k` and `opc` never appear in `Debug` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub imsi: String,
    pub algorithm: Algorithm,
    pub k: Secret,
    /// OPc (Milenage); ignored by the test algorithm.
    pub opc: Secret,
    /// Milenage r1..r5 and c1..c5 (empty: the TS 35.206 defaults).
    #[serde(default)]
    pub rotation: Vec<u8>,
    #[serde(default)]
    pub xoring: Secret,
    /// The HSS's SQN (48 bits): the next vector uses `sqn + 1`.
    pub sqn: u64,
    /// AMF with the separation bit set (TS 33.401 Annex H).
    pub amf: [u8; 2],
    /// Where the credentials came from (`package <ICCID>` or `control`).
    #[serde(default)]
    pub source: String,
}

/// An authentication vector of the network (TS 33.102 §6.3.2).
#[derive(Clone, PartialEq, Eq)]
pub struct Vector {
    pub rand: [u8; 16],
    pub autn: [u8; 16],
    /// Expected response: the full XDOUT for the test algorithm (the USIM may return a prefix of
    /// 4..16 bytes depending on its algorithmOptions), f2 for Milenage.
    pub xres: Vec<u8>,
}

impl std::fmt::Debug for Vector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vector {{ rand: {}, .. }}", hex::encode_upper(self.rand))
    }
}

/// Why credentials could not be taken from a package or a control request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AkaError {
    #[error("{0}")]
    Invalid(String),
}

const SQN_MASK: u64 = 0xFFFF_FFFF_FFFF;

fn sqn_bytes(sqn: u64) -> [u8; 6] {
    let b = (sqn & SQN_MASK).to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn sqn_from(b: &[u8; 6]) -> u64 {
    b.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x))
}

fn key16(s: &Secret, what: &str) -> Result<[u8; 16], AkaError> {
    s.expose()
        .try_into()
        .map_err(|_| AkaError::Invalid(format!("{what} must be 16 bytes, not {}", s.len())))
}

/// OPc = E_K(OP) ⊕ OP (TS 35.206 §4.1).
pub fn opc_from_op(k: &[u8; 16], op: &[u8; 16]) -> [u8; 16] {
    let mut o = Aes128::new(k).encrypt(op);
    for (a, b) in o.iter_mut().zip(op) {
        *a ^= b;
    }
    o
}

impl Subscriber {
    /// The credentials of the USIM of a SAIP package (its akaParameter for the USIM AID) under
    /// `imsi`. `None` when the package has no usable USIM AKA parameters.
    pub fn from_package(pkg: &ProfilePackage, imsi: &str) -> Option<Subscriber> {
        let aid = pkg.usim_aid.as_deref()?;
        let params = pkg
            .aka_for(aid)
            .or_else(|| pkg.aka.iter().find(|a| a.aid.is_none()))?;
        let AkaConfig::Algorithm {
            algorithm,
            k,
            opc,
            rotation,
            xoring,
            ..
        } = &params.config
        else {
            return None;
        };
        let algorithm = match algorithm {
            AkaAlgorithm::TestAlgorithm => Algorithm::TestAlgorithm,
            AkaAlgorithm::Milenage => Algorithm::Milenage,
            _ => return None,
        };
        if k.len() != 16 {
            return None;
        }
        let sqn = params
            .sqn_init
            .iter()
            .filter_map(|s| <[u8; 6]>::try_from(s.as_slice()).ok())
            .map(|s| sqn_from(&s))
            .max()
            .unwrap_or(0);
        Some(Subscriber {
            imsi: imsi.to_string(),
            algorithm,
            k: k.clone(),
            opc: opc.clone(),
            rotation: rotation.clone(),
            xoring: xoring.clone(),
            sqn,
            amf: [0x80, 0x00],
            source: format!("package {}", pkg.iccid_digits()),
        })
    }

    fn milenage(&self) -> Result<Milenage, AkaError> {
        let k = key16(&self.k, "K")?;
        let opc = key16(&self.opc, "OPc")?;
        Ok(Milenage::new(
            &k,
            &opc,
            &self.rotation,
            self.xoring.expose(),
        ))
    }

    /// Checks that the credentials can be used (key lengths).
    pub fn validate(&self) -> Result<(), AkaError> {
        key16(&self.k, "K")?;
        if self.algorithm == Algorithm::Milenage {
            key16(&self.opc, "OPc")?;
        }
        if self.imsi.len() < 6
            || self.imsi.len() > 15
            || !self.imsi.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AkaError::Invalid(format!("bad IMSI {:?}", self.imsi)));
        }
        Ok(())
    }

    /// A fresh vector for `rand`; advances the SQN.
    pub fn vector(&mut self, rand: [u8; 16]) -> Result<Vector, AkaError> {
        self.sqn = (self.sqn + 1) & SQN_MASK;
        let sqn = sqn_bytes(self.sqn);
        let amf = self.amf;
        let k = key16(&self.k, "K")?;
        match self.algorithm {
            Algorithm::TestAlgorithm => {
                // TS 34.108 §8.1.2.1: XDOUT = K ⊕ RAND, AK = XDOUT[3..9],
                // MAC = XDOUT[0..8] ⊕ (SQN ‖ AMF), RES = XDOUT.
                let mut xdout = [0u8; 16];
                for (i, o) in xdout.iter_mut().enumerate() {
                    *o = k[i] ^ rand[i];
                }
                let mut autn = [0u8; 16];
                for i in 0..6 {
                    autn[i] = sqn[i] ^ xdout[3 + i];
                }
                autn[6..8].copy_from_slice(&amf);
                let sqn_amf = [
                    sqn[0], sqn[1], sqn[2], sqn[3], sqn[4], sqn[5], amf[0], amf[1],
                ];
                for i in 0..8 {
                    autn[8 + i] = xdout[i] ^ sqn_amf[i];
                }
                Ok(Vector {
                    rand,
                    autn,
                    xres: xdout.to_vec(),
                })
            }
            Algorithm::Milenage => {
                let m = self.milenage()?;
                let (mac_a, _) = m.f1(&rand, &sqn, &amf);
                let (res, _ck, _ik, ak) = m.f2345(&rand);
                let mut autn = [0u8; 16];
                for i in 0..6 {
                    autn[i] = sqn[i] ^ ak[i];
                }
                autn[6..8].copy_from_slice(&amf);
                autn[8..].copy_from_slice(&mac_a);
                Ok(Vector {
                    rand,
                    autn,
                    xres: res.to_vec(),
                })
            }
        }
    }

    /// Whether the USIM's RES matches the vector. The test algorithm's RES may be any prefix of
    /// 4..16 bytes of XDOUT (algorithmOptions choose the length); Milenage's is f2 exactly.
    pub fn res_matches(&self, v: &Vector, res: &[u8]) -> bool {
        match self.algorithm {
            Algorithm::TestAlgorithm => {
                (4..=16).contains(&res.len())
                    && v.xres.get(..res.len()).is_some_and(|x| ct_eq(x, res))
            }
            Algorithm::Milenage => ct_eq(&v.xres, res),
        }
    }

    /// Re-synchronisation (TS 33.102 §6.3.5): checks MAC-S of AUTS and takes the USIM's SQN.
    /// Returns whether AUTS was genuine.
    pub fn resync(&mut self, rand: &[u8; 16], auts: &[u8; 14]) -> bool {
        let Ok(m) = self.milenage() else {
            return false;
        };
        let aks = m.f5star(rand);
        let mut sqn_ms = [0u8; 6];
        for i in 0..6 {
            sqn_ms[i] = auts[i] ^ aks[i];
        }
        let (_, mac_s) = m.f1(rand, &sqn_ms, &[0, 0]);
        if !ct_eq(&mac_s, &auts[6..]) {
            return false;
        }
        self.sqn = sqn_from(&sqn_ms);
        true
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The simulated HSS: IMSI → subscriber.
#[derive(Debug, Clone, Default)]
pub struct Hss {
    subs: BTreeMap<String, Subscriber>,
}

impl Hss {
    pub fn get(&self, imsi: &str) -> Option<&Subscriber> {
        self.subs.get(imsi)
    }

    pub fn get_mut(&mut self, imsi: &str) -> Option<&mut Subscriber> {
        self.subs.get_mut(imsi)
    }

    /// Adds or replaces a subscriber.
    pub fn put(&mut self, s: Subscriber) {
        self.subs.insert(s.imsi.clone(), s);
    }

    /// Adds a subscriber provisioned from a package unless one is already known for the IMSI
    /// (explicitly set credentials win over the operator's original data).
    pub fn provision(&mut self, s: Subscriber) {
        self.subs.entry(s.imsi.clone()).or_insert(s);
    }

    pub fn remove(&mut self, imsi: &str) -> Option<Subscriber> {
        self.subs.remove(imsi)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Subscriber> {
        self.subs.values()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use veuicc::uicc::auth::{test_algorithm, AkaOutcome};

    fn a16(s: &str) -> [u8; 16] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn sub(alg: Algorithm, k: &str, opc: &str) -> Subscriber {
        Subscriber {
            imsi: "001010123456063".into(),
            algorithm: alg,
            k: Secret::new(hex::decode(k).unwrap()),
            opc: Secret::new(hex::decode(opc).unwrap()),
            rotation: Vec::new(),
            xoring: Secret::default(),
            sqn: 0,
            amf: [0x80, 0x00],
            source: "test".into(),
        }
    }

    #[test]
    fn test_algorithm_vector_matches_saip_digest() {
        // saip.md §6: K 000102…0F, RAND 0123…EF ×2, SQN 000000000020, AMF 8000.
        let mut s = sub(
            Algorithm::TestAlgorithm,
            "000102030405060708090A0B0C0D0E0F",
            "00000000000000000000000000000000",
        );
        s.sqn = 0x1F;
        let v = s.vector(a16("0123456789ABCDEF0123456789ABCDEF")).unwrap();
        assert_eq!(
            hex::encode_upper(v.autn),
            "648DAECBE8298000012247648D8E4BE8"
        );
        assert_eq!(
            hex::encode_upper(&v.xres),
            "012247648DAECBE8092A4F6C85A6C3E0"
        );
        assert!(s.res_matches(&v, &v.xres[..8]));
        assert!(!s.res_matches(&v, &[0u8; 8]));
        assert!(!s.res_matches(&v, &v.xres[..3]));
    }

    #[test]
    fn test_algorithm_vector_is_accepted_by_the_usim_side() {
        let mut s = sub(
            Algorithm::TestAlgorithm,
            "000102030405060708090A0B0C0D0E0F",
            "",
        );
        let v = s.vector([7u8; 16]).unwrap();
        let k = a16("000102030405060708090A0B0C0D0E0F");
        let AkaOutcome::Ok(r) = test_algorithm(&k, &v.rand, &v.autn, 16) else {
            panic!("USIM rejected the network's AUTN");
        };
        assert!(s.res_matches(&v, &r.res));
        let mut wrong = k;
        wrong[0] ^= 1;
        assert_eq!(
            test_algorithm(&wrong, &v.rand, &v.autn, 16),
            AkaOutcome::MacFailure
        );
    }

    #[test]
    fn milenage_vector_round_trips_and_resyncs() {
        // TS 35.208 test set 1 keys.
        let k = "465b5ce8b199b49faa5f0a2ee238a6bc";
        let opc = "cd63cb71954a9f4e48a5994e37a02baf";
        let mut s = sub(Algorithm::Milenage, k, opc);
        let usim = Milenage::new(&a16(k), &a16(opc), &[], &[]);
        let v = s.vector([9u8; 16]).unwrap();
        let (o, accepted) = usim.authenticate(&v.rand, &v.autn, &[0; 6], &|q| q > &[0u8; 6]);
        let AkaOutcome::Ok(r) = o else {
            panic!("USIM rejected: {o:?}")
        };
        assert_eq!(accepted, Some(sqn_bytes(1)));
        assert!(s.res_matches(&v, &r.res));
        // The USIM is ahead: it answers AUTS and the HSS takes its SQN.
        let ms = sqn_bytes(500);
        let v2 = s.vector([3u8; 16]).unwrap();
        let (o, _) = usim.authenticate(&v2.rand, &v2.autn, &ms, &|q| q > &ms);
        let AkaOutcome::SyncFailure { auts } = o else {
            panic!("expected a sync failure, got {o:?}")
        };
        assert!(s.resync(&v2.rand, &auts));
        assert_eq!(s.sqn, 500);
        let v3 = s.vector([4u8; 16]).unwrap();
        let (o, _) = usim.authenticate(&v3.rand, &v3.autn, &ms, &|q| q > &ms);
        assert!(matches!(o, AkaOutcome::Ok(_)));
        let mut forged = auts;
        forged[13] ^= 1;
        assert!(!s.resync(&v2.rand, &forged));
    }

    #[test]
    fn opc_from_op_matches_ts35208_test_set_1() {
        let opc = opc_from_op(
            &a16("465b5ce8b199b49faa5f0a2ee238a6bc"),
            &a16("cdc202d5123e20f62b6d676ac72cb318"),
        );
        assert_eq!(hex::encode(opc), "cd63cb71954a9f4e48a5994e37a02baf");
    }

    #[test]
    fn subscriber_debug_redacts_keys() {
        let s = sub(
            Algorithm::TestAlgorithm,
            "000102030405060708090A0B0C0D0E0F",
            "",
        );
        let d = format!("{s:?}");
        assert!(!d.contains("0102030405"), "{d}");
    }
}
