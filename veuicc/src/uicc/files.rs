//! File commands (ETSI TS 102 221 §11.1.1–§11.1.7): SELECT with the FCP template, STATUS,
//! READ/UPDATE BINARY, READ/UPDATE RECORD and SEARCH RECORD, with EF.ARR access checks.

use super::arr::{self, Op};
use super::fs::{EfStructure, NodeId, CURRENT_ADF_FID, MF_FID};
use super::{Uicc, UiccChannel, SW_EOF};
use crate::apdu::{Command, Response, Sw};

/// What SELECT returns (P2 b4..b3, TS 102 221 §11.1.1.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ret {
    Fcp,
    Nothing,
}

fn fids(data: &[u8]) -> Result<Vec<u16>, Sw> {
    if data.is_empty() || !data.len().is_multiple_of(2) {
        return Err(Sw::WRONG_LENGTH);
    }
    Ok(data
        .chunks_exact(2)
        .map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .collect())
}

/// Whether `le` asks for "as much as there is" (short 00 / extended 0000 or absent).
fn le_is_max(le: Option<usize>) -> bool {
    matches!(le, None | Some(256) | Some(65536))
}

fn tlv(tag: u32, v: &[u8], out: &mut Vec<u8>) {
    rsp::tlv::write_tlv(tag, v, out);
}

fn size_bytes(n: usize) -> Vec<u8> {
    if n > 0xFFFF {
        (n as u32).to_be_bytes().to_vec()
    } else {
        (n as u16).to_be_bytes().to_vec()
    }
}

impl Uicc {
    /// Key references listed in a DF's PIN status template as given by the package: either a
    /// compact list of key references or a full PS template (`90 …, 83 01 kr, …`).
    fn template_key_refs(raw: &[u8]) -> Vec<u8> {
        if raw.first() == Some(&0x90) {
            rsp::tlv::TlvIter::new(raw)
                .map_while(Result::ok)
                .filter(|t| t.tag.0 == 0x83)
                .filter_map(|t| t.value.first().copied())
                .collect()
        } else {
            raw.to_vec()
        }
    }

    /// The FCP template of `id` (TS 102 221 §11.1.1.3).
    pub(super) fn fcp(&self, id: NodeId) -> Vec<u8> {
        let Some(node) = self.fs.node(id) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        let arr_ref = |out: &mut Vec<u8>| {
            if let Some(r) = node.arr {
                let top = node.is_adf() || id == NodeId::MF || node.parent == Some(NodeId::MF);
                let fid = r.arr_fid.unwrap_or(if top { 0x2F06 } else { 0x6F06 });
                let [hi, lo] = fid.to_be_bytes();
                tlv(0x8B, &[hi, lo, r.record], out);
            }
        };
        if node.is_dir() {
            tlv(0x82, &[0x78, 0x21], &mut v);
            let fid = if node.is_adf() {
                CURRENT_ADF_FID
            } else {
                node.fid
            };
            tlv(0x83, &fid.to_be_bytes(), &mut v);
            if let Some(aid) = node.aid() {
                tlv(0x84, aid, &mut v);
            }
            if id == NodeId::MF {
                // UICC characteristics (§11.1.1.4.6.1): clock stop allowed, 3 V and 1.8 V.
                let mut a5 = Vec::new();
                tlv(0x80, &[0x71], &mut a5);
                tlv(0xA5, &a5, &mut v);
            }
            tlv(0x8A, &[node.lcsi], &mut v);
            arr_ref(&mut v);
            // PIN status template DO (§11.1.1.4.10): PS_DO bitmap, then the key references.
            let refs = Self::template_key_refs(&node.pin_template);
            if !refs.is_empty() {
                let mut ps = vec![0u8; refs.len().div_ceil(8)];
                for (i, kr) in refs.iter().enumerate() {
                    let enabled = self
                        .pins
                        .find(&self.fs, id, *kr)
                        .and_then(|l| self.pins.get(l))
                        .is_some_and(|p| p.enabled);
                    if enabled {
                        if let Some(b) = ps.get_mut(i / 8) {
                            *b |= 0x80 >> (i % 8);
                        }
                    }
                }
                let mut c6 = Vec::new();
                tlv(0x90, &ps, &mut c6);
                for kr in &refs {
                    tlv(0x83, &[*kr], &mut c6);
                }
                tlv(0xC6, &c6, &mut v);
            }
            tlv(0x81, &size_bytes(self.fs.subtree_size(id)), &mut v);
        } else {
            let Some((structure, size, _)) = self.fs.ef(id) else {
                return Vec::new();
            };
            match structure {
                EfStructure::Transparent => tlv(0x82, &[0x41, 0x21], &mut v),
                EfStructure::BerTlv => tlv(0x82, &[0x79, 0x21], &mut v),
                EfStructure::LinearFixed { record_len } | EfStructure::Cyclic { record_len } => {
                    let fdb = if matches!(structure, EfStructure::Cyclic { .. }) {
                        0x46
                    } else {
                        0x42
                    };
                    let n = size / record_len.max(1);
                    let [rh, rl] = (record_len as u16).to_be_bytes();
                    tlv(0x82, &[fdb, 0x21, rh, rl, n.min(255) as u8], &mut v);
                }
            }
            tlv(0x83, &node.fid.to_be_bytes(), &mut v);
            if node.special_info != 0 {
                let mut a5 = Vec::new();
                tlv(0xC0, &[node.special_info], &mut a5);
                tlv(0xA5, &a5, &mut v);
            }
            tlv(0x8A, &[node.lcsi], &mut v);
            arr_ref(&mut v);
            tlv(0x80, &size_bytes(size), &mut v);
            match node.sfi {
                Some(s) => tlv(0x88, &[s << 3], &mut v),
                None => tlv(0x88, &[], &mut v),
            }
        }
        rsp::tlv::tlv(0x62, &v)
    }

    /// SELECT by FID from the current DF (TS 102 221 §8.4.1).
    fn select_fid(&self, ch: &UiccChannel, fid: u16) -> Option<NodeId> {
        let fs = &self.fs;
        if fid == MF_FID {
            return Some(NodeId::MF);
        }
        if fid == CURRENT_ADF_FID {
            return ch.current_adf;
        }
        let cur = ch.current_df();
        // The current DF itself (an ADF only through 7FFF: its FID is package-internal).
        if fs.node(cur).is_some_and(|n| n.fid == fid && !n.is_adf()) {
            return Some(cur);
        }
        if let Some(c) = fs.child_by_fid(cur, fid, false) {
            return Some(c);
        }
        let parent = fs.parent(cur)?;
        if fs.node(parent).is_some_and(|p| p.fid == fid && !p.is_adf()) {
            return Some(parent);
        }
        fs.child_by_fid(parent, fid, false)
            .filter(|s| fs.node(*s).is_some_and(|n| n.is_dir()))
    }

    fn select_path(&self, ch: &UiccChannel, start: NodeId, path: &[u16]) -> Option<NodeId> {
        let mut cur = start;
        for (i, fid) in path.iter().enumerate() {
            cur = if i == 0 && *fid == CURRENT_ADF_FID {
                ch.current_adf?
            } else {
                self.fs.child_by_fid(cur, *fid, false)?
            };
        }
        Some(cur)
    }

    pub(super) fn select(
        &mut self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<Response, Sw> {
        let ret = match cmd.p2 & 0x0C {
            0x04 | 0x00 => Ret::Fcp,
            0x0C => Ret::Nothing,
            _ => return Err(Sw::INCORRECT_P1P2),
        };
        let target = match cmd.p1 {
            0x00 => {
                if cmd.p2 & 0xF3 != 0 {
                    return Err(Sw::INCORRECT_P1P2);
                }
                if cmd.data.is_empty() {
                    NodeId::MF
                } else {
                    let f = fids(cmd.data)?;
                    let [fid] = f.as_slice() else {
                        return Err(Sw::WRONG_LENGTH);
                    };
                    self.select_fid(ch, *fid).ok_or(Sw::FILE_NOT_FOUND)?
                }
            }
            0x04 => {
                if !(1..=16).contains(&cmd.data.len()) {
                    return Err(Sw::WRONG_LENGTH);
                }
                if cmd.p2 & 0x60 == 0x40 {
                    // Termination of the application session (§11.1.1.2).
                    *ch = UiccChannel::default();
                    return Ok(Response::ok(Vec::new()));
                }
                if cmd.p2 & 0x90 != 0 {
                    return Err(Sw::INCORRECT_P1P2);
                }
                let matches = self.fs.adfs_matching(cmd.data);
                let pos = ch
                    .current_adf
                    .and_then(|a| matches.iter().position(|m| *m == a));
                let pick = match (cmd.p2 & 0x03, pos) {
                    (0x00, _) => matches.first(),
                    (0x01, _) => matches.last(),
                    (0x02, Some(p)) => matches.get(p + 1),
                    (0x02, None) => matches.first(),
                    (_, Some(p)) => p.checked_sub(1).and_then(|q| matches.get(q)),
                    (_, None) => matches.last(),
                };
                *pick.ok_or(Sw::FILE_NOT_FOUND)?
            }
            0x08 | 0x09 => {
                if cmd.p2 & 0xF3 != 0 {
                    return Err(Sw::INCORRECT_P1P2);
                }
                let mut path = fids(cmd.data)?;
                let start = if cmd.p1 == 0x08 {
                    if path.first() == Some(&MF_FID) {
                        path.remove(0);
                    }
                    NodeId::MF
                } else {
                    ch.current_df()
                };
                self.select_path(ch, start, &path)
                    .ok_or(Sw::FILE_NOT_FOUND)?
            }
            _ => return Err(Sw::INCORRECT_P1P2),
        };
        let node = self.fs.node(target).ok_or(Sw::FILE_NOT_FOUND)?;
        if node.is_dir() {
            ch.current_df = Some(target);
            ch.current_ef = None;
            if let Some(adf) = self.fs.enclosing_adf(target) {
                ch.current_adf = Some(adf);
            }
        } else {
            ch.current_df = node.parent;
            ch.current_ef = Some(target);
            if let Some(adf) = self.fs.enclosing_adf(target) {
                ch.current_adf = Some(adf);
            }
        }
        ch.record = None;
        Ok(match ret {
            Ret::Fcp => Response::ok(self.fcp(target)),
            Ret::Nothing => Response::ok(Vec::new()),
        })
    }

    /// STATUS (§11.1.2): P2 00 FCP of the current DF, 01 DF name of the current application,
    /// 0C no data.
    pub(super) fn status(
        &mut self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<Response, Sw> {
        if cmd.p1 > 0x02 {
            return Err(Sw::INCORRECT_P1P2);
        }
        match cmd.p2 {
            0x00 => Ok(Response::ok(self.fcp(ch.current_df()))),
            0x01 => {
                let mut out = Vec::new();
                if let Some(aid) = ch
                    .current_adf
                    .and_then(|a| self.fs.node(a))
                    .and_then(|n| n.aid())
                {
                    tlv(0x84, aid, &mut out);
                }
                Ok(Response::ok(out))
            }
            0x0C => Ok(Response::ok(Vec::new())),
            _ => Err(Sw::INCORRECT_P1P2),
        }
    }

    /// Whether the access rule of `id` for `op` holds in the file's DF context.
    pub(super) fn allowed(&self, ch: &UiccChannel, id: NodeId, op: Op) -> bool {
        let ctx = self.fs.parent(id).unwrap_or(NodeId::MF);
        arr::condition(&self.fs, id, op)
            .holds(&|kr| self.pins.satisfied(&self.fs, ctx, ch.current_adf, kr))
    }

    /// Resolves the EF of a binary command: SFI in P1 (b8 = 1) or the current EF.
    fn binary_target(
        &self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<(NodeId, usize), Sw> {
        if cmd.p1 & 0x80 != 0 {
            if cmd.p1 & 0x60 != 0 {
                return Err(Sw::INCORRECT_P1P2);
            }
            let ef = self
                .fs
                .child_by_sfi(ch.current_df(), cmd.p1 & 0x1F)
                .ok_or(Sw::FILE_NOT_FOUND)?;
            if ch.current_ef != Some(ef) {
                ch.record = None;
            }
            ch.current_ef = Some(ef);
            Ok((ef, usize::from(cmd.p2)))
        } else {
            let ef = ch.current_ef.ok_or(Sw::COMMAND_NOT_ALLOWED_NO_EF)?;
            Ok((ef, (usize::from(cmd.p1 & 0x7F) << 8) | usize::from(cmd.p2)))
        }
    }

    pub(super) fn read_binary(
        &mut self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<Response, Sw> {
        let (ef, offset) = self.binary_target(ch, cmd)?;
        let (structure, size, content) = self.fs.ef(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
        if structure != EfStructure::Transparent {
            return Err(Sw::COMMAND_INCOMPATIBLE);
        }
        if !self.allowed(ch, ef, Op::Read) {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        if offset >= size {
            return Err(Sw::WRONG_P1P2);
        }
        let avail = content.get(offset..).unwrap_or_default();
        if le_is_max(cmd.le) {
            let n = avail.len().min(cmd.le.unwrap_or(256));
            return Ok(Response::ok(avail.get(..n).unwrap_or_default().to_vec()));
        }
        let le = cmd.le.unwrap_or(avail.len());
        if le > avail.len() {
            return Ok(Response {
                data: avail.to_vec(),
                sw: SW_EOF,
            });
        }
        Ok(Response::ok(avail.get(..le).unwrap_or_default().to_vec()))
    }

    pub(super) fn update_binary(
        &mut self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<Response, Sw> {
        let (ef, offset) = self.binary_target(ch, cmd)?;
        let (structure, size, _) = self.fs.ef(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
        if structure != EfStructure::Transparent {
            return Err(Sw::COMMAND_INCOMPATIBLE);
        }
        if !self.allowed(ch, ef, Op::Update) {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        if cmd.data.is_empty() {
            return Err(Sw::WRONG_LENGTH);
        }
        if offset >= size {
            return Err(Sw::WRONG_P1P2);
        }
        let end = offset + cmd.data.len();
        if end > size {
            return Err(Sw::WRONG_LENGTH);
        }
        let content = self.fs.ef_content_mut(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
        content
            .get_mut(offset..end)
            .ok_or(Sw::WRONG_LENGTH)?
            .copy_from_slice(cmd.data);
        self.note_file_change(ef);
        Ok(Response::ok(Vec::new()))
    }

    /// Resolves the EF of a record command: SFI in P2 b8..b4 or the current EF.
    fn record_target(
        &self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<(NodeId, usize, usize, bool), Sw> {
        let sfi = cmd.p2 >> 3;
        let ef = if sfi != 0 {
            if sfi == 0x1F {
                return Err(Sw::INCORRECT_P1P2);
            }
            let ef = self
                .fs
                .child_by_sfi(ch.current_df(), sfi)
                .ok_or(Sw::FILE_NOT_FOUND)?;
            if ch.current_ef != Some(ef) {
                ch.record = None;
            }
            ch.current_ef = Some(ef);
            ef
        } else {
            ch.current_ef.ok_or(Sw::COMMAND_NOT_ALLOWED_NO_EF)?
        };
        let (structure, size, _) = self.fs.ef(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
        let (rl, cyclic) = match structure {
            EfStructure::LinearFixed { record_len } => (record_len, false),
            EfStructure::Cyclic { record_len } => (record_len, true),
            _ => return Err(Sw::COMMAND_INCOMPATIBLE),
        };
        Ok((ef, rl, size / rl.max(1), cyclic))
    }

    /// The record a mode addresses (TS 102 221 §11.1.5); `Ok((record, moves_pointer))`.
    fn pick_record(
        ch: &UiccChannel,
        p1: u8,
        mode: u8,
        n: usize,
        cyclic: bool,
    ) -> Result<(usize, bool), Sw> {
        let r = match mode {
            0x04 => {
                if p1 == 0 {
                    (ch.record.ok_or(Sw::RECORD_NOT_FOUND)?, false)
                } else {
                    (usize::from(p1), false)
                }
            }
            0x02 => match ch.record {
                None => (1, true),
                Some(r) if r >= n => {
                    if cyclic {
                        (1, true)
                    } else {
                        return Err(Sw::RECORD_NOT_FOUND);
                    }
                }
                Some(r) => (r + 1, true),
            },
            0x03 => match ch.record {
                None => (n, true),
                Some(r) if r <= 1 => {
                    if cyclic {
                        (n, true)
                    } else {
                        return Err(Sw::RECORD_NOT_FOUND);
                    }
                }
                Some(r) => (r - 1, true),
            },
            _ => return Err(Sw::INCORRECT_P1P2),
        };
        if r.0 == 0 || r.0 > n {
            return Err(Sw::RECORD_NOT_FOUND);
        }
        Ok(r)
    }

    pub(super) fn read_record(
        &mut self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<Response, Sw> {
        let (ef, rl, n, cyclic) = self.record_target(ch, cmd)?;
        if !self.allowed(ch, ef, Op::Read) {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        let (rec, moves) = Self::pick_record(ch, cmd.p1, cmd.p2 & 0x07, n, cyclic)?;
        if !le_is_max(cmd.le) && cmd.le != Some(rl) {
            return Err(Sw::wrong_le(rl));
        }
        let (_, _, content) = self.fs.ef(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
        let start = (rec - 1) * rl;
        let data = content
            .get(start..start + rl)
            .ok_or(Sw::RECORD_NOT_FOUND)?
            .to_vec();
        if moves {
            ch.record = Some(rec);
        }
        Ok(Response::ok(data))
    }

    pub(super) fn update_record(
        &mut self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<Response, Sw> {
        let (ef, rl, n, cyclic) = self.record_target(ch, cmd)?;
        let mode = cmd.p2 & 0x07;
        if cyclic && mode != 0x03 {
            return Err(Sw::INCORRECT_P1P2);
        }
        if !self.allowed(ch, ef, Op::Update) {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        if cmd.data.len() != rl {
            return Err(Sw::WRONG_LENGTH);
        }
        if cyclic {
            // The oldest record is overwritten and becomes record 1 (§8.3.3).
            let content = self.fs.ef_content_mut(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
            content.truncate(rl * n.saturating_sub(1));
            let mut new = cmd.data.to_vec();
            new.append(content);
            *content = new;
            ch.record = Some(1);
        } else {
            let (rec, moves) = Self::pick_record(ch, cmd.p1, mode, n, false)?;
            let content = self.fs.ef_content_mut(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
            let start = (rec - 1) * rl;
            content
                .get_mut(start..start + rl)
                .ok_or(Sw::RECORD_NOT_FOUND)?
                .copy_from_slice(cmd.data);
            if moves {
                ch.record = Some(rec);
            }
        }
        self.note_file_change(ef);
        Ok(Response::ok(Vec::new()))
    }

    /// SEARCH RECORD, simple search (§11.1.7, P2 mode 04 forward / 05 backward from P1): the
    /// numbers of the records that start with the pattern.
    pub(super) fn search_record(
        &mut self,
        ch: &mut UiccChannel,
        cmd: &Command<'_>,
    ) -> Result<Response, Sw> {
        let (ef, rl, n, _) = self.record_target(ch, cmd)?;
        let mode = cmd.p2 & 0x07;
        if !matches!(mode, 0x04 | 0x05) {
            return Err(Sw::INCORRECT_P1P2);
        }
        if !self.allowed(ch, ef, Op::Read) {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        if cmd.data.is_empty() || cmd.data.len() > rl {
            return Err(Sw::WRONG_LENGTH);
        }
        let from = if cmd.p1 == 0 { 1 } else { usize::from(cmd.p1) };
        if from > n {
            return Err(Sw::RECORD_NOT_FOUND);
        }
        let (_, _, content) = self.fs.ef(ef).ok_or(Sw::COMMAND_INCOMPATIBLE)?;
        let records: Vec<usize> = if mode == 0x04 {
            (from..=n).collect()
        } else {
            (1..=from).rev().collect()
        };
        let hits: Vec<u8> = records
            .into_iter()
            .filter(|r| {
                content
                    .get((r - 1) * rl..r * rl)
                    .is_some_and(|rec| rec.starts_with(cmd.data))
            })
            .map(|r| r.min(255) as u8)
            .collect();
        if let Some(first) = hits.first() {
            ch.record = Some(usize::from(*first));
        }
        Ok(Response::ok(hits))
    }
}
