//! sqlite-bench: the store benchmark workload on SQLite through rusqlite:
//! WAL journal with `synchronous = FULL`, so every commit is durable when it
//! returns, as oasis-store's commits are. Same records, phases and output
//! format as store-bench (see bench/README.md).
//!
//! usage: sqlite-bench FILE [records batch singles gets queries]

use std::time::Instant;

use rusqlite::{Connection, params};

/// The same generator as store-bench's (xorshift64*, as oasis-store's
/// test-device `fault::Rng`), so both benchmarks draw the same keys and
/// query bounds.
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

fn report(phase: &str, ops: u64, start: Instant) {
    println!("RESULT {phase} {ops} {}", start.elapsed().as_nanos());
}

fn age(id: u64) -> i64 {
    (id * 7919 % 100_000) as i64
}

fn main() -> rusqlite::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: sqlite-bench FILE [records batch singles gets queries]");
        std::process::exit(2);
    };
    let num = |i: usize, d: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (records, batch, singles, gets, queries) = (
        num(1, 100_000),
        num(2, 1000).max(1),
        num(3, 1000),
        num(4, 100_000),
        num(5, 1000),
    );

    let start = Instant::now();
    let mut db = Connection::open(path)?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    db.pragma_update(None, "synchronous", "FULL")?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS person (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS person_age ON person(age);",
    )?;
    report("open", 1, start);

    let start = Instant::now();
    let mut id = 0;
    while id < records {
        let end = (id + batch).min(records);
        let tx = db.transaction()?;
        {
            let mut st =
                tx.prepare_cached("INSERT OR REPLACE INTO person (id, name, age) VALUES (?1, ?2, ?3)")?;
            for i in id..end {
                st.execute(params![i as i64, format!("person{i}"), age(i)])?;
            }
        }
        tx.commit()?;
        id = end;
    }
    report("insert_batched", records, start);

    let start = Instant::now();
    {
        let mut st =
            db.prepare_cached("INSERT OR REPLACE INTO person (id, name, age) VALUES (?1, ?2, ?3)")?;
        for i in records..records + singles {
            st.execute(params![i as i64, format!("person{i}"), age(i)])?;
        }
    }
    report("insert_single_durable", singles, start);

    let total = records + singles;
    let mut rng = Rng::new(42);
    let start = Instant::now();
    let mut found = 0u64;
    {
        let mut st = db.prepare_cached("SELECT id, name, age FROM person WHERE id = ?1")?;
        for _ in 0..gets {
            let k = rng.below(total) as i64;
            let mut rows = st.query(params![k])?;
            if let Some(r) = rows.next()? {
                let (_id, _name, _age): (i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                found += 1;
            }
        }
    }
    report("get", gets, start);
    assert_eq!(found, gets, "every point get finds its record");

    let start = Instant::now();
    let mut n = 0usize;
    {
        let mut st = db.prepare_cached("SELECT id, name, age FROM person WHERE age > ?1")?;
        for _ in 0..queries {
            let x = 99_000 + rng.below(900) as i64;
            let mut rows = st.query(params![x])?;
            while let Some(r) = rows.next()? {
                let (_id, _name, _age): (i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
                n += 1;
            }
        }
    }
    report("range_query", queries, start);
    println!("ROWS range_query {n}");
    let start = Instant::now();
    db.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    db.close().map_err(|(_, e)| e)?;
    report("close", 1, start);
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(format!("{path}-wal")).map(|m| m.len()).unwrap_or(0);
    println!("SIZE {size}");
    Ok(())
}
