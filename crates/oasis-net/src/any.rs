//! [`AnyStack`]: whichever stack [`crate::stack`] picked, behind one type,
//! so an application names no stack and no platform.

use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use crate::api::{Stack, TcpListener, TcpStream, UdpSocket};
use crate::batch::Batch;
use crate::direct::{DirectStack, DirectTcpListener, DirectTcpStream, DirectUdpSocket};
use crate::error::NetError;
#[cfg(not(target_os = "none"))]
use crate::socket::{SocketStack, SocketTcpListener, SocketTcpStream, SocketUdpSocket};

/// Runs `$body` with `$v` bound to the variant's value, whichever it is.
macro_rules! each {
    ($value:expr, $v:ident => $body:expr) => {
        match $value {
            Self::Direct($v) => $body,
            #[cfg(not(target_os = "none"))]
            Self::Socket($v) => $body,
        }
    };
}

/// The direct or (hosted only) the socket stack.
#[derive(Clone)]
pub enum AnyStack {
    /// smoltcp over a net device.
    Direct(DirectStack),
    /// The host's sockets.
    #[cfg(not(target_os = "none"))]
    Socket(SocketStack),
}

/// A UDP socket of an [`AnyStack`].
pub enum AnyUdpSocket {
    /// Of the direct stack.
    Direct(DirectUdpSocket),
    /// Of the socket stack.
    #[cfg(not(target_os = "none"))]
    Socket(SocketUdpSocket),
}

/// A TCP listener of an [`AnyStack`].
pub enum AnyTcpListener {
    /// Of the direct stack.
    Direct(DirectTcpListener),
    /// Of the socket stack.
    #[cfg(not(target_os = "none"))]
    Socket(SocketTcpListener),
}

/// A TCP connection of an [`AnyStack`].
pub enum AnyTcpStream {
    /// Of the direct stack.
    Direct(DirectTcpStream),
    /// Of the socket stack.
    #[cfg(not(target_os = "none"))]
    Socket(SocketTcpStream),
}

impl AnyStack {
    /// A one-line account of the stack's counters (the direct stack's
    /// frames and drops; the socket stack keeps none of its own).
    pub fn stats_line(&self) -> alloc::string::String {
        match self {
            AnyStack::Direct(d) => alloc::format!("{}", d.stats()),
            #[cfg(not(target_os = "none"))]
            AnyStack::Socket(_) => "socket stack: counters are the host's (see `ss -s`)".into(),
        }
    }
}

impl Stack for AnyStack {
    type Udp = AnyUdpSocket;
    type Listener = AnyTcpListener;
    type Stream = AnyTcpStream;

    fn bind_udp(&self, port: u16) -> Result<AnyUdpSocket, NetError> {
        Ok(match self {
            AnyStack::Direct(s) => AnyUdpSocket::Direct(s.bind_udp(port)?),
            #[cfg(not(target_os = "none"))]
            AnyStack::Socket(s) => AnyUdpSocket::Socket(s.bind_udp(port)?),
        })
    }

    fn listen_tcp(&self, port: u16, backlog: usize) -> Result<AnyTcpListener, NetError> {
        Ok(match self {
            AnyStack::Direct(s) => AnyTcpListener::Direct(s.listen_tcp(port, backlog)?),
            #[cfg(not(target_os = "none"))]
            AnyStack::Socket(s) => AnyTcpListener::Socket(s.listen_tcp(port, backlog)?),
        })
    }

    async fn connect_tcp(&self, to: SocketAddr) -> Result<AnyTcpStream, NetError> {
        Ok(match self {
            AnyStack::Direct(s) => AnyTcpStream::Direct(s.connect_tcp(to).await?),
            #[cfg(not(target_os = "none"))]
            AnyStack::Socket(s) => AnyTcpStream::Socket(s.connect_tcp(to).await?),
        })
    }

    fn local_addrs(&self) -> Vec<IpAddr> {
        each!(self, s => s.local_addrs())
    }
}

impl UdpSocket for AnyUdpSocket {
    fn local_port(&self) -> u16 {
        each!(self, s => s.local_port())
    }

    async fn recv_batch(&self, batch: &mut Batch) -> Result<usize, NetError> {
        each!(self, s => s.recv_batch(batch).await)
    }

    async fn send_batch(&self, batch: &Batch) -> Result<(), NetError> {
        each!(self, s => s.send_batch(batch).await)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        each!(self, s => s.recv_from(buf).await)
    }

    async fn serve<F>(&self, answer: F) -> Result<(), NetError>
    where
        F: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize> + 'static,
    {
        each!(self, s => s.serve(answer).await)
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<(), NetError> {
        each!(self, s => s.send_to(data, to).await)
    }
}

impl TcpListener for AnyTcpListener {
    type Stream = AnyTcpStream;

    fn local_port(&self) -> u16 {
        each!(self, s => s.local_port())
    }

    async fn accept(&self) -> Result<(AnyTcpStream, SocketAddr), NetError> {
        Ok(match self {
            AnyTcpListener::Direct(s) => {
                let (c, p) = s.accept().await?;
                (AnyTcpStream::Direct(c), p)
            }
            #[cfg(not(target_os = "none"))]
            AnyTcpListener::Socket(s) => {
                let (c, p) = s.accept().await?;
                (AnyTcpStream::Socket(c), p)
            }
        })
    }
}

impl TcpStream for AnyTcpStream {
    fn peer_addr(&self) -> SocketAddr {
        each!(self, s => s.peer_addr())
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        each!(self, s => s.read(buf).await)
    }

    async fn write(&mut self, data: &[u8]) -> Result<usize, NetError> {
        each!(self, s => s.write(data).await)
    }

    fn shutdown(&mut self) -> Result<(), NetError> {
        each!(self, s => s.shutdown())
    }

    async fn close(self) -> Result<(), NetError> {
        each!(self, s => s.close().await)
    }
}

impl Stack for DirectStack {
    type Udp = DirectUdpSocket;
    type Listener = DirectTcpListener;
    type Stream = DirectTcpStream;

    fn bind_udp(&self, port: u16) -> Result<DirectUdpSocket, NetError> {
        self.bind_udp_socket(port)
    }

    fn listen_tcp(&self, port: u16, backlog: usize) -> Result<DirectTcpListener, NetError> {
        self.listen(port, backlog)
    }

    async fn connect_tcp(&self, to: SocketAddr) -> Result<DirectTcpStream, NetError> {
        self.connect(to).await
    }

    fn local_addrs(&self) -> Vec<IpAddr> {
        self.addrs()
    }
}

#[cfg(not(target_os = "none"))]
impl Stack for SocketStack {
    type Udp = SocketUdpSocket;
    type Listener = SocketTcpListener;
    type Stream = SocketTcpStream;

    fn bind_udp(&self, port: u16) -> Result<SocketUdpSocket, NetError> {
        self.bind_udp_socket(port)
    }

    fn listen_tcp(&self, port: u16, backlog: usize) -> Result<SocketTcpListener, NetError> {
        self.listen(port, backlog)
    }

    async fn connect_tcp(&self, to: SocketAddr) -> Result<SocketTcpStream, NetError> {
        self.connect(to).await
    }

    fn local_addrs(&self) -> Vec<IpAddr> {
        self.addrs()
    }
}
