//! The glue between an oasis [`Net`] device and smoltcp's `Device`.
//!
//! Receive: a whole batch of frames is taken from the device at once
//! ([`RxRing::fill`]), each checked ([`super::check`]) and copied into a
//! ring that smoltcp then drains in one `poll`; the copy is what lets the
//! device lend its buffers for the call only. Datagrams for a port served
//! on the fast path ([`super::fast`]) are answered during the same pass,
//! not copied in. Transmit: smoltcp writes each
//! frame straight into the device's buffer (no copy); the device holds them
//! until [`Net::flush`], one exit per burst on kvm.

use alloc::vec::Vec;

use oasis_rt::device::{DeviceError, Net, Transmit};
use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::IpCidr;

use super::stats::Stats;
use super::{check, fast};

/// Frames the ring holds at first; it grows if a device hands over more at once.
pub(crate) const RX_BATCH: usize = 64;

/// Received frames waiting for the stack, in arrival order.
pub(crate) struct RxRing {
    bytes: Vec<u8>,
    slot: usize,
    lens: Vec<usize>,
    head: usize,
    count: usize,
}

impl RxRing {
    /// A ring for frames of up to `mtu` bytes.
    pub(crate) fn new(mtu: usize) -> RxRing {
        let mut ring = RxRing::empty(mtu);
        ring.grow();
        ring
    }

    /// A ring that takes memory only when the first frame comes.
    pub(crate) fn empty(mtu: usize) -> RxRing {
        RxRing {
            bytes: Vec::new(),
            slot: mtu,
            lens: Vec::new(),
            head: 0,
            count: 0,
        }
    }

    /// Room for another [`RX_BATCH`] frames.
    fn grow(&mut self) {
        self.bytes
            .resize(self.bytes.len() + RX_BATCH * self.slot, 0);
        self.lens.resize(self.lens.len() + RX_BATCH, 0);
    }

    /// Takes one batch from `dev`, dropping and counting bad frames, and
    /// noting in `syn_ports` the port of each connection opening. Datagrams
    /// for a port served on the fast path are answered on the way, in place
    /// where the device lends its buffers ([`Net::receive_replying`]), else
    /// after the batch from `spare`, which holds them meanwhile.
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
        let lent = dev.receive_replying(&mut |frame, tx| {
            if let Some(udp) = self.take(frame, rx) {
                fast.answer(frame, &udp, tx, rx);
            }
        })?;
        let taken = match lent {
            Some(n) => n,
            None => {
                let n = dev.receive(&mut |frame| {
                    if let Some(udp) = self.take(frame, rx) {
                        spare.push(frame);
                        rx.fast_later.push(udp);
                    }
                })?;
                let mut queued = core::mem::take(rx.fast_later);
                for udp in queued.drain(..) {
                    if let Some(frame) = spare.pop() {
                        fast.answer(frame, &udp, &mut Lend(&mut *dev), rx);
                    }
                }
                *rx.fast_later = queued;
                n
            }
        };
        if taken > 0 {
            rx.stats.rx_batches += 1;
        }
        Ok(taken)
    }

    /// Counts and checks one received frame: a bad one is dropped, one for
    /// the fast path is returned, any other is copied in for the stack.
    fn take(&mut self, frame: &[u8], rx: &mut Taken<'_>) -> Option<check::Udp> {
        rx.stats.rx_frames += 1;
        rx.stats.rx_bytes += frame.len() as u64;
        if frame.len() > self.slot {
            rx.stats.dropped_oversize += 1;
            return None;
        }
        match check::frame(frame) {
            Err(why) => {
                rx.stats.count_drop(why);
                None
            }
            Ok(check::Pass::Udp(udp)) if rx.served(&udp) => Some(udp),
            Ok(pass) => {
                if let check::Pass::Syn(port) = pass {
                    rx.stats.tcp_syns += 1;
                    rx.syn_ports.push(port);
                }
                self.push(frame);
                None
            }
        }
    }

    /// Appends a copy of `frame` (at most a slot), growing when full.
    fn push(&mut self, frame: &[u8]) {
        if self.head + self.count == self.lens.len() {
            // The device hands over bigger batches than the ring holds
            // (e.g. a whole VMM ring at once): grow once, keep the room.
            self.grow();
        }
        let i = self.head + self.count;
        let n = frame.len().min(self.slot);
        self.bytes[i * self.slot..][..n].copy_from_slice(&frame[..n]);
        self.lens[i] = n;
        self.count += 1;
    }

    fn pop(&mut self) -> Option<&[u8]> {
        if self.count == 0 {
            return None;
        }
        let i = self.head;
        self.head += 1;
        self.count -= 1;
        Some(&self.bytes[i * self.slot..][..self.lens[i]])
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

/// smoltcp's view of the device during one poll.
pub(crate) struct Port<'a> {
    pub(crate) dev: &'a mut dyn Net,
    pub(crate) rx: &'a mut RxRing,
    pub(crate) stats: &'a mut Stats,
    pub(crate) scratch: &'a mut Vec<u8>,
    /// Frames queued on the device since the last flush.
    pub(crate) unflushed: &'a mut usize,
}

impl Port<'_> {
    fn tx(&mut self) -> TxToken<'_> {
        TxToken {
            dev: &mut *self.dev,
            stats: &mut *self.stats,
            scratch: &mut *self.scratch,
            unflushed: &mut *self.unflushed,
        }
    }
}

/// One received frame, lent to smoltcp.
pub(crate) struct RxToken<'a> {
    rx: &'a mut RxRing,
}

/// The right to send one frame.
pub(crate) struct TxToken<'a> {
    dev: &'a mut dyn Net,
    stats: &'a mut Stats,
    scratch: &'a mut Vec<u8>,
    unflushed: &'a mut usize,
}

impl phy::Device for Port<'_> {
    type RxToken<'b>
        = RxToken<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if self.rx.count == 0 {
            return None;
        }
        let tx = TxToken {
            dev: &mut *self.dev,
            stats: &mut *self.stats,
            scratch: &mut *self.scratch,
            unflushed: &mut *self.unflushed,
        };
        Some((RxToken { rx: &mut *self.rx }, tx))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(self.tx())
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(self.dev.mtu())
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

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // `receive` returns a token only when a frame is waiting.
        f(self.rx.pop().unwrap_or(&[]))
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut f = Some(f);
        let mut out = None;
        let mut sent = Ok(());
        for attempt in 0..2 {
            sent = self.dev.transmit(len, &mut |buf: &mut [u8]| {
                if let Some(f) = f.take() {
                    out = Some(f(buf));
                }
            });
            if sent == Err(DeviceError::WouldBlock) && out.is_none() && attempt == 0 {
                // The device's queue is full: push it out and try once more.
                let _ = self.dev.flush();
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
