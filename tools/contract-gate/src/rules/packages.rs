//! Deletions: of packages and of messages, enums, services and extensions from a package
//! (PACKAGE category), or of files and of those elements from a file (FILE category).

use super::*;

pub(super) fn packages(prev: &Index<'_>, cur: &Index<'_>, out: &mut Out) {
    let pkgs = |ix: &Index<'_>| {
        ix.files
            .values()
            .map(|f| f.package.clone())
            .collect::<BTreeSet<_>>()
    };
    let (pp, cp) = (pkgs(prev), pkgs(cur));
    for p in pp.difference(&cp) {
        out.nowhere(
            "PACKAGE_NO_DELETE",
            format!("Previously present package \"{p}\" was deleted."),
        );
    }
    let live = |pkg: &str| cp.contains(pkg);

    // Messages: the package-wide nested names locate the closest surviving parent.
    let cur_msgs_by_pkg: BTreeMap<(String, String), &MsgInfo<'_>> = cur
        .messages
        .values()
        .map(|m| ((m.file.package.clone(), m.nested_name.clone()), m))
        .collect();
    for pm in prev.messages.values() {
        let pkg = &pm.file.package;
        if !live(pkg) || cur_msgs_by_pkg.contains_key(&(pkg.clone(), pm.nested_name.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present message \"{}\" was deleted from package \"{}\".",
            pm.nested_name, pkg
        );
        match cur.files.get(pm.file.path.as_str()) {
            Some(cf) => {
                let parent = parent_names(&pm.nested_name)
                    .find_map(|p| cur_msgs_by_pkg.get(&(pkg.clone(), p)));
                match parent {
                    Some(m) => out.at(m.file, Some(m.msg.span), "PACKAGE_MESSAGE_NO_DELETE", msg),
                    None => out.at(cf, None, "PACKAGE_MESSAGE_NO_DELETE", msg),
                }
            }
            None => out.nowhere("PACKAGE_MESSAGE_NO_DELETE", msg),
        }
    }
    // Enums and extensions: the parent is looked up in the same file only.
    let cur_enums: BTreeSet<(String, String)> = cur
        .enums
        .values()
        .map(|e| (e.file.package.clone(), e.nested_name.clone()))
        .collect();
    for pe in prev.enums.values() {
        let pkg = &pe.file.package;
        if !live(pkg) || cur_enums.contains(&(pkg.clone(), pe.nested_name.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present enum \"{}\" was deleted from package \"{}\".",
            pe.nested_name, pkg
        );
        deleted_in_file(
            cur,
            &pe.file.path,
            &pe.nested_name,
            "PACKAGE_ENUM_NO_DELETE",
            msg,
            out,
        );
    }
    let ext_nested = nested_extension_name;
    let cur_exts: BTreeSet<(String, String)> = cur
        .extensions
        .iter()
        .map(|x| (x.file.package.clone(), ext_nested(x)))
        .collect();
    for px in &prev.extensions {
        let pkg = &px.file.package;
        let nested = ext_nested(px);
        if !live(pkg) || cur_exts.contains(&(pkg.clone(), nested.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present extension \"{nested}\" was deleted from package \"{pkg}\"."
        );
        deleted_in_file(
            cur,
            &px.file.path,
            &nested,
            "PACKAGE_EXTENSION_NO_DELETE",
            msg,
            out,
        );
    }
    let cur_svcs: BTreeSet<(String, String)> = cur
        .services
        .values()
        .map(|s| (s.file.package.clone(), s.svc.name.clone()))
        .collect();
    for ps in prev.services.values() {
        let pkg = &ps.file.package;
        if !live(pkg) || cur_svcs.contains(&(pkg.clone(), ps.svc.name.clone())) {
            continue;
        }
        let msg = format!(
            "Previously present service \"{}\" was deleted from package \"{}\".",
            ps.svc.name, pkg
        );
        match cur.files.get(ps.file.path.as_str()) {
            Some(cf) => out.at(cf, None, "PACKAGE_SERVICE_NO_DELETE", msg),
            None => out.nowhere("PACKAGE_SERVICE_NO_DELETE", msg),
        }
    }
}

/// `A.B.C` → `A.B`, `A`.
pub(super) fn parent_names(nested: &str) -> impl Iterator<Item = String> + '_ {
    let parts: Vec<&str> = nested.split('.').collect();
    (1..parts.len()).rev().map(move |i| parts[..i].join("."))
}

pub(super) fn deleted_in_file(
    cur: &Index<'_>,
    path: &str,
    nested: &str,
    rule: &'static str,
    msg: String,
    out: &mut Out,
) {
    let Some(cf) = cur.files.get(path) else {
        out.nowhere(rule, msg);
        return;
    };
    let in_file: BTreeMap<&str, &MsgInfo<'_>> = cur
        .messages
        .values()
        .filter(|m| m.file.path == path)
        .map(|m| (m.nested_name.as_str(), m))
        .collect();
    match parent_names(nested).find_map(|p| in_file.get(p.as_str()).copied()) {
        Some(m) => out.at(cf, Some(m.msg.span), rule, msg),
        None => out.at(cf, None, rule, msg),
    }
}

/// FILE category: deleted files, and messages, enums, services and extensions deleted from a
/// file that still exists (an element that moved to another file counts as deleted).
pub(super) fn file_deletions(prev: &Index<'_>, cur: &Index<'_>, out: &mut Out) {
    for path in prev.files.keys() {
        if !cur.files.contains_key(path) {
            // buf names the file by its path in the module.
            out.nowhere(
                "FILE_NO_DELETE",
                format!("Previously present file \"{path}\" was deleted."),
            );
        }
    }
    let in_file = |ix: &Index<'_>, path: &str, nested: &str| {
        ix.messages
            .values()
            .any(|m| m.file.path == path && m.nested_name == nested)
    };
    for pm in prev.messages.values() {
        let path = pm.file.path.as_str();
        let Some(cf) = cur.files.get(path) else {
            continue;
        };
        if in_file(cur, path, &pm.nested_name) {
            continue;
        }
        let msg = format!(
            "Previously present message \"{}\" was deleted from file.",
            pm.nested_name
        );
        let cur_in_file: BTreeMap<&str, &MsgInfo<'_>> = cur
            .messages
            .values()
            .filter(|m| m.file.path == path)
            .map(|m| (m.nested_name.as_str(), m))
            .collect();
        match parent_names(&pm.nested_name).find_map(|p| cur_in_file.get(p.as_str()).copied()) {
            Some(m) => out.at(cf, Some(m.msg.span), "MESSAGE_NO_DELETE", msg),
            None => out.at(cf, None, "MESSAGE_NO_DELETE", msg),
        }
    }
    for pe in prev.enums.values() {
        let path = pe.file.path.as_str();
        if !cur.files.contains_key(path)
            || cur
                .enums
                .values()
                .any(|e| e.file.path == path && e.nested_name == pe.nested_name)
        {
            continue;
        }
        let msg = format!(
            "Previously present enum \"{}\" was deleted from file.",
            pe.nested_name
        );
        deleted_in_file(cur, path, &pe.nested_name, "ENUM_NO_DELETE", msg, out);
    }
    let nested_ext = nested_extension_name;
    for px in &prev.extensions {
        let path = px.file.path.as_str();
        let nested = nested_ext(px);
        if !cur.files.contains_key(path)
            || cur
                .extensions
                .iter()
                .any(|x| x.file.path == path && nested_ext(x) == nested)
        {
            continue;
        }
        let msg = format!("Previously present extension \"{nested}\" was deleted from file.");
        deleted_in_file(cur, path, &nested, "EXTENSION_NO_DELETE", msg, out);
    }
    for ps in prev.services.values() {
        let path = ps.file.path.as_str();
        let Some(cf) = cur.files.get(path) else {
            continue;
        };
        if cur
            .services
            .values()
            .any(|s| s.file.path == path && s.svc.name == ps.svc.name)
        {
            continue;
        }
        out.at(
            cf,
            None,
            "SERVICE_NO_DELETE",
            format!(
                "Previously present service \"{}\" was deleted from file.",
                ps.svc.name
            ),
        );
    }
}

/// An extension's name within its package (`Foo.Bar.labels`).
fn nested_extension_name(x: &FieldInfo<'_>) -> String {
    let pkg = &x.file.package;
    if pkg.is_empty() {
        x.full_name.clone()
    } else {
        x.full_name
            .strip_prefix(&format!("{pkg}."))
            .unwrap_or(&x.full_name)
            .to_string()
    }
}
