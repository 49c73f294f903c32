//! buf's breaking-change rules of the PACKAGE category, with buf's rule IDs, locations and
//! messages, plus the project's own rules (see [`crate::extra`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::*;
use crate::lexer::Span;
use crate::model::*;

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

struct Out {
    findings: Vec<Finding>,
}

impl Out {
    fn at(&mut self, file: &File, span: Option<Span>, rule: &'static str, message: String) {
        self.findings.push(Finding {
            path: Some(file.display.clone()),
            span,
            rule,
            message,
        });
    }
    fn nowhere(&mut self, rule: &'static str, message: String) {
        self.findings.push(Finding {
            path: None,
            span: None,
            rule,
            message,
        });
    }
}

/// Runs every PACKAGE rule on `cur` against `prev`.
pub fn check_package(prev: &Index<'_>, cur: &Index<'_>) -> Vec<Finding> {
    let mut out = Out {
        findings: Vec::new(),
    };
    files(prev, cur, &mut out);
    packages(prev, cur, &mut out);
    // Messages, then their fields by number.
    for (name, pm) in &prev.messages {
        if let Some(cm) = cur.messages.get(name) {
            message_pair(pm, cm, &mut out);
            for (n, p) in &pm.fields {
                if let Some(c) = cm.fields.get(n) {
                    field_pair(prev, cur, p, c, &mut out);
                }
            }
        }
    }
    for (name, pe) in &prev.enums {
        if let Some(ce) = cur.enums.get(name) {
            enum_pair(pe, ce, &mut out);
        }
    }
    for (name, ps) in &prev.services {
        if let Some(cs) = cur.services.get(name) {
            service_pair(prev, cur, ps, cs, &mut out);
        }
    }
    // Extensions by (extendee, number).
    let cur_ext: BTreeMap<(String, i64), &FieldInfo<'_>> = cur
        .extensions
        .iter()
        .map(|x| ((x.extendee.clone().unwrap_or_default(), x.field.number), x))
        .collect();
    for p in &prev.extensions {
        if let Some(c) = cur_ext.get(&(p.extendee.clone().unwrap_or_default(), p.field.number)) {
            field_pair(prev, cur, p, c, &mut out);
        }
    }
    let mut f = out.findings;
    f.sort();
    f
}

// ---------------------------------------------------------------- files

enum OptKind {
    Str,
    Bool(bool),
    Enum(&'static str),
}

const FILE_OPTIONS: &[(&str, &str, OptKind)] = &[
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

fn file_option_value(f: &File, name: &str, kind: &OptKind) -> String {
    let o = find_option(&f.options, &[name]);
    match kind {
        OptKind::Str => o.and_then(|o| o.value.as_string()).unwrap_or_default(),
        OptKind::Bool(d) => o.and_then(|o| o.value.as_bool()).unwrap_or(*d).to_string(),
        OptKind::Enum(d) => o
            .and_then(|o| o.value.as_ident().map(str::to_string))
            .unwrap_or_else(|| (*d).to_string()),
    }
}

fn syntax_name(s: &Syntax) -> &'static str {
    match s {
        Syntax::Proto2 => "proto2",
        Syntax::Proto3 => "proto3",
        Syntax::Editions(_) => "editions",
    }
}

fn files(prev: &Index<'_>, cur: &Index<'_>, out: &mut Out) {
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

// ---------------------------------------------------------------- packages

fn packages(prev: &Index<'_>, cur: &Index<'_>, out: &mut Out) {
    let pkgs = |ix: &Index<'_>| {
        ix.files
            .values()
            .map(|f| f.package.clone())
            .collect::<BTreeSet<_>>()
    };
    let (pp, cp) = (pkgs(prev), pkgs(cur));
    for p in pp.difference(&cp) {
        out.nowhere(
            "PACKAGE_NO_DELETE",
            format!("Previously present package \"{p}\" was deleted."),
        );
    }
    let live = |pkg: &str| cp.contains(pkg);

    // Messages: the package-wide nested names locate the closest surviving parent.
    let cur_msgs_by_pkg: BTreeMap<(String, String), &MsgInfo<'_>> = cur
        .messages
        .values()
        .map(|m| ((m.file.package.clone(), m.nested_name.clone()), m))
        .collect();
    for pm in prev.messages.values() {
        let pkg = &pm.file.package;
        if !live(pkg) || cur_msgs_by_pkg.contains_key(&(pkg.clone(), pm.nested_name.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present message \"{}\" was deleted from package \"{}\".",
            pm.nested_name, pkg
        );
        match cur.files.get(pm.file.path.as_str()) {
            Some(cf) => {
                let parent = parent_names(&pm.nested_name)
                    .find_map(|p| cur_msgs_by_pkg.get(&(pkg.clone(), p)));
                match parent {
                    Some(m) => out.at(m.file, Some(m.msg.span), "PACKAGE_MESSAGE_NO_DELETE", msg),
                    None => out.at(cf, None, "PACKAGE_MESSAGE_NO_DELETE", msg),
                }
            }
            None => out.nowhere("PACKAGE_MESSAGE_NO_DELETE", msg),
        }
    }
    // Enums and extensions: the parent is looked up in the same file only.
    let cur_enums: BTreeSet<(String, String)> = cur
        .enums
        .values()
        .map(|e| (e.file.package.clone(), e.nested_name.clone()))
        .collect();
    for pe in prev.enums.values() {
        let pkg = &pe.file.package;
        if !live(pkg) || cur_enums.contains(&(pkg.clone(), pe.nested_name.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present enum \"{}\" was deleted from package \"{}\".",
            pe.nested_name, pkg
        );
        deleted_in_file(
            cur,
            &pe.file.path,
            &pe.nested_name,
            "PACKAGE_ENUM_NO_DELETE",
            msg,
            out,
        );
    }
    let ext_nested = |x: &FieldInfo<'_>| -> String {
        let pkg = &x.file.package;
        if pkg.is_empty() {
            x.full_name.clone()
        } else {
            x.full_name
                .strip_prefix(&format!("{pkg}."))
                .unwrap_or(&x.full_name)
                .to_string()
        }
    };
    let cur_exts: BTreeSet<(String, String)> = cur
        .extensions
        .iter()
        .map(|x| (x.file.package.clone(), ext_nested(x)))
        .collect();
    for px in &prev.extensions {
        let pkg = &px.file.package;
        let nested = ext_nested(px);
        if !live(pkg) || cur_exts.contains(&(pkg.clone(), nested.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present extension \"{nested}\" was deleted from package \"{pkg}\"."
        );
        deleted_in_file(
            cur,
            &px.file.path,
            &nested,
            "PACKAGE_EXTENSION_NO_DELETE",
            msg,
            out,
        );
    }
    let cur_svcs: BTreeSet<(String, String)> = cur
        .services
        .values()
        .map(|s| (s.file.package.clone(), s.svc.name.clone()))
        .collect();
    for ps in prev.services.values() {
        let pkg = &ps.file.package;
        if !live(pkg) || cur_svcs.contains(&(pkg.clone(), ps.svc.name.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present service \"{}\" was deleted from package \"{}\".",
            ps.svc.name, pkg
        );
        match cur.files.get(ps.file.path.as_str()) {
            Some(cf) => out.at(cf, None, "PACKAGE_SERVICE_NO_DELETE", msg),
            None => out.nowhere("PACKAGE_SERVICE_NO_DELETE", msg),
        }
    }
}

/// `A.B.C` → `A.B`, `A`.
fn parent_names(nested: &str) -> impl Iterator<Item = String> + '_ {
    let parts: Vec<&str> = nested.split('.').collect();
    (1..parts.len()).rev().map(move |i| parts[..i].join("."))
}

fn deleted_in_file(
    cur: &Index<'_>,
    path: &str,
    nested: &str,
    rule: &'static str,
    msg: String,
    out: &mut Out,
) {
    let Some(cf) = cur.files.get(path) else {
        out.nowhere(rule, msg);
        return;
    };
    let in_file: BTreeMap<&str, &MsgInfo<'_>> = cur
        .messages
        .values()
        .filter(|m| m.file.path == path)
        .map(|m| (m.nested_name.as_str(), m))
        .collect();
    match parent_names(nested).find_map(|p| in_file.get(p.as_str()).copied()) {
        Some(m) => out.at(cf, Some(m.msg.span), rule, msg),
        None => out.at(cf, None, rule, msg),
    }
}

// ---------------------------------------------------------------- messages

fn message_pair(pm: &MsgInfo<'_>, cm: &MsgInfo<'_>, out: &mut Out) {
    let cf = cm.file;
    let name = &cm.msg.name;
    // MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR
    let acc = |m: &Message| {
        find_option(&m.options, &["no_standard_descriptor_accessor"])
            .and_then(|o| o.value.as_bool())
            .unwrap_or(false)
    };
    if !acc(pm.msg) && acc(cm.msg) {
        let span =
            find_option(&cm.msg.options, &["no_standard_descriptor_accessor"]).map(|o| o.span);
        out.at(cf, span, "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR", "Message option \"no_standard_descriptor_accessor\" changed from \"false\" to \"true\".".into());
    }
    // MESSAGE_SAME_JSON_FORMAT
    let (pj, cj) = (
        feature(&pm.chain, pm.file, "json_format"),
        feature(&cm.chain, cf, "json_format"),
    );
    if pj == "ALLOW" && cj != "ALLOW" {
        let span = feature_span(&cm.msg.options, "json_format").unwrap_or(cm.msg.span);
        out.at(
            cf,
            Some(span),
            "MESSAGE_SAME_JSON_FORMAT",
            format!("Message \"{name}\" JSON format support changed from {pj} to {cj}."),
        );
    }
    let (pfields, cfields) = (&pm.fields, &cm.fields);
    // MESSAGE_SAME_REQUIRED_FIELDS
    let required = |f: &BTreeMap<i64, FieldInfo<'_>>| -> BTreeMap<i64, Span> {
        f.iter()
            .filter(|(_, x)| x.field.label == Label::Required)
            .map(|(n, x)| (*n, x.field.span))
            .collect()
    };
    let (pr, cr) = (required(pfields), required(cfields));
    for n in pr.keys() {
        if !cr.contains_key(n) {
            out.at(cf, Some(cm.msg.span), "MESSAGE_SAME_REQUIRED_FIELDS", format!("Message \"{}\" had required field \"{n}\" deleted. Required fields must always be sent, so if one side does not know about the required field, this will result in a breakage.", pm.msg.name));
        }
    }
    for (n, sp) in &cr {
        if !pr.contains_key(n) {
            out.at(cf, Some(*sp), "MESSAGE_SAME_REQUIRED_FIELDS", format!("Message \"{name}\" had required field \"{n}\" added. Required fields must always be sent, so if one side does not know about the required field, this will result in a breakage."));
        }
    }
    // ONEOF_NO_DELETE
    let cur_oneofs: BTreeSet<&str> = cm.msg.oneofs.iter().map(|o| o.name.as_str()).collect();
    for o in &pm.msg.oneofs {
        if !cur_oneofs.contains(o.name.as_str()) {
            out.at(
                cf,
                Some(cm.msg.span),
                "ONEOF_NO_DELETE",
                format!(
                    "Previously present oneof \"{}\" on message \"{name}\" was deleted.",
                    o.name
                ),
            );
        }
    }
    // FIELD_NO_DELETE
    for (n, pfi) in pfields {
        if !cfields.contains_key(n) {
            let d = field_description(pfi);
            let d = lower_first(&d);
            out.at(
                cf,
                Some(cm.msg.span),
                "FIELD_NO_DELETE",
                format!("Previously present {d} was deleted."),
            );
        }
    }
    // EXTENSION_MESSAGE_NO_DELETE / RESERVED_MESSAGE_NO_DELETE
    let max = if find_option(&cm.msg.options, &["message_set_wire_format"])
        .and_then(|o| o.value.as_bool())
        == Some(true)
    {
        2_147_483_646
    } else {
        536_870_911
    };
    tag_ranges(
        cf,
        cm.msg.span,
        "extension",
        "message",
        name,
        &pm.msg.extension_ranges,
        &cm.msg.extension_ranges,
        max,
        "EXTENSION_MESSAGE_NO_DELETE",
        out,
    );
    tag_ranges(
        cf,
        cm.msg.span,
        "reserved",
        "message",
        name,
        &pm.msg.reserved_ranges,
        &cm.msg.reserved_ranges,
        max,
        "RESERVED_MESSAGE_NO_DELETE",
        out,
    );
    reserved_names(
        cf,
        cm.msg.span,
        "message",
        name,
        &pm.msg.reserved_names,
        &cm.msg.reserved_names,
        "RESERVED_MESSAGE_NO_DELETE",
        out,
    );
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn tag_ranges(
    file: &File,
    span: Span,
    range_kind: &str,
    element_kind: &str,
    name: &str,
    prev: &[Range],
    cur: &[Range],
    max: i64,
    rule: &'static str,
    out: &mut Out,
) {
    if prev.is_empty() {
        return;
    }
    let collapsed = collapse(cur);
    for r in prev {
        let missing = find_missing(r.start, r.end, &collapsed);
        if missing.is_empty() {
            continue;
        }
        let fmt_range = |s: i64, e: i64| {
            if s == e {
                format!("[{s}]")
            } else if e == max {
                format!("[{s},max]")
            } else {
                format!("[{s},{e}]")
            }
        };
        let removed: Vec<String> = missing.iter().map(|(s, e)| fmt_range(*s, *e)).collect();
        out.at(
            file,
            Some(span),
            rule,
            format!("Previously present {range_kind} range \"{}\" on {element_kind} \"{name}\" is missing values: {} were removed.", fmt_range(r.start, r.end), removed.join(", ")),
        );
    }
}

fn collapse(ranges: &[Range]) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = ranges.iter().map(|r| (r.start, r.end)).collect();
    v.sort();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn find_missing(start: i64, end: i64, collapsed: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut missing = Vec::new();
    let mut s = start;
    for &(a, b) in collapsed {
        if b < s {
            continue;
        }
        if a > end {
            break;
        }
        if a > s {
            missing.push((s, a.saturating_sub(1)));
        }
        s = b.saturating_add(1);
        if s > end {
            break;
        }
    }
    if s <= end {
        missing.push((s, end));
    }
    missing
}

#[allow(clippy::too_many_arguments)]
fn reserved_names(
    file: &File,
    span: Span,
    element_kind: &str,
    name: &str,
    prev: &[String],
    cur: &[String],
    rule: &'static str,
    out: &mut Out,
) {
    let cur: BTreeSet<&str> = cur.iter().map(String::as_str).collect();
    let prev: BTreeSet<&str> = prev.iter().map(String::as_str).collect();
    for p in prev {
        if !cur.contains(p) {
            out.at(file, Some(span), rule, format!("Previously present reserved name \"{p}\" on {element_kind} \"{name}\" was deleted."));
        }
    }
}

// ---------------------------------------------------------------- enums

fn is_closed(e: &EnumInfo<'_>) -> bool {
    feature(&e.chain, e.file, "enum_type") == "CLOSED"
}

fn enum_pair(pe: &EnumInfo<'_>, ce: &EnumInfo<'_>, out: &mut Out) {
    let cf = ce.file;
    let name = &ce.en.name;
    if is_closed(pe) != is_closed(ce) {
        let (a, b) = if is_closed(ce) {
            ("open", "closed")
        } else {
            ("closed", "open")
        };
        let span = feature_span(&ce.en.options, "enum_type").unwrap_or(ce.en.span);
        out.at(
            cf,
            Some(span),
            "ENUM_SAME_TYPE",
            format!("Enum \"{name}\" changed from {a} to {b}."),
        );
    }
    let (pj, cj) = (
        feature(&pe.chain, pe.file, "json_format"),
        feature(&ce.chain, cf, "json_format"),
    );
    if pj == "ALLOW" && cj != "ALLOW" {
        let span = feature_span(&ce.en.options, "json_format").unwrap_or(ce.en.span);
        out.at(
            cf,
            Some(span),
            "ENUM_SAME_JSON_FORMAT",
            format!("Enum \"{name}\" JSON format support changed from {pj} to {cj}."),
        );
    }
    fn by_number(e: &Enum) -> BTreeMap<i64, Vec<&EnumValue>> {
        let mut m: BTreeMap<i64, Vec<&EnumValue>> = BTreeMap::new();
        for v in &e.values {
            m.entry(v.number).or_default().push(v);
        }
        m
    }
    let (pv, cv) = (by_number(pe.en), by_number(ce.en));
    for n in pv.keys() {
        if !cv.contains_key(n) {
            out.at(
                cf,
                Some(ce.en.span),
                "ENUM_VALUE_NO_DELETE",
                format!("Previously present enum value \"{n}\" on enum \"{name}\" was deleted."),
            );
        }
    }
    for (n, pvals) in &pv {
        let Some(cvals) = cv.get(n) else { continue };
        let mut pnames: Vec<&str> = pvals.iter().map(|v| v.name.as_str()).collect();
        let mut cnames: Vec<&str> = cvals.iter().map(|v| v.name.as_str()).collect();
        pnames.sort();
        pnames.dedup();
        cnames.sort();
        cnames.dedup();
        if pnames.iter().all(|p| cnames.contains(p)) {
            continue;
        }
        let quote = |v: &[&str]| {
            v.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let suffix = if pnames.len() > 1 && cnames.len() > 1 {
            "s"
        } else {
            ""
        };
        for v in cvals {
            out.at(
                cf,
                Some(v.number_span),
                "ENUM_VALUE_SAME_NAME",
                format!(
                    "Enum value \"{n}\" on enum \"{name}\" changed name{suffix} from {} to {}.",
                    quote(&pnames),
                    quote(&cnames)
                ),
            );
        }
    }
    tag_ranges(
        cf,
        ce.en.span,
        "reserved",
        "enum",
        name,
        &pe.en.reserved_ranges,
        &ce.en.reserved_ranges,
        2_147_483_647,
        "RESERVED_ENUM_NO_DELETE",
        out,
    );
    reserved_names(
        cf,
        ce.en.span,
        "enum",
        name,
        &pe.en.reserved_names,
        &ce.en.reserved_names,
        "RESERVED_ENUM_NO_DELETE",
        out,
    );
}

// ---------------------------------------------------------------- services

fn service_pair(
    prev: &Index<'_>,
    cur: &Index<'_>,
    ps: &ServiceInfo<'_>,
    cs: &ServiceInfo<'_>,
    out: &mut Out,
) {
    let cf = cs.file;
    let sname = &cs.svc.name;
    let cur_methods: BTreeMap<&str, &Method> = cs
        .svc
        .methods
        .iter()
        .map(|m| (m.name.as_str(), m))
        .collect();
    for pm in &ps.svc.methods {
        let Some(cm) = cur_methods.get(pm.name.as_str()) else {
            out.at(
                cf,
                Some(cs.svc.span),
                "RPC_NO_DELETE",
                format!(
                    "Previously present RPC \"{}\" on service \"{sname}\" was deleted.",
                    pm.name
                ),
            );
            continue;
        };
        let mname = &cm.name;
        let stream = |b: bool| if b { "streaming" } else { "unary" };
        if pm.client_streaming != cm.client_streaming {
            out.at(
                cf,
                Some(cm.span),
                "RPC_SAME_CLIENT_STREAMING",
                format!(
                    "RPC \"{mname}\" on service \"{sname}\" changed from client {} to client {}.",
                    stream(pm.client_streaming),
                    stream(cm.client_streaming)
                ),
            );
        }
        if pm.server_streaming != cm.server_streaming {
            out.at(
                cf,
                Some(cm.span),
                "RPC_SAME_SERVER_STREAMING",
                format!(
                    "RPC \"{mname}\" on service \"{sname}\" changed from server {} to server {}.",
                    stream(pm.server_streaming),
                    stream(cm.server_streaming)
                ),
            );
        }
        let res = |ix: &Index<'_>, t: &str, scope: &str| {
            ix.resolve(t, scope)
                .map(|r| r.0)
                .unwrap_or_else(|| t.trim_start_matches('.').to_string())
        };
        let (pi, ci) = (
            res(prev, &pm.input, &ps.full_name),
            res(cur, &cm.input, &cs.full_name),
        );
        if pi != ci {
            out.at(cf, Some(cm.input_span), "RPC_SAME_REQUEST_TYPE", format!("RPC \"{mname}\" on service \"{sname}\" changed request type from \"{pi}\" to \"{ci}\"."));
        }
        let (po, co) = (
            res(prev, &pm.output, &ps.full_name),
            res(cur, &cm.output, &cs.full_name),
        );
        if po != co {
            out.at(cf, Some(cm.output_span), "RPC_SAME_RESPONSE_TYPE", format!("RPC \"{mname}\" on service \"{sname}\" changed response type from \"{po}\" to \"{co}\"."));
        }
        let idem = |m: &Method| {
            find_option(&m.options, &["idempotency_level"])
                .and_then(|o| o.value.as_ident().map(str::to_string))
                .unwrap_or_else(|| "IDEMPOTENCY_UNKNOWN".into())
        };
        let (pl, cl) = (idem(pm), idem(cm));
        if pl != cl {
            let span = find_option(&cm.options, &["idempotency_level"]).map(|o| o.span);
            out.at(cf, span, "RPC_SAME_IDEMPOTENCY_LEVEL", format!("RPC \"{mname}\" on service \"{sname}\" changed option \"idempotency_level\" from \"{pl}\" to \"{cl}\"."));
        }
    }
}

// ---------------------------------------------------------------- fields

fn field_description(f: &FieldInfo<'_>) -> String {
    let name = if f.extendee.is_some() {
        f.full_name.clone()
    } else {
        f.field.name.clone()
    };
    field_description_with_name(f, &name)
}

fn field_description_with_name(f: &FieldInfo<'_>, name: &str) -> String {
    let name = if name.is_empty() {
        String::new()
    } else {
        format!(" with name \"{name}\"")
    };
    let n = f.field.number;
    match &f.extendee {
        Some(e) => format!("Extension \"{n}\"{name} on message \"{e}\""),
        None => format!(
            "Field \"{n}\"{name} on message \"{}\"",
            f.parent.map(|p| p.name.as_str()).unwrap_or("")
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cardinality {
    Explicit,
    Implicit,
    Required,
    Repeated,
    Map,
}

impl Cardinality {
    fn name(self) -> &'static str {
        match self {
            Cardinality::Explicit => "optional with explicit presence",
            Cardinality::Implicit => "optional with implicit presence",
            Cardinality::Required => "required",
            Cardinality::Repeated => "repeated",
            Cardinality::Map => "map",
        }
    }
}

fn is_editions(f: &File) -> bool {
    matches!(f.syntax, Syntax::Editions(_))
}

fn cardinality(f: &FieldInfo<'_>) -> Cardinality {
    if f.field.is_map {
        return Cardinality::Map;
    }
    if f.field.label == Label::Repeated {
        return Cardinality::Repeated;
    }
    if f.field.label == Label::Required
        || (is_editions(f.file) && feature(&f.chain, f.file, "field_presence") == "LEGACY_REQUIRED")
    {
        return Cardinality::Required;
    }
    if has_presence(f) {
        Cardinality::Explicit
    } else {
        Cardinality::Implicit
    }
}

fn has_presence(f: &FieldInfo<'_>) -> bool {
    if f.field.label == Label::Repeated || f.field.is_map {
        return false;
    }
    let msg = matches!(f.kind, Kind::Message | Kind::Group);
    let oneof = f.field.oneof.is_some() && f.extendee.is_none();
    match f.file.syntax {
        Syntax::Proto2 => true,
        Syntax::Proto3 => msg || oneof || f.field.label == Label::Optional || f.extendee.is_some(),
        Syntax::Editions(_) => {
            msg || oneof
                || f.extendee.is_some()
                || feature(&f.chain, f.file, "field_presence") != "IMPLICIT"
        }
    }
}

fn type_name_span(f: &Field) -> Span {
    match f.ty {
        TypeRef::Group(_) => f.name_span,
        _ => f.type_span,
    }
}

fn pretty_kind(f: &FieldInfo<'_>) -> &'static str {
    if f.kind == Kind::Group && !matches!(f.file.syntax, Syntax::Proto2) {
        "message (delimited encoding)"
    } else {
        f.kind.name()
    }
}

fn declared_scalar(f: &Field) -> Option<Scalar> {
    match f.ty {
        TypeRef::Scalar(s) => Some(s),
        _ => None,
    }
}

fn field_pair(
    prev: &Index<'_>,
    cur: &Index<'_>,
    p: &FieldInfo<'_>,
    c: &FieldInfo<'_>,
    out: &mut Out,
) {
    let cf = c.file;
    let desc = field_description(c);
    let both_map_entries = p.parent_is_map_entry && c.parent_is_map_entry;
    // FIELD_SAME_CARDINALITY
    if !both_map_entries {
        let (a, b) = (cardinality(p), cardinality(c));
        if a != b {
            out.at(
                cf,
                Some(c.field.span),
                "FIELD_SAME_CARDINALITY",
                format!(
                    "{desc} changed cardinality from \"{}\" to \"{}\".",
                    a.name(),
                    b.name()
                ),
            );
        }
    }
    // FIELD_SAME_CPP_STRING_TYPE
    let strlike = |k: Kind| matches!(k, Kind::Scalar(Scalar::String | Scalar::Bytes));
    if !both_map_entries && strlike(p.kind) && strlike(c.kind) {
        let (pt, pp) = cpp_string_type(p);
        let (ct, cp) = cpp_string_type(c);
        if (pt != ct || pp != cp) && !(pp && ct == "STRING") {
            let show = |t: &str, piece: bool| {
                if piece {
                    "STRING_PIECE".to_string()
                } else {
                    t.to_string()
                }
            };
            let span = find_option(&c.field.options, &["ctype"])
                .or_else(|| find_option(&c.field.options, &["features", "(pb.cpp)", "string_type"]))
                .map(|o| o.span)
                .unwrap_or(c.field.span);
            out.at(
                cf,
                Some(span),
                "FIELD_SAME_CPP_STRING_TYPE",
                format!(
                    "{desc} changed C++ string type from \"{}\" to \"{}\".",
                    show(&pt, pp),
                    show(&ct, cp)
                ),
            );
        }
    }
    let is_string = |k: Kind| k == Kind::Scalar(Scalar::String);
    // FIELD_SAME_JAVA_UTF8_VALIDATION
    if is_string(p.kind) && is_string(c.kind) {
        let (a, b) = (java_utf8(p), java_utf8(c));
        if a != b {
            let span = find_option(&cf.options, &["java_string_check_utf8"])
                .or_else(|| {
                    find_option(
                        &c.field.options,
                        &["features", "(pb.java)", "utf8_validation"],
                    )
                })
                .map(|o| o.span)
                .unwrap_or(c.field.span);
            out.at(
                cf,
                Some(span),
                "FIELD_SAME_JAVA_UTF8_VALIDATION",
                format!("{desc} changed Java string UTF8 validation from \"{a}\" to \"{b}\"."),
            );
        }
    }
    // FIELD_SAME_JSTYPE
    let is64 = |f: &Field| {
        matches!(
            declared_scalar(f),
            Some(
                Scalar::Int64
                    | Scalar::Sint64
                    | Scalar::Uint64
                    | Scalar::Fixed64
                    | Scalar::Sfixed64
            )
        )
    };
    if is64(p.field) && is64(c.field) {
        let js = |f: &Field| {
            find_option(&f.options, &["jstype"])
                .and_then(|o| o.value.as_ident().map(str::to_string))
                .unwrap_or_else(|| "JS_NORMAL".into())
        };
        let (a, b) = (js(p.field), js(c.field));
        if a != b {
            let span = find_option(&c.field.options, &["jstype"])
                .map(|o| o.span)
                .unwrap_or(c.field.span);
            out.at(
                cf,
                Some(span),
                "FIELD_SAME_JSTYPE",
                format!("{desc} changed option \"jstype\" from \"{a}\" to \"{b}\"."),
            );
        }
    }
    // FIELD_SAME_TYPE
    let trim = |s: &Option<String>| {
        s.clone()
            .unwrap_or_default()
            .trim_start_matches('.')
            .to_string()
    };
    if p.kind != c.kind {
        let span = if matches!(c.kind, Kind::Message | Kind::Enum | Kind::Group) {
            type_name_span(c.field)
        } else {
            c.field.type_span
        };
        out.at(
            cf,
            Some(span),
            "FIELD_SAME_TYPE",
            format!(
                "{desc} changed type from \"{}\" to \"{}\".",
                pretty_kind(p),
                pretty_kind(c)
            ),
        );
    } else if matches!(c.kind, Kind::Message | Kind::Enum | Kind::Group)
        && p.type_name != c.type_name
    {
        out.at(
            cf,
            Some(type_name_span(c.field)),
            "FIELD_SAME_TYPE",
            format!(
                "{desc} changed type from \"{}\" to \"{}\".",
                trim(&p.type_name),
                trim(&c.type_name)
            ),
        );
    }
    // FIELD_SAME_UTF8_VALIDATION
    if is_string(p.kind) && is_string(c.kind) {
        let (a, b) = (
            feature(&p.chain, p.file, "utf8_validation"),
            feature(&c.chain, cf, "utf8_validation"),
        );
        if a != b {
            let span = feature_span(&c.field.options, "utf8_validation").unwrap_or(c.field.span);
            out.at(
                cf,
                Some(span),
                "FIELD_SAME_UTF8_VALIDATION",
                format!("{desc} changed UTF8 validation from {a} to {b}."),
            );
        }
    }
    // FIELD_SAME_JSON_NAME
    if p.extendee.is_none() {
        let (a, b) = (json_name(p.field), json_name(c.field));
        if a != b {
            let span = find_option(&c.field.options, &["json_name"])
                .map(|o| o.span)
                .unwrap_or(c.field.span);
            out.at(
                cf,
                Some(span),
                "FIELD_SAME_JSON_NAME",
                format!("{desc} changed option \"json_name\" from \"{a}\" to \"{b}\"."),
            );
        }
    }
    // FIELD_SAME_NAME
    let (a, b) = if p.extendee.is_some() {
        (p.full_name.clone(), c.full_name.clone())
    } else {
        (p.field.name.clone(), c.field.name.clone())
    };
    if a != b {
        out.at(
            cf,
            Some(c.field.name_span),
            "FIELD_SAME_NAME",
            format!(
                "{} changed name from \"{a}\" to \"{b}\".",
                field_description_with_name(c, "")
            ),
        );
    }
    // FIELD_SAME_DEFAULT
    field_same_default(prev, cur, p, c, &desc, out);
    // FIELD_SAME_ONEOF
    if p.extendee.is_none() {
        let oneof = |f: &FieldInfo<'_>| {
            f.field
                .oneof
                .and_then(|i| f.parent.map(|m| m.oneofs[i].name.clone()))
        };
        match (oneof(p), oneof(c)) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                if a != b {
                    out.at(
                        cf,
                        Some(c.field.span),
                        "FIELD_SAME_ONEOF",
                        format!("{desc}q moved from oneof \"{a}\" to oneof \"{b}\"."),
                    );
                }
            }
            (a, _) => {
                let (x, y) = if a.is_some() {
                    ("inside", "outside")
                } else {
                    ("outside", "inside")
                };
                out.at(
                    cf,
                    Some(c.field.span),
                    "FIELD_SAME_ONEOF",
                    format!("{desc} moved from {x} to {y} a oneof."),
                );
            }
        }
    }
}

fn cpp_string_type(f: &FieldInfo<'_>) -> (String, bool) {
    let edition_2024 = matches!(&f.file.syntax, Syntax::Editions(e) if e.as_str() >= "2024");
    if !edition_2024 {
        if let Some(v) = find_option(&f.field.options, &["ctype"]).and_then(|o| o.value.as_ident())
        {
            match v {
                "CORD" => return ("CORD".into(), false),
                "STRING_PIECE" => return ("STRING".into(), true),
                "STRING" => return ("STRING".into(), false),
                _ => {}
            }
        }
    }
    match lang_feature(&f.chain, f.file, "(pb.cpp)", "string_type") {
        Some(v) => (v, false),
        None => (if edition_2024 { "VIEW" } else { "STRING" }.into(), false),
    }
}

fn java_utf8(f: &FieldInfo<'_>) -> String {
    let default = feature(&f.chain, f.file, "utf8_validation");
    let opt = find_option(&f.file.options, &["java_string_check_utf8"]);
    if !is_editions(f.file) || opt.is_some() {
        if opt.and_then(|o| o.value.as_bool()) == Some(true) {
            return "VERIFY".into();
        }
        return default;
    }
    if lang_feature(&f.chain, f.file, "(pb.java)", "utf8_validation").as_deref() == Some("VERIFY") {
        return "VERIFY".into();
    }
    default
}

/// protoc's default JSON name: `foo_bar` → `fooBar`.
pub fn json_name(f: &Field) -> String {
    if let Some(s) = find_option(&f.options, &["json_name"]).and_then(|o| o.value.as_string()) {
        return s;
    }
    let mut out = String::new();
    let mut up = false;
    for ch in f.name.chars() {
        if ch == '_' {
            up = true;
        } else if up {
            out.extend(ch.to_uppercase());
            up = false;
        } else {
            out.push(ch);
        }
    }
    out
}

// ---------------------------------------------------------------- defaults

#[derive(Debug, Clone, PartialEq)]
enum DefVal {
    Str(Vec<u8>, bool),
    Bool(bool),
    Int(i128),
    F32(f32),
    F64(f64),
    Enum(i64, String),
}

impl DefVal {
    fn is_zero(&self) -> bool {
        match self {
            DefVal::Str(b, _) => b.is_empty(),
            DefVal::Bool(b) => !b,
            DefVal::Int(i) => *i == 0,
            DefVal::F32(f) => *f == 0.0 && f.is_sign_positive(),
            DefVal::F64(f) => *f == 0.0 && f.is_sign_positive(),
            DefVal::Enum(n, _) => *n == 0,
        }
    }
    fn printable(&self) -> String {
        match self {
            DefVal::Str(b, true) => format!(
                "[{}]",
                b.iter()
                    .map(|x| format!("0x{x:X}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            DefVal::Str(b, false) => go_quote(&String::from_utf8_lossy(b)),
            DefVal::Bool(b) => b.to_string(),
            DefVal::Int(i) => i.to_string(),
            DefVal::F32(f) => go_float(f64::from(*f), format!("{f:e}")),
            DefVal::F64(f) => go_float(*f, format!("{f:e}")),
            DefVal::Enum(_, p) => p.clone(),
        }
    }
    fn num(&self) -> Option<f64> {
        match self {
            DefVal::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            DefVal::Int(i) => Some(*i as f64),
            DefVal::F32(f) => Some(f64::from(*f)),
            DefVal::F64(f) => Some(*f),
            DefVal::Enum(n, _) => Some(*n as f64),
            DefVal::Str(..) => None,
        }
    }
}

fn defaults_equal(a: &DefVal, b: &DefVal) -> bool {
    match (a, b) {
        (DefVal::Str(x, _), DefVal::Str(y, _)) => x == y,
        (DefVal::Str(..), _) | (_, DefVal::Str(..)) => false,
        (DefVal::F32(x), DefVal::F64(y)) | (DefVal::F64(y), DefVal::F32(x)) => {
            (x.is_nan() && y.is_nan()) || *x == *y as f32
        }
        (DefVal::Int(x), DefVal::Int(y)) => x == y,
        _ => {
            let (x, y) = (a.num().unwrap_or(0.0), b.num().unwrap_or(0.0));
            (x.is_nan() && y.is_nan()) || x == y
        }
    }
}

fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` for a float: shortest digits, exponent form below 1e-4 or from 1e6 (strconv 'g', -1).
fn go_float(v: f64, sci: String) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    // `sci` is Rust's shortest form `d.ddde±x`.
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if neg { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let es = if exp < 0 { "-" } else { "+" };
        return format!("{sign}{first}{rest}e{es}{:02}", exp.abs());
    }
    let dp = exp + 1;
    if dp <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat((-dp) as usize))
    } else if dp as usize >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(dp as usize - digits.len()))
    } else {
        let (a, b) = digits.split_at(dp as usize);
        format!("{sign}{a}.{b}")
    }
}

fn field_default(ix: &Index<'_>, f: &FieldInfo<'_>) -> Option<DefVal> {
    if f.field.label == Label::Repeated
        || f.field.is_map
        || matches!(f.kind, Kind::Message | Kind::Group)
    {
        return None;
    }
    let opt = find_option(&f.field.options, &["default"]).map(|o| &o.value);
    Some(match f.kind {
        Kind::Scalar(Scalar::String) => DefVal::Str(
            match opt {
                Some(OptValue::Str(b)) => b.clone(),
                _ => vec![],
            },
            false,
        ),
        Kind::Scalar(Scalar::Bytes) => DefVal::Str(
            match opt {
                Some(OptValue::Str(b)) => b.clone(),
                _ => vec![],
            },
            true,
        ),
        Kind::Scalar(Scalar::Bool) => {
            DefVal::Bool(opt.and_then(OptValue::as_bool).unwrap_or(false))
        }
        Kind::Scalar(Scalar::Float) => DefVal::F32(opt_float(opt) as f32),
        Kind::Scalar(Scalar::Double) => DefVal::F64(opt_float(opt)),
        Kind::Scalar(_) => DefVal::Int(match opt {
            Some(OptValue::Int(i)) => *i,
            _ => 0,
        }),
        Kind::Enum => {
            let full = f.type_name.clone().unwrap_or_default();
            let e = ix.enums.get(full.trim_start_matches('.'))?;
            let v = match opt.and_then(OptValue::as_ident) {
                Some(name) => e.en.values.iter().find(|v| v.name == name),
                None => e.en.values.first(),
            }?;
            DefVal::Enum(v.number, format!("{}.{}", e.en.name, v.name))
        }
        Kind::Message | Kind::Group => return None,
    })
}

fn opt_float(v: Option<&OptValue>) -> f64 {
    match v {
        Some(OptValue::Float(f)) => *f,
        Some(OptValue::Int(i)) => *i as f64,
        Some(OptValue::Ident(s)) if s == "inf" || s == "infinity" => f64::INFINITY,
        Some(OptValue::Ident(s)) if s == "nan" => f64::NAN,
        _ => 0.0,
    }
}

fn field_same_default(
    prev: &Index<'_>,
    cur: &Index<'_>,
    p: &FieldInfo<'_>,
    c: &FieldInfo<'_>,
    desc: &str,
    out: &mut Out,
) {
    let (Some(a), Some(b)) = (field_default(prev, p), field_default(cur, c)) else {
        return;
    };
    if a.is_zero() && b.is_zero() {
        return;
    }
    if !defaults_equal(&a, &b) {
        let span = find_option(&c.field.options, &["default"])
            .map(|o| o.span)
            .unwrap_or(c.field.span);
        out.at(
            c.file,
            Some(span),
            "FIELD_SAME_DEFAULT",
            format!(
                "{desc} changed default value from {} to {}.",
                a.printable(),
                b.printable()
            ),
        );
    }
}
