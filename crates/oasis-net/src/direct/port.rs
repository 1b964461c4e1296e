//! The glue between an oasis [`Net`] device and smoltcp's `Device`.
//!
//! Receive: a whole batch of frames is taken from the device at once
//! ([`RxRing::fill`]), each checked ([`super::check`]) and copied into a
//! ring that smoltcp then drains in one `poll`; the copy is what lets the
//! device lend its buffers for the call only. Transmit: smoltcp writes each
//! frame straight into the device's buffer (no copy); the device holds them
//! until [`Net::flush`], one exit per burst on kvm.

use alloc::vec;
use alloc::vec::Vec;

use oasis_rt::device::{DeviceError, Net};
use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::check;
use super::stats::Stats;

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
        RxRing {
            bytes: vec![0; RX_BATCH * mtu],
            slot: mtu,
            lens: vec![0; RX_BATCH],
            head: 0,
            count: 0,
        }
    }

    /// Takes one batch from `dev`, dropping and counting bad frames, and
    /// noting in `syn_ports` the port of each connection opening.
    /// Returns how many frames the device handed over. Call only when empty.
    pub(crate) fn fill(
        &mut self,
        dev: &mut dyn Net,
        stats: &mut Stats,
        syn_ports: &mut Vec<u16>,
    ) -> Result<usize, DeviceError> {
        debug_assert_eq!(self.count, 0);
        self.head = 0;
        let slot = self.slot;
        let (bytes, lens, count) = (&mut self.bytes, &mut self.lens, &mut self.count);
        let taken = dev.receive(&mut |frame: &[u8]| {
            stats.rx_frames += 1;
            stats.rx_bytes += frame.len() as u64;
            if *count == lens.len() {
                // The device hands over bigger batches than the ring holds
                // (e.g. a whole VMM ring at once): grow once, keep the room.
                bytes.resize(bytes.len() + RX_BATCH * slot, 0);
                lens.resize(lens.len() + RX_BATCH, 0);
            }
            if frame.len() > slot {
                stats.dropped_oversize += 1;
                return;
            }
            match check::frame(frame) {
                Err(why) => stats.count_drop(why),
                Ok(pass) => {
                    if let check::Pass::Syn(port) = pass {
                        stats.tcp_syns += 1;
                        syn_ports.push(port);
                    }
                    bytes[*count * slot..][..frame.len()].copy_from_slice(frame);
                    lens[*count] = frame.len();
                    *count += 1;
                }
            }
        })?;
        if taken > 0 {
            stats.rx_batches += 1;
        }
        Ok(taken)
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
