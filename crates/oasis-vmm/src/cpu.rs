//! The processor the guest sees: a small CPUID table built from the host's
//! own `cpuid`, not from `KVM_GET_SUPPORTED_CPUID`.
//!
//! An oasis guest is built for baseline x86-64 (`x86_64-unknown-none` is
//! soft-float) and asks the CPU for one thing only: whether RDRAND and
//! RDSEED exist. Asking KVM for its whole supported table makes the host
//! kernel run `cpuid` for every leaf KVM knows (~90 leaves, each a trap to
//! the outer hypervisor on a nested host): about a tenth of a boot here. So
//! the VMM reports only the leaves below, each masked to features the guest
//! may use without any set-up by a kernel (no XSAVE, no AVX, no PCID): the
//! vendor and signature, the baseline integer and SSE features, RDRAND,
//! RDSEED, BMI and ADX, long mode, and the address sizes. Everything else
//! reads as zero, and KVM makes instructions of features absent here fault.
//! A host whose KVM refuses this table gets KVM's own (`machine.rs`).

use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES, kvm_cpuid_entry2};

/// Leaf 1 ECX: SSE3, PCLMULQDQ, SSSE3, CX16, SSE4.1, SSE4.2, MOVBE, POPCNT, AES, RDRAND.
const L1_ECX: u32 =
    1 | 1 << 1 | 1 << 9 | 1 << 13 | 1 << 19 | 1 << 20 | 1 << 22 | 1 << 23 | 1 << 25 | 1 << 30;
/// Leaf 1 ECX bit 31: running under a hypervisor.
const L1_ECX_HYPERVISOR: u32 = 1 << 31;
/// Leaf 1 EDX: FPU, TSC, PAE, CX8, CMOV, CLFSH, MMX, FXSR, SSE, SSE2.
const L1_EDX: u32 =
    1 | 1 << 4 | 1 << 6 | 1 << 8 | 1 << 15 | 1 << 19 | 1 << 23 | 1 << 24 | 1 << 25 | 1 << 26;
/// Leaf 1 EBX: only the CLFLUSH line size (no APIC id, no logical count).
const L1_EBX: u32 = 0xff00;
/// Leaf 7.0 EBX: BMI1, BMI2, ERMS, RDSEED, ADX.
const L7_EBX: u32 = 1 << 3 | 1 << 8 | 1 << 9 | 1 << 18 | 1 << 19;
/// Leaf 0x8000_0001 ECX: LAHF/SAHF in long mode, LZCNT, PREFETCHW.
const X1_ECX: u32 = 1 | 1 << 5 | 1 << 8;
/// Leaf 0x8000_0001 EDX: long mode (KVM refuses EFER.LME without it), RDTSCP.
const X1_EDX: u32 = X1_EDX_LM | 1 << 27;
/// Leaf 0x8000_0001 EDX bit 29: long mode, reported even if the host hid it.
const X1_EDX_LM: u32 = 1 << 29;

fn host(leaf: u32, subleaf: u32) -> core::arch::x86_64::CpuidResult {
    core::arch::x86_64::__cpuid_count(leaf, subleaf)
}

fn entry(function: u32, index: u32, flags: u32, r: [u32; 4]) -> kvm_cpuid_entry2 {
    kvm_cpuid_entry2 {
        function,
        index,
        flags,
        eax: r[0],
        ebx: r[1],
        ecx: r[2],
        edx: r[3],
        ..Default::default()
    }
}

/// The guest's CPUID table.
pub fn guest_cpuid() -> CpuId {
    let base = host(0, 0);
    let ext = host(0x8000_0000, 0);
    let mut entries = Vec::with_capacity(6);
    let max_basic = base.eax.min(7);
    entries.push(entry(0, 0, 0, [max_basic, base.ebx, base.ecx, base.edx]));
    if base.eax >= 1 {
        let l1 = host(1, 0);
        entries.push(entry(
            1,
            0,
            0,
            [
                l1.eax,
                l1.ebx & L1_EBX,
                (l1.ecx & L1_ECX) | L1_ECX_HYPERVISOR,
                l1.edx & L1_EDX,
            ],
        ));
    }
    if base.eax >= 7 {
        let l7 = host(7, 0);
        entries.push(entry(
            7,
            0,
            kvm_bindings::KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
            [0, l7.ebx & L7_EBX, 0, 0],
        ));
    }
    let max_ext = ext.eax.clamp(0x8000_0001, 0x8000_0008);
    entries.push(entry(0x8000_0000, 0, 0, [max_ext, 0, 0, 0]));
    let x1 = host(0x8000_0001, 0);
    entries.push(entry(
        0x8000_0001,
        0,
        0,
        [0, 0, x1.ecx & X1_ECX, (x1.edx & X1_EDX) | X1_EDX_LM],
    ));
    if ext.eax >= 0x8000_0008 {
        // Physical and linear address sizes.
        let x8 = host(0x8000_0008, 0);
        entries.push(entry(0x8000_0008, 0, 0, [x8.eax & 0xffff, 0, 0, 0]));
    }
    debug_assert!(entries.len() <= KVM_MAX_CPUID_ENTRIES);
    CpuId::from_entries(&entries).expect("a handful of entries fits a CpuId")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(table: &CpuId, function: u32) -> Option<kvm_cpuid_entry2> {
        table
            .as_slice()
            .iter()
            .find(|e| e.function == function)
            .copied()
    }

    #[test]
    fn the_guest_sees_long_mode_and_the_hosts_random_instructions_only() {
        let t = guest_cpuid();
        let l0 = leaf(&t, 0).unwrap();
        assert!((1..=7).contains(&l0.eax));
        assert_eq!(
            (l0.ebx, l0.edx, l0.ecx),
            (host(0, 0).ebx, host(0, 0).edx, host(0, 0).ecx),
            "vendor"
        );
        let l1 = leaf(&t, 1).unwrap();
        assert_eq!(
            l1.ecx & (1 << 30),
            host(1, 0).ecx & (1 << 30),
            "RDRAND as the host"
        );
        assert_ne!(l1.ecx & L1_ECX_HYPERVISOR, 0);
        assert_eq!(
            l1.ecx & (1 << 26 | 1 << 27 | 1 << 28),
            0,
            "no XSAVE, OSXSAVE, AVX"
        );
        assert_eq!(l1.ebx >> 16, 0, "no APIC id or logical count");
        assert_ne!(l1.edx & (1 << 26), 0, "SSE2 is baseline x86-64");
        if let Some(l7) = leaf(&t, 7) {
            assert_eq!(
                l7.ebx & (1 << 18),
                host(7, 0).ebx & (1 << 18),
                "RDSEED as the host"
            );
            assert_eq!(l7.ebx & (1 << 5 | 1 << 16), 0, "no AVX2, no AVX-512");
        }
        let x1 = leaf(&t, 0x8000_0001).unwrap();
        assert_ne!(x1.edx & (1 << 29), 0, "long mode");
        assert!(t.as_slice().len() <= 6);
    }
}
