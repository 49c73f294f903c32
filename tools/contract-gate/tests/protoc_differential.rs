//! Differential test: protoc is the oracle. Over a corpus — the project's `proto/`, both sides
//! of every buf case, and deterministic token-level mutations of them — the gate must accept
//! exactly the trees protoc accepts, and where both refuse, the gate must name a line protoc
//! names. protoc is grpcio-tools' (`.venv`, `make test` installs it).

mod common;
mod differential;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::copy_dir;
use differential::{mutate, Case, Rng, OPERATORS};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let p = std::env::var("FD_PYTHON").map_or_else(|_| repo().join(".venv/bin/python"), Into::into);
    assert!(
        p.exists(),
        "{} is missing: the differential test needs grpcio-tools (make test installs it into .venv)",
        p.display()
    );
    p
}

fn buf_cases() -> PathBuf {
    std::env::var("BUF_CASES").map_or_else(
        |_| repo().join("tools/contract-gate/conformance/buf-breaking"),
        Into::into,
    )
}

/// The originals: `proto/` and both sides of every buf case.
fn corpus() -> Vec<Case> {
    let mut cases = vec![Case::load("proto".into(), repo().join("proto")).expect("proto/")];
    let dir = buf_cases();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        for side in ["previous", "current"] {
            if let Some(c) = Case::load(format!("{name}/{side}"), dir.join(&name).join(side)) {
                cases.push(c);
            }
        }
    }
    cases
}

#[derive(Debug, serde::Deserialize)]
struct Verdict {
    ok: bool,
    errors: Vec<(String, u32, u32, String)>,
}

fn protoc(cases: &[Case]) -> Vec<Verdict> {
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| serde_json::json!({"roots": c.roots, "files": c.files}))
        .collect();
    let mut child = std::process::Command::new(python())
        .arg(repo().join("tools/contract-gate/tests/differential/protoc_oracle.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the protoc oracle");
    let stdin = child.stdin.take().expect("stdin");
    serde_json::to_writer(stdin, &input).expect("write cases");
    let out = child.wait_with_output().expect("oracle output");
    assert!(out.status.success(), "the protoc oracle failed");
    serde_json::from_slice(&out.stdout).expect("oracle JSON")
}

/// Disagreements on where, for a reason that is protoc's, not the gate's: both refuse for the
/// same reason, and the line protoc names is not the element at fault.
fn exception(case: &Case, gate: &fd_contract_gate::LoadError, v: &Verdict) -> Option<&'static str> {
    let same = |s: &str| gate.message.contains(s) && v.errors.iter().any(|e| e.3.contains(s));
    let line = gate
        .pos
        .and_then(|p| {
            let text = std::fs::read_to_string(case.path_of(&gate.path)?).ok()?;
            text.lines().nth(p.line as usize).map(String::from)
        })
        .unwrap_or_default();
    // Features set on an extension range (`extensions 1 to 9 [features.x = y]`) outside
    // editions: protoc names no line, or the line of an unrelated element; the gate names the
    // range.
    if same("Features are only valid under editions.") && line.contains("extensions") {
        return Some("features on an extension range: protoc's location is not the range's");
    }
    None
}

#[derive(Debug)]
enum Outcome {
    Agree,
    /// A documented exception (see [`exception`]).
    Exception(&'static str),
    /// protoc refuses, the gate accepts.
    Missed(String),
    /// The gate refuses what protoc accepts.
    FalseAlarm(String),
    /// Both refuse, the gate at a line protoc does not name.
    WrongPlace(String, String),
}

fn compare(case: &Case, v: &Verdict) -> Outcome {
    let gate = fd_contract_gate::compile_dir(&case.dir);
    match (&gate, v.ok) {
        (Ok(()), true) => Outcome::Agree,
        (Ok(()), false) => Outcome::Missed(
            v.errors
                .first()
                .map(|e| format!("{}:{}:{}: {}", e.0, e.1, e.2, e.3))
                .unwrap_or_default(),
        ),
        (Err(e), true) => Outcome::FalseAlarm(e.to_string()),
        (Err(e), false) => {
            let line = e.pos.map(|p| p.line + 1);
            let same_file = |file: &str| file.ends_with(&e.path) || e.path.ends_with(file);
            let named = v
                .errors
                .iter()
                .any(|(file, l, _, _)| Some(*l) == line && same_file(file));
            // Where protoc names no line in that file (line 0), the file is all it says.
            let unlocated = v.errors.iter().filter(|(f, _, _, _)| same_file(f)).count() > 0
                && v.errors
                    .iter()
                    .filter(|(f, _, _, _)| same_file(f))
                    .all(|(_, l, _, _)| *l == 0);
            let named = named || unlocated;
            if named {
                Outcome::Agree
            } else if let Some(why) = exception(case, e, v) {
                Outcome::Exception(why)
            } else {
                Outcome::WrongPlace(
                    e.to_string(),
                    v.errors
                        .iter()
                        .map(|e| format!("{}:{}:{}: {}", e.0, e.1, e.2, e.3))
                        .collect::<Vec<_>>()
                        .join(" | "),
                )
            }
        }
    }
}

fn oracle_can_judge(case: &Case) -> bool {
    const MISSING: [&str; 3] = [
        "google/protobuf/cpp_features.proto",
        "google/protobuf/java_features.proto",
        "google/protobuf/go_features.proto",
    ];
    case.files.iter().all(|f| {
        let text = case
            .path_of(f)
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        MISSING
            .iter()
            .all(|m| !text.contains(&format!("\"{m}\"")) || case.files.iter().any(|x| x == m))
    })
}

/// Mutants: `n` deterministic single edits of corpus files, written under `dir`.
fn mutants(corpus: &[Case], n: usize, dir: &Path) -> Vec<(Case, String)> {
    let mut out = Vec::new();
    // FD_DIFF_SEED shifts the mutants (the default set is the one make test runs).
    let base: u64 = std::env::var("FD_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut k: u64 = base;
    while out.len() < n && k < base + (n as u64) * 20 {
        k += 1;
        let mut rng = Rng::new(k);
        let op = OPERATORS[(k as usize) % OPERATORS.len()];
        let Some(case) = rng.pick(corpus) else { break };
        let Some(file) = rng.pick(&case.files).cloned() else {
            continue;
        };
        let Some(path) = case.path_of(&file) else {
            continue;
        };
        let Ok(src) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(changed) = mutate(&src, op, &mut rng) else {
            continue;
        };
        if changed == src {
            continue;
        }
        let target = dir.join(format!("m{k}"));
        copy_dir(&case.dir, &target);
        let rel = path.strip_prefix(&case.dir).expect("inside the case");
        std::fs::write(target.join(rel), changed).expect("write mutant");
        let m = Case::load(format!("{} {op} {file} #{k}", case.name), target).expect("mutant");
        out.push((m, op.to_string()));
    }
    out
}

#[test]
fn the_gate_accepts_and_refuses_what_protoc_does() {
    let originals = corpus();
    let n: usize = std::env::var("FD_DIFF_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let dir = tempfile::tempdir().expect("dir");
    let muts = mutants(&originals, n, dir.path());
    let mut all: Vec<(Case, String)> = originals
        .iter()
        .map(|c| (c.clone(), "original".to_string()))
        .collect();
    all.extend(muts);
    // grpcio-tools' protoc lacks the language-feature files protoc's own distribution ships
    // (google/protobuf/{cpp,java,go}_features.proto): trees that import one it does not find
    // cannot be judged by this oracle, and are counted apart.
    let (all, unjudged): (Vec<_>, Vec<_>) = all.into_iter().partition(|(c, _)| oracle_can_judge(c));
    let cases: Vec<Case> = all.iter().map(|(c, _)| c.clone()).collect();
    let verdicts = protoc(&cases);
    assert_eq!(verdicts.len(), cases.len());
    let mut agree = 0;
    let mut refused_by_protoc = 0;
    let mut by_kind: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut exceptions: BTreeMap<&str, usize> = BTreeMap::new();
    for ((case, op), v) in all.iter().zip(&verdicts) {
        if !v.ok {
            refused_by_protoc += 1;
        }
        match compare(case, v) {
            Outcome::Agree => agree += 1,
            Outcome::Exception(why) => {
                agree += 1;
                *exceptions.entry(why).or_insert(0usize) += 1;
            }
            Outcome::Missed(p) => by_kind
                .entry(format!("missed [{op}]"))
                .or_default()
                .push(format!("{}: protoc: {p}", case.name)),
            Outcome::FalseAlarm(g) => by_kind
                .entry(format!("false alarm [{op}]"))
                .or_default()
                .push(format!("{}: gate: {g}", case.name)),
            Outcome::WrongPlace(g, p) => by_kind
                .entry(format!("wrong place [{op}]"))
                .or_default()
                .push(format!("{}: gate: {g} / protoc: {p}", case.name)),
        }
    }
    let originals_judged = all.iter().filter(|(_, op)| op == "original").count();
    println!(
        "differential: the gate agrees with protoc on {agree} of {} trees ({originals_judged} originals, {} mutants; protoc refused {refused_by_protoc}; {} trees import a language-feature file grpcio-tools lacks and are not judged)",
        all.len(),
        all.len() - originals_judged,
        unjudged.len()
    );
    for (why, n) in &exceptions {
        println!("documented exception ({n}): {why}");
    }
    for (kind, items) in &by_kind {
        println!("{kind}: {}", items.len());
        for i in items.iter().take(8) {
            println!("    {i}");
        }
    }
    assert!(by_kind.is_empty(), "disagreements with protoc (above)");
}
