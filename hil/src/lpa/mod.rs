//! The LPA: profile download (SGP.22 v2.2 §3.1.3) and notification handling (§3.5) between an
//! eUICC reached through [`Client`] (any [`ApduTransport`]: in-process, PC/SC, a modem's
//! AT+CGLA) and an SM-DP+ reached through an [`Es9Transport`] (HTTPS or in-process).
//!
//! [`download`] runs the whole flow:
//!
//! 1. SELECT ISD-R, GetEUICCInfo1 (`BF20`) and GetEUICCChallenge (`BF2E`);
//! 2. ES9+ initiateAuthentication;
//! 3. AuthenticateServer (`BF38`) with ctxParams1 = {matchingId, deviceInfo {tac,
//!    deviceCapabilities, imei}};
//! 4. ES9+ authenticateClient;
//! 5. PrepareDownload (`BF21`), with hashCc = SHA-256(SHA-256(CC) ‖ transactionId) when the
//!    SM-DP+ requires a confirmation code;
//! 6. ES9+ getBoundProfilePackage;
//! 7. LoadBoundProfilePackage (`BF36`) segmented as LPAs do: the `BF36` header with `BF23`, `A0`
//!    whole, the `A1` header then each `88`, `A2` whole, the `A3` header then each `86`, each its
//!    own STORE DATA sequence; every intermediate segment must answer a bare `9000`;
//! 8. the ProfileInstallationResult: ES9+ handleNotification, then RemoveNotificationFromList.
//!
//! Errors name the failing [`Step`] and carry the SM-DP+'s subject/reason code or the eUICC's
//! error code. When the eUICC fails after authenticateClient, the LPA cancels the session on
//! both sides (CancelSession `BF41`, then ES9+ cancelSession with the eUICC's signed answer).
//! An installation error reported in the ProfileInstallationResult is delivered to the SM-DP+
//! as a notification like a success is.
//!
//! [`process_notifications`] sends every pending notification to its address and removes the
//! ones the SM-DP+ accepted.

pub mod es9;
pub mod smdp;

use crate::client::{iccid_digits, Client, ClientError};
use crate::transport::ApduTransport;
use rsp::crypto::CryptoProvider;
use rsp::es10::{self, *};
use rsp::es9::{self as wire, ActivationCode, StatusCodeData};
use std::fmt;
use std::time::{Duration, Instant};

pub use es9::{
    Es9CallError, Es9Handler, Es9Transport, HttpsEs9, HttpsOptions, InProcessEs9, Trust,
};

/// The steps of a download or of notification processing, for progress and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    SelectIsdr,
    GetEuiccInfo1,
    GetEuiccChallenge,
    InitiateAuthentication,
    AuthenticateServer,
    AuthenticateClient,
    PrepareDownload,
    GetBoundProfilePackage,
    LoadBoundProfilePackage,
    HandleNotification,
    RemoveNotificationFromList,
    ListNotification,
    RetrieveNotificationsList,
    CancelSession,
    Es9CancelSession,
}

impl Step {
    /// The SGP.22 name (ES9+ functions in camelCase, ES10 functions as the specification
    /// writes them).
    pub fn name(self) -> &'static str {
        match self {
            Step::SelectIsdr => "SELECT ISD-R",
            Step::GetEuiccInfo1 => "GetEUICCInfo1",
            Step::GetEuiccChallenge => "GetEUICCChallenge",
            Step::InitiateAuthentication => "ES9+ initiateAuthentication",
            Step::AuthenticateServer => "AuthenticateServer",
            Step::AuthenticateClient => "ES9+ authenticateClient",
            Step::PrepareDownload => "PrepareDownload",
            Step::GetBoundProfilePackage => "ES9+ getBoundProfilePackage",
            Step::LoadBoundProfilePackage => "LoadBoundProfilePackage",
            Step::HandleNotification => "ES9+ handleNotification",
            Step::RemoveNotificationFromList => "RemoveNotificationFromList",
            Step::ListNotification => "ListNotification",
            Step::RetrieveNotificationsList => "RetrieveNotificationsList",
            Step::CancelSession => "CancelSession",
            Step::Es9CancelSession => "ES9+ cancelSession",
        }
    }

    /// Whether this step is a call to the SM-DP+ (the others talk to the eUICC).
    pub fn is_es9(self) -> bool {
        matches!(
            self,
            Step::InitiateAuthentication
                | Step::AuthenticateClient
                | Step::GetBoundProfilePackage
                | Step::HandleNotification
                | Step::Es9CancelSession
        )
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// An SM-DP+ status code as text: `subject 8.2.6 reason 3.8 (MatchingID … is refused)`.
fn status_text(status: &str, code: &Option<StatusCodeData>) -> String {
    match code {
        None => format!("status {status}"),
        Some(c) => {
            let known = wire::status_codes::find(&c.subject_code, &c.reason_code);
            let message = c
                .message
                .clone()
                .or_else(|| known.map(|k| k.message.to_string()))
                .unwrap_or_default();
            format!(
                "status {status}, subject {} reason {}{}",
                c.subject_code,
                c.reason_code,
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" ({message})")
                }
            )
        }
    }
}

/// Why a download or notification step failed.
#[derive(Debug, thiserror::Error)]
pub enum LpaError {
    /// The card transport failed or the card answered an unexpected status word.
    #[error("{step}: {error}")]
    Card { step: Step, error: ClientError },
    /// A LoadBoundProfilePackage segment was refused with a status word.
    #[error("{}: segment {} of {} ({}): {error}", Step::LoadBoundProfilePackage, .index + 1, .total, .tag)]
    Segment {
        index: usize,
        total: usize,
        tag: String,
        error: ClientError,
    },
    /// The eUICC answered an ES10 error code.
    #[error("{step}: the eUICC answered error code {code} ({meaning})")]
    Euicc {
        step: Step,
        code: i64,
        meaning: &'static str,
    },
    /// The eUICC refused the profile: the ProfileInstallationResult carries an errorResult.
    #[error("{}: the eUICC refused the profile at {} ({bpp_command_id}): {} ({error_reason})", Step::LoadBoundProfilePackage, bpp_command_name(*.bpp_command_id), error_reason_name(*.error_reason))]
    Installation {
        bpp_command_id: i64,
        error_reason: i64,
        /// The signed result (already delivered to the SM-DP+ when possible).
        pir: Vec<u8>,
    },
    /// The SM-DP+ answered with a status other than Executed-Success.
    #[error("{step}: the SM-DP+ answered {}", status_text(.status, .code))]
    Smdp {
        step: Step,
        status: String,
        code: Option<StatusCodeData>,
    },
    /// The SM-DP+ could not be reached or answered something other than ES9+ JSON.
    #[error("{step}: {error}")]
    Es9 { step: Step, error: Es9CallError },
    /// A response is malformed or inconsistent (wrong transaction ID, undecodable TLV, …).
    #[error("{step}: {message}")]
    Protocol { step: Step, message: String },
    /// The SM-DP+ requires a confirmation code and none was given.
    #[error("{}: the SM-DP+ requires a confirmation code (--confirmation-code); the session was cancelled", Step::PrepareDownload)]
    ConfirmationCodeRequired,
    /// The activation code cannot be parsed.
    #[error("activation code: {0}")]
    ActivationCode(#[from] wire::ActivationCodeError),
    /// A download parameter is invalid.
    #[error("{0}")]
    Invalid(String),
}

impl LpaError {
    /// The step that failed, when there is one.
    pub fn step(&self) -> Option<Step> {
        match self {
            LpaError::Card { step, .. }
            | LpaError::Euicc { step, .. }
            | LpaError::Smdp { step, .. }
            | LpaError::Es9 { step, .. }
            | LpaError::Protocol { step, .. } => Some(*step),
            LpaError::Segment { .. } | LpaError::Installation { .. } => {
                Some(Step::LoadBoundProfilePackage)
            }
            LpaError::ConfirmationCodeRequired => Some(Step::PrepareDownload),
            LpaError::ActivationCode(_) | LpaError::Invalid(_) => None,
        }
    }

    /// The SM-DP+'s status code data, for an SM-DP+ error.
    pub fn smdp_status(&self) -> Option<&StatusCodeData> {
        match self {
            LpaError::Smdp { code, .. } => code.as_ref(),
            _ => None,
        }
    }

    /// The eUICC's error code: the ES10 error code, or the errorReason of a refused profile.
    pub fn euicc_code(&self) -> Option<i64> {
        match self {
            LpaError::Euicc { code, .. } => Some(*code),
            LpaError::Installation { error_reason, .. } => Some(*error_reason),
            _ => None,
        }
    }

    /// A failure on the eUICC's side after the SM-DP+ authenticated it: the session must be
    /// cancelled on both sides.
    fn needs_cancel(&self) -> bool {
        matches!(
            self,
            LpaError::Card { .. }
                | LpaError::Segment { .. }
                | LpaError::Euicc { .. }
                | LpaError::ConfirmationCodeRequired
        ) || matches!(self, LpaError::Protocol { step, .. } if !step.is_es9())
    }
}

/// The meaning of an ES10 error code of `step`.
pub fn euicc_error_meaning(step: Step, code: i64) -> &'static str {
    use rsp::es10::{authenticate_error_code as a, download_error_code as d};
    match (step, code) {
        (Step::AuthenticateServer, a::INVALID_CERTIFICATE) => "invalidCertificate",
        (Step::AuthenticateServer, a::INVALID_SIGNATURE) => "invalidSignature",
        (Step::AuthenticateServer, a::UNSUPPORTED_CURVE) => "unsupportedCurve",
        (Step::AuthenticateServer, a::NO_SESSION_CONTEXT) => "noSessionContext",
        (Step::AuthenticateServer, a::INVALID_OID) => "invalidOid",
        (Step::AuthenticateServer, a::EUICC_CHALLENGE_MISMATCH) => "euiccChallengeMismatch",
        (Step::AuthenticateServer, a::CI_PK_UNKNOWN) => "ciPKUnknown",
        (Step::PrepareDownload, d::INVALID_CERTIFICATE) => "invalidCertificate",
        (Step::PrepareDownload, d::INVALID_SIGNATURE) => "invalidSignature",
        (Step::PrepareDownload, d::UNSUPPORTED_CURVE) => "unsupportedCurve",
        (Step::PrepareDownload, d::NO_SESSION_CONTEXT) => "noSessionContext",
        (Step::PrepareDownload, d::INVALID_TRANSACTION_ID) => "invalidTransactionId",
        (Step::CancelSession, 5) => "invalidTransactionId",
        (Step::RetrieveNotificationsList, 1) => "noResultAvailable",
        (Step::RemoveNotificationFromList, 1) => "nothingToDelete",
        (_, 127) => "undefinedError",
        _ => "unknown code",
    }
}

/// The name of a BppCommandId.
pub fn bpp_command_name(id: i64) -> &'static str {
    match id {
        0 => "initialiseSecureChannel",
        1 => "configureISDP",
        2 => "storeMetadata",
        3 => "storeMetadata2",
        4 => "replaceSessionKeys",
        5 => "loadProfileElements",
        _ => "unknown command",
    }
}

/// The name of an ErrorReason of the ProfileInstallationResult.
pub fn error_reason_name(reason: i64) -> &'static str {
    match reason {
        1 => "incorrectInputValues",
        2 => "invalidSignature",
        3 => "invalidTransactionId",
        4 => "unsupportedCrtValues",
        5 => "unsupportedRemoteOperationType",
        6 => "unsupportedProfileClass",
        7 => "scp03tStructureError",
        8 => "scp03tSecurityError",
        9 => "installFailedDueToIccidAlreadyExistsOnEuicc",
        10 => "installFailedDueToInsufficientMemoryForProfile",
        11 => "installFailedDueToInterruption",
        12 => "installFailedDueToPEProcessingError",
        13 => "installFailedDueToIccidMismatch",
        14 => "testProfileInstallFailedDueToInvalidNaaKey",
        15 => "pprNotAllowed",
        _ => "installFailedDueToUnknownError",
    }
}

/// SGP.22 v2.2 CancelSessionReason values the LPA uses.
pub mod cancel_reason {
    /// endUserRejection(0).
    pub const END_USER_REJECTION: i64 = 0;
    /// postponed(1).
    pub const POSTPONED: i64 = 1;
    /// loadBppExecutionError(5).
    pub const LOAD_BPP_EXECUTION_ERROR: i64 = 5;
    /// undefinedReason(127).
    pub const UNDEFINED_REASON: i64 = 127;
}

// =============================================================================================
// Parameters, progress, outcome
// =============================================================================================

/// What the LPA reports while it works.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A step begins.
    Started(Step),
    /// A step ended successfully after this long.
    Finished(Step, Duration),
    /// The SM-DP+ offered this profile (from the profile metadata, before loading).
    Profile {
        iccid: String,
        name: String,
        service_provider_name: String,
        class: i64,
    },
    /// `done` of `total` LoadBoundProfilePackage segments accepted.
    Segment { done: usize, total: usize },
    /// The session was cancelled after a failure; `detail` says how each side answered.
    Cancelled { detail: String },
    /// A notification was handled: delivered (and removed) or not.
    Notification {
        seq: i64,
        address: String,
        outcome: String,
    },
}

/// Download parameters.
#[derive(Default)]
pub struct DownloadParams<'a> {
    /// SM-DP+ address, `host[:port]`.
    pub smdp_address: String,
    /// Matching ID (AC_Token); `None` or empty: no matchingId in ctxParams1.
    pub matching_id: Option<String>,
    /// Confirmation code, when the operator gave one.
    pub confirmation_code: Option<String>,
    /// IMEI (15 or 16 digits), sent in deviceInfo.
    pub imei: Option<String>,
    /// TAC (8 digits); default: the IMEI's first 8 digits, else [`DEFAULT_TAC`].
    pub tac: Option<String>,
    /// Called at every step.
    pub progress: Option<&'a mut dyn FnMut(&Progress)>,
}

impl fmt::Debug for DownloadParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadParams")
            .field("smdp_address", &self.smdp_address)
            .field("matching_id", &self.matching_id)
            .field(
                "confirmation_code",
                &self.confirmation_code.as_ref().map(|_| "<redacted>"),
            )
            .field("imei", &self.imei)
            .field("tac", &self.tac)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl<'a> DownloadParams<'a> {
    /// Parameters for an SM-DP+ address and matching ID.
    pub fn new(smdp_address: &str, matching_id: &str) -> Self {
        DownloadParams {
            smdp_address: smdp_address.to_string(),
            matching_id: Some(matching_id.to_string()),
            ..Default::default()
        }
    }

    /// Parameters from an activation code (`LPA:1$host$matchingId[$oid[$1]]`).
    pub fn from_activation_code(code: &str) -> Result<Self, LpaError> {
        let ac: ActivationCode = code.parse()?;
        Ok(DownloadParams {
            smdp_address: ac.smdp_address,
            matching_id: Some(ac.matching_id),
            ..Default::default()
        })
    }

    /// With a progress callback.
    pub fn with_progress(mut self, progress: &'a mut dyn FnMut(&Progress)) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// The TAC sent when neither a TAC nor an IMEI is given.
pub const DEFAULT_TAC: &str = "35000011";

/// Whether the ProfileInstallationResult reached the SM-DP+.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationDelivery {
    /// Delivered and removed from the eUICC's list.
    Delivered,
    /// Delivered, but RemoveNotificationFromList failed (it will be sent again).
    DeliveredNotRemoved(String),
    /// Not delivered: it stays pending on the eUICC (`notifications process` retries).
    Pending(String),
}

/// A successful download.
#[derive(Debug, Clone)]
pub struct DownloadOutcome {
    /// ICCID, digits.
    pub iccid: String,
    /// ICCID as in EF.ICCID (10 bytes).
    pub iccid_raw: Vec<u8>,
    /// The ISD-P AID the eUICC created.
    pub isdp_aid: Vec<u8>,
    /// The signed ProfileInstallationResult (`BF37…`).
    pub pir: Vec<u8>,
    /// The transaction ID.
    pub transaction_id: Vec<u8>,
    /// From the profile metadata.
    pub profile_name: String,
    /// From the profile metadata.
    pub service_provider_name: String,
    /// From the profile metadata (0 test, 1 provisioning, 2 operational).
    pub profile_class: i64,
    /// Number of LoadBoundProfilePackage segments.
    pub segments: usize,
    /// Size of the Bound Profile Package.
    pub bpp_len: usize,
    /// Duration of each step, in order.
    pub timings: Vec<(Step, Duration)>,
    /// The whole download.
    pub total: Duration,
    /// What became of the ProfileInstallationResult notification.
    pub notification: NotificationDelivery,
}

impl DownloadOutcome {
    /// The duration of `step` (summed when it ran more than once).
    pub fn time_of(&self, step: Step) -> Duration {
        self.timings
            .iter()
            .filter(|(s, _)| *s == step)
            .map(|(_, d)| *d)
            .sum()
    }
}

// =============================================================================================
// The download
// =============================================================================================

struct Run<'p, 'a> {
    progress: &'p mut Option<&'a mut dyn FnMut(&Progress)>,
    timings: Vec<(Step, Duration)>,
}

impl Run<'_, '_> {
    fn report(&mut self, p: Progress) {
        if let Some(cb) = self.progress.as_mut() {
            cb(&p);
        }
    }

    fn timed<R>(
        &mut self,
        step: Step,
        f: impl FnOnce(&mut Self) -> Result<R, LpaError>,
    ) -> Result<R, LpaError> {
        self.report(Progress::Started(step));
        let t = Instant::now();
        let r = f(self)?;
        let d = t.elapsed();
        self.timings.push((step, d));
        self.report(Progress::Finished(step, d));
        Ok(r)
    }
}

fn card_err(step: Step) -> impl FnOnce(ClientError) -> LpaError {
    move |error| LpaError::Card { step, error }
}

fn decode_at<T: rasn::Decode>(step: Step, raw: &[u8]) -> Result<T, LpaError> {
    es10::decode(raw).map_err(|e| LpaError::Protocol {
        step,
        message: format!("cannot decode the eUICC's answer: {e}"),
    })
}

/// A response body that is not JSON text.
fn not_json(step: Step, path: &str, e: &serde_json::Error) -> LpaError {
    LpaError::Es9 {
        step,
        error: Es9CallError::Json {
            path: path.into(),
            message: e.to_string(),
        },
    }
}

/// One ES9+ function: typed request → JSON text → transport → JSON text → typed response.
fn es9_call<Req: serde::Serialize, Resp: serde::de::DeserializeOwned>(
    es9: &mut dyn Es9Transport,
    address: &str,
    step: Step,
    path: &str,
    req: &Req,
) -> Result<Resp, LpaError> {
    let body = serde_json::to_vec(req).map_err(|e| LpaError::Protocol {
        step,
        message: format!("cannot encode the request: {e}"),
    })?;
    let text = es9
        .call(address, path, body)
        .map_err(|error| LpaError::Es9 { step, error })?;
    if text.is_empty() {
        return Err(LpaError::Protocol {
            step,
            message: "malformed ES9+ response: no body".into(),
        });
    }
    // A body that is not JSON is the transport's kind of failure; JSON that is not the expected
    // response is a protocol error.
    serde_json::from_slice(&text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => LpaError::Protocol {
            step,
            message: format!("malformed ES9+ response: {e}"),
        },
        _ => not_json(step, path, &e),
    })
}

fn check_header(step: Step, h: &wire::ResponseHeader) -> Result<(), LpaError> {
    if h.is_success() {
        return Ok(());
    }
    Err(LpaError::Smdp {
        step,
        status: h.function_execution_status.status.as_str().to_string(),
        code: h.function_execution_status.status_code_data.clone(),
    })
}

fn check_tx(step: Step, got: Option<&wire::HexBytes>, want: &[u8]) -> Result<(), LpaError> {
    match got {
        Some(t) if t.as_bytes() == want => Ok(()),
        Some(t) => Err(LpaError::Protocol {
            step,
            message: format!(
                "transaction ID {t} differs from the session's {}",
                hex::encode_upper(want)
            ),
        }),
        None => Err(LpaError::Protocol {
            step,
            message: "no transactionId in the response".into(),
        }),
    }
}

fn digits(what: &str, s: &str, lens: &[usize]) -> Result<Vec<u8>, LpaError> {
    if !lens.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LpaError::Invalid(format!(
            "{what} must be {} digits, not {s:?}",
            lens.iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    Ok(s.bytes().map(|b| b - b'0').collect())
}

/// The TAC as 4 BCD bytes (digits in order, as a decimal number is written).
pub fn encode_tac(tac: &str) -> Result<Vec<u8>, LpaError> {
    let d = digits("a TAC", tac, &[8])?;
    Ok(d.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// The IMEI (15 digits, or 16 for an IMEISV) as 8 TBCD bytes: digit pairs nibble-swapped as in
/// 3GPP TS 24.008, an odd length padded with `F`.
pub fn encode_imei(imei: &str) -> Result<Vec<u8>, LpaError> {
    let mut d = digits("an IMEI", imei, &[15, 16])?;
    if d.len() % 2 == 1 {
        d.push(0x0F);
    }
    Ok(d.chunks(2).map(|p| p[0] | (p[1] << 4)).collect())
}

/// The ctxParams1 (`A0{80 matchingId, A1 deviceInfo}`) of AuthenticateServer.
pub fn ctx_params1(
    matching_id: Option<&str>,
    tac: Option<&str>,
    imei: Option<&str>,
) -> Result<Vec<u8>, LpaError> {
    let tac = match (tac, imei) {
        (Some(t), _) => t.to_string(),
        (None, Some(i)) if i.len() >= 8 => i[..8].to_string(),
        _ => DEFAULT_TAC.to_string(),
    };
    let release = |major: u8| Some(rasn::types::OctetString::from(vec![major, 0, 0]));
    let caps = DeviceCapabilities {
        gsm_supported_release: release(15),
        utran_supported_release: release(15),
        eutran_supported_release: release(15),
        ..Default::default()
    };
    let device_info = DeviceInfo {
        tac: encode_tac(&tac)?.into(),
        device_capabilities: caps,
        imei: imei.map(encode_imei).transpose()?.map(Into::into),
    };
    let ctx = CtxParams1::CtxParamsForCommonAuthentication(CtxParamsForCommonAuthentication {
        matching_id: matching_id.filter(|m| !m.is_empty()).map(str::to_string),
        device_info,
    });
    Ok(RawCtxParams1::from_ctx_params(&ctx).into_bytes())
}

/// hashCc = SHA-256(SHA-256(confirmation code) ‖ transactionId) (SGP.22 §3.1.3).
pub fn hash_cc(confirmation_code: &str, transaction_id: &[u8]) -> [u8; 32] {
    let p = rsp::crypto::rustcrypto::RustCrypto;
    let mut input = p.sha256(confirmation_code.as_bytes()).to_vec();
    input.extend_from_slice(transaction_id);
    p.sha256(&input)
}

/// Sends `req` (a whole ES10 command) and returns the raw answer.
fn es10_raw<T: ApduTransport>(
    card: &mut Client<T>,
    step: Step,
    req: &[u8],
) -> Result<Vec<u8>, LpaError> {
    card.es10(req).map_err(card_err(step))
}

/// Downloads and installs a profile: the whole SGP.22 §3.1.3 flow. See the module documentation.
pub fn download<T: ApduTransport>(
    card: &mut Client<T>,
    es9: &mut dyn Es9Transport,
    mut params: DownloadParams<'_>,
) -> Result<DownloadOutcome, LpaError> {
    let started = Instant::now();
    let address = params.smdp_address.clone();
    if address.is_empty() {
        return Err(LpaError::Invalid("no SM-DP+ address".into()));
    }
    let ctx = ctx_params1(
        params.matching_id.as_deref(),
        params.tac.as_deref(),
        params.imei.as_deref(),
    )?;
    let cc = params.confirmation_code.take();
    let mut run = Run {
        progress: &mut params.progress,
        timings: Vec::new(),
    };

    // 1. eUICC information and challenge.
    run.timed(Step::SelectIsdr, |_| {
        card.select_isdr().map_err(card_err(Step::SelectIsdr))
    })?;
    let info1 = run.timed(Step::GetEuiccInfo1, |_| {
        es10_raw(
            card,
            Step::GetEuiccInfo1,
            &es10::encode(&GetEuiccInfo1Request {}),
        )
    })?;
    let challenge = run.timed(Step::GetEuiccChallenge, |_| {
        let raw = es10_raw(
            card,
            Step::GetEuiccChallenge,
            &es10::encode(&GetEuiccChallengeRequest {}),
        )?;
        let r: GetEuiccChallengeResponse = decode_at(Step::GetEuiccChallenge, &raw)?;
        Ok(r.euicc_challenge.to_vec())
    })?;

    // 2. initiateAuthentication.
    let init: wire::InitiateAuthenticationResponse =
        run.timed(Step::InitiateAuthentication, |_| {
            let r: wire::InitiateAuthenticationResponse = es9_call(
                es9,
                &address,
                Step::InitiateAuthentication,
                wire::path::INITIATE_AUTHENTICATION,
                &wire::InitiateAuthenticationRequest {
                    euicc_challenge: challenge.clone().into(),
                    euicc_info1: info1.clone().into(),
                    smdp_address: address.clone(),
                },
            )?;
            check_header(Step::InitiateAuthentication, &r.header)?;
            Ok(r)
        })?;
    let tx = init
        .transaction_id
        .as_ref()
        .map(|t| t.as_bytes().to_vec())
        .ok_or_else(|| LpaError::Protocol {
            step: Step::InitiateAuthentication,
            message: "no transactionId in the response".into(),
        })?;

    // 3. AuthenticateServer.
    let auth_server = run.timed(Step::AuthenticateServer, |_| {
        let req = init
            .authenticate_server_request(&ctx)
            .map_err(|e| LpaError::Protocol {
                step: Step::InitiateAuthentication,
                message: e.to_string(),
            })?;
        let raw = es10_raw(card, Step::AuthenticateServer, &req)?;
        match decode_at::<AuthenticateServerResponse>(Step::AuthenticateServer, &raw)? {
            AuthenticateServerResponse::AuthenticateResponseOk(_) => Ok(raw),
            AuthenticateServerResponse::AuthenticateResponseError(e) => Err(LpaError::Euicc {
                step: Step::AuthenticateServer,
                code: e.authenticate_error_code,
                meaning: euicc_error_meaning(Step::AuthenticateServer, e.authenticate_error_code),
            }),
        }
    })?;

    // 4. authenticateClient.
    let auth_client: wire::AuthenticateClientResponse =
        run.timed(Step::AuthenticateClient, |_| {
            let r: wire::AuthenticateClientResponse = es9_call(
                es9,
                &address,
                Step::AuthenticateClient,
                wire::path::AUTHENTICATE_CLIENT,
                &wire::AuthenticateClientRequest {
                    transaction_id: tx.as_slice().into(),
                    authenticate_server_response: auth_server.into(),
                },
            )?;
            check_header(Step::AuthenticateClient, &r.header)?;
            check_tx(Step::AuthenticateClient, r.transaction_id.as_ref(), &tx)?;
            Ok(r)
        })?;

    // From here on the eUICC holds a session: cancel it on an eUICC-side failure.
    let result = after_authentication(
        card,
        es9,
        &address,
        &tx,
        &auth_client,
        cc.as_deref(),
        &mut run,
    );
    match result {
        Ok(mut outcome) => {
            outcome.timings = std::mem::take(&mut run.timings);
            outcome.total = started.elapsed();
            Ok(outcome)
        }
        Err(e) => {
            if e.needs_cancel() {
                let reason = match &e {
                    LpaError::ConfirmationCodeRequired => cancel_reason::POSTPONED,
                    LpaError::Segment { .. } => cancel_reason::LOAD_BPP_EXECUTION_ERROR,
                    _ => cancel_reason::UNDEFINED_REASON,
                };
                let detail = cancel_session(card, es9, &address, &tx, reason);
                tracing::info!(%detail, "session cancelled after: {e}");
                run.report(Progress::Cancelled { detail });
            }
            Err(e)
        }
    }
}

/// Cancels the session `tx` on the eUICC (CancelSession) and, with its signed answer, on the
/// SM-DP+ (ES9+ cancelSession). Best effort: returns what happened, for the log.
pub fn cancel_session<T: ApduTransport>(
    card: &mut Client<T>,
    es9: &mut dyn Es9Transport,
    address: &str,
    tx: &[u8],
    reason: i64,
) -> String {
    let req = es10::encode(&CancelSessionRequest {
        transaction_id: tx.to_vec().into(),
        reason,
    });
    let raw = match card.es10(&req) {
        Ok(r) => r,
        Err(e) => return format!("CancelSession failed on the eUICC: {e}"),
    };
    match es10::decode::<CancelSessionResponse>(&raw) {
        Ok(CancelSessionResponse::CancelSessionResponseOk(_)) => {}
        Ok(CancelSessionResponse::CancelSessionResponseError(code)) => {
            return format!(
                "the eUICC answered CancelSession with error {code} ({})",
                euicc_error_meaning(Step::CancelSession, code)
            )
        }
        Err(e) => return format!("undecodable CancelSession answer: {e}"),
    }
    let r: Result<wire::CancelSessionResponse, LpaError> = es9_call(
        es9,
        address,
        Step::Es9CancelSession,
        wire::path::CANCEL_SESSION,
        &wire::CancelSessionRequest {
            transaction_id: tx.into(),
            cancel_session_response: raw.into(),
        },
    );
    match r.and_then(|r| check_header(Step::Es9CancelSession, &r.header)) {
        Ok(()) => format!("cancelled on the eUICC and the SM-DP+ (reason {reason})"),
        Err(e) => format!("cancelled on the eUICC; {e}"),
    }
}

fn after_authentication<T: ApduTransport>(
    card: &mut Client<T>,
    es9: &mut dyn Es9Transport,
    address: &str,
    tx: &[u8],
    auth_client: &wire::AuthenticateClientResponse,
    cc: Option<&str>,
    run: &mut Run<'_, '_>,
) -> Result<DownloadOutcome, LpaError> {
    // The profile on offer.
    let meta_raw = auth_client
        .profile_metadata
        .as_ref()
        .ok_or_else(|| LpaError::Protocol {
            step: Step::AuthenticateClient,
            message: "no profileMetadata in the response".into(),
        })?;
    let meta: StoreMetadataRequest =
        es10::decode(meta_raw.as_bytes()).map_err(|e| LpaError::Protocol {
            step: Step::AuthenticateClient,
            message: format!("profileMetadata: {e}"),
        })?;
    run.report(Progress::Profile {
        iccid: iccid_digits(&meta.iccid),
        name: meta.profile_name.clone(),
        service_provider_name: meta.service_provider_name.clone(),
        class: meta.profile_class().0,
    });
    let signed2_raw = auth_client
        .smdp_signed2
        .as_ref()
        .ok_or_else(|| LpaError::Protocol {
            step: Step::AuthenticateClient,
            message: "no smdpSigned2 in the response".into(),
        })?;
    let signed2: SmdpSigned2 =
        es10::decode(signed2_raw.as_bytes()).map_err(|e| LpaError::Protocol {
            step: Step::AuthenticateClient,
            message: format!("smdpSigned2: {e}"),
        })?;
    let hash = match (signed2.cc_required_flag, cc) {
        (true, Some(cc)) => Some(hash_cc(cc, tx)),
        (true, None) => return Err(LpaError::ConfirmationCodeRequired),
        (false, _) => None,
    };

    // 5. PrepareDownload.
    let prepared = run.timed(Step::PrepareDownload, |_| {
        let req = auth_client
            .prepare_download_request(hash.as_ref().map(|h| h.as_slice()))
            .map_err(|e| LpaError::Protocol {
                step: Step::AuthenticateClient,
                message: e.to_string(),
            })?;
        let raw = es10_raw(card, Step::PrepareDownload, &req)?;
        match decode_at::<PrepareDownloadResponse>(Step::PrepareDownload, &raw)? {
            PrepareDownloadResponse::DownloadResponseOk(_) => Ok(raw),
            PrepareDownloadResponse::DownloadResponseError(e) => Err(LpaError::Euicc {
                step: Step::PrepareDownload,
                code: e.download_error_code,
                meaning: euicc_error_meaning(Step::PrepareDownload, e.download_error_code),
            }),
        }
    })?;

    // 6. getBoundProfilePackage.
    let bpp = run.timed(Step::GetBoundProfilePackage, |_| {
        let r: wire::GetBoundProfilePackageResponse = es9_call(
            es9,
            address,
            Step::GetBoundProfilePackage,
            wire::path::GET_BOUND_PROFILE_PACKAGE,
            &wire::GetBoundProfilePackageRequest {
                transaction_id: tx.into(),
                prepare_download_response: prepared.into(),
            },
        )?;
        check_header(Step::GetBoundProfilePackage, &r.header)?;
        check_tx(Step::GetBoundProfilePackage, r.transaction_id.as_ref(), tx)?;
        r.bound_profile_package
            .map(|b| b.into_bytes())
            .ok_or_else(|| LpaError::Protocol {
                step: Step::GetBoundProfilePackage,
                message: "no boundProfilePackage in the response".into(),
            })
    })?;
    let bpp_len = bpp.len();

    // 7. LoadBoundProfilePackage, segmented.
    let segments = rsp::bsp::segments(&bpp).map_err(|e| LpaError::Protocol {
        step: Step::GetBoundProfilePackage,
        message: format!("the Bound Profile Package cannot be segmented: {e}"),
    })?;
    let total = segments.len();
    let pir_raw = run.timed(Step::LoadBoundProfilePackage, |run| {
        for (i, seg) in segments.iter().enumerate() {
            let answer = card.es10(seg).map_err(|error| LpaError::Segment {
                index: i,
                total,
                tag: rsp::tlv::read_tag(seg)
                    .map(|(t, _)| t.to_string())
                    .unwrap_or_else(|_| "?".into()),
                error,
            })?;
            run.report(Progress::Segment { done: i + 1, total });
            if !answer.is_empty() {
                // The result: after the last segment, or early on an error.
                return Ok(answer);
            }
        }
        Err(LpaError::Protocol {
            step: Step::LoadBoundProfilePackage,
            message: "the eUICC returned no ProfileInstallationResult after the last segment"
                .into(),
        })
    })?;

    // 8. The result.
    let pir: ProfileInstallationResult = decode_at(Step::LoadBoundProfilePackage, &pir_raw)?;
    let data = pir.profile_installation_result_data.value();
    if data.transaction_id.as_ref() != tx {
        return Err(LpaError::Protocol {
            step: Step::LoadBoundProfilePackage,
            message: "the ProfileInstallationResult names another transaction".into(),
        });
    }
    let seq = data.notification_metadata.seq_number;
    let notification = deliver_pir(card, es9, address, seq, &pir_raw, run);
    match &data.final_result {
        FinalResult::SuccessResult(ok) => {
            let iccid_raw = data
                .notification_metadata
                .iccid
                .as_ref()
                .map(|i| i.to_vec())
                .unwrap_or_else(|| meta.iccid.to_vec());
            Ok(DownloadOutcome {
                iccid: iccid_digits(&iccid_raw),
                iccid_raw,
                isdp_aid: ok.aid.to_vec(),
                pir: pir_raw.clone(),
                transaction_id: tx.to_vec(),
                profile_name: meta.profile_name.clone(),
                service_provider_name: meta.service_provider_name.clone(),
                profile_class: meta.profile_class().0,
                segments: total,
                bpp_len,
                timings: Vec::new(),
                total: Duration::ZERO,
                notification,
            })
        }
        FinalResult::ErrorResult(err) => Err(LpaError::Installation {
            bpp_command_id: err.bpp_command_id,
            error_reason: err.error_reason,
            pir: pir_raw.clone(),
        }),
    }
}

/// handleNotification for the PIR, then RemoveNotificationFromList.
fn deliver_pir<T: ApduTransport>(
    card: &mut Client<T>,
    es9: &mut dyn Es9Transport,
    address: &str,
    seq: i64,
    pir: &[u8],
    run: &mut Run<'_, '_>,
) -> NotificationDelivery {
    let sent = run.timed(Step::HandleNotification, |_| {
        handle_notification(es9, address, pir)
    });
    if let Err(e) = sent {
        return NotificationDelivery::Pending(e.to_string());
    }
    let removed = run.timed(Step::RemoveNotificationFromList, |_| {
        remove_notification(card, seq)
    });
    match removed {
        Ok(()) => NotificationDelivery::Delivered,
        Err(e) => NotificationDelivery::DeliveredNotRemoved(e.to_string()),
    }
}

/// ES9+ handleNotification with one pending notification (`BF37…` or `30…`).
pub fn handle_notification(
    es9: &mut dyn Es9Transport,
    address: &str,
    pending: &[u8],
) -> Result<(), LpaError> {
    let step = Step::HandleNotification;
    let body = serde_json::to_vec(&wire::HandleNotificationRequest {
        pending_notification: pending.to_vec().into(),
    })
    .map_err(|e| LpaError::Protocol {
        step,
        message: e.to_string(),
    })?;
    let text = es9
        .call(address, wire::path::HANDLE_NOTIFICATION, body)
        .map_err(|error| LpaError::Es9 { step, error })?;
    // 204 (empty) is the normal answer; a body, if any, may carry a failure header.
    if text.is_empty() {
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| not_json(step, wire::path::HANDLE_NOTIFICATION, &e))?;
    if let Some(h) = v.get("header") {
        let h: wire::ResponseHeader =
            serde_json::from_value(h.clone()).map_err(|e| LpaError::Protocol {
                step,
                message: format!("malformed ES9+ response header: {e}"),
            })?;
        check_header(step, &h)?;
    }
    Ok(())
}

/// RemoveNotificationFromList (`BF30`); `nothingToDelete` counts as done.
pub fn remove_notification<T: ApduTransport>(
    card: &mut Client<T>,
    seq: i64,
) -> Result<(), LpaError> {
    let step = Step::RemoveNotificationFromList;
    let status = card.remove_notification(seq).map_err(card_err(step))?;
    match status {
        0 | 1 => Ok(()),
        code => Err(LpaError::Euicc {
            step,
            code,
            meaning: euicc_error_meaning(step, code),
        }),
    }
}

// =============================================================================================
// Notifications
// =============================================================================================

/// What happened to one pending notification.
#[derive(Debug, Clone)]
pub struct NotificationReport {
    /// Sequence number.
    pub seq: i64,
    /// `install`, `enable`, `disable` or `delete`.
    pub event: &'static str,
    /// Where it was sent.
    pub address: String,
    /// ICCID digits of the profile concerned.
    pub iccid: Option<String>,
    /// Delivered to the SM-DP+ (and then removed from the eUICC's list)?
    pub delivered: bool,
    /// Removed from the eUICC's list?
    pub removed: bool,
    /// Why not, when it was not delivered or not removed.
    pub error: Option<String>,
}

/// The name of a NotificationEvent bit.
pub fn event_name(bits: &NamedBits) -> &'static str {
    match bits.set_bits().first() {
        Some(0) => "install",
        Some(1) => "enable",
        Some(2) => "disable",
        Some(3) => "delete",
        _ => "unknown",
    }
}

/// The raw pending notification with sequence number `seq` (RetrieveNotificationsList with
/// searchCriteria seqNumber).
pub fn retrieve_notification<T: ApduTransport>(
    card: &mut Client<T>,
    seq: i64,
) -> Result<Option<Vec<u8>>, LpaError> {
    let step = Step::RetrieveNotificationsList;
    let raw = es10_raw(
        card,
        step,
        &es10::encode(&RetrieveNotificationsListRequest {
            search_criteria: Some(NotificationSearchCriteria::SeqNumber(seq)),
        }),
    )?;
    let bad = |m: String| LpaError::Protocol { step, message: m };
    let outer = rsp::tlv::parse_tagged(&raw, 0xBF2B).map_err(|e| bad(e.to_string()))?;
    let first = outer
        .children()
        .next()
        .transpose()
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("empty RetrieveNotificationsList answer".into()))?;
    match first.tag.0 {
        0xA0 => Ok(first
            .children()
            .next()
            .transpose()
            .map_err(|e| bad(e.to_string()))?
            .map(|t| t.raw.to_vec())),
        0x81 => {
            let code = first.value.iter().fold(0i64, |a, b| (a << 8) | *b as i64);
            if code == 1 {
                Ok(None)
            } else {
                Err(LpaError::Euicc {
                    step,
                    code,
                    meaning: euicc_error_meaning(step, code),
                })
            }
        }
        t => Err(bad(format!("unexpected tag {t:X}"))),
    }
}

/// Sends every pending notification to its address (ListNotification, RetrieveNotificationsList,
/// ES9+ handleNotification) and removes each delivered one (RemoveNotificationFromList). A
/// notification that cannot be delivered stays on the eUICC and is reported; only a failure to
/// list them is an error.
pub fn process_notifications<T: ApduTransport>(
    card: &mut Client<T>,
    es9: &mut dyn Es9Transport,
    mut progress: Option<&mut dyn FnMut(&Progress)>,
) -> Result<Vec<NotificationReport>, LpaError> {
    card.select_isdr().map_err(card_err(Step::SelectIsdr))?;
    let list = card
        .list_notifications()
        .map_err(card_err(Step::ListNotification))?;
    let mut out = Vec::new();
    for n in list {
        let mut rep = NotificationReport {
            seq: n.seq_number,
            event: event_name(&n.profile_management_operation),
            address: n.notification_address.clone(),
            iccid: n.iccid.as_ref().map(|i| iccid_digits(i)),
            delivered: false,
            removed: false,
            error: None,
        };
        let result = retrieve_notification(card, n.seq_number).and_then(|raw| {
            let raw = raw.ok_or_else(|| LpaError::Protocol {
                step: Step::RetrieveNotificationsList,
                message: format!("notification {} disappeared", n.seq_number),
            })?;
            handle_notification(es9, &n.notification_address, &raw)?;
            rep.delivered = true;
            remove_notification(card, n.seq_number)?;
            rep.removed = true;
            Ok(())
        });
        if let Err(e) = result {
            rep.error = Some(e.to_string());
        }
        if let Some(cb) = progress.as_mut() {
            cb(&Progress::Notification {
                seq: rep.seq,
                address: rep.address.clone(),
                outcome: match &rep.error {
                    None => "delivered and removed".into(),
                    Some(e) => e.clone(),
                },
            });
        }
        out.push(rep);
    }
    Ok(out)
}
