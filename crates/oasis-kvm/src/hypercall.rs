//! Making a hypercall: a store of the argument struct's address into the
//! hypercall window (oasis-abi explains why not `out`).

use oasis_abi::hypercall::Number;

/// Makes hypercall `n` with `arg` as its argument struct; the VMM reads the
/// *in* fields and writes the *out* fields before this returns.
pub fn call<T>(n: Number, arg: &mut T) {
    // Guest memory is identity mapped and below 4 GiB (oasis-abi's layout),
    // so the struct's address is its guest-physical address and fits 32 bits.
    let addr = arg as *mut T as usize as u32;
    // SAFETY: the window is mapped and backed by nothing, so the store only
    // exits to the VMM; the asm has no `nomem`, so the compiler assumes the
    // VMM may read and write `*arg` (and everything else) across it.
    unsafe {
        core::arch::asm!(
            "mov dword ptr [{window}], {addr:e}",
            window = in(reg) n.mmio(),
            addr = in(reg) addr,
            options(nostack, preserves_flags)
        );
    }
}

/// Ends the unikernel with `status`.
pub fn exit(status: u32) -> ! {
    let mut arg = oasis_abi::hypercall::Exit {
        status,
        _reserved: 0,
    };
    call(Number::Exit, &mut arg);
    // The VMM never resumes a guest after Exit; spin in POLL if it does.
    loop {
        core::hint::spin_loop();
    }
}

/// Ends the unikernel with `message` as the reason (panics).
pub fn abort(message: &[u8]) -> ! {
    let mut arg = oasis_abi::hypercall::Abort {
        message: message.as_ptr() as u64,
        len: message.len() as u64,
    };
    call(Number::Abort, &mut arg);
    loop {
        core::hint::spin_loop();
    }
}

/// Asks the VMM to back `[addr, addr + len)` of guest memory now (see
/// `oasis_abi::hypercall::Populate`); `false` if it could not, and asking
/// again is pointless.
pub fn populate(addr: usize, len: usize) -> bool {
    let mut arg = oasis_abi::hypercall::Populate {
        addr: addr as u64,
        len: len as u64,
        ..Default::default()
    };
    call(Number::Populate, &mut arg);
    arg.status == oasis_abi::hypercall::Status::Ok as u32
}
