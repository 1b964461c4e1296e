//! The journal, the store's write-ahead log: what makes a commit durable.
//!
//! A durable commit is one append of the transaction's operations
//! ([`record`]) to a log region on the device, then one `flush` — one
//! durable write ([`LogDevice::write_durable`]; one exit on kvm). The same
//! changes go into the engine's (redb's) write transaction, which is held
//! open across commits ([`crate::engine`]), so the engine's B-tree pages —
//! scattered, and many per commit — are written only at a *checkpoint*: a
//! durable engine commit
//! that also records the last log sequence it holds, after which the log
//! starts again at the front of its region. A checkpoint happens when the
//! log has grown past half its region (or a record would not fit), at open,
//! and when the store is closed.
//!
//! Recovery at open: the engine comes back at its last checkpoint; the log
//! records after it (sequence numbers counting up from the checkpoint's,
//! from the front of the region) are applied in order, up to the first that
//! is missing, torn (checksum) or left from an earlier pass (sequence).
//! Every record up to there was acknowledged only after its flush, so every
//! acknowledged commit comes back, and a commit whose record did not land
//! whole comes back not at all.
//!
//! The same idea as SQLite's WAL; unlike it, the log holds logical
//! operations (a few dozen bytes per saved record), not whole pages.
//!
//! What it may use: the log region the block backend sets apart
//! ([`LogDevice`]), the shared error, and the little-endian field readers
//! (`crate::le`). It knows tables only by name and keys and values only as
//! bytes: nothing of the engine, records or the store above it.

pub(crate) mod record;

use alloc::boxed::Box;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use oasis_rt::device::DeviceError;

use crate::backend::LogDevice;
use crate::error::{Error, Result};
use record::Header;

/// Lazy commits held in memory before they go to the device unflushed.
const LAZY_HOLD: usize = 1 << 20;

/// Bytes the log reads per device request while recovering.
const READ_CHUNK: usize = 1 << 20;

fn device(what: &'static str, offset: u64, e: DeviceError) -> Error {
    Error::Engine(format!("log {what} at region byte {offset}: {e}"))
}

/// The log's writer.
pub(crate) struct Journal {
    dev: Box<dyn LogDevice>,
    /// The sequence number the next commit gets.
    next: u64,
    /// Bytes of the region holding records on the device.
    written: u64,
    /// Records of lazy commits not yet on the device; they go at `written`.
    held: Vec<u8>,
    /// A log write failed: the engine holds commits the log may lack, so
    /// nothing more is committed until the store is reopened.
    failed: bool,
}

/// What a commit must do.
pub(crate) enum Plan {
    /// Append a record with this sequence number.
    Append(u64),
    /// Make this commit a checkpoint (a durable engine commit recording
    /// this sequence number), then start the log afresh.
    Checkpoint(u64),
}

impl Journal {
    /// A writer whose next record gets `next`, at the front of the region.
    pub(crate) fn new(dev: Box<dyn LogDevice>, next: u64) -> Journal {
        Journal {
            dev,
            next,
            written: 0,
            held: Vec::new(),
            failed: false,
        }
    }

    /// Fails if an earlier log write failed.
    pub(crate) fn check(&self) -> Result<()> {
        if self.failed {
            return Err(Error::Engine(
                "an earlier write to the store's log failed; reopen the store".into(),
            ));
        }
        Ok(())
    }

    /// How a commit whose operations take `payload` bytes is made durable.
    pub(crate) fn plan(&self, payload: usize) -> Plan {
        let seq = self.next;
        let used = self.written + self.held.len() as u64;
        let need = record::padded_len(payload, self.dev.sector_size()) as u64;
        if used + need > self.dev.len() || used >= self.dev.len() / 2 {
            Plan::Checkpoint(seq)
        } else {
            Plan::Append(seq)
        }
    }

    /// Appends the record of commit `seq`; a durable one is on stable
    /// storage when this returns.
    pub(crate) fn append(&mut self, seq: u64, payload: &[u8], durable: bool) -> Result<()> {
        debug_assert_eq!(seq, self.next);
        record::emit(&mut self.held, seq, payload, self.dev.sector_size());
        self.next = seq + 1;
        if durable || self.held.len() >= LAZY_HOLD {
            let r = self.write_held(durable);
            if r.is_err() {
                self.failed = true;
            }
            r?;
        }
        Ok(())
    }

    fn write_held(&mut self, flush: bool) -> Result<()> {
        if !self.held.is_empty() {
            let at = self.written;
            if flush {
                self.dev
                    .write_durable(at, &self.held)
                    .map_err(|e| device("durable write", at, e))?;
            } else {
                self.dev
                    .write(at, &self.held)
                    .map_err(|e| device("write", at, e))?;
            }
            self.written += self.held.len() as u64;
            self.held.clear();
        } else if flush {
            self.dev
                .flush()
                .map_err(|e| device("flush", self.written, e))?;
        }
        Ok(())
    }

    /// The sequence number of the last commit logged.
    pub(crate) fn last(&self) -> u64 {
        self.next - 1
    }

    /// Whether anything was logged since the last checkpoint.
    pub(crate) fn is_empty(&self) -> bool {
        self.written == 0 && self.held.is_empty()
    }

    /// A checkpoint that holds commit `seq` is durable: the log starts again.
    pub(crate) fn checkpointed(&mut self, seq: u64) {
        self.next = seq + 1;
        self.written = 0;
        self.held.clear();
    }

    /// Marks the log failed (a checkpoint failed half way).
    pub(crate) fn fail(&mut self) {
        self.failed = true;
    }
}

/// Reads the records after checkpoint `applied`, in order, and hands each
/// payload to `apply`; returns the last sequence number applied.
pub(crate) fn replay(
    dev: &dyn LogDevice,
    applied: u64,
    mut apply: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<u64> {
    let ss = dev.sector_size();
    let len = dev.len();
    let mut reader = Reader {
        dev,
        start: 0,
        buf: Vec::new(),
    };
    let (mut at, mut expect) = (0u64, applied + 1);
    while at < len {
        let head = reader.get(at, ss)?;
        let Header::Record { length, sequence } = record::header(head) else {
            break;
        };
        if sequence != expect {
            break;
        }
        let total = record::padded_len(length, ss) as u64;
        if total > len - at {
            break;
        }
        let bytes = reader.get(at, total as usize)?;
        let Some(payload) = record::payload(bytes) else {
            break;
        };
        apply(sequence, payload)?;
        at += total;
        expect += 1;
    }
    Ok(expect - 1)
}

/// Reads the region in large pieces, so recovery costs few device requests.
struct Reader<'d> {
    dev: &'d dyn LogDevice,
    start: u64,
    buf: Vec<u8>,
}

impl Reader<'_> {
    /// `len` bytes at region offset `at` (inside the region).
    fn get(&mut self, at: u64, len: usize) -> Result<&[u8]> {
        let end = at + len as u64;
        if at < self.start || end > self.start + self.buf.len() as u64 {
            let want = len.max(READ_CHUNK) as u64;
            let n = want.min(self.dev.len() - at) as usize;
            self.buf = vec![0u8; n];
            self.dev
                .read(at, &mut self.buf)
                .map_err(|e| device("read", at, e))?;
            self.start = at;
        }
        let from = (at - self.start) as usize;
        Ok(&self.buf[from..from + len])
    }
}

#[cfg(test)]
mod tests;
