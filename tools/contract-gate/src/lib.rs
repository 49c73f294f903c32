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
    let mut f = match opts.category {
        Category::Package => rules::check_package(prev, cur),
        Category::File => rules::check_file(prev, cur),
    };
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

/// Compares the proto tree in `cur` with the one in `prev`.
pub fn check_dirs(prev: &Path, cur: &Path, opts: Options) -> Result<Vec<Finding>, LoadError> {
    let p = Tree::load_dir(prev)?;
    let c = Tree::load_dir(cur)?;
    check(&p, &c, opts)
}
