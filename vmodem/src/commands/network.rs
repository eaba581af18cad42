//! Network commands: `+CREG`/`+CGREG`/`+CEREG`/`+C5GREG` (TS 27.007 §7.2, §10.1.20/21/22,
//! §10.1.58), `+COPS` (§7.3), `+CSQ` (§8.5), `+CESQ` (§8.69), `+CIND`/`+CMER` (§8.9/§8.10),
//! `+CEMODE` (§10.1.28), `+CUSD` (§7.15).

use super::{cme, indicators, nth, ok, one, quoted, text, Exec};
use crate::control::Domain;
use crate::device::network::{domain_index, stat, Radio};
use crate::error::{CmdError, CmeError};
use crate::v250::token::at_most;
use crate::v250::{ExtOp, Reply, Settings};

fn prefix(d: Domain) -> &'static str {
    match d {
        Domain::Cs => "+CREG",
        Domain::Ps => "+CGREG",
        Domain::Eps => "+CEREG",
        Domain::FiveGs => "+C5GREG",
    }
}

fn max_n(d: Domain) -> u32 {
    match d {
        Domain::Eps => 5,
        _ => 3,
    }
}

/// A registration line: the read form `+CEREG: <n>,<stat>[,…]` (`read`) or the URC
/// `+CEREG: <stat>[,…]`. With `<n>` ≥ 2 the location (`"<tac>","<ci>",<AcT>`) follows when
/// registered; with `<n>` ≥ 3 a reject cause (`,<cause_type>,<reject_cause>`) when denied.
pub fn reg_line(d: Domain, n: u8, s: u8, cause: Option<u8>, radio: &Radio, read: bool) -> String {
    let mut line = if read {
        format!("{}: {},{}", prefix(d), n, s)
    } else {
        format!("{}: {}", prefix(d), s)
    };
    let registered = matches!(s, stat::HOME | stat::ROAMING | 6 | 7 | 9 | 10);
    if n >= 2 && registered {
        line.push_str(&format!(
            ",\"{}\",\"{}\",{}",
            radio.tac, radio.ci, radio.act
        ));
    }
    if n >= 3 {
        if let Some(c) = cause {
            if !(n >= 2 && registered) {
                line.push_str(",,,");
            }
            line.push_str(&format!(",0,{c}"));
        }
    }
    line
}

fn reg(x: &mut Exec<'_>, d: Domain, op: &ExtOp) -> Result<Reply, CmdError> {
    let i = domain_index(d);
    let p = prefix(d);
    match op {
        ExtOp::Test => one(format!("{p}: (0-{})", max_n(d))),
        ExtOp::Read => {
            let n = x.port.reg_n.get(i).copied().unwrap_or(0);
            let r = x.dev.net.domain(d);
            one(reg_line(
                d,
                n,
                r.stat,
                r.reject_cause,
                &x.dev.net.radio,
                true,
            ))
        }
        ExtOp::Set(ps) => {
            at_most(ps, 1)?;
            let n = nth(op, 0).opt_u32(0..=max_n(d))?.unwrap_or(0) as u8;
            if let Some(v) = x.port.reg_n.get_mut(i) {
                *v = n;
            }
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

pub(super) fn run(
    x: &mut Exec<'_>,
    st: &mut Settings,
    name: &str,
    op: &ExtOp,
) -> Option<Result<Reply, CmdError>> {
    Some(match name {
        "+CREG" => reg(x, Domain::Cs, op),
        "+CGREG" => reg(x, Domain::Ps, op),
        "+CEREG" => reg(x, Domain::Eps, op),
        "+C5GREG" => reg(x, Domain::FiveGs, op),
        "+COPS" => cops(x, st, op),
        "+CSQ" => csq(x, op),
        "+CESQ" => cesq(x, op),
        "+CIND" => cind(x, op),
        "+CMER" => cmer(x, op),
        "+CEMODE" => match op {
            ExtOp::Test => one("+CEMODE: (0-3)".into()),
            ExtOp::Read => one(format!("+CEMODE: {}", x.port.cemode)),
            ExtOp::Set(p) => at_most(p, 1).and_then(|()| {
                x.port.cemode = nth(op, 0).opt_u32(0..=3)?.unwrap_or(2) as u8;
                ok()
            }),
            ExtOp::Exec => Err(CmdError::Syntax),
        },
        "+CUSD" => match op {
            ExtOp::Test => one("+CUSD: (0-2)".into()),
            ExtOp::Read => one(format!("+CUSD: {}", x.port.cusd)),
            ExtOp::Set(p) => at_most(p, 3).and_then(|()| {
                let n = nth(op, 0).opt_u32(0..=2)?.unwrap_or(0) as u8;
                if n != 2 {
                    x.port.cusd = n;
                }
                // A USSD string is accepted; the simulated network never answers it.
                if !nth(op, 1).is_omitted() && !x.dev.net.registered() {
                    return Err(cme(CmeError::NoNetworkService));
                }
                ok()
            }),
            ExtOp::Exec => Err(CmdError::Syntax),
        },
        _ => return None,
    })
}

fn operator_field(x: &Exec<'_>, st: &Settings, format: u8) -> Option<String> {
    match format {
        2 => x.dev.plmn().map(|p| format!("\"{p}\"")),
        _ => Some(quoted(st, &x.dev.operator_name())),
    }
}

/// `+COPS`: read, test (the one simulated network), automatic/manual selection, deregister,
/// format.
fn cops(x: &mut Exec<'_>, st: &Settings, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Read => {
            if !x.dev.net.registered() {
                return one("+COPS: 0".into());
            }
            let f = x.port.cops_format;
            match operator_field(x, st, f) {
                Some(o) => one(format!("+COPS: 0,{f},{o},{}", x.dev.net.radio.act)),
                None => one("+COPS: 0".into()),
            }
        }
        ExtOp::Test => {
            let tail = ",,(0,1,2,3,4),(0,1,2)";
            match x.dev.plmn() {
                Some(plmn) if x.dev.cfun() == 1 => {
                    let status = if x.dev.net.registered() { 2 } else { 1 };
                    let name = x.dev.operator_name();
                    one(format!(
                        "+COPS: ({status},\"{}\",\"{}\",\"{plmn}\",{}){tail}",
                        text(st, &name),
                        text(st, &name),
                        x.dev.net.radio.act
                    ))
                }
                _ => one(format!("+COPS: {}", tail.trim_start_matches(','))),
            }
        }
        ExtOp::Set(p) => {
            at_most(p, 4)?;
            let mode = nth(op, 0).opt_u32(0..=4)?.unwrap_or(0);
            if let Some(f) = nth(op, 1).opt_u32(0..=2)? {
                x.port.cops_format = f as u8;
            }
            match mode {
                0 => {
                    x.dev.reregister(x.now);
                    ok()
                }
                1 | 4 => {
                    let oper = nth(op, 2).opt_str(st.charset)?;
                    let wanted = match &oper {
                        None => true,
                        Some(o) => {
                            Some(o.as_str()) == x.dev.plmn().as_deref()
                                || *o == x.dev.operator_name()
                        }
                    };
                    if !wanted && mode == 1 {
                        return Err(cme(CmeError::NoNetworkService));
                    }
                    x.dev.reregister(x.now);
                    ok()
                }
                2 => {
                    x.dev.deregister_manual();
                    ok()
                }
                _ => ok(),
            }
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

fn csq(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+CSQ: (0-31,99),(0-7,99)".into()),
        ExtOp::Exec => {
            let r = &x.dev.net.radio;
            if x.dev.cfun() != 1 {
                return one("+CSQ: 99,99".into());
            }
            one(format!("+CSQ: {},{}", r.rssi, r.ber))
        }
        _ => Err(CmdError::Syntax),
    }
}

/// `+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>` for the serving access technology.
fn cesq(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => {
            one("+CESQ: (0-63,99),(0-7,99),(0-96,255),(0-49,255),(0-34,255),(0-97,255)".into())
        }
        ExtOp::Exec => {
            let r = &x.dev.net.radio;
            if x.dev.cfun() != 1 || r.rssi > 31 {
                return one("+CESQ: 99,99,255,255,255,255".into());
            }
            let s = u32::from(r.rssi);
            let line = match r.act {
                0 | 3 | 8 => format!("+CESQ: {},{},255,255,255,255", s * 63 / 31, r.ber),
                2 | 4..=6 => format!("+CESQ: 99,99,{},{},255,255", s * 96 / 31, s * 49 / 31),
                _ => {
                    let (rsrq, rsrp) = r.rsrq_rsrp();
                    format!("+CESQ: 99,99,255,255,{rsrq},{rsrp}")
                }
            };
            one(line)
        }
        _ => Err(CmdError::Syntax),
    }
}

fn cind(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one(
            "+CIND: (\"battchg\",(0-5)),(\"signal\",(0-5)),(\"service\",(0,1)),(\"call\",(0,1)),\
             (\"roam\",(0,1)),(\"smsfull\",(0,1)),(\"message\",(0,1))"
                .into(),
        ),
        ExtOp::Read => {
            let v = indicators(x.dev);
            let s: Vec<String> = v.iter().map(u8::to_string).collect();
            one(format!("+CIND: {}", s.join(",")))
        }
        ExtOp::Set(_) => ok(),
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

/// `+CMER=[<mode>[,<keyp>[,<disp>[,<ind>[,<bfr>]]]]]`.
fn cmer(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    match op {
        ExtOp::Test => one("+CMER: (0-3),(0),(0),(0-2),(0,1)".into()),
        ExtOp::Read => {
            let c = x.port.cmer;
            one(format!(
                "+CMER: {},{},{},{},{}",
                c[0], c[1], c[2], c[3], c[4]
            ))
        }
        ExtOp::Set(p) => {
            at_most(p, 5)?;
            let ranges = [0..=3, 0..=0, 0..=0, 0..=2, 0..=1];
            for (i, r) in ranges.into_iter().enumerate() {
                if let Some(v) = nth(op, i).opt_u32(r)? {
                    if let Some(slot) = x.port.cmer.get_mut(i) {
                        *slot = v as u8;
                    }
                }
            }
            // Indicator events report changes from now on.
            x.port.ciev = indicators(x.dev);
            ok()
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NetworkConfig;

    #[test]
    fn reg_line_read_form_has_n_and_urc_form_not() {
        let r = Radio::from_config(&NetworkConfig::default());
        assert_eq!(reg_line(Domain::Eps, 0, 1, None, &r, true), "+CEREG: 0,1");
        assert_eq!(
            reg_line(Domain::Eps, 2, 1, None, &r, true),
            "+CEREG: 2,1,\"00C3\",\"0001A2B5\",7"
        );
        assert_eq!(
            reg_line(Domain::Eps, 2, 1, None, &r, false),
            "+CEREG: 1,\"00C3\",\"0001A2B5\",7"
        );
        assert_eq!(reg_line(Domain::Cs, 2, 2, None, &r, false), "+CREG: 2");
        assert_eq!(reg_line(Domain::Ps, 1, 5, None, &r, false), "+CGREG: 5");
    }

    #[test]
    fn reg_line_reports_reject_cause_with_n3() {
        let r = Radio::from_config(&NetworkConfig::default());
        assert_eq!(
            reg_line(Domain::Eps, 3, 3, Some(3), &r, false),
            "+CEREG: 3,,,,0,3"
        );
        assert_eq!(reg_line(Domain::Eps, 2, 3, Some(3), &r, false), "+CEREG: 3");
    }
}
