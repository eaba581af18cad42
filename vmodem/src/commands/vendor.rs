//! Vendor commands, answered only when the quirk profile lists them: Quectel `+QCCID`,
//! `+QSIMSTAT`, MediaTek/Quectel `+EGMR` (IMEI read/write, 7 = IMEI1, 10 = IMEI2), SIMCom
//! `+CICCID` and `+SIMEI`, u-blox style `+CCID`. IMEI writes exist only inside the virtual
//! modem (modem.md §2(d)). IMEI reads report what `+CGSN` does: the IMEI bound to the active
//! profile of the slot's stack (`device::binding`).
//!
//! `+VIMEIBIND` (this project's IMEI binding, docs/vmodem.md) is answered by every profile:
//! - `AT+VIMEIBIND?`: one line per profile the engine knows,
//!   `+VIMEIBIND: "<iccid>",<slot>,"<status>","<policy>","<imei>"` (slot 0: not active; status
//!   bound | unbound | pending | released; imei empty unless bound);
//! - `AT+VIMEIBIND="<iccid>"`: its history, oldest first,
//!   `+VIMEIBIND: "<iccid>",<n>,"<imei>",<unix time>,"<event>"`; an unknown ICCID gives
//!   `+CME ERROR: 22`;
//! - `AT+VIMEIBIND=?`: `+VIMEIBIND: "<iccid>"`.
//!
//! With the engine switched off every form answers `+CME ERROR: 4`.

use super::{cme, need_card, nth, ok, one, Exec};
use crate::device::SimState;
use crate::error::{CmdError, CmeError};
use crate::v250::token::at_most;
use crate::v250::{ExtOp, Reply, Settings};

fn iccid(x: &Exec<'_>) -> Result<String, CmdError> {
    need_card(x.dev)?;
    match x.dev.sim() {
        SimState::Initialising(_) => Err(cme(CmeError::SimBusy)),
        _ => x
            .dev
            .sim_info_any()
            .and_then(|i| i.iccid.clone())
            .ok_or(cme(CmeError::SimFailure)),
    }
}

pub(super) fn run(
    x: &mut Exec<'_>,
    _st: &mut Settings,
    name: &str,
    op: &ExtOp,
) -> Option<Result<Reply, CmdError>> {
    if name == "+VIMEIBIND" {
        return Some(vimeibind(x, op));
    }
    if !x.quirks.has_command(name) {
        return None;
    }
    Some(match (name, op) {
        ("+QCCID" | "+CICCID" | "+CCID", ExtOp::Test) => ok(),
        ("+QCCID", ExtOp::Exec) => iccid(x).and_then(|i| one(format!("+QCCID: {i}"))),
        ("+CICCID", ExtOp::Exec) => iccid(x).and_then(|i| one(format!("+ICCID: {i}"))),
        ("+CCID", ExtOp::Exec | ExtOp::Read) => iccid(x).and_then(|i| one(format!("+CCID: {i}"))),
        ("+QSIMSTAT", ExtOp::Test) => one("+QSIMSTAT: (0,1)".into()),
        ("+QSIMSTAT", ExtOp::Read) => {
            let inserted = !matches!(x.dev.sim(), SimState::Absent);
            one(format!("+QSIMSTAT: 0,{}", u8::from(inserted)))
        }
        ("+QSIMSTAT", ExtOp::Set(p)) => at_most(p, 1).and_then(|()| {
            nth(op, 0).as_u32(0..=1)?;
            ok()
        }),
        ("+EGMR", ExtOp::Test) => one("+EGMR: (0,1),(7,10)".into()),
        ("+EGMR", ExtOp::Set(p)) => egmr(x, p.len(), op),
        ("+SIMEI", ExtOp::Test) => ok(),
        ("+SIMEI", ExtOp::Read) => one(format!("+SIMEI: {}", x.dev.imei_for_active().as_str())),
        ("+SIMEI", ExtOp::Set(p)) => at_most(p, 1).and_then(|()| {
            let imei = nth(op, 0).as_text()?;
            let index = x.dev.active_imei_index();
            x.dev
                .set_imei(index, &imei)
                .map_err(|_| cme(CmeError::IncorrectParameters))?;
            ok()
        }),
        _ => Err(CmdError::Syntax),
    })
}

/// `+EGMR=<mode>,<format>[,"<imei>"]`: mode 0 reads, 1 writes; format 7 IMEI1, 10 IMEI2.
fn egmr(x: &mut Exec<'_>, n: usize, op: &ExtOp) -> Result<Reply, CmdError> {
    if n > 3 {
        return Err(cme(CmeError::IncorrectParameters));
    }
    let mode = nth(op, 0).as_u32(0..=1)?;
    let index = match nth(op, 1).as_u32(0..=255)? {
        7 => 1,
        10 => 2,
        _ => return Err(cme(CmeError::OperationNotSupported)),
    };
    if mode == 0 {
        // The stack of slot `index` reports its bound IMEI (or its own when none is bound).
        let imei = x.dev.imei_for_slot(index);
        return one(format!("+EGMR: \"{}\"", imei.as_str()));
    }
    let imei = nth(op, 2).as_text()?;
    x.dev
        .set_imei(index, &imei)
        .map_err(|_| cme(CmeError::IncorrectParameters))?;
    ok()
}

/// `+VIMEIBIND` (see the module documentation).
fn vimeibind(x: &mut Exec<'_>, op: &ExtOp) -> Result<Reply, CmdError> {
    let off = || cme(CmeError::OperationNotSupported);
    match op {
        ExtOp::Test => {
            x.dev.binding().ok_or_else(off)?;
            one("+VIMEIBIND: \"<iccid>\"".into())
        }
        ExtOp::Read => Ok(Reply::lines(x.dev.binding_lines().ok_or_else(off)?)),
        ExtOp::Set(p) => {
            at_most(p, 1)?;
            let iccid = nth(op, 0).as_text()?;
            x.dev.binding().ok_or_else(off)?;
            if iccid.is_empty() || iccid.len() > 20 || !iccid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(cme(CmeError::IncorrectParameters));
            }
            let lines = x
                .dev
                .binding_history_lines(&iccid)
                .ok_or(cme(CmeError::NotFound))?;
            Ok(Reply::lines(lines))
        }
        ExtOp::Exec => Err(CmdError::Syntax),
    }
}
