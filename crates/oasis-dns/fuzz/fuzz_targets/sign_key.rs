//! Any text as DNSSEC key files (BIND and ldns formats): the bytes up to
//! the first NUL as a private key file, the rest as the `.key` file with
//! its DNSKEY record. Reading them never panics; a key read has the key
//! tag of its own DNSKEY data (RFC 4034 Appendix B), and signs a small
//! zone into one that compiles and whose apex DNSKEY RRset holds it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::sign::{Denial, Key, KSK_FLAGS, Options, key_tag, sign};
use oasis_dns::wire::{Name, RData, Type};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let apex = Name::from_wire(b"\x07example\x00").unwrap();
    let (private, public) = text.split_once('\0').unwrap_or((text, ""));
    let keys = [
        Key::from_private("fuzz.private", private, KSK_FLAGS),
        Key::from_files(("fuzz.private", private), ("fuzz.key", public), &apex),
    ];
    for key in keys {
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                assert!(e.file == "fuzz.private" || e.file == "fuzz.key");
                let _ = e.to_string();
                continue;
            }
        };
        assert_eq!(key.tag(), key_tag(&key.dnskey_rdata()));
        let records = oasis_dns::zone::parse_str(
            "$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n*.w TXT x\nsub NS ns.sub\nns.sub A 192.0.2.2\nd DNAME x.\na.d A 192.0.2.3\n",
            "fuzz.zone",
            &apex,
        )
        .unwrap();
        let zone = Zone::new(&apex, records).unwrap();
        let denial = if key.is_ksk() { Denial::Nsec } else { Denial::nsec3() };
        let signed = sign(&zone, &[key.clone()], &Options::at(1_800_000_000, 86400, denial), None)
            .expect("a key read signs");
        let dnskeys = &signed.nodes[&signed.apex].get(Type::DNSKEY).unwrap().records;
        assert!(dnskeys.iter().any(|r| r.rdata == RData::Other(key.dnskey_rdata())));
        Catalog::new(vec![signed]).expect("a signed zone compiles");
    }
});
