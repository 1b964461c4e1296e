//! echo on the hosted direct stack over user-mode networking
//! (`--net:service=user,fwd=…`): no TAP, no namespace, no root. A host
//! client on 127.0.0.1 reaches echo through the forwards: UDP datagrams of
//! every size from 1 to 1472 bytes and 10 MiB over TCP come back unchanged.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn hosted_echo_over_user_mode_networking_with_no_tap() {
    let (udp, tcp) = (free_port(), free_port());
    let mut cmd = Command::new(echo_bin());
    cmd.arg(format!(
        "--net:service=user,fwd=udp:{udp}:7,fwd=tcp:{tcp}:7"
    ));
    let mut server = Server::start(cmd, "user");
    // Without --ipv4 the stack asks DHCP, which the gateway answers.
    server.wait_for(
        "DHCP lease 10.0.0.2/24 via 10.0.0.1 from 10.0.0.1",
        Duration::from_secs(10),
    );
    server.wait_for("serving UDP and TCP on port 7", Duration::from_secs(10));
    udp_every_size(format!("127.0.0.1:{udp}").parse().unwrap(), 1472);
    let (sent, back, len) = tcp_echo(format!("127.0.0.1:{tcp}").parse().unwrap(), 10 << 20);
    assert_eq!(len, 10 << 20, "bytes echoed");
    assert_eq!(sent, back, "hash of what came back");
}
