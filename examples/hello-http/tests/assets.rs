//! hello-http's compiled-in `static/` under `/static/`, hosted on
//! 127.0.0.1, driven by `curl --compressed` and by raw requests: the form
//! chosen by `Accept-Encoding` (identity, gzip, br; q-values), its bytes
//! decompressing to the file, an ETag per form, 304, HEAD, 206, 301, 404,
//! 406 and `Vary`. Needs curl (Debian: curl); says "skipped" without it.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use oasis_testkit::client::{connect_retrying, free_port};
use oasis_testkit::process::Logged;

fn curl_installed() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: curl is not installed (Debian: curl)");
    }
    ok
}

fn start() -> (Logged, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hello-http"));
    cmd.args(["--ipv4=127.0.0.1/8", &format!("--port={port}")]);
    let mut server = Logged::start(cmd, "hello-http");
    server.wait_for("serving HTTP on port", Duration::from_secs(20));
    (server, port)
}

/// A file of `static/` as the build read it (unless OASIS_ASSETS named
/// another directory).
fn original(path: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static");
    std::fs::read(dir.join(path)).unwrap()
}

/// A response read off a raw connection.
struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn field(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// `method path` with `fields` on a new connection (closed by the server
/// after the answer; bounded: 20 s with nothing read fails the test).
fn request(port: u16, method: &str, path: &str, fields: &[(&str, &str)]) -> Reply {
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut c = connect_retrying(to, Duration::from_secs(5));
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (n, v) in fields {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).expect("the server closes in time");
    let end = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head")
        + 4;
    let head = String::from_utf8(out[..end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    Reply {
        status,
        head,
        body: out[end..].to_vec(),
    }
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_end(&mut out)
        .expect("a brotli body");
    out
}

#[test]
fn hello_http_serves_its_static_files_by_accept_encoding() {
    if !curl_installed() {
        return;
    }
    let (mut server, port) = start();
    let page = original("index.html");
    let css = original("css/site.css");

    // curl --compressed asks for what it decodes (gzip, br here) and hands
    // back the original bytes.
    for (path, want) in [("/static/", &page), ("/static/css/site.css", &css)] {
        let out = Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--max-time",
                "20",
                "--compressed",
            ])
            .args(["-D", "-", &format!("http://127.0.0.1:{port}{path}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let end = out
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap()
            + 4;
        let head = String::from_utf8_lossy(&out.stdout[..end]).to_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(
            head.contains("content-encoding: "),
            "a compressed form: {head}"
        );
        assert_eq!(&out.stdout[end..], &want[..], "{path} decoded by curl");
    }

    // Each form by Accept-Encoding, decompressing to the file, each with
    // its own tag.
    let get = |ae: Option<&str>| {
        let fields: Vec<(&str, &str)> = ae.map(|v| ("Accept-Encoding", v)).into_iter().collect();
        request(port, "GET", "/static/index.html", &fields)
    };
    let identity = get(None);
    let gzip = get(Some("gzip, deflate"));
    let br = get(Some("gzip, deflate, br"));
    assert_eq!((identity.status, gzip.status, br.status), (200, 200, 200));
    assert_eq!(identity.body, page);
    assert_eq!(identity.field("content-encoding"), None);
    assert_eq!(gzip.field("content-encoding"), Some("gzip"));
    assert_eq!(br.field("content-encoding"), Some("br"));
    assert_eq!(gunzip(&gzip.body), page);
    assert_eq!(unbrotli(&br.body), page);
    assert!(gzip.body.len() < page.len() && br.body.len() < page.len());
    for r in [&identity, &gzip, &br] {
        assert_eq!(r.field("vary"), Some("Accept-Encoding"), "{}", r.head);
        assert_eq!(r.field("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.field("cache-control"), Some("public, max-age=300"));
        assert_eq!(r.field("content-length"), Some(&*r.body.len().to_string()));
    }
    let tags: Vec<&str> = [&identity, &gzip, &br]
        .iter()
        .map(|r| r.field("etag").unwrap())
        .collect();
    assert!(
        tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2],
        "{tags:?}"
    );
    assert!(tags.iter().all(|t| t.starts_with('"') && t.ends_with('"')));
    // q-values: gzip preferred over br, br refused, identity refused.
    assert_eq!(
        get(Some("br;q=0.5, gzip")).field("content-encoding"),
        Some("gzip")
    );
    assert_eq!(
        get(Some("br;q=0, *")).field("content-encoding"),
        Some("gzip")
    );
    assert_eq!(get(Some("br;q=0, gzip;q=0")).body, page);
    assert_eq!(get(Some("identity;q=0, br")).body, br.body);
    // The same bytes every time: made once by the build.
    assert_eq!(get(Some("br")).body, br.body);
    assert_eq!(
        request(port, "GET", "/static/", &[("Accept-Encoding", "br")]).body,
        br.body
    );

    // 304 for the form's own tag; another form's tag is no match.
    for (ae, tag) in [("identity", tags[0]), ("gzip", tags[1]), ("br", tags[2])] {
        let r = request(
            port,
            "GET",
            "/static/index.html",
            &[("Accept-Encoding", ae), ("If-None-Match", tag)],
        );
        assert_eq!(r.status, 304, "{ae}: {}", r.head);
        assert!(r.body.is_empty());
        assert_eq!(r.field("etag"), Some(tag));
        assert_eq!(r.field("vary"), Some("Accept-Encoding"));
    }
    let r = request(
        port,
        "GET",
        "/static/index.html",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", tags[2])],
    );
    assert_eq!((r.status, r.field("etag")), (200, Some(tags[1])));

    // HEAD: the form's length, no body.
    let r = request(
        port,
        "HEAD",
        "/static/index.html",
        &[("Accept-Encoding", "br")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.field("content-length"), Some(&*br.body.len().to_string()));
    assert_eq!(r.field("etag"), Some(tags[2]));
    assert!(r.body.is_empty());

    // Ranges: of the identity form, and of a compressed form's bytes.
    let r = request(
        port,
        "GET",
        "/static/index.html",
        &[("Range", "bytes=10-109")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &page[10..110]);
    assert_eq!(
        r.field("content-range"),
        Some(&*format!("bytes 10-109/{}", page.len()))
    );
    let r = request(
        port,
        "GET",
        "/static/index.html",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=-20")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &gzip.body[gzip.body.len() - 20..]);
    let r = request(
        port,
        "GET",
        "/static/index.html",
        &[("Range", &format!("bytes={}-", page.len()))],
    );
    assert_eq!(r.status, 416);

    // A file not worth compressing: identity only, no Vary; 406 when the
    // client refuses identity.
    let r = request(
        port,
        "GET",
        "/static/robots.txt",
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(r.body, original("robots.txt"));
    assert_eq!((r.field("content-encoding"), r.field("vary")), (None, None));
    let r = request(
        port,
        "GET",
        "/static/robots.txt",
        &[("Accept-Encoding", "identity;q=0")],
    );
    assert_eq!(r.status, 406);

    // The directory without its slash is sent to it; nothing else is there.
    let r = request(port, "GET", "/static", &[]);
    assert_eq!((r.status, r.field("location")), (301, Some("/static/")));
    for path in [
        "/static/nope.css",
        "/static/css",
        "/static/css/",
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/INDEX.HTML",
        "/static/robots.txt/",
    ] {
        assert_eq!(request(port, "GET", path, &[]).status, 404, "{path}");
    }
    assert_eq!(request(port, "POST", "/static/index.html", &[]).status, 405);
    assert!(server.alive(), "{}", server.output());
}
