//! `contract-gate`: fails (exit 100) when a proto tree changed in a way that is not additive.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use fd_contract_gate::report::Format;
use fd_contract_gate::{check_index_configured, config, report, Index, LoadError, Tree};

#[derive(Parser, Debug)]
#[command(
    name = "contract-gate",
    version,
    about = "Reports every change to a proto tree that is not additive, as `buf breaking` does with the tree's buf.yaml (and more)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Compare INPUT with a baseline: a directory, a git ref, or the released lock.
    Check {
        /// The proto tree to check.
        #[arg(default_value = "proto")]
        input: PathBuf,
        /// Baseline directory.
        #[arg(long, conflicts_with = "against_git")]
        against: Option<PathBuf>,
        /// Baseline at a git ref (like buf's `--against .git#ref=...`): INPUT's path at REF.
        #[arg(long, value_name = "REF")]
        against_git: Option<String>,
        /// Output format: text, json, github-actions, junit, msvs or gitlab-code-quality
        /// (buf's shapes).
        #[arg(long, default_value = "text")]
        error_format: Format,
        /// Also the project's rules: version-suffixed packages, events that never disappear.
        #[arg(long)]
        project_rules: bool,
        /// Accepted for compatibility: buf's rules only is the default.
        #[arg(long, hide = true)]
        buf_only: bool,
        /// Ignore findings in alpha/beta/test packages.
        #[arg(long)]
        ignore_unstable_packages: bool,
    },
    /// Record INPUT as the released contracts in LOCK, only if it passes the gate against LOCK.
    Release {
        #[arg(default_value = "proto")]
        input: PathBuf,
        /// The lock directory (a copy of the released .proto files).
        #[arg(long)]
        lock: PathBuf,
        /// Also the project's rules (see `check`).
        #[arg(long)]
        project_rules: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn load(dir: &Path) -> Result<Tree, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    verify_lock(dir)?;
    Tree::load_dir(dir).map_err(|e: LoadError| format!("{}", prefix(dir, e)))
}

/// Loads the tree to compare against: if it does not compile, it is reported as such and
/// nothing is compared (a baseline protoc refuses proves nothing about compatibility).
fn load_baseline(dir: &Path) -> Result<Tree, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    verify_lock(dir)?;
    Tree::load_dir(dir).map_err(|e| format!("the baseline does not compile: {}", prefix(dir, e)))
}

fn index_baseline<'t>(tree: &'t Tree, dir: &Path) -> Result<Index<'t>, String> {
    tree.index()
        .map_err(|e| format!("the baseline does not compile: {}", prefix(dir, e)))
}

/// Resolves a loaded tree; compile errors name the file under `dir`.
fn index<'t>(tree: &'t Tree, dir: &Path) -> Result<Index<'t>, String> {
    tree.index().map_err(|e| format!("{}", prefix(dir, e)))
}

const LOCK_FILE: &str = "contracts.lock";

/// 64-bit FNV-1a: enough to notice a hand edit of a released file.
fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The released `.proto` files under `dir`: (path relative to `dir`, contents), by path.
fn proto_files(dir: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for p in fd_contract_gate::model::proto_files(dir)? {
        let rel = p
            .strip_prefix(dir)
            .unwrap_or(&p)
            .to_string_lossy()
            .replace('\\', "/");
        out.push((rel, std::fs::read(&p)?));
    }
    out.sort();
    Ok(out)
}

fn lock_manifest(files: &[(String, Vec<u8>)]) -> String {
    let mut s = String::from("# Released contracts: written by `make contracts-release` (contract-gate release) only\n# when proto/ passes the gate against this directory. Do not edit by hand.\n");
    for (p, body) in files {
        s.push_str(&format!("{:016x}  {p}\n", fnv64(body)));
    }
    s
}

/// A directory with a `contracts.lock` must hold exactly the files it lists, unchanged.
fn verify_lock(dir: &Path) -> Result<(), String> {
    let Ok(manifest) = std::fs::read_to_string(dir.join(LOCK_FILE)) else {
        return Ok(());
    };
    let files = proto_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if lock_manifest(&files) != manifest {
        return Err(format!(
            "{}: the released contracts differ from {LOCK_FILE}: the lock was edited by hand. Restore it (git checkout) and release with `make contracts-release`.",
            dir.display()
        ));
    }
    Ok(())
}

fn prefix(dir: &Path, mut e: LoadError) -> LoadError {
    if !Path::new(&e.path).is_absolute() && !e.path.starts_with(&*dir.to_string_lossy()) {
        e.path = dir.join(&e.path).display().to_string();
    }
    e
}

fn run(cli: Cli) -> Result<u8, String> {
    match cli.cmd {
        Cmd::Check {
            input,
            against,
            against_git,
            error_format,
            project_rules,
            buf_only: _,
            ignore_unstable_packages,
        } => {
            let cur = load(&input)?;
            let ci = index(&cur, &input)?;
            let (prev, prev_dir, _tmp) = match (against, against_git) {
                (Some(dir), None) => (load_baseline(&dir)?, dir, None),
                (None, Some(r)) => {
                    let tmp = git_export(&r, &input)?;
                    (load_baseline(&tmp.0)?, tmp.0.clone(), Some(tmp))
                }
                _ => {
                    return Err(
                        "contract-gate check: give --against DIR or --against-git REF".into(),
                    )
                }
            };
            let cfg = configuration(&input, ignore_unstable_packages)?;
            let findings = check_index_configured(
                &index_baseline(&prev, &prev_dir)?,
                &ci,
                &cfg,
                project_rules,
            )?;
            let shown: Vec<_> = findings.iter().map(|f| prefixed(f, &input)).collect();
            print!("{}", report::render(error_format, &shown));
            Ok(if findings.is_empty() { 0 } else { 100 })
        }
        Cmd::Release {
            input,
            lock,
            project_rules,
        } => {
            let cur = load(&input)?;
            let ci = index(&cur, &input)?;
            if lock.is_dir() {
                let prev = load_baseline(&lock)?;
                let cfg = configuration(&input, false)?;
                let findings = check_index_configured(
                    &index_baseline(&prev, &lock)?,
                    &ci,
                    &cfg,
                    project_rules,
                )?;
                if !findings.is_empty() {
                    for f in &findings {
                        eprintln!("{}", report::text_with_rule(&prefixed(f, &input)));
                    }
                    eprintln!(
                        "not released: {} breaking change(s) against {}",
                        findings.len(),
                        lock.display()
                    );
                    return Ok(100);
                }
            }
            copy_protos(&input, &lock).map_err(|e| format!("{}: {e}", lock.display()))?;
            let files = proto_files(&lock).map_err(|e| format!("{}: {e}", lock.display()))?;
            std::fs::write(lock.join(LOCK_FILE), lock_manifest(&files))
                .map_err(|e| format!("{}: {e}", lock.display()))?;
            println!(
                "released {} file(s) of {} into {}",
                cur.files.len(),
                input.display(),
                lock.display()
            );
            Ok(0)
        }
    }
}

/// INPUT's buf configuration (`buf.yaml`, `buf.work.yaml`), with `--ignore-unstable-packages`.
fn configuration(input: &Path, ignore_unstable: bool) -> Result<config::Config, String> {
    let mut cfg = config::read(input)?;
    for m in &mut cfg.modules {
        m.breaking.ignore_unstable_packages |= ignore_unstable;
        for (_, p) in &mut m.policies {
            p.ignore_unstable_packages |= ignore_unstable;
        }
        // A rule buf.yaml names that does not exist is an error before anything runs.
        for b in m.sources() {
            b.rules()?;
        }
    }
    Ok(cfg)
}

/// The finding with its path as given on the command line (INPUT/path), as buf prints it.
fn prefixed(f: &fd_contract_gate::Finding, input: &Path) -> fd_contract_gate::Finding {
    let mut f = f.clone();
    let base = input.to_string_lossy();
    let base = base.trim_start_matches("./").trim_end_matches('/');
    f.path = f.path.map(|p| {
        if base.is_empty() || base == "." {
            p
        } else {
            format!("{base}/{p}")
        }
    });
    f
}

/// Replaces the .proto files under `lock` with those under `input`.
fn copy_protos(input: &Path, lock: &Path) -> std::io::Result<()> {
    if lock.exists() {
        std::fs::remove_dir_all(lock)?;
    }
    fn walk(src: &Path, dst: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dst)?;
        for e in std::fs::read_dir(src)? {
            let e = e?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                walk(&p, &dst.join(e.file_name()))?;
            } else if p.extension().is_some_and(|x| x == "proto" || x == "yaml") {
                std::fs::copy(&p, dst.join(e.file_name()))?;
            }
        }
        Ok(())
    }
    walk(input, lock)
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes INPUT's files as of git ref `r` into a temporary directory.
fn git_export(r: &str, input: &Path) -> Result<TempDir, String> {
    let git = |args: &[&str]| -> Result<Vec<u8>, String> {
        let out = Command::new("git")
            .args(args)
            .output()
            .map_err(|e| format!("git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(out.stdout)
    };
    let abs = std::fs::canonicalize(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let top = String::from_utf8_lossy(&git(&[
        "-C",
        &abs.to_string_lossy(),
        "rev-parse",
        "--show-toplevel",
    ])?)
    .trim()
    .to_string();
    let rel = abs
        .strip_prefix(&top)
        .map_err(|_| "input is not inside the git work tree".to_string())?;
    let rel = rel.to_string_lossy().replace('\\', "/");
    let list = git(&["-C", &top, "ls-tree", "-r", "--name-only", r, "--", &rel])?;
    let tmp = TempDir(std::env::temp_dir().join(format!(
        "contract-gate-{}-{}",
        std::process::id(),
        r.replace(['/', ':'], "_")
    )));
    std::fs::create_dir_all(&tmp.0).map_err(|e| e.to_string())?;
    for name in String::from_utf8_lossy(&list).lines() {
        if !name.ends_with(".proto") {
            continue;
        }
        let body = git(&["-C", &top, "show", &format!("{r}:{name}")])?;
        let local = name.strip_prefix(&format!("{rel}/")).unwrap_or(name);
        let dst = tmp.0.join(local);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(&dst, body).map_err(|e| e.to_string())?;
    }
    Ok(tmp)
}
