//! Message rules: reserved ranges and names, extension ranges, deleted fields and oneofs.

use super::*;

pub(super) fn message_pair(pm: &MsgInfo<'_>, cm: &MsgInfo<'_>, out: &mut Out) {
    let cf = cm.file;
    let name = &cm.msg.name;
    // MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR
    let acc = |m: &Message| {
        find_option(&m.options, &["no_standard_descriptor_accessor"])
            .and_then(|o| o.value.as_bool())
            .unwrap_or(false)
    };
    if !acc(pm.msg) && acc(cm.msg) {
        let span =
            find_option(&cm.msg.options, &["no_standard_descriptor_accessor"]).map(|o| o.span);
        out.at(cf, span, "MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR", "Message option \"no_standard_descriptor_accessor\" changed from \"false\" to \"true\".".into());
    }
    // MESSAGE_SAME_JSON_FORMAT
    let (pj, cj) = (
        feature(&pm.chain, pm.file, "json_format"),
        feature(&cm.chain, cf, "json_format"),
    );
    if pj == "ALLOW" && cj != "ALLOW" {
        let span = feature_span(&cm.msg.options, "json_format").unwrap_or(cm.msg.span);
        out.at(
            cf,
            Some(span),
            "MESSAGE_SAME_JSON_FORMAT",
            format!("Message \"{name}\" JSON format support changed from {pj} to {cj}."),
        );
    }
    let (pfields, cfields) = (&pm.fields, &cm.fields);
    // MESSAGE_SAME_REQUIRED_FIELDS
    let required = |f: &BTreeMap<i64, FieldInfo<'_>>| -> BTreeMap<i64, Span> {
        f.iter()
            .filter(|(_, x)| x.field.label == Label::Required)
            .map(|(n, x)| (*n, x.field.span))
            .collect()
    };
    let (pr, cr) = (required(pfields), required(cfields));
    for n in pr.keys() {
        if !cr.contains_key(n) {
            out.at(cf, Some(cm.msg.span), "MESSAGE_SAME_REQUIRED_FIELDS", format!("Message \"{}\" had required field \"{n}\" deleted. Required fields must always be sent, so if one side does not know about the required field, this will result in a breakage.", pm.msg.name));
        }
    }
    for (n, sp) in &cr {
        if !pr.contains_key(n) {
            out.at(cf, Some(*sp), "MESSAGE_SAME_REQUIRED_FIELDS", format!("Message \"{name}\" had required field \"{n}\" added. Required fields must always be sent, so if one side does not know about the required field, this will result in a breakage."));
        }
    }
    // ONEOF_NO_DELETE
    let cur_oneofs: BTreeSet<&str> = cm.msg.oneofs.iter().map(|o| o.name.as_str()).collect();
    for o in &pm.msg.oneofs {
        if !cur_oneofs.contains(o.name.as_str()) {
            out.at(
                cf,
                Some(cm.msg.span),
                "ONEOF_NO_DELETE",
                format!(
                    "Previously present oneof \"{}\" on message \"{name}\" was deleted.",
                    o.name
                ),
            );
        }
    }
    // FIELD_NO_DELETE, and WIRE_JSON's / WIRE's versions that allow a deletion whose name
    // (or number) is reserved.
    for (n, pfi) in pfields {
        if !cfields.contains_key(n) {
            let d = field_description(pfi);
            let d = lower_first(&d);
            out.at(
                cf,
                Some(cm.msg.span),
                "FIELD_NO_DELETE",
                format!("Previously present {d} was deleted."),
            );
            let fname = &pfi.field.name;
            if !cm.msg.reserved_names.iter().any(|r| r == fname) {
                out.at(
                    cf,
                    Some(cm.msg.span),
                    "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
                    format!("Previously present {d} was deleted without reserving the name \"{fname}\"."),
                );
            }
            if !cm
                .msg
                .reserved_ranges
                .iter()
                .any(|r| (r.start..=r.end).contains(n))
            {
                out.at(
                    cf,
                    Some(cm.msg.span),
                    "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
                    format!(
                        "Previously present {d} was deleted without reserving the number \"{n}\"."
                    ),
                );
            }
        }
    }
    // EXTENSION_MESSAGE_NO_DELETE / RESERVED_MESSAGE_NO_DELETE
    let max = if find_option(&cm.msg.options, &["message_set_wire_format"])
        .and_then(|o| o.value.as_bool())
        == Some(true)
    {
        2_147_483_646
    } else {
        536_870_911
    };
    tag_ranges(
        cf,
        cm.msg.span,
        "extension",
        "message",
        name,
        &pm.msg.extension_ranges,
        &cm.msg.extension_ranges,
        max,
        "EXTENSION_MESSAGE_NO_DELETE",
        out,
    );
    tag_ranges(
        cf,
        cm.msg.span,
        "reserved",
        "message",
        name,
        &pm.msg.reserved_ranges,
        &cm.msg.reserved_ranges,
        max,
        "RESERVED_MESSAGE_NO_DELETE",
        out,
    );
    reserved_names(
        cf,
        cm.msg.span,
        "message",
        name,
        &pm.msg.reserved_names,
        &cm.msg.reserved_names,
        "RESERVED_MESSAGE_NO_DELETE",
        out,
    );
}

pub(super) fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn tag_ranges(
    file: &File,
    span: Span,
    range_kind: &str,
    element_kind: &str,
    name: &str,
    prev: &[Range],
    cur: &[Range],
    max: i64,
    rule: &'static str,
    out: &mut Out,
) {
    if prev.is_empty() {
        return;
    }
    let collapsed = collapse(cur);
    for r in prev {
        let missing = find_missing(r.start, r.end, &collapsed);
        if missing.is_empty() {
            continue;
        }
        let fmt_range = |s: i64, e: i64| {
            if s == e {
                format!("[{s}]")
            } else if e == max {
                format!("[{s},max]")
            } else {
                format!("[{s},{e}]")
            }
        };
        let removed: Vec<String> = missing.iter().map(|(s, e)| fmt_range(*s, *e)).collect();
        out.at(
            file,
            Some(span),
            rule,
            format!("Previously present {range_kind} range \"{}\" on {element_kind} \"{name}\" is missing values: {} were removed.", fmt_range(r.start, r.end), removed.join(", ")),
        );
    }
}

pub(super) fn collapse(ranges: &[Range]) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = ranges.iter().map(|r| (r.start, r.end)).collect();
    v.sort();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

pub(super) fn find_missing(start: i64, end: i64, collapsed: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut missing = Vec::new();
    let mut s = start;
    for &(a, b) in collapsed {
        if b < s {
            continue;
        }
        if a > end {
            break;
        }
        if a > s {
            missing.push((s, a.saturating_sub(1)));
        }
        s = b.saturating_add(1);
        if s > end {
            break;
        }
    }
    if s <= end {
        missing.push((s, end));
    }
    missing
}

#[allow(clippy::too_many_arguments)]
pub(super) fn reserved_names(
    file: &File,
    span: Span,
    element_kind: &str,
    name: &str,
    prev: &[String],
    cur: &[String],
    rule: &'static str,
    out: &mut Out,
) {
    let cur: BTreeSet<&str> = cur.iter().map(String::as_str).collect();
    let prev: BTreeSet<&str> = prev.iter().map(String::as_str).collect();
    for p in prev {
        if !cur.contains(p) {
            out.at(file, Some(span), rule, format!("Previously present reserved name \"{p}\" on {element_kind} \"{name}\" was deleted."));
        }
    }
}
