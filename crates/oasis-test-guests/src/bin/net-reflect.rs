//! Reflects UDP datagrams back to their sender (swapping MAC, IPv4 and UDP
//! addresses, which leaves every checksum valid) and answers ARP for its
//! address, until it has reflected `--frames` datagrams. Exercises the net
//! device end to end: TAP, rings, batches, readiness.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use oasis::Net;

oasis::boot_arg! {
    /// Datagrams to reflect before exiting.
    static FRAMES: u64 = Arg::new("frames", "UDP datagrams to reflect before exiting").default("100");
}
oasis::boot_arg! {
    /// This unikernel's IPv4 address.
    static ADDRESS: u32 = Arg::new("ipv4-address", "IPv4 address answered for ARP, as a big-endian integer").default("167772162");
}

const ETH_ARP: [u8; 2] = [0x08, 0x06];
const ETH_IPV4: [u8; 2] = [0x08, 0x00];
const UDP: u8 = 17;

/// The reply to `frame`, and whether it is a reflected datagram.
fn reflect(frame: &[u8], mac: [u8; 6], ip: [u8; 4]) -> Option<(Vec<u8>, bool)> {
    let ethertype = frame.get(12..14)?;
    let mut out = frame.to_vec();
    out[0..6].copy_from_slice(&frame[6..12]);
    out[6..12].copy_from_slice(&mac);
    if ethertype == ETH_ARP {
        // Request (op 1) for our address: answer with our MAC.
        if frame.get(20..22)? != [0, 1] || frame.get(38..42)? != ip {
            return None;
        }
        out[21] = 2;
        out[22..28].copy_from_slice(&mac);
        out[28..32].copy_from_slice(&ip);
        out[32..38].copy_from_slice(&frame[22..28]);
        out[38..42].copy_from_slice(&frame[28..32]);
        return Some((out, false));
    }
    if ethertype != ETH_IPV4 || *frame.get(23)? != UDP {
        return None;
    }
    let ihl = usize::from(frame.get(14)? & 0x0f) * 4;
    let udp = 14 + ihl;
    frame.get(udp..udp + 8)?;
    out[26..30].copy_from_slice(&frame[30..34]);
    out[30..34].copy_from_slice(&frame[26..30]);
    out[udp..udp + 2].copy_from_slice(&frame[udp + 2..udp + 4]);
    out[udp + 2..udp + 4].copy_from_slice(&frame[udp..udp + 2]);
    Some((out, true))
}

#[oasis::main(net = "service")]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let mut net = env.net("service")?;
    let mac = net.mac();
    let ip = ADDRESS.value().unwrap_or(0x0a00_0002).to_be_bytes();
    let want = FRAMES.value().unwrap_or(100);
    let mut reflected = 0;
    let mut replies: Vec<(Vec<u8>, bool)> = Vec::new();
    while reflected < want {
        core::future::poll_fn(|cx| net.poll_receive_ready(cx)).await;
        net.receive(&mut |f| replies.extend(reflect(f, mac, ip)))?;
        for (r, udp) in replies.drain(..) {
            net.transmit(r.len(), &mut |b| b.copy_from_slice(&r))?;
            reflected += u64::from(udp);
        }
        net.flush()?;
    }
    oasis::log::info!("reflected {reflected} datagrams");
    Ok(())
}
