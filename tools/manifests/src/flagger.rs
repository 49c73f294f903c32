//! Flagger's Canary resources (`flagger.app/v1beta1`) and what they need from the rest of the
//! manifests. Flagger creates and owns the routing of the service it releases (Services
//! `<svc>`, `<svc>-primary`, `<svc>-canary`, their DestinationRules and the VirtualService
//! `<svc>`) and copies the target Deployment to `<target>-primary` with its `app` label
//! renamed; most mistakes show only when a rollout starts, so they are caught here. Rules:
//! `testdata/broken/README.md`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::kube::{matches, pod_template};
use crate::{arr, finding, labels, missing, Doc, Finding};

/// The labels Flagger reads the target's name from (its `selectorLabels` default).
const SELECTOR_LABELS: &[&str] = &["app", "name", "app.kubernetes.io/name"];

/// Flagger's built-in Istio checks (used without a templateRef).
const BUILTIN_METRICS: &[&str] = &["request-success-rate", "request-duration"];

/// [canary-target], [canary-autoscaler], [canary-owns-routing], [canary-metric-template],
/// [canary-gateway], [canary-target-port], [canary-selects-primary].
pub fn rules(docs: &[Doc]) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in docs
        .iter()
        .filter(|d| d.kind() == "Canary" && d.api_version().starts_with("flagger.app/"))
    {
        canary(docs, c, &mut out);
    }
    out
}

fn find<'a>(docs: &'a [Doc], kind: &str, ns: &str, name: &str) -> Option<&'a Doc> {
    docs.iter()
        .find(|d| d.kind() == kind && d.namespace() == ns && d.name() == name)
}

fn canary(docs: &[Doc], c: &Doc, out: &mut Vec<Finding>) {
    let ns = c.namespace();
    let managed = docs
        .iter()
        .any(|d| d.namespace() == ns && pod_template(d).is_some());
    let kind = c.str_at("/spec/targetRef/kind");
    let target_name = c.str_at("/spec/targetRef/name");
    let target = find(docs, kind, ns, target_name);
    let Some(target) = target else {
        out.push(missing(
            managed,
            c,
            "/spec/targetRef".into(),
            format!("[canary-target] it releases {kind} {target_name:?}, which does not exist"),
        ));
        return;
    };
    let selector = labels(target.value.pointer("/spec/selector/matchLabels"));
    let named = SELECTOR_LABELS
        .iter()
        .find(|l| selector.get(**l).is_some_and(|v| v == target_name));
    if named.is_none() {
        out.push(finding(
            c,
            "/spec/targetRef",
            format!(
                "[canary-target] {kind} {target_name:?} must select its pods by one of {SELECTOR_LABELS:?} = {target_name:?} (Flagger names the primary's pods after it); its selector is {selector:?}"
            ),
        ));
    }

    if let Some(a) = c.value.pointer("/spec/autoscalerRef") {
        let name = a.get("name").and_then(Value::as_str).unwrap_or("");
        let akind = a.get("kind").and_then(Value::as_str).unwrap_or("");
        match find(docs, akind, ns, name) {
            None => out.push(missing(
                managed,
                c,
                "/spec/autoscalerRef".into(),
                format!("[canary-autoscaler] {akind} {name:?} does not exist"),
            )),
            Some(hpa) if hpa.str_at("/spec/scaleTargetRef/name") != target_name => {
                out.push(finding(
                    c,
                    "/spec/autoscalerRef",
                    format!(
                        "[canary-autoscaler] {akind} {name:?} scales {:?}, not the canary's target {target_name:?}",
                        hpa.str_at("/spec/scaleTargetRef/name")
                    ),
                ));
            }
            Some(_) => {}
        }
    }

    // Flagger creates these; a static one fights it (or is taken over and then deleted).
    let svc = match c.str_at("/spec/service/name") {
        "" => target_name,
        s => s,
    };
    let owned = [
        ("Service", svc.to_string()),
        ("Service", format!("{svc}-primary")),
        ("Service", format!("{svc}-canary")),
        ("DestinationRule", svc.to_string()),
        ("DestinationRule", format!("{svc}-primary")),
        ("DestinationRule", format!("{svc}-canary")),
        ("VirtualService", svc.to_string()),
    ];
    for (k, name) in &owned {
        if find(docs, k, ns, name).is_some() {
            out.push(finding(
                c,
                "/spec/service",
                format!("[canary-owns-routing] {k} {name:?} is in the manifests, but Flagger creates and owns it for this Canary; remove it"),
            ));
        }
    }

    for (i, m) in arr(&c.value, "/spec/analysis/metrics").iter().enumerate() {
        let name = m.get("name").and_then(Value::as_str).unwrap_or("");
        match m.get("templateRef") {
            Some(t) => {
                let tname = t.get("name").and_then(Value::as_str).unwrap_or("");
                let tns = t.get("namespace").and_then(Value::as_str).unwrap_or(ns);
                if find(docs, "MetricTemplate", tns, tname).is_none() {
                    let known = docs
                        .iter()
                        .any(|d| d.kind() == "MetricTemplate" && d.namespace() == tns);
                    out.push(missing(
                        known,
                        c,
                        format!("/spec/analysis/metrics/{i}/templateRef"),
                        format!(
                            "[canary-metric-template] MetricTemplate {tns}/{tname} does not exist"
                        ),
                    ));
                }
            }
            None if m.get("query").is_none() && !BUILTIN_METRICS.contains(&name) => {
                out.push(finding(
                    c,
                    format!("/spec/analysis/metrics/{i}"),
                    format!("[canary-metric-template] metric {name:?} has no templateRef and is not one of Flagger's built-in checks {BUILTIN_METRICS:?}"),
                ));
            }
            None => {}
        }
    }

    for (i, g) in arr(&c.value, "/spec/service/gateways").iter().enumerate() {
        let g = g.as_str().unwrap_or("");
        if g == "mesh" {
            continue;
        }
        let (gns, gname) = g.split_once('/').unwrap_or((ns, g));
        if find(docs, "Gateway", gns, gname).is_none() {
            let known = docs
                .iter()
                .any(|d| d.kind() == "Gateway" && d.namespace() == gns);
            out.push(missing(
                known,
                c,
                format!("/spec/service/gateways/{i}"),
                format!("[canary-gateway] Gateway {gns}/{gname} does not exist"),
            ));
        }
    }

    if let (Some(port), Some((t, _))) = (
        c.value
            .pointer("/spec/service/targetPort")
            .and_then(Value::as_str),
        pod_template(target),
    ) {
        let exists = arr(t, "/spec/containers").iter().any(|ct| {
            arr(ct, "/ports")
                .iter()
                .any(|p| p.get("name").and_then(Value::as_str) == Some(port))
        });
        if !exists {
            out.push(finding(
                c,
                "/spec/service/targetPort",
                format!(
                    "[canary-target-port] {port:?} is not a container port name of {target_name:?}"
                ),
            ));
        }
    }

    // Objects that select the target's pods must select the primary's too: Flagger's copy
    // carries every label but the one it renames (`app: order` becomes `app: order-primary`).
    if let (Some(label), Some((t, _))) = (named, pod_template(target)) {
        let pod = labels(t.pointer("/metadata/labels"));
        let mut primary = pod.clone();
        primary.insert((*label).to_string(), format!("{target_name}-primary"));
        let selecting: [(&str, &str); 3] = [
            ("AuthorizationPolicy", "/spec/selector/matchLabels"),
            ("PodDisruptionBudget", "/spec/selector/matchLabels"),
            ("PeerAuthentication", "/spec/selector/matchLabels"),
        ];
        for (k, pointer) in selecting {
            for d in docs.iter().filter(|d| d.kind() == k && d.namespace() == ns) {
                let sel: BTreeMap<String, String> = labels(d.value.pointer(pointer));
                if !sel.is_empty() && matches(&pod, &sel) && !matches(&primary, &sel) {
                    out.push(finding(
                        d,
                        pointer,
                        format!(
                            "[canary-selects-primary] selects {target_name:?}'s pods by {sel:?}, which Flagger's primary pods ({label}={target_name}-primary) do not carry: select by a label Flagger keeps (e.g. app.kubernetes.io/name)"
                        ),
                    ));
                }
            }
        }
    }
}
