//! Where the zones come from: files named on the command line (hosted), or
//! the zones built into the image.
//!
//! A zone's origin is its `$ORIGIN`, or else the file name without a
//! trailing `.zone` (`example.com.zone` → `example.com.`); its apex is the
//! owner of its SOA record.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use oasis_dns::engine::Zone;
use oasis_dns::wire::{Name, Type};
use oasis_dns::zone::{parse_str, text};

/// The zones compiled into the image (`apps/dns/example.com.zone` unless
/// `OASIS_DNS_ZONES` named others at build time), as (file name, text).
pub const BUILT_IN: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/zones.rs"));

/// The origin implied by a zone file's name.
pub fn origin_of(file: &str) -> Result<Name, String> {
    let base = file.rsplit('/').next().unwrap_or(file);
    let stem = base.strip_suffix(".zone").unwrap_or(base);
    let mut absolute = String::from(stem);
    if !absolute.ends_with('.') {
        absolute.push('.');
    }
    text::name(absolute.as_bytes(), &Name::root())
        .map_err(|e| format!("{file}: cannot take a zone origin from the file name: {e}"))
}

/// Parses one zone file into a zone; errors name the file and line.
pub fn load(file: &str, body: &str) -> Result<Zone, String> {
    let origin = origin_of(file)?;
    let records = parse_str(body, file, &origin).map_err(|e| format!("{e}"))?;
    let apex = records
        .iter()
        .find(|r| r.rtype == Type::SOA)
        .map(|r| r.name.clone())
        .ok_or_else(|| format!("{file}: no SOA record, so no zone apex"))?;
    Zone::new(&apex, records).map_err(|e| format!("{file}: {e}"))
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

/// Parses every (file name, text) pair into a zone.
pub fn load_all<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Zone>, String> {
    files.into_iter().map(|(f, t)| load(f, t)).collect()
}
