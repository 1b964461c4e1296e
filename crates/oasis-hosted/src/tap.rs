//! A net device backed by a Linux TAP interface (`/dev/net/tun`, no packet
//! information header), non-blocking and edge-triggered in the reactor.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::task::{Context, Poll};

use oasis_rt::device::{DeviceError, Net};

use crate::reactor::{Reactor, Token};

/// Largest Ethernet frame handled (no jumbo frames).
pub const FRAME_MAX: usize = 1514;
/// Frames handed over per [`Net::receive`] call at most.
const RX_BATCH: usize = 64;

/// An open TAP interface.
pub struct Tap {
    file: File,
    mac: [u8; 6],
    reactor: Arc<Reactor>,
    token: Token,
    buf: Box<[u8; 65536]>,
}

use oasis_host::tap::open_tap;

impl Tap {
    /// Attaches to the TAP interface `name`, with `mac` as this end's address.
    pub fn open(name: &str, mac: [u8; 6], reactor: Arc<Reactor>) -> io::Result<Tap> {
        let file = open_tap(name)?;
        let token = reactor.register(file.as_raw_fd())?;
        Ok(Tap {
            file,
            mac,
            reactor,
            token,
            buf: Box::new([0; 65536]),
        })
    }
}

impl Tap {
    /// Writes the first `len` bytes of the frame buffer to the TAP.
    fn write_out(&mut self, len: usize) -> Result<(), DeviceError> {
        match self.file.write(&self.buf[..len]) {
            Ok(_) => Ok(()),
            // A full TAP queue drops the frame, as a wire would.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(DeviceError::Io("TAP write", errno(&e))),
        }
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

impl Net for Tap {
    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn mtu(&self) -> usize {
        FRAME_MAX
    }

    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        let mut count = 0;
        while count < RX_BATCH {
            match self.file.read(&mut self.buf[..]) {
                Ok(0) => break,
                Ok(n) => {
                    each(&self.buf[..n]);
                    count += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reactor.drained(self.token);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(DeviceError::Io("TAP read", errno(&e))),
            }
        }
        Ok(count)
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        if len > FRAME_MAX {
            return Err(DeviceError::OutOfRange);
        }
        let frame = &mut self.buf[..len];
        fill(frame);
        self.write_out(len)
    }

    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        let room = max.min(FRAME_MAX);
        let len = fill(&mut self.buf[..room]).min(room);
        if len > 0 {
            self.write_out(len)?;
        }
        Ok(len)
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }

    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.reactor.poll_readable(self.token, cx)
    }
}
