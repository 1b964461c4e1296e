//! UDP on host sockets, batched with `recvmmsg` and `sendmmsg`.

use alloc::format;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::net::SocketAddr;

use super::SocketStack;
use super::sys::{self, Fd};
use crate::api::UdpSocket;
use crate::batch::Batch;
use crate::error::NetError;

/// Kernel receive and send buffer asked for each UDP socket.
const SOCKET_BUFFER: i32 = 4 * 1024 * 1024;

/// A UDP socket on the host.
pub struct SocketUdpSocket {
    fd: Fd,
    family: i32,
    port: u16,
    /// Scratch for the batch calls, reused so they do not allocate.
    msgs: RefCell<Msgs>,
}

#[derive(Default)]
struct Msgs {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
}

impl Msgs {
    /// Grows to `n` entries, once per size.
    fn reserve(&mut self, n: usize) {
        if self.hdrs.len() < n {
            // SAFETY: all-zero mmsghdr and iovec are valid (null pointers, zero lengths).
            self.hdrs.resize_with(n, || unsafe { core::mem::zeroed() });
            self.iovs.resize_with(n, || unsafe { core::mem::zeroed() });
            self.addrs.resize_with(n, sys::empty_sockaddr);
        }
    }
}

impl SocketStack {
    pub(crate) fn bind_udp_socket(&self, port: u16) -> Result<SocketUdpSocket, NetError> {
        let family = self.family();
        let fd = sys::socket(family, libc::SOCK_DGRAM, "UDP")?;
        if family == libc::AF_INET6 {
            fd.set_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0, "IPV6_V6ONLY")?;
        }
        // Larger buffers absorb bursts; the kernel caps them, which is fine.
        let _ = fd.set_int(
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            SOCKET_BUFFER,
            "SO_RCVBUF",
        );
        let _ = fd.set_int(
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            SOCKET_BUFFER,
            "SO_SNDBUF",
        );
        sys::bind(&fd, self.bind_addr(port), family, "UDP socket")?;
        let port = sys::local_port(&fd);
        Ok(SocketUdpSocket {
            fd,
            family,
            port,
            msgs: RefCell::new(Msgs::default()),
        })
    }
}

impl SocketUdpSocket {
    /// One `recvmmsg` into `batch`; `Ok(0)` means nothing was waiting.
    fn try_recv(&self, batch: &mut Batch) -> Result<usize, NetError> {
        let cap = batch.capacity();
        let mut guard = self.msgs.borrow_mut();
        let m = &mut *guard;
        m.reserve(cap);
        for i in 0..cap {
            let (slot, _, _) = batch.slot_parts(i);
            m.iovs[i] = libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            };
            let hdr = &mut m.hdrs[i].msg_hdr;
            hdr.msg_name = (&mut m.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_iov = &mut m.iovs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = core::ptr::null_mut();
            hdr.msg_controllen = 0;
            hdr.msg_flags = 0;
            m.hdrs[i].msg_len = 0;
        }
        loop {
            // SAFETY: every header points at live buffers of the stated sizes.
            let n = unsafe {
                libc::recvmmsg(
                    self.fd.raw(),
                    m.hdrs.as_mut_ptr(),
                    cap as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    core::ptr::null_mut(),
                )
            };
            if n >= 0 {
                let n = n as usize;
                for i in 0..n {
                    let got = m.hdrs[i].msg_len as usize;
                    let from = sys::read_sockaddr(&m.addrs[i]);
                    let (slot, len, peer) = batch.slot_parts(i);
                    *len = got.min(slot.len());
                    if let Some(a) = from {
                        *peer = a;
                    }
                }
                batch.set_len(n);
                return Ok(n);
            }
            match sys::errno() {
                libc::EINTR => continue,
                libc::EAGAIN => return Ok(0),
                _ => return Err(sys::io(format!("recvmmsg on UDP port {}", self.port))),
            }
        }
    }

    /// One `sendmmsg` of `batch` from datagram `from` on; returns how many
    /// were taken (a datagram the kernel refuses is skipped and counted as
    /// taken), `Ok(0)` when the socket buffer is full.
    fn try_send(&self, batch: &Batch, from: usize) -> Result<usize, NetError> {
        let count = batch.len() - from;
        let mut guard = self.msgs.borrow_mut();
        let m = &mut *guard;
        m.reserve(count);
        for i in 0..count {
            let Some(d) = batch.get(from + i) else { break };
            let alen = sys::write_sockaddr(d.peer, self.family, &mut m.addrs[i]);
            m.iovs[i] = libc::iovec {
                iov_base: d.data.as_ptr() as *mut libc::c_void,
                iov_len: d.data.len(),
            };
            let hdr = &mut m.hdrs[i].msg_hdr;
            hdr.msg_name = (&mut m.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = alen;
            hdr.msg_iov = &mut m.iovs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = core::ptr::null_mut();
            hdr.msg_controllen = 0;
            hdr.msg_flags = 0;
        }
        loop {
            // SAFETY: every header points at live buffers of the stated sizes;
            // the kernel only reads the payloads.
            let n = unsafe {
                libc::sendmmsg(self.fd.raw(), m.hdrs.as_mut_ptr(), count as libc::c_uint, 0)
            };
            if n > 0 {
                return Ok(n as usize);
            }
            match sys::errno() {
                libc::EINTR => continue,
                libc::EAGAIN => return Ok(0),
                // The first datagram cannot go (no route, too large, …):
                // drop it, as a wire would, and go on with the rest.
                libc::ENETUNREACH
                | libc::EHOSTUNREACH
                | libc::EMSGSIZE
                | libc::EINVAL
                | libc::EAFNOSUPPORT
                | libc::ECONNREFUSED
                | libc::EPERM
                | libc::EACCES => {
                    return Ok(1);
                }
                _ => return Err(sys::io(format!("sendmmsg on UDP port {}", self.port))),
            }
        }
    }
}

impl UdpSocket for SocketUdpSocket {
    fn local_port(&self) -> u16 {
        self.port
    }

    async fn recv_batch(&self, batch: &mut Batch) -> Result<usize, NetError> {
        loop {
            let n = self.try_recv(batch)?;
            if n > 0 {
                return Ok(n);
            }
            self.fd.readable().await;
        }
    }

    async fn send_batch(&self, batch: &Batch) -> Result<(), NetError> {
        let mut sent = 0;
        while sent < batch.len() {
            match self.try_send(batch, sent)? {
                0 => self.fd.writable().await,
                n => sent += n,
            }
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        loop {
            let mut sa = sys::empty_sockaddr();
            let mut len = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: valid fd, buffer and sockaddr of the stated sizes.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.raw(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut sa as *mut libc::sockaddr_storage).cast(),
                    &mut len,
                )
            };
            if n >= 0 {
                let from = sys::read_sockaddr(&sa).ok_or_else(|| NetError::Io {
                    what: format!("recvfrom on UDP port {}: unknown address family", self.port),
                    errno: 0,
                })?;
                return Ok((n as usize, from));
            }
            match sys::errno() {
                libc::EINTR => {}
                libc::EAGAIN => self.fd.readable().await,
                _ => return Err(sys::io(format!("recvfrom on UDP port {}", self.port))),
            }
        }
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<(), NetError> {
        loop {
            let mut sa = sys::empty_sockaddr();
            let alen = sys::write_sockaddr(to, self.family, &mut sa);
            // SAFETY: valid fd, payload and sockaddr of the stated sizes.
            let n = unsafe {
                libc::sendto(
                    self.fd.raw(),
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_DONTWAIT,
                    (&sa as *const libc::sockaddr_storage).cast(),
                    alen,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            match sys::errno() {
                libc::EINTR => {}
                libc::EAGAIN => self.fd.writable().await,
                libc::EMSGSIZE => {
                    return Err(NetError::TooLarge {
                        len: data.len(),
                        max: 65507,
                        to,
                    });
                }
                _ => return Err(sys::io(format!("sendto {to} from UDP port {}", self.port))),
            }
        }
    }
}
