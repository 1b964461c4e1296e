//! When a secondary checks its primary (RFC 1034 §4.3.5, RFC 1996): the SOA
//! timers as a small state machine, with time passed in by the caller.

use crate::wire::Soa;
use core::time::Duration;

/// What a secondary should do about one zone, and when.
///
/// The caller owns the clock and the sockets: it asks [`Refresh::due`]
/// (or sleeps until [`Refresh::next_check`]), sends an SOA query, reports
/// the serial with [`Refresh::soa_answer`] (which says whether to transfer),
/// reports a loaded transfer with [`Refresh::loaded`] and failures with
/// [`Refresh::failed`], and stops answering once [`Refresh::expired`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refresh {
    serial: Option<u32>,
    refresh: Duration,
    retry: Duration,
    expire: Duration,
    next_check: Duration,
    expires_at: Option<Duration>,
}

/// Until the first transfer, how long to wait between failed attempts.
const FIRST_RETRY: Duration = Duration::from_secs(10);

impl Refresh {
    /// A zone not loaded yet: check at once.
    pub fn new(now: Duration) -> Refresh {
        Refresh {
            serial: None,
            refresh: FIRST_RETRY,
            retry: FIRST_RETRY,
            expire: Duration::MAX,
            next_check: now,
            expires_at: None,
        }
    }

    /// The serial loaded, if any.
    pub fn serial(&self) -> Option<u32> {
        self.serial
    }

    /// When the next SOA check is due.
    pub fn next_check(&self) -> Duration {
        self.next_check
    }

    /// True if an SOA check is due at `now`.
    pub fn due(&self, now: Duration) -> bool {
        now >= self.next_check
    }

    /// A NOTIFY for this zone arrived: check at once.
    pub fn notified(&mut self, now: Duration) {
        self.next_check = now;
    }

    /// The primary's SOA serial is `serial`: gives true if the zone should be
    /// transferred; otherwise the next check is a refresh interval away.
    pub fn soa_answer(&mut self, now: Duration, serial: u32) -> bool {
        match self.serial {
            Some(have) if !super::serial_newer(serial, have) => {
                self.next_check = now + self.refresh;
                // The primary still has this version: the data is fresh.
                self.expires_at = Some(now + self.expire);
                false
            }
            _ => true,
        }
    }

    /// A transfer with this SOA was loaded at `now`.
    pub fn loaded(&mut self, now: Duration, soa: &Soa) {
        self.serial = Some(soa.serial);
        self.refresh = Duration::from_secs(soa.refresh.into());
        self.retry = Duration::from_secs(soa.retry.into());
        self.expire = Duration::from_secs(soa.expire.into());
        self.next_check = now + self.refresh;
        self.expires_at = Some(now + self.expire);
    }

    /// The check or the transfer failed at `now`: try again after the retry interval.
    pub fn failed(&mut self, now: Duration) {
        self.next_check = now + self.retry;
    }

    /// True once the data is older than the SOA expire interval without a
    /// successful check: a secondary must stop answering for the zone.
    pub fn expired(&self, now: Duration) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Name;

    fn soa(serial: u32) -> Soa {
        Soa {
            mname: Name::root(),
            rname: Name::root(),
            serial,
            refresh: 100,
            retry: 10,
            expire: 1000,
            minimum: 5,
        }
    }
    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn refresh_retry_expire_and_notify() {
        let mut r = Refresh::new(s(0));
        assert!(r.due(s(0)));
        assert!(r.soa_answer(s(0), 5), "nothing loaded: transfer");
        r.loaded(s(1), &soa(5));
        assert_eq!(r.serial(), Some(5));
        assert!(!r.due(s(50)));
        assert!(r.due(s(101)));
        assert!(!r.soa_answer(s(101), 5), "same serial: no transfer");
        assert_eq!(r.next_check(), s(201));
        r.failed(s(201));
        assert_eq!(r.next_check(), s(211));
        assert!(!r.expired(s(1100)));
        assert!(r.expired(s(1101)), "1000 s after the last good check");
        r.notified(s(300));
        assert!(r.due(s(300)));
        assert!(r.soa_answer(s(300), 6), "newer serial: transfer");
        assert!(!r.soa_answer(s(300), 4), "older serial: keep");
    }
}
