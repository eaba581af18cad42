//! Packet data: `D*99#` (TS 27.007 §10.2.1.1), `+CGDCONT` (§10.1.1), `+CGACT` (§10.1.10),
//! `+CGATT` (§10.1.9), `+CGEREP` (§10.1.19), `+CGPADDR` (§10.1.14), `+CGDATA` (§10.1.12),
//! `+CEER` (§6.10).

use super::{cme, nth, ok, one, Exec};
use crate::device::PdpContext;
use crate::error::{CmdError, CmeError};
use crate::v250::token::at_most;
use crate::v250::{ExtOp, Final, Reply, Settings};

const MAX_CID: u32 = 16;
const PDP_TYPES: [&str; 5] = ["IP", "IPV6", "IPV4V6", "PPP", "NON-IP"];

fn reply(fin: Final) -> Result<Reply, CmdError> {
    Ok(Reply {
        info: Vec::new(),
        fin,
    })
}

/// Starts a data call on `cid`: CONNECT when PS-registered, NO CARRIER otherwise.
fn connect(x: &mut Exec<'_>, cid: u8) -> Result<Reply, CmdError> {
    if !x.dev.net.ps_registered() {
        return reply(Final::NoCarrier);
    }
    if !x.dev.set_context_active(cid, true) {
        return reply(Final::NoCarrier);
    }
    x.dev.data_call = true;
    reply(Final::Connect(None))
}

/// `D<dial string>`: `*99[*<called>][*[<L2P>][*[<cid>]]]#` starts packet data; voice calls
/// (`;`) and other numbers find no carrier.
pub(super) fn dial(x: &mut Exec<'_>, s: &str) -> Result<Reply, CmdError> {
    let d: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let d = d.trim_start_matches(['T', 'P']);
    if d.is_empty() {
        return Err(cme(CmeError::InvalidDialString));
    }
    if d.len() > 40 {
        return Err(cme(CmeError::DialStringTooLong));
    }
    if let Some(body) = d.strip_prefix("*99").and_then(|b| b.strip_suffix('#')) {
        let fields: Vec<&str> = body.split('*').collect();
        // "" (before the first '*'), then called address, L2P, cid.
        let called_ok = fields
            .get(1)
            .is_none_or(|a| a.chars().all(|c| c.is_ascii_digit() || c == '+'));
        let l2p_ok = fields
            .get(2)
            .is_none_or(|l| l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        let lead_ok = fields.first().is_none_or(|f| f.is_empty());
        if fields.len() > 4 || !called_ok || !l2p_ok || !lead_ok {
            return Err(cme(CmeError::InvalidDialString));
        }
        let cid = match fields.get(3) {
            Some(c) if !c.is_empty() => c
                .parse::<u8>()
                .map_err(|_| cme(CmeError::InvalidDialString))?,
            _ => 1,
        };
        return connect(x, cid);
    }
    if !d
        .chars()
        .all(|c| c.is_ascii_digit() || "+*#;ABCD,WG".contains(c))
    {
        return Err(cme(CmeError::InvalidDialString));
    }
    if !x.dev.net.registered() {
        return Err(cme(CmeError::NoNetworkService));
    }
    reply(Final::NoCarrier)
}

pub(super) fn run(
    x: &mut Exec<'_>,
    _st: &mut Settings,
    name: &str,
    op: &ExtOp,
) -> Option<Result<Reply, CmdError>> {
    Some(match name {
        "+CGDCONT" => cgdcont(x, op),
        "+CGACT" => cgact(x, op),
        "+CGATT" => match op {
            ExtOp::Test => one("+CGATT: (0,1)".into()),
            ExtOp::Read => one(format!("+CGATT: {}", u8::from(x.dev.net.ps_registered()))),
            ExtOp::Set(p) => at_most(p, 1).and_then(|()| {
                match nth(op, 0).as_u32(0..=1)? {
                    1 => x.dev.reregister(x.now),
                    _ => x.dev.deregister_manual(),
                }
                ok()
            }),
            ExtOp::Exec => Err(CmdError::Syntax),
        },
        "+CGEREP" => match op {
            ExtOp::Test => one("+CGEREP: (0-2),(0,1)".into()),
            ExtOp::Read => one(format!(
                "+CGEREP: {},{}",
                x.port.cgerep[0], x.port.cgerep[1]
            )),
            ExtOp::Set(p) => at_most(p, 2).and_then(|()| {
                if let Some(m) = nth(op, 0).opt_u32(0..=2)? {
                    x.port.cgerep[0] = m as u8;
                }
                if let Some(b) = nth(op, 1).opt_u32(0..=1)? {
                    x.port.cgerep[1] = b as u8;
                }
                ok()
            }),
            ExtOp::Exec => {
                x.port.cgerep[0] = 0;
                ok()
            }
        },
        "+CGPADDR" => match op {
            ExtOp::Test => {
                let cids: Vec<String> = x.dev.contexts.iter().map(|c| c.cid.to_string()).collect();
                one(format!("+CGPADDR: ({})", cids.join(",")))
            }
            ExtOp::Exec | ExtOp::Set(_) => Ok(Reply::lines(
                x.dev
                    .contexts
                    .iter()
                    .filter(|c| c.active)
                    .map(|c| format!("+CGPADDR: {},\"10.64.{}.2\"", c.cid, c.cid)),
            )),
            ExtOp::Read => Err(CmdError::Syntax),
        },
        "+CGDATA" => match op {
            ExtOp::Test => one("+CGDATA: (\"PPP\")".into()),
            ExtOp::Set(p) => at_most(p, 2).and_then(|()| {
                let cid = nth(op, 1).opt_u32(1..=MAX_CID)?.unwrap_or(1) as u8;
                connect(x, cid)
            }),
            ExtOp::Exec => connect(x, 1),
            ExtOp::Read => Err(CmdError::Syntax),
        },
        "+CEER" => match op {
            ExtOp::Exec => one("+CEER: No cause information available".into()),
            ExtOp::Test => ok(),
            _ => Err(CmdError::Syntax),
        },
        _ => return None,
    })
}

/// `+CGDCONT=<cid>[,<PDP_type>[,<APN>[,…]]]`; `<cid>` alone undefines the context.
fn cgdcont(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => {
            Ok(Reply::lines(PDP_TYPES.iter().take(3).map(|t| {
                format!("+CGDCONT: (1-{MAX_CID}),\"{t}\",,,(0-3),(0-4),(0,1)")
            })))
        }
        ExtOp::Read => Ok(Reply::lines(x.dev.contexts.iter().map(|c| {
            format!(
                "+CGDCONT: {},\"{}\",\"{}\",\"\",0,0",
                c.cid, c.pdp_type, c.apn
            )
        }))),
        ExtOp::Set(p) => {
            let cid = nth(op, 0).as_u32(1..=MAX_CID)? as u8;
            if p.len() <= 1 {
                x.dev.contexts.retain(|c| c.cid != cid);
                return ok();
            }
            let pdp_type = match nth(op, 1) {
                crate::v250::Param::Omitted => "IP".to_string(),
                t => t.as_text()?.to_ascii_uppercase(),
            };
            if !PDP_TYPES.contains(&pdp_type.as_str()) {
                return Err(cme(CmeError::IncorrectParameters));
            }
            let apn = match nth(op, 2) {
                crate::v250::Param::Omitted => String::new(),
                a => a.as_text()?,
            };
            if apn.len() > 100 {
                return Err(cme(CmeError::TextTooLong));
            }
            let ctx = PdpContext {
                cid,
                pdp_type,
                apn,
                active: false,
            };
            match x.dev.contexts.iter_mut().find(|c| c.cid == cid) {
                Some(c) => *c = ctx,
                None => {
                    x.dev.contexts.push(ctx);
                    x.dev.contexts.sort_by_key(|c| c.cid);
                }
            }
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

/// `+CGACT=<state>[,<cid>[,<cid>…]]`.
fn cgact(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+CGACT: (0,1)".into()),
        ExtOp::Read => {
            Ok(Reply::lines(x.dev.contexts.iter().map(|c| {
                format!("+CGACT: {},{}", c.cid, u8::from(c.active))
            })))
        }
        ExtOp::Set(p) => {
            let state = nth(op, 0).as_u32(0..=1)? == 1;
            let mut cids = Vec::new();
            for i in 1..p.len() {
                cids.push(nth(op, i).as_u32(1..=MAX_CID)? as u8);
            }
            if state && !x.dev.net.ps_registered() {
                return Err(cme(CmeError::NoNetworkService));
            }
            let targets: Vec<u8> = if cids.is_empty() {
                x.dev.contexts.iter().map(|c| c.cid).collect()
            } else {
                cids
            };
            for cid in targets {
                if !x.dev.set_context_active(cid, state) {
                    return Err(cme(CmeError::InvalidIndex));
                }
            }
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}
