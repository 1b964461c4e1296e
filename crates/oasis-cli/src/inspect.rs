//! `oasis inspect`: what a kvm image is, from its ELF and manifest.

use std::fmt::Write;
use std::path::Path;

use oasis_vmm::Image;

use crate::Error;

/// A few lines describing the image at `path`.
pub fn describe(path: &Path) -> Result<String, Error> {
    let image = Image::load(path)?;
    let mut out = String::new();
    let devices: Vec<String> = image
        .manifest
        .devices()
        .iter()
        .map(|d| format!("{} `{}`", d.kind_name(), d.name().unwrap_or("?")))
        .collect();
    let low = image.segments.iter().map(|s| s.addr).min().unwrap_or(0);
    let _ = writeln!(out, "image    {}", path.display());
    let _ = writeln!(out, "abi      version {}", image.manifest.abi_version);
    let _ = writeln!(
        out,
        "devices  {}",
        if devices.is_empty() {
            "none".to_string()
        } else {
            devices.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "size     {} bytes on disk; loads {low:#x}..{:#x} ({} KiB)",
        image.bytes.len(),
        image.end,
        (image.end - low).div_ceil(1024)
    );
    let _ = writeln!(out, "entry    {:#x}", image.entry);
    let _ = writeln!(
        out,
        "symbols  {}",
        if image.has_symbols() {
            "yes"
        } else {
            "none (stripped)"
        }
    );
    Ok(out)
}
