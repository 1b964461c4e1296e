//! `oasis`: build, run and inspect oasis unikernels. See `oasis --help`.

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let status = oasis_cli::main_with(&argv);
    std::process::exit(status);
}
