//! Reading an image: the checks that turn "some file" into a kvm image this
//! VMM can boot (ELF64, x86_64, static ET_EXEC above 1 MiB, an oasis
//! manifest of our ABI version), its loadable segments, and its symbols for
//! naming the function at a faulting RIP or in a profile's stacks.

use std::fs::File;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::Path;

use goblin::elf::{Elf, header, program_header, sym};
use oasis_abi::layout::{IMAGE_BASE, MEM_MAX, PAGE};
use oasis_abi::manifest::{Manifest, NOTE_NAME, NOTE_TYPE_MANIFEST, SECTION};

use crate::error::Error;

/// One `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Guest-physical (= virtual) address.
    pub addr: u64,
    /// Offset of its bytes in the file.
    pub offset: usize,
    /// Bytes taken from the file.
    pub file_size: usize,
    /// Bytes in memory (the rest is zero).
    pub mem_size: u64,
    /// Whether the guest may write it (`PF_W`).
    pub writable: bool,
}

/// A function or object symbol; its name stays in the file's bytes until
/// a fault needs it (demangling every name at load would cost boot time).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Symbol {
    addr: u64,
    size: u64,
    name: std::ops::Range<usize>,
}

/// An image file's bytes, mapped private and read-only: the page cache's
/// copy, which every VMM running the same file shares, and from which the
/// read-only segments are mapped into guest memory ([`Image::file`]).
///
/// The file must not be written while a VMM runs it (replace an image by
/// renaming a new file over it, as linkers and `cp --remove-destination`
/// do): a page cut off by truncation cannot be read any more, and the
/// guest stops with a memory fault.
pub struct Mapped {
    ptr: *const u8,
    len: usize,
    file: File,
}

impl Mapped {
    /// Maps all of `file`.
    pub fn new(file: File) -> std::io::Result<Mapped> {
        let len = usize::try_from(file.metadata()?.len()).map_err(std::io::Error::other)?;
        if len == 0 {
            return Err(std::io::Error::other("the file is empty"));
        }
        // SAFETY: a fresh private read-only mapping of an open file; the
        // result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped {
            ptr: ptr.cast(),
            len,
            file,
        })
    }
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: the mapping lives as long as `self`, and nothing in this
        // process writes it (it is read-only).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: our mapping, unmapped once.
        unsafe { libc::munmap(self.ptr as *mut _, self.len) };
    }
}

/// Where an image's bytes are: mapped from its file, or in memory (tests).
pub enum Bytes {
    /// Mapped from the file.
    Mapped(Mapped),
    /// Read into memory.
    Owned(Vec<u8>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A checked kvm image.
pub struct Image {
    /// The file's bytes.
    pub bytes: Bytes,
    /// Entry point (`_start`).
    pub entry: u64,
    /// What to load.
    pub segments: Vec<Segment>,
    /// First byte after the last segment, rounded up to a page.
    pub end: u64,
    /// The devices the image declares.
    pub manifest: Manifest,
    symbols: Vec<Symbol>,
}

impl Image {
    /// Reads and checks the image at `path`.
    pub fn load(path: &Path) -> Result<Image, Error> {
        let bytes = File::open(path)
            .and_then(Mapped::new)
            .map_err(|source| Error::ReadImage {
                path: path.to_path_buf(),
                source,
            })?;
        Image::parse_bytes(Bytes::Mapped(bytes)).map_err(|why| Error::BadImage {
            path: path.to_path_buf(),
            why,
        })
    }

    /// Checks `bytes` as a kvm image; the error says what is wrong.
    pub fn parse(bytes: Vec<u8>) -> Result<Image, String> {
        Image::parse_bytes(Bytes::Owned(bytes))
    }

    /// The open file the image was mapped from, if it was.
    pub fn file(&self) -> Option<&File> {
        match &self.bytes {
            Bytes::Mapped(m) => Some(&m.file),
            Bytes::Owned(_) => None,
        }
    }

    fn parse_bytes(bytes: Bytes) -> Result<Image, String> {
        if bytes.get(..4) != Some(b"\x7fELF") {
            return Err(
                "not an ELF file (an oasis kvm image is built with `oasis build --target kvm`)"
                    .into(),
            );
        }
        if bytes.get(4) != Some(&header::ELFCLASS64) {
            return Err("is a 32-bit ELF, not an oasis kvm image (x86_64-unknown-none)".into());
        }
        let elf = Elf::parse(&bytes).map_err(|e| format!("malformed ELF: {e}"))?;
        if elf.header.e_machine != header::EM_X86_64 {
            return Err(format!(
                "is built for {}, not x86_64: not an oasis kvm image",
                header::machine_to_str(elf.header.e_machine)
            ));
        }
        match elf.header.e_type {
            header::ET_EXEC => {}
            header::ET_DYN => {
                return Err("is a position-independent executable (a hosted build?): build it for the kvm target (`oasis build APP --target kvm`)".into());
            }
            t => {
                return Err(format!(
                    "is an ELF of type {}, not an executable",
                    header::et_to_str(t)
                ));
            }
        }
        let manifest = find_manifest(&elf, &bytes)?;
        let mut segments = Vec::new();
        for ph in elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == program_header::PT_LOAD)
        {
            let bad = |what: &str| format!("segment at {:#x} {what}", ph.p_vaddr);
            let file_end = ph.p_offset.checked_add(ph.p_filesz);
            if ph.p_filesz > ph.p_memsz || file_end.is_none_or(|e| e > bytes.len() as u64) {
                return Err(bad("lies outside the file"));
            }
            let end = ph.p_vaddr.checked_add(ph.p_memsz);
            if ph.p_vaddr < IMAGE_BASE || end.is_none_or(|e| e > MEM_MAX) {
                return Err(bad(
                    "lies outside 1 MiB..4 GiB: not linked for oasis-vmm (missing linker script?)",
                ));
            }
            if ph.p_memsz > 0 {
                segments.push(Segment {
                    addr: ph.p_vaddr,
                    offset: ph.p_offset as usize,
                    file_size: ph.p_filesz as usize,
                    mem_size: ph.p_memsz,
                    writable: ph.p_flags & program_header::PF_W != 0,
                });
            }
        }
        let end = segments
            .iter()
            .map(|s| s.addr + s.mem_size)
            .max()
            .ok_or("has no loadable segment")?;
        let entry = elf.header.e_entry;
        if !segments
            .iter()
            .any(|s| (s.addr..s.addr + s.mem_size).contains(&entry))
        {
            return Err(format!("entry point {entry:#x} is not in a loaded segment"));
        }
        let mut symbols: Vec<Symbol> = elf
            .syms
            .iter()
            .filter(|s| matches!(s.st_type(), sym::STT_FUNC | sym::STT_OBJECT) && s.st_value != 0)
            .filter_map(|s| {
                let name = elf.strtab.get_at(s.st_name)?;
                // The name borrows from `bytes`: remember where.
                let start = (name.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
                Some(Symbol {
                    addr: s.st_value,
                    size: s.st_size,
                    name: start..start + name.len(),
                })
            })
            .collect();
        symbols.sort_by_key(|s| s.addr);
        Ok(Image {
            entry,
            segments,
            end: end.div_ceil(PAGE) * PAGE,
            manifest,
            symbols,
            bytes,
        })
    }

    /// `symbol+0xoffset` for an address, if a symbol covers it.
    pub fn symbolize(&self, addr: u64) -> Option<String> {
        let (name, off) = self.symbol_at(addr)?;
        Some(format!("{:#}+{off:#x}", rustc_demangle::demangle(name)))
    }

    /// The demangled name (without its hash) of the function or object
    /// covering `addr`, if a symbol does.
    pub fn function_name(&self, addr: u64) -> Option<String> {
        let (name, _) = self.symbol_at(addr)?;
        Some(format!("{:#}", rustc_demangle::demangle(name)))
    }

    /// The raw name of the symbol covering `addr` and `addr`'s offset in it.
    fn symbol_at(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self
            .symbols
            .partition_point(|s| s.addr <= addr)
            .checked_sub(1)?;
        let s = &self.symbols[i];
        let off = addr - s.addr;
        let name = std::str::from_utf8(self.bytes.get(s.name.clone())?).ok()?;
        (off < s.size.max(1)).then_some((name, off))
    }

    /// Whether the image has a symbol table (stripped images do not).
    pub fn has_symbols(&self) -> bool {
        !self.symbols.is_empty()
    }
}

fn find_manifest(elf: &Elf<'_>, bytes: &[u8]) -> Result<Manifest, String> {
    let mut notes = Vec::new();
    if let Some(it) = elf.iter_note_sections(bytes, Some(SECTION)) {
        notes.extend(it.flatten());
    }
    if notes.is_empty()
        && let Some(it) = elf.iter_note_headers(bytes)
    {
        notes.extend(it.flatten());
    }
    let note = notes
        .into_iter()
        .find(|n| n.n_type == NOTE_TYPE_MANIFEST && n.name.as_bytes() == NOTE_NAME)
        .ok_or("has no oasis manifest note: not an oasis kvm image (build it with `oasis build APP --target kvm`)")?;
    Manifest::parse(note.desc).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_images_are_refused_with_a_reason() {
        let cases: [(&[u8], &str); 3] = [
            (b"hello", "not an ELF file"),
            (b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0", "32-bit"),
            (b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0", "malformed ELF"),
        ];
        for (bytes, want) in cases {
            let e = Image::parse(bytes.to_vec()).err().unwrap();
            assert!(e.contains(want), "{e}");
        }
        // The test binary itself: a hosted, position-independent build.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let e = Image::parse(me).err().unwrap();
        assert!(
            e.contains("position-independent") || e.contains("manifest"),
            "{e}"
        );
    }

    #[test]
    fn truncated_and_corrupted_elves_never_panic() {
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for len in (0..4096).step_by(7) {
            let _ = Image::parse(me[..len.min(me.len())].to_vec());
        }
        for i in (0..256).step_by(3) {
            let mut v = me[..8192.min(me.len())].to_vec();
            v[i] ^= 0xff;
            let _ = Image::parse(v);
        }
    }
}
