//! oasis-assets-build: the build-time half of oasis-http's compiled-in
//! static files (ARCHITECTURE.md §1, layer "build": host code an
//! application names only as a `[build-dependency]`). A build script
//! hands it a directory; it walks it, types each file by its extension,
//! compresses it with gzip and brotli, tags every form with a strong ETag,
//! and writes into `OUT_DIR` the forms and a Rust expression — an
//! `oasis_http::assets::Assets` table sorted by path — that the
//! application `include!`s. The image then serves the files with a binary
//! search and a copy: everything that costs is done here, once (as
//! apps/dns's build script compiles its zones).
//!
//! ```no_run
//! // build.rs, in its `fn main`:
//! oasis_assets_build::embed_or_exit("static", "assets.rs");
//! ```
//!
//! ```ignore
//! // src/main.rs
//! static ASSETS: oasis_http::Assets = include!(concat!(env!("OUT_DIR"), "/assets.rs"));
//! let router = Router::new().assets("/static", &ASSETS);
//! ```
//!
//! What it does with the directory:
//! - **Walks** it in a fixed order (names sorted bytewise), so a build is
//!   the same on every machine. A name that is not UTF-8, a symbolic link
//!   that leads out of the directory (or in a loop), or anything that is
//!   neither a file nor a directory fails the build naming the path. Names
//!   starting with `.` (`.git`, `.DS_Store`) are left out.
//! - **Types** each file by its extension ([`content_type`]); text types
//!   say `charset=utf-8`; an unknown extension is
//!   `application/octet-stream`.
//! - **Compresses** each file with gzip (level 9) and brotli (quality 11,
//!   a 4 MiB window), keeping a form only if it is under 90% of the
//!   file's size ([`Embed::keep_below`]); formats that are compressed
//!   already (PNG, JPEG, GIF, WebP, WOFF, WOFF2) are not tried.
//! - **Tags** each form with a strong ETag: 96 bits of the SHA-256 of the
//!   bytes sent, base64url, with `-gz` or `-br` for a compressed form — so
//!   a form's tag changes whenever its bytes do (a client resuming a
//!   range with `If-Range` never mixes two builds' gzip streams) and the
//!   forms of a file never share one.
//! - **Tells cargo** to build again when any file or directory under it,
//!   or `OASIS_ASSETS`, changes.
//!
//! `OASIS_ASSETS=DIR` at build time serves DIR instead of the directory the
//! build script names (as `OASIS_DNS_ZONES` does for apps/dns).
//!
//! Dependencies: `flate2` (the standard gzip encoder, its pure-Rust
//! miniz_oxide backend), `brotli` (Dropbox's pure-Rust port of the
//! reference encoder, quality 11 included), `sha2` (RustCrypto's SHA-256,
//! already in oasis for DNSSEC) and `base64`. None of them reaches the
//! image: this crate runs only in build scripts.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};

/// Why a directory could not be embedded: the path at fault and what is
/// wrong with it.
#[derive(Debug)]
pub struct Error {
    /// The file or directory.
    pub path: PathBuf,
    /// What is wrong.
    pub why: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "static assets: {}: {}", self.path.display(), self.why)
    }
}

impl std::error::Error for Error {}

fn err(path: &Path, why: impl Into<String>) -> Error {
    Error {
        path: path.to_path_buf(),
        why: why.into(),
    }
}

/// The `Content-Type` of a file named `name`, by its extension (any case).
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" | "map" => "application/json",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// Whether files of this type are compressed already (not worth trying).
fn precompressed(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "font/woff" | "font/woff2"
    )
}

/// One form of a file, as the build made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    /// The bytes sent.
    pub bytes: Vec<u8>,
    /// The strong ETag, quoted.
    pub etag: String,
}

/// A file of the directory, ready to be written out.
#[derive(Clone, Debug)]
pub struct File {
    /// Its path under the directory, `/`-separated (`css/site.css`).
    pub path: String,
    /// Where it was read from.
    pub source: PathBuf,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The bytes as they are.
    pub identity: Form,
    /// gzip, if worth it.
    pub gzip: Option<Form>,
    /// brotli, if worth it.
    pub br: Option<Form>,
}

/// What a directory became: its files sorted by path, and the directories
/// walked (for cargo to watch).
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The files, sorted by path.
    pub files: Vec<File>,
    /// The directories walked, the root first.
    pub dirs: Vec<PathBuf>,
}

impl Table {
    /// Bytes of the files as they are, gzip forms kept, brotli forms kept.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let mut s = (0, 0, 0);
        for f in &self.files {
            s.0 += f.identity.bytes.len();
            s.1 += f.gzip.as_ref().map_or(0, |g| g.bytes.len());
            s.2 += f.br.as_ref().map_or(0, |b| b.bytes.len());
        }
        s
    }
}

fn etag(bytes: &[u8], suffix: &str) -> String {
    let digest = Sha256::digest(bytes);
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]);
    format!("\"{tag}{suffix}\"")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // No name and a zero time in the header: the same bytes every build.
    let mut e = flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(data.len() / 2),
        flate2::Compression::best(),
    );
    e.write_all(data).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data).expect("brotli into memory");
    }
    out
}

/// How to embed a directory; [`embed`] is the usual one.
#[derive(Clone, Debug)]
pub struct Embed {
    dir: PathBuf,
    env: Option<String>,
    keep_below: f64,
}

impl Embed {
    /// The directory `dir` (relative: to the package's directory,
    /// `CARGO_MANIFEST_DIR`, when run by cargo).
    pub fn new(dir: impl AsRef<Path>) -> Embed {
        Embed {
            dir: dir.as_ref().to_path_buf(),
            env: None,
            keep_below: 0.9,
        }
    }

    /// The directory named by the environment variable `name` at build
    /// time, when it is set and not empty, instead.
    pub fn env_override(mut self, name: &str) -> Embed {
        self.env = Some(name.to_string());
        self
    }

    /// Keeps a compressed form only under `ratio` of the file's size
    /// (0.9 unless told; 0 keeps none).
    pub fn keep_below(mut self, ratio: f64) -> Embed {
        self.keep_below = ratio;
        self
    }

    /// The directory this embeds: the override, else the one given, made
    /// absolute against `CARGO_MANIFEST_DIR` if cargo set it.
    pub fn dir(&self) -> PathBuf {
        let dir = match self.env.as_deref().map(std::env::var) {
            Some(Ok(d)) if !d.is_empty() => PathBuf::from(d),
            _ => self.dir.clone(),
        };
        match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(m) if dir.is_relative() => PathBuf::from(m).join(dir),
            _ => dir,
        }
    }

    /// Walks, types, compresses and tags the directory's files.
    pub fn table(&self) -> Result<Table, Error> {
        let root = self.dir();
        let canon_root = root
            .canonicalize()
            .map_err(|e| err(&root, format!("cannot open the directory: {e}")))?;
        if !canon_root.is_dir() {
            return Err(err(&root, "is not a directory"));
        }
        let mut table = Table::default();
        let mut stack = HashSet::new();
        self.walk(&canon_root, &root, "", &mut stack, &mut table)?;
        table.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(table)
    }

    /// Walks `dir` (shown as `shown`), whose files are at `prefix` in the
    /// table; `open` holds the canonical directories being walked (a link
    /// back to one of them is a loop).
    fn walk(
        &self,
        root: &Path,
        dir: &Path,
        prefix: &str,
        open: &mut HashSet<PathBuf>,
        table: &mut Table,
    ) -> Result<(), Error> {
        let canon = dir
            .canonicalize()
            .map_err(|e| err(dir, format!("cannot open: {e}")))?;
        if !open.insert(canon.clone()) {
            return Err(err(
                dir,
                "a symbolic link loops back to a directory above it",
            ));
        }
        table.dirs.push(dir.to_path_buf());
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| err(dir, format!("cannot list: {e}")))? {
            let entry = entry.map_err(|e| err(dir, format!("cannot list: {e}")))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                return Err(err(
                    &path,
                    "the name is not UTF-8: it could not be a URL path",
                ));
            };
            entries.push((name, path));
        }
        entries.sort();
        for (name, path) in entries {
            if name.starts_with('.') {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|e| err(&path, format!("cannot read: {e}")))?;
            let target = if meta.file_type().is_symlink() {
                let t = path
                    .canonicalize()
                    .map_err(|e| err(&path, format!("a symbolic link to nothing: {e}")))?;
                if !t.starts_with(root) {
                    return Err(err(
                        &path,
                        format!(
                            "a symbolic link out of the directory (to {}): only files under it are served",
                            t.display()
                        ),
                    ));
                }
                std::fs::metadata(&t).map_err(|e| err(&path, format!("cannot read: {e}")))?
            } else {
                meta
            };
            let at = format!("{prefix}{name}");
            if target.is_dir() {
                self.walk(root, &path, &format!("{at}/"), open, table)?;
            } else if target.is_file() {
                table.files.push(self.file(&path, at)?);
            } else {
                return Err(err(&path, "neither a file nor a directory"));
            }
        }
        open.remove(&canon);
        Ok(())
    }

    fn file(&self, source: &Path, path: String) -> Result<File, Error> {
        let bytes = std::fs::read(source).map_err(|e| err(source, format!("cannot read: {e}")))?;
        let content_type = content_type(&path);
        let worth = |c: Vec<u8>, suffix: &str| {
            ((c.len() as f64) < bytes.len() as f64 * self.keep_below).then(|| Form {
                etag: etag(&c, suffix),
                bytes: c,
            })
        };
        let (gz, br) = if precompressed(content_type) || bytes.is_empty() {
            (None, None)
        } else {
            (worth(gzip(&bytes), "-gz"), worth(brotli(&bytes), "-br"))
        };
        Ok(File {
            path,
            source: source.to_path_buf(),
            content_type,
            identity: Form {
                etag: etag(&bytes, ""),
                bytes,
            },
            gzip: gz,
            br,
        })
    }

    /// Embeds the directory: writes its files' forms under
    /// `OUT_DIR/<out_file's stem>.d/` and the table as a Rust expression to
    /// `OUT_DIR/<out_file>` (an absolute `out_file` is used as it is, its
    /// forms beside it), and tells cargo what to watch. Needs `OUT_DIR`
    /// unless `out_file` is absolute.
    pub fn write(&self, out_file: impl AsRef<Path>) -> Result<Table, Error> {
        let out_file = out_file.as_ref();
        let out = if out_file.is_absolute() {
            out_file.to_path_buf()
        } else {
            let dir = std::env::var_os("OUT_DIR")
                .ok_or_else(|| err(out_file, "OUT_DIR is not set: run from a build script"))?;
            PathBuf::from(dir).join(out_file)
        };
        if let Some(name) = &self.env {
            println!("cargo:rerun-if-env-changed={name}");
        }
        // Watched even when it fails, so fixing the file builds again.
        let dir = self.dir();
        println!("cargo:rerun-if-changed={}", dir.display());
        let table = self.table()?;
        for d in &table.dirs {
            println!("cargo:rerun-if-changed={}", d.display());
        }
        for f in &table.files {
            println!("cargo:rerun-if-changed={}", f.source.display());
        }
        write_table(&table, &out)?;
        Ok(table)
    }
}

/// Writes `table`'s forms beside `out` (in `<its stem>.d/`)
/// and the expression to `out`.
pub fn write_table(table: &Table, out: &Path) -> Result<(), Error> {
    let stem = out
        .file_stem()
        .ok_or_else(|| err(out, "no file name"))?
        .to_string_lossy()
        .into_owned();
    let data = out.with_file_name(format!("{stem}.d"));
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(|e| err(&data, format!("cannot clear: {e}")))?;
    }
    std::fs::create_dir_all(&data).map_err(|e| err(&data, format!("cannot create: {e}")))?;
    let mut code = String::new();
    code.push_str(
        "// Made by oasis-assets-build: the static files of the image. Do not edit.\n{\n",
    );
    code.push_str(&format!(
        "    static FILES: [::oasis_http::assets::File; {}] = [\n",
        table.files.len()
    ));
    for (i, f) in table.files.iter().enumerate() {
        let form = |form: &Form, ext: &str| -> Result<String, Error> {
            let p = data.join(format!("{i}{ext}"));
            std::fs::write(&p, &form.bytes).map_err(|e| err(&p, format!("cannot write: {e}")))?;
            let p = p
                .to_str()
                .ok_or_else(|| err(&p, "OUT_DIR is not UTF-8"))?
                .to_string();
            Ok(format!(
                "::oasis_http::assets::Variant::new(include_bytes!({p:?}), {:?})",
                form.etag
            ))
        };
        let identity = form(&f.identity, "")?;
        let opt = |x: Option<Result<String, Error>>| -> Result<String, Error> {
            Ok(match x.transpose()? {
                Some(v) => format!("Some({v})"),
                None => "None".to_string(),
            })
        };
        let gz = opt(f.gzip.as_ref().map(|g| form(g, ".gz")))?;
        let br = opt(f.br.as_ref().map(|b| form(b, ".br")))?;
        code.push_str(&format!(
            "        // {} bytes; gzip {}; brotli {}\n        ::oasis_http::assets::File::new({:?}, {:?},\n            {identity},\n            {gz},\n            {br}),\n",
            f.identity.bytes.len(),
            f.gzip.as_ref().map_or("not kept".to_string(), |g| g.bytes.len().to_string()),
            f.br.as_ref().map_or("not kept".to_string(), |b| b.bytes.len().to_string()),
            f.path,
            f.content_type,
        ));
    }
    code.push_str("    ];\n    ::oasis_http::assets::Assets::new(&FILES)\n}\n");
    std::fs::write(out, code).map_err(|e| err(out, format!("cannot write: {e}")))
}

/// Embeds `dir` (or `OASIS_ASSETS`'s directory, when set) into
/// `OUT_DIR/<out_file>`: see [`Embed::write`].
pub fn embed(dir: impl AsRef<Path>, out_file: impl AsRef<Path>) -> Result<Table, Error> {
    Embed::new(dir).env_override("OASIS_ASSETS").write(out_file)
}

/// [`embed`], the build failing with the error (naming the file) if it
/// fails: what a build script calls.
pub fn embed_or_exit(dir: impl AsRef<Path>, out_file: impl AsRef<Path>) -> Table {
    embed(dir, out_file).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, b) in files {
            let p = d.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        }
        d
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("<p>line {} of the page</p>\n", i % 37).into_bytes())
            .collect()
    }

    #[test]
    fn files_are_sorted_typed_compressed_and_tagged() {
        let page = text(200);
        let d = tree(&[
            ("index.html", &page),
            ("css/site.css", b"body { color: red }"),
            ("b/x.PNG", &page),
            ("a.unknown", b""),
            (".git/config", b"secret"),
            (".hidden", b"x"),
        ]);
        let t = Embed::new(d.path()).table().unwrap();
        let paths: Vec<&str> = t.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["a.unknown", "b/x.PNG", "css/site.css", "index.html"]
        );
        let by = |p: &str| t.files.iter().find(|f| f.path == p).unwrap();
        assert_eq!(by("index.html").content_type, "text/html; charset=utf-8");
        assert_eq!(by("b/x.PNG").content_type, "image/png");
        assert_eq!(by("a.unknown").content_type, "application/octet-stream");
        // Compressed forms decompress to the file; a tiny file and a PNG
        // keep none.
        let index = by("index.html");
        let gz = &index.gzip.as_ref().unwrap().bytes;
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, page);
        let br = &index.br.as_ref().unwrap().bytes;
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, page);
        assert!(br.len() < gz.len() && gz.len() * 10 < page.len());
        assert!(by("css/site.css").gzip.is_none() && by("css/site.css").br.is_none());
        assert!(by("b/x.PNG").gzip.is_none());
        // Tags: distinct per form, stable per bytes.
        let tags = [
            &index.identity.etag,
            &index.gzip.as_ref().unwrap().etag,
            &index.br.as_ref().unwrap().etag,
        ];
        assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
        assert!(tags[1].ends_with("-gz\"") && tags[2].ends_with("-br\""));
        assert_eq!(by("b/x.PNG").identity.etag, index.identity.etag);
        assert_eq!(tags[0].len(), 18);
        // The same directory gives the same bytes (gzip's header has no
        // time in it).
        let again = Embed::new(d.path()).table().unwrap();
        assert_eq!(again.files[3].gzip, index.gzip);
        assert_eq!(t.dirs.len(), 3);
    }

    #[test]
    fn the_table_is_written_with_its_forms() {
        let d = tree(&[
            ("index.html", &text(100)),
            ("a b.txt", b"\"quoted\" \\ name"),
        ]);
        let out = tempfile::tempdir().unwrap();
        let t = Embed::new(d.path()).table().unwrap();
        let file = out.path().join("assets.rs");
        write_table(&t, &file).unwrap();
        let code = std::fs::read_to_string(&file).unwrap();
        assert!(
            code.contains("static FILES: [::oasis_http::assets::File; 2]"),
            "{code}"
        );
        assert!(
            code.contains("File::new(\"a b.txt\", \"text/plain; charset=utf-8\""),
            "{code}"
        );
        assert!(code.contains(".gz\"), \"\\\""), "{code}");
        let forms = out.path().join("assets.d");
        assert_eq!(
            std::fs::read(forms.join("0")).unwrap(),
            b"\"quoted\" \\ name"
        );
        assert!(forms.join("1.gz").exists() && forms.join("1.br").exists());
        assert!(!forms.join("0.gz").exists());
    }

    #[test]
    fn bad_trees_fail_naming_the_file() {
        let missing = Embed::new("/nonexistent/oasis-assets").table().unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/oasis-assets"),
            "{missing}"
        );

        let outside = tree(&[("secret.txt", b"x")]);
        let d = tree(&[("ok.txt", b"x")]);
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), d.path().join("leak.txt"))
            .unwrap();
        let e = Embed::new(d.path()).table().unwrap_err();
        assert!(
            e.path.ends_with("leak.txt") && e.why.contains("out of the directory"),
            "{e}"
        );

        // A link inside the directory is followed; one back up is a loop.
        let d = tree(&[("sub/a.txt", b"a")]);
        std::os::unix::fs::symlink(d.path().join("sub/a.txt"), d.path().join("alias.txt")).unwrap();
        let t = Embed::new(d.path()).table().unwrap();
        assert_eq!(t.files.len(), 2);
        std::os::unix::fs::symlink(d.path(), d.path().join("sub/up")).unwrap();
        let e = Embed::new(d.path()).table().unwrap_err();
        assert!(e.path.ends_with("sub/up") && e.why.contains("loop"), "{e}");

        use std::os::unix::ffi::OsStrExt;
        let d = tree(&[("ok.txt", b"x")]);
        let bad = d.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt"));
        std::fs::write(&bad, b"x").unwrap();
        let e = Embed::new(d.path()).table().unwrap_err();
        assert!(
            e.why.contains("not UTF-8") && e.to_string().contains("caf"),
            "{e}"
        );
    }

    #[test]
    fn the_environment_overrides_the_directory() {
        let d = tree(&[("x.txt", b"x")]);
        // A variable name of this test's own, so no other test sees it.
        let name = "OASIS_ASSETS_TEST_OVERRIDE";
        // SAFETY: only this test reads or writes this variable.
        unsafe { std::env::set_var(name, d.path()) };
        let e = Embed::new("/nonexistent").env_override(name);
        assert_eq!(e.dir(), d.path());
        assert_eq!(e.table().unwrap().files[0].path, "x.txt");
        unsafe { std::env::set_var(name, "") };
        assert_eq!(e.dir(), Path::new("/nonexistent"));
    }

    #[test]
    fn content_types_by_extension() {
        for (n, t) in [
            ("a.html", "text/html; charset=utf-8"),
            ("a.HTM", "text/html; charset=utf-8"),
            ("a.mjs", "text/javascript; charset=utf-8"),
            ("a.js.map", "application/json"),
            ("a.woff2", "font/woff2"),
            ("a.svg", "image/svg+xml"),
            ("a.jpeg", "image/jpeg"),
            ("a.wasm", "application/wasm"),
            ("a.ico", "image/x-icon"),
            ("Makefile", "application/octet-stream"),
        ] {
            assert_eq!(content_type(n), t, "{n}");
        }
    }
}
