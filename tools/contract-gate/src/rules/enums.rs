//! Enum rules: deleted and renamed values, reserved ranges, open vs closed.

use super::*;

pub(super) fn is_closed(e: &EnumInfo<'_>) -> bool {
    feature(&e.chain, e.file, "enum_type") == "CLOSED"
}

pub(super) fn enum_pair(pe: &EnumInfo<'_>, ce: &EnumInfo<'_>, out: &mut Out) {
    let cf = ce.file;
    let name = &ce.en.name;
    if is_closed(pe) != is_closed(ce) {
        let (a, b) = if is_closed(ce) {
            ("open", "closed")
        } else {
            ("closed", "open")
        };
        let span = feature_span(&ce.en.options, "enum_type").unwrap_or(ce.en.span);
        out.at(
            cf,
            Some(span),
            "ENUM_SAME_TYPE",
            format!("Enum \"{name}\" changed from {a} to {b}."),
        );
    }
    let (pj, cj) = (
        feature(&pe.chain, pe.file, "json_format"),
        feature(&ce.chain, cf, "json_format"),
    );
    if pj == "ALLOW" && cj != "ALLOW" {
        let span = feature_span(&ce.en.options, "json_format").unwrap_or(ce.en.span);
        out.at(
            cf,
            Some(span),
            "ENUM_SAME_JSON_FORMAT",
            format!("Enum \"{name}\" JSON format support changed from {pj} to {cj}."),
        );
    }
    fn by_number(e: &Enum) -> BTreeMap<i64, Vec<&EnumValue>> {
        let mut m: BTreeMap<i64, Vec<&EnumValue>> = BTreeMap::new();
        for v in &e.values {
            m.entry(v.number).or_default().push(v);
        }
        m
    }
    let (pv, cv) = (by_number(pe.en), by_number(ce.en));
    for (n, pvals) in &pv {
        if !cv.contains_key(n) {
            out.at(
                cf,
                Some(ce.en.span),
                "ENUM_VALUE_NO_DELETE",
                format!("Previously present enum value \"{n}\" on enum \"{name}\" was deleted."),
            );
            let mut names: Vec<&str> = pvals.iter().map(|v| v.name.as_str()).collect();
            names.sort();
            names.dedup();
            if !names
                .iter()
                .all(|v| ce.en.reserved_names.iter().any(|r| r == v))
            {
                let quoted: Vec<String> = names.iter().map(|v| format!("\"{v}\"")).collect();
                let plural = if names.len() > 1 { "s" } else { "" };
                out.at(
                    cf,
                    Some(ce.en.span),
                    "ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED",
                    format!(
                        "Previously present enum value \"{n}\" on enum \"{name}\" was deleted without reserving the name{plural} {}.",
                        quoted.join(", ")
                    ),
                );
            }
            if !ce
                .en
                .reserved_ranges
                .iter()
                .any(|r| (r.start..=r.end).contains(n))
            {
                out.at(
                    cf,
                    Some(ce.en.span),
                    "ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED",
                    format!("Previously present enum value \"{n}\" on enum \"{name}\" was deleted without reserving the number \"{n}\"."),
                );
            }
        }
    }
    for (n, pvals) in &pv {
        let Some(cvals) = cv.get(n) else { continue };
        let mut pnames: Vec<&str> = pvals.iter().map(|v| v.name.as_str()).collect();
        let mut cnames: Vec<&str> = cvals.iter().map(|v| v.name.as_str()).collect();
        pnames.sort();
        pnames.dedup();
        cnames.sort();
        cnames.dedup();
        if pnames.iter().all(|p| cnames.contains(p)) {
            continue;
        }
        let quote = |v: &[&str]| {
            v.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let suffix = if pnames.len() > 1 && cnames.len() > 1 {
            "s"
        } else {
            ""
        };
        for v in cvals {
            out.at(
                cf,
                Some(v.number_span),
                "ENUM_VALUE_SAME_NAME",
                format!(
                    "Enum value \"{n}\" on enum \"{name}\" changed name{suffix} from {} to {}.",
                    quote(&pnames),
                    quote(&cnames)
                ),
            );
        }
    }
    tag_ranges(
        cf,
        ce.en.span,
        "reserved",
        "enum",
        name,
        &pe.en.reserved_ranges,
        &ce.en.reserved_ranges,
        2_147_483_647,
        "RESERVED_ENUM_NO_DELETE",
        out,
    );
    reserved_names(
        cf,
        ce.en.span,
        "enum",
        name,
        &pe.en.reserved_names,
        &ce.en.reserved_names,
        "RESERVED_ENUM_NO_DELETE",
        out,
    );
}
