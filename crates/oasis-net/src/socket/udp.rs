//! UDP on host sockets, batched with `recvmmsg` and `sendmmsg`; a batch
//! leaves in trains, runs of datagrams the host takes as one send with UDP
//! segmentation offload (see `trains.rs`), where the host offers it.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::net::SocketAddr;

use super::SocketStack;
use super::sys::{self, Fd};
use super::trains::Trains;
use crate::api::UdpSocket;
use crate::batch::Batch;
use crate::error::NetError;

/// Kernel receive and send buffer asked for each UDP socket.
const SOCKET_BUFFER: i32 = 4 * 1024 * 1024;

/// A UDP socket on the host.
pub struct SocketUdpSocket {
    fd: Fd,
    family: i32,
    port: u16,
    /// Scratch for the batch calls, reused so they do not allocate, and
    /// the sending state (boxed: the socket stays small beside the direct
    /// stack's in [`crate::AnyUdpSocket`]).
    msgs: Box<RefCell<Msgs>>,
}

/// How a UDP socket's batches have left, for benchmarks and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpSendStats {
    /// Datagrams sent by [`UdpSocket::send_batch`].
    pub datagrams: u64,
    /// Trains among the messages those went in (sends of two or more
    /// datagrams at once with UDP segmentation offload).
    pub trains: u64,
    /// Datagrams that went in trains.
    pub datagrams_in_trains: u64,
    /// Trains the host refused (after the first, the socket sends none).
    pub refused_trains: u64,
}

#[derive(Default)]
struct Msgs {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    /// The `UDP_SEGMENT` control message of each train.
    ctrl: Vec<Control>,
    /// How many datagrams each message carries.
    per_msg: Vec<usize>,
    trains: Trains,
    /// Whether batches may leave as trains (`UDP_SEGMENT`): the host
    /// accepted the option at bind, trains are not turned off, and the
    /// host has not refused one.
    gso: bool,
    stats: UdpSendStats,
    /// The pause under load ([`super::SocketStack::set_udp_hold`]), µs.
    hold_us: u32,
    /// Datagrams the last `recvmmsg` returned, and how many it could have.
    last: (usize, usize),
    /// Pauses taken so far.
    holds: u64,
}

impl Msgs {
    /// Grows to `n` entries, once per size.
    fn reserve(&mut self, n: usize) {
        if self.hdrs.len() < n {
            // SAFETY: all-zero mmsghdr and iovec are valid (null pointers, zero lengths).
            self.hdrs.resize_with(n, || unsafe { core::mem::zeroed() });
            self.iovs.resize_with(n, || unsafe { core::mem::zeroed() });
            self.addrs.resize_with(n, sys::empty_sockaddr);
            self.ctrl.resize(n, [0; 4]);
            self.per_msg.resize(n, 0);
        }
    }
}

impl SocketStack {
    pub(crate) fn bind_udp_socket(&self, port: u16) -> Result<SocketUdpSocket, NetError> {
        let family = self.family();
        let fd = sys::socket(family, libc::SOCK_DGRAM, "UDP")?;
        if family == libc::AF_INET6 {
            fd.set_int(libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0, "IPV6_V6ONLY")?;
        }
        // Larger buffers absorb bursts; the kernel caps them, which is fine.
        let _ = fd.set_int(
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            SOCKET_BUFFER,
            "SO_RCVBUF",
        );
        let _ = fd.set_int(
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            SOCKET_BUFFER,
            "SO_SNDBUF",
        );
        // A segment size of 0 sends plain datagrams unless a message asks
        // for segments; a host without UDP segmentation offload refuses it.
        let gso = self.udp_gso()
            && fd
                .set_int(libc::SOL_UDP, libc::UDP_SEGMENT, 0, "UDP_SEGMENT")
                .is_ok();
        sys::bind(&fd, self.bind_addr(port), family, "UDP socket")?;
        let port = sys::local_port(&fd);
        Ok(SocketUdpSocket {
            fd,
            family,
            port,
            msgs: Box::new(RefCell::new(Msgs {
                gso,
                hold_us: self.udp_hold_us(),
                ..Msgs::default()
            })),
        })
    }
}

impl SocketUdpSocket {
    /// How this socket's batches have left so far.
    pub fn send_stats(&self) -> UdpSendStats {
        self.msgs.borrow().stats
    }

    /// Whether batches still leave in trains (UDP segmentation offload).
    pub fn sends_trains(&self) -> bool {
        self.msgs.borrow().gso
    }

    /// How many times [`UdpSocket::recv_batch`] paused under load.
    pub fn holds(&self) -> u64 {
        self.msgs.borrow().holds
    }

    /// The pause under load: after a batch of two or more datagrams, but
    /// fewer than a full one, the thread sleeps `hold_us` before reading
    /// again, so that the next batch grows while it sleeps — as a network
    /// driver moderates its interrupts. Under load it roughly halves the
    /// system calls and wake-ups per datagram (the socket's readiness would
    /// otherwise wake the thread for each); at low rates batches hold one
    /// datagram and nothing waits. It blocks the whole thread, which is the
    /// point: a timer in the executor would be cut short by the socket.
    fn hold(&self) {
        let mut m = self.msgs.borrow_mut();
        let (n, cap) = m.last;
        if m.hold_us == 0 || n < 2 || n >= cap {
            return;
        }
        m.last = (0, cap);
        m.holds += 1;
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: i64::from(m.hold_us.min(999_999)) * 1000,
        };
        drop(m);
        // SAFETY: a valid timespec; an early wake-up (EINTR) only shortens the pause.
        unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
    }

    /// One `recvmmsg` into `batch`; `Ok(0)` means nothing was waiting.
    fn try_recv(&self, batch: &mut Batch) -> Result<usize, NetError> {
        let cap = batch.capacity();
        let mut guard = self.msgs.borrow_mut();
        let m = &mut *guard;
        m.reserve(cap);
        for i in 0..cap {
            let (slot, _, _) = batch.slot_parts(i);
            m.iovs[i] = libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            };
            let hdr = &mut m.hdrs[i].msg_hdr;
            hdr.msg_name = (&mut m.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdr.msg_iov = &mut m.iovs[i];
            hdr.msg_iovlen = 1;
            hdr.msg_control = core::ptr::null_mut();
            hdr.msg_controllen = 0;
            hdr.msg_flags = 0;
            m.hdrs[i].msg_len = 0;
        }
        loop {
            // SAFETY: every header points at live buffers of the stated sizes.
            let n = unsafe {
                libc::recvmmsg(
                    self.fd.raw(),
                    m.hdrs.as_mut_ptr(),
                    cap as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    core::ptr::null_mut(),
                )
            };
            if n >= 0 {
                let n = n as usize;
                for i in 0..n {
                    let got = m.hdrs[i].msg_len as usize;
                    let from = sys::read_sockaddr(&m.addrs[i]);
                    let (slot, len, peer) = batch.slot_parts(i);
                    *len = got.min(slot.len());
                    if let Some(a) = from {
                        *peer = a;
                    }
                }
                batch.set_len(n);
                m.last = (n, cap);
                return Ok(n);
            }
            match sys::errno() {
                libc::EINTR => continue,
                libc::EAGAIN => return Ok(0),
                _ => return Err(sys::io(format!("recvmmsg on UDP port {}", self.port))),
            }
        }
    }

    /// One `sendmmsg` of `batch` as planned by [`Trains::plan`], from
    /// position `done` of the plan on; returns how many datagrams were
    /// taken (a datagram or train the host refuses to route is dropped and
    /// counted as taken), `Ok(0)` when the socket buffer is full.
    fn try_send(&self, batch: &Batch, done: usize) -> Result<usize, NetError> {
        let mut guard = self.msgs.borrow_mut();
        let m = &mut *guard;
        m.reserve(batch.len());
        // Planned afresh on every call: another task may have sent on this
        // socket while this batch waited for buffer space.
        m.trains.plan(batch);
        loop {
            let count = self.messages(m, batch, done);
            if count == 0 {
                return Ok(0);
            }
            // SAFETY: every header points at live buffers of the stated
            // sizes (filled by `messages`); the kernel only reads them.
            let n = unsafe {
                libc::sendmmsg(self.fd.raw(), m.hdrs.as_mut_ptr(), count as libc::c_uint, 0)
            };
            if n > 0 {
                let n = n as usize;
                let taken: usize = m.per_msg[..n].iter().sum();
                for &d in &m.per_msg[..n] {
                    if d > 1 {
                        m.stats.trains += 1;
                        m.stats.datagrams_in_trains += d as u64;
                    }
                }
                m.stats.datagrams += taken as u64;
                return Ok(taken);
            }
            let errno = sys::errno();
            match errno {
                libc::EINTR => continue,
                libc::EAGAIN => return Ok(0),
                // The host will not take a train (no offload on the route,
                // a path too small, an old kernel): from now on this
                // socket sends plain datagrams, the train's among them.
                libc::EIO
                | libc::EINVAL
                | libc::EMSGSIZE
                | libc::EOPNOTSUPP
                | libc::ENOPROTOOPT
                    if m.per_msg[0] > 1 =>
                {
                    m.gso = false;
                    m.stats.refused_trains += 1;
                    log::warn!(
                        "UDP port {}: the host refused a train of {} datagrams of {} bytes \
                         (errno {errno}); sending plain datagrams from now on",
                        self.port,
                        m.per_msg[0],
                        m.iovs[0].iov_len
                    );
                }
                // The first datagram cannot go (no route, too large, …):
                // drop it, as a wire would, and go on with the rest.
                libc::ENETUNREACH
                | libc::EHOSTUNREACH
                | libc::EMSGSIZE
                | libc::EINVAL
                | libc::EAFNOSUPPORT
                | libc::ECONNREFUSED
                | libc::EPERM
                | libc::EACCES => {
                    return Ok(m.per_msg[0]);
                }
                _ => return Err(sys::io(format!("sendmmsg on UDP port {}", self.port))),
            }
        }
    }

    /// Fills `m`'s headers with the messages that send the plan from
    /// position `done` on: a train (with `UDP_SEGMENT`) per planned train
    /// while the socket may send trains, a plain datagram otherwise.
    /// Returns how many messages.
    fn messages(&self, m: &mut Msgs, batch: &Batch, done: usize) -> usize {
        let gso = m.gso;
        let (mut k, mut v) = (0, 0);
        for t in &m.trains.trains {
            let end = t.start + t.count;
            if end <= done {
                continue;
            }
            let from = t.start.max(done);
            let whole = gso && end - from > 1;
            let mut started = false;
            for &i in &m.trains.order[from..end] {
                let Some(d) = batch.get(i) else { continue };
                m.iovs[v] = libc::iovec {
                    iov_base: d.data.as_ptr() as *mut libc::c_void,
                    iov_len: d.data.len(),
                };
                if !started || !whole {
                    started = true;
                    let alen = sys::write_sockaddr(d.peer, self.family, &mut m.addrs[k]);
                    let hdr = &mut m.hdrs[k].msg_hdr;
                    hdr.msg_name = (&mut m.addrs[k] as *mut libc::sockaddr_storage).cast();
                    hdr.msg_namelen = alen;
                    hdr.msg_iov = &mut m.iovs[v];
                    hdr.msg_iovlen = 1;
                    hdr.msg_control = core::ptr::null_mut();
                    hdr.msg_controllen = 0;
                    hdr.msg_flags = 0;
                    m.per_msg[k] = 1;
                    k += 1;
                } else {
                    m.hdrs[k - 1].msg_hdr.msg_iovlen += 1;
                    m.per_msg[k - 1] += 1;
                }
                v += 1;
            }
            if whole && started && m.per_msg[k - 1] > 1 {
                segment_control(&mut m.hdrs[k - 1].msg_hdr, &mut m.ctrl[k - 1], t.segment);
            }
        }
        k
    }
}

/// Room for one control message carrying a `u16`, aligned for `cmsghdr`.
type Control = [u64; 4];

/// Attaches a `UDP_SEGMENT` control message to `hdr`: the host cuts its
/// payload into datagrams of `segment` bytes (the last may be shorter).
fn segment_control(hdr: &mut libc::msghdr, ctrl: &mut Control, segment: usize) {
    let seg = segment as u16;
    hdr.msg_control = ctrl.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE of a u16 (24 bytes on 64-bit Linux) fits in
    // `Control` (32 bytes, 8-aligned), so CMSG_FIRSTHDR is that buffer and
    // its data lies inside it.
    unsafe {
        hdr.msg_controllen = libc::CMSG_SPACE(core::mem::size_of::<u16>() as u32) as _;
        let c = libc::CMSG_FIRSTHDR(hdr);
        (*c).cmsg_level = libc::SOL_UDP;
        (*c).cmsg_type = libc::UDP_SEGMENT;
        (*c).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<u16>() as u32) as _;
        core::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), seg);
    }
}

impl UdpSocket for SocketUdpSocket {
    fn local_port(&self) -> u16 {
        self.port
    }

    async fn recv_batch(&self, batch: &mut Batch) -> Result<usize, NetError> {
        self.hold();
        loop {
            let n = self.try_recv(batch)?;
            if n > 0 {
                return Ok(n);
            }
            self.fd.readable().await;
        }
    }

    async fn send_batch(&self, batch: &Batch) -> Result<(), NetError> {
        // Counts datagrams in the order of the plan, which is the same on
        // every call for the same batch.
        let mut sent = 0;
        while sent < batch.len() {
            match self.try_send(batch, sent)? {
                0 => self.fd.writable().await,
                n => sent += n,
            }
        }
        Ok(())
    }

    async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr), NetError> {
        loop {
            let mut sa = sys::empty_sockaddr();
            let mut len = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: valid fd, buffer and sockaddr of the stated sizes.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.raw(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut sa as *mut libc::sockaddr_storage).cast(),
                    &mut len,
                )
            };
            if n >= 0 {
                let from = sys::read_sockaddr(&sa).ok_or_else(|| NetError::Io {
                    what: format!("recvfrom on UDP port {}: unknown address family", self.port),
                    errno: 0,
                })?;
                return Ok((n as usize, from));
            }
            match sys::errno() {
                libc::EINTR => {}
                libc::EAGAIN => self.fd.readable().await,
                _ => return Err(sys::io(format!("recvfrom on UDP port {}", self.port))),
            }
        }
    }

    async fn send_to(&self, data: &[u8], to: SocketAddr) -> Result<(), NetError> {
        loop {
            let mut sa = sys::empty_sockaddr();
            let alen = sys::write_sockaddr(to, self.family, &mut sa);
            // SAFETY: valid fd, payload and sockaddr of the stated sizes.
            let n = unsafe {
                libc::sendto(
                    self.fd.raw(),
                    data.as_ptr().cast(),
                    data.len(),
                    libc::MSG_DONTWAIT,
                    (&sa as *const libc::sockaddr_storage).cast(),
                    alen,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            match sys::errno() {
                libc::EINTR => {}
                libc::EAGAIN => self.fd.writable().await,
                libc::EMSGSIZE => {
                    return Err(NetError::TooLarge {
                        len: data.len(),
                        max: 65507,
                        to,
                    });
                }
                _ => return Err(sys::io(format!("sendto {to} from UDP port {}", self.port))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::config::Config;
    use oasis_rt::args::FromArg;
    use oasis_rt::{Duration, timeout};
    use std::net::UdpSocket as HostSocket;
    use std::vec::Vec;

    /// Sends one batch of `items` (receiver, length) from a socket stack
    /// socket (trains on or off) to plain host sockets and returns what
    /// each receiver got, in order, and the sender's stats.
    fn send_and_collect(
        v4: bool,
        gso: bool,
        any_order: bool,
        items: &[(usize, usize)],
    ) -> (Vec<Vec<Vec<u8>>>, UdpSendStats) {
        let receivers: Vec<HostSocket> = (0..3)
            .map(|_| HostSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut batch = Batch::new(items.len(), 2048);
        batch.set_any_order(any_order);
        for (i, &(r, len)) in items.iter().enumerate() {
            let to = receivers[r].local_addr().unwrap();
            batch.push_with(to, |slot| {
                slot[..len].fill(i as u8);
                slot[..2.min(len)].copy_from_slice(&(i as u16).to_be_bytes()[..2.min(len)]);
                len
            });
        }
        oasis_rt::platform::install(oasis_hosted::services());
        let stats = oasis_rt::exec::block_on(&*oasis_hosted::reactor(), async {
            let ipv4 = v4.then(|| FromArg::from_arg("127.0.0.1/8").unwrap());
            let config = Config::from_values(ipv4, None, None, None, false, 0).unwrap();
            let mut stack = SocketStack::new(&config).unwrap();
            stack.set_udp_gso(gso);
            let socket = stack.bind_udp_socket(0).unwrap();
            timeout(Duration::from_secs(10), socket.send_batch(&batch))
                .await
                .expect("in time")
                .unwrap();
            socket.send_stats()
        });
        let got = receivers
            .iter()
            .enumerate()
            .map(|(r, s)| {
                s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                    .unwrap();
                let want = items.iter().filter(|x| x.0 == r).count();
                let mut buf = [0u8; 4096];
                (0..want)
                    .map(|_| {
                        let n = s.recv(&mut buf).unwrap();
                        buf[..n].to_vec()
                    })
                    .collect()
            })
            .collect();
        (got, stats)
    }

    fn mix() -> Vec<(usize, usize)> {
        let lens = [61, 61, 73, 61, 0, 61, 73, 45, 1300, 61, 73, 61];
        (0..60).map(|i| (i % 7 % 3, lens[i % lens.len()])).collect()
    }

    /// Over an IPv4 socket and over a dual-stack one (v4-mapped peers).
    #[test]
    fn trains_deliver_the_same_datagrams_as_plain_sends() {
        for v4 in [true, false] {
            same_datagrams(v4);
        }
    }

    fn same_datagrams(v4: bool) {
        let items = mix();
        let (plain, stats) = send_and_collect(v4, false, false, &items);
        assert_eq!(stats.trains, 0);
        assert_eq!(stats.datagrams, items.len() as u64);
        let (ordered, stats) = send_and_collect(v4, true, false, &items);
        assert_eq!(ordered, plain, "in batch order: the very same per receiver");
        if stats.refused_trains > 0 && std::env::var("CI").as_deref() != Ok("true") {
            std::println!("skipped: this host refuses UDP segmentation offload");
            return;
        }
        assert!(
            stats.trains > 0,
            "in batch order, runs of one length still go as trains"
        );
        let (grouped, stats) = send_and_collect(v4, true, true, &items);
        assert!(stats.trains > 0 && stats.datagrams_in_trains > stats.trains);
        assert_eq!(stats.datagrams, items.len() as u64);
        for (g, p) in grouped.iter().zip(&plain) {
            let (mut g, mut p) = (g.clone(), p.clone());
            g.sort();
            p.sort();
            assert_eq!(g, p, "any order: the same datagrams per receiver");
        }
    }

    /// Receives `bursts` (datagrams sent before each `recv_batch`) on a
    /// socket with pause `hold_us`; returns what each read got and the
    /// pauses taken.
    fn hold_run(hold_us: u32, bursts: &[usize]) -> (Vec<usize>, u64) {
        oasis_rt::platform::install(oasis_hosted::services());
        oasis_rt::exec::block_on(&*oasis_hosted::reactor(), async {
            let ipv4 = Some(FromArg::from_arg("127.0.0.1/8").unwrap());
            let config = Config::from_values(ipv4, None, None, None, false, 0).unwrap();
            let mut stack = SocketStack::new(&config).unwrap();
            stack.set_udp_hold(hold_us);
            let socket = stack.bind_udp_socket(0).unwrap();
            let to = std::format!("127.0.0.1:{}", socket.port);
            let client = HostSocket::bind("127.0.0.1:0").unwrap();
            let mut batch = Batch::new(8, 64);
            let mut got = Vec::new();
            let mut sent = 0u8;
            for &n in bursts {
                for _ in 0..n {
                    client.send_to(&[sent], &to).unwrap();
                    sent += 1;
                }
                let k = timeout(Duration::from_secs(10), socket.recv_batch(&mut batch))
                    .await
                    .expect("in time")
                    .unwrap();
                // Every datagram comes through, in order, pause or not.
                for (i, d) in batch.iter().enumerate() {
                    assert_eq!(d.data, &[sent - n as u8 + i as u8]);
                }
                got.push(k);
            }
            (got, socket.holds())
        })
    }

    #[test]
    fn reading_pauses_only_after_a_batch_of_two_or_more_that_was_not_full() {
        // Loopback datagrams are queued when `send_to` returns, so each read
        // takes exactly the burst before it.
        let (got, holds) = hold_run(20, &[1, 1, 3, 1, 2, 8, 1]);
        assert_eq!(got, [1, 1, 3, 1, 2, 8, 1]);
        // Before the 4th read (after 3) and the 6th (after 2); not after a
        // single one, nor after the full batch of 8.
        assert_eq!(holds, 2);
        let (got, holds) = hold_run(0, &[3, 2, 1]);
        assert_eq!(got, [3, 2, 1]);
        assert_eq!(holds, 0, "0 turns the pause off");
    }
}
