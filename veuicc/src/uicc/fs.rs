//! The UICC file system of one profile (ETSI TS 102 221 §8): MF, DFs, ADFs and EFs in an arena,
//! addressable by FID, path, SFI and AID.
//!
//! The SAIP builder ([`crate::profile::saip`]) fills it; the command processor ([`super::Uicc`])
//! reads and updates it. ADFs hang below the MF under their *temporary* FID (SAIP §8.3.5): the
//! package addresses files inside an ADF through that FID, while the terminal selects ADFs by AID
//! only, so [`FileSystem::child_by_fid`] has a flag to hide them.

use serde::{Deserialize, Serialize};

/// FID of the MF (TS 102 221 §8.2).
pub const MF_FID: u16 = 0x3F00;
/// FID that stands for the current ADF in SELECT and paths (TS 102 221 §8.4.1).
pub const CURRENT_ADF_FID: u16 = 0x7FFF;
/// Longest chain of link files followed before giving up (a link cycle is a profile error).
const MAX_LINK_HOPS: usize = 8;
/// Deepest path accepted when walking up the tree (guards against a corrupt parent chain).
const MAX_TREE_DEPTH: usize = 16;

/// Index of a node in a [`FileSystem`]; only meaningful for the file system that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(usize);

impl NodeId {
    /// The MF is always the first node.
    pub const MF: NodeId = NodeId(0);
}

/// Structure of an EF (TS 102 221 §8.3, FDB of §11.1.1.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EfStructure {
    Transparent,
    LinearFixed {
        record_len: usize,
    },
    Cyclic {
        record_len: usize,
    },
    /// BER-TLV structured EF (TS 102 221 §8.3.4); `content` stays empty, the size is the quota.
    BerTlv,
}

impl EfStructure {
    /// Record length for record-oriented EFs.
    pub fn record_len(self) -> Option<usize> {
        match self {
            EfStructure::LinearFixed { record_len } | EfStructure::Cyclic { record_len } => {
                Some(record_len)
            }
            _ => None,
        }
    }
}

/// What a node is.
#[derive(Clone, PartialEq, Eq)]
pub enum NodeKind {
    Mf,
    Df,
    /// An application DF with its AID (DF name).
    Adf {
        aid: Vec<u8>,
    },
    /// An elementary file. `size` is the allocated size: for transparent and record EFs it equals
    /// `content.len()` (records are stored concatenated, record 1 first; for cyclic files record
    /// 1 is the most recently written one).
    Ef {
        structure: EfStructure,
        size: usize,
        content: Vec<u8>,
    },
    /// A link EF (SAIP `linkPath`): reads and writes go to `target`.
    Link {
        target: NodeId,
    },
}

impl std::fmt::Debug for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeKind::Mf => write!(f, "MF"),
            NodeKind::Df => write!(f, "DF"),
            NodeKind::Adf { aid } => write!(f, "ADF({})", hex::encode_upper(aid)),
            NodeKind::Ef {
                structure, size, ..
            } => write!(f, "EF({structure:?}, {size} bytes)"),
            NodeKind::Link { target } => write!(f, "Link({target:?})"),
        }
    }
}

/// Reference to the access rule of a file (FCP tag 8B, TS 102 221 §11.1.1.4.7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrRef {
    /// FID of the EF.ARR; `None` = implicit (2F06 for the MF, ADFs and files directly under the
    /// MF, 6F06 otherwise — SAIP Fcp `securityAttributesReferenced`).
    pub arr_fid: Option<u16>,
    /// Record number in that EF.ARR.
    pub record: u8,
}

/// One node of the tree with the FCP attributes the card reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNode {
    pub fid: u16,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    pub kind: NodeKind,
    /// Life cycle status integer (TS 102 221 §11.1.1.4.9); 05 = operational, activated.
    pub lcsi: u8,
    pub arr: Option<ArrRef>,
    /// Short file identifier (1..30), EFs only.
    pub sfi: Option<u8>,
    /// SAIP `specialFileInformation` (0x80 high update activity, 0x40 readable when deactivated).
    pub special_info: u8,
    /// SAIP `pinStatusTemplateDO` as given (DFs): either a compact list of key references or a
    /// full PS template.
    pub pin_template: Vec<u8>,
}

impl FileNode {
    /// A fresh node with default attributes (activated, no ARR, no SFI).
    pub fn new(fid: u16, kind: NodeKind) -> FileNode {
        FileNode {
            fid,
            parent: None,
            children: Vec::new(),
            kind,
            lcsi: 0x05,
            arr: None,
            sfi: None,
            special_info: 0,
            pin_template: Vec::new(),
        }
    }

    /// MF, DF or ADF.
    pub fn is_dir(&self) -> bool {
        matches!(
            self.kind,
            NodeKind::Mf | NodeKind::Df | NodeKind::Adf { .. }
        )
    }

    pub fn is_adf(&self) -> bool {
        matches!(self.kind, NodeKind::Adf { .. })
    }

    /// The AID of an ADF.
    pub fn aid(&self) -> Option<&[u8]> {
        match &self.kind {
            NodeKind::Adf { aid } => Some(aid),
            _ => None,
        }
    }
}

/// Stable name of a file across rebuilds of the same package, used in persisted changes: the
/// FIDs below the MF (ADFs by AID, the path then continues inside the ADF).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileKey {
    /// AID of the ADF the path starts from; `None` = path from the MF.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_hex")]
    pub aid: Option<Vec<u8>>,
    /// FIDs below the MF or ADF (empty = the MF or ADF itself).
    pub path: Vec<u16>,
}

mod opt_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode_upper(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let o: Option<String> = Option::deserialize(d)?;
        o.map(|h| hex::decode(h).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Why the tree could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    #[error("FID {fid:04X} already exists in the parent DF")]
    DuplicateFid { fid: u16 },
    #[error("the parent of a new file is not a DF")]
    ParentNotDf,
    #[error("no such node")]
    NoSuchNode,
}

/// The file tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSystem {
    nodes: Vec<FileNode>,
}

impl Default for FileSystem {
    fn default() -> Self {
        Self::new()
    }
}

impl FileSystem {
    /// A tree holding only the MF.
    pub fn new() -> FileSystem {
        FileSystem {
            nodes: vec![FileNode::new(MF_FID, NodeKind::Mf)],
        }
    }

    /// Number of nodes, the MF included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: the MF exists.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn node(&self, id: NodeId) -> Option<&FileNode> {
        self.nodes.get(id.0)
    }

    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut FileNode> {
        self.nodes.get_mut(id.0)
    }

    /// All node ids in creation order.
    pub fn ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.nodes.len()).map(NodeId)
    }

    /// Adds `node` below `parent`; FIDs are unique among siblings.
    pub fn add_child(&mut self, parent: NodeId, mut node: FileNode) -> Result<NodeId, FsError> {
        let p = self.node(parent).ok_or(FsError::NoSuchNode)?;
        if !p.is_dir() {
            return Err(FsError::ParentNotDf);
        }
        if self.child_by_fid(parent, node.fid, true).is_some() {
            return Err(FsError::DuplicateFid { fid: node.fid });
        }
        let id = NodeId(self.nodes.len());
        node.parent = Some(parent);
        self.nodes.push(node);
        if let Some(p) = self.nodes.get_mut(parent.0) {
            p.children.push(id);
        }
        Ok(id)
    }

    /// The child of `parent` with `fid`; ADFs are only found when `include_adfs`.
    pub fn child_by_fid(&self, parent: NodeId, fid: u16, include_adfs: bool) -> Option<NodeId> {
        let p = self.node(parent)?;
        p.children.iter().copied().find(|c| {
            self.node(*c)
                .is_some_and(|n| n.fid == fid && (include_adfs || !n.is_adf()))
        })
    }

    /// The EF below `parent` with short file identifier `sfi`.
    pub fn child_by_sfi(&self, parent: NodeId, sfi: u8) -> Option<NodeId> {
        let p = self.node(parent)?;
        p.children.iter().copied().find(|c| {
            self.node(*c)
                .is_some_and(|n| !n.is_dir() && n.sfi == Some(sfi))
        })
    }

    /// Walks `path` (FIDs, package form: ADFs by temporary FID) from `start`. A leading 3F00 is
    /// accepted when starting at the MF.
    pub fn resolve_path(&self, start: NodeId, path: &[u16]) -> Option<NodeId> {
        let mut cur = start;
        let mut rest = path;
        if start == NodeId::MF {
            if let Some((&MF_FID, tail)) = rest.split_first() {
                rest = tail;
            }
        }
        for fid in rest {
            cur = self.child_by_fid(cur, *fid, true)?;
        }
        Some(cur)
    }

    /// ADFs whose AID starts with `prefix` (TS 102 221 §8.4.2: partial DF name), in creation order.
    pub fn adfs_matching(&self, prefix: &[u8]) -> Vec<NodeId> {
        self.ids()
            .filter(|id| {
                self.node(*id)
                    .and_then(FileNode::aid)
                    .is_some_and(|aid| aid.starts_with(prefix))
            })
            .collect()
    }

    /// The ADF with exactly this AID.
    pub fn adf_by_aid(&self, aid: &[u8]) -> Option<NodeId> {
        self.ids()
            .find(|id| self.node(*id).and_then(FileNode::aid) == Some(aid))
    }

    /// Follows link files to the node holding the content (bounded; `None` on a cycle).
    pub fn resolve_link(&self, id: NodeId) -> Option<NodeId> {
        let mut cur = id;
        for _ in 0..MAX_LINK_HOPS {
            match &self.node(cur)?.kind {
                NodeKind::Link { target } => cur = *target,
                _ => return Some(cur),
            }
        }
        None
    }

    /// The parent of `id` (`None` for the MF).
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.node(id)?.parent
    }

    /// `id` and its ancestors up to the MF, nearest first.
    pub fn ancestors(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            if out.len() >= MAX_TREE_DEPTH {
                break;
            }
            out.push(c);
            cur = self.parent(c);
        }
        out
    }

    /// The ADF `id` lies in (itself included), if any.
    pub fn enclosing_adf(&self, id: NodeId) -> Option<NodeId> {
        self.ancestors(id)
            .into_iter()
            .find(|a| self.node(*a).is_some_and(FileNode::is_adf))
    }

    /// Structure, size and content of the EF behind `id` (links followed).
    pub fn ef(&self, id: NodeId) -> Option<(EfStructure, usize, &[u8])> {
        let t = self.resolve_link(id)?;
        match &self.node(t)?.kind {
            NodeKind::Ef {
                structure,
                size,
                content,
            } => Some((*structure, *size, content)),
            _ => None,
        }
    }

    /// Mutable content of the EF behind `id` (links followed).
    pub fn ef_content_mut(&mut self, id: NodeId) -> Option<&mut Vec<u8>> {
        let t = self.resolve_link(id)?;
        match &mut self.node_mut(t)?.kind {
            NodeKind::Ef { content, .. } => Some(content),
            _ => None,
        }
    }

    /// The stable key of `id` (see [`FileKey`]).
    pub fn file_key(&self, id: NodeId) -> FileKey {
        let mut path = Vec::new();
        let mut aid = None;
        for a in self.ancestors(id) {
            let Some(n) = self.node(a) else { break };
            if let NodeKind::Adf { aid: x } = &n.kind {
                aid = Some(x.clone());
                break;
            }
            if a == NodeId::MF {
                break;
            }
            path.push(n.fid);
        }
        path.reverse();
        FileKey { aid, path }
    }

    /// The node named by `key`.
    pub fn node_by_key(&self, key: &FileKey) -> Option<NodeId> {
        let start = match &key.aid {
            Some(aid) => self.adf_by_aid(aid)?,
            None => NodeId::MF,
        };
        let mut cur = start;
        for fid in &key.path {
            cur = self.child_by_fid(cur, *fid, key.aid.is_none() || cur != start)?;
        }
        Some(cur)
    }

    /// Transparent content (or concatenated records) of the EF at `path` from the MF, ADFs by
    /// temporary FID (for tests and diagnostics).
    pub fn read_path(&self, path: &[u16]) -> Option<Vec<u8>> {
        let id = self.resolve_path(NodeId::MF, path)?;
        self.ef(id).map(|(_, _, c)| c.to_vec())
    }

    /// Sum of the EF sizes below `id` (for the DF "total file size", TS 102 221 §11.1.1.4.2).
    pub fn subtree_size(&self, id: NodeId) -> usize {
        let mut total = 0usize;
        let mut stack = vec![id];
        let mut seen = 0usize;
        while let Some(c) = stack.pop() {
            seen += 1;
            if seen > self.nodes.len() {
                break;
            }
            if let Some(n) = self.node(c) {
                if let NodeKind::Ef { size, .. } = n.kind {
                    total = total.saturating_add(size);
                }
                stack.extend(n.children.iter().copied());
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ef(fid: u16, content: &[u8]) -> FileNode {
        FileNode::new(
            fid,
            NodeKind::Ef {
                structure: EfStructure::Transparent,
                size: content.len(),
                content: content.to_vec(),
            },
        )
    }

    #[test]
    fn resolves_paths_keys_and_links() {
        let mut fs = FileSystem::new();
        let adf = fs
            .add_child(
                NodeId::MF,
                FileNode::new(
                    0x7FD0,
                    NodeKind::Adf {
                        aid: vec![0xA0, 1, 2, 3, 4],
                    },
                ),
            )
            .unwrap();
        let imsi = fs.add_child(adf, ef(0x6F07, &[1, 2, 3])).unwrap();
        let link = fs
            .add_child(
                NodeId::MF,
                FileNode::new(0x2F99, NodeKind::Link { target: imsi }),
            )
            .unwrap();
        assert_eq!(fs.resolve_path(NodeId::MF, &[0x7FD0, 0x6F07]), Some(imsi));
        assert_eq!(
            fs.resolve_path(NodeId::MF, &[0x3F00, 0x7FD0, 0x6F07]),
            Some(imsi)
        );
        assert_eq!(fs.child_by_fid(NodeId::MF, 0x7FD0, false), None);
        let key = fs.file_key(imsi);
        assert_eq!(
            key,
            FileKey {
                aid: Some(vec![0xA0, 1, 2, 3, 4]),
                path: vec![0x6F07]
            }
        );
        assert_eq!(fs.node_by_key(&key), Some(imsi));
        assert_eq!(fs.ef(link).map(|e| e.2.to_vec()), Some(vec![1, 2, 3]));
        assert_eq!(fs.adfs_matching(&[0xA0, 1]), vec![adf]);
        assert_eq!(
            fs.add_child(adf, ef(0x6F07, &[])),
            Err(FsError::DuplicateFid { fid: 0x6F07 })
        );
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<FileKey>(&json).unwrap(), key);
    }

    #[test]
    fn link_cycles_do_not_hang() {
        let mut fs = FileSystem::new();
        let a = fs
            .add_child(
                NodeId::MF,
                FileNode::new(0x2F01, NodeKind::Link { target: NodeId::MF }),
            )
            .unwrap();
        if let Some(n) = fs.node_mut(a) {
            n.kind = NodeKind::Link { target: a };
        }
        assert_eq!(fs.resolve_link(a), None);
        assert!(fs.ef(a).is_none());
    }
}
