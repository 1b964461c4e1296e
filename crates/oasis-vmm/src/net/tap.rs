//! `--net:NAME=TAP`: a net device backed by a TAP interface, moving frames
//! between the TAP and the guest's rings in batches: reads go straight into
//! RX ring slots, writes straight from TX ring slots (no copy beyond the
//! TAP's own).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use oasis_abi::ring::Ring;

use super::NetError;

/// A TAP interface with the guest's two rings.
pub struct TapNet {
    file: File,
    rx: Ring,
    tx: Ring,
}

pub use oasis_host::tap::open_tap;

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
