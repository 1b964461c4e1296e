//! The manifest: the devices an image needs, recorded in the image as an ELF
//! note so that the VMM can check them against its command line before it
//! runs a single guest instruction.
//!
//! ```text
//! section  .note.oasis.manifest (SHT_NOTE)
//! namesz   u32 = 6            name  "oasis\0" padded to 8
//! descsz   u32 = 8 + 40 × n   type  u32 = NOTE_TYPE_MANIFEST
//! desc     abi_version: u32, device_count: u32,
//!          n × { kind: u32, name_len: u16, flags: u16, name: [u8; 32] }
//! ```
//!
//! The platform's `entry_point!` macro emits it with [`ManifestNote::new`];
//! the VMM reads it with [`Manifest::parse`].

use crate::boot::{DEVICE_BLOCK, DEVICE_NET};
use crate::{ABI_VERSION, MAX_DEVICES, MAX_NAME};

/// Name of the section holding the note.
pub const SECTION: &str = ".note.oasis.manifest";
/// The note's owner name (without its NUL).
pub const NOTE_NAME: &[u8] = b"oasis";
/// The note's type.
pub const NOTE_TYPE_MANIFEST: u32 = 0x6f61_0001;
/// Bytes of one device entry.
pub const DEVICE_ENTRY_SIZE: usize = 40;

/// Device flag: the image runs without this device; the VMM attaches it
/// only if the command line names it.
pub const DEVICE_OPTIONAL: u16 = 1;

/// One declared device, as stored in the note.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestDevice {
    /// [`DEVICE_NET`] or [`DEVICE_BLOCK`].
    pub kind: u32,
    /// Bytes of `name` in use.
    pub name_len: u16,
    /// [`DEVICE_OPTIONAL`] or 0.
    pub flags: u16,
    /// The name (UTF-8, not NUL-terminated).
    pub name: [u8; MAX_NAME],
}

impl ManifestDevice {
    const fn new(kind: u32, name: &str, flags: u16) -> ManifestDevice {
        let bytes = name.as_bytes();
        assert!(
            !bytes.is_empty() && bytes.len() <= MAX_NAME,
            "oasis: a device name must be 1 to 32 bytes"
        );
        let mut out = [0u8; MAX_NAME];
        let mut i = 0;
        while i < bytes.len() {
            out[i] = bytes[i];
            i += 1;
        }
        ManifestDevice {
            kind,
            name_len: bytes.len() as u16,
            flags,
            name: out,
        }
    }

    /// A net device named `name` (compile-time error if the name is too long).
    pub const fn net(name: &str) -> ManifestDevice {
        Self::new(DEVICE_NET, name, 0)
    }

    /// A block device named `name`.
    pub const fn block(name: &str) -> ManifestDevice {
        Self::new(DEVICE_BLOCK, name, 0)
    }

    /// A net device the image can run without.
    pub const fn optional_net(name: &str) -> ManifestDevice {
        Self::new(DEVICE_NET, name, DEVICE_OPTIONAL)
    }

    /// A block device the image can run without.
    pub const fn optional_block(name: &str) -> ManifestDevice {
        Self::new(DEVICE_BLOCK, name, DEVICE_OPTIONAL)
    }

    /// Whether the image runs without this device.
    pub fn is_optional(&self) -> bool {
        self.flags & DEVICE_OPTIONAL != 0
    }

    /// The name, if valid.
    pub fn name(&self) -> Option<&str> {
        core::str::from_utf8(self.name.get(..self.name_len as usize)?).ok()
    }

    /// "net" or "block".
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind)
    }
}

/// "net", "block" or "unknown" for a device kind word.
pub fn kind_name(kind: u32) -> &'static str {
    match kind {
        DEVICE_NET => "net",
        DEVICE_BLOCK => "block",
        _ => "unknown",
    }
}

/// The whole note as it sits in the image, for `N` devices.
#[repr(C)]
#[derive(Debug)]
pub struct ManifestNote<const N: usize> {
    namesz: u32,
    descsz: u32,
    note_type: u32,
    name: [u8; 8],
    abi_version: u32,
    device_count: u32,
    devices: [ManifestDevice; N],
}

impl<const N: usize> ManifestNote<N> {
    /// The note declaring `devices`.
    pub const fn new(devices: [ManifestDevice; N]) -> Self {
        assert!(N <= MAX_DEVICES, "oasis: too many devices");
        ManifestNote {
            namesz: NOTE_NAME.len() as u32 + 1,
            descsz: (8 + DEVICE_ENTRY_SIZE * N) as u32,
            note_type: NOTE_TYPE_MANIFEST,
            name: *b"oasis\0\0\0",
            abi_version: ABI_VERSION,
            device_count: N as u32,
            devices,
        }
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestError {
    /// Shorter than its header or than its device count says.
    Truncated,
    /// Built against another version of this ABI.
    AbiVersion {
        /// The image's version.
        image: u32,
    },
    /// More than [`MAX_DEVICES`] devices.
    TooManyDevices(u32),
    /// Entry `i` has an empty, overlong or non-UTF-8 name.
    BadName(usize),
    /// Entry `i` has an unknown kind.
    BadKind(usize),
    /// Entry `i` repeats an earlier (kind, name).
    Duplicate(usize),
}

impl core::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ManifestError::Truncated => f.write_str("manifest note is truncated"),
            ManifestError::AbiVersion { image } => write!(
                f,
                "image was built for oasis ABI version {image}, this VMM speaks version {ABI_VERSION} (rebuild the image, or use the matching oasis-vmm)"
            ),
            ManifestError::TooManyDevices(n) => {
                write!(f, "manifest declares {n} devices (at most {MAX_DEVICES})")
            }
            ManifestError::BadName(i) => write!(f, "manifest device {i} has an invalid name"),
            ManifestError::BadKind(i) => write!(f, "manifest device {i} has an unknown kind"),
            ManifestError::Duplicate(i) => write!(f, "manifest device {i} is declared twice"),
        }
    }
}

/// A parsed, checked manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The image's ABI version (equal to [`ABI_VERSION`] once parsed).
    pub abi_version: u32,
    count: usize,
    devices: [ManifestDevice; MAX_DEVICES],
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Manifest {
    /// Parses the note's descriptor bytes (what follows the name).
    pub fn parse(desc: &[u8]) -> Result<Manifest, ManifestError> {
        let version = u32_at(desc, 0).ok_or(ManifestError::Truncated)?;
        if version != ABI_VERSION {
            return Err(ManifestError::AbiVersion { image: version });
        }
        let count = u32_at(desc, 4).ok_or(ManifestError::Truncated)?;
        if count as usize > MAX_DEVICES {
            return Err(ManifestError::TooManyDevices(count));
        }
        let count = count as usize;
        if desc.len() < 8 + count * DEVICE_ENTRY_SIZE {
            return Err(ManifestError::Truncated);
        }
        let mut devices = [ManifestDevice {
            kind: 0,
            name_len: 0,
            flags: 0,
            name: [0; MAX_NAME],
        }; MAX_DEVICES];
        for (i, dev) in devices.iter_mut().enumerate().take(count) {
            let at = 8 + i * DEVICE_ENTRY_SIZE;
            let entry = &desc[at..at + DEVICE_ENTRY_SIZE];
            let kind = u32_at(entry, 0).ok_or(ManifestError::Truncated)?;
            let word = u32_at(entry, 4).ok_or(ManifestError::Truncated)?;
            let (name_len, flags) = ((word & 0xffff) as u16, (word >> 16) as u16);
            if kind != DEVICE_NET && kind != DEVICE_BLOCK || flags & !DEVICE_OPTIONAL != 0 {
                return Err(ManifestError::BadKind(i));
            }
            let mut name = [0u8; MAX_NAME];
            name.copy_from_slice(&entry[8..]);
            *dev = ManifestDevice {
                kind,
                name_len,
                flags,
                name,
            };
            if name_len == 0 || dev.name().is_none() {
                return Err(ManifestError::BadName(i));
            }
        }
        for i in 0..count {
            if devices[..i]
                .iter()
                .any(|d| d.kind == devices[i].kind && d.name() == devices[i].name())
            {
                return Err(ManifestError::Duplicate(i));
            }
        }
        Ok(Manifest {
            abi_version: version,
            count,
            devices,
        })
    }

    /// The declared devices, in order.
    pub fn devices(&self) -> &[ManifestDevice] {
        &self.devices[..self.count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NOTE: ManifestNote<2> = ManifestNote::new([
        ManifestDevice::net("service"),
        ManifestDevice::block("storage"),
    ]);

    fn bytes<T>(v: &T) -> &[u8] {
        // SAFETY: reading the bytes of a repr(C) value without padding.
        unsafe { core::slice::from_raw_parts((v as *const T).cast(), core::mem::size_of::<T>()) }
    }

    #[test]
    fn emitted_note_has_the_documented_layout() {
        let b = bytes(&NOTE);
        assert_eq!(&b[0..12], &[6, 0, 0, 0, 88, 0, 0, 0, 0x01, 0, 0x61, 0x6f]);
        assert_eq!(&b[12..20], b"oasis\0\0\0");
        let v = ABI_VERSION.to_le_bytes();
        assert_eq!(&b[20..28], &[v[0], v[1], v[2], v[3], 2, 0, 0, 0]);
        assert_eq!(&b[28..36], &[1, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(&b[36..43], b"service");
        assert_eq!(b.len(), 20 + 88);
    }

    #[test]
    fn parse_reads_back_what_was_emitted() {
        let m = Manifest::parse(&bytes(&NOTE)[20..]).unwrap();
        let d: [(&str, Option<&str>); 2] = [
            (m.devices()[0].kind_name(), m.devices()[0].name()),
            (m.devices()[1].kind_name(), m.devices()[1].name()),
        ];
        assert_eq!(d, [("net", Some("service")), ("block", Some("storage"))]);
        let empty = ManifestNote::<0>::new([]);
        assert_eq!(
            Manifest::parse(&bytes(&empty)[20..]).unwrap().devices(),
            &[]
        );
    }

    #[test]
    fn optional_devices_carry_their_flag() {
        let note = ManifestNote::new([
            ManifestDevice::net("service"),
            ManifestDevice::optional_block("zones"),
        ]);
        let b = bytes(&note);
        // name_len 5, flags 1, little-endian, in the second entry's second word.
        assert_eq!(&b[28 + 40 + 4..28 + 40 + 8], &[5, 0, 1, 0]);
        let m = Manifest::parse(&b[20..]).unwrap();
        assert!(!m.devices()[0].is_optional());
        assert!(m.devices()[1].is_optional());
        assert_eq!(m.devices()[1].name(), Some("zones"));
        let mut v = b[20..].to_vec();
        v[8 + 40 + 6] = 2; // an unknown flag
        assert_eq!(Manifest::parse(&v), Err(ManifestError::BadKind(1)));
    }

    #[test]
    fn hostile_manifests_are_refused() {
        let good = &bytes(&NOTE)[20..];
        let mut b = [0u8; 88];
        b.copy_from_slice(good);
        let check = |b: &[u8], want: ManifestError| assert_eq!(Manifest::parse(b), Err(want));
        check(&b[..3], ManifestError::Truncated);
        check(&b[..50], ManifestError::Truncated);
        let mut v = b;
        v[0] = 9;
        check(&v, ManifestError::AbiVersion { image: 9 });
        let mut v = b;
        v[4] = 200;
        check(&v, ManifestError::TooManyDevices(200));
        let mut v = b;
        v[12] = 33;
        check(&v, ManifestError::BadName(0));
        let mut v = b;
        v[16] = 0xff;
        check(&v, ManifestError::BadName(0));
        let mut v = b;
        v[8] = 7;
        check(&v, ManifestError::BadKind(0));
        let mut v = b;
        v[48] = 1; // the second entry becomes net `service`, like the first
        v[56..56 + 7].copy_from_slice(b"service");
        check(&v, ManifestError::Duplicate(1));
        // Every truncation and every single-byte corruption parses or errors, never panics.
        for len in 0..b.len() {
            let _ = Manifest::parse(&b[..len]);
        }
        for i in 0..b.len() {
            for x in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut v = b;
                v[i] = x;
                let _ = Manifest::parse(&v);
            }
        }
    }
}
