//! Any text as a master file: the parser must return records or an error,
//! never panic; records it returns must emit and parse back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::wire::{Compressor, Name, Record};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = Name::from_wire(b"\x07example\x03com\x00").unwrap();
    let mut includes = 0;
    let result = oasis_dns::zone::parse(text, "fuzz.zone", &origin, &mut |_| {
        includes += 1;
        Ok("inc A 192.0.2.1\n".to_string())
    });
    if let Ok(records) = result {
        for r in records {
            let mut msg = vec![0u8; 12];
            r.emit(&mut msg, &mut Compressor::new());
            let (back, end) = Record::parse(&msg, 12).expect("an emitted record parses");
            assert_eq!(end, msg.len());
            assert_eq!(back, r);
        }
    }
});
