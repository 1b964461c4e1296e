//! The VMM as a systemd service (`Type=notify`, `dist/systemd/`): what it
//! tells the service manager about its guest.
//!
//! - `READY=1` when the guest makes its `Ready` hypercall — its runtime
//!   went idle for the first time with the application's sockets bound and
//!   its address configured — not when the VMM merely started;
//! - `WATCHDOG=1` every `$WATCHDOG_USEC` / 2 while the guest keeps coming
//!   back to its idle wait (POLL), so a guest spinning without exits stops
//!   the pings and the manager restarts the unit (`WatchdogSec=`);
//! - `STOPPING=1` and why, when the VMM leaves (guest exit, SIGTERM).
//!
//! The socket is connected before the sandbox ([`crate::seccomp`]); each
//! notification is then one `write`, which the filter allows anyway, so the
//! sandbox is the same with or without a manager. Without
//! `$NOTIFY_SOCKET` nothing is sent.

use std::time::{Duration, Instant};

use oasis_host::notify::{self, Notifier};

/// The VMM's line to its service manager, if it has one.
#[derive(Debug, Default)]
pub struct Service {
    notifier: Option<Notifier>,
    /// The watchdog's interval and the next ping due.
    watchdog: Option<(Duration, Instant)>,
    ready: bool,
    /// A failed notification was reported (once).
    warned: bool,
}

impl Service {
    /// The manager `$NOTIFY_SOCKET` names (and the watchdog
    /// `$WATCHDOG_USEC` asks for); none when it is not set.
    pub fn from_env() -> Service {
        let notifier = Notifier::from_env().unwrap_or_else(|e| {
            eprintln!("oasis-vmm: cannot reach the service manager: {e}");
            None
        });
        let watchdog = notifier
            .as_ref()
            .and(notify::watchdog_interval())
            .map(|every| (every, Instant::now()));
        Service {
            notifier,
            watchdog,
            ..Service::default()
        }
    }

    /// A service talking to `notifier`, pinging every `watchdog` if given.
    pub fn new(notifier: Notifier, watchdog: Option<Duration>) -> Service {
        Service {
            notifier: Some(notifier),
            watchdog: watchdog.map(|every| (every, Instant::now())),
            ..Service::default()
        }
    }

    fn send(&mut self, state: &str) {
        let Some(n) = &self.notifier else { return };
        if let Err(e) = n.send(state)
            && !self.warned
        {
            self.warned = true;
            eprintln!("oasis-vmm: cannot notify the service manager: {e}");
        }
    }

    /// The guest is serving: `READY=1`, once.
    pub fn ready(&mut self, booted: Instant) {
        if self.ready {
            return;
        }
        self.ready = true;
        let ms = booted.elapsed().as_millis();
        self.send(&format!(
            "READY=1\nSTATUS=serving (ready {ms} ms after entry)"
        ));
    }

    /// The guest is in its idle wait, so alive: `WATCHDOG=1` if one is due.
    pub fn alive(&mut self) {
        let Some((every, due)) = self.watchdog else {
            return;
        };
        let now = Instant::now();
        if now >= due {
            self.watchdog = Some((every, now + every));
            self.send("WATCHDOG=1");
        }
    }

    /// When the next watchdog ping is due, for a wait to end in time.
    pub fn next_ping(&self) -> Option<Instant> {
        self.watchdog.map(|(_, due)| due)
    }

    /// The VMM is leaving: `STOPPING=1`, with `why` as the status.
    pub fn stopping(&mut self, why: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={why}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn received(listener: &UnixDatagram) -> Vec<String> {
        listener.set_nonblocking(true).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = listener.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn ready_once_watchdog_when_due_and_stopping_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::connect(path.to_str().unwrap()).unwrap();
        let mut s = Service::new(n, Some(Duration::from_millis(50)));
        let booted = Instant::now();
        s.alive(); // due at once
        s.alive(); // not again before 50 ms
        s.ready(booted);
        s.ready(booted);
        let due = s.next_ping().unwrap();
        assert!(due > Instant::now() + Duration::from_millis(20));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        s.alive();
        s.stopping("stopped by SIGTERM");
        let got = received(&listener);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], "WATCHDOG=1");
        assert!(got[1].starts_with("READY=1\nSTATUS=serving"), "{got:?}");
        assert_eq!(got[2], "WATCHDOG=1");
        assert_eq!(got[3], "STOPPING=1\nSTATUS=stopped by SIGTERM");

        // Without a manager: nothing to send, no watchdog, no error.
        let mut none = Service::default();
        none.ready(booted);
        none.alive();
        assert_eq!(none.next_ping(), None);
    }
}
