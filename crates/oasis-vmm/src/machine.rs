//! One guest: from a checked image and a command line to a vCPU ready to
//! run, then the vCPU loop.

use std::io::Write;
use std::time::{Duration, Instant};

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use oasis_abi::boot::{
    BOOT_MAGIC, BootInfo, DEVICE_BLOCK, DEVICE_NET, DeviceInfo, LINK_NO_IPV6_ROUTER,
};
use oasis_abi::hypercall::Number;
use oasis_abi::layout::{BOOT_INFO, CMDLINE, CMDLINE_MAX, LARGE_PAGE, MEM_MAX, PAGE};
use oasis_abi::manifest::Manifest;
use oasis_abi::ring::{DEFAULT_SLOT_SIZE, ring_bytes};
use oasis_abi::{ABI_VERSION, MAX_NAME};

use crate::error::Error;
use crate::hypercall::{Device, Flow, Host};
use crate::image::Image;
use crate::memory::GuestMemory;
use crate::options::Config;
use crate::profile::Profiler;
use crate::{fault, net, seccomp, setup};
use oasis_host::block::{FileBlock, SECTOR_SIZE};

/// Least heap the guest gets beyond its image and rings.
const MIN_HEAP: u64 = 1 << 20;
/// Retries of `KVM_RUN` failing with EAGAIN before giving up.
const EAGAIN_RETRIES: u32 = 12;

/// A device attachment in manifest order: (kind, name, backing).
type Attachment<'a> = (u32, &'a str, &'a str);

/// Matches the command line's devices to the manifest, in manifest order.
pub fn match_devices<'a>(
    manifest: &'a Manifest,
    config: &'a Config,
) -> Result<Vec<Attachment<'a>>, Error> {
    let given: Vec<Attachment<'a>> = config
        .nets
        .iter()
        .map(|(n, t)| (DEVICE_NET, n.as_str(), t.as_str()))
        .chain(config.blocks.iter().map(|(n, f)| {
            (
                DEVICE_BLOCK,
                n.as_str(),
                f.to_str().unwrap_or("(non-UTF-8 path)"),
            )
        }))
        .collect();
    let kind = oasis_abi::manifest::kind_name;
    let asks_help = config.args.iter().any(|a| a == "--help" || a == "-h");
    let mut out = Vec::new();
    for d in manifest.devices() {
        let name = d.name().unwrap_or("?");
        let found: Vec<&Attachment<'a>> = given
            .iter()
            .filter(|(k, n, _)| *k == d.kind && *n == name)
            .collect();
        match found.as_slice() {
            // `--help` stops the guest before it touches a device.
            [] if asks_help || d.is_optional() => {}
            [] => {
                return Err(Error::Devices(format!(
                    "{} device `{name}` is declared by the image but not attached (add --{}:{name}={})",
                    d.kind_name(),
                    d.kind_name(),
                    if d.kind == DEVICE_NET {
                        "TAP or user,fwd=…"
                    } else {
                        "FILE"
                    }
                )));
            }
            [one] => out.push(**one),
            _ => {
                return Err(Error::Devices(format!(
                    "{} device `{name}` is attached more than once",
                    d.kind_name()
                )));
            }
        }
    }
    for (k, n, _) in &given {
        if !manifest
            .devices()
            .iter()
            .any(|d| d.kind == *k && d.name() == Some(n))
        {
            let declared: Vec<String> = manifest
                .devices()
                .iter()
                .map(|d| format!("{} `{}`", d.kind_name(), d.name().unwrap_or("?")))
                .collect();
            return Err(Error::Devices(format!(
                "{} device `{n}` is attached but the image does not declare it (it declares: {})",
                kind(*k),
                if declared.is_empty() {
                    "nothing".to_string()
                } else {
                    declared.join(", ")
                }
            )));
        }
    }
    Ok(out)
}

/// Where things go in guest memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Guest memory in bytes.
    pub mem: u64,
    /// First ring.
    pub rings: u64,
    /// Slots in each ring.
    pub ring_slots: u32,
    /// Start of the heap.
    pub heap_start: u64,
}

/// Places the rings of `nets` devices, `ring_slots` slots each, after the
/// image and checks that `mem_mib` leaves room for a heap.
pub fn plan(image_end: u64, nets: usize, ring_slots: u32, mem_mib: u64) -> Result<Plan, Error> {
    let rings = image_end.div_ceil(PAGE) * PAGE;
    let heap_start = rings + 2 * ring_span(ring_slots) * nets as u64;
    let need = heap_start + MIN_HEAP;
    let need_mib = (need.div_ceil(LARGE_PAGE) * LARGE_PAGE) >> 20;
    let mem = mem_mib
        .checked_mul(1 << 20)
        .map(|m| m.div_ceil(LARGE_PAGE) * LARGE_PAGE)
        .filter(|&m| m <= MEM_MAX)
        .ok_or_else(|| Error::Usage(format!("--mem={mem_mib}: at most {} MiB", MEM_MAX >> 20)))?;
    if mem < need {
        return Err(Error::Memory { mem_mib, need_mib });
    }
    Ok(Plan {
        mem,
        rings,
        ring_slots,
        heap_start,
    })
}

/// Guest memory one ring of `slots` takes, whole pages.
fn ring_span(slots: u32) -> u64 {
    ring_bytes(slots, DEFAULT_SLOT_SIZE).div_ceil(PAGE) * PAGE
}

/// A guest ready to run.
pub struct Machine {
    _kvm: Kvm,
    _vm: VmFd,
    vcpu: VcpuFd,
    host: Host,
    image: Image,
    stats: bool,
    footprint: Option<std::io::Result<crate::footprint::Footprint>>,
    needs: seccomp::Needs,
    profile: Option<Profiler>,
    gdb: Option<crate::gdb::Server>,
}

fn kvm_open(config: &Config) -> Result<Kvm, Error> {
    let path = std::ffi::CString::new(config.kvm.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Usage("--kvm: path contains NUL".into()))?;
    Kvm::new_with_path(&path).map_err(|e| Error::Kvm {
        what: format!("cannot open {}", config.kvm.display()),
        source: std::io::Error::from_raw_os_error(e.errno()),
        hint: " (is KVM available on this host, and may this user open it?)",
    })
}

impl Machine {
    /// Checks everything and sets up the guest; nothing runs yet.
    pub fn build(config: &Config) -> Result<Machine, Error> {
        let image = Image::load(&config.image)?;
        let attached = match_devices(&image.manifest, config)?;
        let nets = attached.iter().filter(|a| a.0 == DEVICE_NET).count();
        let plan = plan(image.end, nets, config.ring_slots, config.mem_mib)?;
        let cmdline = command_line(&config.args)?;
        let profile = (config.profile.as_deref())
            .map(|path| Profiler::create(path, config.profile_hz, &image))
            .transpose()?;
        let kvm = kvm_open(config)?;
        let vm = kvm
            .create_vm()
            .map_err(|e| Error::kvm("KVM_CREATE_VM", e))?;
        let mem = GuestMemory::new(plan.mem).map_err(|source| Error::Kvm {
            what: format!("cannot map {} MiB of guest memory", plan.mem >> 20),
            source,
            hint: "",
        })?;
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: plan.mem,
            userspace_addr: mem.host_address(),
        };
        // SAFETY: the region is our mapping, which outlives the VM (both live in Machine;
        // the VM fd is dropped with it).
        unsafe { vm.set_user_memory_region(region) }
            .map_err(|e| Error::kvm("KVM_SET_USER_MEMORY_REGION", e))?;
        load(&image, &mem);
        setup::write_tables(&mem, &image.segments);
        let mut info = BootInfo {
            magic: BOOT_MAGIC,
            abi_version: ABI_VERSION,
            device_count: attached.len() as u32,
            mem_size: plan.mem,
            heap_start: plan.heap_start,
            heap_end: plan.mem,
            tsc_khz: 0,
            wall_ns_at_entry: 0,
            seed: [0; 32],
            cmdline: CMDLINE,
            cmdline_len: cmdline.len() as u64,
            argc: config.args.len() as u64,
            devices: [DeviceInfo::EMPTY; oasis_abi::MAX_DEVICES],
        };
        fill_random(&mut info.seed)?;
        let devices = open_devices(&attached, &mem, &plan, &mut info)?;
        mem.slice_mut(CMDLINE, cmdline.len() as u64)
            .expect("the boot area is inside guest memory")
            .copy_from_slice(&cmdline);
        split_irqchip(&vm);
        let vcpu = vm
            .create_vcpu(0)
            .map_err(|e| Error::kvm("KVM_CREATE_VCPU", e))?;
        if vcpu.set_cpuid2(&crate::cpu::guest_cpuid()).is_err() {
            // A host that refuses the small table gets its own, as asked.
            let supported = kvm
                .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
                .map_err(|e| Error::kvm("KVM_GET_SUPPORTED_CPUID", e))?;
            vcpu.set_cpuid2(&supported)
                .map_err(|e| Error::kvm("KVM_SET_CPUID2", e))?;
        }
        let sregs = vcpu
            .get_sregs()
            .map_err(|e| Error::kvm("KVM_GET_SREGS", e))?;
        vcpu.set_sregs(&setup::sregs(sregs))
            .map_err(|e| Error::kvm("KVM_SET_SREGS", e))?;
        vcpu.set_regs(&setup::regs(image.entry))
            .map_err(|e| Error::kvm("KVM_SET_REGS", e))?;
        vcpu.set_fpu(&setup::fpu())
            .map_err(|e| Error::kvm("KVM_SET_FPU", e))?;
        info.tsc_khz = match vcpu.get_tsc_khz() {
            Ok(khz) if khz > 0 => u64::from(khz),
            _ => calibrate_tsc_khz(),
        };
        info.wall_ns_at_entry = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        mem.write(BOOT_INFO, &info)
            .expect("the boot area is inside guest memory");
        let needs = seccomp::Needs {
            net: nets > 0,
            user_net: attached
                .iter()
                .any(|a| a.0 == DEVICE_NET && net::is_user_mode(a.2)),
            block: attached.iter().any(|a| a.0 == DEVICE_BLOCK),
            profile: profile.is_some(),
            gdb: config.gdb.is_some(),
            stats: config.stats,
        };
        let footprint = config.stats.then(crate::footprint::Footprint::open);
        let gdb = config.gdb.map(crate::gdb::Server::bind).transpose()?;
        let mut host = Host::new(mem, devices);
        // Connected now: the sandbox lets the VMM write to it, not connect it.
        host.service = crate::service::Service::from_env();
        Ok(Machine {
            _kvm: kvm,
            _vm: vm,
            vcpu,
            host,
            image,
            stats: config.stats,
            footprint,
            needs,
            profile,
            gdb,
        })
    }

    /// Enters the sandbox and runs the guest to its end.
    pub fn run(mut self) -> Result<i32, Error> {
        crate::stop::catch_signals();
        if let Some(p) = &mut self.profile {
            p.start()?;
        }
        if let Some(gdb) = &mut self.gdb {
            gdb.arm(&mut self.vcpu)?;
        }
        seccomp::install(self.needs)?;
        self.host.started = Instant::now();
        let result = match self.gdb.take() {
            Some(gdb) => crate::gdb::run(gdb, &mut self.vcpu, &mut self.host, &self.image),
            None => self.run_loop(),
        };
        let _ = std::io::stdout().flush();
        self.host
            .service
            .stopping(&match (&result, crate::stop::requested()) {
                (_, Some(status)) => format!("stopped by {}", crate::stop::signal_name(status)),
                (Ok(status), None) => format!("the guest exited with status {status}"),
                (Err(e), None) => format!("failed: {e}"),
            });
        let profiled = self.profile.take().map(|p| p.finish(&self.image));
        if self.stats {
            self.host.stats.malformed_frames = self
                .host
                .devices
                .iter()
                .map(|d| match d {
                    Device::Net(n) => n.malformed(),
                    Device::Block(_) => 0,
                })
                .sum();
            self.host.stats.tap_writes = self
                .host
                .devices
                .iter()
                .map(|d| match d {
                    Device::Net(n) => n.tap_writes(),
                    Device::Block(_) => 0,
                })
                .sum();
            eprintln!("{}", self.host.stats.line(self.host.started.elapsed()));
        }
        if let Some(f) = &self.footprint {
            let at = self.host.mem.host_address();
            let guest = at..at + self.host.mem.size();
            match f
                .as_ref()
                .map_err(|e| e.to_string())
                .and_then(|f| f.measure(guest).map_err(|e| e.to_string()))
            {
                Ok(usage) => eprintln!("{}", usage.line()),
                Err(e) => eprintln!("oasis-vmm: memory: cannot read /proc/self/smaps: {e}"),
            }
        }
        match profiled {
            Some(Ok(line)) => eprintln!("{line}"),
            Some(Err(e)) if result.is_ok() => return Err(e),
            Some(Err(e)) => eprintln!("oasis-vmm: {e}"),
            None => {}
        }
        result
    }

    fn run_loop(&mut self) -> Result<i32, Error> {
        loop {
            match Self::run_once(&mut self.vcpu)? {
                Exit::Call { at, value } => {
                    let (vcpu, host, image) = (&self.vcpu, &mut self.host, &self.image);
                    if let Some(status) = Self::hypercall(vcpu, host, image, at, value)? {
                        return Ok(status);
                    }
                    if let (Some(p), Some(n)) = (&mut self.profile, hypercall_number(at)) {
                        p.hypercall_done(&self.vcpu, &self.host.mem, n);
                    }
                }
                Exit::Shutdown => {
                    return Err(fault::report(&self.vcpu, &self.image, "triple fault"));
                }
                Exit::Stopped(status) => return Ok(status),
                Exit::Tick => {
                    if let Some(p) = &mut self.profile {
                        p.guest_interrupted(&self.vcpu, &self.host.mem);
                    }
                }
                // Only a debugger (`--gdb`) asks for these.
                Exit::Interrupted => {}
                Exit::Debug(_) => {
                    return Err(fault::report(&self.vcpu, &self.image, "debug exit"));
                }
                Exit::Other(what) => {
                    return Err(fault::report(
                        &self.vcpu,
                        &self.image,
                        &format!("stopped with {what}"),
                    ));
                }
            }
        }
    }

    /// Answers the hypercall an exit made (a store of `value` to `at`);
    /// `Some(status)` when the guest is done.
    pub(crate) fn hypercall(
        vcpu: &VcpuFd,
        host: &mut Host,
        image: &Image,
        at: Target,
        value: u32,
    ) -> Result<Option<i32>, Error> {
        let Some(n) = hypercall_number(at) else {
            return Err(fault::report(
                vcpu,
                image,
                &format!("wrote to {at}, which is no hypercall"),
            ));
        };
        match host.handle(n, u64::from(value))? {
            Flow::Resume => Ok(None),
            Flow::Exit(status) => Ok(Some(status)),
        }
    }

    /// One `KVM_RUN`, with what we need copied out of the exit before the
    /// vCPU is touched again; EAGAIN is retried with a growing backoff.
    pub(crate) fn run_once(vcpu: &mut VcpuFd) -> Result<Exit, Error> {
        let mut backoff = Duration::from_micros(100);
        let mut tries = 0;
        loop {
            match vcpu.run() {
                Ok(VcpuExit::IoOut(port, data)) => {
                    return Ok(Exit::Call {
                        at: Target::Port(port),
                        value: word(data),
                    });
                }
                Ok(VcpuExit::MmioWrite(addr, data)) => {
                    return Ok(Exit::Call {
                        at: Target::Mmio(addr),
                        value: word(data),
                    });
                }
                Ok(VcpuExit::Shutdown) => return Ok(Exit::Shutdown),
                Ok(VcpuExit::Debug(arch)) => return Ok(Exit::Debug(arch)),
                Ok(other) => return Ok(Exit::Other(format!("exit {other:?}"))),
                Err(e) if e.errno() == libc::EINTR => {
                    if let Some(status) = crate::stop::requested() {
                        return Ok(Exit::Stopped(status));
                    }
                    if crate::gdb::wake::woken() {
                        return Ok(Exit::Interrupted);
                    }
                    // The profiler's timer (or another signal): the guest
                    // was interrupted where it ran.
                    return Ok(Exit::Tick);
                }
                Err(e) if e.errno() == libc::EAGAIN && tries < EAGAIN_RETRIES => {
                    tries += 1;
                    std::thread::sleep(backoff);
                    backoff *= 2;
                }
                Err(e) => return Err(Error::kvm("KVM_RUN", e)),
            }
        }
    }
}

/// A vCPU exit, copied out of KVM's shared run structure.
pub(crate) enum Exit {
    /// A store to the hypercall window or an `out`: a hypercall.
    Call {
        at: Target,
        value: u32,
    },
    /// A triple fault (on kvm_pvm also a breakpoint or a step: [`crate::gdb`]).
    Shutdown,
    /// A debug exception KVM intercepted for `--gdb` (hardware KVM).
    Debug(kvm_bindings::kvm_debug_exit_arch),
    Other(String),
    /// SIGINT or SIGTERM arrived: leave with this status.
    Stopped(i32),
    /// The debugger's socket woke the vCPU (`--gdb`).
    Interrupted,
    /// Another signal took the vCPU out of `KVM_RUN` (the profiler's timer,
    /// `--profile`): sample, then run on.
    Tick,
}

/// The hypercall a store to `at` makes, if it is one.
fn hypercall_number(at: Target) -> Option<Number> {
    match at {
        Target::Port(p) => Number::from_port(p),
        Target::Mmio(a) => Number::from_mmio(a),
    }
}

/// Where a hypercall was written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    Port(u16),
    Mmio(u64),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Port(p) => write!(f, "port {p:#x}"),
            Target::Mmio(a) => write!(f, "address {a:#x}"),
        }
    }
}

/// The first four bytes of an exit's data, little-endian, zero-padded.
fn word(data: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    let n = data.len().min(4);
    w[..n].copy_from_slice(&data[..n]);
    u32::from_le_bytes(w)
}

/// Puts the image's segments into guest memory (the rest is already
/// zero). The whole pages of a read-only segment (text, rodata: most of an
/// image) are mapped from the file, so N guests of one image share one copy
/// in the page cache; writable segments and partial pages are copied.
fn load(image: &Image, mem: &GuestMemory) {
    for s in &image.segments {
        let mut from = 0;
        if let Some(file) = image.file().filter(|_| !s.writable) {
            let whole = s.file_size as u64 / PAGE * PAGE;
            if let Some(Ok(())) = mem.map_file(s.addr, whole, file, s.offset as u64) {
                from = whole as usize;
            }
        }
        let dst = mem
            .slice_mut(s.addr + from as u64, (s.file_size - from) as u64)
            .expect("plan() checked the image fits in guest memory");
        dst.copy_from_slice(&image.bytes[s.offset + from..s.offset + s.file_size]);
    }
}

/// The boot arguments as NUL-terminated strings back to back.
fn command_line(args: &[String]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for a in args {
        out.extend_from_slice(a.as_bytes());
        out.push(0);
    }
    if out.len() as u64 > CMDLINE_MAX {
        return Err(Error::Usage(format!(
            "boot arguments take {} bytes, at most {CMDLINE_MAX}",
            out.len()
        )));
    }
    Ok(out)
}

fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    // SAFETY: writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        return Err(Error::Kvm {
            what: "getrandom for the guest's seed".into(),
            source: std::io::Error::last_os_error(),
            hint: "",
        });
    }
    Ok(())
}

fn random_mac() -> [u8; 8] {
    let mut mac = [0u8; 8];
    let _ = fill_random(&mut mac[..6]);
    mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
    mac[6] = 0;
    mac[7] = 0;
    mac
}

/// Opens each backing store and fills in its BootInfo entry.
fn open_devices(
    attached: &[Attachment<'_>],
    mem: &GuestMemory,
    plan: &Plan,
    info: &mut BootInfo,
) -> Result<Vec<Device>, Error> {
    let (slots, ring) = (plan.ring_slots, ring_span(plan.ring_slots));
    let mut next_ring = plan.rings;
    let mut devices = Vec::new();
    for (i, (kind, name, backing)) in attached.iter().enumerate() {
        let d = &mut info.devices[i];
        d.kind = *kind;
        d.name_len = name.len().min(MAX_NAME) as u32;
        d.name[..d.name_len as usize].copy_from_slice(&name.as_bytes()[..d.name_len as usize]);
        if *kind == DEVICE_BLOCK {
            let b = FileBlock::open(std::path::Path::new(backing)).map_err(|e| Error::Backing {
                kind: "block",
                name: name.to_string(),
                why: e.to_string(),
            })?;
            d.sector_size = SECTOR_SIZE;
            d.sectors = b.sectors();
            devices.push(Device::Block(b));
        } else {
            let (rx_at, tx_at) = (next_ring, next_ring + ring);
            next_ring += 2 * ring;
            let bytes = ring_bytes(slots, DEFAULT_SLOT_SIZE);
            let (Some(rx), Some(tx)) = (mem.ptr(rx_at, bytes), mem.ptr(tx_at, bytes)) else {
                unreachable!("plan() reserved the rings inside guest memory");
            };
            // SAFETY: plan() reserved these ranges for the rings; the memory
            // lives in the same Host as the rings.
            let (rx, tx) = unsafe { net::rings(rx, tx, slots, DEFAULT_SLOT_SIZE) };
            d.mtu = 1514;
            d.mac = random_mac();
            let tap = if net::is_user_mode(backing) {
                None
            } else {
                let (tap, mac) = net::parse_tap_backing(backing).map_err(|why| Error::Backing {
                    kind: "net",
                    name: name.to_string(),
                    why,
                })?;
                if let Some(mac) = mac {
                    d.mac[..6].copy_from_slice(&mac);
                }
                Some(tap)
            };
            d.rx_ring = rx_at;
            d.tx_ring = tx_at;
            d.ring_slots = slots;
            d.ring_slot_size = DEFAULT_SLOT_SIZE;
            let backend = if let Some(tap) = tap {
                let file = net::open_tap(tap).map_err(|e| Error::Backing {
                    kind: "net",
                    name: name.to_string(),
                    why: format!("cannot open TAP interface {tap}: {e} (does it exist, and may this user open /dev/net/tun? Without root, try --net:{name}=user,fwd=…)"),
                })?;
                net::NetDevice::Tap(net::TapNet::new(file, rx, tx))
            } else {
                let mut seed = [0u8; 8];
                fill_random(&mut seed)?;
                let user = net::UserNet::open(backing, rx, tx, u64::from_le_bytes(seed)).map_err(
                    |why| Error::Backing {
                        kind: "net",
                        name: name.to_string(),
                        why,
                    },
                )?;
                // The user-mode gateway routes IPv4 only: the guest need
                // not look for an IPv6 router (and wake to do so).
                d.link |= LINK_NO_IPV6_ROUTER;
                net::NetDevice::User(Box::new(user))
            };
            devices.push(Device::Net(backend));
        }
    }
    Ok(devices)
}

/// Gives the VM an in-kernel local APIC (and nothing else of an interrupt
/// controller: no PIC, no IOAPIC, no routes). The guest takes no
/// interrupts, so it never uses it; the point is the cost of a boot. A vCPU
/// without an in-kernel APIC switches a kernel-wide static key on at its
/// creation and off at its destruction, and each switch rewrites kernel
/// code on every CPU: ~0.4 ms of a ~3 ms boot here. The in-kernel APIC's
/// own key is released lazily (a second later), so back-to-back boots and
/// boots beside other VMs find it already on. A host that refuses the
/// capability only boots slower, so a refusal is not an error.
fn split_irqchip(vm: &VmFd) {
    let cap = kvm_bindings::kvm_enable_cap {
        cap: kvm_bindings::KVM_CAP_SPLIT_IRQCHIP,
        ..Default::default()
    };
    let _ = vm.enable_cap(&cap);
}

/// TSC ticks per ms, measured against the host clock when KVM cannot say.
fn calibrate_tsc_khz() -> u64 {
    let t0 = Instant::now();
    // SAFETY: RDTSC has no preconditions.
    let c0 = unsafe { core::arch::x86_64::_rdtsc() };
    std::thread::sleep(Duration::from_millis(5));
    // SAFETY: as above.
    let c1 = unsafe { core::arch::x86_64::_rdtsc() };
    let us = t0.elapsed().as_micros().max(1) as u64;
    (c1.wrapping_sub(c0)).saturating_mul(1000) / us
}

#[cfg(test)]
mod tests {
    use super::*;
    use oasis_abi::ring::DEFAULT_SLOTS;

    #[test]
    fn plan_places_rings_and_refuses_small_memory() {
        let p = plan(0x12_3456, 1, DEFAULT_SLOTS, 32).unwrap();
        assert_eq!(p.rings, 0x12_4000);
        // Two rings of 256 × 2 KiB and a header page each.
        assert_eq!(p.heap_start, p.rings + 2 * (512 << 10) + 2 * PAGE);
        assert_eq!(p.mem, 32 << 20);
        // Fewer slots, less room between the rings and the heap.
        let small = plan(0x12_3456, 2, 16, 32).unwrap();
        assert_eq!(small.heap_start, small.rings + 4 * (32 << 10) + 4 * PAGE);
        let e = plan(0x12_3456, 0, DEFAULT_SLOTS, 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--mem=1: too little memory, the image needs at least 4 MiB"),
            "{e}"
        );
        assert!(plan(0x12_3456, 0, DEFAULT_SLOTS, 5000).is_err());
        assert_eq!(plan(0x10_1000, 0, DEFAULT_SLOTS, 3).unwrap().mem, 4 << 20);
        // 4096 slots: two 8 MiB rings do not fit beside a heap in 16 MiB.
        assert!(plan(0x12_3456, 1, 4096, 16).is_err());
        assert!(plan(0x12_3456, 1, 4096, 32).is_ok());
    }
}
