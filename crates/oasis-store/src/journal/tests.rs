use super::*;
use alloc::sync::Arc;

/// A log region in memory; clones share the bytes.
#[derive(Clone)]
struct MemLog(Arc<spin::Mutex<Vec<u8>>>);

impl MemLog {
    fn new(len: usize) -> MemLog {
        MemLog(Arc::new(spin::Mutex::new(vec![0; len])))
    }
}

impl LogDevice for MemLog {
    fn sector_size(&self) -> usize {
        512
    }
    fn len(&self) -> u64 {
        self.0.lock().len() as u64
    }
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let o = offset as usize;
        buf.copy_from_slice(&self.0.lock()[o..o + buf.len()]);
        Ok(())
    }
    fn write(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let o = offset as usize;
        self.0.lock()[o..o + buf.len()].copy_from_slice(buf);
        Ok(())
    }
    fn flush(&self) -> Result<(), DeviceError> {
        Ok(())
    }
}

fn payload(i: u64) -> Vec<u8> {
    let mut ops = record::Ops::default();
    let v = vec![i as u8; (i as usize * 97) % 1500];
    ops.insert("t", &i.to_be_bytes(), &v);
    ops.bytes().to_vec()
}

fn replayed(dev: &MemLog, applied: u64) -> Vec<u64> {
    let mut seen = vec![];
    let last = replay(dev, applied, |seq, p| {
        assert_eq!(p, payload(seq).as_slice());
        seen.push(seq);
        Ok(())
    })
    .unwrap();
    assert_eq!(last, applied + seen.len() as u64);
    seen
}

#[test]
fn records_come_back_in_order_from_the_checkpoint_on() {
    let dev = MemLog::new(64 << 10);
    let mut j = Journal::new(Box::new(dev.clone()), 1);
    for seq in 1..=9 {
        assert!(matches!(j.plan(payload(seq).len()), Plan::Append(s) if s == seq));
        j.append(seq, &payload(seq), seq % 3 != 0).unwrap();
    }
    // The last record was lazy and is still held: only 1..=8 are on the device.
    assert_eq!(replayed(&dev, 0), (1..=8).collect::<Vec<_>>());
    j.append(10, &payload(10), true).unwrap();
    assert_eq!(replayed(&dev, 0), (1..=10).collect::<Vec<_>>());
}

#[test]
fn a_new_pass_stops_at_the_records_of_the_last_one() {
    let dev = MemLog::new(64 << 10);
    let mut j = Journal::new(Box::new(dev.clone()), 1);
    for seq in 1..=20 {
        j.append(seq, &payload(seq), true).unwrap();
    }
    j.checkpointed(20);
    // Right after the checkpoint the old records are all still there.
    assert!(replayed(&dev, 20).is_empty());
    j.append(21, &payload(21), true).unwrap();
    assert_eq!(replayed(&dev, 20), vec![21]);
}

#[test]
fn a_torn_record_ends_the_log() {
    let dev = MemLog::new(64 << 10);
    let mut j = Journal::new(Box::new(dev.clone()), 1);
    let mut ends = vec![];
    for seq in 1..=5 {
        j.append(seq, &payload(seq), true).unwrap();
        ends.push(j.written);
    }
    // Damage one byte inside record 4.
    dev.0.lock()[ends[2] as usize + 40] ^= 1;
    assert_eq!(replayed(&dev, 0), vec![1, 2, 3]);
}

#[test]
fn the_log_asks_for_a_checkpoint_at_half_or_when_a_record_does_not_fit() {
    let dev = MemLog::new(8 << 10);
    let mut j = Journal::new(Box::new(dev), 1);
    assert!(matches!(j.plan(9000), Plan::Checkpoint(1)));
    let mut seq = 1;
    while let Plan::Append(s) = j.plan(100) {
        j.append(s, &[0u8; 100], true).unwrap();
        seq = s + 1;
    }
    assert_eq!(j.written, 4096);
    assert!(matches!(j.plan(100), Plan::Checkpoint(s) if s == seq));
}

#[test]
fn a_failed_write_stops_later_commits() {
    struct Broken;
    impl LogDevice for Broken {
        fn sector_size(&self) -> usize {
            512
        }
        fn len(&self) -> u64 {
            1 << 20
        }
        fn read(&self, _: u64, _: &mut [u8]) -> Result<(), DeviceError> {
            Err(DeviceError::OutOfRange)
        }
        fn write(&self, _: u64, _: &[u8]) -> Result<(), DeviceError> {
            Err(DeviceError::Io("write", 5))
        }
        fn flush(&self) -> Result<(), DeviceError> {
            Ok(())
        }
    }
    let mut j = Journal::new(Box::new(Broken), 1);
    assert!(j.append(1, &payload(1), true).is_err());
    assert!(j.check().is_err());
}
