//! Output formats: buf-style text lines and buf's JSON lines.

use crate::rules::Finding;

fn coords(f: &Finding) -> (u32, u32, u32, u32) {
    match f.span {
        Some(s) => (
            s.start.line + 1,
            s.start.col + 1,
            s.end.line + 1,
            s.end.col + 1,
        ),
        None => (1, 1, 1, 1),
    }
}

/// `path:line:col: RULE_ID message`
pub fn text(f: &Finding) -> String {
    let (l, c, _, _) = coords(f);
    format!(
        "{}:{l}:{c}: {} {}",
        f.path.as_deref().unwrap_or("<deleted>"),
        f.rule,
        f.message
    )
}

/// One line of `buf breaking --error-format json`.
pub fn json(f: &Finding) -> String {
    let (l, c, el, ec) = coords(f);
    let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let path = match &f.path {
        Some(p) => format!("\"path\":{},", q(p)),
        None => String::new(),
    };
    format!(
        "{{{path}\"start_line\":{l},\"start_column\":{c},\"end_line\":{el},\"end_column\":{ec},\"type\":{},\"message\":{}}}",
        q(f.rule),
        q(&f.message)
    )
}
