//! DHCP: in a namespace the test creates, Debian's dnsmasq (started by the
//! test on tap0) leases an address to echo on the direct stack, started
//! without --ipv4, which then answers ping and echoes at that address.
//! Needs root and dnsmasq.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn dnsmasq_leases_an_address_and_echo_answers_ping_there() {
    if !may_run(true, &["ip", "ping", "dnsmasq"]) {
        return;
    }
    let ns = Netns::with_tap("echo-dhcp");
    let leases =
        std::env::temp_dir().join(format!("oasis-echo-dhcp-{}.leases", std::process::id()));
    let mut dnsmasq = ns.command("dnsmasq");
    dnsmasq.args([
        "--keep-in-foreground",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0", // no DNS, DHCP only
        "--interface=tap0",
        "--bind-interfaces",
        "--dhcp-range=10.0.0.50,10.0.0.59,255.255.255.0,10m",
        "--dhcp-option=option:router,10.0.0.1",
        "--pid-file",
        &format!("--dhcp-leasefile={}", leases.display()),
        "--log-dhcp",
    ]);
    let mut dhcpd = Server::start(dnsmasq, "dnsmasq");
    dhcpd.wait_for("DHCP, IP range 10.0.0.50", Duration::from_secs(10));

    let mut cmd = ns.command(echo_bin());
    cmd.args(["--net:service=tap0", "--", "--dhcp"]);
    let mut server = Server::start(cmd, "dhcp");
    let line = server.wait_for("DHCP lease", Duration::from_secs(30));
    // "… DHCP lease 10.0.0.5x/24 via 10.0.0.1 from 10.0.0.1"
    let addr = line
        .split("DHCP lease ")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in `{line}`"))
        .to_string();
    assert!(
        addr.starts_with("10.0.0.5"),
        "leased {addr}, outside the range"
    );
    assert!(line.contains("via 10.0.0.1"), "{line}");
    assert!(
        ns.ping(&addr),
        "no answer to ping at {addr}:\n{}",
        server.output()
    );
    let to = format!("{addr}:7").parse().unwrap();
    let (sent, back, _) = ns.within(|| tcp_echo(to, 64 << 10));
    assert_eq!(sent, back);
    let _ = std::fs::remove_file(&leases);
}
