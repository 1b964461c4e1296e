//! Zone files to zones: shared by the application and its build script,
//! which compiles the built-in zones ahead of time.
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

/// Parses every (file name, text) pair into a zone.
pub fn load_all<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Zone>, String> {
    files.into_iter().map(|(f, t)| load(f, t)).collect()
}
