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

use std::path::Path;

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

/// The sled database of one SM-DP+.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    profiles: sled::Tree,
    packages: sled::Tree,
    matching: sled::Tree,
    sessions: sled::Tree,
    euiccs: sled::Tree,
    notifications: sled::Tree,
}

fn get_json<T: for<'de> Deserialize<'de>>(
    tree: &sled::Tree,
    name: &'static str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(&v)
            .map(Some)
            .map_err(|source| StoreError::Record { tree: name, source }),
    }
}

fn put_json<T: Serialize>(
    tree: &sled::Tree,
    name: &'static str,
    key: &[u8],
    value: &T,
) -> Result<(), StoreError> {
    let bytes =
        serde_json::to_vec(value).map_err(|source| StoreError::Record { tree: name, source })?;
    tree.insert(key, bytes)?;
    Ok(())
}

fn all_json<T: for<'de> Deserialize<'de>>(
    tree: &sled::Tree,
    name: &'static str,
) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .values()
        .map(|v| {
            let v = v?;
            serde_json::from_slice(&v).map_err(|source| StoreError::Record { tree: name, source })
        })
        .collect()
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

    fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        Ok(Self {
            profiles: db.open_tree("profiles")?,
            packages: db.open_tree("packages")?,
            matching: db.open_tree("matching")?,
            sessions: db.open_tree("sessions")?,
            euiccs: db.open_tree("euiccs")?,
            notifications: db.open_tree("notifications")?,
            db,
        })
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    // --- profiles -------------------------------------------------------------------------

    /// One profile.
    pub fn profile(&self, iccid: &str) -> Result<Option<ProfileRecord>, StoreError> {
        get_json(&self.profiles, "profiles", iccid.as_bytes())
    }

    /// Writes a profile record.
    pub fn put_profile(&self, record: &ProfileRecord) -> Result<(), StoreError> {
        put_json(&self.profiles, "profiles", record.iccid.as_bytes(), record)
    }

    /// Every profile, by ICCID.
    pub fn profiles(&self) -> Result<Vec<ProfileRecord>, StoreError> {
        all_json(&self.profiles, "profiles")
    }

    /// The profile package of `iccid`.
    pub fn package(&self, iccid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.packages.get(iccid.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Stores the profile package of `iccid`.
    pub fn put_package(&self, iccid: &str, package: &[u8]) -> Result<(), StoreError> {
        self.packages.insert(iccid.as_bytes(), package)?;
        Ok(())
    }

    // --- matching IDs ---------------------------------------------------------------------

    /// The ICCID a matching ID was given to.
    pub fn matching(&self, matching_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .matching
            .get(matching_id.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Gives `matching_id` to `iccid`.
    pub fn put_matching(&self, matching_id: &str, iccid: &str) -> Result<(), StoreError> {
        self.matching
            .insert(matching_id.as_bytes(), iccid.as_bytes())?;
        Ok(())
    }

    /// Frees `matching_id`.
    pub fn remove_matching(&self, matching_id: &str) -> Result<(), StoreError> {
        self.matching.remove(matching_id.as_bytes())?;
        Ok(())
    }

    // --- sessions -------------------------------------------------------------------------

    /// One session.
    pub fn session(&self, transaction_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        get_json(&self.sessions, "sessions", transaction_id.as_bytes())
    }

    /// Writes a session.
    pub fn put_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        put_json(
            &self.sessions,
            "sessions",
            session.transaction_id.as_bytes(),
            session,
        )
    }

    /// Ends a session.
    pub fn remove_session(&self, transaction_id: &str) -> Result<(), StoreError> {
        self.sessions.remove(transaction_id.as_bytes())?;
        Ok(())
    }

    /// Every open session.
    pub fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        all_json(&self.sessions, "sessions")
    }

    // --- eUICCs ---------------------------------------------------------------------------

    /// CERT.EUICC of a verified eUICC.
    pub fn euicc_cert(&self, eid: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.euiccs.get(eid.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Remembers CERT.EUICC of a verified eUICC.
    pub fn put_euicc_cert(&self, eid: &str, cert: &[u8]) -> Result<(), StoreError> {
        if self.euiccs.get(eid.as_bytes())?.as_deref() != Some(cert) {
            self.euiccs.insert(eid.as_bytes(), cert)?;
        }
        Ok(())
    }

    // --- notifications --------------------------------------------------------------------

    /// Records a verified notification.
    pub fn add_notification(&self, record: &NotificationRecord) -> Result<(), StoreError> {
        let id = self.db.generate_id()?;
        put_json(
            &self.notifications,
            "notifications",
            &id.to_be_bytes(),
            record,
        )
    }

    /// Every notification received, in arrival order.
    pub fn notifications(&self) -> Result<Vec<NotificationRecord>, StoreError> {
        all_json(&self.notifications, "notifications")
    }
}
