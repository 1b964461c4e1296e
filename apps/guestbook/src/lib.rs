//! guestbook: a small web application as one oasis unikernel — the
//! library half, everything but the boot arguments and the sockets
//! (`src/main.rs`), so that it is tested on the host.
//!
//! What it is: a page of the latest entries with a form to add one, and the
//! same entries as a JSON API, exactly as [the specification](../README.md)
//! (`apps/guestbook/README.md`) says, which a PHP twin on Apache and MariaDB
//! (bench/lamp) follows too, so the two can be compared request for request.
//!
//! - [`entry`]: the stored [`Entry`] (oasis-store, `#[index]` on the name)
//!   and the validation both forms and JSON go through;
//! - [`book`]: the store with its **group commit** — posts from every
//!   connection queue for one writer task, which saves all that are waiting
//!   in one transaction and answers each only once that commit is durable —
//!   the queries (latest, pages, by name) and the cache of the first page
//!   and its JSON, dropped at each commit;
//! - [`render`]: the page (an askama template compiled at build time,
//!   HTML-escaping every value), the JSON bodies, dates;
//! - [`params`]: the query and form parameters, read strictly.
//!
//! Where the specification leaves room, this version does the following
//! (the PHP twin should do the same): trimming removes PHP `trim`'s set
//! (space, tab, newline, carriage return, NUL, vertical tab); an empty
//! `?name=` is no filter; a page past the last is empty (200); `page` is
//! at most 100,000,000; an id that is not a number is 404 like a missing
//! one; the content type of a JSON post is not checked; a refused form
//! shows the page with the error above the form, what was typed kept.
//! askama writes the escapes as `&#38; &#60; &#62; &#34; &#39;`.
//!
//! The static files (`static/`) are compiled into the image by `build.rs`
//! (oasis-assets-build: each with its gzip and brotli forms and ETags).
//!
//! Dependencies: `askama` (Jinja-like templates turned into Rust code by a
//! derive, so nothing is parsed at run time; `no_std` with `alloc`),
//! `serde_json` (the JSON API, as oasis-http's own `json`).
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod book;
pub mod entry;
pub mod params;
pub mod render;

pub use book::Book;
pub use entry::Entry;
