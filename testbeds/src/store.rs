//! The SM-DP+'s persistent state: one sled database (`STATE/db`) with one tree per kind of record.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `profiles` | ICCID digits | [`ProfileRecord`] (JSON): metadata, state, download order |
//! | `packages` | ICCID digits | the unprotected SAIP profile package (DER) |
//! | `matching` | matching ID | ICCID digits (the index ES9+ looks orders up by) |
//! | `sessions` | transaction ID (hex) | [`SessionRecord`] (JSON) |
//! | `euiccs` | EID (32 digits) | CERT.EUICC (DER) of an eUICC whose chain was verified |
//! | `notifications` | arrival counter (u64 BE) | [`NotificationRecord`] (JSON) |
//!
//! Records are written through on every change; ES2+ changes and installation results are
//! flushed to disk before the call returns. No key material is stored here.
//!
//! [`Store::memory`] keeps the same records in memory only, as values (no encoding, no file, no
//! flush): for tests, and for measuring the SM-DP+'s logic apart from its persistence.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O, corruption, lock held by another process).
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    /// A record could not be (de)serialised.
    #[error("corrupt record in tree {tree}: {source}")]
    Record {
        /// The tree.
        tree: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
}

/// Where a profile is in its life at this SM-DP+ (SGP.22 §3.1.1 / ES2+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProfileState {
    /// In the inventory, free.
    Available,
    /// Reserved by downloadOrder without an EID.
    Allocated,
    /// Reserved by downloadOrder for an EID.
    Linked,
    /// confirmOrder done, releaseFlag false: not downloadable yet.
    Confirmed,
    /// Downloadable (confirmOrder with releaseFlag, or releaseProfile).
    Released,
    /// A Bound Profile Package was delivered.
    Downloaded,
    /// The eUICC reported a successful installation (signed PIR).
    Installed,
    /// The download or installation failed, or the eUICC cancelled the session for good.
    Error,
    /// Withdrawn by cancelOrder with finalProfileStatusIndicator "Unavailable".
    Unavailable,
}

/// The SGP.22 profile class, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProfileClassKind {
    /// test(0).
    Test,
    /// provisioning(1).
    Provisioning,
    /// operational(2).
    Operational,
}

impl ProfileClassKind {
    /// The ASN.1 value.
    pub fn to_asn(self) -> rsp::es10::ProfileClass {
        match self {
            Self::Test => rsp::es10::ProfileClass::TEST,
            Self::Provisioning => rsp::es10::ProfileClass::PROVISIONING,
            Self::Operational => rsp::es10::ProfileClass::OPERATIONAL,
        }
    }
}

impl std::str::FromStr for ProfileClassKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "test" | "0" => Ok(Self::Test),
            "provisioning" | "1" => Ok(Self::Provisioning),
            "operational" | "2" => Ok(Self::Operational),
            other => Err(format!(
                "unknown profile class {other:?} (test, provisioning, operational)"
            )),
        }
    }
}

/// What the SM-DP+ says about a profile (StoreMetadata) and how orders find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileMeta {
    /// StoreMetadata `91` serviceProviderName.
    pub service_provider_name: String,
    /// StoreMetadata `92` profileName.
    pub profile_name: String,
    /// StoreMetadata `95` profileClass.
    pub class: ProfileClassKind,
    /// The ES2+ profileType this profile is ordered by.
    pub profile_type: String,
}

/// An ES2+ download order on a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// EID given by the operator (downloadOrder or confirmOrder), 32 digits.
    pub eid: Option<String>,
    /// EID of the eUICC that authenticated first for this order (binds the order).
    pub bound_eid: Option<String>,
    /// Matching ID (absent until confirmOrder; empty for the default SM-DP+ case).
    pub matching_id: Option<String>,
    /// SHA-256 of the confirmation code, hex (the code itself is not kept).
    pub cc_hash: Option<String>,
    /// Wrong confirmation codes so far.
    pub cc_attempts: u32,
    /// Bound Profile Packages delivered so far.
    pub download_attempts: u32,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds after which the order is refused.
    pub expires: u64,
    /// Transaction ID (hex) of the latest session working on this order.
    pub last_tx: Option<String>,
    /// Whether confirmOrder released the profile.
    pub release_flag: bool,
    /// The DeviceInfo of each authenticateClient on this order (the download's device, SGP.22
    /// ctxParams1), oldest first, at most [`MAX_ORDER_DEVICES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DownloadDevice>,
}

/// Most [`DownloadDevice`] entries kept per order (older ones are dropped first).
pub const MAX_ORDER_DEVICES: usize = 16;

/// The device of one download (AuthenticateClient's ctxParams1 DeviceInfo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadDevice {
    /// Transaction ID (hex) of the session.
    pub transaction_id: String,
    /// The eUICC's EID.
    pub eid: String,
    /// DeviceInfo.tac, 8 digits (hex of the 4 bytes when they are not BCD).
    pub tac: String,
    /// DeviceInfo.imei: the digits as sent (15, or 16 for an IMEISV); absent when not sent.
    pub imei: Option<String>,
    /// Unix seconds.
    pub at: u64,
}

/// One profile of the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRecord {
    /// ICCID digits (reading order, no filler).
    pub iccid: String,
    /// Metadata and profile type.
    pub meta: ProfileMeta,
    /// Where the profile is.
    pub state: ProfileState,
    /// The current download order.
    pub order: Option<Order>,
    /// Unix seconds of the last change.
    pub updated: u64,
    /// Why the profile went to `Error`, or the last installation failure.
    pub last_error: Option<String>,
}

/// How far an ES9+ session went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionState {
    /// initiateAuthentication answered.
    Initiated,
    /// authenticateClient answered (eUICC verified, order bound).
    Authenticated,
    /// getBoundProfilePackage answered.
    BppSent,
}

/// One ES9+ RSP session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// Transaction ID, hex.
    pub transaction_id: String,
    /// Unix milliseconds.
    pub created_ms: u64,
    /// State.
    pub state: SessionState,
    /// The SM-DP+ address in serverSigned1.
    pub server_address: String,
    /// euiccChallenge, hex.
    pub euicc_challenge: String,
    /// serverChallenge, hex.
    pub server_challenge: String,
    /// EID (after authenticateClient).
    pub eid: Option<String>,
    /// ICCID of the profile being downloaded (after authenticateClient).
    pub iccid: Option<String>,
    /// PK.EUICC.ECDSA, hex (after authenticateClient).
    pub euicc_public_key: Option<String>,
    /// smdpSignature2 (plain r‖s), hex.
    pub smdp_signature2: Option<String>,
    /// ccRequiredFlag sent in smdpSigned2.
    pub cc_required: bool,
}

/// A notification received on handleNotification, verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// Unix seconds of arrival.
    pub received: u64,
    /// `install`, `enable`, `disable`, `delete` (or several, comma-separated).
    pub event: String,
    /// The sender's EID.
    pub eid: String,
    /// ICCID digits, if given.
    pub iccid: Option<String>,
    /// The eUICC's notification sequence number.
    pub seq_number: i64,
    /// Transaction ID (hex) of a ProfileInstallationResult.
    pub transaction_id: Option<String>,
    /// `success`, or the error of a failed installation (`bppCommandId/errorReason`).
    pub result: Option<String>,
}

/// One kind of record (a sled tree, or a map of the memory store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TreeId {
    Profiles,
    Packages,
    Matching,
    Sessions,
    Euiccs,
    Notifications,
}

impl TreeId {
    const ALL: [TreeId; 6] = [
        TreeId::Profiles,
        TreeId::Packages,
        TreeId::Matching,
        TreeId::Sessions,
        TreeId::Euiccs,
        TreeId::Notifications,
    ];

    fn name(self) -> &'static str {
        match self {
            TreeId::Profiles => "profiles",
            TreeId::Packages => "packages",
            TreeId::Matching => "matching",
            TreeId::Sessions => "sessions",
            TreeId::Euiccs => "euiccs",
            TreeId::Notifications => "notifications",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The sled database: one tree per kind of record, in [`TreeId`] order.
#[derive(Debug, Clone)]
struct SledTrees {
    db: sled::Db,
    trees: [sled::Tree; 6],
}

/// The memory store: one ordered map per kind of record (the records as values, the byte
/// trees as bytes; the maps of the record trees in `maps` stay empty), and the notification
/// counter.
#[derive(Debug, Default)]
struct MemTrees {
    maps: [BTreeMap<Vec<u8>, Vec<u8>>; 6],
    profiles: BTreeMap<Vec<u8>, ProfileRecord>,
    sessions: BTreeMap<Vec<u8>, SessionRecord>,
    notifications: BTreeMap<Vec<u8>, NotificationRecord>,
    next_id: u64,
}

/// A kind of record (JSON in sled, a value in the memory store).
trait Record: Clone + Serialize + for<'de> Deserialize<'de> {
    const TREE: TreeId;
    fn map(m: &MemTrees) -> &BTreeMap<Vec<u8>, Self>;
    fn map_mut(m: &mut MemTrees) -> &mut BTreeMap<Vec<u8>, Self>;
}

impl Record for ProfileRecord {
    const TREE: TreeId = TreeId::Profiles;
    fn map(m: &MemTrees) -> &BTreeMap<Vec<u8>, Self> {
        &m.profiles
    }
    fn map_mut(m: &mut MemTrees) -> &mut BTreeMap<Vec<u8>, Self> {
        &mut m.profiles
    }
}

impl Record for SessionRecord {
    const TREE: TreeId = TreeId::Sessions;
    fn map(m: &MemTrees) -> &BTreeMap<Vec<u8>, Self> {
        &m.sessions
    }
    fn map_mut(m: &mut MemTrees) -> &mut BTreeMap<Vec<u8>, Self> {
        &mut m.sessions
    }
}

impl Record for NotificationRecord {
    const TREE: TreeId = TreeId::Notifications;
    fn map(m: &MemTrees) -> &BTreeMap<Vec<u8>, Self> {
        &m.notifications
    }
    fn map_mut(m: &mut MemTrees) -> &mut BTreeMap<Vec<u8>, Self> {
        &mut m.notifications
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Sled(SledTrees),
    Memory(Arc<Mutex<MemTrees>>),
}

/// The state of one SM-DP+: a sled database on disk ([`Store::open`], [`Store::temporary`]),
/// or, for tests and for measuring the SM-DP+'s logic without persistence, memory only
/// ([`Store::memory`]: the same records, kept as values, lost when the last clone is dropped;
/// [`Store::flush`] does nothing). Clones share the same state.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
}

fn decode_json<T: for<'de> Deserialize<'de>>(tree: TreeId, v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|source| StoreError::Record {
        tree: tree.name(),
        source,
    })
}

fn encode_json<T: Serialize>(tree: TreeId, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Record {
        tree: tree.name(),
        source,
    })
}

fn lock(m: &Mutex<MemTrees>) -> MutexGuard<'_, MemTrees> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Opens (or creates) the database in `state_dir/db`.
    pub fn open(state_dir: &Path) -> Result<Self, StoreError> {
        Self::from_db(sled::open(state_dir.join("db"))?)
    }

    /// A database that lives in a temporary directory and is removed when dropped (tests,
    /// benchmarks).
    pub fn temporary() -> Result<Self, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    /// A store in memory only: nothing is written anywhere, nothing survives the process
    /// (tests; benchmarks of the SM-DP+'s logic without storage I/O).
    pub fn memory() -> Self {
        Store {
            backend: Backend::Memory(Arc::default()),
        }
    }

    fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        let [a, b, c, d, e, f] = TreeId::ALL;
        let trees = [
            db.open_tree(a.name())?,
            db.open_tree(b.name())?,
            db.open_tree(c.name())?,
            db.open_tree(d.name())?,
            db.open_tree(e.name())?,
            db.open_tree(f.name())?,
        ];
        Ok(Self {
            backend: Backend::Sled(SledTrees { db, trees }),
        })
    }

    /// Whether this store keeps its state in memory only ([`Store::memory`]).
    pub fn is_memory(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    /// Writes everything to disk (nothing to do in memory).
    pub fn flush(&self) -> Result<(), StoreError> {
        if let Backend::Sled(s) = &self.backend {
            s.db.flush()?;
        }
        Ok(())
    }

    fn get_raw(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(match &self.backend {
            Backend::Sled(s) => s.trees[tree.index()].get(key)?.map(|v| v.to_vec()),
            Backend::Memory(m) => lock(m).maps[tree.index()].get(key).cloned(),
        })
    }

    fn insert_raw(&self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => {
                s.trees[tree.index()].insert(key, value)?;
            }
            Backend::Memory(m) => {
                lock(m).maps[tree.index()].insert(key.to_vec(), value);
            }
        }
        Ok(())
    }

    fn remove_raw(&self, tree: TreeId, key: &[u8]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => {
                s.trees[tree.index()].remove(key)?;
            }
            Backend::Memory(m) => {
                let mut g = lock(m);
                match tree {
                    TreeId::Profiles => drop(g.profiles.remove(key)),
                    TreeId::Sessions => drop(g.sessions.remove(key)),
                    TreeId::Notifications => drop(g.notifications.remove(key)),
                    other => drop(g.maps[other.index()].remove(key)),
                }
            }
        }
        Ok(())
    }

    fn get_json<T: Record>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => match s.trees[T::TREE.index()].get(key)? {
                None => Ok(None),
                Some(v) => decode_json(T::TREE, &v).map(Some),
            },
            Backend::Memory(m) => Ok(T::map(&lock(m)).get(key).cloned()),
        }
    }

    fn put_json<T: Record>(&self, key: &[u8], value: &T) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(_) => self.insert_raw(T::TREE, key, encode_json(T::TREE, value)?),
            Backend::Memory(m) => {
                T::map_mut(&mut lock(m)).insert(key.to_vec(), value.clone());
                Ok(())
            }
        }
    }

    /// Every record of its tree, in key order.
    fn all_json<T: Record>(&self) -> Result<Vec<T>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.trees[T::TREE.index()]
                .iter()
                .values()
                .map(|v| decode_json(T::TREE, &v?))
                .collect(),
            Backend::Memory(m) => Ok(T::map(&lock(m)).values().cloned().collect()),
        }
    }

    /// A fresh, increasing identifier (the arrival order of notifications).
    fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(match &self.backend {
            Backend::Sled(s) => s.db.generate_id()?,
            Backend::Memory(m) => {
                let mut g = lock(m);
                let id = g.next_id;
                g.next_id += 1;
                id
            }
        })
    }

    // --- profiles -------------------------------------------------------------------------

    /// One profile.
    pub fn profile(&self, iccid: &str) -> Result<Option<ProfileRecord>, StoreError> {
        self.get_json(iccid.as_bytes())
    }

    /// Writes a profile record.
    pub fn put_profile(&self, record: &ProfileRecord) -> Result<(), StoreError> {
        self.put_json(record.iccid.as_bytes(), record)
    }

    /// Every profile, by ICCID.
    pub fn profiles(&self) -> Result<Vec<ProfileRecord>, StoreError> {
        self.all_json()
    }

    /// The profile package of `iccid`.
    pub fn package(&self, iccid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_raw(TreeId::Packages, iccid.as_bytes())
    }

    /// Stores the profile package of `iccid`.
    pub fn put_package(&self, iccid: &str, package: &[u8]) -> Result<(), StoreError> {
        self.insert_raw(TreeId::Packages, iccid.as_bytes(), package.to_vec())
    }

    // --- matching IDs ---------------------------------------------------------------------

    /// The ICCID a matching ID was given to.
    pub fn matching(&self, matching_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .get_raw(TreeId::Matching, matching_id.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Gives `matching_id` to `iccid`.
    pub fn put_matching(&self, matching_id: &str, iccid: &str) -> Result<(), StoreError> {
        self.insert_raw(
            TreeId::Matching,
            matching_id.as_bytes(),
            iccid.as_bytes().to_vec(),
        )
    }

    /// Frees `matching_id`.
    pub fn remove_matching(&self, matching_id: &str) -> Result<(), StoreError> {
        self.remove_raw(TreeId::Matching, matching_id.as_bytes())
    }

    // --- sessions -------------------------------------------------------------------------

    /// One session.
    pub fn session(&self, transaction_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.get_json(transaction_id.as_bytes())
    }

    /// Writes a session.
    pub fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.put_json(session.transaction_id.as_bytes(), session)
    }

    /// Ends a session.
    pub fn remove_session(&self, transaction_id: &str) -> Result<(), StoreError> {
        self.remove_raw(TreeId::Sessions, transaction_id.as_bytes())
    }

    /// Every open session.
    pub fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.all_json()
    }

    // --- eUICCs ---------------------------------------------------------------------------

    /// CERT.EUICC of a verified eUICC.
    pub fn euicc_cert(&self, eid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_raw(TreeId::Euiccs, eid.as_bytes())
    }

    /// Remembers CERT.EUICC of a verified eUICC.
    pub fn put_euicc_cert(&self, eid: &str, cert: &[u8]) -> Result<(), StoreError> {
        if self.get_raw(TreeId::Euiccs, eid.as_bytes())?.as_deref() != Some(cert) {
            self.insert_raw(TreeId::Euiccs, eid.as_bytes(), cert.to_vec())?;
        }
        Ok(())
    }

    // --- notifications --------------------------------------------------------------------

    /// Records a verified notification.
    pub fn add_notification(&self, record: &NotificationRecord) -> Result<(), StoreError> {
        let id = self.generate_id()?;
        self.put_json(&id.to_be_bytes(), record)
    }

    /// Every notification received, in arrival order.
    pub fn notifications(&self) -> Result<Vec<NotificationRecord>, StoreError> {
        self.all_json()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn session(tx: &str) -> SessionRecord {
        SessionRecord {
            transaction_id: tx.into(),
            created_ms: 1,
            state: SessionState::Initiated,
            server_address: "smdp.example".into(),
            euicc_challenge: "00".into(),
            server_challenge: "11".into(),
            eid: None,
            iccid: None,
            euicc_public_key: None,
            smdp_signature2: None,
            cc_required: false,
        }
    }

    fn note(event: &str) -> NotificationRecord {
        NotificationRecord {
            received: 2,
            event: event.into(),
            eid: "89".into(),
            iccid: None,
            seq_number: 1,
            transaction_id: None,
            result: None,
        }
    }

    fn profile(iccid: &str, state: ProfileState) -> ProfileRecord {
        ProfileRecord {
            iccid: iccid.into(),
            meta: ProfileMeta {
                service_provider_name: "SP".into(),
                profile_name: "P".into(),
                class: ProfileClassKind::Test,
                profile_type: "t".into(),
            },
            state,
            order: None,
            updated: 3,
            last_error: None,
        }
    }

    /// What a store holds after the same writes, read back through every accessor.
    fn exercise(s: &Store) -> String {
        s.put_profile(&profile("8902", ProfileState::Available))
            .unwrap();
        s.put_profile(&profile("8901", ProfileState::Available))
            .unwrap();
        s.put_profile(&profile("8901", ProfileState::Released))
            .unwrap();
        s.put_package("8901", &[1, 2, 3]).unwrap();
        s.put_matching("MID", "8901").unwrap();
        s.put_matching("GONE", "8902").unwrap();
        s.remove_matching("GONE").unwrap();
        s.put_session(&session("BB")).unwrap();
        s.put_session(&session("AA")).unwrap();
        s.remove_session("BB").unwrap();
        s.put_euicc_cert("EID", &[0x30, 0]).unwrap();
        s.put_euicc_cert("EID", &[0x30, 0]).unwrap();
        for e in ["install", "enable", "delete"] {
            s.add_notification(&note(e)).unwrap();
        }
        s.flush().unwrap();
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            s.profiles().unwrap(),
            s.profile("8901").unwrap(),
            s.profile("8903").unwrap(),
            s.package("8901").unwrap(),
            s.package("8902").unwrap(),
            s.matching("MID").unwrap(),
            s.matching("GONE").unwrap(),
            s.sessions().unwrap(),
            s.session("BB").unwrap(),
            s.euicc_cert("EID").unwrap(),
            s.notifications().unwrap(),
        )
    }

    #[test]
    fn memory_store_behaves_like_sled() {
        let mem = Store::memory();
        let sled = Store::temporary().unwrap();
        assert!(mem.is_memory() && !sled.is_memory());
        assert_eq!(exercise(&mem), exercise(&sled));
        // Notifications keep their arrival order, and clones share the state.
        let events: Vec<String> = mem
            .clone()
            .notifications()
            .unwrap()
            .into_iter()
            .map(|n| n.event)
            .collect();
        assert_eq!(events, ["install", "enable", "delete"]);
    }
}
