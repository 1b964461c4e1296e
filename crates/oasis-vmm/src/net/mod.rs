//! Net devices: the guest's two shared rings, and what backs them on the
//! host. Two backings exist, chosen by the attachment:
//!
//! - `--net:NAME=TAP[,mac=XX:…]` ([`tap`]): a TAP interface (needs one to
//!   exist, so usually root or a prepared interface); the guest's MAC is
//!   random each boot unless `mac=` fixes it.
//! - `--net:NAME=user,fwd=udp:HOSTPORT:GUESTPORT,fwd=tcp:HOSTPORT:GUESTPORT,…`
//!   ([`user`]): user-mode networking, for people without root. The VMM
//!   plays the gateway at 10.0.0.1 on a private link to the guest
//!   (10.0.0.2, by DHCP or by `--ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1`)
//!   and forwards UDP datagrams and TCP connections from `127.0.0.1:HOSTPORT`
//!   to the guest's port. Nothing leaves loopback and the private link.
//!
//! Either way frames move in batches: one POLL or NetTx exit moves every
//! frame that is ready in both directions.

pub mod guard;
pub mod tap;
pub mod user;

use std::io;
use std::time::Instant;

use oasis_abi::ring::{End, Ring, RingError};

pub use tap::{TapNet, open_tap, parse_backing as parse_tap_backing};
pub use user::UserNet;

/// The attachment text that selects user-mode networking: `user` alone or
/// followed by `,fwd=…`. Anything else names a TAP interface.
pub fn is_user_mode(backing: &str) -> bool {
    backing == "user" || backing.starts_with("user,")
}

/// What went wrong moving frames.
#[derive(Debug)]
pub enum NetError {
    /// The guest broke a ring.
    Ring(RingError),
    /// The TAP failed.
    Io(io::Error),
}

/// The host's page size, the unit of [`NetDevice::trim`].
const PAGE: usize = 4096;

/// Frames one exchange moved, and whether the guest has frames waiting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Frames taken from the guest's TX ring.
    pub tx: u32,
    /// Frames put into the guest's RX ring.
    pub rx: u32,
    /// The RX ring holds frames the guest has not taken.
    pub pending: bool,
}

/// A net device as the hypercalls see it.
pub enum NetDevice {
    /// Backed by a TAP interface.
    Tap(TapNet),
    /// Backed by the VMM's own gateway (user-mode networking).
    User(Box<UserNet>),
}

impl NetDevice {
    /// Moves the guest's TX frames out; returns how many (NetTx).
    pub fn send(&mut self, now: Instant) -> Result<u32, NetError> {
        match self {
            NetDevice::Tap(t) => t.drain_tx(),
            NetDevice::User(u) => u.send(now),
        }
    }

    /// Moves frames for the guest into its RX ring; returns how many (NetRx).
    pub fn receive(&mut self, now: Instant) -> Result<u32, NetError> {
        match self {
            NetDevice::Tap(t) => t.fill_rx(),
            NetDevice::User(u) => u.receive(now),
        }
    }

    /// Both directions, as POLL does before and after it waits.
    pub fn exchange(&mut self, now: Instant) -> Result<Moved, NetError> {
        match self {
            NetDevice::Tap(t) => {
                let tx = t.drain_tx()?;
                let rx = t.fill_rx()?;
                Ok(Moved {
                    tx,
                    rx,
                    pending: t.rx_pending()?,
                })
            }
            NetDevice::User(u) => u.exchange(now),
        }
    }

    /// Adds the host descriptors to wait on for this device's input.
    pub fn wait_on(&self, out: &mut Vec<libc::pollfd>) {
        match self {
            NetDevice::Tap(t) => out.push(libc::pollfd {
                fd: t.fd(),
                events: libc::POLLIN,
                revents: 0,
            }),
            NetDevice::User(u) => u.wait_on(out),
        }
    }

    /// When the backing needs to run again even if no descriptor is ready
    /// (the gateway's TCP timers); `None` for never.
    pub fn wake_at(&mut self, now: Instant) -> Option<Instant> {
        match self {
            NetDevice::Tap(_) => None,
            NetDevice::User(u) => u.wake_at(now),
        }
    }

    /// Gives the host back the pages of both rings' slots, if no slot holds
    /// a frame: they read as zero when next touched, which the ring
    /// protocol never looks at (a slot is read only between its producer's
    /// write and its consumer's release). Called while the guest waits in
    /// POLL, so neither side is inside a slot. `Ok(false)` if a slot was
    /// busy and nothing was given back.
    pub fn trim(&self) -> Result<bool, NetError> {
        let (rx, tx) = match self {
            NetDevice::Tap(t) => t.rings(),
            NetDevice::User(u) => u.rings(),
        };
        if rx.pending().map_err(NetError::Ring)? + tx.pending().map_err(NetError::Ring)? > 0 {
            return Ok(false);
        }
        for area in [rx.slot_area(), tx.slot_area()] {
            let start = area.start.next_multiple_of(PAGE);
            let end = area.end / PAGE * PAGE;
            if end > start {
                // SAFETY: whole pages of guest memory inside the ring's slot
                // area, which no one reads until a side writes it again;
                // private anonymous (or privately mapped) memory reads as
                // zero-filled (or file) pages afterwards. KVM drops its
                // mappings of them through its MMU notifier.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
                };
            }
        }
        Ok(true)
    }

    /// Frames from the guest dropped as malformed (user-mode only; a TAP
    /// passes frames on as a wire would, and the peer judges them).
    pub fn malformed(&self) -> u64 {
        match self {
            NetDevice::Tap(_) => 0,
            NetDevice::User(u) => u.counters().malformed,
        }
    }

    /// Writes to the TAP so far (a train of TCP segments is one).
    pub fn tap_writes(&self) -> u64 {
        match self {
            NetDevice::Tap(t) => t.writes,
            NetDevice::User(_) => 0,
        }
    }
}

/// The VMM's two ends of a device's rings at `rx` and `tx` in guest memory,
/// initialised.
///
/// # Safety
/// Both pointers must address `ring_bytes(slots, slot_size)` bytes of guest
/// memory that outlive the rings.
pub unsafe fn rings(rx: *mut u8, tx: *mut u8, slots: u32, slot_size: u32) -> (Ring, Ring) {
    // SAFETY: the caller's contract.
    let (rx, tx) = unsafe {
        (
            Ring::new(rx, slots, slot_size, End::Producer),
            Ring::new(tx, slots, slot_size, End::Consumer),
        )
    };
    rx.init();
    tx.init();
    (rx, tx)
}
