//! Time: monotonic instants, `sleep` and `timeout` on the executor's timer map.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
pub use core::time::Duration;

use crate::exec::{TimerKey, current};
use crate::future::{Either, select};

/// A point on the monotonic clock, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// Now, from the running executor's platform (or the installed clock
    /// outside an executor).
    pub fn now() -> Instant {
        Instant(match current() {
            Some(core) => core.now(),
            None => crate::platform::clock().monotonic_ns(),
        })
    }

    /// An instant from raw monotonic nanoseconds.
    pub const fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    /// Monotonic nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub fn duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// Time elapsed since this instant.
    pub fn elapsed(self) -> Duration {
        Instant::now().duration_since(self)
    }

    /// This instant plus `d`, saturating at the end of time.
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

/// Completes once the monotonic clock reaches its deadline. Dropping it
/// cancels the timer.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Deadline,
    key: Option<TimerKey>,
}

/// When a sleep ends: a duration is turned into an instant at the first poll,
/// so a `Sleep` can be built before the executor (and its clock) runs.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    After(Duration),
    At(u64),
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let core = current().expect("oasis: sleep outside an executor");
        let now = core.now();
        let deadline = match self.deadline {
            Deadline::At(at) => at,
            Deadline::After(d) => {
                let at = Instant(now).saturating_add(d).0;
                self.deadline = Deadline::At(at);
                at
            }
        };
        if now >= deadline {
            if let Some(key) = self.key.take() {
                core.remove_timer(key);
            }
            return Poll::Ready(());
        }
        match self.key {
            Some(key) => core.update_timer(key, cx.waker()),
            None => self.key = Some(core.add_timer(deadline, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(key), Some(core)) = (self.key, current()) {
            core.remove_timer(key);
        }
    }
}

/// Sleeps until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline: Deadline::At(deadline.0),
        key: None,
    }
}

/// Sleeps for `d`, counted from the first poll.
pub fn sleep(d: Duration) -> Sleep {
    Sleep {
        deadline: Deadline::After(d),
        key: None,
    }
}

/// The deadline of a [`timeout`] passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl core::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("timed out")
    }
}

impl core::error::Error for Elapsed {}

/// Runs `future` for at most `d`; on expiry the future is dropped (cancelled).
pub async fn timeout<F: Future>(d: Duration, future: F) -> Result<F::Output, Elapsed> {
    match select(future, sleep(d)).await {
        Either::Left(v) => Ok(v),
        Either::Right(()) => Err(Elapsed),
    }
}
