//! The chunked transfer coding (RFC 9112 §7.1): an incremental decoder for
//! request bodies, fed whatever has arrived, and the encoder's framing for
//! streamed responses.
//!
//! The decoder is strict where leniency lets two parsers disagree about
//! where a message ends (request smuggling): every line ends in CRLF, a
//! chunk size is hex digits only (at most 15 of them), and a chunk's data
//! must be followed by CRLF. Extensions are skipped and trailers read and
//! dropped, each within a bound.

use alloc::vec::Vec;

/// Longest chunk-size line (size, extensions) or trailer section accepted.
pub const MAX_LINE: usize = 4096;

/// Why a chunked body was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// Not the chunked coding: a 400.
    Malformed,
    /// The decoded body would exceed the limit: a 413.
    TooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size.
    Size { digits: u8, size: u64 },
    /// After the size: extensions up to CR.
    Ext { size: u64 },
    /// The LF of the size line.
    SizeLf { size: u64 },
    /// Chunk data, this much to go.
    Data { left: u64 },
    /// The CR after a chunk's data.
    DataCr,
    /// The LF after a chunk's data.
    DataLf,
    /// Trailer lines after the last chunk; `empty` while the current
    /// line has no byte yet.
    Trailer { empty: bool },
    /// The LF of a trailer line (`last`: the empty line that ends the body).
    TrailerLf { last: bool },
    /// The body is complete.
    Done,
}

/// An incremental decoder of one chunked body.
#[derive(Clone, Debug)]
pub struct Decoder {
    state: State,
    /// Bytes of the current size line or of the trailers, against [`MAX_LINE`].
    line: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder at the start of a body.
    pub fn new() -> Decoder {
        Decoder {
            state: State::Size { digits: 0, size: 0 },
            line: 0,
        }
    }

    /// Whether the whole body (last chunk and trailers) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`, appending chunk data to `body` while it stays
    /// within `max_body` bytes. Returns how many bytes of `input` were used:
    /// all of them until the body ends, then only those up to its end (what
    /// follows is the next request).
    pub fn decode(
        &mut self,
        input: &[u8],
        body: &mut Vec<u8>,
        max_body: usize,
    ) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => return Ok(i),
                State::Data { left } => {
                    let n = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    if body.len() + n > max_body {
                        return Err(ChunkError::TooLarge);
                    }
                    body.extend_from_slice(&input[i..i + n]);
                    i += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { left }
                    };
                    continue;
                }
                _ => {}
            }
            self.line += 1;
            if self.line > MAX_LINE {
                return Err(ChunkError::Malformed);
            }
            self.state = match (self.state, b) {
                (State::Size { digits, size }, _) if b.is_ascii_hexdigit() => {
                    if digits >= 15 {
                        return Err(ChunkError::Malformed);
                    }
                    let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                    State::Size {
                        digits: digits + 1,
                        size: size * 16 + d,
                    }
                }
                (State::Size { digits, size }, b';' | b' ' | b'\t') if digits > 0 => {
                    State::Ext { size }
                }
                (State::Size { digits, size }, b'\r') if digits > 0 => State::SizeLf { size },
                (State::Ext { size }, b'\r') => State::SizeLf { size },
                (State::Ext { .. }, b'\n') => return Err(ChunkError::Malformed),
                (State::Ext { size }, _) => State::Ext { size },
                (State::SizeLf { size }, b'\n') => {
                    self.line = 0;
                    if size == 0 {
                        State::Trailer { empty: true }
                    } else if body.len() as u64 + size > max_body as u64 {
                        return Err(ChunkError::TooLarge);
                    } else {
                        State::Data { left: size }
                    }
                }
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataLf, b'\n') => {
                    self.line = 0;
                    State::Size { digits: 0, size: 0 }
                }
                (State::Trailer { empty }, b'\r') => State::TrailerLf { last: empty },
                (State::Trailer { .. }, b'\n') => return Err(ChunkError::Malformed),
                (State::Trailer { .. }, _) => State::Trailer { empty: false },
                (State::TrailerLf { last: true }, b'\n') => {
                    i += 1;
                    self.state = State::Done;
                    return Ok(i);
                }
                (State::TrailerLf { last: false }, b'\n') => State::Trailer { empty: true },
                _ => return Err(ChunkError::Malformed),
            };
            i += 1;
        }
        Ok(i)
    }
}

/// The line that starts a chunk of `len` bytes of a streamed response.
pub fn chunk_head(len: usize, out: &mut Vec<u8>) {
    use core::fmt::Write;
    let mut s = heapless_hex::Hex::default();
    let _ = write!(s, "{len:x}");
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The last chunk and the end of a streamed response (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Encodes `body` as one chunk per piece of `pieces` (a test and fuzz aid:
/// the sizes of the chunks; what is left goes in a final chunk).
pub fn encode(body: &[u8], pieces: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    for &p in pieces {
        let n = p.min(rest.len());
        if n == 0 {
            continue;
        }
        chunk_head(n, &mut out);
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        chunk_head(rest.len(), &mut out);
        out.extend_from_slice(rest);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(LAST_CHUNK);
    out
}

/// A hex number written without allocating.
mod heapless_hex {
    /// Room for a `usize` in hex.
    #[derive(Default)]
    pub struct Hex {
        buf: [u8; 16],
        len: usize,
    }

    impl Hex {
        pub fn as_bytes(&self) -> &[u8] {
            &self.buf[..self.len]
        }
    }

    impl core::fmt::Write for Hex {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    fn decode_all(input: &[u8], max: usize) -> Result<(Vec<u8>, usize, bool), ChunkError> {
        let mut d = Decoder::new();
        let mut body = Vec::new();
        let n = d.decode(input, &mut body, max)?;
        Ok((body, n, d.is_done()))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers_and_stops_at_the_end() {
        let input = b"5;name=value\r\nhello\r\n7\r\n, world\r\n0\r\nX-Sum: 1\r\n\r\nGET /next";
        let (body, n, done) = decode_all(input, 100).unwrap();
        assert_eq!(body, b"hello, world");
        assert!(done);
        assert_eq!(&input[n..], b"GET /next");
    }

    #[test]
    fn refuses_what_could_be_read_two_ways() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..], // bare LF after the size
            b"5\r\nhelloX\r\n0\r\n\r\n",   // data longer than its size
            b"-5\r\nhello\r\n0\r\n\r\n",   // not hex
            b"\r\n",                       // no size
            b"0x5\r\nhello\r\n0\r\n\r\n",  // a prefix
            b"1000000000000000\r\n",       // 16 hex digits
            b"0\r\nX: 1\n\r\n",            // bare LF in a trailer
        ] {
            assert_eq!(
                decode_all(bad, 1 << 20).map(|r| r.0),
                Err(ChunkError::Malformed),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn a_body_past_the_limit_is_too_large_from_the_size_line() {
        // Refused from the chunk size, before its data arrives.
        assert_eq!(
            decode_all(b"fffff\r\n", 1000).map(|r| r.0),
            Err(ChunkError::TooLarge)
        );
        assert_eq!(
            decode_all(b"3\r\nabc\r\n3\r\ndef\r\n", 5).map(|r| r.0),
            Err(ChunkError::TooLarge)
        );
    }

    #[test]
    fn an_endless_extension_is_cut_off() {
        let mut input = b"1;".to_vec();
        input.resize(MAX_LINE + 10, b'a');
        assert_eq!(
            decode_all(&input, 1 << 20).map(|r| r.0),
            Err(ChunkError::Malformed)
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_any_input(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_all(&input, 256);
        }

        #[test]
        fn round_trips_any_body_in_any_chunks_fed_in_any_pieces(
            body in proptest::collection::vec(any::<u8>(), 0..2048),
            chunks in proptest::collection::vec(1usize..300, 0..10),
            cuts in proptest::collection::vec(1usize..64, 1..40),
        ) {
            let mut wire = encode(&body, &chunks);
            wire.extend_from_slice(b"NEXT");
            let mut d = Decoder::new();
            let mut got = Vec::new();
            let mut at = 0;
            let mut cut = cuts.iter().cycle();
            while !d.is_done() && at < wire.len() {
                let end = (at + cut.next().copied().unwrap_or(1)).min(wire.len());
                let used = d.decode(&wire[at..end], &mut got, 1 << 20).unwrap();
                prop_assert!(used == end - at || d.is_done());
                at += used;
            }
            prop_assert!(d.is_done());
            prop_assert_eq!(got, body);
            prop_assert_eq!(&wire[at..], b"NEXT");
        }
    }
}
