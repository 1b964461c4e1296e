//! Zone files to zones, as an application and its build script both need
//! them (a build script compiles the built-in zones ahead of time, the
//! application loads files or an archive at boot).
//!
//! A zone's origin is its `$ORIGIN`, or else the file name without a
//! trailing `.zone` (`example.com.zone` → `example.com.`); its apex is the
//! owner of its SOA record. Every error names the file, and the line where
//! there is one.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{parse_str, text};
use crate::engine::Zone;
use crate::wire::{Name, Type};

/// The origin implied by a zone file's name (its last path component,
/// without `.zone`).
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

/// Parses one zone file, named `file`, into a zone.
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

/// Parses every (file name, text) pair into a zone; stops at the first error.
pub fn load_all<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Zone>, String> {
    files.into_iter().map(|(f, t)| load(f, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn the_origin_is_the_file_name_without_zone() {
        assert_eq!(
            origin_of("example.com.zone").unwrap().to_string(),
            "example.com."
        );
        assert_eq!(
            origin_of("/srv/zones/example.org").unwrap().to_string(),
            "example.org."
        );
        assert_eq!(
            origin_of("a/b/example.net..zone").unwrap().to_string(),
            "example.net."
        );
    }

    #[test]
    fn the_apex_is_the_owner_of_the_soa() {
        let text = "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";
        let zone = load("zones/example.com.zone", text).unwrap();
        assert_eq!(zone.apex.to_string(), "example.com.");
        // `$ORIGIN` wins over the file name.
        let zone = load("anything.zone", &format!("$ORIGIN example.org.\n{text}")).unwrap();
        assert_eq!(zone.apex.to_string(), "example.org.");
    }

    #[test]
    fn errors_name_the_file() {
        let e = load("example.com.zone", "$TTL 300\nwww A 192.0.2.1\n").unwrap_err();
        assert_eq!(e, "example.com.zone: no SOA record, so no zone apex");
        let e = load_all([
            (
                "good.zone",
                "$TTL 1\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
            ),
            (
                "bad.zone",
                "$TTL 1\n@ SOA ns host 1 2 3 4 5\nwww A 300.0.0.1\n",
            ),
        ])
        .unwrap_err();
        assert!(e.starts_with("bad.zone:3:"), "{e}");
    }
}
