//! GlobalPlatform STORE DATA reassembly for ES10 (GP Card Spec 2.3 §11.11, SGP.22 §5.7.2).
//!
//! An ES10 command arrives as one or more STORE DATA blocks: `P1 = 11` (more blocks, BER-TLV
//! structure) or `91` (last block), `P2` = block number from 00. The blocks are concatenated into
//! one BER-TLV whose outer tag is the ES10 function tag.

/// Largest reassembled ES10 command accepted (a BPP segment is at most a few KiB; this leaves
/// room for non-conforming SM-DP+s while bounding memory).
pub const MAX_COMMAND: usize = 256 * 1024;

/// Why a STORE DATA block was refused. The reassembly state is reset on every error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreDataError {
    #[error("P1 {0:02X} is not a BER-TLV STORE DATA block")]
    BadP1(u8),
    #[error("block {got} received, block {expected} expected")]
    OutOfOrder { expected: u16, got: u8 },
    #[error("reassembled command exceeds {MAX_COMMAND} bytes")]
    TooLarge,
    #[error("empty STORE DATA block")]
    Empty,
}

/// Outcome of feeding one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fed {
    /// More blocks are expected.
    More,
    /// The last block arrived: the whole command.
    Complete(Vec<u8>),
}

/// Per-channel reassembly state.
#[derive(Debug, Default, Clone)]
pub struct Reassembly {
    buf: Vec<u8>,
    /// Block number expected next; 256 once block FF has arrived (GP numbers at most 256
    /// blocks, so only the last block or a new command at 00 can follow).
    next_block: u16,
}

impl Reassembly {
    /// Whether a multi-block command is in progress.
    pub fn in_progress(&self) -> bool {
        self.next_block != 0
    }

    /// Forgets any partial command.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.next_block = 0;
    }

    /// Feeds one block. `P1` b8 marks the last block; the other bits must say "BER-TLV
    /// structure" (`11`), with `00`/`01`/`10` (no structure information, as some LPAs send)
    /// tolerated.
    pub fn feed(&mut self, p1: u8, p2: u8, data: &[u8]) -> Result<Fed, StoreDataError> {
        let r = self.feed_inner(p1, p2, data);
        if r.is_err() {
            self.clear();
        }
        r
    }

    fn feed_inner(&mut self, p1: u8, p2: u8, data: &[u8]) -> Result<Fed, StoreDataError> {
        let last = p1 & 0x80 != 0;
        if !matches!(p1 & 0x7F, 0x11 | 0x10 | 0x01 | 0x00) {
            return Err(StoreDataError::BadP1(p1));
        }
        if data.is_empty() {
            return Err(StoreDataError::Empty);
        }
        if u16::from(p2) != self.next_block {
            // A new command may start at block 0 while an old one was abandoned.
            if p2 == 0 {
                self.clear();
            } else {
                return Err(StoreDataError::OutOfOrder {
                    expected: self.next_block,
                    got: p2,
                });
            }
        }
        if self.buf.len() + data.len() > MAX_COMMAND {
            return Err(StoreDataError::TooLarge);
        }
        self.buf.extend_from_slice(data);
        if last {
            self.next_block = 0;
            Ok(Fed::Complete(std::mem::take(&mut self.buf)))
        } else {
            self.next_block += 1;
            Ok(Fed::More)
        }
    }
}

/// Splits an ES10 command into STORE DATA blocks of at most `block` bytes (for clients and
/// tests): returns `(P1, P2, data)` per block.
pub fn split(command: &[u8], block: usize) -> Vec<(u8, u8, Vec<u8>)> {
    let block = block.max(1);
    let chunks: Vec<&[u8]> = command.chunks(block).collect();
    let n = chunks.len();
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let p1 = if i + 1 == n { 0x91 } else { 0x11 };
            (p1, (i % 256) as u8, c.to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn single_block_completes() {
        let mut r = Reassembly::default();
        assert_eq!(
            r.feed(0x91, 0, &[0xBF, 0x3E, 0x00]).unwrap(),
            Fed::Complete(vec![0xBF, 0x3E, 0x00])
        );
        assert!(!r.in_progress());
    }

    #[test]
    fn rejects_store_data_out_of_order() {
        let mut r = Reassembly::default();
        assert_eq!(r.feed(0x11, 0, &[1]).unwrap(), Fed::More);
        assert_eq!(
            r.feed(0x91, 2, &[2]),
            Err(StoreDataError::OutOfOrder {
                expected: 1,
                got: 2
            })
        );
        assert!(!r.in_progress());
        assert_eq!(
            r.feed(0x91, 1, &[2]),
            Err(StoreDataError::OutOfOrder {
                expected: 0,
                got: 1
            })
        );
    }

    #[test]
    fn restart_at_block_zero_discards_partial() {
        let mut r = Reassembly::default();
        r.feed(0x11, 0, &[1, 2]).unwrap();
        assert_eq!(r.feed(0x91, 0, &[3]).unwrap(), Fed::Complete(vec![3]));
    }

    #[test]
    fn refuses_a_257th_block() {
        let mut r = Reassembly::default();
        for i in 0..=255u8 {
            assert_eq!(r.feed(0x11, i, &[i]).unwrap(), Fed::More);
        }
        assert!(matches!(
            r.feed(0x91, 1, &[0]),
            Err(StoreDataError::OutOfOrder { expected: 256, .. })
        ));
    }

    #[test]
    fn rejects_bad_p1_and_oversize() {
        let mut r = Reassembly::default();
        assert_eq!(r.feed(0x21, 0, &[1]), Err(StoreDataError::BadP1(0x21)));
        let big = vec![0u8; 60_000];
        let mut i = 0;
        let err = loop {
            match r.feed(0x11, i, &big) {
                Ok(_) => i += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err, StoreDataError::TooLarge);
    }

    proptest! {
        #[test]
        fn split_then_reassemble_round_trips(
            cmd in proptest::collection::vec(any::<u8>(), 1..5000), block in 1usize..300
        ) {
            // GP numbers at most 256 blocks.
            prop_assume!(cmd.len().div_ceil(block) <= 256);
            let mut r = Reassembly::default();
            let blocks = split(&cmd, block);
            let n = blocks.len();
            for (i, (p1, p2, d)) in blocks.into_iter().enumerate() {
                let fed = r.feed(p1, p2, &d).unwrap();
                if i + 1 == n {
                    prop_assert_eq!(fed, Fed::Complete(cmd.clone()));
                } else {
                    prop_assert_eq!(fed, Fed::More);
                }
            }
        }

        #[test]
        fn arbitrary_blocks_never_panic(
            blocks in proptest::collection::vec((any::<u8>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..20)
        ) {
            let mut r = Reassembly::default();
            for (p1, p2, d) in blocks {
                let _ = r.feed(p1, p2, &d);
            }
        }
    }
}
