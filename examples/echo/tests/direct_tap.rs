//! echo on the hosted direct stack over a TAP device, in a network
//! namespace the test creates (tap0 at 10.0.0.1/24, echo at 10.0.0.2):
//! ping is answered, UDP datagrams of every size from 1 to 1472 bytes and
//! 10 MiB over TCP come back unchanged. Needs root (CI runs as root).

mod common;

use std::time::Duration;

use common::*;

#[test]
fn direct_stack_over_tap_answers_ping_and_echoes_udp_and_tcp() {
    if !may_run(true, &["ip", "ping"]) {
        return;
    }
    let ns = Netns::with_tap("echo-tap");
    let mut cmd = ns.command(echo_bin());
    cmd.args([
        "--net:service=tap0",
        "--",
        "--ipv4=10.0.0.2/24",
        "--ipv4-gateway=10.0.0.1",
    ]);
    let mut server = Server::start(cmd, "tap");
    server.wait_for("serving UDP and TCP on port 7", Duration::from_secs(10));
    assert!(
        ns.ping("10.0.0.2"),
        "no answer to ping:\n{}",
        server.output()
    );
    let to = "10.0.0.2:7".parse().unwrap();
    ns.within(|| udp_every_size(to, 1472));
    let (sent, back, len) = ns.within(|| tcp_echo(to, 10 << 20));
    assert_eq!(len, 10 << 20, "bytes echoed");
    assert_eq!(sent, back, "hash of what came back");
}
