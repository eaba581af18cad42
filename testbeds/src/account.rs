//! The account server of admin-operation authorisation (flow 2, docs/authz.md): users prove who
//! they are with a password and get a short-lived assertion, signed with the server's P-256 key,
//! that an eUICC checks before an admin operation on a profile linked to their account.
//!
//! - [`AccountStore`]: the accounts file (`accounts.json`, format version 1, mode 0600, written
//!   atomically): account id → Argon2id password hash as a PHC string.
//! - [`AccountServer`]: the sans-IO core. [`AccountServer::issue`] checks the credentials and
//!   signs an [`AccountAssertion`] (encoding in [`rsp::authz`]) for the EID, ICCID, operation
//!   and, when given, the card nonce of the request. After `max_failures` consecutive failures
//!   an account (existing or not) is locked for `lockout`; while locked, no password is checked.
//!   Time comes from the clock passed in.
//! - [`router`] / [`bind`]: the same over HTTPS (axum on rustls): `POST /assertion`,
//!   `GET /key`.
//!
//! Passwords never reach a log or an error message; `Debug` of a request redacts them.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use rsp::authz::{AccountAssertion, AssertionClaims, Operation};
use rsp::crypto::{CryptoProvider, EcPrivateKey};
use rsp::keys::EcKey;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::smdp::Clock;

/// Format version of the accounts file.
pub const FORMAT_VERSION: u32 = 1;
/// Largest request body accepted.
pub const BODY_LIMIT: usize = 16 * 1024;
/// Longest account id and password accepted, in bytes.
pub const MAX_ACCOUNT_LEN: usize = rsp::authz::MAX_ACCOUNT_LEN;
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Accounts tracked for lockout at once (the oldest entries go first).
const MAX_TRACKED: usize = 10_000;

/// File names in the state directory.
pub mod files {
    /// The accounts (JSON, 0600).
    pub const ACCOUNTS: &str = "accounts.json";
    /// The assertion signing key (PKCS#8 PEM, 0600).
    pub const ASSERTION_KEY: &str = "assertion-key.pem";
    /// Its public key as hex (what `veuicc authz-policy --account-key` takes).
    pub const ASSERTION_PUB: &str = "assertion-key.pub";
    /// The CI that issues the TLS certificate (DER) and its key (PEM, 0600).
    pub const TLS_CI_CERT: &str = "tls-ci.der";
    pub const TLS_CI_KEY: &str = "tls-ci-key.pem";
    /// The certificate a TLS client must trust (PEM).
    pub const TLS_CA: &str = "tls-ca.pem";
}

/// Account server failures.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid account or password")]
    Unauthorized,
    #[error("too many failed attempts; try again in {0} s")]
    Locked(u64),
    #[error("account {0:?} already exists")]
    Exists(String),
    #[error("no account {0:?}")]
    NoAccount(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Format { path: PathBuf, reason: String },
    #[error("password hashing: {0}")]
    Hash(String),
    #[error("key: {0}")]
    Key(String),
    #[error("TLS: {0}")]
    Tls(String),
}

impl AccountError {
    /// The HTTP status of this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            AccountError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AccountError::Unauthorized => StatusCode::UNAUTHORIZED,
            AccountError::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> AccountError + '_ {
    move |source| AccountError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// --- the accounts file ---------------------------------------------------------------------------

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    pub id: String,
    /// Argon2id PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub password_hash: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// The accounts file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsFile {
    pub version: u32,
    pub accounts: Vec<AccountRecord>,
}

impl Default for AccountsFile {
    fn default() -> Self {
        AccountsFile {
            version: FORMAT_VERSION,
            accounts: Vec::new(),
        }
    }
}

/// The accounts of a state directory. Reads the file on each use, so accounts added by
/// `testbed account add` while the server runs are seen at once.
#[derive(Debug, Clone)]
pub struct AccountStore {
    path: PathBuf,
    params: Params,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn check_account_id(id: &str) -> Result<(), AccountError> {
    if id.is_empty()
        || id.len() > MAX_ACCOUNT_LEN
        || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AccountError::BadRequest(
            "an account id has 1 to 64 bytes, no spaces or control characters".into(),
        ));
    }
    Ok(())
}

impl AccountStore {
    /// The accounts file of `state_dir`, hashing new passwords with Argon2id's default
    /// parameters (m = 19 MiB, t = 2, p = 1).
    pub fn new(state_dir: &Path) -> AccountStore {
        AccountStore {
            path: state_dir.join(files::ACCOUNTS),
            params: Params::default(),
        }
    }

    /// Other Argon2 parameters for new hashes (tests use cheap ones).
    pub fn with_params(mut self, params: Params) -> AccountStore {
        self.params = params;
        self
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The accounts (an absent file: none).
    pub fn load(&self) -> Result<AccountsFile, AccountError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AccountsFile::default())
            }
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        let f: AccountsFile = serde_json::from_slice(&bytes).map_err(|e| AccountError::Format {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        if f.version != FORMAT_VERSION {
            return Err(AccountError::Format {
                path: self.path.clone(),
                reason: format!(
                    "format version {}, this testbed reads {FORMAT_VERSION}",
                    f.version
                ),
            });
        }
        Ok(f)
    }

    /// Writes the accounts: a temporary file (0600), flushed, renamed over the old one.
    fn save(&self, f: &AccountsFile) -> Result<(), AccountError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(f).map_err(|e| AccountError::Format {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(&tmp))?;
        file.write_all(&bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io_err(&self.path))?;
        Ok(())
    }

    /// Hashes `password` (Argon2id, random salt) as a PHC string.
    pub fn hash(&self, password: &str) -> Result<String, AccountError> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Hash(e.to_string()))
    }

    /// Adds an account; with `replace`, sets the password of an existing one.
    pub fn add(
        &self,
        id: &str,
        password: &str,
        replace: bool,
        now: SystemTime,
    ) -> Result<(), AccountError> {
        check_account_id(id)?;
        if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
            return Err(AccountError::BadRequest(
                "a password has 1 to 1024 bytes".into(),
            ));
        }
        let mut f = self.load()?;
        let rec = AccountRecord {
            id: id.to_string(),
            password_hash: self.hash(password)?,
            created_at: unix(now),
        };
        match f.accounts.iter_mut().find(|a| a.id == id) {
            Some(_) if !replace => return Err(AccountError::Exists(id.to_string())),
            Some(a) => *a = rec,
            None => f.accounts.push(rec),
        }
        self.save(&f)
    }

    /// Removes an account.
    pub fn remove(&self, id: &str) -> Result<(), AccountError> {
        let mut f = self.load()?;
        let n = f.accounts.len();
        f.accounts.retain(|a| a.id != id);
        if f.accounts.len() == n {
            return Err(AccountError::NoAccount(id.to_string()));
        }
        self.save(&f)
    }

    /// Whether `password` is the password of account `id`. An unknown account costs the same
    /// hash computation as a known one.
    pub fn verify(&self, id: &str, password: &str) -> Result<bool, AccountError> {
        let f = self.load()?;
        let argon2 = self.argon2();
        match f.accounts.iter().find(|a| a.id == id) {
            Some(a) => {
                let parsed =
                    PasswordHash::new(&a.password_hash).map_err(|e| AccountError::Format {
                        path: self.path.clone(),
                        reason: format!("account {id:?}: {e}"),
                    })?;
                Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok())
            }
            None => {
                let _ = argon2.hash_password(password.as_bytes());
                Ok(false)
            }
        }
    }
}

// --- the server core -----------------------------------------------------------------------------

/// Settings of an [`AccountServer`].
#[derive(Debug, Clone)]
pub struct AccountConfig {
    /// Lifetime of an assertion.
    pub lifetime: Duration,
    /// Consecutive failures before an account is locked.
    pub max_failures: u32,
    /// How long a lock lasts.
    pub lockout: Duration,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig {
            lifetime: Duration::from_secs(120),
            max_failures: 5,
            lockout: Duration::from_secs(60),
        }
    }
}

/// `POST /assertion` body.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AssertionRequest {
    pub account: String,
    pub password: Zeroizing<String>,
    /// 32 hex digits.
    pub eid: String,
    /// ICCID digits; absent or empty for eUICC-wide operations.
    #[serde(default)]
    pub iccid: Option<String>,
    /// `install`, `nickname`, `enable`, `disable`, `delete`, `export`, `memory-reset`,
    /// `firmware` or `policy`.
    pub operation: String,
    /// The card nonce (32 hex digits) to bind the assertion to.
    #[serde(default)]
    pub nonce: Option<String>,
}

impl fmt::Debug for AssertionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionRequest")
            .field("account", &self.account)
            .field("password", &"<redacted>")
            .field("eid", &self.eid)
            .field("iccid", &self.iccid)
            .field("operation", &self.operation)
            .field("nonce", &self.nonce)
            .finish()
    }
}

/// `POST /assertion` answer (200).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionResponse {
    /// The assertion (`E1` TLV), base64.
    pub assertion: String,
    pub account: String,
    pub operation: String,
    pub issued_at: u64,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<SystemTime>,
    last: SystemTime,
}

/// The account server core.
pub struct AccountServer {
    store: AccountStore,
    key: EcPrivateKey,
    public: [u8; 65],
    provider: Arc<dyn CryptoProvider>,
    clock: Clock,
    config: AccountConfig,
    failures: Mutex<HashMap<String, Failures>>,
}

impl fmt::Debug for AccountServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountServer")
            .field("store", &self.store)
            .field("public", &hex::encode_upper(self.public))
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The assertion key of a state directory: read, or generated (0600) with its `.pub` file.
pub fn load_or_create_key(state_dir: &Path) -> Result<EcKey, AccountError> {
    let path = state_dir.join(files::ASSERTION_KEY);
    let key = if path.exists() {
        EcKey::read_pem_file(&path).map_err(|e| AccountError::Key(e.to_string()))?
    } else {
        std::fs::create_dir_all(state_dir).map_err(io_err(state_dir))?;
        let k = EcKey::generate_os().map_err(|e| AccountError::Key(e.to_string()))?;
        k.write_pem_file(&path)
            .map_err(|e| AccountError::Key(e.to_string()))?;
        k
    };
    let pub_path = state_dir.join(files::ASSERTION_PUB);
    std::fs::write(
        &pub_path,
        format!("{}\n", hex::encode_upper(key.public_key_uncompressed())),
    )
    .map_err(io_err(&pub_path))?;
    Ok(key)
}

fn parse_hex16(what: &str, s: &str) -> Result<[u8; 16], AccountError> {
    hex::decode(s.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AccountError::BadRequest(format!("{what} must be 32 hex digits")))
}

impl AccountServer {
    pub fn new(
        store: AccountStore,
        key: &EcKey,
        provider: Arc<dyn CryptoProvider>,
        clock: Clock,
        config: AccountConfig,
    ) -> AccountServer {
        AccountServer {
            store,
            key: EcPrivateKey::from(key),
            public: key.public_key_uncompressed(),
            provider,
            clock,
            config,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// The assertion key (uncompressed P-256 point).
    pub fn public_key(&self) -> [u8; 65] {
        self.public
    }

    pub fn store(&self) -> &AccountStore {
        &self.store
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks the credentials and signs an assertion for the request.
    pub fn issue(&self, req: &AssertionRequest) -> Result<AssertionResponse, AccountError> {
        // The request must make sense before any password is checked.
        let operation: Operation = req.operation.parse().map_err(AccountError::BadRequest)?;
        let eid = parse_hex16("eid", &req.eid)?;
        let iccid = match req
            .iccid
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => veuicc::euicc::records::parse_iccid(s)
                .filter(|i| i.len() == 10)
                .ok_or_else(|| {
                    AccountError::BadRequest("iccid must have 19 or 20 digits".into())
                })?,
            None => Vec::new(),
        };
        if operation.per_profile() == iccid.is_empty() {
            return Err(AccountError::BadRequest(if iccid.is_empty() {
                format!("{operation} needs an iccid")
            } else {
                format!("{operation} is an eUICC-wide operation: no iccid")
            }));
        }
        let nonce = req
            .nonce
            .as_deref()
            .map(|n| parse_hex16("nonce", n))
            .transpose()?;
        check_account_id(&req.account)?;
        if req.password.len() > MAX_PASSWORD_LEN {
            return Err(AccountError::Unauthorized);
        }
        let now = (self.clock)();
        if let Some(f) = self.failures().get(&req.account) {
            if let Some(until) = f.locked_until.filter(|u| *u > now) {
                let left = until.duration_since(now).map_or(1, |d| d.as_secs().max(1));
                return Err(AccountError::Locked(left));
            }
        }
        if !self.store.verify(&req.account, &req.password)? {
            self.record_failure(&req.account, now);
            tracing::info!(account = %req.account, "assertion refused: invalid credentials");
            return Err(AccountError::Unauthorized);
        }
        self.failures().remove(&req.account);
        let mut id = [0u8; 16];
        self.provider
            .random(&mut id)
            .map_err(|e| AccountError::Key(e.to_string()))?;
        let issued_at = unix(now);
        let claims = AssertionClaims {
            account: req.account.clone(),
            eid,
            iccid,
            operation,
            issued_at,
            expires_at: issued_at + self.config.lifetime.as_secs().max(1),
            id,
            nonce,
        };
        let a = AccountAssertion::sign(&*self.provider, &self.key, claims)
            .map_err(|e| AccountError::Key(e.to_string()))?;
        tracing::info!(account = %req.account, %operation, "assertion issued");
        Ok(AssertionResponse {
            assertion: rsp::es9::b64_encode(&a.to_bytes()),
            account: req.account.clone(),
            operation: operation.name().to_string(),
            issued_at,
            expires_at: a.claims.expires_at,
        })
    }

    fn record_failure(&self, account: &str, now: SystemTime) {
        let mut map = self.failures();
        if map.len() >= MAX_TRACKED && !map.contains_key(account) {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let f = map.entry(account.to_string()).or_insert(Failures {
            count: 0,
            locked_until: None,
            last: now,
        });
        // A lock that has run out starts a new round.
        if f.locked_until.is_some_and(|u| u <= now) {
            f.count = 0;
            f.locked_until = None;
        }
        f.count += 1;
        f.last = now;
        if f.count >= self.config.max_failures {
            f.locked_until = Some(now + self.config.lockout);
            tracing::warn!(account = %account, "account locked after repeated failures");
        }
    }
}

// --- HTTPS ---------------------------------------------------------------------------------------

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut r = (status, bytes).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn error(e: &AccountError) -> Response {
    let retry = match e {
        AccountError::Locked(s) => Some(*s),
        _ => None,
    };
    let text = match e {
        // Internal details stay in the server's log.
        AccountError::BadRequest(_) | AccountError::Unauthorized | AccountError::Locked(_) => {
            e.to_string()
        }
        other => {
            tracing::warn!(error = %other, "account server error");
            "internal error".to_string()
        }
    };
    let mut r = json(
        e.status(),
        &ErrorBody {
            error: &text,
            retry_after: retry,
        },
    );
    if let Some(s) = retry {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

async fn assertion(State(s): State<Arc<AccountServer>>, method: Method, body: Bytes) -> Response {
    if method != Method::POST {
        return error(&AccountError::BadRequest("POST /assertion".into()));
    }
    let req: AssertionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        // serde's message may quote the body (and so the password): not echoed.
        Err(_) => {
            return error(&AccountError::BadRequest(
                "the body must be {account, password, eid, iccid, operation, nonce}".into(),
            ))
        }
    };
    // Argon2 is CPU-bound: off the async workers.
    match tokio::task::spawn_blocking(move || s.issue(&req)).await {
        Ok(Ok(a)) => json(StatusCode::OK, &a),
        Ok(Err(e)) => error(&e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn key(State(s): State<Arc<AccountServer>>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({"key": hex::encode_upper(s.public_key())}),
    )
}

async fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        &ErrorBody {
            error: "POST /assertion or GET /key",
            retry_after: None,
        },
    )
}

/// The routes, without TLS.
pub fn router(server: Arc<AccountServer>) -> Router {
    Router::new()
        .route("/assertion", any(assertion))
        .route("/key", axum::routing::get(key))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(server)
}

/// The TLS identity of the account server: a CI of its own in the state directory (reused on
/// the next start) and a certificate for `host` under it; writes `tls-ca.pem`.
pub fn tls_config(
    state_dir: &Path,
    host: &str,
    provider: &dyn CryptoProvider,
    now: SystemTime,
) -> Result<(Arc<rustls::ServerConfig>, PathBuf), AccountError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert_path = state_dir.join(files::TLS_CI_CERT);
    let key_path = state_dir.join(files::TLS_CI_KEY);
    let key_err = |e: &dyn fmt::Display| AccountError::Key(e.to_string());
    let (ci_key, ci_cert) = if cert_path.exists() && key_path.exists() {
        (
            EcKey::read_pem_file(&key_path).map_err(|e| key_err(&e))?,
            std::fs::read(&cert_path).map_err(io_err(&cert_path))?,
        )
    } else {
        std::fs::create_dir_all(state_dir).map_err(io_err(state_dir))?;
        let (k, c) = crate::identity::mint_ci(provider, now).map_err(|e| key_err(&e))?;
        std::fs::write(&cert_path, &c).map_err(io_err(&cert_path))?;
        k.write_pem_file(&key_path).map_err(|e| key_err(&e))?;
        (k, c)
    };
    let mut seed = [0u8; 32];
    provider.random(&mut seed).map_err(|e| key_err(&e))?;
    let mut rng =
        <rand_chacha::ChaCha20Rng as rand_chacha::rand_core::SeedableRng>::from_seed(seed);
    let tls_key = EcKey::generate(&mut rng);
    let tls_cert = rsp::pki::mint_dp_cert(
        &tls_key.public_key_uncompressed(),
        &rsp::pki::DpSpec {
            kind: rsp::pki::DpCertKind::Tls,
            organization: "testbeds account server",
            common_name: host,
            registered_id: rsp::pki::TEST_DP_RID,
            dns_name: Some(host),
        },
        &ci_key,
        &ci_cert,
        &mut rng,
        now - Duration::from_secs(86_400),
        now + Duration::from_secs(10 * 365 * 86_400),
    )
    .map_err(|e| key_err(&e))?;
    let ca_path = state_dir.join(files::TLS_CA);
    std::fs::write(&ca_path, crate::identity::cert_pem(&ci_cert)).map_err(io_err(&ca_path))?;
    let pem = tls_key.to_pkcs8_pem().map_err(|e| key_err(&e))?;
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| key_err(&e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AccountError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(tls_cert)], key)
        .map_err(|e| AccountError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), ca_path))
}

/// A running account server.
#[derive(Debug)]
pub struct AccountHandle {
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl AccountHandle {
    /// Stops accepting connections and waits (at most `grace` for open requests).
    pub async fn shutdown(self, grace: Duration) -> Result<(), AccountError> {
        self.handle.graceful_shutdown(Some(grace));
        match self.task.await {
            Ok(r) => r.map_err(|e| AccountError::Tls(e.to_string())),
            Err(e) => Err(AccountError::Tls(e.to_string())),
        }
    }
}

/// Binds `addr` (port 0: any free port) and serves HTTPS on the current tokio runtime.
pub async fn bind(
    addr: SocketAddr,
    server: Arc<AccountServer>,
    tls: Arc<rustls::ServerConfig>,
) -> Result<(SocketAddr, AccountHandle), AccountError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| AccountError::Io {
        path: PathBuf::from(addr.to_string()),
        source: e,
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| AccountError::Tls(e.to_string()))?;
    let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
    let handle = axum_server::Handle::<SocketAddr>::new();
    let srv = axum_server::tls_rustls::from_tcp_rustls(listener, config)
        .map_err(|e| AccountError::Tls(e.to_string()))?
        .handle(handle.clone());
    let app = router(server);
    let task = tokio::spawn(async move { srv.serve(app.into_make_service()).await });
    tracing::info!(%local, "account server listening (HTTPS)");
    Ok((local, AccountHandle { handle, task }))
}
