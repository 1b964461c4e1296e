//! The server: accepts connections on any oasis-net listener, each served
//! in its own task by the connection loop — read, frame ([`Reader`]), route,
//! answer, in order, for as long as the connection is kept alive.
//!
//! A slow or silent client cannot hold a connection: a keep-alive
//! connection with nothing of a request is closed after the table's idle
//! time (shorter when the table is half full), a request head must be whole
//! within `head_timeout` of when the wait for it began and its body within
//! `body_timeout` of the head (else 408 and the close), and every write
//! must make progress within `send_timeout`. The connections are those of
//! oasis-net's table ([`oasis_net::conns`]): past its `max` an idle one is
//! closed to make room, and when none is idle the new connection gets 503
//! and is closed.

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::net::SocketAddr;

use log::debug;
use oasis::{Duration, Either, Instant};
use oasis_net::conns::{Conns, TcpLimits, Ticket};
use oasis_net::{NetError, TcpListener, TcpStream};

use crate::chunked::{LAST_CHUNK, chunk_head};
use crate::request::{Failure, ReadLimits, Reader, Step, Waiting};
use crate::response::{BodyWriter, Conditions, Payload, Pipe, Prepared, Response};
use crate::router::Router;

/// A server's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// What one request may hold.
    pub read: ReadLimits,
    /// The connection table: connections at most (503 past them when none
    /// is idle), per client, and how long a keep-alive connection may idle.
    pub tcp: TcpLimits,
    /// A request head must be whole within this of when the wait for it
    /// began (else 408).
    pub head_timeout: Duration,
    /// A request body must be whole within this of its head (else 408).
    pub body_timeout: Duration,
    /// Each write of a response must make progress within this (else the
    /// connection is closed).
    pub send_timeout: Duration,
}

impl Default for Limits {
    /// [`ReadLimits::default`]; 256 connections, 64 per client, 10 s of
    /// keep-alive (1 s with the table half full); 10 s for a head, 30 s for a
    /// body, 30 s for each write.
    fn default() -> Limits {
        Limits {
            read: ReadLimits::default(),
            tcp: TcpLimits {
                max: 256,
                per_client: 64,
                idle: Duration::from_secs(10),
                busy_idle: Duration::from_secs(1),
            },
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            send_timeout: Duration::from_secs(30),
        }
    }
}

/// What a server counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Connections admitted.
    pub connections: u64,
    /// Connections open now.
    pub open: usize,
    /// Requests read whole (and routed).
    pub requests: u64,
    /// Responses sent, by class: 1xx (100 Continue), 2xx, 3xx, 4xx, 5xx.
    pub responses: [u64; 5],
    /// Requests refused as malformed (400, 501).
    pub malformed: u64,
    /// Requests refused for their size (413, 431).
    pub too_large: u64,
    /// Requests not whole in time (408).
    pub timeouts: u64,
    /// Connections refused with 503: the table full, none idle.
    pub refused_busy: u64,
    /// Idle connections closed to make room for a new one.
    pub evicted: u64,
}

/// A server's counters, shareable before the server exists (a route that
/// reports them is built before the server).
#[derive(Default)]
pub struct Counters(Cell<Stats>);

impl Counters {
    /// New counters, all zero.
    pub fn new() -> Rc<Counters> {
        Rc::new(Counters::default())
    }

    /// What was counted so far.
    pub fn get(&self) -> Stats {
        self.0.get()
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        let mut s = self.0.get();
        f(&mut s);
        self.0.set(s);
    }

    fn response(&self, status: u16) {
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        self.count(|s| s.responses[class] += 1);
    }
}

/// Why a connection ended.
enum End {
    /// The peer closed, or the response said close.
    Done,
    /// Idle past the keep-alive time, or closed to make room.
    Idle,
    /// A request failed; answered, then closed.
    Failed(u16),
    /// The network failed, or the peer stopped taking what was sent.
    Net(NetError),
    /// A write made no progress in time.
    Stalled,
}

impl core::fmt::Display for End {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            End::Done => f.write_str("closed"),
            End::Idle => f.write_str("idle, closed"),
            End::Failed(status) => write!(f, "answered {status}, closed"),
            End::Net(e) => write!(f, "{e}"),
            End::Stalled => f.write_str("the peer took nothing in time, closed"),
        }
    }
}

/// An HTTP/1.1 server: a router, limits and counters.
pub struct Server {
    router: Router,
    limits: Limits,
    counters: Rc<Counters>,
    conns: Rc<Conns>,
    date: RefCell<(u64, String)>,
    lingering: Cell<usize>,
}

/// Wall time before this (2000-01-01) is taken as no wall time at all (a
/// platform whose clock starts at zero): no `Date` field then.
const PLAUSIBLE_WALL_TIME: u64 = 946_684_800;

impl Server {
    /// A server routing with `router`, with [`Limits::default`].
    pub fn new(router: Router) -> Server {
        let limits = Limits::default();
        Server {
            router,
            limits,
            counters: Counters::new(),
            conns: Conns::new(limits.tcp),
            date: RefCell::new((0, String::new())),
            lingering: Cell::new(0),
        }
    }

    /// With `limits`.
    pub fn with_limits(mut self, limits: Limits) -> Server {
        self.limits = limits;
        self.conns = Conns::new(limits.tcp);
        self
    }

    /// Counting into `counters`.
    pub fn with_counters(mut self, counters: Rc<Counters>) -> Server {
        self.counters = counters;
        self
    }

    /// What the server counted so far.
    pub fn stats(&self) -> Stats {
        self.sync_conns();
        self.counters.get()
    }

    fn sync_conns(&self) {
        let c = self.conns.counts();
        self.counters.count(|s| {
            s.open = c.open;
            s.connections = c.admitted;
            s.evicted = c.evicted;
        });
    }

    /// The `Date` field's value now, if the platform has wall time (kvm:
    /// the TSC over the wall time at entry; hosted: the host's clock),
    /// formatted once a second.
    fn date(&self) -> Option<String> {
        let secs = oasis::wall_clock_ns() / 1_000_000_000;
        if secs < PLAUSIBLE_WALL_TIME {
            return None;
        }
        let mut d = self.date.borrow_mut();
        if d.0 != secs {
            *d = (secs, crate::date::format(secs));
        }
        Some(d.1.clone())
    }

    /// Accepts connections on `listener` and serves each in its own task,
    /// until accepting fails.
    pub async fn serve<L: TcpListener>(self: Rc<Self>, listener: L) -> Result<(), NetError> {
        loop {
            let (conn, peer) = listener.accept().await?;
            self.accepted(conn, peer);
            // Let the new connection read the request it may already hold
            // before the next one is admitted (and perhaps needs room).
            oasis::yield_now().await;
        }
    }

    /// Takes a new connection: serves it in its own task if the table has
    /// room (or an idle connection to close for it), else answers 503 and
    /// closes it.
    pub fn accepted<S: TcpStream>(self: &Rc<Self>, mut conn: S, peer: SocketAddr) {
        let Some(ticket) = self.conns.admit(peer.ip()) else {
            self.counters.count(|s| s.refused_busy += 1);
            // The 503 and the close wait in a task of their own (a few at
            // most: past as many as the table holds, the connection is
            // just dropped).
            if self.lingering.get() < self.limits.tcp.max {
                self.lingering.set(self.lingering.get() + 1);
                let server = self.clone();
                oasis::spawn(async move {
                    let r = Response::text(
                        503,
                        "503 Service Unavailable: too many connections, try again\n",
                    )
                    .header("Retry-After", "1")
                    .prepare(&Conditions::failed(), server.date().as_deref());
                    server.counters.response(503);
                    let mut all = r.head;
                    if let Payload::Slice(b, x, y) = &r.send {
                        all.extend_from_slice(&b.as_slice()[*x..*y]);
                    }
                    let sent = oasis::timeout(Duration::from_secs(1), conn.write_all(&all));
                    if let Ok(Ok(())) = sent.await {
                        linger(&mut conn, Duration::from_secs(1)).await;
                    }
                    server.lingering.set(server.lingering.get() - 1);
                });
            }
            debug!("http: connection from {peer} refused: every connection is busy");
            return;
        };
        self.sync_conns();
        let server = self.clone();
        oasis::spawn(async move {
            let end = server.connection(conn, &ticket).await;
            drop(ticket);
            server.sync_conns();
            debug!("http: connection with {peer}: {end}");
        });
    }

    /// Serves one connection (already admitted with `ticket`) to its end.
    async fn connection<S: TcpStream>(&self, mut conn: S, ticket: &Ticket) -> End {
        let limits = self.limits;
        let mut reader = Reader::new(limits.read, Some(conn.peer_addr()));
        let mut scratch = Vec::new();
        loop {
            let wait_start = Instant::now();
            let mut body_deadline = None;
            // Waiting for a request (or the rest of its head) is idle, since
            // the wait began — a head dribbled byte by byte does not make
            // the connection younger — so it may be closed to make room;
            // waiting for a body (bounded by its timeout) is not.
            ticket.idle();
            let mut busy = false;
            let step = loop {
                match reader.step() {
                    Step::More => {}
                    Step::Continue => {
                        let cont: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
                        self.counters.response(100);
                        if let Err(e) = self.write(&mut conn, cont).await {
                            return e;
                        }
                        continue;
                    }
                    s => break s,
                }
                let waiting = reader.waiting();
                let deadline = match waiting {
                    Waiting::Idle => wait_start
                        .saturating_add(self.conns.idle_timeout().min(limits.head_timeout)),
                    Waiting::Head => wait_start.saturating_add(limits.head_timeout),
                    Waiting::Body => *body_deadline
                        .get_or_insert_with(|| Instant::now().saturating_add(limits.body_timeout)),
                };
                if waiting == Waiting::Body && !busy {
                    ticket.busy();
                    busy = true;
                }
                let read = conn.read(reader.spare());
                let stop = oasis::select(
                    oasis::rt::time::sleep_until(deadline),
                    ticket.closer.closed(),
                );
                match oasis::select(read, stop).await {
                    Either::Left(Ok(0)) => {
                        let _ = conn.shutdown();
                        return End::Done;
                    }
                    Either::Left(Ok(n)) => reader.filled(n),
                    Either::Left(Err(e)) => return End::Net(e),
                    Either::Right(Either::Right(())) => return End::Idle,
                    Either::Right(Either::Left(())) if waiting == Waiting::Idle => {
                        return End::Idle;
                    }
                    Either::Right(Either::Left(())) => {
                        self.counters.count(|s| s.timeouts += 1);
                        let why = match waiting {
                            Waiting::Body => "the request body did not arrive in time",
                            _ => "the request head did not arrive in time",
                        };
                        ticket.idle();
                        return self.fail(&mut conn, Failure { status: 408, why }).await;
                    }
                }
            };
            match step {
                Step::Request(request) => {
                    ticket.busy();
                    self.counters.count(|s| s.requests += 1);
                    let cond = Conditions::of(&request);
                    let response = self.router.handle(request).await;
                    let prepared = response.prepare(&cond, self.date().as_deref());
                    self.counters.response(prepared.status);
                    let keep_alive = prepared.keep_alive;
                    if let Err(e) = self.send(&mut conn, prepared, &mut scratch).await {
                        return e;
                    }
                    if !keep_alive {
                        // Closing: room may be made of this connection.
                        ticket.idle();
                        linger(&mut conn, Duration::from_secs(2)).await;
                        return End::Done;
                    }
                }
                Step::Fail(f) => {
                    self.counters.count(|s| match f.status {
                        413 | 431 => s.too_large += 1,
                        _ => s.malformed += 1,
                    });
                    ticket.idle();
                    return self.fail(&mut conn, f).await;
                }
                Step::More | Step::Continue => {}
            }
        }
    }

    /// Answers a request that failed with its status and why, then closes.
    async fn fail<S: TcpStream>(&self, conn: &mut S, f: Failure) -> End {
        let text = alloc::format!(
            "{} {}: {}\n",
            f.status,
            crate::response::reason(f.status),
            f.why
        );
        let r =
            Response::text(f.status, text).prepare(&Conditions::failed(), self.date().as_deref());
        self.counters.response(f.status);
        if let Err(e) = self.write(conn, &r.head).await {
            return e;
        }
        if let Payload::Slice(b, a, e) = &r.send
            && let Err(e) = self.write(conn, &b.as_slice()[*a..*e]).await
        {
            return e;
        }
        linger(conn, Duration::from_secs(2)).await;
        End::Failed(f.status)
    }

    /// Writes all of `data`, each write making progress within the send
    /// timeout.
    async fn write<S: TcpStream>(&self, conn: &mut S, data: &[u8]) -> Result<(), End> {
        for piece in data.chunks(64 * 1024) {
            match oasis::timeout(self.limits.send_timeout, conn.write_all(piece)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(End::Net(e)),
                Err(_) => return Err(End::Stalled),
            }
        }
        Ok(())
    }

    /// Sends a prepared response.
    async fn send<S: TcpStream>(
        &self,
        conn: &mut S,
        p: Prepared,
        scratch: &mut Vec<u8>,
    ) -> Result<(), End> {
        match p.send {
            Payload::Nothing => self.write(conn, &p.head).await,
            // A small body goes with its head in one write.
            Payload::Slice(bytes, a, b) if b - a <= 16 * 1024 => {
                scratch.clear();
                scratch.extend_from_slice(&p.head);
                scratch.extend_from_slice(&bytes.as_slice()[a..b]);
                self.write(conn, scratch).await
            }
            Payload::Slice(bytes, a, b) => {
                self.write(conn, &p.head).await?;
                self.write(conn, &bytes.as_slice()[a..b]).await
            }
            Payload::Stream(producer, chunked) => {
                self.write(conn, &p.head).await?;
                let pipe = Rc::new(Pipe::default());
                let writer = BodyWriter::new(pipe.clone());
                let produce = async {
                    let r = producer(writer).await;
                    pipe.finish();
                    r
                };
                let drain = async {
                    let mut piece = Vec::new();
                    loop {
                        if !pipe.next(&mut piece).await {
                            return match chunked {
                                true => self.write(conn, LAST_CHUNK).await,
                                false => Ok(()),
                            };
                        }
                        scratch.clear();
                        if chunked {
                            chunk_head(piece.len(), scratch);
                        }
                        scratch.extend_from_slice(&piece);
                        if chunked {
                            scratch.extend_from_slice(b"\r\n");
                        }
                        if let Err(e) = self.write(conn, scratch).await {
                            pipe.close();
                            return Err(e);
                        }
                    }
                };
                let (_, sent) = oasis::join(produce, drain).await;
                sent
            }
        }
    }
}

/// Closes a connection without losing what was sent: the sending side
/// first, then what the peer still sends is read and dropped until it
/// closes too (or `limit` passes, or 256 KiB came), so that unread input
/// does not make the close a reset that could destroy the response
/// before the client reads it.
async fn linger<S: TcpStream>(conn: &mut S, limit: Duration) {
    let _ = conn.shutdown();
    let deadline = Instant::now().saturating_add(limit);
    let mut buf = alloc::vec![0u8; 4096];
    let mut total = 0;
    while total < 256 * 1024 {
        match oasis::select(conn.read(&mut buf), oasis::rt::time::sleep_until(deadline)).await {
            Either::Left(Ok(n)) if n > 0 => total += n,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The connection loop fed bytes through an in-memory stream: what
    //! goes in is a client's bytes, what comes out is the server's.
    extern crate std;
    use super::*;
    use alloc::collections::VecDeque;
    use alloc::string::ToString;
    use core::future::Future;

    /// An in-memory connection: reads give `input`'s pieces in turn, then
    /// the end of stream (or, `hang`ing, nothing ever); writes are kept.
    struct Mock {
        input: VecDeque<Vec<u8>>,
        hang: bool,
        out: Rc<RefCell<Vec<u8>>>,
        /// A pause before each piece (a slow client).
        pause: Duration,
        /// Pieces read so far.
        taken: Rc<Cell<usize>>,
    }

    impl TcpStream for Mock {
        fn peer_addr(&self) -> SocketAddr {
            SocketAddr::from(([192, 0, 2, 1], 4000))
        }

        async fn read(&mut self, buf: &mut [u8]) -> Result<usize, NetError> {
            if !self.input.is_empty() && self.pause > Duration::ZERO {
                oasis::sleep(self.pause).await;
            }
            match self.input.front_mut() {
                Some(piece) => {
                    self.taken.set(self.taken.get() + 1);
                    let n = piece.len().min(buf.len());
                    buf[..n].copy_from_slice(&piece[..n]);
                    piece.drain(..n);
                    if piece.is_empty() {
                        self.input.pop_front();
                    }
                    oasis::yield_now().await;
                    Ok(n)
                }
                None if self.hang => core::future::pending().await,
                None => Ok(0),
            }
        }

        async fn write(&mut self, data: &[u8]) -> Result<usize, NetError> {
            self.out.borrow_mut().extend_from_slice(data);
            Ok(data.len())
        }

        fn shutdown(&mut self) -> Result<(), NetError> {
            Ok(())
        }
    }

    fn mock(input: &[&[u8]], hang: bool) -> (Mock, Rc<RefCell<Vec<u8>>>) {
        let out = Rc::new(RefCell::new(Vec::new()));
        let m = Mock {
            input: input.iter().map(|p| p.to_vec()).collect(),
            hang,
            out: out.clone(),
            pause: Duration::ZERO,
            taken: Rc::new(Cell::new(0)),
        };
        (m, out)
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        oasis_rt::platform::install(oasis_hosted::services());
        let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
        oasis_rt::exec::block_on(&reactor, async {
            oasis::timeout(Duration::from_secs(20), f)
                .await
                .expect("in time")
        })
    }

    async fn until_closed(server: &Server) {
        while server.stats().open > 0 {
            oasis::sleep(Duration::from_millis(1)).await;
        }
    }

    fn router() -> Router {
        Router::new()
            .get("/", |_| async { Response::text(200, "root\n") })
            .get("/n/:n", |r: Request| async move {
                Response::text(200, alloc::format!("n={}\n", r.param("n").unwrap_or("")))
            })
            .post("/echo", |r: Request| async move {
                Response::bytes(200, "application/octet-stream", r.body().to_vec())
            })
            .get("/stream/:n", |r: Request| async move {
                let n: usize = r.param("n").and_then(|n| n.parse().ok()).unwrap_or(0);
                Response::stream(200, "text/plain", move |mut w| async move {
                    for i in 0..n {
                        w.write(alloc::format!("line {i}\n").as_bytes()).await?;
                    }
                    Ok(())
                })
            })
    }

    fn limits() -> Limits {
        let mut l = Limits::default();
        l.read.max_body = 1000;
        l.head_timeout = Duration::from_millis(200);
        l.body_timeout = Duration::from_millis(200);
        l.tcp.idle = Duration::from_millis(200);
        l
    }

    use crate::request::Request;

    /// Serves one connection fed `input`; what the server wrote, and its
    /// counters after.
    fn exchange(input: &[&[u8]], hang: bool) -> (String, Stats) {
        block_on(async {
            let server = Rc::new(Server::new(router()).with_limits(limits()));
            let (m, out) = mock(input, hang);
            server.accepted(m, SocketAddr::from(([192, 0, 2, 1], 4000)));
            oasis::yield_now().await;
            until_closed(&server).await;
            let out = String::from_utf8_lossy(&out.borrow()).into_owned();
            (out, server.stats())
        })
    }

    /// The responses in `out`: status and body, framed by Content-Length
    /// or chunked, in order.
    fn responses(out: &str) -> Vec<(u16, String)> {
        responses_to(out, &[])
    }

    /// [`responses`], the `heads`-th ones answering HEAD (no body).
    fn responses_to(out: &str, heads: &[usize]) -> Vec<(u16, String)> {
        let mut rest = out.as_bytes();
        let mut all = Vec::new();
        while !rest.is_empty() {
            let end = rest
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("a whole head")
                + 4;
            let head = core::str::from_utf8(&rest[..end]).unwrap();
            rest = &rest[end..];
            let status: u16 = head[9..12].parse().unwrap();
            let field = |n: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(n).map(|v| v.trim().to_string()))
            };
            let body = if heads.contains(&all.len()) {
                Vec::new()
            } else if let Some(len) = field("Content-Length:") {
                let len: usize = len.parse().unwrap();
                let b = &rest[..len];
                rest = &rest[len..];
                b.to_vec()
            } else if field("Transfer-Encoding:").is_some() {
                let mut d = crate::chunked::Decoder::new();
                let mut b = Vec::new();
                let n = d.decode(rest, &mut b, 1 << 20).unwrap();
                assert!(d.is_done());
                rest = &rest[n..];
                b
            } else {
                Vec::new()
            };
            all.push((status, String::from_utf8(body).unwrap()));
        }
        all
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_on_one_connection() {
        let (out, stats) = exchange(
            &[b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /n/1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /n/2 HTTP/1.1\r\nHost: h\r\n\r\nGET /n/3 HTTP/1.1\r\nHost: h\r\n\r\n"],
            false,
        );
        // HEAD's head says the length of the body it does not carry.
        let head_resp = out.split("HTTP/1.1").nth(3).unwrap();
        assert!(head_resp.contains("Content-Length: 4\r\n"), "{out}");
        let got = responses_to(&out, &[2]);
        assert_eq!(
            got,
            [
                (200, "root\n".into()),
                (200, "n=1\n".into()),
                (200, "".into()),
                (200, "n=3\n".into())
            ]
        );
        assert!(out.contains("Server: oasis\r\n") && !out.contains("Connection: close"));
        assert_eq!((stats.requests, stats.responses[1], stats.open), (4, 4, 0));
    }

    #[test]
    fn a_chunked_upload_in_small_pieces_after_100_continue_is_echoed() {
        let body: Vec<u8> = (0..700u32).map(|i| (i % 251) as u8).collect();
        let mut wire = b"POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let head_len = wire.len();
        wire.extend_from_slice(&crate::chunked::encode(&body, &[1, 2, 100, 300]));
        let mut pieces: Vec<&[u8]> = alloc::vec![&wire[..head_len]];
        pieces.extend(wire[head_len..].chunks(7));
        let (out, stats) = exchange(&pieces, false);
        assert!(
            out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
            "{out}"
        );
        let echoed = out.split("\r\n\r\n").nth(2).unwrap().as_bytes();
        assert_eq!(
            String::from_utf8_lossy(echoed),
            String::from_utf8_lossy(&body)
        );
        assert_eq!((stats.responses[0], stats.responses[1]), (1, 1));
    }

    #[test]
    fn malformed_and_oversized_requests_are_answered_then_closed_and_counted() {
        let (out, stats) = exchange(&[b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGARBAGE\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"], false);
        let got = responses(&out);
        assert_eq!(got[0].0, 200);
        assert_eq!(
            got[1],
            (400, "400 Bad Request: malformed request head\n".into())
        );
        assert_eq!(got.len(), 2, "nothing after the failure");
        assert!(
            out.ends_with("Connection: close\r\n\r\n400 Bad Request: malformed request head\n")
                || out.contains("Connection: close")
        );
        assert_eq!((stats.malformed, stats.responses[3]), (1, 1));

        let (out, stats) = exchange(
            &[b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n"],
            false,
        );
        assert_eq!(responses(&out)[0].0, 413);
        assert_eq!(stats.too_large, 1);
        let big = alloc::format!(
            "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
            "a".repeat(20_000)
        );
        let (out, stats) = exchange(&[big.as_bytes()], false);
        assert_eq!(responses(&out)[0].0, 431);
        assert_eq!(stats.too_large, 1);
    }

    #[test]
    fn a_slow_client_gets_408_and_an_idle_one_is_closed_silently() {
        let (out, stats) = exchange(&[b"GET / HTTP/1.1\r\n", b"Host: h\r\n"], true);
        let got = responses(&out);
        assert_eq!(
            got,
            [(
                408,
                "408 Request Timeout: the request head did not arrive in time\n".into()
            )]
        );
        assert_eq!(stats.timeouts, 1);
        let (out, _) = exchange(
            &[b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc"],
            true,
        );
        assert_eq!(responses(&out)[0].0, 408);
        // A keep-alive connection with nothing of a next request: no 408.
        let (out, stats) = exchange(&[b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"], true);
        assert_eq!(responses(&out), [(200, "root\n".into())]);
        assert_eq!(stats.timeouts, 0);
    }

    #[test]
    fn a_streamed_body_is_chunked_for_http11_and_runs_to_the_close_for_http10() {
        let (out, _) = exchange(&[b"GET /stream/1000 HTTP/1.1\r\nHost: h\r\n\r\n"], false);
        assert!(out.contains("Transfer-Encoding: chunked\r\n"));
        let want: String = (0..1000).map(|i| alloc::format!("line {i}\n")).collect();
        assert_eq!(responses(&out), [(200, want.clone())]);
        let (out, _) = exchange(
            &[b"GET /stream/1000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"],
            false,
        );
        assert!(out.starts_with("HTTP/1.0 200 OK\r\n") && out.contains("Connection: close\r\n"));
        assert!(out.ends_with(&want) && !out.contains("chunked"));
    }

    #[test]
    fn a_head_dribbled_byte_by_byte_is_the_idle_connection_closed_for_room() {
        block_on(async {
            let mut l = limits();
            l.tcp.max = 2;
            l.head_timeout = Duration::from_secs(10);
            l.tcp.idle = Duration::from_secs(10);
            let server = Rc::new(Server::new(router()).with_limits(l));
            let peer = SocketAddr::from(([192, 0, 2, 1], 4000));
            // A sends a byte every 5 ms, from its start: its head would take
            // 7.5 s at least.
            let head = alloc::format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}", "v".repeat(1500));
            let pieces: Vec<&[u8]> = head.as_bytes().chunks(1).collect();
            let (mut a, a_out) = mock(&pieces, true);
            a.pause = Duration::from_millis(5);
            let a_taken = a.taken.clone();
            server.accepted(a, peer);
            oasis::sleep(Duration::from_millis(20)).await;
            // B asks and is answered, then idles, later than A's start.
            let (b, b_out) = mock(&[b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"], true);
            server.accepted(b, peer);
            while b_out.borrow().is_empty() {
                oasis::sleep(Duration::from_millis(1)).await;
            }
            // A has sent more bytes since B idled; still, A is the one that
            // has waited for its request longest, and makes room for C.
            let seen = a_taken.get();
            while a_taken.get() < seen + 3 {
                oasis::sleep(Duration::from_millis(1)).await;
            }
            let (c, c_out) = mock(&[b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"], true);
            server.accepted(c, peer);
            while c_out.borrow().is_empty() {
                oasis::sleep(Duration::from_millis(1)).await;
            }
            assert!(a_out.borrow().is_empty(), "A closed without an answer");
            assert!(
                a_taken.get() < head.len(),
                "A was closed before its head ended"
            );
            let s = server.stats();
            assert_eq!((s.evicted, s.open, s.refused_busy), (1, 2, 0));
        });
    }

    #[test]
    fn past_the_table_a_connection_gets_503_while_every_other_is_busy() {
        block_on(async {
            let mut l = limits();
            l.tcp.max = 1;
            let server = Rc::new(Server::new(router()).with_limits(l));
            // A connection in the middle of a body is busy.
            let (busy, _) = mock(
                &[b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab"],
                true,
            );
            server.accepted(busy, SocketAddr::from(([192, 0, 2, 1], 4000)));
            oasis::sleep(Duration::from_millis(20)).await;
            let (next, out) = mock(&[b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"], false);
            server.accepted(next, SocketAddr::from(([192, 0, 2, 2], 4000)));
            while server.lingering.get() > 0 || out.borrow().is_empty() {
                oasis::sleep(Duration::from_millis(1)).await;
            }
            let out = String::from_utf8_lossy(&out.borrow()).into_owned();
            assert!(
                out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
                "{out}"
            );
            assert!(
                out.contains("Retry-After: 1\r\n")
                    && out.ends_with("too many connections, try again\n")
            );
            until_closed(&server).await;
            let s = server.stats();
            assert_eq!((s.refused_busy, s.connections, s.timeouts), (1, 1, 1));
        });
    }
}
