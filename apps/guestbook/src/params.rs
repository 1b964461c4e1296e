//! Query and form parameters, read strictly: a page or a limit that is not
//! a plain decimal number in range is refused with a message naming it,
//! and a form whose bytes or decoded values are not UTF-8 is refused
//! (oasis-http's own decoding would make them U+FFFD instead).

use alloc::borrow::Cow;
use alloc::string::String;

use oasis_http::form::{percent_decode, percent_decode_bytes};

/// Entries on a page of the site, and the API's default limit.
pub const PER_PAGE: usize = 20;
/// The API's largest `limit`.
pub const LIMIT_MAX: usize = 100;
/// The largest page asked for (beyond it a page is refused: no store has
/// that many entries, and the skip stays far from overflowing).
pub const PAGE_MAX: u64 = 100_000_000;

/// What a listing asks for: an exact name, a 1-based page, entries per page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Only entries by this name (`None`: all; an empty `name=` is none).
    pub name: Option<String>,
    /// 1-based.
    pub page: u64,
    /// Entries per page.
    pub limit: usize,
}

impl Listing {
    /// Entries skipped before this page.
    pub fn skip(&self) -> u64 {
        (self.page - 1) * self.limit as u64
    }

    /// Whether this is the default listing (no name, page 1, 20): the one
    /// the cache holds.
    pub fn is_default(&self) -> bool {
        self.name.is_none() && self.page == 1 && self.limit == PER_PAGE
    }
}

/// A decimal number from `lo` to `hi`: digits only (no sign, no spaces).
fn number(v: &str, lo: u64, hi: u64) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().filter(|n| (lo..=hi).contains(n))
}

/// Reads a query string (`page`, `name`; with `api`, also `limit`).
/// Other parameters are ignored; the first of a repeated one counts.
pub fn listing(query: Option<&str>, api: bool) -> Result<Listing, &'static str> {
    let mut out = Listing {
        name: None,
        page: 1,
        limit: PER_PAGE,
    };
    let (mut seen_page, mut seen_limit, mut seen_name) = (false, false, false);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match &*percent_decode(k, true) {
            "page" if !seen_page => {
                seen_page = true;
                out.page = number(&percent_decode(v, true), 1, PAGE_MAX)
                    .ok_or("page: must be a whole number from 1")?;
            }
            "limit" if api && !seen_limit => {
                seen_limit = true;
                out.limit = number(&percent_decode(v, true), 1, LIMIT_MAX as u64)
                    .ok_or("limit: must be a whole number from 1 to 100")?
                    as usize;
            }
            "name" if !seen_name => {
                seen_name = true;
                let name = percent_decode(v, true);
                if !name.is_empty() {
                    out.name = Some(name.into_owned());
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The `name` and `message` of a urlencoded form body (missing ones
/// empty), or why the body is refused.
pub fn form(body: &[u8]) -> Result<(String, String), &'static str> {
    let text = core::str::from_utf8(body).map_err(|_| "the request body is not valid UTF-8")?;
    let (mut name, mut message) = (None, None);
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (slot, invalid) = match &*percent_decode(k, true) {
            "name" => (&mut name, "name: not valid UTF-8"),
            "message" => (&mut message, "message: not valid UTF-8"),
            _ => continue,
        };
        if slot.is_some() {
            continue;
        }
        let value = match percent_decode_bytes(v.as_bytes(), true) {
            Cow::Borrowed(b) => Cow::Borrowed(core::str::from_utf8(b).unwrap_or_default()),
            Cow::Owned(b) => Cow::Owned(String::from_utf8(b).map_err(|_| invalid)?),
        };
        *slot = Some(value.into_owned());
    }
    Ok((name.unwrap_or_default(), message.unwrap_or_default()))
}

/// `name` percent-encoded for a query string.
pub fn encode(name: &str) -> String {
    oasis_http::form::percent_encode(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_pages_limits_and_names_strictly() {
        assert_eq!(
            listing(None, true).unwrap(),
            Listing {
                name: None,
                page: 1,
                limit: 20
            }
        );
        let l = listing(Some("name=J%C3%BCrg+X&page=3&limit=5&x=1"), true).unwrap();
        assert_eq!(
            (l.name.as_deref(), l.page, l.limit, l.skip()),
            (Some("Jürg X"), 3, 5, 10)
        );
        assert_eq!(
            listing(Some("limit=5"), false).unwrap().limit,
            20,
            "the site ignores limit"
        );
        assert!(listing(Some("name="), false).unwrap().is_default());
        for bad in [
            "page=0",
            "page=-1",
            "page=+2",
            "page=",
            "page=1.5",
            "page=x",
            "page=99999999999999999999999",
        ] {
            assert!(
                listing(Some(bad), false).unwrap_err().starts_with("page:"),
                "{bad}"
            );
        }
        for bad in ["limit=0", "limit=101", "limit=abc"] {
            assert!(
                listing(Some(bad), true).unwrap_err().starts_with("limit:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn forms_must_be_utf8_before_and_after_decoding() {
        assert_eq!(
            form(b"name=a+b&message=x%0D%0Ay&name=ignored").unwrap(),
            ("a b".into(), "x\r\ny".into())
        );
        assert_eq!(form(b"other=1").unwrap(), (String::new(), String::new()));
        assert_eq!(
            form(b"name=\xff").unwrap_err(),
            "the request body is not valid UTF-8"
        );
        assert_eq!(
            form(b"name=%FF&message=m").unwrap_err(),
            "name: not valid UTF-8"
        );
        assert_eq!(
            form(b"name=n&message=%C3").unwrap_err(),
            "message: not valid UTF-8"
        );
    }

    proptest! {
        #[test]
        fn hostile_queries_and_forms_never_panic(q in ".*", raw in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = listing(Some(&q), true);
            let _ = form(&raw);
        }
    }
}
