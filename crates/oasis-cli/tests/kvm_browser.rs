//! A real browser against the kvm guestbook: headless Chromium (Debian's
//! `chromium` and `chromium-driver`, driven by `python3-selenium` from
//! `browser/guestbook.py`) loads the page apps/guestbook serves through a
//! user-mode forward, posts an entry through the form and sees it listed;
//! the unikernel is killed and booted again on the same `storage` disk and
//! the entry is still listed; then the page over HTTPS, with a certificate
//! from the test's own CA on the block device `tls`: trusted when the CA is
//! in the browser's store, refused when it is not. Needs /dev/kvm and those
//! packages (fails without them under CI=true: scripts/packages has them).
//!
//! ```text
//! oasis run apps/guestbook --target kvm --block storage=disk.img --block tls=tls.tar \
//!     --net service=user,fwd=tcp:PORT:80,fwd=tcp:TLS_PORT:443
//! ```

mod common;
mod usernet;

use std::path::Path;
use std::process::Command;

use common::{kvm_usable, ran};
use oasis_testkit::process::run;
use usernet::{Guest, unused_port};

const PYTHON: &str = "/usr/bin/python3";

/// What the browser needs that may be missing, as Debian package names.
fn missing() -> Vec<&'static str> {
    let mut out = Vec::new();
    for (path, package) in [
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/chromedriver", "chromium-driver"),
        ("/usr/bin/certutil", "libnss3-tools"),
        ("/usr/bin/openssl", "openssl"),
    ] {
        if !Path::new(path).exists() {
            out.push(package);
        }
    }
    let selenium = Command::new(PYTHON)
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !selenium {
        out.push("python3-selenium");
    }
    out
}

/// Runs the browser script with `home` as its HOME (its NSS store); its
/// `ok: …` line.
fn browse(home: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/guestbook.py");
    let out = Command::new("timeout")
        .args(["120", PYTHON])
        .arg(&script)
        .args(args)
        .env("HOME", home)
        .output()
        .expect("run the browser script");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && said.starts_with("ok: "),
        "{args:?}:\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said.trim().to_string()
}

/// A CA and a certificate it signs for localhost and 127.0.0.1, the latter
/// as `cert.pem`/`key.pem` in a tar: (CA file, tar file).
fn certificates(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let p = |f: &str| dir.join(f);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=oasis browser test CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(p("key.pem"))
        .arg("-out")
        .arg(p("cert.csr")));
    std::fs::write(
        p("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(p("cert.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext"))
        .arg("-out")
        .arg(p("cert.pem")));
    run(Command::new("tar")
        .arg("-cf")
        .arg(p("tls.img"))
        .arg("-C")
        .arg(dir)
        .args(["cert.pem", "key.pem"]));
    (p("ca.pem"), p("tls.img"))
}

/// A HOME whose NSS store trusts `ca` (or nothing, without one).
fn home(dir: &Path, ca: Option<&Path>) -> std::path::PathBuf {
    let nssdb = dir.join(".pki/nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    run(Command::new("certutil").args(["-N", "--empty-password", "-d", &db]));
    if let Some(ca) = ca {
        run(Command::new("certutil")
            .args(["-A", "-t", "C,,", "-n", "oasis-browser-test-ca", "-d", &db])
            .arg("-i")
            .arg(ca));
    }
    dir.to_path_buf()
}

fn boot(storage: &Path, tls: &Path, port: u16, tls_port: u16) -> Guest {
    let (storage, tls) = (
        format!("storage={}", storage.display()),
        format!("tls={}", tls.display()),
    );
    let mut guest = Guest::run_with(
        "apps/guestbook",
        &["--block", &storage, "--block", &tls],
        &format!("service=user,fwd=tcp:{port}:80,fwd=tcp:{tls_port}:443"),
        &["--port=80", "--tls-port=443"],
    );
    guest.wait_for("HTTPS on port 443");
    guest
}

#[test]
fn chromium_posts_to_the_kvm_guestbook_and_finds_the_entry_after_a_reboot_and_over_https() {
    if !kvm_usable() {
        return;
    }
    let missing = missing();
    if !missing.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have {missing:?} (scripts/packages)"
        );
        println!("skipped: the browser needs Debian's {missing:?}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, tls) = certificates(dir.path());
    let storage = dir.path().join("storage.img");
    std::fs::File::create(&storage)
        .and_then(|f| f.set_len(64 << 20))
        .unwrap();
    let trusting = home(&dir.path().join("trusting"), Some(&ca));
    let stranger = home(&dir.path().join("stranger"), None);
    let (port, tls_port) = (unused_port(), unused_port());
    let page = format!("http://127.0.0.1:{port}/");
    let secure = format!("https://localhost:{tls_port}/");

    // Markup in the message is shown as text: the page escapes it.
    let name = "chromium";
    let message = "posted from a browser <b>&amp;</b> kept across a reboot";
    let guest = boot(&storage, &tls, port, tls_port);
    println!("{}", browse(&trusting, &["post", &page, name, message]));
    drop(guest); // SIGKILL: the 303 came after the commit.

    let mut guest = boot(&storage, &tls, port, tls_port);
    println!("{}", browse(&trusting, &["check", &page, message]));
    println!("{}", browse(&trusting, &["check", &secure, message]));
    println!("{}", browse(&stranger, &["refused", &secure]));
    assert!(guest.alive(), "{}", guest.output());
    ran("kvm_guestbook_in_chromium");
}
