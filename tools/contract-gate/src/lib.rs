//! The contract gate: compares a proto tree with a baseline and reports every change that is
//! not additive.
//!
//! * buf's `breaking` rules of the PACKAGE category, with buf's rule IDs, locations and
//!   messages ([`rules`]); checked against buf's own test cases in `tools/contract-gate/conformance`.
//! * The project's own rules ([`project_rules`]): version-suffixed packages, and events (messages
//!   marked with an `event` option) that must never disappear or lose their marker.
//!
//! Parsing is our own ([`parser`]): protox, which the services' build uses, does not read
//! `edition = "2023"` files, and buf's verdicts on editions are part of the contract.

pub mod ast;
pub mod config;
pub mod lexer;
pub mod model;
pub mod parser;
pub mod project_rules;
pub mod report;
pub mod rules;
pub mod validate;

use std::path::Path;

pub use model::{Index, LoadError, Tree};
pub use rules::Finding;

/// buf's breaking-rule categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Deletions and changes per file (buf's default).
    File,
    /// Deletions per package: an element may move between files of its package.
    Package,
}

/// Which rules to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Also run the project's rules (version suffix, events). Off = exactly buf's set.
    pub project_rules: bool,
    /// Skip findings in packages with an alpha/beta/test version suffix (buf's
    /// `ignore_unstable_packages`).
    pub ignore_unstable_packages: bool,
    /// buf's category: PACKAGE (this project's policy) or FILE (buf's default).
    pub category: Category,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            project_rules: true,
            ignore_unstable_packages: false,
            category: Category::Package,
        }
    }
}

/// Compares two parsed trees (resolving their names first: unresolvable ones are errors).
pub fn check(prev: &Tree, cur: &Tree, opts: Options) -> Result<Vec<Finding>, LoadError> {
    Ok(check_index(&prev.index()?, &cur.index()?, opts))
}

/// Compares two resolved trees.
pub fn check_index(prev: &Index<'_>, cur: &Index<'_>, opts: Options) -> Vec<Finding> {
    let (mut f, name) = match opts.category {
        Category::Package => (rules::check_package(prev, cur), "PACKAGE"),
        Category::File => (rules::check_file(prev, cur), "FILE"),
    };
    let wanted = config::category_rules(name).unwrap_or_default();
    f.retain(|x| wanted.contains(&x.rule));
    if opts.project_rules {
        f.extend(project_rules::check(prev, cur));
    }
    if opts.ignore_unstable_packages {
        f.retain(|x| !project_rules::finding_in_unstable_package(x, prev, cur));
    }
    f.sort();
    f.dedup();
    f
}

/// Loads the tree in `dir` and reports the first compile error protoc would report (see
/// [`model::Index`] and the validation it runs), if any.
pub fn compile_dir(dir: &Path) -> Result<(), LoadError> {
    let t = Tree::load_dir(dir)?;
    t.index()?;
    Ok(())
}

/// Compares `cur` with `prev` the way `buf breaking` would with the buf configuration in
/// `cur` (`buf.yaml`/`buf.work.yaml`: rules, except, ignore, ignore_only, unstable packages;
/// buf's default FILE without one), plus the project's rules if `project_rules`.
pub fn check_configured(
    prev: &Tree,
    cur: &Tree,
    cur_dir: &Path,
    project_rules: bool,
) -> Result<Vec<Finding>, String> {
    let cfg = config::read(cur_dir)?;
    let (pi, ci) = (
        prev.index().map_err(|e| e.to_string())?,
        cur.index().map_err(|e| e.to_string())?,
    );
    check_index_configured(&pi, &ci, &cfg, project_rules)
}

/// [`check_configured`] on resolved trees.
pub fn check_index_configured(
    prev: &Index<'_>,
    cur: &Index<'_>,
    cfg: &config::Config,
    project_rules: bool,
) -> Result<Vec<Finding>, String> {
    let mut all = rules::check_file(prev, cur);
    all.extend(rules::check_package(prev, cur));
    if project_rules {
        all.extend(project_rules::check(prev, cur));
    }
    all.sort();
    all.dedup();
    // Each module's configurations with their rule sets, expanded once.
    let sources = cfg
        .modules
        .iter()
        .map(|m| {
            m.sources()
                .into_iter()
                .map(|b| Ok((b, b.rules()?)))
                .collect::<Result<Vec<_>, String>>()
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Which module a finding is in (its index), and its path as `ignore` paths are written.
    let module_of = |f: &Finding| -> Option<(usize, Option<String>)> {
        let Some(display) = &f.path else {
            // FILE_NO_DELETE names the file by its path in the module already.
            let deleted = (f.rule == "FILE_NO_DELETE")
                .then(|| f.message.split('"').nth(1).map(str::to_string))
                .flatten();
            return (!cfg.modules.is_empty()).then_some((0, deleted));
        };
        cfg.modules
            .iter()
            .enumerate()
            .filter(|(_, m)| m.path == "." || display.starts_with(&format!("{}/", m.path)))
            .max_by_key(|(_, m)| m.path.len())
            .map(|(i, m)| {
                let shown = if m.path == "." || m.ignore_from_workspace {
                    display.clone()
                } else {
                    display[m.path.len() + 1..].to_string()
                };
                (i, Some(shown))
            })
    };
    let mut out = Vec::new();
    for f in all {
        let Some((i, path)) = module_of(&f) else {
            continue;
        };
        let m = &cfg.modules[i];
        // Looked up only when a configuration asks: a deleted file names no package of its
        // own in the finding, so its package is the previous file's.
        let unstable = || {
            let deleted_file_unstable = f.rule == "FILE_NO_DELETE"
                && f.message.split('"').nth(1).is_some_and(|p| {
                    prev.files
                        .get(p)
                        .is_some_and(|pf| project_rules::is_unstable(&pf.package))
                });
            deleted_file_unstable || project_rules::finding_in_unstable_package(&f, prev, cur)
        };
        let is_project = project_rules::PROJECT_RULES.contains(&f.rule);
        // Reported if the builtin configuration or a policy runs the rule and keeps it.
        let reported = (is_project && !(m.breaking.ignore_unstable_packages && unstable()))
            || sources[i].iter().any(|(b, rules)| {
                rules.contains(f.rule)
                    && !b.ignores(&f, path.as_deref())
                    && !(b.ignore_unstable_packages && unstable())
            });
        if reported {
            out.push(f);
        }
    }
    Ok(out)
}

/// Compares the proto tree in `cur` with the one in `prev`.
pub fn check_dirs(prev: &Path, cur: &Path, opts: Options) -> Result<Vec<Finding>, LoadError> {
    let p = Tree::load_dir(prev)?;
    let c = Tree::load_dir(cur)?;
    check(&p, &c, opts)
}
