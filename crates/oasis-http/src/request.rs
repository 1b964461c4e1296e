//! Requests, and the I/O-free reader that frames them out of the bytes a
//! connection receives: the head parsed by `httparse`, then a body by
//! `Content-Length` or chunked, within [`ReadLimits`]. The server feeds it
//! what it reads; tests and the fuzz target feed it bytes directly.
//!
//! Everything here comes from the peer and is hostile: a head that does
//! not parse, framing that could be read two ways (both `Content-Length`
//! and `Transfer-Encoding`, differing lengths, a coding other than
//! chunked), a missing or repeated `Host` are refused with a status and the
//! connection is closed after it.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::SocketAddr;

use crate::chunked::{ChunkError, Decoder};
use crate::form::{self, Pairs};
use crate::response::Response;

/// The HTTP version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: the connection closes after the response unless the
    /// request asked `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: the connection stays open unless either side says
    /// `Connection: close`.
    Http11,
}

/// One request, body read whole.
#[derive(Clone, Debug)]
pub struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) version: Version,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) keep_alive: bool,
}

impl Request {
    /// A request made in code (tests, or a handler calling another one).
    pub fn new(method: &str, target: &str) -> Request {
        let (path, query) = split_target(target);
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            version: Version::Http11,
            headers: Vec::new(),
            body: Vec::new(),
            peer: None,
            params: Vec::new(),
            keep_alive: true,
        }
    }

    /// With a header added.
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers
            .push((name.to_string(), value.as_bytes().to_vec()));
        self
    }

    /// With `body`.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// The method, as sent (methods are case-sensitive: `GET`, `POST`, …).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, still percent-encoded, without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string after `?`, still encoded, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The query's `name=value` pairs, decoded.
    pub fn query_pairs(&self) -> Pairs {
        Pairs(form::parse_pairs(self.query.as_deref().unwrap_or("")))
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The first header field named `name` (any case), if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_bytes(name)
            .and_then(|v| core::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// The first header field named `name` (any case), as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }

    /// Every header field, in order, as received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), &v[..]))
    }

    /// The body (de-chunked).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out.
    pub fn take_body(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.body)
    }

    /// The body as an `application/x-www-form-urlencoded` form, decoded.
    pub fn form(&self) -> Pairs {
        Pairs(form::parse_form(&self.body))
    }

    /// The body as JSON of type `T`; else the response to send: 415 when
    /// the request says it is not JSON, 400 (saying why) when it does not
    /// parse as a `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Response> {
        crate::json::from_request(self)
    }

    /// The value the router captured for `:name` or `*name`, decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The peer's address, for a request read from a connection.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Whether the connection may carry another request after this one's
    /// response, as far as the request is concerned.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether a `Connection` header field lists `token`.
    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .any(|(_, v)| {
                v.split(|&b| b == b',')
                    .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
            })
    }
}

/// The path and query of a request target.
fn split_target(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    }
}

/// Limits on what one request may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Bytes of the request line and header fields at most (else 431).
    pub max_head: usize,
    /// Header fields at most (else 431).
    pub max_headers: usize,
    /// Bytes of body at most, after de-chunking (else 413).
    pub max_body: usize,
}

impl Default for ReadLimits {
    /// 16 KiB of head, 64 fields, 1 MiB of body.
    fn default() -> ReadLimits {
        ReadLimits {
            max_head: 16 * 1024,
            max_headers: 64,
            max_body: 1 << 20,
        }
    }
}

/// A request that cannot be served: the status to answer with and why,
/// after which the connection closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 400, 413, 431 or 501.
    pub status: u16,
    /// What was wrong, for the response's body.
    pub why: &'static str,
}

const fn failure(status: u16, why: &'static str) -> Failure {
    Failure { status, why }
}

const fn fail(status: u16, why: &'static str) -> Step {
    Step::Fail(failure(status, why))
}

/// What the reader has, after the bytes fed so far.
#[derive(Debug)]
pub enum Step {
    /// Nothing whole yet: read more.
    More,
    /// The head asked `Expect: 100-continue` and its body has not arrived:
    /// send `100 Continue`, then read on.
    Continue,
    /// A whole request.
    Request(Request),
    /// A request that cannot be served.
    Fail(Failure),
}

/// Where the reader is, for the server's timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// Nothing of a request yet.
    Idle,
    /// Part of a head.
    Head,
    /// A body.
    Body,
}

enum Framing {
    Length(usize),
    Chunked(Decoder),
}

enum Phase {
    Head,
    Body {
        request: alloc::boxed::Box<Request>,
        framing: Framing,
        continued: bool,
    },
    Failed,
}

/// Bytes read per call at most.
const READ: usize = 16 * 1024;

/// Frames requests out of the bytes of one connection.
pub struct Reader {
    buf: Vec<u8>,
    len: usize,
    phase: Phase,
    limits: ReadLimits,
    peer: Option<SocketAddr>,
    /// Bytes of the head being read already searched for its end.
    scanned: usize,
    /// Heads parsed (whole or not), for the tests.
    parses: usize,
}

impl Reader {
    /// A reader for a connection from `peer`.
    pub fn new(limits: ReadLimits, peer: Option<SocketAddr>) -> Reader {
        Reader {
            buf: Vec::new(),
            len: 0,
            phase: Phase::Head,
            limits,
            peer,
            scanned: 0,
            parses: 0,
        }
    }

    /// Room to read into; then [`Reader::filled`] with how much was read.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.buf.len() < self.len + READ {
            self.buf.resize(self.len + READ, 0);
        }
        &mut self.buf[self.len..self.len + READ]
    }

    /// `n` bytes were read into [`Reader::spare`].
    pub fn filled(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len());
    }

    /// Feeds `data` (tests and fuzzing: the server reads into
    /// [`Reader::spare`] instead).
    pub fn push(&mut self, data: &[u8]) {
        self.buf.truncate(self.len);
        self.buf.extend_from_slice(data);
        self.len = self.buf.len();
    }

    /// What a timeout now would interrupt.
    pub fn waiting(&self) -> Waiting {
        match self.phase {
            Phase::Head if self.len == 0 => Waiting::Idle,
            Phase::Head | Phase::Failed => Waiting::Head,
            Phase::Body { .. } => Waiting::Body,
        }
    }

    /// Bytes received and not yet part of a request.
    pub fn buffered(&self) -> usize {
        self.len
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
        self.scanned = 0;
    }

    /// The next thing the bytes fed so far make. After [`Step::Fail`] the
    /// reader fails again: the connection is to close.
    pub fn step(&mut self) -> Step {
        match core::mem::replace(&mut self.phase, Phase::Failed) {
            Phase::Failed => fail(400, "the connection failed earlier"),
            Phase::Head => {
                self.phase = Phase::Head;
                let s = self.head();
                if let Step::Fail(_) = s {
                    self.phase = Phase::Failed;
                }
                match s {
                    // The head is whole: its body may be here already.
                    Step::More if matches!(self.phase, Phase::Body { .. }) => self.step(),
                    s => s,
                }
            }
            Phase::Body {
                mut request,
                mut framing,
                continued,
            } => {
                let done = match &mut framing {
                    Framing::Length(left) => {
                        let n = (*left).min(self.len);
                        request.body.extend_from_slice(&self.buf[..n]);
                        self.consume(n);
                        *left -= n;
                        *left == 0
                    }
                    Framing::Chunked(d) => {
                        match d.decode(
                            &self.buf[..self.len],
                            &mut request.body,
                            self.limits.max_body,
                        ) {
                            Ok(n) => self.consume(n),
                            Err(ChunkError::TooLarge) => {
                                return fail(413, "the request body is larger than allowed");
                            }
                            Err(ChunkError::Malformed) => {
                                return fail(400, "malformed chunked body");
                            }
                        }
                        d.is_done()
                    }
                };
                if done {
                    self.phase = Phase::Head;
                    return Step::Request(*request);
                }
                let ask = !continued && self.len == 0 && expects_continue(&request);
                self.phase = Phase::Body {
                    request,
                    framing,
                    continued: continued || ask,
                };
                if ask { Step::Continue } else { Step::More }
            }
        }
    }

    /// Parses a head from the buffer. Sets the phase to Body when the
    /// request has one (and returns More), leaves it Failed on a failure.
    fn head(&mut self) -> Step {
        if self.len == 0 {
            return Step::More;
        }
        // A head is parsed when its first bytes arrive (what is no HTTP at
        // all is refused at once) and then only once its end, an empty
        // line, has: not again for every byte of a head sent byte by byte.
        let first = self.scanned == 0;
        let from = self.scanned.saturating_sub(2);
        let ended = self.buf[from..self.len]
            .windows(2)
            .any(|w| w == b"\n\n" || w == b"\n\r");
        self.scanned = self.len;
        if !first && !ended {
            if self.len > self.limits.max_head {
                return fail(431, "the request head is larger than allowed");
            }
            return Step::More;
        }
        self.parses += 1;
        let mut fields = alloc::vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut parsed = httparse::Request::new(&mut fields);
        let n = match parsed.parse(&self.buf[..self.len]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if self.len > self.limits.max_head => {
                return fail(431, "the request head is larger than allowed");
            }
            Ok(httparse::Status::Partial) => return Step::More,
            Err(httparse::Error::TooManyHeaders) => {
                return fail(431, "the request has more header fields than allowed");
            }
            Err(_) => return fail(400, "malformed request head"),
        };
        if n > self.limits.max_head {
            return fail(431, "the request head is larger than allowed");
        }
        let (Some(method), Some(target), Some(version)) =
            (parsed.method, parsed.path, parsed.version)
        else {
            return fail(400, "malformed request line");
        };
        let version = match version {
            0 => Version::Http10,
            _ => Version::Http11,
        };
        let Some(target) = origin_form(method, target) else {
            return fail(400, "malformed request target");
        };
        let (path, query) = split_target(target);
        let headers: Vec<(String, Vec<u8>)> = parsed
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_vec()))
            .collect();
        let mut request = Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            version,
            headers,
            body: Vec::new(),
            peer: self.peer,
            params: Vec::new(),
            keep_alive: false,
        };
        request.keep_alive = match version {
            Version::Http11 => !request.connection_has("close"),
            Version::Http10 => request.connection_has("keep-alive"),
        };
        let hosts = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
            .count();
        if hosts > 1 || (hosts == 0 && version == Version::Http11) {
            return fail(400, "an HTTP/1.1 request needs exactly one Host field");
        }
        let framing = match framing(&request, self.limits.max_body) {
            Ok(f) => f,
            Err(f) => return Step::Fail(f),
        };
        self.consume(n);
        match framing {
            Framing::Length(0) => {
                self.phase = Phase::Head;
                Step::Request(request)
            }
            framing => {
                self.phase = Phase::Body {
                    request: alloc::boxed::Box::new(request),
                    framing,
                    continued: false,
                };
                Step::More
            }
        }
    }
}

/// Whether the request waits for `100 Continue` before sending its body.
fn expects_continue(r: &Request) -> bool {
    r.version == Version::Http11
        && r.header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// The origin-form (`/path?query`) of a request target: as it is, or taken
/// out of an absolute-form (`http://host/path`); `*` for OPTIONS.
fn origin_form<'a>(method: &str, target: &'a str) -> Option<&'a str> {
    if target.starts_with('/') {
        return Some(target);
    }
    if target == "*" && method == "OPTIONS" {
        return Some(target);
    }
    let rest = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))?;
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => Some(&rest[i..]),
        Some(_) => None,
        None => Some("/"),
    }
}

/// How the request's body is framed (RFC 9112 §6.3), or the failure.
fn framing(r: &Request, max_body: usize) -> Result<Framing, Failure> {
    let mut te = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
        .peekable();
    let mut lengths = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .peekable();
    if te.peek().is_some() {
        if lengths.peek().is_some() {
            return Err(failure(400, "both Content-Length and Transfer-Encoding"));
        }
        if r.version == Version::Http10 {
            return Err(failure(400, "Transfer-Encoding in an HTTP/1.0 request"));
        }
        let codings: Vec<&[u8]> = te
            .flat_map(|(_, v)| v.split(|&b| b == b','))
            .map(|c| c.trim_ascii())
            .collect();
        return match &codings[..] {
            [c] if c.eq_ignore_ascii_case(b"chunked") => Ok(Framing::Chunked(Decoder::new())),
            _ => Err(failure(
                501,
                "transfer codings other than chunked are not supported",
            )),
        };
    }
    let mut length: Option<u64> = None;
    for (_, v) in lengths {
        for part in v.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return Err(failure(400, "malformed Content-Length"));
            }
            let n: u64 = core::str::from_utf8(part)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(failure(400, "malformed Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(failure(400, "differing Content-Length values"));
            }
            length = Some(n);
        }
    }
    match length {
        Some(n) if n > max_body as u64 => {
            Err(failure(413, "the request body is larger than allowed"))
        }
        Some(n) => Ok(Framing::Length(n as usize)),
        None => Ok(Framing::Length(0)),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::format;
    use proptest::prelude::*;

    fn limits() -> ReadLimits {
        ReadLimits {
            max_head: 1024,
            max_headers: 8,
            max_body: 100,
        }
    }

    /// Every step until More, for `input` fed at once.
    fn steps(input: &[u8]) -> Vec<Step> {
        let mut r = Reader::new(limits(), None);
        r.push(input);
        let mut out = Vec::new();
        loop {
            match r.step() {
                Step::More => return out,
                s @ Step::Fail(_) => {
                    out.push(s);
                    return out;
                }
                s => out.push(s),
            }
        }
    }

    fn failure(input: &[u8]) -> Option<u16> {
        steps(input).into_iter().find_map(|s| match s {
            Step::Fail(f) => Some(f.status),
            _ => None,
        })
    }

    fn requests(input: &[u8]) -> Vec<Request> {
        steps(input)
            .into_iter()
            .filter_map(|s| match s {
                Step::Request(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn pipelined_requests_come_out_in_order_with_their_bodies() {
        let input = b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n\
            POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello\
            PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
            GET /d HTTP/1.0\r\n\r\n";
        let rs = requests(input);
        let got: Vec<_> = rs
            .iter()
            .map(|r| (r.method(), r.path(), r.query(), r.body(), r.keep_alive()))
            .collect();
        assert_eq!(
            got,
            [
                ("GET", "/a", Some("x=1"), &b""[..], true),
                ("POST", "/b", None, b"hello", true),
                ("PUT", "/c", None, b"abc", true),
                ("GET", "/d", None, b"", false),
            ]
        );
    }

    #[test]
    fn connection_tokens_decide_keep_alive_per_version() {
        let ka = |s: &str| requests(s.as_bytes())[0].keep_alive();
        assert!(!ka(
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, Close\r\n\r\n"
        ));
        assert!(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
    }

    #[test]
    fn a_body_fed_byte_by_byte_asks_for_continue_once() {
        let mut r = Reader::new(limits(), None);
        r.push(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
        assert!(matches!(r.step(), Step::Continue));
        assert_eq!(r.waiting(), Waiting::Body);
        assert!(matches!(r.step(), Step::More));
        for b in b"ab" {
            r.push(&[*b]);
            assert!(matches!(r.step(), Step::More));
        }
        r.push(b"c");
        match r.step() {
            Step::Request(req) => assert_eq!(req.body(), b"abc"),
            s => panic!("{s:?}"),
        }
        assert_eq!(r.waiting(), Waiting::Idle);
    }

    #[test]
    fn absolute_form_targets_become_origin_form() {
        let r = &requests(b"GET http://example.com/x/y?q HTTP/1.1\r\nHost: example.com\r\n\r\n")[0];
        assert_eq!((r.path(), r.query()), ("/x/y", Some("q")));
        let r = &requests(b"GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n")[0];
        assert_eq!(r.path(), "/");
    }

    #[test]
    fn hostile_framing_is_refused_with_the_right_status() {
        let cases: &[(&str, u16)] = &[
            ("GET / HTTP/1.1\r\n\r\n", 400),                           // no Host
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),     // two
            ("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400),                // target
            ("GET / HTTP/1.1\r\nHost: a\r\nBad Name: v\r\n\r\n", 400), // field name
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 400),                // version
            ("\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03", 400),     // TLS
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n",
                413,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n",
                413,
            ),
        ];
        for (input, status) in cases {
            assert_eq!(failure(input.as_bytes()), Some(*status), "{input:?}");
        }
        // Equal repeated lengths are one length.
        let ok = requests(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\nhi");
        assert_eq!(ok[0].body(), b"hi");
    }

    #[test]
    fn heads_past_the_limits_are_431() {
        let many: String = (0..9).map(|i| format!("X-{i}: v\r\n")).collect();
        let input = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert_eq!(failure(input.as_bytes()), Some(431));
        // A head that never ends is cut off at the limit, before its end.
        let long = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "v".repeat(2000));
        assert_eq!(failure(long.as_bytes()), Some(431));
        let whole = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(1100)
        );
        assert_eq!(failure(whole.as_bytes()), Some(431));
    }

    #[test]
    fn a_head_sent_byte_by_byte_is_parsed_at_its_start_and_its_end_only() {
        let mut r = Reader::new(limits(), None);
        let head = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "v".repeat(900)
        );
        let mut got = None;
        for b in head.as_bytes() {
            r.push(&[*b]);
            match r.step() {
                Step::More => {}
                Step::Request(req) => got = Some(req),
                s => panic!("{s:?}"),
            }
        }
        assert_eq!(
            got.expect("the request").header("x").map(str::len),
            Some(900)
        );
        // The first byte, the CR that starts the empty line, its LF.
        assert_eq!(r.parses, 3);
        // Never ending: 431 at the limit, still without parsing again.
        let mut r = Reader::new(limits(), None);
        r.push(b"GET / HTTP/1.1\r\nX: ");
        let mut status = None;
        for _ in 0..2000 {
            r.push(b"v");
            if let Step::Fail(f) = r.step() {
                status = Some(f.status);
                break;
            }
        }
        assert_eq!((status, r.parses), (Some(431), 1));
    }

    #[test]
    fn after_a_failure_the_reader_stays_failed() {
        let mut r = Reader::new(limits(), None);
        r.push(b"BAD\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(matches!(r.step(), Step::Fail(_)));
        assert!(matches!(r.step(), Step::Fail(_)));
    }

    fn field_name() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9-]{0,10}".prop_filter("framing fields are the reader's", |n| {
            ![
                "host",
                "content-length",
                "transfer-encoding",
                "connection",
                "expect",
            ]
            .contains(&n.to_ascii_lowercase().as_str())
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_any_bytes_in_any_pieces(
            input in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(1usize..50, 1..20),
        ) {
            let mut r = Reader::new(limits(), None);
            let mut at = 0;
            let mut cut = cuts.iter().cycle();
            while at < input.len() {
                let end = (at + cut.next().copied().unwrap_or(1)).min(input.len());
                r.push(&input[at..end]);
                at = end;
                for _ in 0..8 {
                    match r.step() {
                        Step::More | Step::Fail(_) => break,
                        _ => {}
                    }
                }
            }
        }

        #[test]
        fn a_well_formed_request_round_trips_in_any_pieces(
            method in "(GET|POST|PUT|DELETE|PATCH)",
            path in "(/[a-z0-9%._~-]{0,8}){1,4}",
            query in proptest::option::of("[a-z0-9=&%+]{0,20}"),
            fields in proptest::collection::vec((field_name(), "[ -~]{0,20}"), 0..5),
            body in proptest::collection::vec(any::<u8>(), 0..100),
            chunked in any::<bool>(),
            chunks in proptest::collection::vec(1usize..40, 0..4),
            cuts in proptest::collection::vec(1usize..64, 1..20),
        ) {
            let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
            let mut wire = format!("{method} {target} HTTP/1.1\r\nHost: example\r\n").into_bytes();
            for (n, v) in &fields {
                wire.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
            }
            if chunked {
                wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                wire.extend_from_slice(&crate::chunked::encode(&body, &chunks));
            } else {
                wire.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                wire.extend_from_slice(&body);
            }
            let mut r = Reader::new(limits(), None);
            let mut at = 0;
            let mut cut = cuts.iter().cycle();
            let mut got = None;
            while got.is_none() {
                prop_assert!(at < wire.len(), "the whole request fed, none came out");
                let end = (at + cut.next().copied().unwrap_or(1)).min(wire.len());
                r.push(&wire[at..end]);
                at = end;
                loop {
                    match r.step() {
                        Step::More => break,
                        Step::Continue => {}
                        Step::Request(req) => { got = Some(req); break }
                        Step::Fail(f) => prop_assert!(false, "{:?}", f),
                    }
                }
            }
            let req = got.unwrap();
            prop_assert_eq!(at, wire.len());
            prop_assert_eq!(req.method(), method.as_str());
            prop_assert_eq!(req.path(), path.as_str());
            prop_assert_eq!(req.query(), query.as_deref());
            prop_assert_eq!(req.body(), &body[..]);
            for (n, v) in &fields {
                prop_assert!(req.headers().any(|(hn, hv)| hn == n && hv == v.trim().as_bytes()));
            }
        }
    }
}
