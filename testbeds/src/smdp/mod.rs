//! A sans-IO SM-DP+ core: ES9+ (the LPA's side) and ES2+ (the operator's side) as plain method
//! calls on [`Smdp`], with the clock, the crypto provider and the store passed in. The HTTPS
//! server ([`crate::server`]) and in-process tests call the same methods.
//!
//! **What is verified** (SGP.22 §3.1.3, §5.6; the digest in `shared/design/sgp22.md` §4):
//! - initiateAuthentication: the SM-DP+ address; EUICCInfo1 (SVN 2.x; a CI the eUICC verifies
//!   with that issued our CERT.DPauth, and a CI we trust among those it signs with).
//! - authenticateClient: the session (transaction ID, not expired, not replayed); CERT.EUM and
//!   CERT.EUICC chain to a trusted CI with their roles, validity, curves and the EUM's name
//!   constraints (EID within the permitted range) ([`rsp::cert::verify_chain_with`], with the
//!   SM-DP+'s crypto provider);
//!   euiccSignature1 over euiccSigned1 *as received*; its transaction ID, server address and
//!   serverChallenge; the matching ID names an order (or, without one, an order for this EID),
//!   for this EID, released, not expired, retries left.
//! - getBoundProfilePackage: euiccSignature2 over euiccSigned2 ‖ smdpSignature2 TLV with
//!   PK.EUICC; its transaction ID; the one-time key; hashCc when a confirmation code is required
//!   (with a retry limit).
//! - handleNotification: a ProfileInstallationResult's signature over the `BF27` as received with
//!   the key of the eUICC that downloaded the profile, its SM-DP+ OID and transaction ID; an
//!   OtherSignedNotification's chain and signature.
//! - cancelSession: the eUICC's signature, transaction ID and the SM-DP+ OID.
//!
//! Every failure is answered in the response header (`Failed` with the SGP.22 subject/reason
//! code and a message saying what failed); nothing unverified changes any state.

mod device;
mod es2plus;
mod es9plus;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rsp::cert::Cert;
use rsp::crypto::{CryptoProvider, EcPrivateKey, EcPublicKey};
use rsp::es10::{
    notification_event, try_encode, NamedBits, NotificationConfigurationInformation,
    StoreMetadataRequest,
};
use rsp::es9::{ResponseHeader, StatusCode};
use rsp::tlv;

use crate::es2::status_codes as es2_codes;
use crate::identity::SmdpIdentity;
use crate::store::{ProfileClassKind, ProfileMeta, ProfileRecord, ProfileState, Store, StoreError};

/// The clock the SM-DP+ reads (session and order expiry, certificate validity).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(SystemTime::now)
}

/// Tunables.
#[derive(Debug, Clone)]
pub struct SmdpConfig {
    /// How long an ES9+ session may take from initiateAuthentication to its end.
    pub session_ttl: Duration,
    /// How long a download order stays valid after downloadOrder.
    pub order_ttl: Duration,
    /// Bound Profile Packages delivered per order at most (retries included).
    pub max_download_attempts: u32,
    /// Wrong confirmation codes per order at most.
    pub max_cc_attempts: u32,
    /// Largest BPP segment TLV (SGP.22: 1020).
    pub max_segment_len: usize,
    /// hostId of the BSP key derivation (1 to 16 bytes).
    pub host_id: Vec<u8>,
}

impl Default for SmdpConfig {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(600),
            order_ttl: Duration::from_secs(7 * 86_400),
            max_download_attempts: 5,
            max_cc_attempts: 3,
            max_segment_len: rsp::bsp::MAX_SEGMENT_LEN,
            host_id: b"testbeds-smdp".to_vec(),
        }
    }
}

/// Why an SM-DP+ operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SmdpError {
    /// The request was refused with an SGP.22 status code.
    #[error("{}: {detail}", code.message)]
    Rejected {
        /// Subject and reason.
        code: StatusCode,
        /// What exactly failed.
        detail: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The identity is unusable.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    /// A profile package could not be added.
    #[error("profile package: {0}")]
    Package(String),
    /// An internal operation failed (encoding, crypto provider).
    #[error("internal error: {0}")]
    Internal(String),
}

impl SmdpError {
    /// The status code to report.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::Rejected { code, .. } => *code,
            Self::Package(_) => es2_codes::MALFORMED_REQUEST,
            _ => es2_codes::EXECUTION_ERROR,
        }
    }

    /// A failed response header for this error: its status code, with the error as message.
    pub fn header(&self) -> ResponseHeader {
        let mut header = ResponseHeader::failed(self.status_code());
        if let Some(data) = header.function_execution_status.status_code_data.as_mut() {
            data.message = Some(self.to_string());
        }
        header
    }
}

pub(crate) fn reject(code: StatusCode, detail: impl Into<String>) -> SmdpError {
    SmdpError::Rejected {
        code,
        detail: detail.into(),
    }
}

pub(crate) fn malformed(detail: impl fmt::Display) -> SmdpError {
    reject(es2_codes::MALFORMED_REQUEST, detail.to_string())
}

pub(crate) fn internal(detail: impl fmt::Display) -> SmdpError {
    SmdpError::Internal(detail.to_string())
}

/// One-time key pair of a binding, kept so that a retry with the same otPK.EUICC gets a BPP
/// bound with the same keys (SGP.22 §3.1.3.3). Memory only.
struct OneTimeKeys {
    eid: String,
    euicc_otpk: Vec<u8>,
    dp_sk: EcPrivateKey,
    dp_pk: EcPublicKey,
}

/// An eUICC chain (CERT.EUICC + CERT.EUM) that passed [`rsp::cert::verify_chain_with`], valid
/// from `not_before` to `not_after` (the intersection over the chain and the CI).
#[derive(Clone)]
pub(crate) struct VerifiedChain {
    pub(crate) eid: String,
    pub(crate) public_key: EcPublicKey,
    not_before: u64,
    not_after: u64,
}

/// Verified chains kept at most (the cache is cleared when full).
const CHAIN_CACHE_MAX: usize = 65_536;

/// The SM-DP+.
pub struct Smdp {
    identity: SmdpIdentity,
    address: RwLock<String>,
    trusted: Vec<Cert>,
    ci_pkid: Vec<u8>,
    trusted_pkids: Vec<Vec<u8>>,
    dp_oid_content: Vec<u8>,
    auth_sk: EcPrivateKey,
    pb_sk: EcPrivateKey,
    provider: Arc<dyn CryptoProvider>,
    clock: Clock,
    store: Store,
    config: SmdpConfig,
    /// Serialises read-modify-write of profile records.
    lock: Mutex<()>,
    one_time: Mutex<HashMap<String, OneTimeKeys>>,
    chains: Mutex<HashMap<[u8; 32], VerifiedChain>>,
    calls: AtomicU64,
}

impl fmt::Debug for Smdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smdp")
            .field("address", &self.address())
            .field("dp_oid", &self.identity.dp_oid)
            .field("provider", &self.provider.name())
            .finish_non_exhaustive()
    }
}

/// Unix seconds.
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Unix milliseconds.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether two SM-DP+ addresses name the same server: same host (case-insensitive) and the same
/// port, a missing port matching any.
pub fn address_matches(ours: &str, theirs: &str) -> bool {
    let split = |a: &str| -> (String, Option<u16>) {
        match a.rsplit_once(':') {
            Some((h, p)) => match p.parse::<u16>() {
                Ok(port) => (h.to_ascii_lowercase(), Some(port)),
                Err(_) => (a.to_ascii_lowercase(), None),
            },
            None => (a.to_ascii_lowercase(), None),
        }
    };
    let (h1, p1) = split(ours.trim());
    let (h2, p2) = split(theirs.trim());
    !h1.is_empty() && h1 == h2 && (p1.is_none() || p2.is_none() || p1 == p2)
}

/// ICCID digits → the 10-byte nibble-swapped `Iccid` of SGP.22 (F filler).
pub fn iccid_to_swapped(digits: &str) -> Option<[u8; 10]> {
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nibbles = [0x0Fu8; 20];
    for (n, b) in nibbles.iter_mut().zip(digits.bytes()) {
        *n = b - b'0';
    }
    let mut out = [0u8; 10];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nibbles[2 * i] | (nibbles[2 * i + 1] << 4);
    }
    Some(out)
}

/// The 10-byte nibble-swapped `Iccid` → ICCID digits (filler dropped).
pub fn iccid_from_swapped(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(20);
    for b in bytes {
        for n in [b & 0x0F, b >> 4] {
            if n <= 9 {
                s.push(char::from(b'0' + n));
            }
        }
    }
    s
}

/// Normalises an ICCID given on ES2+: digits, trailing `F` filler dropped.
pub(crate) fn normalise_iccid(text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches(['F', 'f']);
    (!t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.to_owned())
}

/// Normalises an EID given on ES2+: 32 decimal digits.
pub(crate) fn normalise_eid(text: &str) -> Option<String> {
    let t = text.trim();
    (t.len() == 32 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.to_owned())
}

/// The content octets of an rasn OBJECT IDENTIFIER.
pub(crate) fn oid_content(oid: &rasn::types::ObjectIdentifier) -> Option<Vec<u8>> {
    let der = rasn::der::encode(oid).ok()?;
    tlv::parse_exact(&der).ok().map(|t| t.value.to_vec())
}

/// Constant-time equality of byte strings of public length.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Smdp {
    /// An SM-DP+ with this identity, store, crypto provider, clock and configuration.
    pub fn new(
        identity: SmdpIdentity,
        store: Store,
        provider: Arc<dyn CryptoProvider>,
        clock: Clock,
        config: SmdpConfig,
    ) -> Result<Smdp, SmdpError> {
        let bad = |what: &str, reason: String| {
            SmdpError::Identity(crate::identity::IdentityError::Certificate {
                what: what.to_owned(),
                reason,
            })
        };
        let mut trusted = Vec::new();
        let mut trusted_pkids = Vec::new();
        for der in &identity.trusted_cis {
            let cert = Cert::from_der(der).map_err(|e| bad("trusted CI", e.to_string()))?;
            trusted_pkids.push(cert.key_identifier().to_vec());
            trusted.push(cert);
        }
        let ci_pkid = rsp::pki::cert_aki(&identity.auth_cert)
            .ok_or_else(|| bad("CERT.DPauth", "no authorityKeyIdentifier".into()))?;
        let dp_oid_content = rsp::pki::oid_content_from_dotted(&identity.dp_oid)
            .map_err(|e| bad("SM-DP+ OID", e.to_string()))?;
        if config.host_id.is_empty() || config.host_id.len() > 16 {
            return Err(internal("hostId must be 1 to 16 bytes"));
        }
        Ok(Smdp {
            address: RwLock::new(identity.address.clone()),
            auth_sk: EcPrivateKey::from(&identity.auth_key),
            pb_sk: EcPrivateKey::from(&identity.pb_key),
            identity,
            trusted,
            ci_pkid,
            trusted_pkids,
            dp_oid_content,
            provider,
            clock,
            store,
            config,
            lock: Mutex::new(()),
            one_time: Mutex::new(HashMap::new()),
            chains: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
        })
    }

    /// The SM-DP+ address (`host[:port]`) as it appears in activation codes.
    pub fn address(&self) -> String {
        match self.address.read() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Changes the address (e.g. once the listening port is known).
    pub fn set_address(&self, address: &str) {
        match self.address.write() {
            Ok(mut a) => *a = address.to_owned(),
            Err(poisoned) => *poisoned.into_inner() = address.to_owned(),
        }
    }

    /// The identity.
    pub fn identity(&self) -> &SmdpIdentity {
        &self.identity
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The crypto provider.
    pub fn provider(&self) -> &Arc<dyn CryptoProvider> {
        &self.provider
    }

    /// One profile record.
    pub fn profile(&self, iccid: &str) -> Result<Option<ProfileRecord>, SmdpError> {
        Ok(self.store.profile(iccid)?)
    }

    /// The inventory.
    pub fn profiles(&self) -> Result<Vec<ProfileRecord>, SmdpError> {
        Ok(self.store.profiles()?)
    }

    /// Adds an unprotected SAIP profile package to the inventory (state `Available`) and returns
    /// its ICCID (digits). Adding the same package again only updates the metadata of a profile
    /// still `Available`; another package with the same ICCID is refused.
    pub fn add_profile(&self, package: Vec<u8>, meta: ProfileMeta) -> Result<String, SmdpError> {
        let parsed = veuicc::profile::saip::parse_package(&package)
            .map_err(|e| SmdpError::Package(e.to_string()))?;
        let iccid = parsed.iccid_digits();
        if iccid_to_swapped(&iccid).is_none() {
            return Err(SmdpError::Package(format!("unusable ICCID {iccid:?}")));
        }
        if meta.service_provider_name.is_empty() && meta.profile_name.is_empty() {
            return Err(SmdpError::Package(
                "service provider name and profile name are both empty".into(),
            ));
        }
        let guard = self.guard();
        match (self.store.profile(&iccid)?, self.store.package(&iccid)?) {
            (Some(mut rec), Some(existing)) if existing == package => {
                if rec.state == ProfileState::Available && rec.meta != meta {
                    rec.meta = meta;
                    rec.updated = unix_secs(self.now());
                    self.store.put_profile(&rec)?;
                }
            }
            (Some(_), _) => {
                return Err(SmdpError::Package(format!(
                    "ICCID {iccid} is already in the inventory with another package"
                )))
            }
            (None, _) => {
                self.store.put_package(&iccid, &package)?;
                self.store.put_profile(&ProfileRecord {
                    iccid: iccid.clone(),
                    meta,
                    state: ProfileState::Available,
                    order: None,
                    updated: unix_secs(self.now()),
                    last_error: None,
                })?;
            }
        }
        drop(guard);
        self.store.flush()?;
        tracing::info!(%iccid, "profile added");
        Ok(iccid)
    }

    // --- helpers ------------------------------------------------------------------------------

    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }

    pub(crate) fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Verifies CERT.EUICC and CERT.EUM up to a trusted CI (roles, validity, curves, name
    /// constraints: the EID within the EUM's range). A chain verified before is looked up by
    /// the hash of both certificates and only its validity period is checked again.
    pub(crate) fn verify_euicc_chain(
        &self,
        euicc_der: &[u8],
        eum_der: &[u8],
    ) -> Result<VerifiedChain, SmdpError> {
        use rsp::es9::status_codes as sc;
        let now = self.now();
        let now_secs = unix_secs(now);
        let mut key_input = Vec::with_capacity(euicc_der.len() + eum_der.len() + 8);
        key_input.extend_from_slice(&(euicc_der.len() as u64).to_be_bytes());
        key_input.extend_from_slice(euicc_der);
        key_input.extend_from_slice(eum_der);
        let key = self.provider.sha256(&key_input);
        let cached = self
            .chains
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some(c) = cached {
            if (c.not_before..=c.not_after).contains(&now_secs) {
                return Ok(c);
            }
        }
        let eum = Cert::from_der(eum_der)
            .map_err(|e| reject(sc::EUM_CERTIFICATE_INVALID, e.to_string()))?;
        let euicc = Cert::from_der(euicc_der)
            .map_err(|e| reject(sc::EUICC_CERTIFICATE_INVALID, e.to_string()))?;
        let chain = rsp::cert::verify_chain_with(
            self.provider.as_ref(),
            &euicc,
            std::slice::from_ref(&eum),
            &self.trusted,
            rsp::cert::Role::Euicc,
            now,
        )
        .map_err(|e| {
            let s = e.authenticate_client_status();
            reject(
                StatusCode {
                    subject_code: s.subject_code,
                    reason_code: s.reason_code,
                    message: s.message,
                },
                e.to_string(),
            )
        })?;
        let eid = chain
            .eid()
            .ok_or_else(|| reject(sc::EUICC_CERTIFICATE_INVALID, "no EID"))?;
        let certs = [chain.leaf(), chain.ci()]
            .into_iter()
            .chain(chain.intermediates().iter());
        let (not_before, not_after) = certs.fold((0u64, u64::MAX), |(b, a), c| {
            (b.max(c.not_before()), a.min(c.not_after()))
        });
        let verified = VerifiedChain {
            eid: hex::encode_upper(eid),
            public_key: chain.leaf_public_key(),
            not_before,
            not_after,
        };
        let mut cache = self.chains.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CHAIN_CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, verified.clone());
        Ok(verified)
    }

    pub(crate) fn random<const N: usize>(&self) -> Result<[u8; N], SmdpError> {
        let mut out = [0u8; N];
        self.provider.random(&mut out).map_err(internal)?;
        Ok(out)
    }

    /// The StoreMetadataRequest (`BF25`) of a profile: ICCID, names, class (omitted when
    /// operational, the DEFAULT), and notifications for every event to this SM-DP+.
    pub(crate) fn store_metadata(&self, rec: &ProfileRecord) -> Result<Vec<u8>, SmdpError> {
        let iccid = iccid_to_swapped(&rec.iccid)
            .ok_or_else(|| internal(format!("bad ICCID {}", rec.iccid)))?;
        let metadata = StoreMetadataRequest {
            iccid: iccid.to_vec().into(),
            service_provider_name: rec.meta.service_provider_name.clone(),
            profile_name: rec.meta.profile_name.clone(),
            icon_type: None,
            icon: None,
            profile_class: match rec.meta.class {
                ProfileClassKind::Operational => None,
                other => Some(other.to_asn()),
            },
            notification_configuration_info: Some(vec![NotificationConfigurationInformation {
                profile_management_operation: NamedBits::from_bits(&[
                    notification_event::INSTALL,
                    notification_event::ENABLE,
                    notification_event::DISABLE,
                    notification_event::DELETE,
                ]),
                notification_address: self.address(),
            }]),
            profile_owner: None,
            profile_policy_rules: None,
        };
        try_encode(&metadata).map_err(internal)
    }
}

/// The service provider name of a profile package: EF.SPN of its USIM (GSM default alphabet,
/// display condition byte dropped), if there is one.
pub fn package_spn(package: &[u8]) -> Option<String> {
    let parsed = veuicc::profile::saip::parse_package(package).ok()?;
    let spn = parsed.fs.read_path(&[0x7FD0, 0x6F46])?;
    let text: String = spn
        .iter()
        .skip(1)
        .take_while(|b| **b != 0xFF)
        .map(|b| match b {
            0x00 => '@',
            0x11 => '_',
            0x02 => '$',
            0x20..=0x7E => char::from(*b),
            _ => '?',
        })
        .collect();
    (!text.is_empty()).then_some(text)
}

/// Metadata for a package added without any: the SPN from EF.SPN (else `testbeds`), `name` as
/// profile name and profile type, operational class.
pub fn default_meta(package: &[u8], name: &str) -> ProfileMeta {
    ProfileMeta {
        service_provider_name: package_spn(package).unwrap_or_else(|| "testbeds".to_owned()),
        profile_name: name.to_owned(),
        class: ProfileClassKind::Operational,
        profile_type: name.to_owned(),
    }
}
