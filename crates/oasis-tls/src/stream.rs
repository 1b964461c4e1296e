//! [`TlsStream`]: a TLS server connection over any oasis-net TCP stream,
//! itself a [`TcpStream`], so whatever serves TCP serves TLS; and
//! [`TlsListener`], whose accepted connections are such streams.
//!
//! rustls runs without std here through its unbuffered API: the stream
//! owns the bytes in both directions (TLS records received and not yet
//! processed, records to send, plaintext decrypted and not yet read), so a
//! read dropped half-way — oasis-http races every read against its timers —
//! loses nothing: the next call goes on from where the bytes lie. A write
//! dropped half-way may have encrypted its data already (the records go
//! out with the next call): after a write that timed out, close the
//! connection rather than write the same bytes again, as oasis-http does. The handshake runs inside the first read (or write), under the
//! caller's own deadline: a client that stalls in the handshake is closed
//! by the server's head timeout like one that stalls in a request.
//!
//! Everything from the peer is hostile: a malformed or unacceptable
//! record ends that connection with an error (and, best effort, the alert
//! rustls has for it), never a panic.

use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use core::net::SocketAddr;

use log::debug;
use oasis_net::{NetError, TcpListener, TcpStream};
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::{HandshakeKind, ProtocolVersion, ServerConfig};

/// The largest TLS record on the wire: a 5-byte header and at most
/// 2^14 + 2048 bytes of ciphertext (RFC 5246 §6.2.3; TLS 1.3 allows less).
const MAX_RECORD: usize = 5 + 16384 + 2048;

/// Plaintext taken into one record at most.
const MAX_FRAGMENT: usize = 16384;

/// The first size of the buffer of received records, doubled when a
/// record (or a handshake message spread over records, which rustls keeps
/// in the buffer until it is whole) needs more, up to [`MAX_INCOMING`].
const FIRST_INCOMING: usize = 4096;

/// The most the buffer of received records grows to.
const MAX_INCOMING: usize = 4 * MAX_RECORD;

/// What TLS connections counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    /// Handshakes completed.
    pub handshakes: u64,
    /// Of those, sessions resumed (from the session cache).
    pub resumed: u64,
    /// Of those, in TLS 1.3 (the rest in TLS 1.2).
    pub tls13: u64,
    /// Connections ended by a TLS error (a bad handshake, a bad record).
    pub failed: u64,
}

/// Counters shared by the connections of a listener.
#[derive(Debug, Default)]
pub struct TlsCounters(Cell<TlsStats>);

impl TlsCounters {
    /// New counters, all zero.
    pub fn new() -> Rc<TlsCounters> {
        Rc::new(TlsCounters::default())
    }

    /// What was counted so far.
    pub fn get(&self) -> TlsStats {
        self.0.get()
    }

    fn count(&self, f: impl FnOnce(&mut TlsStats)) {
        let mut s = self.0.get();
        f(&mut s);
        self.0.set(s);
    }
}

/// A TLS server connection over `S`.
pub struct TlsStream<S> {
    tcp: S,
    counters: Option<Rc<TlsCounters>>,
    peer: SocketAddr,
    conn: Option<UnbufferedServerConnection>,
    /// TLS records received, `incoming[..in_len]`, not yet processed.
    incoming: Vec<u8>,
    in_len: usize,
    /// TLS records to send: `outgoing[out_sent..]`.
    outgoing: Vec<u8>,
    out_sent: usize,
    /// Plaintext decrypted and not yet read: `plain[plain_read..]`.
    plain: Vec<u8>,
    plain_read: usize,
    /// The handshake is done: application data may go both ways.
    established: bool,
    /// The peer sent close_notify, or closed the TCP connection.
    peer_closed: bool,
    /// `shutdown` was asked: FIN follows the last record queued.
    want_fin: bool,
    fin_sent: bool,
    /// The connection failed (a TLS error): every call fails.
    failed: bool,
}

/// What one pass over the received records left.
enum Pass {
    /// More records are needed from the peer.
    NeedInput,
    /// The connection is closed both ways.
    Closed,
}

impl<S: TcpStream> TlsStream<S> {
    /// A server connection over `tcp` with `config`; the handshake
    /// happens in the first read or write.
    pub fn new(tcp: S, config: Arc<ServerConfig>) -> TlsStream<S> {
        let peer = tcp.peer_addr();
        let conn = match UnbufferedServerConnection::new(config) {
            Ok(c) => Some(c),
            Err(e) => {
                debug!("tls: {peer}: cannot start a connection: {e}");
                None
            }
        };
        TlsStream {
            tcp,
            counters: None,
            peer,
            failed: conn.is_none(),
            conn,
            incoming: vec![0; FIRST_INCOMING],
            in_len: 0,
            outgoing: Vec::new(),
            out_sent: 0,
            plain: Vec::new(),
            plain_read: 0,
            established: false,
            peer_closed: false,
            want_fin: false,
            fin_sent: false,
        }
    }

    /// Counting into `counters`.
    pub fn with_counters(mut self, counters: Rc<TlsCounters>) -> TlsStream<S> {
        self.counters = Some(counters);
        self
    }

    /// The handshake is done.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// The TLS connection's state, once the handshake is done: the
    /// protocol version and cipher suite agreed on, whether the session was
    /// resumed.
    pub fn connection(&self) -> Option<&UnbufferedServerConnection> {
        self.conn.as_ref().filter(|_| self.established)
    }

    /// The TCP stream underneath.
    pub fn get_ref(&self) -> &S {
        &self.tcp
    }

    fn fail(&mut self, what: &dyn core::fmt::Display) -> NetError {
        if !self.failed {
            debug!("tls: {}: {what}", self.peer);
            if let Some(c) = &self.counters {
                c.count(|s| s.failed += 1);
            }
        }
        self.failed = true;
        NetError::ConnectionReset(self.peer)
    }

    /// Processes what was received, up to the point where more input is
    /// needed: decrypted data goes to `plain`, records to send to
    /// `outgoing`; with `encrypt`, once application data may be sent, that
    /// much of it is encrypted into `outgoing` (returned: how much).
    fn pass(&mut self, encrypt: Option<&[u8]>) -> Result<(Pass, usize), NetError> {
        if self.failed {
            return Err(NetError::ConnectionReset(self.peer));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(NetError::ConnectionReset(self.peer));
        };
        loop {
            let UnbufferedStatus { mut discard, state } =
                conn.process_tls_records(&mut self.incoming[..self.in_len]);
            let mut error = None;
            let mut out = None;
            let mut newly = false;
            match state {
                Err(e) => error = Some(e),
                Ok(ConnectionState::ReadTraffic(mut r)) => {
                    while let Some(rec) = r.next_record() {
                        match rec {
                            Ok(rec) => {
                                discard += rec.discard;
                                self.plain.extend_from_slice(rec.payload);
                            }
                            Err(e) => {
                                error = Some(e);
                                break;
                            }
                        }
                    }
                }
                Ok(ConnectionState::ReadEarlyData(mut r)) => {
                    // Not offered (max_early_data_size is 0); taken as data
                    // all the same should rustls hand any over.
                    while let Some(Ok(rec)) = r.next_record() {
                        discard += rec.discard;
                        self.plain.extend_from_slice(rec.payload);
                    }
                }
                Ok(ConnectionState::EncodeTlsData(mut e)) => {
                    let start = self.outgoing.len();
                    let mut room = 2048;
                    loop {
                        self.outgoing.resize(start + room, 0);
                        match e.encode(&mut self.outgoing[start..]) {
                            Ok(n) => {
                                self.outgoing.truncate(start + n);
                                break;
                            }
                            Err(EncodeError::InsufficientSize(s)) => room = s.required_size,
                            Err(other) => {
                                self.outgoing.truncate(start);
                                error = Some(rustls::Error::General(alloc::format!("{other}")));
                                break;
                            }
                        }
                    }
                }
                Ok(ConnectionState::TransmitTlsData(t)) => {
                    // What was encoded is queued in `outgoing`, sent in order
                    // before anything that follows it.
                    t.done();
                }
                Ok(ConnectionState::BlockedHandshake) => out = Some((Pass::NeedInput, 0)),
                Ok(ConnectionState::PeerClosed) => self.peer_closed = true,
                Ok(ConnectionState::Closed) => out = Some((Pass::Closed, 0)),
                Ok(ConnectionState::WriteTraffic(mut w)) => {
                    if !self.established {
                        self.established = true;
                        newly = true;
                    }
                    let mut taken = 0;
                    if let Some(data) = encrypt {
                        let data = &data[..data.len().min(MAX_FRAGMENT)];
                        let start = self.outgoing.len();
                        let mut room = data.len() + 64;
                        loop {
                            self.outgoing.resize(start + room, 0);
                            match w.encrypt(data, &mut self.outgoing[start..]) {
                                Ok(n) => {
                                    self.outgoing.truncate(start + n);
                                    taken = data.len();
                                    break;
                                }
                                Err(EncryptError::InsufficientSize(s)) => room = s.required_size,
                                Err(other) => {
                                    self.outgoing.truncate(start);
                                    error = Some(rustls::Error::General(alloc::format!("{other}")));
                                    break;
                                }
                            }
                        }
                    }
                    if error.is_none() {
                        out = Some((Pass::NeedInput, taken));
                    }
                }
                Ok(_) => out = Some((Pass::NeedInput, 0)),
            }
            if discard > 0 {
                self.incoming.copy_within(discard..self.in_len, 0);
                self.in_len -= discard;
            }
            if newly && let Some(c) = &self.counters {
                let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
                let tls13 = conn.protocol_version() == Some(ProtocolVersion::TLSv1_3);
                c.count(|s| {
                    s.handshakes += 1;
                    s.resumed += u64::from(resumed);
                    s.tls13 += u64::from(tls13);
                });
            }
            if let Some(e) = error {
                // rustls queues the alert that says why; it is the next
                // thing a pass hands over. (A pass is always given the
                // buffer it was given before, less what it said to discard:
                // rustls keeps offsets into it.)
                if let UnbufferedStatus {
                    state: Ok(ConnectionState::EncodeTlsData(mut a)),
                    ..
                } = conn.process_tls_records(&mut self.incoming[..self.in_len])
                {
                    let mut buf = [0u8; 64];
                    if let Ok(n) = a.encode(&mut buf) {
                        self.outgoing.extend_from_slice(&buf[..n]);
                    }
                }
                return Err(self.fail(&e));
            }
            if let Some(out) = out {
                return Ok(out);
            }
        }
    }

    /// [`Self::pass`]; on a TLS error, the alert that says why is sent
    /// (best effort) before the error is returned.
    async fn step(&mut self, encrypt: Option<&[u8]>) -> Result<(Pass, usize), NetError> {
        match self.pass(encrypt) {
            Ok(r) => Ok(r),
            Err(e) => {
                if self.out_sent < self.outgoing.len() {
                    self.want_fin = true;
                    let _ = self.flush().await;
                }
                Err(e)
            }
        }
    }

    /// Sends every queued record, then FIN if a shutdown asked for it.
    async fn flush(&mut self) -> Result<(), NetError> {
        while self.out_sent < self.outgoing.len() {
            let n = self.tcp.write(&self.outgoing[self.out_sent..]).await?;
            self.out_sent += n;
        }
        self.outgoing.clear();
        self.out_sent = 0;
        if self.want_fin && !self.fin_sent {
            self.fin_sent = true;
            self.tcp.shutdown()?;
        }
        Ok(())
    }

    /// Reads more records from the peer; false at its end of stream.
    async fn receive(&mut self) -> Result<bool, NetError> {
        if self.in_len == self.incoming.len() {
            if self.incoming.len() >= MAX_INCOMING {
                return Err(self.fail(&"a handshake message larger than served"));
            }
            let grown = (self.incoming.len() * 2).min(MAX_INCOMING);
            self.incoming.resize(grown, 0);
        }
        let n = self.tcp.read(&mut self.incoming[self.in_len..]).await?;
        self.in_len += n;
        Ok(n > 0)
    }

    /// Drives the handshake to its end.
    async fn handshake(&mut self) -> Result<(), NetError> {
        while !self.established {
            let (pass, _) = self.step(None).await?;
            self.flush().await?;
            if self.established {
                break;
            }
            match pass {
                Pass::Closed => return Err(NetError::Closed(self.peer)),
                Pass::NeedInput => {
                    if !self.receive().await? {
                        return Err(self.fail(&"closed during the handshake"));
                    }
                }
            }
        }
        Ok(())
    }
}

impl<S: TcpStream> TcpStream for TlsStream<S> {
    fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
        loop {
            if self.plain_read < self.plain.len() {
                let n = buf.len().min(self.plain.len() - self.plain_read);
                buf[..n].copy_from_slice(&self.plain[self.plain_read..self.plain_read + n]);
                self.plain_read += n;
                if self.plain_read == self.plain.len() {
                    self.plain.clear();
                    self.plain_read = 0;
                }
                return Ok(n);
            }
            if buf.is_empty() {
                return Ok(0);
            }
            // Whatever is queued (handshake records, tickets, an alert, a
            // close_notify) goes before waiting for the peer.
            self.flush().await?;
            if self.peer_closed {
                return Ok(0);
            }
            let (pass, _) = self.step(None).await?;
            if self.plain_read < self.plain.len() {
                continue;
            }
            if self.outgoing.len() > self.out_sent {
                continue;
            }
            if self.peer_closed {
                return Ok(0);
            }
            if let Pass::Closed = pass {
                return Ok(0);
            }
            if !self.receive().await? {
                self.peer_closed = true;
                if !self.established {
                    return Err(self.fail(&"closed during the handshake"));
                }
                return Ok(0);
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<usize, NetError> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.want_fin {
            return Err(NetError::Closed(self.peer));
        }
        self.handshake().await?;
        self.flush().await?;
        let (_, taken) = self.step(Some(data)).await?;
        self.flush().await?;
        if taken == 0 {
            return Err(NetError::Closed(self.peer));
        }
        Ok(taken)
    }

    /// Queues close_notify, and FIN after it: both go with the next read
    /// (oasis-http's linger reads right after), or at once when nothing
    /// is queued and the handshake never finished.
    fn shutdown(&mut self) -> Result<(), NetError> {
        if self.want_fin {
            return Ok(());
        }
        self.want_fin = true;
        if self.established
            && !self.failed
            && let Some(conn) = self.conn.as_mut()
        {
            // The buffer rustls was given before (it keeps offsets into
            // it); records it decrypts now stay with it for the next read.
            let UnbufferedStatus { discard, state } =
                conn.process_tls_records(&mut self.incoming[..self.in_len]);
            if let Ok(ConnectionState::WriteTraffic(mut w)) = state {
                let mut buf = [0u8; 64];
                if let Ok(n) = w.queue_close_notify(&mut buf) {
                    self.outgoing.extend_from_slice(&buf[..n]);
                }
            }
            if discard > 0 {
                self.incoming.copy_within(discard..self.in_len, 0);
                self.in_len -= discard;
            }
        }
        if self.out_sent == self.outgoing.len() {
            self.fin_sent = true;
            return self.tcp.shutdown();
        }
        Ok(())
    }

    async fn close(mut self) -> Result<(), NetError> {
        self.shutdown()?;
        self.flush().await?;
        self.tcp.close().await
    }
}

/// A TCP listener whose connections are [`TlsStream`]s with one
/// configuration: hand it to `oasis_http::Server::serve` to serve HTTPS.
pub struct TlsListener<L> {
    inner: L,
    config: Arc<ServerConfig>,
    counters: Rc<TlsCounters>,
}

impl<L: TcpListener> TlsListener<L> {
    /// TLS with `config` on the connections `inner` accepts.
    pub fn new(inner: L, config: Arc<ServerConfig>) -> TlsListener<L> {
        TlsListener {
            inner,
            config,
            counters: TlsCounters::new(),
        }
    }

    /// Counting into `counters` (made before, for a route that reports
    /// them).
    pub fn with_counters(mut self, counters: Rc<TlsCounters>) -> TlsListener<L> {
        self.counters = counters;
        self
    }

    /// What its connections counted so far.
    pub fn stats(&self) -> TlsStats {
        self.counters.get()
    }
}

impl<L: TcpListener> TcpListener for TlsListener<L> {
    type Stream = TlsStream<L::Stream>;

    fn local_port(&self) -> u16 {
        self.inner.local_port()
    }

    /// The next connection, its handshake still to come (in its first
    /// read), so one slow client does not hold up the others.
    async fn accept(&self) -> Result<(TlsStream<L::Stream>, SocketAddr), NetError> {
        let (tcp, peer) = self.inner.accept().await?;
        let stream = TlsStream::new(tcp, self.config.clone()).with_counters(self.counters.clone());
        Ok((stream, peer))
    }
}

#[cfg(test)]
mod tests {
    //! A [`TlsStream`] over an in-memory connection whose other end is a
    //! rustls client, pumped synchronously by the connection's reads and
    //! writes: what a client sends, the server reads, and back.
    extern crate std;
    use super::*;
    use alloc::collections::VecDeque;
    use core::cell::RefCell;
    use rustls::{ClientConfig, ClientConnection, RootCertStore};
    use std::io::{Read, Write};

    struct Wire {
        client: Option<ClientConnection>,
        /// TLS bytes on their way to the server.
        to_server: VecDeque<u8>,
        /// What the server sent: the plaintext the client read, or the raw
        /// bytes when there is no client.
        from_server: Vec<u8>,
        /// Bytes each server read gets at most.
        piece: usize,
        /// Times each server read yields before it returns.
        yields: usize,
        /// With nothing left to give, the client has closed (else it is
        /// silent).
        eof: bool,
    }

    #[derive(Clone)]
    struct Mock(Rc<RefCell<Wire>>);

    impl TcpStream for Mock {
        fn peer_addr(&self) -> SocketAddr {
            SocketAddr::from(([192, 0, 2, 1], 4000))
        }

        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
            let n = self.0.borrow().yields;
            yields(n).await;
            let n = {
                let mut w = self.0.borrow_mut();
                let w = &mut *w;
                if w.to_server.is_empty()
                    && let Some(c) = w.client.as_mut()
                {
                    let mut out = Vec::new();
                    while c.wants_write() {
                        c.write_tls(&mut out).unwrap();
                    }
                    w.to_server.extend(out);
                }
                let n = w.to_server.len().min(w.piece).min(buf.len());
                for (b, x) in buf.iter_mut().zip(w.to_server.drain(..n)) {
                    *b = x;
                }
                n
            };
            if n == 0 && !self.0.borrow().eof {
                // Nothing more from the client: a silent peer.
                core::future::pending::<()>().await;
            }
            Ok(n)
        }

        async fn write(&mut self, data: &[u8]) -> Result<usize, NetError> {
            let mut w = self.0.borrow_mut();
            let w = &mut *w;
            match w.client.as_mut() {
                Some(c) => {
                    let mut rest = data;
                    while !rest.is_empty() {
                        c.read_tls(&mut rest).unwrap();
                        c.process_new_packets()
                            .expect("the client takes what the server sent");
                        let mut got = Vec::new();
                        if let Err(e) = c.reader().read_to_end(&mut got) {
                            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                        }
                        w.from_server.extend_from_slice(&got);
                    }
                }
                None => w.from_server.extend_from_slice(data),
            }
            Ok(data.len())
        }

        fn shutdown(&mut self) -> Result<(), NetError> {
            Ok(())
        }
    }

    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        oasis_rt::platform::install(oasis_hosted::services());
        let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
        oasis_rt::exec::block_on(&reactor, async {
            oasis::timeout(oasis::Duration::from_secs(20), f)
                .await
                .expect("in time")
        })
    }

    fn client(versions: &[&'static rustls::SupportedProtocolVersion]) -> ClientConnection {
        let b = crate::builtin();
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(b.cert_pem) {
            roots.add(c.unwrap()).unwrap();
        }
        let config = ClientConfig::builder_with_provider(Arc::new(crate::provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap()
    }

    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    fn wire(client: Option<ClientConnection>, input: &[u8], piece: usize) -> Mock {
        Mock(Rc::new(RefCell::new(Wire {
            client,
            to_server: input.iter().copied().collect(),
            from_server: Vec::new(),
            piece,
            yields: 2,
            eof: false,
        })))
    }

    /// Yields `n` times.
    async fn yields(n: usize) {
        for _ in 0..n {
            oasis::yield_now().await;
        }
    }

    /// A client sends 40 KB in 7-byte pieces; the server reads it with each
    /// read raced against a timer that fires after 0 to 4 yields (so reads
    /// are dropped at every point they wait), then answers 50 KB, which
    /// the client reads whole. The handshake is verified by the client
    /// against the built-in certificate.
    fn exchange(version: &'static rustls::SupportedProtocolVersion) {
        let mut c = client(&[version]);
        let up: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 256) as u8).collect();
        c.writer().write_all(&up).unwrap();
        let mock = wire(Some(c), &[], 7);
        let config =
            crate::server_config(crate::builtin().cert_pem, crate::builtin().key_pem).unwrap();
        let counters = TlsCounters::new();
        let mut s = TlsStream::new(mock.clone(), config).with_counters(counters.clone());
        block_on(async {
            let mut got = Vec::new();
            let mut buf = [0u8; 1000];
            let mut dropped = 0;
            let mut i = 0;
            while got.len() < up.len() {
                i += 1;
                match oasis::select(s.read(&mut buf), yields(i % 5)).await {
                    oasis::Either::Left(r) => {
                        let n = r.expect("a read");
                        assert!(n > 0);
                        got.extend_from_slice(&buf[..n]);
                    }
                    oasis::Either::Right(()) => dropped += 1,
                }
            }
            assert!(got == up, "the client's bytes, in order, once");
            assert!(dropped > 10, "reads were dropped half-way ({dropped})");
            let down: Vec<u8> = (0..50_000u32).map(|i| (i * 11 % 256) as u8).collect();
            s.write_all(&down).await.unwrap();
            let w = mock.0.borrow();
            let back = &w.from_server;
            assert!(*back == down, "the server's bytes ({} back)", back.len());
            let c = w.client.as_ref().unwrap();
            assert_eq!(c.protocol_version(), Some(version.version));
        });
        let conn = s.connection().expect("established");
        assert_eq!(conn.protocol_version(), Some(version.version));
        let tls13 = u64::from(version.version == ProtocolVersion::TLSv1_3);
        let want = TlsStats {
            handshakes: 1,
            resumed: 0,
            tls13,
            failed: 0,
        };
        assert_eq!(counters.get(), want, "one handshake, counted once");
    }

    #[test]
    fn tls13_data_both_ways_survives_reads_dropped_half_way() {
        exchange(&rustls::version::TLS13);
    }

    #[test]
    fn tls12_data_both_ways_survives_reads_dropped_half_way() {
        exchange(&rustls::version::TLS12);
    }

    /// A real ClientHello (TLS 1.3 and 1.2 offered), as the client sends it.
    fn client_hello() -> Vec<u8> {
        let mut c = client(&[&rustls::version::TLS13, &rustls::version::TLS12]);
        let mut out = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut out).unwrap();
        }
        out
    }

    /// Feeds `input` (then the client's close) to a server connection: it
    /// ends in an error, whatever the input — never a panic, never a wait.
    fn hostile(config: &Arc<ServerConfig>, input: &[u8], piece: usize) {
        let mock = wire(None, input, piece);
        mock.0.borrow_mut().eof = true;
        let mut s = TlsStream::new(mock, config.clone());
        block_on(async {
            let mut buf = [0u8; 100];
            assert!(s.read(&mut buf).await.is_err());
        });
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// A real ClientHello with bytes changed, cut short, or both.
        #[test]
        fn a_mangled_client_hello_is_an_error(
            flips in proptest::collection::vec((0usize..4096, 0u8..=255), 1..8),
            cut in 0usize..4096,
            piece in 1usize..600,
        ) {
            let config = crate::server_config(crate::builtin().cert_pem, crate::builtin().key_pem)
                .unwrap();
            let mut hello = client_hello();
            for (at, x) in flips {
                let n = hello.len();
                hello[at % n] ^= x.max(1);
            }
            hello.truncate(cut.max(1));
            hostile(&config, &hello, piece);
        }

        /// After a good handshake and a first message, random bytes (an
        /// application data record header in front or not): the stream
        /// ends — an error, or the end of stream — and writing and shutting
        /// down after it do not panic either.
        #[test]
        fn garbage_after_the_handshake_ends_the_stream(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            typ in proptest::option::of(20u8..=24),
            version in proptest::prelude::any::<bool>(),
        ) {
            let config = crate::server_config(crate::builtin().cert_pem, crate::builtin().key_pem)
                .unwrap();
            let v = if version { &rustls::version::TLS13 } else { &rustls::version::TLS12 };
            let mut c = client(&[v]);
            c.writer().write_all(b"hi").unwrap();
            let mock = wire(Some(c), &[], 1000);
            let mut s = TlsStream::new(mock.clone(), config);
            block_on(async {
                let mut buf = [0u8; 100];
                let n = s.read(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], b"hi");
                {
                    let mut w = mock.0.borrow_mut();
                    w.client = None;
                    w.eof = true;
                    if let Some(t) = typ {
                        w.to_server.extend([t, 3, 3]);
                        w.to_server.extend((body.len() as u16).to_be_bytes());
                    }
                    w.to_server.extend(body.iter().copied());
                }
                match s.read(&mut buf).await {
                    Err(_) | Ok(0) => {}
                    Ok(n) => panic!("{n} bytes of plaintext from garbage"),
                }
                let _ = s.write(b"after").await;
                let _ = s.shutdown();
                let _ = s.read(&mut buf).await;
            });
        }

        /// Random bytes, behind a handshake record header or not.
        #[test]
        fn random_bytes_are_an_error(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
            header in proptest::prelude::any::<bool>(),
        ) {
            let config = crate::server_config(crate::builtin().cert_pem, crate::builtin().key_pem)
                .unwrap();
            let mut input = Vec::new();
            if header {
                input.extend_from_slice(&[22, 3, 1]);
                input.extend_from_slice(&(body.len() as u16).to_be_bytes());
            }
            input.extend_from_slice(&body);
            hostile(&config, &input, 1000);
        }
    }

    #[test]
    fn garbage_is_an_error_with_an_alert_never_a_panic() {
        let config =
            crate::server_config(crate::builtin().cert_pem, crate::builtin().key_pem).unwrap();
        let cases: [&[u8]; 4] = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            &[22, 3, 1, 0, 8, 1, 0, 0, 4, 0xff, 0xff, 0xff, 0xff],
            &[22, 3, 3, 0xff, 0xff, 0, 0, 0],
            &[23, 3, 3, 0, 4, 1, 2, 3, 4],
        ];
        let counters = TlsCounters::new();
        for input in cases {
            let mock = wire(None, input, 3);
            let mut s =
                TlsStream::new(mock.clone(), config.clone()).with_counters(counters.clone());
            block_on(async {
                let mut buf = [0u8; 100];
                assert!(s.read(&mut buf).await.is_err(), "{input:?}");
                assert!(s.read(&mut buf).await.is_err(), "and stays failed");
                assert!(s.write(b"x").await.is_err());
            });
            let out = &mock.0.borrow().from_server;
            assert!(out.is_empty() || out[0] == 21, "an alert at most: {out:?}");
        }
        let c = counters.get();
        assert_eq!(
            (c.failed, c.handshakes),
            (4, 0),
            "each failure counted once"
        );
    }
}
