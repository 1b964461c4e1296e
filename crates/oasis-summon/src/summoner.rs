//! The event loop: one thread, one epoll over the UDP socket, each VMM's
//! notification socket and pidfd, and the stop signals; timers are the
//! epoll wait's timeout, set to the nearest idle or boot deadline. Nothing
//! polls: a cold query is held until its VMM says `READY=1` (the guest's
//! `Ready` hypercall, ARCHITECTURE.md §2), exits, or misses its deadline.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::sys::{self, Epoll};
use crate::zone::{Zone, servfail};

/// Queries held for one booting service, at most; later ones get SERVFAIL.
const MAX_WAITING: usize = 64;
/// How long a stopping VMM gets after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The UDP socket's receive buffer, in bytes.
const RECEIVE_BUFFER: usize = 4 << 20;

const UDP: u64 = u64::MAX;
const SIGNALS: u64 = u64::MAX - 1;
/// A service's tokens: index × 2, + 1 for its pidfd.
const PIDFD: u64 = 1;

/// A VMM this summoner started.
struct Vm {
    child: Child,
    pidfd: OwnedFd,
    notify: UnixDatagram,
    started: Instant,
}

enum State {
    Stopped,
    /// Started, not ready yet; queries wait.
    Booting(Vm),
    /// Ready: queries are answered at once.
    Running(Vm),
    /// Sent SIGTERM (or SIGKILL) at the instant given; queries wait for
    /// its exit, then boot it again.
    Stopping(Vm, Instant),
}

struct Service {
    state: State,
    /// The last query for it (idle stops count from here).
    last_query: Instant,
    /// Held queries and their senders.
    waiting: Vec<(Vec<u8>, SocketAddr)>,
}

/// The summoner's whole state.
pub struct Summoner {
    config: Config,
    zone: Zone,
    socket: UdpSocket,
    epoll: Epoll,
    signals: OwnedFd,
    services: Vec<Service>,
    /// The monitor's command.
    vmm: Vec<String>,
    /// Services in `Booting`.
    booting: usize,
    /// Boots so far (names each notification socket apart).
    boots: u64,
    /// Queries refused for the bound since the last log line about it.
    refused: u64,
}

fn log(line: std::fmt::Arguments) {
    eprintln!("oasis summon: {line}");
}

impl Summoner {
    /// Binds the socket and compiles the zone; `default_vmm` is the monitor's
    /// command when the configuration names none.
    pub fn new(config: Config, default_vmm: Vec<String>) -> Result<Summoner, String> {
        let zone = Zone::new(&config)?;
        let socket =
            UdpSocket::bind(config.listen).map_err(|e| format!("listen {}: {e}", config.listen))?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        // A burst of queries for many services waits here while the loop
        // boots: room for thousands, not the default ~200 KiB.
        sys::receive_buffer(&socket, RECEIVE_BUFFER);
        let epoll = Epoll::new().map_err(|e| format!("epoll: {e}"))?;
        let signals = sys::stop_signals().map_err(|e| format!("signalfd: {e}"))?;
        epoll
            .add(socket.as_raw_fd(), UDP)
            .map_err(|e| e.to_string())?;
        epoll
            .add(signals.as_raw_fd(), SIGNALS)
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        let services = config
            .services
            .iter()
            .map(|_| Service {
                state: State::Stopped,
                last_query: now,
                waiting: Vec::new(),
            })
            .collect();
        let vmm = config.vmm.clone().unwrap_or(default_vmm);
        Ok(Summoner {
            config,
            zone,
            socket,
            epoll,
            signals,
            services,
            vmm,
            booting: 0,
            boots: 0,
            refused: 0,
        })
    }

    /// The address served (the port chosen when the configuration said 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves until SIGTERM or SIGINT, then stops every VMM it started.
    pub fn run(mut self) -> Result<(), String> {
        log(format_args!(
            "serving {} ({} services) on {}, idle {:?}, max-boots {}",
            self.config.zone,
            self.services.len(),
            self.local_addr().map_err(|e| e.to_string())?,
            self.config.idle,
            self.config.max_boots
        ));
        let mut tokens = Vec::new();
        loop {
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            self.epoll
                .wait(&mut tokens, timeout)
                .map_err(|e| format!("epoll_wait: {e}"))?;
            for &t in &tokens {
                match t {
                    UDP => self.queries(),
                    SIGNALS => {
                        self.shutdown();
                        return Ok(());
                    }
                    t if t & PIDFD != 0 => self.exited((t >> 1) as usize),
                    t => self.notified((t >> 1) as usize),
                }
            }
            if self.refused > 0 {
                log(format_args!(
                    "SERVFAIL for {} queries: {} boots under way (max-boots)",
                    self.refused, self.booting
                ));
                self.refused = 0;
            }
            self.deadlines(Instant::now());
        }
    }

    /// The nearest instant something must happen without input.
    fn next_deadline(&self) -> Option<Instant> {
        self.services
            .iter()
            .filter_map(|s| match &s.state {
                State::Stopped => None,
                State::Booting(vm) => Some(vm.started + self.config.boot_timeout),
                State::Running(_) => Some(s.last_query + self.config.idle),
                State::Stopping(_, since) => Some(*since + STOP_GRACE),
            })
            .min()
    }

    fn send(&self, response: &[u8], to: SocketAddr) {
        // A full socket buffer drops the response, as a lost datagram would.
        let _ = self.socket.send_to(response, to);
    }

    fn answer(&self, query: &[u8], to: SocketAddr) {
        let mut out = [0u8; 1232];
        if let Some(n) = self.zone.answer(query, &mut out) {
            self.send(&out[..n], to);
        }
    }

    fn refuse(&self, query: &[u8], to: SocketAddr) {
        if let Some(r) = servfail(query) {
            self.send(&r, to);
        }
    }

    /// Every datagram waiting on the socket.
    fn queries(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            let (n, from) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            let query = &buf[..n];
            match self.zone.service_asked(query) {
                None => self.answer(query, from),
                Some(i) => self.summon(i, query, from),
            }
        }
    }

    /// A query for service `i`'s address: answered now if it runs, else
    /// held while it boots (or SERVFAIL when it cannot).
    fn summon(&mut self, i: usize, query: &[u8], from: SocketAddr) {
        let now = Instant::now();
        self.services[i].last_query = now;
        match self.services[i].state {
            State::Running(_) => return self.answer(query, from),
            State::Stopped if self.booting >= self.config.max_boots => {
                self.refused += 1;
                return self.refuse(query, from);
            }
            State::Stopped => {
                if let Err(e) = self.boot(i, now) {
                    log(format_args!(
                        "{}: cannot boot: {e}",
                        self.config.services[i].name
                    ));
                    return self.refuse(query, from);
                }
            }
            State::Booting(_) | State::Stopping(..) => {}
        }
        if self.services[i].waiting.len() >= MAX_WAITING {
            return self.refuse(query, from);
        }
        self.services[i].waiting.push((query.to_vec(), from));
    }

    /// Starts service `i`'s VMM with `$NOTIFY_SOCKET` naming a socket of
    /// its own, watched with its pidfd.
    fn boot(&mut self, i: usize, now: Instant) -> Result<(), String> {
        let s = &self.config.services[i];
        self.boots += 1;
        let name = format!(
            "oasis-summon-{}-{}-{}",
            std::process::id(),
            s.name,
            self.boots
        );
        let addr = UnixAddr::from_abstract_name(name.as_bytes()).map_err(|e| e.to_string())?;
        let notify = UnixDatagram::bind_addr(&addr).map_err(|e| format!("notify socket: {e}"))?;
        notify.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.vmm[0]);
        cmd.args(&self.vmm[1..])
            .args(&s.vmm_options)
            .arg(&s.image)
            .arg("--")
            .args(&s.boot_args)
            .env("NOTIFY_SOCKET", format!("@{name}"))
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .stdin(Stdio::null());
        // SAFETY: child_setup only makes async-signal-safe calls.
        unsafe { cmd.pre_exec(sys::child_setup) };
        let child = cmd.spawn().map_err(|e| format!("{}: {e}", self.vmm[0]))?;
        let pid = child.id();
        let pidfd = match sys::pidfd(pid) {
            Ok(fd) => fd,
            Err(e) => {
                sys::kill(pid, libc::SIGKILL);
                let mut child = child;
                let _ = child.wait();
                return Err(format!("pidfd_open: {e}"));
            }
        };
        let token = (i as u64) << 1;
        self.epoll
            .add(notify.as_raw_fd(), token)
            .and_then(|()| self.epoll.add(pidfd.as_raw_fd(), token | PIDFD))
            .map_err(|e| e.to_string())?;
        self.booting += 1;
        log(format_args!(
            "{}: booting, pid {pid} ({} boots under way)",
            s.name, self.booting
        ));
        self.services[i].state = State::Booting(Vm {
            child,
            pidfd,
            notify,
            started: now,
        });
        Ok(())
    }

    /// Service `i`'s notification socket is readable.
    fn notified(&mut self, i: usize) {
        let ready = {
            let (State::Booting(vm) | State::Running(vm) | State::Stopping(vm, _)) =
                &self.services[i].state
            else {
                return;
            };
            let mut buf = [0u8; 512];
            let mut ready = false;
            while let Ok(n) = vm.notify.recv(&mut buf) {
                ready |= buf[..n].split(|b| *b == b'\n').any(|l| l == b"READY=1");
            }
            ready
        };
        if !ready {
            return;
        }
        let s = &mut self.services[i];
        if !matches!(s.state, State::Booting(_)) {
            return;
        }
        let State::Booting(vm) = std::mem::replace(&mut s.state, State::Stopped) else {
            unreachable!()
        };
        self.booting -= 1;
        let now = Instant::now();
        log(format_args!(
            "{}: ready in {:.2} ms, pid {}",
            self.config.services[i].name,
            (now - vm.started).as_secs_f64() * 1e3,
            vm.child.id()
        ));
        s.state = State::Running(vm);
        s.last_query = now;
        for (query, from) in std::mem::take(&mut s.waiting) {
            self.answer(&query, from);
        }
    }

    /// Service `i`'s pidfd is readable: reap its VMM if it has exited.
    fn exited(&mut self, i: usize) {
        let s = &mut self.services[i];
        let status = match &mut s.state {
            State::Booting(vm) | State::Running(vm) | State::Stopping(vm, _) => {
                match vm.child.try_wait() {
                    Ok(Some(status)) => status,
                    _ => return,
                }
            }
            State::Stopped => return,
        };
        let old = std::mem::replace(&mut s.state, State::Stopped);
        let name = &self.config.services[i].name;
        let (pid, was) = match &old {
            State::Booting(vm) => (vm.child.id(), "booting"),
            State::Running(vm) => (vm.child.id(), "running"),
            State::Stopping(vm, _) => (vm.child.id(), "stopping"),
            State::Stopped => unreachable!(),
        };
        log(format_args!(
            "{name}: pid {pid} exited ({status}) while {was}"
        ));
        drop(old);
        if was == "booting" {
            self.booting -= 1;
            for (query, from) in std::mem::take(&mut self.services[i].waiting) {
                self.refuse(&query, from);
            }
        } else if !self.services[i].waiting.is_empty() {
            // Queries came while it stopped: boot it again for them.
            let waiting = std::mem::take(&mut self.services[i].waiting);
            for (query, from) in waiting {
                self.summon(i, &query, from);
            }
        }
    }

    /// Idle services stop; late boots are killed; stops that take too long
    /// are forced.
    fn deadlines(&mut self, now: Instant) {
        for i in 0..self.services.len() {
            let name = &self.config.services[i].name;
            let s = &mut self.services[i];
            match &s.state {
                State::Running(vm) if now >= s.last_query + self.config.idle => {
                    log(format_args!(
                        "{name}: idle for {:?}, stopping pid {}",
                        self.config.idle,
                        vm.child.id()
                    ));
                    sys::kill(vm.child.id(), libc::SIGTERM);
                    let State::Running(vm) = std::mem::replace(&mut s.state, State::Stopped) else {
                        unreachable!()
                    };
                    s.state = State::Stopping(vm, now);
                }
                State::Booting(vm) if now >= vm.started + self.config.boot_timeout => {
                    log(format_args!(
                        "{name}: not ready in {:?}, killing pid {}",
                        self.config.boot_timeout,
                        vm.child.id()
                    ));
                    sys::kill(vm.child.id(), libc::SIGKILL);
                    let State::Booting(vm) = std::mem::replace(&mut s.state, State::Stopped) else {
                        unreachable!()
                    };
                    s.state = State::Stopping(vm, now);
                    self.booting -= 1;
                    for (query, from) in std::mem::take(&mut self.services[i].waiting) {
                        self.refuse(&query, from);
                    }
                }
                State::Stopping(vm, since) if now >= *since + STOP_GRACE => {
                    sys::kill(vm.child.id(), libc::SIGKILL);
                    let State::Stopping(vm, _) = std::mem::replace(&mut s.state, State::Stopped)
                    else {
                        unreachable!()
                    };
                    s.state = State::Stopping(vm, now);
                }
                _ => {}
            }
        }
    }

    /// SIGTERM to every VMM, then each is reaped (SIGKILL after the grace).
    fn shutdown(&mut self) {
        log(format_args!("stopping"));
        let mut vms = Vec::new();
        for s in &mut self.services {
            for (query, from) in std::mem::take(&mut s.waiting) {
                if let Some(r) = servfail(&query) {
                    let _ = self.socket.send_to(&r, from);
                }
            }
            match std::mem::replace(&mut s.state, State::Stopped) {
                State::Booting(vm) | State::Running(vm) | State::Stopping(vm, _) => {
                    sys::kill(vm.child.id(), libc::SIGTERM);
                    vms.push(vm);
                }
                State::Stopped => {}
            }
        }
        let until = Instant::now() + STOP_GRACE;
        for mut vm in vms {
            while !matches!(vm.child.try_wait(), Ok(Some(_))) {
                if Instant::now() >= until {
                    sys::kill(vm.child.id(), libc::SIGKILL);
                    let _ = vm.child.wait();
                    break;
                }
                wait_readable(&vm.pidfd, until);
            }
        }
        let _ = &self.signals;
    }
}

/// Blocks until `fd` is readable or `until` passes.
fn wait_readable(fd: &OwnedFd, until: Instant) {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = until
        .saturating_duration_since(Instant::now())
        .as_millis()
        .min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) };
}
