//! What oasis's end-to-end tests share, so that a kvm test that cannot run
//! says why, fails under CI where it should run, and is counted when it ran;
//! network namespaces ([`netns`]) and logged processes ([`process`]) that
//! clean up after themselves, the clients' common ground ([`client`]), and
//! a small HTTP/1.1 client for loads on kept-alive connections ([`http`]).
#![warn(missing_docs)]

pub mod client;
pub mod http;
pub mod netns;
pub mod process;

use std::io::Write;
use std::path::Path;

/// Whether this machine can run kvm guests. If not, prints `skipped: …`
/// with `what`; fails instead when `CI=true` and /dev/kvm exists, since CI
/// must run the kvm tests there.
pub fn kvm_usable(what: &str) -> bool {
    let usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !usable {
        assert!(
            !(Path::new("/dev/kvm").exists() && std::env::var("CI").as_deref() == Ok("true")),
            "/dev/kvm exists but cannot be opened: the kvm tests must run in CI"
        );
        println!("skipped: {what}: no usable /dev/kvm");
    }
    usable
}

/// Records that kvm test `name` really ran a guest: a `kvm-test-ran: NAME`
/// line on stdout, and a line in the file `OASIS_KVM_TESTS_RAN` names, if
/// set — `.ci/run` counts those, so a kvm test that silently skips is noticed.
pub fn kvm_test_ran(name: &str) {
    println!("kvm-test-ran: {name}");
    if let Some(path) = std::env::var_os("OASIS_KVM_TESTS_RAN") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open OASIS_KVM_TESTS_RAN");
        writeln!(f, "{name}").expect("write OASIS_KVM_TESTS_RAN");
    }
}
