//! The UICC side of the card for the enabled profile: file system, PINs and NAA authentication,
//! driven by ETSI TS 102 221 §11 commands (sans-IO).
//!
//! [`Uicc::from_package`] builds the state from a parsed SAIP package; [`Uicc::handle`] answers
//! one command on one logical channel, whose volatile state ([`UiccChannel`]) the caller keeps.
//! Persistent changes (file updates, PIN counters and values, SQN) are queued as
//! [`UiccChange`]s: the card core drains and stores them, and replays them with
//! [`Uicc::apply_change`] after rebuilding from the package. GET RESPONSE / `61xx` chaining is the
//! card core's job: responses here may be longer than 256 bytes.

pub mod arr;
pub mod auth;
mod files;
pub mod fs;
pub mod pin;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::apdu::{Command, Response, Sw};
use crate::profile::saip::{AkaAlgorithm, AkaConfig, AkaParameters, ProfilePackage};
use auth::{AkaOutcome, Milenage};
use fs::{FileKey, FileSystem, NodeId};
use pin::{PinEffect, PinRecord, PinState};

/// TS 102 221 §10.2.1.2: end of file/record reached before reading Le bytes.
pub const SW_EOF: Sw = Sw(0x6282);
/// TS 31.102 §7.3.1: authentication error, incorrect MAC.
pub const SW_AUTH_MAC: Sw = Sw(0x9862);

/// Volatile state of one logical channel (TS 102 221 §8.5): selected files and record pointer.
/// `Default` = MF selected, no application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiccChannel {
    current_df: Option<NodeId>,
    current_adf: Option<NodeId>,
    current_ef: Option<NodeId>,
    record: Option<usize>,
}

impl UiccChannel {
    /// The current DF (MF when nothing else was selected).
    pub fn current_df(&self) -> NodeId {
        self.current_df.unwrap_or(NodeId::MF)
    }
    pub fn current_adf(&self) -> Option<NodeId> {
        self.current_adf
    }
    pub fn current_ef(&self) -> Option<NodeId> {
        self.current_ef
    }
}

/// A persistent change to replay after a rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UiccChange {
    /// New content of an EF (whole body; for cyclic EFs in record order, newest first).
    FileContent {
        file: FileKey,
        #[serde(with = "hex_bytes")]
        content: Vec<u8>,
    },
    /// New persistent state of a PIN defined in the DF `context`.
    Pin {
        context: FileKey,
        key_ref: u8,
        state: PinRecord,
    },
    /// New retry counter of a PUK.
    Puk { key_ref: u8, retries_left: u8 },
    /// Highest accepted SQN of an NAA (Milenage).
    Sqn {
        #[serde(with = "hex_bytes")]
        aid: Vec<u8>,
        #[serde(with = "hex_bytes")]
        sqn: Vec<u8>,
    },
}

impl UiccChange {
    /// What this change sets, independent of the new value: a later change with the same slot
    /// supersedes an earlier one, so the store keeps one record per slot.
    pub fn slot(&self) -> String {
        match self {
            UiccChange::FileContent { file, .. } => {
                format!("file:{}", serde_json::to_string(file).unwrap_or_default())
            }
            UiccChange::Pin {
                context, key_ref, ..
            } => format!(
                "pin:{}:{key_ref:02X}",
                serde_json::to_string(context).unwrap_or_default()
            ),
            UiccChange::Puk { key_ref, .. } => format!("puk:{key_ref:02X}"),
            UiccChange::Sqn { aid, .. } => format!("sqn:{}", hex::encode_upper(aid)),
        }
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode_upper(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let h = String::deserialize(d)?;
        hex::decode(h).map_err(serde::de::Error::custom)
    }
}

/// Why a persisted change could not be replayed (the package and the store disagree).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UiccError {
    #[error("no file {0:?}")]
    UnknownFile(FileKey),
    #[error("file {0:?} has another size or is not an EF")]
    SizeMismatch(FileKey),
    #[error("no PIN {key_ref:02X} in {context:?}")]
    UnknownPin { context: FileKey, key_ref: u8 },
    #[error("no PUK {0:02X}")]
    UnknownPuk(u8),
    #[error("bad SQN record")]
    BadSqn,
    #[error("package cannot run: {0}")]
    Package(&'static str),
}

/// An application listed in EF.DIR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirApp {
    pub aid: Vec<u8>,
    pub label: Option<String>,
}

/// The UICC of the enabled profile.
#[derive(Debug, Clone)]
pub struct Uicc {
    fs: FileSystem,
    pins: PinState,
    aka: Vec<AkaParameters>,
    sqn: Vec<(Vec<u8>, [u8; 6])>,
    usim_aid: Option<Vec<u8>>,
    isim_aid: Option<Vec<u8>>,
    changes: Vec<UiccChange>,
}

impl Uicc {
    /// Builds the UICC from a parsed package (fresh state: no persisted changes applied).
    ///
    /// Fails when the package has no application the UICC can run an NAA for (an AKA
    /// parameter set naming an ADF that does not exist).
    pub fn from_package(p: &ProfilePackage) -> Result<Uicc, UiccError> {
        Self::check_package(p)?;
        Ok(Self::build(p.fs.clone(), p))
    }

    /// [`Uicc::from_package`] taking the package by value: its file system is moved, not copied.
    pub fn from_package_owned(mut p: ProfilePackage) -> Result<Uicc, UiccError> {
        Self::check_package(&p)?;
        let fs = std::mem::take(&mut p.fs);
        Ok(Self::build(fs, &p))
    }

    fn check_package(p: &ProfilePackage) -> Result<(), UiccError> {
        for a in &p.aka {
            if let Some(aid) = &a.aid {
                if p.fs.adf_by_aid(aid).is_none() {
                    return Err(UiccError::Package("akaParameter names a missing ADF"));
                }
            }
        }
        Ok(())
    }

    /// The UICC of `p` with the file system `fs` (`p.fs` or a copy of it).
    fn build(fs: FileSystem, p: &ProfilePackage) -> Uicc {
        let mut u = Uicc {
            fs,
            pins: PinState::from_package(p),
            aka: p.aka.clone(),
            sqn: Vec::new(),
            usim_aid: p.usim_aid.clone(),
            isim_aid: p.isim_aid.clone(),
            changes: Vec::new(),
        };
        u.ensure_ef_dir();
        u
    }

    /// Whether an ADF's AID starts with `prefix` (partial DF name, TS 102 221 §8.4.2).
    pub fn has_aid_prefix(&self, prefix: &[u8]) -> bool {
        !self.fs.adfs_matching(prefix).is_empty()
    }

    /// The service provider name from EF.SPN (ADF.USIM/6F46, TS 31.102 §4.2.12), decoded.
    pub fn service_provider_name(&self) -> Option<String> {
        let adf = self.fs.adf_by_aid(self.usim_aid.as_deref()?)?;
        let id = self.fs.child_by_fid(adf, 0x6F46, false)?;
        let (_, _, c) = self.fs.ef(id)?;
        let name = text::decode_alpha(c.get(1..)?);
        (!name.is_empty()).then_some(name)
    }

    /// Reads an EF through the command interface on a scratch channel, as a terminal would:
    /// SELECT by AID when `aid` is given, SELECT by path (from the ADF, else from the MF), then
    /// READ BINARY, or READ RECORD of every record. Access conditions apply (`None` on 6982).
    pub fn read_ef(&mut self, aid: Option<&[u8]>, path: &[u16]) -> Option<Vec<u8>> {
        let mut ch = UiccChannel::default();
        let run = |u: &mut Uicc, ch: &mut UiccChannel, raw: Vec<u8>| -> Option<Response> {
            let cmd = Command::parse(&raw).ok()?;
            let r = u.handle(ch, &cmd);
            r.sw.is_success().then_some(r)
        };
        let mut p: Vec<u8> = path.iter().flat_map(|f| f.to_be_bytes()).collect();
        if let Some(aid) = aid {
            run(
                self,
                &mut ch,
                crate::apdu::build(0x00, 0xA4, 0x04, 0x0C, aid, None),
            )?;
            if !p.is_empty() {
                run(
                    self,
                    &mut ch,
                    crate::apdu::build(0x00, 0xA4, 0x09, 0x0C, &p, None),
                )?;
            }
        } else {
            if p.starts_with(&[0x3F, 0x00]) {
                p.drain(..2);
            }
            run(
                self,
                &mut ch,
                crate::apdu::build(0x00, 0xA4, 0x08, 0x0C, &p, None),
            )?;
        }
        let ef = ch.current_ef()?;
        let (structure, size, _) = self.fs.ef(ef)?;
        let mut out = Vec::with_capacity(size);
        match structure.record_len() {
            None => {
                while out.len() < size {
                    let off = out.len();
                    let n = (size - off).min(256);
                    let raw =
                        crate::apdu::build(0x00, 0xB0, (off >> 8) as u8, off as u8, &[], Some(n));
                    let r = run(self, &mut ch, raw)?;
                    if r.data.is_empty() {
                        break;
                    }
                    out.extend_from_slice(&r.data);
                }
            }
            Some(rl) => {
                for rec in 1..=(size / rl.max(1)).min(255) {
                    let raw = crate::apdu::build(0x00, 0xB2, rec as u8, 0x04, &[], Some(rl));
                    out.extend_from_slice(&run(self, &mut ch, raw)?.data);
                }
            }
        }
        Some(out)
    }

    /// The file system (read-only).
    pub fn fs(&self) -> &FileSystem {
        &self.fs
    }

    /// PINs and PUKs (read-only).
    pub fn pins(&self) -> &PinState {
        &self.pins
    }

    pub fn usim_aid(&self) -> Option<&[u8]> {
        self.usim_aid.as_deref()
    }

    pub fn isim_aid(&self) -> Option<&[u8]> {
        self.isim_aid.as_deref()
    }

    /// Card reset: verification status is lost (channels are the caller's to reset).
    pub fn reset(&mut self) {
        self.pins.reset();
    }

    /// Content of the EF at `path` from the MF (ADFs by their package temporary FID).
    pub fn read_file_by_path(&self, path: &[u16]) -> Option<Vec<u8>> {
        self.fs.read_path(path)
    }

    /// Content of the EF named by `key`.
    pub fn read_file(&self, key: &FileKey) -> Option<Vec<u8>> {
        let id = self.fs.node_by_key(key)?;
        self.fs.ef(id).map(|(_, _, c)| c.to_vec())
    }

    /// Applications listed in EF.DIR (records `61 {4F AID, 50 label}`).
    pub fn ef_dir_apps(&self) -> Vec<DirApp> {
        let Some(id) = self.fs.child_by_fid(NodeId::MF, 0x2F00, false) else {
            return Vec::new();
        };
        let Some((structure, _, content)) = self.fs.ef(id) else {
            return Vec::new();
        };
        let Some(rl) = structure.record_len() else {
            return Vec::new();
        };
        content
            .chunks(rl)
            .filter_map(|rec| {
                let t = rsp::tlv::read_tlv(rec).ok()?.0;
                if t.tag.0 != 0x61 {
                    return None;
                }
                let aid = t.find(0x4F).ok()??.value.to_vec();
                let label = t
                    .find(0x50)
                    .ok()
                    .flatten()
                    .map(|l| String::from_utf8_lossy(l.value).into_owned());
                Some(DirApp { aid, label })
            })
            .collect()
    }

    /// Adds a record for every ADF that EF.DIR does not list, in a free (FF) record.
    fn ensure_ef_dir(&mut self) {
        let listed: Vec<Vec<u8>> = self.ef_dir_apps().into_iter().map(|a| a.aid).collect();
        let missing: Vec<Vec<u8>> = self
            .fs
            .ids()
            .filter_map(|id| self.fs.node(id).and_then(|n| n.aid()).map(<[u8]>::to_vec))
            .filter(|aid| !listed.contains(aid))
            .collect();
        let Some(dir) = self.fs.child_by_fid(NodeId::MF, 0x2F00, false) else {
            return;
        };
        let Some(rl) = self.fs.ef(dir).and_then(|e| e.0.record_len()) else {
            return;
        };
        for aid in missing {
            let mut rec = rsp::tlv::tlv(0x61, &rsp::tlv::tlv(0x4F, &aid));
            if rec.len() > rl {
                continue;
            }
            rec.resize(rl, 0xFF);
            let Some(content) = self.fs.ef_content_mut(dir) else {
                return;
            };
            let Some(slot) = content
                .chunks_mut(rl)
                .find(|r| r.first().is_none_or(|b| *b == 0xFF))
            else {
                return;
            };
            slot.copy_from_slice(&rec);
        }
    }

    /// Takes the persistent changes made since the last call (coalesced per file / PIN).
    pub fn drain_changes(&mut self) -> Vec<UiccChange> {
        std::mem::take(&mut self.changes)
    }

    fn push_change(&mut self, c: UiccChange) {
        self.changes.retain(|old| match (old, &c) {
            (UiccChange::FileContent { file: a, .. }, UiccChange::FileContent { file: b, .. }) => {
                a != b
            }
            (
                UiccChange::Pin {
                    context: a,
                    key_ref: ka,
                    ..
                },
                UiccChange::Pin {
                    context: b,
                    key_ref: kb,
                    ..
                },
            ) => a != b || ka != kb,
            (UiccChange::Puk { key_ref: a, .. }, UiccChange::Puk { key_ref: b, .. }) => a != b,
            (UiccChange::Sqn { aid: a, .. }, UiccChange::Sqn { aid: b, .. }) => a != b,
            _ => true,
        });
        self.changes.push(c);
    }

    /// Replays a persisted change (after rebuilding from the same package).
    pub fn apply_change(&mut self, c: &UiccChange) -> Result<(), UiccError> {
        match c {
            UiccChange::FileContent { file, content } => {
                let id = self
                    .fs
                    .node_by_key(file)
                    .ok_or_else(|| UiccError::UnknownFile(file.clone()))?;
                let slot = self
                    .fs
                    .ef_content_mut(id)
                    .ok_or_else(|| UiccError::SizeMismatch(file.clone()))?;
                if slot.len() != content.len() {
                    return Err(UiccError::SizeMismatch(file.clone()));
                }
                slot.copy_from_slice(content);
                Ok(())
            }
            UiccChange::Pin {
                context,
                key_ref,
                state,
            } => {
                let unknown = || UiccError::UnknownPin {
                    context: context.clone(),
                    key_ref: *key_ref,
                };
                let df = self.fs.node_by_key(context).ok_or_else(unknown)?;
                let loc = self.pins.find(&self.fs, df, *key_ref).ok_or_else(unknown)?;
                if self.pins.owner(loc) != Some(df) {
                    return Err(unknown());
                }
                self.pins.apply_pin(loc, state);
                Ok(())
            }
            UiccChange::Puk {
                key_ref,
                retries_left,
            } => {
                if self.pins.apply_puk(*key_ref, *retries_left) {
                    Ok(())
                } else {
                    Err(UiccError::UnknownPuk(*key_ref))
                }
            }
            UiccChange::Sqn { aid, sqn } => {
                let s: [u8; 6] = sqn.as_slice().try_into().map_err(|_| UiccError::BadSqn)?;
                self.set_sqn(aid, s);
                Ok(())
            }
        }
    }

    fn set_sqn(&mut self, aid: &[u8], s: [u8; 6]) {
        match self.sqn.iter_mut().find(|(a, _)| a == aid) {
            Some(e) => e.1 = s,
            None => self.sqn.push((aid.to_vec(), s)),
        }
    }

    /// Answers one command on channel `ch` (TS 102 221 §11.1, TS 31.102 §7.1).
    pub fn handle(&mut self, ch: &mut UiccChannel, cmd: &Command<'_>) -> Response {
        let r = match cmd.ins {
            0xA4 => self.select(ch, cmd),
            0xB0 => self.read_binary(ch, cmd),
            0xD6 => self.update_binary(ch, cmd),
            0xB2 => self.read_record(ch, cmd),
            0xDC => self.update_record(ch, cmd),
            0xA2 => self.search_record(ch, cmd),
            0xF2 => self.status(ch, cmd),
            0x20 | 0x24 | 0x26 | 0x28 | 0x2C => self.pin_command(ch, cmd),
            0x88 => self.authenticate(ch, cmd),
            _ => Err(Sw::INS_NOT_SUPPORTED),
        };
        r.unwrap_or_else(Response::sw)
    }

    fn note_file_change(&mut self, id: NodeId) {
        let Some(target) = self.fs.resolve_link(id) else {
            return;
        };
        let Some((_, _, content)) = self.fs.ef(target) else {
            return;
        };
        let c = UiccChange::FileContent {
            file: self.fs.file_key(target),
            content: content.to_vec(),
        };
        self.push_change(c);
    }

    fn note_pin_effect(&mut self, e: PinEffect) {
        let (loc, puk) = match e {
            PinEffect::None => (None, None),
            PinEffect::Pin(l) => (Some(l), None),
            PinEffect::Puk(p) => (None, Some(p)),
            PinEffect::PinAndPuk(l, p) => (Some(l), Some(p)),
        };
        if let Some(l) = loc {
            if let (Some(owner), Some(pin)) = (self.pins.owner(l), self.pins.get(l)) {
                let c = UiccChange::Pin {
                    context: self.fs.file_key(owner),
                    key_ref: pin.key_ref,
                    state: pin.record(),
                };
                self.push_change(c);
            }
        }
        if let Some(p) = puk.and_then(|p| self.pins.puk(p)) {
            let c = UiccChange::Puk {
                key_ref: p.key_ref,
                retries_left: p.retries_left,
            };
            self.push_change(c);
        }
    }

    /// VERIFY / CHANGE / DISABLE / ENABLE / UNBLOCK PIN (TS 102 221 §11.1.9–§11.1.13).
    fn pin_command(&mut self, ch: &mut UiccChannel, cmd: &Command<'_>) -> Result<Response, Sw> {
        if cmd.p1 != 0x00 {
            return Err(Sw::INCORRECT_P1P2);
        }
        let kr = cmd.p2;
        if !matches!(kr, 0x01..=0x08 | 0x0A..=0x0E | 0x11 | 0x81..=0x88 | 0x8A..=0x8E) {
            return Err(Sw::INCORRECT_P1P2);
        }
        let loc = self
            .pins
            .find_in_context(&self.fs, ch.current_df(), ch.current_adf, kr)
            .ok_or(Sw::REFERENCE_NOT_FOUND)?;
        let (sw, effect) = match cmd.ins {
            0x20 => self.pins.verify(loc, cmd.data),
            0x24 => self.pins.change(loc, cmd.data),
            0x26 => self.pins.set_enabled(loc, cmd.data, false),
            0x28 => self.pins.set_enabled(loc, cmd.data, true),
            _ => self.pins.unblock(loc, cmd.data),
        };
        self.note_pin_effect(effect);
        Ok(Response::sw(sw))
    }

    fn aka_params(&self, aid: &[u8], depth: usize) -> Option<&AkaParameters> {
        let p = self.aka.iter().find(|a| a.aid.as_deref() == Some(aid))?;
        match &p.config {
            AkaConfig::Mapping { source_aid, .. } if depth < 2 => {
                self.aka_params(source_aid, depth + 1)
            }
            AkaConfig::Mapping { .. } => None,
            AkaConfig::Algorithm { .. } => Some(p),
        }
    }

    /// Whether EF.UST (6F38) in `adf` marks service `n` available (TS 31.102 §4.2.8).
    fn service_available(&self, adf: NodeId, n: usize) -> bool {
        let Some(id) = self.fs.child_by_fid(adf, 0x6F38, false) else {
            return false;
        };
        let Some((_, _, c)) = self.fs.ef(id) else {
            return false;
        };
        let i = n.saturating_sub(1);
        c.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }

    /// AUTHENTICATE (TS 31.102 §7.1.2, TS 102 221 §11.1.16): P2 81 = 3G context, 80 = GSM.
    fn authenticate(&mut self, ch: &mut UiccChannel, cmd: &Command<'_>) -> Result<Response, Sw> {
        if cmd.p1 != 0x00 {
            return Err(Sw::INCORRECT_P1P2);
        }
        let adf = ch.current_adf.ok_or(Sw::CONDITIONS_NOT_SATISFIED)?;
        let aid = self
            .fs
            .node(adf)
            .and_then(|n| n.aid())
            .map(<[u8]>::to_vec)
            .ok_or(Sw::CONDITIONS_NOT_SATISFIED)?;
        if !self.pins.satisfied(&self.fs, adf, Some(adf), 0x01) {
            return Err(Sw::SECURITY_NOT_SATISFIED);
        }
        let params = self
            .aka_params(&aid, 0)
            .cloned()
            .ok_or(Sw::CONDITIONS_NOT_SATISFIED)?;
        let AkaConfig::Algorithm {
            algorithm,
            options,
            k,
            opc,
            rotation,
            xoring,
            ..
        } = &params.config
        else {
            return Err(Sw::CONDITIONS_NOT_SATISFIED);
        };
        let k: [u8; 16] = k
            .expose()
            .try_into()
            .map_err(|_| Sw::CONDITIONS_NOT_SATISFIED)?;
        let gsm = match cmd.p2 {
            0x81 => false,
            0x80 => true,
            _ => return Err(Sw::INCORRECT_P1P2),
        };
        let rand = parse_lv16(cmd.data, 0).ok_or(Sw::WRONG_LENGTH)?;
        let milenage = || -> Result<Milenage, Sw> {
            let opc: [u8; 16] = opc
                .expose()
                .try_into()
                .map_err(|_| Sw::CONDITIONS_NOT_SATISFIED)?;
            Ok(Milenage::new(&k, &opc, rotation, xoring.expose()))
        };
        // Test algorithm RES length: algorithmOptions 02 = 128 bits (TS.48), 01 = 64 bits.
        let res_len = if *options & 0x02 != 0 || *options == 0 {
            16
        } else {
            8
        };
        if gsm {
            if cmd.data.len() != 17 {
                return Err(Sw::WRONG_LENGTH);
            }
            let (res, ck, ik) = match algorithm {
                AkaAlgorithm::TestAlgorithm => {
                    let mut x = rand;
                    for (a, b) in x.iter_mut().zip(k.iter()) {
                        *a ^= b;
                    }
                    let mut ck = x;
                    ck.rotate_left(1);
                    let mut ik = x;
                    ik.rotate_left(2);
                    (x.iter().copied().take(res_len).collect::<Vec<u8>>(), ck, ik)
                }
                AkaAlgorithm::Milenage => {
                    let (res, ck, ik, _) = milenage()?.f2345(&rand);
                    (res.to_vec(), ck, ik)
                }
                _ => return Err(Sw::CONDITIONS_NOT_SATISFIED),
            };
            let mut out = vec![0x04];
            out.extend_from_slice(&auth::c2(&res));
            out.push(0x08);
            out.extend_from_slice(&auth::c3(&ck, &ik));
            return Ok(Response::ok(out));
        }
        if cmd.data.len() != 34 {
            return Err(Sw::WRONG_LENGTH);
        }
        let autn = parse_lv16(cmd.data, 17).ok_or(Sw::WRONG_LENGTH)?;
        let outcome = match algorithm {
            AkaAlgorithm::TestAlgorithm => auth::test_algorithm(&k, &rand, &autn, res_len),
            AkaAlgorithm::Milenage => {
                let m = milenage()?;
                let sqn_ms = self
                    .sqn
                    .iter()
                    .find(|(a, _)| *a == aid)
                    .map_or([0u8; 6], |e| e.1);
                let (o, accepted) = m.authenticate(&rand, &autn, &sqn_ms, &|s| s > &sqn_ms);
                if let Some(s) = accepted {
                    self.set_sqn(&aid, s);
                    self.push_change(UiccChange::Sqn {
                        aid: aid.clone(),
                        sqn: s.to_vec(),
                    });
                }
                o
            }
            _ => return Err(Sw::CONDITIONS_NOT_SATISFIED),
        };
        match outcome {
            AkaOutcome::MacFailure => Err(SW_AUTH_MAC),
            AkaOutcome::SyncFailure { auts } => {
                let mut out = vec![0xDC, 0x0E];
                out.extend_from_slice(&auts);
                Ok(Response::ok(out))
            }
            AkaOutcome::Ok(v) => {
                let mut out = vec![0xDB];
                for part in [&v.res[..], &v.ck[..], &v.ik[..]] {
                    out.push(part.len() as u8);
                    out.extend_from_slice(part);
                }
                // Kc when service n°27 (GSM access) is available (TS 31.102 §7.1.2.1).
                if self.service_available(adf, 27) {
                    out.push(0x08);
                    out.extend_from_slice(&auth::c3(&v.ck, &v.ik));
                }
                Ok(Response::ok(out))
            }
        }
    }
}

/// Reads `L V` with L = 16 at `at`.
fn parse_lv16(data: &[u8], at: usize) -> Option<[u8; 16]> {
    if data.get(at) != Some(&16) {
        return None;
    }
    data.get(at + 1..at + 17)?.try_into().ok()
}

#[cfg(test)]
mod tests;
