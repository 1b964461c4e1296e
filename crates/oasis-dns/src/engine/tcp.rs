//! DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766): each message is
//! preceded by its length as two bytes; a connection carries many queries.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Largest message a two-byte length can announce.
const MAX_MESSAGE: usize = 65535;

/// A new connection's buffer: a typical query and then some.
const FIRST: usize = 512;

/// Why a stream cannot go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpError {
    /// A zero-length message was announced.
    EmptyMessage,
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpError::EmptyMessage => f.write_str("zero-length DNS message on a TCP stream"),
        }
    }
}

impl core::error::Error for TcpError {}

/// Reassembles length-prefixed queries from the bytes of one TCP stream.
/// Its buffer starts small and grows to what the messages announce (at
/// most a whole message), so a server holding many idle connections
/// holds little memory for them.
pub struct TcpFramer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Default for TcpFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl TcpFramer {
    /// A framer for a new connection.
    pub fn new() -> TcpFramer {
        TcpFramer {
            buf: vec![0u8; FIRST],
            start: 0,
            end: 0,
        }
    }

    /// The free space to receive stream bytes into; report how many were
    /// written with [`TcpFramer::filled`].
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 && (self.end == self.buf.len() || self.start == self.end) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Full (and compacted, so the message arriving starts at 0):
            // room for what its prefix announces, or twice as much.
            let announced = match self.buf.get(..2) {
                Some(p) => 2 + u16::from_be_bytes([p[0], p[1]]) as usize,
                None => 0,
            };
            let grown = (self.buf.len() * 2).max(announced).min(2 + MAX_MESSAGE);
            if grown > self.buf.len() {
                self.buf.resize(grown, 0);
            }
        }
        &mut self.buf[self.end..]
    }

    /// Records that `n` bytes were written into [`TcpFramer::spare`].
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Copies `data` in, as much as fits; gives how much was taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let spare = self.spare();
        let n = data.len().min(spare.len());
        spare[..n].copy_from_slice(&data[..n]);
        self.filled(n);
        n
    }

    /// The next complete message, if one has fully arrived.
    pub fn next_message(&mut self) -> Result<Option<&[u8]>, TcpError> {
        let avail = &self.buf[self.start..self.end];
        if avail.len() < 2 {
            return Ok(None);
        }
        let len = u16::from_be_bytes([avail[0], avail[1]]) as usize;
        if len == 0 {
            return Err(TcpError::EmptyMessage);
        }
        if avail.len() < 2 + len {
            return Ok(None);
        }
        let at = self.start + 2;
        self.start += 2 + len;
        Ok(Some(&self.buf[at..at + len]))
    }
}

/// Frames a response of `len` bytes that was written at `out[2..]`, by
/// putting its length in `out[..2]`; gives the bytes to send.
pub fn frame(out: &mut [u8], len: usize) -> &[u8] {
    let len = len.min(MAX_MESSAGE).min(out.len().saturating_sub(2));
    out[..2].copy_from_slice(&(len as u16).to_be_bytes());
    &out[..2 + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_starts_small_and_grows_to_a_whole_largest_message() {
        let mut f = TcpFramer::new();
        assert_eq!(f.spare().len(), FIRST);
        let mut msg = vec![0u8; 2 + MAX_MESSAGE];
        msg[..2].copy_from_slice(&(MAX_MESSAGE as u16).to_be_bytes());
        msg[2..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = i as u8);
        let mut sent = 0;
        // In pieces of 1000 bytes, as a slow stream delivers it.
        while sent < msg.len() {
            sent += f.push(&msg[sent..(sent + 1000).min(msg.len())]);
        }
        assert_eq!(f.next_message().unwrap(), Some(&msg[2..]));
        assert_eq!(f.next_message().unwrap(), None);
        assert!(f.buf.len() <= 2 + MAX_MESSAGE);
    }

    #[test]
    fn splits_several_messages_across_reads() {
        let mut f = TcpFramer::new();
        assert_eq!(f.push(b"\x00\x03ab"), 4);
        assert_eq!(f.next_message(), Ok(None));
        f.push(b"c\x00\x01z\x00");
        assert_eq!(f.next_message(), Ok(Some(&b"abc"[..])));
        assert_eq!(f.next_message(), Ok(Some(&b"z"[..])));
        assert_eq!(f.next_message(), Ok(None));
        f.push(b"\x00");
        assert_eq!(f.next_message(), Err(TcpError::EmptyMessage));
    }

    #[test]
    fn frames_a_response() {
        let mut out = [0u8; 8];
        out[2..5].copy_from_slice(b"xyz");
        assert_eq!(frame(&mut out, 3), b"\x00\x03xyz");
    }
}
