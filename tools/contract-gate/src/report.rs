//! Output formats, each in the exact shape `buf breaking --error-format X` prints: `text`,
//! `json`, `github-actions`, `junit`, `msvs` and `gitlab-code-quality`. A finding without a
//! file (a deleted file or package) is `<input>` where a path is required, as in buf.

use crate::rules::Finding;

/// `--error-format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    GithubActions,
    Junit,
    Msvs,
    GitlabCodeQuality,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "text" => Format::Text,
            "json" => Format::Json,
            "github-actions" => Format::GithubActions,
            "junit" => Format::Junit,
            "msvs" => Format::Msvs,
            "gitlab-code-quality" => Format::GitlabCodeQuality,
            other => {
                return Err(format!(
                    "unknown error format {other:?}: text, json, github-actions, junit, msvs or gitlab-code-quality"
                ))
            }
        })
    }
}

/// The finding's location as buf's annotation holds it: `(start line, start col, end line,
/// end col)`, 1-based; a finding about a whole file is at 1:1; one without a file has none.
fn raw_coords(f: &Finding) -> (u32, u32, u32, u32) {
    match (f.span, &f.path) {
        (Some(s), _) => (
            s.start.line + 1,
            s.start.col + 1,
            s.end.line + 1,
            s.end.col + 1,
        ),
        (None, Some(_)) => (1, 1, 1, 1),
        (None, None) => (0, 0, 0, 0),
    }
}

fn coords(f: &Finding) -> (u32, u32, u32, u32) {
    let (a, b, c, d) = raw_coords(f);
    (a.max(1), b.max(1), c.max(1), d.max(1))
}

fn path_or_input(f: &Finding) -> &str {
    f.path.as_deref().unwrap_or("<input>")
}

/// `path:line:col:message` (buf's text: no rule ID).
pub fn text(f: &Finding) -> String {
    let (l, c, _, _) = coords(f);
    format!("{}:{l}:{c}:{}", path_or_input(f), f.message)
}

/// `path:line:col: RULE message`: the text a person reads in this project's `make` output.
pub fn text_with_rule(f: &Finding) -> String {
    let (l, c, _, _) = coords(f);
    format!("{}:{l}:{c}: {} {}", path_or_input(f), f.rule, f.message)
}

/// A JSON string the way Go's encoding/json writes it (buf is Go): `<`, `>` and `&` escaped
/// as `\u003c`, `\u003e`, `\u0026`, and U+2028/U+2029 too.
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One line of `buf breaking --error-format json`.
pub fn json(f: &Finding) -> String {
    let (l, c, el, ec) = coords(f);
    let path = match &f.path {
        Some(p) => format!("\"path\":{},", go_json_string(p)),
        None => String::new(),
    };
    format!(
        "{{{path}\"start_line\":{l},\"start_column\":{c},\"end_line\":{el},\"end_column\":{ec},\"type\":{},\"message\":{}}}",
        go_json_string(f.rule),
        go_json_string(&f.message)
    )
}

/// `::error file=P,line=L,col=C,endLine=EL,endColumn=EC::message` (a GitHub Actions
/// workflow command: an annotation on the pull request).
pub fn github_actions(f: &Finding) -> String {
    let (l, c, el, ec) = raw_coords(f);
    let mut out = format!("::error file={}", path_or_input(f));
    if l > 0 {
        out.push_str(&format!(",line={l}"));
        if c > 0 {
            out.push_str(&format!(",col={c}"));
        }
        if el > 0 {
            out.push_str(&format!(",endLine={el}"));
            if ec > 0 {
                out.push_str(&format!(",endColumn={ec}"));
            }
        }
    }
    format!("{out}::{}", f.message)
}

/// `path(line,col) : error RULE : message` (Visual Studio).
pub fn msvs(f: &Finding) -> String {
    let (l, c, _, _) = coords(f);
    format!(
        "{}({l},{c}) : error {} : {}",
        path_or_input(f),
        f.rule,
        f.message
    )
}

/// XML attribute text the way Go's encoding/xml escapes it.
fn xml_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// A JUnit report: one test suite per file (named by the path without `.proto`), one failing
/// test case per finding. Nothing at all when there are no findings, as buf.
pub fn junit(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let mut groups: Vec<(&str, Vec<&Finding>)> = Vec::new();
    for f in findings {
        let p = path_or_input(f);
        match groups.iter_mut().find(|(g, _)| *g == p) {
            Some((_, v)) => v.push(f),
            None => groups.push((p, vec![f])),
        }
    }
    let mut out = String::from("<testsuites>\n");
    for (path, fs) in groups {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{n}\" errors=\"0\">\n",
            xml_attr(path.strip_suffix(".proto").unwrap_or(path)),
            n = fs.len()
        ));
        for f in fs {
            let (l, c, _, _) = raw_coords(f);
            let name = if c != 0 {
                format!("{}_{l}_{c}", f.rule)
            } else if l != 0 {
                format!("{}_{l}", f.rule)
            } else {
                f.rule.to_string()
            };
            out.push_str(&format!(
                "    <testcase name=\"{}\">\n      <failure message=\"{}\" type=\"{}\"></failure>\n    </testcase>\n",
                xml_attr(&name),
                xml_attr(&text(f)),
                xml_attr(f.rule)
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// GitLab's code quality report: one JSON array; each issue's fingerprint is the SHAKE256
/// (64 bytes, hex) of the issue's JSON without it, as buf computes it.
pub fn gitlab_code_quality(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let issues: Vec<String> = findings
        .iter()
        .map(|f| {
            let (l, c, el, ec) = raw_coords(f);
            let pos = |line: u32, col: u32| {
                let mut parts = Vec::new();
                if line > 0 {
                    parts.push(format!("\"line\":{line}"));
                }
                if col > 0 {
                    parts.push(format!("\"column\":{col}"));
                }
                format!("{{{}}}", parts.join(","))
            };
            let path = f
                .path
                .as_deref()
                .map(|p| format!("\"path\":{},", go_json_string(p)))
                .unwrap_or_default();
            let location = format!(
                "{{{path}\"positions\":{{\"begin\":{},\"end\":{}}}}}",
                pos(l, c),
                pos(el, ec)
            );
            let head = format!(
                "\"description\":{},\"check_name\":{}",
                go_json_string(&f.message),
                go_json_string(f.rule)
            );
            let tail = format!("\"location\":{location},\"severity\":\"minor\"");
            let fingerprint = shake256_hex(format!("{{{head},{tail}}}").as_bytes());
            format!("{{{head},\"fingerprint\":\"{fingerprint}\",{tail}}}")
        })
        .collect();
    format!("[{}]\n", issues.join(","))
}

fn shake256_hex(data: &[u8]) -> String {
    use sha3::digest::{ExtendableOutput, Update, XofReader};
    let mut h = sha3::Shake256::default();
    h.update(data);
    let mut out = [0u8; 64];
    h.finalize_xof().read(&mut out);
    out.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything `format` prints for `findings` (each line-oriented format ends every line with
/// a newline; nothing for no findings).
pub fn render(format: Format, findings: &[Finding]) -> String {
    let lines = |f: fn(&Finding) -> String| -> String {
        findings.iter().map(|x| format!("{}\n", f(x))).collect()
    };
    match format {
        Format::Text => lines(text),
        Format::Json => lines(json),
        Format::GithubActions => lines(github_actions),
        Format::Msvs => lines(msvs),
        Format::Junit => junit(findings),
        Format::GitlabCodeQuality => gitlab_code_quality(findings),
    }
}
