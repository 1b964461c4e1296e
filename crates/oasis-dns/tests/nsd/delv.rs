//! What the two `delv` tests share (delv_validates.rs: zones signed by
//! `ldns-signzone`; online_signing.rs: zones signed by oasis-dns): the
//! zone `delv` is asked about, the questions, where `delv` is, and its
//! trust-anchor file.

use std::path::{Path, PathBuf};

pub const ZONE: &str = "\
$ORIGIN val.test.
$TTL 300
@ SOA ns1 hostmaster 2026120701 7200 3600 1209600 300
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
www AAAA 2001:db8::1
alias CNAME www
*.wild TXT \"from the wildcard\"
a.b.ent A 192.0.2.2
insecure NS ns.insecure
ns.insecure A 127.0.0.1
secure NS ns.secure
ns.secure A 127.0.0.1
secure DS 12345 13 2 3e3c6e3e3c6e3e3c6e3e3c6e3e3c6e3e3c6e3e3c6e3e3c6e3e3c6e3e3c6e3e3c
";

/// (what, name, type, expected kind of answer).
pub const QUESTIONS: &[(&str, &str, &str)] = &[
    ("an existing name", "www.val.test", "A"),
    ("the zone's keys", "val.test", "DNSKEY"),
    ("a CNAME", "alias.val.test", "AAAA"),
    ("a name that does not exist", "nope.val.test", "A"),
    ("a type the name lacks", "www.val.test", "MX"),
    ("an empty non-terminal", "b.ent.val.test", "A"),
    ("a wildcard answer", "anything.wild.val.test", "TXT"),
    ("a wildcard without the type", "anything.wild.val.test", "A"),
    ("the DS of a signed delegation", "secure.val.test", "DS"),
    (
        "the DS of an unsigned delegation",
        "insecure.val.test",
        "DS",
    ),
];

pub fn delv_binary() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("delv"))
        .find(|p| p.exists())
}

/// The KSK's DNSKEY record (as `ldns-keygen` writes it) as a `delv`
/// trust-anchor file.
pub fn anchor(ksk: &str) -> String {
    let f: Vec<&str> = ksk.split_whitespace().collect();
    let at = f
        .iter()
        .position(|w| *w == "DNSKEY")
        .expect("a DNSKEY record");
    format!(
        "trust-anchors {{ \"val.test.\" static-key {} {} {} \"{}\"; }};\n",
        f[at + 1],
        f[at + 2],
        f[at + 3],
        f[at + 4]
    )
}
