//! echo as a kvm unikernel, started the way the issue shows a new user
//! would, inside a namespace holding tap0 at 10.0.0.1/24:
//!
//! ```text
//! oasis run examples/echo --target kvm --net service=tap0 -- --ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1
//! ```
//!
//! Ping, UDP and TCP echo, a DHCP lease from dnsmasq, and hostile frames.
//! Needs root and a usable /dev/kvm (CI has both; elsewhere they skip).

mod common;

use common::Runner;

fn may_run(programs: &[&str]) -> bool {
    common::may_run(true, programs) && common::kvm_usable()
}

#[test]
fn kvm_echo_answers_ping_and_echoes_udp_and_tcp() {
    if may_run(&["ip", "ping"]) {
        common::scenarios::echo_over_tap(Runner::Kvm);
        common::ran("echo::kvm_echo_answers_ping_and_echoes_udp_and_tcp");
    }
}

#[test]
fn kvm_echo_takes_a_dhcp_lease_from_dnsmasq_and_answers_there() {
    if may_run(&["ip", "ping", "dnsmasq"]) {
        common::scenarios::dhcp_lease(Runner::Kvm);
        common::ran("echo::kvm_echo_takes_a_dhcp_lease_from_dnsmasq_and_answers_there");
    }
}

#[test]
fn kvm_echo_drops_and_counts_bad_frames_and_survives_a_syn_flood() {
    if may_run(&["ip", "ping"]) {
        common::scenarios::bad_input(Runner::Kvm);
        common::ran("echo::kvm_echo_drops_and_counts_bad_frames_and_survives_a_syn_flood");
    }
}

#[test]
fn kvm_echo_serves_ipv6_static_and_slaac() {
    if may_run(&["ip", "ping", "dnsmasq"]) {
        common::scenarios::ipv6(Runner::Kvm);
        common::ran("echo::kvm_echo_serves_ipv6_static_and_slaac");
    }
}
