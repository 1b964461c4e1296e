//! The glue between an oasis [`Net`] device and smoltcp's `Device`.
//!
//! Receive, from a device that lends its frames where they lie
//! ([`Net::receive_lent`]: kvm's RX ring): the whole batch is lent at once;
//! each frame is checked ([`super::check`]), datagrams for a port served on
//! the fast path ([`super::fast`]) are answered into the lent transmit side,
//! and smoltcp reads the others in their slots during one `poll` inside
//! the loan ([`Rx::Lent`]) — no copy. From a device that cannot lend (a TAP
//! or the in-process user-mode network, which hand over one frame at a
//! time), the frames smoltcp is to see are copied into a ring it then
//! drains ([`RxRing::fill`], [`Rx::Ring`]). Transmit: smoltcp writes each
//! frame straight into the device's buffer (no copy); the device holds them
//! until [`Net::flush`], one exit per burst on kvm.

use alloc::vec::Vec;

use core::task::{Context, Poll};

use oasis_rt::device::{DeviceError, Net, RxBatch, Transmit};
use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::IpCidr;

use super::stats::Stats;
use super::{check, fast};
use crate::slots::Slots;

/// Frames the ring holds at first; it grows if a device hands over more at once.
pub(crate) const RX_BATCH: usize = 64;

/// Received frames waiting for the stack, in arrival order.
pub(crate) struct RxRing {
    slots: Slots,
    head: usize,
    count: usize,
}

impl RxRing {
    /// A ring for frames of up to `mtu` bytes that takes memory only when
    /// the first frame comes.
    pub(crate) fn empty(mtu: usize) -> RxRing {
        RxRing {
            slots: Slots::empty(mtu),
            head: 0,
            count: 0,
        }
    }

    /// Takes one batch from `dev` (a device that cannot lend its frames),
    /// dropping and counting bad frames, and noting in `syn_ports` the port
    /// of each connection opening. Datagrams for a port served on the fast
    /// path are held in `spare` while the batch comes in, then answered.
    /// Returns how many frames the device handed over. Call only when empty.
    pub(crate) fn fill(
        &mut self,
        dev: &mut dyn Net,
        rx: &mut Taken<'_>,
        fast: &Fast,
        spare: &mut RxRing,
    ) -> Result<usize, DeviceError> {
        debug_assert_eq!(self.count, 0);
        self.head = 0;
        spare.head = 0;
        spare.count = 0;
        let mtu = self.slots.size();
        let n = dev.receive(&mut |frame| match admit(frame, mtu, rx) {
            Admit::Fast(udp) => {
                spare.push(frame);
                rx.fast_later.push(udp);
            }
            Admit::Stack => {
                self.push(frame);
                rx.stats.rx_copied += 1;
            }
            Admit::Dropped => {}
        })?;
        let mut queued = core::mem::take(rx.fast_later);
        for udp in queued.drain(..) {
            if let Some(frame) = spare.pop() {
                fast.answer(frame, &udp, &mut Lend(&mut *dev), rx);
            }
        }
        *rx.fast_later = queued;
        Ok(n)
    }

    /// Appends a copy of `frame` (at most a slot), growing when full.
    fn push(&mut self, frame: &[u8]) {
        if self.head + self.count == self.slots.count() {
            // The device hands over bigger batches than the ring holds
            // (e.g. a whole VMM ring at once): grow once, keep the room.
            self.slots.grow(RX_BATCH);
        }
        self.slots.copy_in(self.head + self.count, frame);
        self.count += 1;
    }

    fn pop(&mut self) -> Option<&[u8]> {
        if self.count == 0 {
            return None;
        }
        let i = self.head;
        self.head += 1;
        self.count -= 1;
        Some(self.slots.get(i))
    }
}

/// Where a received frame goes.
pub(crate) enum Admit {
    /// Dropped and counted (malformed, or longer than the link's frames).
    Dropped,
    /// To the fast path: a datagram for a served port.
    Fast(check::Udp),
    /// To smoltcp.
    Stack,
}

/// Counts and checks one received frame of at most `mtu` bytes, noting a
/// connection opening's port.
pub(crate) fn admit(frame: &[u8], mtu: usize, rx: &mut Taken<'_>) -> Admit {
    rx.stats.rx_frames += 1;
    rx.stats.rx_bytes += frame.len() as u64;
    if frame.len() > mtu {
        rx.stats.dropped_oversize += 1;
        return Admit::Dropped;
    }
    match check::frame(frame) {
        Err(why) => {
            rx.stats.count_drop(why);
            Admit::Dropped
        }
        Ok(check::Pass::Udp(udp)) if rx.served(&udp) => Admit::Fast(udp),
        Ok(pass) => {
            if let check::Pass::Syn(port) = pass {
                rx.stats.tcp_syns += 1;
                rx.syn_ports.push(port);
            }
            Admit::Stack
        }
    }
}

/// Sorts a lent batch: answers its fast-path datagrams into `tx` at once
/// and notes in `keep` the frames smoltcp is to read where they lie.
pub(crate) fn take_lent(
    batch: &dyn RxBatch,
    tx: &mut dyn Transmit,
    mtu: usize,
    rx: &mut Taken<'_>,
    fast: &Fast,
    keep: &mut Vec<usize>,
) {
    keep.clear();
    for i in 0..batch.len() {
        let frame = batch.frame(i);
        match admit(frame, mtu, rx) {
            Admit::Fast(udp) => fast.answer(frame, &udp, tx, rx),
            Admit::Stack => keep.push(i),
            Admit::Dropped => {}
        }
    }
}

/// What receiving a batch updates: the counters, the ports of connection
/// openings, and the datagrams held for the fast path until the batch is in.
pub(crate) struct Taken<'a> {
    pub(crate) stats: &'a mut Stats,
    pub(crate) syn_ports: &'a mut Vec<u16>,
    pub(crate) unflushed: &'a mut usize,
    pub(crate) fast_later: &'a mut Vec<check::Udp>,
    pub(crate) served: &'a [fast::Served],
    pub(crate) addrs: &'a [IpCidr],
}

impl Taken<'_> {
    /// Whether `udp` goes to the fast path: to a served port on one of the
    /// interface's own addresses.
    fn served(&self, udp: &check::Udp) -> bool {
        self.served.iter().any(|s| s.port == udp.dst.1)
            && self.addrs.iter().any(|a| a.address() == udp.dst.0)
    }
}

/// How the fast path answers (see [`super::fast`]).
pub(crate) struct Fast {
    pub(crate) mac: [u8; 6],
    pub(crate) mtu: usize,
}

impl Fast {
    /// Answers the datagram `udp` of `frame` into a frame `tx` lends.
    fn answer(&self, frame: &[u8], udp: &check::Udp, tx: &mut dyn Transmit, rx: &mut Taken<'_>) {
        let served: &[fast::Served] = rx.served;
        let Some(served) = served.iter().find(|s| s.port == udp.dst.1) else {
            return;
        };
        let mut answer = served.answer.borrow_mut();
        match tx.transmit_with(self.mtu, &mut |out| {
            fast::reply(frame, udp, self.mac, &mut **answer, out)
        }) {
            Ok(0) => {}
            Ok(n) => {
                rx.stats.tx_frames += 1;
                rx.stats.tx_bytes += n as u64;
                rx.stats.udp_answered_in_place += 1;
                *rx.unflushed += 1;
            }
            Err(_) => rx.stats.tx_errors += 1,
        }
    }
}

/// Stands in the stack's state for its device while the device lends a
/// batch (the driver holds the device itself meanwhile); never used.
pub(crate) struct NoDevice;

impl Net for NoDevice {
    fn mac(&self) -> [u8; 6] {
        [0; 6]
    }
    fn mtu(&self) -> usize {
        0
    }
    fn receive(&mut self, _: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        Ok(0)
    }
    fn transmit(&mut self, _: usize, _: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        Err(DeviceError::WouldBlock)
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
    fn poll_receive_ready(&mut self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// A whole device lent as its transmit side (after a batch was received).
struct Lend<'a>(&'a mut dyn Net);

impl Transmit for Lend<'_> {
    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        self.0.transmit_with(max, fill)
    }
}

/// Where smoltcp reads received frames from during one poll.
pub(crate) enum Rx<'a> {
    /// Copies in the stack's own ring.
    Ring(&'a mut RxRing),
    /// Frames `keep[next..]` of a batch the device lends.
    Lent {
        batch: &'a dyn RxBatch,
        keep: &'a [usize],
        next: usize,
    },
}

impl Rx<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Rx::Ring(r) => r.count == 0,
            Rx::Lent { keep, next, .. } => *next >= keep.len(),
        }
    }

    fn pop(&mut self) -> &[u8] {
        match self {
            Rx::Ring(r) => r.pop().unwrap_or(&[]),
            Rx::Lent { batch, keep, next } => match keep.get(*next) {
                Some(&i) => {
                    *next += 1;
                    batch.frame(i)
                }
                None => &[],
            },
        }
    }
}

/// Where smoltcp writes frames during one poll.
pub(crate) enum Tx<'a> {
    /// The device itself.
    Dev(&'a mut dyn Net),
    /// The transmit side a device lends with its received frames.
    Lent(&'a mut dyn Transmit),
}

impl Tx<'_> {
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        match self {
            Tx::Dev(d) => d.transmit(len, fill),
            Tx::Lent(t) => t.transmit(len, fill),
        }
    }

    /// Pushes queued frames out, where the sink can (a lent transmit side
    /// makes room by itself when full).
    fn flush(&mut self) {
        if let Tx::Dev(d) = self {
            let _ = d.flush();
        }
    }
}

/// smoltcp's view of the device during one poll.
pub(crate) struct Port<'a, 't> {
    pub(crate) rx: Rx<'a>,
    pub(crate) tx: Tx<'t>,
    pub(crate) mtu: usize,
    pub(crate) stats: &'a mut Stats,
    pub(crate) scratch: &'a mut Vec<u8>,
    /// Frames queued on the device since the last flush.
    pub(crate) unflushed: &'a mut usize,
}

impl<'t> Port<'_, 't> {
    fn tx(&mut self) -> TxToken<'_, 't> {
        TxToken {
            tx: &mut self.tx,
            stats: &mut *self.stats,
            scratch: &mut *self.scratch,
            unflushed: &mut *self.unflushed,
        }
    }
}

/// One received frame, lent to smoltcp.
pub(crate) struct RxToken<'a, 'p> {
    rx: &'a mut Rx<'p>,
}

/// The right to send one frame.
pub(crate) struct TxToken<'a, 'p> {
    tx: &'a mut Tx<'p>,
    stats: &'a mut Stats,
    scratch: &'a mut Vec<u8>,
    unflushed: &'a mut usize,
}

impl<'a, 't> phy::Device for Port<'a, 't> {
    type RxToken<'b>
        = RxToken<'b, 'a>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b, 't>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_, 'a>, TxToken<'_, 't>)> {
        if self.rx.is_empty() {
            return None;
        }
        let tx = TxToken {
            tx: &mut self.tx,
            stats: &mut *self.stats,
            scratch: &mut *self.scratch,
            unflushed: &mut *self.unflushed,
        };
        Some((RxToken { rx: &mut self.rx }, tx))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_, 't>> {
        Some(self.tx())
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(self.mtu)
    }
}

/// What the stack may assume of the device: Ethernet frames of `mtu`
/// bytes, and received checksums already verified by [`check`].
pub(crate) fn capabilities(mtu: usize) -> DeviceCapabilities {
    let mut caps = DeviceCapabilities::default();
    caps.medium = Medium::Ethernet;
    caps.max_transmission_unit = mtu;
    caps.max_burst_size = None;
    caps.checksum.ipv4 = Checksum::Tx;
    caps.checksum.udp = Checksum::Tx;
    caps.checksum.tcp = Checksum::Tx;
    caps.checksum.icmpv4 = Checksum::Tx;
    caps.checksum.icmpv6 = Checksum::Tx;
    caps
}

impl phy::RxToken for RxToken<'_, '_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // `receive` returns a token only when a frame is waiting.
        f(self.rx.pop())
    }
}

impl phy::TxToken for TxToken<'_, '_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut f = Some(f);
        let mut out = None;
        let mut sent = Ok(());
        for attempt in 0..2 {
            sent = self.tx.transmit(len, &mut |buf: &mut [u8]| {
                if let Some(f) = f.take() {
                    out = Some(f(buf));
                }
            });
            if sent == Err(DeviceError::WouldBlock) && out.is_none() && attempt == 0 {
                // The device's queue is full: push it out and try once more.
                self.tx.flush();
                self.stats.tx_flushes += 1;
                *self.unflushed = 0;
                continue;
            }
            break;
        }
        match sent {
            Ok(()) => {
                self.stats.tx_frames += 1;
                self.stats.tx_bytes += len as u64;
                *self.unflushed += 1;
            }
            Err(_) => self.stats.tx_errors += 1,
        }
        match (out, f) {
            (Some(r), _) => r,
            // The device failed before writing: let smoltcp build the frame
            // into scratch space, then it is lost, as on a wire.
            (None, Some(f)) => {
                self.scratch.resize(len, 0);
                f(&mut self.scratch[..len])
            }
            (None, None) => unreachable!("fill ran without producing a result"),
        }
    }
}
