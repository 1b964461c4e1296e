//! A TCP server's connections under pressure, shared by the protocol
//! servers above the stacks (DNS over TCP, HTTP): at most `max` at once and
//! `per_client` from one address; a connection waiting for its next request
//! (or holding only part of one) is idle, and when a new connection needs
//! room the one idle longest — from the same client first — is closed. With
//! more than half of `max` open, an idle connection is kept `busy_idle`
//! instead of `idle`. So a crowd of idle or half-sent connections cannot
//! deny service to the clients that ask real questions; only when every
//! connection is busy is a new one refused (RFC 7766 §6.2.3 for DNS, and
//! what NSD, Knot and nginx do). A connection just accepted counts as idle
//! from then (the server lets its task read the request it may already
//! hold before the next connection is admitted); in a flood of new
//! connections from one address, one whose request had not arrived yet can
//! still be closed, and its client retries.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::poll_fn;
use core::net::IpAddr;
use core::task::{Poll, Waker};

use oasis::{Duration, Instant};

/// Limits on a server's TCP connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections open at once at most.
    pub max: usize,
    /// Connections from one address at most.
    pub per_client: usize,
    /// How long an idle connection is kept.
    pub idle: Duration,
    /// How long an idle connection is kept while more than half of `max`
    /// are open.
    pub busy_idle: Duration,
}

impl Default for TcpLimits {
    /// 256 connections, 64 per client, 10 s idle, 500 ms when busy.
    fn default() -> TcpLimits {
        TcpLimits {
            max: 256,
            per_client: 64,
            idle: Duration::from_secs(10),
            busy_idle: Duration::from_millis(500),
        }
    }
}

/// What the connection table counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpCounts {
    /// Connections open now.
    pub open: usize,
    /// Connections admitted, in all.
    pub admitted: u64,
    /// Idle connections closed to make room for a new one.
    pub evicted: u64,
    /// New connections refused: no room, and none idle to close.
    pub refused: u64,
}

/// One open connection, as the table sees it.
struct Open {
    id: u64,
    peer: IpAddr,
    /// Since when it has waited for a request; `None` while it is answered.
    idle_since: Option<Instant>,
    closer: Rc<Closer>,
}

/// The signal that tells a connection's task to close.
#[derive(Default)]
pub struct Closer {
    closed: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Closer {
    fn close(&self) {
        self.closed.set(true);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Completes once the table closed the connection.
    pub async fn closed(&self) {
        poll_fn(|cx| {
            if self.closed.get() {
                Poll::Ready(())
            } else {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// The open connections of one server.
pub struct Conns {
    limits: TcpLimits,
    open: RefCell<Vec<Open>>,
    next_id: Cell<u64>,
    counts: Cell<TcpCounts>,
}

/// A connection's place in the table, given up when dropped.
pub struct Ticket {
    conns: Rc<Conns>,
    id: u64,
    /// Tells the connection's task when the table closed it.
    pub closer: Rc<Closer>,
}

impl Conns {
    /// An empty table with `limits`.
    pub fn new(limits: TcpLimits) -> Rc<Conns> {
        Rc::new(Conns {
            limits,
            open: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
            counts: Cell::new(TcpCounts::default()),
        })
    }

    /// What the table counted so far, and how many are open now.
    pub fn counts(&self) -> TcpCounts {
        TcpCounts {
            open: self.open.borrow().len(),
            ..self.counts.get()
        }
    }

    fn count(&self, f: impl FnOnce(&mut TcpCounts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    /// Admits a connection from `peer`, closing an idle one to make room
    /// if it must; `None` if there is no room and none is idle.
    pub fn admit(self: &Rc<Conns>, peer: IpAddr) -> Option<Ticket> {
        let mut open = self.open.borrow_mut();
        let from_peer = open.iter().filter(|o| o.peer == peer).count();
        if from_peer >= self.limits.per_client.max(1) {
            if !Self::evict_oldest_idle(&mut open, Some(peer)) {
                drop(open);
                self.count(|c| c.refused += 1);
                return None;
            }
            self.count(|c| c.evicted += 1);
        } else if open.len() >= self.limits.max.max(1) {
            if !Self::evict_oldest_idle(&mut open, None) {
                drop(open);
                self.count(|c| c.refused += 1);
                return None;
            }
            self.count(|c| c.evicted += 1);
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let closer = Rc::new(Closer::default());
        open.push(Open {
            id,
            peer,
            // A new connection waits for its first request.
            idle_since: Some(Instant::now()),
            closer: closer.clone(),
        });
        drop(open);
        self.count(|c| c.admitted += 1);
        Some(Ticket {
            conns: self.clone(),
            id,
            closer,
        })
    }

    /// Closes the connection (of `peer`, if given) idle the longest and
    /// takes it out of the table; false if none is idle.
    fn evict_oldest_idle(open: &mut Vec<Open>, peer: Option<IpAddr>) -> bool {
        let oldest = open
            .iter()
            .enumerate()
            .filter(|(_, o)| peer.is_none_or(|p| o.peer == p))
            .filter_map(|(i, o)| o.idle_since.map(|t| (i, t)))
            .min_by_key(|&(_, t)| t);
        let Some((i, _)) = oldest else {
            return false;
        };
        open.swap_remove(i).closer.close();
        true
    }

    /// How long an idle connection is kept now.
    pub fn idle_timeout(&self) -> Duration {
        if self.open.borrow().len() * 2 > self.limits.max {
            self.limits.busy_idle.min(self.limits.idle)
        } else {
            self.limits.idle
        }
    }
}

impl Ticket {
    /// The connection answers a request now (not idle).
    pub fn busy(&self) {
        self.set_idle(None);
    }

    /// The connection waits for its next request from now on.
    pub fn idle(&self) {
        self.set_idle(Some(Instant::now()));
    }

    fn set_idle(&self, since: Option<Instant>) {
        if let Some(o) = self
            .conns
            .open
            .borrow_mut()
            .iter_mut()
            .find(|o| o.id == self.id)
        {
            o.idle_since = since;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.conns.open.borrow_mut();
        if let Some(i) = open.iter().position(|o| o.id == self.id) {
            open.swap_remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn table(max: usize, per_client: usize) -> Rc<Conns> {
        oasis::rt::platform::install(oasis_hosted::services());
        Conns::new(TcpLimits {
            max,
            per_client,
            ..TcpLimits::default()
        })
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_full_table_closes_the_connection_idle_longest() {
        let t = table(3, 3);
        let a = t.admit(ip(1)).unwrap();
        let b = t.admit(ip(2)).unwrap();
        let c = t.admit(ip(3)).unwrap();
        a.busy();
        c.busy();
        // Only b is idle: it makes room, and learns it was closed.
        let d = t.admit(ip(4)).unwrap();
        assert!(b.closer.closed.get() && !a.closer.closed.get() && !c.closer.closed.get());
        // Nothing idle now but d (idle since admitted): d goes next.
        let e = t.admit(ip(5)).unwrap();
        assert!(d.closer.closed.get());
        e.busy();
        a.idle();
        c.idle();
        // Of a and c, a has waited longer: a goes.
        let _f = t.admit(ip(6)).unwrap();
        assert!(a.closer.closed.get() && !c.closer.closed.get());
        let counts = t.counts();
        assert_eq!(
            (counts.open, counts.admitted, counts.evicted, counts.refused),
            (3, 6, 3, 0)
        );
    }

    #[test]
    fn with_nothing_idle_a_new_connection_is_refused_and_a_closed_one_frees_its_place() {
        let t = table(2, 2);
        let a = t.admit(ip(1)).unwrap();
        let b = t.admit(ip(1)).unwrap();
        a.busy();
        b.busy();
        assert!(t.admit(ip(2)).is_none());
        assert_eq!(t.counts().refused, 1);
        drop(a);
        assert_eq!(t.counts().open, 1);
        assert!(t.admit(ip(2)).is_some());
    }

    #[test]
    fn one_client_makes_room_among_its_own_connections_first() {
        let t = table(10, 2);
        let other = t.admit(ip(9)).unwrap(); // idle longest of all
        let a = t.admit(ip(1)).unwrap();
        let b = t.admit(ip(1)).unwrap();
        b.busy();
        let _c = t.admit(ip(1)).unwrap();
        assert!(
            a.closer.closed.get(),
            "the client's own idle connection goes"
        );
        assert!(!other.closer.closed.get(), "not another client's");
    }

    #[test]
    fn idle_connections_are_kept_briefly_once_half_the_table_is_used() {
        let t = table(4, 4);
        let _a = t.admit(ip(1)).unwrap();
        let _b = t.admit(ip(2)).unwrap();
        assert_eq!(t.idle_timeout(), Duration::from_secs(10));
        let _c = t.admit(ip(3)).unwrap();
        assert_eq!(t.idle_timeout(), Duration::from_millis(500));
    }
}
