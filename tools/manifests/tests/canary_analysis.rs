//! The automated canary's analysis, run offline: the Canary's metric checks
//! (istio/progressive/canary.yaml) with their MetricTemplates' queries rendered as Flagger
//! renders them, evaluated by promtool (Prometheus' own rule tester) over synthetic series of
//! a canary's and a primary's pods. A check that fails is what makes Flagger roll back (after
//! `analysis.threshold` failures in a row); one that passes lets the rollout go on.

use std::path::Path;
use std::process::Command;

use fd_manifests::{load, Doc};
use serde_json::Value;

fn progressive() -> Vec<Doc> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../istio/progressive");
    let mut docs = load(&dir.join("canary.yaml")).expect("canary.yaml");
    docs.extend(load(&dir.join("metrictemplates.yaml")).expect("metrictemplates.yaml"));
    docs
}

/// A check: its name, the query as Flagger sends it, and the condition under which it fails.
struct Check {
    name: String,
    query: String,
    fails_when: String,
}

fn checks(docs: &[Doc]) -> Vec<Check> {
    let canary = docs.iter().find(|d| d.kind() == "Canary").expect("Canary");
    let ns = canary.namespace();
    let target = canary.value["spec"]["targetRef"]["name"]
        .as_str()
        .expect("target");
    let metrics = canary.value["spec"]["analysis"]["metrics"]
        .as_array()
        .expect("metrics");
    metrics
        .iter()
        .map(|m| {
            let name = m["name"].as_str().expect("name").to_string();
            let template = m["templateRef"]["name"].as_str().expect("templateRef");
            let t = docs
                .iter()
                .find(|d| d.kind() == "MetricTemplate" && d.name() == template)
                .expect("template");
            let interval = m["interval"].as_str().unwrap_or("1m");
            // Flagger's template variables (pkg/metrics/providers: namespace, target, interval).
            let query = t.value["spec"]["query"]
                .as_str()
                .expect("query")
                .replace("{{ namespace }}", ns)
                .replace("{{ target }}", target)
                .replace("{{ interval }}", interval);
            assert!(!query.contains("{{"), "unrendered variable in {query}");
            let range = &m["thresholdRange"];
            let fails_when = match (
                range.get("min").and_then(Value::as_f64),
                range.get("max").and_then(Value::as_f64),
            ) {
                (Some(min), None) => format!("< {min}"),
                (None, Some(max)) => format!("> {max}"),
                other => panic!("{name}: a thresholdRange with one bound expected, got {other:?}"),
            };
            Check {
                name,
                query,
                fails_when,
            }
        })
        .collect()
}

fn indent(s: &str, by: usize) -> String {
    s.lines()
        .map(|l| format!("{}{l}", " ".repeat(by)))
        .collect::<Vec<_>>()
        .join("\n")
}

const CANARY_POD: &str = "order-7d4b9c6f5-x2x9z";
const PRIMARY_POD: &str = "order-primary-5f6d7b8c9-abcde";

fn count(pod: &str, code: &str, values: &str) -> String {
    format!(
        "      - series: 'rpc_server_call_duration_seconds_count{{namespace=\"fooddelivery\",pod=\"{pod}\",rpc_method=\"fooddelivery.order.v1.OrderService/PlaceOrder\",rpc_response_status_code=\"{code}\"}}'\n        values: '{values}'\n"
    )
}

fn bucket(pod: &str, le: &str, values: &str) -> String {
    format!(
        "      - series: 'rpc_server_call_duration_seconds_bucket{{namespace=\"fooddelivery\",pod=\"{pod}\",rpc_method=\"fooddelivery.order.v1.OrderService/PlaceOrder\",rpc_response_status_code=\"OK\",le=\"{le}\"}}'\n        values: '{values}'\n"
    )
}

#[test]
fn the_canary_analysis_fails_a_bad_canary_and_passes_a_good_one() {
    let docs = progressive();
    let checks = checks(&docs);
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["grpc-success-rate", "grpc-latency-p99"]);

    let dir = tempfile::tempdir().expect("dir");
    let mut rules = String::from("groups:\n  - name: canary-analysis\n    rules:\n");
    for c in &checks {
        let record = format!("canary:{}", c.name.replace('-', "_"));
        rules.push_str(&format!(
            "      - record: {record}\n        expr: |\n{}\n      - alert: CheckFails\n        expr: {record} {}\n        labels:\n          check: {}\n",
            indent(&c.query, 10),
            c.fails_when,
            c.name
        ));
    }
    std::fs::write(dir.path().join("analysis.yml"), &rules).expect("write");

    let no_alert = |at: &str| {
        format!("      - eval_time: {at}\n        alertname: CheckFails\n        exp_alerts: []\n")
    };
    let fails = |at: &str, check: &str| {
        format!("      - eval_time: {at}\n        alertname: CheckFails\n        exp_alerts:\n          - exp_labels: {{check: {check}}}\n")
    };
    let mut tests =
        String::from("rule_files:\n  - analysis.yml\nevaluation_interval: 1m\ntests:\n");
    // A good canary beside a failing, slow primary: only the canary's pods count, and
    // refusals of bad requests are not its faults.
    tests.push_str("  - interval: 1m\n    input_series:\n");
    tests.push_str(&count(CANARY_POD, "OK", "0+100x10"));
    tests.push_str(&count(CANARY_POD, "INVALID_ARGUMENT", "0+50x10"));
    tests.push_str(&count(PRIMARY_POD, "OK", "0+100x10"));
    tests.push_str(&count(PRIMARY_POD, "UNAVAILABLE", "0+100x10"));
    tests.push_str(&bucket(CANARY_POD, "0.05", "0+150x10"));
    tests.push_str(&bucket(CANARY_POD, "+Inf", "0+150x10"));
    tests.push_str(&bucket(PRIMARY_POD, "0.05", "0x10"));
    tests.push_str(&bucket(PRIMARY_POD, "+Inf", "0+200x10"));
    tests.push_str("    promql_expr_test:\n      - expr: canary:grpc_success_rate\n        eval_time: 5m\n        exp_samples:\n          - labels: canary:grpc_success_rate\n            value: 100\n      - expr: canary:grpc_latency_p99\n        eval_time: 5m\n        exp_samples:\n          - labels: canary:grpc_latency_p99\n            value: 49.5\n");
    tests.push_str("    alert_rule_test:\n");
    tests.push_str(&no_alert("5m"));
    // 10 % of the canary's calls UNAVAILABLE: success rate 90, under 99.
    tests.push_str("  - interval: 1m\n    input_series:\n");
    tests.push_str(&count(CANARY_POD, "OK", "0+90x10"));
    tests.push_str(&count(CANARY_POD, "UNAVAILABLE", "0+10x10"));
    tests.push_str(&bucket(CANARY_POD, "0.05", "0+100x10"));
    tests.push_str(&bucket(CANARY_POD, "+Inf", "0+100x10"));
    tests.push_str("    promql_expr_test:\n      - expr: canary:grpc_success_rate\n        eval_time: 5m\n        exp_samples:\n          - labels: canary:grpc_success_rate\n            value: 90\n");
    tests.push_str("    alert_rule_test:\n");
    tests.push_str(&fails("5m", "grpc-success-rate"));
    // Half of the canary's calls take 250-500 ms: p99 495 ms, over 250.
    tests.push_str("  - interval: 1m\n    input_series:\n");
    tests.push_str(&count(CANARY_POD, "OK", "0+100x10"));
    tests.push_str(&bucket(CANARY_POD, "0.25", "0+50x10"));
    tests.push_str(&bucket(CANARY_POD, "0.5", "0+100x10"));
    tests.push_str(&bucket(CANARY_POD, "+Inf", "0+100x10"));
    tests.push_str("    alert_rule_test:\n");
    tests.push_str(&fails("5m", "grpc-latency-p99"));
    std::fs::write(dir.path().join("analysis.test.yml"), &tests).expect("write");

    let out = Command::new("promtool")
        .args(["test", "rules", "analysis.test.yml"])
        .current_dir(dir.path())
        .output()
        .expect("promtool (Debian's prometheus package; .ci/run installs it)");
    assert!(
        out.status.success(),
        "promtool:\n{}{}\nrules:\n{rules}\ntests:\n{tests}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_analysis_rolls_back_before_the_canary_takes_most_traffic() {
    let docs = progressive();
    let canary = docs.iter().find(|d| d.kind() == "Canary").expect("Canary");
    let a = &canary.value["spec"]["analysis"];
    let step = a["stepWeight"].as_u64().expect("stepWeight");
    let max = a["maxWeight"].as_u64().expect("maxWeight");
    let threshold = a["threshold"].as_u64().expect("threshold");
    // Failing from its first step, a canary is rolled back after `threshold` checks, while it
    // has at most threshold × stepWeight of the traffic — and never more than maxWeight.
    assert!(threshold >= 2, "one bad minute should not roll back");
    assert!(threshold * step <= max, "{threshold} × {step} > {max}");
    assert!(
        max <= 50,
        "a canary never takes most of the traffic before promotion"
    );
}
