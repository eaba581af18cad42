//! BER-TLV codec (ISO/IEC 8825-1, as profiled by ISO 7816-4 §5.2 and GlobalPlatform).
//!
//! Reading goes through a checked cursor: every length is checked against what is left, tags are at
//! most [`MAX_TAG_LEN`] bytes, length fields at most 4 bytes, and nesting is limited by
//! [`MAX_DEPTH`] when a whole tree is walked. Indefinite lengths are refused (DER and the
//! SGP.22 / SAIP encodings never use them). Non-minimal length encodings are accepted on input
//! (liberal in what we accept) and never produced on output.

use std::fmt;

/// Longest tag accepted, in bytes (GP and SGP.22 use at most 2; SAIP uses `BF1F`…`BF21`).
pub const MAX_TAG_LEN: usize = 3;
/// Deepest nesting of constructed TLVs accepted by [`Node::parse`] and [`check_depth`].
pub const MAX_DEPTH: usize = 32;

/// What went wrong while reading BER-TLV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("input ended inside a TLV")]
    Truncated,
    #[error("tag longer than {MAX_TAG_LEN} bytes")]
    TagTooLong,
    #[error("indefinite length is not allowed")]
    IndefiniteLength,
    #[error("length field longer than 4 bytes")]
    LengthTooLong,
    #[error("length {0} exceeds the bytes that follow")]
    LengthOverflow(usize),
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("{0} trailing bytes after the TLV")]
    Trailing(usize),
    #[error("expected tag {expected}, found {found}")]
    UnexpectedTag { expected: Tag, found: Tag },
    #[error("tag 00 or FF is not a valid BER tag here")]
    InvalidTag,
}

/// A BER tag, kept as its raw bytes packed big-endian into a `u32` (`0x5A`, `0xBF3E`, `0x9F70`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// The first byte of the tag (class, constructed bit, tag number or `1F`).
    pub fn first_byte(self) -> u8 {
        let mut v = self.0;
        while v > 0xFF {
            v >>= 8;
        }
        v as u8
    }

    /// Whether the tag's constructed bit (b6 of the first byte) is set.
    pub fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    /// Number of bytes of the encoded tag.
    pub fn len(self) -> usize {
        match self.0 {
            0..=0xFF => 1,
            0x100..=0xFFFF => 2,
            0x1_0000..=0xFF_FFFF => 3,
            _ => 4,
        }
    }

    /// Always false: a tag has at least one byte (present for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }

    /// Appends the tag bytes to `out`.
    pub fn write(self, out: &mut Vec<u8>) {
        let n = self.len();
        for i in (0..n).rev() {
            out.push((self.0 >> (8 * i)) as u8);
        }
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({self})")
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.len() * 2;
        write!(f, "{:0w$X}", self.0)
    }
}

/// One TLV borrowed from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: Tag,
    /// The value bytes.
    pub value: &'a [u8],
    /// The whole encoding: tag, length and value, exactly as received.
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The TLVs inside this one's value (for constructed tags; for primitive ones the value is
    /// still parsed as TLVs, which callers use for SAIP's IMPLICIT-tagged SEQUENCEs).
    pub fn children(&self) -> TlvIter<'a> {
        TlvIter::new(self.value)
    }

    /// Parses the value as a list of TLVs, failing on the first malformed one.
    pub fn child_vec(&self) -> Result<Vec<Tlv<'a>>, TlvError> {
        self.children().collect()
    }

    /// The first child with `tag`, if the value parses and holds one.
    pub fn find(&self, tag: u32) -> Result<Option<Tlv<'a>>, TlvError> {
        for c in self.children() {
            let c = c?;
            if c.tag.0 == tag {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// Reads a tag from the start of `input`; returns it and the number of bytes used.
#[inline]
pub fn read_tag(input: &[u8]) -> Result<(Tag, usize), TlvError> {
    let first = *input.first().ok_or(TlvError::Truncated)?;
    if first == 0x00 || first == 0xFF {
        // ISO 7816-4 §5.2.2.1: 00 and FF are padding, never tags.
        return Err(TlvError::InvalidTag);
    }
    let mut value = first as u32;
    if first & 0x1F != 0x1F {
        return Ok((Tag(value), 1));
    }
    let mut used = 1;
    loop {
        let b = *input.get(used).ok_or(TlvError::Truncated)?;
        used += 1;
        if used > MAX_TAG_LEN {
            return Err(TlvError::TagTooLong);
        }
        value = (value << 8) | b as u32;
        if b & 0x80 == 0 {
            return Ok((Tag(value), used));
        }
    }
}

/// Reads a definite length; returns it and the number of bytes used.
#[inline]
pub fn read_len(input: &[u8]) -> Result<(usize, usize), TlvError> {
    let first = *input.first().ok_or(TlvError::Truncated)?;
    if first < 0x80 {
        return Ok((first as usize, 1));
    }
    if first == 0x80 {
        return Err(TlvError::IndefiniteLength);
    }
    let n = (first & 0x7F) as usize;
    if n > 4 {
        return Err(TlvError::LengthTooLong);
    }
    let bytes = input.get(1..1 + n).ok_or(TlvError::Truncated)?;
    let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
    Ok((len, 1 + n))
}

/// Reads one TLV from the start of `input`; returns it and the rest.
#[inline]
pub fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
    // The common case, a one-byte tag and a one-byte length, decoded directly (the general
    // path below gives the same result for it).
    if let [first, len, rest @ ..] = input {
        if *first != 0x00 && *first != 0xFF && first & 0x1F != 0x1F && *len < 0x80 {
            let len = usize::from(*len);
            let (Some((value, after)), Some(raw)) =
                (rest.split_at_checked(len), input.get(..2 + len))
            else {
                return Err(TlvError::LengthOverflow(len));
            };
            return Ok((
                Tlv {
                    tag: Tag(u32::from(*first)),
                    value,
                    raw,
                },
                after,
            ));
        }
    }
    let (tag, tl) = read_tag(input)?;
    let (len, ll) = read_len(&input[tl..])?;
    let start = tl + ll;
    let left = input.len() - start;
    if len > left {
        return Err(TlvError::LengthOverflow(len));
    }
    let end = start + len;
    Ok((
        Tlv {
            tag,
            value: &input[start..end],
            raw: &input[..end],
        },
        &input[end..],
    ))
}

/// Parses exactly one TLV covering all of `input` (trailing bytes are an error).
#[inline]
pub fn parse_exact(input: &[u8]) -> Result<Tlv<'_>, TlvError> {
    let (tlv, rest) = read_tlv(input)?;
    if !rest.is_empty() {
        return Err(TlvError::Trailing(rest.len()));
    }
    Ok(tlv)
}

/// Like [`parse_exact`], and the tag must be `tag`.
pub fn parse_tagged(input: &[u8], tag: u32) -> Result<Tlv<'_>, TlvError> {
    let tlv = parse_exact(input)?;
    if tlv.tag.0 != tag {
        return Err(TlvError::UnexpectedTag {
            expected: Tag(tag),
            found: tlv.tag,
        });
    }
    Ok(tlv)
}

/// Iterator over consecutive TLVs; yields an error once and then stops.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> TlvIter<'a> {
    #[inline]
    pub fn new(input: &'a [u8]) -> Self {
        TlvIter {
            rest: input,
            failed: false,
        }
    }
    /// Bytes not yet read.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, TlvError>;
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match read_tlv(self.rest) {
            Ok((t, rest)) => {
                self.rest = rest;
                Some(Ok(t))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Checks that every constructed TLV in `input` (a list of TLVs) parses, down to `max_depth`.
pub fn check_depth(input: &[u8], max_depth: usize) -> Result<(), TlvError> {
    if max_depth == 0 {
        return Err(TlvError::TooDeep);
    }
    for t in TlvIter::new(input) {
        let t = t?;
        if t.tag.is_constructed() {
            check_depth(t.value, max_depth - 1)?;
        }
    }
    Ok(())
}

/// Splits a vendor command of this project, `FF xx L value`: a two-byte private-class tag
/// (`xx` < 0x80), a definite length, the value, nothing after it. The general reader refuses
/// these tags (ISO/IEC 7816-4 does not allow `FF` as a first tag byte), so the vendor ES10
/// extensions frame their outer TLV with this one function. `None` when `input` does not start
/// with such a tag.
pub fn split_vendor(input: &[u8]) -> Option<Result<(u32, &[u8]), TlvError>> {
    let (&first, rest) = input.split_first()?;
    let (&second, rest) = rest.split_first()?;
    if first != 0xFF || second & 0x80 != 0 {
        return None;
    }
    let tag = 0xFF00 | u32::from(second);
    Some((|| {
        let (len, ll) = read_len(rest)?;
        let body = rest.get(ll..).ok_or(TlvError::Truncated)?;
        if len > body.len() {
            return Err(TlvError::LengthOverflow(len));
        }
        if len < body.len() {
            return Err(TlvError::Trailing(body.len() - len));
        }
        Ok((tag, body))
    })())
}

/// Builds `FF xx L value` (see [`split_vendor`]).
pub fn vendor_tlv(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    out.push(0xFF);
    out.push(tag as u8);
    write_len(value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

/// Appends a minimal definite length.
pub fn write_len(len: usize, out: &mut Vec<u8>) {
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        0x1_0000..=0xFF_FFFF => {
            out.extend_from_slice(&[0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8])
        }
        _ => {
            out.push(0x84);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// Appends tag, minimal length and value.
pub fn write_tlv(tag: u32, value: &[u8], out: &mut Vec<u8>) {
    Tag(tag).write(out);
    write_len(value.len(), out);
    out.extend_from_slice(value);
}

/// Returns tag, minimal length and value as a new vector.
pub fn tlv(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    write_tlv(tag, value, &mut out);
    out
}

/// An owned BER-TLV tree, for building responses and for round-trip tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Primitive(Tag, Vec<u8>),
    Constructed(Tag, Vec<Node>),
}

impl Node {
    /// Parses a list of TLVs into trees, descending into constructed tags (at most [`MAX_DEPTH`]).
    pub fn parse(input: &[u8]) -> Result<Vec<Node>, TlvError> {
        Self::parse_at(input, MAX_DEPTH)
    }

    fn parse_at(input: &[u8], depth: usize) -> Result<Vec<Node>, TlvError> {
        if depth == 0 {
            return Err(TlvError::TooDeep);
        }
        let mut out = Vec::new();
        for t in TlvIter::new(input) {
            let t = t?;
            out.push(if t.tag.is_constructed() {
                Node::Constructed(t.tag, Self::parse_at(t.value, depth - 1)?)
            } else {
                Node::Primitive(t.tag, t.value.to_vec())
            });
        }
        Ok(out)
    }

    /// Encodes with minimal lengths.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Node::Primitive(tag, v) => write_tlv(tag.0, v, out),
            Node::Constructed(tag, children) => {
                let mut inner = Vec::new();
                for c in children {
                    c.encode(&mut inner);
                }
                write_tlv(tag.0, &inner, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_two_byte_tag_and_long_length() {
        let mut v = vec![0xBF, 0x22, 0x81, 0x80];
        v.extend(std::iter::repeat_n(0xAB, 0x80));
        let t = parse_exact(&v).unwrap();
        assert_eq!(t.tag, Tag(0xBF22));
        assert!(t.tag.is_constructed());
        assert_eq!(t.value.len(), 0x80);
    }

    #[test]
    fn rejects_oversize_length() {
        assert_eq!(
            parse_exact(&[0x5A, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]),
            Err(TlvError::LengthOverflow(0xFFFF_FFFF))
        );
        assert_eq!(
            parse_exact(&[0x5A, 0x85, 1, 1, 1, 1, 1]),
            Err(TlvError::LengthTooLong)
        );
    }

    #[test]
    fn rejects_truncated_and_indefinite() {
        assert_eq!(parse_exact(&[0xBF]), Err(TlvError::Truncated));
        assert_eq!(
            parse_exact(&[0x5A, 0x02, 0x00]),
            Err(TlvError::LengthOverflow(2))
        );
        assert_eq!(
            parse_exact(&[0x30, 0x80, 0, 0]),
            Err(TlvError::IndefiniteLength)
        );
        assert_eq!(parse_exact(&[0x5A, 0x00, 0x00]), Err(TlvError::Trailing(1)));
    }

    #[test]
    fn rejects_deep_nesting() {
        let mut v = vec![0x04, 0x00];
        for _ in 0..40 {
            v = tlv(0x30, &v);
        }
        assert_eq!(Node::parse(&v), Err(TlvError::TooDeep));
        assert_eq!(check_depth(&v, MAX_DEPTH), Err(TlvError::TooDeep));
        assert!(check_depth(&v, 64).is_ok());
    }

    #[test]
    fn rejects_overlong_tag() {
        assert_eq!(
            read_tag(&[0xBF, 0x81, 0x81, 0x01]),
            Err(TlvError::TagTooLong)
        );
        assert_eq!(read_tag(&[0xBF, 0x81, 0x01]), Ok((Tag(0xBF8101), 3)));
    }

    #[test]
    fn writes_minimal_lengths() {
        for (len, enc) in [
            (0usize, vec![0x00]),
            (0x7F, vec![0x7F]),
            (0x80, vec![0x81, 0x80]),
            (0x100, vec![0x82, 0x01, 0x00]),
            (0x10000, vec![0x83, 0x01, 0x00, 0x00]),
        ] {
            let mut out = Vec::new();
            write_len(len, &mut out);
            assert_eq!(out, enc);
        }
    }

    fn arb_tag(constructed: bool) -> impl Strategy<Value = Tag> {
        let c = if constructed { 0x20u32 } else { 0 };
        prop_oneof![
            (0u32..0x1F)
                .prop_filter("no 00", move |n| (n | c) != 0)
                .prop_map(move |n| Tag(0x80 | c | n)),
            (0x1Fu32..0x80).prop_map(move |n| Tag(((0x9F | c) << 8) | n)),
            (0x80u32..0x4000)
                .prop_map(move |n| Tag(((0x9F | c) << 16) | ((0x80 | (n >> 7)) << 8) | (n & 0x7F))),
        ]
    }

    fn arb_node() -> impl Strategy<Value = Node> {
        let leaf = (
            arb_tag(false),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(t, v)| Node::Primitive(t, v));
        leaf.prop_recursive(6, 64, 6, |inner| {
            (arb_tag(true), proptest::collection::vec(inner, 0..6))
                .prop_map(|(t, c)| Node::Constructed(t, c))
        })
    }

    proptest! {
        #[test]
        fn node_round_trips(node in arb_node()) {
            let mut enc = Vec::new();
            node.encode(&mut enc);
            let back = Node::parse(&enc).unwrap();
            prop_assert_eq!(back, vec![node]);
            let one = parse_exact(&enc).unwrap();
            prop_assert_eq!(one.raw, &enc[..]);
        }

        #[test]
        fn parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Node::parse(&data);
            let _ = check_depth(&data, MAX_DEPTH);
            if let Ok(t) = parse_exact(&data) {
                prop_assert_eq!(t.raw.len(), data.len());
            }
        }
    }
}
