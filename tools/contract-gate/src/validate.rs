//! What protoc refuses beyond unresolvable names: the rules of protoc's descriptor building
//! and validation, reported the way protoc reports them (same line, same phase).
//!
//! protoc works file by file in import order, and within a file in phases; an error in one
//! phase hides the later phases' errors of that file. The gate reports the first error it
//! finds in the same order, so the line it names is always one protoc names:
//!
//! 1. **parse**: labels (proto2 needs one; editions allow neither `optional` nor `required`),
//!    default values of the wrong literal type, a `json_name` that is not a string;
//! 2. **build**: names defined twice in a scope (enum values are siblings of their enum), types
//!    and extendees from files that are not imported, extension numbers outside the extendee's
//!    ranges or used twice, `allow_alias` that aliases nothing;
//! 3. **options**: unknown options (standard and custom, including extensions that are not
//!    imported or extend another options message), values of the wrong type or out of range,
//!    unknown features or feature values, an option set twice;
//! 4. **validation**: proto3's restrictions (no `required`, defaults, groups, extension ranges,
//!    non-option extensions, closed enums; the first enum value is zero), duplicate enum
//!    numbers without `allow_alias`, features outside editions and where they do not apply,
//!    `packed` and `lazy` where they cannot be, map keys, JSON name conflicts.
//!
//! Left out on purpose (protoc checks them; nothing in the corpus or the released contracts
//! exercises them, see docs/contract-gate.md): extension declarations and verification, the
//! contents of aggregate option values below their first level, option retention and targets
//! of custom options, `weak` imports, message_set_wire_format rules, and enum value name
//! conflicts after prefix stripping.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::ast::*;
use crate::lexer::Pos;
use crate::model::{Index, Kind, LoadError, SymKind, Tree};

/// Checks `tree` (already indexed as `ix`) and returns the first error protoc would report.
pub fn validate(tree: &Tree, ix: &Index<'_>) -> Result<(), LoadError> {
    let by_path: HashMap<&str, &File> = tree.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let defs = Definitions::new(tree, ix);
    // Every name defined so far, by the file that defined it (files in import order).
    let global = std::cell::RefCell::new(HashMap::new());
    for f in import_order(tree) {
        let v = Validator {
            ix,
            file: f,
            visible: visible_files(f, &by_path),
            defs: &defs,
            global: &global,
        };
        v.parse_phase()?;
        v.build_phase()?;
        v.options_phase()?;
        v.validation_phase()?;
    }
    Ok(())
}

/// Files with their imports first (protoc builds a file's imports before the file).
pub fn import_order(tree: &Tree) -> Vec<&File> {
    let by_path: BTreeMap<&str, &File> = tree.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    fn visit<'t>(
        f: &'t File,
        by_path: &BTreeMap<&str, &'t File>,
        done: &mut HashSet<&'t str>,
        out: &mut Vec<&'t File>,
    ) {
        if !done.insert(f.path.as_str()) {
            return;
        }
        for imp in &f.imports {
            if let Some(d) = by_path.get(imp.as_str()) {
                visit(d, by_path, done, out);
            }
        }
        out.push(f);
    }
    for f in by_path.values() {
        visit(f, &by_path, &mut done, &mut out);
    }
    out
}

/// The files whose definitions `f` may use: itself, its imports, and what they re-export with
/// `import public` (transitively).
fn visible_files<'t>(f: &'t File, by_path: &HashMap<&str, &'t File>) -> HashSet<String> {
    let mut seen: HashSet<String> = HashSet::new();
    seen.insert(f.path.clone());
    let mut stack: Vec<String> = f.imports.clone();
    while let Some(p) = stack.pop() {
        if !seen.insert(p.clone()) {
            continue;
        }
        if let Some(d) = by_path.get(p.as_str()) {
            stack.extend(d.public_imports.iter().cloned());
        }
    }
    seen
}

/// Where each symbol is defined (tree files and the well-known types protoc ships).
struct Definitions<'a> {
    /// Full name (no leading dot) → file path.
    file_of: HashMap<String, String>,
    /// Extensions by full name.
    extensions: HashMap<String, &'a crate::model::FieldInfo<'a>>,
    /// Names that are not types (fields, oneofs, enum values): a type name that meets one of
    /// them first, looking outwards, is refused ("is not a type").
    non_types: HashSet<String>,
}

impl<'a> Definitions<'a> {
    fn new(tree: &Tree, ix: &'a Index<'a>) -> Self {
        // A name defined in two files belongs to the one protoc builds first.
        let rank: HashMap<&str, usize> = import_order(tree)
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect();
        let rank_of = |p: &str| rank.get(p).copied().unwrap_or(usize::MAX);
        let mut file_of: HashMap<String, String> = HashMap::new();
        let mut put = |name: &str, path: &str| {
            let keep = file_of
                .get(name)
                .is_some_and(|o| rank_of(o) <= rank_of(path));
            if !keep {
                file_of.insert(name.to_string(), path.to_string());
            }
        };
        for (name, m) in &ix.messages {
            put(name, &m.file.path);
        }
        for (name, e) in &ix.enums {
            put(name, &e.file.path);
        }
        let mut extensions = HashMap::new();
        for x in &ix.extensions {
            put(&x.full_name, &x.file.path);
            extensions.insert(x.full_name.clone(), x);
        }
        let mut non_types = HashSet::new();
        for (name, m) in &ix.messages {
            non_types.extend(m.msg.fields.iter().map(|f| join(name, &f.name)));
            non_types.extend(m.msg.oneofs.iter().map(|o| join(name, &o.name)));
        }
        for (name, e) in &ix.enums {
            let scope = name.rsplit_once('.').map_or("", |(s, _)| s);
            non_types.extend(e.en.values.iter().map(|v| join(scope, &v.name)));
        }
        non_types.extend(ix.extensions.iter().map(|x| x.full_name.clone()));
        Definitions {
            file_of,
            extensions,
            non_types,
        }
    }

    /// The file that defines `full` (a well-known type's file for `google.protobuf.*`).
    fn file(&self, full: &str) -> Option<String> {
        if let Some(f) = self.file_of.get(full) {
            return Some(f.clone());
        }
        well_known_file(full).map(String::from)
    }
}

fn well_known_file(full: &str) -> Option<&'static str> {
    if full == "pb.CppFeatures" || full.starts_with("pb.CppFeatures.") || full == "pb.cpp" {
        return Some("google/protobuf/cpp_features.proto");
    }
    if full == "pb.JavaFeatures" || full.starts_with("pb.JavaFeatures.") || full == "pb.java" {
        return Some("google/protobuf/java_features.proto");
    }
    let name = full.strip_prefix("google.protobuf.")?;
    let top = name.split('.').next().unwrap_or(name);
    Some(match top {
        "Any" => "google/protobuf/any.proto",
        "Api" | "Method" | "Mixin" => "google/protobuf/api.proto",
        "Duration" => "google/protobuf/duration.proto",
        "Empty" => "google/protobuf/empty.proto",
        "FieldMask" => "google/protobuf/field_mask.proto",
        "SourceContext" => "google/protobuf/source_context.proto",
        "Struct" | "Value" | "ListValue" | "NullValue" => "google/protobuf/struct.proto",
        "Timestamp" => "google/protobuf/timestamp.proto",
        "Type" | "Field" | "Enum" | "EnumValue" | "Option" | "Syntax" => {
            "google/protobuf/type.proto"
        }
        "DoubleValue" | "FloatValue" | "Int64Value" | "UInt64Value" | "Int32Value"
        | "UInt32Value" | "BoolValue" | "StringValue" | "BytesValue" => {
            "google/protobuf/wrappers.proto"
        }
        _ => "google/protobuf/descriptor.proto",
    })
}

/// The type of an option's value.
#[derive(Debug, Clone)]
enum OptType {
    Bool,
    Str,
    Int {
        bits: u32,
        signed: bool,
    },
    Float,
    /// An enum: its full name and value names.
    Enum(String, Vec<String>),
    /// A message: its full name and field names (for aggregate values).
    Message(String, Vec<String>),
}

/// Which options message an element's options are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    File,
    Message,
    Field,
    Oneof,
    Enum,
    EnumValue,
    Service,
    Method,
    ExtensionRange,
}

impl Target {
    fn message(self) -> &'static str {
        match self {
            Target::File => "FileOptions",
            Target::Message => "MessageOptions",
            Target::Field => "FieldOptions",
            Target::Oneof => "OneofOptions",
            Target::Enum => "EnumOptions",
            Target::EnumValue => "EnumValueOptions",
            Target::Service => "ServiceOptions",
            Target::Method => "MethodOptions",
            Target::ExtensionRange => "ExtensionRangeOptions",
        }
    }

    /// The standard options of this options message: name, type, repeated.
    fn standard(self, name: &str) -> Option<(OptType, bool)> {
        let b = OptType::Bool;
        let s = OptType::Str;
        let e = |n: &str, v: &[&str]| {
            OptType::Enum(
                format!("google.protobuf.{n}"),
                v.iter().map(|x| x.to_string()).collect(),
            )
        };
        let m = |n: &str, f: &[&str]| {
            OptType::Message(
                format!("google.protobuf.{n}"),
                f.iter().map(|x| x.to_string()).collect(),
            )
        };
        let one = |t: OptType| Some((t, false));
        match (self, name) {
            (_, "features") => one(m("FeatureSet", FEATURES)),
            (Target::File, n) => match n {
                "java_package"
                | "java_outer_classname"
                | "go_package"
                | "objc_class_prefix"
                | "csharp_namespace"
                | "swift_prefix"
                | "php_class_prefix"
                | "php_namespace"
                | "php_metadata_namespace"
                | "ruby_package" => one(s),
                "java_multiple_files"
                | "java_generate_equals_and_hash"
                | "java_string_check_utf8"
                | "cc_generic_services"
                | "java_generic_services"
                | "py_generic_services"
                | "deprecated"
                | "cc_enable_arenas" => one(b),
                "optimize_for" => one(e(
                    "FileOptions.OptimizeMode",
                    &["SPEED", "CODE_SIZE", "LITE_RUNTIME"],
                )),
                _ => None,
            },
            (
                Target::Message,
                "message_set_wire_format"
                | "no_standard_descriptor_accessor"
                | "deprecated"
                | "map_entry"
                | "deprecated_legacy_json_field_conflicts",
            ) => one(b),
            (Target::Field, n) => match n {
                "packed" | "lazy" | "unverified_lazy" | "deprecated" | "weak" | "debug_redact" => {
                    one(b)
                }
                "ctype" => one(e("FieldOptions.CType", &["STRING", "CORD", "STRING_PIECE"])),
                "jstype" => one(e(
                    "FieldOptions.JSType",
                    &["JS_NORMAL", "JS_STRING", "JS_NUMBER"],
                )),
                "retention" => one(e(
                    "FieldOptions.OptionRetention",
                    &["RETENTION_UNKNOWN", "RETENTION_RUNTIME", "RETENTION_SOURCE"],
                )),
                "targets" => Some((
                    e(
                        "FieldOptions.OptionTargetType",
                        &[
                            "TARGET_TYPE_UNKNOWN",
                            "TARGET_TYPE_FILE",
                            "TARGET_TYPE_EXTENSION_RANGE",
                            "TARGET_TYPE_MESSAGE",
                            "TARGET_TYPE_FIELD",
                            "TARGET_TYPE_ONEOF",
                            "TARGET_TYPE_ENUM",
                            "TARGET_TYPE_ENUM_ENTRY",
                            "TARGET_TYPE_SERVICE",
                            "TARGET_TYPE_METHOD",
                        ],
                    ),
                    true,
                )),
                "edition_defaults" => Some((
                    m("FieldOptions.EditionDefault", &["edition", "value"]),
                    true,
                )),
                "feature_support" => one(m(
                    "FieldOptions.FeatureSupport",
                    &[
                        "edition_introduced",
                        "edition_deprecated",
                        "deprecation_warning",
                        "edition_removed",
                    ],
                )),
                _ => None,
            },
            (
                Target::Enum,
                "allow_alias" | "deprecated" | "deprecated_legacy_json_field_conflicts",
            ) => one(b),
            (Target::EnumValue, n) => match n {
                "deprecated" | "debug_redact" => one(b),
                "feature_support" => one(m(
                    "FieldOptions.FeatureSupport",
                    &[
                        "edition_introduced",
                        "edition_deprecated",
                        "deprecation_warning",
                        "edition_removed",
                    ],
                )),
                _ => None,
            },
            (Target::Service, "deprecated") => one(b),
            (Target::ExtensionRange, "verification") => one(e(
                "ExtensionRangeOptions.VerificationState",
                &["DECLARATION", "UNVERIFIED"],
            )),
            (Target::ExtensionRange, "declaration") => Some((
                m(
                    "ExtensionRangeOptions.Declaration",
                    &["number", "full_name", "type", "reserved", "repeated"],
                ),
                true,
            )),
            (Target::Method, n) => match n {
                "deprecated" => one(b),
                "idempotency_level" => one(e(
                    "MethodOptions.IdempotencyLevel",
                    &["IDEMPOTENCY_UNKNOWN", "NO_SIDE_EFFECTS", "IDEMPOTENT"],
                )),
                _ => None,
            },
            _ => None,
        }
    }
}

const FEATURES: &[&str] = &[
    "field_presence",
    "enum_type",
    "repeated_field_encoding",
    "utf8_validation",
    "message_encoding",
    "json_format",
    "enforce_naming_style",
    "default_symbol_visibility",
];

/// A standard feature of edition 2023: its enum and values (the `*_UNKNOWN` value included:
/// protoc parses it, then refuses it in validation).
fn feature_type(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    Some(match name {
        "field_presence" => (
            "FieldPresence",
            &[
                "FIELD_PRESENCE_UNKNOWN",
                "EXPLICIT",
                "IMPLICIT",
                "LEGACY_REQUIRED",
            ],
        ),
        "enum_type" => ("EnumType", &["ENUM_TYPE_UNKNOWN", "OPEN", "CLOSED"]),
        "repeated_field_encoding" => (
            "RepeatedFieldEncoding",
            &["REPEATED_FIELD_ENCODING_UNKNOWN", "PACKED", "EXPANDED"],
        ),
        "utf8_validation" => (
            "Utf8Validation",
            &["UTF8_VALIDATION_UNKNOWN", "VERIFY", "NONE"],
        ),
        "message_encoding" => (
            "MessageEncoding",
            &["MESSAGE_ENCODING_UNKNOWN", "LENGTH_PREFIXED", "DELIMITED"],
        ),
        "json_format" => (
            "JsonFormat",
            &["JSON_FORMAT_UNKNOWN", "ALLOW", "LEGACY_BEST_EFFORT"],
        ),
        _ => return None,
    })
}

/// The language feature extensions protoc ships: `(pb.cpp)` etc. → its file and message.
fn lang_features(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "pb.cpp" => ("google/protobuf/cpp_features.proto", "pb.CppFeatures"),
        "pb.java" => ("google/protobuf/java_features.proto", "pb.JavaFeatures"),
        "pb.go" => ("google/protobuf/go_features.proto", "pb.GoFeatures"),
        _ => return None,
    })
}

/// The fields of those messages (when the tree does not carry the file itself).
fn lang_feature_type(message: &str, field: &str) -> Option<OptType> {
    let e = |n: &str, v: &[&str]| {
        Some(OptType::Enum(
            format!("{message}.{n}"),
            v.iter().map(|x| x.to_string()).collect(),
        ))
    };
    match (message, field) {
        ("pb.CppFeatures", "legacy_closed_enum" | "enum_name_uses_string_view")
        | ("pb.JavaFeatures", "legacy_closed_enum" | "large_enum")
        | ("pb.GoFeatures", "legacy_unmarshal_json_enum") => Some(OptType::Bool),
        ("pb.CppFeatures", "string_type") => e(
            "StringType",
            &["STRING_TYPE_UNKNOWN", "VIEW", "CORD", "STRING"],
        ),
        ("pb.JavaFeatures", "utf8_validation") => e(
            "Utf8Validation",
            &["UTF8_VALIDATION_UNKNOWN", "DEFAULT", "VERIFY"],
        ),
        ("pb.GoFeatures", "api_level") => e(
            "APILevel",
            &[
                "API_LEVEL_UNSPECIFIED",
                "API_OPEN",
                "API_HYBRID",
                "API_OPAQUE",
            ],
        ),
        ("pb.GoFeatures", "strip_enum_prefix") => e(
            "StripEnumPrefix",
            &[
                "STRIP_ENUM_PREFIX_UNSPECIFIED",
                "STRIP_ENUM_PREFIX_KEEP",
                "STRIP_ENUM_PREFIX_GENERATE_BOTH",
                "STRIP_ENUM_PREFIX_STRIP",
            ],
        ),
        _ => None,
    }
}

struct Validator<'v, 'a> {
    ix: &'v Index<'a>,
    file: &'a File,
    visible: HashSet<String>,
    defs: &'v Definitions<'a>,
    global: &'v std::cell::RefCell<HashMap<String, String>>,
}

/// One element with options: what it is, its scope for name resolution, its options, and where
/// protoc reports problems with it.
struct Element<'a> {
    target: Target,
    scope: String,
    options: &'a [OptionEntry],
}

type R = Result<(), LoadError>;

impl<'v, 'a> Validator<'v, 'a> {
    fn err(&self, pos: Pos, message: impl Into<String>) -> LoadError {
        LoadError {
            path: self.file.path.clone(),
            pos: Some(pos),
            message: message.into(),
        }
    }

    fn editions(&self) -> bool {
        matches!(self.file.syntax, Syntax::Editions(_))
    }

    fn proto3(&self) -> bool {
        matches!(self.file.syntax, Syntax::Proto3)
    }

    /// Every message of the file with its full name, outermost first.
    fn messages(&self) -> Vec<(String, &'a Message)> {
        fn walk<'m>(prefix: &str, ms: &'m [Message], out: &mut Vec<(String, &'m Message)>) {
            for m in ms {
                let full = join(prefix, &m.name);
                out.push((full.clone(), m));
                walk(&full, &m.messages, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.file.package, &self.file.messages, &mut out);
        out
    }

    /// Every enum of the file with the scope it is declared in.
    fn enums(&self) -> Vec<(String, &'a Enum)> {
        let mut out: Vec<(String, &'a Enum)> = self
            .file
            .enums
            .iter()
            .map(|e| (self.file.package.clone(), e))
            .collect();
        for (full, m) in self.messages() {
            out.extend(m.enums.iter().map(|e| (full.clone(), e)));
        }
        out
    }

    /// Every field and extension of the file with its scope and parent message (if any).
    fn fields(&self) -> Vec<(String, Option<&'a Message>, &'a Field)> {
        let mut out: Vec<(String, Option<&'a Message>, &'a Field)> = self
            .file
            .extensions
            .iter()
            .map(|x| (self.file.package.clone(), None, x))
            .collect();
        for (full, m) in self.messages() {
            out.extend(m.fields.iter().map(|f| (full.clone(), Some(m), f)));
            out.extend(m.extensions.iter().map(|f| (full.clone(), Some(m), f)));
        }
        out
    }

    // ---- 1. parse ---------------------------------------------------------------------

    fn parse_phase(&self) -> R {
        for (_, parent, f) in self.fields() {
            let in_oneof = f.oneof.is_some() && f.extendee.is_none();
            let map_entry_field = parent.is_some_and(|p| p.is_map_entry);
            if map_entry_field {
                continue;
            }
            if let (true, Some(ls)) = (in_oneof, f.label_span) {
                return Err(self.err(
                    ls.start,
                    "Fields in oneofs must not have labels (required / optional / repeated).",
                ));
            }
            match self.file.syntax {
                Syntax::Proto2 if f.label_span.is_none() && !in_oneof && !f.is_map => {
                    return Err(self.err(
                        f.span.start,
                        "Expected \"required\", \"optional\", or \"repeated\".",
                    ));
                }
                Syntax::Editions(_) => {
                    if let Some(ls) = f.label_span {
                        match f.label {
                            Label::Optional => return Err(self.err(ls.start, "Label \"optional\" is not supported in editions. By default, all singular fields have presence unless features.field_presence is set.")),
                            Label::Required => return Err(self.err(ls.start, "Label \"required\" is not supported in editions, use features.field_presence = LEGACY_REQUIRED.")),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            for o in &f.options {
                if o.name == ["json_name"] && !matches!(o.value, OptValue::Str(_)) {
                    return Err(self.err(o.value_span.start, "Expected string for JSON name."));
                }
                if o.name == ["default"] {
                    if let TypeRef::Scalar(s) = &f.ty {
                        if let Some(msg) = default_literal_error(*s, &o.value) {
                            return Err(self.err(o.value_span.start, msg));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    // ---- 2. build ---------------------------------------------------------------------

    fn build_phase(&self) -> R {
        self.check_imports_exist()?;
        let mut seen = HashSet::new();
        for (imp, sp) in self.file.imports.iter().zip(&self.file.import_spans) {
            if !seen.insert(imp) {
                return Err(self.err(sp.start, format!("Import \"{imp}\" was listed twice.")));
            }
        }
        self.check_scopes()?;
        for (_, m) in self.messages() {
            self.check_ranges(m)?;
        }
        for (_, e) in self.enums() {
            self.check_reserved(
                "Enum value",
                &e.reserved_ranges,
                &e.reserved_range_spans,
                &e.reserved_names,
                e.name_span.start,
            )?;
            for v in &e.values {
                if let Some(i) = e
                    .reserved_ranges
                    .iter()
                    .position(|r| (r.start..=r.end).contains(&v.number))
                {
                    let at = e
                        .reserved_range_spans
                        .get(i)
                        .map_or(v.number_span.start, |s| s.start);
                    return Err(self.err(
                        at,
                        format!(
                            "Enum value \"{}\" uses reserved number {}.",
                            v.name, v.number
                        ),
                    ));
                }
                if e.reserved_names.contains(&v.name) {
                    return Err(self.err(
                        v.name_span.start,
                        format!("Enum value \"{}\" is reserved.", v.name),
                    ));
                }
            }
        }
        self.check_visibility()?;
        self.check_extension_numbers()?;
        for (_, e) in self.enums() {
            let alias = match find_option(&e.options, &["allow_alias"]) {
                None => false,
                Some(o) if o.value.as_bool() == Some(true) => true,
                Some(_) => {
                    return Err(self.err(e.after, format!("\"{}\" declares 'option allow_alias = false;' which has no effect. Please remove the declaration.", e.name)));
                }
            };
            if alias {
                let mut seen = HashSet::new();
                let aliased = e.values.iter().any(|v| !seen.insert(v.number));
                if !aliased {
                    return Err(self.err(e.after, format!("\"{}\" declares support for enum aliases but no enum values share field numbers. Please remove the unnecessary 'option allow_alias = true;' declaration.", e.name)));
                }
            }
        }
        Ok(())
    }

    fn check_imports_exist(&self) -> R {
        for (imp, sp) in self.file.imports.iter().zip(&self.file.import_spans) {
            if !self.ix.files.contains_key(imp.as_str()) && !imp.starts_with("google/protobuf/") {
                return Err(self.err(
                    sp.start,
                    format!("Import \"{imp}\" was not found or had errors."),
                ));
            }
        }
        Ok(())
    }

    /// Names defined twice in one scope: nested types, fields, oneofs, enum values (siblings
    /// of their enum), extensions, services, methods — met in the order protoc adds them, so
    /// the one reported is the one protoc reports.
    fn check_scopes(&self) -> R {
        // protoc's order (found by asking it): in a message its oneofs, fields, enums (each
        // enum's values before the enum itself), nested messages, extensions.
        fn message<'m>(scope: &str, m: &'m Message, out: &mut Vec<(String, &'m str, Pos)>) {
            out.push((scope.to_string(), &m.name, m.name_span.start));
            let inner = join(scope, &m.name);
            for o in &m.oneofs {
                out.push((inner.clone(), &o.name, o.name_span.start));
            }
            for f in &m.fields {
                out.push((inner.clone(), &f.name, f.name_span.start));
            }
            for e in &m.enums {
                enumeration(&inner, e, out);
            }
            for n in &m.messages {
                message(&inner, n, out);
            }
            for x in &m.extensions {
                out.push((inner.clone(), &x.name, x.name_span.start));
            }
        }
        fn enumeration<'m>(scope: &str, e: &'m Enum, out: &mut Vec<(String, &'m str, Pos)>) {
            for v in &e.values {
                out.push((scope.to_string(), &v.name, v.name_span.start));
            }
            out.push((scope.to_string(), &e.name, e.name_span.start));
        }
        let pkg = &self.file.package;
        let mut defs: Vec<(String, &str, Pos)> = Vec::new();
        for m in &self.file.messages {
            message(pkg, m, &mut defs);
        }
        for e in &self.file.enums {
            enumeration(pkg, e, &mut defs);
        }
        for sv in &self.file.services {
            defs.push((pkg.clone(), &sv.name, sv.name_span.start));
            let full = join(pkg, &sv.name);
            for m in &sv.methods {
                defs.push((full.clone(), &m.name, m.name_span.start));
            }
        }
        for x in &self.file.extensions {
            defs.push((pkg.clone(), &x.name, x.name_span.start));
        }
        // A map field's entry named like another nested message: protoc names the message.
        for (_, m) in self.messages() {
            for (i, n) in m.messages.iter().enumerate() {
                let clash = m.messages[..i]
                    .iter()
                    .any(|o| o.name == n.name && (o.is_map_entry || n.is_map_entry));
                if clash {
                    return Err(self.err(
                        m.name_span.start,
                        format!("Expanded map entry type {} conflicts with an existing nested message type.", n.name),
                    ));
                }
            }
        }
        let mut scopes: HashMap<String, HashSet<&str>> = HashMap::new();
        let mut global = self.global.borrow_mut();
        for (scope, name, pos) in defs {
            let full = join(&scope, name);
            if let Some(other) = global.get(&full).filter(|o| **o != self.file.path) {
                return Err(self.err(
                    pos,
                    format!("\"{full}\" is already defined in file \"{other}\"."),
                ));
            }
            global.insert(full, self.file.path.clone());
            if !scopes.entry(scope.clone()).or_default().insert(name) {
                let where_ = if scope.is_empty() {
                    String::new()
                } else {
                    format!(" in \"{scope}\"")
                };
                return Err(self.err(pos, format!("\"{name}\" is already defined{where_}.")));
            }
        }
        Ok(())
    }

    /// Reserved and extension ranges of a message: no overlaps, nothing reserved twice, no
    /// field inside an extension range.
    fn check_ranges(&self, m: &Message) -> R {
        self.check_reserved(
            "Field name",
            &m.reserved_ranges,
            &m.reserved_range_spans,
            &m.reserved_names,
            m.name_span.start,
        )?;
        for (i, (r, sp)) in m
            .extension_ranges
            .iter()
            .zip(&m.extension_range_spans)
            .enumerate()
        {
            let overlaps = |o: &&Range| o.start <= r.end && r.start <= o.end;
            if let Some(o) = m.extension_ranges[..i].iter().find(overlaps) {
                return Err(self.err(
                    sp.start,
                    format!(
                        "Extension range {} to {} overlaps with already-defined range {} to {}.",
                        r.start, r.end, o.start, o.end
                    ),
                ));
            }
            if let Some(o) = m.reserved_ranges.iter().find(overlaps) {
                return Err(self.err(
                    sp.start,
                    format!(
                        "Extension range {} to {} overlaps with reserved range {} to {}.",
                        r.start, r.end, o.start, o.end
                    ),
                ));
            }
            if let Some(f) = m
                .fields
                .iter()
                .find(|f| (r.start..=r.end).contains(&f.number))
            {
                return Err(self.err(
                    sp.start,
                    format!(
                        "Extension range {} to {} includes field \"{}\" ({}).",
                        r.start, r.end, f.name, f.number
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_reserved(
        &self,
        what: &str,
        ranges: &[Range],
        range_spans: &[crate::lexer::Span],
        names: &[String],
        owner: Pos,
    ) -> R {
        for (i, (r, sp)) in ranges.iter().zip(range_spans).enumerate() {
            if let Some(o) = ranges[..i]
                .iter()
                .find(|o| o.start <= r.end && r.start <= o.end)
            {
                return Err(self.err(
                    sp.start,
                    format!(
                        "Reserved range {} to {} overlaps with already-defined range {} to {}.",
                        r.start, r.end, o.start, o.end
                    ),
                ));
            }
        }
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                // protoc names the message (or enum) that reserves it.
                return Err(self.err(owner, format!("{what} \"{n}\" is reserved multiple times.")));
            }
        }
        Ok(())
    }

    /// A type used here must come from this file or one it imports.
    fn check_visibility(&self) -> R {
        // Field types are looked up among types only; extendees and method types among all
        // names, so a field or enum value found first is an error (protoc's LOOKUP_ALL).
        let check = |name: &str, scope: &str, pos: Pos| -> R {
            let Some((full, _)) = self.ix.resolve(name, scope) else {
                return Ok(());
            };
            self.require_visible(&full, name, pos)
        };
        for (scope, _, f) in self.fields() {
            if let Some(e) = &f.extendee {
                if self.shadowed(e, &scope) {
                    return Err(self.err(
                        f.extendee_span.start,
                        format!("\"{e}\" is not a message type."),
                    ));
                }
                check(e, &scope, f.extendee_span.start)?;
                if let Some((_, kind)) = self.ix.resolve(e, &scope) {
                    if kind != SymKind::Message {
                        return Err(self.err(
                            f.extendee_span.start,
                            format!("\"{e}\" is not a message type."),
                        ));
                    }
                }
            }
            if let TypeRef::Named(n) = &f.ty {
                check(n, &scope, f.type_span.start)?;
            }
        }
        for s in &self.file.services {
            let scope = join(&self.file.package, &s.name);
            for m in &s.methods {
                for (t, sp) in [(&m.input, m.input_span), (&m.output, m.output_span)] {
                    if self.shadowed(t, &scope) {
                        return Err(self.err(sp.start, format!("\"{t}\" is not a message type.")));
                    }
                    check(t, &scope, sp.start)?;
                    if let Some((_, SymKind::Enum)) = self.ix.resolve(t, &scope) {
                        return Err(self.err(sp.start, format!("\"{t}\" is not a message type.")));
                    }
                }
            }
        }
        Ok(())
    }

    /// True if `name`'s first component, looked up from `scope` outwards as protoc does, is
    /// first found as something that is not a type (a field, oneof or enum value).
    fn shadowed(&self, name: &str, scope: &str) -> bool {
        if name.starts_with('.') {
            return false;
        }
        if name.contains('.') {
            return false;
        }
        let first = name;
        let mut scope = scope.to_string();
        loop {
            let cand = join(&scope, first);
            if self.ix.messages.contains_key(&cand) || self.ix.enums.contains_key(&cand) {
                return false;
            }
            if self.defs.non_types.contains(&cand) {
                return true;
            }
            if scope.is_empty() {
                return false;
            }
            match scope.rfind('.') {
                Some(i) => scope.truncate(i),
                None => scope.clear(),
            }
        }
    }

    fn require_visible(&self, full: &str, written: &str, pos: Pos) -> R {
        let Some(file) = self.defs.file(full) else {
            return Ok(());
        };
        if self.visible.contains(&file) {
            return Ok(());
        }
        Err(self.err(pos, format!("\"{written}\" seems to be defined in \"{file}\", which is not imported by \"{}\".  To use it here, please add the necessary import.", self.file.path)))
    }

    /// Extension numbers must lie in one of the extendee's extension ranges, once each.
    fn check_extension_numbers(&self) -> R {
        for (scope, _, f) in self.fields() {
            let Some(e) = &f.extendee else { continue };
            let Some((extendee, SymKind::Message)) = self.ix.resolve(e, &scope) else {
                continue;
            };
            let declared = match self.ix.messages.get(&extendee) {
                Some(mi) => mi
                    .msg
                    .extension_ranges
                    .iter()
                    .any(|r| (r.start..=r.end).contains(&f.number)),
                None if extendee == "google.protobuf.FeatureSet" => {
                    (1000..=10_000).contains(&f.number)
                }
                None if extendee.starts_with("google.protobuf.")
                    && extendee.ends_with("Options") =>
                {
                    (1000..=536_870_911).contains(&f.number)
                }
                None => true,
            };
            if !declared {
                return Err(self.err(
                    f.number_span.start,
                    format!(
                        "\"{extendee}\" does not declare {} as an extension number.",
                        f.number
                    ),
                ));
            }
            // The language features protoc knows by number must have their own types.
            if extendee == "google.protobuf.FeatureSet" {
                let want = match f.number {
                    1000 => Some("pb.CppFeatures"),
                    1001 => Some("pb.JavaFeatures"),
                    1002 => Some("pb.GoFeatures"),
                    _ => None,
                };
                let got = match &f.ty {
                    TypeRef::Scalar(s) => s.name().to_string(),
                    TypeRef::Named(n) | TypeRef::Group(n) => self
                        .ix
                        .resolve(n, &scope)
                        .map_or(n.clone(), |(full, _)| full),
                };
                let want_name = match f.number {
                    1000 => Some("pb.cpp"),
                    1001 => Some("pb.java"),
                    1002 => Some("pb.go"),
                    _ => None,
                };
                let name = join(&scope, &f.name);
                if let Some(want_name) = want_name.filter(|w| *w != name) {
                    return Err(self.err(
                        f.extendee_span.start,
                        format!("\"google.protobuf.FeatureSet\" extension field {} is expected to have field name \".{want_name}\", not \".{name}\".", f.number),
                    ));
                }
                if let Some(want) = want.filter(|w| *w != got) {
                    let got = if f.ty_is_scalar() {
                        got
                    } else {
                        format!(".{got}")
                    };
                    return Err(self.err(
                        f.extendee_span.start,
                        format!("\"google.protobuf.FeatureSet\" extension field {} is expected to be type \".{want}\", not \"{got}\".", f.number),
                    ));
                }
            }
            // Used twice (by extensions seen so far in this file or its imports).
            let full = join(&scope, &f.name);
            if let Some(other) = self.ix.extensions.iter().find(|x| {
                x.extendee.as_deref() == Some(extendee.as_str())
                    && x.field.number == f.number
                    && x.full_name != full
                    // Across files protoc only warns.
                    && x.file.path == self.file.path
                    && x.field.number_span.start < f.number_span.start
            }) {
                return Err(self.err(
                    f.number_span.start,
                    format!(
                        "Extension number {} has already been used in \"{extendee}\" by extension \"{}\".",
                        f.number, other.full_name
                    ),
                ));
            }
        }
        Ok(())
    }

    // ---- 3. options -------------------------------------------------------------------

    fn elements(&self) -> Vec<Element<'a>> {
        let pkg = self.file.package.clone();
        let mut out = vec![Element {
            target: Target::File,
            scope: pkg.clone(),
            options: &self.file.options,
        }];
        for (full, m) in self.messages() {
            // A map entry's options are the map field's features, copied (checked there).
            if !m.is_map_entry {
                out.push(Element {
                    target: Target::Message,
                    scope: full.clone(),
                    options: &m.options,
                });
            }
            for o in &m.oneofs {
                out.push(Element {
                    target: Target::Oneof,
                    scope: full.clone(),
                    options: &o.options,
                });
            }
            // A statement's options are repeated for each of its ranges: checked again, same
            // answer.
            for opts in &m.extension_range_options {
                out.push(Element {
                    target: Target::ExtensionRange,
                    scope: full.clone(),
                    options: opts,
                });
            }
        }
        for (scope, parent, f) in self.fields() {
            if parent.is_some_and(|p| p.is_map_entry) {
                continue;
            }
            out.push(Element {
                target: Target::Field,
                scope,
                options: &f.options,
            });
        }
        for (scope, e) in self.enums() {
            let full = join(&scope, &e.name);
            out.push(Element {
                target: Target::Enum,
                scope: full.clone(),
                options: &e.options,
            });
            for v in &e.values {
                out.push(Element {
                    target: Target::EnumValue,
                    scope: full.clone(),
                    options: &v.options,
                });
            }
        }
        for s in &self.file.services {
            let full = join(&pkg, &s.name);
            out.push(Element {
                target: Target::Service,
                scope: full.clone(),
                options: &s.options,
            });
            for m in &s.methods {
                out.push(Element {
                    target: Target::Method,
                    scope: full.clone(),
                    options: &m.options,
                });
            }
        }
        out
    }

    fn options_phase(&self) -> R {
        for el in self.elements() {
            self.check_options(&el)?;
        }
        Ok(())
    }

    /// The options of one element: each name known, each value of its type, none set twice.
    fn check_options(&self, el: &Element<'a>) -> R {
        let mut set: HashSet<Vec<String>> = HashSet::new();
        for o in el.options {
            if el.target == Target::Field
                && matches!(o.name.as_slice(), [n] if n == "default" || n == "json_name")
            {
                if !set.insert(o.name.clone()) {
                    return Err(self.err(
                        o.name_span.start,
                        format!("Option \"{}\" was already set.", o.name.join(".")),
                    ));
                }
                continue;
            }
            let written = o.name.join(".");
            if let Some(e) = &o.aggregate_error {
                return Err(self.err(
                    e.pos,
                    format!(
                        "Error while parsing option value for \"{written}\": {}",
                        e.message
                    ),
                ));
            }
            let unknown = || {
                self.err(o.name_span.start, format!("Option \"{written}\" unknown. Ensure that your proto definition file imports the proto which defines the option (i.e. via import option)."))
            };
            let Some(first) = o.name.first() else {
                continue;
            };
            // The first component: a standard option or a custom one.
            let (mut ty, mut repeated, mut full) = if let Some(ext) = first.strip_prefix('(') {
                let ext = ext.trim_end_matches(')');
                let Some(x) = self.resolve_extension(ext, &el.scope) else {
                    return Err(unknown());
                };
                let want = format!("google.protobuf.{}", el.target.message());
                if x.extendee.as_deref() != Some(want.as_str()) {
                    return Err(self.err(
                        o.name_span.start,
                        format!(
                            "Option field \"{first}\" is not a field or extension of message \"{}\".",
                            el.target.message()
                        ),
                    ));
                }
                self.require_visible(&x.full_name, &written, o.name_span.start)
                    .map_err(|_| unknown())?;
                (
                    self.field_type(x),
                    x.field.label == Label::Repeated,
                    x.full_name.clone(),
                )
            } else {
                let Some((t, rep)) = el.target.standard(first) else {
                    return Err(unknown());
                };
                (
                    t,
                    rep,
                    format!("google.protobuf.{}.{first}", el.target.message()),
                )
            };
            // Further components: fields (or extensions) of the message so far.
            for part in &o.name[1..] {
                let OptType::Message(msg, fields) = ty.clone() else {
                    return Err(unknown());
                };
                if msg == "google.protobuf.FeatureSet" {
                    if let Some(ext) = part.strip_prefix('(') {
                        let ext = ext.trim_end_matches(')');
                        let Some(x) = self.resolve_extension(ext, &el.scope) else {
                            // The language features protoc ships (not files of this tree).
                            let Some((file, message)) = lang_features(ext.trim_start_matches('.'))
                            else {
                                return Err(unknown());
                            };
                            if !self.visible.contains(file) {
                                return Err(unknown());
                            }
                            ty = OptType::Message(message.into(), Vec::new());
                            repeated = false;
                            full = ext.trim_start_matches('.').to_string();
                            continue;
                        };
                        if x.extendee.as_deref() != Some("google.protobuf.FeatureSet") {
                            return Err(unknown());
                        }
                        self.require_visible(&x.full_name, &written, o.name_span.start)
                            .map_err(|_| unknown())?;
                        ty = self.field_type(x);
                        repeated = false;
                        full = x.full_name.clone();
                        continue;
                    }
                    let Some((en, values)) = feature_type(part) else {
                        return Err(unknown());
                    };
                    ty = OptType::Enum(
                        format!("google.protobuf.FeatureSet.{en}"),
                        values.iter().map(|v| v.to_string()).collect(),
                    );
                    repeated = false;
                    full = format!("google.protobuf.FeatureSet.{part}");
                    continue;
                }
                if part.starts_with('(') {
                    let ext = part.trim_start_matches('(').trim_end_matches(')');
                    let Some(x) = self.resolve_extension(ext, &el.scope) else {
                        return Err(unknown());
                    };
                    if x.extendee.as_deref() != Some(msg.as_str()) {
                        return Err(unknown());
                    }
                    ty = self.field_type(x);
                    repeated = x.field.label == Label::Repeated;
                    full = x.full_name.clone();
                    continue;
                }
                if !fields.iter().any(|f| f == part) && lang_feature_type(&msg, part).is_none() {
                    return Err(unknown());
                }
                if let (None, Some(t)) = (
                    self.ix.messages.get(msg.as_str()),
                    lang_feature_type(&msg, part),
                ) {
                    ty = t;
                    repeated = false;
                    full = format!("{msg}.{part}");
                    continue;
                }
                let Some(mi) = self.ix.messages.get(msg.as_str()) else {
                    // A standard message (FeatureSupport, EditionDefault): fields are known
                    // by name only.
                    ty = OptType::Str;
                    full = format!("{msg}.{part}");
                    continue;
                };
                let Some(fi) = mi.fields.values().find(|f| &f.field.name == part) else {
                    return Err(unknown());
                };
                ty = self.field_type(fi);
                repeated = fi.field.label == Label::Repeated;
                full = fi.full_name.clone();
            }
            if let Some(msg) = value_error(&ty, &o.value, &full, &written, &o.aggregate_fields) {
                return Err(self.err(o.value_span.start, msg));
            }
            if !repeated && !set.insert(o.name.clone()) {
                return Err(self.err(
                    o.name_span.start,
                    format!("Option \"{written}\" was already set."),
                ));
            }
        }
        Ok(())
    }

    /// An extension named `(name)` from `scope`, resolved as protoc does (innermost first).
    fn resolve_extension(
        &self,
        name: &str,
        scope: &str,
    ) -> Option<&'a crate::model::FieldInfo<'a>> {
        if let Some(abs) = name.strip_prefix('.') {
            return self.defs.extensions.get(abs).copied();
        }
        let mut scope = scope.to_string();
        loop {
            let cand = join(&scope, name);
            if let Some(x) = self.defs.extensions.get(&cand) {
                return Some(x);
            }
            if scope.is_empty() {
                return None;
            }
            match scope.rfind('.') {
                Some(i) => scope.truncate(i),
                None => scope.clear(),
            }
        }
    }

    fn field_type(&self, fi: &crate::model::FieldInfo<'_>) -> OptType {
        match fi.kind {
            Kind::Scalar(s) => scalar_type(s),
            Kind::Enum => {
                let name = fi.bare_type_name();
                let values = self
                    .ix
                    .enums
                    .get(name)
                    .map(|e| e.en.values.iter().map(|v| v.name.clone()).collect())
                    .unwrap_or_default();
                OptType::Enum(name.to_string(), values)
            }
            Kind::Message | Kind::Group => {
                let name = fi.bare_type_name();
                let fields = self
                    .ix
                    .messages
                    .get(name)
                    .map(|m| m.msg.fields.iter().map(|f| f.name.clone()).collect())
                    .unwrap_or_default();
                OptType::Message(name.to_string(), fields)
            }
        }
    }

    // ---- 4. validation ----------------------------------------------------------------

    fn validation_phase(&self) -> R {
        self.check_features_allowed()?;
        if self.editions() {
            for el in self.elements() {
                self.check_feature_targets(&el)?;
            }
        }
        for (scope, parent, f) in self.fields() {
            if parent.is_some_and(|p| p.is_map_entry) {
                self.check_map_key(parent, f)?;
                continue;
            }
            self.check_field(&scope, f)?;
        }
        for (_, m) in self.messages() {
            if self.proto3() {
                if let Some(sp) = m.extension_range_spans.first() {
                    return Err(self.err(sp.start, "Extension ranges are not allowed in proto3."));
                }
            }
            if find_option(&m.options, &["map_entry"]).is_some() {
                return Err(self.err(
                    m.name_span.start,
                    "map_entry should not be set explicitly. Use map<KeyType, ValueType> instead.",
                ));
            }
            self.check_json_names(m)?;
        }
        for (scope, e) in self.enums() {
            let full = join(&scope, &e.name);
            let open = self.enum_is_open(&full);
            if open {
                if let Some(first) = e.values.first() {
                    if first.number != 0 {
                        return Err(self.err(
                            first.number_span.start,
                            "The first enum value must be zero for open enums.",
                        ));
                    }
                }
            }
            let alias = find_option(&e.options, &["allow_alias"])
                .and_then(|o| o.value.as_bool())
                .unwrap_or(false);
            // Names equal once the enum's name is stripped off and case ignored (what JSON
            // and several languages' generated code would collide on).
            let mut canonical: HashMap<String, &EnumValue> = HashMap::new();
            for v in &e.values {
                let c = pascal_case(&strip_prefix(&v.name, &e.name));
                if let Some(other) = canonical.get(&c) {
                    if other.number != v.number {
                        return Err(self.err(v.name_span.start, format!("Enum name {} has the same name as {} if you ignore case and strip out the enum name prefix (if any). (If you are using allow_alias, please assign the same number to each enum value name.)", v.name, other.name)));
                    }
                }
                canonical.entry(c).or_insert(v);
            }
            if !alias {
                let mut seen: HashMap<i64, &str> = HashMap::new();
                for v in &e.values {
                    if let Some(other) = seen.insert(v.number, &v.name) {
                        return Err(self.err(v.number_span.start, format!("\"{}\" uses the same enum value as \"{}\". If this is intended, set 'option allow_alias = true;' to the enum definition.", join(&scope, &v.name), join(&scope, other))));
                    }
                }
            }
        }
        Ok(())
    }

    /// Each feature may be set only on the kinds of element it names as targets.
    fn check_feature_targets(&self, el: &Element<'a>) -> R {
        use Target::*;
        for o in el.options {
            let (feature, targets): (String, &[Target]) = match o.name.as_slice() {
                [f, n] if f == "features" => (
                    format!("google.protobuf.FeatureSet.{n}"),
                    match n.as_str() {
                        "field_presence"
                        | "repeated_field_encoding"
                        | "utf8_validation"
                        | "message_encoding" => &[File, Field],
                        "enum_type" => &[File, Enum],
                        "json_format" => &[File, Message, Enum],
                        _ => continue,
                    },
                ),
                [f, ext, n] if f == "features" && ext.starts_with('(') => {
                    let ext = ext.trim_start_matches("(.").trim_start_matches('(');
                    let ext = ext.trim_end_matches(')');
                    let message = match ext {
                        "pb.cpp" => "pb.CppFeatures",
                        "pb.java" => "pb.JavaFeatures",
                        _ => continue,
                    };
                    (
                        format!("{message}.{n}"),
                        match (ext, n.as_str()) {
                            (_, "legacy_closed_enum")
                            | ("pb.cpp", "string_type")
                            | ("pb.java", "utf8_validation") => &[File, Field],
                            ("pb.cpp", "enum_name_uses_string_view")
                            | ("pb.java", "large_enum") => &[File, Enum],
                            _ => continue,
                        },
                    )
                }
                _ => continue,
            };
            if !targets.contains(&el.target) {
                let kind = match el.target {
                    File => "file",
                    Message => "message",
                    Field => "field",
                    Oneof => "oneof",
                    Enum => "enum",
                    EnumValue => "enum entry",
                    Service => "service",
                    Method => "method",
                    ExtensionRange => "extension range",
                };
                return Err(self.err(
                    o.name_span.start,
                    format!("Option {feature} cannot be set on an entity of type `{kind}`."),
                ));
            }
        }
        Ok(())
    }

    /// Features belong to editions files only, and some only where they mean something.
    fn check_features_allowed(&self) -> R {
        let has = |opts: &[OptionEntry]| {
            opts.iter()
                .any(|o| o.name.first().is_some_and(|n| n == "features"))
        };
        if !self.editions() {
            if has(&self.file.options) {
                let at = self.file.syntax_span.map_or(Pos::default(), |s| s.start);
                return Err(self.err(at, "Features are only valid under editions."));
            }
            let mut named: Vec<(Pos, bool)> = Vec::new();
            for (_, m) in self.messages() {
                if !m.is_map_entry {
                    named.push((m.name_span.start, has(&m.options)));
                }
                named.extend(
                    m.oneofs
                        .iter()
                        .map(|o| (o.name_span.start, has(&o.options))),
                );
                named.extend(
                    m.extension_range_spans
                        .iter()
                        .zip(&m.extension_range_options)
                        .map(|(sp, o)| (sp.start, has(o))),
                );
            }
            for (_, parent, f) in self.fields() {
                if !parent.is_some_and(|p| p.is_map_entry) {
                    named.push((f.name_span.start, has(&f.options)));
                }
            }
            for (_, e) in self.enums() {
                named.push((e.name_span.start, has(&e.options)));
                named.extend(
                    e.values
                        .iter()
                        .map(|v| (v.name_span.start, has(&v.options))),
                );
            }
            for s in &self.file.services {
                named.push((s.name_span.start, has(&s.options)));
                named.extend(
                    s.methods
                        .iter()
                        .map(|m| (m.name_span.start, has(&m.options))),
                );
            }
            if let Some((pos, _)) = named.into_iter().find(|(_, h)| *h) {
                return Err(self.err(pos, "Features are only valid under editions."));
            }
            return Ok(());
        }
        if find_option(&self.file.options, &["features", "field_presence"])
            .and_then(|o| o.value.as_ident())
            == Some("LEGACY_REQUIRED")
        {
            return Err(self.err(
                Pos::default(),
                "Required presence can't be specified by default.",
            ));
        }
        Ok(())
    }

    fn check_map_key(&self, entry: Option<&Message>, f: &Field) -> R {
        if f.name != "key" {
            return Ok(());
        }
        let bad = match &f.ty {
            TypeRef::Scalar(s) => matches!(s, Scalar::Float | Scalar::Double | Scalar::Bytes),
            _ => true,
        };
        if bad {
            let pos = entry.map_or(f.span.start, |e| e.span.start);
            return Err(self.err(
                pos,
                "Key in map fields cannot be float/double, bytes or message types.",
            ));
        }
        Ok(())
    }

    fn check_field(&self, scope: &str, f: &Field) -> R {
        let fi = self.field_info(scope, f);
        let kind = fi.map(|fi| fi.kind);
        let is_message = matches!(kind, Some(Kind::Message | Kind::Group));
        let is_enum = matches!(kind, Some(Kind::Enum));
        if self.proto3() {
            if f.label == Label::Required {
                return Err(self.err(
                    f.type_span.start,
                    "Required fields are not allowed in proto3.",
                ));
            }
            if let Some(d) = find_option(&f.options, &["default"]) {
                return Err(self.err(
                    d.value_span.start,
                    "Explicit default values are not allowed in proto3.",
                ));
            }
            if matches!(f.ty, TypeRef::Group(_)) {
                return Err(self.err(
                    f.type_span.start,
                    "Groups are not supported in proto3 syntax.",
                ));
            }
            if let Some(e) = &f.extendee {
                let options = self.ix.resolve(e, scope).is_some_and(|(n, _)| {
                    n.starts_with("google.protobuf.") && n.ends_with("Options")
                });
                if !options {
                    return Err(self.err(
                        f.extendee_span.start,
                        "Extensions in proto3 are only allowed for defining options.",
                    ));
                }
            }
            if is_enum && f.extendee.is_none() {
                let name = fi.and_then(|fi| fi.type_name.clone()).unwrap_or_default();
                let name = name.trim_start_matches('.');
                if !self.enum_is_open(name) {
                    return Err(self.err(f.type_span.start, format!("Enum type \"{name}\" is not an open enum, but is used in \"{scope}\" which is a proto3 message type.")));
                }
            }
        }
        // Only singular, non-message fields outside oneofs can have implicit presence.
        let can_be_implicit =
            f.extendee.is_none() && f.oneof.is_none() && f.label != Label::Repeated && !is_message;
        if let (true, true, Some(fi), Some(_)) = (
            self.editions(),
            can_be_implicit,
            fi,
            find_option(&f.options, &["default"]),
        ) {
            if crate::model::feature(&fi.chain, fi.file, "field_presence") == "IMPLICIT" {
                return Err(self.err(
                    f.name_span.start,
                    "Implicit presence fields can't specify defaults.",
                ));
            }
        }
        if let Some(d) = find_option(&f.options, &["default"]) {
            if f.label == Label::Repeated {
                return Err(self.err(
                    d.value_span.start,
                    "Repeated fields can't have default values.",
                ));
            }
            if is_message {
                return Err(self.err(d.value_span.start, "Messages can't have default values."));
            }
            if is_enum {
                if let (Some(v), Some(fi)) = (d.value.as_ident(), fi) {
                    let name = fi.bare_type_name();
                    if let Some(en) = self.ix.enums.get(name) {
                        if !en.en.values.iter().any(|x| x.name == v) {
                            return Err(self.err(
                                d.value_span.start,
                                format!("Enum type \"{name}\" has no value named \"{v}\"."),
                            ));
                        }
                    }
                }
            }
        }
        if find_option(&f.options, &["packed"]).is_some() {
            let scalar = matches!(kind, Some(Kind::Scalar(s)) if !matches!(s, Scalar::String | Scalar::Bytes));
            let packable = f.label == Label::Repeated && (scalar || is_enum);
            if self.editions() {
                return Err(self.err(f.name_span.start, "Field option packed is not allowed under editions. Use the repeated_field_encoding feature to control this behavior."));
            }
            if !packable {
                return Err(self.err(
                    f.type_span.start,
                    "[packed = true] can only be specified for repeated primitive fields.",
                ));
            }
        }
        if find_option(&f.options, &["jstype"])
            .is_some_and(|o| o.value.as_ident() != Some("JS_NORMAL"))
            && !matches!(
                kind,
                Some(Kind::Scalar(
                    Scalar::Int64
                        | Scalar::Uint64
                        | Scalar::Sint64
                        | Scalar::Fixed64
                        | Scalar::Sfixed64
                ))
            )
        {
            return Err(self.err(
                f.type_span.start,
                "jstype is only allowed on int64, uint64, sint64, fixed64 or sfixed64 fields.",
            ));
        }
        for lazy in ["lazy", "unverified_lazy"] {
            if find_option(&f.options, &[lazy]).is_some() && !is_message {
                return Err(self.err(
                    f.type_span.start,
                    format!("[{lazy} = true] can only be specified for submessage fields."),
                ));
            }
        }
        if f.extendee.is_some() && find_option(&f.options, &["json_name"]).is_some() {
            return Err(self.err(
                f.name_span.start,
                "option json_name is not allowed on extension fields.",
            ));
        }
        if self.editions() {
            let own = |n: &str| {
                find_option(&f.options, &["features", n]).and_then(|o| o.value.as_ident())
            };
            if own("message_encoding").is_some() && !is_message {
                return Err(self.err(
                    f.name_span.start,
                    "Only message fields can specify message encoding.",
                ));
            }
            if let Some(p) = own("field_presence") {
                if f.label == Label::Repeated {
                    return Err(self.err(
                        f.name_span.start,
                        "Repeated fields can't specify field presence.",
                    ));
                }
                if f.extendee.is_some() {
                    return Err(self.err(
                        f.name_span.start,
                        "Extensions can't specify field presence.",
                    ));
                }
                if f.oneof.is_some() {
                    return Err(self.err(
                        f.name_span.start,
                        "Oneof fields can't specify field presence.",
                    ));
                }
                if p == "IMPLICIT" && is_message {
                    return Err(self.err(
                        f.name_span.start,
                        "Message fields can't specify implicit presence.",
                    ));
                }
            }
            if own("repeated_field_encoding").is_some() {
                let packable = matches!(kind, Some(Kind::Scalar(s)) if !matches!(s, Scalar::String | Scalar::Bytes))
                    || is_enum;
                if f.label != Label::Repeated || !packable {
                    return Err(self.err(
                        f.name_span.start,
                        "Only repeated primitive fields can specify PACKED encoding.",
                    ));
                }
            }
            if own("utf8_validation").is_some()
                && !matches!(kind, Some(Kind::Scalar(Scalar::String)))
                && !f.is_map
            {
                return Err(self.err(
                    f.name_span.start,
                    "Only string fields can specify utf8 validation.",
                ));
            }
        }
        Ok(())
    }

    fn field_info(&self, scope: &str, f: &Field) -> Option<&'v crate::model::FieldInfo<'a>> {
        if f.extendee.is_some() {
            let full = join(scope, &f.name);
            return self.ix.extensions.iter().find(|x| x.full_name == full);
        }
        self.ix.messages.get(scope)?.fields.get(&f.number)
    }

    fn enum_is_open(&self, full: &str) -> bool {
        let Some(e) = self.ix.enums.get(full) else {
            return true;
        };
        crate::model::feature(&e.chain, e.file, "enum_type") == "OPEN"
    }

    /// proto3 and editions: two fields may not share a JSON name.
    fn check_json_names(&self, m: &Message) -> R {
        if !(self.proto3() || self.editions()) {
            return Ok(());
        }
        let legacy = find_option(&m.options, &["deprecated_legacy_json_field_conflicts"])
            .and_then(|o| o.value.as_bool())
            .unwrap_or(false);
        if legacy {
            return Ok(());
        }
        let mut seen: HashMap<String, &Field> = HashMap::new();
        for f in &m.fields {
            let custom = find_option(&f.options, &["json_name"]).and_then(|o| o.value.as_string());
            let json = custom.clone().unwrap_or_else(|| json_name(&f.name));
            if let Some(other) = seen.get(&json) {
                let kind = if custom.is_some() {
                    "custom"
                } else {
                    "default"
                };
                return Err(self.err(f.name_span.start, format!("The {kind} JSON name of field \"{}\" (\"{json}\") conflicts with the default JSON name of field \"{}\".", f.name, other.name)));
            }
            seen.insert(json, f);
        }
        Ok(())
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// `name` without a leading `prefix` (compared case-insensitively, underscores ignored) and
/// the underscores after it, unless nothing would be left: protoc's enum prefix stripping.
fn strip_prefix(name: &str, prefix: &str) -> String {
    let prefix: Vec<char> = prefix
        .chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let chars: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0, 0);
    while i < chars.len() && j < prefix.len() {
        if chars[i] == '_' {
            i += 1;
            continue;
        }
        if chars[i].to_ascii_lowercase() != prefix[j] {
            return name.to_string();
        }
        i += 1;
        j += 1;
    }
    if j < prefix.len() {
        return name.to_string();
    }
    while i < chars.len() && chars[i] == '_' {
        i += 1;
    }
    if i == chars.len() {
        return name.to_string();
    }
    chars[i..].iter().collect()
}

/// protoc's EnumValueToPascalCase: words split at underscores, each capitalised.
fn pascal_case(name: &str) -> String {
    let mut out = String::new();
    let mut next_upper = true;
    for c in name.chars() {
        if c == '_' {
            next_upper = true;
        } else if next_upper {
            out.push(c.to_ascii_uppercase());
            next_upper = false;
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// protoc's default JSON name: underscores removed, the letter after one upper-cased.
pub fn json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn scalar_type(s: Scalar) -> OptType {
    match s {
        Scalar::Bool => OptType::Bool,
        Scalar::String | Scalar::Bytes => OptType::Str,
        Scalar::Float | Scalar::Double => OptType::Float,
        Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => OptType::Int {
            bits: 32,
            signed: true,
        },
        Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => OptType::Int {
            bits: 64,
            signed: true,
        },
        Scalar::Uint32 | Scalar::Fixed32 => OptType::Int {
            bits: 32,
            signed: false,
        },
        Scalar::Uint64 | Scalar::Fixed64 => OptType::Int {
            bits: 64,
            signed: false,
        },
    }
}

fn int_range(bits: u32, signed: bool) -> (i128, i128) {
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

fn type_word(ty: &OptType) -> String {
    match ty {
        OptType::Int { bits, signed } => format!("{}int{bits}", if *signed { "" } else { "u" }),
        OptType::Float => "double".into(),
        _ => String::new(),
    }
}

/// Why `value` cannot be given to an option of type `ty`, protoc's words.
fn value_error(
    ty: &OptType,
    value: &OptValue,
    full: &str,
    written: &str,
    aggregate_fields: &[String],
) -> Option<String> {
    match (ty, value) {
        (OptType::Bool, OptValue::Ident(v)) if v == "true" || v == "false" => None,
        (OptType::Bool, _) => Some(format!("Value must be \"true\" or \"false\" for boolean option \"{full}\".")),
        (OptType::Str, OptValue::Str(_)) => None,
        (OptType::Str, _) => Some(format!("Value must be quoted string for string option \"{full}\".")),
        (OptType::Int { bits, signed }, OptValue::Int(v)) => {
            let (lo, hi) = int_range(*bits, *signed);
            (*v < lo || *v > hi).then(|| format!("Value out of range, {lo} to {hi}, for {} option \"{full}\".", type_word(ty)))
        }
        (OptType::Int { bits, signed }, _) => {
            let (lo, hi) = int_range(*bits, *signed);
            Some(format!("Value must be integer, from {lo} to {hi}, for {} option \"{full}\".", type_word(ty)))
        }
        (OptType::Float, OptValue::Int(_) | OptValue::Float(_)) => None,
        (OptType::Float, OptValue::Ident(v)) if matches!(v.as_str(), "inf" | "infinity" | "nan") => None,
        (OptType::Float, _) => Some(format!("Value must be number for double option \"{full}\".")),
        (OptType::Enum(name, values), OptValue::Ident(v)) => {
            (!values.iter().any(|x| x == v)).then(|| format!("Enum type \"{name}\" has no value named \"{v}\" for option \"{full}\"."))
        }
        (OptType::Enum(..), _) => Some(format!("Value must be identifier for enum-valued option \"{full}\".")),
        (OptType::Message(name, fields), OptValue::Aggregate) => aggregate_fields
            .iter()
            .find(|f| !fields.iter().any(|x| x == *f))
            .map(|f| format!("Error while parsing option value for \"{}\": Message type \"{name}\" has no field named \"{f}\".", written.trim_start_matches('(').trim_end_matches(')'))),
        (OptType::Message(..), _) => Some(format!("Option \"{written}\" is a message. To set the entire message, use syntax like \"{written} = {{ <proto text format> }}\". To set fields within it, use syntax like \"{written}.foo = value\".")),
    }
}

/// A default value whose literal does not fit the scalar type (protoc's parser refuses it).
fn default_literal_error(s: Scalar, v: &OptValue) -> Option<String> {
    match scalar_type(s) {
        OptType::Bool => (v.as_bool().is_none()).then(|| "Expected \"true\" or \"false\".".into()),
        OptType::Str => (!matches!(v, OptValue::Str(_)))
            .then(|| "Expected string for field default value.".into()),
        OptType::Float => match v {
            OptValue::Int(_) | OptValue::Float(_) => None,
            OptValue::Ident(x) if matches!(x.as_str(), "inf" | "infinity" | "nan") => None,
            _ => Some("Expected number.".into()),
        },
        OptType::Int { bits, signed } => match v {
            OptValue::Int(x) => {
                let (lo, hi) = int_range(bits, signed);
                if !signed && *x < 0 {
                    Some("Unsigned field can't have negative default value.".into())
                } else if *x < lo || *x > hi {
                    Some("Integer out of range.".into())
                } else {
                    None
                }
            }
            _ => Some("Expected integer for field default value.".into()),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::json_name;

    #[test]
    fn json_names_are_protocs() {
        assert_eq!(json_name("foo_bar"), "fooBar");
        assert_eq!(json_name("foo__bar_"), "fooBar");
        assert_eq!(json_name("FooBar"), "FooBar");
    }
}
