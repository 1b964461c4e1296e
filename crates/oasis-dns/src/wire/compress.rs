//! Name compression on emit (RFC 1035 §4.1.4).

use super::name::{MAX_HOPS, Name, walk};
use alloc::vec::Vec;

/// A pointer the compressor wrote: where it sits and where it points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pointer {
    /// Offset of the two pointer bytes in the message.
    pub at: usize,
    /// Offset the pointer refers to.
    pub target: usize,
}

/// Name compression on emit: remembers where each emitted name suffix
/// starts, and replaces later occurrences with pointers (RFC 1035 §4.1.4).
/// Matching is case-insensitive. Every pointer written is recorded, so a
/// caller that moves part of the message later can relocate them.
#[derive(Debug, Clone)]
pub struct Compressor {
    known: Vec<u16>,
    /// Every pointer written so far.
    pub pointers: Vec<Pointer>,
    /// Highest offset a pointer may refer to.
    max_target: usize,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

impl Compressor {
    /// A compressor that knows no names yet.
    pub fn new() -> Compressor {
        Compressor::with_max_target(0x3fff)
    }

    /// A compressor whose pointers refer at most to offset `max`, leaving
    /// room for the caller to move them later by up to `0x3fff - max`.
    pub fn with_max_target(max: usize) -> Compressor {
        Compressor {
            known: Vec::new(),
            pointers: Vec::new(),
            max_target: max.min(0x3fff),
        }
    }

    /// Makes the uncompressed or compressed name already at `at` in the
    /// message available as a compression target, with all its suffixes.
    pub fn remember(&mut self, msg: &[u8], at: usize) {
        let mut pos = at;
        let mut hops = 0;
        while let Some(&len) = msg.get(pos) {
            if len == 0 || hops > MAX_HOPS {
                break;
            }
            if len & 0xc0 == 0xc0 {
                let Some(&lo) = msg.get(pos + 1) else { break };
                pos = (((len & 0x3f) as usize) << 8) | lo as usize;
                hops += 1;
                continue;
            }
            if pos <= self.max_target && !self.known.contains(&(pos as u16)) {
                self.known.push(pos as u16);
            }
            pos += 1 + len as usize;
        }
    }

    /// Appends `name` to `msg`, compressed against earlier names when
    /// `compress` is true; its suffixes become targets in any case.
    pub fn emit(&mut self, msg: &mut Vec<u8>, name: &Name, compress: bool) {
        let starts: Vec<usize> = name.label_starts().collect();
        for &s in &starts {
            let suffix = &name.as_wire()[s..];
            if suffix == [0] {
                break;
            }
            if compress
                && let Some(&target) = self
                    .known
                    .iter()
                    .find(|&&k| matches_at(msg, k as usize, suffix))
            {
                {
                    let here = msg.len();
                    msg.extend_from_slice(&name.as_wire()[..s]);
                    self.remember_prefix(here, &name.as_wire()[..s]);
                    let at = msg.len();
                    msg.extend_from_slice(&(0xc000 | target).to_be_bytes());
                    self.pointers.push(Pointer {
                        at,
                        target: target as usize,
                    });
                    return;
                }
            }
        }
        let here = msg.len();
        msg.extend_from_slice(name.as_wire());
        self.remember_prefix(here, &name.as_wire()[..name.as_wire().len() - 1]);
    }

    fn remember_prefix(&mut self, at: usize, labels: &[u8]) {
        let mut pos = 0;
        while pos < labels.len() {
            if at + pos <= self.max_target {
                self.known.push((at + pos) as u16);
            }
            pos += 1 + labels[pos] as usize;
        }
    }
}

/// True if the (possibly compressed) name at `at` in `msg` equals the
/// uncompressed `suffix`, ignoring case.
fn matches_at(msg: &[u8], at: usize, suffix: &[u8]) -> bool {
    let mut pos = 0usize;
    let mut ok = true;
    let walked = walk(msg, at, |label| {
        if !ok {
            return;
        }
        let len = suffix.get(pos).copied().unwrap_or(0) as usize;
        if len != label.len()
            || !suffix
                .get(pos + 1..pos + 1 + len)
                .is_some_and(|l| l.eq_ignore_ascii_case(label))
        {
            ok = false;
        }
        pos += 1 + len;
    });
    ok && walked.is_ok() && suffix.get(pos) == Some(&0) && pos + 1 == suffix.len()
}
