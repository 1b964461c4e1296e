//! Presentation-format fields: names, numbers, TTLs with units,
//! character-strings with `\DDD`/`\X` escapes, hex, base64 and base32hex.

use crate::wire::Name;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Shows a field for an error message, escapes and all.
pub fn show(text: &[u8]) -> String {
    String::from_utf8_lossy(text).into_owned()
}

/// Resolves `\DDD` and `\X` escapes.
pub fn unescape(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] != b'\\' {
            out.push(text[i]);
            i += 1;
            continue;
        }
        let (b, used) = escape_at(text, i)?;
        out.push(b);
        i += used;
    }
    Ok(out)
}

/// Decodes the escape starting at `text[i] == b'\\'`: the byte and how many
/// input bytes it used.
fn escape_at(text: &[u8], i: usize) -> Result<(u8, usize), String> {
    match text.get(i + 1..i + 4) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => {
            let v = d.iter().fold(0u32, |a, c| a * 10 + (c - b'0') as u32);
            let b = u8::try_from(v)
                .map_err(|_| format!("a \\DDD escape up to \\255, found `\\{}`", show(d)))?;
            Ok((b, 4))
        }
        _ => match text.get(i + 1) {
            Some(d) if d.is_ascii_digit() => {
                Err(format!("three digits after `\\` in `{}`", show(text)))
            }
            Some(&c) => Ok((c, 2)),
            None => Err(format!(
                "a character after the final `\\` in `{}`",
                show(text)
            )),
        },
    }
}

/// Parses a domain name; relative names get `origin` appended, `@` is the origin.
pub fn name(text: &[u8], origin: &Name) -> Result<Name, String> {
    if text == b"@" {
        return Ok(origin.clone());
    }
    if text == b"." {
        return Ok(Name::root());
    }
    let bad = |why: &str| format!("a domain name, found `{}` ({why})", show(text));
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut label = Vec::new();
    let mut absolute = false;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'.' => {
                if label.is_empty() {
                    return Err(bad("empty label"));
                }
                labels.push(core::mem::take(&mut label));
                if i + 1 == text.len() {
                    absolute = true;
                }
                i += 1;
            }
            b'\\' => {
                let (b, used) = escape_at(text, i)?;
                label.push(b);
                i += used;
            }
            c => {
                label.push(c);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    let mut n = if absolute {
        Name::root()
    } else {
        origin.clone()
    };
    for l in labels.iter().rev() {
        n = n.prepend(l).map_err(|e| bad(&format!("{e}")))?;
    }
    Ok(n)
}

/// Parses an unsigned decimal number that must fit in `T`.
pub fn number<T: TryFrom<u64>>(text: &[u8], what: &str) -> Result<T, String> {
    let err = || format!("{what} (a number), found `{}`", show(text));
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    let v = text.iter().try_fold(0u64, |a, &c| {
        a.checked_mul(10)?.checked_add((c - b'0') as u64)
    });
    v.and_then(|v| T::try_from(v).ok()).ok_or_else(err)
}

/// True if the field looks like a TTL (starts with a digit).
pub fn is_ttl(text: &[u8]) -> bool {
    text.first().is_some_and(u8::is_ascii_digit)
}

/// Parses a TTL: seconds, or a sum of numbers with units `s m h d w`
/// (BIND's extension, e.g. `1h30m`).
pub fn ttl(text: &[u8]) -> Result<u32, String> {
    let err = || format!("a TTL such as 3600 or 1h30m, found `{}`", show(text));
    if text.is_empty() {
        return Err(err());
    }
    let mut total: u64 = 0;
    let mut cur: Option<u64> = None;
    for &c in text {
        if c.is_ascii_digit() {
            let v = cur.unwrap_or(0) * 10 + (c - b'0') as u64;
            if v > u32::MAX as u64 {
                return Err(err());
            }
            cur = Some(v);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            b'w' => 604800,
            _ => return Err(err()),
        };
        total += cur.take().ok_or_else(err)? * unit;
        if total > u32::MAX as u64 {
            return Err(err());
        }
    }
    total += cur.unwrap_or(0);
    u32::try_from(total).map_err(|_| err())
}

/// Parses one character-string (RFC 1035 §3.3): at most 255 bytes.
pub fn char_string(text: &[u8]) -> Result<Vec<u8>, String> {
    let v = unescape(text)?;
    if v.len() > 255 {
        return Err(format!(
            "a character-string of at most 255 bytes, found {} bytes",
            v.len()
        ));
    }
    Ok(v)
}

/// Decodes hex digits spread over several fields.
pub fn hex(fields: &[&[u8]]) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = fields.iter().flat_map(|f| f.iter().copied()).collect();
    let val = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "an even number of hex digits, found {}",
            digits.len()
        ));
    }
    digits
        .chunks(2)
        .map(|p| match (val(p[0]), val(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!("hex digits, found `{}`", show(p))),
        })
        .collect()
}

/// Decodes base64 (RFC 4648 §4) spread over several fields.
pub fn base64(fields: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    let mut pad = 0;
    for &c in fields.iter().flat_map(|f| f.iter()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                continue;
            }
            _ => return Err(format!("base64, found `{}`", c as char)),
        };
        if pad > 0 {
            return Err("base64 with nothing after its `=` padding".into());
        }
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// Decodes base32 with the extended hex alphabet (RFC 4648 §7), as NSEC3 uses.
pub fn base32hex(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut acc = 0u64;
    let mut bits = 0;
    for &c in text {
        let v = match c.to_ascii_uppercase() {
            d @ b'0'..=b'9' => d - b'0',
            l @ b'A'..=b'V' => l - b'A' + 10,
            b'=' => continue,
            _ => return Err(format!("base32hex, found `{}`", c as char)),
        };
        acc = acc << 5 | v as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// Parses an RRSIG time: `YYYYMMDDHHmmSS` in UTC, or seconds since 1970.
pub fn rrsig_time(text: &[u8]) -> Result<u32, String> {
    if text.len() != 14 {
        return number::<u32>(text, "a signature time");
    }
    let err = || format!("a signature time YYYYMMDDHHmmSS, found `{}`", show(text));
    let part =
        |r: core::ops::Range<usize>| number::<u64>(&text[r], "a date part").map_err(|_| err());
    let (y, mo, d) = (part(0..4)? as i64, part(4..6)?, part(6..8)?);
    let (h, mi, s) = (part(8..10)?, part(10..12)?, part(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(err());
    }
    // Days from the civil calendar (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + (h * 3600 + mi * 60 + s) as i64;
    // RFC 4034 §3.2: serial-number arithmetic, so keep the low 32 bits.
    Ok(secs as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_units() {
        assert_eq!(ttl(b"3600"), Ok(3600));
        assert_eq!(ttl(b"1h30m"), Ok(5400));
        assert_eq!(ttl(b"1W2d"), Ok(9 * 86400));
        assert!(ttl(b"1x").is_err());
        assert!(ttl(b"h").is_err());
        assert!(ttl(b"99999999999").is_err());
    }

    #[test]
    fn names_with_escapes() {
        let origin = name(b"example.com.", &Name::root()).unwrap();
        let n = name(b"a\\.b.c", &origin).unwrap();
        assert_eq!(n.as_wire(), b"\x03a.b\x01c\x07example\x03com\x00");
        assert_eq!(name(b"\\065x.", &origin).unwrap().as_wire(), b"\x02Ax\x00");
        assert_eq!(name(b"@", &origin).unwrap(), origin);
        assert!(name(b"a..b", &origin).is_err());
        assert!(name(b"\\256.", &origin).is_err());
    }

    #[test]
    fn encodings() {
        assert_eq!(hex(&[b"0a", b"FF"]).unwrap(), [10, 255]);
        assert_eq!(base64(&[b"aGVsbG8="]).unwrap(), b"hello");
        assert_eq!(base32hex(b"CPNMUOG").unwrap(), b"foob");
        assert_eq!(rrsig_time(b"20250101000000"), Ok(1735689600));
    }
}
