//! A recursive-descent parser for proto2, proto3 and editions files.
//!
//! It keeps exactly the spans `buf breaking` reports (declarations, names, numbers, types,
//! options), counted the way protoc's SourceCodeInfo counts them.

use crate::ast::*;
use crate::lexer::{tokenize, Span, SyntaxError, Tok, Token};

pub fn parse_file(path: &str, src: &str) -> Result<File, SyntaxError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        toks,
        i: 0,
        eof: end_of(src),
    };
    p.file(path)
}

/// The position just after the last character, counted as the lexer counts (tabs to the next
/// multiple of 8): where protoc reports "end of input".
fn end_of(src: &str) -> crate::lexer::Pos {
    let line = src.matches('\n').count();
    let last = src.rsplit('\n').next().unwrap_or("");
    let mut col = 0u32;
    for c in last.chars() {
        col = if c == '\t' {
            (col / 8 + 1) * 8
        } else {
            col + 1
        };
    }
    crate::lexer::Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        col,
    }
}

/// Where a `reserved` statement's ranges and names go.
struct Reserved<'a> {
    ranges: &'a mut Vec<Range>,
    range_spans: &'a mut Vec<Span>,
    names: &'a mut Vec<String>,
    name_spans: &'a mut Vec<Span>,
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    eof: crate::lexer::Pos,
}

type R<T> = Result<T, SyntaxError>;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.tok)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.i + n).map(|t| &t.tok)
    }
    fn span(&self) -> Span {
        match self.toks.get(self.i) {
            Some(t) => t.span,
            None => Span {
                start: self.eof,
                end: self.eof,
            },
        }
    }
    fn prev_span(&self) -> Span {
        self.toks
            .get(self.i.wrapping_sub(1))
            .map(|t| t.span)
            .unwrap_or_default()
    }
    fn err<T>(&self, msg: impl Into<String>) -> R<T> {
        Err(SyntaxError {
            pos: self.span().start,
            message: msg.into(),
        })
    }
    fn unexpected<T>(&self, what: &str) -> R<T> {
        match self.peek() {
            Some(t) => self.err(format!("expected {what}, found {t}")),
            None => self.err(format!("expected {what}, found end of file")),
        }
    }
    fn bump(&mut self) -> Span {
        let s = self.span();
        self.i += 1;
        s
    }
    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Tok::Punct(p)) if *p == c)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == kw)
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.is_punct(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_punct(&mut self, c: char) -> R<Span> {
        if self.is_punct(c) {
            Ok(self.bump())
        } else {
            self.unexpected(&format!("'{c}'"))
        }
    }
    fn expect_kw(&mut self, kw: &str) -> R<Span> {
        if self.is_kw(kw) {
            Ok(self.bump())
        } else {
            self.unexpected(&format!("'{kw}'"))
        }
    }
    fn ident(&mut self) -> R<(String, Span)> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                Ok((s, self.bump()))
            }
            _ => self.unexpected("an identifier"),
        }
    }
    /// `[.]a.b.c`
    fn type_name(&mut self) -> R<(String, Span)> {
        let start = self.span();
        let mut s = String::new();
        if self.eat_punct('.') {
            s.push('.');
        }
        let (id, mut end) = self.ident()?;
        s.push_str(&id);
        while self.is_punct('.') && matches!(self.peek_at(1), Some(Tok::Ident(_))) {
            self.bump();
            let (id, sp) = self.ident()?;
            s.push('.');
            s.push_str(&id);
            end = sp;
        }
        Ok((s, start.to(end)))
    }
    fn string(&mut self) -> R<(Vec<u8>, Span)> {
        let start = self.span();
        let mut out = Vec::new();
        let mut any = false;
        while let Some(Tok::Str(b)) = self.peek() {
            out.extend_from_slice(b);
            self.bump();
            any = true;
        }
        if !any {
            return self.unexpected("a string");
        }
        Ok((out, start.to(self.prev_span())))
    }
    fn int(&mut self) -> R<(i64, Span)> {
        let start = self.span();
        let neg = self.eat_punct('-');
        match self.peek() {
            Some(Tok::Int(s)) => {
                let v = parse_int(s).ok_or_else(|| SyntaxError {
                    pos: start.start,
                    message: format!("bad integer {s}"),
                })?;
                let sp = self.bump();
                let v = if neg { -(v as i128) } else { v as i128 };
                let v = i64::try_from(v).map_err(|_| SyntaxError {
                    pos: start.start,
                    message: "integer out of range".into(),
                })?;
                Ok((v, start.to(sp)))
            }
            _ => self.unexpected("an integer"),
        }
    }

    fn file(&mut self, path: &str) -> R<File> {
        let mut f = File {
            path: path.to_string(),
            display: path.to_string(),
            syntax: Syntax::Proto2,
            syntax_span: None,
            package: String::new(),
            package_span: None,
            imports: vec![],
            import_spans: vec![],
            public_imports: vec![],
            eof: self.eof,
            options: vec![],
            messages: vec![],
            enums: vec![],
            services: vec![],
            extensions: vec![],
        };
        if self.is_kw("syntax") || self.is_kw("edition") {
            let is_edition = self.is_kw("edition");
            let start = self.bump();
            self.expect_punct('=')?;
            let (s, _) = self.string()?;
            let end = self.expect_punct(';')?;
            let s = String::from_utf8_lossy(&s).into_owned();
            f.syntax = if is_edition {
                Syntax::Editions(s)
            } else {
                match s.as_str() {
                    "proto2" => Syntax::Proto2,
                    "proto3" => Syntax::Proto3,
                    other => {
                        return Err(SyntaxError {
                            pos: start.start,
                            message: format!("unknown syntax \"{other}\""),
                        })
                    }
                }
            };
            f.syntax_span = Some(start.to(end));
        }
        let editions = matches!(f.syntax, Syntax::Editions(_));
        while self.peek().is_some() {
            if self.eat_punct(';') {
                continue;
            }
            match self.peek() {
                Some(Tok::Ident(kw)) => match kw.as_str() {
                    "package" => {
                        let start = self.bump();
                        if self.is_punct('.') {
                            return self.err("Expected identifier.");
                        }
                        let (name, _) = self.type_name()?;
                        let end = self.expect_punct(';')?;
                        f.package = name;
                        f.package_span = Some(start.to(end));
                    }
                    "import" => {
                        let start = self.bump();
                        let mut public = false;
                        if self.is_kw("public") || self.is_kw("weak") {
                            public = self.is_kw("public");
                            self.bump();
                        }
                        let (s, _) = self.string()?;
                        let end = self.expect_punct(';')?;
                        let name = String::from_utf8_lossy(&s).into_owned();
                        if public {
                            f.public_imports.push(name.clone());
                        }
                        f.imports.push(name);
                        f.import_spans.push(start.to(end));
                    }
                    "option" => f.options.push(self.option_stmt()?),
                    "message" => {
                        f.messages.push(self.message(editions)?);
                    }
                    "enum" => f.enums.push(self.enum_decl()?),
                    "service" => f.services.push(self.service()?),
                    "extend" => {
                        let (exts, groups) = self.extend(editions)?;
                        f.extensions.extend(exts);
                        f.messages.extend(groups);
                    }
                    _ => return self.unexpected("a top-level declaration"),
                },
                _ => return self.unexpected("a top-level declaration"),
            }
        }
        Ok(f)
    }

    /// `{ item* }`, skipping empty statements; returns the span of the closing brace.
    fn block(&mut self, mut item: impl FnMut(&mut Self) -> R<()>) -> R<Span> {
        self.expect_punct('{')?;
        loop {
            if self.eat_punct(';') {
                continue;
            }
            if self.is_punct('}') {
                return Ok(self.bump());
            }
            if self.peek().is_none() {
                return self.unexpected("'}'");
            }
            item(self)?;
        }
    }

    /// `option name = value;`
    fn option_stmt(&mut self) -> R<OptionEntry> {
        let start = self.expect_kw("option")?;
        let mut o = self.option_body()?;
        let end = self.expect_punct(';')?;
        o.span = start.to(end);
        Ok(o)
    }

    /// `name = value`; the entry's `span` is the caller's to set.
    fn option_body(&mut self) -> R<OptionEntry> {
        let name_start = self.span();
        let mut name = Vec::new();
        loop {
            if self.eat_punct('(') {
                let (n, _) = self.type_name()?;
                self.expect_punct(')')?;
                name.push(format!("({})", n.trim_start_matches('.')));
            } else {
                let (n, _) = self.ident()?;
                name.push(n);
            }
            if !self.eat_punct('.') {
                break;
            }
        }
        let name_span = name_start.to(self.prev_span());
        self.expect_punct('=')?;
        let value_start = self.span();
        let mut aggregate_fields = Vec::new();
        let mut aggregate_error = None;
        let value = self.option_value(&mut aggregate_fields, &mut aggregate_error)?;
        Ok(OptionEntry {
            name,
            value,
            span: name_start.to(self.prev_span()),
            name_span,
            value_span: value_start.to(self.prev_span()),
            aggregate_fields,
            aggregate_error,
        })
    }

    fn option_value(
        &mut self,
        aggregate_fields: &mut Vec<String>,
        aggregate_error: &mut Option<SyntaxError>,
    ) -> R<OptValue> {
        if self.is_punct('{') {
            *aggregate_error = self.skip_braces(aggregate_fields)?;
            return Ok(OptValue::Aggregate);
        }
        let neg = self.eat_punct('-');
        if !neg {
            self.eat_punct('+');
        }
        let v = match self.peek().cloned() {
            Some(Tok::Int(s)) => {
                self.bump();
                let v = parse_int(&s).ok_or_else(|| SyntaxError {
                    pos: self.prev_span().start,
                    message: format!("bad integer {s}"),
                })? as i128;
                OptValue::Int(if neg { -v } else { v })
            }
            Some(Tok::Float(s)) => {
                self.bump();
                let v: f64 = s
                    .trim_end_matches(['f', 'F'])
                    .parse()
                    .map_err(|_| SyntaxError {
                        pos: self.prev_span().start,
                        message: format!("bad float {s}"),
                    })?;
                OptValue::Float(if neg { -v } else { v })
            }
            Some(Tok::Ident(s)) => {
                self.bump();
                if neg {
                    match s.as_str() {
                        "inf" | "infinity" => OptValue::Float(f64::NEG_INFINITY),
                        "nan" => OptValue::Float(f64::NAN),
                        _ => return self.err("bad negative value"),
                    }
                } else {
                    OptValue::Ident(s)
                }
            }
            Some(Tok::Str(_)) => {
                let (b, _) = self.string()?;
                OptValue::Str(b)
            }
            _ => return self.unexpected("an option value"),
        };
        Ok(v)
    }

    /// Reads a `{ ... }` text-format value (the syntax only, as protoc's option parser
    /// checks it), collecting its top-level field names.
    fn skip_braces(&mut self, fields: &mut Vec<String>) -> R<Option<SyntaxError>> {
        // protoc's parser first takes the value up to the matching brace (an error there is a
        // parse error at the end), then reads it as text format.
        let start = self.i;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return self.err("Unexpected end of stream while parsing aggregate value."),
                Some(Tok::Punct('{')) => depth += 1,
                Some(Tok::Punct('}')) => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        break;
                    }
                }
                _ => {}
            }
            self.bump();
        }
        let end = self.i;
        self.i = start;
        self.expect_punct('{')?;
        // Text-format errors are protoc's option interpretation's, reported later.
        let text = self.text_message('}', Some(fields));
        self.i = end;
        Ok(text.err())
    }

    fn text_got(&self) -> String {
        match self.peek() {
            Some(Tok::Ident(s) | Tok::Int(s) | Tok::Float(s)) => s.clone(),
            Some(Tok::Str(b)) => format!("\"{}\"", String::from_utf8_lossy(b)),
            Some(Tok::Punct(c)) => c.to_string(),
            None => "end of input".into(),
        }
    }

    /// Fields of a text-format message up to `close`.
    fn text_message(&mut self, close: char, mut fields: Option<&mut Vec<String>>) -> R<()> {
        loop {
            if self.eat_punct(close) {
                return Ok(());
            }
            if self.eat_punct('[') {
                // An extension or Any type URL: a name with dots and slashes.
                while !self.is_punct(']') {
                    if self.peek().is_none() {
                        return self.err("Expected \"]\".");
                    }
                    self.bump();
                }
                self.bump();
            } else if let Some(Tok::Ident(n)) = self.peek().cloned() {
                if let Some(f) = fields.as_deref_mut() {
                    f.push(n);
                }
                self.bump();
            } else {
                let got = self.text_got();
                return self.err(format!("Expected identifier, got: {got}"));
            }
            if self.eat_punct(':') {
                if self.is_punct('[') {
                    self.bump();
                    if !self.eat_punct(']') {
                        loop {
                            self.text_value()?;
                            if self.eat_punct(']') {
                                break;
                            }
                            if !self.eat_punct(',') {
                                let got = self.text_got();
                                return self.err(format!("Expected \"]\", found \"{got}\"."));
                            }
                        }
                    }
                } else {
                    self.text_value()?;
                }
            } else if self.is_punct('{') || self.is_punct('<') {
                self.text_value()?;
            } else {
                let got = self.text_got();
                return self.err(format!("Expected \":\", found \"{got}\"."));
            }
            if !self.eat_punct(',') {
                self.eat_punct(';');
            }
        }
    }

    /// One text-format value: a message in braces or angle brackets, or a scalar.
    fn text_value(&mut self) -> R<()> {
        if self.eat_punct('{') {
            return self.text_message('}', None);
        }
        if self.eat_punct('<') {
            return self.text_message('>', None);
        }
        self.eat_punct('-');
        match self.peek() {
            Some(Tok::Ident(_) | Tok::Int(_) | Tok::Float(_)) => {
                self.bump();
            }
            Some(Tok::Str(_)) => {
                while matches!(self.peek(), Some(Tok::Str(_))) {
                    self.bump();
                }
            }
            _ => {
                let got = self.text_got();
                return self.err(format!("Expected a value, got: {got}"));
            }
        }
        Ok(())
    }

    /// `[a = 1, b = 2]`
    fn bracket_options(&mut self) -> R<Vec<OptionEntry>> {
        let mut out = Vec::new();
        if !self.eat_punct('[') {
            return Ok(out);
        }
        loop {
            out.push(self.option_body()?);
            if self.eat_punct(',') {
                continue;
            }
            self.expect_punct(']')?;
            return Ok(out);
        }
    }

    /// `message Name { ... }` (map entries and groups are nested inside it).
    fn message(&mut self, editions: bool) -> R<Message> {
        let start = self.expect_kw("message")?;
        let (name, name_span) = self.ident()?;
        let mut m = Message {
            name,
            name_span,
            ..Default::default()
        };
        self.expect_punct('{')?;
        self.message_body(&mut m, editions)?;
        let end = self.expect_punct('}')?;
        m.span = start.to(end);
        Ok(m)
    }

    fn message_body(&mut self, m: &mut Message, editions: bool) -> R<()> {
        loop {
            if self.is_punct('}') || self.peek().is_none() {
                return Ok(());
            }
            if self.eat_punct(';') {
                continue;
            }
            let kw = match self.peek() {
                Some(Tok::Ident(s)) => s.clone(),
                _ => return self.unexpected("a message element"),
            };
            let next_is_name = matches!(self.peek_at(1), Some(Tok::Ident(_)));
            match kw.as_str() {
                "option" => m.options.push(self.option_stmt()?),
                "message" if next_is_name => {
                    m.messages.push(self.message(editions)?);
                }
                "enum" if next_is_name => m.enums.push(self.enum_decl()?),
                "extend" if !matches!(self.peek_at(2), Some(Tok::Punct('='))) => {
                    let (exts, groups) = self.extend(editions)?;
                    m.extensions.extend(exts);
                    m.messages.extend(groups);
                }
                "extensions" if !matches!(self.peek_at(2), Some(Tok::Punct('='))) => {
                    self.bump();
                    let first = self.span();
                    let ranges = self.ranges(536_870_911)?;
                    let options = self.bracket_options()?;
                    self.expect_punct(';')?;
                    m.extension_range_spans.extend(ranges.iter().map(|_| first));
                    m.extension_range_options
                        .extend(ranges.iter().map(|_| options.clone()));
                    m.extension_ranges.extend(ranges);
                }
                "reserved" if !matches!(self.peek_at(2), Some(Tok::Punct('='))) => {
                    self.bump();
                    self.reserved(
                        Reserved {
                            ranges: &mut m.reserved_ranges,
                            range_spans: &mut m.reserved_range_spans,
                            names: &mut m.reserved_names,
                            name_spans: &mut m.reserved_name_spans,
                        },
                        536_870_911,
                    )?;
                }
                "oneof" if next_is_name => {
                    let start = self.bump();
                    let (name, name_span) = self.ident()?;
                    let idx = m.oneofs.len();
                    m.oneofs.push(Oneof {
                        name,
                        name_span,
                        span: start,
                        options: vec![],
                    });
                    let end = self.block(|p| {
                        if p.is_kw("option") {
                            let o = p.option_stmt()?;
                            m.oneofs[idx].options.push(o);
                            return Ok(());
                        }
                        let (mut f, group) = p.field(editions, true)?;
                        f.oneof = Some(idx);
                        m.fields.push(f);
                        m.messages.extend(group);
                        Ok(())
                    })?;
                    m.oneofs[idx].span = start.to(end);
                }
                _ => {
                    let (f, group) = self.field(editions, false)?;
                    m.fields.push(f);
                    if let Some(g) = group {
                        m.messages.push(g);
                    }
                }
            }
        }
    }

    fn ranges(&mut self, max: i64) -> R<Vec<Range>> {
        Ok(self
            .ranges_with_spans(max)?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    /// Ranges with where each starts.
    fn ranges_with_spans(&mut self, max: i64) -> R<Vec<(Range, Span)>> {
        let mut out = Vec::new();
        loop {
            let (start, start_span) = self.int()?;
            let end = if self.is_kw("to") {
                self.bump();
                if self.is_kw("max") {
                    self.bump();
                    max
                } else {
                    self.int()?.0
                }
            } else {
                start
            };
            out.push((Range { start, end }, start_span));
            if !self.eat_punct(',') {
                return Ok(out);
            }
        }
    }

    fn reserved(&mut self, r: Reserved<'_>, max: i64) -> R<()> {
        match self.peek() {
            Some(Tok::Str(_)) => loop {
                let (s, sp) = self.string()?;
                r.names.push(String::from_utf8_lossy(&s).into_owned());
                r.name_spans.push(sp);
                if !self.eat_punct(',') {
                    break;
                }
            },
            Some(Tok::Ident(_)) => loop {
                let (s, sp) = self.ident()?;
                r.names.push(s);
                r.name_spans.push(sp);
                if !self.eat_punct(',') {
                    break;
                }
            },
            _ => {
                for (range, sp) in self.ranges_with_spans(max)? {
                    r.ranges.push(range);
                    r.range_spans.push(sp);
                }
            }
        }
        self.expect_punct(';')?;
        Ok(())
    }

    /// A field, map field or group. Returns the group's message if it is one.
    fn field(&mut self, editions: bool, in_oneof: bool) -> R<(Field, Option<Message>)> {
        let start = self.span();
        let before = self.i;
        let label = match self.peek() {
            Some(Tok::Ident(s))
                if !in_oneof || s == "optional" || s == "required" || s == "repeated" =>
            {
                match s.as_str() {
                    "optional"
                        if !matches!(self.peek_at(1), Some(Tok::Punct('.')))
                            && !matches!(self.peek_at(2), Some(Tok::Punct('='))) =>
                    {
                        self.bump();
                        Label::Optional
                    }
                    "required" if !matches!(self.peek_at(2), Some(Tok::Punct('='))) => {
                        self.bump();
                        Label::Required
                    }
                    "repeated" if !matches!(self.peek_at(2), Some(Tok::Punct('='))) => {
                        self.bump();
                        Label::Repeated
                    }
                    _ => Label::None,
                }
            }
            _ => Label::None,
        };
        let label_span = (self.i > before).then_some(start);
        // map<K, V>
        if self.is_kw("map") && matches!(self.peek_at(1), Some(Tok::Punct('<'))) {
            let tstart = self.bump();
            self.expect_punct('<')?;
            let (k, _) = self.type_name()?;
            self.expect_punct(',')?;
            let (v, _) = self.type_name()?;
            let tend = self.expect_punct('>')?;
            let type_span = tstart.to(tend);
            let (name, name_span) = self.ident()?;
            self.expect_punct('=')?;
            let (number, number_span) = self.int()?;
            let options = self.bracket_options()?;
            let end = self.expect_punct(';')?;
            let span = start.to(end);
            let entry_name = format!("{}Entry", camel_case_upper(&name));
            // protoc gives the synthesized entry and its fields the span of `map<K, V>`.
            let mk = |n: &str, num: i64, t: &str, ts: Span| Field {
                name: n.to_string(),
                name_span: ts,
                number: num,
                number_span: ts,
                label: Label::None,
                ty: match Scalar::from_name(t) {
                    Some(s) => TypeRef::Scalar(s),
                    None => TypeRef::Named(t.to_string()),
                },
                type_span: ts,
                span: ts,
                options: vec![],
                oneof: None,
                extendee: None,
                extendee_span: Span::default(),
                is_map: false,
                label_span: None,
            };
            let entry = Message {
                name: entry_name.clone(),
                // protoc names the map field where its entry conflicts with something.
                name_span,
                span: type_span,
                // The entry inherits the map field's features (protoc resolves them so).
                options: options
                    .iter()
                    .filter(|o| o.name.first().is_some_and(|n| n == "features"))
                    .cloned()
                    .collect(),
                fields: vec![mk("key", 1, &k, type_span), mk("value", 2, &v, type_span)],
                is_map_entry: true,
                ..Default::default()
            };
            let f = Field {
                name,
                name_span,
                number,
                number_span,
                label: Label::Repeated,
                ty: TypeRef::Named(entry_name),
                type_span,
                span,
                options,
                oneof: None,
                extendee: None,
                extendee_span: Span::default(),
                is_map: true,
                label_span,
            };
            return Ok((f, Some(entry)));
        }
        if self.is_kw("group") && matches!(self.peek_at(1), Some(Tok::Ident(_))) && !editions {
            let tspan = self.bump();
            let (gname, gname_span) = self.ident()?;
            self.expect_punct('=')?;
            let (number, number_span) = self.int()?;
            let options = self.bracket_options()?;
            self.expect_punct('{')?;
            let mut g = Message {
                name: gname.clone(),
                name_span: gname_span,
                ..Default::default()
            };
            self.message_body(&mut g, editions)?;
            let end = self.expect_punct('}')?;
            g.span = start.to(end);
            let f = Field {
                name: gname.to_lowercase(),
                name_span: gname_span,
                number,
                number_span,
                label,
                ty: TypeRef::Group(gname),
                type_span: tspan,
                span: start.to(end),
                options,
                oneof: None,
                extendee: None,
                extendee_span: Span::default(),
                is_map: false,
                label_span,
            };
            return Ok((f, Some(g)));
        }
        let (tname, type_span) = self.type_name()?;
        let ty = match Scalar::from_name(&tname) {
            Some(s) => TypeRef::Scalar(s),
            None => TypeRef::Named(tname),
        };
        let (name, name_span) = self.ident()?;
        self.expect_punct('=')?;
        let (number, number_span) = self.int()?;
        let options = self.bracket_options()?;
        let end = self.expect_punct(';')?;
        Ok((
            Field {
                name,
                name_span,
                number,
                number_span,
                label,
                ty,
                type_span,
                span: start.to(end),
                options,
                oneof: None,
                extendee: None,
                extendee_span: Span::default(),
                is_map: false,
                label_span,
            },
            None,
        ))
    }

    fn extend(&mut self, editions: bool) -> R<(Vec<Field>, Vec<Message>)> {
        self.expect_kw("extend")?;
        let (extendee, extendee_span) = self.type_name()?;
        let mut fields = Vec::new();
        let mut groups = Vec::new();
        self.block(|p| {
            let (mut f, g) = p.field(editions, false)?;
            f.extendee = Some(extendee.clone());
            f.extendee_span = extendee_span;
            fields.push(f);
            groups.extend(g);
            Ok(())
        })?;
        Ok((fields, groups))
    }

    fn enum_decl(&mut self) -> R<Enum> {
        let start = self.expect_kw("enum")?;
        let (name, name_span) = self.ident()?;
        let mut e = Enum {
            name,
            name_span,
            ..Default::default()
        };
        let end = self.block(|p| {
            if p.is_kw("option") && !matches!(p.peek_at(1), Some(Tok::Punct('='))) {
                e.options.push(p.option_stmt()?);
                return Ok(());
            }
            if p.is_kw("reserved") && !matches!(p.peek_at(1), Some(Tok::Punct('='))) {
                p.bump();
                return p.reserved(
                    Reserved {
                        ranges: &mut e.reserved_ranges,
                        range_spans: &mut e.reserved_range_spans,
                        names: &mut e.reserved_names,
                        name_spans: &mut e.reserved_name_spans,
                    },
                    2_147_483_647,
                );
            }
            let (name, vstart) = p.ident()?;
            p.expect_punct('=')?;
            let (number, number_span) = p.int()?;
            let options = p.bracket_options()?;
            let end = p.expect_punct(';')?;
            e.values.push(EnumValue {
                name,
                name_span: vstart,
                options,
                number,
                number_span,
                span: vstart.to(end),
            });
            Ok(())
        })?;
        e.span = start.to(end);
        e.after = self.span().start;
        Ok(e)
    }

    fn service(&mut self) -> R<Service> {
        let start = self.expect_kw("service")?;
        let (name, name_span) = self.ident()?;
        let mut s = Service {
            name,
            name_span,
            span: start,
            options: vec![],
            methods: vec![],
        };
        let end = self.block(|p| {
            if p.is_kw("option") {
                s.options.push(p.option_stmt()?);
            } else {
                s.methods.push(p.method()?);
            }
            Ok(())
        })?;
        s.span = start.to(end);
        Ok(s)
    }

    /// `rpc Name ([stream] In) returns ([stream] Out) (; | { option* })`
    fn method(&mut self) -> R<Method> {
        let mstart = self.expect_kw("rpc")?;
        let (name, name_span) = self.ident()?;
        let stream_and_type = |p: &mut Self| -> R<(bool, String, Span)> {
            p.expect_punct('(')?;
            let streaming =
                p.is_kw("stream") && !matches!(p.peek_at(1), Some(Tok::Punct(')' | '.')));
            if streaming {
                p.bump();
            }
            let (t, span) = p.type_name()?;
            p.expect_punct(')')?;
            Ok((streaming, t, span))
        };
        let (client_streaming, input, input_span) = stream_and_type(self)?;
        self.expect_kw("returns")?;
        let (server_streaming, output, output_span) = stream_and_type(self)?;
        let mut options = Vec::new();
        // protoc's span for an RPC with a body ends at '}' (a trailing ';' is separate).
        let end = if self.is_punct('{') {
            self.block(|p| {
                options.push(p.option_stmt()?);
                Ok(())
            })?
        } else {
            self.expect_punct(';')?
        };
        Ok(Method {
            name,
            name_span,
            span: mstart.to(end),
            input,
            input_span,
            output,
            output_span,
            client_streaming,
            server_streaming,
            options,
        })
    }
}

fn parse_int(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// `foo_bar` → `FooBar` (how protoc names a map entry).
pub fn camel_case_upper(s: &str) -> String {
    let mut out = String::new();
    let mut up = true;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}
