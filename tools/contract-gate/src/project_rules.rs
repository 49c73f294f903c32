//! Rules beyond buf: what this project promises on top of wire/JSON/codegen compatibility.
//!
//! * `PACKAGE_VERSION_SUFFIX`: every package ends in a version (`v1`, `v1beta1`, `v2alpha3`);
//!   a new major version is a new package, so `v2` may differ freely from `v1`.
//! * `EVENT_NO_DELETE`: a message that was published as an event (marked with a message option
//!   whose name ends in `event`, here `option (fooddelivery.common.v1.event) = {...}`) must
//!   still exist.
//! * `EVENT_SAME_MARKER`: an event keeps its marker (subscribers find events by it).

use std::collections::BTreeMap;

use crate::ast::{OptValue, OptionEntry};
use crate::model::{Index, MsgInfo};
use crate::rules::Finding;

pub const PROJECT_RULES: &[&str] = &[
    "PACKAGE_VERSION_SUFFIX",
    "EVENT_NO_DELETE",
    "EVENT_SAME_MARKER",
];

/// `v1`, `v2`, `v1alpha1`, `v1beta2`, `v1test`.
pub fn version_suffix(package: &str) -> Option<&str> {
    let last = package.rsplit('.').next()?;
    let rest = last.strip_prefix('v')?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || rest.starts_with('0') {
        return None;
    }
    let tail = &rest[digits..];
    let ok = tail.is_empty()
        || tail == "test"
        || ["alpha", "beta", "test"].iter().any(|k| {
            tail.strip_prefix(k)
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        });
    ok.then_some(last)
}

pub fn is_unstable(package: &str) -> bool {
    match version_suffix(package) {
        Some(v) => v.contains("alpha") || v.contains("beta") || v.contains("test"),
        None => false,
    }
}

fn is_event(opts: &[OptionEntry]) -> bool {
    opts.iter().any(|o| {
        o.name.len() == 1
            && o.name[0].starts_with('(')
            && o.name[0].trim_end_matches(')').rsplit('.').next() == Some("event")
            && (o.value == OptValue::Aggregate
                || matches!(&o.value, OptValue::Ident(v) if v == "true"))
    })
}

pub fn check(prev: &Index<'_>, cur: &Index<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in cur.files.values() {
        if version_suffix(&f.package).is_none() {
            out.push(Finding {
                path: Some(f.display.clone()),
                span: f.package_span,
                rule: "PACKAGE_VERSION_SUFFIX",
                message: format!(
                    "Package \"{}\" does not end in a version (like \"v1\" or \"v1beta1\"): a breaking change needs a new version package to go to.",
                    f.package
                ),
            });
        }
    }
    let cur_by_name: BTreeMap<&str, &MsgInfo<'_>> =
        cur.messages.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (name, pm) in &prev.messages {
        if !is_event(&pm.msg.options) {
            continue;
        }
        match cur_by_name.get(name.as_str()) {
            None => out.push(Finding {
                path: cur.files.get(pm.file.path.as_str()).map(|f| f.display.clone()),
                span: None,
                rule: "EVENT_NO_DELETE",
                message: format!("Previously published event \"{name}\" was deleted: subscribers of subject \"{name}\" would never hear from it again."),
            }),
            Some(cm) if !is_event(&cm.msg.options) => out.push(Finding {
                path: Some(cm.file.display.clone()),
                span: Some(cm.msg.span),
                rule: "EVENT_SAME_MARKER",
                message: format!("Message \"{name}\" was published as an event and lost its event marker."),
            }),
            Some(_) => {}
        }
    }
    out
}

/// Whether a finding concerns an unstable (alpha/beta/test) package on either side.
pub fn finding_in_unstable_package(f: &Finding, prev: &Index<'_>, cur: &Index<'_>) -> bool {
    let pkg_of = |ix: &Index<'_>| {
        f.path
            .as_deref()
            .and_then(|p| ix.files.values().find(|x| x.display == p))
            .map(|x| x.package.clone())
    };
    let quoted_pkg = f
        .message
        .rsplit_once("package \"")
        .map(|(_, r)| r.trim_end_matches(['"', '.']).to_string());
    [pkg_of(cur), pkg_of(prev), quoted_pkg]
        .into_iter()
        .flatten()
        .any(|p| is_unstable(&p))
}
