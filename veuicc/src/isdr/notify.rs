//! Signed notifications for enable, disable and delete (SGP.22 §4.4.x, §5.7.10):
//! `OtherSignedNotification ::= SEQUENCE { tbsOtherNotification NotificationMetadata,
//! euiccNotificationSignature [APPLICATION 55] OCTET STRING, euiccCertificate, eumCertificate }`,
//! the signature being ECDSA (plain r‖s) with SK.EUICC over the DER of the `BF2F` metadata.

use crate::euicc::records::{Event, NotificationRecord, FORMAT_VERSION};
use rsp::crypto::{CryptoError, CryptoProvider, EcPrivateKey};
use rsp::es10::{self, *};
use rsp::pki::Identity;

/// Why a notification could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the identity's certificates are malformed: {0}")]
    Certificate(#[from] rsp::tlv::TlvError),
    #[error("signing failed: {0}")]
    Crypto(#[from] CryptoError),
}

/// Builds and signs (with `key`, SK.EUICC, through `crypto`) the notification record for
/// `event` on profile `iccid`.
pub fn other_signed(
    crypto: &dyn CryptoProvider,
    key: &EcPrivateKey,
    identity: &Identity,
    seq: u32,
    event: Event,
    address: &str,
    iccid: &[u8],
) -> Result<NotificationRecord, NotifyError> {
    let metadata = NotificationMetadata {
        seq_number: i64::from(seq),
        profile_management_operation: notification_event::single(event.bit() as usize),
        notification_address: address.to_string(),
        iccid: Some(iccid.to_vec().into()),
    };
    let metadata_der = es10::encode(&metadata);
    let signature = crypto.sign(key, &metadata_der)?;
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
