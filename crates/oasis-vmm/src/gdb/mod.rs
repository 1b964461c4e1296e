//! `--gdb=ADDR`: a GDB remote-protocol stub for the guest, on the `gdbstub`
//! crate. The VMM listens on ADDR (loopback unless told otherwise), keeps
//! the guest stopped at its entry until a client attaches, and then serves
//! it: registers (general, x87, SSE; segment selectors read-only), memory
//! at guest-virtual addresses (through the guest's page tables, so an
//! unmapped address is an error to gdb, never a crash), software
//! breakpoints, single steps, continue, Ctrl-C, detach and kill.
//!
//! ```text
//! oasis-vmm --gdb=:1234 IMAGE              # or: oasis run APP --target kvm --gdb=:1234
//! gdb IMAGE -ex 'target remote :1234'
//! ```
//!
//! # Breakpoints and single steps on this host's KVM
//!
//! The VMM asks KVM to intercept `int3` and to single-step
//! (`KVM_SET_GUEST_DEBUG` with `KVM_GUESTDBG_USE_SW_BP` and
//! `KVM_GUESTDBG_SINGLESTEP`). Hardware KVM answers with `KVM_EXIT_DEBUG`.
//! The `kvm_pvm` of these machines, where the guest runs at CPL3, accepts
//! both flags but delivers neither exception as a debug exit: it raises
//! them in the guest, which has no IDT, so each ends as a triple fault
//! (`KVM_EXIT_SHUTDOWN`) — from which the vCPU resumes fine, with RIP past
//! the `int3` or past the stepped instruction (measured: stepping thousands
//! of instructions, then running on to a clean exit). The stub tells them
//! apart: a shutdown while stepping with DR6.BS set (DR6 is cleared before
//! each step) is a finished step; one with RIP just past an inserted
//! breakpoint is that breakpoint (RIP is moved back onto it); anything
//! else is a real fault, reported to gdb as SIGSEGV so `bt` shows where.
//! So single-stepping is KVM's own on both; nothing is emulated.
//!
//! # Waking a running guest
//!
//! The vCPU thread is the only thread. When the guest runs, a client's
//! bytes (Ctrl-C) or a new client's connection raise `SIGIO` on that
//! thread ([`wake`]), which takes the vCPU out of `KVM_RUN` and ends a
//! POLL hypercall's wait; the stub then reads the socket and stops the
//! guest if asked.
//!
//! # Clients that go away
//!
//! One client at a time; a second one is accepted and closed at once. A
//! client that detaches, disconnects (even mid-packet) or sends what the
//! protocol cannot parse (a bad checksum, an oversized packet) is dropped:
//! its breakpoints are removed, the guest runs on (a stopped guest is
//! resumed) and the VMM waits for the next client on the same address,
//! who finds the guest stopped wherever it was. Bytes outside packets are
//! ignored. `kill` ends the VMM with status 137 (128 + SIGKILL); the
//! guest's own exit ends it with the guest's status, as without `--gdb`.

pub mod conn;
pub mod target;
pub mod wake;
pub mod walk;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, RawFd};

use gdbstub::common::Signal;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, GdbStubError, SingleThreadStopReason};
use kvm_bindings::{
    KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP, KVM_GUESTDBG_USE_SW_BP, kvm_guest_debug,
};
use kvm_ioctls::VcpuFd;

use crate::error::Error;
use crate::fault;
use crate::hypercall::Host;
use crate::image::Image;
use crate::machine::{Exit, Machine};
use conn::{Client, Wait};
use target::{Debuggee, INT3, Resume};

/// Writes one line `oasis-vmm: gdb: …` to stderr in one write (stderr is
/// unbuffered: `eprintln!` would write it piece by piece).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!("oasis-vmm: gdb: {}\n", format_args!($($arg)*));
        let _ = std::io::stderr().write_all(line.as_bytes());
    }};
}

/// The VMM's exit status after gdb's `kill`: as if SIGKILL had ended it.
pub const KILLED_STATUS: i32 = 128 + libc::SIGKILL;

/// DR6's single-step bit (BS).
const DR6_BS: u64 = 1 << 14;
/// DR6 with no debug condition recorded.
const DR6_CLEAR: u64 = 0xffff_0ff0;
/// `#DB`.
const DEBUG_EXCEPTION: u32 = 1;

/// Why the debugger's socket cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum GdbError {
    /// Binding or listening failed.
    #[error("--gdb: cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// Preparing the socket or the signal that wakes the vCPU failed.
    #[error("--gdb: cannot {what}: {source}")]
    Setup {
        /// What was being done.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
}

/// The listening socket, made before the sandbox.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    /// The vCPU thread, which gets `SIGIO`.
    tid: libc::pid_t,
}

impl Server {
    /// Listens on `addr`.
    pub fn bind(addr: SocketAddr) -> Result<Server, GdbError> {
        let listener =
            TcpListener::bind(addr).map_err(|source| GdbError::Listen { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| GdbError::Listen { addr, source })?;
        Ok(Server {
            listener,
            addr,
            tid: 0,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Routes the sockets' `SIGIO` to this thread, which runs the vCPU
    /// (before the sandbox: it installs a signal handler).
    pub fn arm(&mut self, vcpu: &mut VcpuFd) -> Result<(), GdbError> {
        let setup = |what| move |source| GdbError::Setup { what, source };
        wake::arm(&mut vcpu.get_kvm_run().immediate_exit)
            .map_err(setup("install the SIGIO handler"))?;
        // SAFETY: gettid has no preconditions.
        self.tid = unsafe { libc::gettid() };
        wake::signal_driven(self.listener.as_raw_fd(), self.tid)
            .map_err(setup("make the listening socket signal-driven"))
    }

    fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// A client that connected, if any (without waiting).
    fn accept(&self) -> Option<Client> {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let client = wake::signal_driven(stream.as_raw_fd(), self.tid)
                        .and_then(|()| Client::new(stream, peer));
                    match client {
                        Ok(c) => {
                            say!("client {peer} attached; the guest is stopped");
                            return Some(c);
                        }
                        Err(e) => say!("client {peer} refused: {e}"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if e.kind() != io::ErrorKind::WouldBlock {
                        say!("accepting a client: {e}");
                    }
                    return None;
                }
            }
        }
    }

    /// Closes connections made while a client is attached.
    fn refuse_others(&self) {
        while let Ok((stream, peer)) = self.listener.accept() {
            say!("refused client {peer}: another is attached");
            drop(stream);
        }
    }

    /// Waits for a client; `Err(status)` if a signal stopped the VMM first.
    fn wait_for_client(&self) -> Result<Client, i32> {
        loop {
            if let Some(c) = self.accept() {
                return Ok(c);
            }
            let mut pfd = libc::pollfd {
                fd: self.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, no timeout, no signal mask.
            unsafe { libc::ppoll(&mut pfd, 1, std::ptr::null(), std::ptr::null()) };
            if let Some(status) = crate::stop::requested() {
                return Err(status);
            }
        }
    }
}

/// The stub's state for one client.
type Stub<'m> = GdbStubStateMachine<'static, Debuggee<'m>, Client>;
/// A stop reason of the single-threaded guest.
type StopReason = SingleThreadStopReason<u64>;

/// How a run of the guest under the debugger ended.
enum Event {
    /// Stopped for the client.
    Stop(StopReason),
    /// The guest exited with this status.
    Exit(i32),
    /// A socket woke the vCPU.
    Woken,
    /// SIGINT or SIGTERM: the VMM ends with this status.
    Stopped(i32),
}

impl Debuggee<'_> {
    /// Sets KVM's guest debugging, if it changed.
    fn set_debug(&mut self, control: u32) -> Result<(), Error> {
        if self.debug_control == Some(control) {
            return Ok(());
        }
        let dbg = kvm_guest_debug {
            control,
            ..Default::default()
        };
        self.vcpu
            .set_guest_debug(&dbg)
            .map_err(|e| Error::kvm("KVM_SET_GUEST_DEBUG", e))?;
        self.debug_control = Some(control);
        Ok(())
    }

    /// Runs the guest as the client asked until something stops it.
    fn run_for_client(&mut self) -> Result<Event, Error> {
        let step = self.resume == Resume::Step;
        let mut control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP;
        if step {
            control |= KVM_GUESTDBG_SINGLESTEP;
            let mut d = self
                .vcpu
                .get_debug_regs()
                .map_err(|e| Error::kvm("KVM_GET_DEBUGREGS", e))?;
            d.dr6 = DR6_CLEAR;
            self.vcpu
                .set_debug_regs(&d)
                .map_err(|e| Error::kvm("KVM_SET_DEBUGREGS", e))?;
        }
        self.set_debug(control)?;
        loop {
            match Machine::run_once(self.vcpu)? {
                Exit::Call { at, value } => {
                    if let Some(status) =
                        Machine::hypercall(self.vcpu, self.host, self.image, at, value)?
                    {
                        return Ok(Event::Exit(status));
                    }
                }
                Exit::Interrupted => return Ok(Event::Woken),
                Exit::Tick => {}
                Exit::Stopped(status) => return Ok(Event::Stopped(status)),
                Exit::Debug(arch) => return self.debug_exit(arch, step).map(Event::Stop),
                Exit::Shutdown => return self.shutdown(step).map(Event::Stop),
                Exit::Other(what) => return Ok(Event::Stop(self.fault(&what))),
            }
        }
    }

    /// Hardware KVM's `KVM_EXIT_DEBUG`.
    fn debug_exit(
        &mut self,
        arch: kvm_bindings::kvm_debug_exit_arch,
        step: bool,
    ) -> Result<StopReason, Error> {
        if arch.exception == DEBUG_EXCEPTION {
            return Ok(if step && arch.dr6 & DR6_BS != 0 {
                StopReason::DoneStep
            } else {
                StopReason::Signal(Signal::SIGTRAP)
            });
        }
        Ok(self
            .at_breakpoint(true)?
            .unwrap_or(StopReason::Signal(Signal::SIGTRAP)))
    }

    /// A shutdown: on kvm_pvm a step or a breakpoint, else a real fault
    /// (see the module's documentation).
    fn shutdown(&mut self, step: bool) -> Result<StopReason, Error> {
        if step {
            let d = self
                .vcpu
                .get_debug_regs()
                .map_err(|e| Error::kvm("KVM_GET_DEBUGREGS", e))?;
            if d.dr6 & DR6_BS != 0 {
                return Ok(StopReason::DoneStep);
            }
        }
        match self.at_breakpoint(false)? {
            Some(stop) => Ok(stop),
            None => Ok(self.fault("triple fault")),
        }
    }

    /// A breakpoint stop if RIP is just past an inserted breakpoint whose
    /// `int3` is still there (then RIP is moved back onto it), or, when
    /// `on_it` (KVM's own debug exit), on one.
    fn at_breakpoint(&mut self, on_it: bool) -> Result<Option<StopReason>, Error> {
        let mut r = self
            .vcpu
            .get_regs()
            .map_err(|e| Error::kvm("KVM_GET_REGS", e))?;
        if on_it && self.breakpoints.contains_key(&r.rip) {
            return Ok(Some(StopReason::SwBreak(())));
        }
        let Some(at) = r.rip.checked_sub(1) else {
            return Ok(None);
        };
        let patched = walk::translate(&self.host.mem, at)
            .and_then(|(pa, _)| self.host.mem.slice(pa, 1))
            .is_some_and(|b| b[0] == INT3);
        if !self.breakpoints.contains_key(&at) || !patched {
            return Ok(None);
        }
        r.rip = at;
        self.vcpu
            .set_regs(&r)
            .map_err(|e| Error::kvm("KVM_SET_REGS", e))?;
        Ok(Some(StopReason::SwBreak(())))
    }

    /// A guest fault with a client attached: said on stderr, and shown to
    /// gdb as SIGSEGV (the registers stay as the fault left them).
    fn fault(&self, what: &str) -> StopReason {
        let rip = self.vcpu.get_regs().map(|r| r.rip).unwrap_or(0);
        let at = self
            .image
            .symbolize(rip)
            .map_or_else(|| format!("{rip:#x}"), |s| format!("{s} ({rip:#x})"));
        say!("the guest stopped with {what} in {at}; reported to gdb as SIGSEGV");
        StopReason::Signal(Signal::SIGSEGV)
    }

    /// Runs the guest with no client until it ends or a socket wakes the
    /// vCPU; `Ok(Some(status))` when it ended.
    fn run_alone(&mut self) -> Result<Option<i32>, Error> {
        self.set_debug(0)?;
        loop {
            match Machine::run_once(self.vcpu)? {
                Exit::Call { at, value } => {
                    if let Some(status) =
                        Machine::hypercall(self.vcpu, self.host, self.image, at, value)?
                    {
                        return Ok(Some(status));
                    }
                }
                Exit::Interrupted => return Ok(None),
                Exit::Tick => {}
                Exit::Stopped(status) => return Ok(Some(status)),
                Exit::Shutdown => return Err(fault::report(self.vcpu, self.image, "triple fault")),
                Exit::Debug(_) => {
                    return Err(fault::report(
                        self.vcpu,
                        self.image,
                        "stopped with a debug exit",
                    ));
                }
                Exit::Other(what) => {
                    return Err(fault::report(
                        self.vcpu,
                        self.image,
                        &format!("stopped with {what}"),
                    ));
                }
            }
        }
    }
}

/// Starts the stub for a new client; the guest is stopped.
fn start<'m>(client: Client, guest: &mut Debuggee<'m>) -> Option<Stub<'m>> {
    let peer = client.peer();
    wake::watch(client.fd());
    guest.resume = Resume::Continue;
    let stub = match GdbStub::builder(client)
        .packet_buffer_size(conn::PACKET_SIZE)
        .build()
    {
        Ok(stub) => stub,
        Err(e) => {
            say!("client {peer}: {e}");
            return None;
        }
    };
    match stub.run_state_machine(guest) {
        Ok(stub) => Some(stub),
        Err(e) => {
            say!("client {peer}: {e}");
            None
        }
    }
}

/// What happens to the run after the stub handled something.
enum Next<'m> {
    /// Go on with this client.
    Serve(Stub<'m>),
    /// The client is gone; the guest runs on alone.
    Drop,
    /// The VMM ends with this status.
    End(i32),
}

/// Sorts the stub's answer: a fatal KVM error ends the run; anything
/// wrong with the client (its connection, its packets) drops it.
fn handled<'m>(
    r: Result<Stub<'m>, GdbStubError<Error, io::Error>>,
    peer: SocketAddr,
) -> Result<Next<'m>, Error> {
    match r {
        Ok(stub) => Ok(Next::Serve(stub)),
        Err(e) if e.is_target_error() => match e.into_target_error() {
            Some(e) => Err(e),
            None => Ok(Next::Drop),
        },
        Err(e) => {
            say!("client {peer} dropped: {e}");
            Ok(Next::Drop)
        }
    }
}

/// One turn of the stub with its client.
fn serve<'m>(
    stub: Stub<'m>,
    guest: &mut Debuggee<'m>,
    server: &Server,
    peer: SocketAddr,
) -> Result<Next<'m>, Error> {
    match stub {
        GdbStubStateMachine::Idle(mut s) => {
            match s.borrow_conn().next_byte() {
                Ok(Some(byte)) => return handled(s.incoming_data(guest, byte), peer),
                Ok(None) => {}
                Err(e) => {
                    gone(peer, &e);
                    return Ok(Next::Drop);
                }
            }
            match s.borrow_conn().wait(server.fd()) {
                Ok(Wait::Ready) => Ok(Next::Serve(s.into())),
                Ok(Wait::Interrupted) => {
                    if let Some(status) = crate::stop::requested() {
                        return Ok(Next::End(status));
                    }
                    server.refuse_others();
                    Ok(Next::Serve(s.into()))
                }
                Err(e) => {
                    gone(peer, &e);
                    Ok(Next::Drop)
                }
            }
        }
        GdbStubStateMachine::Running(mut s) => {
            wake::clear(guest.vcpu);
            server.refuse_others();
            if let Err(e) = s.borrow_conn().drain() {
                gone(peer, &e);
                return Ok(Next::Drop);
            }
            match s.borrow_conn().next_byte() {
                Ok(Some(byte)) => return handled(s.incoming_data(guest, byte), peer),
                Ok(None) => {}
                Err(e) => {
                    gone(peer, &e);
                    return Ok(Next::Drop);
                }
            }
            match guest.run_for_client()? {
                Event::Stop(reason) => handled(s.report_stop(guest, reason), peer),
                Event::Exit(status) => {
                    let code = u8::try_from(status).unwrap_or(u8::MAX);
                    let _ = s.report_stop(guest, StopReason::Exited(code));
                    Ok(Next::End(status))
                }
                Event::Woken => Ok(Next::Serve(s.into())),
                Event::Stopped(status) => Ok(Next::End(status)),
            }
        }
        GdbStubStateMachine::CtrlCInterrupt(s) => handled(
            s.interrupt_handled(guest, Some(StopReason::Signal(Signal::SIGINT))),
            peer,
        ),
        GdbStubStateMachine::Disconnected(s) => match s.get_reason() {
            DisconnectReason::Disconnect => {
                say!("client {peer} detached; the guest runs on");
                Ok(Next::Drop)
            }
            DisconnectReason::Kill => {
                say!("client {peer} killed the guest");
                Ok(Next::End(KILLED_STATUS))
            }
            DisconnectReason::TargetExited(code) => Ok(Next::End(i32::from(code))),
            DisconnectReason::TargetTerminated(signal) => Ok(Next::End(128 + i32::from(signal.0))),
        },
    }
}

fn gone(peer: SocketAddr, e: &io::Error) {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        say!("client {peer} disconnected; the guest runs on");
    } else {
        say!("client {peer} dropped: {e}; the guest runs on");
    }
}

/// Runs the guest under the debugger to its end: stopped at its entry
/// until the first client attaches, then as clients ask; returns the
/// guest's exit status (or the VMM's, after a signal or a kill).
pub fn run(
    server: Server,
    vcpu: &mut VcpuFd,
    host: &mut Host,
    image: &Image,
) -> Result<i32, Error> {
    let result = run_inner(&server, vcpu, host, image);
    wake::disarm();
    result
}

fn run_inner(
    server: &Server,
    vcpu: &mut VcpuFd,
    host: &mut Host,
    image: &Image,
) -> Result<i32, Error> {
    let addr = server.addr();
    say!(
        "the guest is stopped at its entry {:#x}; waiting for a client on {addr} (gdb IMAGE -ex 'target remote {addr}')",
        image.entry
    );
    let mut guest = Debuggee::new(vcpu, host, image);
    let mut client = match server.wait_for_client() {
        Ok(c) => {
            let peer = c.peer();
            start(c, &mut guest).map(|s| (s, peer))
        }
        Err(status) => return Ok(status),
    };
    loop {
        let Some((stub, peer)) = client.take() else {
            // Alone: the guest runs until it ends or a client connects.
            guest.remove_all_breakpoints();
            wake::watch(server.fd());
            if let Some(status) = guest.run_alone()? {
                return Ok(status);
            }
            wake::clear(guest.vcpu);
            client = server.accept().and_then(|c| {
                let peer = c.peer();
                start(c, &mut guest).map(|s| (s, peer))
            });
            continue;
        };
        match serve(stub, &mut guest, server, peer)? {
            Next::Serve(stub) => client = Some((stub, peer)),
            Next::Drop => {}
            Next::End(status) => return Ok(status),
        }
    }
}
