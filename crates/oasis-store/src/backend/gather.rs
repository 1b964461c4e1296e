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

/// The largest run buffer kept between drains.
const KEEP: usize = 1 << 20;

/// Held writes, by device byte offset; they never overlap.
#[derive(Default)]
pub(crate) struct Pending {
    writes: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
    /// Where the last run of several writes was gathered.
    run: Vec<u8>,
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
    ///
    /// A run of one write goes out as it is; a longer one is gathered into
    /// a buffer sized once for the whole run (growing it page by page would
    /// copy the run again at every doubling — on kvm, where the heap cannot
    /// remap pages as the host's `realloc` does, that was a tenth of a
    /// batched insert's time). The buffer is kept for the next drain while
    /// it is at most [`KEEP`] bytes.
    pub(crate) fn drain<E>(
        &mut self,
        mut send: impl FnMut(u64, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let writes = core::mem::take(&mut self.writes);
        self.bytes = 0;
        let writes: Vec<(u64, Vec<u8>)> = writes.into_iter().collect();
        let mut result = Ok(());
        let mut i = 0;
        while i < writes.len() {
            let (start, ref first) = writes[i];
            let mut end = i + 1;
            let mut len = first.len();
            while let Some((next, data)) = writes.get(end)
                && start + len as u64 == *next
                && len + data.len() <= RUN_LIMIT
            {
                len += data.len();
                end += 1;
            }
            if result.is_ok() {
                result = if end == i + 1 {
                    send(start, first)
                } else {
                    self.run.clear();
                    self.run.reserve_exact(len);
                    for (_, data) in &writes[i..end] {
                        self.run.extend_from_slice(data);
                    }
                    send(start, &self.run)
                };
            }
            i = end;
        }
        if self.run.capacity() > KEEP {
            self.run = Vec::new();
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
