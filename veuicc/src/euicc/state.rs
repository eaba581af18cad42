//! Persistent eUICC state: identity, installed profiles, notifications, configuration, and the
//! UICC of the enabled profile. Every change is committed to the store (atomic, flushed) before
//! the in-memory mirror is updated, so a failed write changes nothing.

use super::records::*;
use crate::apdu::{Command, Response, Sw};
use crate::isdr::authz::{self, Authz};
use crate::isdr::download::Download;
use crate::isdr::notify;
use crate::profile::saip::{parse_package, ProfilePackage};
use crate::store::{Batch, Store, StoreError, Tree};
use crate::uicc::{Uicc, UiccChange, UiccChannel};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rsp::cert::Cert;
use rsp::crypto::rustcrypto::RustCrypto;
use rsp::crypto::{CryptoError, CryptoProvider, EcPrivateKey};
use rsp::pki::Identity;
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::{info, warn};

/// Why a lifecycle operation was refused. Mapped to ES10 result codes in `isdr` (one place).
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("profile not found")]
    NotFound,
    #[error("profile is not in the required state")]
    WrongState,
    #[error("disallowed by profile policy rules")]
    Policy,
    #[error("a profile with ICCID {0} is already installed")]
    IccidExists(String),
    #[error("nothing to delete")]
    NothingToDelete,
    #[error("invalid profile package: {0}")]
    Package(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("persisted record {0} is corrupt: {1}")]
    Corrupt(String, String),
}

/// Identifies a profile in ES10 commands: by ICCID (EF.ICCID form) or ISD-P AID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileId {
    Iccid(Vec<u8>),
    Aid(Vec<u8>),
}

/// Metadata to attach to a profile seeded from a package without a download.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// ProfileInfo serviceProviderName; `None` takes EF.SPN of the package.
    pub service_provider_name: Option<String>,
    /// ProfileInfo profileName; `None` takes the package header's profileType.
    pub profile_name: Option<String>,
    pub class: ProfileClass,
    pub nickname: Option<String>,
    /// Where enable/disable/delete notifications go; `None` generates none.
    pub notification_address: Option<String>,
    pub enable: bool,
}

impl Default for SeedOptions {
    fn default() -> Self {
        SeedOptions {
            service_provider_name: None,
            profile_name: None,
            class: ProfileClass::Operational,
            nickname: None,
            notification_address: Some("smdp.veuicc.test".to_string()),
            enable: false,
        }
    }
}

struct Active {
    iccid: Vec<u8>,
    uicc: Uicc,
}

impl std::fmt::Debug for Active {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Active({})", hex::encode_upper(&self.iccid))
    }
}

/// Persistent state of the eUICC, mirrored in memory, plus the volatile session state of the
/// ISD-R (the eUICC challenge and the profile download session).
#[derive(Debug)]
pub struct EuiccState {
    store: Arc<dyn Store>,
    identity: Identity,
    /// SK.EUICC in the provider's form.
    euicc_sk: EcPrivateKey,
    /// The CI certificate parsed once (`None` if the identity's CI certificate is malformed:
    /// then every download is refused as ciPKUnknown).
    ci: Option<Cert>,
    /// Every signature, verification, key generation, key agreement and BSP operation.
    crypto: Arc<dyn CryptoProvider>,
    config: EuiccConfig,
    profiles: BTreeMap<Vec<u8>, ProfileRecord>,
    notifications: BTreeMap<u32, NotificationRecord>,
    active: Option<Active>,
    challenge: Option<[u8; 16]>,
    /// The profile download session (volatile: cleared on power off and reset).
    download: Download,
    rng: ChaCha20Rng,
    /// Lifecycle events committed since the last [`EuiccState::take_events`] (bounded).
    events: Vec<LifecycleEvent>,
    /// Admin-operation authorisation: policy, account links, nonce (`isdr::authz`).
    authz: Authz,
}

/// A profile lifecycle change the card has committed (the events seam of
/// `docs/ARCHITECTURE.md`): the modem turns them into a SIM refresh and the IMEI binding engine
/// re-evaluates on them. ICCIDs are as stored (nibble-swapped BCD, 10 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleEvent {
    Installed { iccid: Vec<u8> },
    Enabled { iccid: Vec<u8> },
    Disabled { iccid: Vec<u8> },
    Deleted { iccid: Vec<u8> },
}

/// Events kept for a consumer that never drains them; older ones are dropped first.
const MAX_PENDING_EVENTS: usize = 256;

fn decode<T: serde::de::DeserializeOwned>(what: &str, v: &[u8]) -> Result<T, LifecycleError> {
    serde_json::from_slice(v).map_err(|e| LifecycleError::Corrupt(what.to_string(), e.to_string()))
}

/// Refuses records written by another format version (a newer veuicc): reading them with this
/// version's schema would silently drop what it does not know.
fn check_version(what: &str, version: u32) -> Result<(), LifecycleError> {
    if version != FORMAT_VERSION {
        return Err(LifecycleError::Corrupt(
            what.to_string(),
            format!("format version {version}, this veuicc reads version {FORMAT_VERSION}"),
        ));
    }
    Ok(())
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain records to JSON cannot fail (no maps with non-string keys).
    serde_json::to_vec(v).unwrap_or_default()
}

impl EuiccState {
    /// Loads the state from `store`. `seed` seeds the card's random generator (challenges).
    pub fn open(
        store: Arc<dyn Store>,
        identity: Identity,
        seed: [u8; 32],
    ) -> Result<EuiccState, LifecycleError> {
        let config = match store.get(Tree::Meta, b"config")? {
            Some(v) => decode("config", &v)?,
            None => EuiccConfig::default(),
        };
        check_version("config", config.version)?;
        let mut profiles = BTreeMap::new();
        for (k, v) in store.scan(Tree::Profiles, b"")? {
            let r: ProfileRecord = decode("profile", &v)?;
            check_version("profile", r.version)?;
            profiles.insert(k, r);
        }
        let mut notifications = BTreeMap::new();
        for (_, v) in store.scan(Tree::Notifications, b"")? {
            let n: NotificationRecord = decode("notification", &v)?;
            check_version("notification", n.version)?;
            notifications.insert(n.seq, n);
        }
        let euicc_sk = EcPrivateKey::from(&identity.euicc_key);
        let ci = match Cert::from_der(&identity.ci_cert) {
            Ok(c) => Some(c),
            Err(e) => {
                warn!(error = %e, "the CI certificate of the identity is malformed: downloads are refused");
                None
            }
        };
        let authz = Authz::load(store.clone())?;
        let mut s = EuiccState {
            authz,
            store,
            identity,
            euicc_sk,
            ci,
            crypto: Arc::new(RustCrypto::new()),
            config,
            profiles,
            notifications,
            active: None,
            challenge: None,
            download: Download::default(),
            rng: ChaCha20Rng::from_seed(seed),
            events: Vec::new(),
        };
        let enabled: Vec<Vec<u8>> = s
            .profiles
            .values()
            .filter(|p| p.state == ProfileState::Enabled)
            .map(|p| p.iccid.clone())
            .collect();
        if enabled.len() > 1 {
            warn!(
                count = enabled.len(),
                "more than one enabled profile in the store"
            );
        }
        if let Some(iccid) = enabled.first() {
            s.active = Some(s.build_active(iccid)?);
        }
        Ok(s)
    }

    /// Uses `provider` for every cryptographic operation from now on (the default is
    /// [`RustCrypto`]). Any download session in progress is dropped.
    pub fn with_provider(mut self, provider: Arc<dyn CryptoProvider>) -> EuiccState {
        self.set_provider(provider);
        self
    }

    /// As [`EuiccState::with_provider`], in place.
    pub fn set_provider(&mut self, provider: Arc<dyn CryptoProvider>) {
        self.crypto = provider;
        self.download = Download::default();
    }

    /// The crypto provider in use.
    /// Takes the lifecycle events committed since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<LifecycleEvent> {
        std::mem::take(&mut self.events)
    }

    fn push_event(&mut self, e: LifecycleEvent) {
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.events.remove(0);
        }
        self.events.push(e);
    }

    /// The store, for vendor extensions that keep per-profile records in `Meta`
    /// (`isdr::vendor`; removed with the profile by `delete_writes`).
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Admin-operation authorisation state (policy, links).
    pub fn authz(&self) -> &Authz {
        &self.authz
    }

    /// Admin-operation authorisation state, to change the policy outside ES10.
    pub fn authz_mut(&mut self) -> &mut Authz {
        &mut self.authz
    }

    pub fn crypto(&self) -> &Arc<dyn CryptoProvider> {
        &self.crypto
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The trusted CI certificate (the one the card's own chain ends at), parsed.
    pub(crate) fn ci(&self) -> Option<&Cert> {
        self.ci.as_ref()
    }

    /// Signs `msg` with SK.EUICC (ECDSA P-256 / SHA-256, plain r‖s).
    pub(crate) fn sign(&self, msg: &[u8]) -> Result<[u8; 64], CryptoError> {
        self.crypto.sign(&self.euicc_sk, msg)
    }

    /// The download session (volatile).
    pub(crate) fn download_mut(&mut self) -> &mut Download {
        &mut self.download
    }

    /// The download session (volatile).
    pub(crate) fn download(&self) -> &Download {
        &self.download
    }

    /// The phase of the profile download session, for logs and tests: `idle`,
    /// `authenticated`, `prepared`, `loading` or `closed`.
    pub fn download_phase(&self) -> &'static str {
        self.download.phase()
    }

    pub fn config(&self) -> &EuiccConfig {
        &self.config
    }

    pub fn profiles(&self) -> impl Iterator<Item = &ProfileRecord> {
        self.profiles.values()
    }

    pub fn notifications(&self) -> impl Iterator<Item = &NotificationRecord> {
        self.notifications.values()
    }

    pub fn enabled_iccid(&self) -> Option<&[u8]> {
        self.active.as_ref().map(|a| a.iccid.as_slice())
    }

    /// Forgets session state (the challenge, PIN verification of the enabled profile); called
    /// on power off and reset.
    pub fn clear_session(&mut self) {
        self.challenge = None;
        self.download = Download::default();
        self.authz.clear_volatile();
        if let Some(a) = self.active.as_mut() {
            a.uicc.reset();
        }
    }

    /// Draws a fresh eUICC challenge and keeps it for AuthenticateServer.
    pub fn new_challenge(&mut self) -> [u8; 16] {
        let mut c = [0u8; 16];
        self.rng.fill_bytes(&mut c);
        self.challenge = Some(c);
        c
    }

    pub fn challenge(&self) -> Option<[u8; 16]> {
        self.challenge
    }

    /// Takes the eUICC challenge: AuthenticateServer consumes it whatever its outcome, so a
    /// challenge can be answered at most once.
    pub(crate) fn take_challenge(&mut self) -> Option<[u8; 16]> {
        self.challenge.take()
    }

    /// Whether an ADF of the enabled profile has an AID starting with `prefix`.
    pub fn uicc_has_aid_prefix(&self, prefix: &[u8]) -> bool {
        self.active
            .as_ref()
            .is_some_and(|a| a.uicc.has_aid_prefix(prefix))
    }

    /// Runs a command on the UICC of the enabled profile, persisting any changes it makes.
    /// Returns the response and whether it was a successful SELECT.
    ///
    /// With no enabled profile there is no file system: SELECT answers `6A82`, other file
    /// commands `6986` (no current EF), PIN commands `6A88`.
    pub fn uicc_handle(&mut self, ch: &mut UiccChannel, cmd: &Command<'_>) -> (Response, bool) {
        let Some(active) = self.active.as_mut() else {
            let sw = match cmd.ins {
                0xA4 | 0xF2 => Sw::FILE_NOT_FOUND,
                0x20 | 0x24 | 0x26 | 0x28 | 0x2C => Sw::REFERENCE_NOT_FOUND,
                0xB0 | 0xB2 | 0xD6 | 0xDC | 0xA2 | 0x88 => Sw::COMMAND_NOT_ALLOWED_NO_EF,
                _ => Sw::INS_NOT_SUPPORTED,
            };
            return (Response::sw(sw), false);
        };
        let resp = active.uicc.handle(ch, cmd);
        let changes = active.uicc.drain_changes();
        if !changes.is_empty() {
            let iccid = active.iccid.clone();
            if let Err(e) = self.persist_changes(&iccid, &changes) {
                warn!(error = %e, "could not persist a UICC update");
                return (Response::sw(Sw::MEMORY_PROBLEM), false);
            }
        }
        let selected = cmd.ins == 0xA4 && resp.sw.is_success();
        (resp, selected)
    }

    /// Persists UICC changes: one record per slot (file, PIN, PUK, SQN) of the profile, so
    /// repeated updates of a file overwrite its record instead of growing a log.
    fn persist_changes(&mut self, iccid: &[u8], changes: &[UiccChange]) -> Result<(), StoreError> {
        let mut b = Batch::new();
        for c in changes {
            let mut key = iccid.to_vec();
            key.extend_from_slice(c.slot().as_bytes());
            b.put(Tree::Files, key, encode(c));
        }
        self.store.commit(b)
    }

    /// Builds the UICC of profile `iccid` from its package and replays its persisted changes.
    fn build_active(&mut self, iccid: &[u8]) -> Result<Active, LifecycleError> {
        let pkg = self
            .store
            .get(Tree::Packages, iccid)?
            .ok_or_else(|| LifecycleError::Corrupt("package".into(), "missing".into()))?;
        let pkg = parse_package(&pkg).map_err(|e| LifecycleError::Package(e.to_string()))?;
        let mut uicc =
            Uicc::from_package(&pkg).map_err(|e| LifecycleError::Package(e.to_string()))?;
        for (_, v) in self.store.scan(Tree::Files, iccid)? {
            let change: UiccChange = decode("uicc change", &v)?;
            if let Err(e) = uicc.apply_change(&change) {
                warn!(error = %e, "skipping a persisted UICC change that no longer applies");
            }
        }
        Ok(Active {
            iccid: iccid.to_vec(),
            uicc,
        })
    }

    fn find(&self, id: &ProfileId) -> Option<&ProfileRecord> {
        match id {
            ProfileId::Iccid(i) => self.profiles.get(i),
            ProfileId::Aid(a) => self.profiles.values().find(|p| &p.isdp_aid == a),
        }
    }

    /// The profile record for `id`, if installed.
    pub fn profile(&self, id: &ProfileId) -> Option<&ProfileRecord> {
        self.find(id)
    }

    /// The unprotected SAIP package an installed profile was built from (ICCID in EF.ICCID
    /// form), as stored. The virtual modem's simulated network provisions its subscriber
    /// database (IMSI, K, OPc) from it, as the operator that made the profile would have.
    pub fn profile_package(&self, iccid: &[u8]) -> Result<Option<Vec<u8>>, LifecycleError> {
        if !self.profiles.contains_key(iccid) {
            return Ok(None);
        }
        Ok(self.store.get(Tree::Packages, iccid)?)
    }

    /// Whether a profile with this ICCID (EF.ICCID form) is installed.
    pub(crate) fn has_iccid(&self, iccid: &[u8]) -> bool {
        self.profiles.contains_key(iccid)
    }

    pub(crate) fn next_isdp_aid(&self) -> Vec<u8> {
        // SGP.22 convention: A0000005591010FFFFFFFF89000010 00, …11 00, …
        let mut n: u16 = 0x1000;
        loop {
            let aid = [
                0xA0,
                0x00,
                0x00,
                0x05,
                0x59,
                0x10,
                0x10,
                0xFF,
                0xFF,
                0xFF,
                0xFF,
                0x89,
                0x00,
                0x00,
                (n >> 8) as u8,
                n as u8,
            ];
            if !self.profiles.values().any(|p| p.isdp_aid == aid) {
                return aid.to_vec();
            }
            n = n.wrapping_add(0x100);
        }
    }

    /// Creates a signed notification for `event` on `rec` if its configuration asks for one,
    /// adding it to the batch. Returns the record to insert after the commit.
    fn notification_for(
        &mut self,
        rec: &ProfileRecord,
        event: Event,
        b: &mut Batch,
    ) -> Option<NotificationRecord> {
        let address = rec
            .notifications
            .iter()
            .find(|c| c.events.contains(&event))?
            .address
            .clone();
        let seq = self.config.notification_seq + 1;
        let n = match notify::other_signed(
            &*self.crypto,
            &self.euicc_sk,
            &self.identity,
            seq,
            event,
            &address,
            &rec.iccid,
        ) {
            Ok(n) => n,
            Err(e) => {
                warn!(error = %e, "cannot build a notification");
                return None;
            }
        };
        self.config.notification_seq = seq;
        b.put(Tree::Notifications, seq.to_be_bytes().to_vec(), encode(&n));
        Some(n)
    }

    /// The sequence number the next notification will get (not reserved: the commit of that
    /// notification takes it).
    pub(crate) fn next_notification_seq(&self) -> u32 {
        self.config.notification_seq + 1
    }

    /// Installs a downloaded profile: its record, its SAIP package and its (already signed)
    /// ProfileInstallationResult notification, in one batch with the sequence counter. The
    /// in-memory mirror changes only after the commit succeeded.
    pub(crate) fn commit_install(
        &mut self,
        rec: ProfileRecord,
        package: Vec<u8>,
        pir: NotificationRecord,
    ) -> Result<(), LifecycleError> {
        if self.profiles.contains_key(&rec.iccid) {
            return Err(LifecycleError::IccidExists(iccid_digits(&rec.iccid)));
        }
        let mut b = Batch::new();
        b.put(Tree::Profiles, rec.iccid.clone(), encode(&rec));
        b.put(Tree::Packages, rec.iccid.clone(), package);
        authz::unlink_write(&rec.iccid, &mut b);
        self.authz.link_install(&rec.iccid, &mut b);
        self.commit_notification_in(pir, b)?;
        info!(iccid = %iccid_digits(&rec.iccid), "profile installed");
        self.push_event(LifecycleEvent::Installed {
            iccid: rec.iccid.clone(),
        });
        self.profiles.insert(rec.iccid.clone(), rec);
        Ok(())
    }

    /// Stores a pending notification built elsewhere (a ProfileInstallationResult reporting an
    /// error), with the sequence counter, in one batch.
    pub(crate) fn commit_notification(
        &mut self,
        note: NotificationRecord,
    ) -> Result<(), LifecycleError> {
        self.commit_notification_in(note, Batch::new())
    }

    fn commit_notification_in(
        &mut self,
        note: NotificationRecord,
        mut b: Batch,
    ) -> Result<(), LifecycleError> {
        if note.seq != self.next_notification_seq() {
            return Err(LifecycleError::Corrupt(
                "notification".into(),
                format!(
                    "sequence number {} is not the next one ({})",
                    note.seq,
                    self.next_notification_seq()
                ),
            ));
        }
        let saved = self.config.clone();
        self.config.notification_seq = note.seq;
        b.put(
            Tree::Notifications,
            note.seq.to_be_bytes().to_vec(),
            encode(&note),
        );
        if let Err(e) = self.commit_with_config(b) {
            self.config = saved;
            return Err(e.into());
        }
        self.notifications.insert(note.seq, note);
        Ok(())
    }

    fn commit_with_config(&mut self, mut b: Batch) -> Result<(), StoreError> {
        b.put(Tree::Meta, b"config".to_vec(), encode(&self.config));
        self.store.commit(b)
    }

    /// ES10c EnableProfile (SGP.22 §5.7.16): the enabled profile, if any, is disabled first.
    pub fn enable(&mut self, id: &ProfileId) -> Result<(), LifecycleError> {
        let target = self.find(id).cloned().ok_or(LifecycleError::NotFound)?;
        if target.state == ProfileState::Enabled {
            return Err(LifecycleError::WrongState);
        }
        let current = self
            .profiles
            .values()
            .find(|p| p.state == ProfileState::Enabled)
            .cloned();
        if current.as_ref().is_some_and(|c| c.ppr1) {
            return Err(LifecycleError::Policy);
        }
        // Build the new UICC before touching anything: a broken package changes nothing.
        let active = self.build_active(&target.iccid)?;
        let saved_config = self.config.clone();
        let mut b = Batch::new();
        let mut new_notes = Vec::new();
        let mut updated = Vec::new();
        if let Some(mut cur) = current {
            cur.state = ProfileState::Disabled;
            b.put(Tree::Profiles, cur.iccid.clone(), encode(&cur));
            new_notes.extend(self.notification_for(&cur, Event::Disable, &mut b));
            updated.push(cur);
        }
        let mut t = target;
        t.state = ProfileState::Enabled;
        b.put(Tree::Profiles, t.iccid.clone(), encode(&t));
        new_notes.extend(self.notification_for(&t, Event::Enable, &mut b));
        updated.push(t);
        if let Err(e) = self.commit_with_config(b) {
            self.config = saved_config;
            return Err(e.into());
        }
        for r in updated {
            let iccid = r.iccid.clone();
            self.push_event(if r.state == ProfileState::Enabled {
                LifecycleEvent::Enabled { iccid }
            } else {
                LifecycleEvent::Disabled { iccid }
            });
            self.profiles.insert(r.iccid.clone(), r);
        }
        for n in new_notes {
            self.notifications.insert(n.seq, n);
        }
        info!(iccid = %iccid_digits(&active.iccid), "profile enabled");
        self.active = Some(active);
        Ok(())
    }

    /// ES10c DisableProfile (SGP.22 §5.7.17).
    pub fn disable(&mut self, id: &ProfileId) -> Result<(), LifecycleError> {
        let mut t = self.find(id).cloned().ok_or(LifecycleError::NotFound)?;
        if t.state != ProfileState::Enabled {
            return Err(LifecycleError::WrongState);
        }
        if t.ppr1 {
            return Err(LifecycleError::Policy);
        }
        let saved_config = self.config.clone();
        let mut b = Batch::new();
        t.state = ProfileState::Disabled;
        b.put(Tree::Profiles, t.iccid.clone(), encode(&t));
        let note = self.notification_for(&t, Event::Disable, &mut b);
        if let Err(e) = self.commit_with_config(b) {
            self.config = saved_config;
            return Err(e.into());
        }
        info!(iccid = %iccid_digits(&t.iccid), "profile disabled");
        self.push_event(LifecycleEvent::Disabled {
            iccid: t.iccid.clone(),
        });
        self.profiles.insert(t.iccid.clone(), t);
        if let Some(n) = note {
            self.notifications.insert(n.seq, n);
        }
        self.active = None;
        Ok(())
    }

    /// ES10c DeleteProfile (SGP.22 §5.7.18): only a disabled profile can be deleted.
    pub fn delete(&mut self, id: &ProfileId) -> Result<(), LifecycleError> {
        let t = self.find(id).cloned().ok_or(LifecycleError::NotFound)?;
        if t.state != ProfileState::Disabled {
            return Err(LifecycleError::WrongState);
        }
        if t.ppr2 {
            return Err(LifecycleError::Policy);
        }
        let saved_config = self.config.clone();
        let mut b = Batch::new();
        self.delete_writes(&t.iccid, &mut b)?;
        let note = self.notification_for(&t, Event::Delete, &mut b);
        if let Err(e) = self.commit_with_config(b) {
            self.config = saved_config;
            return Err(e.into());
        }
        info!(iccid = %iccid_digits(&t.iccid), "profile deleted");
        self.push_event(LifecycleEvent::Deleted {
            iccid: t.iccid.clone(),
        });
        self.profiles.remove(&t.iccid);
        if let Some(n) = note {
            self.notifications.insert(n.seq, n);
        }
        Ok(())
    }

    fn delete_writes(&self, iccid: &[u8], b: &mut Batch) -> Result<(), StoreError> {
        b.delete(Tree::Profiles, iccid.to_vec());
        // The profile's vendor IMEI binding record (isdr::vendor) goes with it.
        b.delete(Tree::Meta, crate::isdr::vendor::store_key(iccid));
        b.delete(Tree::Packages, iccid.to_vec());
        authz::unlink_write(iccid, b);
        for (k, _) in self.store.scan(Tree::Files, iccid)? {
            b.delete(Tree::Files, k);
        }
        Ok(())
    }

    /// ES10c SetNickname (SGP.22 §5.7.21).
    pub fn set_nickname(&mut self, iccid: &[u8], nickname: &str) -> Result<(), LifecycleError> {
        let mut t = self
            .profiles
            .get(iccid)
            .cloned()
            .ok_or(LifecycleError::NotFound)?;
        t.nickname = if nickname.is_empty() {
            None
        } else {
            Some(nickname.to_string())
        };
        let mut b = Batch::new();
        b.put(Tree::Profiles, t.iccid.clone(), encode(&t));
        self.store.commit(b)?;
        self.profiles.insert(t.iccid.clone(), t);
        Ok(())
    }

    /// ES10a SetDefaultDpAddress (SGP.22 §5.7.4); an empty address removes it.
    pub fn set_default_dp(&mut self, address: &str) -> Result<(), LifecycleError> {
        let saved = self.config.clone();
        self.config.default_dp_address = (!address.is_empty()).then(|| address.to_string());
        if let Err(e) = self.commit_with_config(Batch::new()) {
            self.config = saved;
            return Err(e.into());
        }
        Ok(())
    }

    /// ES10c eUICCMemoryReset (SGP.22 §5.7.19). Deletes operational and/or test profiles
    /// (an enabled one included, without notifications) and/or the default SM-DP+ address.
    pub fn memory_reset(
        &mut self,
        operational: bool,
        test: bool,
        default_dp: bool,
    ) -> Result<(), LifecycleError> {
        let victims: Vec<Vec<u8>> = self
            .profiles
            .values()
            .filter(|p| match p.class {
                ProfileClass::Operational => operational,
                ProfileClass::Test => test,
                ProfileClass::Provisioning => false,
            })
            .map(|p| p.iccid.clone())
            .collect();
        let reset_dp = default_dp && self.config.default_dp_address.is_some();
        if victims.is_empty() && !reset_dp {
            return Err(LifecycleError::NothingToDelete);
        }
        let saved = self.config.clone();
        let mut b = Batch::new();
        for v in &victims {
            self.delete_writes(v, &mut b)?;
        }
        if reset_dp {
            self.config.default_dp_address = None;
        }
        if let Err(e) = self.commit_with_config(b) {
            self.config = saved;
            return Err(e.into());
        }
        for v in &victims {
            self.profiles.remove(v);
            if self.active.as_ref().is_some_and(|a| &a.iccid == v) {
                self.active = None;
                self.push_event(LifecycleEvent::Disabled { iccid: v.clone() });
            }
            self.push_event(LifecycleEvent::Deleted { iccid: v.clone() });
        }
        info!(deleted = victims.len(), "eUICC memory reset");
        Ok(())
    }

    /// ES10b RemoveNotificationFromList (SGP.22 §5.7.11).
    pub fn remove_notification(&mut self, seq: u32) -> Result<(), LifecycleError> {
        if !self.notifications.contains_key(&seq) {
            return Err(LifecycleError::NothingToDelete);
        }
        let mut b = Batch::new();
        b.delete(Tree::Notifications, seq.to_be_bytes().to_vec());
        self.store.commit(b)?;
        self.notifications.remove(&seq);
        Ok(())
    }

    /// Installs a profile from an unprotected SAIP package without a download (test seeding).
    /// The package is fully parsed and its UICC built before anything is written.
    pub fn seed_package(
        &mut self,
        package: &[u8],
        opts: &SeedOptions,
    ) -> Result<Vec<u8>, LifecycleError> {
        let pkg: ProfilePackage =
            parse_package(package).map_err(|e| LifecycleError::Package(e.to_string()))?;
        let mut uicc =
            Uicc::from_package(&pkg).map_err(|e| LifecycleError::Package(e.to_string()))?;
        let iccid = pkg.iccid_swapped().to_vec();
        if self.profiles.contains_key(&iccid) {
            return Err(LifecycleError::IccidExists(iccid_digits(&iccid)));
        }
        let spn = match &opts.service_provider_name {
            Some(s) => s.clone(),
            None => uicc.service_provider_name().unwrap_or_default(),
        };
        let events = vec![Event::Install, Event::Enable, Event::Disable, Event::Delete];
        let rec = ProfileRecord {
            version: FORMAT_VERSION,
            iccid: iccid.clone(),
            isdp_aid: self.next_isdp_aid(),
            state: ProfileState::Disabled,
            nickname: opts.nickname.clone(),
            service_provider_name: spn,
            profile_name: opts
                .profile_name
                .clone()
                .unwrap_or_else(|| pkg.header.profile_type.clone()),
            class: opts.class,
            notifications: opts
                .notification_address
                .iter()
                .map(|a| NotificationConfig {
                    events: events.clone(),
                    address: a.clone(),
                })
                .collect(),
            owner: None,
            ppr1: false,
            ppr2: false,
            dp_oid: None,
        };
        let mut b = Batch::new();
        b.put(Tree::Profiles, iccid.clone(), encode(&rec));
        b.put(Tree::Packages, iccid.clone(), package.to_vec());
        self.store.commit(b)?;
        drop(uicc.drain_changes());
        self.profiles.insert(iccid.clone(), rec);
        self.push_event(LifecycleEvent::Installed {
            iccid: iccid.clone(),
        });
        info!(iccid = %iccid_digits(&iccid), "profile seeded");
        if opts.enable {
            self.enable(&ProfileId::Iccid(iccid.clone()))?;
        }
        Ok(iccid)
    }

    /// Resets everything except the identity: profiles, notifications, configuration.
    pub fn factory_reset(&mut self) -> Result<(), LifecycleError> {
        let mut b = Batch::new();
        for tree in [
            Tree::Profiles,
            Tree::Packages,
            Tree::Files,
            Tree::Notifications,
        ] {
            for (k, _) in self.store.scan(tree, b"")? {
                b.delete(tree, k);
            }
        }
        b.delete(Tree::Meta, b"config".to_vec());
        authz::unlink_all_writes(&*self.store, &mut b)?;
        for (k, _) in self
            .store
            .scan(Tree::Meta, crate::isdr::vendor::STORE_PREFIX)?
        {
            b.delete(Tree::Meta, k);
        }
        self.store.commit(b)?;
        self.notifications.clear();
        self.config = EuiccConfig::default();
        if let Some(a) = self.active.take() {
            self.push_event(LifecycleEvent::Disabled { iccid: a.iccid });
        }
        let gone: Vec<Vec<u8>> = std::mem::take(&mut self.profiles).into_keys().collect();
        for iccid in gone {
            self.push_event(LifecycleEvent::Deleted { iccid });
        }
        Ok(())
    }

    /// Draws `n` random bytes from the card's generator.
    pub fn random(&mut self, out: &mut [u8]) {
        self.rng.fill_bytes(out);
    }

    /// Reads an EF of the enabled profile through the UICC command interface (for the CLI and
    /// tests): `aid` selects an ADF first (None: from the MF), then the FID path.
    pub fn read_enabled_ef(&mut self, aid: Option<&[u8]>, path: &[u16]) -> Option<Vec<u8>> {
        self.active.as_mut()?.uicc.read_ef(aid, path)
    }
}
