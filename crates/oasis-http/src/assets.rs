//! Static files compiled into the image: a table made at build time by
//! `oasis-assets-build` (a host crate an application names as a
//! build-dependency), each file with its content type, its bytes, and
//! its gzip and brotli forms where they are worth it, every form with its
//! own strong ETag — all worked out by the build. A request costs a binary
//! search of the sorted table, the choice of a form by `Accept-Encoding`
//! ([`AcceptEncoding`]) and the copy of the bytes: nothing is hashed or
//! compressed while serving.
//!
//! ```ignore
//! // build.rs: oasis_assets_build::embed("static", "assets.rs").unwrap();
//! static ASSETS: oasis_http::assets::Assets =
//!     include!(concat!(env!("OUT_DIR"), "/assets.rs"));
//!
//! let router = Router::new().assets("/static", &ASSETS);
//! ```
//!
//! What a response carries: `Content-Type`; `Content-Encoding` for a
//! compressed form; `Vary: Accept-Encoding` for a file that has one;
//! `ETag` (the forms' tags differ, so a cache or an `If-None-Match` never
//! takes one for another: 304 for the form's own tag); `Cache-Control`
//! ([`Assets::cache_control`]); `Accept-Ranges: bytes` — a range is of the
//! form sent (RFC 9110 §14: a range is of the selected representation, and
//! each form is one with its own tag, which `If-Range` checks). HEAD sends
//! the head only. A path that is no file is 404; a directory path serves
//! its `index.html` (and `/dir` without the slash is sent to `/dir/` with
//! a 301, so the page's relative links resolve). A client that refuses
//! every form it could get (`identity;q=0` and no acceptable compressed
//! form) gets 406.

use crate::request::Request;
use crate::response::{Body, Bytes, Response};

/// A content coding a form of a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Brotli (`br`).
    Br,
    /// gzip.
    Gzip,
    /// The bytes as they are.
    Identity,
}

impl Encoding {
    /// The `Content-Encoding` value (none for identity).
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Encoding::Br => Some("br"),
            Encoding::Gzip => Some("gzip"),
            Encoding::Identity => None,
        }
    }
}

/// An `Accept-Encoding` field read (RFC 9110 §12.5.3): the quality the
/// client gives each coding oasis has, in thousandths (0 = not
/// acceptable). Reading never fails and never allocates: an element it
/// cannot read (a bad `q`, a stray character) is skipped, codings it does
/// not know are ignored, and of a coding named twice the higher quality
/// counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AcceptEncoding {
    br: Option<u16>,
    gzip: Option<u16>,
    identity: Option<u16>,
    star: Option<u16>,
    /// A field was present (absent: identity only).
    present: bool,
}

impl AcceptEncoding {
    /// No field: only identity is sent (the RFC allows any coding, but a
    /// client that does not say so may not decode one).
    pub fn none() -> AcceptEncoding {
        AcceptEncoding::default()
    }

    /// One field's value.
    pub fn parse(field: &str) -> AcceptEncoding {
        let mut a = AcceptEncoding::none();
        a.add(field);
        a
    }

    /// Those of every `Accept-Encoding` field of `request` (several fields
    /// are one list, RFC 9110 §5.3); a field that is not UTF-8 is skipped.
    pub fn of(request: &Request) -> AcceptEncoding {
        let mut a = AcceptEncoding::none();
        for (name, value) in request.headers() {
            if name.eq_ignore_ascii_case("accept-encoding") {
                a.present = true;
                if let Ok(v) = core::str::from_utf8(value) {
                    a.add(v);
                }
            }
        }
        a
    }

    /// Adds the elements of one field's value.
    fn add(&mut self, field: &str) {
        self.present = true;
        for element in field.split(',') {
            let mut parts = element.split(';');
            let coding = parts.next().unwrap_or("").trim();
            if coding.is_empty() {
                continue;
            }
            let mut q = Some(1000);
            for param in parts {
                let Some((name, value)) = param.split_once('=') else {
                    q = None;
                    break;
                };
                if name.trim().eq_ignore_ascii_case("q") {
                    q = parse_q(value.trim());
                }
            }
            let Some(q) = q else { continue };
            let slot = if coding.eq_ignore_ascii_case("br") {
                &mut self.br
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                &mut self.gzip
            } else if coding.eq_ignore_ascii_case("identity") {
                &mut self.identity
            } else if coding == "*" {
                &mut self.star
            } else {
                continue;
            };
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
    }

    /// The quality of `coding`, 0 to 1000: named, else as `*`, else 1000
    /// for identity (acceptable unless refused) and 0 for the others.
    pub fn quality(&self, coding: Encoding) -> u16 {
        if !self.present {
            return if coding == Encoding::Identity {
                1000
            } else {
                0
            };
        }
        let named = match coding {
            Encoding::Br => self.br,
            Encoding::Gzip => self.gzip,
            Encoding::Identity => self.identity,
        };
        match (named, self.star, coding) {
            (Some(q), _, _) => q,
            (None, Some(q), _) => q,
            (None, None, Encoding::Identity) => 1000,
            (None, None, _) => 0,
        }
    }

    /// Which of the forms a file has (identity always, br and gzip as
    /// given) to send: the acceptable one of the highest quality, a tie
    /// going to br, then gzip, then identity; `None` when none is
    /// acceptable (406).
    pub fn choose(&self, br: bool, gzip: bool) -> Option<Encoding> {
        let mut best: Option<(u16, Encoding)> = None;
        for (have, coding) in [
            (br, Encoding::Br),
            (gzip, Encoding::Gzip),
            (true, Encoding::Identity),
        ] {
            let q = self.quality(coding);
            if have && q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, coding));
            }
        }
        best.map(|(_, c)| c)
    }
}

/// A quality value (`0`, `0.5`, `1.000`: at most three decimals, at most
/// 1) in thousandths; `None` for anything else.
fn parse_q(v: &str) -> Option<u16> {
    let b = v.as_bytes();
    let (&first, rest) = b.split_first()?;
    if !(first == b'0' || first == b'1') {
        return None;
    }
    let mut q = u16::from(first - b'0') * 1000;
    match rest {
        [] => return Some(q),
        [b'.', decimals @ ..] if decimals.len() <= 3 => {
            let mut scale = 100;
            for &d in decimals {
                if !d.is_ascii_digit() {
                    return None;
                }
                q += u16::from(d - b'0') * scale;
                scale /= 10;
            }
        }
        _ => return None,
    }
    (q <= 1000).then_some(q)
}

/// One form of a file: its bytes and its strong ETag, quoted.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    body: &'static [u8],
    etag: &'static str,
}

impl Variant {
    /// `body` tagged `etag` (quoted, `"…"`).
    pub const fn new(body: &'static [u8], etag: &'static str) -> Variant {
        Variant { body, etag }
    }

    /// The bytes.
    pub fn body(&self) -> &'static [u8] {
        self.body
    }

    /// The ETag, quoted.
    pub fn etag(&self) -> &'static str {
        self.etag
    }
}

/// A file of the table.
#[derive(Clone, Copy, Debug)]
pub struct File {
    path: &'static str,
    content_type: &'static str,
    identity: Variant,
    gzip: Option<Variant>,
    br: Option<Variant>,
}

impl File {
    /// The file at `path` (relative to the table's root, `/`-separated, no
    /// leading `/`: `index.html`, `css/site.css`) of type `content_type`,
    /// its bytes, and its compressed forms if it has them.
    pub const fn new(
        path: &'static str,
        content_type: &'static str,
        identity: Variant,
        gzip: Option<Variant>,
        br: Option<Variant>,
    ) -> File {
        File {
            path,
            content_type,
            identity,
            gzip,
            br,
        }
    }

    /// Its path in the table.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// Its `Content-Type`.
    pub fn content_type(&self) -> &'static str {
        self.content_type
    }

    /// The form in `coding`, if the file has it.
    pub fn variant(&self, coding: Encoding) -> Option<&Variant> {
        match coding {
            Encoding::Identity => Some(&self.identity),
            Encoding::Gzip => self.gzip.as_ref(),
            Encoding::Br => self.br.as_ref(),
        }
    }

    /// A 200 with the form `accept` chooses (see the module's docs), or
    /// 406; `cache_control` as the `Cache-Control` field.
    pub fn response(&self, accept: &AcceptEncoding, cache_control: &'static str) -> Response {
        let Some(coding) = accept.choose(self.br.is_some(), self.gzip.is_some()) else {
            return Response::text(
                406,
                "406 Not Acceptable: this file is not served in an encoding the request accepts\n",
            );
        };
        let v = self.variant(coding).unwrap_or(&self.identity);
        let mut r = Response::new(200).static_header("Content-Type", self.content_type);
        if let Some(ce) = coding.content_encoding() {
            r = r.static_header("Content-Encoding", ce);
        }
        if self.gzip.is_some() || self.br.is_some() {
            r = r.static_header("Vary", "Accept-Encoding");
        }
        if !cache_control.is_empty() {
            r = r.static_header("Cache-Control", cache_control);
        }
        r.static_etag(v.etag)
            .accept_ranges()
            .with_body(Body::Full(Bytes::Static(v.body)))
    }
}

/// The default `Cache-Control`: caches may keep a file five minutes, then
/// ask again (an `If-None-Match`, answered 304 while the image is the
/// same). The files' names are not fingerprinted, so a longer life would
/// keep a new image's files from clients for as long.
pub const DEFAULT_CACHE_CONTROL: &str = "public, max-age=300";

/// A table of static files, sorted by path, made by `oasis-assets-build`
/// (or written by hand: [`Assets::new`] refuses an unsorted table while
/// compiling).
#[derive(Clone, Copy, Debug)]
pub struct Assets {
    files: &'static [File],
    cache_control: &'static str,
}

/// Whether `a` sorts before `b` bytewise (`<` on `str`, usable in a
/// `const fn`).
const fn before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// How `s` compares with `a` followed by `b`.
fn cmp_joined(s: &str, a: &str, b: &str) -> core::cmp::Ordering {
    let (s, a) = (s.as_bytes(), a.as_bytes());
    let n = a.len().min(s.len());
    match s[..n].cmp(&a[..n]) {
        core::cmp::Ordering::Equal if s.len() < a.len() => core::cmp::Ordering::Less,
        core::cmp::Ordering::Equal => s[a.len()..].cmp(b.as_bytes()),
        other => other,
    }
}

impl Assets {
    /// The table of `files`, which must be sorted by path with no path
    /// twice (checked: in a `static`, an unsorted table fails the build),
    /// with [`DEFAULT_CACHE_CONTROL`].
    pub const fn new(files: &'static [File]) -> Assets {
        let mut i = 1;
        while i < files.len() {
            assert!(
                before(files[i - 1].path, files[i].path),
                "oasis_http::assets::Assets: the files must be sorted by path, each path once"
            );
            i += 1;
        }
        Assets {
            files,
            cache_control: DEFAULT_CACHE_CONTROL,
        }
    }

    /// With `value` as every response's `Cache-Control` (empty: none sent).
    /// E.g. `"public, max-age=31536000, immutable"` for files whose names
    /// change with their contents, `"no-cache"` to have every use checked.
    pub const fn cache_control(mut self, value: &'static str) -> Assets {
        self.cache_control = value;
        self
    }

    /// The files, sorted by path.
    pub fn files(&self) -> &'static [File] {
        self.files
    }

    /// The file at `path` exactly (no leading `/`).
    pub fn get(&self, path: &str) -> Option<&'static File> {
        self.files
            .binary_search_by(|f| f.path.cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// What `path` (decoded, relative to the table's root, with or without
    /// a leading `/`) names: a file, or the `index.html` of a directory.
    pub fn find(&self, path: &str) -> Found {
        let path = path.trim_matches('/');
        if !path.is_empty()
            && let Some(f) = self.get(path)
        {
            return Found::File(f);
        }
        if path.is_empty() {
            return self.get("index.html").map_or(Found::Nothing, Found::Index);
        }
        // `dir/index.html`, searched for without building the string.
        self.files
            .binary_search_by(|f| cmp_joined(f.path, path, "/index.html"))
            .map_or(Found::Nothing, |i| Found::Index(&self.files[i]))
    }

    /// The response to `request` for `path` (decoded, relative to the
    /// table's root): the file, the directory's `index.html`, a 301 to
    /// the directory with its slash, or 404. `request.path()` says
    /// whether the client's path ended with a slash (a file's name with
    /// one is 404).
    pub fn respond(&self, request: &Request, path: &str) -> Response {
        let slash = request.path().ends_with('/');
        match self.find(path) {
            // `file.css/` is not a directory.
            Found::File(_) if slash => Response::text(404, "404 Not Found\n"),
            Found::File(f) => f.response(&AcceptEncoding::of(request), self.cache_control),
            Found::Index(f) if slash => {
                f.response(&AcceptEncoding::of(request), self.cache_control)
            }
            Found::Index(_) => {
                let mut to = alloc::string::String::from(request.path());
                to.push('/');
                if let Some(q) = request.query() {
                    to.push('?');
                    to.push_str(q);
                }
                Response::text(301, "301 Moved Permanently\n").header("Location", to)
            }
            Found::Nothing => Response::text(404, "404 Not Found\n"),
        }
    }
}

/// What a path names in an [`Assets`] table.
#[derive(Clone, Copy, Debug)]
pub enum Found {
    /// A file.
    File(&'static File),
    /// A directory with this `index.html`.
    Index(&'static File),
    /// Nothing.
    Nothing,
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::response::{Conditions, Payload, Prepared};
    use alloc::string::String;
    use proptest::prelude::*;

    use Encoding::{Br, Gzip, Identity};

    fn choose(field: Option<&str>) -> Option<Encoding> {
        field
            .map_or(AcceptEncoding::none(), AcceptEncoding::parse)
            .choose(true, true)
    }

    #[test]
    fn accept_encoding_prefers_br_then_gzip_and_honours_q_values() {
        assert_eq!(choose(None), Some(Identity));
        assert_eq!(choose(Some("")), Some(Identity));
        assert_eq!(choose(Some("gzip, deflate, br, zstd")), Some(Br));
        assert_eq!(choose(Some("gzip, deflate")), Some(Gzip));
        assert_eq!(choose(Some("x-gzip")), Some(Gzip));
        assert_eq!(choose(Some("GZIP;Q=1.0, BR;q=0.5")), Some(Gzip));
        assert_eq!(choose(Some("br;q=0, gzip")), Some(Gzip));
        assert_eq!(choose(Some("br;q=0, gzip;q=0")), Some(Identity));
        assert_eq!(choose(Some("gzip;q=0.001, identity;q=0.5")), Some(Identity));
        assert_eq!(choose(Some("gzip ; q = 0.8 , identity;q=0.8")), Some(Gzip));
        assert_eq!(choose(Some("deflate")), Some(Identity));
        // `*`: every coding not named.
        assert_eq!(choose(Some("*")), Some(Br));
        assert_eq!(choose(Some("*;q=0.5, br;q=0")), Some(Gzip));
        assert_eq!(choose(Some("*;q=0")), None);
        assert_eq!(choose(Some("*;q=0, identity")), Some(Identity));
        assert_eq!(choose(Some("*;q=0, gzip;q=0.2")), Some(Gzip));
        // identity refused.
        assert_eq!(choose(Some("identity;q=0")), None);
        assert_eq!(choose(Some("gzip, identity;q=0")), Some(Gzip));
        assert_eq!(
            AcceptEncoding::parse("identity;q=0, gzip").choose(false, false),
            None
        );
        assert_eq!(
            AcceptEncoding::parse("br").choose(false, false),
            Some(Identity)
        );
        // Elements that cannot be read are skipped, not taken as q=1.
        assert_eq!(choose(Some("br;q=2, gzip;q=abc, identity")), Some(Identity));
        assert_eq!(choose(Some("br;q=0.0001")), Some(Identity));
        assert_eq!(choose(Some("br;q")), Some(Identity));
        assert_eq!(choose(Some(",,, ;q=1, br;foo=bar")), Some(Br));
        // A coding named twice: the higher quality.
        assert_eq!(
            choose(Some("br;q=0, br;q=0.3, gzip;q=0.2, identity;q=0.1")),
            Some(Br)
        );
    }

    #[test]
    fn q_values_are_read_exactly() {
        for (s, q) in [
            ("0", Some(0)),
            ("1", Some(1000)),
            ("0.5", Some(500)),
            ("0.123", Some(123)),
            ("1.000", Some(1000)),
            ("1.", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("2", None),
            ("", None),
            ("-0", None),
            ("0.x", None),
            (".5", None),
        ] {
            assert_eq!(parse_q(s), q, "{s:?}");
        }
    }

    #[test]
    fn several_fields_are_one_list() {
        let r = Request::new("GET", "/")
            .with_header("Accept-Encoding", "gzip;q=0.5")
            .with_header("accept-encoding", "br;q=0.4, identity;q=0");
        assert_eq!(AcceptEncoding::of(&r).choose(true, true), Some(Gzip));
        assert_eq!(AcceptEncoding::of(&r).choose(false, false), None);
    }

    static INDEX: &[u8] = b"<h1>hi</h1>";
    static FILES: [File; 4] = [
        File::new(
            "a.css",
            "text/css; charset=utf-8",
            Variant::new(b"body{}", "\"css\""),
            Some(Variant::new(b"GZ", "\"css-gz\"")),
            Some(Variant::new(b"BR", "\"css-br\"")),
        ),
        File::new(
            "docs/index.html",
            "text/html; charset=utf-8",
            Variant::new(INDEX, "\"docs\""),
            None,
            None,
        ),
        File::new(
            "docs/x.txt",
            "text/plain; charset=utf-8",
            Variant::new(b"x", "\"x\""),
            None,
            None,
        ),
        File::new(
            "index.html",
            "text/html; charset=utf-8",
            Variant::new(INDEX, "\"root\""),
            None,
            None,
        ),
    ];
    static ASSETS: Assets = Assets::new(&FILES);

    fn prepared(r: &Request, path: &str) -> (Prepared, String) {
        let p = ASSETS.respond(r, path).prepare(&Conditions::of(r), None);
        let head = String::from_utf8(p.head.clone()).unwrap();
        (p, head)
    }

    fn body(p: &Prepared) -> &[u8] {
        match &p.send {
            Payload::Slice(b, a, e) => &b.as_slice()[*a..*e],
            _ => b"",
        }
    }

    #[test]
    fn files_are_found_by_path_with_their_forms_tags_and_fields() {
        let get = |ae: Option<&str>| {
            let r = Request::new("GET", "/s/a.css");
            match ae {
                Some(v) => r.with_header("Accept-Encoding", v),
                None => r,
            }
        };
        let (p, h) = prepared(&get(None), "a.css");
        assert_eq!((p.status, body(&p)), (200, &b"body{}"[..]));
        assert!(
            h.contains("ETag: \"css\"\r\n") && !h.contains("Content-Encoding"),
            "{h}"
        );
        assert!(h.contains("Vary: Accept-Encoding\r\n"), "{h}");
        assert!(h.contains("Cache-Control: public, max-age=300\r\n"), "{h}");
        assert!(
            h.contains("Content-Type: text/css; charset=utf-8\r\n"),
            "{h}"
        );
        let (p, h) = prepared(&get(Some("gzip")), "a.css");
        assert_eq!(body(&p), b"GZ");
        assert!(
            h.contains("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"),
            "{h}"
        );
        assert!(h.contains("ETag: \"css-gz\"\r\n"), "{h}");
        let (p, h) = prepared(&get(Some("gzip, br")), "/a.css");
        assert_eq!(body(&p), b"BR");
        assert!(h.contains("Content-Encoding: br\r\n") && h.contains("ETag: \"css-br\""));
        // 304 for the form's own tag only.
        let r = get(Some("br")).with_header("If-None-Match", "\"css-br\"");
        assert_eq!(prepared(&r, "a.css").0.status, 304);
        assert!(
            prepared(&r, "a.css")
                .1
                .contains("Vary: Accept-Encoding\r\n")
        );
        let r = get(Some("gzip")).with_header("If-None-Match", "\"css-br\"");
        assert_eq!(prepared(&r, "a.css").0.status, 200);
        // A range of the form sent.
        let r = get(None).with_header("Range", "bytes=1-2");
        let (p, h) = prepared(&r, "a.css");
        assert_eq!((p.status, body(&p)), (206, &b"od"[..]));
        assert!(h.contains("Content-Range: bytes 1-2/6\r\n"), "{h}");
        let r = get(Some("gzip")).with_header("Range", "bytes=1-");
        assert_eq!(body(&prepared(&r, "a.css").0), b"Z");
        // HEAD: the head only.
        let r = Request::new("HEAD", "/s/a.css").with_header("Accept-Encoding", "br");
        let (p, h) = prepared(&r, "a.css");
        assert!(h.contains("Content-Length: 2\r\n") && matches!(p.send, Payload::Nothing));
        // 406 when nothing acceptable.
        let r = get(Some("identity;q=0"));
        assert_eq!(prepared(&r, "a.css").0.status, 406);
        let r = get(Some("br, identity;q=0"));
        assert_eq!(prepared(&r, "a.css").0.status, 200);
        let r = get(Some("*;q=0"));
        assert_eq!(prepared(&r, "a.css").0.status, 406);
        // A file without compressed forms has no Vary.
        let (_, h) = prepared(&Request::new("GET", "/s/docs/x.txt"), "docs/x.txt");
        assert!(!h.contains("Vary"), "{h}");
    }

    #[test]
    fn directories_serve_their_index_and_the_rest_is_404() {
        let (p, h) = prepared(&Request::new("GET", "/s/"), "");
        assert_eq!((p.status, body(&p)), (200, INDEX));
        assert!(h.contains("ETag: \"root\""));
        let (p, h) = prepared(&Request::new("GET", "/s/docs/"), "docs");
        assert_eq!(p.status, 200);
        assert!(h.contains("ETag: \"docs\""), "{h}");
        let r = Request::new("GET", "/s/docs?x=1");
        let (p, h) = prepared(&r, "docs");
        assert_eq!(p.status, 301);
        assert!(h.contains("Location: /s/docs/?x=1\r\n"), "{h}");
        for path in [
            "nope",
            "doc",
            "docs/index",
            "a.css/x",
            "../a.css",
            "docs/../a.css",
            "A.CSS",
        ] {
            assert_eq!(
                prepared(&Request::new("GET", "/s/x"), path).0.status,
                404,
                "{path}"
            );
        }
        assert!(matches!(ASSETS.find("docs/x.txt"), Found::File(f) if f.path() == "docs/x.txt"));
        assert_eq!(
            prepared(&Request::new("GET", "/s/a.css/"), "a.css")
                .0
                .status,
            404
        );
        let empty = Assets::new(&[]);
        assert!(matches!(empty.find(""), Found::Nothing));
    }

    #[test]
    fn before_is_str_order() {
        for (a, b) in [
            ("a", "b"),
            ("a", "ab"),
            ("", "a"),
            ("ab", "a"),
            ("a", "a"),
            ("a/b", "a.b"),
        ] {
            assert_eq!(before(a, b), a < b, "{a} {b}");
        }
        for (s, a, b) in [
            ("docs/index.html", "docs", "/index.html"),
            ("docs", "docs", "/i"),
            ("docs/j", "docs", "/index.html"),
            ("do", "docs", ""),
            ("e", "docs", "/x"),
        ] {
            let joined = alloc::format!("{a}{b}");
            assert_eq!(cmp_joined(s, a, b), s.cmp(joined.as_str()), "{s} {a} {b}");
        }
    }

    proptest! {
        #[test]
        fn any_accept_encoding_is_read_without_panicking(field in "\\PC{0,80}") {
            let a = AcceptEncoding::parse(&field);
            for c in [Br, Gzip, Identity] {
                prop_assert!(a.quality(c) <= 1000);
            }
            if let Some(c) = a.choose(true, true) {
                prop_assert!(a.quality(c) > 0);
            }
        }

        #[test]
        fn any_path_finds_a_file_of_its_name_or_nothing(path in "[a-z./ ]{0,24}") {
            match ASSETS.find(&path) {
                Found::File(f) => prop_assert_eq!(f.path(), path.trim_matches('/')),
                Found::Index(f) => prop_assert!(f.path().ends_with("index.html")),
                Found::Nothing => {}
            }
            let r = Request::new("GET", "/").with_header("Accept-Encoding", &path);
            let _ = ASSETS.respond(&r, &path);
        }

        #[test]
        fn the_choice_is_acceptable_and_best(
            elems in proptest::collection::vec(
                (prop_oneof![Just("br"), Just("gzip"), Just("identity"), Just("*"), Just("zstd")],
                 proptest::option::of(0u16..=1000)),
                0..6),
            br: bool, gzip: bool,
        ) {
            let field: alloc::vec::Vec<String> = elems.iter().map(|(c, q)| match q {
                Some(q) => alloc::format!("{c};q={}.{:03}", q / 1000, q % 1000),
                None => String::from(*c),
            }).collect();
            let a = AcceptEncoding::parse(&field.join(", "));
            let have = [(br, Br), (gzip, Gzip), (true, Identity)];
            match a.choose(br, gzip) {
                Some(c) => {
                    prop_assert!(have.iter().any(|&(h, x)| h && x == c));
                    for (h, x) in have {
                        prop_assert!(!h || a.quality(x) <= a.quality(c));
                    }
                }
                None => {
                    for (h, x) in have {
                        prop_assert!(!h || a.quality(x) == 0);
                    }
                }
            }
        }
    }
}
