//! Percent-decoding (RFC 3986 §2.1), query strings and
//! `application/x-www-form-urlencoded` bodies (the WHATWG URL standard's
//! parser: `&`-separated `name=value` pairs, `+` for a space).
//!
//! Decoding never fails: a `%` not followed by two hex digits stays as it
//! is, and bytes that are not UTF-8 after decoding become U+FFFD, so a
//! hostile query gives odd strings, never an error or a panic.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-decodes `input` to bytes; with `plus`, `+` is a space (forms).
pub fn percent_decode_bytes(input: &[u8], plus: bool) -> Cow<'_, [u8]> {
    if !input.iter().any(|&b| b == b'%' || (plus && b == b'+')) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%'
            && let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if plus && b == b'+' { b' ' } else { b });
        i += 1;
    }
    Cow::Owned(out)
}

/// Percent-decodes `input` to text (invalid UTF-8 becomes U+FFFD); with
/// `plus`, `+` is a space.
pub fn percent_decode(input: &str, plus: bool) -> Cow<'_, str> {
    match percent_decode_bytes(input.as_bytes(), plus) {
        Cow::Borrowed(_) => Cow::Borrowed(input),
        Cow::Owned(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Cow::Owned(s),
            Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

/// Percent-encodes every byte of `input` but the unreserved ones
/// (`A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode(input: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// The `name=value` pairs of a query string or a form body, decoded, in
/// order (a name may repeat; a pair without `=` has an empty value; empty
/// pairs are skipped).
pub fn parse_pairs(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(k, true).into_owned(),
                percent_decode(v, true).into_owned(),
            )
        })
        .collect()
}

/// [`parse_pairs`] over the bytes of a form body (invalid UTF-8 becomes
/// U+FFFD after decoding, as in a query).
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    parse_pairs(&String::from_utf8_lossy(body))
}

/// Decoded pairs, looked up by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// The first value named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_escapes_and_plus_and_leaves_broken_escapes() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("a%20b+c", false), "a b+c");
        assert_eq!(percent_decode("100%", true), "100%");
        assert_eq!(percent_decode("%zz%4", true), "%zz%4");
        assert_eq!(percent_decode("%C3%A9t%C3%A9", true), "été");
        assert_eq!(percent_decode("%FF", true), "\u{FFFD}");
    }

    #[test]
    fn parses_forms_in_order_with_repeats_and_bare_names() {
        let p = Pairs(parse_pairs("name=J%C3%BCrg+X&tag=a&&tag=b&flag&=v"));
        assert_eq!(p.get("name"), Some("Jürg X"));
        assert_eq!(p.get_all("tag").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(p.get(""), Some("v"));
        assert_eq!(p.get("none"), None);
    }

    proptest! {
        #[test]
        fn decoding_never_panics(input in ".*", raw in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = percent_decode(&input, true);
            let _ = percent_decode_bytes(&raw, false);
            let _ = parse_form(&raw);
        }

        #[test]
        fn encoding_then_decoding_gives_back_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
            let enc = percent_encode(&raw);
            prop_assert_eq!(&percent_decode_bytes(enc.as_bytes(), true)[..], &raw[..]);
        }

        #[test]
        fn encoded_pairs_parse_back(pairs in proptest::collection::vec((".+", ".*"), 0..8)) {
            let q: Vec<String> = pairs
                .iter()
                .map(|(k, v)| alloc::format!("{}={}", percent_encode(k.as_bytes()), percent_encode(v.as_bytes())))
                .collect();
            prop_assert_eq!(parse_pairs(&q.join("&")), pairs);
        }
    }
}
