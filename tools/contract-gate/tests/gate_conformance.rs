//! The gate against buf's own breaking-change test cases: for every case in
//! `conformance/buf-breaking`, the gate run with buf's PACKAGE rules only must report exactly
//! the findings of `expected.package.json` — same rule, same file, same span, same message —
//! no more and no fewer.

mod common;

use common::copy_dir;

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

/// Every case gives exactly buf's findings for `category` (compared with `expected`).
fn assert_matches_buf(expected: &str, category: Category, name: &str) {
    let opts = Options {
        project_rules: false,
        ignore_unstable_packages: false,
        category,
    };
    let (passed, findings, report_lines) = score(expected, opts);
    println!("buf breaking conformance, {name}: {passed}/58 cases, {findings} expected findings");
    assert!(
        report_lines.is_empty(),
        "{passed}/58 cases match buf:\n{}",
        report_lines.join("\n")
    );
}

#[test]
fn every_buf_breaking_case_gives_bufs_findings() {
    assert_matches_buf("expected.package.json", Category::Package, "PACKAGE");
}

/// buf's default category, FILE: what a repository gets with a buf.yaml that names none.
#[test]
fn every_buf_breaking_case_gives_bufs_findings_under_file() {
    assert_matches_buf("expected.default.json", Category::File, "FILE");
}

/// Runs the gate as a repository would, with a buf.yaml: each case's `current/buf.yaml`
/// replaced by `yaml` (or by the case's own upstream `buf.yaml.orig` when `yaml` is None).
/// Returns (cases matching buf, cases buf itself could run, what differs).
/// How each case's `current/buf.yaml` is set up for a configured run.
enum Yaml {
    /// As it is (no `breaking` section: buf's default, FILE).
    Keep,
    /// With `breaking: use: [X]` appended.
    Use(&'static str),
    /// The case's own upstream `buf.yaml.orig`.
    Upstream,
}

fn score_configured(expected: &str, yaml: Yaml) -> (usize, usize, Vec<String>) {
    let mut passed = 0;
    let mut runnable = 0;
    let mut report_lines = Vec::new();
    for case in &cases() {
        let name = case
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rc = std::fs::read_to_string(case.join(expected.replace(".json", ".rc")))
            .unwrap_or_default();
        if matches!(yaml, Yaml::Upstream) && rc.trim() == "1" {
            // buf itself fails on the case's configuration (plugins or policies).
            continue;
        }
        runnable += 1;
        let dir = tempfile::tempdir().expect("dir");
        copy_dir(case, dir.path());
        let cur = dir.path().join("current");
        let existing = std::fs::read_to_string(cur.join("buf.yaml")).unwrap_or_default();
        let text = match yaml {
            Yaml::Keep => existing,
            Yaml::Use(x) => format!("{existing}breaking:\n  use:\n    - {x}\n"),
            Yaml::Upstream => std::fs::read_to_string(cur.join("buf.yaml.orig"))
                .unwrap_or_else(|_| "version: v2\n".into()),
        };
        std::fs::write(cur.join("buf.yaml"), text).expect("buf.yaml");
        let expected_text = std::fs::read_to_string(case.join(expected)).expect(expected);
        let want = multiset(expected_text.lines().map(|l| l.replace("\"current/", "\"")));
        let got = fd_contract_gate::Tree::load_dir(&dir.path().join("previous"))
            .map_err(|e| e.to_string())
            .and_then(|p| {
                let c = fd_contract_gate::Tree::load_dir(&cur).map_err(|e| e.to_string())?;
                fd_contract_gate::check_configured(&p, &c, &cur, false)
            });
        match got {
            Ok(f) if multiset(f.iter().map(report::json)) == want => passed += 1,
            Ok(f) => {
                let got = multiset(f.iter().map(report::json));
                let missing = want.keys().filter(|k| !got.contains_key(*k)).count();
                let extra = got.keys().filter(|k| !want.contains_key(*k)).count();
                report_lines.push(format!("{name}: {missing} missing, {extra} extra"));
            }
            Err(e) => report_lines.push(format!("{name}: {e}")),
        }
    }
    (passed, runnable, report_lines)
}

/// Scores recorded in docs/contract-gate.md (raise them as rules are added).
const WIRE_JSON_FLOOR: usize = 58;
const CASE_CONFIG_FLOOR: usize = 56;

/// A repository's own buf.yaml, honoured as buf honours it: buf's default (FILE) through a
/// buf.yaml that names no rules, PACKAGE by name, and each case's upstream configuration
/// (`use` of single rules, `except`, `ignore`, `ignore_unstable_packages`, v1beta1 roots).
/// Scores are printed per category (docs/contract-gate.md has them); categories whose rules
/// all exist here must match every case.
#[test]
fn bufs_configuration_gives_bufs_verdicts_per_category() {
    let (file, n_file, r_file) = score_configured("expected.default.json", Yaml::Keep);
    let (pkg, n_pkg, r_pkg) = score_configured("expected.package.json", Yaml::Use("PACKAGE"));
    let (wj, n_wj, r_wj) = score_configured("expected.wire_json.json", Yaml::Use("WIRE_JSON"));
    let (case, n_case, r_case) = score_configured("expected.case_config.json", Yaml::Upstream);
    println!(
        "configured: FILE {file}/{n_file}, PACKAGE {pkg}/{n_pkg}, WIRE_JSON {wj}/{n_wj}, each case's own buf.yaml {case}/{n_case}"
    );
    for l in &r_wj {
        println!("  WIRE_JSON: {l}");
    }
    for l in &r_case {
        println!("  case config: {l}");
    }
    // Never fewer than when the docs were written.
    assert!(wj >= WIRE_JSON_FLOOR, "WIRE_JSON {wj} < {WIRE_JSON_FLOOR}");
    assert!(
        case >= CASE_CONFIG_FLOOR,
        "case configs {case} < {CASE_CONFIG_FLOOR}"
    );
    assert!(r_file.is_empty(), "FILE: {r_file:?}");
    assert!(r_pkg.is_empty(), "PACKAGE: {r_pkg:?}");
}
