//! Notifications: ListNotification (`BF28`), RetrieveNotificationsList (`BF2B`),
//! RemoveNotificationFromList / NotificationSent (`BF30`), and the NotificationMetadata (`BF2F`)
//! and PendingNotification structures they carry.

use rasn::prelude::*;

use super::common::{NotificationEvent, RawCertificate, RawProfileInstallationResult};

/// `NotificationMetadata ::= [47] SEQUENCE {…}`:
/// `BF2F{80 seqNumber, 81 event, 0C notificationAddress, [5A iccid]}`.
///
/// `notificationAddress` is untagged (universal `0C`): the other members carry tags, so AUTOMATIC
/// TAGS does not apply.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 47))]
pub struct NotificationMetadata {
    /// Sequence number, tag `80`.
    #[rasn(tag(context, 0))]
    pub seq_number: i64,
    /// The event, exactly one bit set, tag `81`.
    #[rasn(tag(context, 1))]
    pub profile_management_operation: NotificationEvent,
    /// FQDN to forward the notification to, universal `0C`.
    pub notification_address: Utf8String,
    /// ICCID of the profile concerned, tag `5A`.
    #[rasn(tag(application, 26))]
    pub iccid: Option<OctetString>,
}

// --- ListNotification ------------------------------------------------------------------------

/// `ListNotificationRequest ::= [40] SEQUENCE { profileManagementOperation [1] … OPTIONAL }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 40))]
pub struct ListNotificationRequest {
    /// Filter by event, tag `81`.
    #[rasn(tag(context, 1))]
    pub profile_management_operation: Option<NotificationEvent>,
}

/// `ListNotificationResponse ::= [40] CHOICE {…}`: `BF28{A0{BF2F…}}` or `BF28{81 error}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, tag(explicit(context, 40)))]
pub enum ListNotificationResponse {
    /// Tag `A0`.
    #[rasn(tag(context, 0))]
    NotificationMetadataList(Vec<NotificationMetadata>),
    /// `INTEGER {undefinedError(127)}`, tag `81`.
    #[rasn(tag(context, 1))]
    ListNotificationsResultError(i64),
}

// --- RetrieveNotificationsList ---------------------------------------------------------------

/// `RetrieveNotificationsListRequest ::= [43] SEQUENCE { searchCriteria CHOICE {…} OPTIONAL }`:
/// `BF2B{[A0{80 seq | 81 event}]}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq, Default)]
#[rasn(tag(context, 43))]
pub struct RetrieveNotificationsListRequest {
    /// Untagged CHOICE under AUTOMATIC TAGS: `[0]`, explicit, hence `A0{…}`.
    #[rasn(tag(explicit(context, 0)))]
    pub search_criteria: Option<NotificationSearchCriteria>,
}

/// RetrieveNotificationsListRequest's `searchCriteria` CHOICE.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice)]
pub enum NotificationSearchCriteria {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    SeqNumber(i64),
    /// Tag `81`.
    #[rasn(tag(context, 1))]
    ProfileManagementOperation(NotificationEvent),
}

/// `RetrieveNotificationsListResponse ::= [43] CHOICE {…}`:
/// `BF2B{A0{BF37… | 30…}}` or `BF2B{81 error}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice, tag(explicit(context, 43)))]
pub enum RetrieveNotificationsListResponse {
    /// Tag `A0`.
    #[rasn(tag(context, 0))]
    NotificationList(Vec<PendingNotification>),
    /// See [`super::retrieve_notifications_list_error`], tag `81`.
    #[rasn(tag(context, 1))]
    NotificationsListResultError(i64),
}

/// `PendingNotification ::= CHOICE { profileInstallationResult [55] …, otherSignedNotification }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(choice)]
pub enum PendingNotification {
    /// `BF37`, kept as raw DER (it embeds the eUICC's signature).
    ProfileInstallationResult(RawProfileInstallationResult),
    /// `30{BF2F…, 5F37…, 30 CERT.EUICC, 30 CERT.EUM}`.
    OtherSignedNotification(OtherSignedNotification),
}

/// `OtherSignedNotification ::= SEQUENCE {…}` (tag `30`).
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
pub struct OtherSignedNotification {
    /// `BF2F`; the signature below covers its DER.
    pub tbs_other_notification: NotificationMetadata,
    /// Plain r‖s signature, tag `5F37`.
    #[rasn(tag(application, 55))]
    pub euicc_notification_signature: OctetString,
    /// CERT.EUICC, raw DER `30…`.
    pub euicc_certificate: RawCertificate,
    /// CERT.EUM, raw DER `30…`.
    pub eum_certificate: RawCertificate,
}

// --- NotificationSent / RemoveNotificationFromList -------------------------------------------

/// `NotificationSentRequest ::= [48] SEQUENCE { seqNumber [0] INTEGER }`: `BF30{80 seq}`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 48))]
pub struct NotificationSentRequest {
    /// Tag `80`.
    #[rasn(tag(context, 0))]
    pub seq_number: i64,
}

/// `NotificationSentResponse ::= [48] SEQUENCE { deleteNotificationStatus INTEGER }`.
#[derive(AsnType, Encode, Decode, Debug, Clone, PartialEq, Eq)]
#[rasn(tag(context, 48))]
pub struct NotificationSentResponse {
    /// See [`super::delete_notification_status`], tag `80`.
    #[rasn(tag(context, 0))]
    pub delete_notification_status: i64,
}
