//! The guestbook hosted on 127.0.0.1, as a user's browser and scripts see
//! it, driven by `curl`: the page, the form post (303, then listed), the
//! JSON API (201, 400, 404), pages, the name search, validation (invalid
//! UTF-8 included), HTML injection escaped, keep-alive, HTTPS (`curl -k`),
//! the static files, and entries kept across a restart. Needs curl
//! (Debian: curl); says "skipped" without it.

mod common;

use std::process::Command;

use std::time::{Duration, Instant};

use common::{blank_disk, connect, post_json, start_hosted, start_hosted_with};

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

/// What curl got: status, head (lower-cased names), body.
struct Got {
    status: u16,
    head: String,
    body: String,
}

impl Got {
    fn field(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Runs curl (bounded in time) with `args` on `url`.
fn curl(url: &str, args: &[&str]) -> Got {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20", "-i"])
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = all.split_once("\r\n\r\n").expect("a head");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Got {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// The ids of the entries on a page, in order.
fn page_ids(html: &str) -> Vec<u64> {
    html.split("<li class=\"entry\" id=\"entry-")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// The ids in a JSON listing, in order.
fn json_ids(json: &str) -> Vec<u64> {
    json.split("\"id\":")
        .skip(1)
        .map(|s| s.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn the_guestbook_serves_its_pages_api_and_files_and_keeps_entries_across_a_restart() {
    if !curl_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("storage.img");
    blank_disk(&disk);
    let (server, port, tls_port) = start_hosted(&disk, true);
    let base = format!("http://127.0.0.1:{port}");
    let at = |path: &str| format!("{base}{path}");

    // The empty page: the form, the search, the files it links.
    let r = curl(&at("/"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.field("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    for part in [
        r#"<link rel="stylesheet" href="/static/style.css">"#,
        r#"<script src="/static/app.js" defer></script>"#,
        r#"<form method="post" action="/entries" class="entry-form">"#,
        r#"name="name""#,
        r#"<textarea id="message" name="message""#,
        r#"<button type="submit">"#,
        r#"<form method="get" action="/" class="search" role="search">"#,
        r#"<ul id="entries">"#,
    ] {
        assert!(r.body.contains(part), "no {part} in\n{}", r.body);
    }
    assert!(page_ids(&r.body).is_empty());

    // A form post: 303 to /, then listed first.
    let r = curl(
        &at("/entries"),
        &[
            "--data-urlencode",
            "name= Ann ",
            "--data-urlencode",
            "message=Hello,\r\nworld!",
        ],
    );
    assert_eq!((r.status, r.field("location").as_deref()), (303, Some("/")));
    let r = curl(&at("/"), &[]);
    assert_eq!(page_ids(&r.body), [1]);
    assert!(
        r.body.contains(
            r#"<li class="entry" id="entry-1"><span class="name">Ann</span><time datetime=""#
        ),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<p class=\"message\">Hello,\nworld!</p></li>"),
        "{}",
        r.body
    );

    // The JSON API.
    let json = ["-H", "Content-Type: application/json"];
    let r = curl(
        &at("/api/entries"),
        &[
            &json[..],
            &["-d", r#"{"name":"Bob","message":"hi","extra":[1,2]}"#],
        ]
        .concat(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.field("location").as_deref(), Some("/api/entries/2"));
    assert_eq!(r.field("content-type").as_deref(), Some("application/json"));
    assert!(
        r.body
            .starts_with(r#"{"id":2,"name":"Bob","message":"hi","created":"#),
        "{}",
        r.body
    );
    let created: u64 = r
        .body
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('}')
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(created.abs_diff(now) < 60, "created {created}, now {now}");
    let r = curl(&at("/api/entries/2"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        format!(r#"{{"id":2,"name":"Bob","message":"hi","created":{created}}}"#)
    );
    let r = curl(&at("/api/entries"), &[]);
    assert_eq!((r.status, json_ids(&r.body)), (200, vec![2, 1]));
    assert!(r.body.starts_with(r#"{"entries":[{"id":2,"#), "{}", r.body);
    for missing in [
        "/api/entries/3",
        "/api/entries/0",
        "/api/entries/abc",
        "/api/entries/99999999999999999999999",
    ] {
        let r = curl(&at(missing), &[]);
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, r#"{"error":"no such entry"}"#),
            "{missing}"
        );
    }

    // Refusals: 400 with a message naming the field, nothing stored.
    for (body, says) in [
        ("{", "invalid JSON"),
        (r#"{"name":"x"}"#, "invalid JSON"),
        (r#"{"name":1,"message":"m"}"#, "invalid JSON"),
        (r#"{"name":"  ","message":"m"}"#, "name: required"),
        (
            &format!(r#"{{"name":"{}","message":"m"}}"#, "é".repeat(65)),
            "name: longer than 64",
        ),
        (r#"{"name":"a\u0007","message":"m"}"#, "name: control"),
        (r#"{"name":"n","message":""}"#, "message: required"),
        (
            &format!(r#"{{"name":"n","message":"{}"}}"#, "x".repeat(2001)),
            "message: longer than 2000",
        ),
        (r#"{"name":"n","message":"a\rb"}"#, "message: control"),
    ] {
        let r = curl(
            &at("/api/entries"),
            &[&json[..], &["--data-binary", body]].concat(),
        );
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.field("content-type").as_deref(), Some("application/json"));
        assert!(
            r.body.starts_with(r#"{"error":""#) && r.body.contains(says),
            "{body}: {}",
            r.body
        );
    }
    let bad_utf8 = dir.path().join("bad.bin");
    std::fs::write(&bad_utf8, b"{\"name\":\"\xff\",\"message\":\"m\"}").unwrap();
    let at_bad = format!("@{}", bad_utf8.display());
    let r = curl(
        &at("/api/entries"),
        &[&json[..], &["--data-binary", &at_bad]].concat(),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("not valid UTF-8"), "{}", r.body);
    std::fs::write(&bad_utf8, b"name=\xff&message=m").unwrap();
    let r = curl(&at("/entries"), &["--data-binary", &at_bad]);
    assert_eq!(
        (r.status, r.field("content-type").as_deref()),
        (400, Some("text/html; charset=utf-8"))
    );
    assert!(
        r.body
            .contains(r#"<p class="error" role="alert">the request body is not valid UTF-8</p>"#),
        "{}",
        r.body
    );
    let r = curl(&at("/entries"), &["-d", "name=%FF&message=m"]);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("name: not valid UTF-8"), "{}", r.body);
    // A refused form keeps what was typed (escaped).
    let r = curl(
        &at("/entries"),
        &[
            "--data-urlencode",
            "name=<Zoe>",
            "--data-urlencode",
            "message=",
        ],
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("message: required"), "{}", r.body);
    assert!(r.body.contains(r#"value="&#60;Zoe&#62;""#), "{}", r.body);
    assert_eq!(
        json_ids(&curl(&at("/api/entries"), &[]).body),
        [2, 1],
        "nothing refused was stored"
    );

    // HTML injection is escaped on the page; JSON carries it as text.
    let evil = r#"<script>alert("x & 'y'")</script>"#;
    let r = curl(
        &at("/entries"),
        &[
            "--data-urlencode",
            &format!("name={evil}"),
            "--data-urlencode",
            &format!("message={evil}"),
        ],
    );
    assert_eq!(r.status, 303);
    let page = curl(&at("/"), &[]).body;
    assert!(!page.contains("<script>alert"), "{page}");
    let escaped = "&#60;script&#62;alert(&#34;x &#38; &#39;y&#39;&#34;)&#60;/script&#62;";
    assert!(
        page.contains(&format!(r#"<span class="name">{escaped}</span>"#)),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"<p class="message">{escaped}</p>"#)),
        "{page}"
    );
    let r = curl(&at("/api/entries/3"), &[]);
    assert!(
        r.body
            .contains(r#""name":"<script>alert(\"x & 'y'\")</script>""#),
        "{}",
        r.body
    );

    // 45 entries in all: pages of 20, newest first, links both ways.
    let mut c = connect(port);
    for i in 4..=45 {
        let name = if i % 3 == 0 { "Carol" } else { "Dave" };
        let r = post_json(&mut c, name, &format!("entry {i}")).unwrap();
        assert_eq!(
            (r.status, r.header("location")),
            (201, Some(format!("/api/entries/{i}").as_str()))
        );
    }
    let p1 = curl(&at("/"), &[]).body;
    assert_eq!(page_ids(&p1), (26..=45).rev().collect::<Vec<_>>());
    assert!(
        p1.contains(r#"href="/?page=2">older<"#) && !p1.contains(">newer<"),
        "{p1}"
    );
    let p2 = curl(&at("/?page=2"), &[]).body;
    assert_eq!(page_ids(&p2), (6..=25).rev().collect::<Vec<_>>());
    assert!(
        p2.contains(r#"href="/">newer<"#) && p2.contains(r#"href="/?page=3">older<"#),
        "{p2}"
    );
    let p3 = curl(&at("/?page=3"), &[]).body;
    assert_eq!(page_ids(&p3), [5, 4, 3, 2, 1]);
    assert!(
        p3.contains(r#"href="/?page=2">newer<"#) && !p3.contains(">older<"),
        "{p3}"
    );
    assert!(page_ids(&curl(&at("/?page=9"), &[]).body).is_empty());
    for bad in [
        "/?page=0",
        "/?page=-1",
        "/?page=two",
        "/?page=1.5",
        "/?page=",
    ] {
        let r = curl(&at(bad), &[]);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.body.contains("page: must be"), "{bad}: {}", r.body);
    }
    let r = curl(&at("/api/entries?limit=5&page=2"), &[]);
    assert_eq!(json_ids(&r.body), [40, 39, 38, 37, 36]);
    assert_eq!(
        json_ids(&curl(&at("/api/entries?limit=100"), &[]).body).len(),
        45
    );
    for bad in ["?limit=0", "?limit=101", "?limit=x", "?page=0", "?page=a"] {
        let r = curl(&at(&format!("/api/entries{bad}")), &[]);
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.body.starts_with(r#"{"error":""#), "{bad}: {}", r.body);
    }

    // The exact-name search, newest first, with its own pages.
    let carol: Vec<u64> = (4..=45).rev().filter(|i| i % 3 == 0).collect();
    let r = curl(&at("/?name=Carol"), &[]);
    assert_eq!(page_ids(&r.body), carol);
    assert!(
        r.body
            .contains(r#"<input id="search-name" name="name" value="Carol">"#),
        "{}",
        r.body
    );
    assert!(
        page_ids(&curl(&at("/?name=carol"), &[]).body).is_empty(),
        "exact: case counts"
    );
    assert!(
        page_ids(&curl(&at("/?name=Car"), &[]).body).is_empty(),
        "exact: no prefix"
    );
    let r = curl(&at("/api/entries?name=Carol&limit=4&page=2"), &[]);
    assert_eq!(json_ids(&r.body), carol[4..8]);
    let dave: Vec<u64> = (4..=45).rev().filter(|i| i % 3 != 0).collect();
    let r = curl(&at("/?name=Dave&page=2"), &[]);
    assert_eq!(page_ids(&r.body), dave[20..]);
    assert!(
        r.body.contains(r#"href="/?name=Dave">newer<"#),
        "{}",
        r.body
    );
    let r = curl(&at("/?name=Dave"), &[]);
    assert!(
        r.body.contains(r#"href="/?name=Dave&#38;page=2">older<"#),
        "{}",
        r.body
    );
    let r = curl(&at("/api/entries?name=Ann"), &[]);
    assert_eq!(json_ids(&r.body), [1]);

    // Keep-alive: curl reuses one connection for several requests.
    let out = Command::new("curl")
        .args([
            "--silent",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{num_connects} "])
        .args([at("/"), at("/api/entries"), at("/static/style.css")])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1 0 0 ",
        "one connection for three requests"
    );

    // The static files.
    let r = curl(&at("/static/style.css"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.field("content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    assert!(
        (10_000..=11_000).contains(&r.body.len()),
        "style.css is {} bytes",
        r.body.len()
    );
    assert_eq!(r.body.as_bytes(), include_bytes!("../static/style.css"));
    let r = curl(&at("/static/app.js"), &[]);
    assert_eq!(
        (r.status, r.field("content-type").as_deref()),
        (200, Some("text/javascript; charset=utf-8"))
    );
    assert_eq!(r.body.as_bytes(), include_bytes!("../static/app.js"));
    assert_eq!(curl(&at("/static/none.css"), &[]).status, 404);
    // Compiled in with their compressed forms, each with its tag.
    let r = curl(&at("/static/style.css"), &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(r.field("content-encoding").as_deref(), Some("gzip"));
    let gz: usize = r.field("content-length").unwrap().parse().unwrap();
    assert!(gz < 5_000, "gzip: {gz} bytes");
    let tag = curl(&at("/static/style.css"), &[])
        .field("etag")
        .expect("an ETag");
    let r = curl(
        &at("/static/style.css"),
        &["-H", &format!("If-None-Match: {tag}")],
    );
    assert_eq!(r.status, 304);
    let r = curl(&at("/api/entries"), &["-X", "DELETE"]);
    assert_eq!(r.status, 405);

    // HTTPS: the same routes, with the certificate the build made.
    let tls = format!("https://127.0.0.1:{tls_port}");
    let r = curl(&format!("{tls}/"), &["-k"]);
    assert_eq!(page_ids(&r.body), (26..=45).rev().collect::<Vec<_>>());
    let r = curl(
        &format!("{tls}/api/entries"),
        &[
            &["-k"][..],
            &json[..],
            &["-d", r#"{"name":"Eve","message":"over TLS"}"#],
        ]
        .concat(),
    );
    assert_eq!(
        (r.status, r.field("location").as_deref()),
        (201, Some("/api/entries/46"))
    );

    // A restart: every entry is still there and the ids go on.
    let (_, log) = server.stop(libc::SIGTERM);
    assert!(
        log.contains("guestbook: 0 entries on block device `storage`"),
        "{log}"
    );
    let (server, port, _) = start_hosted(&disk, false);
    assert!(
        server.output().contains("guestbook: 46 entries"),
        "{}",
        server.output()
    );
    let at = |path: &str| format!("http://127.0.0.1:{port}{path}");
    assert_eq!(
        json_ids(&curl(&at("/api/entries?limit=100"), &[]).body),
        (1..=46).rev().collect::<Vec<_>>()
    );
    let r = curl(&at("/api/entries/1"), &[]);
    assert!(
        r.body
            .contains(r#""name":"Ann","message":"Hello,\nworld!""#),
        "{}",
        r.body
    );
    let r = curl(
        &at("/api/entries"),
        &[&json[..], &["-d", r#"{"name":"Fay","message":"after"}"#]].concat(),
    );
    assert_eq!(r.field("location").as_deref(), Some("/api/entries/47"));
    assert_eq!(page_ids(&curl(&at("/?name=Fay"), &[]).body), [47]);
}

/// Posts arriving together on many connections share commits: 16
/// connections post 25 entries each at once; the writer's counts
/// (`--write-stats`) show fewer commits than entries, and every entry got
/// its own id.
#[test]
fn posts_on_many_connections_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("storage.img");
    blank_disk(&disk);
    let (server, port, _) = start_hosted_with(&disk, false, &["--write-stats=1"]);
    let start = std::sync::Arc::new(std::sync::Barrier::new(16));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let start = start.clone();
            std::thread::spawn(move || {
                let mut c = connect(port);
                start.wait();
                (0..25)
                    .map(|i| {
                        let r =
                            post_json(&mut c, &format!("conn {t}"), &format!("post {i}")).unwrap();
                        assert_eq!(r.status, 201, "{}", r.text());
                        r.header("location").unwrap().to_string()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(|l| l.rsplit('/').next().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=400).collect::<Vec<_>>());
    let limit = Instant::now() + Duration::from_secs(10);
    let line = loop {
        if let Some(l) = server
            .last_line("entries stored")
            .filter(|l| l.contains(" 400 entries"))
        {
            break l;
        }
        assert!(
            Instant::now() < limit,
            "no stats line:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // "guestbook: C commits, 400 entries stored (largest batch B)"
    let commits: u64 = line
        .split("guestbook: ")
        .last()
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    println!("400 posts on 16 connections: {commits} commits ({line})");
    assert!(commits < 400, "no commit was shared: {line}");
}
