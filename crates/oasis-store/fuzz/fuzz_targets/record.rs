//! Any bytes as a stored record (the engine's key, then the value):
//! decoding must give a record or an error, never a panic, and a decoded
//! record must encode back to the same key and the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_store::{Record, SortKey};

#[derive(Record, Debug)]
struct Item {
    #[key]
    id: u64,
    name: String,
    #[opaque]
    tags: Vec<String>,
    score: Option<i32>,
    #[index]
    flag: bool,
}

fuzz_target!(|data: &[u8]| {
    // The first byte says how many of the rest are the key.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (key, value) = rest.split_at(usize::from(n).min(rest.len()));
    if let Ok(item) = Item::decode(key, value) {
        assert_eq!(
            item.id.sort_key(),
            key,
            "the key reads back only from its encoding"
        );
        let mut again = Vec::new();
        item.encode(&mut again).expect("a decoded record encodes");
        let back = Item::decode(key, &again).expect("an encoded record decodes");
        assert_eq!(back.id, item.id);
        assert_eq!(back.tags, item.tags);
    }
});
