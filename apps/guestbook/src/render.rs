//! What goes out: the page (the askama template `templates/index.html`,
//! compiled at build time; every `{{ }}` value HTML-escaped, `& < > " '`
//! as `&#38; &#60; &#62; &#34; &#39;`), the JSON bodies, and dates.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use askama::Template;

use crate::entry::Entry;
use crate::params::{self, Listing};

/// The page: the entries of one listing, the search, the form (with an
/// error and what was typed, after a refused post), the page links.
#[derive(Template)]
#[template(path = "index.html")]
pub struct Page<'a> {
    /// The entries shown, newest first.
    pub entries: &'a [Entry],
    /// The name searched for ("" for all).
    pub search: &'a str,
    /// Why the post was refused, if it was.
    pub error: Option<&'a str>,
    /// The name field's value.
    pub name_value: &'a str,
    /// The message field's value.
    pub message_value: &'a str,
    /// The link to the newer page, if any.
    pub newer: Option<String>,
    /// The link to the older page, if any.
    pub older: Option<String>,
}

/// The link to page `page` of the listing by `name` (if any).
fn page_href(name: Option<&str>, page: u64) -> String {
    match (name, page) {
        (None, 1) => String::from("/"),
        (None, p) => alloc::format!("/?page={p}"),
        (Some(n), 1) => alloc::format!("/?name={}", params::encode(n)),
        (Some(n), p) => alloc::format!("/?name={}&page={p}", params::encode(n)),
    }
}

impl<'a> Page<'a> {
    /// The page of `listing` showing `entries`; `more`: older entries exist.
    pub fn of(listing: &'a Listing, entries: &'a [Entry], more: bool) -> Page<'a> {
        let name = listing.name.as_deref();
        Page {
            entries,
            search: name.unwrap_or(""),
            error: None,
            name_value: "",
            message_value: "",
            newer: (listing.page > 1).then(|| page_href(name, listing.page - 1)),
            older: more.then(|| page_href(name, listing.page + 1)),
        }
    }

    /// The page as bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(4096 + self.entries.len() * 320);
        // Writing into a String fails only if a value's Display fails, and
        // none of ours does.
        let _ = self.render_into(&mut out);
        out.into_bytes()
    }
}

/// Unix seconds as an ISO 8601 UTC date and time (`2024-12-07T19:42:10Z`).
pub struct Iso(pub u64);
/// Unix seconds as a date and time for people (`2024-12-07 19:42 UTC`).
pub struct Human(pub u64);

/// [`Iso`] of a time the template holds by reference.
pub fn iso(secs: &u64) -> Iso {
    Iso(*secs)
}

/// [`Human`] of a time the template holds by reference.
pub fn human(secs: &u64) -> Human {
    Human(*secs)
}

/// The civil date of `secs` since the epoch: year, month, day, and the
/// seconds into that day (Howard Hinnant's `civil_from_days`).
fn civil(secs: u64) -> (u64, u64, u64, u64) {
    let days = secs / 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d, secs % 86_400)
}

impl fmt::Display for Iso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d, s) = civil(self.0);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d, s) = civil(self.0);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
            s / 3600,
            s / 60 % 60
        )
    }
}

/// `{"entries":[…]}` of `entries`, newest first as given.
pub fn entries_json(entries: &[Entry]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct List<'a> {
        entries: &'a [Entry],
    }
    // Serialising strings and numbers cannot fail.
    serde_json::to_vec(&List { entries }).unwrap_or_default()
}

/// One entry as JSON.
pub fn entry_json(entry: &Entry) -> Vec<u8> {
    serde_json::to_vec(entry).unwrap_or_default()
}

/// `{"error":"…"}`.
pub fn error_json(message: &str) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Error<'a> {
        error: &'a str,
    }
    serde_json::to_vec(&Error { error: message }).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn entry(id: u64, name: &str, message: &str) -> Entry {
        Entry {
            id,
            name: name.into(),
            message: message.into(),
            created: 1_733_600_000,
        }
    }

    #[test]
    fn dates() {
        assert_eq!(Iso(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Iso(1_733_600_000).to_string(), "2024-12-07T19:33:20Z");
        assert_eq!(Human(1_733_600_000).to_string(), "2024-12-07 19:33 UTC");
        assert_eq!(Iso(951_782_400).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(Iso(4_102_444_799).to_string(), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn the_page_escapes_names_and_messages_and_links_pages() {
        let entries = [
            entry(2, "<b>\"o'k\"</b> & co", "line1\n<script>x</script>"),
            entry(1, "a", "b"),
        ];
        let listing = Listing {
            name: Some("a b&c".into()),
            page: 2,
            limit: 20,
        };
        let page = Page::of(&listing, &entries, true);
        let html = String::from_utf8(page.bytes()).unwrap();
        assert!(html.contains(r#"<ul id="entries">"#));
        assert!(html.contains(
            r#"<li class="entry" id="entry-2"><span class="name">&#60;b&#62;&#34;o&#39;k&#34;&#60;/b&#62; &#38; co</span><time datetime="2024-12-07T19:33:20Z">2024-12-07 19:33 UTC</time><p class="message">line1
&#60;script&#62;x&#60;/script&#62;</p></li>"#
        ), "{html}");
        assert!(!html.contains("<script>x"));
        assert!(html.contains(r#"href="/?name=a%20b%26c">newer<"#), "{html}");
        assert!(
            html.contains(r#"href="/?name=a%20b%26c&#38;page=3""#),
            "{html}"
        );
        assert!(html.contains(r#"<form method="post" action="/entries""#));
        assert!(html.contains(r#"<textarea id="message" name="message""#));
        assert!(
            html.contains(r#"href="/static/style.css""#)
                && html.contains(r#"src="/static/app.js""#)
        );
        let first = Listing {
            name: None,
            page: 1,
            limit: 20,
        };
        let html = String::from_utf8(Page::of(&first, &[], false).bytes()).unwrap();
        assert!(!html.contains(">newer<") && !html.contains(">older<"));
    }

    #[test]
    fn json_bodies() {
        let e = entry(7, "a\"b", "c\nd");
        assert_eq!(
            String::from_utf8(entry_json(&e)).unwrap(),
            r#"{"id":7,"name":"a\"b","message":"c\nd","created":1733600000}"#
        );
        assert_eq!(
            String::from_utf8(entries_json(&[])).unwrap(),
            r#"{"entries":[]}"#
        );
        assert_eq!(
            String::from_utf8(error_json("x")).unwrap(),
            r#"{"error":"x"}"#
        );
    }
}
