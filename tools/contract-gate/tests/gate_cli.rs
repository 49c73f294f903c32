//! `contract-gate` as CI runs it: exit codes, output formats, the git baseline and the lock.

mod common;

use common::copy_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const GATE: &str = env!("CARGO_BIN_EXE_contract-gate");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(GATE)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("contract-gate runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Tmp(PathBuf);
impl Tmp {
    fn new(name: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("gate-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        Tmp(p)
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

#[test]
fn the_repository_passes_against_its_released_contracts() {
    let o = run(
        &["check", "proto", "--against", "tests/contracts/released"],
        &repo(),
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn a_breaking_edit_exits_100_naming_rule_and_location() {
    let t = Tmp::new("breaking");
    let cur = t.0.join("proto");
    copy_dir(&repo().join("proto"), &cur);
    let events = cur.join("fooddelivery/order/v1/events.proto");
    let text = std::fs::read_to_string(&events).expect("events.proto");
    let line = text
        .lines()
        .position(|l| l == "  string customer_id = 3;")
        .expect("field line")
        + 1;
    std::fs::write(
        &events,
        text.replacen("  string customer_id = 3;", "  int64 customer_id = 3;", 1),
    )
    .expect("edit");

    let lock = repo().join("tests/contracts/released");
    let o = run(
        &[
            "check",
            &cur.to_string_lossy(),
            "--against",
            &lock.to_string_lossy(),
        ],
        &t.0,
    );
    assert_eq!(o.status.code(), Some(100));
    let out = stdout(&o);
    // buf's text: path:line:col:message.
    assert!(out.contains(&format!("fooddelivery/order/v1/events.proto:{line}:3:Field \"3\" with name \"customer_id\" on message \"OrderPlaced\" changed type from \"string\" to \"int64\".")), "{out}");
    let o = run(
        &[
            "check",
            &cur.to_string_lossy(),
            "--against",
            &lock.to_string_lossy(),
            "--error-format",
            "msvs",
        ],
        &t.0,
    );
    assert!(
        stdout(&o).contains(&format!(
            "fooddelivery/order/v1/events.proto({line},3) : error FIELD_SAME_TYPE : Field \"3\""
        )),
        "{}",
        stdout(&o)
    );

    let o = run(
        &[
            "check",
            &cur.to_string_lossy(),
            "--against",
            &lock.to_string_lossy(),
            "--error-format",
            "json",
        ],
        &t.0,
    );
    assert_eq!(o.status.code(), Some(100));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON line");
    // The path as given on the command line, as buf prints it.
    assert_eq!(
        v["path"].as_str(),
        Some(
            format!(
                "{}/fooddelivery/order/v1/events.proto",
                cur.to_string_lossy()
            )
            .as_str()
        )
    );
    assert_eq!(
        (
            v["start_line"].as_u64(),
            v["start_column"].as_u64(),
            v["end_column"].as_u64()
        ),
        (Some(line as u64), Some(3), Some(8))
    );
    assert_eq!(v["type"], "FIELD_SAME_TYPE");

    // The release refuses it and leaves the lock as it was.
    let lock_copy = t.0.join("released");
    copy_dir(&lock, &lock_copy);
    let o = run(
        &[
            "release",
            &cur.to_string_lossy(),
            "--lock",
            &lock_copy.to_string_lossy(),
        ],
        &t.0,
    );
    assert_eq!(o.status.code(), Some(100), "{}", stderr(&o));
    assert!(stderr(&o).contains("not released"));
    let o = run(
        &[
            "check",
            &repo().join("proto").to_string_lossy(),
            "--against",
            &lock_copy.to_string_lossy(),
        ],
        &t.0,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "the lock is untouched: {}",
        stderr(&o)
    );
}

/// `dir/x.proto` holding `source` does not compile: checking it against `b` exits 1 with
/// `want` on stderr.
fn refused(root: &Path, dir: &str, source: &str, want: &str) {
    write(&root.join(dir).join("x.proto"), source);
    let o = run(&["check", dir, "--against", "b"], root);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(want), "{}", stderr(&o));
}

#[test]
fn compile_errors_and_bad_usage_exit_1_with_a_location() {
    let t = Tmp::new("errors");
    write(
        &t.0.join("b/x.proto"),
        "syntax = \"proto3\";\npackage x.v1;\nmessage M { string a = 1; }\n",
    );
    refused(
        &t.0,
        "a",
        "syntax = \"proto3\";\npackage x.v1;\nmessage M {\n  string a = 1\n}\n",
        "a/x.proto:5:1: expected ';'",
    );
    refused(
        &t.0,
        "c",
        "syntax = \"proto3\";\npackage x.v1;\nmessage M { Missing a = 1; }\n",
        "c/x.proto:3:13: \"Missing\" is not defined.",
    );
    refused(
        &t.0,
        "d",
        "syntax = \"proto3\";\npackage x.v1;\nmessage M {\n  string a = 1;\n  string b = 1;\n}\n",
        "d/x.proto:5:14: Field number 1 has already been used in \"x.v1.M\" by field \"a\".",
    );
    // What protoc refuses, the gate refuses, where protoc says: an enum that repeats a number
    // without allow_alias, and a file option FileOptions does not have.
    refused(
        &t.0,
        "e",
        "syntax = \"proto3\";\npackage x.v1;\nmessage M { string a = 1; }\nenum E {\n  E_ZERO = 0;\n  E_ONE = 1;\n  E_UNO = 1;\n}\n",
        "e/x.proto:7:11: \"x.v1.E_UNO\" uses the same enum value as \"x.v1.E_ONE\"",
    );
    refused(
        &t.0,
        "f",
        "syntax = \"proto3\";\npackage x.v1;\noption java_multiple_file = true;\nmessage M { string a = 1; }\n",
        "f/x.proto:3:8: Option \"java_multiple_file\" unknown.",
    );
    // A baseline that does not compile is said to be one, and nothing is compared.
    let o = run(&["check", "b", "--against", "e"], &t.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the baseline does not compile: ")
            && stderr(&o).contains("e/x.proto:7:11:"),
        "{}",
        stderr(&o)
    );

    let o = run(&["check", "b"], &t.0);
    assert_eq!(o.status.code(), Some(1), "no baseline given");
    let o = run(&["check", "b", "--against", "nope"], &t.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nope: not a directory"));
    let o = run(&["frobnicate"], &t.0);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn a_hand_edited_lock_is_refused() {
    let t = Tmp::new("lock");
    let lock = t.0.join("released");
    copy_dir(&repo().join("tests/contracts/released"), &lock);
    let f = lock.join("fooddelivery/order/v1/events.proto");
    let text = std::fs::read_to_string(&f).expect("events.proto");
    std::fs::write(
        &f,
        text.replacen("  string customer_id = 3;", "  int64 customer_id = 3;", 1),
    )
    .expect("edit");
    let o = run(
        &[
            "check",
            &repo().join("proto").to_string_lossy(),
            "--against",
            &lock.to_string_lossy(),
        ],
        &t.0,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("edited by hand"), "{}", stderr(&o));
}

fn git(args: &[&str], cwd: &Path) {
    let ok = Command::new("git")
        .args([
            "-c",
            "user.email=ci@example.com",
            "-c",
            "user.name=ci",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("git runs")
        .status
        .success();
    assert!(ok, "git {args:?}");
}

#[test]
fn a_git_ref_is_a_baseline() {
    let t = Tmp::new("git");
    git(&["init", "-q", "-b", "main"], &t.0);
    write(&t.0.join("proto/shop/v1/shop.proto"), "syntax = \"proto3\";\npackage shop.v1;\nmessage Item {\n  string id = 1;\n  string name = 2;\n}\n");
    git(&["add", "."], &t.0);
    git(&["commit", "-qm", "v1"], &t.0);
    let o = run(&["check", "proto", "--against-git", "main"], &t.0);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    write(
        &t.0.join("proto/shop/v1/shop.proto"),
        "syntax = \"proto3\";\npackage shop.v1;\nmessage Item {\n  string id = 1;\n}\n",
    );
    let o = run(&["check", "proto", "--against-git", "main"], &t.0);
    assert_eq!(o.status.code(), Some(100));
    assert_eq!(stdout(&o).trim(), "proto/shop/v1/shop.proto:3:1:Previously present field \"2\" with name \"name\" on message \"Item\" was deleted.");

    let o = run(&["check", "proto", "--against-git", "no-such-ref"], &t.0);
    assert_eq!(o.status.code(), Some(1));
}
