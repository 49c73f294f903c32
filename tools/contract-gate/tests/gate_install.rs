//! The ways another repository installs and runs the gate, exercised for real: `cargo install`
//! (from this checkout instead of the git URL the docs give), the check lines of the GitHub
//! Actions and GitLab CI jobs in docs/contract-gate.md, and the pre-commit hook (with
//! pre-commit itself, `make test` installs it into `.venv`), on a sample repository with a
//! `buf.yaml` and a git history: an additive commit passes, a breaking one fails with
//! annotations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo")
}

fn sh(cmd: &str, dir: &Path, path: &str) -> Output {
    Command::new("sh")
        .args(["-c", cmd])
        .current_dir(dir)
        .env("PATH", path)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("sh runs")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The `contract-gate check ...` line of the job marked `# [NAME job]` in the docs.
fn job_check_line(name: &str) -> String {
    let doc = std::fs::read_to_string(repo().join("docs/contract-gate.md")).expect("docs");
    let job = doc
        .split(&format!("# [{name} job]"))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} job in docs/contract-gate.md"));
    let job = job.split("```").next().unwrap_or_default();
    job.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches("- run:")
                .trim_start_matches("- ")
                .trim()
        })
        .find(|l| l.starts_with("contract-gate check"))
        .unwrap_or_else(|| panic!("no check line in the {name} job"))
        .to_string()
}

const V1: &str = "syntax = \"proto3\";\npackage shop.v1;\nmessage Item {\n  string id = 1;\n  string name = 2;\n}\n";
const ADDITIVE: &str = "syntax = \"proto3\";\npackage shop.v1;\nmessage Item {\n  string id = 1;\n  string name = 2;\n  int64 price = 3;\n}\n";
const BREAKING: &str = "syntax = \"proto3\";\npackage shop.v1;\nmessage Item {\n  string id = 1;\n  int64 price = 3;\n}\n";

#[test]
fn installed_gate_in_ci_jobs_and_pre_commit_fails_breaking_and_passes_additive() {
    let work = tempfile::tempdir().expect("dir");
    // 1. cargo install, sharing the workspace's build.
    let root = work.path().join("install");
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| repo().join("target"), Into::into);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .args(["install", "--locked", "--offline", "--debug", "--path"])
        .arg(repo().join("tools/contract-gate"))
        .arg("--root")
        .arg(&root)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("cargo install");
    ok(&o, "cargo install");
    let bin = root.join("bin");
    assert!(bin.join("contract-gate").exists());
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        repo().join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // 2. A repository with a buf.yaml (buf's default rules, FILE) and a history.
    let r = work.path().join("shop");
    std::fs::create_dir_all(r.join("proto/shop/v1")).expect("mkdir");
    std::fs::write(
        r.join("proto/buf.yaml"),
        "version: v1\nbreaking:\n  use:\n    - FILE\n",
    )
    .expect("buf.yaml");
    std::fs::write(r.join("proto/shop/v1/shop.proto"), V1).expect("v1");
    for cmd in [
        "git init -q -b main",
        "git add . && git commit -qm v1",
        "git checkout -qb feature",
    ] {
        ok(&sh(cmd, &r, &path), cmd);
    }
    let github = job_check_line("github-actions").replace("${{ github.base_ref }}", "main");
    let gitlab =
        job_check_line("gitlab-ci").replace("$CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main");
    // The jobs compare with origin/<target>: a clone has it.
    let clone = work.path().join("clone");
    ok(
        &sh(
            &format!(
                "git clone -q {} {} && cd {} && git checkout -q feature",
                r.display(),
                clone.display(),
                clone.display()
            ),
            work.path(),
            &path,
        ),
        "clone",
    );

    // An additive commit: both jobs pass, printing nothing.
    std::fs::write(clone.join("proto/shop/v1/shop.proto"), ADDITIVE).expect("additive");
    ok(&sh("git commit -qam additive", &clone, &path), "commit");
    let o = sh(&github, &clone, &path);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout.is_empty());
    let o = sh(&gitlab, &clone, &path);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A breaking commit: annotations and exit 100.
    std::fs::write(clone.join("proto/shop/v1/shop.proto"), BREAKING).expect("breaking");
    ok(&sh("git commit -qam breaking", &clone, &path), "commit");
    let o = sh(&github, &clone, &path);
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "::error file=proto/shop/v1/shop.proto,line=3,col=1,endLine=6,endColumn=2::Previously present field \"2\" with name \"name\" on message \"Item\" was deleted."
    );
    let o = sh(&gitlab, &clone, &path);
    assert_eq!(o.status.code(), Some(100));
    let report =
        std::fs::read_to_string(clone.join("gl-code-quality-report.json")).expect("report");
    let v: serde_json::Value = serde_json::from_str(&report).expect("a JSON array");
    assert_eq!(v[0]["check_name"], "FIELD_NO_DELETE");
    assert_eq!(v[0]["location"]["path"], "proto/shop/v1/shop.proto");
    assert_eq!(v[0]["fingerprint"].as_str().map(str::len), Some(128));

    // 3. The pre-commit hook of this repository (pre-commit's try-repo), staged changes
    // against HEAD.
    let pre_commit = repo().join(".venv/bin/pre-commit");
    assert!(
        pre_commit.exists(),
        "{} is missing (make test installs it)",
        pre_commit.display()
    );
    let hook = format!(
        "{} try-repo {} contract-gate --files proto/shop/v1/shop.proto",
        pre_commit.display(),
        repo().display()
    );
    std::fs::write(
        clone.join("proto/shop/v1/shop.proto"),
        BREAKING.replace("  int64 price = 3;\n", ""),
    )
    .expect("edit");
    ok(&sh("git add -A", &clone, &path), "add");
    let o = sh(&hook, &clone, &path);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success(),
        "the hook let a breaking change through: {out}"
    );
    assert!(
        out.contains("Previously present field \"3\" with name \"price\""),
        "{out}"
    );
    std::fs::write(
        clone.join("proto/shop/v1/shop.proto"),
        BREAKING.replace(
            "  int64 price = 3;\n",
            "  int64 price = 3;\n  bool sold = 4;\n",
        ),
    )
    .expect("edit");
    ok(&sh("git add -A", &clone, &path), "add");
    let o = sh(&hook, &clone, &path);
    ok(&o, "the hook on an additive change");
}
