//! What one exit to the VMM costs, seen from the guest: many one-sector
//! block reads (an exit and a `pread` the page cache answers), writes (an
//! exit and a `pwrite`), writes then flushes (two exits, a `pwrite` and an
//! `fdatasync`) and durable writes (`write_durable`: one exit for the same
//! work), each timed by the TSC clock. Prints one line of nanoseconds per
//! operation.
//! Used by bench/boot.
#![no_std]
#![no_main]

use oasis::{Block, Instant};

oasis::boot_arg! {
    /// How many reads and writes to time.
    static OPS: u64 = Arg::new("ops", "one-sector reads and writes to time").default("20000");
}

#[oasis::main(block = "storage")]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let disk = env.block("storage")?;
    let ops = OPS.value().unwrap_or(20000).max(1);
    let flushes = (ops / 100).max(1);
    let mut sector = [0u8; 512];
    let t0 = Instant::now();
    for i in 0..ops {
        disk.read(i % 8, &mut sector)?;
    }
    let t1 = Instant::now();
    for i in 0..ops {
        disk.write(i % 8, &sector)?;
    }
    let t2 = Instant::now();
    for i in 0..flushes {
        disk.write(i % 8, &sector)?;
        disk.flush()?;
    }
    let t3 = Instant::now();
    for i in 0..flushes {
        disk.write_durable(i % 8, &sector)?;
    }
    let t4 = Instant::now();
    let per = |a: Instant, b: Instant, n: u64| b.duration_since(a).as_nanos() as u64 / n;
    oasis::log::info!(
        "exit cost: read {} ns, write {} ns, write+flush {} ns, durable write {} ns per operation ({ops} reads, {ops} writes, {flushes} of each flushed)",
        per(t0, t1, ops),
        per(t1, t2, ops),
        per(t2, t3, flushes),
        per(t3, t4, flushes)
    );
    Ok(())
}
