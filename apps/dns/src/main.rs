//! dns: an authoritative DNS server unikernel.
//!
//! It serves the zones it is given, from the first of these that exists:
//! files named with `--zone-file` (hosted), the `*.zone` files of a tar
//! archive on the optional block device `zones` (`tar cf zones.img *.zone`),
//! or the zones built into the image. It answers over UDP and TCP on
//! `--port` of the net device `service`, every answer compiled ahead of the
//! first query. The serving — UDP and TCP, AXFR and IXFR out, secondary zones,
//! NOTIFY and dynamic UPDATE — is the `oasis-dns-server` library; this
//! application is its configuration: boot arguments, where the zones come
//! from, and where acknowledged updates are kept (the optional block device
//! `storage`, replayed onto the zones at every start), and the DNSSEC keys
//! of the zones it signs itself (`--sign-key`: read from the host, or from
//! the `zones` archive; such a zone is signed at load and again after each
//! UPDATE).
#![no_std]
#![no_main]

extern crate alloc;

mod zones;

use alloc::string::String;
use alloc::vec::Vec;
use oasis_dns::engine::Catalog;
use oasis_dns::zone::file::load_all;
use oasis_dns_server::signing::Signing;
use oasis_dns_server::{Config, Server, Service};

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

// The server's own boot arguments (TCP limits, transfers, NOTIFY,
// secondary zones, TSIG, UPDATE, signing, rate limiting, stats and
// metrics, NSID, CHAOS, cookies) are oasis-dns-server's
// (`oasis_dns_server::args`).
#[oasis::main(net = "service", optional(block = "zones", block = "storage"))]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let files = ZONE_FILE.values();
    // Zone texts from the host's files or a tar on the `zones` disk, if given.
    let disk = if files.is_empty() {
        env.optional_block("zones")
    } else {
        None
    };
    let texts: Option<Vec<(String, String)>> = if !files.is_empty() {
        Some(read_zone_files(&files)?)
    } else if let Some(disk) = &disk {
        Some(zones::from_tar(disk)?)
    } else {
        None
    };
    // Keys from the `zones` archive when there is one, else the host.
    let signing = Signing::from_boot_args(&mut |f: &str| match &disk {
        Some(d) => zones::tar_file(d, f),
        None => match oasis::read_host_file(f) {
            Ok(b) => Some(String::from_utf8(b).map_err(|_| "not UTF-8 text".into())),
            Err(_) if f.ends_with(".key") => None,
            Err(e) => Some(Err(alloc::format!("{e}"))),
        },
    })?;
    let initial = match texts {
        Some(texts) => Catalog::new(load_all(
            texts.iter().map(|(f, t)| (f.as_str(), t.as_str())),
        )?)?,
        // A pure secondary serves only what it transfers.
        None if !oasis_dns_server::args::SECONDARY.values().is_empty() => Catalog::new(Vec::new())?,
        None => zones::built_in()?,
    };
    let config = Config {
        port: PORT.value().unwrap_or(53),
        ..Config::from_boot_args()?
    };
    // Acknowledged updates are kept on `storage` and replayed onto the
    // zones at every start; zones signed here are signed then.
    let storage = env.optional_block("storage");
    let server = Server::boot(initial, config, storage, signing.clone())?;
    if !files.is_empty() {
        oasis::spawn(reload_on_request(files, server.service().clone(), signing));
    }
    let stack = oasis_net::stack(&mut env, "service")?;
    server.run(stack).await
}

/// The texts of the zone files named, with their names.
fn read_zone_files(files: &[String]) -> oasis::Result<Vec<(String, String)>> {
    let mut texts = Vec::new();
    for f in files {
        let bytes = oasis::read_host_file(f)?;
        let text = String::from_utf8(bytes).map_err(|_| alloc::format!("{f}: not UTF-8 text"))?;
        texts.push((f.clone(), text));
    }
    Ok(texts)
}

/// Reads the zone files again each time the operator asks (SIGHUP on
/// hosted) and serves what changed, answering all the while: a file that
/// does not load leaves every zone as it was, and says why.
async fn reload_on_request(files: Vec<String>, service: alloc::rc::Rc<Service>, signing: Signing) {
    loop {
        if let Err(e) = oasis::reload_requested().await {
            oasis::log::warn!("zone reloads: {e}");
            return;
        }
        oasis::log::info!("reload: reading {} zone file(s)", files.len());
        let zones = read_zone_files(&files).and_then(|texts| {
            let mut zones = load_all(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))?;
            // Zones signed here are served signed (those that take
            // updates are not reloaded).
            signing.sign_all(&mut zones, oasis_dns_server::signing::now())?;
            Ok(zones)
        });
        let done = zones.and_then(|zones| service.reload(zones));
        match done {
            Ok(lines) if lines.is_empty() => oasis::log::info!("reload: no zone changed"),
            Ok(lines) => {
                for line in lines {
                    oasis::log::info!("reload: {line}");
                }
            }
            Err(e) => oasis::log::warn!("reload failed, zones unchanged: {e}"),
        }
    }
}
