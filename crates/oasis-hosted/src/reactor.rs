//! The hosted idle loop: one epoll instance. Devices register their file
//! descriptors edge-triggered; [`Reactor::wait`] sleeps in `epoll_wait` until
//! the next timer deadline or input, then wakes the tasks waiting on it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use oasis_rt::platform::{Platform, Readiness};

/// Readiness of one registered descriptor.
#[derive(Default)]
struct Slot {
    /// Input may be waiting (an edge was seen, or a read has not yet hit EAGAIN).
    readable: bool,
    waker: Option<Waker>,
    /// Output may be accepted (registered with [`Reactor::register_rw`] only).
    writable: bool,
    write_waker: Option<Waker>,
}

/// An epoll instance and the wakers of the tasks waiting on its descriptors.
pub struct Reactor {
    epoll: OwnedFd,
    slots: Mutex<Vec<Slot>>,
    /// Slots released by [`Reactor::deregister`], reused first.
    free: Mutex<Vec<usize>>,
}

/// A registered descriptor's handle in the reactor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(usize);

/// Monotonic nanoseconds from `CLOCK_MONOTONIC`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

impl Reactor {
    /// A new epoll instance.
    pub fn new() -> io::Result<Reactor> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Reactor {
            // SAFETY: `fd` is a fresh descriptor we own.
            epoll: unsafe { OwnedFd::from_raw_fd(fd) },
            slots: Mutex::new(Vec::new()),
            free: Mutex::new(Vec::new()),
        })
    }

    /// Watches `fd` for input (edge-triggered). The descriptor must be non-blocking.
    pub fn register(&self, fd: RawFd) -> io::Result<Token> {
        self.add(fd, libc::EPOLLIN as u32)
    }

    /// Watches `fd` for input and for room to write (edge-triggered), as a
    /// socket needs. The descriptor must be non-blocking.
    pub fn register_rw(&self, fd: RawFd) -> io::Result<Token> {
        self.add(
            fd,
            (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP) as u32,
        )
    }

    fn add(&self, fd: RawFd, interest: u32) -> io::Result<Token> {
        let mut slots = self.slots.lock().unwrap();
        let token = self.free.lock().unwrap().pop().unwrap_or(slots.len());
        let mut ev = libc::epoll_event {
            events: interest | libc::EPOLLET as u32,
            u64: token as u64,
        };
        // SAFETY: valid epoll fd and event pointer; result checked.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0
        {
            if token < slots.len() {
                self.free.lock().unwrap().push(token);
            }
            return Err(io::Error::last_os_error());
        }
        // Input may already be waiting before the first edge.
        let slot = Slot {
            readable: true,
            waker: None,
            writable: true,
            write_waker: None,
        };
        if token == slots.len() {
            slots.push(slot);
        } else {
            slots[token] = slot;
        }
        Ok(Token(token))
    }

    /// Stops watching `fd` (registered as `token`) and frees the token for
    /// reuse. Call before closing the descriptor.
    pub fn deregister(&self, fd: RawFd, token: Token) {
        // SAFETY: valid epoll fd; a null event is allowed for EPOLL_CTL_DEL.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
        let mut slots = self.slots.lock().unwrap();
        if let Some(slot) = slots.get_mut(token.0) {
            *slot = Slot::default();
            self.free.lock().unwrap().push(token.0);
        }
    }

    /// Ready if `token` may accept output; otherwise remembers the task.
    pub fn poll_writable(&self, token: Token, cx: &mut Context<'_>) -> Poll<()> {
        let mut slots = self.slots.lock().unwrap();
        let slot = &mut slots[token.0];
        if slot.writable {
            Poll::Ready(())
        } else {
            match &mut slot.write_waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                w => *w = Some(cx.waker().clone()),
            }
            Poll::Pending
        }
    }

    /// Records that a write on `token` found no room (EAGAIN): wait for the next edge.
    pub fn write_blocked(&self, token: Token) {
        self.slots.lock().unwrap()[token.0].writable = false;
    }

    /// Ready if input may be waiting on `token`; otherwise remembers the task.
    pub fn poll_readable(&self, token: Token, cx: &mut Context<'_>) -> Poll<()> {
        let mut slots = self.slots.lock().unwrap();
        let slot = &mut slots[token.0];
        if slot.readable {
            Poll::Ready(())
        } else {
            match &mut slot.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                w => *w = Some(cx.waker().clone()),
            }
            Poll::Pending
        }
    }

    /// Records that a read on `token` found nothing (EAGAIN): wait for the next edge.
    pub fn drained(&self, token: Token) {
        self.slots.lock().unwrap()[token.0].readable = false;
    }
}

/// The runtime's view of this reactor (oasis-rt's `Readiness`), through
/// which the socket stack waits on its sockets.
impl Readiness for Reactor {
    fn register(&self, fd: i32) -> Result<usize, i32> {
        self.register_rw(fd)
            .map(|t| t.0)
            .map_err(|e| e.raw_os_error().unwrap_or(0))
    }

    fn deregister(&self, fd: i32, token: usize) {
        Reactor::deregister(self, fd, Token(token));
    }

    fn drained(&self, token: usize) {
        Reactor::drained(self, Token(token));
    }

    fn poll_readable(&self, token: usize, cx: &mut Context<'_>) -> Poll<()> {
        Reactor::poll_readable(self, Token(token), cx)
    }

    fn write_blocked(&self, token: usize) {
        Reactor::write_blocked(self, Token(token));
    }

    fn poll_writable(&self, token: usize, cx: &mut Context<'_>) -> Poll<()> {
        Reactor::poll_writable(self, Token(token), cx)
    }
}

impl Platform for Reactor {
    fn now(&self) -> u64 {
        monotonic_ns()
    }

    fn serving(&self) {
        crate::notify("READY=1\nSTATUS=serving");
    }

    fn wait(&self, deadline: Option<u64>) {
        let timeout_ms: i32 = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_sub(monotonic_ns());
                // Round up: waking early would only make the executor wait again.
                left.div_ceil(1_000_000).min(i32::MAX as u64) as i32
            }
        };
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        // SAFETY: valid epoll fd and buffer of the stated length.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n <= 0 {
            return; // timeout, or EINTR: the executor re-checks its timers
        }
        let mut wake = Vec::new();
        {
            let mut slots = self.slots.lock().unwrap();
            let input = (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLRDHUP) as u32;
            let output = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;
            for ev in &events[..n as usize] {
                if let Some(slot) = slots.get_mut(ev.u64 as usize) {
                    if ev.events & input != 0 {
                        slot.readable = true;
                        wake.extend(slot.waker.take());
                    }
                    if ev.events & output != 0 {
                        slot.writable = true;
                        wake.extend(slot.write_waker.take());
                    }
                }
            }
        }
        wake.into_iter().for_each(Waker::wake);
    }
}
