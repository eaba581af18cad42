//! In-memory [`Store`] for unit tests and benchmarks.

use super::{Batch, Entries, Store, StoreError, Tree};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A [`Store`] kept in a `BTreeMap`; commits are atomic under one lock.
#[derive(Debug, Default)]
pub struct MemStore {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // A panic while holding the lock cannot leave a half-applied batch (commit applies
        // writes only after validation), so the poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().get(&tree.key(key)).cloned())
    }

    fn scan(&self, tree: Tree, prefix: &[u8]) -> Result<Entries, StoreError> {
        let p = tree.key(prefix);
        Ok(self
            .lock()
            .range(p.clone()..)
            .take_while(|(k, _)| k.starts_with(&p))
            .map(|(k, v)| (k[1..].to_vec(), v.clone()))
            .collect())
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let mut m = self.lock();
        for w in batch.writes {
            let k = w.tree.key(&w.key);
            match w.value {
                Some(v) => m.insert(k, v),
                None => m.remove(&k),
            };
        }
        Ok(())
    }
}
