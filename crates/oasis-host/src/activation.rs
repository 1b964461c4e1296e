//! Sockets handed over by a service manager (systemd's socket activation),
//! so that a user-mode forward serves a port the manager bound, before the
//! service ran and across its restarts.
//!
//! The manager starts the process with the sockets at descriptors 3, 4, …
//! and says so in the environment: `$LISTEN_FDS` (how many), `$LISTEN_PID`
//! (which process they are for: ours, else they are not for us) and
//! `$LISTEN_FDNAMES` (colon-separated names, from `FileDescriptorName=` in
//! the `.socket` unit). A forward written `fwd=udp:sd=NAME:GUESTPORT` takes
//! the socket named NAME ([`take`]); a NAME of digits that no socket bears
//! is a position (`sd=0` is descriptor 3). Each socket is checked to be of
//! the kind the forward needs — a datagram socket for UDP, a listening
//! stream socket for TCP, of an IP family — and a socket is taken once.
//! One `.socket` unit names all its sockets alike, so `fwd=udp:sd=dns:53`
//! and `fwd=tcp:sd=dns:53` each take the socket `dns` of their kind.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// The first descriptor a manager passes.
pub const FIRST_FD: RawFd = 3;

/// The sockets a manager passed, by name; `None` once taken.
type Passed = Vec<(String, RawFd, Option<OwnedFd>)>;

/// What the environment said, read once on the first [`take`].
static PASSED: Mutex<Option<Result<Passed, String>>> = Mutex::new(None);

/// The (name, descriptor) pairs that `$LISTEN_PID`, `$LISTEN_FDS` and
/// `$LISTEN_FDNAMES` describe for process `me`. Unnamed sockets are named
/// `unknown`, as systemd does.
pub fn parse(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    names: Option<&str>,
    me: u32,
) -> Result<Vec<(String, RawFd)>, String> {
    let (Some(pid), Some(fds)) = (listen_pid, listen_fds) else {
        return Err("no sockets were passed to this process (LISTEN_FDS and LISTEN_PID are not set: start it from a .socket unit, or under systemd-socket-activate)".into());
    };
    if pid.parse::<u32>().ok() != Some(me) {
        return Err(format!(
            "the passed sockets are for process {pid} (LISTEN_PID), not this one ({me})"
        ));
    }
    let n: i32 = fds
        .parse()
        .ok()
        .filter(|n| (0..=1024).contains(n))
        .ok_or_else(|| format!("LISTEN_FDS={fds}: expected a count of descriptors"))?;
    let names: Vec<&str> = names.map_or(Vec::new(), |n| n.split(':').collect());
    Ok((0..n)
        .map(|i| {
            let name = names.get(i as usize).copied().filter(|n| !n.is_empty());
            (name.unwrap_or("unknown").to_string(), FIRST_FD + i)
        })
        .collect())
}

/// Reads the environment and owns the descriptors it names.
fn from_env() -> Result<Passed, String> {
    let var = |k: &str| std::env::var(k).ok();
    let pairs = parse(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )?;
    let mut passed = Vec::new();
    for (name, fd) in pairs {
        // SAFETY: F_GETFD reads a descriptor's flags and touches no memory.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(format!(
                "passed socket `{name}` (descriptor {fd}) is not open: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: the manager passed descriptor `fd` to this process (LISTEN_PID
        // is ours) and nothing else in it owns or closes it.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // Not for the processes this one might start.
        // SAFETY: as above; sets a flag on a descriptor we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        passed.push((name, fd, Some(owned)));
    }
    Ok(passed)
}

/// What a forward needs of a passed socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A datagram socket (`ListenDatagram=`), for a UDP forward.
    Datagram,
    /// A listening stream socket (`ListenStream=`, `Accept=no`), for TCP.
    Listener,
}

fn sockopt(fd: RawFd, opt: libc::c_int) -> std::io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for the kernel to write an int and its length.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(v)
}

/// Checks that `fd` is an IPv4 or IPv6 socket of `kind`; the error says
/// what it is instead.
pub fn check(fd: &impl AsRawFd, kind: Kind) -> Result<(), String> {
    let fd = fd.as_raw_fd();
    let ty = sockopt(fd, libc::SO_TYPE).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTSOCK) => "is not a socket".to_string(),
        _ => format!("cannot be asked its type: {e}"),
    })?;
    let domain = sockopt(fd, libc::SO_DOMAIN).map_err(|e| format!("has no family: {e}"))?;
    if domain != libc::AF_INET && domain != libc::AF_INET6 {
        return Err(format!(
            "is not an IP socket (family {domain}; the .socket unit must listen on an IP address and port)"
        ));
    }
    let type_name = |t| match t {
        libc::SOCK_DGRAM => "a datagram socket (ListenDatagram=)",
        libc::SOCK_STREAM => "a stream socket (ListenStream=)",
        _ => "neither a datagram nor a stream socket",
    };
    match kind {
        Kind::Datagram if ty != libc::SOCK_DGRAM => Err(format!(
            "is {}, and a UDP forward needs a datagram socket (ListenDatagram=)",
            type_name(ty)
        )),
        Kind::Listener if ty != libc::SOCK_STREAM => Err(format!(
            "is {}, and a TCP forward needs a listening stream socket (ListenStream=)",
            type_name(ty)
        )),
        Kind::Listener if sockopt(fd, libc::SO_ACCEPTCONN).ok() != Some(1) => Err(
            "is a stream socket that is not listening (a TCP forward needs ListenStream= with Accept=no)".into(),
        ),
        _ => Ok(()),
    }
}

/// Takes the passed socket `name` of `kind` (a `.socket` unit's name
/// covers all its sockets, so `dns` may be both a datagram and a stream
/// socket: each forward takes the one of its kind), or, for a NAME of
/// digits no socket bears, the one at that position.
pub fn take(name: &str, kind: Kind) -> Result<OwnedFd, String> {
    let mut passed = PASSED.lock().unwrap_or_else(|p| p.into_inner());
    let passed = passed
        .get_or_insert_with(from_env)
        .as_mut()
        .map_err(|e| e.clone())?;
    take_from(passed, name, kind)
}

/// [`take`] from the sockets `passed`.
fn take_from(passed: &mut Passed, name: &str, kind: Kind) -> Result<OwnedFd, String> {
    let mut named: Vec<usize> = (0..passed.len()).filter(|&i| passed[i].0 == name).collect();
    if named.is_empty()
        && let Some(i) = name.parse::<usize>().ok().filter(|i| *i < passed.len())
    {
        named.push(i);
    }
    if named.is_empty() {
        let names: Vec<&str> = passed.iter().map(|(n, _, _)| n.as_str()).collect();
        return Err(format!(
            "no passed socket is named `{name}` (passed: {}; name them with FileDescriptorName= in the .socket unit)",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    let mut refusal = None;
    for i in named {
        let (_, raw, slot) = &mut passed[i];
        let Some(fd) = slot.as_ref() else { continue };
        match check(fd, kind) {
            Ok(()) => return Ok(slot.take().expect("checked above")),
            Err(why) => {
                refusal.get_or_insert(format!("passed socket `{name}` (descriptor {raw}) {why}"));
            }
        }
    }
    Err(refusal.unwrap_or_else(|| format!("passed socket `{name}` is used by two forwards")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_descriptors_from_3_for_this_process_only() {
        let p = parse(Some("42"), Some("3"), Some("dns:dns-tcp"), 42).unwrap();
        assert_eq!(
            p,
            [
                ("dns".to_string(), 3),
                ("dns-tcp".to_string(), 4),
                ("unknown".to_string(), 5)
            ]
        );
        assert_eq!(parse(Some("42"), Some("0"), None, 42).unwrap(), []);
        for (pid, fds, want) in [
            (None, None, "not set"),
            (Some("42"), None, "not set"),
            (Some("41"), Some("1"), "process 41"),
            (Some("x"), Some("1"), "process x"),
            (Some("42"), Some("-1"), "LISTEN_FDS=-1"),
            (Some("42"), Some("many"), "LISTEN_FDS=many"),
        ] {
            let e = parse(pid, fds, None, 42).unwrap_err();
            assert!(e.contains(want), "{pid:?} {fds:?}: {e}");
        }
    }

    #[test]
    fn forwards_take_sockets_by_name_and_kind_or_position_once_each() {
        let passed_socket = |name: &str, fd: OwnedFd| (name.to_string(), fd.as_raw_fd(), Some(fd));
        let udp: OwnedFd = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().into();
        let tcp: OwnedFd = std::net::TcpListener::bind("127.0.0.1:0").unwrap().into();
        let other: OwnedFd = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().into();
        let (udp_fd, tcp_fd, other_fd) = (udp.as_raw_fd(), tcp.as_raw_fd(), other.as_raw_fd());
        let mut passed = vec![
            passed_socket("dns", tcp),
            passed_socket("dns", udp),
            passed_socket("unknown", other),
        ];
        let fd = |r: Result<OwnedFd, String>| r.unwrap().as_raw_fd();
        assert_eq!(fd(take_from(&mut passed, "dns", Kind::Datagram)), udp_fd);
        assert_eq!(fd(take_from(&mut passed, "dns", Kind::Listener)), tcp_fd);
        let e = take_from(&mut passed, "dns", Kind::Datagram).unwrap_err();
        assert!(e.contains("used by two forwards"), "{e}");
        let e = take_from(&mut passed, "ntp", Kind::Datagram).unwrap_err();
        assert!(e.contains("passed: dns, dns, unknown"), "{e}");
        let e = take_from(&mut passed, "2", Kind::Listener).unwrap_err();
        assert!(e.contains("is a datagram socket"), "{e}");
        assert_eq!(fd(take_from(&mut passed, "2", Kind::Datagram)), other_fd);
    }

    #[test]
    fn a_socket_of_the_wrong_kind_is_refused_by_what_it_is() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let unconnected = std::net::TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
        let (unix, _) = std::os::unix::net::UnixDatagram::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(check(&udp, Kind::Datagram), Ok(()));
        assert_eq!(check(&tcp, Kind::Listener), Ok(()));
        for (e, want) in [
            (check(&udp, Kind::Listener), "is a datagram socket"),
            (check(&tcp, Kind::Datagram), "is a stream socket"),
            (check(&unconnected, Kind::Listener), "not listening"),
            (check(&unix, Kind::Datagram), "not an IP socket"),
            (check(&file, Kind::Datagram), "not a socket"),
        ] {
            let e = e.unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }
}
