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
