//! The production [`Store`]: one sled tree, keys prefixed per [`Tree`], batches applied with
//! `apply_batch` (atomic) followed by `flush` (durable) before `commit` returns.

use super::{Batch, Entries, Store, StoreError, Tree};
use std::path::Path;

/// sled-backed store in a directory of its own.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
}

fn be(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SledStore {
    /// Opens (creating if needed) the store under `dir`.
    ///
    /// Every commit flushes explicitly, so sled's periodic background flusher is off. sled holds
    /// an exclusive file lock while any handle to the database lives, and its worker threads can
    /// keep it for a moment after the last handle is dropped: a lock conflict is retried for up
    /// to 2 s before it is reported (another process really holding the store then fails).
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .mode(sled::Mode::LowSpace)
                .flush_every_ms(None)
                .open()
            {
                Ok(db) => break db,
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(be(e)),
            }
        };
        let tree = db.open_tree("veuicc.v1").map_err(be)?;
        Ok(SledStore { db, tree })
    }
}

impl Store for SledStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .get(tree.key(key))
            .map_err(be)?
            .map(|v| v.to_vec()))
    }

    fn scan(&self, tree: Tree, prefix: &[u8]) -> Result<Entries, StoreError> {
        self.tree
            .scan_prefix(tree.key(prefix))
            .map(|r| r.map(|(k, v)| (k[1..].to_vec(), v.to_vec())).map_err(be))
            .collect()
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for w in batch.writes {
            let k = w.tree.key(&w.key);
            match w.value {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.tree.apply_batch(b).map_err(be)?;
        self.db.flush().map_err(be)?;
        Ok(())
    }
}
