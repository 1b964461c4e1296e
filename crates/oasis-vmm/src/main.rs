//! `oasis-vmm`: runs an oasis kvm image. See [`oasis_vmm::options`] for the command line.

use std::io::Write;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let status = oasis_vmm::main_with(&argv);
    let _ = std::io::stdout().flush();
    std::process::exit(status);
}
