//! SVCB and HTTPS service parameters (RFC 9460 §2.1, appendix A).

use super::text::{base64, number, show, unescape};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

const KEYS: &[&str] = &[
    "mandatory",
    "alpn",
    "no-default-alpn",
    "port",
    "ipv4hint",
    "ech",
    "ipv6hint",
];

fn key_number(key: &[u8]) -> Result<u16, String> {
    if let Some(i) = KEYS.iter().position(|k| k.as_bytes() == key) {
        return Ok(i as u16);
    }
    match key.strip_prefix(b"key") {
        Some(d) => number(d, "a parameter key number"),
        None => Err(format!(
            "a service parameter key such as alpn or key65000, found `{}`",
            show(key)
        )),
    }
}

/// Splits a value list on unescaped commas, resolving escapes.
fn list(value: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut items = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b',' => {
                items.push(unescape(&core::mem::take(&mut cur))?);
                i += 1;
            }
            b'\\' => {
                cur.extend_from_slice(&value[i..(i + 2).min(value.len())]);
                i += 2;
            }
            c => {
                cur.push(c);
                i += 1;
            }
        }
    }
    items.push(unescape(&cur)?);
    Ok(items)
}

/// Appends the parameters given as `key=value` fields, sorted by key.
pub fn params<'a>(fields: &[&'a [u8]], w: &mut Vec<u8>) -> Result<(), String> {
    let mut out: BTreeMap<u16, Vec<u8>> = BTreeMap::new();
    let mut i = 0;
    while i < fields.len() {
        let f = fields[i];
        i += 1;
        let (key, value) = match f.iter().position(|&b| b == b'=') {
            Some(p) if p + 1 == f.len() => {
                let v = fields
                    .get(i)
                    .copied()
                    .ok_or_else(|| format!("a value after `{}`", show(f)))?;
                i += 1;
                (&f[..p], Some(v))
            }
            Some(p) => (&f[..p], Some(&f[p + 1..])),
            None => (f, None),
        };
        let k = key_number(key)?;
        let need = |v: Option<&'a [u8]>| -> Result<&'a [u8], String> {
            v.ok_or_else(|| format!("a value for `{}`", show(key)))
        };
        let mut data = Vec::new();
        match k {
            0 => {
                for item in list(need(value)?)? {
                    data.extend_from_slice(&key_number(&item)?.to_be_bytes());
                }
            }
            1 => {
                for item in list(need(value)?)? {
                    if item.is_empty() || item.len() > 255 {
                        return Err("ALPN identifiers of 1 to 255 bytes".into());
                    }
                    data.push(item.len() as u8);
                    data.extend_from_slice(&item);
                }
            }
            2 => {
                if value.is_some() {
                    return Err("no value after no-default-alpn".into());
                }
            }
            3 => data.extend_from_slice(&number::<u16>(need(value)?, "a port")?.to_be_bytes()),
            4 | 6 => {
                for item in list(need(value)?)? {
                    let s = core::str::from_utf8(&item).unwrap_or("");
                    if k == 4 {
                        let a: core::net::Ipv4Addr = s
                            .parse()
                            .map_err(|_| format!("an IPv4 address, found `{s}`"))?;
                        data.extend_from_slice(&a.octets());
                    } else {
                        let a: core::net::Ipv6Addr = s
                            .parse()
                            .map_err(|_| format!("an IPv6 address, found `{s}`"))?;
                        data.extend_from_slice(&a.octets());
                    }
                }
            }
            5 => data = base64(&[need(value)?])?,
            _ => data = value.map(unescape).transpose()?.unwrap_or_default(),
        }
        if out.insert(k, data).is_some() {
            return Err(format!(
                "each service parameter once, found `{}` twice",
                show(key)
            ));
        }
    }
    for (k, v) in out {
        w.extend_from_slice(&k.to_be_bytes());
        let len =
            u16::try_from(v.len()).map_err(|_| "a parameter value under 64 KiB".to_string())?;
        w.extend_from_slice(&len.to_be_bytes());
        w.extend_from_slice(&v);
    }
    Ok(())
}

use alloc::string::ToString;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_wire_params() {
        let mut w = Vec::new();
        params(&[b"port=8443", b"alpn=", b"h2,h3"], &mut w).unwrap();
        assert_eq!(w, b"\x00\x01\x00\x06\x02h2\x02h3\x00\x03\x00\x02\x20\xfb");
        assert!(params(&[b"bogus=1"], &mut Vec::new()).is_err());
        assert!(params(&[b"port=1", b"port=2"], &mut Vec::new()).is_err());
    }
}
