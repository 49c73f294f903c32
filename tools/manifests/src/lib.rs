//! Offline validation of Kubernetes and Istio manifests, for any directory or rendered stream.
//!
//! Two passes, like `kubectl --validate=strict` followed by `istioctl analyze`:
//!
//! 1. [`Schemas`]: every document is validated against the strict JSON schema of its
//!    `apiVersion` and `kind` (Kubernetes 1.35 and Istio 1.30 schemas, vendored under
//!    `schemas/`). Unknown fields, wrong types and bad enum values are errors.
//! 2. [`semantic`]: cross-document checks — every VirtualService destination host is a Service
//!    (or a ServiceEntry host), every subset exists in a DestinationRule for that host, subset
//!    labels select some Deployment's pods, AuthorizationPolicy principals name service
//!    accounts that Deployments run as, referenced Gateways exist, Service port names follow
//!    Istio's protocol naming, a route without a match comes last, weights are ≥ 0 and sum
//!    to 100; and (`kube`) what the API server refuses that a schema cannot say (selectors
//!    against templates, name and label syntax, ranges, duplicates, exclusive fields) and the
//!    references between Kubernetes objects (Services, HPAs and PDBs to pods, pods to their
//!    ServiceAccount and ConfigMaps), one rule id per finding (`testdata/broken/README.md`).
//!
//! Every [`Finding`] names the document (`file#index Kind namespace/name`) and the JSON pointer
//! inside it.

pub mod analyze;
mod flagger;
mod kube;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One Kubernetes object read from a file or stream.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Where it came from: a file path or `<stdin>`.
    pub source: String,
    /// Its position in that source (0-based).
    pub index: usize,
    /// The object.
    pub value: Value,
}

impl Doc {
    pub(crate) fn str_at(&self, pointer: &str) -> &str {
        self.value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.str_at("/apiVersion")
    }
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.str_at("/kind")
    }
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.str_at("/metadata/name")
    }
    /// `metadata.namespace`, `default` when unset.
    pub fn namespace(&self) -> &str {
        match self.str_at("/metadata/namespace") {
            "" => "default",
            ns => ns,
        }
    }
    /// `file#index Kind namespace/name`, used in every finding.
    pub fn label(&self) -> String {
        if self.kind().is_empty() {
            return format!("{}#{}", self.source, self.index);
        }
        format!(
            "{}#{} {} {}/{}",
            self.source,
            self.index,
            self.kind(),
            self.namespace(),
            self.name()
        )
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Something that can be wrong or can be fine, depending on what else is in the cluster
    /// (a reference to an object these manifests do not contain, an unreachable rule, a subset
    /// no pod here carries). `--strict` makes warnings errors, for manifest sets that are
    /// meant to be complete, like ours.
    Warning,
    /// Invalid whatever else exists.
    Error,
}

/// A problem found in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The document (see [`Doc::label`]).
    pub doc: String,
    /// JSON pointer inside the document (`/spec/http/0/route/1/weight`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{level}: {}: {}: {}",
            self.doc,
            if self.path.is_empty() {
                "/"
            } else {
                &self.path
            },
            self.message
        )
    }
}

fn finding(doc: &Doc, path: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Error,
        doc: doc.label(),
        path: path.into(),
        message: message.into(),
    }
}

fn warning(doc: &Doc, path: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Warning,
        ..finding(doc, path, message)
    }
}

/// An error if `managed` (these manifests own that namespace's objects of the kind, so a
/// missing one is really missing), else a warning (it may exist in the cluster).
fn missing(managed: bool, doc: &Doc, path: String, message: String) -> Finding {
    if managed {
        finding(doc, path, message)
    } else {
        warning(
            doc,
            path,
            format!("{message} (not in these manifests; may exist in the cluster)"),
        )
    }
}

/// Service accounts that Istio's own installation creates (the default ingress gateway).
pub const ISTIO_PRINCIPALS: &[&str] =
    &["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"];

/// Reads every YAML document of `text` (multi-document streams allowed).
pub fn parse(source: &str, text: &str) -> anyhow::Result<Vec<Doc>> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for (index, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let mut yaml = serde_norway::Value::deserialize(de)
            .map_err(|e| anyhow::anyhow!("{source}#{index}: not YAML: {e}"))?;
        // YAML merge keys (`<<: *anchor`) are resolved here, as Kubernetes and Compose do.
        yaml.apply_merge()
            .map_err(|e| anyhow::anyhow!("{source}#{index}: bad merge key: {e}"))?;
        if yaml.is_null() {
            continue;
        }
        let value =
            serde_json::to_value(yaml).map_err(|e| anyhow::anyhow!("{source}#{index}: {e}"))?;
        docs.push(Doc {
            source: source.to_string(),
            index,
            value,
        });
    }
    Ok(docs)
}

/// Reads a file, or every `*.yaml`/`*.yml` under a directory (sorted; `kustomization.yaml`
/// files are kustomize input, not objects, and are skipped).
pub fn load(path: &Path) -> anyhow::Result<Vec<Doc>> {
    let mut files = Vec::new();
    collect(path, &mut files)?;
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
        docs.extend(parse(&f.display().to_string(), &text)?);
    }
    Ok(docs)
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out)?;
        }
    } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
        && path.file_stem().is_none_or(|s| s != "kustomization")
    {
        out.push(path.to_path_buf());
    } else if !path.exists() {
        anyhow::bail!("{} does not exist", path.display());
    }
    Ok(())
}

/// The JSON schemas, by `(apiVersion, kind)`, compiled on first use.
pub struct Schemas {
    dirs: Vec<PathBuf>,
    compiled: HashMap<String, Option<jsonschema::Validator>>,
}

impl fmt::Debug for Schemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schemas").field("dirs", &self.dirs).finish()
    }
}

impl Schemas {
    /// Schemas from `dirs`, files named `<kind>-<group prefix>-<version>.json` (kubeconform's
    /// convention; the core group has no prefix: `service-v1.json`).
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Self {
            dirs,
            compiled: HashMap::new(),
        }
    }

    /// The vendored Kubernetes 1.35, Istio 1.30, CloudNativePG 1.30, Prometheus Operator 0.93
    /// and Flagger 1.44 schemas of this crate.
    pub fn bundled() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        Self::new(vec![
            root.join("kubernetes"),
            root.join("istio"),
            root.join("cloudnative-pg"),
            root.join("prometheus-operator"),
            root.join("flagger"),
        ])
    }

    /// The schema file name for an object.
    pub fn file_name(api_version: &str, kind: &str) -> String {
        let kind = kind.to_ascii_lowercase();
        match api_version.split_once('/') {
            Some((group, version)) => {
                let prefix = group.split('.').next().unwrap_or(group);
                format!("{kind}-{prefix}-{version}.json")
            }
            None => format!("{kind}-{api_version}.json"),
        }
    }

    fn validator(
        &mut self,
        api_version: &str,
        kind: &str,
    ) -> anyhow::Result<Option<&jsonschema::Validator>> {
        let name = Self::file_name(api_version, kind);
        if !self.compiled.contains_key(&name) {
            let compiled = match self.dirs.iter().map(|d| d.join(&name)).find(|p| p.exists()) {
                None => None,
                Some(path) => Some(compile(&path)?),
            };
            self.compiled.insert(name.clone(), compiled);
        }
        Ok(self.compiled.get(&name).and_then(Option::as_ref))
    }

    /// The apiVersions this set of schemas knows for `kind`.
    fn versions_of(&self, kind: &str) -> Vec<String> {
        let prefix = format!("{}-", kind.to_ascii_lowercase());
        let mut out = Vec::new();
        for d in &self.dirs {
            for e in std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
            {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(rest) = name
                    .strip_prefix(&prefix)
                    .and_then(|r| r.strip_suffix(".json"))
                {
                    // "networking-v1" → "v1": the version after the group prefix
                    out.push(rest.rsplit('-').next().unwrap_or(rest).to_string());
                }
            }
        }
        out.sort();
        out
    }

    /// Validates one document. A kind without a schema is reported as such (it cannot be
    /// checked offline), which callers may treat as an error or a warning.
    pub fn validate(&mut self, doc: &Doc) -> anyhow::Result<Result<Vec<Finding>, String>> {
        if doc.api_version().is_empty() || doc.kind().is_empty() {
            return Ok(Ok(vec![finding(
                doc,
                "",
                "not a Kubernetes object: apiVersion and kind are required",
            )]));
        }
        let Some(v) = self.validator(doc.api_version(), doc.kind())? else {
            let known = self.versions_of(doc.kind());
            if !known.is_empty() {
                return Ok(Ok(vec![finding(
                    doc,
                    "/apiVersion",
                    format!(
                        "{} is not a known version of {}; known versions: {}",
                        doc.api_version(),
                        doc.kind(),
                        known.join(", ")
                    ),
                )]));
            }
            return Ok(Err(format!(
                "{}: no schema for {} {} ({}); not validated",
                doc.label(),
                doc.api_version(),
                doc.kind(),
                Self::file_name(doc.api_version(), doc.kind())
            )));
        };
        Ok(Ok(schema_findings(v, doc)))
    }
}

/// Compiles a JSON schema file.
pub fn compile(path: &Path) -> anyhow::Result<jsonschema::Validator> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read schema {}: {e}", path.display()))?;
    let schema: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("schema {} is not JSON: {e}", path.display()))?;
    jsonschema::validator_for(&schema)
        .map_err(|e| anyhow::anyhow!("schema {} does not compile: {e}", path.display()))
}

/// Every schema violation of `doc`, one finding each.
pub fn schema_findings(v: &jsonschema::Validator, doc: &Doc) -> Vec<Finding> {
    v.iter_errors(&doc.value)
        .map(|e| finding(doc, e.instance_path().to_string(), e.to_string()))
        .collect()
}

/// The result of checking a set of documents.
#[derive(Debug, Default)]
pub struct Report {
    /// Errors: the set is not valid.
    pub findings: Vec<Finding>,
    /// Things that could not be checked (kinds without a schema).
    pub warnings: Vec<String>,
    /// Documents checked.
    pub documents: usize,
}

/// Schema validation of every document, then the semantic checks over the whole set.
pub fn check(docs: &[Doc], schemas: &mut Schemas) -> anyhow::Result<Report> {
    let mut report = Report {
        documents: docs.len(),
        ..Report::default()
    };
    for d in docs {
        match schemas.validate(d)? {
            Ok(f) => report.findings.extend(f),
            Err(w) => report.warnings.push(w),
        }
    }
    report.findings.extend(semantic(docs));
    Ok(report)
}

/// Istio's protocol prefixes for port names (`<protocol>[-<suffix>]`).
const PROTOCOLS: [&str; 11] = [
    "grpc", "grpc-web", "http", "http2", "https", "mongo", "mysql", "redis", "tcp", "tls", "udp",
];

pub(crate) fn port_name_ok(name: &str) -> bool {
    PROTOCOLS
        .iter()
        .any(|p| name == *p || name.starts_with(&format!("{p}-")))
}

fn arr<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `(namespace, service name)` a VirtualService/DestinationRule host refers to, if it is a
/// cluster-local name (`reviews`, `reviews.bookinfo`, `reviews.bookinfo.svc.cluster.local`).
fn service_of(host: &str, namespace: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => Some((namespace.to_string(), name.to_string())),
        [name, ns] => Some((ns.to_string(), name.to_string())),
        [name, ns, "svc"] | [name, ns, "svc", "cluster", "local"] => {
            Some((ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

/// The cross-document checks (see the crate documentation).
pub fn semantic(docs: &[Doc]) -> Vec<Finding> {
    let of = |kind: &'static str| docs.iter().filter(move |d| d.kind() == kind);
    let mut out = Vec::new();

    // What exists.
    let services: HashMap<(String, String), &Doc> = of("Service")
        .map(|d| ((d.namespace().to_string(), d.name().to_string()), d))
        .collect();
    let deployments: Vec<&Doc> = of("Deployment").collect();
    let entry_hosts: BTreeSet<String> = of("ServiceEntry")
        .flat_map(|d| {
            arr(&d.value, "/spec/hosts")
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    let gateways: BTreeSet<(String, String)> = of("Gateway")
        .map(|d| (d.namespace().to_string(), d.name().to_string()))
        .collect();
    // (namespace, service) → subsets → labels, from DestinationRules.
    let mut subsets: HashMap<(String, String), HashMap<String, BTreeMap<String, String>>> =
        HashMap::new();
    for d in of("DestinationRule") {
        let host = d.str_at("/spec/host");
        let key =
            service_of(host, d.namespace()).unwrap_or_else(|| (String::new(), host.to_string()));
        for s in arr(&d.value, "/spec/subsets") {
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            subsets
                .entry(key.clone())
                .or_default()
                .insert(name, labels(s.get("labels")));
        }
    }
    let pod_labels = |ns: &str| -> Vec<BTreeMap<String, String>> {
        deployments
            .iter()
            .filter(|d| d.namespace() == ns)
            .map(|d| labels(d.value.pointer("/spec/template/metadata/labels")))
            .collect()
    };

    // Service port names.
    for d in of("Service") {
        for (i, p) in arr(&d.value, "/spec/ports").iter().enumerate() {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if p.get("appProtocol").is_none() && !port_name_ok(name) {
                out.push(warning(
                    d,
                    format!("/spec/ports/{i}/name"),
                    format!("port name {name:?} does not follow Istio's protocol naming (<protocol>[-<suffix>], e.g. grpc, http-web) and appProtocol is not set"),
                ));
            }
        }
    }

    // Subsets some route sends traffic to (weight > 0 or unweighted).
    let mut routed: BTreeSet<(String, String, String)> = BTreeSet::new();
    for d in of("VirtualService") {
        for proto in ["http", "tcp", "tls"] {
            for rule in arr(&d.value, &format!("/spec/{proto}")) {
                for route in arr(rule, "/route") {
                    let weight = route.get("weight").and_then(Value::as_i64).unwrap_or(1);
                    let host = route
                        .pointer("/destination/host")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let subset = route.pointer("/destination/subset").and_then(Value::as_str);
                    if let (Some(subset), Some((ns, svc)), true) =
                        (subset, service_of(host, d.namespace()), weight > 0)
                    {
                        routed.insert((ns, svc, subset.to_string()));
                    }
                }
            }
        }
    }

    // DestinationRule subsets that receive traffic select pods. (A subset no route uses yet,
    // like v2 before a rollout, may select nothing.)
    for d in of("DestinationRule") {
        let host = d.str_at("/spec/host");
        let Some((ns, svc)) = service_of(host, d.namespace()) else {
            continue;
        };
        let selector = services
            .get(&(ns.clone(), svc.clone()))
            .map(|s| labels(s.value.pointer("/spec/selector")));
        for (i, s) in arr(&d.value, "/spec/subsets").iter().enumerate() {
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !routed.contains(&(ns.clone(), svc.clone(), name)) {
                continue;
            }
            let mut want = selector.clone().unwrap_or_default();
            want.extend(labels(s.get("labels")));
            if !pod_labels(&ns).iter().any(|p| kube::matches(p, &want)) {
                out.push(warning(
                    d,
                    format!("/spec/subsets/{i}/labels"),
                    format!(
                        "subset {:?} of {host} selects no Deployment's pods (labels {want:?})",
                        s.get("name").and_then(Value::as_str).unwrap_or("")
                    ),
                ));
            }
        }
    }

    // VirtualServices.
    for d in of("VirtualService") {
        let ns = d.namespace();
        for (i, g) in arr(&d.value, "/spec/gateways").iter().enumerate() {
            let g = g.as_str().unwrap_or("");
            if g == "mesh" {
                continue;
            }
            let (gns, gname) = g.split_once('/').unwrap_or((ns, g));
            if !gateways.contains(&(gns.to_string(), gname.to_string())) {
                let managed = gateways.iter().any(|(n, _)| n == gns);
                out.push(missing(
                    managed,
                    d,
                    format!("/spec/gateways/{i}"),
                    format!("gateway {g:?} does not exist"),
                ));
            }
        }
        for proto in ["http", "tcp", "tls"] {
            let rules = arr(&d.value, &format!("/spec/{proto}"));
            for (r, rule) in rules.iter().enumerate() {
                let base = format!("/spec/{proto}/{r}");
                let matchless = arr(rule, "/match").is_empty();
                if matchless && r + 1 < rules.len() {
                    out.push(warning(d, base.clone(), format!("rule {r} has no match and comes before {} other rule(s), which it shadows; a rule without a match must come last", rules.len() - r - 1)));
                }
                let routes = arr(rule, "/route");
                let mut sum = 0i64;
                let mut any_weight = false;
                for (k, route) in routes.iter().enumerate() {
                    let path = format!("{base}/route/{k}");
                    if let Some(w) = route.get("weight") {
                        any_weight = true;
                        match w.as_i64() {
                            Some(w) if w >= 0 => sum += w,
                            _ => out.push(finding(
                                d,
                                format!("{path}/weight"),
                                format!("weight {w} must be an integer >= 0"),
                            )),
                        }
                    }
                    let host = route
                        .pointer("/destination/host")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let subset = route.pointer("/destination/subset").and_then(Value::as_str);
                    if host.is_empty() {
                        continue;
                    }
                    let resolved = service_of(host, ns);
                    let is_service = resolved.as_ref().is_some_and(|k| services.contains_key(k));
                    if !is_service && !entry_hosts.contains(host) {
                        let managed = resolved
                            .as_ref()
                            .is_some_and(|(n, _)| services.keys().any(|(sn, _)| sn == n));
                        out.push(missing(managed, d, format!("{path}/destination/host"), format!("destination host {host:?} is not a Service (nor a ServiceEntry host)")));
                        continue;
                    }
                    if let (Some(subset), Some(key)) = (subset, resolved) {
                        if !subsets.get(&key).is_some_and(|s| s.contains_key(subset)) {
                            // A DestinationRule for the host that lacks the subset is a plain error.
                            let managed = subsets.contains_key(&key);
                            out.push(missing(managed, d, format!("{path}/destination/subset"), format!("subset {subset:?} is not defined by any DestinationRule for host {host:?}")));
                        }
                    }
                }
                if (any_weight || routes.len() > 1) && sum != 100 {
                    out.push(finding(
                        d,
                        format!("{base}/route"),
                        format!("route weights sum to {sum}, not 100"),
                    ));
                }
            }
        }
    }

    // AuthorizationPolicy principals name service accounts that Deployments run as.
    let accounts: BTreeSet<String> = deployments
        .iter()
        .map(|d| {
            let sa = d.str_at("/spec/template/spec/serviceAccountName");
            format!(
                "cluster.local/ns/{}/sa/{}",
                d.namespace(),
                if sa.is_empty() { "default" } else { sa }
            )
        })
        .collect();
    for d in of("AuthorizationPolicy") {
        for (r, rule) in arr(&d.value, "/spec/rules").iter().enumerate() {
            for (f, from) in arr(rule, "/from").iter().enumerate() {
                for (p, principal) in arr(from, "/source/principals").iter().enumerate() {
                    let principal = principal.as_str().unwrap_or("");
                    if principal.contains('*') || !principal.starts_with("cluster.local/") {
                        continue; // a pattern or another trust domain: cannot be resolved here
                    }
                    if ISTIO_PRINCIPALS.contains(&principal) {
                        continue; // installed with Istio itself, not by these manifests
                    }
                    if !accounts.contains(principal) {
                        let ns = principal.split('/').nth(2).unwrap_or("");
                        let managed = deployments.iter().any(|d| d.namespace() == ns);
                        out.push(missing(
                            managed,
                            d,
                            format!("/spec/rules/{r}/from/{f}/source/principals/{p}"),
                            format!("principal {principal:?} is no ServiceAccount that a Deployment runs as"),
                        ));
                    }
                }
            }
        }
    }
    out.extend(kube::rules(docs));
    out.extend(flagger::rules(docs));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_file_names_follow_kubeconform() {
        assert_eq!(Schemas::file_name("v1", "Service"), "service-v1.json");
        assert_eq!(
            Schemas::file_name("apps/v1", "Deployment"),
            "deployment-apps-v1.json"
        );
        assert_eq!(
            Schemas::file_name("networking.istio.io/v1", "VirtualService"),
            "virtualservice-networking-v1.json"
        );
        assert_eq!(
            Schemas::file_name("autoscaling/v2", "HorizontalPodAutoscaler"),
            "horizontalpodautoscaler-autoscaling-v2.json"
        );
    }

    #[test]
    fn hosts_resolve_to_services() {
        assert_eq!(
            service_of("payment", "fd"),
            Some(("fd".into(), "payment".into()))
        );
        assert_eq!(
            service_of("payment.fd.svc.cluster.local", "x"),
            Some(("fd".into(), "payment".into()))
        );
        assert_eq!(service_of("www.googleapis.com", "x"), None);
    }

    #[test]
    fn port_names() {
        assert!(port_name_ok("grpc") && port_name_ok("grpc-api") && port_name_ok("http2"));
        assert!(!port_name_ok("api") && !port_name_ok("grpcx"));
    }
}
