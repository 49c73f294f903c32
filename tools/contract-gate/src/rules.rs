//! buf's breaking-change rules of the PACKAGE category, with buf's rule IDs, locations and
//! messages, plus the project's own rules (see [`crate::project_rules`]). One file per element:
//! `files`, `packages`, `messages`, `enums`, `services`, `fields`, `defaults`.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::*;
use crate::lexer::Span;
use crate::model::*;

mod defaults;
mod enums;
mod fields;
mod files;
mod messages;
mod packages;
mod services;

use defaults::*;
use enums::*;
pub use fields::json_name;
use fields::*;
use files::*;
use messages::*;
use packages::*;
use services::*;

/// One breaking change: where (in the current tree), which rule, and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// Path relative to the current module root; `None` when the element no longer has a file.
    pub path: Option<String>,
    /// `None` means the file as a whole (reported as 1:1).
    pub span: Option<Span>,
    pub rule: &'static str,
    pub message: String,
}

/// Every rule ID this gate checks, buf's PACKAGE category first.
pub const PACKAGE_RULES: &[&str] = &[
    "ENUM_SAME_JSON_FORMAT",
    "ENUM_SAME_TYPE",
    "ENUM_VALUE_NO_DELETE",
    "ENUM_VALUE_SAME_NAME",
    "EXTENSION_MESSAGE_NO_DELETE",
    "FIELD_NO_DELETE",
    "FIELD_SAME_CARDINALITY",
    "FIELD_SAME_CPP_STRING_TYPE",
    "FIELD_SAME_DEFAULT",
    "FIELD_SAME_JAVA_UTF8_VALIDATION",
    "FIELD_SAME_JSON_NAME",
    "FIELD_SAME_JSTYPE",
    "FIELD_SAME_NAME",
    "FIELD_SAME_ONEOF",
    "FIELD_SAME_TYPE",
    "FIELD_SAME_UTF8_VALIDATION",
    "FILE_SAME_CC_ENABLE_ARENAS",
    "FILE_SAME_CC_GENERIC_SERVICES",
    "FILE_SAME_CSHARP_NAMESPACE",
    "FILE_SAME_GO_PACKAGE",
    "FILE_SAME_JAVA_GENERIC_SERVICES",
    "FILE_SAME_JAVA_MULTIPLE_FILES",
    "FILE_SAME_JAVA_OUTER_CLASSNAME",
    "FILE_SAME_JAVA_PACKAGE",
    "FILE_SAME_OBJC_CLASS_PREFIX",
    "FILE_SAME_OPTIMIZE_FOR",
    "FILE_SAME_PACKAGE",
    "FILE_SAME_PHP_CLASS_PREFIX",
    "FILE_SAME_PHP_METADATA_NAMESPACE",
    "FILE_SAME_PHP_NAMESPACE",
    "FILE_SAME_PY_GENERIC_SERVICES",
    "FILE_SAME_RUBY_PACKAGE",
    "FILE_SAME_SWIFT_PREFIX",
    "FILE_SAME_SYNTAX",
    "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR",
    "MESSAGE_SAME_JSON_FORMAT",
    "MESSAGE_SAME_REQUIRED_FIELDS",
    "ONEOF_NO_DELETE",
    "PACKAGE_ENUM_NO_DELETE",
    "PACKAGE_EXTENSION_NO_DELETE",
    "PACKAGE_MESSAGE_NO_DELETE",
    "PACKAGE_NO_DELETE",
    "PACKAGE_SERVICE_NO_DELETE",
    "RESERVED_ENUM_NO_DELETE",
    "RESERVED_MESSAGE_NO_DELETE",
    "RPC_NO_DELETE",
    "RPC_SAME_CLIENT_STREAMING",
    "RPC_SAME_IDEMPOTENCY_LEVEL",
    "RPC_SAME_REQUEST_TYPE",
    "RPC_SAME_RESPONSE_TYPE",
    "RPC_SAME_SERVER_STREAMING",
];

pub(super) struct Out {
    findings: Vec<Finding>,
}

impl Out {
    pub(super) fn at(
        &mut self,
        file: &File,
        span: Option<Span>,
        rule: &'static str,
        message: String,
    ) {
        self.findings.push(Finding {
            path: Some(file.display.clone()),
            span,
            rule,
            message,
        });
    }
    pub(super) fn nowhere(&mut self, rule: &'static str, message: String) {
        self.findings.push(Finding {
            path: None,
            span: None,
            rule,
            message,
        });
    }
}

/// Rules of buf's WIRE_JSON and WIRE categories that are in neither FILE nor PACKAGE.
pub const WIRE_ONLY_RULES: &[&str] = &[
    "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
    "FIELD_WIRE_COMPATIBLE_CARDINALITY",
    "FIELD_WIRE_COMPATIBLE_TYPE",
    "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
    "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
];

/// buf's FILE category (its default): the PACKAGE rules' comparisons, with deletions counted
/// per file (`FILE_NO_DELETE`, `MESSAGE_NO_DELETE`, ...) instead of per package.
pub const FILE_ONLY_RULES: &[&str] = &[
    "ENUM_NO_DELETE",
    "EXTENSION_NO_DELETE",
    "FILE_NO_DELETE",
    "MESSAGE_NO_DELETE",
    "SERVICE_NO_DELETE",
];

/// How elements of the two trees are paired: by full name (PACKAGE) or by full name within
/// the same file (FILE: an element that moved to another file is a deletion, not a change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Package,
    File,
}

/// Runs every PACKAGE rule on `cur` against `prev`.
pub fn check_package(prev: &Index<'_>, cur: &Index<'_>) -> Vec<Finding> {
    check_scope(prev, cur, Scope::Package)
}

/// Runs every FILE rule on `cur` against `prev`.
pub fn check_file(prev: &Index<'_>, cur: &Index<'_>) -> Vec<Finding> {
    check_scope(prev, cur, Scope::File)
}

fn check_scope(prev: &Index<'_>, cur: &Index<'_>, scope: Scope) -> Vec<Finding> {
    let mut out = Out {
        findings: Vec::new(),
    };
    files(prev, cur, &mut out);
    match scope {
        Scope::Package => packages(prev, cur, &mut out),
        Scope::File => file_deletions(prev, cur, &mut out),
    }
    // PACKAGE pairs elements by full name; FILE by file path and name within the file's
    // package (a file whose package changed still pairs its elements).
    // Changes are compared by full name in both categories (buf pairs elements across the
    // module: an element that moved to another file is still compared); only deletions
    // differ.
    let key = |_path: &str, full: &str, _nested: &str| (String::new(), full.to_string());
    let cur_msgs: BTreeMap<(String, String), &MsgInfo<'_>> = cur
        .messages
        .values()
        .map(|m| (key(&m.file.path, &m.full_name, &m.nested_name), m))
        .collect();
    // Messages, then their fields by number.
    for pm in prev.messages.values() {
        if let Some(cm) = cur_msgs.get(&key(&pm.file.path, &pm.full_name, &pm.nested_name)) {
            message_pair(pm, cm, &mut out);
            for (n, p) in &pm.fields {
                if let Some(c) = cm.fields.get(n) {
                    field_pair(prev, cur, p, c, &mut out);
                }
            }
        }
    }
    let cur_enums: BTreeMap<(String, String), &EnumInfo<'_>> = cur
        .enums
        .values()
        .map(|e| (key(&e.file.path, &e.full_name, &e.nested_name), e))
        .collect();
    for pe in prev.enums.values() {
        if let Some(ce) = cur_enums.get(&key(&pe.file.path, &pe.full_name, &pe.nested_name)) {
            enum_pair(pe, ce, &mut out);
        }
    }
    let cur_svcs: BTreeMap<(String, String), &ServiceInfo<'_>> = cur
        .services
        .values()
        .map(|s| (key(&s.file.path, &s.full_name, &s.svc.name), s))
        .collect();
    for ps in prev.services.values() {
        if let Some(cs) = cur_svcs.get(&key(&ps.file.path, &ps.full_name, &ps.svc.name)) {
            service_pair(prev, cur, ps, cs, &mut out);
        }
    }
    // Extensions by (extendee, number).
    let ext_key = |x: &FieldInfo<'_>| {
        let extendee = x.extendee.clone().unwrap_or_default();
        (String::new(), extendee, x.field.number)
    };
    let cur_ext: BTreeMap<(String, String, i64), &FieldInfo<'_>> =
        cur.extensions.iter().map(|x| (ext_key(x), x)).collect();
    for p in &prev.extensions {
        if let Some(c) = cur_ext.get(&ext_key(p)) {
            field_pair(prev, cur, p, c, &mut out);
        }
    }
    let mut f = out.findings;
    f.sort();
    f
}
