//! The hosted idle loop on a real epoll: input from another thread wakes the
//! waiting task, and waiting costs a handful of `epoll_wait` calls, not a spin.

use std::future::poll_fn;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use oasis_hosted::reactor::Reactor;
use oasis_rt::exec::block_on_stats;

#[test]
fn input_from_another_thread_wakes_the_task_without_spinning() {
    let reactor = Reactor::new().unwrap();
    let (mut rx, mut tx) = UnixStream::pair().unwrap();
    rx.set_nonblocking(true).unwrap();
    let token = reactor.register(rx.as_raw_fd()).unwrap();
    let started = Instant::now();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        tx.write_all(b"ping").unwrap();
        tx
    });
    let (got, stats) = block_on_stats(&reactor, async {
        let mut buf = [0u8; 16];
        loop {
            poll_fn(|cx| reactor.poll_readable(token, cx)).await;
            match rx.read(&mut buf) {
                Ok(n) => return buf[..n].to_vec(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => reactor.drained(token),
                Err(e) => panic!("{e}"),
            }
        }
    });
    let _tx = writer.join().unwrap();
    assert_eq!(got, b"ping");
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(
        stats.waits <= 3,
        "waited {} times for one input: spinning",
        stats.waits
    );
}

#[test]
fn a_sleep_is_one_epoll_wait_not_a_spin() {
    let reactor = Reactor::new().unwrap();
    let started = Instant::now();
    let ((), stats) = block_on_stats(&reactor, oasis_rt::sleep(Duration::from_millis(50)));
    assert!(started.elapsed() >= Duration::from_millis(50), "woke early");
    assert!(stats.waits <= 2, "{} waits for one sleep", stats.waits);
}
