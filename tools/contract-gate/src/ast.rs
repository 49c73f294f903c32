//! The syntax tree of one .proto file, with the source spans the rules report.

use crate::lexer::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Syntax {
    Proto2,
    Proto3,
    /// `edition = "2023";` with the edition string.
    Editions(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum OptValue {
    Ident(String),
    Int(i128),
    Float(f64),
    Str(Vec<u8>),
    Aggregate,
}

impl OptValue {
    pub fn as_ident(&self) -> Option<&str> {
        match self {
            OptValue::Ident(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_ident() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }
    }
    pub fn as_string(&self) -> Option<String> {
        match self {
            OptValue::Str(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// One option: `name = value`, its name split into components (`features`, `(pb.cpp)`,
/// `string_type`), extension names in parentheses without a leading dot.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionEntry {
    pub name: Vec<String>,
    pub value: OptValue,
    pub span: Span,
    /// Where the name starts and ends (protoc reports unknown options here).
    pub name_span: Span,
    /// Where the value is (protoc reports values of the wrong type here).
    pub value_span: Span,
    /// For an aggregate value `{ a: 1 b { ... } }`: its top-level field names.
    pub aggregate_fields: Vec<String>,
    /// For an aggregate value that is not valid text format: where and why.
    pub aggregate_error: Option<crate::lexer::SyntaxError>,
}

pub fn find_option<'a>(opts: &'a [OptionEntry], name: &[&str]) -> Option<&'a OptionEntry> {
    opts.iter()
        .rev()
        .find(|o| o.name.len() == name.len() && o.name.iter().zip(name).all(|(a, b)| a == b))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    None,
    Optional,
    Required,
    Repeated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    Double,
    Float,
    Int64,
    Uint64,
    Int32,
    Fixed64,
    Fixed32,
    Bool,
    String,
    Bytes,
    Uint32,
    Sfixed32,
    Sfixed64,
    Sint32,
    Sint64,
}

impl Scalar {
    pub fn from_name(s: &str) -> Option<Scalar> {
        Some(match s {
            "double" => Scalar::Double,
            "float" => Scalar::Float,
            "int64" => Scalar::Int64,
            "uint64" => Scalar::Uint64,
            "int32" => Scalar::Int32,
            "fixed64" => Scalar::Fixed64,
            "fixed32" => Scalar::Fixed32,
            "bool" => Scalar::Bool,
            "string" => Scalar::String,
            "bytes" => Scalar::Bytes,
            "uint32" => Scalar::Uint32,
            "sfixed32" => Scalar::Sfixed32,
            "sfixed64" => Scalar::Sfixed64,
            "sint32" => Scalar::Sint32,
            "sint64" => Scalar::Sint64,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Double => "double",
            Scalar::Float => "float",
            Scalar::Int64 => "int64",
            Scalar::Uint64 => "uint64",
            Scalar::Int32 => "int32",
            Scalar::Fixed64 => "fixed64",
            Scalar::Fixed32 => "fixed32",
            Scalar::Bool => "bool",
            Scalar::String => "string",
            Scalar::Bytes => "bytes",
            Scalar::Uint32 => "uint32",
            Scalar::Sfixed32 => "sfixed32",
            Scalar::Sfixed64 => "sfixed64",
            Scalar::Sint32 => "sint32",
            Scalar::Sint64 => "sint64",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    Scalar(Scalar),
    /// A message or enum reference as written (may start with a dot).
    Named(String),
    /// A proto2 group; the name of the nested message.
    Group(String),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub name_span: Span,
    pub number: i64,
    pub number_span: Span,
    pub label: Label,
    pub ty: TypeRef,
    pub type_span: Span,
    pub span: Span,
    pub options: Vec<OptionEntry>,
    /// Index into the parent message's oneofs.
    pub oneof: Option<usize>,
    /// For extensions: the extendee as written.
    pub extendee: Option<String>,
    /// For extensions: where the extendee is named.
    pub extendee_span: Span,
    pub is_map: bool,
    /// Where the label is, if there is one.
    pub label_span: Option<Span>,
}

impl Field {
    /// True for a scalar field.
    pub fn ty_is_scalar(&self) -> bool {
        matches!(self.ty, TypeRef::Scalar(_))
    }
}

#[derive(Debug, Clone)]
pub struct Oneof {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub options: Vec<OptionEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: i64,
    /// Inclusive.
    pub end: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Message {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub options: Vec<OptionEntry>,
    pub fields: Vec<Field>,
    pub oneofs: Vec<Oneof>,
    pub messages: Vec<Message>,
    pub enums: Vec<Enum>,
    pub extensions: Vec<Field>,
    pub extension_ranges: Vec<Range>,
    /// Where each extension range starts.
    pub extension_range_spans: Vec<Span>,
    /// The options of each extension range (those of its `extensions` statement).
    pub extension_range_options: Vec<Vec<OptionEntry>>,
    pub reserved_ranges: Vec<Range>,
    pub reserved_names: Vec<String>,
    /// Where each reserved range and name is (parallel to the lists above).
    pub reserved_range_spans: Vec<Span>,
    pub reserved_name_spans: Vec<Span>,
    pub is_map_entry: bool,
}

#[derive(Debug, Clone)]
pub struct EnumValue {
    pub name: String,
    pub name_span: Span,
    pub options: Vec<OptionEntry>,
    pub number: i64,
    pub number_span: Span,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct Enum {
    pub name: String,
    pub name_span: Span,
    /// Where the next token after the closing brace starts (or the end of the file): where
    /// protoc reports an `allow_alias` that aliases nothing.
    pub after: crate::lexer::Pos,
    pub span: Span,
    pub options: Vec<OptionEntry>,
    pub values: Vec<EnumValue>,
    pub reserved_ranges: Vec<Range>,
    pub reserved_names: Vec<String>,
    pub reserved_range_spans: Vec<Span>,
    pub reserved_name_spans: Vec<Span>,
}

#[derive(Debug, Clone)]
pub struct Method {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub input: String,
    pub input_span: Span,
    pub output: String,
    pub output_span: Span,
    pub client_streaming: bool,
    pub server_streaming: bool,
    pub options: Vec<OptionEntry>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub name_span: Span,
    pub span: Span,
    pub options: Vec<OptionEntry>,
    pub methods: Vec<Method>,
}

#[derive(Debug, Clone)]
pub struct File {
    /// Path relative to the module root, with `/` separators.
    pub path: String,
    /// Path as reported: relative to the directory given (includes a buf.yaml module root).
    pub display: String,
    pub syntax: Syntax,
    pub syntax_span: Option<Span>,
    pub package: String,
    pub package_span: Option<Span>,
    pub imports: Vec<String>,
    /// Where each import statement is (parallel to `imports`).
    pub import_spans: Vec<Span>,
    /// The imports marked `public` (re-exported to importers).
    pub public_imports: Vec<String>,
    /// The end of the file.
    pub eof: crate::lexer::Pos,
    pub options: Vec<OptionEntry>,
    pub messages: Vec<Message>,
    pub enums: Vec<Enum>,
    pub services: Vec<Service>,
    pub extensions: Vec<Field>,
}
