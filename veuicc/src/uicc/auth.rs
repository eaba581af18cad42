//! USIM authentication algorithms: the 3GPP TS 34.108 §8.1.2 test algorithm and Milenage
//! (3GPP TS 35.206), with a small AES-128 (FIPS-197, encryption only) for the latter.
//!
//! The AES S-box is computed (multiplicative inverse in GF(2^8) + affine map) instead of being
//! typed in, and checked against the FIPS-197 Appendix C.1 vector.

/// Outputs of a successful 3G authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct AkaVector {
    pub res: Vec<u8>,
    pub ck: [u8; 16],
    pub ik: [u8; 16],
}

impl std::fmt::Debug for AkaVector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AkaVector {{ res: {} bytes, ck/ik: [REDACTED] }}",
            self.res.len()
        )
    }
}

/// Result of checking an AUTN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AkaOutcome {
    Ok(AkaVector),
    /// MAC mismatch (TS 31.102 §7.1.2: `98 62`).
    MacFailure,
    /// SQN out of range: AUTS to return (`DC 0E AUTS`).
    SyncFailure {
        auts: [u8; 14],
    },
}

fn xor16(a: &[u8; 16], b: &[u8; 16]) -> [u8; 16] {
    let mut o = [0u8; 16];
    for (i, v) in o.iter_mut().enumerate() {
        *v = a[i] ^ b[i];
    }
    o
}

fn split_autn(autn: &[u8; 16]) -> ([u8; 6], [u8; 2], [u8; 8]) {
    let mut sqn_ak = [0u8; 6];
    let mut amf = [0u8; 2];
    let mut mac = [0u8; 8];
    sqn_ak.copy_from_slice(&autn[..6]);
    amf.copy_from_slice(&autn[6..8]);
    mac.copy_from_slice(&autn[8..]);
    (sqn_ak, amf, mac)
}

/// TS 34.108 §8.1.2 test algorithm: XDOUT = K ⊕ RAND; RES = XDOUT (first `res_len` bytes);
/// CK = XDOUT ⋘ 8 bits; IK = XDOUT ⋘ 16 bits; AK = XDOUT[3..9]; XMAC = XDOUT[0..8] ⊕ (SQN‖AMF).
/// The test USIM does not check SQN freshness (only the MAC).
pub fn test_algorithm(
    k: &[u8; 16],
    rand: &[u8; 16],
    autn: &[u8; 16],
    res_len: usize,
) -> AkaOutcome {
    let xdout = xor16(k, rand);
    let (sqn_ak, amf, mac) = split_autn(autn);
    let mut sqn = [0u8; 6];
    for i in 0..6 {
        sqn[i] = sqn_ak[i] ^ xdout[3 + i];
    }
    let mut xmac = [0u8; 8];
    for i in 0..8 {
        let sa = if i < 6 { sqn[i] } else { amf[i - 6] };
        xmac[i] = xdout[i] ^ sa;
    }
    if xmac != mac {
        return AkaOutcome::MacFailure;
    }
    let mut ck = xdout;
    ck.rotate_left(1);
    let mut ik = xdout;
    ik.rotate_left(2);
    AkaOutcome::Ok(AkaVector {
        res: xdout.iter().copied().take(res_len.clamp(4, 16)).collect(),
        ck,
        ik,
    })
}

/// GSM conversion functions (TS 33.102 §6.8.1.2): Kc = c3(CK, IK), SRES = c2(RES).
pub fn c3(ck: &[u8; 16], ik: &[u8; 16]) -> [u8; 8] {
    let mut kc = [0u8; 8];
    for (i, v) in kc.iter_mut().enumerate() {
        *v = ck[i] ^ ck[i + 8] ^ ik[i] ^ ik[i + 8];
    }
    kc
}

pub fn c2(res: &[u8]) -> [u8; 4] {
    let mut sres = [0u8; 4];
    for chunk in res.chunks(4) {
        for (i, b) in chunk.iter().enumerate() {
            if let Some(s) = sres.get_mut(i) {
                *s ^= b;
            }
        }
    }
    sres
}

// --- AES-128 (FIPS-197), encryption only ---------------------------------------------------

fn gmul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let hi = a & 0x80;
        a <<= 1;
        if hi != 0 {
            a ^= 0x1B;
        }
        b >>= 1;
    }
    p
}

fn sbox_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    for (x, out) in t.iter_mut().enumerate() {
        let x = x as u8;
        // x^254 = x^-1 in GF(2^8) (0 maps to 0).
        let mut inv = 1u8;
        let mut base = x;
        let mut e = 254u8;
        while e > 0 {
            if e & 1 != 0 {
                inv = gmul(inv, base);
            }
            base = gmul(base, base);
            e >>= 1;
        }
        if x == 0 {
            inv = 0;
        }
        *out = inv
            ^ inv.rotate_left(1)
            ^ inv.rotate_left(2)
            ^ inv.rotate_left(3)
            ^ inv.rotate_left(4)
            ^ 0x63;
    }
    t
}

/// AES-128 with an expanded key.
pub struct Aes128 {
    round_keys: [[u8; 16]; 11],
    sbox: [u8; 256],
}

impl std::fmt::Debug for Aes128 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Aes128([REDACTED])")
    }
}

impl Drop for Aes128 {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for k in &mut self.round_keys {
            k.zeroize();
        }
    }
}

impl Aes128 {
    pub fn new(key: &[u8; 16]) -> Aes128 {
        let sbox = sbox_table();
        let mut w = [[0u8; 4]; 44];
        for (i, word) in w.iter_mut().take(4).enumerate() {
            word.copy_from_slice(&key[4 * i..4 * i + 4]);
        }
        let mut rcon = 1u8;
        for i in 4..44 {
            let mut t = w[i - 1];
            if i % 4 == 0 {
                t.rotate_left(1);
                for b in &mut t {
                    *b = sbox[usize::from(*b)];
                }
                t[0] ^= rcon;
                rcon = gmul(rcon, 2);
            }
            for j in 0..4 {
                w[i][j] = w[i - 4][j] ^ t[j];
            }
        }
        let mut round_keys = [[0u8; 16]; 11];
        for (r, rk) in round_keys.iter_mut().enumerate() {
            for c in 0..4 {
                rk[4 * c..4 * c + 4].copy_from_slice(&w[4 * r + c]);
            }
        }
        Aes128 { round_keys, sbox }
    }

    pub fn encrypt(&self, block: &[u8; 16]) -> [u8; 16] {
        let mut s = xor16(block, &self.round_keys[0]);
        for round in 1..11 {
            for b in &mut s {
                *b = self.sbox[usize::from(*b)];
            }
            // ShiftRows (state is column-major: s[4c + r]).
            let t = s;
            for c in 0..4 {
                for r in 0..4 {
                    s[4 * c + r] = t[4 * ((c + r) % 4) + r];
                }
            }
            if round != 10 {
                for c in 0..4 {
                    let a = [s[4 * c], s[4 * c + 1], s[4 * c + 2], s[4 * c + 3]];
                    s[4 * c] = gmul(a[0], 2) ^ gmul(a[1], 3) ^ a[2] ^ a[3];
                    s[4 * c + 1] = a[0] ^ gmul(a[1], 2) ^ gmul(a[2], 3) ^ a[3];
                    s[4 * c + 2] = a[0] ^ a[1] ^ gmul(a[2], 2) ^ gmul(a[3], 3);
                    s[4 * c + 3] = gmul(a[0], 3) ^ a[1] ^ a[2] ^ gmul(a[3], 2);
                }
            }
            s = xor16(&s, &self.round_keys[round]);
        }
        s
    }
}

// --- Milenage (TS 35.206) ------------------------------------------------------------------

/// Milenage with its constants (SAIP `rotationConstants` in bits, `xoringConstants` c1..c5).
#[derive(Debug)]
pub struct Milenage {
    aes: Aes128,
    opc: [u8; 16],
    r: [u8; 5],
    c: [[u8; 16]; 5],
}

fn rot_bits(x: &[u8; 16], r: u8) -> [u8; 16] {
    let r = usize::from(r) % 128;
    let (bytes, bits) = (r / 8, r % 8);
    let mut o = [0u8; 16];
    for (i, v) in o.iter_mut().enumerate() {
        let a = x[(i + bytes) % 16];
        let b = x[(i + bytes + 1) % 16];
        *v = if bits == 0 {
            a
        } else {
            (a << bits) | (b >> (8 - bits))
        };
    }
    o
}

impl Milenage {
    /// `rotation` is 5 bytes, `xoring` 80 bytes; other lengths fall back to the defaults.
    pub fn new(k: &[u8; 16], opc: &[u8; 16], rotation: &[u8], xoring: &[u8]) -> Milenage {
        let mut r = [0x40, 0x00, 0x20, 0x40, 0x60];
        if let Ok(v) = <[u8; 5]>::try_from(rotation) {
            r = v;
        }
        let mut c = [[0u8; 16]; 5];
        if xoring.len() == 80 {
            for (i, ci) in c.iter_mut().enumerate() {
                ci.copy_from_slice(&xoring[16 * i..16 * i + 16]);
            }
        } else {
            c[1][15] = 1;
            c[2][15] = 2;
            c[3][15] = 4;
            c[4][15] = 8;
        }
        Milenage {
            aes: Aes128::new(k),
            opc: *opc,
            r,
            c,
        }
    }

    fn temp(&self, rand: &[u8; 16]) -> [u8; 16] {
        self.aes.encrypt(&xor16(rand, &self.opc))
    }

    /// f1 and f1*: (MAC-A, MAC-S).
    pub fn f1(&self, rand: &[u8; 16], sqn: &[u8; 6], amf: &[u8; 2]) -> ([u8; 8], [u8; 8]) {
        let temp = self.temp(rand);
        let mut in1 = [0u8; 16];
        in1[..6].copy_from_slice(sqn);
        in1[6..8].copy_from_slice(amf);
        in1[8..14].copy_from_slice(sqn);
        in1[14..].copy_from_slice(amf);
        let x = xor16(&rot_bits(&xor16(&in1, &self.opc), self.r[0]), &self.c[0]);
        let out1 = xor16(&self.aes.encrypt(&xor16(&temp, &x)), &self.opc);
        let mut a = [0u8; 8];
        let mut s = [0u8; 8];
        a.copy_from_slice(&out1[..8]);
        s.copy_from_slice(&out1[8..]);
        (a, s)
    }

    fn out(&self, temp: &[u8; 16], i: usize) -> [u8; 16] {
        let x = xor16(&rot_bits(&xor16(temp, &self.opc), self.r[i]), &self.c[i]);
        xor16(&self.aes.encrypt(&x), &self.opc)
    }

    /// f2 (RES, 8 bytes), f3 (CK), f4 (IK), f5 (AK).
    pub fn f2345(&self, rand: &[u8; 16]) -> ([u8; 8], [u8; 16], [u8; 16], [u8; 6]) {
        let temp = self.temp(rand);
        let o2 = self.out(&temp, 1);
        let mut res = [0u8; 8];
        let mut ak = [0u8; 6];
        res.copy_from_slice(&o2[8..]);
        ak.copy_from_slice(&o2[..6]);
        (res, self.out(&temp, 2), self.out(&temp, 3), ak)
    }

    /// f5* (AK for resynchronisation).
    pub fn f5star(&self, rand: &[u8; 16]) -> [u8; 6] {
        let o5 = self.out(&self.temp(rand), 4);
        let mut ak = [0u8; 6];
        ak.copy_from_slice(&o5[..6]);
        ak
    }

    /// USIM side of AKA (TS 33.102 §6.3.3): MAC check, then SQN check with `sqn_ok(sqn)`.
    pub fn authenticate(
        &self,
        rand: &[u8; 16],
        autn: &[u8; 16],
        sqn_ms: &[u8; 6],
        sqn_ok: &dyn Fn(&[u8; 6]) -> bool,
    ) -> (AkaOutcome, Option<[u8; 6]>) {
        let (res, ck, ik, ak) = self.f2345(rand);
        let (sqn_ak, amf, mac) = split_autn(autn);
        let mut sqn = [0u8; 6];
        for i in 0..6 {
            sqn[i] = sqn_ak[i] ^ ak[i];
        }
        let (xmac, _) = self.f1(rand, &sqn, &amf);
        if xmac != mac {
            return (AkaOutcome::MacFailure, None);
        }
        if !sqn_ok(&sqn) {
            let (_, mac_s) = self.f1(rand, sqn_ms, &[0, 0]);
            let aks = self.f5star(rand);
            let mut auts = [0u8; 14];
            for i in 0..6 {
                auts[i] = sqn_ms[i] ^ aks[i];
            }
            auts[6..].copy_from_slice(&mac_s);
            return (AkaOutcome::SyncFailure { auts }, None);
        }
        (
            AkaOutcome::Ok(AkaVector {
                res: res.to_vec(),
                ck,
                ik,
            }),
            Some(sqn),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a16(s: &str) -> [u8; 16] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn aes_fips197_c1() {
        let aes = Aes128::new(&a16("000102030405060708090a0b0c0d0e0f"));
        assert_eq!(
            aes.encrypt(&a16("00112233445566778899aabbccddeeff")),
            a16("69c4e0d86a7b0430d8cdb78070b4c55a")
        );
    }

    #[test]
    fn milenage_ts35208_test_set_1() {
        let m = Milenage::new(
            &a16("465b5ce8b199b49faa5f0a2ee238a6bc"),
            &a16("cd63cb71954a9f4e48a5994e37a02baf"),
            &[],
            &[],
        );
        let rand = a16("23553cbe9637a89d218ae64dae47bf35");
        let (mac_a, mac_s) = m.f1(&rand, &[0xff, 0x9b, 0xb4, 0xd0, 0xb6, 0x07], &[0xb9, 0xb9]);
        assert_eq!(hex::encode(mac_a), "4a9ffac354dfafb3");
        assert_eq!(hex::encode(mac_s), "01cfaf9ec4e871e9");
        let (res, ck, ik, ak) = m.f2345(&rand);
        assert_eq!(hex::encode(res), "a54211d5e3ba50bf");
        assert_eq!(hex::encode(ck), "b40ba9a3c58b2a05bbf0d987b21bf8cb");
        assert_eq!(hex::encode(ik), "f769bcd751044604127672711c6d3441");
        assert_eq!(hex::encode(ak), "aa689c648370");
        assert_eq!(hex::encode(m.f5star(&rand)), "451e8beca43b");
    }

    #[test]
    fn test_algorithm_saip_digest_vector() {
        // saip.md §6: K = 000102…0F, RAND 0123…EF×2, SQN 000000000020, AMF 8000.
        let k = a16("000102030405060708090A0B0C0D0E0F");
        let rand = a16("0123456789ABCDEF0123456789ABCDEF");
        let autn = a16("648DAECBE8298000012247648D8E4BE8");
        let AkaOutcome::Ok(v) = test_algorithm(&k, &rand, &autn, 16) else {
            panic!("MAC rejected")
        };
        assert_eq!(
            hex::encode_upper(&v.res),
            "012247648DAECBE8092A4F6C85A6C3E0"
        );
        assert_eq!(hex::encode_upper(v.ck), "2247648DAECBE8092A4F6C85A6C3E001");
        assert_eq!(hex::encode_upper(v.ik), "47648DAECBE8092A4F6C85A6C3E00122");
        let mut bad = autn;
        bad[15] ^= 1;
        assert_eq!(test_algorithm(&k, &rand, &bad, 16), AkaOutcome::MacFailure);
    }

    #[test]
    fn rotation_by_bits() {
        let x = a16("80000000000000000000000000000001");
        assert_eq!(rot_bits(&x, 1), a16("00000000000000000000000000000003"));
        assert_eq!(rot_bits(&x, 8), a16("00000000000000000000000000000180"));
    }
}
