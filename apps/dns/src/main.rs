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
mod zones;

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use oasis::log::info;

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

#[oasis::main(net = "service", optional(block = "zones"))]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let files = ZONE_FILE.values();
    let catalog = if let Some(disk) = env.optional_block("zones").filter(|_| files.is_empty()) {
        let texts = zones::from_tar(&disk)?;
        zones::catalog(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))?
    } else if files.is_empty() {
        zones::catalog(zones::BUILT_IN.iter().copied())?
    } else {
        let mut texts: Vec<(String, String)> = Vec::new();
        for f in &files {
            let bytes = oasis::read_host_file(f)?;
            let text =
                String::from_utf8(bytes).map_err(|_| alloc::format!("{f}: not UTF-8 text"))?;
            texts.push((f.clone(), text));
        }
        zones::catalog(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))?
    };
    for z in catalog.zones() {
        info!("serving zone {}", z.apex);
    }
    let stack = oasis_net::stack(&mut env, "service")?;
    let port = PORT.value().unwrap_or(53);
    info!(
        "{} answers compiled; listening on port {port} (UDP and TCP)",
        catalog.compiled_len()
    );
    let idle = oasis::Duration::from_secs(TCP_IDLE.value().unwrap_or(10));
    server::serve(&stack, Rc::new(catalog), port, idle).await
}
