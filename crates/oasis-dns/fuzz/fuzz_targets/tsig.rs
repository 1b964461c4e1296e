//! Any bytes as a TSIG-signed message (RFC 8945), as a server and a client
//! meet them: finding and reading the TSIG record, the server's checks and
//! its error responses, and a client's stream verifier must never panic;
//! a well-formed message without a TSIG, once signed, must verify, and
//! must not verify at another time or with the first byte after the ID
//! changed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::tsig::{
    Algorithm, Key, ResponseVerifier, Signer, TsigError, error_response, find, verify_request,
};
use oasis_dns::wire::{Message, Name};

const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let name = Name::from_wire(b"\x07xfr-key\x00").unwrap();
    let keys = [
        Key::new(&name, Algorithm::HmacSha256, b"fuzzing secret"),
        Key::new(&name, Algorithm::HmacSha1, b"fuzzing secret"),
    ];
    match find(data) {
        Ok(Some(found)) => {
            let r = verify_request(data, &found, &keys, NOW);
            let e = r.err().unwrap_or(TsigError::BadTime(NOW));
            if let Some(resp) = error_response(data, Some(&found), &e, Some(&keys[0]), NOW) {
                // The error response is itself a well-formed message whose
                // TSIG (if any) is found.
                Message::parse(&resp).expect("error responses parse");
                assert!(find(&resp).is_ok());
            }
        }
        Ok(None) => {
            if data.len() >= 12 && Message::parse(data).is_ok() {
                let mut signed = data.to_vec();
                let mac = Signer::new(&keys[0], None).sign(&mut signed, NOW);
                let found = find(&signed)
                    .expect("a TSIG appended is well placed")
                    .expect("found");
                assert_eq!(found.tsig.mac, mac);
                assert_eq!(verify_request(&signed, &found, &keys, NOW), Ok(0));
                assert!(verify_request(&signed, &found, &keys, NOW + 301).is_err());
                let mut changed = signed.clone();
                changed[2] ^= 0x01;
                if let Ok(Some(f)) = find(&changed) {
                    assert!(verify_request(&changed, &f, &keys, NOW).is_err());
                }
            }
        }
        Err(_) => {
            let _ = error_response(data, None, &TsigError::FormErr, None, NOW);
        }
    }
    let mut v = ResponseVerifier::new(&keys[0], &[0x5a; 32]);
    for _ in 0..2 {
        let _ = v.verify(data, NOW);
    }
    let _ = v.finish();
});
