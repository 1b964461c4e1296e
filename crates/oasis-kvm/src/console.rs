//! The console: bytes out through the VMM's stdout, one exit per write.

use oasis_abi::hypercall::{ConsoleWrite, Number};
use oasis_rt::device::Console;

use crate::hypercall;

/// The VMM's console.
pub(crate) struct VmmConsole;

impl Console for VmmConsole {
    fn write(&self, bytes: &[u8]) {
        let mut arg = ConsoleWrite {
            data: bytes.as_ptr() as u64,
            len: bytes.len() as u64,
        };
        hypercall::call(Number::ConsoleWrite, &mut arg);
    }
}

/// Writes `s` to the console.
pub(crate) fn print(s: &str) {
    VmmConsole.write(s.as_bytes());
}
