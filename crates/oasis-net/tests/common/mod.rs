//! An in-memory Ethernet cable between two `Net` ends, for tests that need
//! no root and no TAP.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use oasis_net::Config;
use oasis_rt::args::FromArg;
use oasis_rt::device::{DeviceError, Link, Net};

/// A stack configuration with static addresses (`10.0.0.1/24`, and
/// optionally `fd00::1/64`): no DHCP, no SLAAC.
#[allow(dead_code)] // not every test binary uses it
pub fn static_config(v4: &str, v6: Option<&str>) -> Config {
    Config::from_values(
        Some(FromArg::from_arg(v4).unwrap()),
        None,
        v6.map(|a| FromArg::from_arg(a).unwrap()),
        None,
        false,
        0,
    )
    .unwrap()
}

#[derive(Default)]
pub struct Cable {
    /// Frames in flight towards each end.
    pub towards: [VecDeque<Vec<u8>>; 2],
    pub waiting: [Option<Waker>; 2],
}

/// One end of the cable. Transmitted frames are held until `flush`.
pub struct End {
    pub cable: Rc<RefCell<Cable>>,
    pub side: usize,
    pub held: Vec<Vec<u8>>,
    /// What the end says about its link.
    pub link: Link,
}

impl Net for End {
    fn mac(&self) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, self.side as u8 + 1]
    }
    fn mtu(&self) -> usize {
        1514
    }
    fn link(&self) -> Link {
        self.link
    }
    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        let frames: Vec<Vec<u8>> = self.cable.borrow_mut().towards[self.side]
            .drain(..)
            .collect();
        frames.iter().for_each(|f| each(f));
        Ok(frames.len())
    }
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        let mut frame = vec![0; len];
        fill(&mut frame);
        self.held.push(frame);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        let other = 1 - self.side;
        let mut cable = self.cable.borrow_mut();
        cable.towards[other].extend(self.held.drain(..));
        if let Some(w) = cable.waiting[other].take() {
            w.wake();
        }
        Ok(())
    }
    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut cable = self.cable.borrow_mut();
        if cable.towards[self.side].is_empty() {
            cable.waiting[self.side] = Some(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl End {
    /// End `side` (0 or 1) of `cable`.
    pub fn new(cable: &Rc<RefCell<Cable>>, side: usize) -> End {
        End {
            cable: cable.clone(),
            side,
            held: Vec::new(),
            link: Link::default(),
        }
    }
}
