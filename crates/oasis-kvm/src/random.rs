//! Random bytes: a ChaCha20 generator seeded with the host's seed (from the
//! BootInfo) mixed with the CPU's own entropy (RDSEED, else RDRAND).

use core::arch::x86_64::__cpuid;

use oasis_rt::device::Random;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

/// The guest's CSPRNG.
pub(crate) struct Csprng(spin::Mutex<Option<ChaCha20Rng>>);

static RNG: Csprng = Csprng(spin::Mutex::new(None));

/// Tries an instruction that sets CF on success, up to ten times.
macro_rules! hw_random {
    ($insn:literal) => {{
        let mut out = None;
        for _ in 0..10 {
            let v: u64;
            let ok: u8;
            // SAFETY: only called after CPUID reported the instruction.
            unsafe {
                core::arch::asm!(concat!($insn, " {v}"), "setc {ok}", v = out(reg) v, ok = out(reg_byte) ok, options(nomem, nostack));
            }
            if ok == 1 {
                out = Some(v);
                break;
            }
        }
        out
    }};
}

fn cpu_has_rdrand() -> bool {
    // CPUID.01H:ECX.RDRAND[bit 30]
    __cpuid(1).ecx & (1 << 30) != 0
}

fn cpu_has_rdseed() -> bool {
    // CPUID.(EAX=07H,ECX=0):EBX.RDSEED[bit 18]
    __cpuid(0).eax >= 7 && core::arch::x86_64::__cpuid_count(7, 0).ebx & (1 << 18) != 0
}

/// One word of CPU entropy, if the CPU has any to give.
fn cpu_word(rdseed: bool, rdrand: bool) -> Option<u64> {
    if rdseed && let Some(v) = hw_random!("rdseed") {
        return Some(v);
    }
    if rdrand {
        return hw_random!("rdrand");
    }
    None
}

/// Seeds the generator; returns it and whether the CPU contributed entropy.
pub(crate) fn init(host_seed: [u8; 32]) -> (&'static Csprng, bool) {
    let (rdseed, rdrand) = (cpu_has_rdseed(), cpu_has_rdrand());
    let mut seed = host_seed;
    let mut mixed = false;
    for chunk in seed.chunks_mut(8) {
        if let Some(w) = cpu_word(rdseed, rdrand) {
            // XOR of independent sources is at least as strong as the stronger.
            for (s, b) in chunk.iter_mut().zip(w.to_le_bytes()) {
                *s ^= b;
            }
            mixed = true;
        }
    }
    *RNG.0.lock() = Some(ChaCha20Rng::from_seed(seed));
    (&RNG, mixed)
}

impl Random for Csprng {
    fn fill(&self, buf: &mut [u8]) {
        if let Some(rng) = self.0.lock().as_mut() {
            rng.fill_bytes(buf);
        }
    }
}
