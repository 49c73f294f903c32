//! Tokens of the protobuf language, with positions the way protoc and buf count them:
//! 0-based lines and columns, a tab advancing to the next multiple of 8.

use std::fmt;

/// A position in a source file (0-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A half-open source range, as in `SourceCodeInfo.Location.span`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Int(String),
    Float(String),
    Str(Vec<u8>),
    Punct(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::Int(s) | Tok::Float(s) => write!(f, "'{s}'"),
            Tok::Str(b) => write!(f, "\"{}\"", String::from_utf8_lossy(b)),
            Tok::Punct(c) => write!(f, "'{c}'"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// A syntax error with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        match c {
            '\n' => {
                self.pos.line += 1;
                self.pos.col = 0;
            }
            '\t' => self.pos.col += 8 - self.pos.col % 8,
            _ => self.pos.col += 1,
        }
        Some(c)
    }
}

/// Splits `src` into tokens, dropping whitespace and comments.
pub fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut cur = Cursor {
        chars: src.chars().peekable(),
        pos: Pos::default(),
    };
    let mut out = Vec::new();
    while let Some(c) = cur.peek() {
        let start = cur.pos;
        if c.is_whitespace() {
            cur.bump();
            continue;
        }
        if c == '/' {
            cur.bump();
            match cur.peek() {
                Some('/') => {
                    while let Some(c) = cur.peek() {
                        if c == '\n' {
                            break;
                        }
                        cur.bump();
                    }
                    continue;
                }
                Some('*') => {
                    cur.bump();
                    let mut prev = ' ';
                    loop {
                        match cur.bump() {
                            None => {
                                return Err(SyntaxError {
                                    pos: start,
                                    message: "unterminated block comment".into(),
                                })
                            }
                            Some('/') if prev == '*' => break,
                            Some(c) => prev = c,
                        }
                    }
                    continue;
                }
                _ => {
                    out.push(Token {
                        tok: Tok::Punct('/'),
                        span: Span {
                            start,
                            end: cur.pos,
                        },
                    });
                    continue;
                }
            }
        }
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(c) = cur.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    s.push(c);
                    cur.bump();
                } else {
                    break;
                }
            }
            Tok::Ident(s)
        } else if c.is_ascii_digit() || (c == '.' && next_is_digit(&cur)) {
            let mut s = String::new();
            let mut float = false;
            while let Some(c) = cur.peek() {
                let exp_sign = (c == '+' || c == '-')
                    && matches!(s.chars().last(), Some('e' | 'E'))
                    && !s.starts_with("0x")
                    && !s.starts_with("0X");
                if c.is_ascii_alphanumeric() || c == '.' || exp_sign {
                    if c == '.'
                        || ((c == 'e' || c == 'E') && !s.starts_with("0x") && !s.starts_with("0X"))
                    {
                        float = true;
                    }
                    s.push(c);
                    cur.bump();
                } else {
                    break;
                }
            }
            if float {
                Tok::Float(s)
            } else {
                Tok::Int(s)
            }
        } else if c == '"' || c == '\'' {
            cur.bump();
            let bytes = lex_string(&mut cur, c, start)?;
            Tok::Str(bytes)
        } else {
            cur.bump();
            Tok::Punct(c)
        };
        out.push(Token {
            tok,
            span: Span {
                start,
                end: cur.pos,
            },
        });
    }
    Ok(out)
}

fn next_is_digit(cur: &Cursor<'_>) -> bool {
    // Only called when the current char is '.'; look one further.
    let mut it = cur.chars.clone();
    it.next();
    matches!(it.next(), Some(d) if d.is_ascii_digit())
}

fn lex_string(cur: &mut Cursor<'_>, quote: char, start: Pos) -> Result<Vec<u8>, SyntaxError> {
    let mut out = Vec::new();
    let err = |m: &str| SyntaxError {
        pos: start,
        message: m.into(),
    };
    loop {
        let c = cur.bump().ok_or_else(|| err("unterminated string"))?;
        if c == quote {
            return Ok(out);
        }
        if c == '\n' {
            return Err(err("unterminated string (newline)"));
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = cur.bump().ok_or_else(|| err("unterminated escape"))?;
        match e {
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'v' => out.push(11),
            '\\' | '\'' | '"' | '?' => out.push(e as u8),
            'x' | 'X' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match cur.peek().and_then(|c| c.to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            cur.bump();
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    return Err(err("bad hex escape"));
                }
                out.push(v as u8);
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match cur.peek().and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            v = v * 8 + d;
                            cur.bump();
                        }
                        None => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            'u' | 'U' => {
                let len = if e == 'u' { 4 } else { 8 };
                let mut v = 0u32;
                for _ in 0..len {
                    let d = cur
                        .peek()
                        .and_then(|c| c.to_digit(16))
                        .ok_or_else(|| err("bad unicode escape"))?;
                    v = v * 16 + d;
                    cur.bump();
                }
                let ch = char::from_u32(v).ok_or_else(|| err("bad unicode escape"))?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            other => return Err(err(&format!("unknown escape \\{other}"))),
        }
    }
}
