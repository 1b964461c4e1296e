//! hello-http: a small web service on the net device `service`, to try
//! oasis-http with `curl` — hosted on the host's sockets or as a kvm
//! unikernel:
//!
//! ```text
//! oasis run examples/hello-http --target hosted -- --port=8080
//! oasis run examples/hello-http --target kvm --net service=user,fwd=tcp:8080:80
//! curl -i http://127.0.0.1:8080/hello/you
//! ```
//!
//! With `--tls-port=PORT` the same routes are served over HTTPS too (TLS
//! 1.3 and 1.2, oasis-tls): hosted with `--tls-cert=FILE --tls-key=FILE`,
//! else `cert.pem` and `key.pem` from a tar on the optional block device
//! `tls`, else with the certificate compiled in (`OASIS_TLS_CERT`/
//! `OASIS_TLS_KEY` at build time, else one made for `localhost` by the
//! build — the boot log says which):
//!
//! ```text
//! oasis run examples/hello-http --target hosted -- --port=8080 --tls-port=8443
//! oasis run examples/hello-http --target kvm --net service=user,fwd=tcp:8080:80,fwd=tcp:8443:443 -- --tls-port=443
//! curl -k https://127.0.0.1:8443/hello/you
//! ```
//!
//! Routes: `/` (a page with an ETag and a date: 304 to a conditional GET),
//! `/blob` (64 KiB of static bytes: ranges, 206/416), `/hello/:name`,
//! `POST /echo` (the body back), `/api/sum?a=&b=` and `POST /api/echo`
//! (JSON), `POST /form` (a urlencoded form, as JSON), `/stream/:kib` (a
//! streamed, chunked body), `/delay/:ms` (an answer after a while: busy
//! connections), `/stats` (the server's counters as JSON), `/stats/tls`
//! (handshakes, resumed, in TLS 1.3, failed), and `/static/` (the files of
//! `static/`, compiled into the image by the build with their gzip and
//! brotli forms: `curl --compressed http://127.0.0.1:8080/static/`).
//!
//! `OASIS_ASSETS=DIR` at build time serves DIR's files under `/static/`
//! instead.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;

use oasis::log::info;
use oasis_http::{Asset, Counters, Limits, Request, Response, Router, Server};
use oasis_net::prelude::*;

oasis::boot_arg! {
    /// The HTTP port.
    static PORT: u16 = Arg::new("port", "TCP port to serve HTTP on").default("80");
}
oasis::boot_arg! {
    /// The HTTPS port.
    static TLS_PORT: u16 = Arg::new("tls-port", "TCP port to serve HTTPS on (the same routes; none by default)");
}
oasis::boot_arg! {
    /// The certificate chain.
    static TLS_CERT: String = Arg::new("tls-cert", "PEM certificate chain for HTTPS (hosted; else the one compiled in)").value_name("FILE");
}
oasis::boot_arg! {
    /// Its key.
    static TLS_KEY: String = Arg::new("tls-key", "PEM private key of --tls-cert (hosted)").value_name("FILE");
}
oasis::boot_arg! {
    /// Connections at once at most.
    static MAX_CONNECTIONS: usize = Arg::new("max-connections", "connections served at once at most; past them (none idle) 503").default("256").value_name("N");
}
oasis::boot_arg! {
    /// Largest request body.
    static MAX_BODY: usize = Arg::new("max-body", "largest request body in bytes (413 past it)").default("1048576").value_name("BYTES");
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

const INDEX: &[u8] = b"hello from oasis\n";

/// `static/`, compiled in by `build.rs`.
static ASSETS: oasis_http::Assets = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// 64 KiB of bytes whose every offset can be checked: byte i is i mod 251.
fn blob() -> &'static [u8] {
    let v: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    Box::leak(v.into_boxed_slice())
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Note {
    name: String,
    message: String,
}

fn router(counters: Rc<Counters>, tls: Rc<oasis_tls::TlsCounters>, booted: Option<u64>) -> Router {
    let index = Rc::new(match booted {
        Some(t) => Asset::new("text/plain; charset=utf-8", INDEX).last_modified(t),
        None => Asset::new("text/plain; charset=utf-8", INDEX),
    });
    let blob = Rc::new(Asset::new("application/octet-stream", blob()));
    Router::new()
        .get("/", move |_| {
            let index = index.clone();
            async move { index.response() }
        })
        .get("/blob", move |_| {
            let blob = blob.clone();
            async move { blob.response() }
        })
        .get("/hello/:name", |r: Request| async move {
            Response::text(200, format!("hello, {}\n", r.param("name").unwrap_or("")))
        })
        .post("/echo", |mut r: Request| async move {
            let ct = r
                .header("content-type")
                .unwrap_or("application/octet-stream");
            let ct = String::from(ct);
            Response::bytes(200, &ct, r.take_body())
        })
        .get("/api/sum", |r: Request| async move {
            let q = r.query_pairs();
            let num = |n| q.get(n).and_then(|v| v.parse::<i64>().ok());
            match (num("a"), num("b")) {
                (Some(a), Some(b)) => {
                    Response::json(200, &serde_json_value(a, b, a.checked_add(b)))
                }
                _ => Response::text(400, "400 Bad Request: give a and b as integers\n"),
            }
        })
        .post("/api/echo", |r: Request| async move {
            match r.json::<Note>() {
                Ok(note) => Response::json(201, &note),
                Err(resp) => resp,
            }
        })
        .post("/form", |r: Request| async move {
            let pairs = r.form();
            Response::json(200, &pairs.0)
        })
        .get("/stream/:kib", |r: Request| async move {
            let kib: usize = r.param("kib").and_then(|k| k.parse().ok()).unwrap_or(0);
            Response::stream(200, "text/plain; charset=utf-8", move |mut w| async move {
                // 1 KiB lines: 1023 bytes and a newline.
                let mut line = [b'x'; 1024];
                line[1023] = b'\n';
                for i in 0..kib {
                    let n = format!("{i:08}");
                    line[..8].copy_from_slice(n.as_bytes());
                    w.write(&line).await?;
                }
                Ok(())
            })
        })
        .get("/delay/:ms", |r: Request| async move {
            let ms: u64 = r
                .param("ms")
                .and_then(|m| m.parse().ok())
                .unwrap_or(0)
                .min(10_000);
            info!("hello-http: delaying {ms} ms");
            oasis::sleep(oasis::Duration::from_millis(ms)).await;
            Response::text(200, format!("slept {ms} ms\n"))
        })
        .get("/stats", move |_| {
            let stats = counters.get();
            async move { Response::json(200, &stats) }
        })
        .get("/stats/tls", move |_| {
            let t = tls.get();
            let body = format!(
                "{{\"handshakes\":{},\"resumed\":{},\"tls13\":{},\"failed\":{}}}",
                t.handshakes, t.resumed, t.tls13, t.failed
            );
            async move { Response::bytes(200, "application/json", body.into_bytes()) }
        })
        .assets("/static", &ASSETS)
}

#[derive(serde::Serialize)]
struct Sum {
    a: i64,
    b: i64,
    sum: Option<i64>,
}

fn serde_json_value(a: i64, b: i64, sum: Option<i64>) -> Sum {
    Sum { a, b, sum }
}

#[oasis::main(net = "service", optional(block = "tls"))]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let stack = oasis_net::stack(&mut env, "service")?;
    let port = PORT.value().unwrap_or(80);
    let ms = |arg: Option<u64>, default| oasis::Duration::from_millis(arg.unwrap_or(default));
    let mut limits = Limits::default();
    limits.tcp.max = MAX_CONNECTIONS.value().unwrap_or(256).max(1);
    limits.tcp.per_client = limits.tcp.max;
    limits.tcp.idle = ms(IDLE_TIMEOUT_MS.value(), 10_000);
    limits.read.max_body = MAX_BODY.value().unwrap_or(1 << 20);
    limits.head_timeout = ms(HEAD_TIMEOUT_MS.value(), 10_000);
    limits.body_timeout = ms(BODY_TIMEOUT_MS.value(), 30_000);
    let wall = oasis::wall_clock_ns() / 1_000_000_000;
    let booted = (wall > 946_684_800).then_some(wall);
    let counters = Counters::new();
    let tls_counters = oasis_tls::TlsCounters::new();
    let server = Rc::new(
        Server::new(router(counters.clone(), tls_counters.clone(), booted))
            .with_limits(limits)
            .with_counters(counters),
    );
    let listener = stack.listen_tcp(port, 128)?;
    info!(
        "hello-http: serving HTTP on port {port} ({} connections at most)",
        limits.tcp.max
    );
    // HTTPS: the same server (routes, limits, counters, connection table)
    // on TLS streams.
    let tls = match TLS_PORT.value() {
        Some(tls_port) => {
            let (cert, key) = (TLS_CERT.value(), TLS_KEY.value());
            // Files (hosted), else a tar on the block device `tls`, else the
            // certificate compiled in.
            let (config, which) = match env.optional_block("tls") {
                Some(disk) if cert.is_none() && key.is_none() => oasis_tls::from_tar(&disk)?,
                _ => oasis_tls::load(cert.as_deref(), key.as_deref())?,
            };
            let tls_listener =
                oasis_tls::TlsListener::new(stack.listen_tcp(tls_port, 128)?, config)
                    .with_counters(tls_counters);
            info!("hello-http: serving HTTPS on port {tls_port} with {which}");
            Some(oasis::spawn(server.clone().serve(tls_listener)))
        }
        None => None,
    };
    server.serve(listener).await?;
    if let Some(tls) = tls {
        tls.await?;
    }
    Ok(())
}
