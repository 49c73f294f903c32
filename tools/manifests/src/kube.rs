//! What the Kubernetes API server refuses although a JSON schema cannot say so, and the
//! references between Kubernetes objects (Services, HPAs and PDBs to pods, pods to their
//! ServiceAccount and ConfigMaps). Every finding's message starts with its rule id in brackets
//! (`[selector-matches-template]`); `testdata/broken/README.md` lists the rules, with one
//! broken manifest per rule beside it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::{arr, finding, labels, missing, warning, Doc, Finding};

/// Kinds whose `spec.template` is a pod template, and where their selector is.
const WORKLOADS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
];

/// The pod template of a workload (`/spec/template`, or `/spec/jobTemplate/spec/template` for
/// a CronJob), with the pointer to it.
pub(crate) fn pod_template(d: &Doc) -> Option<(&Value, &'static str)> {
    if WORKLOADS.contains(&d.kind()) {
        return d
            .value
            .pointer("/spec/template")
            .map(|t| (t, "/spec/template"));
    }
    if d.kind() == "CronJob" {
        return d
            .value
            .pointer("/spec/jobTemplate/spec/template")
            .map(|t| (t, "/spec/jobTemplate/spec/template"));
    }
    None
}

/// A DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', alphanumeric at both ends,
/// at most 253 characters (most objects' names).
fn dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// A DNS-1035 label: lowercase alphanumerics and '-', starting with a letter, ending with an
/// alphanumeric, at most 63 characters (Service and Namespace names... and port names).
fn dns1035_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A label value: empty, or at most 63 of `[A-Za-z0-9_.-]` with alphanumerics at both ends.
fn label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

/// A label key: an optional DNS-1123 subdomain prefix and '/', then a name as a label value
/// (not empty).
fn label_key(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(dns1123_subdomain) && !name.is_empty() && label_value(name)
}

fn port_in_range(v: &Value) -> Option<bool> {
    v.as_i64().map(|p| (1..=65535).contains(&p))
}

/// The API server's own rules and the references between Kubernetes objects.
pub fn rules(docs: &[Doc]) -> Vec<Finding> {
    let mut out = Vec::new();
    let of = |kind: &'static str| docs.iter().filter(move |d| d.kind() == kind);

    // [duplicate-object]: one object per group, kind, namespace and name in one file or
    // stream (a rendered overlay; separate files may be alternatives, like Istio's samples).
    let mut seen: HashMap<(String, String, String, String, String), &Doc> = HashMap::new();
    for d in docs.iter().filter(|d| !d.kind().is_empty()) {
        let group = d.api_version().rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            d.source.clone(),
            group.to_string(),
            d.kind().to_string(),
            d.namespace().to_string(),
            d.name().to_string(),
        );
        if let Some(first) = seen.get(&key) {
            // `kubectl apply` lets the later one replace the earlier (kustomize refuses it):
            // a warning, an error with --strict (Istio's validation samples list alternatives).
            out.push(warning(
                d,
                "/metadata/name",
                format!(
                    "[duplicate-object] {} {}/{} is already defined by {}",
                    d.kind(),
                    d.namespace(),
                    d.name(),
                    first.label()
                ),
            ));
        } else {
            seen.insert(key, d);
        }
    }

    for d in docs.iter().filter(|d| !d.kind().is_empty()) {
        // [object-name]
        let name = d.name();
        let ok = match d.kind() {
            "Service" | "Namespace" => dns1035_label(name),
            _ => dns1123_subdomain(name),
        };
        if !ok {
            out.push(finding(
                d,
                "/metadata/name",
                format!(
                    "[object-name] {name:?} is not a valid {} name (lowercase letters, digits and '-'{})",
                    d.kind(),
                    if matches!(d.kind(), "Service" | "Namespace") {
                        ", starting with a letter, at most 63"
                    } else {
                        " and '.', at most 253"
                    }
                ),
            ));
        }
        // [label-syntax], on the object and on its pod template.
        let mut label_sets = vec![(
            "/metadata/labels".to_string(),
            d.value.pointer("/metadata/labels"),
        )];
        if let Some((t, at)) = pod_template(d) {
            label_sets.push((
                format!("{at}/metadata/labels"),
                t.pointer("/metadata/labels"),
            ));
        }
        for (at, set) in label_sets {
            for (k, v) in set.and_then(Value::as_object).into_iter().flatten() {
                let value = v.as_str().unwrap_or("");
                if !label_key(k) || !label_value(value) {
                    out.push(finding(
                        d,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        format!("[label-syntax] label {k:?}={value:?} is not valid (keys: [prefix/]name, values: at most 63 of A-Z a-z 0-9 - _ . starting and ending alphanumeric)"),
                    ));
                }
            }
        }
    }

    // Workloads.
    for d in docs.iter() {
        let Some((template, at)) = pod_template(d) else {
            continue;
        };
        // [selector-matches-template]
        if WORKLOADS.contains(&d.kind()) && d.kind() != "Job" {
            let selector = labels(d.value.pointer("/spec/selector/matchLabels"));
            let expressions = arr(&d.value, "/spec/selector/matchExpressions");
            let pod = labels(template.pointer("/metadata/labels"));
            if selector.is_empty() && expressions.is_empty() {
                out.push(finding(
                    d,
                    "/spec/selector",
                    format!(
                        "[selector-matches-template] {} needs a non-empty selector",
                        d.kind()
                    ),
                ));
            }
            for (k, v) in &selector {
                if pod.get(k) != Some(v) {
                    out.push(finding(
                        d,
                        format!("/spec/selector/matchLabels/{k}"),
                        format!("[selector-matches-template] selector {k}={v} does not match the pod template's labels ({pod:?}); the API server refuses it"),
                    ));
                }
            }
        }
        // [replicas-range]
        if let Some(r) = d.value.pointer("/spec/replicas").and_then(Value::as_i64) {
            if r < 0 {
                out.push(finding(
                    d,
                    "/spec/replicas",
                    format!("[replicas-range] replicas {r} must be >= 0"),
                ));
            }
        }
        // [pod-unique-names], [port-range], [volume-mounts]
        let spec = template.get("spec").cloned().unwrap_or_default();
        let volumes: BTreeSet<&str> = arr(&spec, "/volumes")
            .iter()
            .filter_map(|v| v.get("name").and_then(Value::as_str))
            .collect();
        if volumes.len() != arr(&spec, "/volumes").len() {
            out.push(finding(
                d,
                format!("{at}/spec/volumes"),
                "[pod-unique-names] two volumes have the same name",
            ));
        }
        let mut container_names = BTreeSet::new();
        for list in ["initContainers", "containers"] {
            for (i, c) in arr(&spec, &format!("/{list}")).iter().enumerate() {
                let cat = format!("{at}/spec/{list}/{i}");
                let cname = c.get("name").and_then(Value::as_str).unwrap_or("");
                if !container_names.insert(cname.to_string()) {
                    out.push(finding(
                        d,
                        format!("{cat}/name"),
                        format!(
                            "[pod-unique-names] container name {cname:?} is used twice in the pod"
                        ),
                    ));
                }
                let mut port_names = BTreeSet::new();
                for (p, port) in arr(c, "/ports").iter().enumerate() {
                    if let Some(false) = port.get("containerPort").and_then(port_in_range) {
                        out.push(finding(
                            d,
                            format!("{cat}/ports/{p}/containerPort"),
                            "[port-range] containerPort must be 1 to 65535",
                        ));
                    }
                    if let Some(pn) = port.get("name").and_then(Value::as_str) {
                        if !port_names.insert(pn) {
                            out.push(finding(d, format!("{cat}/ports/{p}/name"), format!("[pod-unique-names] port name {pn:?} is used twice in container {cname:?}")));
                        }
                        if pn.len() > 15 {
                            out.push(finding(
                                d,
                                format!("{cat}/ports/{p}/name"),
                                format!(
                                    "[port-range] port name {pn:?} is longer than 15 characters"
                                ),
                            ));
                        }
                    }
                }
                for (m, mount) in arr(c, "/volumeMounts").iter().enumerate() {
                    let vname = mount.get("name").and_then(Value::as_str).unwrap_or("");
                    let claim = arr(&d.value, "/spec/volumeClaimTemplates").iter().any(|t| {
                        t.pointer("/metadata/name").and_then(Value::as_str) == Some(vname)
                    });
                    if !volumes.contains(vname) && !claim {
                        out.push(finding(d, format!("{cat}/volumeMounts/{m}/name"), format!("[volume-mounts] volume {vname:?} is mounted but not defined in the pod")));
                    }
                }
            }
        }
    }

    // Services: ports.
    for d in of("Service") {
        let mut names = BTreeSet::new();
        let mut ports = BTreeSet::new();
        let many = arr(&d.value, "/spec/ports").len() > 1;
        for (i, p) in arr(&d.value, "/spec/ports").iter().enumerate() {
            for field in ["port", "targetPort", "nodePort"] {
                if let Some(false) = p.get(field).and_then(port_in_range) {
                    out.push(finding(
                        d,
                        format!("/spec/ports/{i}/{field}"),
                        format!("[port-range] {field} must be 1 to 65535"),
                    ));
                }
            }
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if many && name.is_empty() {
                out.push(finding(
                    d,
                    format!("/spec/ports/{i}/name"),
                    "[service-ports] a Service with several ports must name each",
                ));
            }
            if !name.is_empty() && !names.insert(name) {
                out.push(finding(
                    d,
                    format!("/spec/ports/{i}/name"),
                    format!("[service-ports] port name {name:?} is used twice"),
                ));
            }
            let key = (
                p.get("port").and_then(Value::as_i64).unwrap_or(0),
                p.get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or("TCP")
                    .to_string(),
            );
            if !ports.insert(key.clone()) {
                out.push(finding(
                    d,
                    format!("/spec/ports/{i}/port"),
                    format!("[service-ports] port {}/{} is defined twice", key.0, key.1),
                ));
            }
        }
    }

    // HorizontalPodAutoscalers and PodDisruptionBudgets: ranges.
    for d in of("HorizontalPodAutoscaler") {
        let min = d
            .value
            .pointer("/spec/minReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let max = d
            .value
            .pointer("/spec/maxReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if min < 1 || max < min {
            out.push(finding(
                d,
                "/spec/minReplicas",
                format!("[hpa-range] minReplicas {min} must be >= 1 and <= maxReplicas {max}"),
            ));
        }
    }
    for d in of("PodDisruptionBudget") {
        if d.value.pointer("/spec/minAvailable").is_some()
            && d.value.pointer("/spec/maxUnavailable").is_some()
        {
            out.push(finding(
                d,
                "/spec",
                "[pdb-exclusive] minAvailable and maxUnavailable cannot both be set",
            ));
        }
    }

    references(docs, &mut out);
    out
}

/// A workload and the labels of its pods.
type Pods<'a> = Vec<(&'a Doc, BTreeMap<String, String>)>;

/// Pod labels per namespace, from every workload's template.
fn pods_by_namespace(docs: &[Doc]) -> HashMap<String, Pods<'_>> {
    let mut pods: HashMap<String, Pods<'_>> = HashMap::new();
    for d in docs {
        if let Some((t, _)) = pod_template(d) {
            pods.entry(d.namespace().to_string())
                .or_default()
                .push((d, labels(t.pointer("/metadata/labels"))));
        }
    }
    pods
}

/// True if pods with labels `pod` are selected by `selector` (every label it asks for).
pub(crate) fn matches(pod: &BTreeMap<String, String>, selector: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| pod.get(k) == Some(v))
}

/// [service-selects-pods], [service-target-port], [hpa-target], [pdb-selects-pods],
/// [serviceaccount-exists], [configmap-exists]: references that must resolve. A reference
/// into a namespace these manifests do not manage (no workload there) is a warning.
fn references(docs: &[Doc], out: &mut Vec<Finding>) {
    let pods = pods_by_namespace(docs);
    let managed = |ns: &str| pods.contains_key(ns);
    let exists = |kind: &str, ns: &str, name: &str| {
        docs.iter()
            .any(|d| d.kind() == kind && d.namespace() == ns && d.name() == name)
    };
    let any_of =
        |kind: &str, ns: &str| docs.iter().any(|d| d.kind() == kind && d.namespace() == ns);

    for d in docs.iter().filter(|d| d.kind() == "Service") {
        let selector = labels(d.value.pointer("/spec/selector"));
        if selector.is_empty() {
            continue; // endpoints managed by hand
        }
        let ns = d.namespace();
        let selected: Vec<&(&Doc, BTreeMap<String, String>)> = pods
            .get(ns)
            .into_iter()
            .flatten()
            .filter(|(_, l)| matches(l, &selector))
            .collect();
        if selected.is_empty() {
            out.push(missing(
                managed(ns),
                d,
                "/spec/selector".into(),
                format!("[service-selects-pods] selector {selector:?} selects no workload's pods"),
            ));
            continue;
        }
        for (i, p) in arr(&d.value, "/spec/ports").iter().enumerate() {
            let Some(target) = p.get("targetPort").and_then(Value::as_str) else {
                continue;
            };
            let named = selected.iter().all(|(w, _)| {
                pod_template(w).is_some_and(|(t, _)| {
                    arr(t, "/spec/containers").iter().any(|c| {
                        arr(c, "/ports")
                            .iter()
                            .any(|cp| cp.get("name").and_then(Value::as_str) == Some(target))
                    })
                })
            });
            if !named {
                out.push(finding(
                    d,
                    format!("/spec/ports/{i}/targetPort"),
                    format!("[service-target-port] targetPort {target:?} is not a container port name in every pod the Service selects"),
                ));
            }
        }
    }

    for d in docs
        .iter()
        .filter(|d| d.kind() == "HorizontalPodAutoscaler")
    {
        let kind = d.str_at("/spec/scaleTargetRef/kind");
        let name = d.str_at("/spec/scaleTargetRef/name");
        if !exists(kind, d.namespace(), name) {
            out.push(missing(
                managed(d.namespace()),
                d,
                "/spec/scaleTargetRef".into(),
                format!("[hpa-target] it scales {kind} {name:?}, which does not exist"),
            ));
        }
    }

    for d in docs.iter().filter(|d| d.kind() == "PodDisruptionBudget") {
        let selector = labels(d.value.pointer("/spec/selector/matchLabels"));
        let ns = d.namespace();
        let any = pods
            .get(ns)
            .into_iter()
            .flatten()
            .any(|(_, l)| matches(l, &selector));
        if !any {
            out.push(missing(
                managed(ns),
                d,
                "/spec/selector".into(),
                format!("[pdb-selects-pods] selector {selector:?} selects no workload's pods"),
            ));
        }
    }

    for d in docs.iter() {
        let Some((t, at)) = pod_template(d) else {
            continue;
        };
        let ns = d.namespace();
        let sa = t
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !sa.is_empty() && sa != "default" && !exists("ServiceAccount", ns, sa) {
            out.push(missing(
                any_of("ServiceAccount", ns),
                d,
                format!("{at}/spec/serviceAccountName"),
                format!("[serviceaccount-exists] ServiceAccount {sa:?} does not exist"),
            ));
        }
        // ConfigMaps: envFrom, env valueFrom, volumes. `optional: true` may be absent.
        let mut refs: Vec<(String, String, Option<String>)> = Vec::new();
        for list in ["initContainers", "containers"] {
            for (i, c) in arr(t, &format!("/spec/{list}")).iter().enumerate() {
                for (e, from) in arr(c, "/envFrom").iter().enumerate() {
                    if let Some(cm) = from.get("configMapRef") {
                        if cm.get("optional") != Some(&Value::Bool(true)) {
                            let name = cm.get("name").and_then(Value::as_str).unwrap_or("");
                            refs.push((
                                format!("{at}/spec/{list}/{i}/envFrom/{e}/configMapRef/name"),
                                name.into(),
                                None,
                            ));
                        }
                    }
                }
                for (e, env) in arr(c, "/env").iter().enumerate() {
                    if let Some(cm) = env.pointer("/valueFrom/configMapKeyRef") {
                        if cm.get("optional") != Some(&Value::Bool(true)) {
                            let name = cm.get("name").and_then(Value::as_str).unwrap_or("");
                            let key = cm.get("key").and_then(Value::as_str).unwrap_or("");
                            refs.push((
                                format!("{at}/spec/{list}/{i}/env/{e}/valueFrom/configMapKeyRef"),
                                name.into(),
                                Some(key.into()),
                            ));
                        }
                    }
                }
            }
        }
        for (v, vol) in arr(t, "/spec/volumes").iter().enumerate() {
            if let Some(cm) = vol.get("configMap") {
                if cm.get("optional") != Some(&Value::Bool(true)) {
                    let name = cm.get("name").and_then(Value::as_str).unwrap_or("");
                    refs.push((
                        format!("{at}/spec/volumes/{v}/configMap/name"),
                        name.into(),
                        None,
                    ));
                }
            }
        }
        for (path, name, key) in refs {
            let cm = docs
                .iter()
                .find(|x| x.kind() == "ConfigMap" && x.namespace() == ns && x.name() == name);
            match (cm, key) {
                (None, _) => out.push(missing(
                    any_of("ConfigMap", ns),
                    d,
                    path,
                    format!("[configmap-exists] ConfigMap {name:?} does not exist"),
                )),
                (Some(cm), Some(key)) if cm.value.pointer(&format!("/data/{key}")).is_none() => out
                    .push(finding(
                        d,
                        path,
                        format!("[configmap-exists] ConfigMap {name:?} has no key {key:?}"),
                    )),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_follow_the_api_servers_syntax() {
        assert!(
            dns1123_subdomain("order-v2.x")
                && !dns1123_subdomain("Order")
                && !dns1123_subdomain("a_b")
        );
        assert!(dns1035_label("order") && !dns1035_label("2order") && !dns1035_label("order.v1"));
        assert!(
            label_value("")
                && label_value("v1.2_x")
                && !label_value("-v1")
                && !label_value(&"a".repeat(64))
        );
        assert!(
            label_key("app.kubernetes.io/name")
                && label_key("app")
                && !label_key("Bad Key")
                && !label_key("x/")
        );
    }
}
