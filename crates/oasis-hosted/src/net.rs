//! [`NetDevice`]: what `Env::net` hands a hosted application — a TAP
//! interface (`--net:NAME=TAP`) or a user-mode network
//! (`--net:NAME=user,…`). Which one is the operator's choice on the command
//! line, made here in the platform; the application and its network stack
//! see one `Net` device either way.

use std::task::{Context, Poll};

use oasis_rt::device::{DeviceError, Link, Net, RxBatch, Transmit};

use crate::tap::Tap;
use crate::usernet::UserNetDevice;

/// A hosted net device.
pub enum NetDevice {
    /// A TAP interface of the host.
    Tap(Tap),
    /// A user-mode network in this process: no TAP, no root.
    User(Box<UserNetDevice>),
}

/// Runs `$body` with `$d` bound to the device inside, whichever it is.
macro_rules! each {
    ($value:expr, $d:ident => $body:expr) => {
        match $value {
            NetDevice::Tap($d) => $body,
            NetDevice::User($d) => $body,
        }
    };
}

impl Net for NetDevice {
    fn mac(&self) -> [u8; 6] {
        each!(self, d => d.mac())
    }

    fn link(&self) -> Link {
        each!(self, d => d.link())
    }

    fn mtu(&self) -> usize {
        each!(self, d => d.mtu())
    }

    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        each!(self, d => d.receive(each))
    }

    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        each!(self, d => d.transmit(len, fill))
    }

    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        each!(self, d => d.transmit_with(max, fill))
    }

    fn receive_lent(
        &mut self,
        each: &mut dyn FnMut(&dyn RxBatch, &mut dyn Transmit),
    ) -> Result<Option<usize>, DeviceError> {
        each!(self, d => d.receive_lent(each))
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        each!(self, d => d.flush())
    }

    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        each!(self, d => d.poll_receive_ready(cx))
    }
}
