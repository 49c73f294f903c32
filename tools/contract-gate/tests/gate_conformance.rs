//! The gate against buf's own breaking-change test cases: for every case in
//! `conformance/buf-breaking`, the gate run with buf's PACKAGE rules only must report exactly
//! the findings of `expected.package.json` — same rule, same file, same span, same message —
//! no more and no fewer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fd_contract_gate::{check_dirs, report, Category, Options};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/buf-breaking")
}

type Key = (Option<String>, u64, u64, u64, u64, String, String);

fn key(v: &serde_json::Value) -> Key {
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    (
        v["path"].as_str().map(str::to_string),
        n("start_line"),
        n("start_column"),
        n("end_line"),
        n("end_column"),
        v["type"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn multiset(lines: impl Iterator<Item = String>) -> BTreeMap<Key, usize> {
    let mut m = BTreeMap::new();
    for l in lines.filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(&l).expect("a JSON line");
        *m.entry(key(&v)).or_insert(0) += 1;
    }
    m
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("the conformance corpus is in the repository")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert_eq!(cases.len(), 58, "buf's corpus has 58 cases");
    cases
}

/// Runs the gate with `opts` on every case and compares with buf's `expected` file (JSON
/// lines; a `current/` path prefix is buf's working directory and is dropped). Returns the
/// number of cases that match exactly, the expected findings, and what differs.
fn score(expected: &str, opts: Options) -> (usize, usize, Vec<String>) {
    let mut passed = 0;
    let mut findings = 0;
    let mut report_lines = Vec::new();
    for case in &cases() {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected_text = std::fs::read_to_string(case.join(expected)).expect(expected);
        let expected = multiset(expected_text.lines().map(|l| l.replace("\"current/", "\"")));
        let got = match check_dirs(&case.join("previous"), &case.join("current"), opts) {
            Ok(f) => multiset(f.iter().map(report::json)),
            Err(e) => {
                report_lines.push(format!("{name}: does not load: {e}"));
                continue;
            }
        };
        findings += expected.values().sum::<usize>();
        if got == expected {
            passed += 1;
            continue;
        }
        let mut diff = Vec::new();
        for (k, n) in &expected {
            let g = got.get(k).copied().unwrap_or(0);
            if g < *n {
                diff.push(format!("  missing {k:?}"));
            }
        }
        for (k, n) in &got {
            let e = expected.get(k).copied().unwrap_or(0);
            if e < *n {
                diff.push(format!("  extra   {k:?}"));
            }
        }
        report_lines.push(format!("{name}:\n{}", diff.join("\n")));
    }
    (passed, findings, report_lines)
}

#[test]
fn every_buf_breaking_case_gives_bufs_findings() {
    let opts = Options {
        project_rules: false,
        ignore_unstable_packages: false,
        category: Category::Package,
    };
    let (passed, findings, report_lines) = score("expected.package.json", opts);
    println!("buf breaking conformance, PACKAGE: {passed}/58 cases, {findings} expected findings");
    assert!(
        report_lines.is_empty(),
        "{passed}/58 cases match buf:\n{}",
        report_lines.join("\n")
    );
}

/// buf's default category, FILE: what a repository gets with a buf.yaml that names none.
#[test]
fn every_buf_breaking_case_gives_bufs_findings_under_file() {
    let opts = Options {
        project_rules: false,
        ignore_unstable_packages: false,
        category: Category::File,
    };
    let (passed, findings, report_lines) = score("expected.default.json", opts);
    println!("buf breaking conformance, FILE: {passed}/58 cases, {findings} expected findings");
    assert!(
        report_lines.is_empty(),
        "{passed}/58 cases match buf:\n{}",
        report_lines.join("\n")
    );
}
