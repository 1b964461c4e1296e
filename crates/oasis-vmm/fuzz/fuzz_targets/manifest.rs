//! Any manifest note is parsed or refused, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = oasis_abi::manifest::Manifest::parse(data) {
        for d in m.devices() {
            assert!(d.name().is_some());
        }
    }
});
