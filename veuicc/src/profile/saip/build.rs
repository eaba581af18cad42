//! Builds the UICC file system from file-system PEs (templates) and GenericFileManagement.
//!
//! Content algorithm (SAIP §8.3.4 / TS 102 222 fill rules, as checked against TS.48):
//! 1. initial content from the FCP `fillPattern` (pattern, then its last byte repeated) or
//!    `repeatPattern` (cycled), else the template default, else `FF`; for record EFs per record;
//! 2. a cursor starts at 0; `fillFileOffset n` advances it by `n`, `fillFileContent` writes at it
//!    and advances. Record EFs are addressed as the concatenation of their records.

use super::fcp::{each_child, path_fids, Descriptor, Fcp, FileSpec, Fill, MAX_FILE_SIZE};
use super::templates::{self, expand_default_into, Kind, Template, TemplateFile};
use super::SaipError;
use crate::uicc::fs::{ArrRef, EfStructure, FileNode, FileSystem, NodeId, NodeKind};
use rsp::tlv::Tag;

/// Which NAA an ADF-creating PE made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Naa {
    Usim,
    Isim,
    Csim,
}

/// Context tag number of a context-class tag (`A3` → 3, `BF21` → 33).
pub(crate) fn context_tag_number(tag: Tag) -> Option<u32> {
    let first = tag.first_byte();
    if first & 0xC0 != 0x80 {
        return None;
    }
    if first & 0x1F != 0x1F {
        return Some(u32::from(first & 0x1F));
    }
    let mut n = 0u32;
    for i in (0..tag.len().saturating_sub(1)).rev() {
        n = (n << 7) | ((tag.0 >> (8 * i)) & 0x7F);
    }
    Some(n)
}

/// Where the next EF of a template goes: an existing DF, or a nested DF of the template that the
/// package did not list and that is created on first use.
#[derive(Clone, Copy)]
enum Parent {
    Node(NodeId),
    Pending(&'static TemplateFile),
}

/// State while the PEs are processed in order.
pub(crate) struct Builder {
    pub fs: FileSystem,
    /// The DF context left by the last PE (PIN PEs attach to it).
    pub current_df: NodeId,
    pub last_usim: Option<NodeId>,
    pub last_isim: Option<NodeId>,
    pub last_csim: Option<NodeId>,
    /// The NAA an akaParameter PE applies to (the last usim/isim PE).
    pub last_naa: Option<(Naa, NodeId)>,
    links: Vec<(NodeId, Vec<u16>)>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder {
            fs: FileSystem::new(),
            current_df: NodeId::MF,
            last_usim: None,
            last_isim: None,
            last_csim: None,
            last_naa: None,
            links: Vec::new(),
        }
    }

    /// Processes one template-based file-system PE (`pe` is its name, `value` its content).
    pub fn template_pe(&mut self, pe: &'static str, value: &[u8]) -> Result<(), SaipError> {
        let fields = each_child(value, pe);
        let mut oid_tlv = None;
        for t in fields.clone() {
            let t = t?;
            if t.tag.0 == 0x81 {
                oid_tlv = Some(t);
                break;
            }
        }
        let oid_tlv = oid_tlv.ok_or(SaipError::invalid(pe, "templateID missing"))?;
        let arcs = super::fcp::oid_arcs(oid_tlv.value)?;
        let unsupported = || -> SaipError {
            match super::fcp::oid_to_string(oid_tlv.value) {
                Ok(oid) => SaipError::UnsupportedTemplate { pe, oid },
                Err(e) => e,
            }
        };
        let tpl = templates::by_arcs(&arcs).ok_or_else(unsupported)?;
        if tpl.pe != pe {
            return Err(unsupported());
        }
        let mut specs: Vec<Option<&[u8]>> = vec![None; tpl.files.len()];
        for t in fields {
            let t = t?;
            let Some(n) = context_tag_number(t.tag) else {
                continue;
            };
            if let Some((i, _)) = tpl.file_for_tag(n) {
                if let Some(slot) = specs.get_mut(i) {
                    *slot = Some(t.value);
                }
            }
        }
        let base = match pe {
            "mf" | "telecom" | "usim" | "isim" | "csim" => NodeId::MF,
            "opt-usim" | "gsm-access" | "df-5gs" | "df-saip" => self
                .last_usim
                .ok_or(SaipError::invalid(pe, "no preceding usim PE"))?,
            "opt-isim" => self
                .last_isim
                .ok_or(SaipError::invalid(pe, "no preceding isim PE"))?,
            "opt-csim" => self
                .last_csim
                .ok_or(SaipError::invalid(pe, "no preceding csim PE"))?,
            _ => return Err(SaipError::invalid(pe, "not a template PE")),
        };
        self.apply_template(tpl, base, &specs)?;
        Ok(())
    }

    fn apply_template(
        &mut self,
        tpl: &'static Template,
        base: NodeId,
        specs: &[Option<&[u8]>],
    ) -> Result<(), SaipError> {
        let mut root: Option<NodeId> = None;
        let mut parent = Parent::Node(base);
        for (i, tf) in tpl.files.iter().enumerate() {
            let spec = match specs.get(i).copied().flatten() {
                Some(v) => Some(FileSpec::parse(v)?),
                None => None,
            };
            let is_dir = matches!(tf.kind, Kind::Mf | Kind::Df | Kind::Adf);
            let listed = spec.is_some();
            if let Some(s) = &spec {
                // doNotCreate has no effect in the MF template (SAIP §8.3.3).
                if s.do_not_create && tpl.pe != "mf" {
                    if is_dir && i == 0 {
                        return Err(SaipError::invalid(
                            tpl.pe,
                            "doNotCreate on the template's root DF",
                        ));
                    }
                    if is_dir {
                        parent = Parent::Pending(tf);
                    }
                    continue;
                }
            }
            if is_dir {
                if i == 0 && tpl.has_root {
                    let id = if tf.kind == Kind::Mf {
                        self.update_mf(spec.as_ref())?;
                        NodeId::MF
                    } else {
                        self.create_dir(base, Some(tf), spec.as_ref().and_then(|s| s.fcp.as_ref()))?
                    };
                    root = Some(id);
                    parent = Parent::Node(id);
                    self.current_df = id;
                    if tf.kind == Kind::Adf {
                        self.note_naa(tpl.pe, id);
                    }
                } else if listed || tpl.created_by_default {
                    let id = self.create_dir(
                        root.unwrap_or(base),
                        Some(tf),
                        spec.as_ref().and_then(|s| s.fcp.as_ref()),
                    )?;
                    parent = Parent::Node(id);
                    self.current_df = id;
                } else {
                    parent = Parent::Pending(tf);
                }
                continue;
            }
            if !listed && !tpl.created_by_default {
                continue;
            }
            let parent_id = match parent {
                Parent::Node(id) => id,
                Parent::Pending(dtf) => {
                    if !listed {
                        continue;
                    }
                    let id = self.create_dir(root.unwrap_or(base), Some(dtf), None)?;
                    parent = Parent::Node(id);
                    id
                }
            };
            match &spec {
                Some(s) => {
                    self.create_ef(parent_id, Some(tf), s.fcp.as_ref(), s.fills.iter(), tpl.pe)?;
                }
                None => {
                    // Created by default from the template alone, when it fixes the size.
                    let buildable = match tf.kind {
                        Kind::Lf | Kind::Cy => tf.records.is_some() && tf.size.is_some(),
                        _ => tf.size.is_some(),
                    };
                    if buildable && tf.fid.is_some() {
                        self.create_ef(parent_id, Some(tf), None, std::iter::empty(), tpl.pe)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn note_naa(&mut self, pe: &str, id: NodeId) {
        match pe {
            "usim" => {
                self.last_usim = Some(id);
                self.last_naa = Some((Naa::Usim, id));
            }
            "isim" => {
                self.last_isim = Some(id);
                self.last_naa = Some((Naa::Isim, id));
            }
            "csim" => self.last_csim = Some(id),
            _ => {}
        }
    }

    fn update_mf(&mut self, spec: Option<&FileSpec>) -> Result<(), SaipError> {
        let Some(fcp) = spec.and_then(|s| s.fcp.as_ref()) else {
            return Ok(());
        };
        if matches!(fcp.descriptor, Some(Descriptor::Ef(_))) {
            return Err(SaipError::invalid("mf", "MF with an EF descriptor"));
        }
        let mf = self
            .fs
            .node_mut(NodeId::MF)
            .ok_or(SaipError::invalid("mf", "no MF"))?;
        if let Some(l) = fcp.lcsi {
            mf.lcsi = l;
        }
        if let Some((f, r)) = fcp.arr {
            mf.arr = Some(ArrRef {
                arr_fid: f,
                record: r,
            });
        }
        if let Some(p) = fcp.pin_template {
            mf.pin_template = p.to_vec();
        }
        Ok(())
    }

    fn create_dir(
        &mut self,
        parent: NodeId,
        tf: Option<&TemplateFile>,
        fcp: Option<&Fcp>,
    ) -> Result<NodeId, SaipError> {
        let empty = Fcp::default();
        let fcp = fcp.unwrap_or(&empty);
        if matches!(fcp.descriptor, Some(Descriptor::Ef(_))) {
            return Err(SaipError::invalid(
                "fileDescriptor",
                "EF descriptor for a DF",
            ));
        }
        let fid = fcp
            .fid
            .or(tf.and_then(|t| t.fid))
            .ok_or(SaipError::invalid("fileDescriptor", "DF without fileID"))?;
        let is_adf = tf.is_some_and(|t| t.kind == Kind::Adf) || fcp.df_name.is_some();
        let kind = if is_adf {
            let aid = fcp.df_name.map(<[u8]>::to_vec).ok_or(SaipError::invalid(
                "fileDescriptor",
                "ADF without dfName (AID)",
            ))?;
            NodeKind::Adf { aid }
        } else {
            NodeKind::Df
        };
        let mut node = FileNode::new(fid, kind);
        node.lcsi = fcp.lcsi.unwrap_or(0x05);
        node.arr = fcp
            .arr
            .map(|(f, r)| ArrRef {
                arr_fid: f,
                record: r,
            })
            .or(tf.map(|t| ArrRef {
                arr_fid: None,
                record: t.arr,
            }));
        node.pin_template = fcp.pin_template.map(<[u8]>::to_vec).unwrap_or_default();
        Ok(self.fs.add_child(parent, node)?)
    }

    /// Creates an EF (or link) from template facts, FCP and fill operations.
    fn create_ef<'f>(
        &mut self,
        parent: NodeId,
        tf: Option<&TemplateFile>,
        fcp: Option<&Fcp<'_>>,
        fills: impl Iterator<Item = Fill<'f>> + Clone,
        ctx: &'static str,
    ) -> Result<NodeId, SaipError> {
        let empty = Fcp::default();
        let fcp = fcp.unwrap_or(&empty);
        let fid = fcp
            .fid
            .or(tf.and_then(|t| t.fid))
            .ok_or(SaipError::invalid(ctx, "EF without fileID"))?;
        let structure = match (fcp.descriptor, tf.map(|t| t.kind)) {
            (Some(Descriptor::Ef(s)), _) => s,
            (Some(Descriptor::Df), _) => {
                return Err(SaipError::invalid(ctx, "DF descriptor in an EF field"));
            }
            (None, Some(Kind::Tr)) => EfStructure::Transparent,
            (None, Some(Kind::Bt)) => EfStructure::BerTlv,
            (None, Some(k @ (Kind::Lf | Kind::Cy))) => {
                let record_len = tf
                    .and_then(|t| t.size)
                    .map(usize::from)
                    .ok_or(SaipError::invalid(ctx, "record EF without record length"))?;
                if k == Kind::Lf {
                    EfStructure::LinearFixed { record_len }
                } else {
                    EfStructure::Cyclic { record_len }
                }
            }
            _ => return Err(SaipError::invalid(ctx, "EF without file descriptor")),
        };
        let sfi = match fcp.sfi {
            Some(v) => v,
            None => match tf {
                Some(t) => t.sfi,
                // GFM-created file: SFI from the FID's five low bits (TS 102 222 §6.3).
                None => Some((fid & 0x1F) as u8).filter(|s| (1..=30).contains(s)),
            },
        };
        let arr = fcp
            .arr
            .map(|(f, r)| ArrRef {
                arr_fid: f,
                record: r,
            })
            .or(tf.map(|t| ArrRef {
                arr_fid: None,
                record: t.arr,
            }));
        let mut node_attrs = FileNode::new(fid, NodeKind::Link { target: NodeId::MF });
        node_attrs.lcsi = fcp.lcsi.unwrap_or(0x05);
        node_attrs.arr = arr;
        node_attrs.sfi = sfi;
        node_attrs.special_info = fcp.special_info.unwrap_or(0);

        if let Some(path) = fcp.link_path.as_ref().filter(|p| !p.is_empty()) {
            let id = self.fs.add_child(parent, node_attrs)?;
            self.links.push((id, path.clone()));
            return Ok(id);
        }

        let extent = fill_extent(fills.clone())?;
        let tpl_approx = tf.is_some_and(|t| t.approximate);
        let (size, content) = match structure {
            EfStructure::BerTlv => {
                if fills.clone().any(|f| matches!(f, Fill::Content(_))) {
                    return Err(SaipError::invalid(ctx, "content for a BER-TLV EF"));
                }
                let size = fcp
                    .size
                    .or(fcp.max_size)
                    .or(tf.and_then(|t| t.size).map(usize::from))
                    .unwrap_or(0);
                (size, Vec::new())
            }
            EfStructure::Transparent => {
                let size = match (fcp.size, tf.and_then(|t| t.size)) {
                    (Some(s), _) => s,
                    (None, Some(t)) if tpl_approx => usize::from(t).max(extent),
                    (None, Some(t)) => usize::from(t),
                    (None, None) => {
                        let pat = fcp
                            .fill_pattern
                            .or(fcp.repeat_pattern)
                            .map_or(0, <[u8]>::len);
                        let mut s = extent.max(pat);
                        if s == 0 && tpl_approx {
                            tracing::warn!(fid, "no size for a CSIM EF; creating 1 byte");
                            s = 1;
                        }
                        if s == 0 {
                            return Err(SaipError::invalid(ctx, "EF size unknown"));
                        }
                        s
                    }
                };
                (size, initial_content(size, size, fcp, tf))
            }
            EfStructure::LinearFixed { record_len } | EfStructure::Cyclic { record_len } => {
                let tpl_records = tf.and_then(|t| t.records).map(usize::from);
                let size = match (fcp.size, tpl_records) {
                    (Some(s), _) => s,
                    (None, Some(n)) if tpl_approx => {
                        (n * record_len).max(round_up(extent, record_len))
                    }
                    (None, Some(n)) => n * record_len,
                    (None, None) => round_up(extent, record_len).max(record_len),
                };
                if size % record_len != 0 {
                    return Err(SaipError::invalid(
                        ctx,
                        "file size is not a multiple of the record length",
                    ));
                }
                (size, initial_content(size, record_len, fcp, tf))
            }
        };
        if size > MAX_FILE_SIZE {
            return Err(SaipError::invalid(ctx, "file larger than 64 KiB"));
        }
        let mut content = content;
        let mut cursor = 0usize;
        for f in fills {
            apply_fill(&mut content, &mut cursor, &f, ctx)?;
        }
        node_attrs.kind = NodeKind::Ef {
            structure,
            size,
            content,
        };
        Ok(self.fs.add_child(parent, node_attrs)?)
    }

    /// Processes a GenericFileManagement PE (SAIP §8.3.6).
    pub fn gfm(&mut self, value: &[u8]) -> Result<(), SaipError> {
        const CTX: &str = "genericFileManagement";
        for f in each_child(value, CTX) {
            let f = f?;
            if f.tag.0 != 0xA1 {
                continue; // header or unknown trailing component
            }
            for list in each_child(f.value, CTX) {
                let list = list?;
                if list.tag.0 != 0x30 {
                    return Err(SaipError::invalid(CTX, "FileManagement is not a SEQUENCE"));
                }
                let mut target: Option<(NodeId, usize)> = None;
                for cmd in each_child(list.value, CTX) {
                    let cmd = cmd?;
                    match cmd.tag.0 {
                        0x80 => {
                            let path = path_fids(cmd.value, "filePath")?;
                            let id = self
                                .fs
                                .resolve_path(NodeId::MF, &path)
                                .ok_or_else(|| SaipError::PathNotFound { path: path.clone() })?;
                            if !self.fs.node(id).is_some_and(FileNode::is_dir) {
                                return Err(SaipError::invalid(
                                    "filePath",
                                    "path does not name a DF",
                                ));
                            }
                            self.current_df = id;
                            target = None;
                        }
                        0x62 => {
                            let fcp = Fcp::parse(cmd.value)?;
                            let is_dir = matches!(fcp.descriptor, Some(Descriptor::Df))
                                || (fcp.descriptor.is_none() && fcp.link_path.is_none());
                            if is_dir {
                                let id = self.create_dir(self.current_df, None, Some(&fcp))?;
                                self.current_df = id;
                                target = None;
                            } else {
                                if fcp.size.is_none()
                                    && fcp.link_path.as_ref().is_none_or(Vec::is_empty)
                                    && !matches!(
                                        fcp.descriptor,
                                        Some(Descriptor::Ef(EfStructure::BerTlv))
                                    )
                                {
                                    return Err(SaipError::invalid(
                                        "createFCP",
                                        "EF without efFileSize",
                                    ));
                                }
                                let id = self.create_ef(
                                    self.current_df,
                                    None,
                                    Some(&fcp),
                                    std::iter::empty(),
                                    CTX,
                                )?;
                                target = Some((id, 0));
                            }
                        }
                        0x02 | 0x81 => {
                            let fill = if cmd.tag.0 == 0x02 {
                                Fill::Offset(super::fcp::uint(cmd.value, "fillFileOffset")? as usize)
                            } else {
                                Fill::Content(cmd.value)
                            };
                            let (id, cursor) = target
                                .as_mut()
                                .ok_or(SaipError::invalid(CTX, "fill without a created EF"))?;
                            let content = self
                                .fs
                                .ef_content_mut(*id)
                                .ok_or(SaipError::invalid(CTX, "fill of a link or DF"))?;
                            apply_fill(content, cursor, &fill, CTX)?;
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Resolves link paths and returns the finished tree.
    pub fn finish(mut self) -> Result<FileSystem, SaipError> {
        for (id, path) in std::mem::take(&mut self.links) {
            let target = self
                .fs
                .resolve_path(NodeId::MF, &path)
                .ok_or_else(|| SaipError::PathNotFound { path: path.clone() })?;
            if self.fs.node(target).is_some_and(FileNode::is_dir) {
                return Err(SaipError::invalid(
                    "linkPath",
                    "links to DFs are not supported",
                ));
            }
            if let Some(n) = self.fs.node_mut(id) {
                n.kind = NodeKind::Link { target };
            }
        }
        for id in self.fs.ids() {
            if self.fs.resolve_link(id).is_none() {
                return Err(SaipError::invalid("linkPath", "link cycle"));
            }
        }
        Ok(self.fs)
    }
}

fn round_up(n: usize, unit: usize) -> usize {
    if unit == 0 {
        return n;
    }
    n.div_ceil(unit) * unit
}

/// Highest byte a fill list writes (offsets count only when content follows).
fn fill_extent<'f>(fills: impl Iterator<Item = Fill<'f>>) -> Result<usize, SaipError> {
    let mut cursor = 0usize;
    let mut extent = 0usize;
    for f in fills {
        match f {
            Fill::Offset(n) => cursor = cursor.saturating_add(n),
            Fill::Content(c) => {
                cursor = cursor.saturating_add(c.len());
                extent = cursor;
            }
        }
    }
    if extent > MAX_FILE_SIZE {
        return Err(SaipError::invalid(
            "fillFileContent",
            "content beyond 64 KiB",
        ));
    }
    Ok(extent)
}

/// Step 1 of the content algorithm: `size` bytes made of units of `unit` bytes (the record
/// length, or the whole size for transparent EFs).
fn initial_content(size: usize, unit: usize, fcp: &Fcp<'_>, tf: Option<&TemplateFile>) -> Vec<u8> {
    let unit = unit.max(1);
    let mut out = Vec::with_capacity(size.max(unit));
    if let Some(p) = fcp.fill_pattern {
        let last = p.last().copied().unwrap_or(0xFF);
        out.extend(p.iter().copied().take(unit));
        out.resize(unit, last);
    } else if let Some(p) = fcp.repeat_pattern.filter(|p| !p.is_empty()) {
        out.extend(p.iter().copied().cycle().take(unit));
    } else if !tf.is_some_and(|t| expand_default_into(t.default, unit, &mut out)) {
        out.resize(unit, 0xFF);
    }
    cycle_to(&mut out, size);
    out
}

/// Repeats the content of `buf` (one unit) until it is `size` bytes long (cut at `size`); an
/// empty unit stays empty.
fn cycle_to(buf: &mut Vec<u8>, size: usize) {
    let unit = buf.len();
    if unit == 0 || size <= unit {
        buf.truncate(size);
        return;
    }
    // The length stays a multiple of `unit` until the last copy, so copying from the start
    // continues the cycle.
    while buf.len() < size {
        let n = (size - buf.len()).min(buf.len());
        buf.extend_from_within(..n);
    }
}

/// Step 2: one fill operation at the cursor.
fn apply_fill(
    content: &mut [u8],
    cursor: &mut usize,
    fill: &Fill<'_>,
    ctx: &'static str,
) -> Result<(), SaipError> {
    match fill {
        Fill::Offset(n) => *cursor = cursor.saturating_add(*n),
        Fill::Content(c) => {
            let end = cursor
                .checked_add(c.len())
                .ok_or(SaipError::invalid(ctx, "fill overflow"))?;
            let dst = content
                .get_mut(*cursor..end)
                .ok_or(SaipError::ContentTooLong { ctx })?;
            dst.copy_from_slice(c);
            *cursor = end;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_tag_numbers() {
        assert_eq!(context_tag_number(Tag(0xA3)), Some(3));
        assert_eq!(context_tag_number(Tag(0xBF1F)), Some(31));
        assert_eq!(context_tag_number(Tag(0xBF26)), Some(38));
        assert_eq!(context_tag_number(Tag(0x30)), None);
    }

    fn tf(kind: Kind, records: u16, size: u16, default: &'static str) -> TemplateFile {
        TemplateFile {
            field: "t",
            fid: Some(0x6F01),
            kind,
            records: Some(records).filter(|r| *r != 0),
            size: Some(size),
            arr: 1,
            sfi: None,
            default,
            approximate: false,
        }
    }

    #[test]
    fn fill_pattern_repeats_last_byte_and_defaults_apply_per_record() {
        let fcp = Fcp {
            fill_pattern: Some(&[0x01, 0x47]),
            ..Fcp::default()
        };
        assert_eq!(
            initial_content(4, 4, &fcp, None),
            vec![0x01, 0x47, 0x47, 0x47]
        );
        let fcp = Fcp {
            repeat_pattern: Some(&[0x00, 0x01]),
            ..Fcp::default()
        };
        assert_eq!(initial_content(5, 5, &fcp, None), vec![0, 1, 0, 1, 0]);
        let t = tf(Kind::Lf, 2, 3, "00FF...FF");
        assert_eq!(
            initial_content(6, 3, &Fcp::default(), Some(&t)),
            vec![0, 0xFF, 0xFF, 0, 0xFF, 0xFF]
        );
        assert_eq!(
            initial_content(2, 2, &Fcp::default(), None),
            vec![0xFF, 0xFF]
        );
    }

    #[test]
    fn offsets_are_relative_and_records_concatenate() {
        let mut b = Builder::new();
        // EF.DIR-like: 2 records of 4 bytes; write 2 bytes, skip 2, write a whole record.
        let fcp = Fcp {
            descriptor: Some(Descriptor::Ef(EfStructure::LinearFixed { record_len: 4 })),
            fid: Some(0x2F00),
            size: Some(8),
            ..Fcp::default()
        };
        let fills = [
            Fill::Content(&[1, 2]),
            Fill::Offset(2),
            Fill::Content(&[5, 6, 7, 8]),
        ];
        let id = b
            .create_ef(NodeId::MF, None, Some(&fcp), fills.iter().copied(), "t")
            .unwrap();
        let (_, size, content) = b.fs.ef(id).unwrap();
        assert_eq!(size, 8);
        assert_eq!(content, &[1, 2, 0xFF, 0xFF, 5, 6, 7, 8]);
        // GFM-created file without 88: SFI from the FID.
        assert_eq!(b.fs.node(id).unwrap().sfi, None); // 2F00 → 0 is not a valid SFI
        let too_long = [Fill::Offset(7), Fill::Content(&[1, 2])];
        let fcp2 = Fcp {
            fid: Some(0x2F01),
            ..fcp
        };
        assert!(matches!(
            b.create_ef(NodeId::MF, None, Some(&fcp2), too_long.iter().copied(), "t"),
            Err(SaipError::ContentTooLong { .. })
        ));
    }

    #[test]
    fn template_sizes_apply_when_the_package_omits_them() {
        let mut b = Builder::new();
        let t = tf(Kind::Tr, 0, 4, "00000002");
        let id = b
            .create_ef(
                NodeId::MF,
                Some(&t),
                None,
                [Fill::Content(&[0x80])].into_iter(),
                "t",
            )
            .unwrap();
        assert_eq!(b.fs.ef(id).unwrap().2, &[0x80, 0, 0, 2]);
    }
}
