//! `oasis summon CONFIG`: just-in-time summoning of unikernels. An
//! authoritative DNS server for a zone of services, each an image with its
//! devices and an address: a query for a service that is not running boots
//! its VMM and is answered with the address once the guest says it serves
//! (the VMM's `READY=1` on `$NOTIFY_SOCKET`, sent on the guest's `Ready`
//! hypercall); a query for a running one is answered at once.
//!
//! - A service with no query for `idle` is stopped (SIGTERM to its VMM).
//!   Only queries to the summoner count: traffic to the service itself is
//!   not seen here.
//! - A VMM that exits (a crash, a kill) is reaped; the next query boots it
//!   again.
//! - At most `max-boots` boots are under way at once; a query that would
//!   need one more gets SERVFAIL, as do queries for a boot that fails or is
//!   not ready within `boot-timeout`.
//! - Names of the zone that are not services get NXDOMAIN; other types for
//!   a service's name get NODATA without booting it. Answers come from
//!   oasis-dns's engine over the zone [`zone`] builds.
//!
//! One thread, one epoll ([`Summoner`]). The configuration is described in
//! [`config`].
#![warn(missing_docs)]

pub mod config;
mod summoner;
mod sys;
pub mod zone;

pub use config::Config;
pub use summoner::Summoner;

/// The usage text.
pub const USAGE: &str = "usage: oasis summon CONFIG
  serves the DNS zone of CONFIG's services, booting a service's unikernel
  when its name is asked for and stopping it when idle (see README.md)";

/// `oasis summon ARGS…`: runs until SIGTERM or SIGINT; the exit status.
/// `default_vmm` is the monitor's command when CONFIG has no `vmm` line.
pub fn main_with(argv: &[String], default_vmm: Vec<String>) -> i32 {
    let path = match argv {
        [p] if p != "--help" && p != "-h" => p,
        [_] => {
            println!("{USAGE}");
            return 0;
        }
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let run = || -> Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let config = Config::parse(&text).map_err(|e| format!("{path}: {e}"))?;
        Summoner::new(config, default_vmm)?.run()
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("oasis summon: {e}");
            1
        }
    }
}
