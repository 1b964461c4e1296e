use super::*;
use crate::engine::Zone;
use crate::zone::parse_str;
use alloc::format;
use alloc::string::String;

fn zone(hosts: usize) -> (Name, Vec<Record>) {
    let mut t = String::from(
        "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 host 42 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n",
    );
    for i in 0..hosts {
        t.push_str(&format!("host{i} TXT \"{}\"\n", "x".repeat(200)));
    }
    let apex = Name::from_wire(b"\x07example\x03com\x00").unwrap();
    (apex, parse_str(&t, "x.zone", &Name::root()).unwrap())
}

fn canonical(mut rs: Vec<Record>) -> Vec<String> {
    let mut v: Vec<String> = rs
        .drain(..)
        .map(|r| {
            format!(
                "{} {} {} {:?}",
                r.name.to_lowercase(),
                r.rtype,
                r.ttl,
                r.rdata.to_wire()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn axfr_out_and_in_round_trips_over_several_messages() {
    let (apex, records) = zone(300);
    let catalog = Catalog::new(vec![Zone::new(&apex, records.clone()).unwrap()]).unwrap();
    let messages: Vec<Vec<u8>> = catalog
        .axfr(&query(&apex, Type::AXFR, 77))
        .unwrap()
        .collect();
    assert!(
        messages.len() > 2,
        "300 × 200-byte records span several messages"
    );
    assert!(messages.iter().all(|m| m.len() <= MAX_MESSAGE));
    let mut c = AxfrCollector::new(&apex, 77);
    let last = messages.len() - 1;
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(c.push(m).unwrap(), i == last);
    }
    assert_eq!(canonical(c.finish().unwrap()), canonical(records));
}

#[test]
fn axfr_refuses_other_questions() {
    let (apex, records) = zone(1);
    let catalog = Catalog::new(vec![Zone::new(&apex, records).unwrap()]).unwrap();
    assert_eq!(
        catalog.axfr(&query(&apex, Type::SOA, 1)).err(),
        Some(XfrError::NotAxfr)
    );
    let sub = apex.prepend(b"sub").unwrap();
    assert_eq!(
        catalog.axfr(&query(&sub, Type::AXFR, 1)).err(),
        Some(XfrError::NotServed(sub))
    );
}

#[test]
fn collector_rejects_bad_transfers() {
    let (apex, records) = zone(1);
    let catalog = Catalog::new(vec![Zone::new(&apex, records).unwrap()]).unwrap();
    let msgs: Vec<Vec<u8>> = catalog
        .axfr(&query(&apex, Type::AXFR, 5))
        .unwrap()
        .collect();
    assert_eq!(
        AxfrCollector::new(&apex, 6).push(&msgs[0]),
        Err(XfrError::Unexpected)
    );
    let mut c = AxfrCollector::new(&apex, 5);
    c.push(&msgs[0]).unwrap();
    assert_eq!(c.push(&msgs[0]), Err(XfrError::AfterEnd));
    let mut refused = msgs[0].clone();
    refused[3] |= 5;
    assert_eq!(
        AxfrCollector::new(&apex, 5).push(&refused),
        Err(XfrError::Rcode(5))
    );
    assert_eq!(
        AxfrCollector::new(&apex, 5).finish(),
        Err(XfrError::Incomplete)
    );
}

#[test]
fn notify_round_trip_and_serials() {
    let (apex, _) = zone(0);
    let n = notify(&apex, 9, None);
    assert_eq!(notified_zone(&n), Some(apex.clone()));
    let mut out = [0u8; 512];
    let len = notify_ack(&n, &mut out).unwrap();
    let m = Message::parse(&out[..len]).unwrap();
    assert_eq!((m.id, m.flags), (9, flag::QR | flag::AA | (4 << 11)));
    assert_eq!(
        notified_zone(&out[..len]),
        None,
        "an acknowledgement is not a request"
    );
    assert!(serial_newer(2, 1) && !serial_newer(1, 2) && !serial_newer(5, 5));
    assert!(serial_newer(1, u32::MAX), "wraps around");
}

#[test]
fn a_transfer_past_its_byte_budget_is_cut_off() {
    let (apex, records) = zone(300);
    let catalog = Catalog::new(vec![Zone::new(&apex, records).unwrap()]).unwrap();
    let messages: Vec<Vec<u8>> = catalog
        .axfr(&query(&apex, Type::AXFR, 9))
        .unwrap()
        .collect();
    // A primary that keeps sending: the first message, then the second
    // again and again, never the closing SOA. The budget is spent as if
    // most of it had already arrived.
    let mut c = AxfrCollector::new(&apex, 9);
    assert_eq!(c.push(&messages[0]), Ok(false));
    c.received = MAX_TRANSFER - 2 * messages[1].len();
    assert_eq!(c.push(&messages[1]), Ok(false));
    assert_eq!(c.push(&messages[1]), Ok(false));
    assert_eq!(c.push(&messages[1]), Err(XfrError::TooBig));
    assert!(format!("{}", XfrError::TooBig).contains("256 MiB"));
    // The check counts before parsing: junk past the budget is TooBig too.
    let mut received = MAX_TRANSFER;
    assert_eq!(
        transfer_message(b"junk", 9, &mut received).err(),
        Some(XfrError::TooBig)
    );
}
