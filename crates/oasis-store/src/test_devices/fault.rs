//! A simulated power cut, as a decorator over any [`Block`] device.
//!
//! Like a disk with a volatile write cache: writes since the last `flush`
//! are not yet stable. At a chosen moment (the N-th sector written) the power
//! fails: the write in progress is torn (only some of its sectors land), each
//! sector written since the last flush independently keeps its new contents
//! or reverts to an older one, and every later request fails. The bytes left
//! on the inner device are what a reboot would find.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use oasis_rt::device::{Block, BlockInfo, DeviceError};

/// A small deterministic generator (xorshift64*), so a failing trial can be
/// replayed from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A sector's contents before an unflushed write replaced them.
struct Undo {
    sector: u64,
    before: Vec<u8>,
}

struct CutState {
    /// Sectors that may still be written before the power fails.
    budget: u64,
    /// Sectors written so far.
    written: u64,
    cut: bool,
    /// The first sector of the write the power failed in.
    cut_at: Option<u64>,
    unflushed: Vec<Undo>,
    rng: Rng,
}

/// A block device that loses power after a given number of sector writes.
/// Clones share the power supply: a test keeps one to look at the count
/// while the store owns another.
pub struct PowerCut<B> {
    inner: B,
    state: Arc<spin::Mutex<CutState>>,
}

impl<B: Clone> Clone for PowerCut<B> {
    fn clone(&self) -> Self {
        PowerCut {
            inner: self.inner.clone(),
            state: self.state.clone(),
        }
    }
}

/// The error every request gets once the power is off.
pub const POWER_OFF: DeviceError = DeviceError::Io("power cut", 0);

impl<B: Block> PowerCut<B> {
    /// Wraps `inner`; the power fails while writing sector number `after`
    /// (counting every sector written through this wrapper, from 0).
    /// `seed` decides how the cut tears and which unflushed sectors survive.
    pub fn new(inner: B, after: u64, seed: u64) -> PowerCut<B> {
        PowerCut {
            inner,
            state: Arc::new(spin::Mutex::new(CutState {
                budget: after,
                written: 0,
                cut: false,
                cut_at: None,
                unflushed: Vec::new(),
                rng: Rng::new(seed),
            })),
        }
    }

    /// Sectors written through this wrapper so far (to calibrate where to cut).
    pub fn sectors_written(&self) -> u64 {
        self.state.lock().written
    }

    /// Whether the power has failed.
    pub fn is_cut(&self) -> bool {
        self.state.lock().cut
    }

    /// The first sector of the write the power failed in, if it failed.
    pub fn cut_sector(&self) -> Option<u64> {
        self.state.lock().cut_at
    }

    /// Sectors written so far would exceed `budget`: tear, scramble, fail.
    fn cut(&self, st: &mut CutState, sector: u64, buf: &[u8]) {
        let ss = self.inner.info().sector_size as usize;
        let landed = st.budget as usize;
        for i in 0..landed {
            let s = sector + i as u64;
            let mut before = vec![0u8; ss];
            if self.inner.read(s, &mut before).is_ok() {
                st.unflushed.push(Undo { sector: s, before });
            }
            let _ = self.inner.write(s, &buf[i * ss..(i + 1) * ss]);
        }
        // Unflushed sectors: each keeps its latest contents or falls back,
        // newest undo first, so every sector ends at one of its past versions.
        while let Some(undo) = st.unflushed.pop() {
            if st.rng.below(2) == 0 {
                let _ = self.inner.write(undo.sector, &undo.before);
            }
        }
        st.cut = true;
        st.cut_at = Some(sector);
        st.budget = 0;
    }
}

impl<B: Block> Block for PowerCut<B> {
    fn info(&self) -> BlockInfo {
        self.inner.info()
    }

    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        if self.state.lock().cut {
            return Err(POWER_OFF);
        }
        self.inner.read(sector, buf)
    }

    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let info = self.inner.info();
        info.check(sector, buf.len())?;
        let mut st = self.state.lock();
        if st.cut {
            return Err(POWER_OFF);
        }
        let ss = info.sector_size as usize;
        let count = (buf.len() / ss) as u64;
        if count > st.budget {
            // Tear at a random sector inside this write.
            let most = st.budget.min(count) + 1;
            st.budget = st.rng.below(most);
            self.cut(&mut st, sector, buf);
            return Err(POWER_OFF);
        }
        for i in 0..count {
            let mut before = vec![0u8; ss];
            self.inner.read(sector + i, &mut before)?;
            st.unflushed.push(Undo {
                sector: sector + i,
                before,
            });
        }
        self.inner.write(sector, buf)?;
        st.budget -= count;
        st.written += count;
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceError> {
        let mut st = self.state.lock();
        if st.cut {
            return Err(POWER_OFF);
        }
        self.inner.flush()?;
        st.unflushed.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_devices::mem::MemBlock;

    #[test]
    fn flushed_writes_survive_and_the_cut_write_fails() {
        let disk = MemBlock::new(512, 16);
        let dev = PowerCut::new(disk.clone(), 4, 7);
        dev.write(0, &[1u8; 1024]).unwrap();
        dev.flush().unwrap();
        assert_eq!(dev.write(2, &[2u8; 2048]), Err(POWER_OFF));
        assert!(dev.is_cut());
        assert_eq!(dev.flush(), Err(POWER_OFF));
        let mut back = [0u8; 1024];
        disk.read(0, &mut back).unwrap();
        assert!(back.iter().all(|&b| b == 1), "flushed sectors are kept");
        let mut torn = [0u8; 2048];
        disk.read(2, &mut torn).unwrap();
        for s in torn.chunks(512) {
            assert!(
                s.iter().all(|&b| b == s[0]),
                "a sector is never half written"
            );
        }
    }

    #[test]
    fn unflushed_sectors_end_at_one_of_their_versions() {
        for seed in 0..50 {
            let disk = MemBlock::new(512, 4);
            let dev = PowerCut::new(disk.clone(), 3, seed);
            dev.write(0, &[1u8; 512]).unwrap();
            dev.write(0, &[2u8; 512]).unwrap();
            let _ = dev.write(1, &[3u8; 1024]);
            let mut s0 = [0u8; 512];
            disk.read(0, &mut s0).unwrap();
            assert!(s0.iter().all(|&b| b == s0[0]) && s0[0] <= 2, "seed {seed}");
        }
    }
}
