//! SMS basics (TS 27.005 §3): `+CMGF`, `+CPMS`, `+CNMI`, `+CMGL` (empty storage), `+CSMS`,
//! `+CSCA`, `+CMGR`, `+CMGD`. Sending and writing need the `>` prompt and are refused.

use super::{need_sim, nth, ok, one, Exec};
use crate::error::CmdError;
use crate::v250::token::at_most;
use crate::v250::{ExtOp, Param, Reply, Settings};

/// Capacity reported for each message storage.
const CAPACITY: [(&str, u32); 2] = [("SM", 30), ("ME", 100)];

/// TS 27.005 §3.2.5 `<err>` values.
const CMS_OPERATION_NOT_ALLOWED: u16 = 302;
const CMS_SIM_NOT_INSERTED: u16 = 310;
const CMS_INVALID_INDEX: u16 = 321;

fn capacity(mem: &str) -> u32 {
    CAPACITY
        .iter()
        .find(|(m, _)| *m == mem)
        .map_or(0, |(_, c)| *c)
}

/// A `<mem>` parameter: "SM"/"ME", as written or in the port's character set.
fn mem(p: &Param, st: &Settings) -> Result<String, CmdError> {
    let plain = p.as_text()?.to_ascii_uppercase();
    let m = if capacity(&plain) > 0 {
        plain
    } else {
        p.as_str(st.charset)?.to_ascii_uppercase()
    };
    if capacity(&m) == 0 {
        return Err(CmdError::Cms(CMS_OPERATION_NOT_ALLOWED));
    }
    Ok(m)
}

fn sim_ready(x: &Exec<'_>) -> Result<(), CmdError> {
    need_sim(x.dev)
        .map(|_| ())
        .map_err(|_| CmdError::Cms(CMS_SIM_NOT_INSERTED))
}

pub(super) fn run(
    x: &mut Exec<'_>,
    st: &mut Settings,
    name: &str,
    op: &ExtOp,
) -> Option<Result<Reply, CmdError>> {
    Some(match name {
        "+CMGF" => match op {
            ExtOp::Test => one("+CMGF: (0,1)".into()),
            ExtOp::Read => one(format!("+CMGF: {}", x.port.cmgf)),
            ExtOp::Set(p) => at_most(p, 1).and_then(|()| {
                x.port.cmgf = nth(op, 0).opt_u32(0..=1)?.unwrap_or(0) as u8;
                ok()
            }),
            ExtOp::Exec => {
                x.port.cmgf = 0;
                ok()
            }
        },
        "+CPMS" => cpms(x, st, op),
        "+CNMI" => match op {
            ExtOp::Test => one("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)".into()),
            ExtOp::Read => {
                let c = x.port.cnmi;
                one(format!(
                    "+CNMI: {},{},{},{},{}",
                    c[0], c[1], c[2], c[3], c[4]
                ))
            }
            ExtOp::Set(p) => at_most(p, 5).and_then(|()| {
                let ranges = [0..=2, 0..=3, 0..=3, 0..=2, 0..=1];
                for (i, r) in ranges.into_iter().enumerate() {
                    if let Some(v) = nth(op, i).opt_u32(r)? {
                        if let Some(s) = x.port.cnmi.get_mut(i) {
                            *s = v as u8;
                        }
                    }
                }
                ok()
            }),
            ExtOp::Exec => Err(CmdError::Syntax),
        },
        "+CMGL" => match op {
            ExtOp::Test if x.port.cmgf == 0 => one("+CMGL: (0-4)".into()),
            ExtOp::Test => one(
                "+CMGL: (\"REC UNREAD\",\"REC READ\",\"STO UNSENT\",\"STO SENT\",\"ALL\")".into(),
            ),
            ExtOp::Set(_) | ExtOp::Exec => sim_ready(x).and_then(|()| ok()),
            ExtOp::Read => Err(CmdError::Syntax),
        },
        "+CSMS" => match op {
            ExtOp::Test => one("+CSMS: (0,1)".into()),
            ExtOp::Read => one("+CSMS: 0,1,1,1".into()),
            ExtOp::Set(_) => one("+CSMS: 1,1,1".into()),
            ExtOp::Exec => Err(CmdError::Syntax),
        },
        "+CSCA" => match op {
            ExtOp::Test => ok(),
            ExtOp::Read => sim_ready(x).and_then(|()| one("+CSCA: \"\",129".into())),
            ExtOp::Set(_) => ok(),
            ExtOp::Exec => Err(CmdError::Syntax),
        },
        "+CMGR" => match op {
            ExtOp::Test => ok(),
            _ => Err(CmdError::Cms(CMS_INVALID_INDEX)),
        },
        "+CMGD" => match op {
            ExtOp::Test => one("+CMGD: (),(0-4)".into()),
            ExtOp::Set(_) => sim_ready(x).and_then(|()| ok()),
            _ => Err(CmdError::Syntax),
        },
        "+CMGS" | "+CMGW" | "+CMSS" | "+CMGC" => match op {
            ExtOp::Test => ok(),
            _ => Err(CmdError::Cms(CMS_OPERATION_NOT_ALLOWED)),
        },
        _ => return None,
    })
}

/// `+CPMS=<mem1>[,<mem2>[,<mem3>]]` (TS 27.005 §3.2.2).
fn cpms(x: &mut Exec<'_>, st: &Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+CPMS: (\"SM\",\"ME\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")".into()),
        ExtOp::Read => {
            sim_ready(x)?;
            let m = &x.dev.sms_mem;
            let parts: Vec<String> = m
                .iter()
                .map(|s| format!("\"{s}\",0,{}", capacity(s)))
                .collect();
            one(format!("+CPMS: {}", parts.join(",")))
        }
        ExtOp::Set(p) => {
            at_most(p, 3)?;
            sim_ready(x)?;
            let mut new = x.dev.sms_mem.clone();
            for (i, slot) in new.iter_mut().enumerate() {
                let p = nth(op, i);
                if !p.is_omitted() {
                    *slot = mem(p, st)?;
                }
            }
            x.dev.sms_mem = new;
            let parts: Vec<String> = x
                .dev
                .sms_mem
                .iter()
                .map(|s| format!("0,{}", capacity(s)))
                .collect();
            one(format!("+CPMS: {}", parts.join(",")))
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}
