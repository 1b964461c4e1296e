//! The guest as gdbstub sees it: registers from the vCPU, memory through
//! the guest's page tables ([`super::walk`]), software breakpoints patched
//! into guest memory, and how the next run should go (continue or step).

use std::collections::BTreeMap;

use gdbstub::common::Signal;
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::base::singlethread::{
    SingleThreadBase, SingleThreadResume, SingleThreadResumeOps, SingleThreadSingleStep,
    SingleThreadSingleStepOps,
};
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, SwBreakpoint, SwBreakpointOps,
};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::X86_64_SSE;
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use kvm_ioctls::VcpuFd;

use super::walk;
use crate::error::Error;
use crate::hypercall::Host;
use crate::image::Image;

/// `int3`.
pub const INT3: u8 = 0xcc;

/// How the guest should go on when resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Run until a breakpoint, a fault, an exit or an interrupt.
    Continue,
    /// Run one instruction.
    Step,
}

/// The guest under the debugger: the vCPU, guest memory (inside the
/// hypercall host, which the run loop also uses), the image, and the
/// debugger's own state.
pub struct Debuggee<'m> {
    /// The vCPU.
    pub vcpu: &'m mut VcpuFd,
    /// Guest memory and devices.
    pub host: &'m mut Host,
    /// The image (for fault reports).
    pub image: &'m Image,
    /// Inserted breakpoints: guest-virtual address → the byte `int3` replaced.
    pub breakpoints: BTreeMap<u64, u8>,
    /// What the client last asked for.
    pub resume: Resume,
    /// The `KVM_SET_GUEST_DEBUG` control last set, if any.
    pub debug_control: Option<u32>,
}

fn kvm(what: &str, e: kvm_ioctls::Error) -> TargetError<Error> {
    TargetError::Fatal(Error::kvm(what, e))
}

impl<'m> Debuggee<'m> {
    /// The guest, with no breakpoints yet.
    pub fn new(vcpu: &'m mut VcpuFd, host: &'m mut Host, image: &'m Image) -> Debuggee<'m> {
        Debuggee {
            vcpu,
            host,
            image,
            breakpoints: BTreeMap::new(),
            resume: Resume::Continue,
            debug_control: None,
        }
    }

    /// Restores every byte a breakpoint replaced (the client is gone).
    pub fn remove_all_breakpoints(&mut self) {
        for (addr, byte) in std::mem::take(&mut self.breakpoints) {
            self.poke(addr, byte);
        }
    }

    /// Writes one byte at guest-virtual `addr`, if mapped.
    fn poke(&self, addr: u64, byte: u8) -> bool {
        let mem = &self.host.mem;
        match walk::translate(mem, addr).and_then(|(pa, _)| mem.slice_mut(pa, 1)) {
            Some(b) => {
                b[0] = byte;
                true
            }
            None => false,
        }
    }

    /// The byte at guest-virtual `addr`, as the guest's code has it (an
    /// inserted breakpoint shows as the byte it replaced).
    pub fn peek(&self, addr: u64) -> Option<u8> {
        if let Some(b) = self.breakpoints.get(&addr) {
            return Some(*b);
        }
        let mem = &self.host.mem;
        walk::translate(mem, addr)
            .and_then(|(pa, _)| mem.slice(pa, 1))
            .map(|b| b[0])
    }
}

impl Target for Debuggee<'_> {
    type Arch = X86_64_SSE;
    type Error = Error;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::SingleThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

/// The abridged x87 tag (one bit per register, FXSAVE's) as gdb's full
/// tag word: a register in use is "valid" (00), a free one "empty" (11).
fn full_tag(abridged: u8) -> u32 {
    (0..8)
        .map(|i| {
            if abridged & (1 << i) != 0 {
                0
            } else {
                3 << (2 * i)
            }
        })
        .sum()
}

/// gdb's full tag word back to FXSAVE's abridged one.
fn abridged_tag(full: u32) -> u8 {
    (0..8)
        .filter(|i| (full >> (2 * i)) & 3 != 3)
        .map(|i| 1u8 << i)
        .sum()
}

impl SingleThreadBase for Debuggee<'_> {
    fn read_registers(&mut self, regs: &mut X86_64CoreRegs) -> TargetResult<(), Self> {
        let r = self.vcpu.get_regs().map_err(|e| kvm("KVM_GET_REGS", e))?;
        let s = self.vcpu.get_sregs().map_err(|e| kvm("KVM_GET_SREGS", e))?;
        let f = self.vcpu.get_fpu().map_err(|e| kvm("KVM_GET_FPU", e))?;
        regs.regs = [
            r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11,
            r.r12, r.r13, r.r14, r.r15,
        ];
        regs.rip = r.rip;
        regs.eflags = r.rflags as u32;
        regs.segments.cs = u32::from(s.cs.selector);
        regs.segments.ss = u32::from(s.ss.selector);
        regs.segments.ds = u32::from(s.ds.selector);
        regs.segments.es = u32::from(s.es.selector);
        regs.segments.fs = u32::from(s.fs.selector);
        regs.segments.gs = u32::from(s.gs.selector);
        for (st, fpr) in regs.st.iter_mut().zip(f.fpr.iter()) {
            st.copy_from_slice(&fpr[..10]);
        }
        regs.fpu.fctrl = u32::from(f.fcw);
        regs.fpu.fstat = u32::from(f.fsw);
        regs.fpu.ftag = full_tag(f.ftwx);
        regs.fpu.fop = u32::from(f.last_opcode);
        regs.fpu.fioff = f.last_ip as u32;
        regs.fpu.fooff = f.last_dp as u32;
        regs.fpu.fiseg = 0;
        regs.fpu.foseg = 0;
        for (x, bytes) in regs.xmm.iter_mut().zip(f.xmm.iter()) {
            *x = u128::from_le_bytes(*bytes);
        }
        regs.mxcsr = f.mxcsr;
        Ok(())
    }

    /// General registers, RIP, RFLAGS, x87 and SSE state; the segment
    /// selectors are fixed by the VMM (flat CPL3) and left as they are.
    fn write_registers(&mut self, regs: &X86_64CoreRegs) -> TargetResult<(), Self> {
        let mut r = self.vcpu.get_regs().map_err(|e| kvm("KVM_GET_REGS", e))?;
        let g = &regs.regs;
        (r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp) =
            (g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
        (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) =
            (g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
        r.rip = regs.rip;
        r.rflags = u64::from(regs.eflags);
        self.vcpu.set_regs(&r).map_err(|e| kvm("KVM_SET_REGS", e))?;
        let mut f = self.vcpu.get_fpu().map_err(|e| kvm("KVM_GET_FPU", e))?;
        let before = f;
        for (fpr, st) in f.fpr.iter_mut().zip(regs.st.iter()) {
            fpr[..10].copy_from_slice(st);
        }
        f.fcw = regs.fpu.fctrl as u16;
        f.fsw = regs.fpu.fstat as u16;
        f.ftwx = abridged_tag(regs.fpu.ftag);
        f.last_opcode = regs.fpu.fop as u16;
        for (bytes, x) in f.xmm.iter_mut().zip(regs.xmm.iter()) {
            *bytes = x.to_le_bytes();
        }
        f.mxcsr = regs.mxcsr;
        if fpu_differs(&f, &before) {
            self.vcpu.set_fpu(&f).map_err(|e| kvm("KVM_SET_FPU", e))?;
        }
        Ok(())
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8]) -> TargetResult<usize, Self> {
        let mem = &self.host.mem;
        let n = walk::pieces(mem, start, data.len(), |pa, n, off| {
            if let Some(src) = mem.slice(pa, n as u64) {
                data[off..off + n].copy_from_slice(src);
            }
        });
        if n == 0 && !data.is_empty() {
            return Err(TargetError::Errno(libc::EFAULT as u8));
        }
        // Show the guest's own bytes where breakpoints are inserted.
        let end = start.saturating_add(n as u64);
        for (addr, byte) in self.breakpoints.range(start..end) {
            data[(addr - start) as usize] = *byte;
        }
        Ok(n)
    }

    /// Writes go to any mapped page, read-only code included (as a
    /// debugger's do); a write over an inserted breakpoint changes the byte
    /// it will restore, and the `int3` stays.
    fn write_addrs(&mut self, start: u64, data: &[u8]) -> TargetResult<(), Self> {
        let mem = &self.host.mem;
        let n = walk::pieces(mem, start, data.len(), |_, _, _| {});
        if n < data.len() {
            return Err(TargetError::Errno(libc::EFAULT as u8));
        }
        walk::pieces(mem, start, data.len(), |pa, n, off| {
            if let Some(dst) = mem.slice_mut(pa, n as u64) {
                dst.copy_from_slice(&data[off..off + n]);
            }
        });
        let end = start.saturating_add(n as u64);
        let hit: Vec<u64> = self
            .breakpoints
            .range(start..end)
            .map(|(a, _)| *a)
            .collect();
        for addr in hit {
            self.breakpoints.insert(addr, data[(addr - start) as usize]);
            self.poke(addr, INT3);
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<SingleThreadResumeOps<'_, Self>> {
        Some(self)
    }
}

fn fpu_differs(a: &kvm_bindings::kvm_fpu, b: &kvm_bindings::kvm_fpu) -> bool {
    a.fpr != b.fpr
        || a.fcw != b.fcw
        || a.fsw != b.fsw
        || a.ftwx != b.ftwx
        || a.last_opcode != b.last_opcode
        || a.xmm != b.xmm
        || a.mxcsr != b.mxcsr
}

impl SingleThreadResume for Debuggee<'_> {
    /// Signals cannot be delivered (the guest has no handlers for any):
    /// a continue with one just continues.
    fn resume(&mut self, _signal: Option<Signal>) -> Result<(), Error> {
        self.resume = Resume::Continue;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<SingleThreadSingleStepOps<'_, Self>> {
        Some(self)
    }
}

impl SingleThreadSingleStep for Debuggee<'_> {
    fn step(&mut self, _signal: Option<Signal>) -> Result<(), Error> {
        self.resume = Resume::Step;
        Ok(())
    }
}

impl Breakpoints for Debuggee<'_> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }
}

impl SwBreakpoint for Debuggee<'_> {
    /// Patches `int3` over the first byte of the instruction at `addr`;
    /// `false` (gdb says it cannot insert it) when `addr` is not mapped.
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if self.breakpoints.contains_key(&addr) {
            return Ok(true);
        }
        let Some(byte) = self.peek(addr) else {
            return Ok(false);
        };
        if !self.poke(addr, INT3) {
            return Ok(false);
        }
        self.breakpoints.insert(addr, byte);
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        match self.breakpoints.remove(&addr) {
            Some(byte) => Ok(self.poke(addr, byte)),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x87_tag_words_convert_both_ways() {
        assert_eq!(full_tag(0), 0xffff);
        assert_eq!(full_tag(0xff), 0);
        assert_eq!(full_tag(0b1000_0001), 0x3ffc);
        for t in [0u8, 1, 0x80, 0x5a, 0xff] {
            assert_eq!(abridged_tag(full_tag(t)), t);
        }
    }
}
