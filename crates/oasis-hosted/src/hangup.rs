//! SIGHUP as a future: how an operator asks a hosted unikernel to reload
//! (`kill -HUP PID`, `systemctl reload`), as daemons have always been
//! asked.
//!
//! The first wait blocks SIGHUP in the process (the hosted platform runs on
//! one thread) and reads it from a `signalfd` watched by the reactor, so a
//! SIGHUP becomes input like any other; until then SIGHUP keeps its default
//! action. Signals that arrive while nothing waits are kept (a `signalfd`
//! holds one pending SIGHUP), so a reload asked for during a reload is not
//! lost.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;
use std::task::Poll;

use crate::reactor::Token;

struct Hangups {
    fd: OwnedFd,
    token: Token,
}

fn hangups() -> io::Result<&'static Hangups> {
    static HANGUPS: OnceLock<Result<Hangups, i32>> = OnceLock::new();
    let made = HANGUPS.get_or_init(|| {
        // SAFETY: a zeroed sigset_t is valid for sigemptyset to initialise;
        // every call's result is checked.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGHUP);
            let e = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if e != 0 {
                return Err(e);
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO));
            }
            let fd = OwnedFd::from_raw_fd(fd);
            let token = crate::readiness()
                .register(fd.as_raw_fd())
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
            Ok(Hangups { fd, token })
        }
    });
    made.as_ref().map_err(|&e| io::Error::from_raw_os_error(e))
}

/// Waits for the next SIGHUP sent to this process.
pub async fn hangup() -> io::Result<()> {
    let h = hangups()?;
    let reactor = crate::readiness();
    poll_fn(|cx| {
        loop {
            let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
            // SAFETY: reads at most info.len() bytes into info.
            let n = unsafe { libc::read(h.fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) };
            if n == info.len() as isize {
                return Poll::Ready(Ok(()));
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    reactor.drained(h.token);
                    match reactor.poll_readable(h.token, cx) {
                        Poll::Ready(()) => continue,
                        Poll::Pending => return Poll::Pending,
                    }
                }
                _ => return Poll::Ready(Err(e)),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_sighup_to_the_waiting_thread_ends_the_wait_and_a_second_one_is_kept() {
        // The test harness runs tests on threads: the signal goes to this
        // one, which blocks it, and no other thread sees it.
        // SAFETY: plain syscalls.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        let send = move || {
            // SAFETY: signals this test's own thread, which blocks SIGHUP.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGHUP) };
        };
        let reactor = crate::readiness();
        let waited = oasis_rt::exec::block_on(reactor, async move {
            // Registers (and blocks SIGHUP) before the signal is sent.
            let first =
                oasis_rt::select(hangup(), oasis_rt::sleep(Duration::from_millis(50))).await;
            assert!(
                matches!(first, oasis_rt::Either::Right(())),
                "no SIGHUP yet"
            );
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                send();
            });
            hangup().await?;
            // One sent while nobody waits is there for the next wait.
            send();
            hangup().await
        });
        assert!(waited.is_ok(), "{waited:?}");
    }
}
