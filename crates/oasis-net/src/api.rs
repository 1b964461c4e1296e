//! The contract between oasis's network stacks and the protocol libraries
//! above them (DNS, HTTP, …): a [`Stack`] opens [`UdpSocket`]s,
//! [`TcpListener`]s and [`TcpStream`]s. Both the direct stack (smoltcp over
//! a `Net` device) and the hosted socket stack implement these traits, so a
//! library written against them runs on either, hosted or as a unikernel.
//!
//! Everything is single-threaded and cooperative: the futures are not
//! `Send`, sockets are cheap handles into their stack, and waiting never
//! blocks the executor.
//!
//! A UDP server written against the traits, answering each datagram in
//! place and sending the whole batch back in one call:
//!
//! ```no_run
//! use oasis_net::prelude::*;
//! use oasis_net::NetError;
//!
//! /// Answers every datagram with its bytes reversed.
//! async fn serve<S: Stack>(stack: &S, port: u16) -> Result<(), NetError> {
//!     let udp = stack.bind_udp(port)?;
//!     let mut batch = Batch::new(64, 1500);
//!     loop {
//!         udp.recv_batch(&mut batch).await?;
//!         for i in 0..batch.len() {
//!             let Some(d) = batch.get(i) else { break };
//!             let (len, peer) = (d.data.len(), d.peer);
//!             if let Some(slot) = batch.slot_mut(i) {
//!                 slot[..len].reverse();
//!             }
//!             batch.set(i, len, peer);
//!         }
//!         udp.send_batch(&batch).await?;
//!     }
//! }
//! ```

use alloc::vec::Vec;
use core::future::Future;
use core::net::{IpAddr, SocketAddr};

use crate::batch::Batch;
use crate::error::NetError;

/// A network stack: the factory of sockets. Clone it freely; clones share
/// the stack.
pub trait Stack: Clone + 'static {
    /// Its UDP socket.
    type Udp: UdpSocket;
    /// Its TCP listening socket.
    type Listener: TcpListener<Stream = Self::Stream>;
    /// Its TCP connection.
    type Stream: TcpStream;

    /// Opens a UDP socket on `port` of every local address (0 picks a free port).
    fn bind_udp(&self, port: u16) -> Result<Self::Udp, NetError>;

    /// Listens for TCP connections on `port` of every local address, with up
    /// to `backlog` connections being set up or waiting for
    /// [`TcpListener::accept`] at once. (The direct stack allocates the
    /// backlog up front, so a deep one gets smaller windows per connection.)
    fn listen_tcp(&self, port: u16, backlog: usize) -> Result<Self::Listener, NetError>;

    /// Opens a TCP connection to `to`.
    fn connect_tcp(&self, to: SocketAddr) -> impl Future<Output = Result<Self::Stream, NetError>>;

    /// The stack's local addresses now (they may change, e.g. with DHCP).
    fn local_addrs(&self) -> Vec<IpAddr>;
}

/// A UDP socket bound to a local port.
///
/// The batch calls are the fast path: one call moves many datagrams (one
/// `recvmmsg`/`sendmmsg` on the socket stack; one pass over the stack's
/// buffers on the direct stack). One task at a time may wait to receive on
/// a socket, and one to send: a second waiter takes the first one's
/// wake-up.
pub trait UdpSocket {
    /// The local port.
    fn local_port(&self) -> u16;

    /// Waits until at least one datagram has arrived, then empties `batch`
    /// and fills it with as many waiting datagrams as it holds. Returns how
    /// many. Datagrams longer than a slot are truncated to it.
    fn recv_batch(&self, batch: &mut Batch) -> impl Future<Output = Result<usize, NetError>>;

    /// Sends every datagram of `batch` to its peer, waiting for buffer
    /// space as needed. A datagram the stack cannot route is dropped and
    /// counted, as a wire would; the error is for the socket itself failing.
    fn send_batch(&self, batch: &Batch) -> impl Future<Output = Result<(), NetError>>;

    /// Receives one datagram into `buf` (truncated to it); returns its
    /// length and sender.
    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = Result<(usize, SocketAddr), NetError>>;

    /// Sends one datagram to `to`.
    fn send_to(&self, data: &[u8], to: SocketAddr) -> impl Future<Output = Result<(), NetError>>;

    /// Serves request/response datagrams until the socket fails: for each
    /// one, `answer(query, peer, out)` writes the answer's payload into
    /// `out` and returns its length, or `None` to send nothing; the answer
    /// goes back to the peer, from the address the query came to. Answers
    /// may leave in any order.
    ///
    /// The stack chooses how: the socket stack moves batches
    /// (`recvmmsg`, then `sendmmsg` with segmentation offload); the direct
    /// stack answers each datagram while its driver receives it, reading
    /// the query where the device received it and writing the answer where
    /// the device will send it — on kvm the answer is the only copy.
    /// `answer` may run inside the stack, so it must not use the stack or
    /// its sockets (it is a plain function of the query).
    fn serve<F>(&self, answer: F) -> impl Future<Output = Result<(), NetError>>
    where
        F: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize> + 'static,
    {
        serve_in_batches(self, answer)
    }
}

/// Datagrams moved per batch by [`serve_in_batches`].
const SERVE_BATCH: usize = 64;
/// Largest query [`serve_in_batches`] reads whole, and largest answer.
const SERVE_DATAGRAM: usize = 4096;

/// [`UdpSocket::serve`] over the batch calls: a batch of queries in, their
/// answers out in one call, two batches allocated once.
pub async fn serve_in_batches<U, F>(socket: &U, mut answer: F) -> Result<(), NetError>
where
    U: UdpSocket + ?Sized,
    F: FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize>,
{
    let mut queries = Batch::new(SERVE_BATCH, SERVE_DATAGRAM);
    let mut answers = Batch::new(SERVE_BATCH, SERVE_DATAGRAM);
    // Each answer stands alone: the stack may group them by peer and
    // length, as few sends.
    answers.set_any_order(true);
    loop {
        socket.recv_batch(&mut queries).await?;
        answers.clear();
        for q in queries.iter() {
            answers.push_some(q.peer, |out| answer(q.data, q.peer, out));
        }
        if !answers.is_empty() {
            socket.send_batch(&answers).await?;
        }
    }
}

/// A TCP socket accepting connections on a local port.
pub trait TcpListener {
    /// The connections it accepts.
    type Stream: TcpStream;

    /// The local port.
    fn local_port(&self) -> u16;

    /// Waits for the next established connection; returns it and its peer.
    fn accept(&self) -> impl Future<Output = Result<(Self::Stream, SocketAddr), NetError>>;
}

/// An established TCP connection. Dropping it closes it gracefully (queued
/// data is still sent, then FIN), in the background.
pub trait TcpStream: 'static {
    /// The remote address and port.
    fn peer_addr(&self) -> SocketAddr;

    /// Reads what has arrived into `buf`, waiting for at least one byte;
    /// 0 means the peer closed its side (end of stream).
    fn read(&mut self, buf: &mut [u8]) -> impl Future<Output = Result<usize, NetError>>;

    /// Queues as much of `data` as fits, waiting for room for at least one
    /// byte; returns how much was taken.
    fn write(&mut self, data: &[u8]) -> impl Future<Output = Result<usize, NetError>>;

    /// Queues all of `data`.
    fn write_all(&mut self, data: &[u8]) -> impl Future<Output = Result<(), NetError>> {
        async move {
            let mut rest = data;
            while !rest.is_empty() {
                let n = self.write(rest).await?;
                rest = &rest[n..];
            }
            Ok(())
        }
    }

    /// Closes the sending side: FIN goes out after the queued data. Reading
    /// goes on until the peer closes its side.
    fn shutdown(&mut self) -> Result<(), NetError>;

    /// Closes the connection: FIN after the queued data, then waits until
    /// the peer has acknowledged everything sent (the direct stack) or the
    /// host has taken it over (the socket stack). Dropping a stream closes
    /// it too, without waiting. A peer that vanishes is retried for long:
    /// wrap this in a timeout where that matters.
    fn close(mut self) -> impl Future<Output = Result<(), NetError>>
    where
        Self: Sized,
    {
        async move { self.shutdown() }
    }
}
