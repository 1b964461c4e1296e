//! The driver's guard against spinning: an event loop never polls "again
//! now" forever. smoltcp names when it wants to be polled next; if it keeps
//! naming a moment that has already passed while nothing moves (no frame in
//! or out), that is a bug in the stack, not work. After [`SPIN_LIMIT`] such
//! steps in a row the guard stops believing it: it logs once, counts, and
//! puts the next poll a little later each time (up to [`MAX_BACKOFF_NS`]),
//! so a stuck timer costs a poll a second instead of a whole core — and the
//! guest keeps reaching its idle hypercall, where the monitor delivers
//! frames. Any frame moving, or a deadline in the future, resets it.

/// Unproductive "poll now" steps in a row before the guard steps in
/// (a step costs a microsecond or two, so this is a millisecond or so).
pub(crate) const SPIN_LIMIT: u32 = 1000;
/// First delay the guard imposes.
const FIRST_BACKOFF_NS: u64 = 10_000_000;
/// Longest delay the guard imposes between polls of a stuck stack.
pub(crate) const MAX_BACKOFF_NS: u64 = 1_000_000_000;

/// What the guard decided for one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Use the stack's deadline as it is.
    Trust,
    /// The stack is spinning: poll next at this moment instead. `first` is
    /// true the first time in this boot (log it then).
    BackOff { until: u64, first: bool },
}

/// Counts unproductive immediate polls.
#[derive(Debug, Default)]
pub(crate) struct SpinGuard {
    streak: u32,
    backoff_ns: u64,
    logged: bool,
}

impl SpinGuard {
    /// Judges the stack's `asked` deadline after a step at `now` that
    /// moved frames (`progressed`) or not.
    pub(crate) fn judge(&mut self, asked: Option<u64>, now: u64, progressed: bool) -> Verdict {
        let immediate = matches!(asked, Some(t) if t <= now);
        if !immediate || progressed {
            self.streak = 0;
            self.backoff_ns = FIRST_BACKOFF_NS;
            return Verdict::Trust;
        }
        self.streak = self.streak.saturating_add(1);
        if self.streak < SPIN_LIMIT {
            return Verdict::Trust;
        }
        let wait = self.backoff_ns.max(FIRST_BACKOFF_NS);
        self.backoff_ns = wait.saturating_mul(2).min(MAX_BACKOFF_NS);
        let first = !core::mem::replace(&mut self.logged, true);
        Verdict::BackOff {
            until: now.saturating_add(wait),
            first,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusts_future_deadlines_and_progress() {
        let mut g = SpinGuard::default();
        for i in 0..10 * SPIN_LIMIT {
            let now = u64::from(i);
            assert_eq!(g.judge(Some(now + 5), now, false), Verdict::Trust);
            assert_eq!(g.judge(None, now, false), Verdict::Trust);
            assert_eq!(g.judge(Some(0), now, true), Verdict::Trust);
        }
    }

    #[test]
    fn backs_off_a_stuck_deadline_and_logs_once() {
        let mut g = SpinGuard::default();
        let mut now = 100;
        for _ in 1..SPIN_LIMIT {
            assert_eq!(g.judge(Some(50), now, false), Verdict::Trust);
        }
        let mut waits = alloc::vec::Vec::new();
        for i in 0..20 {
            match g.judge(Some(50), now, false) {
                Verdict::BackOff { until, first } => {
                    assert_eq!(first, i == 0);
                    assert!(until > now);
                    waits.push(until - now);
                    now = until;
                }
                Verdict::Trust => panic!("trusted a stuck deadline"),
            }
        }
        assert_eq!(waits[0], FIRST_BACKOFF_NS);
        assert_eq!(*waits.last().unwrap(), MAX_BACKOFF_NS);
        assert!(waits.windows(2).all(|w| w[1] >= w[0]));
        // Progress resets it: the next stall starts over, without a new log.
        assert_eq!(g.judge(Some(50), now, true), Verdict::Trust);
        for _ in 1..SPIN_LIMIT {
            assert_eq!(g.judge(Some(50), now, false), Verdict::Trust);
        }
        assert_eq!(
            g.judge(Some(50), now, false),
            Verdict::BackOff {
                until: now + FIRST_BACKOFF_NS,
                first: false
            }
        );
    }
}
