//! `dig` as the cookie tests drive it, and what they read from its output.
#![allow(dead_code)]

use std::process::Command;

/// `dig @127.0.0.1 -p PORT ARGS…`'s standard output (three tries of 2 s).
pub fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+tries=3", "+time=2"])
        .args(args)
        .output()
        .expect("run dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The COOKIE dig printed (client and server cookie, hex), if any.
pub fn cookie(out: &str) -> Option<String> {
    let line = out.lines().find(|l| l.starts_with("; COOKIE: "))?;
    Some(line.split_whitespace().nth(2)?.to_string())
}

/// Bytes of a string of hexadecimal digits.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
