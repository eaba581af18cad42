//! ES9+ (LPA ↔ SM-DP+) as bound to HTTPS/JSON by GSMA SGP.22 v2.2 §6.5, and the Activation
//! Code of §4.1.
//!
//! Every function is an HTTP POST of a JSON object to `/gsma/rsp2/es9plus/<function>` ([`path`])
//! with the headers of [`headers`]. Responses carry a [`ResponseHeader`]; on failure only the
//! header is present, with a [`StatusCodeData`] (the subject/reason pairs of the function's error
//! table in SGP.22 §5.6, see [`status_codes`]). handleNotification answers HTTP 204 with no body.
//!
//! Binary members are base64 ([`Base64`]) of a **complete** ASN.1 TLV (tag, length, value) —
//! `serverSigned1` is `30…`, `serverSignature1` is `5F37 40 …`, `euiccCiPKIdToBeUsed` is
//! `04 14 …`, `profileMetadata` is `BF25…` — except `euiccChallenge`, which is the 16 challenge
//! bytes only. `transactionId` is the hexadecimal text of the transaction ID ([`HexBytes`]).
//! Member names are exactly those of §6.5.2 (camelCase); unknown members are ignored.

use core::fmt;
use core::str::FromStr;

use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::tlv;

// =============================================================================================
// HTTP binding constants
// =============================================================================================

/// HTTP header names and values of the ES9+ binding (SGP.22 §6.1 / §6.5.1).
pub mod headers {
    /// Header carrying the RSP protocol version.
    pub const X_ADMIN_PROTOCOL: &str = "X-Admin-Protocol";
    /// `X-Admin-Protocol` value for SGP.22 v2.2.0.
    pub const ADMIN_PROTOCOL_V2_2_0: &str = "gsma/rsp/v2.2.0";
    /// `Content-Type` of requests and responses.
    pub const CONTENT_TYPE_JSON: &str = "application/json;charset=UTF-8";
    /// `User-Agent` an LPA sends.
    pub const USER_AGENT_LPAD: &str = "gsma-rsp-lpad";
    /// Header name `Content-Type`.
    pub const CONTENT_TYPE: &str = "Content-Type";
    /// Header name `User-Agent`.
    pub const USER_AGENT: &str = "User-Agent";
}

/// Request paths of the ES9+ functions (SGP.22 §6.5.2).
pub mod path {
    /// Common prefix.
    pub const PREFIX: &str = "/gsma/rsp2/es9plus/";
    /// §6.5.2.1 ES9+.InitiateAuthentication.
    pub const INITIATE_AUTHENTICATION: &str = "/gsma/rsp2/es9plus/initiateAuthentication";
    /// §6.5.2.2 ES9+.GetBoundProfilePackage.
    pub const GET_BOUND_PROFILE_PACKAGE: &str = "/gsma/rsp2/es9plus/getBoundProfilePackage";
    /// §6.5.2.3 ES9+.AuthenticateClient.
    pub const AUTHENTICATE_CLIENT: &str = "/gsma/rsp2/es9plus/authenticateClient";
    /// §6.5.2.4 ES9+.HandleNotification.
    pub const HANDLE_NOTIFICATION: &str = "/gsma/rsp2/es9plus/handleNotification";
    /// §6.5.2.5 ES9+.CancelSession.
    pub const CANCEL_SESSION: &str = "/gsma/rsp2/es9plus/cancelSession";
}

// =============================================================================================
// Errors and binary members
// =============================================================================================

/// Why ES9+ data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Es9Error {
    /// A binary member is not valid base64.
    #[error("invalid base64: {0}")]
    Base64(String),
    /// A transaction ID is not 1 to 16 bytes of hexadecimal text.
    #[error("invalid hexadecimal transaction ID: {0}")]
    Hex(String),
    /// A member that should hold one ASN.1 TLV does not.
    #[error("{member} is not one BER-TLV: {reason}")]
    NotTlv {
        /// The JSON member.
        member: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A member needed for the operation is absent.
    #[error("member {0} is missing")]
    Missing(&'static str),
}

/// Base64 text of `data` (standard alphabet, padded).
pub fn b64_encode(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Decodes base64 liberally: ASCII whitespace anywhere is ignored and padding is optional.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, Es9Error> {
    let bytes = text.as_bytes();
    // Whitespace is not base64: text that decodes as it is has none, and otherwise the
    // whitespace-free text is decoded (its error, if any, is the one reported).
    if let Ok(v) = STANDARD_PAD_INDIFFERENT.decode(bytes) {
        return Ok(v);
    }
    let compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD_PAD_INDIFFERENT
        .decode(compact)
        .map_err(|e| Es9Error::Base64(e.to_string()))
}

/// Reads a JSON string member without copying it first when the deserializer can lend it.
struct StrVisitor<F>(F, &'static str);

impl<'de, T, F: FnOnce(&str) -> Result<T, Es9Error>> serde::de::Visitor<'de> for StrVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
}

/// A binary JSON member: base64 text on the wire, bytes here.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Base64(pub Vec<u8>);

impl Base64 {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl From<Vec<u8>> for Base64 {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for Base64 {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl fmt::Debug for Base64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64({})", hex::encode_upper(&self.0))
    }
}

impl Serialize for Base64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(
            |t: &str| b64_decode(t).map(Self),
            "a base64 string",
        ))
    }
}

/// A transaction ID as hexadecimal text (`^[0-9A-F]{2,32}$`; read case-insensitively, written in
/// upper case).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HexBytes(pub Vec<u8>);

impl HexBytes {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parses 1 to 16 bytes of hexadecimal text.
    pub fn parse(text: &str) -> Result<Self, Es9Error> {
        let bytes = hex::decode(text).map_err(|e| Es9Error::Hex(e.to_string()))?;
        if bytes.is_empty() || bytes.len() > 16 {
            return Err(Es9Error::Hex(format!("{} bytes, not 1..16", bytes.len())));
        }
        Ok(Self(bytes))
    }
}

impl From<&[u8]> for HexBytes {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({self})")
    }
}

impl fmt::Display for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode_upper(&self.0))
    }
}

impl Serialize for HexBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor(Self::parse, "a hexadecimal string"))
    }
}

/// Checks that `bytes` (the decoded member `member`) is exactly one TLV.
fn one_tlv(member: &'static str, bytes: &[u8]) -> Result<(), Es9Error> {
    tlv::parse_exact(bytes)
        .map(drop)
        .map_err(|e| Es9Error::NotTlv {
            member,
            reason: e.to_string(),
        })
}

fn required<'a>(member: &'static str, v: &'a Option<Base64>) -> Result<&'a [u8], Es9Error> {
    let bytes = v.as_ref().ok_or(Es9Error::Missing(member))?.as_bytes();
    one_tlv(member, bytes)?;
    Ok(bytes)
}

// =============================================================================================
// Response header
// =============================================================================================

/// `header` of every ES9+ response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseHeader {
    /// Whether and how the function was executed.
    #[serde(rename = "functionExecutionStatus")]
    pub function_execution_status: FunctionExecutionStatus,
}

impl ResponseHeader {
    /// `{"functionExecutionStatus": {"status": "Executed-Success"}}`.
    pub fn success() -> Self {
        Self {
            function_execution_status: FunctionExecutionStatus {
                status: ExecutionStatus::ExecutedSuccess,
                status_code_data: None,
            },
        }
    }

    /// `Failed` with the given status code.
    pub fn failed(code: StatusCode) -> Self {
        Self {
            function_execution_status: FunctionExecutionStatus {
                status: ExecutionStatus::Failed,
                status_code_data: Some(code.data()),
            },
        }
    }

    /// Whether the function was executed (`Executed-Success` or `Executed-WithWarning`).
    pub fn is_success(&self) -> bool {
        self.function_execution_status.status.is_success()
    }
}

/// `functionExecutionStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionExecutionStatus {
    /// `status`.
    pub status: ExecutionStatus,
    /// `statusCodeData`, present when the status is not `Executed-Success`.
    #[serde(
        rename = "statusCodeData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code_data: Option<StatusCodeData>,
}

/// The `status` values; any other text is kept in [`ExecutionStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    /// `Executed-Success`.
    ExecutedSuccess,
    /// `Executed-WithWarning`.
    ExecutedWithWarning,
    /// `Failed`.
    Failed,
    /// `Expired`.
    Expired,
    /// Anything else, as received.
    Other(String),
}

impl ExecutionStatus {
    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::ExecutedSuccess => "Executed-Success",
            Self::ExecutedWithWarning => "Executed-WithWarning",
            Self::Failed => "Failed",
            Self::Expired => "Expired",
            Self::Other(s) => s,
        }
    }

    /// Whether the function was executed.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::ExecutedSuccess | Self::ExecutedWithWarning)
    }
}

impl From<&str> for ExecutionStatus {
    fn from(s: &str) -> Self {
        match s {
            "Executed-Success" => Self::ExecutedSuccess,
            "Executed-WithWarning" => Self::ExecutedWithWarning,
            "Failed" => Self::Failed,
            "Expired" => Self::Expired,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for ExecutionStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ExecutionStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(Self::from(text.as_str()))
    }
}

/// `statusCodeData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCodeData {
    /// `subjectCode`, e.g. `8.1.1`.
    #[serde(rename = "subjectCode")]
    pub subject_code: String,
    /// `reasonCode`, e.g. `3.8`.
    #[serde(rename = "reasonCode")]
    pub reason_code: String,
    /// `subjectIdentifier`.
    #[serde(
        rename = "subjectIdentifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_identifier: Option<String>,
    /// `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl StatusCodeData {
    /// Whether this is the status code `code` (subject and reason; the message is not compared).
    pub fn is(&self, code: StatusCode) -> bool {
        self.subject_code == code.subject_code && self.reason_code == code.reason_code
    }
}

/// A subject code / reason code pair with its description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode {
    /// Subject code.
    pub subject_code: &'static str,
    /// Reason code.
    pub reason_code: &'static str,
    /// Description.
    pub message: &'static str,
}

impl StatusCode {
    /// A status code from its subject code, reason code and description.
    pub const fn new(
        subject_code: &'static str,
        reason_code: &'static str,
        message: &'static str,
    ) -> StatusCode {
        StatusCode {
            subject_code,
            reason_code,
            message,
        }
    }

    /// The `statusCodeData` object for this code, with the description as `message`.
    pub fn data(self) -> StatusCodeData {
        StatusCodeData {
            subject_code: self.subject_code.to_owned(),
            reason_code: self.reason_code.to_owned(),
            subject_identifier: None,
            message: Some(self.message.to_owned()),
        }
    }
}

/// The status codes of the ES9+ functions (the error tables of SGP.22 v2.2 §5.6.1 to §5.6.5;
/// subject `8.x` names the object, reason `x.y` the condition).
pub mod status_codes {
    use super::StatusCode;

    // --- §5.6.1 InitiateAuthentication ---------------------------------------------------

    /// §5.6.1: SM-DP+ Address – Refused.
    pub const INVALID_SMDP_ADDRESS: StatusCode =
        StatusCode::new("8.8.1", "3.8", "Invalid SM-DP+ Address");
    /// §5.6.1: Security configuration – Unsupported.
    pub const CI_PKID_NOT_SUPPORTED: StatusCode = StatusCode::new(
        "8.8.2",
        "3.1",
        "None of the proposed Public Key Identifiers is supported by the SM-DP+",
    );
    /// §5.6.1: Specification version number – Unsupported.
    pub const SVN_NOT_SUPPORTED: StatusCode = StatusCode::new(
        "8.8.3",
        "3.1",
        "The Specification Version Number indicated by the eUICC is not supported by the SM-DP+",
    );
    /// §5.6.1: SM-DP+ certificate – Unavailable.
    pub const NO_DPAUTH_CERTIFICATE: StatusCode = StatusCode::new(
        "8.8.4",
        "3.7",
        "The SM-DP+ has no CERT.DPauth.ECDSA signed by one of the CI Public Keys supported by the eUICC",
    );

    // --- §5.6.3 AuthenticateClient (some also in §5.6.2 / §5.6.5) ----------------------------

    /// §5.6.2, §5.6.3, §5.6.5: eUICC – Verification failed.
    pub const EUICC_SIGNATURE_INVALID: StatusCode = StatusCode::new(
        "8.1",
        "6.1",
        "eUICC signature is invalid or serverChallenge is invalid",
    );
    /// §5.6.3: eUICC – Insufficient memory.
    pub const INSUFFICIENT_MEMORY: StatusCode = StatusCode::new(
        "8.1",
        "4.8",
        "eUICC does not have sufficient space for this Profile",
    );
    /// §5.6.3: EID – Refused.
    pub const EID_REFUSED: StatusCode =
        StatusCode::new("8.1.1", "3.8", "EID doesn't match the expected value");
    /// §5.6.3: EUM certificate – Verification failed.
    pub const EUM_CERTIFICATE_INVALID: StatusCode =
        StatusCode::new("8.1.2", "6.1", "EUM Certificate is invalid");
    /// §5.6.3: EUM certificate – Expired.
    pub const EUM_CERTIFICATE_EXPIRED: StatusCode =
        StatusCode::new("8.1.2", "6.3", "EUM Certificate has expired");
    /// §5.6.3: eUICC certificate – Verification failed.
    pub const EUICC_CERTIFICATE_INVALID: StatusCode =
        StatusCode::new("8.1.3", "6.1", "eUICC Certificate is invalid");
    /// §5.6.3: eUICC certificate – Expired.
    pub const EUICC_CERTIFICATE_EXPIRED: StatusCode =
        StatusCode::new("8.1.3", "6.3", "eUICC Certificate has expired");
    /// §5.6.3: Profile – Not allowed (not yet released).
    pub const PROFILE_NOT_RELEASED: StatusCode =
        StatusCode::new("8.2", "1.2", "Profile has not yet been released");
    /// §5.6.3: Profile type – No eligible profile.
    pub const NO_ELIGIBLE_PROFILE: StatusCode =
        StatusCode::new("8.2.5", "4.3", "No eligible Profile for this eUICC/Device");
    /// §5.6.3: MatchingID – Refused.
    pub const MATCHING_ID_REFUSED: StatusCode = StatusCode::new(
        "8.2.6",
        "3.8",
        "MatchingID (AC_Token or EventID) is refused",
    );
    /// §5.6.3, §5.6.2: Download order – Time to live expired.
    pub const DOWNLOAD_ORDER_EXPIRED: StatusCode =
        StatusCode::new("8.8.5", "4.10", "The Download order has expired");
    /// §5.6.3: Download order – Maximum number of retries exceeded.
    pub const DOWNLOAD_ORDER_RETRIES_EXCEEDED: StatusCode = StatusCode::new(
        "8.8.5",
        "6.4",
        "The maximum number of retries for the Profile download order has been exceeded",
    );
    /// §5.6.2, §5.6.3, §5.6.5: TransactionId – Unknown.
    pub const TRANSACTION_ID_UNKNOWN: StatusCode = StatusCode::new(
        "8.10.1",
        "3.9",
        "The RSP session identified by the TransactionID is unknown",
    );
    /// §5.6.3: CI public key – Unknown.
    pub const CI_PK_UNKNOWN: StatusCode = StatusCode::new(
        "8.11.1",
        "3.9",
        "Unknown CI Public Key. The CI used by the EUM Certificate is not a trusted root",
    );

    // --- §5.6.2 GetBoundProfilePackage -------------------------------------------------------

    /// §5.6.2: Profile – BPP not available for a new binding.
    pub const BPP_NOT_AVAILABLE: StatusCode =
        StatusCode::new("8.2", "3.7", "BPP is not available for a new binding");
    /// §5.6.2: Confirmation code – Mandatory element missing.
    pub const CONFIRMATION_CODE_MISSING: StatusCode =
        StatusCode::new("8.2.7", "2.2", "Confirmation Code is missing");
    /// §5.6.2: Confirmation code – Refused.
    pub const CONFIRMATION_CODE_REFUSED: StatusCode =
        StatusCode::new("8.2.7", "3.8", "Confirmation Code is refused");
    /// §5.6.2: Confirmation code – Maximum number of retries exceeded.
    pub const CONFIRMATION_CODE_RETRIES_EXCEEDED: StatusCode = StatusCode::new(
        "8.2.7",
        "6.4",
        "The maximum number of retries for the Confirmation Code has been exceeded",
    );

    // --- §5.6.5 CancelSession ----------------------------------------------------------------

    /// §5.6.5: SM-DP+ – Invalid association (the smdpOid does not match CERT.DPauth).
    pub const INVALID_SMDP_OID: StatusCode =
        StatusCode::new("8.8", "3.10", "The provided SM-DP+ OID is invalid");

    /// Every code above, for look-ups by subject and reason.
    pub const ALL: &[StatusCode] = &[
        INVALID_SMDP_ADDRESS,
        CI_PKID_NOT_SUPPORTED,
        SVN_NOT_SUPPORTED,
        NO_DPAUTH_CERTIFICATE,
        EUICC_SIGNATURE_INVALID,
        INSUFFICIENT_MEMORY,
        EID_REFUSED,
        EUM_CERTIFICATE_INVALID,
        EUM_CERTIFICATE_EXPIRED,
        EUICC_CERTIFICATE_INVALID,
        EUICC_CERTIFICATE_EXPIRED,
        PROFILE_NOT_RELEASED,
        NO_ELIGIBLE_PROFILE,
        MATCHING_ID_REFUSED,
        DOWNLOAD_ORDER_EXPIRED,
        DOWNLOAD_ORDER_RETRIES_EXCEEDED,
        TRANSACTION_ID_UNKNOWN,
        CI_PK_UNKNOWN,
        BPP_NOT_AVAILABLE,
        CONFIRMATION_CODE_MISSING,
        CONFIRMATION_CODE_REFUSED,
        CONFIRMATION_CODE_RETRIES_EXCEEDED,
        INVALID_SMDP_OID,
    ];

    /// The known code with this subject and reason.
    pub fn find(subject_code: &str, reason_code: &str) -> Option<StatusCode> {
        ALL.iter()
            .copied()
            .find(|c| c.subject_code == subject_code && c.reason_code == reason_code)
    }
}

// =============================================================================================
// Function bodies (SGP.22 v2.2 §6.5.2)
// =============================================================================================

/// §6.5.2.1 initiateAuthentication request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiateAuthenticationRequest {
    /// The 16-byte eUICC challenge (value only, not a TLV).
    #[serde(rename = "euiccChallenge")]
    pub euicc_challenge: Base64,
    /// EUICCInfo1, the `BF20` TLV.
    #[serde(rename = "euiccInfo1")]
    pub euicc_info1: Base64,
    /// SM-DP+ address (FQDN).
    #[serde(rename = "smdpAddress")]
    pub smdp_address: String,
}

/// §6.5.2.1 initiateAuthentication response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitiateAuthenticationResponse {
    /// Execution status.
    pub header: ResponseHeader,
    /// Transaction ID (hex text).
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<HexBytes>,
    /// ServerSigned1, the `30` TLV.
    #[serde(
        rename = "serverSigned1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_signed1: Option<Base64>,
    /// The `5F37` TLV.
    #[serde(
        rename = "serverSignature1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_signature1: Option<Base64>,
    /// SubjectKeyIdentifier, the `04` TLV.
    #[serde(
        rename = "euiccCiPKIdToBeUsed",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub euicc_ci_pkid_to_be_used: Option<Base64>,
    /// CERT.DPauth, the `30` TLV.
    #[serde(
        rename = "serverCertificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub server_certificate: Option<Base64>,
}

impl InitiateAuthenticationResponse {
    /// A failed response: the header only.
    pub fn failed(code: StatusCode) -> Self {
        Self {
            header: ResponseHeader::failed(code),
            transaction_id: None,
            server_signed1: None,
            server_signature1: None,
            euicc_ci_pkid_to_be_used: None,
            server_certificate: None,
        }
    }

    /// The ES10b AuthenticateServerRequest (`BF38`) an LPA builds from this response and its
    /// `ctxParams1` (`A0…` TLV): the four TLVs received, then ctxParams1.
    pub fn authenticate_server_request(&self, ctx_params1: &[u8]) -> Result<Vec<u8>, Es9Error> {
        let mut inner = Vec::new();
        inner.extend_from_slice(required("serverSigned1", &self.server_signed1)?);
        inner.extend_from_slice(required("serverSignature1", &self.server_signature1)?);
        inner.extend_from_slice(required(
            "euiccCiPKIdToBeUsed",
            &self.euicc_ci_pkid_to_be_used,
        )?);
        inner.extend_from_slice(required("serverCertificate", &self.server_certificate)?);
        one_tlv("ctxParams1", ctx_params1)?;
        inner.extend_from_slice(ctx_params1);
        Ok(tlv::tlv(0xBF38, &inner))
    }
}

/// §6.5.2.3 authenticateClient request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticateClientRequest {
    /// Transaction ID (hex text).
    #[serde(rename = "transactionId")]
    pub transaction_id: HexBytes,
    /// AuthenticateServerResponse, the `BF38` TLV returned by the eUICC.
    #[serde(rename = "authenticateServerResponse")]
    pub authenticate_server_response: Base64,
}

/// §6.5.2.3 authenticateClient response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticateClientResponse {
    /// Execution status.
    pub header: ResponseHeader,
    /// Transaction ID (hex text).
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<HexBytes>,
    /// StoreMetadataRequest, the `BF25` TLV.
    #[serde(
        rename = "profileMetadata",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub profile_metadata: Option<Base64>,
    /// SmdpSigned2, the `30` TLV.
    #[serde(
        rename = "smdpSigned2",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub smdp_signed2: Option<Base64>,
    /// The `5F37` TLV.
    #[serde(
        rename = "smdpSignature2",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub smdp_signature2: Option<Base64>,
    /// CERT.DPpb, the `30` TLV.
    #[serde(
        rename = "smdpCertificate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub smdp_certificate: Option<Base64>,
}

impl AuthenticateClientResponse {
    /// A failed response: the header only.
    pub fn failed(code: StatusCode) -> Self {
        Self {
            header: ResponseHeader::failed(code),
            transaction_id: None,
            profile_metadata: None,
            smdp_signed2: None,
            smdp_signature2: None,
            smdp_certificate: None,
        }
    }

    /// The ES10b PrepareDownloadRequest (`BF21`) an LPA builds from this response:
    /// smdpSigned2, smdpSignature2, `04 20 hashCc` when a confirmation code was entered, and
    /// smdpCertificate.
    pub fn prepare_download_request(&self, hash_cc: Option<&[u8]>) -> Result<Vec<u8>, Es9Error> {
        let mut inner = Vec::new();
        inner.extend_from_slice(required("smdpSigned2", &self.smdp_signed2)?);
        inner.extend_from_slice(required("smdpSignature2", &self.smdp_signature2)?);
        if let Some(h) = hash_cc {
            tlv::write_tlv(0x04, h, &mut inner);
        }
        inner.extend_from_slice(required("smdpCertificate", &self.smdp_certificate)?);
        Ok(tlv::tlv(0xBF21, &inner))
    }
}

/// §6.5.2.2 getBoundProfilePackage request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetBoundProfilePackageRequest {
    /// Transaction ID (hex text).
    #[serde(rename = "transactionId")]
    pub transaction_id: HexBytes,
    /// PrepareDownloadResponse, the `BF21` TLV returned by the eUICC.
    #[serde(rename = "prepareDownloadResponse")]
    pub prepare_download_response: Base64,
}

/// §6.5.2.2 getBoundProfilePackage response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetBoundProfilePackageResponse {
    /// Execution status.
    pub header: ResponseHeader,
    /// Transaction ID (hex text).
    #[serde(
        rename = "transactionId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<HexBytes>,
    /// The Bound Profile Package, the `BF36` TLV.
    #[serde(
        rename = "boundProfilePackage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bound_profile_package: Option<Base64>,
}

impl GetBoundProfilePackageResponse {
    /// A failed response: the header only.
    pub fn failed(code: StatusCode) -> Self {
        Self {
            header: ResponseHeader::failed(code),
            transaction_id: None,
            bound_profile_package: None,
        }
    }
}

/// §6.5.2.4 handleNotification request (answered with HTTP 204, no body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandleNotificationRequest {
    /// A PendingNotification: the `BF37` ProfileInstallationResult or the `30`
    /// OtherSignedNotification.
    #[serde(rename = "pendingNotification")]
    pub pending_notification: Base64,
}

/// §6.5.2.5 cancelSession request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelSessionRequest {
    /// Transaction ID (hex text).
    #[serde(rename = "transactionId")]
    pub transaction_id: HexBytes,
    /// CancelSessionResponse, the `BF41` TLV returned by the eUICC.
    #[serde(rename = "cancelSessionResponse")]
    pub cancel_session_response: Base64,
}

/// §6.5.2.5 cancelSession response: the header only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelSessionResponse {
    /// Execution status.
    pub header: ResponseHeader,
}

// =============================================================================================
// Activation Code (SGP.22 v2.2 §4.1)
// =============================================================================================

/// Why an Activation Code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationCodeError {
    /// Fewer than three or more than five `$`-separated fields.
    #[error("an activation code has 3 to 5 '$'-separated fields, not {0}")]
    FieldCount(usize),
    /// AC_Format is not `1`.
    #[error("unsupported activation code format {0:?}")]
    Format(String),
    /// The SM-DP+ address is empty or not a host name.
    #[error("invalid SM-DP+ address {0:?}")]
    SmdpAddress(String),
    /// The matching ID contains whitespace or control characters.
    #[error("invalid matching ID {0:?}")]
    MatchingId(String),
    /// The SM-DP+ OID is not a dotted-decimal object identifier.
    #[error("invalid SM-DP+ OID {0:?}")]
    Oid(String),
    /// The Confirmation Code Required Flag is neither `1` nor `0`.
    #[error("invalid confirmation code required flag {0:?}")]
    ConfirmationCodeFlag(String),
}

/// An Activation Code: `[LPA:]1$<SM-DP+ address>$<AC_Token>[$<SM-DP+ OID>[$<CC required flag>]]`
/// (SGP.22 v2.2 §4.1; the `LPA:` prefix is that of the QR code).
///
/// Parsing accepts the `LPA:` prefix in any case, surrounding whitespace, an empty matching ID
/// and an empty OID field (`1$addr$token$$1`); a confirmation-code flag of `0` or empty means not
/// required. The SM-DP+ address must be a host name (letters, digits, `-`, `.`), optionally with
/// a `:port` (test servers). [`fmt::Display`] writes the canonical form without prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationCode {
    /// SM-DP+ address (FQDN).
    pub smdp_address: String,
    /// AC_Token, sent as matchingId (may be empty).
    pub matching_id: String,
    /// SM-DP+ OID, dotted decimal.
    pub smdp_oid: Option<String>,
    /// Whether the end user must enter a confirmation code.
    pub confirmation_code_required: bool,
}

impl ActivationCode {
    /// The QR-code payload: `LPA:` followed by the canonical code.
    pub fn to_qr_string(&self) -> String {
        format!("LPA:{self}")
    }
}

fn valid_host(addr: &str) -> bool {
    let (host, port) = match addr.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (addr, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let host_ok = !host.is_empty() && host.len() <= 253 && host.split('.').all(label_ok);
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    host_ok && port_ok
}

fn valid_oid(oid: &str) -> bool {
    let arcs: Vec<&str> = oid.split('.').collect();
    arcs.len() >= 2
        && arcs
            .iter()
            .all(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()))
}

impl FromStr for ActivationCode {
    type Err = ActivationCodeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let text = match text.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("LPA:") => &text[4..],
            _ => text,
        };
        let fields: Vec<&str> = text.split('$').collect();
        if !(3..=5).contains(&fields.len()) {
            return Err(ActivationCodeError::FieldCount(fields.len()));
        }
        if fields[0] != "1" {
            return Err(ActivationCodeError::Format(fields[0].to_owned()));
        }
        let smdp_address = fields[1];
        if !valid_host(smdp_address) {
            return Err(ActivationCodeError::SmdpAddress(smdp_address.to_owned()));
        }
        let matching_id = fields[2];
        if matching_id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ActivationCodeError::MatchingId(matching_id.to_owned()));
        }
        let smdp_oid = match fields.get(3) {
            None | Some(&"") => None,
            Some(oid) if valid_oid(oid) => Some((*oid).to_owned()),
            Some(oid) => return Err(ActivationCodeError::Oid((*oid).to_owned())),
        };
        let confirmation_code_required = match fields.get(4) {
            None | Some(&"") | Some(&"0") => false,
            Some(&"1") => true,
            Some(flag) => {
                return Err(ActivationCodeError::ConfirmationCodeFlag(
                    (*flag).to_owned(),
                ))
            }
        };
        Ok(Self {
            smdp_address: smdp_address.to_owned(),
            matching_id: matching_id.to_owned(),
            smdp_oid,
            confirmation_code_required,
        })
    }
}

impl fmt::Display for ActivationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1${}${}", self.smdp_address, self.matching_id)?;
        match (&self.smdp_oid, self.confirmation_code_required) {
            (oid, true) => write!(f, "${}$1", oid.as_deref().unwrap_or("")),
            (Some(oid), false) => write!(f, "${oid}"),
            (None, false) => Ok(()),
        }
    }
}
