//! `fd-manifests`: validates Kubernetes + Istio manifests offline.
//!
//! ```text
//! fd-manifests check PATH|-        # files, directories (recursively) or a rendered stream
//!     [--schemas DIR]...           # default: the vendored Kubernetes 1.35 + Istio 1.30 schemas
//!     [--strict]                   # a kind without a schema is an error, not a warning
//! fd-manifests analyze PATH|- [--fail-on error|warning|info]   # what istioctl analyze reports
//! fd-manifests schema --schema FILE PATH   # one YAML file against one JSON schema (e.g. compose)
//! ```
//! Exit 0 valid, 1 invalid, 2 usage or I/O error.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Parser, Debug)]
#[command(
    version,
    about = "Validates Kubernetes + Istio manifests offline (exit 0 valid, 1 invalid, 2 usage or I/O error)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Subcommand, Debug)]
enum Cmd {
    /// Strict JSON schemas, then istioctl-analyze-style semantic checks.
    Check {
        /// Files, directories (recursively) or `-` for a rendered stream on stdin.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Schema directories (default: the vendored Kubernetes 1.35 + Istio 1.30 schemas).
        #[arg(long = "schemas")]
        schemas: Vec<PathBuf>,
        /// A kind without a schema is an error, not a warning.
        #[arg(long)]
        strict: bool,
    },
    /// What `istioctl analyze` would report (its codes, levels and origins), offline. Exit 1
    /// on an Error-level message; `--fail-on warning` also on warnings.
    Analyze {
        /// Files, directories (recursively) or `-` for a rendered stream on stdin.
        #[arg(required = true)]
        paths: Vec<String>,
        /// The lowest level that fails: error (default), warning or info.
        #[arg(long, default_value = "error")]
        fail_on: String,
    },
    /// One YAML file against one JSON schema (e.g. the compose spec).
    Schema {
        /// The JSON schema.
        #[arg(long)]
        schema: PathBuf,
        /// Files or `-`.
        #[arg(required = true)]
        paths: Vec<String>,
    },
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

fn load_all(paths: &[String]) -> anyhow::Result<Option<Vec<fd_manifests::Doc>>> {
    let mut docs = Vec::new();
    for p in paths {
        docs.extend(read(p)?);
    }
    if docs.is_empty() {
        eprintln!("fd-manifests: no documents in {}", paths.join(" "));
        return Ok(None);
    }
    Ok(Some(docs))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (findings, strict) = match cli.command {
        Cmd::Check {
            paths,
            schemas,
            strict,
        } => {
            let Some(docs) = load_all(&paths)? else {
                return Ok(ExitCode::from(1));
            };
            let mut schemas = if schemas.is_empty() {
                fd_manifests::Schemas::bundled()
            } else {
                fd_manifests::Schemas::new(schemas)
            };
            let report = fd_manifests::check(&docs, &mut schemas)?;
            for w in &report.warnings {
                eprintln!("{} {w}", if strict { "error:" } else { "warning:" });
            }
            if strict && !report.warnings.is_empty() {
                return Ok(ExitCode::from(1));
            }
            eprintln!("checked {} documents", report.documents);
            (report.findings, strict)
        }
        Cmd::Analyze { paths, fail_on } => {
            use fd_manifests::analyze::Level;
            let threshold = match fail_on.as_str() {
                "error" => Level::Error,
                "warning" => Level::Warning,
                "info" => Level::Info,
                other => {
                    eprintln!("fd-manifests: --fail-on {other}: expected error, warning or info");
                    return Ok(ExitCode::from(2));
                }
            };
            let Some(docs) = load_all(&paths)? else {
                return Ok(ExitCode::from(1));
            };
            let messages = fd_manifests::analyze::analyze(&docs);
            for m in &messages {
                println!("{m}");
            }
            if messages.is_empty() {
                eprintln!(
                    "\u{2714} No validation issues found when analyzing {} documents.",
                    docs.len()
                );
            }
            return Ok(if messages.iter().any(|m| m.level >= threshold) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
        Cmd::Schema { schema, paths } => {
            let Some(docs) = load_all(&paths)? else {
                return Ok(ExitCode::from(1));
            };
            let v = fd_manifests::compile(&schema)?;
            let findings = docs
                .iter()
                .flat_map(|d| fd_manifests::schema_findings(&v, d))
                .collect();
            (findings, false)
        }
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
    use clap::Parser;
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("fd-manifests: {e:#}");
            ExitCode::from(2)
        }
    }
}
