//! store-bench: the storage benchmark workload on oasis-store, as an oasis
//! application on the `storage` block device — the same code as a kvm
//! unikernel and as a hosted process. Prints one `RESULT` line per phase
//! (operations, nanoseconds) and a `SIZE` line (bytes of storage in use).
//!
//! Workload (shared with sqlite-bench): `Person { id, name, age }`, key `id`,
//! index on `age` (age = id·7919 mod 100000); RECORDS inserts in durable
//! transactions of BATCH; SINGLES single-record durable commits; GETS point
//! gets by random key; QUERIES queries `age > X`, X uniform in [99000, 99900)
//! (about 550 rows each), all rows fetched.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use oasis::Instant;
use oasis_store::{Record, Store};

/// A small deterministic generator (xorshift64*), the same as sqlite-bench's,
/// so both benchmarks draw the same keys and query bounds.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The benchmark's record.
#[derive(Record, Debug, Clone)]
struct Person {
    #[key]
    id: u64,
    name: String,
    #[index]
    age: u32,
}

oasis::boot_arg! {
    /// Records inserted in batches.
    static RECORDS: u64 = Arg::new("records", "records inserted in batches").default("100000");
}
oasis::boot_arg! {
    /// Records per batch transaction.
    static BATCH: u64 = Arg::new("batch", "records per batch transaction").default("1000");
}
oasis::boot_arg! {
    /// Single-record durable commits.
    static SINGLES: u64 = Arg::new("singles", "single-record durable commits").default("1000");
}
oasis::boot_arg! {
    /// Point gets by key.
    static GETS: u64 = Arg::new("gets", "point gets by random key").default("100000");
}
oasis::boot_arg! {
    /// Indexed range queries.
    static QUERIES: u64 = Arg::new("queries", "indexed range queries age > X").default("1000");
}

fn person(id: u64) -> Person {
    Person {
        id,
        name: format!("person{id}"),
        age: (id * 7919 % 100_000) as u32,
    }
}

fn print(line: &str) {
    let c = oasis::rt::platform::console();
    c.write(line.as_bytes());
    c.write(b"\n");
}

fn report(phase: &str, ops: u64, start: Instant) {
    let ns = start.elapsed().as_nanos();
    print(&format!("RESULT {phase} {ops} {ns}"));
}

#[oasis::main(block = "storage")]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let disk = env.block("storage")?;
    let records = RECORDS.value().unwrap_or(100_000);
    let batch = BATCH.value().unwrap_or(1000).max(1);
    let singles = SINGLES.value().unwrap_or(1000);
    let gets = GETS.value().unwrap_or(100_000);
    let queries = QUERIES.value().unwrap_or(1000);

    let start = Instant::now();
    let db = Store::builder().record::<Person>().open(disk)?;
    report("open", 1, start);

    let start = Instant::now();
    let mut id = 0;
    while id < records {
        let end = (id + batch).min(records);
        db.write(|tx| {
            for i in id..end {
                tx.save(&person(i))?;
            }
            Ok(())
        })?;
        id = end;
    }
    report("insert_batched", records, start);

    let start = Instant::now();
    for i in records..records + singles {
        db.save(&person(i))?;
    }
    report("insert_single_durable", singles, start);

    let total = records + singles;
    let mut rng = Rng::new(42);
    let start = Instant::now();
    let mut found = 0u64;
    for _ in 0..gets {
        if db.get::<Person>(rng.below(total))?.is_some() {
            found += 1;
        }
    }
    report("get", gets, start);
    if found != gets {
        return Err(format!("{found} of {gets} point gets found their record").into());
    }

    let start = Instant::now();
    let mut rows = 0usize;
    for _ in 0..queries {
        let x = 99_000 + rng.below(900) as u32;
        rows += db.query::<Person>().age().gt(x).fetch()?.len();
    }
    report("range_query", queries, start);
    print(&format!("ROWS range_query {rows}"));
    let start = Instant::now();
    db.close()?;
    report("close", 1, start);
    Ok(())
}
