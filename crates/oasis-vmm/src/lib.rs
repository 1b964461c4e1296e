//! oasis-vmm: the monitor that runs an oasis kvm image (ARCHITECTURE.md §2).
//!
//! It checks the image (ELF, ABI version, device manifest against the
//! command line), builds the guest's machine (long mode, CPL3 with IOPL=3,
//! identity page tables with a null page and a stack guard page), backs the
//! devices (files for block; for net, through shared rings, a TAP or the
//! VMM's own user-mode gateway — [`net`]), installs a seccomp filter, and
//! answers hypercalls until the guest exits. The guest's
//! exit status becomes the VMM's; a fault prints the registers and the
//! symbol at RIP and exits non-zero. `--profile=FILE` samples the guest's
//! stacks while it runs and writes them as folded stacks ([`profile`]).
//!
//! User-mode networking needs no root and no TAP: with
//! `--net:service=user,fwd=udp:5353:53,fwd=tcp:5353:53` the VMM is the
//! guest's gateway at 10.0.0.1 (ARP, ICMP echo, a DHCP lease of
//! 10.0.0.2/24), and `dig @127.0.0.1 -p 5353 …` reaches the guest's port 53
//! ([`net::user`]).
//!
//! Run by systemd (`dist/systemd/`), it tells the manager when the guest
//! serves (`READY=1`, from the guest's `Ready` hypercall), keeps its
//! watchdog fed while the guest idles, says `STOPPING=1` as it leaves
//! ([`service`]), and a user-mode forward can serve a socket the manager
//! bound and passed (`fwd=udp:sd=NAME:53`, oasis-host's `activation`).
//!
//! With `--gdb=ADDR` the VMM stops the guest at its entry and serves a GDB
//! client ([`gdb`]): registers, memory, breakpoints, single steps, Ctrl-C.
//!
//! Everything the guest controls is parsed as hostile: the image
//! ([`image`]), its manifest, hypercall arguments ([`hypercall`]), the
//! shared rings and the frames in them ([`net::guard`]). `fuzz/` has a
//! cargo-fuzz target for each (`cargo +nightly fuzz run
//! image|manifest|ring|frame` in this crate's directory).
#![warn(missing_docs)]

pub mod cpu;
pub mod error;
pub mod fault;
pub mod footprint;
pub mod gdb;
pub mod hypercall;
pub mod image;
pub mod machine;
pub mod memory;
pub mod net;
pub mod options;
pub mod profile;
pub mod seccomp;
pub mod service;
pub mod setup;
pub mod stop;

pub use error::Error;
pub use image::Image;
pub use options::Config;

/// Runs the VMM with a command line (without the program name) and returns
/// the process exit status; errors are one line on stderr.
pub fn main_with(argv: &[String]) -> i32 {
    let config = match options::parse(argv) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("{}", options::USAGE);
            return 0;
        }
        Err(e) => {
            eprintln!("oasis-vmm: {e}");
            return e.status();
        }
    };
    match run(&config) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("oasis-vmm: {e}");
            e.status()
        }
    }
}

/// Boots `config.image` and runs it to its end; returns the guest's exit status.
pub fn run(config: &Config) -> Result<i32, Error> {
    machine::Machine::build(config)?.run()
}
