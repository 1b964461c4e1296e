//! Executor tests on a virtual-time platform: `wait` jumps the clock to the
//! deadline, or delivers pending device input, so every test is exact.

extern crate std;

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::{pending, poll_fn};
use core::task::{Poll, Waker};
use std::time::Duration;

use crate::exec::{block_on, block_on_stats, current, spawn, starting};
use crate::future::{Either, join, select};
use crate::platform::Platform;
use crate::time::{Elapsed, Instant, sleep, timeout};

/// A device whose input arrives when the platform next waits.
#[derive(Default)]
struct FakeDevice {
    pending: Cell<u32>,
    delivered: Cell<u32>,
    waiter: RefCell<Option<Waker>>,
}

impl FakeDevice {
    /// Ready once input was delivered; consumes one unit of input.
    async fn next_input(&self) {
        poll_fn(|cx| {
            if self.delivered.get() > 0 {
                self.delivered.set(self.delivered.get() - 1);
                Poll::Ready(())
            } else {
                *self.waiter.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

#[derive(Default)]
struct VirtualTime {
    now: Cell<u64>,
    waits: RefCell<Vec<Option<u64>>>,
    device: FakeDevice,
    /// The virtual time of each `serving` call.
    served: RefCell<Vec<u64>>,
}

impl Platform for VirtualTime {
    fn now(&self) -> u64 {
        self.now.get()
    }
    fn wait(&self, deadline: Option<u64>) {
        self.waits.borrow_mut().push(deadline);
        let d = &self.device;
        if d.pending.get() > 0 {
            // Input arrives 1 µs into the wait, before any timer.
            self.now.set(self.now.get() + 1_000);
            d.pending.set(d.pending.get() - 1);
            d.delivered.set(d.delivered.get() + 1);
            if let Some(w) = d.waiter.borrow_mut().take() {
                w.wake();
            }
        } else if let Some(deadline) = deadline {
            self.now.set(self.now.get().max(deadline));
        } else {
            panic!("executor waited forever with no timer and no input: deadlock");
        }
    }
    fn serving(&self) {
        self.served.borrow_mut().push(self.now.get());
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Drop guard: records that a future was dropped (cancelled).
struct Dropped(Rc<Cell<bool>>);
impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn tasks_run_in_spawn_order_and_join_returns_their_output() {
    let p = VirtualTime::default();
    let log = Rc::new(RefCell::new(Vec::new()));
    let out = block_on(&p, {
        let log = log.clone();
        async move {
            let handles: Vec<_> = (0..5)
                .map(|i| {
                    let log = log.clone();
                    spawn(async move {
                        log.borrow_mut().push(i);
                        i * 10
                    })
                })
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await;
            }
            sum
        }
    });
    assert_eq!(out, 100);
    assert_eq!(*log.borrow(), vec![0, 1, 2, 3, 4]);
    assert!(
        p.waits.borrow().is_empty(),
        "nothing slept, so nothing waited"
    );
}

#[test]
fn timers_fire_in_deadline_order_at_their_deadlines() {
    let p = VirtualTime::default();
    let fired = Rc::new(RefCell::new(Vec::new()));
    block_on(&p, {
        let fired = fired.clone();
        async move {
            let mut hs = Vec::new();
            for d in [30u64, 10, 20, 10, 5] {
                let fired = fired.clone();
                hs.push(spawn(async move {
                    sleep(ms(d)).await;
                    fired.borrow_mut().push((d, Instant::now().as_nanos()));
                }));
            }
            for h in hs {
                h.await;
            }
        }
    });
    let fired = fired.borrow();
    let order: Vec<u64> = fired.iter().map(|f| f.0).collect();
    assert_eq!(order, [5, 10, 10, 20, 30]);
    for (d, at) in fired.iter() {
        assert_eq!(*at, d * 1_000_000, "timer {d} ms fired at its deadline");
    }
    // One wait per distinct deadline: the executor slept, it did not spin.
    assert_eq!(
        *p.waits.borrow(),
        [
            Some(5_000_000),
            Some(10_000_000),
            Some(20_000_000),
            Some(30_000_000)
        ]
    );
}

#[test]
fn device_input_wakes_the_waiting_task() {
    let p = VirtualTime::default();
    p.device.pending.set(3);
    let got = block_on(&p, async {
        let mut n = 0;
        for _ in 0..3 {
            p.device.next_input().await;
            n += 1;
        }
        n
    });
    assert_eq!(got, 3);
    // No timer was pending, so each wait was "until input" (no deadline).
    assert_eq!(*p.waits.borrow(), [None, None, None]);
}

#[test]
fn input_wakes_a_task_while_another_sleeps() {
    let p = VirtualTime::default();
    p.device.pending.set(1);
    let order = Rc::new(RefCell::new(Vec::new()));
    block_on(&p, {
        let order = order.clone();
        let dev = &p.device;
        async move {
            let o = order.clone();
            let sleeper = spawn(async move {
                sleep(ms(50)).await;
                o.borrow_mut().push("timer");
            });
            dev.next_input().await;
            order.borrow_mut().push("input");
            sleeper.await;
        }
    });
    assert_eq!(*order.borrow(), ["input", "timer"]);
    assert_eq!(
        p.waits.borrow()[0],
        Some(50_000_000),
        "waited with the timer's deadline"
    );
}

#[test]
fn select_returns_the_first_and_cancels_the_loser() {
    let p = VirtualTime::default();
    let loser_dropped = Rc::new(Cell::new(false));
    let r = block_on(&p, {
        let flag = loser_dropped.clone();
        async move {
            let slow = async move {
                let _guard = Dropped(flag);
                sleep(ms(20)).await;
                "slow"
            };
            let fast = async {
                sleep(ms(10)).await;
                "fast"
            };
            let r = select(slow, fast).await;
            // The loser's timer is gone: nothing is pending any more.
            assert_eq!(current().unwrap().pending_timers(), 0);
            r
        }
    });
    assert_eq!(r, Either::Right("fast"));
    assert!(loser_dropped.get(), "the losing future was dropped");
    assert_eq!(
        p.now.get(),
        10_000_000,
        "the clock never reached the loser's deadline"
    );
}

#[test]
fn timeout_cancels_a_future_that_never_completes() {
    let p = VirtualTime::default();
    let dropped = Rc::new(Cell::new(false));
    let r = block_on(&p, {
        let flag = dropped.clone();
        async move {
            timeout(ms(15), async move {
                let _guard = Dropped(flag);
                pending::<()>().await
            })
            .await
        }
    });
    assert_eq!(r, Err(Elapsed));
    assert!(dropped.get());
    assert_eq!(p.now.get(), 15_000_000);
}

#[test]
fn timeout_passes_through_a_result_in_time_and_drops_its_timer() {
    let p = VirtualTime::default();
    let r = block_on(&p, async {
        let r = timeout(ms(100), async {
            sleep(ms(5)).await;
            7
        })
        .await;
        assert_eq!(current().unwrap().pending_timers(), 0);
        r
    });
    assert_eq!(r, Ok(7));
    assert_eq!(p.now.get(), 5_000_000);
}

#[test]
fn join_runs_both_concurrently() {
    let p = VirtualTime::default();
    let (a, b) = block_on(
        &p,
        join(
            async {
                sleep(ms(30)).await;
                1
            },
            async {
                sleep(ms(20)).await;
                2
            },
        ),
    );
    assert_eq!((a, b), (1, 2));
    assert_eq!(p.now.get(), 30_000_000, "concurrent: 30 ms, not 50");
}

#[test]
fn tasks_left_running_are_dropped_when_main_returns() {
    let p = VirtualTime::default();
    let dropped = Rc::new(Cell::new(false));
    let ((), stats) = block_on_stats(&p, {
        let flag = dropped.clone();
        async move {
            spawn(async move {
                let _guard = Dropped(flag);
                sleep(ms(1_000)).await;
            });
            sleep(ms(1)).await;
        }
    });
    assert!(dropped.get());
    assert_eq!(stats.waits, 1);
}

#[test]
fn a_thousand_sleepers_cost_one_wait_per_deadline() {
    let p = VirtualTime::default();
    let ((), stats) = block_on_stats(&p, async {
        let hs: Vec<_> = (0..1000u64).map(|i| spawn(sleep(ms(1 + i % 10)))).collect();
        for h in hs {
            h.await;
        }
    });
    assert_eq!(stats.waits, 10);
    assert_eq!(p.now.get(), 10_000_000);
}

#[test]
fn a_task_dropped_at_exit_may_spawn_from_its_destructor() {
    struct SpawnOnDrop;
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            spawn(async {});
        }
    }
    let p = VirtualTime::default();
    block_on(&p, async {
        spawn(async {
            let _g = SpawnOnDrop;
            pending::<()>().await
        });
        crate::exec::yield_now().await;
    });
}

#[test]
fn the_application_is_serving_at_the_first_idle_and_only_once() {
    // Work that never waits is not "serving": nothing idled.
    let p = VirtualTime::default();
    block_on(&p, async {});
    assert_eq!(*p.served.borrow(), []);
    // Both branches wait (one for a timer, one for input): serving at time
    // 0, before the first wait, and never again.
    let p = VirtualTime::default();
    p.device.pending.set(2);
    let device = &p.device;
    block_on(
        &p,
        join(sleep(ms(10)), async {
            device.next_input().await;
            device.next_input().await;
        }),
    );
    assert_eq!(*p.served.borrow(), [0]);
    assert!(p.waits.borrow().len() >= 3, "{:?}", p.waits.borrow());
}

#[test]
fn a_starting_guard_holds_serving_back_until_it_is_dropped() {
    let p = VirtualTime::default();
    block_on(&p, async {
        let held = starting();
        // Idle twice with the guard held: not serving yet.
        sleep(ms(5)).await;
        sleep(ms(5)).await;
        drop(held);
        sleep(ms(5)).await;
        sleep(ms(5)).await;
    });
    assert_eq!(*p.served.borrow(), [10_000_000]);
    // Outside an executor a guard holds nothing and dropping it is harmless.
    drop(starting());
}
