//! Everything that can stop the VMM before or while it runs a guest. Each
//! message is one line that says what failed and with which input.

use std::path::PathBuf;

/// Why the VMM could not run the guest to its end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// The image file cannot be read.
    #[error("cannot read image {path}: {source}")]
    ReadImage {
        /// The image.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The image is not a kvm image this VMM can run.
    #[error("{path}: {why}")]
    BadImage {
        /// The image.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The command line's devices do not match the image's manifest.
    #[error("{0}")]
    Devices(String),
    /// Not enough guest memory for the image.
    #[error("--mem={mem_mib}: too little memory, the image needs at least {need_mib} MiB")]
    Memory {
        /// What was given.
        mem_mib: u64,
        /// What is needed.
        need_mib: u64,
    },
    /// A device's backing store cannot be used.
    #[error("{kind} device `{name}`: {why}")]
    Backing {
        /// "net" or "block".
        kind: &'static str,
        /// The device's name.
        name: String,
        /// What failed.
        why: String,
    },
    /// KVM is missing or refused a request.
    #[error("{what}: {source}{hint}")]
    Kvm {
        /// What was asked of KVM.
        what: String,
        /// The error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// The debugger's socket cannot be set up (`--gdb`).
    #[error(transparent)]
    Gdb(#[from] crate::gdb::GdbError),
    /// The seccomp filter cannot be built or installed.
    #[error("seccomp: {0}")]
    Seccomp(String),
    /// The profile (`--profile=FILE`) cannot be taken or written.
    #[error("--profile={}: {what}: {source}", path.display())]
    Profile {
        /// The profile's file.
        path: PathBuf,
        /// What failed.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
    /// The guest broke the ABI or faulted; the text says how.
    #[error("guest fault: {0}")]
    Guest(String),
}

impl Error {
    /// The VMM's exit status for this error.
    pub fn status(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Guest(_) => oasis_abi::hypercall::FAULT_STATUS,
            _ => 1,
        }
    }

    /// A KVM error with no hint.
    pub(crate) fn kvm(what: impl Into<String>, e: kvm_ioctls::Error) -> Error {
        Error::Kvm {
            what: what.into(),
            source: std::io::Error::from_raw_os_error(e.errno()),
            hint: "",
        }
    }
}
