//! Every `--error-format` in buf's exact shape: the gate and buf 1.75.0 (`make tools-buf`
//! installs it from npm; it runs offline) on the same cases, byte for byte.

mod common;

use common::copy_dir;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn buf() -> PathBuf {
    let p = std::env::var("BUF").map_or_else(
        |_| repo().join(".tools/buf/node_modules/@bufbuild/buf-linux-x64/bin/buf"),
        Into::into,
    );
    assert!(
        p.exists(),
        "{} is missing: run `make tools-buf` (make test does)",
        p.display()
    );
    p
}

fn run(program: &Path, args: &[&str], dir: &Path) -> (String, i32) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("BUF_CACHE_DIR", dir.join(".buf-cache"))
        .output()
        .expect("runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn every_error_format_is_bufs_byte_for_byte() {
    let gate = PathBuf::from(env!("CARGO_BIN_EXE_contract-gate"));
    for case in [
        "breaking_field_no_delete",
        "breaking_file_no_delete",
        "breaking_enum_same_type",
    ] {
        let dir = tempfile::tempdir().expect("dir");
        let src = repo()
            .join("tools/contract-gate/conformance/buf-breaking")
            .join(case);
        copy_dir(&src, dir.path());
        for format in [
            "text",
            "json",
            "github-actions",
            "junit",
            "msvs",
            "gitlab-code-quality",
        ] {
            let args = [
                "breaking",
                "current",
                "--against",
                "previous",
                "--error-format",
                format,
            ];
            let (want, want_rc) = run(&buf(), &args, dir.path());
            let (got, got_rc) = run(
                &gate,
                &[
                    "check",
                    "current",
                    "--against",
                    "previous",
                    "--error-format",
                    format,
                ],
                dir.path(),
            );
            assert!(!want.is_empty(), "{case} {format}: buf printed nothing");
            assert_eq!(got, want, "{case} --error-format {format}");
            assert_eq!((got_rc, want_rc), (100, 100), "{case} {format}: exit codes");
            if format == "junit" {
                valid_junit(&got, dir.path());
            }
        }
    }
}

/// Validates a JUnit report against Jenkins' JUnit schema (tests/junit/junit-10.xsd) with
/// Python's xmlschema (`make test` installs it into `.venv`).
fn valid_junit(report: &str, dir: &Path) {
    let file = dir.join("report.xml");
    std::fs::write(&file, report).expect("write");
    let python = repo().join(".venv/bin/python");
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit/junit-10.xsd");
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys, xmlschema; xmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])",
        ])
        .arg(&xsd)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (make test installs xmlschema)", python.display()));
    assert!(
        out.status.success(),
        "the JUnit report is not valid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
