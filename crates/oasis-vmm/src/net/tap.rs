//! `--net:NAME=TAP`: a net device backed by a TAP interface, moving frames
//! between the TAP and the guest's rings in batches: reads go straight into
//! RX ring slots, writes straight from TX ring slots (no copy beyond the
//! TAP's own).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use oasis_abi::ring::Ring;

use super::NetError;

/// A TAP interface with the guest's two rings.
pub struct TapNet {
    file: File,
    rx: Ring,
    tx: Ring,
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens the TAP interface `name` (non-blocking, no packet information header).
pub fn open_tap(name: &str) -> io::Result<File> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name must be 1 to {} bytes", libc::IFNAMSIZ - 1),
        ));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which IfReq matches in size.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

impl TapNet {
    /// A device over `file` with rings the VMM placed and initialised.
    pub fn new(file: File, rx: Ring, tx: Ring) -> TapNet {
        TapNet { file, rx, tx }
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
    /// the ring is full; returns how many.
    pub fn fill_rx(&mut self) -> Result<u32, NetError> {
        let mut n = 0;
        loop {
            let fd = self.fd();
            let Some(slot) = self.rx.next_free().map_err(NetError::Ring)? else {
                return Ok(n);
            };
            // SAFETY: reads at most slot.len() bytes into the slot.
            let got = unsafe { libc::read(fd, slot.as_mut_ptr().cast(), slot.len()) };
            if got < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(n),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(NetError::Io(e)),
                };
            }
            self.rx.produce(got as usize).map_err(NetError::Ring)?;
            n += 1;
        }
    }

    /// Writes every frame in the TX ring to the TAP; returns how many. A
    /// frame the TAP cannot take now is dropped, as on a real link.
    pub fn drain_tx(&mut self) -> Result<u32, NetError> {
        let mut n = 0;
        while let Some(frame) = self.tx.peek().map_err(NetError::Ring)? {
            // SAFETY: writes frame.len() bytes from the slot.
            let put =
                unsafe { libc::write(self.file.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
            if put < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => {}
                    _ => return Err(NetError::Io(e)),
                }
            }
            self.tx.consume();
            n += 1;
        }
        Ok(n)
    }
}
