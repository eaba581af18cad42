//! Identification and general commands: `I`, `+GCAP`, `+CGMI/+CGMM/+CGMR` (and `+GMI/+GMM/+GMR`),
//! `+CGSN`/`+GSN` (TS 27.007 §5), `+CFUN` (§8.2), `+CMEE` (§9.1), `+CSCS` (§5.5), `+WS46`
//! (§5.9), `+IFC` (V.250 §6.2.12), `+CTZU`/`+CTZR` (§8.40/§8.41), `+CPAS` (§8.1); basic `H`,
//! `A`, `O`, `L`, `M`.

use super::{cme, nth, ok, one, params, Exec};
use crate::error::{CmdError, CmeError};
use crate::v250::{Charset, ExtOp, Final, Reply, Settings};

/// Basic commands the engine hands over.
pub(super) fn basic(
    x: &mut Exec<'_>,
    _st: &mut Settings,
    name: &str,
    arg: Option<u32>,
) -> Result<Reply, CmdError> {
    match name {
        "I" => {
            if arg.unwrap_or(0) != 0 {
                return ok();
            }
            Ok(Reply::lines(ati_lines(x)))
        }
        "H" => {
            // V.250 §6.3.6: hook control; ends a data call (the engine calls data_mode_ended).
            x.dev.data_call = false;
            ok()
        }
        // No voice calls: answering finds nothing to answer.
        "A" => Ok(Reply {
            info: Vec::new(),
            fin: Final::NoCarrier,
        }),
        "O" => Ok(Reply {
            info: Vec::new(),
            fin: if x.dev.data_call {
                Final::Connect(None)
            } else {
                Final::NoCarrier
            },
        }),
        // Speaker loudness / mode: accepted, nothing to do.
        "L" | "M" | "P" | "T" => ok(),
        _ => Err(CmdError::Unknown),
    }
}

fn ati_lines(x: &Exec<'_>) -> Vec<String> {
    let q = x.quirks;
    q.ati
        .iter()
        .map(|l| {
            l.replace("{manufacturer}", &q.manufacturer)
                .replace("{model}", &q.model)
                .replace("{revision}", &q.revision)
                .replace("{imei}", x.dev.imei_for_active().as_str())
        })
        .collect()
}

/// Test forms of commands without parameters answer `OK`.
fn exec_or_test(op: &ExtOp) -> Result<bool, CmdError> {
    match op {
        ExtOp::Exec => Ok(true),
        ExtOp::Test => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

pub(super) fn run(
    x: &mut Exec<'_>,
    st: &mut Settings,
    name: &str,
    op: &ExtOp,
) -> Option<Result<Reply, CmdError>> {
    Some(match name {
        "+GCAP" => exec_or_test(op).and_then(|e| if e { one(x.quirks.gcap.clone()) } else { ok() }),
        "+CGMI" | "+GMI" => ident(op, &x.quirks.manufacturer),
        "+CGMM" | "+GMM" => ident(op, &x.quirks.model),
        "+CGMR" | "+GMR" => ident(op, &x.quirks.revision),
        "+CGSN" | "+GSN" => cgsn(x, name, op),
        "+CFUN" => cfun(x, op),
        "+CMEE" => cmee(st, op),
        "+CSCS" => cscs(st, op),
        "+WS46" => ws46(x, op),
        "+IFC" => ifc(x, op),
        "+CTZU" => flag(&mut x.port.ctzu, "+CTZU", op),
        "+CTZR" => flag(&mut x.port.ctzr, "+CTZR", op),
        "+CPAS" => match op {
            ExtOp::Exec => one("+CPAS: 0".into()),
            ExtOp::Test => one("+CPAS: (0-5)".into()),
            _ => Err(CmdError::Syntax),
        },
        _ => return None,
    })
}

fn ident(op: &ExtOp, value: &str) -> Result<Reply, CmdError> {
    if exec_or_test(op)? {
        one(value.to_string())
    } else {
        ok()
    }
}

/// `+CGSN[=<snt>]` (TS 27.007 §5.4): 0 serial number (the IMEI, no prefix), 1 IMEI,
/// 2 IMEISV, 3 SVN.
fn cgsn(x: &mut Exec<'_>, name: &str, op: &ExtOp) -> Result<Reply, CmdError> {
    let imei = x.dev.imei_for_active().clone();
    let snt = match op {
        ExtOp::Exec => 0,
        ExtOp::Test if name == "+CGSN" => return one("+CGSN: (0-3)".into()),
        ExtOp::Test => return ok(),
        ExtOp::Set(p) if name == "+CGSN" => {
            crate::v250::token::at_most(p, 1)?;
            nth(op, 0).opt_u32(0..=3)?.unwrap_or(0)
        }
        _ => return Err(CmdError::Syntax),
    };
    let q = |v: &str| {
        if x.quirks.cgsn_quoted {
            format!("\"{v}\"")
        } else {
            v.to_string()
        }
    };
    let line = match snt {
        0 => imei.as_str().to_string(),
        1 => format!("+CGSN: {}", q(imei.as_str())),
        2 => format!("+CGSN: {}", q(&imei.imeisv(x.dev.svn()))),
        _ => format!("+CGSN: {}", q(x.dev.svn().as_str())),
    };
    one(line)
}

/// `+CFUN=[<fun>[,<rst>]]`.
fn cfun(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Read => one(format!("+CFUN: {}", x.dev.cfun())),
        ExtOp::Test => one("+CFUN: (0,1,4),(0,1)".into()),
        ExtOp::Set(p) => {
            crate::v250::token::at_most(p, 2)?;
            let fun = nth(op, 0).opt_u32(0..=127)?.unwrap_or(1);
            let rst = nth(op, 1).opt_u32(0..=1)?.unwrap_or(0);
            let fun = u8::try_from(fun).map_err(|_| cme(CmeError::IncorrectParameters))?;
            x.dev
                .set_cfun(fun, rst == 1, x.now)
                .map_err(CmdError::Cme)?;
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

/// `+CMEE=[<n>]`.
fn cmee(st: &mut Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Read => one(format!("+CMEE: {}", st.cmee)),
        ExtOp::Test => one("+CMEE: (0-2)".into()),
        ExtOp::Set(p) => {
            crate::v250::token::at_most(p, 1)?;
            st.cmee = nth(op, 0).opt_u32(0..=2)?.unwrap_or(0) as u8;
            ok()
        }
        ExtOp::Exec => {
            st.cmee = 0;
            ok()
        }
    }
}

/// `+CSCS=[<chset>]`.
fn cscs(st: &mut Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Read => one(format!("+CSCS: \"{}\"", st.charset.name())),
        ExtOp::Test => one("+CSCS: (\"IRA\",\"GSM\",\"UCS2\",\"HEX\",\"8859-1\",\"UTF-8\")".into()),
        ExtOp::Set(p) => {
            crate::v250::token::at_most(p, 1)?;
            let name = match nth(op, 0) {
                crate::v250::Param::Omitted => {
                    st.charset = Charset::Ira;
                    return ok();
                }
                // The name itself is plain text whatever the current set is.
                other => other.as_text()?,
            };
            st.charset = Charset::from_name(&name).ok_or(cme(CmeError::OperationNotSupported))?;
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

/// `+WS46=[<n>]`: the wireless network selection.
fn ws46(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => {
            let list: Vec<String> = x.quirks.ws46.iter().map(u8::to_string).collect();
            one(format!("+WS46: ({})", list.join(",")))
        }
        ExtOp::Read => one(format!("+WS46: {}", x.port.ws46)),
        ExtOp::Set(_) => {
            let n = nth(op, 0).opt_u32(0..=255)?.unwrap_or(25) as u8;
            if !x.quirks.ws46.contains(&n) {
                return Err(cme(CmeError::OperationNotSupported));
            }
            x.port.ws46 = n;
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

/// `+IFC=[<by_te>[,<by_ta>]]` (flow control is stored only: a PTY has no lines).
fn ifc(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+IFC: (0-2),(0-2)".into()),
        ExtOp::Read => one(format!("+IFC: {},{}", x.port.ifc[0], x.port.ifc[1])),
        ExtOp::Set(p) => {
            crate::v250::token::at_most(p, 2)?;
            let a = nth(op, 0).opt_u32(0..=2)?.unwrap_or(2) as u8;
            let b = nth(op, 1).opt_u32(0..=2)?.unwrap_or(2) as u8;
            x.port.ifc = [a, b];
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

/// A 0/1 setting with read and test forms.
fn flag(v: &mut u8, name: &str, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one(format!("{name}: (0,1)")),
        ExtOp::Read => one(format!("{name}: {v}")),
        ExtOp::Set(p) => {
            crate::v250::token::at_most(p, 1)?;
            *v = super::nth(op, 0).opt_u32(0..=1)?.unwrap_or(0) as u8;
            let _ = params;
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}
