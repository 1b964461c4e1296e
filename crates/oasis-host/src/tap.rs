//! Opening a Linux TAP interface (`/dev/net/tun`), for the monitor's
//! `--net:NAME=TAP` and the hosted platform's TAP device.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Opens the TAP interface `name` (non-blocking, close-on-exec, no packet
/// information header): each `read` gives one frame, each `write` sends one.
pub fn open_tap(name: &str) -> io::Result<File> {
    open(name, 0)
}

/// Opens the TAP interface `name` as [`open_tap`] does, with every frame
/// read and written behind a `virtio_net_hdr` (`IFF_VNET_HDR`;
/// `oasis_frame::gso`): a write may then hand the host a TCP packet of
/// many segments at once. No offload is offered for reading (no
/// `TUNSETOFFLOAD`), so frames read are whole, their checksums complete.
pub fn open_tap_vnet(name: &str) -> io::Result<File> {
    open(name, libc::IFF_VNET_HDR)
}

fn open(name: &str, flags: libc::c_int) -> io::Result<File> {
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
        flags: (libc::IFF_TAP | libc::IFF_NO_PI | flags) as libc::c_short,
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes one `struct ifreq`, which IfReq matches in size.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_do_not_fit_an_interface_are_refused_before_any_open() {
        for name in ["", "a-name-longer-than-fifteen"] {
            let e = open_tap(name).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{name}: {e}");
            assert!(e.to_string().contains("1 to 15 bytes"), "{e}");
        }
    }
}
