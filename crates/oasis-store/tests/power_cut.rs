//! Crash consistency under simulated power cuts: a writer commits numbered
//! pairs of records, the power fails at a random sector write (the write in
//! progress torn, unflushed sectors randomly kept or lost), and the store is
//! reopened from what is left on the disk. It must open, hold every
//! acknowledged commit, and show no commit in part.
//!
//! A second run uses a small device whose log fills every few commits, so
//! the cuts land in log appends and in the checkpoints that empty the log,
//! and counts that they did.
//!
//! `OASIS_STORE_POWER_CUTS=N` sets the number of trials per run (default 100).

use oasis_rt::device::Block;
use oasis_store::fault::{PowerCut, Rng};
use oasis_store::mem::MemBlock;
use oasis_store::superblock::Superblock;
use oasis_store::{Record, Store};

#[derive(Record, Debug, Clone, PartialEq)]
struct Entry {
    #[key]
    name: String,
    #[index]
    number: u32,
    payload: Vec<u8>,
}

const COMMITS: u32 = 40;

/// The device and record sizes of a run.
#[derive(Clone, Copy)]
struct Shape {
    /// 512-byte sectors on the device.
    sectors: u64,
    /// Payload bytes of pair `i` are `base + (i * 37) % span`.
    base: usize,
    span: usize,
}

/// 8 MiB, records of 100..1000 bytes: the log never fills.
const ROOMY: Shape = Shape {
    sectors: 16 * 1024,
    base: 100,
    span: 900,
};

/// 2 MiB (a 256 KiB log, checkpointed at half), records of 3..6 KiB: a
/// checkpoint every ten commits or so.
const CRAMPED: Shape = Shape {
    sectors: 4 * 1024,
    base: 3000,
    span: 3000,
};

fn pair(shape: Shape, i: u32) -> [Entry; 2] {
    let payload = vec![i as u8; shape.base + (i as usize * 37) % shape.span];
    [
        Entry {
            name: format!("a{i:05}"),
            number: i,
            payload: payload.clone(),
        },
        Entry {
            name: format!("b{i:05}"),
            number: i,
            payload,
        },
    ]
}

/// Runs the writer on `dev`; returns how many commits were acknowledged.
fn write(shape: Shape, dev: PowerCut<MemBlock>) -> (u32, u64) {
    let Ok(db) = Store::builder().record::<Entry>().open(dev.clone()) else {
        return (0, dev.sectors_written());
    };
    let mut acked = 0;
    for i in 0..COMMITS {
        let r = db.write(|tx| {
            let [a, b] = pair(shape, i);
            tx.save(&a)?;
            tx.save(&b)?;
            // Every fourth commit also rewrites an older pair, so updates
            // (index moves) are cut too.
            if i % 4 == 3 {
                let [mut a, mut b] = pair(shape, i / 2);
                a.payload.push(1);
                b.payload.push(1);
                tx.save(&a)?;
                tx.save(&b)?;
            }
            Ok(())
        });
        if r.is_err() {
            break;
        }
        acked = i + 1;
    }
    drop(db);
    (acked, dev.sectors_written())
}

fn check(shape: Shape, disk: &MemBlock, acked: u32, seed: u64) {
    let db = Store::builder()
        .record::<Entry>()
        .open(disk.clone())
        .unwrap_or_else(|e| panic!("seed {seed}: store does not open after the cut: {e}"));
    let all = db.query::<Entry>().fetch().unwrap();
    let present: Vec<u32> = all
        .iter()
        .filter(|e| e.name.starts_with('a'))
        .map(|e| e.number)
        .collect();
    let committed = present.len() as u32;
    assert!(
        committed == acked || committed == acked + 1,
        "seed {seed}: {acked} commits acknowledged, {committed} present"
    );
    assert_eq!(present, (0..committed).collect::<Vec<_>>(), "seed {seed}");
    for i in 0..committed {
        let [a, b] = pair(shape, i);
        let got_a = db.get::<Entry>(a.name.as_str()).unwrap();
        let got_b = db.get::<Entry>(b.name.as_str()).unwrap();
        let (ga, gb) = (
            got_a.expect("a present"),
            got_b.unwrap_or_else(|| panic!("seed {seed}: pair {i} half written")),
        );
        assert_eq!(
            ga.payload, gb.payload,
            "seed {seed}: pair {i} updated in part"
        );
        let rewritten = (0..committed).any(|j| j % 4 == 3 && j / 2 == i);
        let want = pair(shape, i)[0].payload.len() + usize::from(rewritten);
        assert_eq!(
            ga.payload.len(),
            want,
            "seed {seed}: pair {i} update lost or phantom"
        );
    }
    assert_eq!(
        all.len() as u32,
        2 * committed,
        "seed {seed}: stray records"
    );
    // The index agrees with the records.
    let by_index = db.query::<Entry>().number().ge(0).count().unwrap();
    assert_eq!(by_index, all.len(), "seed {seed}: index out of step");
    // And the store is writable again.
    let [a, _] = pair(shape, COMMITS + 1);
    db.save(&a).unwrap();
}

/// Where the power failed, by what the device was writing then.
#[derive(Default, Debug)]
struct Cuts {
    /// Before the store was open (formatting, the opening checkpoint).
    in_open: u32,
    /// In the log region: a commit's append.
    in_log: u32,
    /// In the engine's storage between the first and the last commit: a
    /// checkpoint (or the engine writing pages out early).
    in_checkpoint: u32,
    /// Anywhere else (the superblock; the closing checkpoint and compaction).
    other: u32,
}

/// Cuts the power at `trials` random moments of the writer's run; checks
/// every outcome and says where the cuts landed.
fn trials(shape: Shape, trials: u64, seed: u64) -> Cuts {
    let disk = || MemBlock::new(512, shape.sectors);
    let (full, total) = write(shape, PowerCut::new(disk(), u64::MAX, 0));
    assert_eq!(full, COMMITS);
    let mut rng = Rng::new(seed);
    let mut cuts = Cuts::default();
    for _ in 0..trials {
        let seed = rng.next_u64();
        let at = Rng::new(seed).below(total);
        let d = disk();
        let dev = PowerCut::new(d.clone(), at, seed);
        let (acked, _) = write(shape, dev.clone());
        let mut first = vec![0u8; 512];
        d.read(0, &mut first).unwrap();
        let log_start = Superblock::parse(&first)
            .map(|sb| sb.log_offset / 512)
            .unwrap_or(u64::MAX);
        match dev.cut_sector() {
            _ if acked == 0 => cuts.in_open += 1,
            Some(s) if s >= log_start => cuts.in_log += 1,
            Some(s) if s > 0 && acked < COMMITS => cuts.in_checkpoint += 1,
            _ => cuts.other += 1,
        }
        check(shape, &d, acked, seed);
    }
    eprintln!("{trials} power cuts over {total} sectors written: {cuts:?}");
    cuts
}

fn trial_count() -> u64 {
    std::env::var("OASIS_STORE_POWER_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

#[test]
fn every_acknowledged_commit_survives_a_power_cut_and_none_is_partial() {
    let cuts = trials(ROOMY, trial_count(), 0x0a515);
    assert!(cuts.in_log > 0, "{cuts:?}");
}

#[test]
fn power_cuts_in_log_appends_and_in_checkpoints_lose_no_acknowledged_commit() {
    let n = trial_count();
    // Half as many trials again: besides log appends and checkpoints, the
    // device takes the engine's page sums and its allocator state.
    let cuts = trials(CRAMPED, n + n / 2, 0xc4ec);
    // Most of what the writer writes is log appends and checkpoints; with
    // enough trials, both are cut many times.
    if n >= 100 {
        assert!(cuts.in_log >= 10, "{cuts:?}");
        assert!(cuts.in_checkpoint >= 10, "{cuts:?}");
    }
}
