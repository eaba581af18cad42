//! The IMEI an LPA sends in a profile download, seen from the modem: the DeviceInfo of
//! `ctxParams1` in ES10b AuthenticateServer (`BF38`, SGP.22 §5.7.13) as it passes through
//! `+CGLA` / `+CSIM` on its way to the card. The engine prefers that IMEI for the profile the
//! download installs, so that what the SM-DP+ recorded and what `+CGSN` reports agree.
//!
//! Only STORE DATA sequences (INS `E2`) whose first block starts with `BF38` are reassembled, per
//! logical channel, at most [`MAX_CAPTURE`] bytes; every other APDU costs a few comparisons.

use std::collections::BTreeMap;

use veuicc::apdu::Command;
use veuicc::isdr::storedata::{Fed, Reassembly};

use crate::device::imei::Imei;

/// Largest AuthenticateServer command captured (certificates included it is about 1 KiB).
pub const MAX_CAPTURE: usize = 16 * 1024;

/// Per-channel capture of AuthenticateServer commands.
#[derive(Debug, Default)]
pub struct Snoop {
    capturing: BTreeMap<u8, Reassembly>,
}

impl Snoop {
    /// Looks at one command APDU on its way to the card; returns the DeviceInfo IMEI when it
    /// completes an AuthenticateServer command that carries one.
    pub fn see(&mut self, apdu: &[u8]) -> Option<Imei> {
        // Cheap checks first: INS E2 with a proprietary class, or a channel being captured.
        if apdu.get(1) != Some(&0xE2) {
            if !self.capturing.is_empty() && apdu.get(1) != Some(&0xC0) {
                if let Some(ch) = apdu.first().and_then(|c| channel_of(*c)) {
                    self.capturing.remove(&ch);
                }
            }
            return None;
        }
        let cmd = Command::parse(apdu).ok()?;
        let ch = cmd.cla.channel;
        if cmd.p2 == 0 {
            if cmd.data.starts_with(&[0xBF, 0x38]) {
                self.capturing.insert(ch, Reassembly::default());
            } else {
                self.capturing.remove(&ch);
                return None;
            }
        }
        let r = self.capturing.get_mut(&ch)?;
        match r.feed(cmd.p1, cmd.p2, cmd.data) {
            Ok(Fed::More) => {
                if r.in_progress() && cmd.p2 as usize * 255 > MAX_CAPTURE {
                    self.capturing.remove(&ch);
                }
                None
            }
            Ok(Fed::Complete(whole)) => {
                self.capturing.remove(&ch);
                device_info_imei(&whole)
            }
            Err(_) => {
                self.capturing.remove(&ch);
                None
            }
        }
    }
}

fn channel_of(cla: u8) -> Option<u8> {
    veuicc::apdu::Class::parse(cla).ok().map(|c| c.channel)
}

/// The IMEI of the DeviceInfo of an AuthenticateServer command (15 digits, or the first 14 of
/// an IMEISV with the check digit computed), if it has a valid one.
pub fn device_info_imei(command: &[u8]) -> Option<Imei> {
    let rsp::es10::Es10Request::AuthenticateServer(r) = rsp::es10::decode_request(command).ok()?
    else {
        return None;
    };
    let ctx = r.ctx_params1.parse().ok()?;
    let tbcd = ctx.device_info().imei.as_ref()?;
    let digits: String = tbcd
        .iter()
        .flat_map(|b| [b & 0x0F, b >> 4])
        .take_while(|n| *n <= 9)
        .map(|n| char::from(b'0' + n))
        .collect();
    match digits.len() {
        15 => Imei::parse(&digits).ok(),
        16 => Imei::parse(digits.get(..14)?).ok(),
        _ => None,
    }
}
