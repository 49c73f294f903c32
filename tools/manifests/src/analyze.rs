//! What `istioctl analyze` reports, offline: the analyzers for VirtualServices,
//! DestinationRules, Gateways, Services, workloads and AuthorizationPolicies, with istioctl's
//! message codes (`IST0101` ...), levels and origins (`Kind [namespace/]name`), so that its
//! output can be compared with istioctl's own test expectations
//! (`tests/analyzer_conformance.rs`, on the inputs of Istio 1.30.3's analyzer tests).
//! `fd-manifests analyze PATH|-` prints them as istioctl does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::{arr, labels, Doc};

/// istioctl's message levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Informational.
    Info,
    /// Probably a mistake.
    Warning,
    /// Broken.
    Error,
}

/// One message, as istioctl analyze prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `IST0101`, ...
    pub code: &'static str,
    /// istioctl's name for the code (`ReferencedResourceNotFound`).
    pub name: &'static str,
    /// Its level.
    pub level: Level,
    /// The analyzer that reports it (`virtualservice.GatewayAnalyzer`).
    pub analyzer: &'static str,
    /// `Kind [namespace/]name` of the object (the namespace only when the object names one).
    pub origin: String,
    /// What is wrong.
    pub text: String,
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} [{}] ({}) {}",
            self.level, self.code, self.origin, self.text
        )
    }
}

fn origin(d: &Doc) -> String {
    match d
        .value
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{} {ns}/{}", d.kind(), d.name()),
        None => format!("{} {}", d.kind(), d.name()),
    }
}

struct Out(Vec<Message>);

impl Out {
    fn push(
        &mut self,
        (code, name, level): (&'static str, &'static str, Level),
        analyzer: &'static str,
        d: &Doc,
        text: String,
    ) {
        self.0.push(Message {
            code,
            name,
            level,
            analyzer,
            origin: origin(d),
            text,
        });
    }
}

const DEPRECATED: (&str, &str, Level) = ("IST0002", "Deprecated", Level::Warning);
const NOT_FOUND: (&str, &str, Level) = ("IST0101", "ReferencedResourceNotFound", Level::Error);
const CONFLICTING_MESH_HOSTS: (&str, &str, Level) = (
    "IST0109",
    "ConflictingMeshGatewayVirtualServiceHosts",
    Level::Error,
);
const PORT_REQUIRED: (&str, &str, Level) = (
    "IST0112",
    "VirtualServiceDestinationPortSelectorRequired",
    Level::Error,
);
const MULTIPLE_SERVICES: (&str, &str, Level) = (
    "IST0116",
    "DeploymentAssociatedToMultipleServices",
    Level::Warning,
);
const PORT_NAME: (&str, &str, Level) =
    ("IST0118", "PortNameIsNotUnderNamingConvention", Level::Info);
const NO_WORKLOADS: (&str, &str, Level) = ("IST0127", "NoMatchingWorkloadsFound", Level::Warning);
const UNREACHABLE: (&str, &str, Level) =
    ("IST0130", "VirtualServiceUnreachableRule", Level::Warning);
const INEFFECTIVE: (&str, &str, Level) = ("IST0131", "VirtualServiceIneffectiveMatch", Level::Info);
const HOST_NOT_IN_GATEWAY: (&str, &str, Level) = (
    "IST0132",
    "VirtualServiceHostNotFoundInGateway",
    Level::Warning,
);
const CONFLICTING_PORTS: (&str, &str, Level) =
    ("IST0137", "DeploymentConflictingPorts", Level::Warning);
const INGRESS_NO_EFFECT: (&str, &str, Level) =
    ("IST0140", "IngressRouteRulesNotAffected", Level::Warning);
const UID_1337: (&str, &str, Level) = ("IST0144", "InvalidApplicationUID", Level::Warning);
const CONFLICTING_GATEWAYS: (&str, &str, Level) = ("IST0145", "ConflictingGateways", Level::Error);
const JWT_CLAIM_ROUTE: (&str, &str, Level) = (
    "IST0149",
    "JwtClaimBasedRoutingWithoutRequestAuthN",
    Level::Error,
);
const EXTERNAL_NAME_PORT: (&str, &str, Level) = (
    "IST0150",
    "ExternalNameServiceTypeInvalidPortName",
    Level::Warning,
);
const GATEWAY_PORT: (&str, &str, Level) =
    ("IST0162", "GatewayPortNotDefinedOnService", Level::Warning);
const INTERNAL_GATEWAY: (&str, &str, Level) =
    ("IST0165", "ReferencedInternalGateway", Level::Warning);
const SUBSET_NO_PODS: (&str, &str, Level) = (
    "IST0173",
    "DestinationRuleSubsetNotSelectPods",
    Level::Warning,
);
const DR_HOST_NOT_FOUND: (&str, &str, Level) =
    ("IST0174", "DestinationRuleSubsetNoPods", Level::Warning);

/// Namespaces istioctl treats as the system's own (no port-name messages there).
const SYSTEM_NAMESPACES: &[&str] = &[
    "istio-system",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "local-path-storage",
];

/// The selector of Istio's default ingress gateway, and the ports its Service exposes
/// (status, HTTP, HTTPS).
fn default_ingress_selector() -> BTreeMap<String, String> {
    BTreeMap::from([("istio".to_string(), "ingressgateway".to_string())])
}
const DEFAULT_INGRESS_PORTS: [i64; 3] = [15021, 80, 443];

fn ns_of(d: &Doc) -> &str {
    d.namespace()
}

/// A pod or a workload's pod template: namespace, labels, the pod spec, and the document.
struct Pod<'a> {
    doc: &'a Doc,
    labels: BTreeMap<String, String>,
    spec: &'a Value,
}

fn pods(docs: &[Doc]) -> Vec<Pod<'_>> {
    let mut out = Vec::new();
    for d in docs {
        if d.kind() == "Pod" {
            out.push(Pod {
                doc: d,
                labels: labels(d.value.pointer("/metadata/labels")),
                spec: d.value.get("spec").unwrap_or(&Value::Null),
            });
        } else if let Some((t, _)) = crate::kube::pod_template(d) {
            if t.pointer("/metadata/annotations/sidecar.istio.io~1inject")
                .and_then(Value::as_str)
                == Some("false")
            {
                continue; // outside the mesh
            }
            out.push(Pod {
                doc: d,
                labels: labels(t.pointer("/metadata/labels")),
                spec: t.get("spec").unwrap_or(&Value::Null),
            });
        }
    }
    out
}

fn selects(selector: &BTreeMap<String, String>, pod: &BTreeMap<String, String>) -> bool {
    crate::kube::matches(pod, selector)
}

/// The fully qualified name of `host` seen from `ns` (`reviews` → `reviews.ns.svc.cluster.local`).
fn fqdn(host: &str, ns: &str) -> String {
    if host.contains('*') || host.contains('.') {
        if let Some((name, rest)) = host.split_once('.') {
            // `reviews.foo` (no suffix): a Service in namespace foo.
            if !rest.contains('.') && !host.contains('*') {
                return format!("{name}.{rest}.svc.cluster.local");
            }
        }
        host.to_string()
    } else {
        format!("{host}.{ns}.svc.cluster.local")
    }
}

/// Istio's host matching: equal, or one a wildcard (`*`, `*.example.com`) covering the other.
fn host_matches(a: &str, b: &str) -> bool {
    let covers = |w: &str, h: &str| {
        w == "*" || (w.starts_with("*.") && (h.ends_with(&w[1..]) || h == &w[2..]))
    };
    a == b || covers(a, b) || covers(b, a)
}

/// Splits a Gateway reference (`name`, `ns/name`) into namespace and name.
fn gateway_ref<'a>(g: &'a str, ns: &'a str) -> (&'a str, &'a str) {
    g.split_once('/').unwrap_or((ns, g))
}

/// Every message istioctl analyze would give for these manifests.
pub fn analyze(docs: &[Doc]) -> Vec<Message> {
    // `kind: List` documents count as their items.
    let mut all: Vec<Doc> = Vec::new();
    for d in docs {
        if d.kind() == "List" {
            for (i, item) in arr(&d.value, "/items").iter().enumerate() {
                all.push(Doc {
                    source: d.source.clone(),
                    index: d.index * 1000 + i,
                    value: item.clone(),
                });
            }
        } else {
            all.push(d.clone());
        }
    }
    let docs = &all[..];
    let mut out = Out(Vec::new());
    deprecation(docs, &mut out);
    ingress_gateway_ports(docs, &mut out);
    conflicting_gateways(docs, &mut out);
    port_names(docs, &mut out);
    conflicting_mesh_hosts(docs, &mut out);
    destination_hosts(docs, &mut out);
    destination_rules(docs, &mut out);
    gateways(docs, &mut out);
    jwt_claim_routes(docs, &mut out);
    service_association(docs, &mut out);
    authorization_policies(docs, &mut out);
    unreachable_rules(docs, &mut out);
    application_uid(docs, &mut out);
    subsets_select_pods(docs, &mut out);
    out.0
}

fn of<'a>(docs: &'a [Doc], kind: &'static str) -> impl Iterator<Item = &'a Doc> {
    docs.iter().filter(move |d| d.kind() == kind)
}

fn deprecation(docs: &[Doc], out: &mut Out) {
    for d in of(docs, "VirtualService") {
        for rule in arr(&d.value, "/spec/http") {
            for (what, p) in [
                ("delay", "/fault/delay/percent"),
                ("abort", "/fault/abort/percent"),
            ] {
                if rule.pointer(p).is_some() {
                    out.push(
                        DEPRECATED,
                        "deprecation.FieldAnalyzer",
                        d,
                        format!("fault.{what}.percent is deprecated; use fault.{what}.percentage"),
                    );
                }
            }
        }
    }
    for d in of(docs, "Sidecar") {
        if d.value
            .pointer("/spec/outboundTrafficPolicy/egressProxy")
            .is_some()
        {
            out.push(
                DEPRECATED,
                "deprecation.FieldAnalyzer",
                d,
                "outboundTrafficPolicy.egressProxy is deprecated".into(),
            );
        }
    }
}

fn ingress_gateway_ports(docs: &[Doc], out: &mut Out) {
    let pods = pods(docs);
    for g in of(docs, "Gateway") {
        let selector = labels(g.value.pointer("/spec/selector"));
        let matched: Vec<&Pod<'_>> = pods
            .iter()
            .filter(|p| selects(&selector, &p.labels))
            .collect();
        let mut ports = BTreeSet::new();
        if matched.is_empty() {
            // Istio's own ingress gateway (installed with Istio, not in these manifests):
            // its Service's ports.
            if selector == default_ingress_selector() {
                ports.extend(DEFAULT_INGRESS_PORTS);
            } else {
                out.push(
                    NOT_FOUND,
                    "gateway.IngressGatewayPortAnalyzer",
                    g,
                    format!("Referenced selector not found: {selector:?}"),
                );
                continue;
            }
        }
        for s in of(docs, "Service") {
            let sel = labels(s.value.pointer("/spec/selector"));
            if sel.is_empty() {
                continue;
            }
            if matched
                .iter()
                .any(|p| ns_of(p.doc) == ns_of(s) && selects(&sel, &p.labels))
            {
                // The proxy listens on the target port; a Gateway may name either.
                for p in arr(&s.value, "/spec/ports") {
                    if p.get("protocol").and_then(Value::as_str).unwrap_or("TCP") != "TCP" {
                        continue;
                    }
                    ports.extend(p.get("port").and_then(Value::as_i64));
                    ports.extend(p.get("targetPort").and_then(Value::as_i64));
                }
            }
        }
        for server in arr(&g.value, "/spec/servers") {
            if let Some(n) = server.pointer("/port/number").and_then(Value::as_i64) {
                if !ports.contains(&n) {
                    out.push(GATEWAY_PORT, "gateway.IngressGatewayPortAnalyzer", g, format!("The gateway refers to a port that is not exposed on the workload (pod selector {selector:?}; port {n})"));
                }
            }
        }
    }
}

fn conflicting_gateways(docs: &[Doc], out: &mut Out) {
    let pods = pods(docs);
    let gws: Vec<&Doc> = of(docs, "Gateway").collect();
    // (gateway, selector, [(port, hosts)])
    let servers = |g: &Doc| -> Vec<(i64, Vec<String>)> {
        arr(&g.value, "/spec/servers")
            .iter()
            .filter_map(|s| {
                let n = s.pointer("/port/number").and_then(Value::as_i64)?;
                let hosts = arr(s, "/hosts")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|h| h.rsplit('/').next().unwrap_or(h).to_string())
                    .collect();
                Some((n, hosts))
            })
            .collect()
    };
    for (i, a) in gws.iter().enumerate() {
        let sa = labels(a.value.pointer("/spec/selector"));
        let mut conflicts = BTreeSet::new();
        for (j, b) in gws.iter().enumerate() {
            if i == j {
                continue;
            }
            let sb = labels(b.value.pointer("/spec/selector"));
            // The same workloads: one selector within the other, and some pod (if any are
            // known) that both select.
            let nested = selects(&sa, &sb) || selects(&sb, &sa);
            let same_pods = pods.is_empty()
                || pods
                    .iter()
                    .any(|p| selects(&sa, &p.labels) && selects(&sb, &p.labels))
                || !pods
                    .iter()
                    .any(|p| selects(&sa, &p.labels) || selects(&sb, &p.labels));
            if !nested || !same_pods {
                continue;
            }
            for (pa, ha) in servers(a) {
                for (pb, hb) in servers(b) {
                    if pa == pb && ha.iter().any(|x| hb.iter().any(|y| host_matches(x, y))) {
                        conflicts.insert(b.name().to_string());
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            out.push(CONFLICTING_GATEWAYS, "gateway.ConflictingGatewayAnalyzer", a, format!("Conflict with gateways {conflicts:?} (workload selector {sa:?}, same port and host)"));
        }
    }
}

fn port_names(docs: &[Doc], out: &mut Out) {
    for s in of(docs, "Service") {
        let external = s.str_at("/spec/type") == "ExternalName";
        if SYSTEM_NAMESPACES.contains(&ns_of(s)) && !external {
            continue;
        }
        for p in arr(&s.value, "/spec/ports") {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if p.get("appProtocol").is_some() {
                continue;
            }
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            if external {
                // An ExternalName Service's traffic is only TCP unless its port name says
                // otherwise; a name that names no protocol is refused.
                let protocol = name.split('-').next().unwrap_or("");
                if !crate::port_name_ok(name) || name.is_empty() || protocol == "tcp" {
                    out.push(
                        EXTERNAL_NAME_PORT,
                        "service.PortNameAnalyzer",
                        s,
                        format!(
                            "Port name for ExternalName service is invalid: {name:?} (port {port})"
                        ),
                    );
                }
            } else if !crate::port_name_ok(name) {
                out.push(PORT_NAME, "service.PortNameAnalyzer", s, format!("Port name {name} (port: {port}, targetPort: {}) doesn't follow the naming convention of Istio port", p.get("targetPort").map(ToString::to_string).unwrap_or_default()));
            }
        }
    }
}

/// The namespaces a VirtualService is visible in (`exportTo`; `*` by default).
fn export_to(d: &Doc) -> Vec<String> {
    let list: Vec<String> = arr(&d.value, "/spec/exportTo")
        .iter()
        .filter_map(Value::as_str)
        .map(|e| {
            if e == "." {
                ns_of(d).to_string()
            } else {
                e.to_string()
            }
        })
        .collect();
    if list.is_empty() {
        vec!["*".into()]
    } else {
        list
    }
}

fn mesh_bound(d: &Doc) -> bool {
    let gws = arr(&d.value, "/spec/gateways");
    gws.is_empty() || gws.iter().any(|g| g.as_str() == Some("mesh"))
}

fn conflicting_mesh_hosts(docs: &[Doc], out: &mut Out) {
    let vss: Vec<&Doc> = of(docs, "VirtualService")
        .filter(|d| mesh_bound(d))
        .collect();
    let visible_together = |a: &Doc, b: &Doc| {
        let (ea, eb) = (export_to(a), export_to(b));
        ea.iter()
            .any(|x| eb.iter().any(|y| x == "*" || y == "*" || x == y))
    };
    for a in &vss {
        let ha: Vec<String> = arr(&a.value, "/spec/hosts")
            .iter()
            .filter_map(Value::as_str)
            .map(|h| fqdn(h, ns_of(a)))
            .collect();
        let others: Vec<String> = vss
            .iter()
            .filter(|b| !std::ptr::eq(**b, *a))
            .filter(|b| visible_together(a, b))
            .filter(|b| {
                arr(&b.value, "/spec/hosts")
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|h| ha.iter().any(|x| host_matches(x, &fqdn(h, ns_of(b)))))
            })
            .map(|b| format!("{}/{}", ns_of(b), b.name()))
            .collect();
        if !others.is_empty() {
            out.push(CONFLICTING_MESH_HOSTS, "virtualservice.ConflictingMeshGatewayHostsAnalyzer", a, format!("The VirtualServices {others:?} associated with mesh gateway define the same host"));
        }
    }
}

/// A host a Service or ServiceEntry defines: its ports and the namespaces it is visible in.
struct Host {
    name: String,
    ports: Vec<i64>,
    visible: Vec<String>,
}

impl Host {
    fn visible_in(&self, ns: &str) -> bool {
        self.visible.iter().any(|v| v == "*" || v == ns)
    }
}

/// `exportTo` values: `.` is the object's own namespace; none means everywhere.
fn visibility<'a>(values: impl Iterator<Item = &'a str>, own: &str) -> Vec<String> {
    let v: Vec<String> = values
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            if x == "." {
                own.to_string()
            } else {
                x.to_string()
            }
        })
        .collect();
    if v.is_empty() {
        vec!["*".into()]
    } else {
        v
    }
}

/// Services and ServiceEntry hosts by fully qualified name.
fn known_hosts(docs: &[Doc]) -> Vec<Host> {
    let mut hosts = Vec::new();
    for s in of(docs, "Service") {
        let ports = arr(&s.value, "/spec/ports")
            .iter()
            .filter_map(|p| p.get("port").and_then(Value::as_i64))
            .collect();
        let export = s.str_at("/metadata/annotations/networking.istio.io~1exportTo");
        hosts.push(Host {
            name: format!("{}.{}.svc.cluster.local", s.name(), ns_of(s)),
            ports,
            visible: visibility(export.split(','), ns_of(s)),
        });
    }
    for e in of(docs, "ServiceEntry") {
        let ports: Vec<i64> = arr(&e.value, "/spec/ports")
            .iter()
            .filter_map(|p| p.get("number").and_then(Value::as_i64))
            .collect();
        let visible = visibility(
            arr(&e.value, "/spec/exportTo")
                .iter()
                .filter_map(Value::as_str),
            ns_of(e),
        );
        for h in arr(&e.value, "/spec/hosts")
            .iter()
            .filter_map(Value::as_str)
        {
            hosts.push(Host {
                name: fqdn(h, ns_of(e)),
                ports: ports.clone(),
                visible: visible.clone(),
            });
        }
    }
    hosts
}

/// Every `destination` of a VirtualService (routes and mirrors) with its JSON path.
fn destinations(d: &Doc) -> Vec<(&Value, bool)> {
    let mut out = Vec::new();
    for proto in ["http", "tcp", "tls"] {
        for rule in arr(&d.value, &format!("/spec/{proto}")) {
            for r in arr(rule, "/route") {
                out.push((r.get("destination").unwrap_or(&Value::Null), false));
            }
            if let Some(m) = rule.get("mirror") {
                out.push((m, true));
            }
            for m in arr(rule, "/mirrors") {
                if let Some(dest) = m.get("destination") {
                    out.push((dest, true));
                }
            }
        }
    }
    out
}

fn destination_hosts(docs: &[Doc], out: &mut Out) {
    let hosts = known_hosts(docs);
    for d in of(docs, "VirtualService") {
        for (dest, _) in destinations(d) {
            let host = dest.get("host").and_then(Value::as_str).unwrap_or("");
            let name = fqdn(host, ns_of(d));
            // Where the VirtualService applies: its exportTo namespaces (its own by default).
            let applies: Vec<String> = export_to(d)
                .into_iter()
                .map(|n| if n == "*" { ns_of(d).to_string() } else { n })
                .collect();
            let found: Vec<&Vec<i64>> = hosts
                .iter()
                .filter(|h| applies.iter().all(|n| h.visible_in(n)) && host_matches(&h.name, &name))
                .map(|h| &h.ports)
                .collect();
            let Some(ports) = found.first() else {
                out.push(
                    NOT_FOUND,
                    "virtualservice.DestinationHostAnalyzer",
                    d,
                    format!("Referenced host not found: {host:?}"),
                );
                continue;
            };
            let port = dest.pointer("/port/number").and_then(Value::as_i64);
            match port {
                None if ports.len() > 1 => out.push(PORT_REQUIRED, "virtualservice.DestinationHostAnalyzer", d, format!("This VirtualService routes to a service {host:?} that exposes multiple ports {ports:?}. Specifying a port in the destination is required to disambiguate.")),
                Some(n) if !ports.is_empty() && !ports.contains(&n) => out.push(NOT_FOUND, "virtualservice.DestinationHostAnalyzer", d, format!("Referenced host:port not found: \"{host}:{n}\"")),
                _ => {}
            }
        }
    }
    ingress_route_rules(docs, out);
}

/// IST0140: a gateway's VirtualService routes to a Service without a subset while the mesh's
/// VirtualService for that Service routes by subset: the ingress traffic bypasses those rules
/// (a gateway sends to the destination as its own route says).
fn ingress_route_rules(docs: &[Doc], out: &mut Out) {
    let subset_routed: BTreeSet<String> = of(docs, "VirtualService")
        .filter(|d| mesh_bound(d))
        .filter(|d| {
            destinations(d)
                .iter()
                .any(|(dest, _)| dest.get("subset").is_some())
        })
        .flat_map(|d| {
            arr(&d.value, "/spec/hosts")
                .iter()
                .filter_map(Value::as_str)
                .map(move |h| fqdn(h, ns_of(d)))
        })
        .collect();
    for d in of(docs, "VirtualService").filter(|d| !mesh_bound(d)) {
        let bypass = destinations(d).iter().any(|(dest, _)| {
            dest.get("subset").is_none()
                && subset_routed.contains(&fqdn(
                    dest.get("host").and_then(Value::as_str).unwrap_or(""),
                    ns_of(d),
                ))
        });
        if bypass {
            out.push(INGRESS_NO_EFFECT, "virtualservice.DestinationHostAnalyzer", d, "This gateway route has no subset, so the subset rules of the mesh's VirtualService for its destination do not apply to ingress traffic".into());
        }
    }
}

fn destination_rules(docs: &[Doc], out: &mut Out) {
    let mut subsets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in of(docs, "DestinationRule") {
        let host = fqdn(r.str_at("/spec/host"), ns_of(r));
        let entry = subsets.entry(host).or_default();
        for s in arr(&r.value, "/spec/subsets") {
            if let Some(n) = s.get("name").and_then(Value::as_str) {
                entry.insert(n.to_string());
            }
        }
    }
    for d in of(docs, "VirtualService") {
        for (dest, _) in destinations(d) {
            let Some(subset) = dest.get("subset").and_then(Value::as_str) else {
                continue;
            };
            let host = dest.get("host").and_then(Value::as_str).unwrap_or("");
            let name = fqdn(host, ns_of(d));
            let found = subsets
                .iter()
                .any(|(h, s)| host_matches(h, &name) && s.contains(subset));
            if !found {
                out.push(
                    NOT_FOUND,
                    "virtualservice.DestinationRuleAnalyzer",
                    d,
                    format!(
                        "Referenced host+subset in destinationrule not found: \"{host}+{subset}\""
                    ),
                );
            }
        }
    }
}

fn gateways(docs: &[Doc], out: &mut Out) {
    for d in of(docs, "VirtualService") {
        let ns = ns_of(d);
        for g in arr(&d.value, "/spec/gateways")
            .iter()
            .filter_map(Value::as_str)
        {
            if g == "mesh" {
                continue;
            }
            let (gns, gname) = gateway_ref(g, ns);
            if gname.contains('~') {
                // istio's own generated gateways (Kubernetes Gateway API translations).
                out.push(INTERNAL_GATEWAY, "virtualservice.GatewayAnalyzer", d, format!("Referenced internal gateway {g:?}: it is generated by Istio and may change"));
                continue;
            }
            let gw = of(docs, "Gateway").find(|x| ns_of(x) == gns && x.name() == gname);
            if gw.is_none() {
                out.push(
                    NOT_FOUND,
                    "virtualservice.GatewayAnalyzer",
                    d,
                    format!("Referenced gateway not found: {g:?}"),
                );
            }
            // Every gateway it is bound to must serve at least one of its hosts.
            let servers: Vec<(String, String)> = gw
                .map(|gw| {
                    arr(&gw.value, "/spec/servers")
                        .iter()
                        .flat_map(|s| arr(s, "/hosts").iter().filter_map(Value::as_str))
                        .map(|h| match h.split_once('/') {
                            Some((".", host)) => (gns.to_string(), host.to_string()),
                            Some((hns, host)) => (hns.to_string(), host.to_string()),
                            None => ("*".to_string(), h.to_string()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let hosts: Vec<&str> = arr(&d.value, "/spec/hosts")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let served = hosts.iter().any(|host| {
                servers
                    .iter()
                    .any(|(hns, h)| (hns == "*" || hns == ns) && host_matches(h, host))
            });
            if !served {
                out.push(HOST_NOT_IN_GATEWAY, "virtualservice.GatewayAnalyzer", d, format!("one or more host ({}) defined in VirtualService {ns}/{} not found in Gateway {gns}/{gname}.", hosts.join(", "), d.name()));
            }
        }
    }
}

fn jwt_claim_routes(docs: &[Doc], out: &mut Out) {
    let pods = pods(docs);
    for d in of(docs, "VirtualService") {
        let claims = arr(&d.value, "/spec/http").iter().any(|r| {
            arr(r, "/match").iter().any(|m| {
                m.get("headers")
                    .and_then(Value::as_object)
                    .is_some_and(|h| h.keys().any(|k| k.starts_with("@request.auth.claims")))
            })
        });
        if !claims {
            continue;
        }
        for g in arr(&d.value, "/spec/gateways")
            .iter()
            .filter_map(Value::as_str)
            .filter(|g| *g != "mesh")
        {
            let (gns, gname) = gateway_ref(g, ns_of(d));
            let Some(gw) = of(docs, "Gateway").find(|x| ns_of(x) == gns && x.name() == gname)
            else {
                continue;
            };
            let sel = labels(gw.value.pointer("/spec/selector"));
            let gw_pods: Vec<&Pod<'_>> = pods.iter().filter(|p| selects(&sel, &p.labels)).collect();
            let authn = of(docs, "RequestAuthentication").any(|ra| {
                let s = labels(ra.value.pointer("/spec/selector/matchLabels"));
                gw_pods
                    .iter()
                    .any(|p| ns_of(p.doc) == ns_of(ra) || ns_of(ra) == "istio-system")
                    && (s.is_empty() || gw_pods.iter().any(|p| selects(&s, &p.labels)))
            });
            if !authn {
                out.push(JWT_CLAIM_ROUTE, "virtualservice.JWTClaimRouteAnalyzer", d, format!("This route uses JWT claims but no RequestAuthentication applies to the pods of gateway {g:?}"));
            }
        }
    }
}

fn service_association(docs: &[Doc], out: &mut Out) {
    let services: Vec<&Doc> = of(docs, "Service").collect();
    for w in docs.iter().filter(|d| d.kind() == "Deployment") {
        let Some((t, _)) = crate::kube::pod_template(w) else {
            continue;
        };
        if t.pointer("/metadata/annotations/sidecar.istio.io~1inject")
            .and_then(Value::as_str)
            == Some("false")
        {
            continue; // outside the mesh
        }
        let pl = labels(t.pointer("/metadata/labels"));
        let matching: Vec<&&Doc> = services
            .iter()
            .filter(|s| ns_of(s) == ns_of(w))
            .filter(|s| {
                let sel = labels(s.value.pointer("/spec/selector"));
                !sel.is_empty() && selects(&sel, &pl)
            })
            .collect();
        if matching.len() < 2 {
            continue;
        }
        // port number → protocols across the Services; target port → service ports
        let mut protocols: BTreeMap<i64, BTreeSet<String>> = BTreeMap::new();
        let mut targets: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for s in &matching {
            for p in arr(&s.value, "/spec/ports") {
                let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                let proto = p
                    .get("protocol")
                    .and_then(Value::as_str)
                    .unwrap_or("TCP")
                    .to_string();
                protocols.entry(port).or_default().insert(proto);
                let target = p.get("targetPort").map_or(port.to_string(), |t| {
                    t.as_str().map_or_else(|| t.to_string(), str::to_string)
                });
                targets.entry(target).or_default().insert(port);
            }
        }
        if protocols.values().any(|p| p.len() > 1) {
            out.push(MULTIPLE_SERVICES, "deployment.ServiceAssociationAnalyzer", w, "This deployment is associated with multiple services using the same port but different protocols".into());
        }
        for (target, ports) in &targets {
            if ports.len() > 1 {
                out.push(CONFLICTING_PORTS, "deployment.ServiceAssociationAnalyzer", w, format!("This deployment is associated with multiple services that use the target port {target} with different service ports {ports:?}"));
            }
        }
    }
}

fn authorization_policies(docs: &[Doc], out: &mut Out) {
    let pods = pods(docs);
    let namespaces: BTreeSet<String> = docs
        .iter()
        .map(|d| {
            if d.kind() == "Namespace" {
                d.name().to_string()
            } else {
                ns_of(d).to_string()
            }
        })
        .collect();
    for a in of(docs, "AuthorizationPolicy") {
        let sel = labels(a.value.pointer("/spec/selector/matchLabels"));
        let root = ns_of(a) == "istio-system";
        if root && sel == default_ingress_selector() {
            continue; // Istio's own ingress gateway, installed with Istio
        }
        // A namespace-wide policy applies to every pod of its namespace (the root namespace's
        // to every pod): it needs some.
        if !(sel.is_empty() && root) {
            let any = pods
                .iter()
                .any(|p| (root || ns_of(p.doc) == ns_of(a)) && selects(&sel, &p.labels));
            if !any {
                out.push(
                    NO_WORKLOADS,
                    "authz.AuthorizationPoliciesAnalyzer",
                    a,
                    format!(
                        "No matching workloads for this resource with the following labels: {}",
                        sel.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                );
            }
        }
        for rule in arr(&a.value, "/spec/rules") {
            for from in arr(rule, "/from") {
                for key in ["/source/namespaces", "/source/notNamespaces"] {
                    for ns in arr(from, key).iter().filter_map(Value::as_str) {
                        let known = if ns.contains('*') {
                            let p = ns.trim_matches('*');
                            namespaces.iter().any(|n| n.contains(p))
                        } else {
                            namespaces.contains(ns)
                        };
                        if !known {
                            out.push(
                                NOT_FOUND,
                                "authz.AuthorizationPoliciesAnalyzer",
                                a,
                                format!("Referenced namespace not found: {ns:?}"),
                            );
                        }
                    }
                }
            }
        }
    }
}

/// True if every request `later` matches is matched by `earlier` already: each condition of
/// `earlier` is in `later` too, equal — or a URI prefix that `later`'s URI prefix extends.
fn covers(earlier: &Value, later: &Value) -> bool {
    let (Some(e), Some(l)) = (earlier.as_object(), later.as_object()) else {
        return earlier == later;
    };
    e.iter()
        .filter(|(k, _)| k.as_str() != "name")
        .all(|(k, ev)| {
            let Some(lv) = l.get(k) else { return false };
            if k == "uri" {
                if let (Some(p), Some(q)) = (
                    ev.get("prefix").and_then(Value::as_str),
                    lv.get("prefix").and_then(Value::as_str),
                ) {
                    return q.starts_with(p);
                }
            }
            ev == lv
        })
}

fn unreachable_rules(docs: &[Doc], out: &mut Out) {
    for d in of(docs, "VirtualService") {
        for proto in ["http", "tcp", "tls"] {
            let rules = arr(&d.value, &format!("/spec/{proto}"));
            let mut seen: Vec<&Value> = Vec::new();
            let mut catch_all: Option<usize> = None;
            for (r, rule) in rules.iter().enumerate() {
                let matches = arr(rule, "/match");
                let rname = rule
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| r.to_string(), str::to_string);
                if let Some(c) = catch_all {
                    out.push(UNREACHABLE, "schemaValidation.CollectionValidationAnalyzer", d, format!("VirtualService rule #{r} not used (only the last rule can have no matches): rule #{c} matches everything before it ({rname})"));
                    continue;
                }
                if matches.is_empty() {
                    catch_all = Some(r);
                    continue;
                }
                // Unreachable: every match repeats an earlier one (istioctl reports a rule that
                // earlier prefixes merely cover as ineffective matches only).
                let mut all_repeated = true;
                let same = |a: &Value, b: &Value| {
                    covers(a, b) && covers(b, a) && a.get("uri") == b.get("uri")
                };
                for (m, cond) in matches.iter().enumerate() {
                    let earlier: Vec<&Value> =
                        seen.iter().copied().chain(matches[..m].iter()).collect();
                    if earlier.iter().any(|e| covers(e, cond)) {
                        out.push(INEFFECTIVE, "schemaValidation.CollectionValidationAnalyzer", d, format!("VirtualService rule #{r} match #{m} ({cond}) is not used (an earlier match covers it)"));
                    }
                    if !earlier.iter().any(|e| same(e, cond)) {
                        all_repeated = false;
                    }
                }
                if all_repeated {
                    out.push(UNREACHABLE, "schemaValidation.CollectionValidationAnalyzer", d, format!("VirtualService rule #{r} not used (earlier matches cover all of its own)"));
                }
                seen.extend(matches.iter());
            }
        }
    }
}

fn application_uid(docs: &[Doc], out: &mut Out) {
    for p in pods(docs) {
        let pod_uid = p
            .spec
            .pointer("/securityContext/runAsUser")
            .and_then(Value::as_i64)
            == Some(1337);
        let container_uid = arr(p.spec, "/containers").iter().any(|c| {
            c.pointer("/securityContext/runAsUser")
                .and_then(Value::as_i64)
                == Some(1337)
        });
        if pod_uid || container_uid {
            out.push(
                UID_1337,
                "deployment.ApplicationUIDAnalyzer",
                p.doc,
                "User ID (UID) 1337 is reserved for the sidecar proxy.".into(),
            );
        }
    }
}

fn subsets_select_pods(docs: &[Doc], out: &mut Out) {
    let pods = pods(docs);
    for r in of(docs, "DestinationRule") {
        let host = r.str_at("/spec/host");
        let name = fqdn(host, ns_of(r));
        let Some(svc) = of(docs, "Service")
            .find(|s| format!("{}.{}.svc.cluster.local", s.name(), ns_of(s)) == name)
        else {
            if !host.contains('*')
                && !of(docs, "ServiceEntry").any(|e| {
                    arr(&e.value, "/spec/hosts")
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|h| fqdn(h, ns_of(e)) == name)
                })
            {
                out.push(DR_HOST_NOT_FOUND, "destinationrule.PodNotSelectedAnalyzer", r, format!("The host {host:?} of this DestinationRule is no Service: its subsets select no pods"));
            }
            continue;
        };
        let sel = labels(svc.value.pointer("/spec/selector"));
        for s in arr(&r.value, "/spec/subsets") {
            // Topology labels are the labels of a pod's node, not of the pod; an empty one
            // matches no node.
            let (topology, sub): (BTreeMap<String, String>, BTreeMap<String, String>) =
                labels(s.get("labels")).into_iter().partition(|(k, _)| {
                    k.starts_with("topology.kubernetes.io/") || k.starts_with("topology.istio.io/")
                });
            let on_node = |p: &Pod<'_>| {
                topology.iter().all(|(k, v)| {
                    if v.is_empty() {
                        return false;
                    }
                    let node = p.spec.get("nodeName").and_then(Value::as_str);
                    match node.and_then(|n| of(docs, "Node").find(|d| d.name() == n)) {
                        Some(n) => labels(n.value.pointer("/metadata/labels")).get(k) == Some(v),
                        None => true, // the node is not in these manifests
                    }
                })
            };
            let any = pods.iter().any(|p| {
                ns_of(p.doc) == ns_of(svc)
                    && selects(&sel, &p.labels)
                    && selects(&sub, &p.labels)
                    && on_node(p)
            });
            if !any {
                let n = s.get("name").and_then(Value::as_str).unwrap_or("");
                out.push(
                    SUBSET_NO_PODS,
                    "destinationrule.PodNotSelectedAnalyzer",
                    r,
                    format!("The subset {n:?} of this DestinationRule selects no pods"),
                );
            }
        }
    }
}
