//! The host system calls the socket stack needs: non-blocking descriptors
//! registered with the platform's readiness (the runtime's `Readiness`: an
//! epoll on hosted), and socket addresses both ways.

extern crate std;

use alloc::format;
use alloc::string::String;
use core::future::poll_fn;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use oasis_rt::platform::Readiness;

use crate::error::NetError;

/// The calling thread's last OS error number.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// An error for a failed call `what`.
pub(crate) fn io(what: String) -> NetError {
    NetError::Io {
        what,
        errno: errno(),
    }
}

/// A non-blocking socket watched by the platform; deregistered and closed on drop.
pub(crate) struct Fd {
    fd: OwnedFd,
    token: usize,
    readiness: &'static dyn Readiness,
}

impl Fd {
    /// Takes ownership of `raw` (already non-blocking) and registers it.
    pub(crate) fn new(raw: RawFd, what: &str) -> Result<Fd, NetError> {
        // SAFETY: the caller hands over a fresh descriptor it owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let readiness = oasis_rt::platform::readiness().ok_or_else(|| {
            NetError::Config(format!(
                "{what}: this platform has no host descriptors to wait on"
            ))
        })?;
        let token = readiness
            .register(fd.as_raw_fd())
            .map_err(|errno| NetError::Io {
                what: format!("watching {what} for readiness"),
                errno,
            })?;
        Ok(Fd {
            fd,
            token,
            readiness,
        })
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Waits until input may be waiting, after a call hit EAGAIN.
    pub(crate) async fn readable(&self) {
        self.readiness.drained(self.token);
        poll_fn(|cx| self.readiness.poll_readable(self.token, cx)).await
    }

    /// Waits until output may be accepted, after a call hit EAGAIN.
    pub(crate) async fn writable(&self) {
        self.readiness.write_blocked(self.token);
        poll_fn(|cx| self.readiness.poll_writable(self.token, cx)).await
    }

    /// Sets an integer socket option.
    pub(crate) fn set_int(
        &self,
        level: i32,
        name: i32,
        value: i32,
        what: &str,
    ) -> Result<(), NetError> {
        // SAFETY: valid fd, pointer and length of one c_int.
        let r = unsafe {
            libc::setsockopt(
                self.raw(),
                level,
                name,
                (&value as *const i32).cast(),
                core::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if r < 0 {
            Err(io(format!("setsockopt {what}")))
        } else {
            Ok(())
        }
    }

    /// Reads and clears the pending socket error (SO_ERROR).
    pub(crate) fn take_error(&self) -> i32 {
        let mut v: i32 = 0;
        let mut len = core::mem::size_of::<i32>() as libc::socklen_t;
        // SAFETY: valid fd, pointer and length of one c_int.
        let r = unsafe {
            libc::getsockopt(
                self.raw(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut v as *mut i32).cast(),
                &mut len,
            )
        };
        if r < 0 { errno() } else { v }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        self.readiness.deregister(self.fd.as_raw_fd(), self.token);
    }
}

/// Opens a non-blocking socket of `family` and `kind`.
pub(crate) fn socket(family: i32, kind: i32, what: &str) -> Result<Fd, NetError> {
    // SAFETY: plain syscall; the result is checked.
    let raw = unsafe { libc::socket(family, kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io(format!("socket for {what}")));
    }
    Fd::new(raw, what)
}

/// Writes `addr` as a `sockaddr` for a socket of `family`: a v4 address
/// towards an IPv6 socket becomes v4-mapped. Returns the length used.
pub(crate) fn write_sockaddr(
    addr: SocketAddr,
    family: i32,
    out: &mut libc::sockaddr_storage,
) -> libc::socklen_t {
    let (ip6, port, flow, scope) = match (addr, family) {
        (SocketAddr::V4(a), libc::AF_INET) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin =
                unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            return core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        }
        (SocketAddr::V4(a), _) => (a.ip().to_ipv6_mapped(), a.port(), 0, 0),
        (SocketAddr::V6(a), _) => (*a.ip(), a.port(), a.flowinfo(), a.scope_id()),
    };
    // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
    let sin6 = unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sin6.sin6_port = port.to_be();
    sin6.sin6_flowinfo = flow;
    sin6.sin6_addr = libc::in6_addr {
        s6_addr: ip6.octets(),
    };
    sin6.sin6_scope_id = scope;
    core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
}

/// Reads a `sockaddr` the kernel wrote; a v4-mapped IPv6 address becomes v4.
pub(crate) fn read_sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 =
                unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, port)),
                None => SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    port,
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )),
            })
        }
        _ => None,
    }
}

/// An all-zero `sockaddr_storage`.
pub(crate) fn empty_sockaddr() -> libc::sockaddr_storage {
    // SAFETY: all-zero is a valid sockaddr_storage.
    unsafe { core::mem::zeroed() }
}

/// The address family for binding to `ip`.
pub(crate) fn family_of(ip: IpAddr) -> i32 {
    if ip.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    }
}

/// Binds `fd` to `addr`.
pub(crate) fn bind(fd: &Fd, addr: SocketAddr, family: i32, what: &str) -> Result<(), NetError> {
    let mut sa = empty_sockaddr();
    let len = write_sockaddr(addr, family, &mut sa);
    // SAFETY: valid fd and sockaddr of the stated length.
    let r = unsafe { libc::bind(fd.raw(), (&sa as *const libc::sockaddr_storage).cast(), len) };
    if r < 0 {
        if errno() == libc::EADDRINUSE {
            return Err(NetError::AddressInUse(addr.port()));
        }
        return Err(io(format!("bind {what} to {addr}")));
    }
    Ok(())
}

/// The local port `fd` is bound to.
pub(crate) fn local_port(fd: &Fd) -> u16 {
    let mut sa = empty_sockaddr();
    let mut len = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: valid fd and buffer of the stated length.
    let r = unsafe {
        libc::getsockname(
            fd.raw(),
            (&mut sa as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return 0;
    }
    read_sockaddr(&sa).map_or(0, |a| a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddrs_round_trip_and_v4_mapped_becomes_v4() {
        let v4: SocketAddr = "10.0.0.2:7".parse().unwrap();
        let v6: SocketAddr = "[fd00::2]:53".parse().unwrap();
        for (addr, family) in [
            (v4, libc::AF_INET),
            (v4, libc::AF_INET6),
            (v6, libc::AF_INET6),
        ] {
            let mut s = empty_sockaddr();
            write_sockaddr(addr, family, &mut s);
            assert_eq!(i32::from(s.ss_family), family);
            assert_eq!(read_sockaddr(&s), Some(addr), "{addr} as family {family}");
        }
        assert_eq!(read_sockaddr(&empty_sockaddr()), None);
    }
}
