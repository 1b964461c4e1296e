//! The gateway's DHCP server: one lease, the guest's address, so a guest
//! started without `--ipv4` (DHCP is the default) gets its address, mask
//! and router from the user-mode network as from a real one.

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

use super::UserNetConfig;

/// Lease time offered, in seconds.
const LEASE_SECONDS: u32 = 24 * 3600;
const SERVER_PORT: u16 = 67;
const CLIENT_PORT: u16 = 68;

/// The netmask of a prefix length.
fn mask(prefix: u8) -> Ipv4Address {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    Ipv4Address::from(bits)
}

/// If `frame` is a DHCP DISCOVER or REQUEST from the guest, the frame that
/// answers it (OFFER, ACK, or NAK for an address that is not the guest's).
/// Anything else, malformed included, is `None`.
pub(super) fn answer(
    frame: &[u8],
    config: &UserNetConfig,
    gateway_mac: EthernetAddress,
) -> Option<Vec<u8>> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Udp || !ip.verify_checksum() {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.dst_port() != SERVER_PORT {
        return None;
    }
    let dhcp = DhcpPacket::new_checked(udp.payload()).ok()?;
    let request = DhcpRepr::parse(&dhcp).ok()?;
    let guest = config.guest;
    let (kind, yours) = match request.message_type {
        DhcpMessageType::Discover => (DhcpMessageType::Offer, guest),
        DhcpMessageType::Request => {
            let wanted = request.requested_ip.unwrap_or(request.client_ip);
            if wanted == guest {
                (DhcpMessageType::Ack, guest)
            } else {
                (DhcpMessageType::Nak, Ipv4Address::UNSPECIFIED)
            }
        }
        _ => return None,
    };
    let nak = kind == DhcpMessageType::Nak;
    let reply = DhcpRepr {
        message_type: kind,
        transaction_id: request.transaction_id,
        secs: 0,
        client_hardware_address: request.client_hardware_address,
        client_ip: Ipv4Address::UNSPECIFIED,
        your_ip: yours,
        server_ip: config.gateway,
        router: (!nak).then_some(config.gateway),
        subnet_mask: (!nak).then(|| mask(config.prefix)),
        relay_agent_ip: Ipv4Address::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(config.gateway),
        parameter_request_list: None,
        dns_servers: None,
        max_size: None,
        lease_duration: (!nak).then_some(LEASE_SECONDS),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let dhcp_len = reply.buffer_len();
    let udp_len = 8 + dhcp_len;
    let ip_repr = Ipv4Repr {
        src_addr: config.gateway,
        dst_addr: Ipv4Address::BROADCAST,
        next_header: IpProtocol::Udp,
        payload_len: udp_len,
        hop_limit: 64,
    };
    let eth_repr = EthernetRepr {
        src_addr: gateway_mac,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut out = vec![0u8; 14 + 20 + udp_len];
    let caps = ChecksumCapabilities::default();
    eth_repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    ip_repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[14..]), &caps);
    let mut emitted = Ok(());
    UdpRepr {
        src_port: SERVER_PORT,
        dst_port: CLIENT_PORT,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut out[34..]),
        &IpAddress::Ipv4(config.gateway),
        &IpAddress::Ipv4(Ipv4Address::BROADCAST),
        dhcp_len,
        |payload| emitted = reply.emit(&mut DhcpPacket::new_unchecked(payload)),
        &caps,
    );
    emitted.ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_of_prefixes() {
        assert_eq!(mask(24), Ipv4Address::new(255, 255, 255, 0));
        assert_eq!(mask(0), Ipv4Address::new(0, 0, 0, 0));
        assert_eq!(mask(32), Ipv4Address::new(255, 255, 255, 255));
        assert_eq!(mask(200), Ipv4Address::new(255, 255, 255, 255));
    }

    #[test]
    fn non_dhcp_and_malformed_frames_get_no_answer() {
        let config = UserNetConfig::default();
        let mac = EthernetAddress([2, 0, 0, 0, 0, 1]);
        assert_eq!(answer(&[], &config, mac), None);
        assert_eq!(answer(&[0u8; 60], &config, mac), None);
    }
}
