//! Field rules: type, name, JSON name, cardinality, presence, oneof and codegen options.

use super::*;

pub(super) fn field_description(f: &FieldInfo<'_>) -> String {
    let name = if f.extendee.is_some() {
        f.full_name.clone()
    } else {
        f.field.name.clone()
    };
    field_description_with_name(f, &name)
}

pub(super) fn field_description_with_name(f: &FieldInfo<'_>, name: &str) -> String {
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
pub(super) enum Cardinality {
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

pub(super) fn is_editions(f: &File) -> bool {
    matches!(f.syntax, Syntax::Editions(_))
}

pub(super) fn cardinality(f: &FieldInfo<'_>) -> Cardinality {
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

pub(super) fn has_presence(f: &FieldInfo<'_>) -> bool {
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

pub(super) fn type_name_span(f: &Field) -> Span {
    match f.ty {
        TypeRef::Group(_) => f.name_span,
        _ => f.type_span,
    }
}

pub(super) fn pretty_kind(f: &FieldInfo<'_>) -> &'static str {
    if f.kind == Kind::Group && !matches!(f.file.syntax, Syntax::Proto2) {
        "message (delimited encoding)"
    } else {
        f.kind.name()
    }
}

pub(super) fn declared_scalar(f: &Field) -> Option<Scalar> {
    match f.ty {
        TypeRef::Scalar(s) => Some(s),
        _ => None,
    }
}

/// Encodings that read each other's bytes (protobuf's "updating a message type" rules).
fn wire_group(k: Kind) -> u8 {
    match k {
        Kind::Scalar(s) => match s {
            Scalar::Int32 | Scalar::Int64 | Scalar::Uint32 | Scalar::Uint64 | Scalar::Bool => 1,
            Scalar::Sint32 | Scalar::Sint64 => 2,
            // string may become bytes, not the other way round: separate groups.
            Scalar::String => 3,
            Scalar::Bytes => 4,
            Scalar::Fixed32 | Scalar::Sfixed32 => 5,
            Scalar::Fixed64 | Scalar::Sfixed64 => 6,
            Scalar::Double => 7,
            Scalar::Float => 8,
        },
        Kind::Group => 9,
        Kind::Message => 10,
        Kind::Enum => 11,
    }
}

/// Encodings that read each other's bytes *and* JSON.
fn wire_json_group(k: Kind) -> u8 {
    match k {
        Kind::Scalar(s) => match s {
            Scalar::Int32 | Scalar::Uint32 => 1,
            Scalar::Int64 | Scalar::Uint64 => 2,
            Scalar::Fixed32 | Scalar::Sfixed32 => 3,
            Scalar::Fixed64 | Scalar::Sfixed64 => 4,
            Scalar::Bool => 5,
            Scalar::Sint32 => 6,
            Scalar::Sint64 => 7,
            Scalar::String => 8,
            Scalar::Bytes => 9,
            Scalar::Double => 10,
            Scalar::Float => 11,
        },
        Kind::Group => 12,
        Kind::Message => 13,
        Kind::Enum => 14,
    }
}

/// FIELD_WIRE_COMPATIBLE_TYPE and FIELD_WIRE_JSON_COMPATIBLE_TYPE: a type change the encoding
/// (and JSON) cannot survive; an enum may change to one of the same name that keeps every
/// value.
fn wire_compatible_type(
    prev: &Index<'_>,
    cur: &Index<'_>,
    p: &FieldInfo<'_>,
    c: &FieldInfo<'_>,
    desc: &str,
    out: &mut Out,
) {
    let span = if matches!(c.kind, Kind::Message | Kind::Enum | Kind::Group) {
        type_name_span(c.field)
    } else {
        c.field.type_span
    };
    let changed = |extra: &str| {
        format!(
            "{desc} changed type from \"{}\" to \"{}\". {extra}",
            pretty_kind(p),
            pretty_kind(c)
        )
    };
    let renamed = format!(
        "{desc} changed type from \"{}\" to \"{}\".",
        p.bare_type_name(),
        c.bare_type_name()
    );
    // Same kind, another named type: messages never; enums if the new one has the same
    // name and every old value.
    let other_named_type = || -> bool {
        if p.type_name == c.type_name {
            return false;
        }
        match c.kind {
            Kind::Message | Kind::Group => true,
            Kind::Enum => {
                let (pn, cn) = (p.bare_type_name(), c.bare_type_name());
                let (Some(pe), Some(ce)) = (prev.enums.get(pn), cur.enums.get(cn)) else {
                    return true;
                };
                pe.en.name != ce.en.name
                    || !pe.en.values.iter().all(|v| {
                        ce.en
                            .values
                            .iter()
                            .any(|w| w.name == v.name && w.number == v.number)
                    })
            }
            Kind::Scalar(_) => false,
        }
    };
    let (pk, ck) = (p.kind, c.kind);
    if wire_group(pk) != wire_group(ck) {
        let string_to_bytes =
            pk == Kind::Scalar(Scalar::String) && ck == Kind::Scalar(Scalar::Bytes);
        if !string_to_bytes {
            let mut extra = "See https://developers.google.com/protocol-buffers/docs/proto3#updating for wire compatibility rules.".to_string();
            if pk == Kind::Scalar(Scalar::Bytes) && ck == Kind::Scalar(Scalar::String) {
                extra.push_str(" Note that while string and bytes are compatible if the data is valid UTF-8, there is no way to enforce that a bytes field is UTF-8, so these fields may be incompatible.");
            }
            out.at(
                c.file,
                Some(span),
                "FIELD_WIRE_COMPATIBLE_TYPE",
                changed(&extra),
            );
        }
    } else if other_named_type() {
        out.at(
            c.file,
            Some(type_name_span(c.field)),
            "FIELD_WIRE_COMPATIBLE_TYPE",
            renamed.clone(),
        );
    }
    if wire_json_group(pk) != wire_json_group(ck) {
        out.at(
            c.file,
            Some(span),
            "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
            changed("See https://developers.google.com/protocol-buffers/docs/proto3#updating for wire compatibility rules and https://developers.google.com/protocol-buffers/docs/proto3#json for JSON compatibility rules."),
        );
    } else if other_named_type() {
        out.at(
            c.file,
            Some(type_name_span(c.field)),
            "FIELD_WIRE_JSON_COMPATIBLE_TYPE",
            renamed,
        );
    }
}

pub(super) fn field_pair(
    prev: &Index<'_>,
    cur: &Index<'_>,
    p: &FieldInfo<'_>,
    c: &FieldInfo<'_>,
    out: &mut Out,
) {
    let cf = c.file;
    let desc = field_description(c);
    let both_map_entries = p.parent_is_map_entry && c.parent_is_map_entry;
    // FIELD_SAME_CARDINALITY, and the WIRE / WIRE_JSON versions that allow changes the
    // encoding survives (explicit ↔ implicit presence; repeated ↔ map on the wire only).
    if !both_map_entries {
        let (a, b) = (cardinality(p), cardinality(c));
        let message = format!(
            "{desc} changed cardinality from \"{}\" to \"{}\".",
            a.name(),
            b.name()
        );
        let group = |x: Cardinality, json: bool| match x {
            Cardinality::Explicit | Cardinality::Implicit => 1,
            Cardinality::Required => 2,
            Cardinality::Repeated => 3,
            Cardinality::Map if json => 4,
            Cardinality::Map => 3,
        };
        if a != b {
            out.at(
                cf,
                Some(c.field.span),
                "FIELD_SAME_CARDINALITY",
                message.clone(),
            );
        }
        if group(a, false) != group(b, false) {
            out.at(
                cf,
                Some(c.field.span),
                "FIELD_WIRE_COMPATIBLE_CARDINALITY",
                message.clone(),
            );
        }
        if group(a, true) != group(b, true) {
            out.at(
                cf,
                Some(c.field.span),
                "FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY",
                message,
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
                p.bare_type_name(),
                c.bare_type_name()
            ),
        );
    }
    wire_compatible_type(prev, cur, p, c, &desc, out);
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

pub(super) fn cpp_string_type(f: &FieldInfo<'_>) -> (String, bool) {
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

pub(super) fn java_utf8(f: &FieldInfo<'_>) -> String {
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
