//! TCP on host sockets.

use alloc::format;
use core::net::SocketAddr;

use super::SocketStack;
use super::sys::{self, Fd};
use crate::api::{TcpListener, TcpStream};
use crate::error::NetError;

/// A listening TCP socket on the host.
pub struct SocketTcpListener {
    fd: Fd,
    port: u16,
}

/// A TCP connection on the host.
pub struct SocketTcpStream {
    fd: Fd,
    peer: SocketAddr,
}

fn nodelay(fd: &Fd) {
    let _ = fd.set_int(libc::IPPROTO_TCP, libc::TCP_NODELAY, 1, "TCP_NODELAY");
}

impl SocketStack {
    pub(crate) fn listen(&self, port: u16, backlog: usize) -> Result<SocketTcpListener, NetError> {
        let family = self.family();
        let fd = sys::socket(family, libc::SOCK_STREAM, "TCP listener")?;
        fd.set_int(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1, "SO_REUSEADDR")?;
        if family == libc::AF_INET6 {
            fd.set_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0, "IPV6_V6ONLY")?;
        }
        sys::bind(&fd, self.bind_addr(port), family, "TCP listener")?;
        let backlog = backlog.clamp(1, 4096) as i32;
        // SAFETY: valid fd.
        if unsafe { libc::listen(fd.raw(), backlog) } < 0 {
            return Err(sys::io(format!("listen on TCP port {port}")));
        }
        let port = sys::local_port(&fd);
        Ok(SocketTcpListener { fd, port })
    }

    pub(crate) async fn connect(&self, to: SocketAddr) -> Result<SocketTcpStream, NetError> {
        let family = sys::family_of(to.ip());
        let fd = sys::socket(family, libc::SOCK_STREAM, "TCP connection")?;
        let mut sa = sys::empty_sockaddr();
        let len = sys::write_sockaddr(to, family, &mut sa);
        // SAFETY: valid fd and sockaddr of the stated length.
        let r =
            unsafe { libc::connect(fd.raw(), (&sa as *const libc::sockaddr_storage).cast(), len) };
        if r < 0 && sys::errno() != libc::EINPROGRESS {
            return Err(connect_error(sys::errno(), to));
        }
        loop {
            match fd.take_error() {
                0 => {}
                e => return Err(connect_error(e, to)),
            }
            let mut peer = sys::empty_sockaddr();
            let mut plen = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: valid fd and buffer of the stated length.
            let r = unsafe {
                libc::getpeername(
                    fd.raw(),
                    (&mut peer as *mut libc::sockaddr_storage).cast(),
                    &mut plen,
                )
            };
            if r == 0 {
                break;
            }
            fd.writable().await;
        }
        nodelay(&fd);
        Ok(SocketTcpStream { fd, peer: to })
    }
}

fn connect_error(errno: i32, to: SocketAddr) -> NetError {
    match errno {
        libc::ECONNREFUSED => NetError::ConnectionRefused(to),
        libc::ENETUNREACH | libc::EHOSTUNREACH => NetError::Unreachable(to),
        libc::ETIMEDOUT | libc::ECONNRESET => NetError::ConnectionReset(to),
        e => NetError::Io {
            what: format!("connect to {to}"),
            errno: e,
        },
    }
}

impl TcpListener for SocketTcpListener {
    type Stream = SocketTcpStream;

    fn local_port(&self) -> u16 {
        self.port
    }

    async fn accept(&self) -> Result<(SocketTcpStream, SocketAddr), NetError> {
        loop {
            let mut sa = sys::empty_sockaddr();
            let mut len = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: valid fd and buffer of the stated length.
            let raw = unsafe {
                libc::accept4(
                    self.fd.raw(),
                    (&mut sa as *mut libc::sockaddr_storage).cast(),
                    &mut len,
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if raw >= 0 {
                let fd = Fd::new(raw, "accepted TCP connection")?;
                let Some(peer) = sys::read_sockaddr(&sa) else {
                    continue;
                };
                nodelay(&fd);
                return Ok((SocketTcpStream { fd, peer }, peer));
            }
            match sys::errno() {
                libc::EAGAIN => self.fd.readable().await,
                // The connection died before we took it, or a transient
                // shortage: try the next one.
                libc::EINTR | libc::ECONNABORTED | libc::EPROTO | libc::EPERM => {}
                libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM => {
                    let err = sys::io(format!("accept on TCP port {}", self.port));
                    log::warn!("{err}; backing off");
                    oasis_rt::sleep(oasis_rt::Duration::from_millis(50)).await;
                }
                _ => return Err(sys::io(format!("accept on TCP port {}", self.port))),
            }
        }
    }
}

impl TcpStream for SocketTcpStream {
    fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            // SAFETY: valid fd and buffer of the stated length.
            let n = unsafe { libc::recv(self.fd.raw(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n >= 0 {
                return Ok(n as usize);
            }
            match sys::errno() {
                libc::EINTR => {}
                libc::EAGAIN => self.fd.readable().await,
                libc::ECONNRESET | libc::ETIMEDOUT => {
                    return Err(NetError::ConnectionReset(self.peer));
                }
                _ => return Err(sys::io(format!("recv from {}", self.peer))),
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<usize, NetError> {
        if data.is_empty() {
            return Ok(0);
        }
        loop {
            // SAFETY: valid fd and payload of the stated length.
            let n = unsafe {
                libc::send(
                    self.fd.raw(),
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            match sys::errno() {
                libc::EINTR => {}
                libc::EAGAIN => self.fd.writable().await,
                libc::EPIPE => return Err(NetError::Closed(self.peer)),
                libc::ECONNRESET | libc::ETIMEDOUT => {
                    return Err(NetError::ConnectionReset(self.peer));
                }
                _ => return Err(sys::io(format!("send to {}", self.peer))),
            }
        }
    }

    fn shutdown(&mut self) -> Result<(), NetError> {
        // SAFETY: valid fd.
        if unsafe { libc::shutdown(self.fd.raw(), libc::SHUT_WR) } < 0 {
            return Err(sys::io(format!(
                "shutdown of the connection with {}",
                self.peer
            )));
        }
        Ok(())
    }
}
