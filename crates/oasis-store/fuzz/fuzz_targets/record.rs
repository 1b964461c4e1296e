//! Any bytes as a stored record: decoding must give a record or an error,
//! never a panic, and a decoded record must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_store::Record;

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
    if let Ok(item) = Item::decode(data) {
        let mut again = Vec::new();
        item.encode(None, &mut again).expect("a decoded record encodes");
        let back = Item::decode(&again).expect("an encoded record decodes");
        assert_eq!(back.id, item.id);
        assert_eq!(back.tags, item.tags);
    }
});
