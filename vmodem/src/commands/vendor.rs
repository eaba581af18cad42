//! Vendor commands, answered only when the quirk profile lists them: Quectel `+QCCID`,
//! `+QSIMSTAT`, MediaTek/Quectel `+EGMR` (IMEI read/write, 7 = IMEI1, 10 = IMEI2), SIMCom
//! `+CICCID` and `+SIMEI`, u-blox style `+CCID`. IMEI writes exist only inside the virtual
//! modem (modem.md §2(d)).

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
        let imei = x
            .dev
            .imei(index)
            .ok_or(cme(CmeError::OperationNotSupported))?;
        return one(format!("+EGMR: \"{}\"", imei.as_str()));
    }
    let imei = nth(op, 2).as_text()?;
    x.dev
        .set_imei(index, &imei)
        .map_err(|_| cme(CmeError::IncorrectParameters))?;
    ok()
}
