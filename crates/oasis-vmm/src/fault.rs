//! Reporting a guest that faulted: the registers on stderr, and one line
//! naming the cause — the function at RIP (from the image's symbols) and,
//! when the stack pointer is in the guard page, a stack overflow.

use kvm_ioctls::VcpuFd;
use oasis_abi::layout::{STACK_BOTTOM, STACK_GUARD};

use crate::error::Error;
use crate::image::Image;

/// Lowest address treated as "in the guard area" (the unmapped pages under the stack).
const GUARD_AREA: u64 = 0xb000;

/// Prints the vCPU's registers and returns the one-line error for `what`.
pub fn report(vcpu: &VcpuFd, image: &Image, what: &str) -> Error {
    let (Ok(r), Ok(s)) = (vcpu.get_regs(), vcpu.get_sregs()) else {
        return Error::Guest(format!("{what} (registers unavailable)"));
    };
    eprintln!("oasis-vmm: guest {what}; registers:");
    eprintln!(
        "  rip {:016x}  rsp {:016x}  rbp {:016x}  rflags {:08x}",
        r.rip, r.rsp, r.rbp, r.rflags
    );
    eprintln!(
        "  rax {:016x}  rbx {:016x}  rcx {:016x}  rdx {:016x}",
        r.rax, r.rbx, r.rcx, r.rdx
    );
    eprintln!(
        "  rsi {:016x}  rdi {:016x}  r8  {:016x}  r9  {:016x}",
        r.rsi, r.rdi, r.r8, r.r9
    );
    eprintln!(
        "  r10 {:016x}  r11 {:016x}  r12 {:016x}  r13 {:016x}",
        r.r10, r.r11, r.r12, r.r13
    );
    eprintln!(
        "  r14 {:016x}  r15 {:016x}  cr2 {:016x}  cs {:x} ss {:x}",
        r.r14, r.r15, s.cr2, s.cs.selector, s.ss.selector
    );
    let at = match image.symbolize(r.rip) {
        Some(sym) => format!("in {sym} (rip {:#x})", r.rip),
        None if image.has_symbols() => format!("at rip {:#x} (no symbol there)", r.rip),
        None => format!("at rip {:#x} (image is stripped: no symbols)", r.rip),
    };
    let in_guard = |a: u64| (GUARD_AREA..STACK_BOTTOM).contains(&a);
    let cause = if in_guard(r.rsp) || (in_guard(s.cr2) && r.rsp < STACK_BOTTOM + 4096) {
        format!(
            "stack overflow: rsp {:#x} ran into the guard page at {STACK_GUARD:#x} under the stack",
            r.rsp
        )
    } else if s.cr2 != 0 || r.rip != 0 {
        format!(
            "page fault or protection fault, last faulting address (cr2) {:#x}",
            s.cr2
        )
    } else {
        "jump to address 0".to_string()
    };
    Error::Guest(format!("{what} {at}: {cause}"))
}
