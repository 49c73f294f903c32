//! File-level rules: syntax, package and the codegen file options.

use super::*;

pub(super) enum OptKind {
    Str,
    Bool(bool),
    Enum(&'static str),
}

pub(super) const FILE_OPTIONS: &[(&str, &str, OptKind)] = &[
    ("FILE_SAME_JAVA_PACKAGE", "java_package", OptKind::Str),
    (
        "FILE_SAME_JAVA_OUTER_CLASSNAME",
        "java_outer_classname",
        OptKind::Str,
    ),
    (
        "FILE_SAME_JAVA_MULTIPLE_FILES",
        "java_multiple_files",
        OptKind::Bool(false),
    ),
    ("FILE_SAME_GO_PACKAGE", "go_package", OptKind::Str),
    (
        "FILE_SAME_OBJC_CLASS_PREFIX",
        "objc_class_prefix",
        OptKind::Str,
    ),
    (
        "FILE_SAME_CSHARP_NAMESPACE",
        "csharp_namespace",
        OptKind::Str,
    ),
    ("FILE_SAME_SWIFT_PREFIX", "swift_prefix", OptKind::Str),
    (
        "FILE_SAME_PHP_CLASS_PREFIX",
        "php_class_prefix",
        OptKind::Str,
    ),
    ("FILE_SAME_PHP_NAMESPACE", "php_namespace", OptKind::Str),
    (
        "FILE_SAME_PHP_METADATA_NAMESPACE",
        "php_metadata_namespace",
        OptKind::Str,
    ),
    ("FILE_SAME_RUBY_PACKAGE", "ruby_package", OptKind::Str),
    (
        "FILE_SAME_OPTIMIZE_FOR",
        "optimize_for",
        OptKind::Enum("SPEED"),
    ),
    (
        "FILE_SAME_CC_GENERIC_SERVICES",
        "cc_generic_services",
        OptKind::Bool(false),
    ),
    (
        "FILE_SAME_JAVA_GENERIC_SERVICES",
        "java_generic_services",
        OptKind::Bool(false),
    ),
    (
        "FILE_SAME_PY_GENERIC_SERVICES",
        "py_generic_services",
        OptKind::Bool(false),
    ),
    (
        "FILE_SAME_CC_ENABLE_ARENAS",
        "cc_enable_arenas",
        OptKind::Bool(true),
    ),
];

pub(super) fn file_option_value(f: &File, name: &str, kind: &OptKind) -> String {
    let o = find_option(&f.options, &[name]);
    match kind {
        OptKind::Str => o.and_then(|o| o.value.as_string()).unwrap_or_default(),
        OptKind::Bool(d) => o.and_then(|o| o.value.as_bool()).unwrap_or(*d).to_string(),
        OptKind::Enum(d) => o
            .and_then(|o| o.value.as_ident().map(str::to_string))
            .unwrap_or_else(|| (*d).to_string()),
    }
}

pub(super) fn syntax_name(s: &Syntax) -> &'static str {
    match s {
        Syntax::Proto2 => "proto2",
        Syntax::Proto3 => "proto3",
        Syntax::Editions(_) => "editions",
    }
}

pub(super) fn files(prev: &Index<'_>, cur: &Index<'_>, out: &mut Out) {
    for (path, pf) in &prev.files {
        let Some(cf) = cur.files.get(path) else {
            continue;
        };
        for (rule, name, kind) in FILE_OPTIONS {
            let (a, b) = (
                file_option_value(pf, name, kind),
                file_option_value(cf, name, kind),
            );
            if a != b {
                let span = find_option(&cf.options, &[name]).map(|o| o.span);
                out.at(
                    cf,
                    span,
                    rule,
                    format!("File option \"{name}\" changed from \"{a}\" to \"{b}\"."),
                );
            }
        }
        let (a, b) = (syntax_name(&pf.syntax), syntax_name(&cf.syntax));
        if a != b {
            out.at(
                cf,
                cf.syntax_span,
                "FILE_SAME_SYNTAX",
                format!("File syntax changed from \"{a}\" to \"{b}\"."),
            );
        }
        if pf.package != cf.package {
            out.at(
                cf,
                cf.package_span,
                "FILE_SAME_PACKAGE",
                format!(
                    "File package changed from \"{}\" to \"{}\".",
                    pf.package, cf.package
                ),
            );
        }
    }
}
