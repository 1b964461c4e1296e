//! Net devices over the shared rings: frames are received and sent in place
//! in guest memory; the VMM fills the RX ring and drains the TX ring of
//! every device in each POLL, so a burst costs one exit.
//!
//! Receiving never exits: the RX ring is refilled when the executor idles in
//! POLL, which returns at once when frames are waiting. Sending does not
//! exit either while the TX ring has room: [`Net::flush`] leaves the frames
//! for the POLL the executor makes as soon as it has nothing left to run, so
//! a burst of answers and the wait for the next questions share one exit.
//! Only a full TX ring is pushed out at once (NET_TX). A guest that computes
//! for long between waits holds its last frames meanwhile — as it holds the
//! frames arriving for it, which only a POLL brings in.

use core::task::{Context, Poll, Waker};

use oasis_abi::MAX_DEVICES;
use oasis_abi::hypercall::{NetIo, Number, Status};
use oasis_abi::ring::{End, Ring};
use oasis_rt::device::{DeviceError, Link, Net, RxBatch, Transmit};

use crate::hypercall;

/// Wakers of tasks waiting for input, by device handle; woken by the idle loop.
static WAITERS: spin::Mutex<[Option<Waker>; MAX_DEVICES]> =
    spin::Mutex::new([const { None }; MAX_DEVICES]);

/// Whether any net device is attached (else a POLL that may not block is useless).
static ATTACHED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether any net device is attached.
pub(crate) fn attached() -> bool {
    ATTACHED.load(core::sync::atomic::Ordering::Relaxed)
}

/// The devices a task waits on, as a bit set by handle.
pub(crate) fn interest() -> u64 {
    WAITERS
        .lock()
        .iter()
        .enumerate()
        .filter(|(_, w)| w.is_some())
        .fold(0, |set, (i, _)| set | 1 << i)
}

/// Wakes the tasks waiting on each device whose bit is set in `ready`.
pub(crate) fn wake_ready(ready: u64) {
    let mut waiters = WAITERS.lock();
    for (i, w) in waiters.iter_mut().enumerate() {
        if ready & (1 << i) != 0
            && let Some(w) = w.take()
        {
            w.wake();
        }
    }
}

/// Hands the VMM every frame still queued on any device (one POLL that does
/// not wait), for a guest about to end: a frame sent just before the end is
/// not lost.
pub(crate) fn send_queued() {
    if attached() {
        let mut arg = oasis_abi::hypercall::Poll {
            timeout_ns: 0,
            interest: 0,
            ready: 0,
        };
        hypercall::call(Number::Poll, &mut arg);
    }
}

/// An Ethernet device attached by the VMM (`--net:NAME=TAP`).
pub struct NetDevice {
    handle: u32,
    mac: [u8; 6],
    mtu: usize,
    link: Link,
    rx: Ring,
    tx: Ring,
}

impl NetDevice {
    /// # Safety
    /// The ring addresses and geometry must be those the VMM reported.
    pub(crate) unsafe fn new(
        handle: u32,
        mac: [u8; 6],
        mtu: usize,
        rings: (u64, u64),
        slots: u32,
        slot_size: u32,
        link: Link,
    ) -> NetDevice {
        // SAFETY: the VMM placed both rings in guest memory reserved for them.
        let (rx, tx) = unsafe {
            (
                Ring::new(rings.0 as *mut u8, slots, slot_size, End::Consumer),
                Ring::new(rings.1 as *mut u8, slots, slot_size, End::Producer),
            )
        };
        ATTACHED.store(true, core::sync::atomic::Ordering::Relaxed);
        NetDevice {
            handle,
            mac,
            mtu,
            link,
            rx,
            tx,
        }
    }

    /// The RX ring and the transmit side, borrowed apart.
    fn halves(&mut self) -> (&Ring, TxSide<'_>) {
        let tx = TxSide {
            handle: self.handle,
            mtu: self.mtu,
            tx: &mut self.tx,
        };
        (&self.rx, tx)
    }

    /// The transmit side alone.
    fn tx_side(&mut self) -> TxSide<'_> {
        self.halves().1
    }
}

/// A device's TX ring, lent on its own so that a frame can be written into
/// it while a received one still lies in the RX ring.
struct TxSide<'a> {
    handle: u32,
    mtu: usize,
    tx: &'a mut Ring,
}

impl TxSide<'_> {
    fn exit(&mut self, n: Number) -> Result<u32, DeviceError> {
        net_exit(self.handle, n)
    }

    /// The next free slot's frame area, up to `max` bytes; pushes the ring
    /// out first (one exit) when it is full.
    fn next_slot(&mut self, max: usize) -> Result<&mut [u8], DeviceError> {
        if self.tx.free().map_err(ring_error)? == 0 {
            self.exit(Number::NetTx)?;
        }
        let cap = self.mtu.min(self.tx.frame_max()).min(max);
        match self.tx.next_free().map_err(ring_error)? {
            Some(slot) => Ok(&mut slot[..cap]),
            None => Err(DeviceError::WouldBlock),
        }
    }
}

impl Transmit for TxSide<'_> {
    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        let slot = self.next_slot(max)?;
        let len = fill(slot).min(slot.len());
        if len > 0 {
            self.tx.produce(len).map_err(ring_error)?;
        }
        Ok(len)
    }
}

/// The filled RX slots, lent where they lie until the batch is done.
struct Lent<'a> {
    rx: &'a Ring,
    n: u32,
}

impl RxBatch for Lent<'_> {
    fn len(&self) -> usize {
        self.n as usize
    }

    fn frame(&self, i: usize) -> &[u8] {
        match u32::try_from(i) {
            Ok(i) if i < self.n => self.rx.peek_nth(i).ok().flatten().unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// NET_RX or NET_TX for device `handle`.
fn net_exit(handle: u32, n: Number) -> Result<u32, DeviceError> {
    let mut arg = NetIo {
        device: handle,
        ..NetIo::default()
    };
    hypercall::call(n, &mut arg);
    match Status::from_u32(arg.status) {
        Status::Ok => Ok(arg.frames),
        Status::Io => Err(DeviceError::Io("net", arg.errno as i32)),
        _ => Err(DeviceError::Io("net", 22)),
    }
}

fn ring_error(_: oasis_abi::ring::RingError) -> DeviceError {
    DeviceError::Io("net ring", 5)
}

impl Net for NetDevice {
    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn link(&self) -> Link {
        self.link
    }

    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        let mut n = 0;
        while let Some(frame) = self.rx.peek().map_err(ring_error)? {
            each(frame);
            self.rx.consume();
            n += 1;
        }
        Ok(n)
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        if len > self.mtu.min(self.tx.frame_max()) {
            return Err(DeviceError::OutOfRange);
        }
        let mut tx = self.tx_side();
        let slot = tx.next_slot(len)?;
        fill(slot);
        tx.tx.produce(len).map_err(ring_error)?;
        Ok(())
    }

    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        self.tx_side().transmit_with(max, fill)
    }

    fn receive_lent(
        &mut self,
        each: &mut dyn FnMut(&dyn RxBatch, &mut dyn Transmit),
    ) -> Result<Option<usize>, DeviceError> {
        let (rx, mut tx) = self.halves();
        let n = rx.pending().map_err(ring_error)?;
        if n > 0 {
            each(&Lent { rx, n }, &mut tx);
            rx.consume_n(n);
        }
        Ok(Some(n as usize))
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        // Queued frames leave in the next POLL, which the executor makes as
        // soon as it has nothing left to run; a full ring leaves at once
        // (`TxSide::next_slot`). An exit here would cost as much as that POLL.
        Ok(())
    }

    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.rx.pending().map_or(true, |n| n > 0) {
            return Poll::Ready(());
        }
        if let Some(slot) = WAITERS.lock().get_mut(self.handle as usize) {
            *slot = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}
