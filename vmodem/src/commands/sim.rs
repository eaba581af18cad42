//! SIM commands: `+CPIN` (TS 27.007 §8.3), `+CIMI` (§5.6), `+CSIM` (§8.17), `+CRSM` (§8.18),
//! `+CCHO`/`+CCHC`/`+CGLA` (§8.45–8.43), `+CLCK` (§7.4), `+CPWD` (§7.5), `+CNUM` (§7.1),
//! `+CPLS` (§7.20), `+CPOL` (§7.19).

use super::{cme, need_card, need_sim, nth, ok, one, params, quoted, Exec};
use crate::device::sim::{self, Crsm, PinStatus};
use crate::device::SimState;
use crate::error::{CmdError, CmeError};
use crate::v250::token::at_most;
use crate::v250::{ExtOp, Reply, Settings};

pub(super) fn run(
    x: &mut Exec<'_>,
    st: &mut Settings,
    name: &str,
    op: &ExtOp,
) -> Option<Result<Reply, CmdError>> {
    Some(match name {
        "+CPIN" => cpin(x, st, op),
        "+CIMI" => match op {
            ExtOp::Exec => need_sim(x.dev).and_then(|i| {
                i.imsi
                    .clone()
                    .ok_or(cme(CmeError::SimFailure))
                    .and_then(one)
            }),
            ExtOp::Test => ok(),
            _ => Err(CmdError::Syntax),
        },
        "+CSIM" => csim(x, op),
        "+CRSM" => crsm(x, op),
        "+CCHO" => ccho(x, op),
        "+CCHC" => cchc(x, op),
        "+CGLA" => cgla(x, op),
        "+CLCK" => clck(x, st, op),
        "+CPWD" => cpwd(x, st, op),
        "+CNUM" => cnum(x, st, op),
        "+CPLS" => match op {
            ExtOp::Test => one("+CPLS: (0-2)".into()),
            ExtOp::Read => one(format!("+CPLS: {}", x.port.cpls)),
            ExtOp::Set(p) => at_most(p, 1).and_then(|()| {
                x.port.cpls = nth(op, 0).opt_u32(0..=2)?.unwrap_or(0) as u8;
                ok()
            }),
            ExtOp::Exec => Err(CmdError::Syntax),
        },
        "+CPOL" => cpol(x, op),
        _ => return None,
    })
}

/// `+CPIN?` / `+CPIN=<pin>[,<newpin>]`.
fn cpin(x: &mut Exec<'_>, st: &Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => ok(),
        ExtOp::Read => {
            let code = match x.dev.sim() {
                SimState::Ready(_) => "READY",
                SimState::Locked(PinStatus::Puk, _) => "SIM PUK",
                SimState::Locked(_, _) => "SIM PIN",
                SimState::Absent => return Err(cme(CmeError::SimNotInserted)),
                SimState::Initialising(_) => return Err(cme(CmeError::SimBusy)),
                SimState::Failure(_) => return Err(cme(CmeError::SimFailure)),
            };
            one(format!("+CPIN: {code}"))
        }
        ExtOp::Set(p) => {
            at_most(p, 2)?;
            let pin = digits(nth(op, 0), st)?;
            let newpin = match nth(op, 1) {
                crate::v250::Param::Omitted => None,
                other => Some(digits(other, st)?),
            };
            x.dev
                .enter_pin(&pin, newpin.as_deref(), x.now)
                .map_err(CmdError::Cme)?;
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

/// A PIN or password: digits as written, or (if that is not digits) decoded from the port's
/// character set, as a client that encodes every string per `+CSCS` sends it.
fn digits(p: &crate::v250::Param, st: &Settings) -> Result<String, CmdError> {
    let t = p.as_text()?;
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(t);
    }
    match p.as_str(st.charset) {
        Ok(d) if d.bytes().all(|b| b.is_ascii_digit()) => Ok(d),
        _ => Ok(t),
    }
}

fn hex_upper(b: &[u8]) -> String {
    hex::encode_upper(b)
}

/// Sends an APDU the host gave, with the profile's 61xx policy.
fn host_apdu(x: &mut Exec<'_>, apdu: &[u8]) -> Result<Vec<u8>, CmdError> {
    if apdu.len() < 4 {
        return Err(cme(CmeError::IncorrectParameters));
    }
    let mut r = x.dev.transmit(apdu, x.now).map_err(CmdError::Cme)?;
    if x.quirks.auto_get_response {
        let cla = apdu.first().copied().unwrap_or(0);
        let ch = veuicc::apdu::Class::parse(cla).map_or(0, |c| c.channel);
        let mut rounds = 0;
        while r.len() >= 2 && r.get(r.len() - 2) == Some(&0x61) && rounds < 64 {
            rounds += 1;
            let le = r.last().copied().unwrap_or(0);
            r.truncate(r.len() - 2);
            let gr = [veuicc::apdu::Class::encode(ch, false), 0xC0, 0, 0, le];
            let more = x.dev.transmit(&gr, x.now).map_err(CmdError::Cme)?;
            r.extend_from_slice(&more);
        }
    }
    Ok(r)
}

/// `+CSIM=<length>,<command>`: a raw APDU on the basic channel (any CLA, including MANAGE
/// CHANNEL). `<length>` is the number of hex characters; a mismatch is tolerated.
fn csim(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => {
            if x.quirks.csim_test_info.is_empty() {
                ok()
            } else {
                one(x.quirks.csim_test_info.clone())
            }
        }
        ExtOp::Set(p) => {
            at_most(p, 2)?;
            let apdu = hex_with_length(op, 0)?;
            need_card(x.dev)?;
            let r = match t0_get_response(x, &apdu) {
                Some(r) => r,
                None => {
                    let r = host_apdu(x, &apdu)?;
                    t0_select(x, &apdu, r)
                }
            };
            one(format!("+CSIM: {},\"{}\"", r.len() * 2, hex_upper(&r)))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `<length>,<command>` at parameter `i`: the hex command, whose number of characters must be
/// `<length>` (TS 27.007 §8.17, §8.43).
fn hex_with_length(op: &ExtOp, i: usize) -> Result<Vec<u8>, CmdError> {
    let len = nth(op, i).as_u32(0..=2 * 65_544)? as usize;
    let apdu = nth(op, i + 1).as_hex()?;
    if apdu.len() * 2 != len {
        return Err(cme(CmeError::IncorrectParameters));
    }
    Ok(apdu)
}

/// The channel of a CLA byte.
fn channel_of(cla: u8) -> u8 {
    veuicc::apdu::Class::parse(cla).map_or(0, |c| c.channel)
}

/// `+CSIM` carries TPDUs as a T=0 terminal sees them (quirk `csim_t0_select`): a SELECT sent
/// without Le (case 3) gets `61xx`, and its FCP waits for GET RESPONSE, as from a T=0 card.
fn t0_select(x: &mut Exec<'_>, apdu: &[u8], r: Vec<u8>) -> Vec<u8> {
    if let Some(&cla) = apdu.first() {
        x.dev.t0_pending.remove(&channel_of(cla));
    }
    let case3 = apdu.len() > 5
        && apdu
            .get(4)
            .is_some_and(|&lc| lc != 0 && apdu.len() == 5 + usize::from(lc));
    if !x.quirks.csim_t0_select || apdu.get(1) != Some(&0xA4) || !case3 || r.len() <= 2 {
        return r;
    }
    let (data, sw) = r.split_at(r.len() - 2);
    if sw != [0x90, 0x00] {
        return r;
    }
    let n = data.len();
    let ch = channel_of(apdu.first().copied().unwrap_or(0));
    x.dev.t0_pending.insert(ch, data.to_vec());
    vec![0x61, if n >= 256 { 0 } else { n as u8 }]
}

/// GET RESPONSE for data [`t0_select`] kept; `None` when there is none (the card answers).
fn t0_get_response(x: &mut Exec<'_>, apdu: &[u8]) -> Option<Vec<u8>> {
    let (&cla, &ins) = (apdu.first()?, apdu.get(1)?);
    if ins != 0xC0 || apdu.get(2..4) != Some(&[0, 0][..]) || apdu.len() > 5 {
        return None;
    }
    let ch = channel_of(cla);
    let mut pending = x.dev.t0_pending.remove(&ch)?;
    let le = match apdu.get(4) {
        Some(0) | None => 256,
        Some(&l) => usize::from(l),
    };
    if le > pending.len() {
        // T=0: wrong Le, the right one in SW2; the data stays.
        let n = pending.len();
        x.dev.t0_pending.insert(ch, pending);
        return Some(vec![0x6C, n as u8]);
    }
    let rest = pending.split_off(le);
    let mut out = pending;
    if rest.is_empty() {
        out.extend_from_slice(&[0x90, 0x00]);
    } else {
        let n = rest.len();
        out.extend_from_slice(&[0x61, if n >= 256 { 0 } else { n as u8 }]);
        x.dev.t0_pending.insert(ch, rest);
    }
    Some(out)
}

/// Parses a `+CRSM` `<pathid>`: hex FIDs (`3F007FFF`).
fn parse_path(b: &[u8]) -> Result<Vec<u16>, CmdError> {
    if !b.len().is_multiple_of(2) {
        return Err(cme(CmeError::IncorrectParameters));
    }
    Ok(b.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect())
}

/// `+CRSM=<command>[,<fileid>[,<P1>,<P2>,<P3>[,<data>[,<pathid>]]]]`.
fn crsm(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => ok(),
        ExtOp::Set(p) => {
            at_most(p, 7)?;
            let command = nth(op, 0).as_u32(0..=255)? as u16;
            if !matches!(command, 176 | 178 | 192 | 203 | 214 | 219 | 220 | 242) {
                return Err(cme(CmeError::IncorrectParameters));
            }
            let fileid = nth(op, 1).opt_u32(0..=0xFFFF)?.map(|v| v as u16);
            if fileid.is_none() && command != 242 {
                return Err(cme(CmeError::IncorrectParameters));
            }
            let p1 = nth(op, 2).opt_u32(0..=255)?.unwrap_or(0) as u8;
            let p2 = nth(op, 3).opt_u32(0..=255)?.unwrap_or(0) as u8;
            let p3 = nth(op, 4).opt_u32(0..=255)?.unwrap_or(0) as u8;
            let data = match nth(op, 5) {
                crate::v250::Param::Omitted => Vec::new(),
                d => d.as_hex()?,
            };
            let path = match nth(op, 6) {
                crate::v250::Param::Omitted => Vec::new(),
                d => parse_path(&d.as_hex()?)?,
            };
            need_card(x.dev)?;
            let aid = x.dev.sim_info_any().and_then(|i| i.usim_aid.clone());
            let c = Crsm {
                command,
                fileid,
                p1,
                p2,
                p3,
                data,
                path,
            };
            let r = x
                .dev
                .with_card(x.now, |card| sim::crsm(card, aid.as_deref(), &c))
                .map_err(CmdError::Cme)?;
            let line = if r.data.is_empty() {
                format!("+CRSM: {},{}", r.sw1(), r.sw2())
            } else {
                format!("+CRSM: {},{},\"{}\"", r.sw1(), r.sw2(), hex_upper(&r.data))
            };
            one(line)
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `+CCHO=<dfname>`: opens a logical channel and selects the application on it.
fn ccho(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => ok(),
        ExtOp::Set(p) => {
            at_most(p, 1)?;
            let aid = nth(op, 0).as_hex()?;
            need_card(x.dev)?;
            let ch = x.dev.open_channel(&aid, x.now).map_err(CmdError::Cme)?;
            if x.quirks.ccho_prefix {
                one(format!("+CCHO: {ch}"))
            } else {
                one(ch.to_string())
            }
        }
        _ => Err(CmdError::Syntax),
    }
}

fn session(op: &ExtOp) -> Result<u8, CmdError> {
    Ok(nth(op, 0).as_u32(0..=255)? as u8)
}

/// `+CCHC=<sessionid>`.
fn cchc(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => ok(),
        ExtOp::Set(p) => {
            at_most(p, 1)?;
            let sid = session(op)?;
            need_card(x.dev)?;
            x.dev.close_channel(sid, x.now).map_err(CmdError::Cme)?;
            if x.quirks.cchc_line {
                one("+CCHC".into())
            } else {
                ok()
            }
        }
        _ => Err(CmdError::Syntax),
    }
}

/// The CLA byte of `cla` moved to logical channel `ch` (ISO 7816-4 §5.4.1): the class
/// (interindustry or proprietary), secure messaging and chaining indications are kept, the
/// channel bits are the session's (0x0X/0x8X for 0–3, 0x4X/0xCX for 4–19).
pub fn cla_for_channel(cla: u8, ch: u8) -> u8 {
    let proprietary = cla & 0x80 != 0;
    let further = cla & 0x40 != 0;
    let chaining = cla & 0x10;
    let sm = if further {
        u8::from(cla & 0x20 != 0)
    } else {
        (cla >> 2) & 0x03
    };
    let base = if proprietary { 0x80 } else { 0x00 };
    if ch < 4 {
        base | chaining | (sm.min(3) << 2) | ch
    } else {
        base | 0x40 | if sm != 0 { 0x20 } else { 0 } | chaining | ((ch - 4) & 0x0F)
    }
}

/// `+CGLA=<sessionid>,<length>,<command>`.
fn cgla(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => ok(),
        ExtOp::Set(p) => {
            at_most(p, 3)?;
            let sid = session(op)?;
            let mut apdu = hex_with_length(op, 1)?;
            need_card(x.dev)?;
            if !x.dev.has_session(sid) {
                return Err(cme(CmeError::InvalidIndex));
            }
            let Some(cla) = apdu.first_mut() else {
                return Err(cme(CmeError::IncorrectParameters));
            };
            if *cla == 0xFF {
                return Err(cme(CmeError::IncorrectParameters));
            }
            *cla = cla_for_channel(*cla, sid);
            let r = host_apdu(x, &apdu)?;
            one(format!("+CGLA: {},\"{}\"", r.len() * 2, hex_upper(&r)))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `+CLCK=<fac>,<mode>[,<passwd>[,<class>]]`: SIM lock ("SC", PIN1), fixed dialling ("FD"),
/// phone-to-SIM ("PS") and network personalisation ("PN"): queries and the PIN1 lock.
fn clck(x: &mut Exec<'_>, st: &Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+CLCK: (\"SC\",\"FD\",\"PS\",\"PN\",\"AO\",\"OI\",\"AI\")".into()),
        ExtOp::Set(p) => {
            at_most(p, 4)?;
            let fac = nth(op, 0).as_text()?.to_ascii_uppercase();
            let mode = nth(op, 1).as_u32(0..=2)?;
            need_card(x.dev)?;
            match (fac.as_str(), mode) {
                ("SC", 2) => {
                    let enabled = x
                        .dev
                        .sim_info_any()
                        .map(|i| i.pin1_enabled)
                        .ok_or(cme(CmeError::SimBusy))?;
                    one(format!("+CLCK: {}", u8::from(enabled)))
                }
                ("SC", m) => {
                    let pin = digits(nth(op, 2), st)?;
                    let block = sim::pin_block(&pin).ok_or(cme(CmeError::IncorrectParameters))?;
                    let ins = if m == 1 { 0x28 } else { 0x26 };
                    let sw = x
                        .dev
                        .pin_apdu(ins, 0x01, &block, x.now)
                        .map_err(CmdError::Cme)?;
                    match sw {
                        0x9000 => {
                            x.dev.set_pin1_enabled(m == 1);
                            ok()
                        }
                        0x6983 => Err(cme(CmeError::SimPukRequired)),
                        s if s & 0xFFF0 == 0x63C0 => Err(cme(CmeError::IncorrectPassword)),
                        _ => Err(cme(CmeError::OperationNotAllowed)),
                    }
                }
                ("FD" | "PS" | "PN" | "AO" | "OI" | "AI", 2) => one("+CLCK: 0".into()),
                ("FD" | "PS" | "PN" | "AO" | "OI" | "AI", _) => {
                    Err(cme(CmeError::OperationNotSupported))
                }
                _ => Err(cme(CmeError::OperationNotSupported)),
            }
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `+CPWD="SC",<oldpwd>,<newpwd>`: CHANGE PIN1.
fn cpwd(x: &mut Exec<'_>, st: &Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+CPWD: (\"SC\",8)".into()),
        ExtOp::Set(p) => {
            at_most(p, 3)?;
            let fac = nth(op, 0).as_text()?.to_ascii_uppercase();
            if fac != "SC" {
                return Err(cme(CmeError::OperationNotSupported));
            }
            let old = sim::pin_block(&digits(nth(op, 1), st)?)
                .ok_or(cme(CmeError::IncorrectParameters))?;
            let new = sim::pin_block(&digits(nth(op, 2), st)?)
                .ok_or(cme(CmeError::IncorrectParameters))?;
            need_card(x.dev)?;
            let mut data = old;
            data.extend(new);
            match x
                .dev
                .pin_apdu(0x24, 0x01, &data, x.now)
                .map_err(CmdError::Cme)?
            {
                0x9000 => ok(),
                0x6983 => Err(cme(CmeError::SimPukRequired)),
                s if s & 0xFFF0 == 0x63C0 => Err(cme(CmeError::IncorrectPassword)),
                _ => Err(cme(CmeError::OperationNotAllowed)),
            }
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `+CNUM`: subscriber numbers from EF.MSISDN.
fn cnum(x: &mut Exec<'_>, st: &Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => ok(),
        ExtOp::Exec => {
            let info = need_sim(x.dev)?;
            Ok(Reply::lines(info.msisdn.iter().map(
                |(alpha, number, ton)| {
                    format!(
                        "+CNUM: {},{},{}",
                        quoted(st, alpha),
                        quoted(st, number),
                        ton
                    )
                },
            )))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `+CPOL`: the preferred operator list (EF.PLMNwAcT is read as empty: no entries).
fn cpol(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+CPOL: (1-8),(0-2)".into()),
        ExtOp::Read => {
            need_sim(x.dev)?;
            ok()
        }
        ExtOp::Set(p) => {
            at_most(p, 7)?;
            if let Some(f) = nth(op, 1).opt_u32(0..=2)? {
                x.port.cpol_format = f as u8;
            }
            // Writing entries is not supported: only `+CPOL=,<format>`.
            if !nth(op, 0).is_omitted() || !nth(op, 2).is_omitted() {
                return Err(cme(CmeError::OperationNotSupported));
            }
            let _ = params(op);
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

#[cfg(test)]
mod tests {
    use super::cla_for_channel;

    #[test]
    fn cla_channel_bits_follow_the_session() {
        // lpac sends 0x81 whatever its session is.
        assert_eq!(cla_for_channel(0x81, 1), 0x81);
        assert_eq!(cla_for_channel(0x81, 2), 0x82);
        assert_eq!(cla_for_channel(0x81, 4), 0xC0);
        assert_eq!(cla_for_channel(0x81, 19), 0xCF);
        assert_eq!(cla_for_channel(0x00, 3), 0x03);
        assert_eq!(cla_for_channel(0x00, 5), 0x41);
        // Chaining survives the move.
        assert_eq!(cla_for_channel(0x90, 2), 0x92);
        assert_eq!(cla_for_channel(0x90, 6), 0xD2);
        // Extended CLA in, basic channel out.
        assert_eq!(cla_for_channel(0xC3, 1), 0x81);
    }
}
