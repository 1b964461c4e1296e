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
