//! The hosted platform: an oasis unikernel as an ordinary Linux process.
//!
//! Console = stdout, clocks from the OS, random from `getrandom(2)`, block
//! devices = files, net devices = TAP interfaces, and the idle loop is
//! `epoll_wait` ([`reactor::Reactor`]). Devices are attached on the command
//! line in the same words as the VMM uses, before the boot arguments:
//!
//! ```text
//! app [--net:NAME=TAP|socket|user,fwd=...]... [--block:NAME=FILE]... [--] [--key=value]...
//! ```
//!
//! A net device left unattached means the host's own sockets (`socket`);
//! `user,fwd=udp:HOSTPORT:GUESTPORT,fwd=tcp:HOSTPORT:GUESTPORT` is
//! user-mode networking (no TAP, no root): [`usernet::UserNetDevice`] over
//! the gateway of oasis-host, under oasis-net's direct stack.
#![warn(missing_docs)]

pub mod block;
pub mod hangup;
pub mod net;
pub mod reactor;
pub mod tap;
pub mod usernet;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use oasis_rt::device::{Clock, Console, NetAttachment, Random};
use oasis_rt::platform::Services;
use oasis_rt::{App, BootStop, DeviceKind};

pub use block::FileBlock as BlockDevice;
pub use net::NetDevice;

struct Stdout;
impl Console for Stdout {
    fn write(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}

struct OsClock;
impl Clock for OsClock {
    fn monotonic_ns(&self) -> u64 {
        reactor::monotonic_ns()
    }
    fn wall_ns(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

struct OsRandom;
impl Random for OsRandom {
    fn fill(&self, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            // SAFETY: writes at most buf.len() bytes into buf.
            let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                buf = &mut buf[n as usize..];
            } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                panic!("getrandom failed: {}", std::io::Error::last_os_error());
            }
        }
    }
}

/// The services of the hosted platform.
pub fn services() -> Services {
    Services {
        console: &Stdout,
        clock: &OsClock,
        random: &OsRandom,
        readiness: Some(readiness()),
    }
}

/// The process's reactor, for as long as the process lives (the runtime's
/// `Readiness`).
fn readiness() -> &'static reactor::Reactor {
    static READINESS: std::sync::OnceLock<&'static reactor::Reactor> = std::sync::OnceLock::new();
    READINESS.get_or_init(|| &**Box::leak(Box::new(reactor())))
}

/// A device attachment from the command line: `--net:NAME=TAP` or `--block:NAME=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    /// Net or block.
    pub kind: DeviceKind,
    /// The name the application declared.
    pub name: String,
    /// The TAP interface or file backing it.
    pub backing: String,
}

/// Splits the command line into device attachments and boot arguments.
pub fn split_command_line(argv: &[String]) -> Result<(Vec<Attach>, Vec<String>), String> {
    let mut attach = Vec::new();
    let mut boot = Vec::new();
    let mut only_boot = false;
    for a in argv {
        if only_boot {
            boot.push(a.clone());
            continue;
        }
        let (kind, rest) = if let Some(r) = a.strip_prefix("--net:") {
            (DeviceKind::Net, r)
        } else if let Some(r) = a.strip_prefix("--block:") {
            (DeviceKind::Block, r)
        } else if a == "--" {
            only_boot = true;
            continue;
        } else {
            boot.push(a.clone());
            continue;
        };
        match rest.split_once('=') {
            Some((name, backing)) if !name.is_empty() && !backing.is_empty() => {
                attach.push(Attach {
                    kind,
                    name: name.to_string(),
                    backing: backing.to_string(),
                })
            }
            _ => return Err(format!("device option `{a}`: expected --{kind}:NAME=PATH")),
        }
    }
    Ok((attach, boot))
}

/// Checks attachments against what the application declares: every declared
/// device attached once, nothing attached that is not declared.
pub fn check_attachments(app: &App, attach: &[Attach]) -> Result<(), String> {
    for d in app.devices {
        let n = attach
            .iter()
            .filter(|a| a.kind == d.kind && a.name == d.name)
            .count();
        if n == 0 && !d.optional {
            return Err(format!(
                "{} device `{}` is declared by the application but not attached (add --{}:{}=…)",
                d.kind, d.name, d.kind, d.name
            ));
        }
        if n > 1 {
            return Err(format!(
                "{} device `{}` is attached more than once",
                d.kind, d.name
            ));
        }
    }
    for a in attach {
        if !app
            .devices
            .iter()
            .any(|d| d.kind == a.kind && d.name == a.name)
        {
            let declared: Vec<String> = app
                .devices
                .iter()
                .map(|d| format!("{} `{}`", d.kind, d.name))
                .collect();
            return Err(format!(
                "{} device `{}` is attached but the application does not declare it (it declares: {})",
                a.kind,
                a.name,
                if declared.is_empty() {
                    "nothing".into()
                } else {
                    declared.join(", ")
                }
            ));
        }
    }
    Ok(())
}

enum Opened {
    Net(tap::Tap),
    /// `--net:NAME=socket`: no device; the application uses the host's sockets.
    HostSockets,
    /// `--net:NAME=user,...`: user-mode networking, set up by the network
    /// stack from this description.
    User(String),
    Block(block::FileBlock),
}

/// The backing of `--net:NAME=socket`: the net device is the host's own
/// UDP/TCP sockets (oasis-net's socket stack), not a TAP interface.
pub const HOST_SOCKETS: &str = "socket";

static DEVICES: Mutex<Option<HashMap<String, Opened>>> = Mutex::new(None);
static REACTOR: Mutex<Option<Arc<reactor::Reactor>>> = Mutex::new(None);

/// The process's epoll reactor (the executor idles in it; devices and host
/// sockets register their descriptors with it).
pub fn reactor() -> Arc<reactor::Reactor> {
    REACTOR
        .lock()
        .unwrap()
        .get_or_insert_with(|| Arc::new(reactor::Reactor::new().expect("epoll_create1")))
        .clone()
}

fn random_mac() -> [u8; 6] {
    let mut mac = [0u8; 6];
    OsRandom.fill(&mut mac);
    mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
    mac
}

/// Checks `attach` against the application's declarations and opens every
/// device, so that a missing file or TAP is an error before the application runs.
///
/// A declared net device that is not attached defaults to the host's own
/// sockets (`--net:NAME=socket`), as MirageOS's Unix target does: a hosted
/// server works on the host's addresses with no TAP and no root.
pub fn attach_devices(app: &App, attach: &[Attach]) -> Result<(), String> {
    let attach = with_default_nets(app, attach);
    check_attachments(app, &attach)?;
    open_devices(&attach)
}

/// `attach`, plus `--net:NAME=socket` for every declared net device not attached.
pub fn with_default_nets(app: &App, attach: &[Attach]) -> Vec<Attach> {
    let mut all = attach.to_vec();
    for d in app.devices.iter().filter(|d| d.kind == DeviceKind::Net) {
        if !attach.iter().any(|a| a.kind == d.kind && a.name == d.name) {
            all.push(Attach {
                kind: DeviceKind::Net,
                name: d.name.to_string(),
                backing: HOST_SOCKETS.to_string(),
            });
        }
    }
    all
}

fn open_devices(attach: &[Attach]) -> Result<(), String> {
    let mut map = HashMap::new();
    for a in attach {
        let dev = match a.kind {
            DeviceKind::Block => block::FileBlock::open(Path::new(&a.backing))
                .map(Opened::Block)
                .map_err(|e| format!("block device `{}`: {e}", a.name))?,
            DeviceKind::Net if a.backing == HOST_SOCKETS => Opened::HostSockets,
            DeviceKind::Net if a.backing == "user" || a.backing.starts_with("user,") => {
                Opened::User(a.backing.clone())
            }
            DeviceKind::Net => tap::Tap::open(&a.backing, random_mac(), reactor())
                .map(Opened::Net)
                .map_err(|e| {
                    format!(
                        "net device `{}`: cannot open TAP interface {}: {e} (does it exist, and may this user open /dev/net/tun?)",
                        a.name, a.backing
                    )
                })?,
        };
        map.insert(format!("{}:{}", a.kind, a.name), dev);
    }
    *DEVICES.lock().unwrap() = Some(map);
    Ok(())
}

fn take(kind: DeviceKind, name: &str) -> Option<Opened> {
    DEVICES
        .lock()
        .unwrap()
        .as_mut()?
        .remove(&format!("{kind}:{name}"))
}

/// Reads a file of the host's file system, naming it in the error.
pub fn read_host_file(path: &str) -> oasis_rt::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}").into())
}

/// Takes the net device attached as `name`: the TAP, or the user-mode
/// network (`--net:NAME=user,…`), whose forwards open on the host now.
pub fn take_net(name: &str) -> oasis_rt::Result<NetDevice> {
    match take_net_attachment(name)? {
        NetAttachment::Device(d) => Ok(d),
        NetAttachment::HostSockets => Err(format!(
            "net device `{name}` is attached as the host's sockets, not a device"
        )
        .into()),
    }
}

/// Takes net device `name` as the operator attached it: the host's sockets
/// (`--net:NAME=socket`, the default for a declared net device) or a device.
pub fn take_net_attachment(name: &str) -> oasis_rt::Result<NetAttachment<NetDevice>> {
    match take(DeviceKind::Net, name) {
        Some(Opened::HostSockets) => Ok(NetAttachment::HostSockets),
        Some(Opened::Net(t)) => Ok(NetAttachment::Device(NetDevice::Tap(t))),
        Some(Opened::User(spec)) => usernet::UserNetDevice::open(&spec)
            .map(|d| NetAttachment::Device(NetDevice::User(Box::new(d))))
            .map_err(|e| format!("net device `{name}`: {e}").into()),
        _ => Err(format!("net device `{name}` is not declared, or already taken").into()),
    }
}

/// Takes the block device attached as `name`.
pub fn take_block(name: &str) -> oasis_rt::Result<block::FileBlock> {
    match take(DeviceKind::Block, name) {
        Some(Opened::Block(b)) => Ok(b),
        _ => Err(format!("block device `{name}` is not declared, or already taken").into()),
    }
}

/// Boots `app` with this process's command line and runs it; returns the
/// process exit status. Every user error is one line on stderr.
pub fn run(app: App) -> i32 {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    run_with(app, &argv)
}

/// [`run`] with an explicit command line (without the program name).
pub fn run_with(app: App, argv: &[String]) -> i32 {
    let prog = std::env::args().next().unwrap_or_else(|| "oasis".into());
    let prog = Path::new(&prog)
        .file_name()
        .map_or("oasis".into(), |s| s.to_string_lossy().into_owned());
    let fail = |status: i32, msg: String| {
        eprintln!("{prog}: {msg}");
        status
    };
    let (attach, boot) = match split_command_line(argv) {
        Ok(v) => v,
        Err(e) => return fail(2, e),
    };
    match oasis_rt::boot(services(), &boot) {
        Ok(()) => {}
        Err(BootStop::Help(text)) => {
            let mut usage = format!(
                "usage: {prog} [--net:NAME=TAP]... [--block:NAME=FILE]... [--] [--key=value]...\n"
            );
            usage.push_str("devices:\n");
            for d in app.devices {
                usage.push_str(&format!("  --{}:{}=…\n", d.kind, d.name));
            }
            if app.devices.is_empty() {
                usage.push_str("  (none)\n");
            }
            print!("{usage}{text}");
            return 0;
        }
        Err(BootStop::BadArgs(e)) => return fail(2, e),
    }
    if let Err(e) = attach_devices(&app, &attach) {
        return fail(2, e);
    }
    let reactor = reactor();
    let result = oasis_rt::exec::block_on(&*reactor, (app.main)());
    notify("STOPPING=1");
    match result {
        Ok(()) => 0,
        Err(e) => fail(1, format!("error: {e}")),
    }
}

/// Tells systemd how the process is doing, when it runs as a unit of
/// `Type=notify` (`$NOTIFY_SOCKET` set; nothing otherwise): `READY=1` when
/// the executor first idles, `STOPPING=1` when the application returns.
fn notify(state: &str) {
    let sent = oasis_host::notify::Notifier::from_env()
        .and_then(|n| n.map_or(Ok(()), |n| n.send(state).map_err(|e| e.to_string())));
    if let Err(e) = sent {
        eprintln!("oasis: cannot notify the service manager: {e}");
    }
}

/// Defines the process entry for an application (used by `#[oasis::main]`).
#[doc(hidden)]
#[macro_export]
macro_rules! entry_point {
    ($app:ident, net: [$($net:literal),*], block: [$($block:literal),*],
     optional_net: [$($onet:literal),*], optional_block: [$($oblock:literal),*]) => {
        #[unsafe(no_mangle)]
        extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
            $crate::run($app())
        }
    };
}
