//! A sampling profiler for the guest (`--profile=FILE`): a POSIX timer
//! sends the vCPU thread a signal at a fixed rate, which kicks the vCPU out
//! of `KVM_RUN`; the VMM then reads RIP and RBP, walks the guest's frame
//! pointers through guest memory and counts the stack. At the end the
//! stacks are named from the image's symbols and written as folded stacks
//! (`outer;…;leaf COUNT` lines), ready for `inferno-flamegraph`.
//!
//! A tick that arrives while the VMM does a hypercall's work is counted
//! under the guest's stack at that hypercall with a `[vmm] NAME` leaf (the
//! VMM's own time on the guest's behalf); one that arrives while the VMM
//! blocks in the POLL hypercall's `ppoll` is counted as `[idle]`, a stack of
//! its own. So the counts add up to wall-clock time, and the idle share is
//! the time the guest had nothing to do.
//!
//! The walk trusts nothing: every frame must lie in the guest's stack,
//! 8-byte aligned, above the one before (so a loop ends it), with a return
//! address in the image; every read is bounds-checked against guest memory;
//! it stops after [`MAX_DEPTH`] frames. Code built without frame pointers
//! ends a walk early or skips callers, never more.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kvm_ioctls::VcpuFd;
use oasis_abi::hypercall::Number;
use oasis_abi::layout::{STACK_BOTTOM, STACK_TOP};

use crate::error::Error;
use crate::image::Image;
use crate::memory::GuestMemory;

/// Samples per second when `--profile-hz` is not given.
pub const DEFAULT_HZ: u32 = 1000;
/// The highest `--profile-hz` accepted.
pub const MAX_HZ: u32 = 10_000;
/// Most frames recorded for one sample, the leaf included.
pub const MAX_DEPTH: usize = 128;
/// The signal the sampling timer sends.
const SIGNAL: libc::c_int = libc::SIGPROF;

/// Timer ticks not yet turned into a sample (the VMM or the guest was running).
static TICKS: AtomicU64 = AtomicU64::new(0);
/// Ticks that arrived while the VMM blocked in POLL.
static IDLE: AtomicU64 = AtomicU64::new(0);
/// Ticks the kernel merged into one signal (the VMM was not scheduled).
static MISSED: AtomicU64 = AtomicU64::new(0);
/// Whether the VMM is blocked waiting for the guest's devices or deadline.
static WAITING: AtomicBool = AtomicBool::new(false);

/// Runs `wait` (the POLL hypercall's blocking call) with ticks counted as idle.
pub fn idle_wait<T>(wait: impl FnOnce() -> T) -> T {
    WAITING.store(true, Ordering::Relaxed);
    let r = wait();
    WAITING.store(false, Ordering::Relaxed);
    r
}

/// The start of the kernel's `siginfo_t` for a POSIX timer's signal (its `_timer` member).
#[repr(C)]
struct TimerInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    _pad: libc::c_int,
    tid: libc::c_int,
    overrun: libc::c_int,
}

extern "C" fn on_tick(_signal: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    if !info.is_null() {
        // SAFETY: the kernel hands a whole siginfo_t (128 bytes), of which
        // TimerInfo reads the first 24, laid out as the kernel's struct is.
        let t = unsafe { &*info.cast::<TimerInfo>() };
        if t.code == libc::SI_TIMER && t.overrun > 0 {
            MISSED.fetch_add(t.overrun as u64, Ordering::Relaxed);
        }
    }
    if WAITING.load(Ordering::Relaxed) {
        IDLE.fetch_add(1, Ordering::Relaxed);
    } else {
        TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Memory a stack walk reads: guest memory, or a fake one in tests.
pub trait FrameMemory {
    /// The 8 bytes at `addr`, little-endian, if they lie in memory.
    fn read_u64(&self, addr: u64) -> Option<u64>;
}

impl FrameMemory for GuestMemory {
    fn read_u64(&self, addr: u64) -> Option<u64> {
        // Guest virtual addresses are guest-physical ones (identity-mapped, see setup).
        self.read::<u64>(addr)
    }
}

/// Where frames and return addresses may lie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// The guest's stack: every frame (saved RBP and return address) lies here.
    pub stack: Range<u64>,
    /// The guest's code: every return address points here.
    pub code: Range<u64>,
}

impl Bounds {
    /// The oasis stack and an image's extent.
    pub fn for_image(image: &Image) -> Bounds {
        Bounds {
            stack: STACK_BOTTOM..STACK_TOP,
            code: image.segments.iter().map(|s| s.addr).min().unwrap_or(0)..image.end,
        }
    }
}

/// Appends `rip` and then the return addresses found by following the
/// frame-pointer chain from `rbp` (leaf first), at most [`MAX_DEPTH`] in all.
/// A frame outside the stack, misaligned, not above the one before, or with
/// a return address outside the code ends the walk.
pub fn walk(mem: &impl FrameMemory, rip: u64, rbp: u64, bounds: &Bounds, out: &mut Vec<u64>) {
    out.push(rip);
    let mut fp = rbp;
    for _ in 1..MAX_DEPTH {
        // A frame: the caller's RBP at fp, the return address at fp + 8.
        let inside = fp >= bounds.stack.start
            && fp
                .checked_add(16)
                .is_some_and(|end| end <= bounds.stack.end);
        if !fp.is_multiple_of(8) || !inside {
            return;
        }
        let (Some(next), Some(ret)) = (mem.read_u64(fp), mem.read_u64(fp + 8)) else {
            return;
        };
        if !bounds.code.contains(&ret) {
            return;
        }
        out.push(ret);
        if next <= fp {
            // The end of the chain (0), a loop, or garbage.
            return;
        }
        fp = next;
    }
}

/// Counted stacks. A key is `[what, rip, return addresses…]`: `what` is 0
/// for the guest running, else the number of the hypercall the VMM was
/// answering.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    stacks: HashMap<Vec<u64>, u64>,
    /// Samples taken while the VMM blocked in POLL.
    pub idle: u64,
}

impl Samples {
    /// Counts `n` samples of `stack` (a key as the type describes).
    pub fn add(&mut self, stack: &[u64], n: u64) {
        match self.stacks.get_mut(stack) {
            Some(c) => *c += n,
            None => {
                self.stacks.insert(stack.to_vec(), n);
            }
        }
    }

    /// Samples of the guest running and of the VMM working for it, apart.
    pub fn split(&self) -> (u64, u64) {
        self.stacks.iter().fold((0, 0), |(g, v), (k, n)| {
            if k.first() == Some(&0) {
                (g + n, v)
            } else {
                (g, v + n)
            }
        })
    }

    /// Folds the stacks into `outer;…;leaf` lines with their counts, naming
    /// each address with `name` (`[unknown]` where it has none; return
    /// addresses are named by the call before them).
    pub fn fold(&self, name: impl Fn(u64) -> Option<String>) -> BTreeMap<String, u64> {
        let mut names: HashMap<u64, String> = HashMap::new();
        let mut named = |addr: u64| -> String {
            names
                .entry(addr)
                .or_insert_with(|| match name(addr) {
                    Some(n) => n.replace(';', ":"),
                    None => "[unknown]".to_string(),
                })
                .clone()
        };
        let mut out = BTreeMap::new();
        for (key, n) in &self.stacks {
            let [what, rip, rets @ ..] = key.as_slice() else {
                continue;
            };
            let mut frames: Vec<String> = rets
                .iter()
                .rev()
                .map(|r| named(r.saturating_sub(1)))
                .collect();
            frames.push(named(*rip));
            if *what != 0 {
                let call = Number::ALL.into_iter().find(|c| *c as u64 == *what);
                frames.push(match call {
                    Some(c) => format!("[vmm] {c:?}"),
                    None => "[vmm]".to_string(),
                });
            }
            *out.entry(frames.join(";")).or_insert(0) += n;
        }
        if self.idle > 0 {
            *out.entry("[idle]".to_string()).or_insert(0) += self.idle;
        }
        out
    }
}

/// Writes folded stacks, one `stack COUNT` line each.
pub fn write_folded(out: &mut impl Write, folded: &BTreeMap<String, u64>) -> std::io::Result<()> {
    for (stack, n) in folded {
        writeln!(out, "{stack} {n}")?;
    }
    Ok(())
}

/// What a profile holds, for the line printed at exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Samples of the guest running.
    pub guest: u64,
    /// Samples of the VMM answering a hypercall.
    pub vmm: u64,
    /// Samples of the VMM blocked in POLL.
    pub idle: u64,
    /// Timer ticks lost because the VMM was not scheduled in time.
    pub missed: u64,
}

/// The profiler of one guest run: its output file, its timer, its samples.
pub struct Profiler {
    path: PathBuf,
    file: Option<File>,
    hz: u32,
    timer: Option<libc::timer_t>,
    bounds: Bounds,
    samples: Samples,
    scratch: Vec<u64>,
}

impl Profiler {
    /// Creates (truncates) `path` now, so that a bad path fails before the
    /// guest runs and the file needs no `open` inside the sandbox.
    pub fn create(path: &Path, hz: u32, image: &Image) -> Result<Profiler, Error> {
        let file = File::create(path).map_err(|source| Error::Profile {
            path: path.to_path_buf(),
            what: "cannot create it",
            source,
        })?;
        Ok(Profiler {
            path: path.to_path_buf(),
            file: Some(file),
            hz: hz.clamp(1, MAX_HZ),
            timer: None,
            bounds: Bounds::for_image(image),
            samples: Samples::default(),
            scratch: Vec::with_capacity(MAX_DEPTH + 1),
        })
    }

    fn error(&self, what: &'static str) -> Error {
        Error::Profile {
            path: self.path.clone(),
            what,
            source: std::io::Error::last_os_error(),
        }
    }

    /// Catches the timer's signal and starts the timer, aimed at this
    /// thread (the vCPU's). Called before the sandbox.
    pub fn start(&mut self) -> Result<(), Error> {
        for counter in [&TICKS, &IDLE, &MISSED] {
            counter.store(0, Ordering::Relaxed);
        }
        // SAFETY: a zeroed sigaction is valid; the handler only touches atomics.
        let caught = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_tick as *const () as libc::sighandler_t;
            // SA_RESTART: the VMM's other system calls go on; KVM_RUN and
            // ppoll return EINTR whatever the flag says.
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(SIGNAL, &action, std::ptr::null_mut())
        };
        if caught != 0 {
            return Err(self.error("cannot catch the sampling signal"));
        }
        // SAFETY: a zeroed sigevent is valid; the fields set are the ones
        // SIGEV_THREAD_ID reads.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = SIGNAL;
        // SAFETY: no preconditions.
        event.sigev_notify_thread_id = unsafe { libc::gettid() };
        let mut timer: libc::timer_t = std::ptr::null_mut();
        // SAFETY: both pointers are valid for the call.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) } != 0 {
            return Err(self.error("cannot create the sampling timer"));
        }
        self.timer = Some(timer);
        let period = 1_000_000_000 / i64::from(self.hz);
        let every = libc::timespec {
            tv_sec: period / 1_000_000_000,
            tv_nsec: period % 1_000_000_000,
        };
        let spec = libc::itimerspec {
            it_interval: every,
            it_value: every,
        };
        // SAFETY: the timer was just created; spec outlives the call.
        if unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(self.error("cannot start the sampling timer"));
        }
        Ok(())
    }

    /// Takes `what`'s sample if ticks are pending: the guest's stack, read
    /// from the stopped vCPU.
    fn take(&mut self, vcpu: &VcpuFd, mem: &GuestMemory, what: u64) {
        let ticks = TICKS.swap(0, Ordering::Relaxed);
        if ticks == 0 {
            return;
        }
        let Ok(regs) = vcpu.get_regs() else {
            return;
        };
        self.scratch.clear();
        self.scratch.push(what);
        walk(mem, regs.rip, regs.rbp, &self.bounds, &mut self.scratch);
        self.samples.add(&self.scratch, ticks);
    }

    /// `KVM_RUN` was interrupted: a tick caught the guest running.
    pub fn guest_interrupted(&mut self, vcpu: &VcpuFd, mem: &GuestMemory) {
        self.take(vcpu, mem, 0);
    }

    /// The VMM answered hypercall `n`: ticks meanwhile were the VMM's work.
    pub fn hypercall_done(&mut self, vcpu: &VcpuFd, mem: &GuestMemory, n: Number) {
        self.take(vcpu, mem, n as u64);
    }

    /// Stops the timer, names the stacks from `image`'s symbols and writes
    /// the folded stacks to the file; returns the line to print.
    pub fn finish(mut self, image: &Image) -> Result<String, Error> {
        if let Some(timer) = self.timer.take() {
            // SAFETY: our timer, deleted once.
            unsafe { libc::timer_delete(timer) };
        }
        self.samples.idle = IDLE.swap(0, Ordering::Relaxed);
        let (guest, vmm) = self.samples.split();
        let summary = Summary {
            guest,
            vmm,
            idle: self.samples.idle,
            missed: MISSED.swap(0, Ordering::Relaxed),
        };
        let folded = self.samples.fold(|a| image.function_name(a));
        let mut out = std::io::BufWriter::new(self.file.take().expect("finish runs once"));
        write_folded(&mut out, &folded)
            .and_then(|()| out.flush())
            .map_err(|source| Error::Profile {
                path: self.path.clone(),
                what: "cannot write it",
                source,
            })?;
        Ok(line(&self.path, self.hz, &summary))
    }
}

/// The summary line printed at exit.
pub fn line(path: &Path, hz: u32, s: &Summary) -> String {
    format!(
        "oasis-vmm: profile: {} samples at {hz} Hz ({} guest running, {} VMM answering hypercalls, {} idle in POLL; {} ticks missed) in {}",
        s.guest + s.vmm + s.idle,
        s.guest,
        s.vmm,
        s.idle,
        s.missed,
        path.display()
    )
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            // SAFETY: our timer, deleted once.
            unsafe { libc::timer_delete(timer) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake guest memory: words at addresses.
    struct Fake(HashMap<u64, u64>);

    impl FrameMemory for Fake {
        fn read_u64(&self, addr: u64) -> Option<u64> {
            self.0.get(&addr).copied()
        }
    }

    fn bounds() -> Bounds {
        Bounds {
            stack: 0x1_0000..0x10_0000,
            code: 0x10_0000..0x20_0000,
        }
    }

    /// Frames at `fps`, each saving the next one's address (the last 0)
    /// and returning to `rets[i]`.
    fn chain(fps: &[u64], rets: &[u64]) -> Fake {
        let mut m = HashMap::new();
        for (i, (&fp, &ret)) in fps.iter().zip(rets).enumerate() {
            m.insert(fp, fps.get(i + 1).copied().unwrap_or(0));
            m.insert(fp + 8, ret);
        }
        Fake(m)
    }

    #[test]
    fn a_frame_chain_is_walked_to_its_end() {
        let mem = chain(
            &[0xf_f000, 0xf_f100, 0xf_ff00],
            &[0x10_2000, 0x10_3000, 0x10_4000],
        );
        let mut out = vec![];
        walk(&mem, 0x10_1000, 0xf_f000, &bounds(), &mut out);
        assert_eq!(out, [0x10_1000, 0x10_2000, 0x10_3000, 0x10_4000]);
        // _start's frame: saved RBP 0 and return address 0 (nothing called it).
        let mem = chain(&[0xf_f000, 0xf_fff0], &[0x10_2000, 0]);
        out.clear();
        walk(&mem, 0x10_1000, 0xf_f000, &bounds(), &mut out);
        assert_eq!(out, [0x10_1000, 0x10_2000]);
    }

    #[test]
    fn a_cycle_ends_the_walk() {
        // Two frames pointing at each other, and one pointing at itself.
        let mut m = HashMap::new();
        m.insert(0xf_f000, 0xf_f100);
        m.insert(0xf_f008, 0x10_2000);
        m.insert(0xf_f100, 0xf_f000);
        m.insert(0xf_f108, 0x10_3000);
        let mut out = vec![];
        walk(&Fake(m), 0x10_1000, 0xf_f000, &bounds(), &mut out);
        assert_eq!(out, [0x10_1000, 0x10_2000, 0x10_3000]);
        let mut m = HashMap::new();
        m.insert(0xf_f000, 0xf_f000);
        m.insert(0xf_f008, 0x10_2000);
        out.clear();
        walk(&Fake(m), 0x10_1000, 0xf_f000, &bounds(), &mut out);
        assert_eq!(out, [0x10_1000, 0x10_2000]);
    }

    #[test]
    fn garbage_pointers_end_the_walk() {
        let mut out = vec![];
        // Frame pointer outside the stack, at the very top, misaligned,
        // near u64::MAX, or in unreadable memory.
        for rbp in [0, 0x20_0000, 0xf_fff8, 0xf_f001, u64::MAX - 7, 0xf_e000] {
            out.clear();
            walk(
                &chain(&[0xf_f000], &[0x10_2000]),
                0x10_1000,
                rbp,
                &bounds(),
                &mut out,
            );
            assert_eq!(out, [0x10_1000], "rbp {rbp:#x}");
        }
        // A return address outside the code ends it before that frame.
        let mem = chain(&[0xf_f000, 0xf_f100], &[0x10_2000, 0xdead_beef]);
        out.clear();
        walk(&mem, 0x10_1000, 0xf_f000, &bounds(), &mut out);
        assert_eq!(out, [0x10_1000, 0x10_2000]);
        // A saved frame pointer that leaves the stack ends it after this frame.
        let mut m = chain(&[0xf_f000], &[0x10_2000]).0;
        m.insert(0xf_f000, 0x4000_0000);
        out.clear();
        walk(&Fake(m), 0x10_1000, 0xf_f000, &bounds(), &mut out);
        assert_eq!(out, [0x10_1000, 0x10_2000]);
    }

    #[test]
    fn deep_chains_stop_at_the_depth_limit() {
        let fps: Vec<u64> = (0..1000).map(|i| 0x2_0000 + i * 32).collect();
        let rets: Vec<u64> = (0..1000).map(|i| 0x10_0000 + i).collect();
        let mut out = vec![];
        walk(&chain(&fps, &rets), 0x10_1000, fps[0], &bounds(), &mut out);
        assert_eq!(out.len(), MAX_DEPTH);
    }

    #[test]
    fn walks_read_real_guest_memory_within_bounds() {
        let mem = GuestMemory::new(2 << 20).unwrap();
        mem.write(0xf_f000, &0xf_f800u64).unwrap();
        mem.write(0xf_f008, &0x10_2000u64).unwrap();
        // The next frame's words are zero: return address 0 ends the walk.
        let mut out = vec![];
        walk(&mem, 0x10_1000, 0xf_f000, &bounds(), &mut out);
        assert_eq!(out, [0x10_1000, 0x10_2000]);
        // A stack claimed beyond guest memory: reads past its end fail.
        let wide = Bounds {
            stack: 0x1_0000..u64::MAX,
            ..bounds()
        };
        out.clear();
        walk(&mem, 0x10_1000, (2 << 20) - 8, &wide, &mut out);
        assert_eq!(out, [0x10_1000]);
    }

    fn names(addr: u64) -> Option<String> {
        match addr {
            0x10_0000..0x10_1000 => Some("app::main".into()),
            0x10_1000..0x10_2000 => Some("app::work".into()),
            0x10_2000..0x10_3000 => Some("<[u8; 4] as app::Hash>::hash".into()),
            _ => None,
        }
    }

    #[test]
    fn stacks_fold_outermost_first_with_counts() {
        let mut s = Samples::default();
        // work called from main; return addresses are named by the call
        // before them (0x10_1000 - 1 is in main).
        s.add(&[0, 0x10_1010, 0x10_1000], 3);
        s.add(&[0, 0x10_1020, 0x10_1000], 2);
        s.add(&[0, 0x10_2004, 0x10_1050, 0x10_0100], 1);
        s.add(&[Number::Poll as u64, 0x10_0200, 0x10_0100], 4);
        s.add(&[0, 0xdead], 1);
        s.add(&[Number::NetTx as u64, 0x10_0200], 1);
        s.idle = 7;
        assert_eq!(s.split(), (7, 5));
        let folded = s.fold(names);
        let mut text = Vec::new();
        write_folded(&mut text, &folded).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "[idle] 7\n\
             [unknown] 1\n\
             app::main;[vmm] NetTx 1\n\
             app::main;app::main;[vmm] Poll 4\n\
             app::main;app::work 5\n\
             app::main;app::work;<[u8: 4] as app::Hash>::hash 1\n"
        );
    }

    #[test]
    fn empty_profiles_fold_to_nothing() {
        assert!(Samples::default().fold(names).is_empty());
        let s = Summary {
            guest: 1,
            vmm: 2,
            idle: 3,
            missed: 0,
        };
        assert!(line(Path::new("p.folded"), 1000, &s).contains("6 samples at 1000 Hz"));
    }
}
