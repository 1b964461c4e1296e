//! Signing generated zones offline with Debian's `ldns-signzone`, as an
//! operator would before handing the files to a server.

use super::generate::GenZone;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a signed zone proves that names and types do not exist.
#[derive(Clone, Copy, Debug)]
pub enum Denial {
    Nsec,
    Nsec3,
    /// NSEC3 with opt-out: unsigned delegations get no NSEC3 of their own.
    Nsec3OptOut,
}

/// `ldns-signzone` and `ldns-keygen`, if installed.
pub fn ldns_tools() -> Option<(PathBuf, PathBuf)> {
    let find = |name: &str| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
    };
    Some((find("ldns-signzone")?, find("ldns-keygen")?))
}

/// A zone signed in `dir`: its text and its key-signing key's DNSKEY
/// record (the trust anchor), as text.
pub struct SignedZone {
    pub text: String,
    #[allow(dead_code)] // the delv test reads it
    pub ksk: String,
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Signs `zone` with a new ECDSA P-256 key pair (KSK and ZSK) in `dir`.
pub fn sign(zone: &GenZone, denial: Denial, dir: &Path) -> Result<SignedZone, String> {
    let (signzone, keygen) = ldns_tools().ok_or("ldns-signzone is not installed")?;
    let dir = dir.join(zone.apex.trim_end_matches('.'));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("zone");
    std::fs::write(&file, &zone.text).map_err(|e| e.to_string())?;
    let keygen = |ksk: bool| {
        let mut c = Command::new(&keygen);
        c.current_dir(&dir).args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            c.arg("-k");
        }
        run(c.arg(&zone.apex))
    };
    let ksk = keygen(true)?;
    let zsk = keygen(false)?;
    let mut c = Command::new(&signzone);
    c.current_dir(&dir);
    match denial {
        Denial::Nsec => {}
        Denial::Nsec3 => {
            c.args(["-n", "-s", "c0ffee", "-t", "2"]);
        }
        Denial::Nsec3OptOut => {
            c.args(["-n", "-p", "-t", "0"]);
        }
    }
    run(c.args(["-f", "signed", "zone", &zsk, &ksk]))?;
    let text = std::fs::read_to_string(dir.join("signed")).map_err(|e| e.to_string())?;
    let ksk = std::fs::read_to_string(dir.join(format!("{ksk}.key"))).map_err(|e| e.to_string())?;
    Ok(SignedZone { text, ksk })
}
