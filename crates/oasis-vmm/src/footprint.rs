//! Where the VMM's memory went, for `--stats`: the process's resident and
//! proportional set, split into guest memory and the monitor's own, each
//! into private pages and pages shared through the page cache (the image's
//! text and read-only data, mapped from its file; the VMM's binary).
//!
//! Read from `/proc/self/smaps`, opened before the sandbox closes and read
//! with `pread` at exit, so the filter needs no `openat`.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

/// Memory figures, KiB.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Resident set (VmRSS).
    pub resident: u64,
    /// Proportional set: shared pages divided among their sharers.
    pub proportional: u64,
    /// Guest memory backed by private pages: what the guest touched.
    pub guest_private: u64,
    /// Guest memory backed by file pages (the mapped image), shared.
    pub guest_shared: u64,
    /// The monitor's private pages: heap, stacks, the gateway.
    pub monitor_private: u64,
    /// The monitor's file pages: its binary and libraries, shared.
    pub monitor_shared: u64,
}

impl Usage {
    /// Sums an smaps listing, counting the mappings that overlap `guest`
    /// (host addresses) as guest memory. Lines it does not know are skipped.
    pub fn from_smaps(text: &str, guest: Range<u64>) -> Usage {
        let mut u = Usage::default();
        let mut in_guest = false;
        let mut rss = 0;
        let close = |u: &mut Usage, in_guest: bool, rss: u64, anon: u64| {
            let shared = rss.saturating_sub(anon);
            if in_guest {
                u.guest_private += anon;
                u.guest_shared += shared;
            } else {
                u.monitor_private += anon;
                u.monitor_shared += shared;
            }
        };
        for line in text.lines() {
            if let Some(m) = mapping(line) {
                // Guest memory is one mapping the kernel does not merge
                // with others (GuestMemory::new), split only where the
                // image's file is mapped into it.
                in_guest = m.start < guest.end && guest.start < m.end;
                rss = 0;
                continue;
            }
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            let Some(kib) = rest
                .trim()
                .strip_suffix("kB")
                .and_then(|v| v.trim().parse::<u64>().ok())
            else {
                continue;
            };
            match key {
                "Rss" => {
                    rss = kib;
                    u.resident += kib;
                }
                "Pss" => u.proportional += kib,
                // The last sized field of a mapping that names both.
                "Anonymous" => close(&mut u, in_guest, rss, kib),
                _ => {}
            }
        }
        u
    }

    /// One line for stderr.
    pub fn line(&self) -> String {
        format!(
            "oasis-vmm: memory: resident {} KiB, proportional {} KiB; guest {} KiB private + {} KiB image pages shared; monitor {} KiB private + {} KiB shared",
            self.resident,
            self.proportional,
            self.guest_private,
            self.guest_shared,
            self.monitor_private,
            self.monitor_shared
        )
    }
}

/// The address range of an smaps mapping header (`7f00…-7f00… rw-p …`).
fn mapping(line: &str) -> Option<Range<u64>> {
    let (range, _) = line.split_once(' ')?;
    let (start, end) = range.split_once('-')?;
    Some(u64::from_str_radix(start, 16).ok()?..u64::from_str_radix(end, 16).ok()?)
}

/// `/proc/self/smaps`, opened while files may still be opened.
pub struct Footprint(File);

impl Footprint {
    /// Opens the process's smaps.
    pub fn open() -> io::Result<Footprint> {
        File::open("/proc/self/smaps").map(Footprint)
    }

    /// Reads it now, guest memory being the host range `guest`.
    pub fn measure(&self, guest: Range<u64>) -> io::Result<Usage> {
        let mut text = Vec::with_capacity(64 << 10);
        let mut chunk = vec![0u8; 16 << 10];
        loop {
            let n = self.0.read_at(&mut chunk, text.len() as u64)?;
            if n == 0 {
                break;
            }
            text.extend_from_slice(&chunk[..n]);
        }
        Ok(Usage::from_smaps(&String::from_utf8_lossy(&text), guest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r-xp 00000000 08:01 1234                       /usr/bin/oasis-vmm
Size:               1024 kB
Rss:                 600 kB
Pss:                 300 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
55d0c0200000-55d0c0240000 rw-p 00000000 00:00 0                          [heap]
Size:                256 kB
Rss:                 200 kB
Pss:                 200 kB
Anonymous:           200 kB
VmFlags: rd wr mr mw me ac
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Size:               1024 kB
Rss:                  40 kB
Pss:                  40 kB
Anonymous:            40 kB
VmFlags: rd wr mr mw me ac
7f0000100000-7f00001ad000 r--p 00001000 08:01 99                         /srv/dns.img
Size:                692 kB
Rss:                 692 kB
Pss:                  70 kB
Anonymous:             4 kB
VmFlags: rd mr mw me
7f0000800000-7f0001000000 rw-p 00000000 00:00 0
Size:               8192 kB
Rss:                 188 kB
Pss:                 188 kB
Anonymous:           188 kB
VmFlags: rd wr mr mw me ac
";

    #[test]
    fn splits_guest_from_monitor_and_private_from_shared() {
        let u = Usage::from_smaps(SMAPS, 0x7f00_0000_0000..0x7f00_0200_0000);
        assert_eq!(
            u,
            Usage {
                resident: 600 + 200 + 40 + 692 + 188,
                proportional: 300 + 200 + 40 + 70 + 188,
                guest_private: 40 + 4 + 188,
                guest_shared: 688,
                monitor_private: 200,
                monitor_shared: 600,
            }
        );
        assert!(
            u.line()
                .contains("guest 232 KiB private + 688 KiB image pages shared")
        );
    }

    #[test]
    fn junk_is_skipped_not_misread() {
        let u = Usage::from_smaps(
            "garbage\nRss: lots kB\nxyz-abc r\nRss: 4 kB\nAnonymous: 4 kB\n",
            0..1,
        );
        assert_eq!((u.resident, u.monitor_private, u.guest_private), (4, 4, 0));
    }

    #[test]
    fn reads_this_process() {
        let f = Footprint::open().unwrap();
        let mem = crate::memory::GuestMemory::new(8 << 20).unwrap();
        mem.slice_mut(1 << 20, 4 << 20).unwrap().fill(1);
        let at = mem.host_address();
        let u = f.measure(at..at + mem.size()).unwrap();
        // The 4 MiB written. (Other tests' guest memories, mapped beside
        // this one with the same flags, may merge with it and count too.)
        assert!(u.guest_private >= 4 << 10, "{u:?}");
        assert_eq!(u.guest_shared, 0, "{u:?}");
        assert!(u.resident >= u.guest_private + u.monitor_private, "{u:?}");
        assert!(u.monitor_shared > 0, "{u:?}");
    }
}
