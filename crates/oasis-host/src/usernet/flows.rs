//! The forwards: host sockets on 127.0.0.1 on one side, sockets of the
//! gateway's stack talking to the guest on the other.

extern crate std;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::storage::PacketMetadata;

use super::{Forward, HostEnd, HostFd};
use crate::activation;

/// A UDP flow is forgotten after this long without a datagram.
const FLOW_IDLE_NS: u64 = 60_000_000_000;
/// UDP flows (host peers) per forward at most; the oldest goes first.
const FLOWS_MAX: usize = 256;
/// Bytes buffered per direction of a forwarded TCP connection.
const TCP_BUFFER: usize = 64 * 1024;

/// The next gateway port for a flow or connection towards the guest.
fn gateway_port(next: &mut u16) -> u16 {
    let p = *next;
    *next = if p >= 60999 { 40000 } else { p + 1 };
    p
}

/// One host peer's datagrams, through one gateway socket.
struct Flow {
    peer: SocketAddr,
    handle: SocketHandle,
    last: u64,
}

/// `fwd=udp:HOSTPORT:GUESTPORT`.
pub(super) struct UdpForward {
    host: std::net::UdpSocket,
    guest_port: u16,
    flows: Vec<Flow>,
    buf: Vec<u8>,
    /// A datagram read from the host (its length in `buf`, its peer) that
    /// its flow's socket had no room for: sent before anything else is read,
    /// so a burst waits in the host socket instead of being dropped.
    held: Option<(usize, SocketAddr)>,
}

impl UdpForward {
    pub(super) fn open(f: &Forward) -> Result<UdpForward, String> {
        let host = match &f.host {
            HostEnd::Port(port) => std::net::UdpSocket::bind(("127.0.0.1", *port))
                .map_err(|e| format!("{f}: cannot bind 127.0.0.1:{port}: {e}"))?,
            HostEnd::Passed(name) => activation::take(name, activation::Kind::Datagram)
                .map(std::net::UdpSocket::from)
                .map_err(|e| format!("{f}: {e}"))?,
        };
        host.set_nonblocking(true)
            .map_err(|e| format!("{f}: {e}"))?;
        Ok(UdpForward {
            host,
            guest_port: f.guest_port,
            flows: Vec::new(),
            buf: vec![0; 65536],
            held: None,
        })
    }

    fn flow_for(
        &mut self,
        peer: SocketAddr,
        sockets: &mut SocketSet<'static>,
        next: &mut u16,
        now: u64,
    ) -> SocketHandle {
        if let Some(f) = self.flows.iter_mut().find(|f| f.peer == peer) {
            f.last = now;
            return f.handle;
        }
        if self.flows.len() >= FLOWS_MAX
            && let Some(oldest) = (0..self.flows.len()).min_by_key(|&i| self.flows[i].last)
        {
            sockets.remove(self.flows.swap_remove(oldest).handle);
        }
        let buffer =
            || udp::PacketBuffer::new(vec![PacketMetadata::EMPTY; 64], vec![0u8; 64 * 1024]);
        let mut sock = udp::Socket::new(buffer(), buffer());
        let _ = sock.bind(gateway_port(next));
        let handle = sockets.add(sock);
        self.flows.push(Flow {
            peer,
            handle,
            last: now,
        });
        handle
    }

    pub(super) fn host_to_guest(
        &mut self,
        sockets: &mut SocketSet<'static>,
        guest: Ipv4Addr,
        next: &mut u16,
        now: u64,
    ) {
        let to = SocketAddrV4::new(guest, self.guest_port);
        loop {
            let (n, peer) = match self.held.take() {
                Some(held) => held,
                None => match self.host.recv_from(&mut self.buf) {
                    Ok(v) => v,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                },
            };
            let handle = self.flow_for(peer, sockets, next, now);
            let sock = sockets.get_mut::<udp::Socket>(handle);
            // Any other error (a datagram too large for the buffer) drops
            // the datagram, as a link would.
            if let Err(udp::SendError::BufferFull) = sock.send_slice(&self.buf[..n], to) {
                // The stack sends what the socket holds on its next poll;
                // this datagram goes then.
                self.held = Some((n, peer));
                break;
            }
        }
        self.flows.retain(|f| {
            let live = now.saturating_sub(f.last) < FLOW_IDLE_NS;
            if !live {
                sockets.remove(f.handle);
            }
            live
        });
    }

    pub(super) fn guest_to_host(&mut self, sockets: &mut SocketSet<'static>, now: u64) {
        for f in &mut self.flows {
            let sock = sockets.get_mut::<udp::Socket>(f.handle);
            while let Ok((data, _)) = sock.recv() {
                let _ = self.host.send_to(data, f.peer);
                f.last = now;
            }
        }
    }

    pub(super) fn fds(&self, out: &mut Vec<HostFd>) {
        out.push(HostFd {
            fd: self.host.as_raw_fd(),
            read: true,
            write: false,
        });
    }

    /// Whether a datagram waits for room in its flow's socket.
    pub(super) fn has_held(&self) -> bool {
        self.held.is_some()
    }
}

/// One forwarded connection.
struct Conn {
    host: std::net::TcpStream,
    handle: SocketHandle,
    /// From the guest, not yet taken by the host.
    to_host: Vec<u8>,
    host_eof: bool,
    host_shut: bool,
    failed: bool,
}

/// `fwd=tcp:HOSTPORT:GUESTPORT`.
pub(super) struct TcpForward {
    listener: std::net::TcpListener,
    guest_port: u16,
    conns: Vec<Conn>,
    /// Connections carried at most (`UserNetConfig::tcp_conns_max`); more
    /// wait in the host's listen backlog (and are refused by the host when
    /// it is full). By default above what a guest server keeps open
    /// (apps/dns: 256), so that the server, which knows which connections
    /// are idle, decides which to close under pressure — the gateway only
    /// carries bytes. Buffers are zeroed allocations the host backs only
    /// where data reaches them.
    conns_max: usize,
    buf: Vec<u8>,
}

impl TcpForward {
    pub(super) fn open(f: &Forward, conns_max: usize) -> Result<TcpForward, String> {
        let listener = match &f.host {
            HostEnd::Port(port) => std::net::TcpListener::bind(("127.0.0.1", *port))
                .map_err(|e| format!("{f}: cannot listen on 127.0.0.1:{port}: {e}"))?,
            HostEnd::Passed(name) => activation::take(name, activation::Kind::Listener)
                .map(std::net::TcpListener::from)
                .map_err(|e| format!("{f}: {e}"))?,
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("{f}: {e}"))?;
        Ok(TcpForward {
            listener,
            guest_port: f.guest_port,
            conns: Vec::new(),
            conns_max,
            buf: vec![0; TCP_BUFFER],
        })
    }

    pub(super) fn accept(
        &mut self,
        sockets: &mut SocketSet<'static>,
        iface: &mut Interface,
        guest: Ipv4Addr,
        next: &mut u16,
    ) {
        while self.conns.len() < self.conns_max
            && let Ok((host, _)) = self.listener.accept()
        {
            if host.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = host.set_nodelay(true);
            let mut sock = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0u8; TCP_BUFFER]),
                tcp::SocketBuffer::new(vec![0u8; TCP_BUFFER]),
            );
            sock.set_nagle_enabled(false);
            let to = SocketAddrV4::new(guest, self.guest_port);
            if sock
                .connect(iface.context(), to, gateway_port(next))
                .is_err()
            {
                continue;
            }
            self.conns.push(Conn {
                host,
                handle: sockets.add(sock),
                to_host: Vec::new(),
                host_eof: false,
                host_shut: false,
                failed: false,
            });
        }
    }

    pub(super) fn host_to_guest(&mut self, sockets: &mut SocketSet<'static>) {
        for c in &mut self.conns {
            let sock = sockets.get_mut::<tcp::Socket>(c.handle);
            if c.host_eof || !sock.may_send() {
                continue;
            }
            loop {
                let room = sock.send_capacity() - sock.send_queue();
                if room == 0 {
                    break;
                }
                match c.host.read(&mut self.buf[..room]) {
                    Ok(0) => {
                        c.host_eof = true;
                        sock.close();
                        break;
                    }
                    Ok(n) => {
                        let _ = sock.send_slice(&self.buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        c.failed = true;
                        sock.abort();
                        break;
                    }
                }
            }
        }
    }

    pub(super) fn guest_to_host(&mut self, sockets: &mut SocketSet<'static>) {
        for c in &mut self.conns {
            let sock = sockets.get_mut::<tcp::Socket>(c.handle);
            loop {
                if !c.to_host.is_empty() {
                    match c.host.write(&c.to_host) {
                        Ok(n) => {
                            c.to_host.drain(..n);
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => {
                            c.failed = true;
                            sock.abort();
                            break;
                        }
                    }
                }
                if !c.to_host.is_empty() || !sock.can_recv() {
                    break;
                }
                let _ = sock.recv(|data| {
                    c.to_host.extend_from_slice(data);
                    (data.len(), ())
                });
            }
            if !sock.may_recv()
                && c.to_host.is_empty()
                && !c.host_shut
                && sock.state() != tcp::State::SynSent
            {
                let _ = c.host.shutdown(std::net::Shutdown::Write);
                c.host_shut = true;
            }
        }
        self.conns.retain(|c| {
            let state = sockets.get::<tcp::Socket>(c.handle).state();
            let over = c.failed
                || (matches!(state, tcp::State::Closed | tcp::State::TimeWait)
                    && c.to_host.is_empty());
            if over {
                sockets.remove(c.handle);
            }
            !over
        });
    }

    pub(super) fn fds(&self, sockets: &SocketSet<'static>, out: &mut Vec<HostFd>) {
        out.push(HostFd {
            fd: self.listener.as_raw_fd(),
            // At the limit, leave new connections in the backlog (and do
            // not wake up for them).
            read: self.conns.len() < self.conns_max,
            write: false,
        });
        for c in &self.conns {
            let sock = sockets.get::<tcp::Socket>(c.handle);
            // Read from the host only while the guest side has room, so a
            // level-triggered waiter does not spin on input we cannot take.
            let room = sock.may_send() && sock.send_queue() < sock.send_capacity();
            out.push(HostFd {
                fd: c.host.as_raw_fd(),
                read: !c.host_eof && room,
                write: !c.to_host.is_empty(),
            });
        }
    }
}
