//! The modem's persistent record (`<state_dir>/modem`, a sled store): IMEIs, slot contents,
//! the active slot, network overrides and HSS subscribers set at run time. One versioned JSON
//! record under `Meta/modem`; records of another format version are refused.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use veuicc::store::{Batch, MemStore, SledStore, Store, Tree};

use super::aka::Subscriber;
use super::binding::BindingRecord;
use super::imei::{Imei, Svn};
use super::network::Radio;
use crate::config::{NetworkConfig, SlotConfig};

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

const KEY: &[u8] = b"modem";
/// The IMEI binding engine's record (its own format version).
const BINDING_KEY: &[u8] = b"imei-binding";

/// Why the persistent state could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("modem state store: {0}")]
    Store(String),
    #[error(
        "modem state record has format version {0}; this vmodem reads version {FORMAT_VERSION} \
         (move the state directory away or use a matching vmodem)"
    )]
    Version(u32),
    #[error("modem state record is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "IMEI binding record has format version {0}; this vmodem reads version {v} \
         (move the state directory away or use a matching vmodem)",
        v = super::binding::BINDING_FORMAT_VERSION
    )]
    BindingVersion(u32),
}

/// Everything of the modem that survives a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModemRecord {
    pub version: u32,
    pub imeis: Vec<Imei>,
    pub svn: Svn,
    /// The slots as they are now (hot-swaps included).
    pub slots: Vec<SlotConfig>,
    /// The slots of the configuration when this record was written: if the configuration has
    /// changed since, the configuration wins over `slots`.
    pub config_slots: Vec<SlotConfig>,
    /// 1-based.
    pub active_slot: u8,
    pub radio: Radio,
    /// The network configuration when the record was written (same rule as `config_slots`).
    pub config_network: NetworkConfig,
    /// Subscribers set through the control plane (they win over provisioned ones).
    #[serde(default)]
    pub subscribers: Vec<Subscriber>,
    /// SQNs of the HSS by IMSI (so a restart does not force a re-synchronisation).
    #[serde(default)]
    pub sqns: Vec<(String, u64)>,
}

/// Where the record lives.
#[derive(Debug, Clone)]
pub struct StateStore {
    store: Arc<dyn Store>,
}

impl StateStore {
    /// Opens `<dir>/modem` (sled), creating it.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StateError::Store(format!("creating {}: {e}", dir.display())))?;
        let s = SledStore::open(&dir.join("modem"))
            .map_err(|e| StateError::Store(format!("{}: {e}", dir.join("modem").display())))?;
        Ok(StateStore { store: Arc::new(s) })
    }

    /// A store that forgets everything when dropped.
    pub fn memory() -> StateStore {
        StateStore {
            store: Arc::new(MemStore::default()),
        }
    }

    /// Loads the record, if one was written.
    pub fn load(&self) -> Result<Option<ModemRecord>, StateError> {
        let Some(raw) = self
            .store
            .get(Tree::Meta, KEY)
            .map_err(|e| StateError::Store(e.to_string()))?
        else {
            return Ok(None);
        };
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let v: Versioned =
            serde_json::from_slice(&raw).map_err(|e| StateError::Corrupt(e.to_string()))?;
        if v.version != FORMAT_VERSION {
            return Err(StateError::Version(v.version));
        }
        let r: ModemRecord =
            serde_json::from_slice(&raw).map_err(|e| StateError::Corrupt(e.to_string()))?;
        Ok(Some(r))
    }

    /// Writes the record (atomic, flushed).
    pub fn save(&self, r: &ModemRecord) -> Result<(), StateError> {
        let v = serde_json::to_vec(r).map_err(|e| StateError::Corrupt(e.to_string()))?;
        let mut b = Batch::new();
        b.put(Tree::Meta, KEY.to_vec(), v);
        self.store
            .commit(b)
            .map_err(|e| StateError::Store(e.to_string()))
    }

    /// Loads the IMEI binding record, if one was written.
    pub fn load_binding(&self) -> Result<Option<BindingRecord>, StateError> {
        let Some(raw) = self
            .store
            .get(Tree::Meta, BINDING_KEY)
            .map_err(|e| StateError::Store(e.to_string()))?
        else {
            return Ok(None);
        };
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let v: Versioned =
            serde_json::from_slice(&raw).map_err(|e| StateError::Corrupt(e.to_string()))?;
        if v.version != super::binding::BINDING_FORMAT_VERSION {
            return Err(StateError::BindingVersion(v.version));
        }
        let r: BindingRecord =
            serde_json::from_slice(&raw).map_err(|e| StateError::Corrupt(e.to_string()))?;
        Ok(Some(r))
    }

    /// Writes the IMEI binding record (atomic, flushed).
    pub fn save_binding(&self, r: &BindingRecord) -> Result<(), StateError> {
        let v = serde_json::to_vec(r).map_err(|e| StateError::Corrupt(e.to_string()))?;
        let mut b = Batch::new();
        b.put(Tree::Meta, BINDING_KEY.to_vec(), v);
        self.store
            .commit(b)
            .map_err(|e| StateError::Store(e.to_string()))
    }

    /// Writes raw bytes as the IMEI binding record (tests of version handling).
    pub fn save_binding_raw(&self, raw: &[u8]) -> Result<(), StateError> {
        let mut b = Batch::new();
        b.put(Tree::Meta, BINDING_KEY.to_vec(), raw.to_vec());
        self.store
            .commit(b)
            .map_err(|e| StateError::Store(e.to_string()))
    }

    /// Writes raw bytes as the record (tests of version handling).
    pub fn save_raw(&self, raw: &[u8]) -> Result<(), StateError> {
        let mut b = Batch::new();
        b.put(Tree::Meta, KEY.to_vec(), raw.to_vec());
        self.store
            .commit(b)
            .map_err(|e| StateError::Store(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record() -> ModemRecord {
        ModemRecord {
            version: FORMAT_VERSION,
            imeis: vec![Imei::derived("m", 1), Imei::derived("m", 2)],
            svn: Svn::default(),
            slots: vec![SlotConfig::Empty],
            config_slots: vec![SlotConfig::Empty],
            active_slot: 1,
            radio: Radio::from_config(&NetworkConfig::default()),
            config_network: NetworkConfig::default(),
            subscribers: Vec::new(),
            sqns: vec![("001010123456063".into(), 7)],
        }
    }

    #[test]
    fn record_round_trips() {
        let s = StateStore::memory();
        assert_eq!(s.load().unwrap(), None);
        s.save(&record()).unwrap();
        assert_eq!(s.load().unwrap(), Some(record()));
    }

    #[test]
    fn refuses_other_format_versions() {
        let s = StateStore::memory();
        s.save_raw(br#"{"version":2,"imeis":[]}"#).unwrap();
        let e = s.load().unwrap_err();
        assert!(matches!(e, StateError::Version(2)), "{e}");
        assert!(e.to_string().contains("version 2"));
    }

    #[test]
    fn refuses_corrupt_records() {
        let s = StateStore::memory();
        s.save_raw(b"not json").unwrap();
        assert!(matches!(s.load(), Err(StateError::Corrupt(_))));
    }
}
