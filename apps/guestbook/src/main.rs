//! guestbook: the unikernel — boot arguments, the routes, HTTP and HTTPS.
//! What it serves is the specification in `apps/guestbook/README.md`; the
//! work is in the library (`src/lib.rs`).
//!
//! ```text
//! oasis run apps/guestbook --target kvm --net service=user,fwd=tcp:8080:80,fwd=tcp:8443:443 --block storage=guestbook.img
//! oasis run apps/guestbook --target hosted --block storage=guestbook.img -- --port=8080 --tls-port=8443
//! curl http://127.0.0.1:8080/        curl -k https://127.0.0.1:8443/api/entries
//! ```
//!
//! Entries live on the block device `storage` (a blank disk is formatted at
//! first use; `oasis run` makes a missing or empty FILE a 64 MiB sparse
//! one). HTTPS is on `--tls-port` (443; 0 turns it off) with, hosted,
//! `--tls-cert=FILE --tls-key=FILE`, else `cert.pem` and `key.pem` from a
//! tar on the optional block device `tls`, else the certificate compiled
//! into the image (a self-signed one for `localhost` unless the build was
//! given `OASIS_TLS_CERT`/`OASIS_TLS_KEY`); the boot log says which.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;

use guestbook::{Book, entry, params, render};
use oasis::log::info;
use oasis_http::{Body, Bytes, Limits, Request, Response, Router, Server};
use oasis_net::prelude::*;

oasis::boot_arg! {
    /// The HTTP port.
    static PORT: u16 = Arg::new("port", "TCP port to serve HTTP on").default("80");
}
oasis::boot_arg! {
    /// The HTTPS port.
    static TLS_PORT: u16 = Arg::new("tls-port", "TCP port to serve HTTPS on (the same routes; 0: no HTTPS)").default("443");
}
oasis::boot_arg! {
    /// The certificate chain.
    static TLS_CERT: String = Arg::new("tls-cert", "PEM certificate chain for HTTPS (hosted; else a tar on block device `tls`, else the one compiled in)").value_name("FILE");
}
oasis::boot_arg! {
    /// Its key.
    static TLS_KEY: String = Arg::new("tls-key", "PEM private key of --tls-cert (hosted)").value_name("FILE");
}
oasis::boot_arg! {
    /// Connections at once at most.
    static MAX_CONNECTIONS: usize = Arg::new("max-connections", "connections served at once at most; past them (none idle) 503").default("1024").value_name("N");
}
oasis::boot_arg! {
    /// Largest request body.
    static MAX_BODY: usize = Arg::new("max-body", "largest request body in bytes (413 past it)").default("65536").value_name("BYTES");
}
oasis::boot_arg! {
    /// Head timeout.
    static HEAD_TIMEOUT_MS: u64 = Arg::new("head-timeout-ms", "a request head must arrive within MS (408 then close)").default("10000").value_name("MS");
}
oasis::boot_arg! {
    /// Body timeout.
    static BODY_TIMEOUT_MS: u64 = Arg::new("body-timeout-ms", "a request body must arrive within MS of its head (408 then close)").default("30000").value_name("MS");
}
oasis::boot_arg! {
    /// Keep-alive idle time.
    static IDLE_TIMEOUT_MS: u64 = Arg::new("idle-timeout-ms", "an idle keep-alive connection is closed after MS").default("10000").value_name("MS");
}
oasis::boot_arg! {
    /// How often the writer's counts are logged.
    static WRITE_STATS: u64 = Arg::new("write-stats", "log the commits made and entries stored every SECONDS when they changed (0: never)").default("0").value_name("SECONDS");
}

/// Handshakes each listener holds at once (its backlog). On the direct
/// stack (kvm) a listener's buffers share a fixed budget (oasis-net's
/// `LISTENER_BUDGET`, 2 MiB), so a deeper backlog means smaller TCP
/// windows: 64 gives each connection 16 KiB each way, enough to send the
/// stylesheet or a page in one window, where 256 (the cap) gave 8 KiB and
/// a 10 KiB file two round trips (and zeroed 8 MiB at boot for the two
/// listeners). More handshakes than this at one moment are refused until
/// the server accepts; accepted connections are bounded by
/// `--max-connections`.
const BACKLOG: usize = 64;

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

/// `body` as a response of `content_type`, shared with a cache.
fn shared(status: u16, content_type: &'static str, body: Rc<[u8]>) -> Response {
    Response::new(status)
        .header("Content-Type", content_type)
        .with_body(Body::Full(Bytes::Shared(body)))
}

/// `{"error":"…"}` with `status`.
fn json_error(status: u16, message: &str) -> Response {
    Response::bytes(status, JSON, render::error_json(message))
}

/// A failure of the store, as a 500 (logged).
fn failed(why: &str, json: bool) -> Response {
    oasis::log::error!("guestbook: {why}");
    if json {
        json_error(500, why)
    } else {
        Response::text(500, format!("500 Internal Server Error: {why}\n"))
    }
}

/// The page after a refused post: the latest entries, the error, and what
/// was typed, as a 400.
fn refused_page(book: &Book, error: &str, name: &str, message: &str) -> Response {
    let listing = params::Listing {
        name: None,
        page: 1,
        limit: params::PER_PAGE,
    };
    let (entries, more) = book.list(&listing).unwrap_or_default();
    let mut page = render::Page::of(&listing, &entries, more);
    page.error = Some(error);
    page.name_value = name;
    page.message_value = message;
    Response::bytes(400, HTML, page.bytes())
}

/// `static/` (style.css, app.js), compiled in by `build.rs` with their
/// gzip and brotli forms.
static ASSETS: oasis_http::Assets = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The static files of `apps/guestbook/static/` under `/static/`, from the
/// image (each form's ETag, 304, the form `Accept-Encoding` asks for).
fn static_files(router: Router) -> Router {
    router.assets("/static", &ASSETS)
}

/// A JSON body `{"name":…,"message":…}` (other fields ignored).
#[derive(serde::Deserialize)]
struct NewEntry {
    name: String,
    message: String,
}

fn router(book: Rc<Book>) -> Router {
    let (b1, b2, b3, b4, b5) = (book.clone(), book.clone(), book.clone(), book.clone(), book);
    let router = Router::new()
        .get("/", move |r: Request| {
            let out = match params::listing(r.query(), false) {
                Err(e) => refused_page(&b1, e, "", ""),
                Ok(listing) => match b1.page(&listing) {
                    Ok(body) => shared(200, HTML, body),
                    Err(e) => failed(&e, false),
                },
            };
            async move { out }
        })
        .post("/entries", move |r: Request| {
            let book = b2.clone();
            async move {
                let (name, message) = match params::form(r.body()) {
                    Ok(f) => f,
                    Err(e) => return refused_page(&book, e, "", ""),
                };
                match entry::clean(&name, &message) {
                    Err(e) => refused_page(&book, e, &name, &message),
                    Ok((name, message)) => match book.post(name, message).await {
                        Ok(_) => Response::new(303).header("Location", "/"),
                        Err(e) => failed(&e, false),
                    },
                }
            }
        })
        .get("/api/entries", move |r: Request| {
            let out = match params::listing(r.query(), true) {
                Err(e) => json_error(400, e),
                Ok(listing) => match b3.json(&listing) {
                    Ok(body) => shared(200, JSON, body),
                    Err(e) => failed(&e, true),
                },
            };
            async move { out }
        })
        .post("/api/entries", move |r: Request| {
            let book = b4.clone();
            async move {
                if core::str::from_utf8(r.body()).is_err() {
                    return json_error(400, "the request body is not valid UTF-8");
                }
                let new: NewEntry = match serde_json::from_slice(r.body()) {
                    Ok(n) => n,
                    Err(e) => return json_error(400, &format!("invalid JSON: {e}")),
                };
                match entry::clean(&new.name, &new.message) {
                    Err(e) => json_error(400, e),
                    Ok((name, message)) => match book.post(name, message).await {
                        Ok(e) => Response::bytes(201, JSON, render::entry_json(&e))
                            .header("Location", format!("/api/entries/{}", e.id)),
                        Err(e) => failed(&e, true),
                    },
                }
            }
        })
        .get("/api/entries/:id", move |r: Request| {
            let id = r
                .param("id")
                .filter(|s| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok());
            let out = match id.map(|id| b5.get(id)) {
                Some(Ok(Some(e))) => Response::bytes(200, JSON, render::entry_json(&e)),
                Some(Err(e)) => failed(&e, true),
                _ => json_error(404, "no such entry"),
            };
            async move { out }
        });
    static_files(router)
}

#[oasis::main(net = "service", block = "storage", optional(block = "tls"))]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let disk = env.block("storage")?;
    let book = Rc::new(Book::open(disk).map_err(|e| format!("block device `storage`: {e}"))?);
    info!(
        "guestbook: {} entries on block device `storage`",
        book.len()
    );
    oasis::spawn(book.clone().write_forever());
    oasis::spawn(
        book.clone()
            .checkpoint_when_quiet(oasis::Duration::from_secs(1)),
    );
    if let Some(every) = WRITE_STATS.value().filter(|&s| s > 0) {
        let book = book.clone();
        oasis::spawn(async move {
            let mut last = book.stats();
            loop {
                oasis::sleep(oasis::Duration::from_secs(every)).await;
                let s = book.stats();
                if s != last {
                    info!(
                        "guestbook: {} commits, {} entries stored (largest batch {})",
                        s.commits, s.entries, s.largest
                    );
                    last = s;
                }
            }
        });
    }

    let stack = oasis_net::stack(&mut env, "service")?;
    let ms = |arg: Option<u64>, default| oasis::Duration::from_millis(arg.unwrap_or(default));
    let mut limits = Limits::default();
    limits.tcp.max = MAX_CONNECTIONS.value().unwrap_or(1024).max(1);
    limits.tcp.per_client = limits.tcp.max;
    limits.tcp.idle = ms(IDLE_TIMEOUT_MS.value(), 10_000);
    limits.read.max_body = MAX_BODY.value().unwrap_or(65536);
    limits.head_timeout = ms(HEAD_TIMEOUT_MS.value(), 10_000);
    limits.body_timeout = ms(BODY_TIMEOUT_MS.value(), 30_000);
    let server = Rc::new(Server::new(router(book)).with_limits(limits));

    let port = PORT.value().unwrap_or(80);
    let listener = stack.listen_tcp(port, BACKLOG)?;
    info!("guestbook: serving HTTP on port {port}");
    // HTTP first, the TLS set-up (the key and certificate parsed and
    // checked: ~7 ms on kvm) after the executor's next turn.
    let http = oasis::spawn(server.clone().serve(listener));
    oasis::yield_now().await;
    let tls = match TLS_PORT.value().unwrap_or(443) {
        0 => {
            info!("guestbook: no HTTPS (--tls-port=0)");
            None
        }
        tls_port => {
            let (cert, key) = (TLS_CERT.value(), TLS_KEY.value());
            let (config, which) = match env.optional_block("tls") {
                Some(disk) if cert.is_none() && key.is_none() => oasis_tls::from_tar(&disk)?,
                _ => oasis_tls::load(cert.as_deref(), key.as_deref())?,
            };
            let tls_listener =
                oasis_tls::TlsListener::new(stack.listen_tcp(tls_port, BACKLOG)?, config);
            info!("guestbook: serving HTTPS on port {tls_port} with {which}");
            Some(oasis::spawn(server.clone().serve(tls_listener)))
        }
    };
    http.await?;
    if let Some(tls) = tls {
        tls.await?;
    }
    Ok(())
}
