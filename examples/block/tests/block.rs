//! block, hosted: a round trip through a file-backed device that survives the
//! process, and one-line errors for bad input.

use std::process::{Command, Output};

fn block(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_block"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn data_written_in_one_run_is_read_back_in_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, vec![0u8; 256 * 1024]).unwrap();
    let attach = format!("--block:storage={}", disk.display());
    let first = block(&[&attach, "--", "--start-sector=100", "--sectors=64"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = block(&[
        &attach,
        "--check-only",
        "--start-sector=100",
        "--sectors=64",
    ]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(String::from_utf8_lossy(&second.stdout).contains("intact"));

    // Damage one byte: the check must find it and say where.
    let mut bytes = std::fs::read(&disk).unwrap();
    bytes[101 * 512 + 3] ^= 0xff;
    std::fs::write(&disk, bytes).unwrap();
    let third = block(&[
        &attach,
        "--check-only",
        "--start-sector=100",
        "--sectors=64",
    ]);
    assert_eq!(third.status.code(), Some(1));
    assert!(
        stderr(&third).contains("sector 101 differs at byte 3"),
        "{}",
        stderr(&third)
    );
}

#[test]
fn user_errors_are_one_line_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, vec![0u8; 4096]).unwrap();
    let attach = format!("--block:storage={}", disk.display());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![],
            "block device `storage` is declared by the application but not attached",
        ),
        (
            vec!["--block:storage=/nonexistent/disk.img".into()],
            "block device `storage`: cannot open /nonexistent/disk.img: No such file or directory",
        ),
        (
            vec![attach.clone(), "--sectors=lots".into()],
            "boot argument --sectors=lots: invalid NUMBER",
        ),
        (
            vec![attach.clone(), "--colour=blue".into()],
            "boot argument --colour: unknown key",
        ),
        (
            vec![attach.clone(), "--sectors=1000".into()],
            "error: request lies outside the device",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = block(&args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            err.contains(want),
            "{args:?}: stderr {err:?}, want {want:?}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err:?}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn help_lists_devices_and_boot_arguments() {
    let out = block(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "--block:storage=",
        "--check-only",
        "--sectors=NUMBER",
        "--log-level=LEVEL",
    ] {
        assert!(text.contains(want), "{want} missing from help:\n{text}");
    }
}
