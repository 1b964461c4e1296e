//! oasis-http: an HTTP/1.1 server over any oasis-net stack (ARCHITECTURE.md
//! §1, layer "library"), so the same application serves hosted and as a
//! kvm unikernel.
//!
//! ```no_run
//! # async fn run(stack: oasis_net::AnyStack) -> oasis::Result {
//! use alloc::rc::Rc;
//! use oasis_http::{Request, Response, Router, Server};
//! use oasis_net::prelude::*;
//! # extern crate alloc;
//!
//! let router = Router::new()
//!     .get("/", |_| async { Response::text(200, "hello\n") })
//!     .get("/hello/:name", |r: Request| async move {
//!         Response::text(200, alloc::format!("hello, {}\n", r.param("name").unwrap_or("")))
//!     });
//! let listener = stack.listen_tcp(80, 64)?;
//! Rc::new(Server::new(router)).serve(listener).await?;
//! # Ok(())
//! # }
//! ```
//!
//! What it does:
//! - **Requests** ([`request`]): heads parsed by `httparse`, bodies by
//!   `Content-Length` or chunked ([`chunked`]), `Expect: 100-continue`;
//!   keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked) and pipelining
//!   (requests answered in order); limits on head bytes and fields (431)
//!   and body bytes (413); malformed or ambiguous framing is 400 and the
//!   connection closes.
//! - **Responses** ([`response`]): sized, or streamed by a producer
//!   ([`Response::stream`]: chunked, or up to the close for HTTP/1.0); HEAD;
//!   conditional GET (`ETag`/`If-None-Match`, `Last-Modified`/
//!   `If-Modified-Since` → 304); one byte range of a whole body (206, 416);
//!   `Server: oasis` and `Date` when the platform has wall time.
//! - **Connections** ([`server`]): a bounded table shared with the DNS
//!   server's TCP ([`oasis_net::conns`]), 503 past it; timeouts for idle
//!   connections, heads and bodies (408), and stalled writes; counters
//!   ([`Stats`]).
//! - **Applications**: a [`Router`] (literal segments, `:param`, `*rest`;
//!   404, 405 with `Allow`), query and form decoding ([`form`]), JSON in and
//!   out ([`json`]).
//! - **Static files compiled in** ([`assets`]): a directory embedded at
//!   build time by `oasis-assets-build` with its gzip and brotli forms and
//!   their ETags, served by `Accept-Encoding` with a lookup and a copy
//!   ([`Router::assets`]).
//!
//! Dependencies, each `no_std`: `httparse` (the request-head parser hyper
//! uses, fuzzed upstream, no allocation), `serde` and `serde_json` with
//! `alloc` (the standard for typed JSON in Rust). `log` as everywhere in
//! oasis.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod assets;
pub mod chunked;
pub mod date;
pub mod form;
pub mod json;
pub mod request;
pub mod response;
pub mod router;
pub mod server;

pub use assets::Assets;
pub use form::Pairs;
pub use request::{Request, Version};
pub use response::{Asset, Body, BodyWriter, Bytes, Closed, Response};
pub use router::Router;
pub use server::{Counters, Limits, Server, Stats};
