//! TCP listeners and connections of the direct stack.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::Poll;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use super::{Backlog, CLOSE_LINGER, Core, DirectStack, now_ns};
use crate::api::{TcpListener, TcpStream};
use crate::error::NetError;

/// Bytes each connection buffers per direction at most (window scaling
/// lets the peer use all of it).
const BUFFER_BYTES: usize = 64 * 1024;
/// Bytes each connection buffers per direction at least.
const BUFFER_MIN: usize = 8 * 1024;
/// Buffer memory a listener's backlog may hold, both directions of every
/// slot: a deep backlog gets smaller windows rather than megabytes that a
/// small unikernel does not have (16 slots: 64 KiB each way; 64: 16 KiB).
const LISTENER_BUDGET: usize = 2 * 1024 * 1024;
/// Backlog slots at most per listener.
const BACKLOG_MAX: usize = 256;

fn new_socket(buffer: usize) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; buffer]),
        tcp::SocketBuffer::new(vec![0u8; buffer]),
    );
    s.set_nagle_enabled(false);
    s
}

/// A listening TCP port of the direct stack.
pub struct DirectTcpListener {
    core: Rc<Core>,
    id: usize,
    port: u16,
}

/// A TCP connection of the direct stack.
pub struct DirectTcpStream {
    core: Rc<Core>,
    handle: SocketHandle,
    peer: SocketAddr,
}

impl DirectStack {
    pub(crate) fn listen(&self, port: u16, backlog: usize) -> Result<DirectTcpListener, NetError> {
        let mut st = self.core.state();
        if port == 0 {
            return Err(NetError::Config("cannot listen on TCP port 0".into()));
        }
        if st.backlogs.iter().flatten().any(|b| b.port == port) {
            return Err(NetError::AddressInUse(port));
        }
        let mut slots = Vec::new();
        let backlog = backlog.clamp(1, BACKLOG_MAX);
        let buffer = (LISTENER_BUDGET / (2 * backlog)).clamp(BUFFER_MIN, BUFFER_BYTES);
        for _ in 0..backlog {
            let mut s = new_socket(buffer);
            s.listen(port).map_err(|_| {
                NetError::Config(alloc::format!("cannot listen on TCP port {port}"))
            })?;
            slots.push((st.sockets.add(s), None));
        }
        let entry = Some(Backlog {
            port,
            buffer,
            slots,
        });
        let id = match st.backlogs.iter().position(Option::is_none) {
            Some(i) => {
                st.backlogs[i] = entry;
                i
            }
            None => {
                st.backlogs.push(entry);
                st.backlogs.len() - 1
            }
        };
        Ok(DirectTcpListener {
            core: self.core.clone(),
            id,
            port,
        })
    }

    pub(crate) async fn connect(&self, to: SocketAddr) -> Result<DirectTcpStream, NetError> {
        let stream = {
            let mut st = self.core.state();
            let local = st.ephemeral_port()?;
            let mut s = new_socket(BUFFER_BYTES);
            let st = &mut *st;
            s.connect(st.iface.context(), to, local)
                .map_err(|_| NetError::Unreachable(to))?;
            DirectTcpStream {
                core: self.core.clone(),
                handle: st.sockets.add(s),
                peer: to,
            }
        };
        self.core.kick();
        poll_fn(|cx| {
            let mut st = stream.core.state();
            let s = st.sockets.get_mut::<tcp::Socket>(stream.handle);
            match s.state() {
                tcp::State::SynSent | tcp::State::SynReceived => {
                    s.register_send_waker(cx.waker());
                    Poll::Pending
                }
                tcp::State::Closed => Poll::Ready(Err(NetError::ConnectionRefused(to))),
                _ => Poll::Ready(Ok(())),
            }
        })
        .await?;
        Ok(stream)
    }
}

impl TcpListener for DirectTcpListener {
    type Stream = DirectTcpStream;

    fn local_port(&self) -> u16 {
        self.port
    }

    async fn accept(&self) -> Result<(DirectTcpStream, SocketAddr), NetError> {
        poll_fn(|cx| {
            let mut guard = self.core.state();
            let st = &mut *guard;
            let Some(Some(backlog)) = st.backlogs.get_mut(self.id) else {
                return Poll::Ready(Err(NetError::Config("listener is gone".into())));
            };
            for (h, since) in backlog.slots.iter_mut() {
                let s = st.sockets.get_mut::<tcp::Socket>(*h);
                let ready = matches!(s.state(), tcp::State::Established | tcp::State::CloseWait);
                if !ready {
                    s.register_recv_waker(cx.waker());
                    continue;
                }
                let Some(remote) = s.remote_endpoint() else {
                    continue;
                };
                // Hand this socket over and put a fresh one in its slot.
                let taken = *h;
                let mut fresh = new_socket(backlog.buffer);
                if fresh.listen(backlog.port).is_err() {
                    continue;
                }
                *h = st.sockets.add(fresh);
                *since = None;
                let peer: SocketAddr = remote.into();
                return Poll::Ready(Ok((
                    DirectTcpStream {
                        core: self.core.clone(),
                        handle: taken,
                        peer,
                    },
                    peer,
                )));
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for DirectTcpListener {
    fn drop(&mut self) {
        if let Ok(mut st) = self.core.state.try_borrow_mut()
            && let Some(backlog) = st.backlogs.get_mut(self.id).and_then(Option::take)
        {
            for (h, _) in backlog.slots {
                st.sockets.remove(h);
            }
        }
    }
}

impl TcpStream for DirectTcpStream {
    fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = poll_fn(|cx| {
            let mut st = self.core.state();
            let s = st.sockets.get_mut::<tcp::Socket>(self.handle);
            match s.recv_slice(buf) {
                Ok(0) => {
                    s.register_recv_waker(cx.waker());
                    Poll::Pending
                }
                Ok(n) => Poll::Ready(Ok(n)),
                Err(tcp::RecvError::Finished) => Poll::Ready(Ok(0)),
                Err(tcp::RecvError::InvalidState) => Poll::Ready(match s.state() {
                    tcp::State::Closed => Err(NetError::ConnectionReset(self.peer)),
                    _ => Ok(0),
                }),
            }
        })
        .await?;
        // Reading opened the window: let the driver tell the peer.
        self.core.kick();
        Ok(n)
    }

    async fn write(&mut self, data: &[u8]) -> Result<usize, NetError> {
        if data.is_empty() {
            return Ok(0);
        }
        let n = poll_fn(|cx| {
            let mut st = self.core.state();
            let s = st.sockets.get_mut::<tcp::Socket>(self.handle);
            if !s.may_send() {
                return Poll::Ready(Err(match s.state() {
                    tcp::State::Closed => NetError::ConnectionReset(self.peer),
                    _ => NetError::Closed(self.peer),
                }));
            }
            match s.send_slice(data) {
                Ok(0) => {
                    s.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Ok(n) => Poll::Ready(Ok(n)),
                Err(_) => Poll::Ready(Err(NetError::Closed(self.peer))),
            }
        })
        .await?;
        self.core.kick();
        Ok(n)
    }

    fn shutdown(&mut self) -> Result<(), NetError> {
        self.core
            .state()
            .sockets
            .get_mut::<tcp::Socket>(self.handle)
            .close();
        self.core.kick();
        Ok(())
    }

    async fn close(mut self) -> Result<(), NetError> {
        self.shutdown()?;
        poll_fn(|cx| {
            let mut st = self.core.state();
            let s = st.sockets.get_mut::<tcp::Socket>(self.handle);
            match s.state() {
                // Our FIN is acknowledged, with everything before it.
                tcp::State::FinWait2 | tcp::State::TimeWait | tcp::State::Closed => {
                    Poll::Ready(Ok(()))
                }
                _ => {
                    s.register_send_waker(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl Drop for DirectTcpStream {
    fn drop(&mut self) {
        let Ok(mut st) = self.core.state.try_borrow_mut() else {
            return;
        };
        let s = st.sockets.get_mut::<tcp::Socket>(self.handle);
        s.close();
        let deadline = now_ns().saturating_add(CLOSE_LINGER.as_nanos() as u64);
        st.closing.push((self.handle, deadline));
        drop(st);
        self.core.kick();
    }
}
