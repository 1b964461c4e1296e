//! TSIG: known answers, the server's error cases, and properties over
//! hostile input (random bytes never panic, sign-then-verify round trips,
//! any bit flipped in a signed message fails verification).

use super::*;
use crate::wire::Type;
use crate::xfr::query;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

fn name(s: &str) -> Name {
    crate::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
}

fn key(alg: Algorithm) -> Key {
    Key::new(&name("Xfr-Key."), alg, b"a secret shared by two servers")
}

const NOW: u64 = 1_700_000_000;

fn signed_query(k: &Key, at: u64) -> (Vec<u8>, Vec<u8>) {
    let mut q = query(&name("example.com."), Type::AXFR, 0x1234);
    let mac = Signer::new(k, None).sign(&mut q, at);
    (q, mac)
}

#[test]
fn key_text_in_both_orders_and_the_errors() {
    let k = Key::from_text("Xfr-Key:hmac-sha256:YWJj").unwrap();
    assert_eq!(k.name().to_string(), "xfr-key.");
    assert_eq!(k.algorithm(), Algorithm::HmacSha256);
    let d = Key::from_text("HMAC-SHA512:xfr-key.:YWJj").unwrap();
    assert_eq!(
        (d.name().to_string(), d.algorithm()),
        ("xfr-key.".into(), Algorithm::HmacSha512)
    );
    assert!(
        Key::from_text("k:hmac-md5:YWJj")
            .unwrap_err()
            .starts_with("unknown algorithm")
    );
    assert!(
        Key::from_text("k:hmac-sha1:!!")
            .unwrap_err()
            .contains("not base64")
    );
    assert!(
        Key::from_text("k:hmac-sha1")
            .unwrap_err()
            .starts_with("expected")
    );
    assert_eq!(
        alloc::format!("{k:?}"),
        "Key(xfr-key. hmac-sha256)",
        "no secret in Debug"
    );
}

#[test]
fn hmac_sha256_matches_rfc_4231_case_2() {
    // The HMAC under the TSIG code, against RFC 4231's published vector.
    let mut h = Hasher::new(Algorithm::HmacSha256, b"Jefe");
    h.update(b"what do ya want for nothing?");
    let mac = h.finish();
    let hex: String = mac.iter().map(|b| alloc::format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn a_signed_request_verifies_and_its_answer_too_for_every_algorithm() {
    for (alg, _, len) in ALGORITHMS {
        let k = key(alg);
        let (q, mac) = signed_query(&k, NOW);
        assert_eq!(mac.len(), len);
        let found = find(&q).unwrap().unwrap();
        assert_eq!(found.tsig.key_name.to_string(), "xfr-key.");
        assert_eq!(found.tsig.mac, mac);
        assert_eq!(
            q.len(),
            found.at + k.tsig_len() - 6,
            "tsig_len counts the record"
        );
        assert_eq!(
            verify_request(&q, &found, core::slice::from_ref(&k), NOW + 299),
            Ok(0)
        );
        let mut answer = q[..found.at].to_vec();
        answer[2] |= 0x80;
        answer[11] -= 1;
        let mut s = Signer::new(&k, Some(&mac));
        let mut v = ResponseVerifier::new(&k, &mac);
        for _ in 0..3 {
            let mut m = answer.clone();
            s.sign(&mut m, NOW + 1);
            assert_eq!(v.verify(&m, NOW), Ok(true));
        }
        assert!(v.finish().is_ok());
    }
}

#[test]
fn the_server_checks_key_mac_time_and_truncation_in_that_order() {
    let k = key(Algorithm::HmacSha256);
    let keys = [k.clone()];
    let (q, _) = signed_query(&k, NOW);
    let found = find(&q).unwrap().unwrap();
    // Unknown key, and a known name with another algorithm: BADKEY.
    let other = Key::new(&name("other."), Algorithm::HmacSha256, b"x");
    assert_eq!(
        verify_request(&q, &found, &[other], NOW),
        Err(TsigError::BadKey)
    );
    let sha1 = Key::new(
        &name("xfr-key."),
        Algorithm::HmacSha1,
        b"a secret shared by two servers",
    );
    assert_eq!(
        verify_request(&q, &found, &[sha1], NOW),
        Err(TsigError::BadKey)
    );
    // Another secret: BADSIG.
    let wrong = Key::new(&name("xfr-key."), Algorithm::HmacSha256, b"another secret");
    assert_eq!(
        verify_request(&q, &found, &[wrong], NOW),
        Err(TsigError::BadSig)
    );
    // An hour off: BADTIME with the server's time; a bad MAC at a bad
    // time is BADSIG (the MAC is checked first).
    assert_eq!(
        verify_request(&q, &found, &keys, NOW + 3600),
        Err(TsigError::BadTime(NOW + 3600))
    );
    assert_eq!(
        verify_request(&q, &found, &keys, NOW - 301),
        Err(TsigError::BadTime(NOW - 301))
    );
    // Truncated MACs: to 16 of 32 bytes, allowed by §5.2.2.1 but not by
    // oasis's policy (BADTRUNC) once it verifies; below 16, or longer
    // than 32, FORMERR.
    let truncated = |len: usize| {
        let mut t = found.clone();
        t.tsig.mac.truncate(len);
        t
    };
    assert_eq!(
        verify_request(&q, &truncated(16), &keys, NOW),
        Err(TsigError::BadTrunc)
    );
    assert_eq!(
        verify_request(&q, &truncated(15), &keys, NOW),
        Err(TsigError::FormErr)
    );
    let mut long = found.clone();
    long.tsig.mac.push(0);
    assert_eq!(
        verify_request(&q, &long, &keys, NOW),
        Err(TsigError::FormErr)
    );
    let mut bad = truncated(16);
    bad.tsig.mac[0] ^= 1;
    assert_eq!(verify_request(&q, &bad, &keys, NOW), Err(TsigError::BadSig));
}

#[test]
fn error_responses_are_unsigned_for_key_and_mac_and_signed_for_time() {
    let k = key(Algorithm::HmacSha256);
    let (q, mac) = signed_query(&k, NOW - 3600);
    let found = find(&q).unwrap().unwrap();
    for (e, signed) in [
        (TsigError::BadKey, false),
        (TsigError::BadSig, false),
        (TsigError::BadTime(NOW), true),
    ] {
        let r = error_response(&q, Some(&found), &e, Some(&k), NOW).unwrap();
        let m = crate::wire::Message::parse(&r).unwrap();
        assert_eq!(m.flags & flag::RCODE_MASK, Rcode::NOTAUTH.0);
        assert_eq!(m.questions.len(), 1);
        let t = find(&r).unwrap().unwrap().tsig;
        assert_eq!(t.error, e.code().unwrap());
        assert_eq!(t.mac.is_empty(), !signed, "{e}");
        if signed {
            assert_eq!(t.other, time48(NOW).to_vec(), "the server's time");
            assert_eq!(t.time_signed, NOW - 3600, "the request's time");
            // The client sees the error under a valid signature.
            let mut v = ResponseVerifier::new(&k, &mac);
            assert_eq!(
                v.verify(&r, NOW - 3600),
                Err(TsigError::Peer(error::BADTIME))
            );
        }
    }
    let r = error_response(&q, None, &TsigError::FormErr, None, NOW).unwrap();
    assert_eq!(r[3] & 0x0f, 1);
    assert_eq!(find(&r), Ok(None));
}

#[test]
fn a_tsig_not_last_or_not_alone_is_formerr() {
    let k = key(Algorithm::HmacSha256);
    let (q, _) = signed_query(&k, NOW);
    // Two TSIGs.
    let mut two = q.clone();
    Signer::new(&k, None).sign(&mut two, NOW);
    assert_eq!(find(&two), Err(TsigError::FormErr));
    // A record after the TSIG.
    let mut after = q.clone();
    after[11] += 1;
    after.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(find(&after), Err(TsigError::FormErr));
    // A TSIG in the answer section.
    let mut answer = q.clone();
    answer[7] = 1;
    answer[11] = 0;
    assert_eq!(find(&answer), Err(TsigError::FormErr));
    // Another class.
    let at = find(&q).unwrap().unwrap().at + k.name().wire_len() + 2;
    let mut class = q.clone();
    class[at + 1] = 1;
    assert_eq!(find(&class), Err(TsigError::FormErr));
}

#[test]
fn a_stream_allows_99_unsigned_messages_and_must_end_signed() {
    let k = key(Algorithm::HmacSha256);
    let (_, mac) = signed_query(&k, NOW);
    let body = |i: u8| {
        let mut m = query(&name("example.com."), Type::AXFR, 0x1234);
        m[2] |= 0x80;
        m.push(i); // not a valid message body, but the MAC covers bytes
        m
    };
    for (gap, ok) in [(99usize, true), (100, false)] {
        let mut s = Signer::new(&k, Some(&mac));
        let mut v = ResponseVerifier::new(&k, &mac);
        let mut first = query(&name("example.com."), Type::AXFR, 0x1234);
        s.sign(&mut first, NOW);
        assert_eq!(v.verify(&first, NOW), Ok(true));
        // The server's MAC runs over the unsigned messages too.
        let mut server_side = Hasher::new(Algorithm::HmacSha256, b"a secret shared by two servers");
        server_side.update_mac(&s.prev.clone().unwrap());
        let mut result = Ok(false);
        for i in 0..gap {
            let m = body(i as u8);
            server_side.update(&m);
            result = v.verify(&m, NOW);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.is_ok(), ok, "gap {gap}");
        if ok {
            assert_eq!(v.finish(), Err(TsigError::Unsigned), "ends unsigned");
        }
    }
    // The first message unsigned: refused.
    let mut v = ResponseVerifier::new(&k, &mac);
    assert_eq!(v.verify(&body(0), NOW), Err(TsigError::Unsigned));
}

#[test]
fn a_stream_signed_every_third_message_verifies() {
    // Signing only some messages: the MAC of a signed one covers the
    // unsigned ones before it (§5.3.1), computed here by hand.
    let k = key(Algorithm::HmacSha256);
    let (_, mac) = signed_query(&k, NOW);
    let mut v = ResponseVerifier::new(&k, &mac);
    let mut s = Signer::new(&k, Some(&mac));
    let mut first = query(&name("example.com."), Type::AXFR, 7);
    s.sign(&mut first, NOW);
    assert_eq!(v.verify(&first, NOW), Ok(true));
    let mut prev = s.prev.clone().unwrap();
    for round in 0..3u8 {
        let unsigned: Vec<Vec<u8>> = (0..2)
            .map(|i| vec![0, 7, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, round, i])
            .collect();
        for m in &unsigned {
            assert_eq!(v.verify(m, NOW), Ok(false));
        }
        let mut last = vec![0, 7, 0x80, round, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut h = k.mac();
        h.update_mac(&prev);
        for m in &unsigned {
            h.update(m);
        }
        h.update(&last);
        h.update(&time48(NOW));
        h.update(&FUDGE.to_be_bytes());
        let m = h.finish();
        last[11] = 1;
        append(
            &mut last,
            &Tsig {
                key_name: k.name().clone(),
                algorithm: Name::from_wire(&Algorithm::HmacSha256.wire_name()).unwrap(),
                time_signed: NOW,
                fudge: FUDGE,
                mac: m.clone(),
                original_id: 7,
                error: 0,
                other: vec![],
            },
        );
        assert_eq!(v.verify(&last, NOW), Ok(true), "round {round}");
        prev = m;
    }
    assert!(v.finish().is_ok());
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(ALGORITHMS.iter().map(|(a, _, _)| *a).collect::<Vec<_>>())
}

fn qname() -> impl Strategy<Value = Name> {
    proptest::collection::vec("[a-zA-Z0-9-]{1,12}", 1..4).prop_map(|labels| {
        let mut n = Name::root();
        for l in labels.iter().rev() {
            n = n.prepend(l.as_bytes()).unwrap();
        }
        n
    })
}

/// True for a bit flip that does not change the message as TSIG sees it:
/// the ID (the MAC covers the original ID), or the letter case of the key
/// or algorithm name (covered in canonical form).
fn harmless(msg: &[u8], found: &Found, byte: usize, bit: u8) -> bool {
    if byte < 2 {
        return true;
    }
    let names = found.at..found.at + found.tsig.key_name.wire_len();
    let alg_at = found.at + found.tsig.key_name.wire_len() + 10;
    let alg = alg_at..alg_at + found.tsig.algorithm.wire_len();
    bit == 5 && msg[byte].is_ascii_alphabetic() && (names.contains(&byte) || alg.contains(&byte))
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), now in any::<u64>()) {
        let k = key(Algorithm::HmacSha256);
        if let Ok(Some(found)) = find(&bytes) {
            let _ = verify_request(&bytes, &found, core::slice::from_ref(&k), now);
            for e in [TsigError::BadKey, TsigError::BadTime(now), TsigError::FormErr] {
                let _ = error_response(&bytes, Some(&found), &e, Some(&k), now);
            }
        }
        let mut v = ResponseVerifier::new(&k, &[1; 32]);
        let _ = v.verify(&bytes, now);
        let _ = v.verify(&bytes, now);
    }

    #[test]
    fn a_signed_message_with_random_tail_bytes_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..80), cut in 0usize..120) {
        // Hostile variants of a real signed message: cut short, or with
        // garbage where the TSIG's RDATA is.
        let k = key(Algorithm::HmacSha256);
        let (q, _) = signed_query(&k, NOW);
        let mut m = q[..q.len().saturating_sub(cut)].to_vec();
        m.extend_from_slice(&tail);
        if let Ok(Some(found)) = find(&m) {
            let _ = verify_request(&m, &found, core::slice::from_ref(&k), NOW);
        }
    }

    #[test]
    fn sign_then_verify_round_trips(alg in algorithm(), n in qname(), id in any::<u16>(), at in 0u64..(1 << 48), secret in proptest::collection::vec(any::<u8>(), 1..100)) {
        let k = Key::new(&n, alg, &secret);
        let mut q = query(&n, Type::SOA, id);
        let mac = Signer::new(&k, None).sign(&mut q, at);
        let found = find(&q).unwrap().unwrap();
        prop_assert_eq!(found.tsig.time_signed, at);
        prop_assert_eq!(verify_request(&q, &found, core::slice::from_ref(&k), at), Ok(0));
        let mut answer = q[..found.at].to_vec();
        answer[2] |= 0x80;
        answer[11] -= 1;
        Signer::new(&k, Some(&mac)).sign(&mut answer, at);
        let mut v = ResponseVerifier::new(&k, &mac);
        prop_assert_eq!(v.verify(&answer, at), Ok(true));
    }

    #[test]
    fn any_bit_flip_fails_verification(alg in algorithm(), n in qname(), bit in any::<prop::sample::Index>()) {
        let k = Key::new(&name("key.example."), alg, b"secret");
        let mut q = query(&n, Type::AXFR, 99);
        let mac = Signer::new(&k, None).sign(&mut q, NOW);
        let found = find(&q).unwrap().unwrap();
        let i = bit.index(q.len() * 8);
        let (byte, b) = (i / 8, (i % 8) as u8);
        prop_assume!(!harmless(&q, &found, byte, b));
        let mut flipped = q.clone();
        flipped[byte] ^= 1 << b;
        let ok = matches!(find(&flipped), Ok(Some(f)) if verify_request(&flipped, &f, core::slice::from_ref(&k), NOW).is_ok());
        prop_assert!(!ok, "flipping bit {} of byte {} still verifies", b, byte);
        // The same for a signed response.
        let mut answer = q[..found.at].to_vec();
        answer[2] |= 0x80;
        answer[11] -= 1;
        Signer::new(&k, Some(&mac)).sign(&mut answer, NOW);
        let found = find(&answer).unwrap().unwrap();
        let i = bit.index(answer.len() * 8);
        let (byte, b) = (i / 8, (i % 8) as u8);
        prop_assume!(!harmless(&answer, &found, byte, b));
        answer[byte] ^= 1 << b;
        let mut v = ResponseVerifier::new(&k, &mac);
        prop_assert!(v.verify(&answer, NOW) != Ok(true));
    }
}
