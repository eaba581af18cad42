//! The modem's own use of the SIM, as a terminal (TS 31.101/102 221, TS 31.102): T=0-style
//! response handling, a scratch logical channel so the host's basic-channel selections are not
//! disturbed, reading ICCID/IMSI/AD/SPN/MSISDN, PIN status, `+CRSM` and AUTHENTICATE.

use veuicc::apdu::{build, Class};

use super::slots::Card;

/// ADF.USIM application code prefix (RID A000000087, application 1002; TS 101 220 Annex E).
pub const USIM_AID_PREFIX: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x87, 0x10, 0x02];

/// A response APDU split into data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Resp {
    fn from_raw(mut raw: Vec<u8>) -> Resp {
        if raw.len() < 2 {
            return Resp {
                data: Vec::new(),
                sw: 0x6F00,
            };
        }
        let sw2 = raw.pop().unwrap_or(0);
        let sw1 = raw.pop().unwrap_or(0x6F);
        Resp {
            data: raw,
            sw: u16::from_be_bytes([sw1, sw2]),
        }
    }

    pub fn ok(&self) -> bool {
        self.sw == 0x9000 || self.sw >> 8 == 0x91
    }

    pub fn sw1(&self) -> u8 {
        (self.sw >> 8) as u8
    }

    pub fn sw2(&self) -> u8 {
        self.sw as u8
    }
}

/// Sends `apdu` as a T=0 terminal would for itself: `61xx` → GET RESPONSE (concatenating),
/// `6Cxx` → the same command again with Le = xx.
pub fn xfer(card: &mut Card, apdu: &[u8]) -> Resp {
    let mut r = Resp::from_raw(card.transmit(apdu));
    if r.sw1() == 0x6C && apdu.len() >= 4 {
        let mut again = apdu.to_vec();
        if apdu.len() == 5 {
            if let Some(le) = again.get_mut(4) {
                *le = r.sw2();
            }
        } else if apdu.len() == 4 {
            again.push(r.sw2());
        } else {
            return r;
        }
        r = Resp::from_raw(card.transmit(&again));
    }
    let cla = apdu.first().copied().unwrap_or(0);
    let ch = Class::parse(cla).map(|c| c.channel).unwrap_or(0);
    let mut data = std::mem::take(&mut r.data);
    let mut rounds = 0;
    while r.sw1() == 0x61 && rounds < 64 {
        rounds += 1;
        let le = usize::from(r.sw2());
        let gr = build(
            Class::encode(ch, false),
            0xC0,
            0,
            0,
            &[],
            Some(if le == 0 { 256 } else { le }),
        );
        r = Resp::from_raw(card.transmit(&gr));
        data.append(&mut r.data);
    }
    r.data = data;
    r
}

/// A logical channel the modem opened for itself (or the basic channel when the card has no
/// free channel); closed on drop.
#[derive(Debug)]
pub struct Session<'a> {
    card: &'a mut Card,
    ch: u8,
    opened: bool,
}

/// File size and record layout from an FCP template (TS 102 221 §11.1.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileInfo {
    pub size: usize,
    /// (record length, number of records) for linear fixed and cyclic EFs.
    pub records: Option<(usize, usize)>,
}

/// Parses the `62` FCP template.
pub fn parse_fcp(fcp: &[u8]) -> Option<FileInfo> {
    let t = rsp::tlv::read_tlv(fcp).ok()?.0;
    if t.tag.0 != 0x62 {
        return None;
    }
    let mut info = FileInfo::default();
    for c in t.children().flatten() {
        match c.tag.0 {
            0x80 => {
                info.size = c
                    .value
                    .iter()
                    .fold(0usize, |a, b| (a << 8) | usize::from(*b))
            }
            0x82 if c.value.len() >= 5 => {
                let structure = c.value.first().copied().unwrap_or(0) & 0x07;
                if structure == 0x02 || structure == 0x06 {
                    let rl = usize::from(u16::from_be_bytes([
                        c.value.get(2).copied().unwrap_or(0),
                        c.value.get(3).copied().unwrap_or(0),
                    ]));
                    let n = usize::from(c.value.get(4).copied().unwrap_or(0));
                    info.records = Some((rl, n));
                }
            }
            _ => {}
        }
    }
    Some(info)
}

impl<'a> Session<'a> {
    /// Opens a scratch channel (MANAGE CHANNEL, TS 102 221 §11.1.17), or uses the basic channel.
    pub fn open(card: &'a mut Card) -> Session<'a> {
        let r = xfer(card, &[0x00, 0x70, 0x00, 0x00, 0x01]);
        match (r.ok(), r.data.first()) {
            (true, Some(&ch)) if (1..20).contains(&ch) => Session {
                card,
                ch,
                opened: true,
            },
            _ => Session {
                card,
                ch: 0,
                opened: false,
            },
        }
    }

    /// The channel in use.
    pub fn channel(&self) -> u8 {
        self.ch
    }

    /// Sends one command on this session's channel.
    pub fn cmd(
        &mut self,
        cla: u8,
        ins: u8,
        p1: u8,
        p2: u8,
        data: &[u8],
        le: Option<usize>,
    ) -> Resp {
        let proprietary = cla & 0x80 != 0;
        let apdu = build(Class::encode(self.ch, proprietary), ins, p1, p2, data, le);
        xfer(self.card, &apdu)
    }

    /// SELECT MF (returning its FCP).
    pub fn select_mf(&mut self) -> Resp {
        self.cmd(0x00, 0xA4, 0x00, 0x04, &[0x3F, 0x00], Some(256))
    }

    /// SELECT by file identifier from the current DF, returning the FCP.
    pub fn select_fid(&mut self, fid: u16) -> Resp {
        self.cmd(0x00, 0xA4, 0x00, 0x04, &fid.to_be_bytes(), Some(256))
    }

    /// SELECT by DF name (AID, possibly partial), returning the FCP.
    pub fn select_aid(&mut self, aid: &[u8]) -> Resp {
        self.cmd(0x00, 0xA4, 0x04, 0x04, aid, Some(256))
    }

    /// SELECT by path from the MF (path without 3F00), returning the FCP.
    pub fn select_path(&mut self, path: &[u16]) -> Resp {
        let p: Vec<u8> = path.iter().flat_map(|f| f.to_be_bytes()).collect();
        self.cmd(0x00, 0xA4, 0x08, 0x04, &p, Some(256))
    }

    /// Reads the whole EF selected by the last successful SELECT whose FCP was `fcp`.
    pub fn read_selected(&mut self, fcp: &[u8]) -> Option<Vec<u8>> {
        let info = parse_fcp(fcp)?;
        let mut out = Vec::new();
        match info.records {
            None => {
                while out.len() < info.size {
                    let off = out.len();
                    let n = (info.size - off).min(256);
                    let r = self.cmd(0x00, 0xB0, (off >> 8) as u8, off as u8, &[], Some(n));
                    if !r.ok() || r.data.is_empty() {
                        return if out.is_empty() { None } else { Some(out) };
                    }
                    out.extend_from_slice(&r.data);
                }
            }
            Some((rl, n)) => {
                for rec in 1..=n.min(254) {
                    let r = self.cmd(0x00, 0xB2, rec as u8, 0x04, &[], Some(rl));
                    if !r.ok() {
                        break;
                    }
                    out.extend_from_slice(&r.data);
                }
            }
        }
        Some(out)
    }

    /// Records of the selected linear fixed EF.
    pub fn read_records(&mut self, fcp: &[u8]) -> Vec<Vec<u8>> {
        let Some(FileInfo {
            records: Some((rl, n)),
            ..
        }) = parse_fcp(fcp)
        else {
            return Vec::new();
        };
        (1..=n.min(254))
            .map_while(|rec| {
                let r = self.cmd(0x00, 0xB2, rec as u8, 0x04, &[], Some(rl));
                r.ok().then_some(r.data)
            })
            .collect()
    }

    /// Selects `fid` under the current DF and reads it.
    pub fn read_fid(&mut self, fid: u16) -> Option<Vec<u8>> {
        let r = self.select_fid(fid);
        if !r.ok() {
            return None;
        }
        self.read_selected(&r.data)
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if self.opened {
            let _ = xfer(self.card, &[0x00, 0x70, 0x80, self.ch, 0x00]);
        }
    }
}

/// What the modem learnt reading the SIM.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimInfo {
    /// ICCID digits (F filler dropped).
    pub iccid: Option<String>,
    /// EF.ICCID as stored.
    pub iccid_raw: Vec<u8>,
    /// The AID of ADF.USIM from EF.DIR (`None`: no USIM, e.g. an eUICC without an enabled
    /// profile).
    pub usim_aid: Option<Vec<u8>>,
    pub imsi: Option<String>,
    /// MNC length from EF.AD (2 or 3; 2 if absent).
    pub mnc_len: usize,
    pub spn: Option<String>,
    /// (alpha, number, type of number) from EF.MSISDN.
    pub msisdn: Vec<(String, String, u8)>,
    /// PIN1 is enabled (the host must verify it after each power-up).
    pub pin1_enabled: bool,
}

impl SimInfo {
    /// The home PLMN (MCC ‖ MNC) from the IMSI.
    pub fn home_plmn(&self) -> Option<String> {
        let imsi = self.imsi.as_deref()?;
        imsi.get(..3 + self.mnc_len).map(str::to_string)
    }
}

/// PIN state of the USIM after power-up (from VERIFY with no data, TS 102 221 §11.1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    /// Verified, disabled, or no PIN: the USIM is usable.
    Ready,
    /// PIN1 must be verified; retries left.
    Pin(u8),
    /// PIN1 blocked; PUK needed.
    Puk,
}

/// The outcome of reading a SIM after power-up or refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimRead {
    Ready(SimInfo),
    Locked(PinStatus, SimInfo),
    Failure(String),
}

/// Decodes BCD with the low nibble first (EF.ICCID, dialling numbers); F ends/pads.
pub fn swapped_bcd(b: &[u8]) -> String {
    let mut s = String::new();
    for x in b {
        for n in [x & 0x0F, x >> 4] {
            match n {
                0..=9 => s.push(char::from(b'0' + n)),
                0xA => s.push('*'),
                0xB => s.push('#'),
                _ => {}
            }
        }
    }
    s
}

/// Decodes EF.IMSI (TS 31.102 §4.2.2): length byte, then the digits after the parity nibble.
pub fn decode_imsi(b: &[u8]) -> Option<String> {
    let len = usize::from(*b.first()?);
    let body = b.get(1..1 + len)?;
    let first = body.first()?;
    let mut s = String::new();
    let hi = first >> 4;
    if hi <= 9 {
        s.push(char::from(b'0' + hi));
    }
    for x in body.get(1..)? {
        for n in [x & 0x0F, x >> 4] {
            if n <= 9 {
                s.push(char::from(b'0' + n));
            }
        }
    }
    (s.len() >= 6).then_some(s)
}

/// Decodes an EF.MSISDN record (TS 31.102 §4.2.26 / TS 51.011 §10.5.1).
fn decode_msisdn(rec: &[u8]) -> Option<(String, String, u8)> {
    let x = rec.len().checked_sub(14)?;
    let alpha = veuicc::uicc::text::decode_alpha(rec.get(..x)?);
    let len = usize::from(*rec.get(x)?);
    if len == 0xFF || len < 2 {
        return None;
    }
    let ton = *rec.get(x + 1)?;
    let digits = rec.get(x + 2..(x + 1 + len).min(x + 12))?;
    let mut number = swapped_bcd(digits);
    if number.is_empty() {
        return None;
    }
    if ton & 0x70 == 0x10 {
        number.insert(0, '+');
    }
    Some((alpha, number, ton | 0x80))
}

fn find_usim_aid(s: &mut Session<'_>) -> Option<Vec<u8>> {
    let r = s.select_mf();
    if !r.ok() {
        return None;
    }
    let dir = s.select_fid(0x2F00);
    if !dir.ok() {
        return None;
    }
    for rec in s.read_records(&dir.data) {
        let Ok((t, _)) = rsp::tlv::read_tlv(&rec) else {
            continue;
        };
        if t.tag.0 != 0x61 {
            continue;
        }
        if let Ok(Some(aid)) = t.find(0x4F) {
            if aid.value.starts_with(&USIM_AID_PREFIX) {
                return Some(aid.value.to_vec());
            }
        }
    }
    None
}

/// Reads what the modem needs from a freshly powered (or refreshed) SIM.
pub fn read_sim(card: &mut Card) -> SimRead {
    if let Some(f) = card.failure() {
        return SimRead::Failure(f.to_string());
    }
    let mut s = Session::open(card);
    let mut info = SimInfo {
        mnc_len: 2,
        ..SimInfo::default()
    };
    let mf = s.select_mf();
    if !mf.ok() {
        // No file system at all: an eUICC without an enabled profile answers (6A82), a card
        // that is broken or gone does not (6F00 from the transport).
        if mf.sw == 0x6F00 {
            return SimRead::Failure("the card does not answer SELECT MF".into());
        }
        return SimRead::Ready(info);
    }
    if let Some(raw) = s.read_fid(0x2FE2) {
        let digits = swapped_bcd(&raw);
        info.iccid = (!digits.is_empty()).then_some(digits);
        info.iccid_raw = raw;
    }
    info.usim_aid = find_usim_aid(&mut s);
    let Some(aid) = info.usim_aid.clone() else {
        return SimRead::Ready(info);
    };
    if !s.select_aid(&aid).ok() {
        info.usim_aid = None;
        return SimRead::Ready(info);
    }
    let v = s.cmd(0x00, 0x20, 0x00, 0x01, &[], None);
    let pin = match v.sw {
        0x9000 | 0x6A88 => PinStatus::Ready,
        0x6983 => PinStatus::Puk,
        sw if sw & 0xFFF0 == 0x63C0 => PinStatus::Pin((sw & 0x0F) as u8),
        _ => PinStatus::Ready,
    };
    info.pin1_enabled = pin != PinStatus::Ready;
    if pin != PinStatus::Ready {
        return SimRead::Locked(pin, info);
    }
    read_usim_files(&mut s, &mut info);
    SimRead::Ready(info)
}

/// IMSI, AD, SPN, MSISDN from the selected ADF.USIM.
fn read_usim_files(s: &mut Session<'_>, info: &mut SimInfo) {
    info.imsi = s.read_fid(0x6F07).and_then(|b| decode_imsi(&b));
    if let Some(ad) = s.read_fid(0x6FAD) {
        if let Some(n) = ad.get(3).map(|b| usize::from(b & 0x0F)) {
            if n == 2 || n == 3 {
                info.mnc_len = n;
            }
        }
    }
    info.spn = s.read_fid(0x6F46).and_then(|b| {
        let name = veuicc::uicc::text::decode_alpha(b.get(1..)?);
        (!name.is_empty()).then_some(name)
    });
    let m = s.select_fid(0x6F40);
    if m.ok() {
        info.msisdn = s
            .read_records(&m.data)
            .iter()
            .filter_map(|r| decode_msisdn(r))
            .collect();
    }
}

/// Reads the USIM files again once PIN1 has been verified (on the channel where it was).
pub fn read_after_pin(card: &mut Card, mut info: SimInfo) -> SimInfo {
    let Some(aid) = info.usim_aid.clone() else {
        return info;
    };
    let mut s = Session::open(card);
    if s.select_aid(&aid).ok() {
        read_usim_files(&mut s, &mut info);
    }
    info
}

/// Sends a PIN command (VERIFY 20, CHANGE 24, DISABLE 26, ENABLE 28, UNBLOCK 2C) for key
/// reference `p2` on the basic channel with ADF.USIM selected: PIN verification status is
/// global to the card, so any channel will do.
pub fn pin_command(card: &mut Card, usim_aid: Option<&[u8]>, ins: u8, p2: u8, data: &[u8]) -> Resp {
    let mut s = Session::open(card);
    if let Some(aid) = usim_aid {
        let _ = s.select_aid(aid);
    }
    s.cmd(0x00, ins, 0x00, p2, data, None)
}

/// Pads a PIN to 8 bytes with FF (TS 102 221 §9.5.2). `None` if not 4..8 digits.
pub fn pin_block(pin: &str) -> Option<Vec<u8>> {
    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v = pin.as_bytes().to_vec();
    v.resize(8, 0xFF);
    Some(v)
}

/// What the USIM answered to AUTHENTICATE (TS 31.102 §7.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthAnswer {
    /// `DB`: RES (CK, IK, Kc not needed by the simulated network).
    Res(Vec<u8>),
    /// `DC`: synchronisation failure with AUTS.
    SyncFailure([u8; 14]),
    /// `98 62`: MAC failure.
    MacFailure,
    /// Anything else (status word).
    Error(u16),
}

/// AUTHENTICATE in the 3G/EPS context (`00 88 00 81`, TS 31.102 §7.1.2) on ADF.USIM.
pub fn authenticate(
    card: &mut Card,
    usim_aid: &[u8],
    rand: &[u8; 16],
    autn: &[u8; 16],
) -> AuthAnswer {
    let mut s = Session::open(card);
    let sel = s.select_aid(usim_aid);
    if !sel.ok() {
        return AuthAnswer::Error(sel.sw);
    }
    let mut data = Vec::with_capacity(34);
    data.push(16);
    data.extend_from_slice(rand);
    data.push(16);
    data.extend_from_slice(autn);
    let r = s.cmd(0x00, 0x88, 0x00, 0x81, &data, Some(256));
    if r.sw == 0x9862 {
        return AuthAnswer::MacFailure;
    }
    if !r.ok() {
        return AuthAnswer::Error(r.sw);
    }
    match r.data.first() {
        Some(0xDB) => {
            let len = usize::from(r.data.get(1).copied().unwrap_or(0));
            match r.data.get(2..2 + len) {
                Some(res) => AuthAnswer::Res(res.to_vec()),
                None => AuthAnswer::Error(0x6F00),
            }
        }
        Some(0xDC) => match r.data.get(2..16).and_then(|a| <[u8; 14]>::try_from(a).ok()) {
            Some(auts) => AuthAnswer::SyncFailure(auts),
            None => AuthAnswer::Error(0x6F00),
        },
        _ => AuthAnswer::Error(r.sw),
    }
}

/// `+CRSM` (TS 27.007 §8.18): the command as a restricted SIM access: selects the file (from
/// `path` if given, else by its identifier: `2Fxx` under the MF, `6Fxx`/`4Fxx` under ADF.USIM,
/// `7Fxx` under the MF) on a scratch channel, then runs the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crsm {
    pub command: u16,
    pub fileid: Option<u16>,
    pub p1: u8,
    pub p2: u8,
    pub p3: u8,
    pub data: Vec<u8>,
    /// The path of the file's parent as FIDs (`3F00` first or not).
    pub path: Vec<u16>,
}

/// Runs a `+CRSM` command. `Err` carries a status word for the select failure.
pub fn crsm(card: &mut Card, usim_aid: Option<&[u8]>, c: &Crsm) -> Resp {
    let mut s = Session::open(card);
    let mut fcp = Vec::new();
    if let Some(fid) = c.fileid {
        let path: Vec<u16> = c
            .path
            .iter()
            .copied()
            .skip_while(|f| *f == 0x3F00)
            .collect();
        let r = if let Some(pos) = path.iter().position(|f| *f == 0x7FFF) {
            // 7FFF: the current application, i.e. ADF.USIM.
            let Some(aid) = usim_aid else {
                return Resp {
                    data: Vec::new(),
                    sw: 0x6A82,
                };
            };
            let mut r = s.select_aid(aid);
            for f in path.iter().skip(pos + 1) {
                if !r.ok() {
                    break;
                }
                r = s.select_fid(*f);
            }
            if r.ok() {
                s.select_fid(fid)
            } else {
                r
            }
        } else if !path.is_empty() {
            let mut full = path.clone();
            full.push(fid);
            s.select_path(&full)
        } else if fid == 0x3F00 {
            s.select_mf()
        } else if fid >> 8 == 0x2F || fid >> 8 == 0x7F {
            s.select_mf();
            s.select_fid(fid)
        } else {
            match usim_aid {
                Some(aid) => {
                    let r = s.select_aid(aid);
                    if r.ok() {
                        s.select_fid(fid)
                    } else {
                        r
                    }
                }
                None => {
                    // No USIM: try DF.GSM (7F20) as a 2G card would have it.
                    s.select_mf();
                    let r = s.select_fid(0x7F20);
                    if r.ok() {
                        s.select_fid(fid)
                    } else {
                        r
                    }
                }
            }
        };
        if !r.ok() {
            return r;
        }
        fcp = r.data;
    }
    let le = |p3: u8| Some(if p3 == 0 { 256 } else { usize::from(p3) });
    match c.command {
        // READ BINARY; P3 = 0 reads what the file has (up to 256 bytes).
        176 => {
            if c.p3 == 0 {
                let size = parse_fcp(&fcp).map_or(256, |i| i.size);
                let off = (usize::from(c.p1) << 8) | usize::from(c.p2);
                let n = size.saturating_sub(off).clamp(1, 256);
                s.cmd(0x00, 0xB0, c.p1, c.p2, &[], Some(n))
            } else {
                s.cmd(0x00, 0xB0, c.p1, c.p2, &[], le(c.p3))
            }
        }
        178 => {
            let rl = parse_fcp(&fcp)
                .and_then(|i| i.records)
                .map_or(usize::from(c.p3), |r| r.0);
            let want = if c.p3 == 0 {
                rl.max(1)
            } else {
                usize::from(c.p3)
            };
            s.cmd(0x00, 0xB2, c.p1, c.p2, &[], Some(want.min(256)))
        }
        // GET RESPONSE: the FCP of the file just selected.
        192 => Resp {
            data: fcp,
            sw: 0x9000,
        },
        214 => s.cmd(0x00, 0xD6, c.p1, c.p2, &c.data, None),
        220 => s.cmd(0x00, 0xDC, c.p1, c.p2, &c.data, None),
        242 => s.cmd(
            0x80,
            0xF2,
            c.p1,
            c.p2,
            &[],
            Some(if c.p3 == 0 { 256 } else { usize::from(c.p3) }),
        ),
        203 => s.cmd(0x80, 0xCB, c.p1, c.p2, &c.data, Some(256)),
        219 => s.cmd(0x80, 0xDB, c.p1, c.p2, &c.data, None),
        _ => Resp {
            data: Vec::new(),
            sw: 0x6D00,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_ts48_imsi() {
        let b = hex::decode("080910101032540636").unwrap();
        assert_eq!(decode_imsi(&b).as_deref(), Some("001010123456063"));
    }

    #[test]
    fn decodes_swapped_iccid() {
        // TS.48 V1-A: ICCID 8949449999999990023.
        let b = hex::decode("989444999999990920F3").unwrap();
        assert_eq!(swapped_bcd(&b), "8949449999999990023");
        assert_eq!(crate::device::iccid_to_ef("8949449999999990023"), Some(b));
    }

    #[test]
    fn short_imsi_is_refused() {
        assert_eq!(decode_imsi(&[0x02, 0x09]), None);
        assert_eq!(decode_imsi(&[]), None);
        assert_eq!(decode_imsi(&[0x08, 0x09]), None);
    }

    #[test]
    fn parses_fcp_of_linear_fixed_ef() {
        // 62 { 82 05 42 21 00 1A 04, 80 02 00 68 }
        let fcp = hex::decode("620B82054221001A0480020068").unwrap();
        assert_eq!(
            parse_fcp(&fcp),
            Some(FileInfo {
                size: 0x68,
                records: Some((0x1A, 4))
            })
        );
    }

    #[test]
    fn pin_block_pads_with_ff() {
        assert_eq!(
            pin_block("1234").unwrap(),
            hex::decode("31323334FFFFFFFF").unwrap()
        );
        assert_eq!(pin_block("12"), None);
        assert_eq!(pin_block("12a4"), None);
    }

    #[test]
    fn decodes_msisdn_record() {
        let mut rec = vec![0xFF; 4];
        rec.extend_from_slice(&[0x06, 0x91, 0x44, 0x77, 0x99, 0x99, 0x99]);
        rec.resize(4 + 14, 0xFF);
        let (alpha, number, ton) = decode_msisdn(&rec).unwrap();
        assert_eq!(alpha, "");
        assert_eq!(number, "+4477999999");
        assert_eq!(ton, 0x91);
    }
}
