//! Answering the guest: one handler per hypercall. Every argument struct
//! and every buffer it names is read through bounds-checked guest memory;
//! a bad buffer or device gets `Status::Invalid`, a broken ring or an
//! argument struct outside memory ends the guest as a fault.

use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use oasis_abi::hypercall::*;

use crate::error::Error;
use crate::memory::{GuestMemory, Pod};
use crate::net::{NetDevice, NetError};
use oasis_host::block::FileBlock;

/// A device, by its handle (its index in the manifest).
pub enum Device {
    /// A net device (TAP or user-mode).
    Net(NetDevice),
    /// A file-backed block device.
    Block(FileBlock),
}

/// What the VMM counted, for `--stats`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Exits by hypercall number.
    pub exits: [u64; 16],
    /// Frames moved from TAPs into RX rings.
    pub rx_frames: u64,
    /// Frames moved from TX rings to TAPs.
    pub tx_frames: u64,
    /// Writes to TAPs (a train of TCP segments is one: `oasis_frame::gso`).
    pub tap_writes: u64,
    /// Frames from guests dropped as malformed (user-mode networks).
    pub malformed_frames: u64,
    /// Times the rings' slot pages went back to the host (`Host::poll`).
    pub ring_trims: u64,
}

impl Stats {
    /// One line for stderr.
    pub fn line(&self, ran: std::time::Duration) -> String {
        let total: u64 = self.exits.iter().sum();
        let per: Vec<String> = Number::ALL
            .iter()
            .filter(|n| self.exits[**n as usize] > 0)
            .map(|n| format!("{:?} {}", n, self.exits[*n as usize]))
            .collect();
        format!(
            "oasis-vmm: stats: {total} exits ({}), net rx {} frames, tx {} frames, ran {:.3} s, {} TAP writes, {} malformed frames dropped, {} ring trims",
            per.join(", "),
            self.rx_frames,
            self.tx_frames,
            ran.as_secs_f64(),
            self.tap_writes,
            self.malformed_frames,
            self.ring_trims
        )
    }
}

/// What the vCPU loop does after a hypercall.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Resume the guest.
    Resume,
    /// The guest is done: exit with this status.
    Exit(i32),
}

/// The host side of the hypercalls.
pub struct Host {
    /// Guest memory.
    pub mem: GuestMemory,
    /// Devices by handle.
    pub devices: Vec<Device>,
    /// Counters.
    pub stats: Stats,
    pollfds: Vec<libc::pollfd>,
    /// When the guest was entered.
    pub started: Instant,
    /// The service manager the guest's readiness goes to ([`crate::service`]).
    pub service: crate::service::Service,
    /// When frames last moved through a ring, if they have since the rings
    /// were last trimmed.
    ring_traffic: Option<Instant>,
}

/// How long the rings stay quiet before their slots' pages go back to the
/// host: a server that has answered once holds its whole rings (1 MiB per
/// net device) otherwise, a fleet of idle ones as many MiB per guest.
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Host {
    /// A host for `mem` and `devices`.
    pub fn new(mem: GuestMemory, devices: Vec<Device>) -> Host {
        Host {
            mem,
            devices,
            stats: Stats::default(),
            pollfds: Vec::new(),
            started: Instant::now(),
            service: crate::service::Service::default(),
            ring_traffic: None,
        }
    }

    fn arg<T: Pod>(&self, n: Number, addr: u64) -> Result<T, Error> {
        self.mem.read(addr).ok_or_else(|| {
            Error::Guest(format!(
                "{n:?} hypercall with its argument at {addr:#x}, outside guest memory"
            ))
        })
    }

    fn put<T: Pod>(&self, addr: u64, v: &T) {
        // `arg` checked the same range.
        let _ = self.mem.write(addr, v);
    }

    /// Handles hypercall `n` with its argument struct at `addr`.
    pub fn handle(&mut self, n: Number, addr: u64) -> Result<Flow, Error> {
        self.stats.exits[n as usize] += 1;
        match n {
            Number::ConsoleWrite => {
                let a: ConsoleWrite = self.arg(n, addr)?;
                let bytes = self.mem.slice(a.data, a.len).ok_or_else(|| {
                    Error::Guest(format!(
                        "console write of {} bytes at {:#x}, outside guest memory",
                        a.len, a.data
                    ))
                })?;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(bytes);
                let _ = out.flush();
            }
            Number::WallClock => {
                let a = WallClock { ns: wall_ns() };
                self.arg::<WallClock>(n, addr)?;
                self.put(addr, &a);
            }
            Number::Poll => {
                let mut a: Poll = self.arg(n, addr)?;
                self.service.alive();
                a.ready = self.poll(a.timeout_ns, a.interest)?;
                self.put(addr, &a);
                if let Some(status) = crate::stop::requested() {
                    return Ok(Flow::Exit(status));
                }
            }
            Number::NetRx | Number::NetTx => {
                let mut a: NetIo = self.arg(n, addr)?;
                self.net_io(n, &mut a)?;
                self.put(addr, &a);
            }
            Number::BlockRead | Number::BlockWrite | Number::BlockFlush => {
                let mut a: BlockIo = self.arg(n, addr)?;
                self.block_io(n, &mut a);
                self.put(addr, &a);
            }
            Number::Populate => {
                let mut a: Populate = self.arg(n, addr)?;
                match self.mem.populate(a.addr, a.len) {
                    None => a.status = Status::Invalid as u32,
                    Some(Ok(())) => a.status = Status::Ok as u32,
                    Some(Err(e)) => {
                        a.status = Status::Io as u32;
                        a.errno = e.raw_os_error().unwrap_or(0) as u32;
                    }
                }
                self.put(addr, &a);
            }
            Number::Ready => {
                self.arg::<Ready>(n, addr)?;
                self.service.ready(self.started);
            }
            Number::Exit => {
                let a: Exit = self.arg(n, addr)?;
                // Frames queued but not flushed still go out, as a process's
                // buffered output does at exit.
                self.pump()?;
                return Ok(Flow::Exit(a.status.min(255) as i32));
            }
            Number::Abort => {
                let a: Abort = self.arg(n, addr)?;
                let msg = self
                    .mem
                    .slice(a.message, a.len.min(4096))
                    .map(String::from_utf8_lossy)
                    .unwrap_or_else(|| "(message outside guest memory)".into());
                let _ = std::io::stdout().flush();
                eprintln!("oasis-vmm: guest {}", msg.trim_end());
                return Ok(Flow::Exit(ABORT_STATUS));
            }
        }
        Ok(Flow::Resume)
    }

    fn net_fault(&self, handle: usize, e: NetError) -> Error {
        match e {
            NetError::Ring(r) => Error::Guest(format!("net device {handle}: {r}")),
            NetError::Io(e) => Error::Backing {
                kind: "net",
                name: handle.to_string(),
                why: format!("TAP failed: {e}"),
            },
        }
    }

    fn net_io(&mut self, n: Number, a: &mut NetIo) -> Result<(), Error> {
        let handle = a.device as usize;
        let Some(Device::Net(net)) = self.devices.get_mut(handle) else {
            a.status = Status::Invalid as u32;
            return Ok(());
        };
        let now = Instant::now();
        let moved = if n == Number::NetRx {
            net.receive(now)
        } else {
            net.send(now)
        };
        let moved = moved.map_err(|e| self.net_fault(handle, e))?;
        if n == Number::NetRx {
            self.stats.rx_frames += u64::from(moved);
        } else {
            self.stats.tx_frames += u64::from(moved);
        }
        a.frames = moved;
        a.status = Status::Ok as u32;
        Ok(())
    }

    /// Sends pending TX frames, fills RX rings; returns the ready set.
    fn pump(&mut self) -> Result<u64, Error> {
        let mut ready = 0;
        let now = Instant::now();
        for i in 0..self.devices.len() {
            if let Device::Net(net) = &mut self.devices[i] {
                let moved = net.exchange(now).map_err(|e| self.net_fault(i, e))?;
                self.stats.tx_frames += u64::from(moved.tx);
                self.stats.rx_frames += u64::from(moved.rx);
                if moved.tx + moved.rx > 0 {
                    self.ring_traffic = Some(now);
                }
                if moved.pending {
                    ready |= 1 << i;
                }
            }
        }
        Ok(ready)
    }

    /// POLL: returns at once when frames wait for the guest; else waits on
    /// the host descriptors of the devices in `interest` until one of them
    /// brings the guest a frame or `timeout_ns` passes. A backing's own
    /// work (a user-mode gateway's host sockets and timers) is done inside
    /// the wait and wakes the guest only when it produced frames for it.
    fn poll(&mut self, timeout_ns: u64, interest: u64) -> Result<u64, Error> {
        let ready = self.pump()? & interest;
        if ready != 0 || timeout_ns == 0 {
            return Ok(ready);
        }
        if timeout_ns == u64::MAX && interest == 0 {
            // No interrupts exist: nothing could ever end this wait.
            return Err(Error::Guest(
                "the guest waits forever: no timer is pending and no task waits for device input (a deadlock in the application)".into(),
            ));
        }
        let deadline = Instant::now().checked_add(std::time::Duration::from_nanos(timeout_ns));
        loop {
            self.service.alive();
            let now = Instant::now();
            // Rings quiet for a while give their slots' pages back, once.
            let trim_at = self.ring_traffic.map(|t| t + TRIM_AFTER);
            if trim_at.is_some_and(|t| now >= t) {
                self.trim_rings();
                continue;
            }
            // A watchdog ping due meanwhile ends the wait (systemd's WatchdogSec=).
            let mut wake = match (deadline, self.service.next_ping()) {
                (Some(d), Some(p)) => Some(d.min(p)),
                (d, p) => d.or(p),
            };
            if let Some(t) = trim_at {
                wake = Some(wake.map_or(t, |w| w.min(t)));
            }
            self.pollfds.clear();
            for (i, d) in self.devices.iter_mut().enumerate() {
                if let Device::Net(net) = d
                    && interest & (1 << i) != 0
                {
                    net.wait_on(&mut self.pollfds);
                    if let Some(t) = net.wake_at(now) {
                        wake = Some(wake.map_or(t, |w| w.min(t)));
                    }
                }
            }
            // A debugger's bytes end the wait (`--gdb`).
            crate::gdb::wake::wait_on(&mut self.pollfds);
            // A signal handled since the last wait (while a hypercall was
            // answered, say) would not interrupt the next one.
            if crate::gdb::wake::woken() || crate::stop::requested().is_some() {
                return Ok(0);
            }
            let wait = wake.map(|w| w.saturating_duration_since(now));
            let ts = wait.map(|d| libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
            });
            let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const _);
            // SAFETY: pollfds is a valid array of its length; ts outlives the call.
            crate::profile::idle_wait(|| unsafe {
                libc::ppoll(
                    self.pollfds.as_mut_ptr(),
                    self.pollfds.len() as libc::nfds_t,
                    tsp,
                    std::ptr::null(),
                )
            });
            let ready = self.pump()? & interest;
            if ready != 0
                || deadline.is_some_and(|d| Instant::now() >= d)
                || crate::stop::requested().is_some()
            {
                return Ok(ready);
            }
        }
    }

    /// Trims every net device's rings (those with a frame in a slot keep
    /// theirs until the next quiet second).
    fn trim_rings(&mut self) {
        let mut all = true;
        for d in &self.devices {
            if let Device::Net(net) = d {
                all &= net.trim().unwrap_or(false);
            }
        }
        self.stats.ring_trims += 1;
        self.ring_traffic = if all { None } else { Some(Instant::now()) };
    }

    fn block_io(&mut self, n: Number, a: &mut BlockIo) {
        let Some(Device::Block(dev)) = self.devices.get(a.device as usize) else {
            a.status = Status::Invalid as u32;
            return;
        };
        let durable = match (n, a.flags) {
            (_, 0) => false,
            (Number::BlockWrite, BLOCK_DURABLE) => true,
            _ => {
                a.status = Status::Invalid as u32;
                return;
            }
        };
        let result = match n {
            Number::BlockFlush => dev.flush(),
            _ if !dev.in_range(a.sector, a.len) => {
                a.status = Status::OutOfRange as u32;
                return;
            }
            Number::BlockRead => match self.mem.slice_mut(a.data, a.len) {
                Some(buf) => dev.read(a.sector, buf),
                None => {
                    a.status = Status::Invalid as u32;
                    return;
                }
            },
            _ => match self.mem.slice(a.data, a.len) {
                Some(buf) if durable => dev.write(a.sector, buf).and_then(|()| dev.flush()),
                Some(buf) => dev.write(a.sector, buf),
                None => {
                    a.status = Status::Invalid as u32;
                    return;
                }
            },
        };
        match result {
            Ok(()) => a.status = Status::Ok as u32,
            Err(e) => {
                a.status = Status::Io as u32;
                a.errno = e.raw_os_error().unwrap_or(libc::EIO) as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARG: u64 = 0x1000;
    const DATA: u64 = 0x2000;

    fn host_with_disk() -> (Host, tempfile::NamedTempFile) {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(4096).unwrap();
        let dev = FileBlock::open(file.path()).unwrap();
        let host = Host::new(GuestMemory::new(1 << 20).unwrap(), vec![Device::Block(dev)]);
        (host, file)
    }

    fn block(host: &mut Host, n: Number, io: BlockIo) -> BlockIo {
        host.mem.write(ARG, &io).unwrap();
        assert_eq!(host.handle(n, ARG).unwrap(), Flow::Resume);
        host.mem.read(ARG).unwrap()
    }

    fn io(sector: u64, data: u64, len: u64) -> BlockIo {
        BlockIo {
            sector,
            data,
            len,
            ..BlockIo::default()
        }
    }

    #[test]
    fn block_calls_move_many_sectors_and_check_everything() {
        let (mut host, file) = host_with_disk();
        let pattern: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
        host.mem
            .slice_mut(DATA, 1024)
            .unwrap()
            .copy_from_slice(&pattern);
        let ok = Status::Ok as u32;
        assert_eq!(
            block(&mut host, Number::BlockWrite, io(1, DATA, 1024)).status,
            ok
        );
        assert_eq!(block(&mut host, Number::BlockFlush, io(0, 0, 0)).status, ok);
        assert_eq!(std::fs::read(file.path()).unwrap()[512..1536], pattern[..]);
        assert_eq!(
            block(&mut host, Number::BlockRead, io(1, 0x8000, 1024)).status,
            ok
        );
        assert_eq!(host.mem.slice(0x8000, 1024).unwrap(), &pattern[..]);
        let range = Status::OutOfRange as u32;
        assert_eq!(
            block(&mut host, Number::BlockRead, io(7, DATA, 1024)).status,
            range
        );
        assert_eq!(
            block(&mut host, Number::BlockRead, io(0, DATA, 100)).status,
            range
        );
        assert_eq!(
            block(&mut host, Number::BlockRead, io(0, DATA, 0)).status,
            range
        );
        assert_eq!(
            block(&mut host, Number::BlockRead, io(u64::MAX, DATA, 512)).status,
            range
        );
        let invalid = Status::Invalid as u32;
        assert_eq!(
            block(&mut host, Number::BlockRead, io(0, (1 << 20) - 256, 512)).status,
            invalid
        );
        assert_eq!(
            block(&mut host, Number::BlockWrite, io(0, u64::MAX - 100, 512)).status,
            invalid
        );
        let mut bad_dev = io(0, DATA, 512);
        bad_dev.device = 5;
        assert_eq!(block(&mut host, Number::BlockRead, bad_dev).status, invalid);
        let mut net_on_block = NetIo::default();
        host.mem.write(ARG, &net_on_block).unwrap();
        host.handle(Number::NetTx, ARG).unwrap();
        net_on_block = host.mem.read(ARG).unwrap();
        assert_eq!(net_on_block.status, invalid);
        assert_eq!(host.stats.exits[Number::BlockRead as usize], 7);
    }

    #[test]
    fn a_durable_write_is_written_and_flushed_and_other_flags_are_refused() {
        let (mut host, file) = host_with_disk();
        host.mem.slice_mut(DATA, 512).unwrap().fill(0xa5);
        let durable = BlockIo {
            flags: BLOCK_DURABLE,
            ..io(2, DATA, 512)
        };
        assert_eq!(
            block(&mut host, Number::BlockWrite, durable).status,
            Status::Ok as u32
        );
        // Whether sector `n` of the disk file holds only `byte`.
        let sector_is = |n: usize, byte: u8| {
            std::fs::read(file.path()).unwrap()[n * 512..(n + 1) * 512]
                .iter()
                .all(|&b| b == byte)
        };
        assert!(sector_is(2, 0xa5));
        let invalid = Status::Invalid as u32;
        for (n, flags) in [
            (Number::BlockWrite, 2),
            (Number::BlockWrite, BLOCK_DURABLE | 4),
            (Number::BlockRead, BLOCK_DURABLE),
            (Number::BlockFlush, BLOCK_DURABLE),
        ] {
            let a = BlockIo {
                flags,
                ..io(3, DATA, 512)
            };
            assert_eq!(block(&mut host, n, a).status, invalid, "{n:?} {flags}");
        }
        // The refused write wrote nothing.
        assert!(sector_is(3, 0));
        // An out-of-range durable write is refused before anything is done.
        let far = BlockIo {
            flags: BLOCK_DURABLE,
            ..io(8, DATA, 512)
        };
        assert_eq!(
            block(&mut host, Number::BlockWrite, far).status,
            Status::OutOfRange as u32
        );
    }

    #[test]
    fn bad_argument_addresses_end_the_guest() {
        let (mut host, _file) = host_with_disk();
        for n in Number::ALL {
            let e = host.handle(n, (1 << 20) - 4).unwrap_err();
            assert!(matches!(e, Error::Guest(_)), "{n:?}: {e}");
            assert!(e.to_string().contains("outside guest memory"), "{e}");
        }
        host.mem
            .write(
                ARG,
                &ConsoleWrite {
                    data: 1 << 40,
                    len: 5,
                },
            )
            .unwrap();
        let e = host.handle(Number::ConsoleWrite, ARG).unwrap_err();
        assert!(e.to_string().contains("console write of 5 bytes"), "{e}");
    }

    #[test]
    fn exit_and_abort_end_the_run_with_a_status() {
        let (mut host, _file) = host_with_disk();
        host.mem
            .write(
                ARG,
                &Exit {
                    status: 7,
                    _reserved: 0,
                },
            )
            .unwrap();
        assert_eq!(host.handle(Number::Exit, ARG).unwrap(), Flow::Exit(7));
        host.mem
            .write(
                ARG,
                &Exit {
                    status: 100_000,
                    _reserved: 0,
                },
            )
            .unwrap();
        assert_eq!(host.handle(Number::Exit, ARG).unwrap(), Flow::Exit(255));
        host.mem
            .slice_mut(DATA, 4)
            .unwrap()
            .copy_from_slice(b"boom");
        host.mem
            .write(
                ARG,
                &Abort {
                    message: DATA,
                    len: 4,
                },
            )
            .unwrap();
        assert_eq!(
            host.handle(Number::Abort, ARG).unwrap(),
            Flow::Exit(ABORT_STATUS)
        );
        // A message outside memory still ends the guest, with a placeholder.
        host.mem
            .write(
                ARG,
                &Abort {
                    message: 1 << 40,
                    len: 4,
                },
            )
            .unwrap();
        assert_eq!(
            host.handle(Number::Abort, ARG).unwrap(),
            Flow::Exit(ABORT_STATUS)
        );
    }

    /// Which of the 4 KiB pages from guest-physical `addr` on are resident.
    fn resident(host: &Host, addr: u64, pages: usize) -> Vec<bool> {
        let mut vec = vec![0u8; pages];
        let p = host.mem.ptr(addr, pages as u64 * 4096).unwrap();
        // SAFETY: a page-aligned range inside the mapping; `vec` has a byte per page.
        let r = unsafe { libc::mincore(p.cast(), pages * 4096, vec.as_mut_ptr()) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        vec.iter().map(|b| b & 1 == 1).collect()
    }

    #[test]
    fn populate_backs_the_pages_of_a_range_and_checks_it() {
        let (mut host, _file) = host_with_disk();
        let at = 0x8_0000;
        assert_eq!(resident(&host, at, 4), [false; 4]);
        let call = |host: &mut Host, addr, len| {
            let a = Populate {
                addr,
                len,
                ..Populate::default()
            };
            host.mem.write(ARG, &a).unwrap();
            assert_eq!(host.handle(Number::Populate, ARG).unwrap(), Flow::Resume);
            host.mem.read::<Populate>(ARG).unwrap().status
        };
        // Rounded out to whole pages: from inside the first to inside the third.
        assert_eq!(call(&mut host, at + 100, 2 * 4096), Status::Ok as u32);
        assert_eq!(resident(&host, at, 4), [true, true, true, false]);
        assert!(
            host.mem
                .slice(at, 3 * 4096)
                .unwrap()
                .iter()
                .all(|&b| b == 0)
        );
        assert_eq!(call(&mut host, at, 0), Status::Ok as u32);
        for (addr, len) in [((1 << 20) - 4096, 8192), (1 << 40, 1), (u64::MAX - 10, 100)] {
            assert_eq!(
                call(&mut host, addr, len),
                Status::Invalid as u32,
                "{addr:#x}+{len}"
            );
        }
        assert_eq!(host.stats.exits[Number::Populate as usize], 5);
    }

    #[test]
    fn ready_tells_the_service_manager_once_and_polls_feed_its_watchdog() {
        let (mut host, _file) = host_with_disk();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        manager
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let notifier = oasis_host::notify::Notifier::connect(path.to_str().unwrap()).unwrap();
        host.service =
            crate::service::Service::new(notifier, Some(std::time::Duration::from_millis(10)));
        let mut buf = [0u8; 128];
        let mut next = || {
            let n = manager.recv(&mut buf).unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        host.mem.write(ARG, &Ready::default()).unwrap();
        assert_eq!(host.handle(Number::Ready, ARG).unwrap(), Flow::Resume);
        assert_eq!(host.handle(Number::Ready, ARG).unwrap(), Flow::Resume);
        assert!(next().starts_with("READY=1\nSTATUS=serving"));
        // A 35 ms POLL with no device: the wait is cut for each ping due.
        host.mem
            .write(
                ARG,
                &Poll {
                    timeout_ns: 35_000_000,
                    interest: 0,
                    ready: 0,
                },
            )
            .unwrap();
        assert_eq!(host.handle(Number::Poll, ARG).unwrap(), Flow::Resume);
        let pings: Vec<String> = std::iter::from_fn(|| {
            manager.set_nonblocking(true).unwrap();
            let n = manager.recv(&mut buf).ok()?;
            Some(String::from_utf8_lossy(&buf[..n]).into_owned())
        })
        .collect();
        assert!(
            (3..=5).contains(&pings.len()) && pings.iter().all(|p| p == "WATCHDOG=1"),
            "{pings:?}"
        );
        assert_eq!(host.stats.exits[Number::Ready as usize], 2);
    }

    #[test]
    fn waiting_for_nothing_forever_is_a_deadlock() {
        let (mut host, _file) = host_with_disk();
        let forever = Poll {
            timeout_ns: u64::MAX,
            interest: 0,
            ready: 0,
        };
        host.mem.write(ARG, &forever).unwrap();
        let e = host.handle(Number::Poll, ARG).unwrap_err().to_string();
        assert!(e.contains("deadlock"), "{e}");
    }

    #[test]
    fn poll_without_devices_sleeps_until_the_deadline() {
        let (mut host, _file) = host_with_disk();
        host.mem
            .write(
                ARG,
                &Poll {
                    timeout_ns: 20_000_000,
                    interest: u64::MAX,
                    ready: u64::MAX,
                },
            )
            .unwrap();
        let t = Instant::now();
        assert_eq!(host.handle(Number::Poll, ARG).unwrap(), Flow::Resume);
        assert!(t.elapsed() >= std::time::Duration::from_millis(20));
        assert_eq!(host.mem.read::<Poll>(ARG).unwrap().ready, 0);
    }
}
