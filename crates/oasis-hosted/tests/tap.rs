//! The hosted TAP device on a real interface, inside a network namespace the
//! test creates and always removes: a frame the kernel sends on the TAP wakes
//! the task waiting for input, and a frame we transmit reaches the kernel.
//! Needs root (CI runs as root); elsewhere it says it was skipped.

use std::future::poll_fn;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use oasis_hosted::reactor::Reactor;
use oasis_hosted::tap::Tap;
use oasis_rt::device::Net;
use oasis_rt::exec::block_on_stats;
use oasis_testkit::netns::{Netns, may_run};

#[test]
fn kernel_frames_wake_the_task_and_transmitted_frames_reach_the_kernel() {
    if !may_run(true, &["ip", "ping"]) {
        return;
    }
    let ns = Netns::with_tap("tap");
    // All device work happens on a thread that lives inside the namespace.
    let neigh = ns.within(|| {
        let reactor = Arc::new(Reactor::new().unwrap());
        let mac = [0x02, 0, 0, 0, 0, 0x02];
        let mut tap = Tap::open("tap0", mac, reactor.clone()).unwrap();
        // Make the kernel send: a ping to 10.0.0.2 starts with an ARP request on tap0.
        let mut ping = ns
            .command("ping")
            .args(["-c", "3", "-i", "0.2", "-W", "1", "10.0.0.2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (arp, stats) = block_on_stats(&*reactor, async {
            loop {
                poll_fn(|cx| tap.poll_receive_ready(cx)).await;
                let mut found = None;
                tap.receive(&mut |frame| {
                    if frame.len() >= 42 && frame[12..14] == [0x08, 0x06] {
                        found = Some(frame.to_vec());
                    }
                })
                .unwrap();
                if let Some(f) = found {
                    return f;
                }
            }
        });
        // The ARP request asks who has 10.0.0.2, from 10.0.0.1.
        assert_eq!(&arp[0..6], &[0xff; 6], "broadcast");
        assert_eq!(&arp[28..32], &[10, 0, 0, 1]);
        assert_eq!(&arp[38..42], &[10, 0, 0, 2]);
        assert!(
            stats.waits >= 1 && stats.waits < 20,
            "{} waits: spinning?",
            stats.waits
        );

        // Answer it: the kernel then has our MAC in its neighbour table.
        let mut reply = [0u8; 42];
        reply[0..6].copy_from_slice(&arp[6..12]);
        reply[6..12].copy_from_slice(&mac);
        reply[12..14].copy_from_slice(&[0x08, 0x06]);
        reply[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
        reply[22..28].copy_from_slice(&mac);
        reply[28..32].copy_from_slice(&[10, 0, 0, 2]);
        reply[32..38].copy_from_slice(&arp[22..28]);
        reply[38..42].copy_from_slice(&[10, 0, 0, 1]);
        tap.transmit(reply.len(), &mut |buf| buf.copy_from_slice(&reply))
            .unwrap();
        tap.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let neigh = ns
            .command("ip")
            .args(["neigh", "show", "10.0.0.2"])
            .output()
            .unwrap();
        let _ = ping.kill();
        let _ = ping.wait();
        String::from_utf8_lossy(&neigh.stdout).into_owned()
    });
    assert!(
        neigh.contains("02:00:00:00:00:02"),
        "kernel did not learn our MAC: {neigh:?}"
    );
}
