//! `--net:NAME=TAP`: a net device backed by a TAP interface, moving frames
//! between the TAP and the guest's rings in batches: reads go straight into
//! RX ring slots, writes straight from TX ring slots (no copy beyond the
//! TAP's own). Every frame crosses the TAP behind a `virtio_net_hdr`, so
//! that the data segments of one TCP connection in a batch leave as one
//! GSO packet, one `writev` gathering their payloads where they lie
//! (`oasis_frame::gso`; ARCHITECTURE.md §2).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use oasis_abi::ring::Ring;
use oasis_frame::gso::{self, Packet, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, VnetHdr};

use super::NetError;

/// A TAP interface with the guest's two rings.
pub struct TapNet {
    file: File,
    rx: Ring,
    tx: Ring,
    /// `writev`s to the TAP (a train of segments is one).
    pub writes: u64,
}

/// Opens the TAP for a guest: frames behind a `virtio_net_hdr`.
pub use oasis_host::tap::open_tap_vnet as open_tap;

/// A TAP attachment's text, `TAP` or `TAP,mac=02:00:0a:00:00:0b`: the
/// interface's name and the guest's MAC address, if one is fixed. Without
/// `mac=` the VMM draws a random one each boot; a fixed one lets a guest
/// booted again on the same address keep its place in its peers' neighbour
/// caches (`oasis summon` restarts services that way).
pub fn parse_backing(backing: &str) -> Result<(&str, Option<[u8; 6]>), String> {
    let mut parts = backing.split(',');
    let tap = parts.next().unwrap_or_default();
    if tap.is_empty() {
        return Err(format!("{backing:?}: no TAP interface named"));
    }
    let mut mac = None;
    for part in parts {
        let Some(text) = part.strip_prefix("mac=") else {
            return Err(format!("{part:?}: a TAP takes only mac=XX:XX:XX:XX:XX:XX"));
        };
        mac = Some(parse_mac(text).ok_or_else(|| {
            format!("mac={text}: expected six hex bytes, unicast (02:00:0a:00:00:0b)")
        })?);
    }
    Ok((tap, mac))
}

/// `XX:XX:XX:XX:XX:XX`, a unicast address (the low bit of the first byte clear).
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut bytes = text.split(':');
    for b in &mut mac {
        let part = bytes.next()?;
        if part.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(part, 16).ok()?;
    }
    (bytes.next().is_none() && mac[0] & 1 == 0).then_some(mac)
}

impl TapNet {
    /// The RX and TX rings.
    pub fn rings(&self) -> (&Ring, &Ring) {
        (&self.rx, &self.tx)
    }

    /// A device over `file` with rings the VMM placed and initialised.
    pub fn new(file: File, rx: Ring, tx: Ring) -> TapNet {
        TapNet {
            file,
            rx,
            tx,
            writes: 0,
        }
    }

    /// The TAP's descriptor, for polling.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Whether the RX ring holds frames the guest has not taken.
    pub fn rx_pending(&self) -> Result<bool, NetError> {
        Ok(self.rx.pending().map_err(NetError::Ring)? > 0)
    }

    /// Reads frames from the TAP into free RX slots until the TAP is empty or
    /// the ring is full; returns how many. A frame whose checksum the host
    /// left partial has it completed here (none should: no offload is
    /// offered for reading).
    pub fn fill_rx(&mut self) -> Result<u32, NetError> {
        let mut n = 0;
        let mut hdr = [0u8; VNET_HDR_LEN];
        loop {
            let fd = self.fd();
            let Some(slot) = self.rx.next_free().map_err(NetError::Ring)? else {
                return Ok(n);
            };
            let iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: slot.as_mut_ptr().cast(),
                    iov_len: slot.len(),
                },
            ];
            // SAFETY: reads at most the header's and the slot's bytes into them.
            let got = unsafe { libc::readv(fd, iov.as_ptr(), 2) };
            if got < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(n),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(NetError::Io(e)),
                };
            }
            let Some(len) = (got as usize).checked_sub(VNET_HDR_LEN) else {
                continue;
            };
            let vnet = VnetHdr::from_bytes(&hdr);
            if vnet.flags & VNET_F_NEEDS_CSUM != 0 {
                gso::complete_checksum(&mut slot[..len], &vnet);
            }
            self.rx.produce(len).map_err(NetError::Ring)?;
            n += 1;
        }
    }

    /// Writes every frame in the TX ring to the TAP, each connection's data
    /// segments joined into trains (`oasis_frame::gso::plan`); returns how
    /// many frames. A packet the TAP cannot take now is dropped, as on a
    /// real link; a train the host refuses is written again frame by frame.
    pub fn drain_tx(&mut self) -> Result<u32, NetError> {
        let pending = self.tx.pending().map_err(NetError::Ring)?;
        if pending == 0 {
            return Ok(0);
        }
        let mut frames = Vec::with_capacity(pending as usize);
        for i in 0..pending {
            match self.tx.peek_nth(i).map_err(NetError::Ring)? {
                Some(f) => frames.push(f),
                None => break,
            }
        }
        let fd = self.file.as_raw_fd();
        let mut writes = 0u64;
        let mut failed = None;
        let mut head = [0u8; gso::HEADER_MAX];
        let mut iov: Vec<libc::iovec> = Vec::with_capacity(gso::MAX_SEGMENTS + 1);
        gso::plan(&frames, |packet| {
            if failed.is_some() {
                return;
            }
            let result = match packet {
                Packet::Single(i) => write_plain(fd, frames[i]),
                Packet::Train(train, members) => {
                    let len = train.header(frames[usize::from(members[0])], &mut head);
                    iov.clear();
                    iov.push(libc::iovec {
                        iov_base: head.as_mut_ptr().cast(),
                        iov_len: len,
                    });
                    for &m in members {
                        let f = frames[usize::from(m)];
                        let at = len - VNET_HDR_LEN;
                        iov.push(libc::iovec {
                            iov_base: f[at..].as_ptr().cast_mut().cast(),
                            iov_len: f.len() - at,
                        });
                    }
                    match writev(fd, &iov) {
                        // Refused as a train (the host's own checks): one by one.
                        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => members
                            .iter()
                            .try_for_each(|&m| write_plain(fd, frames[usize::from(m)])),
                        other => other,
                    }
                }
            };
            writes += 1;
            if let Err(e) = result {
                failed = Some(e);
            }
        });
        self.writes += writes;
        if let Some(e) = failed {
            return Err(NetError::Io(e));
        }
        self.tx.consume_n(frames.len() as u32);
        Ok(frames.len() as u32)
    }
}

/// Writes one frame behind a header that asks nothing of the host.
fn write_plain(fd: RawFd, frame: &[u8]) -> io::Result<()> {
    let plain = VnetHdr::PLAIN;
    let iov = [
        libc::iovec {
            iov_base: plain.as_ptr().cast_mut().cast(),
            iov_len: VNET_HDR_LEN,
        },
        libc::iovec {
            iov_base: frame.as_ptr().cast_mut().cast(),
            iov_len: frame.len(),
        },
    ];
    writev(fd, &iov)
}

/// One `writev` of `iov`; a full TAP queue drops the packet, as a link would.
fn writev(fd: RawFd, iov: &[libc::iovec]) -> io::Result<()> {
    loop {
        // SAFETY: every iovec names bytes that live through the call.
        let put = unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as libc::c_int) };
        if put >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return Ok(()),
            _ => return Err(e),
        }
    }
}

#[cfg(test)]
mod backing_tests {
    use super::parse_backing;

    #[test]
    fn a_tap_backing_names_the_interface_and_may_fix_the_mac() {
        assert_eq!(parse_backing("tap0"), Ok(("tap0", None)));
        assert_eq!(
            parse_backing("tap-a,mac=02:00:0a:00:00:0B"),
            Ok(("tap-a", Some([2, 0, 10, 0, 0, 11])))
        );
        for bad in [
            "",
            "tap0,mac=01:00:00:00:00:01",
            "tap0,mac=02:00:00:00:00",
            "tap0,mac=02:00:00:00:00:00:00",
            "tap0,mtu=9000",
        ] {
            assert!(parse_backing(bad).is_err(), "{bad:?}");
        }
    }
}
