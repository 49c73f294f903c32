//! The corpus of the differential test and its mutations: trees of .proto files (the project's
//! `proto/`, both sides of every buf case) and deterministic token-level edits of them.

use std::path::PathBuf;

/// One tree: a directory (as the gate loads it), its module roots and files (relative to
/// their root), as protoc is given them.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub roots: Vec<PathBuf>,
    pub files: Vec<String>,
}

impl Case {
    pub fn load(name: String, dir: PathBuf) -> Option<Case> {
        let roots = fd_contract_gate::model::module_roots(&dir);
        let mut files = Vec::new();
        for root in &roots {
            for p in fd_contract_gate::model::proto_files(root).ok()? {
                let rel = p
                    .strip_prefix(root)
                    .ok()?
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push(rel);
            }
        }
        if files.is_empty() {
            return None;
        }
        Some(Case {
            name,
            dir,
            roots,
            files,
        })
    }

    /// The file's path on disk.
    pub fn path_of(&self, rel: &str) -> Option<PathBuf> {
        self.roots.iter().map(|r| r.join(rel)).find(|p| p.exists())
    }
}

/// A token of the source text: its byte range and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Tok {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ident,
    Int,
    Float,
    Str,
    Punct,
}

/// Splits `src` into tokens (comments and whitespace dropped).
pub fn tokens(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i = (i + 2).min(b.len());
        } else if c == b'"' || c == b'\'' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push(Tok {
                start,
                end: i,
                kind: Kind::Str,
            });
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok {
                start,
                end: i,
                kind: Kind::Ident,
            });
        } else if c.is_ascii_digit() {
            let start = i;
            let mut float = false;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
            {
                float |= b[i] == b'.'
                    || (matches!(b[i], b'e' | b'E') && !src[start..i].starts_with("0x"));
                i += 1;
            }
            out.push(Tok {
                start,
                end: i,
                kind: if float { Kind::Float } else { Kind::Int },
            });
        } else {
            // Multi-byte UTF-8 characters outside strings and comments: one token each.
            let len = src[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Tok {
                start: i,
                end: i + len,
                kind: Kind::Punct,
            });
            i += len;
        }
    }
    out
}

/// A small deterministic random number generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }
}

/// The kinds of edits; each names what it does to a file.
pub const OPERATORS: [&str; 15] = [
    "insert-option",
    "swap-numbers",
    "duplicate-number",
    "misspell-option",
    "delete-import",
    "retype-field",
    "option-value",
    "delete-token",
    "duplicate-declaration",
    "rename-identifier",
    "toggle-allow-alias",
    "toggle-syntax",
    "add-label",
    "custom-option",
    "feature",
];

fn text(src: &str, t: &Tok) -> String {
    src[t.start..t.end].to_string()
}

fn replace(src: &str, start: usize, end: usize, with: &str) -> String {
    format!("{}{}{}", &src[..start], with, &src[end..])
}

fn is(src: &str, t: Option<&Tok>, s: &str) -> bool {
    t.is_some_and(|t| &src[t.start..t.end] == s)
}

/// Applies operator `op` to `src` with choices from `rng`; `None` if it does not apply.
pub fn mutate(src: &str, op: &str, rng: &mut Rng) -> Option<String> {
    let toks = tokens(src);
    let at = |i: usize| toks.get(i);
    // Numbers after `=` (field, enum value numbers and option values).
    let numbers: Vec<usize> = (1..toks.len())
        .filter(|&i| toks[i].kind == Kind::Int && is(src, at(i - 1), "="))
        .collect();
    // Option names: the identifier (or parenthesised name) right before `=` after `option`,
    // `[` or `,`.
    let option_names: Vec<usize> = (1..toks.len())
        .filter(|&i| {
            toks[i].kind == Kind::Ident
                && is(src, at(i + 1), "=")
                && (is(src, at(i - 1), "option")
                    || is(src, at(i - 1), "[")
                    || is(src, at(i - 1), ",")
                    || is(src, at(i - 1), "."))
        })
        .collect();
    match op {
        "swap-numbers" => {
            let a = *rng.pick(&numbers)?;
            let b = *rng.pick(&numbers)?;
            let (a, b) = (a.min(b), a.max(b));
            if text(src, &toks[a]) == text(src, &toks[b]) {
                return None;
            }
            let s = replace(src, toks[b].start, toks[b].end, &text(src, &toks[a]));
            Some(replace(
                &s,
                toks[a].start,
                toks[a].end,
                &text(src, &toks[b]),
            ))
        }
        "duplicate-number" => {
            let a = *rng.pick(&numbers)?;
            let b = *rng.pick(&numbers)?;
            let v = text(src, &toks[b]);
            if v == text(src, &toks[a]) {
                return None;
            }
            Some(replace(src, toks[a].start, toks[a].end, &v))
        }
        "misspell-option" => {
            let i = *rng.pick(&option_names)?;
            let name = text(src, &toks[i]);
            let mangled = match rng.below(3) {
                0 if name.len() > 1 => name[..name.len() - 1].to_string(),
                1 => format!("{name}x"),
                _ => name.replacen('_', "", 1),
            };
            if mangled == name {
                return None;
            }
            Some(replace(src, toks[i].start, toks[i].end, &mangled))
        }
        "delete-import" => {
            let imports: Vec<usize> = (0..toks.len())
                .filter(|&i| {
                    is(src, at(i), "import") && toks[i].start == line_start(src, toks[i].start)
                })
                .collect();
            let i = *rng.pick(&imports)?;
            let end = (i..toks.len()).find(|&j| is(src, at(j), ";"))?;
            Some(replace(src, toks[i].start, toks[end].end, ""))
        }
        "retype-field" => {
            // `Type name = N` inside a message: replace Type.
            let fields: Vec<usize> = (0..toks.len().saturating_sub(3))
                .filter(|&i| {
                    toks[i].kind == Kind::Ident
                        && toks[i + 1].kind == Kind::Ident
                        && is(src, at(i + 2), "=")
                        && toks[i + 3].kind == Kind::Int
                        && i > 0
                        && !is(src, at(i - 1), "option")
                        && !is(src, at(i - 1), ".")
                })
                .collect();
            let i = *rng.pick(&fields)?;
            let types: Vec<String> = (1..toks.len())
                .filter(|&j| is(src, at(j - 1), "message") || is(src, at(j - 1), "enum"))
                .map(|j| text(src, &toks[j]))
                .chain(
                    [
                        "string", "int32", "bytes", "double", "bool", "Missing", "uint64",
                    ]
                    .map(String::from),
                )
                .collect();
            let t = rng.pick(&types)?.clone();
            if t == text(src, &toks[i]) {
                return None;
            }
            Some(replace(src, toks[i].start, toks[i].end, &t))
        }
        "option-value" => {
            let i = *rng.pick(&option_names)?;
            let v = i + 2;
            let value_tok = toks.get(v)?;
            if is(src, Some(value_tok), "{") || is(src, Some(value_tok), "-") {
                return None;
            }
            let values = [
                "true",
                "false",
                "1",
                "-1",
                "\"s\"",
                "FOO",
                "4294967296",
                "1.5",
                "0",
                "SPEED",
                "LEGACY_REQUIRED",
                "EXPLICIT",
                "-2147483649",
            ];
            let with = rng.pick(&values)?;
            if *with == text(src, value_tok) {
                return None;
            }
            Some(replace(src, value_tok.start, value_tok.end, with))
        }
        "delete-token" => {
            let t = rng.pick(&toks)?;
            Some(replace(src, t.start, t.end, ""))
        }
        "duplicate-declaration" => {
            let semis: Vec<usize> = (0..toks.len()).filter(|&i| is(src, at(i), ";")).collect();
            let e = *rng.pick(&semis)?;
            let s = (0..e)
                .rev()
                .find(|&j| is(src, at(j), ";") || is(src, at(j), "{") || is(src, at(j), "}"))
                .map_or(0, |j| j + 1);
            if s >= e {
                return None;
            }
            let stmt = src[toks[s].start..toks[e].end].to_string();
            if stmt.starts_with("syntax")
                || stmt.starts_with("edition")
                || stmt.starts_with("package")
            {
                return None;
            }
            Some(replace(src, toks[e].end, toks[e].end, &format!(" {stmt}")))
        }
        "rename-identifier" => {
            let idents: Vec<usize> = (1..toks.len())
                .filter(|&i| {
                    toks[i].kind == Kind::Ident
                        && (is(src, at(i + 1), "=") || is(src, at(i + 1), "{"))
                        && !is(src, at(i - 1), "option")
                })
                .collect();
            let a = *rng.pick(&idents)?;
            let b = *rng.pick(&idents)?;
            let name = text(src, &toks[b]);
            if name == text(src, &toks[a]) {
                return None;
            }
            Some(replace(src, toks[a].start, toks[a].end, &name))
        }
        "toggle-allow-alias" => {
            if let Some(i) = (0..toks.len()).find(|&i| is(src, at(i), "allow_alias")) {
                let s = (0..i).rev().find(|&j| is(src, at(j), "option"))?;
                let e = (i..toks.len()).find(|&j| is(src, at(j), ";"))?;
                return Some(replace(src, toks[s].start, toks[e].end, ""));
            }
            let enums: Vec<usize> = (0..toks.len().saturating_sub(2))
                .filter(|&i| is(src, at(i), "enum") && is(src, at(i + 2), "{"))
                .collect();
            let i = *rng.pick(&enums)?;
            Some(replace(
                src,
                toks[i + 2].end,
                toks[i + 2].end,
                " option allow_alias = true;",
            ))
        }
        "toggle-syntax" => {
            let i = (0..toks.len()).find(|&i| {
                toks[i].kind == Kind::Str
                    && (text(src, &toks[i]) == "\"proto3\"" || text(src, &toks[i]) == "\"proto2\"")
            })?;
            let with = if text(src, &toks[i]) == "\"proto3\"" {
                "\"proto2\""
            } else {
                "\"proto3\""
            };
            Some(replace(src, toks[i].start, toks[i].end, with))
        }
        "add-label" => {
            let fields: Vec<usize> = (1..toks.len().saturating_sub(3))
                .filter(|&i| {
                    toks[i].kind == Kind::Ident
                        && toks[i + 1].kind == Kind::Ident
                        && is(src, at(i + 2), "=")
                        && (is(src, at(i - 1), ";")
                            || is(src, at(i - 1), "{")
                            || is(src, at(i - 1), "}"))
                })
                .collect();
            let i = *rng.pick(&fields)?;
            let label = rng.pick(&["required ", "optional ", "repeated "])?;
            Some(replace(src, toks[i].start, toks[i].start, label))
        }
        "custom-option" => {
            // An option naming an extension: either one that does not exist, or one defined
            // elsewhere in the corpus (maybe not imported here).
            let i = *rng.pick(&option_names)?;
            let with = rng.pick(&[
                "(custom.missing)",
                "(buf.validate.field).string.min_len",
                "(google.api.http).get",
                "(foo)",
            ])?;
            Some(replace(src, toks[i].start, toks[i].end, with))
        }
        "feature" => {
            // Insert a feature setting into the file: valid only in editions files.
            let after = (0..toks.len()).find(|&i| is(src, at(i), ";"))?;
            let with = rng.pick(&[
                " option features.field_presence = IMPLICIT;",
                " option features.enum_type = CLOSED;",
                " option features.utf8_validation = NONE;",
                " option features.field_presence = LEGACY_REQUIRED;",
                " option features.json_format = LEGACY_BEST_EFFORT;",
                " option features.repeated_field_encoding = EXPANDED;",
                " option features.bogus = true;",
            ])?;
            Some(replace(src, toks[after].end, toks[after].end, with))
        }
        "insert-option" => insert_option(src, &toks, rng),
        _ => None,
    }
}

/// Options to insert: standard ones (valid somewhere, wrong elsewhere), unknown ones, custom
/// ones that do not exist, values of the wrong type.
const INSERTED: [(&str, &str); 24] = [
    ("deprecated", "true"),
    ("deprecated", "1"),
    ("bogus", "1"),
    ("allow_alias", "true"),
    ("packed", "true"),
    ("json_name", "\"x\""),
    ("idempotency_level", "IDEMPOTENT"),
    ("idempotency_level", "SOMETIMES"),
    ("verification", "UNVERIFIED"),
    ("(custom.missing)", "1"),
    ("features.enum_type", "CLOSED"),
    ("features.field_presence", "EXPLICIT"),
    ("map_entry", "true"),
    ("ctype", "CORD"),
    ("jstype", "JS_STRING"),
    ("java_package", "\"x\""),
    ("java_package", "x"),
    ("optimize_for", "SPEED"),
    ("lazy", "true"),
    ("retention", "RETENTION_SOURCE"),
    ("targets", "TARGET_TYPE_FILE"),
    ("debug_redact", "true"),
    ("default", "1"),
    ("cc_enable_arenas", "-1"),
];

/// Inserts an option into a random element: the file, a message, enum, service, oneof or
/// method body, or the brackets of a field, enum value or extension range.
fn insert_option(src: &str, toks: &[Tok], rng: &mut Rng) -> Option<String> {
    let is = |i: usize, s: &str| toks.get(i).is_some_and(|t| &src[t.start..t.end] == s);
    let (name, value) = *rng.pick(&INSERTED)?;
    let stmt = format!(" option {name} = {value};");
    // Statement positions: after the first `;` (file), after `{` of a body.
    let mut bodies: Vec<usize> = (0..toks.len())
        .filter(|&i| {
            is(i, "{")
                && i >= 2
                && (is(i - 2, "message")
                    || is(i - 2, "enum")
                    || is(i - 2, "service")
                    || is(i - 2, "oneof"))
        })
        .map(|i| toks[i].end)
        .collect();
    if let Some(first) = (0..toks.len()).find(|&i| is(i, ";")) {
        bodies.push(toks[first].end);
    }
    // Bracket positions: before the `;` ending `= N` (fields, enum values) or a range.
    let brackets: Vec<usize> = (1..toks.len())
        .filter(|&i| {
            is(i, ";")
                && toks[i - 1].kind == Kind::Int
                && (i < 2 || is(i - 2, "=") || is(i - 2, "to") || is(i - 2, "extensions"))
        })
        .map(|i| toks[i].start)
        .collect();
    // Methods without a body: `returns (X);` becomes `returns (X) { option ...; }`.
    let methods: Vec<usize> = (2..toks.len())
        .filter(|&i| is(i, ";") && is(i - 1, ")") && (0..i).rev().take(8).any(|j| is(j, "returns")))
        .collect();
    match rng.below(3) {
        0 => {
            let at = *rng.pick(&bodies)?;
            Some(format!("{}{stmt}{}", &src[..at], &src[at..]))
        }
        1 => {
            let at = *rng.pick(&brackets)?;
            Some(format!("{} [{name} = {value}]{}", &src[..at], &src[at..]))
        }
        _ => {
            let i = *rng.pick(&methods)?;
            let t = &toks[i];
            Some(format!("{} {{{stmt} }}{}", &src[..t.start], &src[t.end..]))
        }
    }
}

fn line_start(src: &str, at: usize) -> usize {
    let s = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let prefix = &src[s..at];
    if prefix.trim().is_empty() {
        at
    } else {
        s
    }
}
