//! [`UserNetDevice`]: oasis-host's user-mode [`Gateway`] seen as a `Net`
//! device (`--net:NAME=user,fwd=...`): the direct stack runs over it as
//! over a TAP, with no TAP and no root. The gateway's host sockets are
//! watched by the hosted reactor; its timers by an executor sleep.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use oasis_host::usernet::{Gateway, UserNetConfig};
use oasis_rt::device::{DeviceError, Link, Net};
use oasis_rt::time::{Instant, Sleep, sleep_until};

use crate::reactor::{Reactor, Token};

/// Frames handed to the stack per `receive` at most.
const RX_BATCH: usize = 64;

/// The guest's side of a user-mode network.
pub struct UserNetDevice {
    gateway: Gateway,
    reactor: Arc<Reactor>,
    watched: BTreeMap<RawFd, Token>,
    timer: Option<Sleep>,
    scratch: Vec<u8>,
}

fn now() -> u64 {
    Instant::now().as_nanos()
}

impl UserNetDevice {
    /// The user-mode network `spec` describes (`user,fwd=…`, see
    /// [`UserNetConfig::parse`]), its forwards open on the host.
    pub fn open(spec: &str) -> Result<UserNetDevice, String> {
        UserNetDevice::new(UserNetConfig::parse(spec)?)
    }

    /// Opens the forwards of `config` on the host.
    pub fn new(config: UserNetConfig) -> Result<UserNetDevice, String> {
        Ok(UserNetDevice {
            gateway: Gateway::new(config, now())?,
            reactor: crate::reactor(),
            watched: BTreeMap::new(),
            timer: None,
            scratch: Vec::new(),
        })
    }

    /// Registers the gateway's current host descriptors with the reactor
    /// and forgets the ones it closed.
    fn watch(&mut self) {
        let fds = self.gateway.host_fds();
        let reactor = &self.reactor;
        self.watched.retain(|fd, token| {
            let keep = fds.iter().any(|h| h.fd == *fd);
            if !keep {
                reactor.deregister(*fd, *token);
            }
            keep
        });
        for h in fds {
            if !self.watched.contains_key(&h.fd)
                && let Ok(token) = reactor.register_rw(h.fd)
            {
                self.watched.insert(h.fd, token);
            }
        }
    }
}

impl Drop for UserNetDevice {
    fn drop(&mut self) {
        for (fd, token) in std::mem::take(&mut self.watched) {
            self.reactor.deregister(fd, token);
        }
    }
}

impl Net for UserNetDevice {
    fn mac(&self) -> [u8; 6] {
        [0x02, 0x00, 0x0a, 0x00, 0x00, 0x02]
    }

    fn mtu(&self) -> usize {
        1514
    }

    fn link(&self) -> Link {
        // The gateway routes IPv4 only.
        Link {
            no_ipv6_router: true,
        }
    }

    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        let mut n = 0;
        Ok(self.gateway.drain_to_guest(&mut |f| {
            if n == RX_BATCH {
                return false;
            }
            n += 1;
            each(f);
            true
        }))
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        self.scratch.clear();
        self.scratch.resize(len, 0);
        fill(&mut self.scratch);
        self.gateway.from_guest(&self.scratch);
        Ok(())
    }

    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        self.scratch.clear();
        self.scratch.resize(max.min(self.mtu()), 0);
        let len = fill(&mut self.scratch).min(self.scratch.len());
        if len > 0 {
            self.gateway.from_guest(&self.scratch[..len]);
        }
        Ok(len)
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        self.gateway.poll(now());
        Ok(())
    }

    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.gateway.has_frames_for_guest() {
            return Poll::Ready(());
        }
        // Host input, output room or a due timer: let the gateway work.
        let mut woke = self
            .timer
            .as_mut()
            .is_some_and(|t| Pin::new(t).poll(cx).is_ready());
        for token in self.watched.values() {
            woke |= self.reactor.poll_readable(*token, cx).is_ready();
            woke |= self.reactor.poll_writable(*token, cx).is_ready();
        }
        if !woke && self.timer.is_some() {
            return Poll::Pending;
        }
        let t = now();
        self.gateway.poll(t);
        // The gateway read every descriptor as far as it could (new ones
        // included): wait for the next edge on each. Nothing can arrive in
        // between, on one thread.
        self.watch();
        for token in self.watched.values() {
            self.reactor.drained(*token);
            self.reactor.write_blocked(*token);
            let _ = self.reactor.poll_readable(*token, cx);
            let _ = self.reactor.poll_writable(*token, cx);
        }
        let next = self.gateway.poll_at(t).unwrap_or(t + 1_000_000_000);
        let mut timer = sleep_until(Instant::from_nanos(next));
        let _ = Pin::new(&mut timer).poll(cx);
        self.timer = Some(timer);
        if self.gateway.has_frames_for_guest() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
