//! UDP sockets of the direct stack.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec;
use core::cell::RefCell;
use core::future::poll_fn;
use core::net::SocketAddr;
use core::task::Poll;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;
use smoltcp::storage::PacketMetadata;

use super::{Core, DirectStack, fast};
use crate::api::UdpSocket;
use crate::batch::Batch;
use crate::error::NetError;

/// Datagrams each socket buffers per direction.
const DATAGRAMS: usize = 256;
/// Payload bytes each socket buffers per direction.
const PAYLOAD_BYTES: usize = 256 * 1024;

/// A UDP socket of the direct stack.
pub struct DirectUdpSocket {
    core: Rc<Core>,
    handle: SocketHandle,
    port: u16,
}

impl DirectStack {
    pub(crate) fn bind_udp_socket(&self, port: u16) -> Result<DirectUdpSocket, NetError> {
        let mut st = self.core.state();
        let port = match port {
            0 => st.ephemeral_port()?,
            p if st.udp_ports.contains(&p) => return Err(NetError::AddressInUse(p)),
            p => p,
        };
        let rx = udp::PacketBuffer::new(
            vec![PacketMetadata::EMPTY; DATAGRAMS],
            vec![0u8; PAYLOAD_BYTES],
        );
        let tx = udp::PacketBuffer::new(
            vec![PacketMetadata::EMPTY; DATAGRAMS],
            vec![0u8; PAYLOAD_BYTES],
        );
        let mut sock = udp::Socket::new(rx, tx);
        sock.bind(port)
            .map_err(|_| NetError::Config(alloc::format!("cannot bind UDP port {port}")))?;
        let handle = st.sockets.add(sock);
        st.udp_ports.push(port);
        Ok(DirectUdpSocket {
            core: self.core.clone(),
            handle,
            port,
        })
    }
}

impl DirectUdpSocket {
    /// Queues one datagram; Pending when the send buffer is full.
    fn poll_send_one(
        &self,
        data: &[u8],
        to: SocketAddr,
        cx: &mut core::task::Context<'_>,
    ) -> Poll<Result<(), NetError>> {
        let mut st = self.core.state();
        let max = st.max_udp_payload(to.ip());
        if data.len() > max {
            return Poll::Ready(Err(NetError::TooLarge {
                len: data.len(),
                max,
                to,
            }));
        }
        let sock = st.sockets.get_mut::<udp::Socket>(self.handle);
        match sock.send_slice(data, to) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(udp::SendError::BufferFull) => {
                sock.register_send_waker(cx.waker());
                drop(st);
                self.core.kick();
                Poll::Pending
            }
            Err(udp::SendError::Unaddressable) => {
                st.stats.udp_unroutable += 1;
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl UdpSocket for DirectUdpSocket {
    fn local_port(&self) -> u16 {
        self.port
    }

    async fn recv_batch(&self, batch: &mut Batch) -> Result<usize, NetError> {
        poll_fn(|cx| {
            let mut st = self.core.state();
            let sock = st.sockets.get_mut::<udp::Socket>(self.handle);
            let mut n = 0;
            while n < batch.capacity() {
                let Ok((data, meta)) = sock.recv() else { break };
                let (slot, len, peer) = batch.slot_parts(n);
                let k = data.len().min(slot.len());
                slot[..k].copy_from_slice(&data[..k]);
                *len = k;
                *peer = meta.endpoint.into();
                n += 1;
            }
            batch.set_len(n);
            if n == 0 {
                sock.register_recv_waker(cx.waker());
                Poll::Pending
            } else {
                Poll::Ready(Ok(n))
            }
        })
        .await
    }

    async fn send_batch(&self, batch: &Batch) -> Result<(), NetError> {
        let mut next = 0;
        let result = poll_fn(|cx| {
            while let Some(d) = batch.get(next) {
                match self.poll_send_one(d.data, d.peer, cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Ready(Ok(())) => next += 1,
                }
            }
            Poll::Ready(Ok(()))
        })
        .await;
        self.core.kick();
        result
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        poll_fn(|cx| {
            let mut st = self.core.state();
            let sock = st.sockets.get_mut::<udp::Socket>(self.handle);
            match sock.recv() {
                Ok((data, meta)) => {
                    let k = data.len().min(buf.len());
                    buf[..k].copy_from_slice(&data[..k]);
                    Poll::Ready(Ok((k, meta.endpoint.into())))
                }
                Err(_) => {
                    sock.register_recv_waker(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<(), NetError> {
        let result = poll_fn(|cx| self.poll_send_one(data, to, cx)).await;
        self.core.kick();
        result
    }

    /// Datagrams to one of the interface's own addresses are answered on
    /// the fast path (ARCHITECTURE.md §3) as the driver receives them; the
    /// rest (broadcast, fragments, …) reach this socket and are answered
    /// here, in batches, by the same `answer`.
    async fn serve<F>(&self, answer: F) -> Result<(), NetError>
    where
        F: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize> + 'static,
    {
        let shared: fast::Answer = Rc::new(RefCell::new(Box::new(answer)));
        let _served = Served::register(&self.core, self.port, shared.clone());
        let core = self.core.clone();
        crate::api::serve_in_batches(self, move |query, peer, out| {
            // No bigger than a frame: the direct stack does not fragment.
            let room = core.state().max_udp_payload(peer.ip()).min(out.len());
            (shared.borrow_mut())(query, peer, &mut out[..room])
        })
        .await
    }
}

/// A port's fast-path entry, removed when the serving future ends.
struct Served {
    core: Rc<Core>,
    port: u16,
}

impl Served {
    fn register(core: &Rc<Core>, port: u16, answer: fast::Answer) -> Served {
        let mut st = core.state();
        st.served.retain(|s| s.port != port);
        st.served.push(fast::Served { port, answer });
        Served {
            core: core.clone(),
            port,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(mut st) = self.core.state.try_borrow_mut() {
            let port = self.port;
            st.served.retain(|s| s.port != port);
        }
    }
}

impl Drop for DirectUdpSocket {
    fn drop(&mut self) {
        if let Ok(mut st) = self.core.state.try_borrow_mut() {
            st.sockets.remove(self.handle);
            let port = self.port;
            st.udp_ports.retain(|p| *p != port);
        }
    }
}
