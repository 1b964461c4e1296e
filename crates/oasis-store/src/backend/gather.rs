//! Writes held until the next durability barrier, then sent in offset order
//! with adjacent ones merged: redb writes a commit page by page, scattered
//! over the file; on kvm every device write is a VM exit, so a commit's
//! pages go out as a few long runs instead of one exit per page.
//!
//! Holding writes back is sound because the device promises nothing about
//! writes before a `flush` either: they may land in any order, or not at
//! all, and redb's commit protocol is built for exactly that.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// The most bytes one merged device write carries.
const RUN_LIMIT: usize = 4 << 20;

/// Held writes, by device byte offset; they never overlap.
#[derive(Default)]
pub(crate) struct Pending {
    writes: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
}

impl Pending {
    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `[start, start + len)` overlaps a held write.
    pub(crate) fn overlaps(&self, start: u64, len: usize) -> bool {
        let end = start + len as u64;
        self.writes
            .range(..end)
            .next_back()
            .is_some_and(|(&s, v)| s + v.len() as u64 > start)
    }

    /// Holds a write. A write of exactly a held range replaces it; `false`
    /// means it overlaps held writes otherwise, and the caller must send
    /// them first.
    pub(crate) fn hold(&mut self, start: u64, data: &[u8]) -> bool {
        if let Some(held) = self.writes.get_mut(&start)
            && held.len() == data.len()
        {
            held.copy_from_slice(data);
            return true;
        }
        if self.overlaps(start, data.len()) {
            return false;
        }
        self.writes.insert(start, data.to_vec());
        self.bytes += data.len();
        true
    }

    /// Hands every held write to `send`, adjacent ones merged (up to 4 MiB
    /// per call), in offset order; empties the set even if a send fails.
    pub(crate) fn drain<E>(
        &mut self,
        mut send: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let writes = core::mem::take(&mut self.writes);
        self.bytes = 0;
        let mut run_start = 0u64;
        let mut run: Vec<u8> = Vec::new();
        let mut result = Ok(());
        for (start, data) in writes {
            let contiguous = !run.is_empty() && run_start + run.len() as u64 == start;
            if contiguous && run.len() + data.len() <= RUN_LIMIT {
                run.extend_from_slice(&data);
                continue;
            }
            if !run.is_empty() && result.is_ok() {
                result = send(run_start, &run);
            }
            run_start = start;
            run = data;
        }
        if !run.is_empty() && result.is_ok() {
            result = send(run_start, &run);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn adjacent_writes_merge_and_go_out_in_order() {
        let mut p = Pending::default();
        assert!(p.hold(8192, &[3u8; 4096]));
        assert!(p.hold(0, &[1u8; 4096]));
        assert!(p.hold(4096, &[2u8; 4096]));
        assert!(p.hold(65536, &[9u8; 512]));
        assert!(p.hold(0, &[7u8; 4096]), "rewrite of a held page");
        assert_eq!(p.bytes(), 3 * 4096 + 512);
        let mut sent = vec![];
        p.drain(|s, d| {
            sent.push((s, d.to_vec()));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].0, 0);
        assert_eq!(sent[0].1.len(), 3 * 4096);
        assert_eq!((sent[0].1[0], sent[0].1[4096], sent[0].1[8192]), (7, 2, 3));
        assert_eq!((sent[1].0, sent[1].1.len()), (65536, 512));
        assert_eq!(p.bytes(), 0);
    }

    #[test]
    fn partial_overlaps_are_refused_and_detected() {
        let mut p = Pending::default();
        assert!(p.hold(4096, &[1u8; 4096]));
        assert!(!p.hold(0, &[2u8; 8192]));
        assert!(!p.hold(4096, &[2u8; 512]));
        assert!(p.overlaps(8191, 1));
        assert!(!p.overlaps(8192, 4096));
        assert!(!p.overlaps(0, 4096));
    }
}
