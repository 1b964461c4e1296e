//! dns: an authoritative DNS server unikernel.
//!
//! It serves the zones it is given, from the first of these that exists:
//! files named with `--zone-file` (hosted), the `*.zone` files of a tar
//! archive on the optional block device `zones` (`tar cf zones.img *.zone`),
//! or the zones built into the image. It answers over UDP and TCP on
//! `--port` of the net device `service`, every answer compiled ahead of the
//! first query.
#![no_std]
#![no_main]

extern crate alloc;

mod server;
mod service;
mod xfr;
mod zones;

use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use oasis::log::info;
use oasis::rt::args::FromArg;
use oasis_dns::engine::Catalog;
use oasis_dns::wire::Name;
use oasis_dns::zone::file::load_all;

oasis::boot_arg! {
    /// Zone files to serve instead of the built-in zones.
    static ZONE_FILE: String = Arg::new("zone-file", "serve this zone file (repeatable; hosted only) instead of the built-in zones")
        .repeat()
        .value_name("FILE");
}
oasis::boot_arg! {
    /// The DNS port.
    static PORT: u16 = Arg::new("port", "UDP and TCP port to serve DNS on").default("53").value_name("PORT");
}
oasis::boot_arg! {
    /// How long an idle TCP connection is kept.
    static TCP_IDLE: u64 = Arg::new("tcp-idle", "close a TCP connection idle this long").default("10").value_name("SECONDS");
}

/// An address allowed to transfer zones.
#[derive(Clone, Copy)]
struct Addr(IpAddr);

impl FromArg for Addr {
    const VALUE_NAME: &'static str = "ADDR";
    fn from_arg(s: &str) -> Result<Self, String> {
        s.parse()
            .map(Addr)
            .map_err(|_| "expected an IPv4 or IPv6 address".into())
    }
}

/// A DNS server's address and port.
#[derive(Clone, Copy)]
struct Server(SocketAddr);

impl FromArg for Server {
    const VALUE_NAME: &'static str = "ADDR:PORT";
    fn from_arg(s: &str) -> Result<Self, String> {
        s.parse()
            .map(Server)
            .map_err(|_| "expected ADDR:PORT, e.g. 192.0.2.1:53 or [2001:db8::1]:53".into())
    }
}

/// A zone served as a secondary of a primary.
#[derive(Clone)]
struct SecondaryArg(Name, SocketAddr);

impl FromArg for SecondaryArg {
    const VALUE_NAME: &'static str = "ZONE@ADDR:PORT";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (zone, primary) = s
            .split_once('@')
            .ok_or("expected ZONE@ADDR:PORT, e.g. example.com@192.0.2.1:53")?;
        let mut absolute = String::from(zone);
        if !absolute.ends_with('.') {
            absolute.push('.');
        }
        let name = oasis_dns::zone::text::name(absolute.as_bytes(), &Name::root())
            .map_err(|e| format!("zone `{zone}`: {e}"))?;
        let primary = Server::from_arg(primary)?.0;
        Ok(SecondaryArg(name.to_lowercase(), primary))
    }
}

oasis::boot_arg! {
    /// Addresses allowed to transfer zones.
    static AXFR_ALLOW: Addr = Arg::new("axfr-allow", "allow AXFR over TCP from this address (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Secondaries to notify.
    static NOTIFY: Server = Arg::new("notify", "send NOTIFY to this secondary for every zone at start, and for a secondary zone each time a transfer brings a new copy (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Zones taken from primaries.
    static SECONDARY: SecondaryArg = Arg::new("secondary", "serve ZONE as a secondary of the primary at ADDR:PORT, by AXFR, refreshed on NOTIFY and by its SOA timers (repeatable)").repeat();
}

#[oasis::main(net = "service", optional(block = "zones"))]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let files = ZONE_FILE.values();
    let secondaries = SECONDARY.values();
    let initial = if let Some(disk) = env.optional_block("zones").filter(|_| files.is_empty()) {
        let texts = zones::from_tar(&disk)?;
        Catalog::new(load_all(
            texts.iter().map(|(f, t)| (f.as_str(), t.as_str())),
        )?)?
    } else if !secondaries.is_empty() && files.is_empty() {
        Catalog::new(Vec::new())? // a pure secondary serves only what it transfers
    } else if files.is_empty() {
        zones::built_in()?
    } else {
        let mut texts: Vec<(String, String)> = Vec::new();
        for f in &files {
            let bytes = oasis::read_host_file(f)?;
            let text =
                String::from_utf8(bytes).map_err(|_| alloc::format!("{f}: not UTF-8 text"))?;
            texts.push((f.clone(), text));
        }
        Catalog::new(load_all(
            texts.iter().map(|(f, t)| (f.as_str(), t.as_str())),
        )?)?
    };
    let allow: Vec<IpAddr> = AXFR_ALLOW.values().into_iter().map(|a| a.0).collect();
    let service = Rc::new(service::Service::new(
        initial,
        secondaries.iter().map(|s| s.0.clone()).collect(),
        allow,
    ));
    let catalog = service.catalog();
    for z in catalog.zones() {
        info!("serving zone {}", z.apex);
    }
    let stack = oasis_net::stack(&mut env, "service")?;
    let port = PORT.value().unwrap_or(53);
    info!(
        "{} answers ready; listening on port {port} (UDP and TCP)",
        catalog.compiled_len()
    );
    drop(catalog);
    let notify: Rc<[SocketAddr]> = NOTIFY.values().into_iter().map(|s| s.0).collect();
    for (i, s) in secondaries.iter().enumerate() {
        info!("secondary {} from {}", s.0, s.1);
        oasis::spawn(xfr::refresh(
            stack.clone(),
            service.clone(),
            s.1,
            i,
            notify.clone(),
        ));
    }
    if !notify.is_empty() {
        oasis::spawn(xfr::notify_all(stack.clone(), service.clone(), notify));
    }
    let idle = oasis::Duration::from_secs(TCP_IDLE.value().unwrap_or(10));
    server::serve(&stack, service, port, idle).await
}
