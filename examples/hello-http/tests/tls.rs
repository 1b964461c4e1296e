//! hello-http's HTTPS port (oasis-tls) hosted on 127.0.0.1, driven by
//! `curl` and `openssl s_client`: TLS 1.3 and 1.2 with the certificate the
//! build made, a certificate given with `--tls-cert`/`--tls-key` or as a
//! tar on the block device `tls`, verified by curl against it, session resumption in both versions, and
//! hostile openings (plain HTTP, a garbled ClientHello, a silent client)
//! that end only their own connection while both ports serve on. Needs
//! curl and openssl (Debian: curl, openssl); says "skipped" without them.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use oasis_testkit::client::{connect_retrying, free_port};
use oasis_testkit::process::Logged;

fn installed(tool: &str, package: &str) -> bool {
    let ok = Command::new(tool)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        println!("skipped: {tool} is not installed (Debian: {package})");
    }
    ok
}

/// hello-http on 127.0.0.1 with HTTP and HTTPS ports and `boot`, serving
/// both; the server, its HTTP and its HTTPS port.
fn start(boot: &[&str]) -> (Logged, u16, u16) {
    let port = free_port();
    let tls_port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hello-http"));
    cmd.args([
        "--ipv4=127.0.0.1/8",
        &format!("--port={port}"),
        &format!("--tls-port={tls_port}"),
        "--head-timeout-ms=1500",
    ])
    .args(boot);
    let mut server = Logged::start(cmd, "hello-http-tls");
    server.wait_for("serving HTTP on port", Duration::from_secs(20));
    (server, port, tls_port)
}

/// curl (bounded in time) with `args`: its stdout and stderr (`-v` output).
fn curl(args: &[&str]) -> (String, String) {
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
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `openssl s_client` to `port` with `args`, sending an HTTP/1.0 request
/// for `path` (the server answers and closes); everything it printed.
fn s_client(port: u16, args: &[&str], path: &str) -> String {
    let mut c = Command::new("timeout")
        .args(["20", "openssl", "s_client", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-ign_eof", "-servername", "localhost"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl");
    c.stdin
        .take()
        .unwrap()
        .write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Writes `bytes` to the HTTPS port on a new connection and reads until
/// the server closes it (bounded: 20 s with nothing read fails the test).
fn raw(port: u16, bytes: &[u8]) -> Vec<u8> {
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut c = connect_retrying(to, Duration::from_secs(5));
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(bytes).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).expect("the server closes in time");
    out
}

#[test]
fn hello_http_serves_https_tls13_and_tls12_with_the_certificate_the_build_made() {
    if !installed("curl", "curl") {
        return;
    }
    let (mut server, port, tls_port) = start(&[]);
    server.wait_for("serving HTTPS on port", Duration::from_secs(20));
    assert!(
        server
            .output()
            .contains("the built-in self-signed certificate for localhost"),
        "the boot log says which certificate:\n{}",
        server.output()
    );
    let url = |p: &str| format!("https://127.0.0.1:{tls_port}{p}");

    // TLS 1.3 (curl's default), the route and ALPN as over HTTP.
    let (body, verbose) = curl(&["-k", "-v", &url("/hello/tls")]);
    assert_eq!(body, "hello, tls\n");
    assert!(
        verbose.contains("SSL connection using TLSv1.3"),
        "{verbose}"
    );
    assert!(
        verbose.contains("ALPN: server accepted http/1.1"),
        "{verbose}"
    );

    // TLS 1.2 only.
    let (body, verbose) = curl(&[
        "-k",
        "-v",
        "--tlsv1.2",
        "--tls-max",
        "1.2",
        &url("/hello/twelve"),
    ]);
    assert_eq!(body, "hello, twelve\n");
    assert!(
        verbose.contains("SSL connection using TLSv1.2"),
        "{verbose}"
    );

    // Without -k the self-signed certificate is refused: it is the
    // server's own, not one curl trusts.
    let out = Command::new("curl")
        .args(["--silent", "--max-time", "20", &url("/")])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an untrusted certificate is refused");

    // Bodies larger than a record both ways: 64 KiB down (every byte
    // checked), 200 KB up and back, and 1 MiB streamed, on one
    // keep-alive connection.
    let blob = Command::new("curl")
        .args(["--silent", "--max-time", "20", "-k", &url("/blob")])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(blob.len(), 65536);
    assert!(blob.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    let up: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let file = std::env::temp_dir().join(format!("hello-http-tls-up-{}", std::process::id()));
    std::fs::write(&file, &up).unwrap();
    let back = Command::new("curl")
        .args(["--silent", "--max-time", "20", "-k", "--data-binary"])
        .arg(format!("@{}", file.display()))
        .arg(url("/echo"))
        .output()
        .unwrap()
        .stdout;
    let _ = std::fs::remove_file(&file);
    assert!(
        back == up,
        "200 KB echoed over TLS ({} bytes back)",
        back.len()
    );
    let (streamed, _) = curl(&["-k", &url("/stream/1024")]);
    assert_eq!(streamed.len(), 1 << 20);

    // The plain port serves the same routes beside it, and one server
    // counts both.
    let (body, _) = curl(&[&format!("http://127.0.0.1:{port}/hello/plain")]);
    assert_eq!(body, "hello, plain\n");
    assert!(server.alive(), "{}", server.output());
    drop(server);
}

#[test]
fn hello_http_resumes_tls13_and_tls12_sessions() {
    if !installed("openssl", "openssl") {
        return;
    }
    let (mut server, server_port, tls_port) = start(&[]);
    server.wait_for("serving HTTPS on port", Duration::from_secs(20));
    let dir = std::env::temp_dir().join(format!("hello-http-tls-sess-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (flag, name) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let sess = dir.join(format!("{name}.pem"));
        let sess = sess.to_str().unwrap();
        let first = s_client(tls_port, &[flag, "-sess_out", sess], "/hello/first");
        assert!(first.contains(&format!("New, {name}")), "{first}");
        assert!(first.contains("hello, first"), "{first}");
        let again = s_client(tls_port, &[flag, "-sess_in", sess], "/hello/again");
        assert!(
            again.contains(&format!("Reused, {name}")),
            "{name}: the session is resumed:\n{again}"
        );
        assert!(again.contains("hello, again"), "{again}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    // The server counted four handshakes, two of them resumed, two in TLS
    // 1.3 (and the count's own request over plain HTTP adds none).
    let port = server_port;
    let stats = Command::new("curl")
        .args(["--silent", "--max-time", "20"])
        .arg(format!("http://127.0.0.1:{port}/stats/tls"))
        .output()
        .unwrap()
        .stdout;
    assert_eq!(
        String::from_utf8_lossy(&stats),
        r#"{"handshakes":4,"resumed":2,"tls13":2,"failed":0}"#
    );
    assert!(server.alive(), "{}", server.output());
    drop(server);
}

#[test]
fn hello_http_serves_a_certificate_given_as_files_or_a_tar_which_curl_verifies() {
    if !installed("curl", "curl") || !installed("openssl", "openssl") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("hello-http-tls-cert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext"])
        .arg("subjectAltName=DNS:localhost,IP:127.0.0.1")
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let (mut server, _, tls_port) = start(&[
        &format!("--tls-cert={}", cert.display()),
        &format!("--tls-key={}", key.display()),
    ]);
    server.wait_for("serving HTTPS on port", Duration::from_secs(20));
    assert!(
        server
            .output()
            .contains(&format!("with certificate {}", cert.display()))
    );
    // Verified against the file (no -k): the server serves that certificate.
    let (body, _) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        &format!("https://127.0.0.1:{tls_port}/hello/verified"),
    ]);
    assert_eq!(body, "hello, verified\n");
    drop(server);

    // The same pair as a tar on the block device `tls` (a kvm guest's way).
    let img = dir.join("tls.img");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&img)
        .arg("-C")
        .arg(&dir)
        .args(["cert.pem", "key.pem"])
        .status()
        .unwrap();
    assert!(st.success());
    let (mut server, _, tls_port) = start(&[&format!("--block:tls={}", img.display())]);
    server.wait_for("serving HTTPS on port", Duration::from_secs(20));
    assert!(
        server
            .output()
            .contains("with the certificate on the block device"),
        "{}",
        server.output()
    );
    let (body, _) = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        &format!("https://127.0.0.1:{tls_port}/hello/tar"),
    ]);
    assert_eq!(body, "hello, tar\n");
    let _ = std::fs::remove_dir_all(&dir);
    drop(server);
}

#[test]
fn a_hostile_opening_ends_only_its_own_connection() {
    if !installed("curl", "curl") {
        return;
    }
    let (mut server, port, tls_port) = start(&[]);
    server.wait_for("serving HTTPS on port", Duration::from_secs(20));

    // A TLS client that stays connected throughout, its handshake done.
    let to: SocketAddr = format!("127.0.0.1:{tls_port}").parse().unwrap();

    // Plain HTTP to the TLS port: not a TLS record; closed, with an alert
    // record (content type 21) at most.
    let out = raw(tls_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        out.is_empty() || out[0] == 21,
        "plain HTTP gets no HTTP answer: {out:?}"
    );
    // A handshake record whose ClientHello is garbage: an alert, closed.
    let mut garbled = vec![22, 3, 1, 0, 64, 1, 0, 0, 60];
    garbled.extend((0..60u8).map(|i| i.wrapping_mul(37)));
    let out = raw(tls_port, &garbled);
    assert!(!out.is_empty() && out[0] == 21, "an alert: {out:?}");
    // A record header claiming more than TLS allows.
    let out = raw(tls_port, &[22, 3, 3, 0xff, 0xff, 1, 2, 3]);
    assert!(out.is_empty() || out[0] == 21, "{out:?}");
    // A client that sends nothing is closed at the head timeout (1.5 s).
    let mut silent = connect_retrying(to, Duration::from_secs(5));
    silent
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = Vec::new();
    silent
        .read_to_end(&mut buf)
        .expect("the silent client is closed in time");
    // Half a ClientHello, then the client's FIN: the server ends that
    // connection (read to its close, so it is counted before the stats).
    let mut half = TcpStream::connect(to).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    half.write_all(&[22, 3, 1, 2, 0, 1, 0, 1, 252, 3, 3])
        .unwrap();
    half.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    half.read_to_end(&mut rest)
        .expect("the server closes the half handshake in time");

    // Both ports serve on.
    let (body, _) = curl(&["-k", &format!("https://127.0.0.1:{tls_port}/hello/after")]);
    assert_eq!(body, "hello, after\n");
    // The three bad openings and the half ClientHello each failed alone;
    // the silent client never handshook; curl's handshake is the one done.
    let (stats, _) = curl(&[&format!("http://127.0.0.1:{port}/stats/tls")]);
    assert_eq!(
        stats,
        r#"{"handshakes":1,"resumed":0,"tls13":1,"failed":4}"#
    );
    let (body, _) = curl(&[&format!("http://127.0.0.1:{port}/hello/after")]);
    assert_eq!(body, "hello, after\n");
    assert!(server.alive(), "{}", server.output());
    drop(server);
}
