//! Domain names: the owned uncompressed form, loop-safe decompression on
//! parse, and compression on emit (RFC 1035 §3.1, §4.1.4).

use alloc::vec::Vec;
use core::fmt;
use core::hash::{Hash, Hasher};

/// The longest name in wire form, root label included (RFC 1035 §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// The most compression pointers followed in one name. A name has at most
/// 127 labels, so a well-formed message never needs more.
pub(crate) const MAX_HOPS: usize = 127;

/// Why a name could not be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NameError {
    /// The name is longer than 255 bytes in wire form.
    TooLong,
    /// A label is longer than 63 bytes.
    LabelTooLong,
    /// A label type other than a plain label or a pointer (0x40, 0x80).
    BadLabelType,
    /// A compression pointer that does not point strictly backwards, or
    /// more pointers than a name could need: a loop.
    PointerLoop,
    /// A compression pointer where none is allowed.
    Pointer,
    /// The buffer ends inside the name.
    Truncated,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::TooLong => "name longer than 255 bytes",
            NameError::LabelTooLong => "label longer than 63 bytes",
            NameError::BadLabelType => "unknown label type",
            NameError::PointerLoop => "compression pointer loop",
            NameError::Pointer => "compression pointer not allowed here",
            NameError::Truncated => "name runs past the end of the message",
        })
    }
}

/// A domain name in uncompressed wire form (length-prefixed labels ending
/// with the empty root label). Letter case is kept, but equality and hashing
/// ignore ASCII case, as DNS does (RFC 4343).
#[derive(Clone)]
pub struct Name {
    wire: Vec<u8>,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name {
            wire: alloc::vec![0],
        }
    }

    /// Takes an uncompressed wire-form name, checking its layout.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        let end = scan_uncompressed(wire, 0)?;
        if end != wire.len() {
            return Err(NameError::BadLabelType);
        }
        Ok(Name {
            wire: wire.to_vec(),
        })
    }

    /// Reads a possibly compressed name starting at `at` in `msg`, and gives
    /// it with the offset just after it. Pointers must point strictly
    /// backwards, at most 127 are followed, and the result is at most
    /// 255 bytes, so no packet can make this loop or grow without bound.
    pub fn parse(msg: &[u8], at: usize) -> Result<(Name, usize), NameError> {
        let mut wire = Vec::with_capacity(32);
        let next = walk(msg, at, |label| {
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
        })?;
        wire.push(0);
        Ok((Name { wire }, next))
    }

    /// The wire form, uncompressed.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Length of the wire form.
    pub fn wire_len(&self) -> usize {
        self.wire.len()
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// The labels, leftmost first, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels {
            wire: &self.wire,
            at: 0,
        }
    }

    /// Number of labels, root excluded.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The same name in lower case.
    pub fn to_lowercase(&self) -> Name {
        let mut n = self.clone();
        n.make_lowercase();
        n
    }

    /// Lower-cases the name in place.
    pub fn make_lowercase(&mut self) {
        lowercase_wire(&mut self.wire);
    }

    /// The name without its leftmost label; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = 1 + self.wire[0] as usize;
        Some(Name {
            wire: self.wire[skip..].to_vec(),
        })
    }

    /// True if `self` is `ancestor` or lies below it.
    pub fn is_subdomain_of(&self, ancestor: &Name) -> bool {
        let (a, b) = (&self.wire, &ancestor.wire);
        if b.len() > a.len() {
            return false;
        }
        let start = a.len() - b.len();
        // The suffix must begin on a label boundary.
        self.label_starts().any(|s| s == start) && a[start..].eq_ignore_ascii_case(b)
    }

    /// Offsets where each label starts, root label included.
    pub fn label_starts(&self) -> impl Iterator<Item = usize> + '_ {
        let mut at = 0usize;
        let mut done = false;
        core::iter::from_fn(move || {
            if done {
                return None;
            }
            let here = at;
            let len = *self.wire.get(at)? as usize;
            if len == 0 {
                done = true;
            }
            at += 1 + len;
            Some(here)
        })
    }

    /// Prepends one label; fails if the label or the result is too long.
    pub fn prepend(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.len() > 63 {
            return Err(NameError::LabelTooLong);
        }
        if label.is_empty() {
            return Err(NameError::BadLabelType);
        }
        if self.wire.len() + 1 + label.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        let mut wire = Vec::with_capacity(self.wire.len() + 1 + label.len());
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.wire);
        Ok(Name { wire })
    }

    /// Replaces the suffix `old` of `self` by `new` (DNAME substitution,
    /// RFC 6672 §2.2); `None` if `self` is not below `old` or the result
    /// would be too long.
    pub fn replace_suffix(&self, old: &Name, new: &Name) -> Option<Name> {
        if !self.is_subdomain_of(old) {
            return None;
        }
        let keep = self.wire.len() - old.wire.len();
        if keep + new.wire.len() > MAX_NAME_LEN {
            return None;
        }
        let mut wire = self.wire[..keep].to_vec();
        wire.extend_from_slice(&new.wire);
        Some(Name { wire })
    }

    /// Appends `origin` to a relative name made of `self`'s labels.
    pub fn concat(&self, origin: &Name) -> Result<Name, NameError> {
        let mut wire = self.wire[..self.wire.len() - 1].to_vec();
        wire.extend_from_slice(&origin.wire);
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        Ok(Name { wire })
    }

    /// Emits the name uncompressed.
    pub fn emit_uncompressed(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.wire);
    }
}

/// Lower-cases ASCII letters in a wire-form name; length bytes are below
/// 64 and so never letters.
pub fn lowercase_wire(wire: &mut [u8]) {
    for b in wire {
        b.make_ascii_lowercase();
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}
impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // One write of the lower-cased bytes, not one per byte.
        let mut buf = [0u8; MAX_NAME_LEN];
        let n = self.wire.len().min(MAX_NAME_LEN);
        for (d, s) in buf.iter_mut().zip(&self.wire[..n]) {
            *d = s.to_ascii_lowercase();
        }
        h.write(&buf[..n]);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    /// Canonical DNS order (RFC 4034 §6.1): label by label from the right,
    /// case-insensitively.
    fn cmp(&self, other: &Name) -> core::cmp::Ordering {
        // Label offsets on the stack: a name has at most 127 labels.
        fn starts(n: &Name, buf: &mut [u8; 128]) -> usize {
            let mut count = 0;
            for (i, s) in n.label_starts().enumerate().take(128) {
                buf[i] = s as u8;
                count = i;
            }
            count // the root label is not counted
        }
        let (mut sa, mut sb) = ([0u8; 128], [0u8; 128]);
        let (na, nb) = (starts(self, &mut sa), starts(other, &mut sb));
        for i in 1..=na.min(nb) {
            let la = label_at(&self.wire, sa[na - i] as usize);
            let lb = label_at(&other.wire, sb[nb - i] as usize);
            let o = la
                .iter()
                .map(u8::to_ascii_lowercase)
                .cmp(lb.iter().map(u8::to_ascii_lowercase));
            if o.is_ne() {
                return o;
            }
        }
        na.cmp(&nb)
    }
}

fn label_at(wire: &[u8], at: usize) -> &[u8] {
    let len = wire.get(at).copied().unwrap_or(0) as usize;
    wire.get(at + 1..at + 1 + len).unwrap_or(&[])
}

/// Iterator over a name's labels.
pub struct Labels<'a> {
    wire: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.get(self.at)? as usize;
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.at + 1..self.at + 1 + len)?;
        self.at += 1 + len;
        Some(label)
    }
}

impl fmt::Display for Name {
    /// Presentation format (RFC 1035 §5.1) with `\DDD` and `\X` escapes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", b as char)?
                    }
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Checks an uncompressed name at `at`, giving the offset after it.
fn scan_uncompressed(buf: &[u8], mut at: usize) -> Result<usize, NameError> {
    let start = at;
    loop {
        let len = *buf.get(at).ok_or(NameError::Truncated)? as usize;
        match len & 0xc0 {
            0 => {}
            0xc0 => return Err(NameError::Pointer),
            _ => return Err(NameError::BadLabelType),
        }
        at += 1 + len;
        if at - start > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        if len == 0 {
            return Ok(at);
        }
        if at > buf.len() {
            return Err(NameError::Truncated);
        }
    }
}

/// Walks a possibly compressed name at `at`, handing each label to `visit`;
/// gives the offset just after the name's bytes at `at`.
pub(crate) fn walk(
    msg: &[u8],
    mut at: usize,
    mut visit: impl FnMut(&[u8]),
) -> Result<usize, NameError> {
    let mut total = 1usize; // the root label
    let mut hops = 0usize;
    let mut after: Option<usize> = None;
    // Pointers must go strictly below the lowest offset seen so far.
    let mut floor = at;
    loop {
        let len = *msg.get(at).ok_or(NameError::Truncated)? as usize;
        match len & 0xc0 {
            0 => {
                if len == 0 {
                    return Ok(after.unwrap_or(at + 1));
                }
                let label = msg.get(at + 1..at + 1 + len).ok_or(NameError::Truncated)?;
                total += 1 + len;
                if total > MAX_NAME_LEN {
                    return Err(NameError::TooLong);
                }
                visit(label);
                at += 1 + len;
            }
            0xc0 => {
                let lo = *msg.get(at + 1).ok_or(NameError::Truncated)? as usize;
                let target = ((len & 0x3f) << 8) | lo;
                hops += 1;
                if target >= floor || hops > MAX_HOPS {
                    return Err(NameError::PointerLoop);
                }
                if after.is_none() {
                    after = Some(at + 2);
                }
                floor = target;
                at = target;
            }
            _ => return Err(NameError::BadLabelType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Compressor;
    use alloc::string::ToString;

    fn name(labels: &[&str]) -> Name {
        let mut n = Name::root();
        for l in labels.iter().rev() {
            n = n.prepend(l.as_bytes()).unwrap();
        }
        n
    }

    #[test]
    fn parses_compressed_names() {
        // "example.com" at 12, then "www" + pointer to 12 at 25.
        let mut msg = [0u8; 12].to_vec();
        msg.extend_from_slice(b"\x07example\x03com\x00");
        msg.extend_from_slice(b"\x03www\xc0\x0c");
        let (n, next) = Name::parse(&msg, 25).unwrap();
        assert_eq!(n, name(&["www", "example", "com"]));
        assert_eq!(next, msg.len());
        assert_eq!(n.to_string(), "www.example.com.");
    }

    #[test]
    fn rejects_pointer_loops_and_forward_pointers() {
        let msg = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0\x0c";
        assert_eq!(Name::parse(msg, 12).unwrap_err(), NameError::PointerLoop);
        let fwd = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0\x0e\x00";
        assert_eq!(Name::parse(fwd, 12).unwrap_err(), NameError::PointerLoop);
        // Two names pointing at each other.
        let mut two = [0u8; 12].to_vec();
        two.extend_from_slice(b"\x01a\xc0\x10\x01b\xc0\x0c");
        assert_eq!(Name::parse(&two, 16).unwrap_err(), NameError::PointerLoop);
    }

    #[test]
    fn rejects_overlong_names() {
        let mut msg = Vec::new();
        for _ in 0..5 {
            msg.push(63);
            msg.extend_from_slice(&[b'a'; 63]);
        }
        msg.push(0);
        assert_eq!(Name::parse(&msg, 0).unwrap_err(), NameError::TooLong);
        assert_eq!(
            Name::parse(b"\x40", 0).unwrap_err(),
            NameError::BadLabelType
        );
        assert_eq!(Name::parse(b"\x05ab", 0).unwrap_err(), NameError::Truncated);
    }

    #[test]
    fn compresses_shared_suffixes_case_insensitively() {
        let mut c = Compressor::new();
        let mut msg = alloc::vec![0u8; 12];
        c.emit(&mut msg, &name(&["www", "Example", "com"]), true);
        c.emit(&mut msg, &name(&["mail", "example", "COM"]), true);
        c.emit(&mut msg, &name(&["www", "example", "com"]), true);
        assert_eq!(
            &msg[12..],
            b"\x03www\x07Example\x03com\x00\x04mail\xc0\x10\xc0\x0c"
        );
        assert_eq!(c.pointers.len(), 2);
        assert_eq!(
            Name::parse(&msg, 29).unwrap().0,
            name(&["mail", "example", "com"])
        );
    }

    #[test]
    fn subdomain_and_order() {
        let a = name(&["a", "example", "com"]);
        let apex = name(&["EXAMPLE", "com"]);
        assert!(a.is_subdomain_of(&apex));
        assert!(!apex.is_subdomain_of(&a));
        assert!(!name(&["xexample", "com"]).is_subdomain_of(&apex));
        assert!(apex < a);
        assert!(name(&["z", "a", "com"]) < name(&["b", "com"]));
    }
}
