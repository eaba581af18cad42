//! Signed notifications for enable, disable and delete (SGP.22 §4.4.x, §5.7.10):
//! `OtherSignedNotification ::= SEQUENCE { tbsOtherNotification NotificationMetadata,
//! euiccNotificationSignature [APPLICATION 55] OCTET STRING, euiccCertificate, eumCertificate }`,
//! the signature being ECDSA (plain r‖s) with SK.EUICC over the DER of the `BF2F` metadata.

use crate::euicc::records::{Event, NotificationRecord, FORMAT_VERSION};
use rsp::es10::{self, *};
use rsp::pki::Identity;

/// Builds and signs the notification record for `event` on profile `iccid`.
pub fn other_signed(
    identity: &Identity,
    seq: u32,
    event: Event,
    address: &str,
    iccid: &[u8],
) -> Result<NotificationRecord, rsp::tlv::TlvError> {
    let metadata = NotificationMetadata {
        seq_number: i64::from(seq),
        profile_management_operation: notification_event::single(event.bit() as usize),
        notification_address: address.to_string(),
        iccid: Some(iccid.to_vec().into()),
    };
    let metadata_der = es10::encode(&metadata);
    let signature = identity.euicc_key.sign_raw(&metadata_der);
    let pending = OtherSignedNotification {
        tbs_other_notification: metadata,
        euicc_notification_signature: signature.to_vec().into(),
        euicc_certificate: RawCertificate::new(identity.euicc_cert.clone())?,
        eum_certificate: RawCertificate::new(identity.eum_cert.clone())?,
    };
    Ok(NotificationRecord {
        version: FORMAT_VERSION,
        seq,
        event,
        address: address.to_string(),
        iccid: iccid.to_vec(),
        metadata: metadata_der,
        pending: es10::encode(&PendingNotification::OtherSignedNotification(pending)),
    })
}
