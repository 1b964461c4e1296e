//! Telling a service manager how the service is doing: systemd's
//! notification protocol, for a unit of `Type=notify`.
//!
//! The manager names a Unix datagram socket in `$NOTIFY_SOCKET` (a path,
//! or an abstract name when it starts with `@`); the service sends it
//! datagrams of `KEY=VALUE` lines: `READY=1` once it serves, `STATUS=…`
//! for `systemctl status`, `STOPPING=1` when it begins to stop, and
//! `WATCHDOG=1` at least every `$WATCHDOG_USEC` / 2 when the unit has
//! `WatchdogSec=`. That is the whole protocol; no library is needed.
//!
//! [`Notifier::from_env`] connects the socket once, before a sandbox is
//! entered; [`Notifier::send`] is then a plain `write` on a connected
//! socket (no `sendto`), non-blocking, so a manager that stops reading
//! never stalls the sender.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connected notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
}

/// The address `$NOTIFY_SOCKET` names: a path, or `@name` for an abstract one.
fn address(name: &str) -> io::Result<SocketAddr> {
    match name.strip_prefix('@') {
        Some(abstract_name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(abstract_name.as_bytes())
        }
        None => SocketAddr::from_pathname(name),
    }
}

impl Notifier {
    /// Connects to the socket `$NOTIFY_SOCKET` names; `Ok(None)` when it is
    /// not set (the process does not run under a manager that listens).
    pub fn from_env() -> Result<Option<Notifier>, String> {
        match std::env::var("NOTIFY_SOCKET") {
            Ok(name) if !name.is_empty() => Notifier::connect(&name)
                .map(Some)
                .map_err(|e| format!("NOTIFY_SOCKET={name}: {e}")),
            _ => Ok(None),
        }
    }

    /// Connects to `name` (a path, or `@name` for an abstract socket).
    pub fn connect(name: &str) -> io::Result<Notifier> {
        let socket = UnixDatagram::unbound()?;
        socket.connect_addr(&address(name)?)?;
        socket.set_nonblocking(true)?;
        Ok(Notifier { socket })
    }

    /// Sends one notification: `state` is one or more `KEY=VALUE` lines.
    pub fn send(&self, state: &str) -> io::Result<()> {
        // SAFETY: writes `state.len()` bytes from `state` to a descriptor we own.
        let n = unsafe { libc::write(self.socket.as_raw_fd(), state.as_ptr().cast(), state.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// How often the manager wants `WATCHDOG=1`: half of `$WATCHDOG_USEC`,
/// when it is set for this process (`$WATCHDOG_PID` absent or ours).
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?;
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_from(&usec, pid.as_deref(), std::process::id())
}

/// [`watchdog_interval`] from the variables' values and this process's pid.
pub fn watchdog_from(usec: &str, pid: Option<&str>, me: u32) -> Option<Duration> {
    if pid.is_some_and(|p| p.parse::<u32>().ok() != Some(me)) {
        return None;
    }
    let usec: u64 = usec.parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_arrive_as_one_datagram_on_paths_and_abstract_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::connect(path.to_str().unwrap()).unwrap();
        n.send("READY=1\nSTATUS=serving").unwrap();
        let mut buf = [0u8; 64];
        let got = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..got], b"READY=1\nSTATUS=serving");

        let name = format!("oasis-notify-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&address(&format!("@{name}")).unwrap()).unwrap();
        let n = Notifier::connect(&format!("@{name}")).unwrap();
        n.send("STOPPING=1").unwrap();
        let got = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..got], b"STOPPING=1");

        let e = Notifier::connect(dir.path().join("nobody").to_str().unwrap()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    }

    #[test]
    fn the_watchdog_interval_is_half_the_timeout_and_only_for_this_process() {
        let half = Some(Duration::from_millis(1500));
        assert_eq!(watchdog_from("3000000", None, 7), half);
        assert_eq!(watchdog_from("3000000", Some("7"), 7), half);
        assert_eq!(watchdog_from("3000000", Some("8"), 7), None);
        assert_eq!(watchdog_from("0", None, 7), None);
        assert_eq!(watchdog_from("soon", None, 7), None);
    }
}
