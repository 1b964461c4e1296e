//! A panic ends the unikernel through the Abort hypercall, with the message
//! and the location, formatted without allocating (the heap may be the
//! reason for the panic).

use core::fmt::Write;

/// A fixed buffer that cuts what does not fit.
struct Message {
    buf: [u8; 512],
    len: usize,
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let take = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// What Rust's allocation-failure panic says.
const OOM: &str = "memory allocation of";

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut m = Message {
        buf: [0; 512],
        len: 0,
    };
    let _ = match info.location() {
        Some(l) => write!(
            m,
            "panicked at {}:{}:{}: {}",
            l.file(),
            l.line(),
            l.column(),
            info.message()
        ),
        None => write!(m, "panicked: {}", info.message()),
    };
    // Out of memory: say how much there was and what to do about it.
    if let Some(heap) = crate::heap::refused()
        && m.buf[..m.len]
            .windows(OOM.len())
            .any(|w| w == OOM.as_bytes())
    {
        let _ = write!(
            m,
            " (the guest's heap is {} KiB: boot it with a larger --mem)",
            heap >> 10
        );
    }
    crate::hypercall::abort(&m.buf[..m.len])
}
