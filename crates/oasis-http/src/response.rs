//! Responses: a status, header fields and a body — empty, whole (borrowed
//! from the image, owned, or shared), or streamed by a producer that
//! writes chunks without the whole body ever being held — and how one is
//! put on the wire for a given request ([`Prepared`]): conditional GET
//! (304), a single byte range (206, 416), HEAD, the framing (sized,
//! chunked, or up to the close for an HTTP/1.0 client) and whether the
//! connection stays open.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Poll, Waker};

use crate::request::{Request, Version};

/// A body held whole.
#[derive(Clone, Debug)]
pub enum Bytes {
    /// Bytes of the image (compiled-in assets): sent where they lie.
    Static(&'static [u8]),
    /// Bytes made for this response.
    Owned(Vec<u8>),
    /// Bytes shared between responses (a cache).
    Shared(Rc<[u8]>),
}

impl Bytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Static(b) => b,
            Bytes::Owned(b) => b,
            Bytes::Shared(b) => b,
        }
    }
}

/// The future a streamed body's producer returns.
pub type ProducerFuture = Pin<Box<dyn Future<Output = Result<(), Closed>>>>;
/// A streamed body's producer: given the writer, writes the body's chunks.
pub type Producer = Box<dyn FnOnce(BodyWriter) -> ProducerFuture>;

/// A response's body.
pub enum Body {
    /// No body.
    Empty,
    /// A body held whole: sent with `Content-Length`, ranges possible.
    Full(Bytes),
    /// A body written piece by piece as it is sent (chunked to an HTTP/1.1
    /// client, up to the close to an HTTP/1.0 one); never run for HEAD.
    Stream(Producer),
}

impl core::fmt::Debug for Body {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Full(b) => write!(f, "Full({} bytes)", b.as_slice().len()),
            Body::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    body: Body,
    etag: Option<Cow<'static, str>>,
    last_modified: Option<u64>,
    ranges: bool,
    close: bool,
}

impl Response {
    /// A response with `status` and no body.
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Body::Empty,
            etag: None,
            last_modified: None,
            ranges: false,
            close: false,
        }
    }

    /// `text` as `text/plain; charset=utf-8`.
    pub fn text(status: u16, text: impl Into<String>) -> Response {
        Response::bytes(
            status,
            "text/plain; charset=utf-8",
            text.into().into_bytes(),
        )
    }

    /// `html` as `text/html; charset=utf-8`.
    pub fn html(status: u16, html: impl Into<String>) -> Response {
        Response::bytes(status, "text/html; charset=utf-8", html.into().into_bytes())
    }

    /// `body` with `content_type`.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status)
            .header("Content-Type", content_type)
            .with_body(Body::Full(Bytes::Owned(body.into())))
    }

    /// A static body (compiled into the image) with `content_type`, with a
    /// strong ETag from its bytes and byte ranges allowed: conditional and
    /// range requests are answered from it with no further work. (This
    /// hashes the body for the tag; [`Asset`] hashes it once.)
    pub fn asset(content_type: &str, body: &'static [u8]) -> Response {
        Asset::new(content_type, body).response()
    }

    /// `value` as JSON (`application/json`); a 500 if it cannot be
    /// serialised.
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Response {
        crate::json::response(status, value)
    }

    /// A body streamed by `produce`, which writes it piece by piece through
    /// the [`BodyWriter`] it is given; each write waits while the
    /// connection is behind, so at most a few pieces are held at once.
    ///
    /// ```
    /// # use oasis_http::Response;
    /// let r = Response::stream(200, "text/plain", |mut w| async move {
    ///     for i in 0..1000 {
    ///         w.write(alloc::format!("line {i}\n").as_bytes()).await?;
    ///     }
    ///     Ok(())
    /// });
    /// # extern crate alloc;
    /// ```
    pub fn stream<F, Fut>(status: u16, content_type: &str, produce: F) -> Response
    where
        F: FnOnce(BodyWriter) -> Fut + 'static,
        Fut: Future<Output = Result<(), Closed>> + 'static,
    {
        Response::new(status)
            .header("Content-Type", content_type)
            .with_body(Body::Stream(Box::new(move |w| Box::pin(produce(w)))))
    }

    /// With `body`.
    pub fn with_body(mut self, body: Body) -> Response {
        self.body = body;
        self
    }

    /// With a header field (`Content-Length`, `Transfer-Encoding`,
    /// `Connection`, `Date` and `Server` are the server's and ignored here).
    pub fn header(
        mut self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Response {
        let name = name.into();
        if !is_framing(&name) {
            self.headers.push((name, Cow::Owned(value.into())));
        }
        self
    }

    /// [`Response::header`] with a value of the image's: nothing copied
    /// (compiled-in assets answer with these).
    pub fn static_header(mut self, name: &'static str, value: &'static str) -> Response {
        if !is_framing(name) {
            self.headers
                .push((Cow::Borrowed(name), Cow::Borrowed(value)));
        }
        self
    }

    /// With an entity tag: `tag` quoted if it is not already (`"…"` or
    /// `W/"…"`). A GET with a matching `If-None-Match` gets 304.
    pub fn etag(mut self, tag: &str) -> Response {
        self.etag = Some(Cow::Owned(if tag.ends_with('"') {
            tag.to_string()
        } else {
            alloc::format!("\"{tag}\"")
        }));
        self
    }

    /// [`Response::etag`] with a tag of the image's, already quoted
    /// (`"…"`): nothing copied.
    pub fn static_etag(mut self, tag: &'static str) -> Response {
        self.etag = Some(Cow::Borrowed(tag));
        self
    }

    /// With `Last-Modified` at `secs` since the Unix epoch. A GET with an
    /// `If-Modified-Since` at or after it (and no `If-None-Match`) gets 304.
    pub fn last_modified(mut self, secs: u64) -> Response {
        self.last_modified = Some(secs);
        self
    }

    /// Byte ranges of a whole body may be asked for (`Accept-Ranges: bytes`).
    pub fn accept_ranges(mut self) -> Response {
        self.ranges = true;
        self
    }

    /// The connection closes after this response.
    pub fn close(mut self) -> Response {
        self.close = true;
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The first header field named `name` (any case) the handler set.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

fn is_framing(name: &str) -> bool {
    [
        "content-length",
        "transfer-encoding",
        "connection",
        "date",
        "server",
    ]
    .iter()
    .any(|f| name.eq_ignore_ascii_case(f))
}

/// A static body with its type and entity tag worked out once: each
/// response to it is a lookup and a copy.
/// (A directory of files compiled in by the build, each with its gzip and
/// brotli forms and their tags, is [`crate::assets`].)
#[derive(Clone, Debug)]
pub struct Asset {
    content_type: String,
    body: &'static [u8],
    etag: String,
    last_modified: Option<u64>,
}

impl Asset {
    /// `body` as `content_type`, tagged by [`etag_of`].
    pub fn new(content_type: &str, body: &'static [u8]) -> Asset {
        Asset {
            content_type: content_type.to_string(),
            body,
            etag: etag_of(body),
            last_modified: None,
        }
    }

    /// Modified last at `secs` since the Unix epoch.
    pub fn last_modified(mut self, secs: u64) -> Asset {
        self.last_modified = Some(secs);
        self
    }

    /// A 200 with the body, its tag, its date if any, and ranges allowed.
    pub fn response(&self) -> Response {
        let r = Response::new(200)
            .header("Content-Type", self.content_type.clone())
            .etag(&self.etag)
            .accept_ranges()
            .with_body(Body::Full(Bytes::Static(self.body)));
        match self.last_modified {
            Some(t) => r.last_modified(t),
            None => r,
        }
    }
}

/// A strong entity tag for `body`: 64 bits of FNV-1a over it and its length.
/// (Not a defence against anyone: a tag only needs to change with the body.)
pub fn etag_of(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    alloc::format!("\"{:016x}-{:x}\"", h, body.len())
}

/// The reason phrase of `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// What of a request the response depends on, kept when the request itself
/// goes to the handler.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    head: bool,
    get: bool,
    http10: bool,
    keep_alive: bool,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    range: Option<String>,
    if_range: Option<String>,
}

impl Conditions {
    /// Those of `r`.
    pub fn of(r: &Request) -> Conditions {
        let h = |n: &str| r.header(n).map(str::to_string);
        Conditions {
            head: r.method() == "HEAD",
            get: r.method() == "GET" || r.method() == "HEAD",
            http10: r.version() == Version::Http10,
            keep_alive: r.keep_alive(),
            if_none_match: h("if-none-match"),
            if_modified_since: h("if-modified-since"),
            range: h("range"),
            if_range: h("if-range"),
        }
    }

    /// For a request that failed before it was whole: HTTP/1.1, closing.
    pub fn failed() -> Conditions {
        Conditions::default()
    }
}

/// How a body goes out.
pub enum Payload {
    /// Nothing after the head.
    Nothing,
    /// These bytes of a whole body.
    Slice(Bytes, usize, usize),
    /// Chunks from the producer (`chunked`: framed; else up to the close).
    Stream(Producer, bool),
}

/// A response ready to go: its head's bytes, its body, and whether the
/// connection stays open after it.
pub struct Prepared {
    /// Status line and header fields, with the blank line.
    pub head: Vec<u8>,
    /// The body.
    pub send: Payload,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
    /// The status sent.
    pub status: u16,
}

/// Whether an `If-None-Match` list matches `etag` (weak comparison).
fn none_match(list: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    list.trim() == "*" || list.split(',').any(|t| bare(t) == bare(etag))
}

/// A byte range of a body of `len` bytes asked by a `Range` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// Bytes `start..end`.
    Bytes(usize, usize),
    /// No asked range overlaps the body: 416.
    Unsatisfiable,
    /// Not a single byte range this server reads: the whole body.
    Whole,
}

/// The range `field` asks of a body of `len` bytes (RFC 9110 §14.1.2; one
/// range only: a list of several is answered with the whole body, which
/// the RFC allows).
pub fn parse_range(field: &str, len: usize) -> Range {
    let Some(spec) = field.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let len64 = len as u64;
    match (a.is_empty(), b.is_empty()) {
        // A suffix: the last b bytes.
        (true, false) => match num(b) {
            Some(0) => Range::Unsatisfiable,
            Some(_) if len == 0 => Range::Unsatisfiable,
            Some(n) => Range::Bytes((len64 - n.min(len64)) as usize, len),
            None => Range::Whole,
        },
        (false, _) => {
            let Some(start) = num(a) else {
                return Range::Whole;
            };
            let end = if b.is_empty() { Some(u64::MAX) } else { num(b) };
            match end {
                None => Range::Whole,
                Some(end) if end < start => Range::Whole,
                Some(_) if start >= len64 => Range::Unsatisfiable,
                Some(end) => Range::Bytes(start as usize, (end.min(len64 - 1) + 1) as usize),
            }
        }
        (true, true) => Range::Whole,
    }
}

impl Response {
    /// Puts the response on the wire for a request with `cond`: decides
    /// 304, 206 or 416, the framing, and the connection's fate. `date` is
    /// the `Date` field's value, if the platform has wall time.
    pub fn prepare(self, cond: &Conditions, date: Option<&str>) -> Prepared {
        let Response {
            mut status,
            mut headers,
            body,
            etag,
            last_modified,
            ranges,
            close,
        } = self;
        let mut send = match body {
            Body::Empty => Payload::Slice(Bytes::Static(b""), 0, 0),
            Body::Full(b) => {
                let n = b.as_slice().len();
                Payload::Slice(b, 0, n)
            }
            Body::Stream(p) => Payload::Stream(p, !cond.http10),
        };
        let lm = last_modified.map(crate::date::format);
        let mut content_range = None;
        if status == 200 && cond.get {
            let not_modified = match (&cond.if_none_match, &etag) {
                (Some(list), Some(tag)) => none_match(list, tag),
                (Some(_), None) => false,
                (None, _) => match (&cond.if_modified_since, last_modified) {
                    (Some(ims), Some(lm)) => crate::date::parse(ims).is_some_and(|t| lm <= t),
                    _ => false,
                },
            };
            if not_modified {
                status = 304;
                send = Payload::Nothing;
            } else if let (true, Some(range), Payload::Slice(_, _, len)) =
                (ranges, &cond.range, &send)
            {
                let len = *len;
                // If-Range: the range only if the body is still the one the
                // client has part of (a strong tag, or the exact date).
                let current = match &cond.if_range {
                    None => true,
                    Some(v) if v.starts_with('"') => etag.as_deref() == Some(v.as_str()),
                    Some(v) => lm.as_deref() == Some(v.as_str()),
                };
                if current {
                    match parse_range(range, len) {
                        Range::Whole => {}
                        Range::Bytes(a, b) => {
                            status = 206;
                            content_range = Some(alloc::format!("bytes {}-{}/{len}", a, b - 1));
                            if let Payload::Slice(bytes, _, _) = send {
                                send = Payload::Slice(bytes, a, b);
                            }
                        }
                        Range::Unsatisfiable => {
                            status = 416;
                            content_range = Some(alloc::format!("bytes */{len}"));
                            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
                            headers
                                .push(("Content-Type".into(), "text/plain; charset=utf-8".into()));
                            let text: &'static [u8] = b"416 Range Not Satisfiable\n";
                            send = Payload::Slice(Bytes::Static(text), 0, text.len());
                        }
                    }
                }
            }
        }
        let no_body = matches!(status, 100..=199 | 204 | 304);
        if no_body {
            send = Payload::Nothing;
        }
        let streamed_to_close = matches!(send, Payload::Stream(_, false));
        let keep_alive = cond.keep_alive && !close && !streamed_to_close;

        let mut head = Vec::with_capacity(256);
        let mut line = |n: &str, v: &str| {
            head.extend_from_slice(n.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(v.as_bytes());
            head.extend_from_slice(b"\r\n");
        };
        // The status line goes in front below, once `line` is done.
        line("Server", "oasis");
        if let Some(d) = date {
            line("Date", d);
        }
        for (n, v) in &headers {
            // A value with CR or LF would end the field early: never sent.
            if !v.bytes().any(|b| b == b'\r' || b == b'\n')
                && !n.bytes().any(|b| b == b'\r' || b == b'\n' || b == b':')
            {
                line(n, v);
            }
        }
        if let Some(t) = &etag {
            line("ETag", t);
        }
        if let Some(t) = &lm {
            line("Last-Modified", t);
        }
        if ranges && status != 304 {
            line("Accept-Ranges", "bytes");
        }
        if let Some(cr) = &content_range {
            line("Content-Range", cr);
        }
        match &send {
            Payload::Nothing if status == 304 || status == 204 || status < 200 => {}
            Payload::Nothing => line("Content-Length", "0"),
            Payload::Slice(_, a, b) => line("Content-Length", &(b - a).to_string()),
            Payload::Stream(_, true) => line("Transfer-Encoding", "chunked"),
            Payload::Stream(_, false) => {}
        }
        match (keep_alive, cond.http10) {
            (true, true) => line("Connection", "keep-alive"),
            (false, _) => line("Connection", "close"),
            (true, false) => {}
        }
        head.extend_from_slice(b"\r\n");
        let mut out = Vec::with_capacity(head.len() + 32);
        out.extend_from_slice(if cond.http10 {
            b"HTTP/1.0 "
        } else {
            b"HTTP/1.1 "
        });
        out.extend_from_slice(status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(status).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&head);
        if cond.head {
            send = Payload::Nothing;
        }
        Prepared {
            head: out,
            send,
            keep_alive,
            status,
        }
    }
}

/// The body's reader has gone (the connection failed or closed): a
/// producer stops at its next write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Closed;

impl core::fmt::Display for Closed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the connection closed")
    }
}

/// How many bytes a producer may have waiting before its writes wait.
const PIPE_HIGH: usize = 16 * 1024;

/// The pipe between a producer and the connection sending its body.
#[derive(Default)]
pub(crate) struct Pipe {
    buf: RefCell<Vec<u8>>,
    closed: Cell<bool>,
    done: Cell<bool>,
    reader: RefCell<Option<Waker>>,
    writer: RefCell<Option<Waker>>,
}

impl Pipe {
    fn wake(slot: &RefCell<Option<Waker>>) {
        if let Some(w) = slot.borrow_mut().take() {
            w.wake();
        }
    }

    /// The next piece written (swapped into `into`), or `false` once the
    /// producer is done and everything was taken.
    pub(crate) async fn next(&self, into: &mut Vec<u8>) -> bool {
        poll_fn(|cx| {
            let mut buf = self.buf.borrow_mut();
            if !buf.is_empty() {
                into.clear();
                core::mem::swap(&mut *buf, into);
                drop(buf);
                Pipe::wake(&self.writer);
                return Poll::Ready(true);
            }
            if self.done.get() {
                return Poll::Ready(false);
            }
            *self.reader.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The producer finished (or failed).
    pub(crate) fn finish(&self) {
        self.done.set(true);
        Pipe::wake(&self.reader);
    }

    /// The connection stopped taking the body.
    pub(crate) fn close(&self) {
        self.closed.set(true);
        Pipe::wake(&self.writer);
    }
}

/// What a streamed body's producer writes through.
pub struct BodyWriter {
    pipe: Rc<Pipe>,
}

impl BodyWriter {
    pub(crate) fn new(pipe: Rc<Pipe>) -> BodyWriter {
        BodyWriter { pipe }
    }

    /// Hands `data` on to be sent, first waiting while earlier pieces have
    /// not been taken; `Err(Closed)` when the connection is gone.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), Closed> {
        let pipe = &self.pipe;
        poll_fn(|cx| {
            if pipe.closed.get() {
                return Poll::Ready(Err(Closed));
            }
            if pipe.buf.borrow().len() >= PIPE_HIGH {
                *pipe.writer.borrow_mut() = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        })
        .await?;
        if !data.is_empty() {
            pipe.buf.borrow_mut().extend_from_slice(data);
            Pipe::wake(&pipe.reader);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    fn cond(r: Request) -> Conditions {
        Conditions::of(&r)
    }

    fn get(extra: &[(&str, &str)]) -> Conditions {
        let mut r = Request::new("GET", "/").with_header("Host", "h");
        for (n, v) in extra {
            r = r.with_header(n, v);
        }
        cond(r)
    }

    fn body_of(p: &Prepared) -> &[u8] {
        match &p.send {
            Payload::Slice(b, a, e) => &b.as_slice()[*a..*e],
            _ => b"",
        }
    }

    fn head_of(p: &Prepared) -> String {
        String::from_utf8(p.head.clone()).unwrap()
    }

    fn asset() -> Response {
        Response::asset("text/plain", b"0123456789").last_modified(784_111_777)
    }

    #[test]
    fn if_none_match_and_if_modified_since_give_304_without_a_body() {
        let tag = etag_of(b"0123456789");
        let p = asset().prepare(
            &get(&[("If-None-Match", &alloc::format!("\"x\", W/{tag}"))]),
            None,
        );
        assert_eq!(p.status, 304);
        assert!(matches!(p.send, Payload::Nothing));
        let h = head_of(&p);
        assert!(
            h.contains(&alloc::format!("ETag: {tag}\r\n")) && !h.contains("Content-Length"),
            "{h}"
        );
        // A non-matching tag wins over a date that would match.
        let p = asset().prepare(
            &get(&[
                ("If-None-Match", "\"x\""),
                ("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ]),
            None,
        );
        assert_eq!(p.status, 200);
        let p = asset().prepare(
            &get(&[("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT")]),
            None,
        );
        assert_eq!(p.status, 304);
        let p = asset().prepare(
            &get(&[("If-Modified-Since", "Sun, 06 Nov 1994 08:49:36 GMT")]),
            None,
        );
        assert_eq!(p.status, 200);
        assert_eq!(body_of(&p), b"0123456789");
    }

    #[test]
    fn a_single_range_is_206_and_past_the_end_is_416() {
        let p = asset().prepare(&get(&[("Range", "bytes=2-4")]), None);
        assert_eq!((p.status, body_of(&p)), (206, &b"234"[..]));
        assert!(head_of(&p).contains("Content-Range: bytes 2-4/10\r\nContent-Length: 3\r\n"));
        let p = asset().prepare(&get(&[("Range", "bytes=-3")]), None);
        assert_eq!((p.status, body_of(&p)), (206, &b"789"[..]));
        let p = asset().prepare(&get(&[("Range", "bytes=7-")]), None);
        assert_eq!((p.status, body_of(&p)), (206, &b"789"[..]));
        let p = asset().prepare(&get(&[("Range", "bytes=8-100")]), None);
        assert_eq!((p.status, body_of(&p)), (206, &b"89"[..]));
        let p = asset().prepare(&get(&[("Range", "bytes=10-")]), None);
        assert_eq!(p.status, 416);
        assert!(head_of(&p).contains("Content-Range: bytes */10\r\n"));
        // Several ranges, or a stale If-Range: the whole body.
        let p = asset().prepare(&get(&[("Range", "bytes=0-1,4-5")]), None);
        assert_eq!((p.status, body_of(&p)), (200, &b"0123456789"[..]));
        let p = asset().prepare(
            &get(&[("Range", "bytes=0-1"), ("If-Range", "\"old\"")]),
            None,
        );
        assert_eq!(p.status, 200);
        // Without accept_ranges, no ranges.
        let p = Response::text(200, "0123456789").prepare(&get(&[("Range", "bytes=0-1")]), None);
        assert_eq!(p.status, 200);
    }

    #[test]
    fn head_sends_the_length_without_the_body_and_http10_keep_alive_is_said() {
        let c = cond(Request::new("HEAD", "/").with_header("Host", "h"));
        let p = Response::text(200, "hello").prepare(&c, Some("Thu, 01 Jan 1970 00:00:00 GMT"));
        let h = head_of(&p);
        assert!(h.starts_with("HTTP/1.1 200 OK\r\nServer: oasis\r\nDate: Thu, 01 Jan 1970"));
        assert!(h.contains("Content-Length: 5\r\n") && matches!(p.send, Payload::Nothing));
        let mut r = Request::new("GET", "/").with_header("Connection", "keep-alive");
        r.version = Version::Http10;
        r.keep_alive = true;
        let p = Response::text(200, "x").prepare(&cond(r.clone()), None);
        assert!(head_of(&p).contains("Connection: keep-alive\r\n") && p.keep_alive);
        // A streamed body to an HTTP/1.0 client runs to the close.
        let p = Response::stream(200, "text/plain", |_| async { Ok(()) }).prepare(&cond(r), None);
        assert!(!p.keep_alive && head_of(&p).contains("Connection: close\r\n"));
        assert!(!head_of(&p).contains("chunked"));
    }

    #[test]
    fn header_values_that_would_split_the_head_are_dropped() {
        let p = Response::text(200, "x")
            .header("X-Ok", "fine")
            .header("X-Bad", "a\r\nSet-Cookie: evil=1")
            .header("Content-Length", "999")
            .prepare(&get(&[]), None);
        let h = head_of(&p);
        assert!(
            h.contains("X-Ok: fine\r\n") && !h.contains("evil") && !h.contains("999"),
            "{h}"
        );
    }

    proptest! {
        #[test]
        fn any_range_field_gives_a_range_inside_the_body(field in "(bytes=)?[0-9-,]{0,12}", len in 0usize..50) {
            match parse_range(&field, len) {
                Range::Bytes(a, b) => prop_assert!(a < b && b <= len),
                Range::Unsatisfiable | Range::Whole => {}
            }
        }
    }
}
