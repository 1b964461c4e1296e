//! The executor (ARCHITECTURE.md §2): one thread, cooperative, non-`Send` tasks.
//!
//! It polls tasks that were woken, fires expired timers, and when nothing is
//! ready asks the [`Platform`] to wait until the next deadline or device
//! input. It never spins: with no ready task it always ends up in
//! [`Platform::wait`].
//!
//! The first time it goes idle, it tells the platform the application is
//! serving ([`Platform::serving`]): by then `main` and every task it
//! spawned have done all they could without waiting — bound their sockets,
//! loaded their data — and wait for input or a timer. A library whose
//! service is not up yet at that point (a network stack still waiting for
//! its address) holds the news back with a [`Starting`] guard.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

use crate::platform::Platform;

/// Task id of the future given to [`block_on`] itself.
const MAIN: usize = usize::MAX;

type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

/// The queue of woken task ids, shared with the wakers.
#[derive(Default)]
struct ReadyQueue(spin::Mutex<VecDeque<usize>>);

/// A task's waker: queues the task id once until it is polled again.
struct TaskWaker {
    id: usize,
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.ready.0.lock().push_back(self.id);
        }
    }
}

struct Task {
    future: Option<LocalFuture>,
    waker: Arc<TaskWaker>,
}

/// Key of a pending timer: deadline first, so the map is ordered by expiry.
pub(crate) type TimerKey = (u64, u64);

/// The state of one running executor, reachable from tasks through [`current`].
pub(crate) struct Core {
    platform: *const (dyn Platform + 'static),
    tasks: RefCell<Vec<Option<Task>>>,
    free: RefCell<Vec<usize>>,
    timers: RefCell<BTreeMap<TimerKey, Waker>>,
    timer_seq: Cell<u64>,
    ready: Arc<ReadyQueue>,
    polls: Cell<u64>,
    waits: Cell<u64>,
    /// [`Starting`] guards alive; shared with them, which may outlive the core.
    starting: Rc<Cell<usize>>,
    /// Whether the platform has been told the application is serving.
    served: Cell<bool>,
}

/// Holds back the executor's news that the application is serving
/// ([`Platform::serving`]) while it lives: a library takes one while its
/// service cannot work yet although every task waits (a network stack
/// waiting for its DHCP lease) and drops it when the service is up.
/// Outside an executor it holds nothing.
pub struct Starting(Option<Rc<Cell<usize>>>);

/// A [`Starting`] guard on the running executor.
pub fn starting() -> Starting {
    Starting(current().map(|core| {
        core.starting.set(core.starting.get() + 1);
        core.starting.clone()
    }))
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(count) = &self.0 {
            count.set(count.get() - 1);
        }
    }
}

impl Core {
    pub(crate) fn now(&self) -> u64 {
        // SAFETY: `platform` outlives the `block_on` call that owns this core,
        // and `current` only hands out the core while that call runs.
        unsafe { (*self.platform).now() }
    }

    pub(crate) fn add_timer(&self, deadline: u64, waker: Waker) -> TimerKey {
        let seq = self.timer_seq.get();
        self.timer_seq.set(seq + 1);
        let key = (deadline, seq);
        self.timers.borrow_mut().insert(key, waker);
        key
    }

    pub(crate) fn update_timer(&self, key: TimerKey, waker: &Waker) {
        if let Some(w) = self.timers.borrow_mut().get_mut(&key)
            && !w.will_wake(waker)
        {
            *w = waker.clone();
        }
    }

    /// Timers currently registered (for tests: a cancelled sleep leaves none).
    #[cfg(test)]
    pub(crate) fn pending_timers(&self) -> usize {
        self.timers.borrow().len()
    }

    pub(crate) fn remove_timer(&self, key: TimerKey) {
        self.timers.borrow_mut().remove(&key);
    }

    fn spawn_local(&self, future: LocalFuture) {
        let id = match self.free.borrow_mut().pop() {
            Some(id) => id,
            None => {
                let mut tasks = self.tasks.borrow_mut();
                tasks.push(None);
                tasks.len() - 1
            }
        };
        let waker = Arc::new(TaskWaker {
            id,
            queued: AtomicBool::new(false),
            ready: self.ready.clone(),
        });
        waker.wake_by_ref();
        self.tasks.borrow_mut()[id] = Some(Task {
            future: Some(future),
            waker,
        });
    }

    /// Polls task `id` once, if it still exists.
    fn poll_task(&self, id: usize) {
        // Take the future out while polling, so that the task may spawn.
        let (mut future, waker) = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(Some(task)) = tasks.get_mut(id) else {
                return;
            };
            let Some(future) = task.future.take() else {
                return;
            };
            task.waker.queued.store(false, Ordering::Release);
            (future, Waker::from(task.waker.clone()))
        };
        self.polls.set(self.polls.get() + 1);
        let done = future
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready();
        let mut tasks = self.tasks.borrow_mut();
        if done {
            tasks[id] = None;
            drop(tasks);
            self.free.borrow_mut().push(id);
        } else if let Some(Some(task)) = tasks.get_mut(id) {
            task.future = Some(future);
        }
    }

    /// Wakes every timer whose deadline has passed; returns the next deadline.
    fn fire_timers(&self) -> Option<u64> {
        let now = self.now();
        loop {
            let mut timers = self.timers.borrow_mut();
            let entry = timers.first_entry()?;
            if entry.key().0 > now {
                return Some(entry.key().0);
            }
            let waker = entry.remove();
            drop(timers);
            waker.wake();
        }
    }

    fn pop_ready(&self) -> Option<usize> {
        self.ready.0.lock().pop_front()
    }
}

#[cfg(any(test, feature = "std"))]
mod current_slot {
    extern crate std;
    use super::Core;
    use core::cell::Cell;
    std::thread_local! {
        static CURRENT: Cell<*const Core> = const { Cell::new(core::ptr::null()) };
    }
    pub(super) fn get() -> *const Core {
        CURRENT.with(|c| c.get())
    }
    pub(super) fn set(core: *const Core) -> *const Core {
        CURRENT.with(|c| c.replace(core))
    }
}

#[cfg(not(any(test, feature = "std")))]
mod current_slot {
    use super::Core;
    use core::cell::Cell;
    /// Bare metal has one core and one thread: a plain static is the "thread-local".
    struct Slot(Cell<*const Core>);
    // SAFETY: only used on single-threaded bare-metal targets.
    unsafe impl Sync for Slot {}
    static CURRENT: Slot = Slot(Cell::new(core::ptr::null()));
    pub(super) fn get() -> *const Core {
        CURRENT.0.get()
    }
    pub(super) fn set(core: *const Core) -> *const Core {
        CURRENT.0.replace(core)
    }
}

/// The executor running on this thread, if any.
pub(crate) fn current() -> Option<&'static Core> {
    let ptr = current_slot::get();
    // SAFETY: the pointer is set only for the duration of `block_on`, which
    // owns the core; tasks and timers run strictly inside that call.
    (!ptr.is_null()).then(|| unsafe { &*ptr })
}

fn expect_current() -> &'static Core {
    current().expect("oasis: no executor is running (call from inside the application)")
}

/// Restores the previously current executor when `block_on` returns or unwinds.
struct CurrentGuard(*const Core);

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        current_slot::set(self.0);
    }
}

/// What an executor did, for tests and for the stats line at exit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Task polls, the main future included.
    pub polls: u64,
    /// Calls to [`Platform::wait`].
    pub waits: u64,
}

/// Runs `future` to completion on `platform`, together with every task it
/// spawns. Tasks still running when `future` completes are dropped.
pub fn block_on<P: Platform, F: Future>(platform: &P, future: F) -> F::Output {
    block_on_stats(platform, future).0
}

/// [`block_on`], also returning what the executor did.
pub fn block_on_stats<P: Platform, F: Future>(platform: &P, future: F) -> (F::Output, Stats) {
    let platform: &dyn Platform = platform;
    // SAFETY: erasing the lifetime is sound because the core (and every
    // pointer to the platform it hands out) dies before this call returns.
    let platform: *const (dyn Platform + 'static) = unsafe { core::mem::transmute(platform) };
    let ready = Arc::new(ReadyQueue::default());
    let core = Core {
        platform,
        tasks: RefCell::new(Vec::new()),
        free: RefCell::new(Vec::new()),
        timers: RefCell::new(BTreeMap::new()),
        timer_seq: Cell::new(0),
        ready: ready.clone(),
        polls: Cell::new(0),
        waits: Cell::new(0),
        starting: Rc::new(Cell::new(0)),
        served: Cell::new(false),
    };
    let main_waker = Arc::new(TaskWaker {
        id: MAIN,
        queued: AtomicBool::new(true),
        ready,
    });
    let waker = Waker::from(main_waker.clone());
    let _guard = CurrentGuard(current_slot::set(&core));
    let mut future = core::pin::pin!(future);
    let output = loop {
        if main_waker.queued.swap(false, Ordering::AcqRel) {
            core.polls.set(core.polls.get() + 1);
            if let Poll::Ready(v) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
                break v;
            }
        }
        // Poll what is ready now; tasks woken meanwhile wait for the next round,
        // so that timers and devices are never starved.
        let round = core.ready.0.lock().len();
        for _ in 0..round {
            match core.pop_ready() {
                Some(MAIN) => main_waker.queued.store(true, Ordering::Release),
                Some(id) => core.poll_task(id),
                None => break,
            }
        }
        let next = core.fire_timers();
        if main_waker.queued.load(Ordering::Acquire) || !core.ready.0.lock().is_empty() {
            continue;
        }
        if !core.served.get() && core.starting.get() == 0 {
            core.served.set(true);
            // SAFETY: see `Core::now`.
            unsafe { (*core.platform).serving() };
        }
        core.waits.set(core.waits.get() + 1);
        // SAFETY: see `Core::now`.
        unsafe { (*core.platform).wait(next) };
        core.fire_timers();
    };
    let stats = Stats {
        polls: core.polls.get(),
        waits: core.waits.get(),
    };
    // Drop the remaining tasks while the executor is still current, so that
    // their destructors (timers, sockets) can reach it.
    // Take the list first: a destructor may itself spawn or drop tasks.
    let tasks = core::mem::take(&mut *core.tasks.borrow_mut());
    drop(tasks);
    (output, stats)
}

/// The result slot shared by a spawned task and its [`JoinHandle`].
struct JoinState<T> {
    output: Option<T>,
    waiter: Option<Waker>,
}

/// Awaits the output of a task started with [`spawn`]. Dropping the handle
/// detaches the task; it keeps running.
pub struct JoinHandle<T> {
    state: Rc<RefCell<JoinState<T>>>,
}

impl<T> Future for JoinHandle<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.state.borrow_mut();
        match state.output.take() {
            Some(v) => Poll::Ready(v),
            None => {
                state.waiter = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Starts `future` as a task on the current executor. The task need not be
/// `Send`. Panics outside an executor.
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let state = Rc::new(RefCell::new(JoinState {
        output: None,
        waiter: None,
    }));
    let slot = state.clone();
    expect_current().spawn_local(Box::pin(async move {
        let output = future.await;
        let waiter = {
            let mut slot = slot.borrow_mut();
            slot.output = Some(output);
            slot.waiter.take()
        };
        if let Some(w) = waiter {
            w.wake();
        }
    }));
    JoinHandle { state }
}

/// Gives other ready tasks a turn before continuing.
pub async fn yield_now() {
    let mut yielded = false;
    core::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}
