//! What the kvm end-to-end tests share: building the images once, checking
//! for KVM, running `oasis vmm`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use oasis_cli::build::{Request, Target, build};

/// The kvm images these tests boot.
pub struct Images {
    pub noop: PathBuf,
    pub hello: PathBuf,
    pub block: PathBuf,
    pub fault_unmapped: PathBuf,
    pub fault_stack: PathBuf,
    pub fault_panic: PathBuf,
    pub net_reflect: PathBuf,
    pub random: PathBuf,
    pub fault_write_code: PathBuf,
    pub net_ignore: PathBuf,
    pub deadlock: PathBuf,
    pub spin: PathBuf,
    pub heap: PathBuf,
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// apps/dns built for Linux (hosted), into this test's target directory.
pub fn hosted_dns() -> PathBuf {
    let mut req = Request::new(root().join("apps/dns").to_string_lossy(), Target::Hosted);
    req.target_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hosted-images"));
    req.quiet = true;
    build(&req)
        .expect("build apps/dns")
        .into_iter()
        .next()
        .unwrap()
}

/// Builds every image once per test run, into this test's own target directory.
pub fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images");
        let built = |app: &str, bin: Option<&str>, frame_pointers: bool| -> PathBuf {
            let mut req = Request::new(root().join(app).to_string_lossy(), Target::Kvm);
            req.bin = bin.map(String::from);
            req.frame_pointers = frame_pointers;
            // Other rustflags, another target directory: the two never rebuild each other.
            req.target_dir = Some(if frame_pointers {
                dir.with_file_name("kvm-images-fp")
            } else {
                dir.clone()
            });
            req.quiet = true;
            let exes = build(&req).unwrap_or_else(|e| panic!("building {app}: {e}"));
            exes.into_iter().next().expect("one executable")
        };
        let one = |app: &str, bin: Option<&str>| built(app, bin, false);
        Images {
            noop: one("examples/noop", None),
            hello: one("examples/hello", None),
            block: one("examples/block", None),
            fault_unmapped: one("crates/oasis-test-guests", Some("fault-unmapped")),
            fault_stack: one("crates/oasis-test-guests", Some("fault-stack")),
            fault_panic: one("crates/oasis-test-guests", Some("fault-panic")),
            net_reflect: one("crates/oasis-test-guests", Some("net-reflect")),
            random: one("crates/oasis-test-guests", Some("random")),
            fault_write_code: one("crates/oasis-test-guests", Some("fault-write-code")),
            net_ignore: one("crates/oasis-test-guests", Some("net-ignore")),
            deadlock: one("crates/oasis-test-guests", Some("deadlock")),
            heap: one("crates/oasis-test-guests", Some("heap")),
            // Profiled: with frame pointers, as oasis build --frame-pointers makes it.
            spin: built("crates/oasis-test-guests", Some("spin"), true),
        }
    })
}

/// Whether this machine can run KVM guests; prints why not, or fails under CI.
pub fn kvm_usable() -> bool {
    oasis_testkit::kvm_usable("kvm tests")
}

#[allow(unused_imports)] // not every test file records kvm runs
pub use oasis_testkit::kvm_test_ran as ran;

/// `oasis vmm ARGS…`, waited for.
pub fn vmm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oasis"))
        .arg("vmm")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run oasis vmm")
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
