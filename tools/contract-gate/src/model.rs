//! A parsed proto tree with every name resolved: the view the rules compare.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::ast::*;
use crate::lexer::{Pos, Span};
use crate::parser::parse_file;

/// Why a tree could not be loaded: what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: String,
    pub pos: Option<Pos>,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.path,
                p.line + 1,
                p.col + 1,
                self.message
            ),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// The .proto files of one side of the comparison, parsed.
#[derive(Debug, Clone)]
pub struct Tree {
    pub files: Vec<File>,
}

impl Tree {
    /// Parses every `.proto` file under `dir` (or under the module roots a `buf.yaml` there names).
    pub fn load_dir(dir: &Path) -> Result<Tree, LoadError> {
        let roots = module_roots(dir);
        let mut sources = Vec::new();
        let mut displays = std::collections::HashMap::new();
        for root in roots {
            let mut found = Vec::new();
            collect(&root, &mut found).map_err(|e| LoadError {
                path: root.display().to_string(),
                pos: None,
                message: e.to_string(),
            })?;
            for p in found {
                let rel = p
                    .strip_prefix(&root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&p).map_err(|e| LoadError {
                    path: p.display().to_string(),
                    pos: None,
                    message: e.to_string(),
                })?;
                let shown = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                displays.insert(rel.clone(), shown);
                sources.push((rel, text));
            }
        }
        let mut tree = Tree::from_sources(sources)?;
        for f in &mut tree.files {
            if let Some(d) = displays.remove(&f.path) {
                f.display = d;
            }
        }
        Ok(tree)
    }

    /// Parses in-memory sources: (path relative to the module root, text).
    pub fn from_sources(mut sources: Vec<(String, String)>) -> Result<Tree, LoadError> {
        sources.sort_by(|a, b| a.0.cmp(&b.0));
        let mut files = Vec::with_capacity(sources.len());
        for (path, text) in &sources {
            let f = parse_file(path, text).map_err(|e| LoadError {
                path: path.clone(),
                pos: Some(e.pos),
                message: e.message,
            })?;
            files.push(f);
        }
        Ok(Tree { files })
    }

    /// Resolves every name; compile errors (unresolved types, missing imports, bad field
    /// numbers) come from here.
    pub fn index(&self) -> Result<Index<'_>, LoadError> {
        let ix = Index::build(self)?;
        crate::validate::validate(self, &ix)?;
        Ok(ix)
    }
}

/// The module roots of `dir`: those its `buf.work.yaml` or `buf.yaml` names (v1beta1
/// `build.roots`, v2 `modules`), else `dir` itself.
pub fn module_roots(dir: &Path) -> Vec<PathBuf> {
    crate::config::module_dirs(dir)
}

/// Every `.proto` file under `dir`, depth first, in name order.
pub fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    collect(dir, &mut out)?;
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "proto") {
            out.push(p);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymKind {
    Message,
    Enum,
}

/// The resolved kind of a field, as protobuf-go's `protoreflect.Kind` (groups include
/// delimited-encoded messages in editions files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Scalar(Scalar),
    Enum,
    Message,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scalar(s) => s.name(),
            Kind::Enum => "enum",
            Kind::Message => "message",
            Kind::Group => "group",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MsgInfo<'a> {
    pub file: &'a File,
    pub msg: &'a Message,
    pub full_name: String,
    pub nested_name: String,
    /// Option lists from the file inwards, ending with this message's.
    pub chain: Vec<&'a [OptionEntry]>,
    /// The message's fields by number, resolved (extensions declared inside are in
    /// [`Index::extensions`]).
    pub fields: BTreeMap<i64, FieldInfo<'a>>,
}

#[derive(Debug, Clone)]
pub struct EnumInfo<'a> {
    pub file: &'a File,
    pub en: &'a Enum,
    pub full_name: String,
    pub nested_name: String,
    pub chain: Vec<&'a [OptionEntry]>,
}

#[derive(Debug, Clone)]
pub struct ServiceInfo<'a> {
    pub file: &'a File,
    pub svc: &'a Service,
    pub full_name: String,
}

/// A field or extension with its type resolved.
#[derive(Debug, Clone)]
pub struct FieldInfo<'a> {
    pub file: &'a File,
    pub field: &'a Field,
    /// The message that declares the field (for extensions: the scope, if any).
    pub parent: Option<&'a Message>,
    pub parent_is_map_entry: bool,
    /// Fully qualified name (package.Scope.name).
    pub full_name: String,
    /// For extensions: the extendee's full name without a leading dot.
    pub extendee: Option<String>,
    /// Resolved type name with a leading dot, for message/enum/group fields.
    pub type_name: Option<String>,
    pub kind: Kind,
    pub chain: Vec<&'a [OptionEntry]>,
}

impl FieldInfo<'_> {
    /// The resolved type name without its leading dot ("" for a scalar).
    pub fn bare_type_name(&self) -> &str {
        self.type_name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('.')
    }
}

#[derive(Debug)]
pub struct Index<'a> {
    pub files: BTreeMap<&'a str, &'a File>,
    pub messages: BTreeMap<String, MsgInfo<'a>>,
    pub enums: BTreeMap<String, EnumInfo<'a>>,
    pub services: BTreeMap<String, ServiceInfo<'a>>,
    pub extensions: Vec<FieldInfo<'a>>,
    symbols: HashMap<String, SymKind>,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl<'a> Index<'a> {
    fn build(tree: &'a Tree) -> Result<Index<'a>, LoadError> {
        let mut ix = Index {
            files: BTreeMap::new(),
            messages: BTreeMap::new(),
            enums: BTreeMap::new(),
            services: BTreeMap::new(),
            extensions: Vec::new(),
            symbols: well_known_symbols(),
        };
        for f in &tree.files {
            ix.files.insert(f.path.as_str(), f);
            let chain: Vec<&[OptionEntry]> = vec![&f.options];
            for m in &f.messages {
                ix.add_message(f, m, &f.package, "", &chain)?;
            }
            for e in &f.enums {
                ix.add_enum(f, e, &f.package, "", &chain)?;
            }
            for s in &f.services {
                let full = join(&f.package, &s.name);
                ix.services.insert(
                    full.clone(),
                    ServiceInfo {
                        file: f,
                        svc: s,
                        full_name: full,
                    },
                );
            }
        }
        for f in &tree.files {
            for (imp, sp) in f.imports.iter().zip(&f.import_spans) {
                if !ix.files.contains_key(imp.as_str()) && !imp.starts_with("google/protobuf/") {
                    return Err(LoadError {
                        path: f.path.clone(),
                        pos: Some(sp.start),
                        message: format!("Import \"{imp}\" was not found or had errors."),
                    });
                }
            }
        }
        for mi in ix.messages.values() {
            validate_message(mi)?;
        }
        // Extensions need all symbols first.
        for f in &tree.files {
            let chain: Vec<&[OptionEntry]> = vec![&f.options];
            for x in &f.extensions {
                let fi = ix.resolve_field(f, x, None, &f.package, &chain)?;
                ix.extensions.push(fi);
            }
        }
        // Every field is resolved here, once: unresolvable types are compile errors, and the
        // rules read the result.
        // In source order, map entries last: protoc names no line for a map entry's fields, and
        // reports every unresolved name, so the first one met here is one protoc names.
        let mut names: Vec<(bool, &str, Span, String)> = ix
            .messages
            .values()
            .map(|m| {
                (
                    m.msg.is_map_entry,
                    m.file.path.as_str(),
                    m.msg.span,
                    m.full_name.clone(),
                )
            })
            .collect();
        // Files in import order (protoc builds a file's imports first).
        let rank: HashMap<&str, usize> = crate::validate::import_order(tree)
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_str(), i))
            .collect();
        let order = |path: &str| rank.get(path).copied().unwrap_or(usize::MAX);
        names.sort_by_key(|a| (a.0, order(a.1), a.2.start));
        let names: Vec<String> = names.into_iter().map(|n| n.3).collect();
        for name in names {
            let mi = &ix.messages[&name];
            let mut exts = Vec::with_capacity(mi.msg.extensions.len());
            for x in &mi.msg.extensions {
                exts.push(ix.resolve_field(mi.file, x, Some(mi.msg), &mi.full_name, &mi.chain)?);
            }
            let mut fields = BTreeMap::new();
            for x in &mi.msg.fields {
                let fi = ix.resolve_field(mi.file, x, Some(mi.msg), &mi.full_name, &mi.chain)?;
                fields.insert(x.number, fi);
            }
            ix.extensions.extend(exts);
            if let Some(m) = ix.messages.get_mut(&name) {
                m.fields = fields;
            }
        }
        for s in ix.services.values() {
            for m in &s.svc.methods {
                for (t, sp) in [(&m.input, m.input_span), (&m.output, m.output_span)] {
                    if ix.resolve(t, &s.full_name).is_none() {
                        return Err(LoadError {
                            path: s.file.path.clone(),
                            pos: Some(sp.start),
                            message: format!("{t} is not defined"),
                        });
                    }
                }
            }
        }
        Ok(ix)
    }

    fn add_message(
        &mut self,
        f: &'a File,
        m: &'a Message,
        scope: &str,
        nested_scope: &str,
        chain: &[&'a [OptionEntry]],
    ) -> Result<(), LoadError> {
        let full = join(scope, &m.name);
        let nested = join(nested_scope, &m.name);
        // Defined twice in one file: validation reports it, in protoc's order. In two files:
        // here.
        let other_file = |ix: &Self| {
            ix.messages
                .get(&full)
                .map(|o| o.file.path.clone())
                .or_else(|| ix.enums.get(&full).map(|o| o.file.path.clone()))
                .filter(|p| p != &f.path)
        };
        if let Some(other) = other_file(self) {
            return Err(LoadError {
                path: f.path.clone(),
                pos: Some(m.name_span.start),
                message: format!("\"{full}\" is already defined in file \"{other}\"."),
            });
        }
        if self.messages.contains_key(&full) || self.enums.contains_key(&full) {
            return Ok(());
        }
        self.symbols.insert(full.clone(), SymKind::Message);
        let mut chain = chain.to_vec();
        chain.push(&m.options);
        for n in &m.messages {
            self.add_message(f, n, &full, &nested, &chain)?;
        }
        for e in &m.enums {
            self.add_enum(f, e, &full, &nested, &chain)?;
        }
        self.messages.insert(
            full.clone(),
            MsgInfo {
                file: f,
                msg: m,
                full_name: full,
                nested_name: nested,
                chain,
                fields: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn add_enum(
        &mut self,
        f: &'a File,
        e: &'a Enum,
        scope: &str,
        nested_scope: &str,
        chain: &[&'a [OptionEntry]],
    ) -> Result<(), LoadError> {
        let full = join(scope, &e.name);
        let other = self
            .messages
            .get(&full)
            .map(|o| o.file.path.clone())
            .or_else(|| self.enums.get(&full).map(|o| o.file.path.clone()));
        match other {
            Some(other) if other != f.path => {
                return Err(LoadError {
                    path: f.path.clone(),
                    pos: Some(e.name_span.start),
                    message: format!("\"{full}\" is already defined in file \"{other}\"."),
                });
            }
            // In this file: validation reports it, in protoc's order.
            Some(_) => return Ok(()),
            None => {}
        }
        self.symbols.insert(full.clone(), SymKind::Enum);
        let mut chain = chain.to_vec();
        chain.push(&e.options);
        self.enums.insert(
            full.clone(),
            EnumInfo {
                file: f,
                en: e,
                full_name: full,
                nested_name: join(nested_scope, &e.name),
                chain,
            },
        );
        Ok(())
    }

    /// Resolves a type reference from `scope` the way protoc does (innermost scope first).
    pub fn resolve(&self, name: &str, scope: &str) -> Option<(String, SymKind)> {
        if let Some(abs) = name.strip_prefix('.') {
            return self.symbols.get(abs).map(|k| (abs.to_string(), *k));
        }
        let mut scope = scope.to_string();
        loop {
            let cand = join(&scope, name);
            if let Some(k) = self.symbols.get(&cand) {
                return Some((cand, *k));
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

    fn resolve_field(
        &self,
        f: &'a File,
        x: &'a Field,
        parent: Option<&'a Message>,
        scope: &str,
        chain: &[&'a [OptionEntry]],
    ) -> Result<FieldInfo<'a>, LoadError> {
        let err = |sp: Span, what: &str| LoadError {
            path: f.path.clone(),
            pos: Some(sp.start),
            message: format!("\"{what}\" is not defined."),
        };
        // The extendee first: protoc reports it before the field's type.
        let extendee = match &x.extendee {
            Some(e) => Some(
                self.resolve(e, scope)
                    .ok_or_else(|| err(x.extendee_span, e))?
                    .0,
            ),
            None => None,
        };
        let (type_name, kind) = match &x.ty {
            TypeRef::Scalar(s) => (None, Kind::Scalar(*s)),
            TypeRef::Group(g) => (Some(format!(".{}", join(scope, g))), Kind::Group),
            TypeRef::Named(n) => {
                let (full, k) = self.resolve(n, scope).ok_or_else(|| err(x.type_span, n))?;
                let kind = match k {
                    SymKind::Enum => Kind::Enum,
                    SymKind::Message => Kind::Message,
                };
                (Some(format!(".{full}")), kind)
            }
        };
        let mut chain = chain.to_vec();
        if let (Some(p), Some(o)) = (parent, x.oneof) {
            if x.extendee.is_none() {
                chain.push(&p.oneofs[o].options);
            }
        }
        chain.push(&x.options);
        let mut fi = FieldInfo {
            file: f,
            field: x,
            parent,
            parent_is_map_entry: parent.is_some_and(|p| p.is_map_entry) && x.extendee.is_none(),
            full_name: join(scope, &x.name),
            extendee,
            type_name,
            kind,
            chain,
        };
        if fi.kind == Kind::Message
            && !x.is_map
            && matches!(f.syntax, Syntax::Editions(_))
            && feature(&fi.chain, f, "message_encoding") == "DELIMITED"
        {
            fi.kind = Kind::Group;
        }
        Ok(fi)
    }
}

/// The compile errors protoc would report that change what the rules see: field numbers out of
/// range, reused or reserved, and names used twice.
fn validate_message(mi: &MsgInfo<'_>) -> Result<(), LoadError> {
    let err = |sp: Span, message: String| LoadError {
        path: mi.file.path.clone(),
        pos: Some(sp.start),
        message,
    };
    let mut numbers: HashMap<i64, &str> = HashMap::new();
    let mut names: HashMap<&str, ()> = HashMap::new();
    for f in &mi.msg.fields {
        if !(1..=536_870_911).contains(&f.number) || (19_000..=19_999).contains(&f.number) {
            return Err(err(f.number_span, format!("field \"{}\" has number {}, outside the valid range (1 to 536870911, not 19000 to 19999)", f.name, f.number)));
        }
        if let Some(other) = numbers.insert(f.number, &f.name) {
            return Err(err(
                f.number_span,
                format!(
                    "Field number {} has already been used in \"{}\" by field \"{other}\".",
                    f.number, mi.full_name
                ),
            ));
        }
        if names.insert(&f.name, ()).is_some() {
            return Err(err(
                f.name_span,
                format!(
                    "field \"{}\" is already defined in \"{}\"",
                    f.name, mi.full_name
                ),
            ));
        }
        // protoc names the reserved range, not the field.
        if let Some(i) = mi
            .msg
            .reserved_ranges
            .iter()
            .position(|r| (r.start..=r.end).contains(&f.number))
        {
            let at = mi
                .msg
                .reserved_range_spans
                .get(i)
                .copied()
                .unwrap_or(f.number_span);
            return Err(err(
                at,
                format!("Field \"{}\" uses reserved number {}.", f.name, f.number),
            ));
        }
        if mi.msg.reserved_names.iter().any(|n| n == &f.name) {
            return Err(err(
                f.name_span,
                format!("field \"{}\" uses a reserved name", f.name),
            ));
        }
    }
    Ok(())
}

/// The resolved value of a standard feature (`field_presence`, `enum_type`, ...) for an
/// element whose option chain (file → element) is given.
pub fn feature(chain: &[&[OptionEntry]], file: &File, name: &str) -> String {
    if let Syntax::Editions(_) = file.syntax {
        for opts in chain.iter().rev() {
            if let Some(o) = find_option(opts, &["features", name]) {
                if let Some(v) = o.value.as_ident() {
                    return v.to_string();
                }
            }
        }
    }
    feature_default(&file.syntax, name).to_string()
}

/// The span of the option that sets a standard feature on this element itself.
pub fn feature_span(opts: &[OptionEntry], name: &str) -> Option<Span> {
    find_option(opts, &["features", name]).map(|o| o.span)
}

fn feature_default(syntax: &Syntax, name: &str) -> &'static str {
    let p2 = matches!(syntax, Syntax::Proto2);
    let p3 = matches!(syntax, Syntax::Proto3);
    match name {
        "field_presence" => {
            if p3 {
                "IMPLICIT"
            } else {
                "EXPLICIT"
            }
        }
        "enum_type" => {
            if p2 {
                "CLOSED"
            } else {
                "OPEN"
            }
        }
        "utf8_validation" => {
            if p2 {
                "NONE"
            } else {
                "VERIFY"
            }
        }
        "json_format" => {
            if p2 {
                "LEGACY_BEST_EFFORT"
            } else {
                "ALLOW"
            }
        }
        "message_encoding" => "LENGTH_PREFIXED",
        "repeated_field_encoding" => {
            if p2 {
                "EXPANDED"
            } else {
                "PACKED"
            }
        }
        _ => "",
    }
}

/// A language feature extension (`(pb.cpp)`, `(pb.java)`) resolved along the chain.
pub fn lang_feature(
    chain: &[&[OptionEntry]],
    file: &File,
    ext: &str,
    name: &str,
) -> Option<String> {
    if let Syntax::Editions(_) = file.syntax {
        for opts in chain.iter().rev() {
            if let Some(o) = find_option(opts, &["features", ext, name]) {
                if let Some(v) = o.value.as_ident() {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

/// Names from imports outside the module that protoc ships (google/protobuf/*.proto).
fn well_known_symbols() -> HashMap<String, SymKind> {
    let messages = [
        "Any",
        "Api",
        "Method",
        "Mixin",
        "BoolValue",
        "BytesValue",
        "DoubleValue",
        "Duration",
        "Empty",
        "Field",
        "FieldMask",
        "FloatValue",
        "Int32Value",
        "Int64Value",
        "ListValue",
        "Option",
        "SourceContext",
        "StringValue",
        "Struct",
        "Timestamp",
        "Type",
        "UInt32Value",
        "UInt64Value",
        "Value",
        "Enum",
        "EnumValue",
        "FileDescriptorSet",
        "FileDescriptorProto",
        "DescriptorProto",
        "DescriptorProto.ExtensionRange",
        "DescriptorProto.ReservedRange",
        "ExtensionRangeOptions",
        "ExtensionRangeOptions.Declaration",
        "FieldDescriptorProto",
        "OneofDescriptorProto",
        "EnumDescriptorProto",
        "EnumDescriptorProto.EnumReservedRange",
        "EnumValueDescriptorProto",
        "ServiceDescriptorProto",
        "MethodDescriptorProto",
        "FileOptions",
        "MessageOptions",
        "FieldOptions",
        "FieldOptions.EditionDefault",
        "FieldOptions.FeatureSupport",
        "OneofOptions",
        "EnumOptions",
        "EnumValueOptions",
        "ServiceOptions",
        "MethodOptions",
        "UninterpretedOption",
        "UninterpretedOption.NamePart",
        "FeatureSet",
        "FeatureSetDefaults",
        "FeatureSetDefaults.FeatureSetEditionDefault",
        "SourceCodeInfo",
        "SourceCodeInfo.Location",
        "GeneratedCodeInfo",
        "GeneratedCodeInfo.Annotation",
        "CppFeatures",
        "JavaFeatures",
    ];
    let enums = [
        "NullValue",
        "Syntax",
        "Field.Kind",
        "Field.Cardinality",
        "Edition",
        "FieldDescriptorProto.Type",
        "FieldDescriptorProto.Label",
        "FileOptions.OptimizeMode",
        "FieldOptions.CType",
        "FieldOptions.JSType",
        "FieldOptions.OptionRetention",
        "FieldOptions.OptionTargetType",
        "MethodOptions.IdempotencyLevel",
        "FeatureSet.FieldPresence",
        "FeatureSet.EnumType",
        "FeatureSet.RepeatedFieldEncoding",
        "FeatureSet.Utf8Validation",
        "FeatureSet.MessageEncoding",
        "FeatureSet.JsonFormat",
        "ExtensionRangeOptions.VerificationState",
        "GeneratedCodeInfo.Annotation.Semantic",
        "CppFeatures.StringType",
        "JavaFeatures.Utf8Validation",
    ];
    let mut m = HashMap::new();
    for n in messages {
        m.insert(format!("google.protobuf.{n}"), SymKind::Message);
    }
    m.insert("pb.CppFeatures".into(), SymKind::Message);
    m.insert("pb.JavaFeatures".into(), SymKind::Message);
    for n in enums {
        m.insert(format!("google.protobuf.{n}"), SymKind::Enum);
    }
    m
}
