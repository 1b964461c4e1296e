//! Where the zones come from besides files on the command line: a tar
//! archive on the block device `zones`, or the catalog built into the image.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use oasis_dns::engine::Catalog;

/// The catalog compiled at build time by `build.rs` from
/// `apps/dns/example.com.zone`, or the files named by `OASIS_DNS_ZONES`:
/// every answer already rendered, so the image boots with them ready.
static BUILT_IN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/catalog.img"));

/// The built-in catalog, served from the image where it lies: nothing is
/// compiled, copied or parsed at boot.
pub fn built_in() -> Result<Catalog, String> {
    Catalog::from_static_image(BUILT_IN).map_err(|e| format!("the built-in zones: {e}"))
}

/// The `*.zone` files of the tar archive on `disk`, as (file name, text).
pub fn from_tar<B: oasis::Block>(disk: &B) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for entry in oasis_tar::entries(disk).map_err(|e| format!("block device `zones`: {e}"))? {
        if !entry.name.ends_with(".zone") {
            continue;
        }
        let bytes =
            oasis_tar::read(disk, &entry).map_err(|e| format!("block device `zones`: {e}"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("block device `zones`: {}: not UTF-8 text", entry.name))?;
        out.push((entry.name, text));
    }
    if out.is_empty() {
        return Err("block device `zones`: the archive holds no *.zone file".into());
    }
    Ok(out)
}

/// The text of the file `name` in the tar archive on `disk`, if there.
pub fn tar_file<B: oasis::Block>(disk: &B, name: &str) -> Option<Result<String, String>> {
    let entries = match oasis_tar::entries(disk) {
        Ok(e) => e,
        Err(e) => return Some(Err(format!("block device `zones`: {e}"))),
    };
    let entry = entries.into_iter().find(|e| e.name == name)?;
    Some(
        oasis_tar::read(disk, &entry)
            .map_err(|e| format!("block device `zones`: {e}"))
            .and_then(|b| {
                String::from_utf8(b).map_err(|_| format!("block device `zones`: {name}: not UTF-8"))
            }),
    )
}
