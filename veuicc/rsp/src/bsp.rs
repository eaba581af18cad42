//! The BPP protection protocol (BSP, called SCP03t in SGP.22 v2.x): session keys, per-TLV
//! encryption and MAC chaining, and the Bound Profile Package layout (SGP.22 §2.5.3, §2.6.4, §5.5).
//!
//! - [`derive_session_keys`]: X9.63 KDF over the ECKA shared secret → initial MCV, S-ENC, S-MAC.
//! - [`BspEncoder`] (SM-DP+ side) protects one `87`/`88`/`86` TLV ("segment") at a time.
//! - [`BspDecoder`] (eUICC side) checks and opens them, one at a time, in order.
//! - [`BppBuilder`] assembles a whole `BF36` BoundProfilePackage; [`segments`] cuts one into the
//!   ES10b LoadBoundProfilePackage commands an LPA sends.
//!
//! Per segment: a block counter (from 1, incremented for every segment, MAC-only ones included)
//! gives ICV = AES(S-ENC, counter as 16 bytes big-endian); `87`/`86` payloads are the plaintext
//! padded with `80 00…` and encrypted with AES-128-CBC under that ICV; `88` payloads are the
//! plaintext. Every segment ends with MAC8 = the first 8 bytes of
//! `CMAC(S-MAC, MCV ‖ tag ‖ length ‖ payload)`, whose full 16 bytes become the next MCV.

use std::fmt;
use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::{x963_kdf, CryptoError, CryptoProvider};
use crate::tlv::{self, Tlv, TlvError};

/// Segment tag of ConfigureISDP and ReplaceSessionKeys data (encrypted and MACed).
pub const TAG_ENCRYPTED: u8 = 0x87;
/// Segment tag of StoreMetadata data (MAC only).
pub const TAG_MAC_ONLY: u8 = 0x88;
/// Segment tag of profile package data (encrypted and MACed).
pub const TAG_PROFILE: u8 = 0x86;

/// BoundProfilePackage.
pub const TAG_BPP: u32 = 0xBF36;
/// InitialiseSecureChannelRequest.
pub const TAG_INITIALISE_SECURE_CHANNEL: u32 = 0xBF23;
/// ConfigureISDPRequest.
pub const TAG_CONFIGURE_ISDP: u32 = 0xBF24;
/// StoreMetadataRequest.
pub const TAG_STORE_METADATA: u32 = 0xBF25;
/// ReplaceSessionKeysRequest.
pub const TAG_REPLACE_SESSION_KEYS: u32 = 0xBF26;
/// `firstSequenceOf87` (ConfigureISDP).
pub const TAG_FIRST_SEQUENCE_OF_87: u32 = 0xA0;
/// `sequenceOf88` (StoreMetadata).
pub const TAG_SEQUENCE_OF_88: u32 = 0xA1;
/// `secondSequenceOf87` (ReplaceSessionKeys).
pub const TAG_SECOND_SEQUENCE_OF_87: u32 = 0xA2;
/// `sequenceOf86` (profile package).
pub const TAG_SEQUENCE_OF_86: u32 = 0xA3;

/// Bytes of the transmitted MAC.
pub const MAC_LEN: usize = 8;
/// AES block size.
pub const BLOCK_LEN: usize = 16;
/// Largest segment TLV (tag, length, payload and MAC) SGP.22 allows the SM-DP+ to send.
/// The eUICC accepts longer ones: real SM-DP+s send up to 1036 bytes.
pub const MAX_SEGMENT_LEN: usize = 1020;
/// KDF SharedInfo keyType: AES.
pub const KEY_TYPE_AES: u8 = 0x88;
/// KDF SharedInfo keyLength: 16 bytes.
pub const KEY_LEN_AES128: u8 = 0x10;

/// SGP.22 ErrorReason `scp03tStructureError`.
pub const ERROR_REASON_STRUCTURE: u8 = 7;
/// SGP.22 ErrorReason `scp03tSecurityError`.
pub const ERROR_REASON_SECURITY: u8 = 8;

/// Whether a [`BspError`] is about the encoding or about the protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BspErrorKind {
    /// Malformed TLVs, wrong tags, impossible lengths: `scp03tStructureError` (7).
    Structure,
    /// Wrong MAC, bad padding, provider failure: `scp03tSecurityError` (8).
    Security,
}

/// What went wrong while protecting, opening or laying out BSP data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BspError {
    #[error("malformed TLV: {0}")]
    Malformed(#[from] TlvError),
    #[error("unexpected tag {0:02X}")]
    UnexpectedTag(u32),
    #[error("segment value of {0} bytes is shorter than the MAC")]
    TooShort(usize),
    #[error("ciphertext of {0} bytes is not a non-empty multiple of 16")]
    NotBlockAligned(usize),
    #[error("bound profile package structure: {0}")]
    Bpp(&'static str),
    #[error("maximum segment length {0} leaves no room for data")]
    SegmentSize(usize),
    #[error("MAC verification failed")]
    BadMac,
    #[error("malformed 80 00.. padding")]
    BadPadding,
    #[error("crypto provider: {0}")]
    Crypto(#[from] CryptoError),
}

impl BspError {
    /// Structure or security.
    pub fn kind(&self) -> BspErrorKind {
        match self {
            BspError::Malformed(_)
            | BspError::UnexpectedTag(_)
            | BspError::TooShort(_)
            | BspError::NotBlockAligned(_)
            | BspError::Bpp(_)
            | BspError::SegmentSize(_) => BspErrorKind::Structure,
            BspError::BadMac | BspError::BadPadding | BspError::Crypto(_) => BspErrorKind::Security,
        }
    }

    /// The SGP.22 ErrorReason for a ProfileInstallationResult: 7 or 8.
    pub fn error_reason(&self) -> u8 {
        match self.kind() {
            BspErrorKind::Structure => ERROR_REASON_STRUCTURE,
            BspErrorKind::Security => ERROR_REASON_SECURITY,
        }
    }
}

/// BSP session keys. Zeroized on drop; `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    /// S-ENC (or PPK-ENC after ReplaceSessionKeys).
    pub s_enc: [u8; 16],
    /// S-MAC (or PPK-MAC).
    pub s_mac: [u8; 16],
    /// The first MAC chaining value.
    pub initial_mcv: [u8; 16],
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

/// The KDF SharedInfo: `88 ‖ 10 ‖ len(hostId) ‖ hostId ‖ 10 ‖ EID` (lengths BER-encoded).
pub fn kdf_shared_info(host_id: &[u8], eid: &[u8; 16]) -> Vec<u8> {
    let mut info = Vec::with_capacity(4 + host_id.len() + eid.len() + 4);
    info.push(KEY_TYPE_AES);
    info.push(KEY_LEN_AES128);
    tlv::write_len(host_id.len(), &mut info);
    info.extend_from_slice(host_id);
    tlv::write_len(eid.len(), &mut info);
    info.extend_from_slice(eid);
    info
}

/// Derives the BSP session keys from the ECKA shared secret `z` (SGP.22 §2.6.4.2): 48 bytes of
/// X9.63 KDF (SHA-256) output, split as initial MCV ‖ S-ENC ‖ S-MAC.
pub fn derive_session_keys(
    p: &dyn CryptoProvider,
    z: &[u8],
    host_id: &[u8],
    eid: &[u8; 16],
) -> SessionKeys {
    let out = x963_kdf(p, z, &kdf_shared_info(host_id, eid), 48);
    let mut keys = SessionKeys {
        s_enc: [0; 16],
        s_mac: [0; 16],
        initial_mcv: [0; 16],
    };
    keys.initial_mcv.copy_from_slice(&out[0..16]);
    keys.s_enc.copy_from_slice(&out[16..32]);
    keys.s_mac.copy_from_slice(&out[32..48]);
    keys
}

/// Parses a ReplaceSessionKeysRequest `BF26{80 initialMacChainingValue, 81 ppkEnc, 82 ppkCmac}`
/// (each 16 bytes, in that order) into the keys it carries.
pub fn parse_replace_session_keys(bf26: &[u8]) -> Result<SessionKeys, BspError> {
    let outer = tlv::parse_tagged(bf26, TAG_REPLACE_SESSION_KEYS)?;
    let mut keys = SessionKeys {
        s_enc: [0; 16],
        s_mac: [0; 16],
        initial_mcv: [0; 16],
    };
    let mut children = outer.children();
    for (tag, dst) in [
        (0x80, &mut keys.initial_mcv),
        (0x81, &mut keys.s_enc),
        (0x82, &mut keys.s_mac),
    ] {
        let child = children
            .next()
            .ok_or(BspError::Bpp("ReplaceSessionKeys incomplete"))??;
        if child.tag.0 != tag {
            return Err(BspError::UnexpectedTag(child.tag.0));
        }
        if child.value.len() != 16 {
            return Err(BspError::Bpp("ReplaceSessionKeys key is not 16 bytes"));
        }
        dst.copy_from_slice(child.value);
    }
    if children.next().is_some() {
        return Err(BspError::Bpp("trailing data in ReplaceSessionKeys"));
    }
    Ok(keys)
}

/// Encodes `keys` as a ReplaceSessionKeysRequest (`BF26{80, 81, 82}`).
pub fn encode_replace_session_keys(keys: &SessionKeys) -> Zeroizing<Vec<u8>> {
    let mut inner = Zeroizing::new(Vec::with_capacity(54));
    tlv::write_tlv(0x80, &keys.initial_mcv, &mut inner);
    tlv::write_tlv(0x81, &keys.s_enc, &mut inner);
    tlv::write_tlv(0x82, &keys.s_mac, &mut inner);
    let mut out = Zeroizing::new(Vec::with_capacity(inner.len() + 3));
    tlv::write_tlv(TAG_REPLACE_SESSION_KEYS, &inner, &mut out);
    out
}

/// Keys, MAC chaining value and block counter of one direction of a BSP session.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct ChannelState {
    s_enc: [u8; 16],
    s_mac: [u8; 16],
    mcv: [u8; 16],
    counter: u128,
}

impl ChannelState {
    fn new(keys: &SessionKeys) -> Self {
        ChannelState {
            s_enc: keys.s_enc,
            s_mac: keys.s_mac,
            mcv: keys.initial_mcv,
            counter: 1,
        }
    }

    fn replace(&mut self, ppk_enc: &[u8; 16], ppk_mac: &[u8; 16], initial_mcv: &[u8; 16]) {
        self.s_enc = *ppk_enc;
        self.s_mac = *ppk_mac;
        self.mcv = *initial_mcv;
        self.counter = 1;
    }

    fn icv(&self, p: &dyn CryptoProvider) -> [u8; 16] {
        let mut block = self.counter.to_be_bytes();
        p.aes_encrypt_block(&self.s_enc, &mut block);
        block
    }

    /// The full CMAC over `MCV ‖ header ‖ payload`, `header` being the segment's tag and length.
    fn cmac(&self, p: &dyn CryptoProvider, header: &[u8], payload: &[u8]) -> [u8; 16] {
        let mut input = Vec::with_capacity(16 + header.len() + payload.len());
        input.extend_from_slice(&self.mcv);
        input.extend_from_slice(header);
        input.extend_from_slice(payload);
        p.aes_cmac(&self.s_mac, &input)
    }
}

fn is_encrypted_tag(tag: u8) -> bool {
    tag == TAG_ENCRYPTED || tag == TAG_PROFILE
}

/// Constant-time equality of two byte strings of public length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The segment header (tag and length) of a TLV, as encoded.
fn header<'a>(t: &Tlv<'a>) -> &'a [u8] {
    &t.raw[..t.raw.len() - t.value.len()]
}

/// The length of `buf` without its `80 00…` padding (1 to 16 bytes).
fn unpadded_len(buf: &[u8]) -> Result<usize, BspError> {
    let last = buf
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(BspError::BadPadding)?;
    if buf[last] != 0x80 || buf.len() - last > BLOCK_LEN {
        return Err(BspError::BadPadding);
    }
    Ok(last)
}

/// The SM-DP+ side of a BSP session: protects segments in order.
#[derive(Clone)]
pub struct BspEncoder {
    p: Arc<dyn CryptoProvider>,
    st: ChannelState,
}

impl fmt::Debug for BspEncoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BspEncoder")
            .field("provider", &self.p.name())
            .field("counter", &self.st.counter)
            .finish_non_exhaustive()
    }
}

impl BspEncoder {
    /// Starts a session with the block counter at 1 and MCV = `keys.initial_mcv`.
    pub fn new(p: Arc<dyn CryptoProvider>, keys: &SessionKeys) -> Self {
        BspEncoder {
            p,
            st: ChannelState::new(keys),
        }
    }

    /// The block counter the next segment will use.
    pub fn counter(&self) -> u128 {
        self.st.counter
    }

    /// The current MAC chaining value.
    pub fn mcv(&self) -> [u8; 16] {
        self.st.mcv
    }

    /// Pads, encrypts and MACs `plaintext` into one `87` or `86` segment TLV.
    pub fn encrypt_and_mac(&mut self, tag: u8, plaintext: &[u8]) -> Result<Vec<u8>, BspError> {
        let mut out = Vec::new();
        self.encrypt_and_mac_into(tag, plaintext, &mut out)?;
        Ok(out)
    }

    /// [`BspEncoder::encrypt_and_mac`] appending the segment to `out` (the plaintext is padded
    /// and encrypted in place there). On an error `out` is left as it was.
    pub fn encrypt_and_mac_into(
        &mut self,
        tag: u8,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), BspError> {
        if !is_encrypted_tag(tag) {
            return Err(BspError::UnexpectedTag(tag.into()));
        }
        let padded_len = (plaintext.len() / BLOCK_LEN + 1) * BLOCK_LEN;
        let start = out.len();
        out.reserve(padded_len + MAC_LEN + 6);
        out.push(tag);
        tlv::write_len(padded_len + MAC_LEN, out);
        let payload_start = out.len();
        out.extend_from_slice(plaintext);
        out.push(0x80);
        out.resize(payload_start + padded_len, 0);
        let icv = self.st.icv(&*self.p);
        let encrypted = match out.get_mut(payload_start..) {
            Some(payload) => self.p.aes_cbc_encrypt(&self.st.s_enc, &icv, payload),
            None => Err(CryptoError::Provider("segment buffer".into())),
        };
        if let Err(e) = encrypted {
            // The plaintext must not stay behind in the caller's buffer.
            if let Some(written) = out.get_mut(start..) {
                written.zeroize();
            }
            out.truncate(start);
            return Err(e.into());
        }
        self.seal_in(out, start, payload_start);
        Ok(())
    }

    /// MACs `plaintext` into one `88` segment TLV.
    pub fn mac_only(&mut self, tag: u8, plaintext: &[u8]) -> Result<Vec<u8>, BspError> {
        let mut out = Vec::new();
        self.mac_only_into(tag, plaintext, &mut out)?;
        Ok(out)
    }

    /// [`BspEncoder::mac_only`] appending the segment to `out`.
    pub fn mac_only_into(
        &mut self,
        tag: u8,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), BspError> {
        if tag != TAG_MAC_ONLY {
            return Err(BspError::UnexpectedTag(tag.into()));
        }
        let start = out.len();
        out.reserve(plaintext.len() + MAC_LEN + 6);
        out.push(tag);
        tlv::write_len(plaintext.len() + MAC_LEN, out);
        let payload_start = out.len();
        out.extend_from_slice(plaintext);
        self.seal_in(out, start, payload_start);
        Ok(())
    }

    /// Appends the MAC to the segment at `out[start..]` (tag and length, then the payload from
    /// `payload_start`) and advances MCV and counter.
    fn seal_in(&mut self, out: &mut Vec<u8>, start: usize, payload_start: usize) {
        let (header, payload) = out
            .get(start..)
            .and_then(|seg| seg.split_at_checked(payload_start - start))
            .unwrap_or_default();
        let full = self.st.cmac(&*self.p, header, payload);
        out.extend_from_slice(&full[..MAC_LEN]);
        self.st.mcv = full;
        self.st.counter = self.st.counter.wrapping_add(1);
    }

    /// Switches to the profile protection keys of a ReplaceSessionKeys and resets the counter.
    pub fn replace_session_keys(
        &mut self,
        ppk_enc: &[u8; 16],
        ppk_mac: &[u8; 16],
        initial_mcv: &[u8; 16],
    ) {
        self.st.replace(ppk_enc, ppk_mac, initial_mcv);
    }
}

/// The eUICC side of a BSP session: checks and opens segments in order. A segment that fails
/// leaves the state (MCV, counter) as it was.
#[derive(Clone)]
pub struct BspDecoder {
    p: Arc<dyn CryptoProvider>,
    st: ChannelState,
}

impl fmt::Debug for BspDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BspDecoder")
            .field("provider", &self.p.name())
            .field("counter", &self.st.counter)
            .finish_non_exhaustive()
    }
}

impl BspDecoder {
    /// Starts a session with the block counter at 1 and MCV = `keys.initial_mcv`.
    pub fn new(p: Arc<dyn CryptoProvider>, keys: &SessionKeys) -> Self {
        BspDecoder {
            p,
            st: ChannelState::new(keys),
        }
    }

    /// The block counter the next segment must have been protected with.
    pub fn counter(&self) -> u128 {
        self.st.counter
    }

    /// The current MAC chaining value.
    pub fn mcv(&self) -> [u8; 16] {
        self.st.mcv
    }

    /// Opens one segment TLV (`87`, `88` or `86`, of any length): checks the MAC, then for
    /// `87`/`86` decrypts and strips the padding. Returns the plaintext.
    pub fn open(&mut self, segment: &[u8]) -> Result<Zeroizing<Vec<u8>>, BspError> {
        let mut plain = Zeroizing::new(Vec::new());
        self.open_into(segment, &mut plain)?;
        Ok(plain)
    }

    /// [`BspDecoder::open`] appending the plaintext to `out` (decrypted in place there, with no
    /// copy of its own). On an error `out` keeps its length, the bytes written past it zeroed.
    pub fn open_into(&mut self, segment: &[u8], out: &mut Vec<u8>) -> Result<(), BspError> {
        let t = tlv::parse_exact(segment)?;
        let tag = match t.tag.0 {
            0x86 => TAG_PROFILE,
            0x87 => TAG_ENCRYPTED,
            0x88 => TAG_MAC_ONLY,
            other => return Err(BspError::UnexpectedTag(other)),
        };
        let payload_len = t
            .value
            .len()
            .checked_sub(MAC_LEN)
            .ok_or(BspError::TooShort(t.value.len()))?;
        let (payload, mac) = t.value.split_at(payload_len);
        let encrypted = is_encrypted_tag(tag);
        if encrypted && (payload_len == 0 || payload_len % BLOCK_LEN != 0) {
            return Err(BspError::NotBlockAligned(payload_len));
        }
        let full = self.st.cmac(&*self.p, header(&t), payload);
        if !ct_eq(&full[..MAC_LEN], mac) {
            return Err(BspError::BadMac);
        }
        let start = out.len();
        out.extend_from_slice(payload);
        if encrypted {
            let icv = self.st.icv(&*self.p);
            let opened = match out.get_mut(start..) {
                Some(plain) => self
                    .p
                    .aes_cbc_decrypt(&self.st.s_enc, &icv, plain)
                    .map_err(BspError::from)
                    .and_then(|()| unpadded_len(plain)),
                None => Err(BspError::BadPadding),
            };
            match opened {
                Ok(len) => out.truncate(start + len),
                Err(e) => {
                    if let Some(written) = out.get_mut(start..) {
                        written.zeroize();
                    }
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        self.st.mcv = full;
        self.st.counter = self.st.counter.wrapping_add(1);
        Ok(())
    }

    /// Like [`open`](Self::open), but the segment must carry `tag` (checked before anything else).
    pub fn open_expecting(
        &mut self,
        tag: u8,
        segment: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, BspError> {
        let (found, _) = tlv::read_tag(segment)?;
        if found.0 != u32::from(tag) {
            return Err(BspError::UnexpectedTag(found.0));
        }
        self.open(segment)
    }

    /// [`BspDecoder::open_expecting`] appending the plaintext to `out`, as
    /// [`BspDecoder::open_into`] does.
    pub fn open_expecting_into(
        &mut self,
        tag: u8,
        segment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), BspError> {
        let (found, _) = tlv::read_tag(segment)?;
        if found.0 != u32::from(tag) {
            return Err(BspError::UnexpectedTag(found.0));
        }
        self.open_into(segment, out)
    }

    /// Switches to the profile protection keys of a ReplaceSessionKeys and resets the counter.
    pub fn replace_session_keys(
        &mut self,
        ppk_enc: &[u8; 16],
        ppk_mac: &[u8; 16],
        initial_mcv: &[u8; 16],
    ) {
        self.st.replace(ppk_enc, ppk_mac, initial_mcv);
    }
}

/// Number of bytes of a minimal BER length field for `len`.
/// The encoded length (tag, length, payload, MAC) of the segment protecting `plain_len` bytes.
fn segment_len(tag: u8, plain_len: usize) -> usize {
    let value = if is_encrypted_tag(tag) {
        (plain_len / BLOCK_LEN + 1) * BLOCK_LEN + MAC_LEN
    } else {
        plain_len + MAC_LEN
    };
    1 + len_of_len(value) + value
}

fn len_of_len(len: usize) -> usize {
    match len {
        0..=0x7F => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        0x1_0000..=0xFF_FFFF => 4,
        _ => 5,
    }
}

/// The largest value length `v` with `1 + len(length) + v <= max_segment_len`.
fn max_value_len(max_segment_len: usize) -> usize {
    let mut v = max_segment_len.saturating_sub(2);
    while v > 0 && 1 + len_of_len(v) + v > max_segment_len {
        v -= 1;
    }
    v
}

/// The most plaintext one `87`/`86` segment of at most `max_segment_len` bytes can carry
/// (1007 for 1020). Zero if none fits.
pub fn max_encrypted_plaintext(max_segment_len: usize) -> usize {
    let v = max_value_len(max_segment_len);
    let blocks = v.saturating_sub(MAC_LEN) / BLOCK_LEN;
    (blocks * BLOCK_LEN).saturating_sub(1)
}

/// The most plaintext one `88` segment of at most `max_segment_len` bytes can carry
/// (1008 for 1020). Zero if none fits.
pub fn max_mac_only_plaintext(max_segment_len: usize) -> usize {
    max_value_len(max_segment_len).saturating_sub(MAC_LEN)
}

/// The plaintext pieces of a BoundProfilePackage, as the SM-DP+ has them.
#[derive(Clone, Copy)]
pub struct BppParts<'a> {
    /// The whole `BF23` InitialiseSecureChannelRequest (signed, sent in clear).
    pub initialise_secure_channel: &'a [u8],
    /// The whole `BF24` ConfigureISDPRequest.
    pub configure_isdp: &'a [u8],
    /// The whole `BF25` StoreMetadataRequest.
    pub store_metadata: &'a [u8],
    /// The whole `BF26` ReplaceSessionKeysRequest, when the profile is protected with PPKs.
    pub replace_session_keys: Option<&'a [u8]>,
    /// The profile package (SAIP ProfileElements, DER), cut into `86` segments.
    pub profile_package: &'a [u8],
}

impl fmt::Debug for BppParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BppParts")
            .field(
                "initialise_secure_channel",
                &self.initialise_secure_channel.len(),
            )
            .field("configure_isdp", &self.configure_isdp.len())
            .field("store_metadata", &self.store_metadata.len())
            .field(
                "replace_session_keys",
                &self.replace_session_keys.map(<[u8]>::len),
            )
            .field("profile_package", &self.profile_package.len())
            .finish()
    }
}

/// Builds `BF36{BF23, A0{87…}, A1{88…}, [A2{87…}], A3{86…}}` (SM-DP+ side).
#[derive(Debug, Clone, Copy)]
pub struct BppBuilder {
    max_segment_len: usize,
}

impl Default for BppBuilder {
    fn default() -> Self {
        BppBuilder {
            max_segment_len: MAX_SEGMENT_LEN,
        }
    }
}

impl BppBuilder {
    /// Segments of at most [`MAX_SEGMENT_LEN`] bytes, as SGP.22 requires.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the largest segment TLV (tag, length, payload and MAC) to produce. Values above
    /// 1020 imitate SM-DP+s that exceed the specification.
    pub fn max_segment_len(mut self, max_segment_len: usize) -> Self {
        self.max_segment_len = max_segment_len;
        self
    }

    /// Protects `parts` with `enc` and lays out the package. `enc` advances only on success.
    /// After a ReplaceSessionKeys, the `86` segments use its keys with the counter back at 1.
    pub fn build(&self, enc: &mut BspEncoder, parts: &BppParts<'_>) -> Result<Vec<u8>, BspError> {
        let enc_chunk = max_encrypted_plaintext(self.max_segment_len);
        let mac_chunk = max_mac_only_plaintext(self.max_segment_len);
        if enc_chunk == 0 || mac_chunk == 0 {
            return Err(BspError::SegmentSize(self.max_segment_len));
        }
        let isc = tlv::parse_tagged(
            parts.initialise_secure_channel,
            TAG_INITIALISE_SECURE_CHANNEL,
        )?;
        tlv::parse_tagged(parts.configure_isdp, TAG_CONFIGURE_ISDP)?;
        tlv::parse_tagged(parts.store_metadata, TAG_STORE_METADATA)?;
        let ppk = parts
            .replace_session_keys
            .map(parse_replace_session_keys)
            .transpose()?;
        if parts.profile_package.is_empty() {
            return Err(BspError::Bpp("empty profile package"));
        }

        // The sizes are known in advance: the BPP is written once, in place, with no copy of
        // its sections.
        let sections: [(u32, u8, usize, &[u8]); 4] = [
            (
                TAG_FIRST_SEQUENCE_OF_87,
                TAG_ENCRYPTED,
                enc_chunk,
                parts.configure_isdp,
            ),
            (
                TAG_SEQUENCE_OF_88,
                TAG_MAC_ONLY,
                mac_chunk,
                parts.store_metadata,
            ),
            (
                TAG_SECOND_SEQUENCE_OF_87,
                TAG_ENCRYPTED,
                enc_chunk,
                parts.replace_session_keys.unwrap_or_default(),
            ),
            (
                TAG_SEQUENCE_OF_86,
                TAG_PROFILE,
                enc_chunk,
                parts.profile_package,
            ),
        ];
        let present = |tag: u32| tag != TAG_SECOND_SEQUENCE_OF_87 || ppk.is_some();
        let content_len = |seg_tag: u8, chunk: usize, data: &[u8]| -> usize {
            data.chunks(chunk)
                .map(|c| segment_len(seg_tag, c.len()))
                .sum()
        };
        let body_len = isc.raw.len()
            + sections
                .iter()
                .filter(|s| present(s.0))
                .map(|&(_, seg_tag, chunk, data)| {
                    let n = content_len(seg_tag, chunk, data);
                    1 + len_of_len(n) + n
                })
                .sum::<usize>();
        let total = 2 + len_of_len(body_len) + body_len;

        let mut e = enc.clone();
        let mut bpp = Vec::with_capacity(total);
        tlv::Tag(TAG_BPP).write(&mut bpp);
        tlv::write_len(body_len, &mut bpp);
        bpp.extend_from_slice(isc.raw);
        for &(tag, seg_tag, chunk, data) in &sections {
            if !present(tag) {
                continue;
            }
            tlv::Tag(tag).write(&mut bpp);
            tlv::write_len(content_len(seg_tag, chunk, data), &mut bpp);
            for c in data.chunks(chunk) {
                if seg_tag == TAG_MAC_ONLY {
                    e.mac_only_into(seg_tag, c, &mut bpp)?;
                } else {
                    e.encrypt_and_mac_into(seg_tag, c, &mut bpp)?;
                }
            }
            if let (TAG_SECOND_SEQUENCE_OF_87, Some(keys)) = (tag, &ppk) {
                e.replace_session_keys(&keys.s_enc, &keys.s_mac, &keys.initial_mcv);
            }
        }
        if bpp.len() != total {
            return Err(BspError::Bpp("bound profile package length"));
        }
        *enc = e;
        Ok(bpp)
    }
}

/// Cuts a BoundProfilePackage into the ES10b LoadBoundProfilePackage commands an LPA sends:
/// `BF36` header + `BF23`; `A0` whole; `A1` header, then each `88`; `A2` whole (if present);
/// `A3` header, then each `86`. Concatenated, the pieces are `bpp` byte for byte.
pub fn segments(bpp: &[u8]) -> Result<Vec<Vec<u8>>, BspError> {
    let outer = tlv::parse_tagged(bpp, TAG_BPP)?;
    let mut children = outer.children();
    let mut next = |expected: u32| -> Result<Tlv<'_>, BspError> {
        let t = children
            .next()
            .ok_or(BspError::Bpp("bound profile package incomplete"))??;
        if t.tag.0 != expected {
            return Err(BspError::UnexpectedTag(t.tag.0));
        }
        Ok(t)
    };
    let isc = next(TAG_INITIALISE_SECURE_CHANNEL)?;
    let a0 = next(TAG_FIRST_SEQUENCE_OF_87)?;
    let a1 = next(TAG_SEQUENCE_OF_88)?;
    let mut out = Vec::new();
    let mut first = header(&outer).to_vec();
    first.extend_from_slice(isc.raw);
    out.push(first);
    out.push(a0.raw.to_vec());
    push_sequence(&mut out, &a1, TAG_MAC_ONLY)?;

    let mut rest = children;
    let t = rest
        .next()
        .ok_or(BspError::Bpp("bound profile package incomplete"))??;
    let a3 = if t.tag.0 == TAG_SECOND_SEQUENCE_OF_87 {
        out.push(t.raw.to_vec());
        rest.next()
            .ok_or(BspError::Bpp("bound profile package incomplete"))??
    } else {
        t
    };
    if a3.tag.0 != TAG_SEQUENCE_OF_86 {
        return Err(BspError::UnexpectedTag(a3.tag.0));
    }
    push_sequence(&mut out, &a3, TAG_PROFILE)?;
    if rest.next().is_some() {
        return Err(BspError::Bpp("data after sequenceOf86"));
    }
    Ok(out)
}

/// Pushes the header of `seq`, then each of its children (which must all be `child_tag`).
fn push_sequence(out: &mut Vec<Vec<u8>>, seq: &Tlv<'_>, child_tag: u8) -> Result<(), BspError> {
    out.push(header(seq).to_vec());
    for c in seq.children() {
        let c = c?;
        if c.tag.0 != u32::from(child_tag) {
            return Err(BspError::UnexpectedTag(c.tag.0));
        }
        out.push(c.raw.to_vec());
    }
    Ok(())
}
