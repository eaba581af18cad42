//! The device of each download: the DeviceInfo (TAC, IMEI) an LPA sends in AuthenticateClient's
//! ctxParams1 (SGP.22 §5.7.13 / §5.6.3), kept in the order record (`Order::devices`) so that a
//! test can check which IMEI a profile was downloaded for (IMEI binding, issue 5).

use super::{unix_secs, Smdp, SmdpError};
use crate::store::{DownloadDevice, MAX_ORDER_DEVICES};

/// TBCD (TS 24.008 §10.5.1.4: low nibble first, `F` filler) → digits.
fn tbcd_digits(b: &[u8]) -> String {
    b.iter()
        .flat_map(|x| [x & 0x0F, x >> 4])
        .take_while(|n| *n <= 9)
        .map(|n| char::from(b'0' + n))
        .collect()
}

/// The TAC: BCD digits in order, or hex if they are not BCD.
fn tac_digits(b: &[u8]) -> String {
    let hex = hex::encode_upper(b);
    if hex.bytes().all(|c| c.is_ascii_digit()) {
        hex
    } else {
        format!("0x{hex}")
    }
}

impl Smdp {
    /// Appends the DeviceInfo of a download to the order of `iccid` (bounded).
    pub(crate) fn record_device(
        &self,
        iccid: &str,
        transaction_id: &str,
        eid: &str,
        info: &rsp::es10::DeviceInfo,
    ) -> Result<(), SmdpError> {
        let _guard = self.guard();
        let Some(mut record) = self.store.profile(iccid)? else {
            return Ok(());
        };
        let Some(order) = record.order.as_mut() else {
            return Ok(());
        };
        order.devices.push(DownloadDevice {
            transaction_id: transaction_id.to_string(),
            eid: eid.to_string(),
            tac: tac_digits(info.tac.as_ref()),
            imei: info
                .imei
                .as_ref()
                .map(|i| tbcd_digits(i.as_ref()))
                .filter(|d| !d.is_empty()),
            at: unix_secs(self.now()),
        });
        let over = order.devices.len().saturating_sub(MAX_ORDER_DEVICES);
        order.devices.drain(..over);
        tracing::info!(%iccid, imei = ?order.devices.last().and_then(|d| d.imei.as_ref()), "download device");
        self.store.put_profile(&record)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_tbcd_imei_and_bcd_tac() {
        assert_eq!(
            tbcd_digits(&[0x94, 0x10, 0x45, 0x02, 0x23, 0x73, 0x15, 0xF8]),
            "490154203237518"
        );
        assert_eq!(tac_digits(&[0x35, 0x20, 0x99, 0x00]), "35209900");
        assert_eq!(tac_digits(&[0x3A, 0x00, 0x00, 0x00]), "0x3A000000");
    }
}
