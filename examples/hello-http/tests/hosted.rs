//! hello-http hosted on the host's sockets on 127.0.0.1, driven by `curl`
//! (and by a raw socket where curl will not misbehave on purpose):
//! keep-alive, pipelining, a chunked upload, HEAD, 304, 206 and 416, the
//! limits (413, 431), malformed requests (400), a slow client (408), and
//! 503 past the connection cap with the server still answering after.
//! Needs curl (Debian: curl); says "skipped" without it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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

/// hello-http on 127.0.0.1:PORT with boot arguments `boot`, serving.
fn start(boot: &[&str]) -> (Logged, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hello-http"));
    cmd.args(["--ipv4=127.0.0.1/8", &format!("--port={port}")])
        .args(boot);
    let mut server = Logged::start(cmd, "hello-http");
    server.wait_for("serving HTTP on port", Duration::from_secs(20));
    (server, port)
}

/// Runs curl (bounded in time) with `args`; its stdout. `-w` in `args`
/// appends what it writes.
fn curl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The status curl got for `args` (the body goes to /dev/null).
fn status(args: &[&str]) -> String {
    let mut all = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    all.extend_from_slice(args);
    String::from_utf8(curl(&all)).unwrap()
}

/// A header field's value in curl's `-i`/`-I` output.
fn field(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in:\n{head}"))
}

/// Writes `request` on a new connection and reads until the server closes
/// it (bounded: 20 s with nothing read fails the test).
fn raw(port: u16, request: &[u8]) -> String {
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut c = connect_retrying(to, Duration::from_secs(5));
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).expect("the server closes in time");
    String::from_utf8_lossy(&out).into_owned()
}

fn blob_byte(i: usize) -> u8 {
    (i % 251) as u8
}

#[test]
fn hello_http_serves_curl_keep_alive_pipelining_uploads_conditionals_ranges_and_limits() {
    if !curl_installed() {
        return;
    }
    let (mut server, port) = start(&["--max-body=100000", "--head-timeout-ms=1500"]);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");

    // Keep-alive: three URLs in one curl run share one connection, which
    // the stats (the last of them) count.
    let out = curl(&[&url("/hello/a"), &url("/hello/b%20c"), &url("/stats")]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("hello, a\nhello, b c\n{"), "{text}");
    assert!(
        text.contains("\"connections\":1,"),
        "one connection for three requests: {text}"
    );

    // Pipelining: three requests in one write, answered in order.
    let out = raw(
        port,
        b"GET /hello/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let bodies: Vec<&str> = out
        .match_indices("hello, ")
        .map(|(i, _)| &out[i..i + 8])
        .collect();
    assert_eq!(bodies, ["hello, 1", "hello, 2", "hello, 3"], "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3);

    // A chunked upload (curl sends chunks of what it reads) comes back whole.
    let body: Vec<u8> = (0..60_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let file = std::env::temp_dir().join(format!("hello-http-upload-{}", std::process::id()));
    std::fs::write(&file, &body).unwrap();
    let at_file = format!("@{}", file.display());
    let back = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &at_file,
        &url("/echo"),
    ]);
    assert!(
        back == body,
        "the echoed upload differs ({} bytes back)",
        back.len()
    );
    // Past --max-body: 413, with a body that says so.
    let big: Vec<u8> = vec![b'x'; 100_001];
    std::fs::write(&file, &big).unwrap();
    let out = String::from_utf8(curl(&["-i", "--data-binary", &at_file, &url("/echo")])).unwrap();
    assert!(out.starts_with("HTTP/1.1 413 Content Too Large"), "{out}");
    assert!(out.contains("request body is larger than allowed"), "{out}");
    std::fs::remove_file(&file).unwrap();

    // HEAD: the length of the body, not the body.
    let head = String::from_utf8(curl(&["-I", &url("/blob")])).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert_eq!(field(&head, "content-length"), "65536");
    assert_eq!(field(&head, "server"), "oasis");
    let etag = field(&head, "etag");

    // Conditional GET: 304 for the tag the client has; 200 for another.
    assert_eq!(
        status(&["-H", &format!("If-None-Match: {etag}"), &url("/blob")]),
        "304"
    );
    assert_eq!(
        status(&["-H", "If-None-Match: \"other\"", &url("/blob")]),
        "200"
    );
    let index = String::from_utf8(curl(&["-I", &url("/")])).unwrap();
    let modified = field(&index, "last-modified");
    assert_eq!(
        status(&["-H", &format!("If-Modified-Since: {modified}"), &url("/")]),
        "304"
    );

    // Ranges: 206 with exactly the bytes asked; 416 past the end.
    let part = curl(&["-r", "1000-1999", &url("/blob")]);
    assert_eq!(part.len(), 1000);
    assert!(
        part.iter()
            .enumerate()
            .all(|(i, &b)| b == blob_byte(1000 + i))
    );
    assert_eq!(status(&["-r", "1000-1999", &url("/blob")]), "206");
    assert_eq!(status(&["-r", "70000-", &url("/blob")]), "416");

    // JSON in and out; a form; a streamed body of 300 KiB.
    let out = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"name":"a","message":"<b>"}"#,
        &url("/api/echo"),
    ]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"name":"a","message":"<b>"}"#
    );
    assert_eq!(
        status(&[
            "-H",
            "Content-Type: application/json",
            "-d",
            "{bad",
            &url("/api/echo")
        ]),
        "400"
    );
    let out = curl(&["-d", "name=J%C3%BCrg+X&tag=1", &url("/form")]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"[["name","Jürg X"],["tag","1"]]"#
    );
    let streamed = curl(&[&url("/stream/300")]);
    assert_eq!(streamed.len(), 300 * 1024);
    assert!(streamed.starts_with(b"00000000x") && streamed.ends_with(b"x\n"));
    assert_eq!(status(&["-X", "DELETE", &url("/blob")]), "405");
    assert_eq!(status(&[&url("/nothing")]), "404");

    // Limits on the head: 431 for a large field, and for too many fields.
    let large = format!("X-Large: {}", "a".repeat(20_000));
    assert_eq!(status(&["-H", &large, &url("/")]), "431");
    let mut many: Vec<String> = Vec::new();
    for i in 0..80 {
        many.push("-H".into());
        many.push(format!("X-Field-{i}: v"));
    }
    many.push(url("/"));
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(status(&many), "431");

    // Malformed input: 400, said, and the connection closed.
    let out = raw(port, b"GARBAGE\r\n\r\n");
    assert!(
        out.starts_with("HTTP/1.1 400 Bad Request\r\n") && out.contains("Connection: close"),
        "{out}"
    );
    let out = raw(
        port,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert!(
        out.starts_with("HTTP/1.1 400 Bad Request\r\n")
            && out.ends_with("malformed chunked body\n"),
        "{out}"
    );

    // A slow client, one byte at a time, is answered 408 and closed at the
    // head timeout (the read below fails the test if it never is).
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut slow = TcpStream::connect(to).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = Vec::new();
    for &b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
        .iter()
        .chain([b'a'; 200].iter())
    {
        if slow.write_all(&[b]).is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {} // nothing yet
        }
    }
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = slow.read_to_end(&mut got);
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{got}");

    let stats = String::from_utf8(curl(&[&url("/stats")])).unwrap();
    for want in ["\"malformed\":2", "\"too_large\":3", "\"timeouts\":1"] {
        assert!(stats.contains(want), "{want} in {stats}");
    }
    assert!(server.alive(), "{}", server.output());
}

#[test]
fn hello_http_answers_503_past_its_connection_cap_and_serves_again_after() {
    if !curl_installed() {
        return;
    }
    let (server, port) = start(&["--max-connections=2"]);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    // Two connections busy in a handler for 3 s.
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut busy: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut c = connect_retrying(to, Duration::from_secs(5));
            c.write_all(b"GET /delay/3000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            c
        })
        .collect();
    let start = std::time::Instant::now();
    while server.output().matches("delaying 3000 ms").count() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Every connection is busy: a third is told so.
    let out = String::from_utf8(curl(&["-i", &url("/")])).unwrap();
    assert!(
        out.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{out}"
    );
    assert!(out.contains("too many connections"), "{out}");
    // The busy ones are answered, and then there is room again.
    for c in &mut busy {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200 OK") && out.ends_with("slept 3000 ms\n"),
            "{out}"
        );
    }
    drop(busy);
    let stats = String::from_utf8(curl(&[&url("/stats")])).unwrap();
    assert!(stats.contains("\"refused_busy\":1"), "{stats}");
    assert_eq!(curl(&[&url("/")]), b"hello from oasis\n");
}

/// How many connections this process may hold open besides what it needs
/// for itself: up to `want`, within the soft limit on descriptors.
fn connections_allowed(want: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit with a valid out-pointer.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    let soft = if ok { lim.rlim_cur as usize } else { 1024 };
    want.min(soft.saturating_sub(256))
}

#[test]
fn hello_http_serves_past_a_crowd_of_idle_connections() {
    if !curl_installed() {
        return;
    }
    let (server, port) = start(&["--max-connections=100"]);
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Connections that never send a byte, far past the cap: each new one
    // takes the place of the one idle longest (or of one idle past its
    // time). They come in batches of 100, each followed by a request, so
    // the listen queue never overflows into SYN retries.
    let n = connections_allowed(10_000);
    println!("{n} idle connections");
    let mut crowd: Vec<TcpStream> = Vec::with_capacity(n);
    while crowd.len() < n {
        for _ in 0..100.min(n - crowd.len()) {
            crowd.push(connect_retrying(to, Duration::from_secs(10)));
        }
        let out = raw(port, b"GET /hello/batch HTTP/1.0\r\n\r\n");
        assert!(out.ends_with("hello, batch\n"), "{out}");
    }
    assert_eq!(curl(&[&url("/")]), b"hello from oasis\n");
    let stats = String::from_utf8(curl(&[&url("/stats")])).unwrap();
    let number = |key: &str| -> usize {
        let at = stats.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
        stats[at..]
            .split([',', '}'])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    // Every one was admitted, none refused: the idle crowd denied nobody,
    // and the table never held more than its cap.
    assert!(number("connections") > n, "{stats}");
    assert!(number("open") <= 100, "{stats}");
    assert_eq!(number("refused_busy"), 0, "{stats}");
    drop(crowd);
    drop(server);
}
