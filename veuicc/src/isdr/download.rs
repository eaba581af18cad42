//! ES10b profile download (SGP.22 §3.1.3): AuthenticateServer (§5.7.13), PrepareDownload
//! (§5.7.5), the segmented LoadBoundProfilePackage (§5.7.6, §2.5.5) and CancelSession (§5.7.14),
//! as one session state machine held in the (volatile) [`EuiccState`]:
//!
//! ```text
//!  Idle ─AuthenticateServer→ Authenticated ─PrepareDownload→ Prepared ─BF36+BF23→ Loading
//!                                               (PrepareDownload again: Prepared)     │
//!                                       A0, A1 hdr, 88…, [A2], A3 hdr, 86… (each 9000) │
//!                                                                                     ▼
//!  Closed ← the last 86 (BF37 success) | any BPP error (BF37 error) | CancelSession ok
//!  any phase ─AuthenticateServer ok→ Authenticated (the previous session is dropped)
//!  any phase ─power off / reset→ Idle
//! ```
//!
//! - A failed AuthenticateServer or PrepareDownload answers its error structure and leaves the
//!   session as it was (AuthenticateServer always consumes the eUICC challenge).
//! - While loading, every segment is checked (order, MAC, decryption, content) as it arrives;
//!   intermediate segments answer a bare `9000`. Nothing is written to the store before the
//!   last `86` segment: the profile record, its package and the ProfileInstallationResult
//!   notification are then committed in one batch. A failure at any segment answers a signed
//!   `BF37` with an ErrorResult (also kept as a pending notification) and closes the session;
//!   further segments get `6985`.
//! - The one-time key pair of PrepareDownload is kept (volatile) until a profile is installed,
//!   so a retried download that names it in `bppEuiccOtpk` reuses it.

use std::fmt;
use std::time::SystemTime;

use rsp::bsp::{self, BspDecoder, BspError};
use rsp::cert::{self, Cert, RawOid, Role};
use rsp::crypto::{EcPrivateKey, EcPublicKey};
use rsp::es10::{self, *};
use rsp::tlv::{self, Tlv};
use tracing::{debug, info};
use zeroize::Zeroizing;

use super::IsdrError;
use crate::euicc::records::{self, Event, NotificationRecord, ProfileRecord, FORMAT_VERSION};
use crate::euicc::{EuiccState, LifecycleError};
use crate::profile::saip::parse_package;
use crate::uicc::Uicc;

/// Largest profile package (plaintext of the `A3` section) the eUICC accepts: a larger `A3`
/// fails with installFailedDueToInsufficientMemoryForProfile (10).
pub const MAX_PACKAGE: usize = 1024 * 1024;
/// Largest StoreMetadata (content of the `A1` section).
pub const MAX_METADATA: usize = 64 * 1024;

/// The minimal SAIP `EUICCResponse` of a successful installation (SGP.22 simaResponse):
/// `SEQUENCE { peStatus SEQUENCE OF { status ok } }`.
const SIMA_RESPONSE_OK: [u8; 9] = [0x30, 0x07, 0xA0, 0x05, 0x30, 0x03, 0x80, 0x01, 0x00];

/// The download state of the ISD-R: the session and the retained one-time key.
#[derive(Debug, Default)]
pub struct Download {
    session: Session,
    /// otSK/otPK.EUICC.ECKA of the last PrepareDownload, kept for a retry until a profile is
    /// installed (SGP.22 §3.1.3: `bppEuiccOtpk`).
    kept_otk: Option<OneTimeKey>,
}

impl Download {
    /// The session phase, for logs and tests.
    pub fn phase(&self) -> &'static str {
        self.session.phase()
    }

    /// Whether BPP segments other than the first (`A0`…`A3`, `86`…`88`) go to the download
    /// session: while a package is loading, and after a session closed (to refuse them).
    pub(crate) fn routes_segments(&self) -> bool {
        matches!(self.session, Session::Loading(_) | Session::Closed)
    }
}

#[derive(Clone)]
struct OneTimeKey {
    sk: EcPrivateKey,
    pk: EcPublicKey,
}

impl fmt::Debug for OneTimeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeKey(<redacted>)")
    }
}

#[derive(Debug, Default)]
enum Session {
    /// No session since power-on.
    #[default]
    Idle,
    /// AuthenticateServer succeeded.
    Authenticated(Box<Authenticated>),
    /// PrepareDownload succeeded: the one-time key is bound to the session.
    Prepared(Box<Prepared>),
    /// InitialiseSecureChannel succeeded: segments are being loaded.
    Loading(Box<Loading>),
    /// The last session ended (installed, failed or cancelled): segments are refused.
    Closed,
}

impl Session {
    fn phase(&self) -> &'static str {
        match self {
            Session::Idle => "idle",
            Session::Authenticated(_) => "authenticated",
            Session::Prepared(_) => "prepared",
            Session::Loading(_) => "loading",
            Session::Closed => "closed",
        }
    }

    fn info(&self) -> Option<&SessionInfo> {
        match self {
            Session::Authenticated(a) => Some(&a.info),
            Session::Prepared(p) => Some(&p.info),
            Session::Loading(l) => Some(&l.info),
            Session::Idle | Session::Closed => None,
        }
    }
}

/// What AuthenticateServer established.
#[derive(Debug, Clone)]
struct SessionInfo {
    tx_id: Vec<u8>,
    /// The SM-DP+ address (serverSigned1), where the ProfileInstallationResult goes.
    server_address: String,
    /// The SM-DP+ OID: CERT.DPauth's subjectAltName registeredID.
    dp_oid: RawOid,
    /// The CI CERT.DPauth chains to (CERT.DPpb must chain to the same).
    ci_pkid: Vec<u8>,
}

#[derive(Debug)]
struct Authenticated {
    info: SessionInfo,
    euicc_signature1: [u8; 64],
}

#[derive(Debug)]
struct Prepared {
    info: SessionInfo,
    euicc_signature1: [u8; 64],
    /// PK.DPpb.ECDSA, which signs InitialiseSecureChannel.
    dppb_key: EcPublicKey,
    otk: OneTimeKey,
}

#[derive(Debug)]
struct Loading {
    info: SessionInfo,
    bsp: BspDecoder,
    stage: Stage,
    metadata: Option<Metadata>,
}

/// Where the loading of a bound profile package stands: what the next segment must be.
enum Stage {
    /// The whole `A0` (ConfigureISDP in `87`s).
    ConfigureIsdp,
    /// The `A1` header.
    MetadataHeader,
    /// `88` segments until `remaining` bytes of `A1` content have arrived.
    Metadata {
        remaining: usize,
        buf: Zeroizing<Vec<u8>>,
    },
    /// The whole `A2` (ReplaceSessionKeys) or the `A3` header.
    KeysOrProfile,
    /// The `A3` header (after an `A2`).
    ProfileHeader,
    /// `86` segments until `remaining` bytes of `A3` content have arrived.
    Profile {
        remaining: usize,
        buf: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::ConfigureIsdp => f.write_str("ConfigureIsdp"),
            Stage::MetadataHeader => f.write_str("MetadataHeader"),
            Stage::Metadata { remaining, buf } => {
                write!(f, "Metadata({} bytes, {remaining} to come)", buf.len())
            }
            Stage::KeysOrProfile => f.write_str("KeysOrProfile"),
            Stage::ProfileHeader => f.write_str("ProfileHeader"),
            Stage::Profile { remaining, buf } => {
                write!(f, "Profile({} bytes, {remaining} to come)", buf.len())
            }
        }
    }
}

impl Stage {
    /// The BppCommandId an error at this stage is reported against.
    fn command_id(&self) -> i64 {
        match self {
            Stage::ConfigureIsdp => bpp_command_id::CONFIGURE_ISDP,
            Stage::MetadataHeader | Stage::Metadata { .. } => bpp_command_id::STORE_METADATA,
            Stage::KeysOrProfile => bpp_command_id::REPLACE_SESSION_KEYS,
            Stage::ProfileHeader | Stage::Profile { .. } => bpp_command_id::LOAD_PROFILE_ELEMENTS,
        }
    }
}

/// The StoreMetadata content the eUICC keeps for the profile record.
#[derive(Debug, Clone)]
struct Metadata {
    iccid: Vec<u8>,
    service_provider_name: String,
    profile_name: String,
    class: records::ProfileClass,
    notifications: Vec<records::NotificationConfig>,
    owner: Option<records::OperatorId>,
    ppr1: bool,
    ppr2: bool,
}

/// A failed BPP step: reported in a ProfileInstallationResult ErrorResult.
#[derive(Debug)]
struct Failure {
    command: i64,
    reason: i64,
    detail: String,
    /// The ICCID concerned, when the failing step knows it (StoreMetadata).
    iccid: Option<Vec<u8>>,
}

impl Failure {
    fn new(command: i64, reason: i64, detail: impl fmt::Display) -> Failure {
        Failure {
            command,
            reason,
            detail: detail.to_string(),
            iccid: None,
        }
    }

    fn with_iccid(mut self, iccid: &[u8]) -> Failure {
        self.iccid = Some(iccid.to_vec());
        self
    }

    fn bsp(command: i64, e: &BspError) -> Failure {
        Failure::new(command, i64::from(e.error_reason()), e)
    }

    fn structure(command: i64, detail: impl fmt::Display) -> Failure {
        Failure::new(command, error_reason::SCP03T_STRUCTURE_ERROR, detail)
    }
}

fn internal(e: impl fmt::Display) -> IsdrError {
    IsdrError::Internal(e.to_string())
}

fn storage(e: LifecycleError) -> IsdrError {
    match e {
        LifecycleError::Store(s) => IsdrError::Storage(s.to_string()),
        other => IsdrError::Internal(other.to_string()),
    }
}

/// A rasn OBJECT IDENTIFIER value for `oid`, carried by a `DpProprietaryData` (so this crate
/// needs no direct rasn dependency).
fn oid_holder(oid: &RawOid) -> Result<DpProprietaryData, Es10Error> {
    es10::decode(&tlv::tlv(0x30, &tlv::tlv(0x80, oid.content())))
}

// =============================================================================================
// AuthenticateServer (SGP.22 §5.7.13)
// =============================================================================================

/// ES10b.AuthenticateServer: `BF38{A0 ok}` or `BF38{A1{80 txId, 02 code}}`.
pub(crate) fn authenticate_server(
    state: &mut EuiccState,
    req: &AuthenticateServerRequest,
) -> Result<Vec<u8>, IsdrError> {
    // Consumed whatever the outcome: a challenge is good for one attempt.
    let challenge = state.take_challenge();
    let tx_id = req.server_signed1.transaction_id.clone();
    match authenticate(state, req, challenge) {
        Ok((ok, session)) => {
            info!(
                server = %session.info.server_address,
                tx_id = %hex::encode_upper(&session.info.tx_id),
                "download session authenticated"
            );
            state.download_mut().session = Session::Authenticated(Box::new(session));
            es10::try_encode(&AuthenticateServerResponse::AuthenticateResponseOk(
                Box::new(ok),
            ))
            .map_err(internal)
        }
        Err(code) => es10::try_encode(&AuthenticateServerResponse::AuthenticateResponseError(
            AuthenticateResponseError {
                transaction_id: tx_id,
                authenticate_error_code: code,
            },
        ))
        .map_err(internal),
    }
}

fn authenticate(
    state: &EuiccState,
    req: &AuthenticateServerRequest,
    challenge: Option<[u8; 16]>,
) -> Result<(AuthenticateResponseOk, Authenticated), i64> {
    use authenticate_error_code as code;
    let signed1 = req.server_signed1.value();
    let fail = |c: i64, why: &dyn fmt::Display| {
        debug!(code = c, reason = %why, "AuthenticateServer refused");
        c
    };
    // 1. The CI to use must be one this eUICC trusts for verification.
    let ci = state
        .ci()
        .filter(|ci| ci.key_identifier() == req.euicc_ci_pkid_to_be_used.as_ref())
        .ok_or_else(|| {
            fail(
                code::CI_PK_UNKNOWN,
                &"euiccCiPKIdToBeUsed is not a known CI",
            )
        })?;
    // 2. CERT.DPauth (or DSauth) chains to that CI, with its role and a supported curve.
    let leaf = Cert::from_der(req.server_certificate.as_bytes())
        .map_err(|e| fail(e.authenticate_error_code(), &e))?;
    let chain = cert::verify_chain_for_roles_with(
        state.crypto().as_ref(),
        &leaf,
        &[],
        std::slice::from_ref(ci),
        &[Role::DpAuth, Role::DsAuth],
        SystemTime::now(),
    )
    .map_err(|e| fail(e.authenticate_error_code(), &e))?;
    let dp_oid = chain
        .registered_id()
        .cloned()
        .ok_or_else(|| fail(code::INVALID_OID, &"no registeredID"))?;
    // 3. serverSignature1 over serverSigned1 as received.
    if !state.crypto().verify(
        &chain.leaf_public_key(),
        req.server_signed1.as_bytes(),
        &req.server_signature1,
    ) {
        return Err(fail(code::INVALID_SIGNATURE, &"serverSignature1"));
    }
    // 4. The challenge is the one this eUICC issued (and has not been used).
    if challenge.is_none_or(|c| c[..] != signed1.euicc_challenge[..]) {
        return Err(fail(code::EUICC_CHALLENGE_MISMATCH, &"euiccChallenge"));
    }
    if signed1.transaction_id.is_empty() || signed1.transaction_id.len() > 16 {
        return Err(fail(code::UNDEFINED_ERROR, &"transactionId length"));
    }

    let identity = state.identity();
    let undefined = |why: &dyn fmt::Display| fail(code::UNDEFINED_ERROR, why);
    let euicc_signed1 = Verbatim::try_new(EuiccSigned1 {
        transaction_id: signed1.transaction_id.clone(),
        server_address: signed1.server_address.clone(),
        server_challenge: signed1.server_challenge.clone(),
        euicc_info2: super::euicc_info2(state),
        ctx_params1: req.ctx_params1.clone(),
    })
    .map_err(|e| undefined(&e))?;
    let signature = state
        .sign(euicc_signed1.as_bytes())
        .map_err(|e| undefined(&e))?;
    let ok = AuthenticateResponseOk {
        euicc_signed1,
        euicc_signature1: signature.to_vec().into(),
        euicc_certificate: RawCertificate::new(identity.euicc_cert.clone())
            .map_err(|e| undefined(&e))?,
        eum_certificate: RawCertificate::new(identity.eum_cert.clone())
            .map_err(|e| undefined(&e))?,
    };
    let session = Authenticated {
        info: SessionInfo {
            tx_id: signed1.transaction_id.to_vec(),
            server_address: signed1.server_address.clone(),
            dp_oid,
            ci_pkid: chain.ci_pkid().to_vec(),
        },
        euicc_signature1: signature,
    };
    Ok((ok, session))
}

// =============================================================================================
// PrepareDownload (SGP.22 §5.7.5)
// =============================================================================================

/// ES10b.PrepareDownload: `BF21{A0 ok}` or `BF21{A1{80 txId, 02 code}}`.
pub(crate) fn prepare_download(
    state: &mut EuiccState,
    req: &PrepareDownloadRequest,
) -> Result<Vec<u8>, IsdrError> {
    let tx_id = req.smdp_signed2.transaction_id.clone();
    match prepare(state, req) {
        Ok((ok, prepared)) => {
            debug!("download session prepared");
            let d = state.download_mut();
            d.kept_otk = Some(prepared.otk.clone());
            d.session = Session::Prepared(prepared);
            es10::try_encode(&PrepareDownloadResponse::DownloadResponseOk(ok)).map_err(internal)
        }
        Err(code) => es10::try_encode(&PrepareDownloadResponse::DownloadResponseError(
            PrepareDownloadResponseError {
                transaction_id: tx_id,
                download_error_code: code,
            },
        ))
        .map_err(internal),
    }
}

fn prepare(
    state: &EuiccState,
    req: &PrepareDownloadRequest,
) -> Result<(PrepareDownloadResponseOk, Box<Prepared>), i64> {
    use download_error_code as code;
    let signed2 = req.smdp_signed2.value();
    let fail = |c: i64, why: &dyn fmt::Display| {
        debug!(code = c, reason = %why, "PrepareDownload refused");
        c
    };
    // 1. CERT.DPpb chains to our CI with the DPpb role and a supported curve.
    let ci = state
        .ci()
        .ok_or_else(|| fail(code::INVALID_CERTIFICATE, &"no usable CI"))?;
    let leaf = Cert::from_der(req.smdp_certificate.as_bytes())
        .map_err(|e| fail(e.download_error_code(), &e))?;
    let chain = cert::verify_chain_with(
        state.crypto().as_ref(),
        &leaf,
        &[],
        std::slice::from_ref(ci),
        Role::DpPb,
        SystemTime::now(),
    )
    .map_err(|e| fail(e.download_error_code(), &e))?;
    // 2. A session, for the same CI and SM-DP+, with this transaction.
    let d = state.download();
    let (info, euicc_signature1) = match &d.session {
        Session::Authenticated(a) => (&a.info, &a.euicc_signature1),
        Session::Prepared(p) => (&p.info, &p.euicc_signature1),
        _ => return Err(fail(code::NO_SESSION_CONTEXT, &"no authenticated session")),
    };
    if chain.ci_pkid() != info.ci_pkid.as_slice() {
        return Err(fail(
            code::INVALID_CERTIFICATE,
            &"CERT.DPpb and CERT.DPauth chain to different CIs",
        ));
    }
    if chain.registered_id() != Some(&info.dp_oid) {
        return Err(fail(
            code::INVALID_CERTIFICATE,
            &"CERT.DPpb and CERT.DPauth name different SM-DP+ OIDs",
        ));
    }
    if signed2.transaction_id[..] != info.tx_id[..] {
        return Err(fail(code::INVALID_TRANSACTION_ID, &"transactionId"));
    }
    // 3. smdpSignature2 over smdpSigned2 ‖ 5F37 40 ‖ euiccSignature1.
    let dppb_key = chain.leaf_public_key();
    if !state.crypto().verify(
        &dppb_key,
        &req.signed_data(euicc_signature1),
        &req.smdp_signature2,
    ) {
        return Err(fail(code::INVALID_SIGNATURE, &"smdpSignature2"));
    }
    if signed2.cc_required_flag && req.hash_cc.is_none() {
        return Err(fail(
            code::UNDEFINED_ERROR,
            &"a confirmation code is required but hashCc is absent",
        ));
    }

    // The one-time key: the kept one on a retry that names it, else a fresh one.
    let otk = match (&signed2.bpp_euicc_otpk, &d.kept_otk) {
        (Some(pk), Some(kept)) if kept.pk[..] == pk[..] => kept.clone(),
        _ => {
            let (sk, pk) = state
                .crypto()
                .generate_key()
                .map_err(|e| fail(code::UNDEFINED_ERROR, &e))?;
            OneTimeKey { sk, pk }
        }
    };
    let euicc_signed2 = Verbatim::try_new(EuiccSigned2 {
        transaction_id: signed2.transaction_id.clone(),
        euicc_otpk: otk.pk.to_vec().into(),
        hash_cc: req.hash_cc.clone(),
    })
    .map_err(|e| fail(code::UNDEFINED_ERROR, &e))?;
    let signature = state
        .sign(&signed_data::with_signature_tlv(
            euicc_signed2.as_bytes(),
            &req.smdp_signature2,
        ))
        .map_err(|e| fail(code::UNDEFINED_ERROR, &e))?;
    let ok = PrepareDownloadResponseOk {
        euicc_signed2,
        euicc_signature2: signature.to_vec().into(),
    };
    let prepared = Prepared {
        info: info.clone(),
        euicc_signature1: *euicc_signature1,
        dppb_key,
        otk,
    };
    Ok((ok, Box::new(prepared)))
}

// =============================================================================================
// CancelSession (SGP.22 §5.7.14)
// =============================================================================================

/// ES10b.CancelSession: signs `{txId, smdpOid, reason}` and ends the session, or answers
/// invalidTransactionId (5) when no open session has this transaction ID.
pub(crate) fn cancel_session(
    state: &mut EuiccState,
    req: &CancelSessionRequest,
) -> Result<Vec<u8>, IsdrError> {
    let error = |code| {
        es10::try_encode(&CancelSessionResponse::CancelSessionResponseError(code)).map_err(internal)
    };
    let Some(info) = state
        .download()
        .session
        .info()
        .filter(|i| i.tx_id[..] == req.transaction_id[..])
        .cloned()
    else {
        debug!("CancelSession for an unknown transaction");
        return error(cancel_session_error::INVALID_TRANSACTION_ID);
    };
    let signed = match oid_holder(&info.dp_oid).and_then(|o| {
        Verbatim::try_new(EuiccCancelSessionSigned {
            transaction_id: req.transaction_id.clone(),
            smdp_oid: o.dp_oid,
            reason: req.reason,
        })
    }) {
        Ok(s) => s,
        Err(e) => {
            debug!(error = %e, "CancelSession: cannot encode");
            return error(cancel_session_error::UNDEFINED_ERROR);
        }
    };
    let signature = match state.sign(signed.as_bytes()) {
        Ok(s) => s,
        Err(e) => {
            debug!(error = %e, "CancelSession: cannot sign");
            return error(cancel_session_error::UNDEFINED_ERROR);
        }
    };
    info!(reason = req.reason, "download session cancelled");
    state.download_mut().session = Session::Closed;
    es10::try_encode(&CancelSessionResponse::CancelSessionResponseOk(
        CancelSessionResponseOk {
            euicc_cancel_session_signed: signed,
            euicc_cancel_session_signature: signature.to_vec().into(),
        },
    ))
    .map_err(internal)
}

// =============================================================================================
// LoadBoundProfilePackage (SGP.22 §5.7.6, §2.5.5), segmented
// =============================================================================================

/// One LoadBoundProfilePackage segment: the first (`BF36` header + `BF23`) opens the secure
/// channel; the others are loaded in order. Answers nothing (`9000`) for an intermediate
/// segment, the signed `BF37` ProfileInstallationResult after the last one or after an error,
/// and `6985` when no session can take the segment.
pub(crate) fn load_segment(state: &mut EuiccState, segment: &[u8]) -> Result<Vec<u8>, IsdrError> {
    let first = tlv::read_tag(segment).is_ok_and(|(t, _)| t.0 == tags::BOUND_PROFILE_PACKAGE);
    let session = std::mem::take(&mut state.download_mut().session);
    let (mut loading, rest) = match session {
        Session::Prepared(p) if first => match initialise_secure_channel(state, &p, segment) {
            Ok(ok) => ok,
            Err(f) => return fail_load(state, &p.info, None, f),
        },
        Session::Loading(l) if !first => (l, segment),
        Session::Loading(l) => {
            let f = Failure::structure(l.stage.command_id(), "a second BF36 while loading");
            return fail_load(state, &l.info, l.metadata.as_ref(), f);
        }
        other => {
            debug!(
                phase = other.phase(),
                "BPP segment without a session ready for it"
            );
            state.download_mut().session = other;
            return Err(IsdrError::NoSession);
        }
    };
    match feed(state, &mut loading, rest) {
        Ok(false) => {
            state.download_mut().session = Session::Loading(loading);
            Ok(Vec::new())
        }
        Ok(true) => install(state, loading),
        Err(f) => fail_load(state, &loading.info, loading.metadata.as_ref(), f),
    }
}

/// The first segment: `BF36` header, then the whole `BF23` InitialiseSecureChannelRequest
/// (SGP.22 §5.5.1). Returns the loading session and whatever follows the `BF23`.
fn initialise_secure_channel<'a>(
    state: &EuiccState,
    prepared: &Prepared,
    segment: &'a [u8],
) -> Result<(Box<Loading>, &'a [u8]), Failure> {
    const CMD: i64 = bpp_command_id::INITIALISE_SECURE_CHANNEL;
    let bad_input =
        |why: &dyn fmt::Display| Failure::new(CMD, error_reason::INCORRECT_INPUT_VALUES, why);
    let (_, tl) = tlv::read_tag(segment).map_err(|e| Failure::structure(CMD, e))?;
    let (_, ll) = tlv::read_len(&segment[tl..]).map_err(|e| Failure::structure(CMD, e))?;
    let (bf23, rest) =
        tlv::read_tlv(&segment[tl + ll..]).map_err(|e| Failure::structure(CMD, e))?;
    if bf23.tag.0 != bsp::TAG_INITIALISE_SECURE_CHANNEL {
        return Err(Failure::structure(CMD, "BF36 does not start with BF23"));
    }
    let isc: InitialiseSecureChannelRequest = es10::decode(bf23.raw).map_err(|e| bad_input(&e))?;
    let info = &prepared.info;
    if isc.remote_op_id != remote_op_id::INSTALL_BOUND_PROFILE_PACKAGE {
        return Err(Failure::new(
            CMD,
            error_reason::UNSUPPORTED_REMOTE_OPERATION_TYPE,
            "remoteOpId",
        ));
    }
    if isc.transaction_id[..] != info.tx_id[..] {
        return Err(Failure::new(
            CMD,
            error_reason::INVALID_TRANSACTION_ID,
            "transactionId",
        ));
    }
    let crt = &isc.control_ref_template;
    if crt.key_type[..] != [control_ref_template::KEY_TYPE_AES]
        || crt.key_len[..] != [control_ref_template::KEY_LEN_16]
        || crt.host_id.is_empty()
        || crt.host_id.len() > 16
    {
        return Err(Failure::new(
            CMD,
            error_reason::UNSUPPORTED_CRT_VALUES,
            "controlRefTemplate",
        ));
    }
    let signed = signed_data::initialise_secure_channel(bf23.raw, &prepared.otk.pk)
        .map_err(|e| bad_input(&e))?;
    let crypto = state.crypto();
    if !crypto.verify(&prepared.dppb_key, &signed, &isc.smdp_sign) {
        return Err(Failure::new(
            CMD,
            error_reason::INVALID_SIGNATURE,
            "smdpSign",
        ));
    }
    let shared = crypto
        .ecdh(&prepared.otk.sk, &isc.smdp_otpk)
        .map_err(|e| bad_input(&e))?;
    let keys =
        bsp::derive_session_keys(&**crypto, &shared[..], &crt.host_id, &state.identity().eid);
    debug!("secure channel established");
    Ok((
        Box::new(Loading {
            info: info.clone(),
            bsp: BspDecoder::new(crypto.clone(), &keys),
            stage: Stage::ConfigureIsdp,
            metadata: None,
        }),
        rest,
    ))
}

/// A complete TLV at the start of `input`, or a structure error for `command`.
fn whole(command: i64, input: &[u8]) -> Result<(Tlv<'_>, &[u8]), Failure> {
    tlv::read_tlv(input).map_err(|e| Failure::structure(command, e))
}

/// Opens every `87` of a whole `A0`/`A2` section and concatenates the plaintexts.
fn open_87s(
    bsp: &mut BspDecoder,
    command: i64,
    section: &Tlv<'_>,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut out = Zeroizing::new(Vec::new());
    for child in section.children() {
        let child = child.map_err(|e| Failure::structure(command, e))?;
        let plain = bsp
            .open_expecting(bsp::TAG_ENCRYPTED, child.raw)
            .map_err(|e| Failure::bsp(command, &e))?;
        out.extend_from_slice(&plain);
    }
    Ok(out)
}

/// Loads the segments in `input` (normally one) in order. Returns whether the profile package
/// is complete.
fn feed(state: &EuiccState, l: &mut Loading, mut input: &[u8]) -> Result<bool, Failure> {
    while !input.is_empty() {
        let cmd = l.stage.command_id();
        let (tag, tl) = tlv::read_tag(input).map_err(|e| Failure::structure(cmd, e))?;
        let (len, ll) = tlv::read_len(&input[tl..]).map_err(|e| Failure::structure(cmd, e))?;
        let header = tl + ll;
        match (tag.0, &mut l.stage) {
            (0xA0, Stage::ConfigureIsdp) => {
                let (section, rest) = whole(cmd, input)?;
                let plain = open_87s(&mut l.bsp, cmd, &section)?;
                let req: ConfigureIsdpRequest = es10::decode(&plain)
                    .map_err(|e| Failure::new(cmd, error_reason::INCORRECT_INPUT_VALUES, e))?;
                debug!(dp_data = req.dp_proprietary_data.is_some(), "ConfigureISDP");
                l.stage = Stage::MetadataHeader;
                input = rest;
            }
            (0xA1, Stage::MetadataHeader) => {
                if len > MAX_METADATA {
                    return Err(Failure::new(
                        cmd,
                        error_reason::INSUFFICIENT_MEMORY,
                        "StoreMetadata too large",
                    ));
                }
                input = &input[header..];
                l.stage = Stage::Metadata {
                    remaining: len,
                    buf: Zeroizing::new(Vec::with_capacity(len)),
                };
            }
            (0x88, Stage::Metadata { remaining, buf }) => {
                let (seg, rest) = whole(cmd, input)?;
                if seg.raw.len() > *remaining {
                    return Err(Failure::structure(cmd, "88 segment overruns the A1 length"));
                }
                let plain = l
                    .bsp
                    .open_expecting(bsp::TAG_MAC_ONLY, seg.raw)
                    .map_err(|e| Failure::bsp(cmd, &e))?;
                buf.extend_from_slice(&plain);
                *remaining -= seg.raw.len();
                input = rest;
            }
            (0xA2, Stage::KeysOrProfile) => {
                let (section, rest) = whole(cmd, input)?;
                let plain = open_87s(&mut l.bsp, cmd, &section)?;
                let keys =
                    bsp::parse_replace_session_keys(&plain).map_err(|e| Failure::bsp(cmd, &e))?;
                l.bsp
                    .replace_session_keys(&keys.s_enc, &keys.s_mac, &keys.initial_mcv);
                debug!("session keys replaced");
                l.stage = Stage::ProfileHeader;
                input = rest;
            }
            (0xA3, Stage::KeysOrProfile | Stage::ProfileHeader) => {
                let cmd = bpp_command_id::LOAD_PROFILE_ELEMENTS;
                if len == 0 {
                    return Err(Failure::new(
                        cmd,
                        error_reason::PE_PROCESSING_ERROR,
                        "empty profile package",
                    ));
                }
                if len > MAX_PACKAGE {
                    return Err(Failure::new(
                        cmd,
                        error_reason::INSUFFICIENT_MEMORY,
                        format_args!("profile package of {len} bytes"),
                    ));
                }
                input = &input[header..];
                l.stage = Stage::Profile {
                    remaining: len,
                    buf: Zeroizing::new(Vec::with_capacity(len)),
                };
            }
            (0x86, Stage::Profile { remaining, buf }) => {
                let (seg, rest) = whole(cmd, input)?;
                if seg.raw.len() > *remaining {
                    return Err(Failure::structure(cmd, "86 segment overruns the A3 length"));
                }
                l.bsp
                    .open_expecting_into(bsp::TAG_PROFILE, seg.raw, buf)
                    .map_err(|e| Failure::bsp(cmd, &e))?;
                *remaining -= seg.raw.len();
                input = rest;
                if *remaining == 0 {
                    if !input.is_empty() {
                        return Err(Failure::structure(cmd, "data after the last 86 segment"));
                    }
                    return Ok(true);
                }
            }
            (other, stage) => {
                return Err(Failure::structure(
                    cmd,
                    format_args!("segment {other:X} out of order (expecting {stage:?})"),
                ));
            }
        }
        // The metadata is checked as soon as the whole A1 content has arrived.
        if let Stage::Metadata { remaining: 0, buf } = &l.stage {
            l.metadata = Some(store_metadata(state, buf)?);
            l.stage = Stage::KeysOrProfile;
        }
    }
    Ok(false)
}

/// Checks StoreMetadata (SGP.22 §5.5.3): ICCID not installed (9), profile class supported (6),
/// profile policy rules allowed (15).
fn store_metadata(state: &EuiccState, content: &[u8]) -> Result<Metadata, Failure> {
    const CMD: i64 = bpp_command_id::STORE_METADATA;
    let req: StoreMetadataRequest = es10::decode(content)
        .map_err(|e| Failure::new(CMD, error_reason::INCORRECT_INPUT_VALUES, e))?;
    if req.iccid.len() != 10 {
        return Err(Failure::new(
            CMD,
            error_reason::INCORRECT_INPUT_VALUES,
            "ICCID is not 10 bytes",
        ));
    }
    if state.has_iccid(&req.iccid) {
        return Err(Failure::new(
            CMD,
            error_reason::ICCID_ALREADY_EXISTS,
            format_args!("ICCID {}", records::iccid_digits(&req.iccid)),
        )
        .with_iccid(&req.iccid));
    }
    // Test and operational profiles are supported; provisioning profiles are not.
    let class = match req.profile_class() {
        es10::ProfileClass::TEST => records::ProfileClass::Test,
        es10::ProfileClass::OPERATIONAL => records::ProfileClass::Operational,
        other => {
            return Err(Failure::new(
                CMD,
                error_reason::UNSUPPORTED_PROFILE_CLASS,
                format_args!("profile class {}", other.0),
            )
            .with_iccid(&req.iccid))
        }
    };
    let owner = req.profile_owner.as_ref().map(|o| records::OperatorId {
        mcc_mnc: o.mcc_mnc.to_vec(),
        gid1: o.gid1.as_ref().map(|g| g.to_vec()).unwrap_or_default(),
        gid2: o.gid2.as_ref().map(|g| g.to_vec()).unwrap_or_default(),
    });
    // PPRs: the RAT (GetRAT) allows PPR1 and PPR2 for any profile owner; any other rule, or a
    // rule on a profile without an owner to match the RAT against, is not allowed.
    let pprs = req
        .profile_policy_rules
        .as_ref()
        .map(NamedBits::set_bits)
        .unwrap_or_default();
    if pprs
        .iter()
        .any(|b| *b != ppr_ids::PPR1 && *b != ppr_ids::PPR2)
        || (!pprs.is_empty() && owner.is_none())
    {
        return Err(Failure::new(
            CMD,
            error_reason::PPR_NOT_ALLOWED,
            format_args!("profile policy rules {pprs:?}"),
        )
        .with_iccid(&req.iccid));
    }
    let notifications = req
        .notification_configuration_info
        .iter()
        .flatten()
        .map(|c| records::NotificationConfig {
            events: Event::all()
                .into_iter()
                .filter(|e| c.profile_management_operation.is_set(e.bit() as usize))
                .collect(),
            address: c.notification_address.clone(),
        })
        .collect();
    debug!(iccid = %records::iccid_digits(&req.iccid), "StoreMetadata");
    Ok(Metadata {
        iccid: req.iccid.to_vec(),
        service_provider_name: req.service_provider_name.clone(),
        profile_name: req.profile_name.clone(),
        class,
        notifications,
        owner,
        ppr1: pprs.contains(&ppr_ids::PPR1),
        ppr2: pprs.contains(&ppr_ids::PPR2),
    })
}

/// The whole package has arrived: checks it and installs the profile atomically.
fn install(state: &mut EuiccState, loading: Box<Loading>) -> Result<Vec<u8>, IsdrError> {
    const CMD: i64 = bpp_command_id::LOAD_PROFILE_ELEMENTS;
    let Loading {
        info,
        stage,
        metadata,
        ..
    } = *loading;
    let (Stage::Profile { mut buf, .. }, Some(meta)) = (stage, metadata) else {
        let f = Failure::new(CMD, error_reason::UNKNOWN_ERROR, "incomplete session");
        return fail_load(state, &info, None, f);
    };
    if let Err(f) = check_package(state, &buf, &meta) {
        return fail_load(state, &info, Some(&meta), f);
    }
    let isdp_aid = state.next_isdp_aid();
    let rec = ProfileRecord {
        version: FORMAT_VERSION,
        iccid: meta.iccid.clone(),
        isdp_aid: isdp_aid.clone(),
        state: records::ProfileState::Disabled,
        nickname: None,
        service_provider_name: meta.service_provider_name,
        profile_name: meta.profile_name,
        class: meta.class,
        notifications: meta.notifications,
        owner: meta.owner,
        ppr1: meta.ppr1,
        ppr2: meta.ppr2,
        dp_oid: Some(info.dp_oid.dotted()),
    };
    let result = FinalResult::SuccessResult(SuccessResult {
        aid: isdp_aid.into(),
        sima_response: SIMA_RESPONSE_OK.to_vec().into(),
    });
    state.download_mut().session = Session::Closed;
    let (note, pir) = profile_installation_result(state, &info, Some(&meta.iccid), result)?;
    // The package moves into the store batch (no second plaintext copy is left behind; the
    // emptied buffer has nothing left to zeroize).
    let package = std::mem::take(&mut *buf);
    state.commit_install(rec, package, note).map_err(storage)?;
    // The one-time key has served: a later download needs a fresh one.
    state.download_mut().kept_otk = None;
    Ok(pir)
}

/// The complete package: parses as SAIP (12), carries the metadata's ICCID (13), builds a UICC
/// (12), and its ICCID is still free (9).
fn check_package(state: &EuiccState, package: &[u8], meta: &Metadata) -> Result<(), Failure> {
    const CMD: i64 = bpp_command_id::LOAD_PROFILE_ELEMENTS;
    let pkg = parse_package(package)
        .map_err(|e| Failure::new(CMD, error_reason::PE_PROCESSING_ERROR, e))?;
    if pkg.iccid_swapped()[..] != meta.iccid[..] {
        return Err(Failure::new(
            CMD,
            error_reason::ICCID_MISMATCH,
            format_args!(
                "package ICCID {} is not the metadata's {}",
                pkg.iccid_digits(),
                records::iccid_digits(&meta.iccid)
            ),
        ));
    }
    Uicc::from_package_owned(pkg)
        .map_err(|e| Failure::new(CMD, error_reason::PE_PROCESSING_ERROR, e))?;
    if state.has_iccid(&meta.iccid) {
        return Err(Failure::new(
            CMD,
            error_reason::ICCID_ALREADY_EXISTS,
            "ICCID installed meanwhile",
        ));
    }
    Ok(())
}

/// Ends the session after a failed step: the signed ProfileInstallationResult with an
/// ErrorResult, kept as a pending notification.
fn fail_load(
    state: &mut EuiccState,
    info: &SessionInfo,
    metadata: Option<&Metadata>,
    f: Failure,
) -> Result<Vec<u8>, IsdrError> {
    info!(
        bpp_command = f.command,
        reason = f.reason,
        detail = %f.detail,
        "profile installation failed"
    );
    state.download_mut().session = Session::Closed;
    let result = FinalResult::ErrorResult(ErrorResult {
        bpp_command_id: f.command,
        error_reason: f.reason,
        sima_response: None,
    });
    let iccid = metadata.map(|m| m.iccid.as_slice()).or(f.iccid.as_deref());
    let (note, pir) = profile_installation_result(state, info, iccid, result)?;
    state.commit_notification(note).map_err(storage)?;
    Ok(pir)
}

/// Builds and signs `BF37{BF27{80 txId, BF2F metadata, 06 smdpOid, A2 finalResult}, 5F37 sig}`
/// with the next notification sequence number, and its notification record.
fn profile_installation_result(
    state: &EuiccState,
    info: &SessionInfo,
    iccid: Option<&[u8]>,
    final_result: FinalResult,
) -> Result<(NotificationRecord, Vec<u8>), IsdrError> {
    let seq = state.next_notification_seq();
    let metadata = NotificationMetadata {
        seq_number: i64::from(seq),
        profile_management_operation: notification_event::single(Event::Install.bit() as usize),
        notification_address: info.server_address.clone(),
        iccid: iccid.map(|i| i.to_vec().into()),
    };
    let data = Verbatim::try_new(ProfileInstallationResultData {
        transaction_id: info.tx_id.clone().into(),
        notification_metadata: metadata.clone(),
        smdp_oid: Some(oid_holder(&info.dp_oid).map_err(internal)?.dp_oid),
        final_result,
    })
    .map_err(internal)?;
    let signature = state.sign(data.as_bytes()).map_err(internal)?;
    let pir = es10::try_encode(&ProfileInstallationResult {
        profile_installation_result_data: data,
        euicc_sign_pir: signature.to_vec().into(),
    })
    .map_err(internal)?;
    let note = NotificationRecord {
        version: FORMAT_VERSION,
        seq,
        event: Event::Install,
        address: info.server_address.clone(),
        iccid: iccid.map(<[u8]>::to_vec).unwrap_or_default(),
        metadata: es10::try_encode(&metadata).map_err(internal)?,
        pending: pir.clone(),
    };
    Ok((note, pir))
}
