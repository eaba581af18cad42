//! Persistence behind a small trait: one ordered key space split into named trees, atomic
//! multi-key batches and an explicit durable flush. sled in production ([`SledStore`]), memory in
//! unit tests ([`MemStore`]). Records above this layer carry a format version.

mod mem;
mod sled_store;

pub use mem::MemStore;
pub use sled_store::SledStore;

/// The trees of the card's state. Each is a key prefix in one underlying key space, so a batch
/// spanning several trees is still one atomic write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tree {
    /// Identity, counters, configuration (`eid`, `notif_seq`, `default_dp`, …).
    Meta,
    /// Installed profiles: ICCID (10 bytes) → profile record.
    Profiles,
    /// SAIP packages of installed profiles: ICCID → package bytes.
    Packages,
    /// File contents changed by UPDATE commands: ICCID ‖ file key → content.
    Files,
    /// Pending notifications: sequence number (u32 BE) → notification record.
    Notifications,
}

impl Tree {
    fn prefix(self) -> u8 {
        match self {
            Tree::Meta => b'm',
            Tree::Profiles => b'p',
            Tree::Packages => b'k',
            Tree::Files => b'f',
            Tree::Notifications => b'n',
        }
    }

    fn key(self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 1);
        k.push(self.prefix());
        k.extend_from_slice(key);
        k
    }
}

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend: {0}")]
    Backend(String),
    #[error("record {0} has an unsupported format: {1}")]
    Format(String, String),
}

/// Key/value pairs returned by [`Store::scan`], in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One write in a batch: put (`Some`) or delete (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub tree: Tree,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A set of writes applied all-or-nothing by [`Store::commit`].
#[derive(Debug, Default, Clone)]
pub struct Batch {
    pub writes: Vec<Write>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }
    pub fn put(&mut self, tree: Tree, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.push(Write {
            tree,
            key: key.into(),
            value: Some(value.into()),
        });
    }
    pub fn delete(&mut self, tree: Tree, key: impl Into<Vec<u8>>) {
        self.writes.push(Write {
            tree,
            key: key.into(),
            value: None,
        });
    }
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// Key/value persistence for the card.
pub trait Store: Send + Sync + std::fmt::Debug {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// All entries of `tree` whose key starts with `prefix`, in key order.
    fn scan(&self, tree: Tree, prefix: &[u8]) -> Result<Entries, StoreError>;
    /// Applies the batch atomically and makes it durable before returning.
    fn commit(&self, batch: Batch) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn Store) {
        let mut b = Batch::new();
        b.put(Tree::Profiles, b"a".to_vec(), b"1".to_vec());
        b.put(Tree::Profiles, b"ab".to_vec(), b"2".to_vec());
        b.put(Tree::Files, b"a".to_vec(), b"3".to_vec());
        store.commit(b).unwrap();
        assert_eq!(
            store.get(Tree::Profiles, b"a").unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(store.get(Tree::Meta, b"a").unwrap(), None);
        let s = store.scan(Tree::Profiles, b"a").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1], (b"ab".to_vec(), b"2".to_vec()));
        let mut b = Batch::new();
        b.delete(Tree::Profiles, b"a".to_vec());
        store.commit(b).unwrap();
        assert_eq!(store.scan(Tree::Profiles, b"").unwrap().len(), 1);
        assert_eq!(store.scan(Tree::Files, b"").unwrap().len(), 1);
    }

    #[test]
    fn mem_store_keeps_trees_apart() {
        exercise(&MemStore::default());
    }

    #[test]
    fn sled_store_keeps_trees_apart_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = SledStore::open(dir.path()).unwrap();
            exercise(&s);
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get(Tree::Profiles, b"ab").unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.get(Tree::Profiles, b"a").unwrap(), None);
    }
}
