//! `fd-manifests`: validates Kubernetes + Istio manifests offline.
//!
//! ```text
//! fd-manifests check PATH|-        # files, directories (recursively) or a rendered stream
//!     [--schemas DIR]...           # default: the vendored Kubernetes 1.35 + Istio 1.30 schemas
//!     [--strict]                   # a kind without a schema is an error, not a warning
//! fd-manifests schema --schema FILE PATH   # one YAML file against one JSON schema (e.g. compose)
//! ```
//! Exit 0 valid, 1 invalid, 2 usage or I/O error.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: fd-manifests check PATH|- [--schemas DIR]... [--strict]\n       fd-manifests schema --schema FILE PATH");
    ExitCode::from(2)
}

fn read(path: &str) -> anyhow::Result<Vec<fd_manifests::Doc>> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        fd_manifests::parse("<stdin>", &text)
    } else {
        fd_manifests::load(std::path::Path::new(path))
    }
}

fn run(args: &[String]) -> anyhow::Result<ExitCode> {
    let Some(cmd) = args.first() else {
        return Ok(usage());
    };
    let mut paths = Vec::new();
    let mut dirs = Vec::new();
    let mut schema = None;
    let mut strict = false;
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--schemas" => dirs
                .push(PathBuf::from(it.next().ok_or_else(|| {
                    anyhow::anyhow!("--schemas needs a directory")
                })?)),
            "--schema" => {
                schema = Some(PathBuf::from(
                    it.next()
                        .ok_or_else(|| anyhow::anyhow!("--schema needs a file"))?,
                ))
            }
            "--strict" => strict = true,
            p => paths.push(p.to_string()),
        }
    }
    if paths.is_empty() {
        return Ok(usage());
    }
    let mut docs = Vec::new();
    for p in &paths {
        docs.extend(read(p)?);
    }
    if docs.is_empty() {
        eprintln!("fd-manifests: no documents in {}", paths.join(" "));
        return Ok(ExitCode::from(1));
    }
    let findings = match cmd.as_str() {
        "check" => {
            let mut schemas = if dirs.is_empty() {
                fd_manifests::Schemas::bundled()
            } else {
                fd_manifests::Schemas::new(dirs)
            };
            let report = fd_manifests::check(&docs, &mut schemas)?;
            for w in &report.warnings {
                eprintln!("{} {w}", if strict { "error:" } else { "warning:" });
            }
            if strict && !report.warnings.is_empty() {
                return Ok(ExitCode::from(1));
            }
            eprintln!("checked {} documents", report.documents);
            report.findings
        }
        "schema" => {
            let Some(schema) = schema else {
                return Ok(usage());
            };
            let v = fd_manifests::compile(&schema)?;
            docs.iter()
                .flat_map(|d| fd_manifests::schema_findings(&v, d))
                .collect()
        }
        _ => return Ok(usage()),
    };
    for f in &findings {
        println!("{f}");
    }
    let failing = findings
        .iter()
        .any(|f| strict || f.severity == fd_manifests::Severity::Error);
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fd-manifests: {e:#}");
            ExitCode::from(2)
        }
    }
}
