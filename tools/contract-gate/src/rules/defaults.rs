//! FIELD_SAME_DEFAULT: proto2 default values compared as buf prints them.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum DefVal {
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

pub(super) fn defaults_equal(a: &DefVal, b: &DefVal) -> bool {
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

pub(super) fn go_quote(s: &str) -> String {
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
pub(super) fn go_float(v: f64, sci: String) -> String {
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

pub(super) fn field_default(ix: &Index<'_>, f: &FieldInfo<'_>) -> Option<DefVal> {
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
            let e = ix.enums.get(f.bare_type_name())?;
            let v = match opt.and_then(OptValue::as_ident) {
                Some(name) => e.en.values.iter().find(|v| v.name == name),
                None => e.en.values.first(),
            }?;
            DefVal::Enum(v.number, format!("{}.{}", e.en.name, v.name))
        }
        Kind::Message | Kind::Group => return None,
    })
}

pub(super) fn opt_float(v: Option<&OptValue>) -> f64 {
    match v {
        Some(OptValue::Float(f)) => *f,
        Some(OptValue::Int(i)) => *i as f64,
        Some(OptValue::Ident(s)) if s == "inf" || s == "infinity" => f64::INFINITY,
        Some(OptValue::Ident(s)) if s == "nan" => f64::NAN,
        _ => 0.0,
    }
}

pub(super) fn field_same_default(
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
