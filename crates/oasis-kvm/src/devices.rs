//! The devices the VMM attached, by name, until the application takes them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oasis_abi::boot::{BootInfo, DEVICE_BLOCK, DEVICE_NET, LINK_NO_IPV6_ROUTER};
use oasis_rt::device::{Link, NetAttachment};

use crate::block::BlockDevice;
use crate::net::NetDevice;

enum Attached {
    Net(NetDevice),
    Block(BlockDevice),
}

// SAFETY: one core, one thread; the devices never cross threads.
unsafe impl Send for Attached {}

static DEVICES: spin::Mutex<Vec<(String, Option<Attached>)>> = spin::Mutex::new(Vec::new());

/// Records the devices listed in `boot`.
pub(crate) fn init(boot: &BootInfo) {
    let mut table = DEVICES.lock();
    let count = (boot.device_count as usize).min(boot.devices.len());
    for (handle, d) in boot.devices[..count].iter().enumerate() {
        let Some(name) = d.name() else { continue };
        let dev = match d.kind {
            DEVICE_NET => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&d.mac[..6]);
                // SAFETY: the VMM reported these rings.
                Attached::Net(unsafe {
                    NetDevice::new(
                        handle as u32,
                        mac,
                        d.mtu as usize,
                        (d.rx_ring, d.tx_ring),
                        d.ring_slots,
                        d.ring_slot_size,
                        Link {
                            no_ipv6_router: d.link & LINK_NO_IPV6_ROUTER != 0,
                        },
                    )
                })
            }
            DEVICE_BLOCK => {
                Attached::Block(BlockDevice::new(handle as u32, d.sector_size, d.sectors))
            }
            _ => continue,
        };
        table.push((String::from(name), Some(dev)));
    }
}

fn take(name: &str, net: bool) -> Option<Attached> {
    let mut table = DEVICES.lock();
    let (_, slot) = table
        .iter_mut()
        .find(|(n, d)| n == name && matches!(d, Some(Attached::Net(_))) == net && d.is_some())?;
    slot.take()
}

/// Takes the net device attached as `name`.
pub fn take_net(name: &str) -> oasis_rt::Result<NetDevice> {
    match take(name, true) {
        Some(Attached::Net(n)) => Ok(n),
        _ => Err(format!("net device `{name}` is not declared, or already taken").into()),
    }
}

/// Takes net device `name` as the platform attached it: always a device here.
pub fn take_net_attachment(name: &str) -> oasis_rt::Result<NetAttachment<NetDevice>> {
    take_net(name).map(NetAttachment::Device)
}

/// Takes the block device attached as `name`.
pub fn take_block(name: &str) -> oasis_rt::Result<BlockDevice> {
    match take(name, false) {
        Some(Attached::Block(b)) => Ok(b),
        _ => Err(format!("block device `{name}` is not declared, or already taken").into()),
    }
}
