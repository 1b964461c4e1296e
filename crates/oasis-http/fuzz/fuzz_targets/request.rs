//! Any bytes as what a client sends on one connection, fed to the request
//! reader in pieces whose size the first byte picks: it must never panic,
//! never take more than its limits allow, and stop at its first failure;
//! every request it frames is then answered (a static asset with a tag, a
//! date and ranges) under that request's conditions, which must give a
//! well-formed head and a body inside the asset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_http::request::{ReadLimits, Reader, Step};
use oasis_http::response::{Conditions, Payload};
use oasis_http::{Asset, Response};

const ASSET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut % 64) + 1;
    let limits = ReadLimits {
        max_head: 2048,
        max_headers: 16,
        max_body: 4096,
    };
    let mut reader = Reader::new(limits, None);
    let asset = Asset::new("text/plain", ASSET).last_modified(784_111_777);
    'feed: for piece in input.chunks(cut) {
        reader.push(piece);
        loop {
            assert!(reader.buffered() <= limits.max_head + 16 * 1024 + cut);
            match reader.step() {
                Step::More => break,
                Step::Continue => {}
                Step::Fail(f) => {
                    assert!(matches!(f.status, 400 | 408 | 413 | 431 | 501));
                    assert!(matches!(reader.step(), Step::Fail(_)));
                    break 'feed;
                }
                Step::Request(r) => {
                    assert!(r.body().len() <= limits.max_body);
                    let _ = r.query_pairs();
                    let _ = r.form();
                    let cond = Conditions::of(&r);
                    for resp in [asset.response(), Response::text(200, "x")] {
                        let p = resp.prepare(&cond, Some("Sun, 06 Nov 1994 08:49:37 GMT"));
                        assert!(p.head.ends_with(b"\r\n\r\n"));
                        // No field of the head holds a bare CR or LF.
                        let head = &p.head[..p.head.len() - 2];
                        for line in head.split(|&b| b == b'\n') {
                            assert!(line.is_empty() || line.ends_with(b"\r"));
                            assert!(!line[..line.len().saturating_sub(1)].contains(&b'\r'));
                        }
                        if let Payload::Slice(b, x, y) = &p.send {
                            assert!(x <= y && *y <= b.as_slice().len());
                        }
                    }
                }
            }
        }
    }
});
