//! Any bytes as a frame: the check never panics, and a UDP datagram it
//! passes lies inside the frame, where its length field says.
#![no_main]

use oasis_frame::{Frame, Transport, check};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(Frame::Ip {
        transport: Transport::Udp(u),
        ..
    }) = check(data)
    {
        assert!(u.payload_at >= 8 + 14 + 20);
        assert!(u.payload_at + u.payload_len <= data.len(), "{u:?} in {} bytes", data.len());
        let field = u16::from_be_bytes([data[u.payload_at - 4], data[u.payload_at - 3]]);
        assert_eq!(usize::from(field), u.payload_len + 8);
    }
});
