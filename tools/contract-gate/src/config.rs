//! buf's configuration, as a repository that runs `buf breaking` has it: `buf.yaml` v1beta1,
//! v1 and v2 (the `breaking` section: `use`, `except`, `ignore`, `ignore_only`,
//! `ignore_unstable_packages`; v1beta1 `build.roots`; v2 `modules` with their own `breaking`),
//! and `buf.work.yaml` workspaces. Without a `breaking` section buf's default applies: FILE.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::rules::{Finding, FILE_ONLY_RULES, PACKAGE_RULES, WIRE_ONLY_RULES};

/// The rules of one category, as buf defines it.
pub fn category_rules(category: &str) -> Option<Vec<&'static str>> {
    let file: Vec<&'static str> = PACKAGE_RULES
        .iter()
        .copied()
        .filter(|r| !r.starts_with("PACKAGE_"))
        .chain(FILE_ONLY_RULES.iter().copied())
        .collect();
    Some(match category {
        "FILE" => file,
        "PACKAGE" => PACKAGE_RULES.to_vec(),
        "WIRE_JSON" => wire_json_rules(),
        "WIRE" => WIRE_RULES.to_vec(),
        _ => return None,
    })
}

/// buf's WIRE category (as buf 1.75 defines it): what keeps the binary encoding readable.
pub const WIRE_RULES: &[&str] = &[
    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_SAME_DEFAULT",
    "FIELD_SAME_ONEOF",
    "FIELD_WIRE_COMPATIBLE_CARDINALITY",
    "FIELD_WIRE_COMPATIBLE_TYPE",
    "FILE_SAME_PACKAGE",
    "MESSAGE_SAME_REQUIRED_FIELDS",
    "RESERVED_ENUM_NO_DELETE",
    "RESERVED_MESSAGE_NO_DELETE",
    "RPC_SAME_CLIENT_STREAMING",
    "RPC_SAME_IDEMPOTENCY_LEVEL",
    "RPC_SAME_REQUEST_TYPE",
    "RPC_SAME_RESPONSE_TYPE",
    "RPC_SAME_SERVER_STREAMING",
];

/// WIRE_JSON: WIRE's rules with the wire-only compatibility rules swapped for their
/// JSON-aware versions, plus what keeps the JSON encoding readable.
fn wire_json_rules() -> Vec<&'static str> {
    const JSON: &[&str] = &[
        "ENUM_SAME_JSON_FORMAT",
        "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
        "ENUM_VALUE_SAME_NAME",
        "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
        "FIELD_SAME_JSON_NAME",
        "FIELD_SAME_NAME",
        "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
        "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
        "MESSAGE_SAME_JSON_FORMAT",
    ];
    WIRE_RULES
        .iter()
        .copied()
        .filter(|r| !r.starts_with("FIELD_WIRE_COMPATIBLE_"))
        .chain(JSON.iter().copied())
        .collect()
}

/// Every rule this gate can run (buf's that exist here, and the project's).
pub fn known_rule(id: &str) -> bool {
    PACKAGE_RULES.contains(&id)
        || FILE_ONLY_RULES.contains(&id)
        || WIRE_ONLY_RULES.contains(&id)
        || crate::project_rules::PROJECT_RULES.contains(&id)
}

/// buf's rules that this gate does not have (yet): named in `use`, they are refused with a
/// clear message instead of silently checking less than buf would.
pub const NOT_IMPLEMENTED: &[&str] = &[];

/// The `breaking` section.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Breaking {
    /// Categories and rule IDs to run (buf's default: `[FILE]`).
    #[serde(default, rename = "use")]
    pub use_: Vec<String>,
    /// Rule IDs (or categories) not to run.
    #[serde(default)]
    pub except: Vec<String>,
    /// Paths (directories or files) whose findings are dropped.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Per rule (or category): paths whose findings of that rule are dropped.
    #[serde(default)]
    pub ignore_only: BTreeMap<String, Vec<String>>,
    /// Drop findings in packages with an alpha/beta/test version suffix.
    #[serde(default)]
    pub ignore_unstable_packages: bool,
    /// buf v2: refuse comment ignores (lint only in buf; accepted and ignored here).
    #[serde(default)]
    pub disallow_comment_ignores: bool,
    /// buf v2 with plugins: run none of buf's own rules.
    #[serde(default)]
    pub disable_builtin: bool,
}

/// buf's deprecated rule IDs and what they stand for now.
fn alias(id: &str) -> Option<&'static [&'static str]> {
    Some(match id {
        "FIELD_SAME_CTYPE" => &["FIELD_SAME_CPP_STRING_TYPE"],
        "FIELD_SAME_LABEL" => &[
            "FIELD_SAME_CARDINALITY",
            "FIELD_WIRE_COMPATIBLE_CARDINALITY",
            "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
        ],
        "FILE_SAME_JAVA_STRING_CHECK_UTF8" => &["FIELD_SAME_JAVA_UTF8_VALIDATION"],
        // Checked nothing buf still reports.
        "MESSAGE_SAME_MESSAGE_SET_WIRE_FORMAT" | "FILE_SAME_PHP_GENERIC_SERVICES" => &[],
        _ => return None,
    })
}

impl Breaking {
    /// The rule IDs this configuration runs; unknown names are an error.
    pub fn rules(&self) -> Result<BTreeSet<&'static str>, String> {
        let expand = |names: &[String]| -> Result<BTreeSet<&'static str>, String> {
            let mut out = BTreeSet::new();
            let mut expanded: Vec<String> = Vec::new();
            for n in names {
                match alias(n) {
                    Some(ids) => expanded.extend(ids.iter().map(|s| s.to_string())),
                    None => expanded.push(n.clone()),
                }
            }
            for n in &expanded {
                if let Some(rules) = category_rules(n) {
                    out.extend(rules);
                } else if let Some(r) = all_rules().into_iter().find(|r| r == n) {
                    out.insert(r);
                } else if NOT_IMPLEMENTED.contains(&n.as_str()) {
                    return Err(format!(
                        "buf.yaml: breaking rule {n} is not implemented by this gate yet (see docs/contract-gate.md)"
                    ));
                } else {
                    return Err(format!("buf.yaml: unknown breaking rule or category {n:?}"));
                }
            }
            Ok(out)
        };
        if self.disable_builtin {
            return Ok(BTreeSet::new());
        }
        let used = if self.use_.is_empty() {
            category_rules("FILE")
                .unwrap_or_default()
                .into_iter()
                .collect()
        } else {
            expand(&self.use_)?
        };
        let except = expand(&self.except)?;
        Ok(used.difference(&except).copied().collect())
    }

    /// True if `finding` (a path relative to the module, or a deleted file named in the
    /// message) falls under `ignore` or under `ignore_only` for its rule.
    pub fn ignores(&self, finding: &Finding, module_path: Option<&str>) -> bool {
        let Some(path) = module_path else {
            return false;
        };
        if self.ignore.iter().any(|p| under(path, p)) {
            return true;
        }
        self.ignore_only.iter().any(|(rule, paths)| {
            let applies = rule == finding.rule
                || category_rules(rule).is_some_and(|rs| rs.contains(&finding.rule));
            applies && paths.iter().any(|p| under(path, p))
        })
    }
}

fn all_rules() -> Vec<&'static str> {
    PACKAGE_RULES
        .iter()
        .chain(FILE_ONLY_RULES)
        .chain(WIRE_ONLY_RULES)
        .chain(crate::project_rules::PROJECT_RULES)
        .copied()
        .collect()
}

/// `path` is `prefix` or inside the directory `prefix`.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix || path.starts_with(&format!("{prefix}/"))
}

#[derive(Debug, Deserialize)]
struct BufYaml {
    version: Option<String>,
    #[serde(default)]
    build: Option<Build>,
    #[serde(default)]
    breaking: Option<Breaking>,
    #[serde(default)]
    modules: Vec<ModuleYaml>,
    /// buf v2 policies: files with a `breaking` section of their own, run besides the builtin
    /// configuration.
    #[serde(default)]
    policies: Vec<PolicyRef>,
    // Everything else buf.yaml may hold (lint, deps, name, plugins, policies, ...) is not the
    // gate's business.
    #[serde(flatten)]
    _rest: BTreeMap<String, serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
struct Build {
    #[serde(default)]
    roots: Vec<String>,
    #[serde(flatten)]
    _rest: BTreeMap<String, serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
struct ModuleYaml {
    path: String,
    #[serde(default)]
    breaking: Option<Breaking>,
    #[serde(flatten)]
    _rest: BTreeMap<String, serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
struct PolicyRef {
    policy: String,
    #[serde(flatten)]
    _rest: BTreeMap<String, serde_norway::Value>,
}

/// A policy file: like a buf.yaml, its `breaking` section is what counts here.
#[derive(Debug, Deserialize)]
struct PolicyYaml {
    #[serde(default)]
    breaking: Option<Breaking>,
    #[serde(flatten)]
    _rest: BTreeMap<String, serde_norway::Value>,
}

#[derive(Debug, Deserialize)]
struct WorkYaml {
    #[serde(default)]
    directories: Vec<String>,
}

/// One module: where its files are (relative to the input directory), and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module's root, relative to the input directory (`.` for the directory itself).
    pub path: String,
    /// The `breaking` configuration in force for it.
    pub breaking: Breaking,
    /// True if `ignore` paths are relative to the input directory (v2), not to the module (v1).
    pub ignore_from_workspace: bool,
    /// Policies (buf v2): each a `breaking` configuration run besides the module's own.
    pub policies: Vec<(String, Breaking)>,
}

impl Module {
    /// Every configuration whose findings are reported: the builtin one (unless
    /// `disable_builtin`) and each policy's.
    pub fn sources(&self) -> Vec<&Breaking> {
        let mut out = Vec::new();
        if !self.breaking.disable_builtin {
            out.push(&self.breaking);
        }
        out.extend(self.policies.iter().map(|(_, b)| b));
        out
    }
}

/// What a directory's buf configuration says: its modules and their rules. `explicit` is false
/// when no file configured `breaking` (buf's default, FILE, applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub modules: Vec<Module>,
    pub explicit: bool,
}

/// Reads `buf.work.yaml` or `buf.yaml` in `dir` (neither: one module, buf's defaults).
pub fn read(dir: &Path) -> Result<Config, String> {
    let work = dir.join("buf.work.yaml");
    if work.is_file() {
        let text =
            std::fs::read_to_string(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        let w: WorkYaml =
            serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", work.display()))?;
        let mut modules = Vec::new();
        let mut explicit = false;
        for d in w.directories {
            let sub = read_buf_yaml(&dir.join(&d))?;
            explicit |= sub.explicit;
            for m in sub.modules {
                modules.push(Module {
                    path: join(&d, &m.path),
                    ..m
                });
            }
        }
        return Ok(Config { modules, explicit });
    }
    read_buf_yaml(dir)
}

fn join(a: &str, b: &str) -> String {
    match (a.trim_end_matches('/'), b) {
        (a, ".") => a.to_string(),
        (".", b) => b.to_string(),
        (a, b) => format!("{a}/{b}"),
    }
}

fn read_buf_yaml(dir: &Path) -> Result<Config, String> {
    let path = dir.join("buf.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Config {
            modules: vec![Module {
                path: ".".into(),
                breaking: Breaking::default(),
                ignore_from_workspace: false,
                policies: Vec::new(),
            }],
            explicit: false,
        });
    };
    let y: BufYaml =
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let version = y.version.as_deref().unwrap_or("v1beta1");
    let mut policies = Vec::new();
    for p in &y.policies {
        let file = dir.join(&p.policy);
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let py: PolicyYaml =
            serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        policies.push((p.policy.clone(), py.breaking.unwrap_or_default()));
    }
    let explicit = y.breaking.is_some()
        || y.modules.iter().any(|m| m.breaking.is_some())
        || !y.policies.is_empty();
    let top = y.breaking.unwrap_or_default();
    let modules = match version {
        "v2" => {
            if y.modules.is_empty() {
                vec![Module {
                    path: ".".into(),
                    breaking: top,
                    ignore_from_workspace: true,
                    policies: policies.clone(),
                }]
            } else {
                y.modules
                    .into_iter()
                    .map(|m| Module {
                        path: m.path.trim_end_matches('/').to_string(),
                        breaking: m.breaking.unwrap_or_else(|| top.clone()),
                        ignore_from_workspace: true,
                        policies: policies.clone(),
                    })
                    .collect()
            }
        }
        "v1" | "v1beta1" => {
            let roots = y.build.map(|b| b.roots).unwrap_or_default();
            if roots.is_empty() {
                vec![Module {
                    path: ".".into(),
                    breaking: top,
                    ignore_from_workspace: false,
                    policies: Vec::new(),
                }]
            } else {
                roots
                    .into_iter()
                    .map(|r| Module {
                        path: r.trim_end_matches('/').to_string(),
                        breaking: top.clone(),
                        ignore_from_workspace: false,
                        policies: Vec::new(),
                    })
                    .collect()
            }
        }
        other => return Err(format!("{}: unknown version {other:?}", path.display())),
    };
    Ok(Config { modules, explicit })
}

/// The module roots of `dir` as directories.
pub fn module_dirs(dir: &Path) -> Vec<PathBuf> {
    match read(dir) {
        Ok(c) => c
            .modules
            .iter()
            .map(|m| {
                if m.path == "." {
                    dir.to_path_buf()
                } else {
                    dir.join(&m.path)
                }
            })
            .collect(),
        Err(_) => vec![dir.to_path_buf()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_and_rules_expand_and_except_removes() {
        let b = Breaking {
            use_: vec!["FILE".into()],
            except: vec!["FIELD_NO_DELETE".into()],
            ..Default::default()
        };
        let r = b.rules().expect("valid");
        assert!(r.contains("MESSAGE_NO_DELETE") && r.contains("FIELD_SAME_TYPE"));
        assert!(!r.contains("FIELD_NO_DELETE") && !r.contains("PACKAGE_NO_DELETE"));
        let default = Breaking::default().rules().expect("valid");
        assert_eq!(
            default,
            category_rules("FILE").expect("FILE").into_iter().collect()
        );
        let bad = Breaking {
            use_: vec!["NOPE".into()],
            ..Default::default()
        };
        assert!(bad.rules().expect_err("unknown").contains("NOPE"));
    }

    #[test]
    fn ignore_paths_are_directories_or_files() {
        assert!(under("a/c/c.proto", "a/c"));
        assert!(under("a/c/c.proto", "a/c/"));
        assert!(under("no_package.proto", "no_package.proto"));
        assert!(!under("a/cc/c.proto", "a/c"));
    }
}
