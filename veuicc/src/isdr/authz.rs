//! Admin-operation authorisation (flow 2): the gate in front of the ES10 functions that change
//! the card, and the vendor ES10 extension that arms it (codec in [`rsp::authz`], user
//! reference in `docs/authz.md`).
//!
//! - **Policy** ([`policy::AuthzPolicy`], persisted under its own key): per operation (install,
//!   nickname, enable, disable, delete, export, memory-reset, firmware, policy) whether a user
//!   authentication (an account assertion) and/or human intent (a secure element's signature)
//!   is needed, optionally per profile; provisioning and emergency profiles are exempt as the
//!   target of enable/disable.
//! - **GetAdminNonce** (`FF22`) draws a fresh 16-byte nonce. It is volatile, single use (any
//!   AuthoriseAdminOperation naming it burns it), replaced by the next GetAdminNonce, and
//!   expires after `nonce_lifetime` ES10 commands (the card's clock is a counter of ES10
//!   commands, [`Authz::tick`]) and on power off/reset.
//! - **AuthoriseAdminOperation** (`FF23`) checks the proofs and arms a one-shot authorisation
//!   for exactly (operation, ICCID, nonce). The next admin command consumes it, whether it
//!   matches or not; a match within `nonce_lifetime` commands lets the command run.
//! - **The gate** ([`gate`]) runs before every admin command: without a matching authorisation
//!   where the policy needs one, the command is answered with the standard refusal and nothing
//!   changes: Enable/Disable/Delete `disallowedByPolicy` (3); SetNickname and eUICCMemoryReset
//!   `undefinedError` (127, their result types have no policy code); install is gated at
//!   PrepareDownload with DownloadErrorCode `undefinedError` (127) — AuthenticateServer itself
//!   changes nothing, and an authorisation armed before it is kept for its session.
//!
//! Time: the card has no RTC. An assertion's `issuedAt` (signed by the account server) is the
//! only trusted time; the card keeps the highest one seen ([`policy::AuthzClock`], persisted
//! once it moved by a minute or more) and refuses an assertion whose `expiresAt` is not after
//! max(that, its own `issuedAt`), or whose lifetime exceeds the policy's maximum. Assertions
//! bound to a card nonce (`88`, as the LPA here always asks) are single use by construction.

pub mod policy;

use super::IsdrError;
use crate::euicc::records::{iccid_digits, ProfileClass, FORMAT_VERSION};
use crate::euicc::{EuiccState, LifecycleError, ProfileId};
use crate::store::{Batch, Store, StoreError, Tree};
use policy::{link_key, AccountLink, AuthzClock, AuthzPolicy, Compiled, PolicyError};
use rsp::authz::{
    self as codec, authorise_result as res, tags, vendor_result, AccountAssertion,
    AuthoriseRequest, Operation, PolicyAnswer, PolicyQuery, Requirement,
};
use rsp::es10::{self, *};
use std::sync::Arc;
use tracing::{debug, info};

/// The trusted clock is written back once it moved this far (seconds).
const CLOCK_PERSIST_STEP: u64 = 60;

/// Failures of the authorisation state outside ES10 (the CLI).
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
struct Armed {
    operation: Operation,
    /// Empty for eUICC-wide operations.
    iccid: Vec<u8>,
    account: Option<String>,
    account_time: u64,
    user: bool,
    intent: bool,
    at: u64,
}

/// An install authorised for one download session.
#[derive(Debug, Clone)]
struct InstallGrant {
    /// The transaction of the session it was granted in.
    tx_id: Vec<u8>,
    account: Option<String>,
    account_time: u64,
    user: bool,
    intent: bool,
}

impl InstallGrant {
    fn from_armed(tx_id: Vec<u8>, a: Armed) -> InstallGrant {
        InstallGrant {
            tx_id,
            account: a.account,
            account_time: a.account_time,
            user: a.user,
            intent: a.intent,
        }
    }
}

/// Authorisation state of one card: the policy (persisted) and the nonce, armed authorisation
/// and install grant (volatile).
#[derive(Debug)]
pub struct Authz {
    store: Arc<dyn Store>,
    policy: Compiled,
    clock: u64,
    persisted_clock: u64,
    tick: u64,
    nonce: Option<([u8; 16], u64)>,
    armed: Option<Armed>,
    install: Option<InstallGrant>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> LifecycleError {
    LifecycleError::Corrupt(what.to_string(), e.to_string())
}

impl Authz {
    /// Loads the policy and clock from `store` (absent: the open policy, time 0).
    pub(crate) fn load(store: Arc<dyn Store>) -> Result<Authz, LifecycleError> {
        let policy = match store.get(Tree::Meta, policy::POLICY_KEY)? {
            Some(v) => AuthzPolicy::from_json(&v)
                .and_then(|p| p.compile())
                .map_err(|e| corrupt("authz policy", e))?,
            None => AuthzPolicy::default()
                .compile()
                .map_err(|e| corrupt("authz policy", e))?,
        };
        let clock = match store.get(Tree::Meta, policy::CLOCK_KEY)? {
            Some(v) => {
                let c: AuthzClock =
                    serde_json::from_slice(&v).map_err(|e| corrupt("authz clock", e))?;
                if c.version != FORMAT_VERSION {
                    return Err(corrupt("authz clock", "unsupported format version"));
                }
                c.last_time
            }
            None => 0,
        };
        Ok(Authz {
            store,
            policy,
            clock,
            persisted_clock: clock,
            tick: 0,
            nonce: None,
            armed: None,
            install: None,
        })
    }

    /// The policy in force.
    pub fn policy(&self) -> &AuthzPolicy {
        &self.policy.record
    }

    /// What `op` on `iccid` (of class `class`) requires under the policy in force.
    pub fn requirement(
        &self,
        op: Operation,
        iccid: Option<&[u8]>,
        class: Option<ProfileClass>,
    ) -> Requirement {
        self.policy.requirement(op, iccid, class)
    }

    /// Replaces the policy (checked, then committed and flushed, then in force).
    pub fn set_policy(&mut self, p: AuthzPolicy) -> Result<(), AuthzError> {
        let compiled = p.compile()?;
        let mut b = Batch::new();
        b.put(
            Tree::Meta,
            policy::POLICY_KEY.to_vec(),
            p.to_json().into_bytes(),
        );
        self.store.commit(b)?;
        self.policy = compiled;
        self.armed = None;
        Ok(())
    }

    /// The highest trusted time seen (Unix seconds; 0 before the first assertion).
    pub fn last_time(&self) -> u64 {
        self.clock
    }

    /// The account profile `iccid` is linked to.
    pub fn link(&self, iccid: &[u8]) -> Result<Option<AccountLink>, StoreError> {
        match self.store.get(Tree::Meta, &link_key(iccid))? {
            None => Ok(None),
            Some(v) => match serde_json::from_slice::<AccountLink>(&v) {
                Ok(l) if l.version == FORMAT_VERSION => Ok(Some(l)),
                Ok(_) | Err(_) => Err(StoreError::Format(
                    "authz link".into(),
                    "unreadable account link".into(),
                )),
            },
        }
    }

    /// Links (or, with `None`, unlinks) profile `iccid` to an account outside ES10 (the CLI).
    pub fn set_link(&mut self, iccid: &[u8], account: Option<&str>) -> Result<(), AuthzError> {
        let mut b = Batch::new();
        match account {
            Some(a) => {
                if a.is_empty() || a.len() > codec::MAX_ACCOUNT_LEN {
                    return Err(
                        PolicyError::Invalid("an account id has 1 to 64 bytes".into()).into(),
                    );
                }
                let l = AccountLink {
                    version: FORMAT_VERSION,
                    iccid: iccid.to_vec(),
                    account: a.to_string(),
                    linked_at: self.clock,
                };
                b.put(Tree::Meta, link_key(iccid), encode_json(&l));
            }
            None => b.delete(Tree::Meta, link_key(iccid)),
        }
        self.store.commit(b)?;
        Ok(())
    }

    /// Forgets the nonce, the armed authorisation and the install grant (power off, reset).
    pub(crate) fn clear_volatile(&mut self) {
        self.nonce = None;
        self.armed = None;
        self.install = None;
    }

    /// Advances the card's clock by one ES10 command and returns it.
    pub(crate) fn tick(&mut self) -> u64 {
        self.tick = self.tick.saturating_add(1);
        self.tick
    }

    fn lifetime(&self) -> u64 {
        u64::from(self.policy.record.nonce_lifetime)
    }

    /// Adds the account link of an installed profile to `b` (commit_install): the account of the
    /// install authorisation of this session, if any. Returns whether a link was written.
    pub(crate) fn link_install(&mut self, iccid: &[u8], b: &mut Batch) -> bool {
        let Some(grant) = self.install.take() else {
            return false;
        };
        let Some(account) = grant.account else {
            return false;
        };
        let l = AccountLink {
            version: FORMAT_VERSION,
            iccid: iccid.to_vec(),
            account,
            linked_at: grant.account_time,
        };
        b.put(Tree::Meta, link_key(iccid), encode_json(&l));
        true
    }

    /// Takes the armed authorisation if it is for exactly (`op`, `iccid`), still fresh and
    /// carries the proofs `needed`. Any admin command disarms.
    fn consume(
        &mut self,
        op: Operation,
        iccid: &[u8],
        needed: Requirement,
        now: u64,
    ) -> Option<Armed> {
        let lifetime = self.lifetime();
        let a = self.armed.take()?;
        let fresh = now.saturating_sub(a.at) <= lifetime;
        (a.operation == op && a.iccid == iccid && fresh && needed.satisfied_by(a.user, a.intent))
            .then_some(a)
    }

    fn advance_clock(&mut self, t: u64) -> Result<(), StoreError> {
        if t <= self.clock {
            return Ok(());
        }
        self.clock = t;
        if self.persisted_clock == 0 || t >= self.persisted_clock.saturating_add(CLOCK_PERSIST_STEP)
        {
            let mut b = Batch::new();
            b.put(
                Tree::Meta,
                policy::CLOCK_KEY.to_vec(),
                encode_json(&AuthzClock {
                    version: FORMAT_VERSION,
                    last_time: t,
                }),
            );
            self.store.commit(b)?;
            self.persisted_clock = t;
        }
        Ok(())
    }
}

fn encode_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Deletes the account link of `iccid` in `b` (profile deletion, memory reset).
pub(crate) fn unlink_write(iccid: &[u8], b: &mut Batch) {
    b.delete(Tree::Meta, link_key(iccid));
}

/// Deletes every account link in `b` (factory reset).
pub(crate) fn unlink_all_writes(store: &dyn Store, b: &mut Batch) -> Result<(), StoreError> {
    for (k, _) in store.scan(Tree::Meta, policy::LINK_PREFIX)? {
        b.delete(Tree::Meta, k);
    }
    Ok(())
}

fn malformed(what: &'static str, e: impl std::fmt::Display) -> IsdrError {
    IsdrError::Malformed(es10::Es10Error::Decode {
        type_name: what,
        reason: e.to_string(),
    })
}

/// The profile an identifier names: its ICCID (as given when not installed) and class.
fn target(state: &EuiccState, id: &ProfileIdentifier) -> (Option<Vec<u8>>, Option<ProfileClass>) {
    let pid = match id {
        ProfileIdentifier::Iccid(i) => ProfileId::Iccid(i.to_vec()),
        ProfileIdentifier::IsdpAid(a) => ProfileId::Aid(a.to_vec()),
    };
    match (state.profile(&pid), id) {
        (Some(p), _) => (Some(p.iccid.clone()), Some(p.class)),
        (None, ProfileIdentifier::Iccid(i)) => (Some(i.to_vec()), None),
        (None, ProfileIdentifier::IsdpAid(_)) => (None, None),
    }
}

fn class_of(state: &EuiccState, iccid: &[u8]) -> Option<ProfileClass> {
    state
        .profile(&ProfileId::Iccid(iccid.to_vec()))
        .map(|p| p.class)
}

/// The gate, before every decoded ES10 command: `Some(response)` refuses the command with its
/// standard result, and nothing changes.
pub(crate) fn gate(
    state: &mut EuiccState,
    req: &Es10Request,
) -> Result<Option<Vec<u8>>, IsdrError> {
    let now = state.authz_mut().tick();
    let (op, iccid, class) = match req {
        Es10Request::Enable(r) => {
            let (i, c) = target(state, &r.profile_identifier);
            (Operation::Enable, i, c)
        }
        Es10Request::Disable(r) => {
            let (i, c) = target(state, &r.profile_identifier);
            (Operation::Disable, i, c)
        }
        Es10Request::Delete(r) => {
            let (i, c) = target(state, &r.profile_identifier());
            (Operation::Delete, i, c)
        }
        Es10Request::SetNickname(r) => (
            Operation::Nickname,
            Some(r.iccid.to_vec()),
            class_of(state, &r.iccid),
        ),
        Es10Request::MemoryReset(_) => (Operation::MemoryReset, None, None),
        Es10Request::AuthenticateServer(r) => {
            // A new session: any earlier grant is void; an armed install authorisation is
            // taken for this session (checked at PrepareDownload).
            let a = state.authz_mut();
            a.install = None;
            let tx = r.server_signed1.transaction_id.to_vec();
            if let Some(armed) = a.consume(Operation::Install, &[], Requirement::None, now) {
                a.install = Some(InstallGrant::from_armed(tx, armed));
            }
            return Ok(None);
        }
        Es10Request::PrepareDownload(r) => return gate_prepare(state, r, now),
        _ => return Ok(None),
    };
    let needed = state.authz().requirement(op, iccid.as_deref(), class);
    let key = iccid.clone().unwrap_or_default();
    let armed = state.authz_mut().consume(op, &key, needed, now);
    if armed.is_some() || needed == Requirement::None {
        return Ok(None);
    }
    info!(
        operation = %op,
        iccid = %iccid.as_deref().map(iccid_digits).unwrap_or_default(),
        requirement = %needed,
        "admin operation refused: no valid authorisation"
    );
    let data = match op {
        Operation::Enable => es10::encode(&EnableProfileResponse {
            enable_result: enable_result::DISALLOWED_BY_POLICY,
        }),
        Operation::Disable => es10::encode(&DisableProfileResponse {
            disable_result: disable_result::DISALLOWED_BY_POLICY,
        }),
        Operation::Delete => es10::encode(&DeleteProfileResponse {
            delete_result: delete_result::DISALLOWED_BY_POLICY,
        }),
        // SetNickname and eUICCMemoryReset have no policy code: undefinedError.
        Operation::Nickname => es10::encode(&SetNicknameResponse {
            set_nickname_result: set_nickname_result::UNDEFINED_ERROR,
        }),
        _ => es10::encode(&EuiccMemoryResetResponse {
            reset_result: reset_result::UNDEFINED_ERROR,
        }),
    };
    Ok(Some(data))
}

fn gate_prepare(
    state: &mut EuiccState,
    r: &PrepareDownloadRequest,
    now: u64,
) -> Result<Option<Vec<u8>>, IsdrError> {
    let tx = r.smdp_signed2.transaction_id.to_vec();
    let needed = state.authz().requirement(Operation::Install, None, None);
    let a = state.authz_mut();
    // An authorisation armed after AuthenticateServer (the LPA asked once it saw the profile).
    if let Some(armed) = a.consume(Operation::Install, &[], Requirement::None, now) {
        a.install = Some(InstallGrant::from_armed(tx.clone(), armed));
    }
    let granted = a
        .install
        .as_ref()
        .is_some_and(|g| g.tx_id == tx && needed.satisfied_by(g.user, g.intent));
    if needed == Requirement::None || granted {
        return Ok(None);
    }
    a.install = None;
    info!(requirement = %needed, "profile download refused: no valid install authorisation");
    Ok(Some(es10::encode(
        &PrepareDownloadResponse::DownloadResponseError(PrepareDownloadResponseError {
            transaction_id: r.smdp_signed2.transaction_id.clone(),
            download_error_code: download_error_code::UNDEFINED_ERROR,
        }),
    )))
}

/// Handles the vendor functions `FF22`…`FF26`; `None` for any other command.
pub(crate) fn vendor(state: &mut EuiccState, command: &[u8]) -> Result<Option<Vec<u8>>, IsdrError> {
    let (tag, content) = match codec::parse_vendor(command) {
        None => return Ok(None),
        Some(Ok((tag, _))) if !codec::is_authz_tag(tag) => return Ok(None),
        Some(Ok(v)) => v,
        Some(Err(e)) => return Err(malformed("vendor command", e)),
    };
    let now = state.authz_mut().tick();
    Ok(Some(match tag {
        tags::GET_ADMIN_NONCE => {
            if !content.is_empty() {
                return Err(malformed("GetAdminNonce", "no content expected"));
            }
            let mut n = [0u8; 16];
            state.random(&mut n);
            let a = state.authz_mut();
            a.nonce = Some((n, now));
            codec::get_admin_nonce_response(&n, a.policy.record.nonce_lifetime)
        }
        tags::AUTHORISE_ADMIN_OPERATION => {
            let req = AuthoriseRequest::decode(content)
                .map_err(|e| malformed("AuthoriseAdminOperation", e))?;
            let result = authorise(state, &req, now)?;
            codec::result_response(tags::AUTHORISE_ADMIN_OPERATION, result)
        }
        tags::GET_ADMIN_POLICY => {
            let q = PolicyQuery::decode(content).map_err(|e| malformed("GetAdminPolicy", e))?;
            let a = state.authz();
            let answer = match q.operation {
                Some(op) => {
                    let class = q.iccid.as_deref().and_then(|i| class_of(state, i));
                    PolicyAnswer {
                        result: vendor_result::OK,
                        policy: None,
                        requirement: Some(a.requirement(op, q.iccid.as_deref(), class)),
                    }
                }
                None if a.policy().readable => PolicyAnswer {
                    result: vendor_result::OK,
                    policy: Some(a.policy().to_json()),
                    requirement: None,
                },
                None => PolicyAnswer {
                    result: vendor_result::DISALLOWED_BY_POLICY,
                    policy: None,
                    requirement: None,
                },
            };
            answer.encode()
        }
        tags::SET_ADMIN_POLICY => {
            let text = codec::parse_set_admin_policy(content)
                .map_err(|e| malformed("SetAdminPolicy", e))?;
            codec::result_response(tags::SET_ADMIN_POLICY, set_policy_es10(state, text, now)?)
        }
        _ => {
            let digest = codec::parse_firmware_update(content)
                .map_err(|e| malformed("FirmwareUpdate", e))?;
            let result = if gate_card_wide(state, Operation::Firmware, now) {
                info!(
                    digest = %digest.as_deref().map(hex::encode_upper).unwrap_or_default(),
                    "firmware update (no-op)"
                );
                vendor_result::OK
            } else {
                vendor_result::DISALLOWED_BY_POLICY
            };
            codec::result_response(tags::FIRMWARE_UPDATE, result)
        }
    }))
}

/// The gate for an eUICC-wide vendor operation: whether it may run.
fn gate_card_wide(state: &mut EuiccState, op: Operation, now: u64) -> bool {
    let needed = state.authz().requirement(op, None, None);
    let armed = state.authz_mut().consume(op, &[], needed, now);
    let ok = armed.is_some() || needed == Requirement::None;
    if !ok {
        info!(operation = %op, requirement = %needed, "admin operation refused: no valid authorisation");
    }
    ok
}

fn set_policy_es10(state: &mut EuiccState, text: &str, now: u64) -> Result<i64, IsdrError> {
    if !state.authz().policy().es10_writable {
        // Disarm as any admin command does.
        state.authz_mut().armed = None;
        info!("SetAdminPolicy refused: the policy is not writable through ES10");
        return Ok(vendor_result::DISALLOWED_BY_POLICY);
    }
    if !gate_card_wide(state, Operation::Policy, now) {
        return Ok(vendor_result::DISALLOWED_BY_POLICY);
    }
    if text.len() > policy::MAX_POLICY_TEXT {
        return Ok(vendor_result::INVALID_POLICY);
    }
    let p = match AuthzPolicy::from_json(text.as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            debug!(error = %e, "SetAdminPolicy: invalid policy");
            return Ok(vendor_result::INVALID_POLICY);
        }
    };
    match state.authz_mut().set_policy(p) {
        Ok(()) => {
            info!("admin policy replaced through ES10");
            Ok(vendor_result::OK)
        }
        Err(AuthzError::Store(e)) => Err(IsdrError::Storage(e.to_string())),
        Err(AuthzError::Policy(_)) => Ok(vendor_result::INVALID_POLICY),
    }
}

/// AuthoriseAdminOperation: checks the nonce, then the account assertion, then the intent
/// signature; arms a one-shot authorisation on success.
fn authorise(state: &mut EuiccState, req: &AuthoriseRequest, now: u64) -> Result<i64, IsdrError> {
    let op = req.operation;
    let refuse = |code: i64| {
        info!(
            operation = %op,
            iccid = %req.iccid.as_deref().map(iccid_digits).unwrap_or_default(),
            result = codec::authorise_result::name(code),
            "AuthoriseAdminOperation refused"
        );
        Ok(code)
    };
    // 1. The nonce: the outstanding one, burnt whatever follows.
    let lifetime = state.authz().lifetime();
    let a = state.authz_mut();
    a.armed = None;
    match a.nonce.take() {
        Some((n, _)) if n != req.nonce => return refuse(res::INVALID_NONCE),
        None => return refuse(res::INVALID_NONCE),
        Some((_, at)) if now.saturating_sub(at) > lifetime => return refuse(res::NONCE_EXPIRED),
        Some(_) => {}
    }
    // 2. The target.
    if op.per_profile() != req.iccid.is_some() {
        return refuse(res::INCORRECT_INPUT);
    }
    let iccid = req.iccid.clone().unwrap_or_default();
    let class = req.iccid.as_deref().and_then(|i| class_of(state, i));
    let needed = state.authz().requirement(op, req.iccid.as_deref(), class);
    let eid = state.identity().eid;
    let crypto = state.crypto().clone();
    // 3. User authentication.
    let mut account = None;
    let mut account_time = 0;
    let keys = state.authz().policy.account_keys.clone();
    match &req.assertion {
        None if needed.user() => return refuse(res::ASSERTION_MISSING),
        None => {}
        Some(_) if keys.is_empty() && needed.user() => return refuse(res::NOT_CONFIGURED),
        Some(_) if keys.is_empty() => {
            debug!("account assertion ignored: no account key configured")
        }
        Some(bytes) => {
            let Ok(asr) = AccountAssertion::from_bytes(bytes) else {
                return refuse(res::ASSERTION_INVALID);
            };
            if !keys.iter().any(|k| asr.verify(crypto.as_ref(), k)) {
                return refuse(res::ASSERTION_INVALID);
            }
            let c = &asr.claims;
            if c.eid != eid {
                return refuse(res::ASSERTION_WRONG_EID);
            }
            if c.operation != op {
                return refuse(res::ASSERTION_WRONG_OPERATION);
            }
            if c.iccid != iccid {
                return refuse(res::ASSERTION_WRONG_ICCID);
            }
            if c.nonce.is_some_and(|n| n != req.nonce) {
                return refuse(res::ASSERTION_WRONG_NONCE);
            }
            let reference = state.authz().last_time().max(c.issued_at);
            let max = state.authz().policy().max_assertion_lifetime_s;
            if c.expires_at <= reference
                || c.expires_at < c.issued_at
                || c.expires_at - c.issued_at > max
            {
                return refuse(res::ASSERTION_EXPIRED);
            }
            if let Some(i) = &req.iccid {
                let link = state
                    .authz()
                    .link(i)
                    .map_err(|e| IsdrError::Storage(e.to_string()))?;
                if link.is_some_and(|l| l.account != c.account) {
                    return refuse(res::ACCOUNT_MISMATCH);
                }
            }
            account = Some(c.account.clone());
            account_time = c.issued_at;
        }
    }
    // 4. Human intent.
    let intent_keys = state.authz().policy.intent_keys.clone();
    let mut intent = false;
    match &req.intent_signature {
        None if needed.intent() => return refuse(res::INTENT_MISSING),
        None => {}
        Some(_) if intent_keys.is_empty() && needed.intent() => return refuse(res::NOT_CONFIGURED),
        Some(_) if intent_keys.is_empty() => {
            debug!("intent signature ignored: no SE key registered")
        }
        Some(sig) => {
            let data = codec::intent_data(&eid, op, &iccid, &req.nonce);
            if !intent_keys.iter().any(|k| crypto.verify(k, &data, sig)) {
                return refuse(res::INTENT_INVALID);
            }
            intent = true;
        }
    }
    // 5. Arm, and move the trusted clock.
    let a = state.authz_mut();
    if account.is_some() {
        a.advance_clock(account_time)
            .map_err(|e| IsdrError::Storage(e.to_string()))?;
    }
    info!(
        operation = %op,
        iccid = %req.iccid.as_deref().map(iccid_digits).unwrap_or_default(),
        user = account.is_some(),
        intent,
        "admin operation authorised"
    );
    a.armed = Some(Armed {
        operation: op,
        iccid,
        user: account.is_some(),
        account,
        account_time,
        intent,
        at: now,
    });
    Ok(res::OK)
}
