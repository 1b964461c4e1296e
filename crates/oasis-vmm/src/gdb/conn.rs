//! The debugger's end of one client's TCP connection: bytes in are
//! buffered (read without blocking when the guest runs, waited for when
//! it is stopped), bytes out are gathered per packet and sent on flush.
//! Bytes between packets other than `$`, an ack (`+`) or Ctrl-C are
//! dropped here, where gdbstub would end the session on them; so is a nack
//! (`-`): gdbstub cannot resend, and TCP does not corrupt a packet. A
//! packet longer than [`PACKET_SIZE`] (what the stub tells gdb it takes)
//! ends the session: gdbstub's own buffer would grow without bound.
//! A client that stops reading for [`SEND_TIMEOUT`] is dropped rather than
//! left to block the VMM.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

/// The longest packet a client may send, `$` to checksum (gdbstub's
/// buffer; it reports this size to gdb).
pub const PACKET_SIZE: usize = 4096;

/// Longest a send may block on a client that does not read.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a wait for the client's bytes ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Wait {
    /// Bytes are buffered.
    Ready,
    /// A signal or another client interrupted the wait (the caller
    /// checks which).
    Interrupted,
}

/// Where the input is in the protocol's framing (`$BODY#XX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Between packets.
    Between,
    /// After `$`, up to `#`: this many bytes of the packet so far.
    Body(usize),
    /// This many checksum digits to come.
    Checksum(u8),
}

/// One connected client.
pub struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    input: VecDeque<u8>,
    output: Vec<u8>,
    framing: Framing,
}

impl Client {
    /// Wraps an accepted connection (already signal-driven, non-blocking).
    pub fn new(stream: TcpStream, peer: SocketAddr) -> io::Result<Client> {
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            peer,
            input: VecDeque::new(),
            output: Vec::new(),
            framing: Framing::Between,
        })
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// The next buffered byte for the stub, if any (junk between packets
    /// skipped); an error when the client's packet is too long.
    pub fn next_byte(&mut self) -> io::Result<Option<u8>> {
        while let Some(byte) = self.input.pop_front() {
            let (framing, keep) = frame(self.framing, byte)?;
            self.framing = framing;
            if keep {
                return Ok(Some(byte));
            }
        }
        Ok(None)
    }

    /// Reads everything the socket holds now, without blocking. An error
    /// (`UnexpectedEof` when the client closed) means the client is gone.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reads at most buf.len() bytes into buf.
            let n = unsafe {
                libc::recv(
                    self.fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            match n {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n if n > 0 => self.input.extend(&buf[..n as usize]),
                _ => {
                    let e = io::Error::last_os_error();
                    return match e.kind() {
                        io::ErrorKind::WouldBlock => Ok(()),
                        io::ErrorKind::Interrupted => continue,
                        _ => Err(e),
                    };
                }
            }
        }
    }

    /// Waits until bytes are buffered, `also` is readable (the listening
    /// socket: another client knocks) or a signal arrives.
    pub fn wait(&mut self, also: RawFd) -> io::Result<Wait> {
        loop {
            self.drain()?;
            if !self.input.is_empty() {
                return Ok(Wait::Ready);
            }
            let mut pfds = [self.fd(), also].map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            // SAFETY: two valid pollfds; no timeout, no signal mask.
            let r =
                unsafe { libc::ppoll(pfds.as_mut_ptr(), 2, std::ptr::null(), std::ptr::null()) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    return Ok(Wait::Interrupted);
                }
                return Err(e);
            }
            if pfds[1].revents != 0 {
                return Ok(Wait::Interrupted);
            }
        }
    }

    fn send_all(&mut self) -> io::Result<()> {
        let mut sent = 0;
        while sent < self.output.len() {
            let rest = &self.output[sent..];
            // SAFETY: sends at most rest.len() bytes from rest.
            let n = unsafe {
                libc::send(
                    self.fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                sent += n as usize;
                continue;
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => {}
                // The socket is non-blocking (signal-driven): wait for room,
                // but not for ever.
                io::ErrorKind::WouldBlock => {
                    let mut pfd = libc::pollfd {
                        fd: self.fd(),
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    let ts = libc::timespec {
                        tv_sec: SEND_TIMEOUT.as_secs() as libc::time_t,
                        tv_nsec: 0,
                    };
                    // SAFETY: one valid pollfd and timespec.
                    let r = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
                    if r == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the client reads nothing",
                        ));
                    }
                }
                _ => return Err(e),
            }
        }
        self.output.clear();
        Ok(())
    }
}

/// The framing after `byte`, and whether the stub gets it; an error for a
/// packet longer than [`PACKET_SIZE`].
fn frame(at: Framing, byte: u8) -> io::Result<(Framing, bool)> {
    Ok(match (at, byte) {
        (Framing::Between, b'$') => (Framing::Body(1), true),
        (Framing::Between, b'+' | 0x03) => (Framing::Between, true),
        (Framing::Between, _) => (Framing::Between, false),
        (Framing::Body(_), b'#') => (Framing::Checksum(2), true),
        // This byte, then `#` and two digits.
        (Framing::Body(n), _) if n + 4 > PACKET_SIZE => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a packet longer than {PACKET_SIZE} bytes"),
            ));
        }
        (Framing::Body(n), _) => (Framing::Body(n + 1), true),
        (Framing::Checksum(2), _) => (Framing::Checksum(1), true),
        (Framing::Checksum(_), _) => (Framing::Between, true),
    })
}

impl gdbstub::conn::Connection for Client {
    type Error = io::Error;

    fn write(&mut self, byte: u8) -> io::Result<()> {
        self.output.push(byte);
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.output.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(input: &[u8]) -> Vec<u8> {
        let mut at = Framing::Between;
        let mut out = Vec::new();
        for &b in input {
            let (next, keep) = frame(at, b).unwrap();
            at = next;
            if keep {
                out.push(b);
            }
        }
        out
    }

    #[test]
    fn junk_between_packets_is_dropped_and_packets_pass_whole() {
        assert_eq!(kept(b"junk\r\n$?#3f+xx\x03"), b"$?#3f+\x03");
        // Inside a packet everything passes, `$` and Ctrl-C included.
        assert_eq!(kept(b"$m$\x03zz#a1zz"), b"$m$\x03zz#a1");
        assert_eq!(kept(b"\x00\xff#####-+"), b"+");
    }

    #[test]
    fn a_packet_of_the_stubs_size_passes_and_a_longer_one_is_refused() {
        let body = "m".repeat(PACKET_SIZE - 4);
        let fits = format!("${body}#00");
        assert_eq!(fits.len(), PACKET_SIZE);
        assert_eq!(kept(fits.as_bytes()).len(), PACKET_SIZE);
        let mut at = Framing::Between;
        let long = format!("${body}m#00");
        let refused = long.bytes().try_for_each(|b| {
            at = frame(at, b)?.0;
            Ok::<(), io::Error>(())
        });
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("longer than 4096")
        );
    }
}
