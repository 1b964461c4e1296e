//! Hand-made Ethernet frames (good ones, and each kind of bad one) and a
//! raw packet socket on tap0 to send them from inside the namespace.

use std::net::Ipv4Addr;

pub const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const ECHO: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const HOST_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];

pub fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for part in parts {
        for pair in part.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame to `dst_mac` carrying an IPv4 packet of `proto` with
/// a correct header checksum and a transport checksum made correct.
pub fn ipv4_frame(dst_mac: [u8; 6], src: Ipv4Addr, proto: u8, mut l4: Vec<u8>) -> Vec<u8> {
    let pseudo = |len: usize| -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&ECHO.octets());
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(len as u16).to_be_bytes());
        p
    };
    match proto {
        6 if l4.len() >= 20 => {
            l4[16..18].fill(0);
            let c = checksum(&[&pseudo(l4.len()), &l4]);
            l4[16..18].copy_from_slice(&c.to_be_bytes());
        }
        17 => {
            l4[6..8].fill(0);
            let c = checksum(&[&pseudo(l4.len()), &l4]);
            l4[6..8].copy_from_slice(&c.to_be_bytes());
        }
        1 => {
            l4[2..4].fill(0);
            let c = checksum(&[&l4]);
            l4[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
    let total = 20 + l4.len();
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&ECHO.octets());
    let c = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&l4);
    f
}

pub fn udp(payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0x15, 0xb3, 0, 7, 0, 0, 0, 0];
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(payload);
    u
}

pub fn syn(src_port: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&src_port.to_be_bytes());
    t[2..4].copy_from_slice(&7u16.to_be_bytes());
    t[4..8].copy_from_slice(
        &u32::from(src_port)
            .wrapping_mul(2_654_435_761)
            .to_be_bytes(),
    );
    t[12] = 5 << 4;
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t
}

pub fn icmp_echo() -> Vec<u8> {
    vec![8, 0, 0, 0, 0, 1, 0, 1, b'h', b'i']
}

/// Sends raw frames out of tap0 (to the echo process behind it).
pub struct Wire {
    fd: i32,
    addr: libc::sockaddr_ll,
}

impl Wire {
    pub fn open() -> Wire {
        // SAFETY: plain syscalls with checked results and valid pointers.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            let index = libc::if_nametoindex(c"tap0".as_ptr());
            assert!(index > 0, "tap0 index");
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_ifindex = index as i32;
            addr.sll_halen = 6;
            Wire { fd, addr }
        }
    }

    pub fn send(&self, frame: &[u8]) {
        // SAFETY: valid socket, buffer and address of the stated sizes.
        let n = unsafe {
            libc::sendto(
                self.fd,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&self.addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        // SAFETY: our own descriptor.
        unsafe { libc::close(self.fd) };
    }
}
