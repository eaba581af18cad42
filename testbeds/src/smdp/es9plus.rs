//! ES9+: initiateAuthentication, authenticateClient, getBoundProfilePackage, handleNotification,
//! cancelSession.

use std::sync::atomic::Ordering;
use std::time::Duration;

use rsp::bsp::{derive_session_keys, BppBuilder, BppParts, BspEncoder};
use rsp::crypto::EcPrivateKey;
use rsp::es10::{
    self, bpp_command_id, cancel_session_reason, control_ref_template, notification_event,
    remote_op_id, signed_data, AuthenticateServerResponse, CancelSessionResponse,
    ConfigureIsdpRequest, ControlRefTemplate, EuiccInfo1, FinalResult,
    InitialiseSecureChannelRequest, PendingNotification, PrepareDownloadResponse,
    ProfileInstallationResult, ServerSigned1, SmdpSigned2, Verbatim,
};
use rsp::es9::{
    status_codes as sc, AuthenticateClientRequest, AuthenticateClientResponse, Base64,
    CancelSessionRequest, CancelSessionResponse as Es9CancelSessionResponse,
    GetBoundProfilePackageRequest, GetBoundProfilePackageResponse, HandleNotificationRequest,
    HexBytes, InitiateAuthenticationRequest, InitiateAuthenticationResponse, ResponseHeader,
};
use rsp::tlv;

use super::{
    ct_eq, iccid_from_swapped, internal, malformed, oid_content, reject, unix_ms, unix_secs,
    OneTimeKeys, Smdp, SmdpError,
};
use crate::store::{NotificationRecord, ProfileRecord, ProfileState, SessionRecord, SessionState};

/// Purge expired sessions once every this many initiateAuthentication calls.
const PURGE_EVERY: u64 = 256;

fn sig_tlv(sig: &[u8; 64]) -> Vec<u8> {
    tlv::tlv(0x5F37, sig)
}

fn hex_decode(what: &str, text: &str) -> Result<Vec<u8>, SmdpError> {
    hex::decode(text).map_err(|e| internal(format!("stored {what}: {e}")))
}

fn event_names(bits: &es10::NamedBits) -> String {
    let names: Vec<&str> = bits
        .set_bits()
        .into_iter()
        .map(|b| match b {
            notification_event::INSTALL => "install",
            notification_event::ENABLE => "enable",
            notification_event::DISABLE => "disable",
            notification_event::DELETE => "delete",
            _ => "other",
        })
        .collect();
    names.join(",")
}

/// The information authenticateClient needs from the order, gathered under the lock.
struct Binding {
    record: ProfileRecord,
    cc_required: bool,
    bpp_euicc_otpk: Option<Vec<u8>>,
}

impl Smdp {
    // =========================================================================================
    // initiateAuthentication
    // =========================================================================================

    /// ES9+.InitiateAuthentication (SGP.22 §5.6.1).
    pub fn initiate_authentication(
        &self,
        req: &InitiateAuthenticationRequest,
    ) -> InitiateAuthenticationResponse {
        let span = tracing::info_span!("es9.initiateAuthentication", tx = tracing::field::Empty);
        let _enter = span.enter();
        match self.initiate_inner(req) {
            Ok(resp) => {
                if let Some(tx) = &resp.transaction_id {
                    span.record("tx", tracing::field::display(tx));
                }
                tracing::info!("session opened");
                resp
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                let mut resp = InitiateAuthenticationResponse::failed(e.status_code());
                resp.header = e.header();
                resp
            }
        }
    }

    fn initiate_inner(
        &self,
        req: &InitiateAuthenticationRequest,
    ) -> Result<InitiateAuthenticationResponse, SmdpError> {
        let address = self.address();
        if !super::address_matches(&address, &req.smdp_address) {
            return Err(reject(
                sc::INVALID_SMDP_ADDRESS,
                format!("{:?} is not this SM-DP+ ({address})", req.smdp_address),
            ));
        }
        let challenge = req.euicc_challenge.as_bytes();
        if challenge.len() != 16 {
            return Err(malformed(format!(
                "euiccChallenge is {} bytes, not 16",
                challenge.len()
            )));
        }
        let info1: EuiccInfo1 = es10::decode(req.euicc_info1.as_bytes())
            .map_err(|e| malformed(format!("euiccInfo1: {e}")))?;
        if info1.svn.first() != Some(&2) {
            return Err(reject(
                sc::SVN_NOT_SUPPORTED,
                format!("SVN {} (only 2.x)", hex::encode(&info1.svn)),
            ));
        }
        let verification = &info1.euicc_ci_pkid_list_for_verification;
        if !verification
            .iter()
            .any(|k| k.as_ref() == self.ci_pkid.as_slice())
        {
            let known = verification.iter().any(|k| {
                self.trusted_pkids
                    .iter()
                    .any(|t| t.as_slice() == k.as_ref())
            });
            let code = if known {
                sc::NO_DPAUTH_CERTIFICATE
            } else {
                sc::CI_PKID_NOT_SUPPORTED
            };
            return Err(reject(
                code,
                format!(
                    "CERT.DPauth is issued by CI {}, the eUICC verifies with [{}]",
                    hex::encode_upper(&self.ci_pkid),
                    verification
                        .iter()
                        .map(hex::encode_upper)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let signing = &info1.euicc_ci_pkid_list_for_signing;
        if !signing.iter().any(|k| {
            self.trusted_pkids
                .iter()
                .any(|t| t.as_slice() == k.as_ref())
        }) {
            return Err(reject(
                sc::CI_PKID_NOT_SUPPORTED,
                "none of the CIs the eUICC signs with is trusted here",
            ));
        }

        let tx: [u8; 16] = self.random()?;
        let server_challenge: [u8; 16] = self.random()?;
        let signed1 = Verbatim::try_new(ServerSigned1 {
            transaction_id: tx.to_vec().into(),
            euicc_challenge: challenge.to_vec().into(),
            server_address: req.smdp_address.clone(),
            server_challenge: server_challenge.to_vec().into(),
        })
        .map_err(internal)?;
        let signature = self
            .provider
            .sign(&self.auth_sk, signed1.as_bytes())
            .map_err(internal)?;

        let now = self.now();
        let tx_hex = hex::encode_upper(tx);
        self.store.put_session(&SessionRecord {
            transaction_id: tx_hex,
            created_ms: unix_ms(now),
            state: SessionState::Initiated,
            server_address: req.smdp_address.clone(),
            euicc_challenge: hex::encode_upper(challenge),
            server_challenge: hex::encode_upper(server_challenge),
            eid: None,
            iccid: None,
            euicc_public_key: None,
            smdp_signature2: None,
            cc_required: false,
        })?;
        if self.calls.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            self.purge_sessions()?;
        }

        Ok(InitiateAuthenticationResponse {
            header: ResponseHeader::success(),
            transaction_id: Some(HexBytes(tx.to_vec())),
            server_signed1: Some(Base64(signed1.as_bytes().to_vec())),
            server_signature1: Some(Base64(sig_tlv(&signature))),
            euicc_ci_pkid_to_be_used: Some(Base64(tlv::tlv(0x04, &self.ci_pkid))),
            server_certificate: Some(Base64(self.identity.auth_cert.clone())),
        })
    }

    /// Removes the sessions older than the session TTL.
    pub fn purge_sessions(&self) -> Result<usize, SmdpError> {
        let now = unix_ms(self.now());
        let ttl = u64::try_from(self.config.session_ttl.as_millis()).unwrap_or(u64::MAX);
        let mut removed = 0;
        for s in self.store.sessions()? {
            if now.saturating_sub(s.created_ms) > ttl {
                self.store.remove_session(&s.transaction_id)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The open, unexpired session `tx`.
    fn session(&self, tx: &HexBytes) -> Result<SessionRecord, SmdpError> {
        let key = tx.to_string();
        let session = self
            .store
            .session(&key)?
            .ok_or_else(|| reject(sc::TRANSACTION_ID_UNKNOWN, format!("no open session {key}")))?;
        let age = unix_ms(self.now()).saturating_sub(session.created_ms);
        if Duration::from_millis(age) > self.config.session_ttl {
            self.store.remove_session(&key)?;
            return Err(reject(
                sc::TRANSACTION_ID_UNKNOWN,
                format!("session {key} has expired"),
            ));
        }
        Ok(session)
    }

    // =========================================================================================
    // authenticateClient
    // =========================================================================================

    /// ES9+.AuthenticateClient (SGP.22 §5.6.3).
    pub fn authenticate_client(
        &self,
        req: &AuthenticateClientRequest,
    ) -> AuthenticateClientResponse {
        let span = tracing::info_span!("es9.authenticateClient", tx = %req.transaction_id);
        let _enter = span.enter();
        match self.authenticate_inner(req) {
            Ok(resp) => {
                tracing::info!("eUICC authenticated, order bound");
                resp
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                let mut resp = AuthenticateClientResponse::failed(e.status_code());
                resp.header = e.header();
                resp
            }
        }
    }

    fn authenticate_inner(
        &self,
        req: &AuthenticateClientRequest,
    ) -> Result<AuthenticateClientResponse, SmdpError> {
        let mut session = self.session(&req.transaction_id)?;
        if session.state != SessionState::Initiated {
            return Err(reject(
                sc::TRANSACTION_ID_UNKNOWN,
                "authenticateClient was already done in this session",
            ));
        }
        let tx = req.transaction_id.as_bytes();
        let response: AuthenticateServerResponse =
            es10::decode(req.authenticate_server_response.as_bytes())
                .map_err(|e| malformed(format!("authenticateServerResponse: {e}")))?;
        let ok = match response {
            AuthenticateServerResponse::AuthenticateResponseOk(ok) => ok,
            AuthenticateServerResponse::AuthenticateResponseError(err) => {
                return Err(reject(
                    sc::EUICC_SIGNATURE_INVALID,
                    format!(
                        "the eUICC refused AuthenticateServer with error {}",
                        err.authenticate_error_code
                    ),
                ));
            }
        };

        // The eUICC's certificates and signature.
        let chain = self.verify_euicc_chain(
            ok.euicc_certificate.as_bytes(),
            ok.eum_certificate.as_bytes(),
        )?;
        let eid = chain.eid.clone();
        let euicc_pk = chain.public_key;
        let signed1 = &ok.euicc_signed1;
        if !self
            .provider
            .verify(&euicc_pk, signed1.as_bytes(), ok.euicc_signature1.as_ref())
        {
            return Err(reject(
                sc::EUICC_SIGNATURE_INVALID,
                "euiccSignature1 does not verify over euiccSigned1",
            ));
        }
        if signed1.transaction_id.as_ref() != tx {
            return Err(reject(
                sc::TRANSACTION_ID_UNKNOWN,
                "euiccSigned1 carries another transaction ID",
            ));
        }
        let server_challenge = hex_decode("serverChallenge", &session.server_challenge)?;
        if !ct_eq(signed1.server_challenge.as_ref(), &server_challenge) {
            return Err(reject(
                sc::EUICC_SIGNATURE_INVALID,
                "serverChallenge in euiccSigned1 is not the one sent",
            ));
        }
        if signed1.server_address != session.server_address {
            return Err(reject(
                sc::EUICC_SIGNATURE_INVALID,
                format!(
                    "serverAddress in euiccSigned1 is {:?}, not {:?}",
                    signed1.server_address, session.server_address
                ),
            ));
        }
        if signed1.euicc_info2.svn.first() != Some(&2) {
            return Err(reject(
                sc::SVN_NOT_SUPPORTED,
                format!("SVN {} (only 2.x)", hex::encode(&signed1.euicc_info2.svn)),
            ));
        }
        let ctx = signed1
            .ctx_params1
            .parse()
            .map_err(|e| malformed(format!("ctxParams1: {e}")))?;
        let matching_id = ctx.matching_id().unwrap_or("").to_owned();

        // The order.
        let binding = self.bind_order(&matching_id, &eid, &req.transaction_id)?;
        let iccid = binding.record.iccid.clone();
        self.record_device(
            &iccid,
            &req.transaction_id.to_string(),
            &eid,
            ctx.device_info(),
        )?;

        // smdpSigned2 and its signature over smdpSigned2 ‖ 5F37 40 euiccSignature1.
        let signed2 = Verbatim::try_new(SmdpSigned2 {
            transaction_id: tx.to_vec().into(),
            cc_required_flag: binding.cc_required,
            bpp_euicc_otpk: binding.bpp_euicc_otpk.clone().map(Into::into),
        })
        .map_err(internal)?;
        let data =
            signed_data::with_signature_tlv(signed2.as_bytes(), ok.euicc_signature1.as_ref());
        let signature2 = self.provider.sign(&self.pb_sk, &data).map_err(internal)?;
        let metadata = self.store_metadata(&binding.record)?;

        self.store
            .put_euicc_cert(&eid, ok.euicc_certificate.as_bytes())?;
        session.state = SessionState::Authenticated;
        session.eid = Some(eid.clone());
        session.iccid = Some(iccid.clone());
        session.euicc_public_key = Some(hex::encode_upper(euicc_pk));
        session.smdp_signature2 = Some(hex::encode_upper(signature2));
        session.cc_required = binding.cc_required;
        self.store.put_session(&session)?;
        tracing::info!(%eid, %iccid, cc_required = binding.cc_required, "bound");

        Ok(AuthenticateClientResponse {
            header: ResponseHeader::success(),
            transaction_id: Some(req.transaction_id.clone()),
            profile_metadata: Some(Base64(metadata)),
            smdp_signed2: Some(Base64(signed2.as_bytes().to_vec())),
            smdp_signature2: Some(Base64(sig_tlv(&signature2))),
            smdp_certificate: Some(Base64(self.identity.pb_cert.clone())),
        })
    }

    /// Finds the order for `matching_id` (or, if empty, a released order for `eid`), checks it
    /// may be downloaded by `eid`, and binds it to this session.
    fn bind_order(
        &self,
        matching_id: &str,
        eid: &str,
        tx: &HexBytes,
    ) -> Result<Binding, SmdpError> {
        let _guard = self.guard();
        let mut record = if matching_id.is_empty() {
            self.store
                .profiles()?
                .into_iter()
                .find(|p| {
                    p.order.as_ref().is_some_and(|o| {
                        o.matching_id.as_deref().unwrap_or("").is_empty()
                            && (o.eid.as_deref() == Some(eid)
                                || o.bound_eid.as_deref() == Some(eid))
                    }) && matches!(
                        p.state,
                        ProfileState::Released | ProfileState::Downloaded | ProfileState::Error
                    )
                })
                .ok_or_else(|| {
                    reject(
                        sc::MATCHING_ID_REFUSED,
                        format!("no matchingId, and no released order for EID {eid}"),
                    )
                })?
        } else {
            let iccid = self.store.matching(matching_id)?.ok_or_else(|| {
                reject(
                    sc::MATCHING_ID_REFUSED,
                    format!("matchingId {matching_id:?} is unknown"),
                )
            })?;
            self.store.profile(&iccid)?.ok_or_else(|| {
                reject(
                    sc::MATCHING_ID_REFUSED,
                    format!("matchingId {matching_id:?} names no profile"),
                )
            })?
        };
        let order = record.order.as_mut().ok_or_else(|| {
            reject(
                sc::MATCHING_ID_REFUSED,
                format!("profile {} has no download order", record.iccid),
            )
        })?;
        if order.matching_id.as_deref().unwrap_or("") != matching_id {
            return Err(reject(
                sc::MATCHING_ID_REFUSED,
                "the matchingId is not that of the order",
            ));
        }
        if let Some(expected) = &order.eid {
            if expected != eid {
                return Err(reject(
                    sc::EID_REFUSED,
                    format!("the order is for EID {expected}, not {eid}"),
                ));
            }
        }
        if let Some(bound) = &order.bound_eid {
            if bound != eid {
                return Err(reject(
                    sc::EID_REFUSED,
                    format!("the order is being downloaded by EID {bound}"),
                ));
            }
        }
        if unix_secs(self.now()) > order.expires {
            return Err(reject(
                sc::DOWNLOAD_ORDER_EXPIRED,
                "the download order has expired",
            ));
        }
        match record.state {
            ProfileState::Released | ProfileState::Downloaded | ProfileState::Error => {}
            ProfileState::Allocated | ProfileState::Linked | ProfileState::Confirmed => {
                return Err(reject(
                    sc::PROFILE_NOT_RELEASED,
                    format!("profile {} is {:?}", record.iccid, record.state),
                ))
            }
            ProfileState::Available | ProfileState::Installed | ProfileState::Unavailable => {
                return Err(reject(
                    sc::MATCHING_ID_REFUSED,
                    format!("profile {} is {:?}", record.iccid, record.state),
                ))
            }
        }
        if order.download_attempts >= self.config.max_download_attempts {
            return Err(reject(
                sc::DOWNLOAD_ORDER_RETRIES_EXCEEDED,
                format!("{} downloads already", order.download_attempts),
            ));
        }
        if order.cc_hash.is_some() && order.cc_attempts >= self.config.max_cc_attempts {
            return Err(reject(
                sc::CONFIRMATION_CODE_RETRIES_EXCEEDED,
                "too many wrong confirmation codes",
            ));
        }
        order.bound_eid = Some(eid.to_owned());
        order.last_tx = Some(tx.to_string());
        let cc_required = order.cc_hash.is_some();
        record.updated = unix_secs(self.now());
        self.store.put_profile(&record)?;
        let bpp_euicc_otpk = self
            .one_time_keys()
            .get(&record.iccid)
            .filter(|k| k.eid == eid)
            .map(|k| k.euicc_otpk.clone());
        Ok(Binding {
            record,
            cc_required,
            bpp_euicc_otpk,
        })
    }

    fn one_time_keys(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, OneTimeKeys>> {
        self.one_time.lock().unwrap_or_else(|p| p.into_inner())
    }

    // =========================================================================================
    // getBoundProfilePackage
    // =========================================================================================

    /// ES9+.GetBoundProfilePackage (SGP.22 §5.6.2).
    pub fn get_bound_profile_package(
        &self,
        req: &GetBoundProfilePackageRequest,
    ) -> GetBoundProfilePackageResponse {
        let span = tracing::info_span!("es9.getBoundProfilePackage", tx = %req.transaction_id);
        let _enter = span.enter();
        match self.bpp_inner(req) {
            Ok(resp) => {
                tracing::info!(
                    bytes = resp.bound_profile_package.as_ref().map_or(0, |b| b.0.len()),
                    "bound profile package delivered"
                );
                resp
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                let mut resp = GetBoundProfilePackageResponse::failed(e.status_code());
                resp.header = e.header();
                resp
            }
        }
    }

    fn bpp_inner(
        &self,
        req: &GetBoundProfilePackageRequest,
    ) -> Result<GetBoundProfilePackageResponse, SmdpError> {
        let mut session = self.session(&req.transaction_id)?;
        if session.state == SessionState::Initiated {
            return Err(reject(
                sc::TRANSACTION_ID_UNKNOWN,
                "authenticateClient has not been done in this session",
            ));
        }
        let tx = req.transaction_id.as_bytes();
        let (Some(eid), Some(iccid), Some(pk_hex), Some(sig2_hex)) = (
            session.eid.clone(),
            session.iccid.clone(),
            session.euicc_public_key.clone(),
            session.smdp_signature2.clone(),
        ) else {
            return Err(internal("authenticated session without eUICC data"));
        };
        let euicc_pk = hex_decode("PK.EUICC", &pk_hex)?;
        let smdp_signature2 = hex_decode("smdpSignature2", &sig2_hex)?;

        let response: PrepareDownloadResponse =
            es10::decode(req.prepare_download_response.as_bytes())
                .map_err(|e| malformed(format!("prepareDownloadResponse: {e}")))?;
        let ok = match response {
            PrepareDownloadResponse::DownloadResponseOk(ok) => ok,
            PrepareDownloadResponse::DownloadResponseError(err) => {
                return Err(reject(
                    sc::EUICC_SIGNATURE_INVALID,
                    format!(
                        "the eUICC refused PrepareDownload with error {}",
                        err.download_error_code
                    ),
                ));
            }
        };
        if !self.provider.verify(
            &euicc_pk,
            &ok.signed_data(&smdp_signature2),
            ok.euicc_signature2.as_ref(),
        ) {
            return Err(reject(
                sc::EUICC_SIGNATURE_INVALID,
                "euiccSignature2 does not verify over euiccSigned2 ‖ smdpSignature2",
            ));
        }
        let signed2 = &ok.euicc_signed2;
        if signed2.transaction_id.as_ref() != tx {
            return Err(reject(
                sc::TRANSACTION_ID_UNKNOWN,
                "euiccSigned2 carries another transaction ID",
            ));
        }
        let euicc_otpk = signed2.euicc_otpk.to_vec();
        if euicc_otpk.len() != 65 || euicc_otpk[0] != 0x04 {
            return Err(malformed("euiccOtpk is not an uncompressed P-256 point"));
        }
        let eid_bytes: [u8; 16] = hex_decode("EID", &eid)?
            .try_into()
            .map_err(|_| internal("stored EID is not 16 bytes"))?;

        // The order: state, confirmation code, attempts.
        let (record, dp_sk, dp_pk) = {
            let _guard = self.guard();
            let mut record = self
                .store
                .profile(&iccid)?
                .ok_or_else(|| reject(sc::BPP_NOT_AVAILABLE, format!("profile {iccid} is gone")))?;
            if !matches!(
                record.state,
                ProfileState::Released | ProfileState::Downloaded | ProfileState::Error
            ) {
                return Err(reject(
                    sc::BPP_NOT_AVAILABLE,
                    format!("profile {iccid} is {:?}", record.state),
                ));
            }
            let max_cc = self.config.max_cc_attempts;
            let order = record
                .order
                .as_mut()
                .ok_or_else(|| reject(sc::BPP_NOT_AVAILABLE, "the order was cancelled"))?;
            if order.last_tx.as_deref() != Some(req.transaction_id.to_string().as_str()) {
                return Err(reject(
                    sc::BPP_NOT_AVAILABLE,
                    "another session has taken over this order",
                ));
            }
            if session.cc_required {
                let stored = order.cc_hash.clone().unwrap_or_default();
                let Some(hash_cc) = signed2.hash_cc.as_ref() else {
                    return Err(reject(
                        sc::CONFIRMATION_CODE_MISSING,
                        "hashCc is missing in euiccSigned2",
                    ));
                };
                let mut input = hex_decode("confirmation code hash", &stored)?;
                input.extend_from_slice(tx);
                let expected = self.provider.sha256(&input);
                if !ct_eq(hash_cc.as_ref(), &expected) {
                    order.cc_attempts += 1;
                    let exhausted = order.cc_attempts >= max_cc;
                    if exhausted {
                        record.state = ProfileState::Error;
                        record.last_error = Some("too many wrong confirmation codes".into());
                    }
                    record.updated = unix_secs(self.now());
                    self.store.put_profile(&record)?;
                    self.store.flush()?;
                    return Err(if exhausted {
                        reject(
                            sc::CONFIRMATION_CODE_RETRIES_EXCEEDED,
                            "too many wrong confirmation codes",
                        )
                    } else {
                        reject(sc::CONFIRMATION_CODE_REFUSED, "hashCc does not match")
                    });
                }
            }
            if session.state == SessionState::Authenticated {
                order.download_attempts += 1;
            }
            record.state = ProfileState::Downloaded;
            record.updated = unix_secs(self.now());
            self.store.put_profile(&record)?;

            let mut keys = self.one_time_keys();
            let reuse = keys
                .get(&iccid)
                .filter(|k| k.eid == eid && k.euicc_otpk == euicc_otpk)
                .map(|k| (k.dp_sk.clone(), k.dp_pk));
            let (dp_sk, dp_pk) = match reuse {
                Some(pair) => pair,
                None => {
                    let (sk, pk) = self.provider.generate_key().map_err(internal)?;
                    keys.insert(
                        iccid.clone(),
                        OneTimeKeys {
                            eid: eid.clone(),
                            euicc_otpk: euicc_otpk.clone(),
                            dp_sk: sk.clone(),
                            dp_pk: pk,
                        },
                    );
                    (sk, pk)
                }
            };
            (record, dp_sk, dp_pk)
        };

        let package = self
            .store
            .package(&iccid)?
            .ok_or_else(|| internal(format!("no package for {iccid}")))?;
        let metadata = self.store_metadata(&record)?;
        let bpp = self.build_bpp(
            tx,
            &eid_bytes,
            &euicc_otpk,
            &dp_sk,
            &dp_pk,
            &metadata,
            &package,
        )?;

        session.state = SessionState::BppSent;
        self.store.put_session(&session)?;
        Ok(GetBoundProfilePackageResponse {
            header: ResponseHeader::success(),
            transaction_id: Some(req.transaction_id.clone()),
            bound_profile_package: Some(Base64(bpp)),
        })
    }

    /// Binds a profile package: InitialiseSecureChannel signed with SK.DPpb, session keys from
    /// ECKA(otSK.DP, otPK.EUICC), ConfigureISDP (`87`), StoreMetadata (`88`), the package (`86`).
    #[allow(clippy::too_many_arguments)]
    fn build_bpp(
        &self,
        tx: &[u8],
        eid: &[u8; 16],
        euicc_otpk: &[u8],
        dp_sk: &EcPrivateKey,
        dp_pk: &[u8; 65],
        metadata: &[u8],
        package: &[u8],
    ) -> Result<Vec<u8>, SmdpError> {
        let host_id = self.config.host_id.clone();
        let mut isc = InitialiseSecureChannelRequest {
            remote_op_id: remote_op_id::INSTALL_BOUND_PROFILE_PACKAGE,
            transaction_id: tx.to_vec().into(),
            control_ref_template: ControlRefTemplate {
                key_type: vec![control_ref_template::KEY_TYPE_AES].into(),
                key_len: vec![control_ref_template::KEY_LEN_16].into(),
                host_id: host_id.clone().into(),
            },
            smdp_otpk: dp_pk.to_vec().into(),
            smdp_sign: vec![0u8; 64].into(),
        };
        let to_sign = isc.signed_data(euicc_otpk).map_err(internal)?;
        isc.smdp_sign = self
            .provider
            .sign(&self.pb_sk, &to_sign)
            .map_err(internal)?
            .to_vec()
            .into();
        let isc_der = es10::try_encode(&isc).map_err(internal)?;
        let configure = es10::try_encode(&ConfigureIsdpRequest::default()).map_err(internal)?;

        let shared = self
            .provider
            .ecdh(dp_sk, euicc_otpk)
            .map_err(|e| malformed(format!("otPK.EUICC: {e}")))?;
        let keys = derive_session_keys(&*self.provider, &shared[..], &host_id, eid);
        let mut encoder = BspEncoder::new(self.provider.clone(), &keys);
        BppBuilder::new()
            .max_segment_len(self.config.max_segment_len)
            .build(
                &mut encoder,
                &BppParts {
                    initialise_secure_channel: &isc_der,
                    configure_isdp: &configure,
                    store_metadata: metadata,
                    replace_session_keys: None,
                    profile_package: package,
                },
            )
            .map_err(internal)
    }

    // =========================================================================================
    // handleNotification
    // =========================================================================================

    /// ES9+.HandleNotification (SGP.22 §5.6.4): verifies and records the notification. A
    /// ProfileInstallationResult moves the profile to `Installed` or `Error`.
    pub fn handle_notification(&self, req: &HandleNotificationRequest) -> Result<(), SmdpError> {
        let span = tracing::info_span!("es9.handleNotification");
        let _enter = span.enter();
        let result = self.notification_inner(req.pending_notification.as_bytes());
        match &result {
            Ok(()) => tracing::info!("notification accepted"),
            Err(e) => tracing::warn!(error = %e, "notification refused"),
        }
        result
    }

    fn notification_inner(&self, bytes: &[u8]) -> Result<(), SmdpError> {
        let pending: PendingNotification =
            es10::decode(bytes).map_err(|e| malformed(format!("pendingNotification: {e}")))?;
        match pending {
            PendingNotification::ProfileInstallationResult(raw) => {
                let pir = ProfileInstallationResult::from_raw(&raw)
                    .map_err(|e| malformed(format!("profileInstallationResult: {e}")))?;
                self.installation_result(&pir)
            }
            PendingNotification::OtherSignedNotification(other) => {
                // The signature covers the BF2F as received: the first member of the 30.
                let outer = tlv::parse_exact(bytes).map_err(malformed)?;
                let tbs = outer
                    .children()
                    .next()
                    .transpose()
                    .map_err(malformed)?
                    .filter(|t| t.tag.0 == 0xBF2F)
                    .ok_or_else(|| malformed("no tbsOtherNotification"))?;
                let chain = self.verify_euicc_chain(
                    other.euicc_certificate.as_bytes(),
                    other.eum_certificate.as_bytes(),
                )?;
                if !self.provider.verify(
                    &chain.public_key,
                    tbs.raw,
                    other.euicc_notification_signature.as_ref(),
                ) {
                    return Err(reject(
                        sc::EUICC_SIGNATURE_INVALID,
                        "euiccNotificationSignature does not verify",
                    ));
                }
                let meta = &other.tbs_other_notification;
                let eid = chain.eid.clone();
                let record = NotificationRecord {
                    received: unix_secs(self.now()),
                    event: event_names(&meta.profile_management_operation),
                    eid,
                    iccid: meta.iccid.as_ref().map(|i| iccid_from_swapped(i)),
                    seq_number: meta.seq_number,
                    transaction_id: None,
                    result: None,
                };
                tracing::info!(event = %record.event, eid = %record.eid, iccid = ?record.iccid, "verified");
                self.store.add_notification(&record)?;
                Ok(())
            }
        }
    }

    fn installation_result(&self, pir: &ProfileInstallationResult) -> Result<(), SmdpError> {
        let data = &pir.profile_installation_result_data;
        let tx_hex = hex::encode_upper(&data.transaction_id);
        let meta = &data.notification_metadata;
        if !meta
            .profile_management_operation
            .is_set(notification_event::INSTALL)
        {
            return Err(malformed(
                "a ProfileInstallationResult must be an install notification",
            ));
        }
        // Which profile and which eUICC: from the session, else from the ICCID's order.
        let session = self.store.session(&tx_hex)?;
        let iccid = match (session.as_ref().and_then(|s| s.iccid.clone()), &meta.iccid) {
            (Some(i), _) => i,
            (None, Some(i)) => iccid_from_swapped(i),
            (None, None) => {
                return Err(reject(
                    sc::TRANSACTION_ID_UNKNOWN,
                    format!("no session {tx_hex} and no ICCID in the notification"),
                ))
            }
        };
        if let Some(i) = &meta.iccid {
            if iccid_from_swapped(i) != iccid {
                return Err(malformed(format!(
                    "the notification names ICCID {}, the session {iccid}",
                    iccid_from_swapped(i)
                )));
            }
        }
        let record = self.store.profile(&iccid)?.ok_or_else(|| {
            reject(
                sc::TRANSACTION_ID_UNKNOWN,
                format!("profile {iccid} unknown"),
            )
        })?;
        let order = record.order.as_ref();
        if order.and_then(|o| o.last_tx.as_deref()) != Some(tx_hex.as_str()) {
            return Err(reject(
                sc::TRANSACTION_ID_UNKNOWN,
                format!("transaction {tx_hex} is not the current one of profile {iccid}"),
            ));
        }
        let eid = session
            .as_ref()
            .and_then(|s| s.eid.clone())
            .or_else(|| order.and_then(|o| o.bound_eid.clone()))
            .ok_or_else(|| reject(sc::EID_REFUSED, "no eUICC is bound to this order"))?;
        // PK.EUICC: the one this session authenticated, else from the eUICC's stored certificate.
        let session_pk = session
            .as_ref()
            .filter(|s| s.eid.as_deref() == Some(eid.as_str()))
            .and_then(|s| s.euicc_public_key.as_deref());
        let pk = match session_pk {
            Some(pk) => hex_decode("PK.EUICC", pk)?,
            None => {
                let cert = self.store.euicc_cert(&eid)?.ok_or_else(|| {
                    reject(sc::EUICC_CERTIFICATE_INVALID, format!("EID {eid} unknown"))
                })?;
                rsp::pki::cert_public_key(&cert)
                    .ok_or_else(|| internal("stored CERT.EUICC has no P-256 key"))?
                    .to_vec()
            }
        };
        if !self
            .provider
            .verify(&pk, data.as_bytes(), pir.euicc_sign_pir.as_ref())
        {
            return Err(reject(
                sc::EUICC_SIGNATURE_INVALID,
                "euiccSignPIR does not verify over profileInstallationResultData",
            ));
        }
        if let Some(oid) = &data.smdp_oid {
            if oid_content(oid).as_deref() != Some(self.dp_oid_content.as_slice()) {
                return Err(reject(
                    sc::INVALID_SMDP_OID,
                    "smdpOid in the installation result is not this SM-DP+'s",
                ));
            }
        }

        let outcome = match &data.final_result {
            FinalResult::SuccessResult(_) => Ok(()),
            FinalResult::ErrorResult(e) => Err(format!(
                "bppCommandId {} ({}), errorReason {}",
                e.bpp_command_id,
                bpp_command_name(e.bpp_command_id),
                e.error_reason
            )),
        };
        {
            let guard = self.guard();
            let mut record = self
                .store
                .profile(&iccid)?
                .ok_or_else(|| internal("profile vanished"))?;
            if record.state == ProfileState::Downloaded {
                match &outcome {
                    Ok(()) => {
                        record.state = ProfileState::Installed;
                        record.last_error = None;
                        self.one_time_keys().remove(&iccid);
                    }
                    Err(reason) => {
                        record.state = ProfileState::Error;
                        record.last_error = Some(format!("installation failed: {reason}"));
                    }
                }
                record.updated = unix_secs(self.now());
                self.store.put_profile(&record)?;
            }
            self.store.add_notification(&NotificationRecord {
                received: unix_secs(self.now()),
                event: "install".into(),
                eid: eid.clone(),
                iccid: Some(iccid.clone()),
                seq_number: meta.seq_number,
                transaction_id: Some(tx_hex.clone()),
                result: Some(match &outcome {
                    Ok(()) => "success".into(),
                    Err(reason) => reason.clone(),
                }),
            })?;
            self.store.remove_session(&tx_hex)?;
            drop(guard);
            self.store.flush()?;
        }
        tracing::info!(%iccid, %eid, result = ?outcome, "installation result");
        Ok(())
    }

    // =========================================================================================
    // cancelSession
    // =========================================================================================

    /// ES9+.CancelSession (SGP.22 §5.6.5).
    pub fn cancel_session(&self, req: &CancelSessionRequest) -> Es9CancelSessionResponse {
        let span = tracing::info_span!("es9.cancelSession", tx = %req.transaction_id);
        let _enter = span.enter();
        match self.cancel_inner(req) {
            Ok(()) => {
                tracing::info!("session cancelled");
                Es9CancelSessionResponse {
                    header: ResponseHeader::success(),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused");
                Es9CancelSessionResponse { header: e.header() }
            }
        }
    }

    fn cancel_inner(&self, req: &CancelSessionRequest) -> Result<(), SmdpError> {
        let session = self.session(&req.transaction_id)?;
        let tx = req.transaction_id.as_bytes();
        let response: CancelSessionResponse = es10::decode(req.cancel_session_response.as_bytes())
            .map_err(|e| malformed(format!("cancelSessionResponse: {e}")))?;
        let ok = match response {
            CancelSessionResponse::CancelSessionResponseOk(ok) => ok,
            CancelSessionResponse::CancelSessionResponseError(code) => {
                return Err(reject(
                    sc::EUICC_SIGNATURE_INVALID,
                    format!("the eUICC refused CancelSession with error {code}"),
                ))
            }
        };
        let pk = session.euicc_public_key.as_deref().ok_or_else(|| {
            reject(
                sc::EUICC_SIGNATURE_INVALID,
                "the eUICC is not authenticated in this session: its signature cannot be verified",
            )
        })?;
        let pk = hex_decode("PK.EUICC", pk)?;
        let signed = &ok.euicc_cancel_session_signed;
        if !self.provider.verify(
            &pk,
            signed.as_bytes(),
            ok.euicc_cancel_session_signature.as_ref(),
        ) {
            return Err(reject(
                sc::EUICC_SIGNATURE_INVALID,
                "euiccCancelSessionSignature does not verify",
            ));
        }
        if signed.transaction_id.as_ref() != tx {
            return Err(reject(
                sc::TRANSACTION_ID_UNKNOWN,
                "euiccCancelSessionSigned carries another transaction ID",
            ));
        }
        if oid_content(&signed.smdp_oid).as_deref() != Some(self.dp_oid_content.as_slice()) {
            return Err(reject(sc::INVALID_SMDP_OID, "smdpOid is not this SM-DP+'s"));
        }
        let reason = signed.reason;
        let guard = self.guard();
        if let Some(iccid) = &session.iccid {
            if let Some(mut record) = self.store.profile(iccid)? {
                let current = record
                    .order
                    .as_ref()
                    .is_some_and(|o| o.last_tx.as_deref() == Some(session.transaction_id.as_str()));
                if current {
                    match reason {
                        cancel_session_reason::POSTPONED | cancel_session_reason::TIMEOUT => {
                            // The order stays open for a later attempt.
                            if record.state == ProfileState::Released {
                                if let Some(o) = record.order.as_mut() {
                                    o.bound_eid = None;
                                }
                            }
                        }
                        _ => {
                            record.state = ProfileState::Error;
                            record.last_error = Some(format!(
                                "session cancelled by the eUICC: {}",
                                cancel_reason_name(reason)
                            ));
                        }
                    }
                    record.updated = unix_secs(self.now());
                    self.store.put_profile(&record)?;
                }
            }
        }
        self.store.remove_session(&session.transaction_id)?;
        drop(guard);
        self.store.flush()?;
        tracing::info!(reason = cancel_reason_name(reason), "cancelled");
        Ok(())
    }
}

fn bpp_command_name(id: i64) -> &'static str {
    match id {
        bpp_command_id::INITIALISE_SECURE_CHANNEL => "initialiseSecureChannel",
        bpp_command_id::CONFIGURE_ISDP => "configureISDP",
        bpp_command_id::STORE_METADATA => "storeMetadata",
        bpp_command_id::STORE_METADATA2 => "storeMetadata2",
        bpp_command_id::REPLACE_SESSION_KEYS => "replaceSessionKeys",
        bpp_command_id::LOAD_PROFILE_ELEMENTS => "loadProfileElements",
        _ => "unknown",
    }
}

fn cancel_reason_name(reason: i64) -> &'static str {
    match reason {
        cancel_session_reason::END_USER_REJECTION => "endUserRejection",
        cancel_session_reason::POSTPONED => "postponed",
        cancel_session_reason::TIMEOUT => "timeout",
        cancel_session_reason::PPR_NOT_ALLOWED => "pprNotAllowed",
        _ => "other",
    }
}
