extern crate std;

use super::*;
use alloc::vec::Vec;
use core::cell::RefCell;
use oasis_rt::device::BlockInfo;
use proptest::prelude::*;

/// A block device in memory.
struct Mem(RefCell<Vec<u8>>);

impl Block for Mem {
    fn info(&self) -> BlockInfo {
        BlockInfo {
            sector_size: 512,
            sectors: (self.0.borrow().len() / 512) as u64,
        }
    }
    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.info().check(sector, buf.len())?;
        let at = sector as usize * 512;
        buf.copy_from_slice(&self.0.borrow()[at..at + buf.len()]);
        Ok(())
    }
    fn write(&self, _: u64, _: &[u8]) -> Result<(), DeviceError> {
        unreachable!()
    }
    fn flush(&self) -> Result<(), DeviceError> {
        Ok(())
    }
}

/// A ustar archive of `files`, with headers laid out as `tar --format=ustar`
/// writes them (checked against the system tar in `reads_what_the_system_tar_writes`).
fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(std::format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"15052341434\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(std::format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn lists_and_reads_regular_files() {
    let big = [b'x'; 600];
    let dev = Mem(RefCell::new(archive(&[
        ("a.zone", b"hello\n"),
        ("dir/b.txt", &big),
    ])));
    let e = entries(&dev).unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0].name.as_str(), e[0].size, e[0].sector),
        ("a.zone", 6, 1)
    );
    assert_eq!(
        (e[1].name.as_str(), e[1].size, e[1].sector),
        ("dir/b.txt", 600, 3)
    );
    assert_eq!(read(&dev, &e[0]).unwrap(), b"hello\n");
    assert_eq!(read(&dev, &e[1]).unwrap(), big);
}

#[test]
fn reads_what_the_system_tar_writes() {
    let dir = std::env::temp_dir().join(std::format!("oasis-tar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("example.com.zone"), b"@ SOA a b 1 2 3 4 5\n").unwrap();
    let img = dir.join("zones.img");
    let st = std::process::Command::new("tar")
        .args(["--format=ustar", "-cf"])
        .arg(&img)
        .arg("-C")
        .arg(&dir)
        .arg("example.com.zone")
        .status()
        .expect("tar(1)");
    assert!(st.success());
    let dev = Mem(RefCell::new(std::fs::read(&img).unwrap()));
    let e = entries(&dev).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].name, "example.com.zone");
    assert_eq!(read(&dev, &e[0]).unwrap(), b"@ SOA a b 1 2 3 4 5\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_and_damage_are_errors_naming_the_sector() {
    let mut bytes = archive(&[("a.zone", b"hello\n"), ("b.zone", b"x")]);
    let dev = Mem(RefCell::new(bytes.clone()));
    assert_eq!(entries(&dev).unwrap().len(), 2);
    bytes[1024 + 3] ^= 1; // the second header's name
    let dev = Mem(RefCell::new(bytes.clone()));
    assert_eq!(entries(&dev), Err(TarError::Checksum(2)));
    let garbage = Mem(RefCell::new((0..4096).map(|i| (i * 7 + 1) as u8).collect()));
    assert!(matches!(
        entries(&garbage),
        Err(TarError::Checksum(0) | TarError::BadNumber(0, _))
    ));
    // A size past the end of the device.
    let mut big = archive(&[("a", b"hi")]);
    big.truncate(1024);
    let mut h = [0u8; 512];
    h.copy_from_slice(&big[..512]);
    h[124..136].copy_from_slice(b"77777777777\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(std::format!("{sum:06o}\0 ").as_bytes());
    big[..512].copy_from_slice(&h);
    assert_eq!(entries(&Mem(RefCell::new(big))), Err(TarError::PastEnd(0)));
}

proptest! {
    #[test]
    fn any_device_contents_give_entries_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..4096usize)) {
        let mut bytes = bytes;
        bytes.truncate(bytes.len() / 512 * 512);
        let dev = Mem(RefCell::new(bytes));
        if let Ok(list) = entries(&dev) {
            for e in &list {
                prop_assert!(read(&dev, e).is_ok());
            }
        }
    }

    #[test]
    fn archives_round_trip(files in proptest::collection::vec(("[a-z]{1,20}", proptest::collection::vec(any::<u8>(), 0..2000usize)), 0..6)) {
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (n.as_str(), d.as_slice())).collect();
        let dev = Mem(RefCell::new(archive(&refs)));
        let list = entries(&dev).unwrap();
        prop_assert_eq!(list.len(), files.len());
        for (e, (n, d)) in list.iter().zip(&files) {
            prop_assert_eq!(&e.name, n);
            prop_assert_eq!(&read(&dev, e).unwrap(), d);
        }
    }
}
