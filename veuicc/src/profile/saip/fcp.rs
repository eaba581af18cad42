//! Small DER value decoders and the SAIP `Fcp` / `File` types (PEDefinitions `Fcp`, `File`,
//! `ProprietaryInfo`).
//!
//! `Fcp` uses explicit context tags that mirror TS 102 222 (82 FDB, 83 FID, 84 DF name, 8A LCSI,
//! 8B security attributes, 80 size, C6 PIN status, 88 SFI, A5 proprietary, C7 link path).
//! `File` is a SEQUENCE OF CHOICE with automatic tags: 80 doNotCreate, A1 fileDescriptor,
//! 82 fillFileOffset, 83 fillFileContent. Unknown components are skipped (EXTENSIBILITY IMPLIED).

use rsp::tlv::{Tlv, TlvIter};

use super::SaipError;
use crate::uicc::fs::EfStructure;

/// Largest file size accepted from a package (a card has far less; guards allocations).
pub const MAX_FILE_SIZE: usize = 0x10000;

/// Iterates the TLVs of `value`, mapping codec errors to [`SaipError`] with `ctx`.
pub(crate) fn children<'a>(value: &'a [u8], ctx: &'static str) -> Result<Vec<Tlv<'a>>, SaipError> {
    TlvIter::new(value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SaipError::Malformed { ctx, source: e })
}

/// The TLVs of `value` one by one, without collecting them: a malformed TLV is an error
/// ([`SaipError::Malformed`] with `ctx`) where it comes, and ends the list.
pub(crate) fn each_child<'a>(value: &'a [u8], ctx: &'static str) -> Children<'a> {
    Children {
        iter: TlvIter::new(value),
        ctx,
    }
}

/// See [`each_child`].
#[derive(Debug, Clone)]
pub(crate) struct Children<'a> {
    iter: TlvIter<'a>,
    ctx: &'static str,
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<Tlv<'a>, SaipError>;
    fn next(&mut self) -> Option<Self::Item> {
        let ctx = self.ctx;
        self.iter
            .next()
            .map(|r| r.map_err(|e| SaipError::Malformed { ctx, source: e }))
    }
}

/// Decodes a non-negative DER INTEGER of at most 4 significant bytes.
pub(crate) fn uint(v: &[u8], ctx: &'static str) -> Result<u32, SaipError> {
    if v.is_empty() {
        return Err(SaipError::invalid(ctx, "empty INTEGER"));
    }
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(SaipError::invalid(ctx, "negative INTEGER"));
    }
    let mut rest = v;
    while rest.len() > 1 && rest.first() == Some(&0) {
        rest = rest.get(1..).unwrap_or_default();
    }
    if rest.len() > 4 {
        return Err(SaipError::invalid(ctx, "INTEGER too large"));
    }
    Ok(rest.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Decodes an unsigned big-endian OCTET STRING quantity (sizes), at most 4 bytes.
pub(crate) fn be_uint(v: &[u8], ctx: &'static str) -> Result<usize, SaipError> {
    if v.is_empty() || v.len() > 4 {
        return Err(SaipError::invalid(ctx, "size must be 1 to 4 bytes"));
    }
    Ok(v.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
}

/// Decodes an OBJECT IDENTIFIER value to its arcs.
pub(crate) fn oid_arcs(v: &[u8]) -> Result<Vec<u64>, SaipError> {
    let first = *v.first().ok_or(SaipError::invalid("OID", "empty"))?;
    let mut arcs: Vec<u64> = Vec::with_capacity(v.len() + 1);
    let mut acc: u64 = 0;
    let mut in_arc = false;
    for b in v {
        if acc > (u64::MAX >> 8) {
            return Err(SaipError::invalid("OID", "arc too large"));
        }
        acc = (acc << 7) | u64::from(b & 0x7F);
        in_arc = b & 0x80 != 0;
        if !in_arc {
            if arcs.is_empty() {
                // First subidentifier encodes two arcs (X.690 §8.19.4).
                let (a, b2) = if acc < 40 {
                    (0, acc)
                } else if acc < 80 {
                    (1, acc - 40)
                } else {
                    (2, acc - 80)
                };
                arcs.push(a);
                arcs.push(b2);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    if in_arc || first == 0x80 {
        return Err(SaipError::invalid("OID", "truncated subidentifier"));
    }
    Ok(arcs)
}

/// Decodes an OBJECT IDENTIFIER value to dotted form.
pub(crate) fn oid_to_string(v: &[u8]) -> Result<String, SaipError> {
    Ok(oid_arcs(v)?
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join("."))
}

/// Whether `arcs` are the OID written `dotted` (what comparing `oid_to_string` with `dotted`
/// says, without formatting).
pub(crate) fn arcs_match_dotted(arcs: &[u64], dotted: &str) -> bool {
    let mut parts = dotted.split('.');
    for a in arcs {
        match parts.next() {
            // `to_string` of a u64 is canonical: no sign, no leading zeros.
            Some(p) if p == "0" || (!p.starts_with('0') && !p.starts_with('+')) => {
                if p.parse::<u64>().ok() != Some(*a) {
                    return false;
                }
            }
            _ => return false,
        }
    }
    parts.next().is_none()
}

/// Splits a SAIP path (`filePath`, `linkPath`: concatenated FIDs) into FIDs.
pub(crate) fn path_fids(v: &[u8], ctx: &'static str) -> Result<Vec<u16>, SaipError> {
    if !v.len().is_multiple_of(2) || v.len() > 16 {
        return Err(SaipError::invalid(
            ctx,
            "path must be an even number of bytes, at most 16",
        ));
    }
    Ok(v.chunks_exact(2)
        .map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .collect())
}

/// Structure decoded from a file descriptor byte string (TS 102 221 §11.1.1.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Descriptor {
    Df,
    Ef(EfStructure),
}

/// Decodes FDB, data coding byte and (record EFs) the 2-byte record length.
pub fn parse_descriptor(fdb: &[u8]) -> Result<Descriptor, SaipError> {
    let b = *fdb
        .first()
        .ok_or(SaipError::invalid("fileDescriptor", "empty"))?;
    // b7 = shareable; b6..b4 = 111 + b3..b1 = 000 → DF; 111 001 → BER-TLV EF.
    let t = b & 0x3F;
    let rec_len = || -> Result<usize, SaipError> {
        match fdb.get(2..4) {
            Some([hi, lo]) => Ok(usize::from(u16::from_be_bytes([*hi, *lo]))),
            _ => Err(SaipError::invalid(
                "fileDescriptor",
                "record EF without record length",
            )),
        }
    };
    match t {
        0x38 => Ok(Descriptor::Df),
        0x39 => Ok(Descriptor::Ef(EfStructure::BerTlv)),
        _ if t & 0x38 == 0x38 => Err(SaipError::invalid("fileDescriptor", "unknown FDB")),
        _ => match t & 0x07 {
            0x01 => Ok(Descriptor::Ef(EfStructure::Transparent)),
            0x02 => {
                let record_len = rec_len()?;
                if record_len == 0 || record_len > 255 {
                    return Err(SaipError::invalid(
                        "fileDescriptor",
                        "record length out of range",
                    ));
                }
                Ok(Descriptor::Ef(EfStructure::LinearFixed { record_len }))
            }
            0x06 => {
                let record_len = rec_len()?;
                if record_len == 0 || record_len > 255 {
                    return Err(SaipError::invalid(
                        "fileDescriptor",
                        "record length out of range",
                    ));
                }
                Ok(Descriptor::Ef(EfStructure::Cyclic { record_len }))
            }
            _ => Err(SaipError::invalid(
                "fileDescriptor",
                "unsupported EF structure",
            )),
        },
    }
}

/// A decoded SAIP `Fcp` (all fields optional; templates supply the rest). Byte strings are
/// borrowed from the package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fcp<'a> {
    pub descriptor: Option<Descriptor>,
    pub fid: Option<u16>,
    pub df_name: Option<&'a [u8]>,
    pub lcsi: Option<u8>,
    /// `securityAttributesReferenced`: 1 byte (record) or 3 bytes (ARR FID + record).
    pub arr: Option<(Option<u16>, u8)>,
    pub size: Option<usize>,
    pub pin_template: Option<&'a [u8]>,
    /// `None` = absent (template or FID-derived SFI), `Some(None)` = present and empty (no SFI).
    pub sfi: Option<Option<u8>>,
    pub special_info: Option<u8>,
    pub fill_pattern: Option<&'a [u8]>,
    pub repeat_pattern: Option<&'a [u8]>,
    pub max_size: Option<usize>,
    pub link_path: Option<Vec<u16>>,
}

impl<'a> Fcp<'a> {
    /// Decodes the value of an Fcp (the inside of `A1` in a `File`, or of `62` in GFM).
    pub fn parse(value: &'a [u8]) -> Result<Fcp<'a>, SaipError> {
        let mut f = Fcp::default();
        for t in each_child(value, "Fcp") {
            let t = t?;
            match t.tag.0 {
                0x82 => f.descriptor = Some(parse_descriptor(t.value)?),
                0x83 => match t.value {
                    [hi, lo] => f.fid = Some(u16::from_be_bytes([*hi, *lo])),
                    _ => return Err(SaipError::invalid("fileID", "must be 2 bytes")),
                },
                0x84 => {
                    if !(1..=16).contains(&t.value.len()) {
                        return Err(SaipError::invalid("dfName", "AID must be 1 to 16 bytes"));
                    }
                    f.df_name = Some(t.value);
                }
                0x8A => match t.value {
                    [b] => f.lcsi = Some(*b),
                    _ => return Err(SaipError::invalid("lcsi", "must be 1 byte")),
                },
                0x8B => {
                    f.arr = Some(match t.value {
                        [rec] => (None, *rec),
                        [hi, lo, rec] => (Some(u16::from_be_bytes([*hi, *lo])), *rec),
                        _ => {
                            return Err(SaipError::invalid(
                                "securityAttributesReferenced",
                                "must be 1 or 3 bytes",
                            ))
                        }
                    })
                }
                0x80 => {
                    let n = be_uint(t.value, "efFileSize")?;
                    if n > MAX_FILE_SIZE {
                        return Err(SaipError::invalid("efFileSize", "file larger than 64 KiB"));
                    }
                    f.size = Some(n);
                }
                0xC6 => f.pin_template = Some(t.value),
                0x88 => {
                    f.sfi = Some(match t.value {
                        [] => None,
                        [b] => Some(b >> 3),
                        _ => return Err(SaipError::invalid("shortEFID", "must be 0 or 1 byte")),
                    })
                }
                0xA5 => f.parse_proprietary(t.value)?,
                0xC7 => f.link_path = Some(path_fids(t.value, "linkPath")?),
                _ => {} // extensibility: unknown components are skipped
            }
        }
        Ok(f)
    }

    fn parse_proprietary(&mut self, value: &'a [u8]) -> Result<(), SaipError> {
        for t in each_child(value, "proprietaryEFInfo") {
            let t = t?;
            match t.tag.0 {
                0xC0 => match t.value {
                    [b] => self.special_info = Some(*b),
                    _ => {
                        return Err(SaipError::invalid(
                            "specialFileInformation",
                            "must be 1 byte",
                        ))
                    }
                },
                0xC1 | 0xC2 => {
                    if t.value.is_empty() || t.value.len() > 200 {
                        return Err(SaipError::invalid("fillPattern", "must be 1 to 200 bytes"));
                    }
                    if t.tag.0 == 0xC1 {
                        self.fill_pattern = Some(t.value);
                    } else {
                        self.repeat_pattern = Some(t.value);
                    }
                }
                0x86 => self.max_size = Some(be_uint(t.value, "maximumFileSize")?),
                _ => {}
            }
        }
        Ok(())
    }
}

/// One fill operation of a `File` or GFM command list (content borrowed from the package).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill<'a> {
    /// Advance the cursor (relative).
    Offset(usize),
    /// Write at the cursor and advance.
    Content(&'a [u8]),
}

/// The fill operations of a `File` field, in order: read from the field's encoding, which
/// [`FileSpec::parse`] has checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fills<'a> {
    file: &'a [u8],
}

impl<'a> Fills<'a> {
    /// The fill operations.
    pub fn iter(&self) -> impl Iterator<Item = Fill<'a>> + Clone + 'a {
        TlvIter::new(self.file)
            .map_while(Result::ok)
            .filter_map(|t| match t.tag.0 {
                // Checked by `FileSpec::parse`: cannot fail here.
                0x82 => uint(t.value, "fillFileOffset")
                    .ok()
                    .map(|n| Fill::Offset(n as usize)),
                0x83 => Some(Fill::Content(t.value)),
                _ => None,
            })
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// A decoded SAIP `File` field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSpec<'a> {
    pub do_not_create: bool,
    pub fcp: Option<Fcp<'a>>,
    pub fills: Fills<'a>,
}

impl<'a> FileSpec<'a> {
    /// Decodes the value of a `File` (SEQUENCE OF CHOICE).
    pub fn parse(value: &'a [u8]) -> Result<FileSpec<'a>, SaipError> {
        let mut f = FileSpec::default();
        for t in each_child(value, "File") {
            let t = t?;
            match t.tag.0 {
                0x80 => f.do_not_create = true,
                0xA1 => {
                    let fcp = Fcp::parse(t.value)?;
                    f.fcp = Some(match f.fcp.take() {
                        Some(prev) => merge(prev, fcp),
                        None => fcp,
                    });
                }
                // Checked here, read again through `fills`.
                0x82 => {
                    uint(t.value, "fillFileOffset")?;
                }
                _ => {}
            }
        }
        f.fills = Fills { file: value };
        Ok(f)
    }
}

/// Later descriptor components override earlier ones.
fn merge<'a>(mut a: Fcp<'a>, b: Fcp<'a>) -> Fcp<'a> {
    macro_rules! take {
        ($($f:ident),*) => { $( if b.$f.is_some() { a.$f = b.$f; } )* };
    }
    take!(
        descriptor,
        fid,
        df_name,
        lcsi,
        arr,
        size,
        pin_template,
        sfi,
        special_info,
        fill_pattern,
        repeat_pattern,
        max_size,
        link_path
    );
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_oids_and_integers() {
        assert_eq!(
            oid_to_string(&[0x67, 0x81, 0x0F, 0x01, 0x02, 0x0A]).unwrap(),
            "2.23.143.1.2.10"
        );
        assert!(oid_to_string(&[0x67, 0x81]).is_err());
        assert_eq!(uint(&[0x00, 0xAA], "x").unwrap(), 170);
        assert!(uint(&[0xFF], "x").is_err());
        assert!(uint(&[], "x").is_err());
        assert!(uint(&[1, 2, 3, 4, 5], "x").is_err());
    }

    #[test]
    fn decodes_descriptors() {
        assert_eq!(parse_descriptor(&[0x78, 0x21]).unwrap(), Descriptor::Df);
        assert_eq!(
            parse_descriptor(&[0x41, 0x21]).unwrap(),
            Descriptor::Ef(EfStructure::Transparent)
        );
        assert_eq!(
            parse_descriptor(&[0x42, 0x21, 0x00, 0x21]).unwrap(),
            Descriptor::Ef(EfStructure::LinearFixed { record_len: 0x21 })
        );
        assert_eq!(
            parse_descriptor(&[0x46, 0x21, 0x00, 0x02]).unwrap(),
            Descriptor::Ef(EfStructure::Cyclic { record_len: 2 })
        );
        assert_eq!(
            parse_descriptor(&[0x79, 0x21]).unwrap(),
            Descriptor::Ef(EfStructure::BerTlv)
        );
        assert!(parse_descriptor(&[0x42, 0x21]).is_err());
        assert!(parse_descriptor(&[]).is_err());
    }

    #[test]
    fn decodes_fcp_with_sfi_forms() {
        // 82 4121, 83 6F07, 8B 6F060A, 88 (empty), A5 { C1 0147 }
        let v =
            hex::decode("820241218302 6F07 8B036F060A 8800 A504C1020147".replace(' ', "")).unwrap();
        let f = Fcp::parse(&v).unwrap();
        assert_eq!(f.fid, Some(0x6F07));
        assert_eq!(f.arr, Some((Some(0x6F06), 0x0A)));
        assert_eq!(f.sfi, Some(None));
        assert_eq!(f.fill_pattern, Some(&[0x01, 0x47][..]));
        let v = hex::decode("880110").unwrap();
        let f = Fcp::parse(&v).unwrap();
        assert_eq!(f.sfi, Some(Some(2)));
    }
}
