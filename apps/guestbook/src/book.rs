//! The guestbook's store: entries in oasis-store, written by one writer
//! with group commit, read by the listings, with the default listing's page
//! and JSON cached until the next commit.
//!
//! **Group commit.** A post ([`Book::post`]) queues its entry and waits. The
//! writer task ([`Book::write_forever`]) wakes when the queue is no longer
//! empty and takes *everything* queued: ids in order, one transaction, one
//! durable commit (one append to the store's log and one flush), then each
//! waiting post gets its entry back and only then answers (303 or 201). The
//! executor is single-threaded and the commit blocks it, so posts that
//! arrive on other connections while a commit runs wait in their sockets;
//! the next round reads them all, each queues, and the writer — woken by the
//! first, polled after all of them — commits them together. So the number
//! of flushes follows the disk's speed, not the number of posts.
//!
//! Ids are 1, 2, 3… with no gap: the writer gives them out, and a batch
//! whose commit fails gives its ids back (and its posts get the error). At
//! start the next id follows the largest stored.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::poll_fn;
use core::task::{Poll, Waker};

use oasis_store::Store;

use crate::entry::Entry;
use crate::params::Listing;
use crate::render;

/// Posts committed together at most (the rest wait for the next commit).
pub const BATCH_MAX: usize = 512;

/// A post waiting for its commit.
struct Waiting {
    name: String,
    message: String,
    reply: Rc<Reply>,
}

/// Where the writer leaves a post's outcome.
#[derive(Default)]
struct Reply {
    outcome: RefCell<Option<Result<Entry, String>>>,
    waker: RefCell<Option<Waker>>,
}

/// What the writer did: commits and entries (entries / commits is the
/// mean batch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Durable commits made.
    pub commits: u64,
    /// Entries stored by them.
    pub entries: u64,
    /// The largest batch.
    pub largest: u64,
}

/// The guestbook: its store, its writer's queue, its caches.
pub struct Book {
    store: Store,
    /// The largest id committed (0: none).
    last: Cell<u64>,
    queue: RefCell<VecDeque<Waiting>>,
    writer: RefCell<Option<Waker>>,
    /// The default listing's page and JSON, until the next commit.
    page: RefCell<Option<Rc<[u8]>>>,
    json: RefCell<Option<Rc<[u8]>>>,
    stats: Cell<WriteStats>,
    /// Commits since the last checkpoint (in the store's log only).
    unchecked: Cell<u64>,
}

/// The store's error, as text.
fn text(e: oasis_store::Error) -> String {
    e.to_string()
}

impl Book {
    /// Opens (formatting a blank disk) the guestbook on `disk`.
    pub fn open<B: oasis::Block + Send + 'static>(disk: B) -> Result<Book, String> {
        let store = Store::builder()
            .record::<Entry>()
            .open(disk)
            .map_err(text)?;
        let last = store
            .query::<Entry>()
            .id()
            .desc()
            .first()
            .map_err(text)?
            .map_or(0, |e| e.id);
        Ok(Book {
            store,
            last: Cell::new(last),
            queue: RefCell::new(VecDeque::new()),
            writer: RefCell::new(None),
            page: RefCell::new(None),
            json: RefCell::new(None),
            stats: Cell::new(WriteStats::default()),
            unchecked: Cell::new(0),
        })
    }

    /// Entries stored (the largest id).
    pub fn len(&self) -> u64 {
        self.last.get()
    }

    /// Whether no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.last.get() == 0
    }

    /// What the writer did so far.
    pub fn stats(&self) -> WriteStats {
        self.stats.get()
    }

    /// Stores a new entry (`name` and `message` already cleaned) and
    /// returns it once its commit is durable; the error if that failed.
    pub async fn post(&self, name: String, message: String) -> Result<Entry, String> {
        let reply = Rc::new(Reply::default());
        self.queue.borrow_mut().push_back(Waiting {
            name,
            message,
            reply: reply.clone(),
        });
        if let Some(w) = self.writer.borrow_mut().take() {
            w.wake();
        }
        poll_fn(|cx| match reply.outcome.borrow_mut().take() {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                *reply.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Checkpoints the store when commits were made since the last one
    /// and none in the last `quiet`, forever (one task per book). A commit
    /// is durable in the store's log; a checkpoint moves the log into the
    /// tables, so a boot after a crash replays only what came since the
    /// last quiet moment rather than the whole log (a log of 300,000 posts
    /// took 1.8 s to replay at boot on kvm). Each costs one engine commit,
    /// at most once per `quiet`, only after posts.
    pub async fn checkpoint_when_quiet(self: Rc<Self>, quiet: oasis::Duration) {
        let mut seen = self.stats.get().commits;
        loop {
            oasis::sleep(quiet).await;
            let now = self.stats.get().commits;
            if now == seen && self.unchecked.get() > 0 && self.queue.borrow().is_empty() {
                match self.store.checkpoint() {
                    Ok(()) => self.unchecked.set(0),
                    Err(e) => oasis::log::warn!("guestbook: checkpoint: {e}"),
                }
            }
            seen = now;
        }
    }

    /// The writer: commits whatever is queued, batch after batch, forever
    /// (one task per book).
    pub async fn write_forever(self: Rc<Self>) {
        loop {
            poll_fn(|cx| {
                if self.queue.borrow().is_empty() {
                    *self.writer.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            self.commit_queued();
        }
    }

    /// Commits up to [`BATCH_MAX`] queued posts in one durable transaction
    /// and hands each its outcome.
    pub fn commit_queued(&self) {
        let batch: Vec<Waiting> = {
            let mut q = self.queue.borrow_mut();
            let n = q.len().min(BATCH_MAX);
            q.drain(..n).collect()
        };
        if batch.is_empty() {
            return;
        }
        let created = oasis::wall_clock_ns() / 1_000_000_000;
        let first = self.last.get() + 1;
        let mut replies = Vec::with_capacity(batch.len());
        let entries: Vec<Entry> = batch
            .into_iter()
            .zip(first..)
            .map(|(w, id)| {
                replies.push(w.reply);
                Entry {
                    id,
                    name: w.name,
                    message: w.message,
                    created,
                }
            })
            .collect();
        let done = self.store.write(|tx| {
            for e in &entries {
                tx.save(e)?;
            }
            Ok(())
        });
        let n = entries.len() as u64;
        match done {
            Ok(()) => {
                self.last.set(first + n - 1);
                self.page.borrow_mut().take();
                self.json.borrow_mut().take();
                let mut s = self.stats.get();
                s.commits += 1;
                s.entries += n;
                s.largest = s.largest.max(n);
                self.stats.set(s);
                self.unchecked.set(self.unchecked.get() + 1);
                for (e, r) in entries.into_iter().zip(replies) {
                    r.settle(Ok(e));
                }
            }
            Err(e) => {
                let why = alloc::format!("storing failed: {e}");
                oasis::log::error!("guestbook: {why}");
                for r in replies {
                    r.settle(Err(why.clone()));
                }
            }
        }
        // More than one batch was waiting: come back for the rest.
        if !self.queue.borrow().is_empty()
            && let Some(w) = self.writer.borrow_mut().take()
        {
            w.wake();
        }
    }

    /// The entries of `listing`, newest first, and whether older ones
    /// follow.
    pub fn list(&self, listing: &Listing) -> Result<(Vec<Entry>, bool), String> {
        let want = listing.limit + 1;
        let mut found = match &listing.name {
            // Ids have no gaps: the page starts at a known id.
            None => {
                let top = self.last.get().saturating_sub(listing.skip());
                if top == 0 {
                    return Ok((Vec::new(), false));
                }
                self.store
                    .query::<Entry>()
                    .id()
                    .le(top)
                    .id()
                    .desc()
                    .limit(want)
                    .fetch()
                    .map_err(text)?
            }
            // The name index holds name ++ id: read backwards, the newest
            // of a name come first.
            // (The entries skipped are read, not kept.)
            Some(name) => self
                .store
                .query::<Entry>()
                .name()
                .eq(name.as_str())
                .name()
                .desc()
                .skip(usize::try_from(listing.skip()).unwrap_or(usize::MAX))
                .limit(want)
                .fetch()
                .map_err(text)?,
        };
        let more = found.len() > listing.limit;
        found.truncate(listing.limit);
        Ok((found, more))
    }

    /// The entry `id`, if stored.
    pub fn get(&self, id: u64) -> Result<Option<Entry>, String> {
        if id == 0 || id > self.last.get() {
            return Ok(None);
        }
        self.store.get::<Entry>(id).map_err(text)
    }

    /// The page of `listing`, from the cache for the default listing.
    pub fn page(&self, listing: &Listing) -> Result<Rc<[u8]>, String> {
        self.cached(&self.page, listing, |entries, more| {
            render::Page::of(listing, entries, more).bytes()
        })
    }

    /// The JSON of `listing`, from the cache for the default listing.
    pub fn json(&self, listing: &Listing) -> Result<Rc<[u8]>, String> {
        self.cached(&self.json, listing, |entries, _| {
            render::entries_json(entries)
        })
    }

    fn cached(
        &self,
        slot: &RefCell<Option<Rc<[u8]>>>,
        listing: &Listing,
        make: impl FnOnce(&[Entry], bool) -> Vec<u8>,
    ) -> Result<Rc<[u8]>, String> {
        let default = listing.is_default();
        if default && let Some(b) = slot.borrow().as_ref() {
            return Ok(b.clone());
        }
        let (entries, more) = self.list(listing)?;
        let body: Rc<[u8]> = make(&entries, more).into();
        if default {
            *slot.borrow_mut() = Some(body.clone());
        }
        Ok(body)
    }
}

impl Reply {
    fn settle(&self, outcome: Result<Entry, String>) {
        *self.outcome.borrow_mut() = Some(outcome);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::listing;
    use alloc::{format, vec};
    use oasis_store::mem::MemBlock;

    fn block_on<F: core::future::Future>(f: F) -> F::Output {
        oasis_rt::platform::install(oasis_hosted::services());
        oasis_rt::exec::block_on(&oasis_hosted::reactor::Reactor::new().unwrap(), f)
    }

    fn ids(entries: &[Entry]) -> Vec<u64> {
        entries.iter().map(|e| e.id).collect()
    }

    #[test]
    fn posts_waiting_together_share_one_commit_and_get_ids_in_order() {
        let disk = MemBlock::new(512, 64 * 2048);
        let book = Rc::new(Book::open(disk.clone()).unwrap());
        block_on(async {
            oasis::spawn(book.clone().write_forever());
            // 30 posts queued before the writer runs: one commit.
            let posts: Vec<_> = (1..=30)
                .map(|i| {
                    let book = book.clone();
                    let name = if i % 2 == 0 { "even" } else { "odd" };
                    oasis::spawn(async move { book.post(name.into(), format!("m{i}")).await })
                })
                .collect();
            for (i, p) in posts.into_iter().enumerate() {
                let e = p.await.unwrap();
                assert_eq!((e.id, e.message), (i as u64 + 1, format!("m{}", i + 1)));
            }
            assert_eq!(
                book.stats(),
                WriteStats {
                    commits: 1,
                    entries: 30,
                    largest: 30
                }
            );
            // One more, alone: its own commit.
            let e = book.post("late".into(), "m31".into()).await.unwrap();
            assert_eq!(e.id, 31);
            assert_eq!(book.stats().commits, 2);
        });
        let l = |q: &str| listing(Some(q), true).unwrap();
        let (page, more) = book.list(&l("limit=10&page=2")).unwrap();
        assert_eq!((ids(&page), more), ((12..=21).rev().collect(), true));
        let (page, more) = book.list(&l("limit=10&page=4")).unwrap();
        assert_eq!((ids(&page), more), (vec![1], false));
        assert!(book.list(&l("page=9")).unwrap().0.is_empty());
        let (page, more) = book.list(&l("name=even&limit=4&page=2")).unwrap();
        assert_eq!((ids(&page), more), (vec![22, 20, 18, 16], true));
        let (page, more) = book.list(&l("name=odd&limit=5&page=3")).unwrap();
        assert_eq!((ids(&page), more), (vec![9, 7, 5, 3, 1], false));
        assert_eq!(book.get(31).unwrap().unwrap().name, "late");
        assert_eq!(book.get(32).unwrap(), None);
        assert_eq!(book.get(0).unwrap(), None);

        // Reopened: the next id follows the largest stored.
        drop(book);
        let book = Rc::new(Book::open(disk).unwrap());
        assert_eq!(book.len(), 31);
        block_on(async {
            oasis::spawn(book.clone().write_forever());
            assert_eq!(book.post("again".into(), "m".into()).await.unwrap().id, 32);
        });
    }

    #[test]
    fn the_default_listing_is_cached_until_the_next_commit() {
        let book = Rc::new(Book::open(MemBlock::new(512, 64 * 2048)).unwrap());
        let default = listing(None, false).unwrap();
        let first = book.json(&default).unwrap();
        assert_eq!(&first[..], br#"{"entries":[]}"#);
        assert!(
            Rc::ptr_eq(&first, &book.json(&default).unwrap()),
            "served from the cache"
        );
        let page = book.page(&default).unwrap();
        assert!(Rc::ptr_eq(&page, &book.page(&default).unwrap()));
        let other = listing(Some("page=2"), false).unwrap();
        assert!(!Rc::ptr_eq(
            &book.page(&other).unwrap(),
            &book.page(&other).unwrap()
        ));
        block_on(async {
            oasis::spawn(book.clone().write_forever());
            book.post("a".into(), "b".into()).await.unwrap();
        });
        let after = book.json(&default).unwrap();
        assert!(after.starts_with(br#"{"entries":[{"id":1,"name":"a","message":"b","#));
        assert!(String::from_utf8_lossy(&book.page(&default).unwrap()).contains(r#"id="entry-1""#));
    }
}
