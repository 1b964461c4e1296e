//! echo on the hosted direct stack over a TAP device, in network namespaces
//! the tests create (tap0 at 10.0.0.1/24): ping, UDP and TCP echo, a DHCP
//! lease from dnsmasq, and hostile frames. Needs root (CI runs as root).

mod common;

use common::Runner;

#[test]
fn direct_stack_over_tap_answers_ping_and_echoes_udp_and_tcp() {
    if common::may_run(true, &["ip", "ping"]) {
        common::scenarios::echo_over_tap(Runner::Hosted);
    }
}

#[test]
fn direct_stack_takes_a_dhcp_lease_from_dnsmasq_and_answers_there() {
    if common::may_run(true, &["ip", "ping", "dnsmasq"]) {
        common::scenarios::dhcp_lease(Runner::Hosted);
    }
}

#[test]
fn direct_stack_drops_and_counts_bad_frames_and_survives_a_syn_flood() {
    if common::may_run(true, &["ip", "ping"]) {
        common::scenarios::bad_input(Runner::Hosted);
    }
}

#[test]
fn direct_stack_serves_ipv6_static_and_slaac() {
    if common::may_run(true, &["ip", "ping", "dnsmasq"]) {
        common::scenarios::ipv6(Runner::Hosted);
    }
}
