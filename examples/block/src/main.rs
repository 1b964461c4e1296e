//! block: writes a pattern to a few sectors of the `storage` device, flushes,
//! reads it back and checks it. With `--check-only`, only reads and checks a
//! pattern an earlier boot wrote, so durability across boots can be shown.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use oasis::{Block, log::info};

oasis::boot_arg! {
    /// Verify what an earlier boot wrote, without writing.
    static CHECK_ONLY: bool = Arg::flag("check-only", "only read back and check the pattern an earlier boot wrote");
}
oasis::boot_arg! {
    /// First sector of the test area.
    static START: u64 = Arg::new("start-sector", "first sector of the test area").default("8");
}
oasis::boot_arg! {
    /// Sectors in the test area.
    static COUNT: u64 = Arg::new("sectors", "sectors written and read back").default("16");
}

/// The byte at `offset` of the test area: depends on the position, so a
/// misplaced or stale sector shows.
fn pattern(offset: usize) -> u8 {
    (offset.wrapping_mul(31) ^ (offset >> 9)) as u8
}

#[oasis::main(block = "storage")]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let disk = env.block("storage")?;
    let info = disk.info();
    let start = START.value().unwrap_or(8);
    let count = COUNT.value().unwrap_or(16);
    let len = usize::try_from(count * u64::from(info.sector_size))?;
    info!(
        "storage: {} sectors of {} bytes",
        info.sectors, info.sector_size
    );
    if !CHECK_ONLY.on() {
        let data: alloc::vec::Vec<u8> = (0..len).map(pattern).collect();
        disk.write(start, &data)?;
        disk.flush()?;
        info!("wrote and flushed {count} sectors at sector {start}");
    }
    let mut back = vec![0u8; len];
    disk.read(start, &mut back)?;
    if let Some(bad) = (0..len).find(|&i| back[i] != pattern(i)) {
        return Err(alloc::format!(
            "sector {} differs at byte {}: read {:#04x}, expected {:#04x}",
            start + (bad / info.sector_size as usize) as u64,
            bad % info.sector_size as usize,
            back[bad],
            pattern(bad)
        )
        .into());
    }
    info!("read back {count} sectors at sector {start}: intact");
    Ok(())
}
