//! Metrics, as an operator reads them: the five services run as processes (the way `make run`
//! starts them); Prometheus' view is each one's `/metrics` (checked by `promtool`, the
//! Prometheus project's own linter), the OTLP view a receiver this test serves.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use fd_proto::order::v1 as order;
use fd_system_tests::bin_dir;
use fd_testkit::in_process::eventually;
use fd_testkit::system::{Options, ProcessSystem, SERVICES};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tonic::transport::Channel;

/// Metric names received over OTLP, by `service.name`.
#[derive(Clone, Default)]
struct Otlp(Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>);

#[tonic::async_trait]
impl MetricsService for Otlp {
    async fn export(
        &self,
        req: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut seen = self.0.lock().expect("lock");
        for rm in req.into_inner().resource_metrics {
            let service = rm
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    Value::StringValue(s) => s.clone(),
                    _ => String::new(),
                })
                .unwrap_or_default();
            let names = seen.entry(service).or_default();
            for sm in rm.scope_metrics {
                names.extend(sm.metrics.into_iter().map(|m| m.name));
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// The services export spans to the same endpoint; they are not this test's subject.
#[tonic::async_trait]
impl TraceService for Otlp {
    async fn export(
        &self,
        _req: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn scrape(url: &str) -> String {
    let resp = reqwest::get(url).await.expect("GET /metrics");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    resp.text().await.expect("body")
}

/// The value of the one series of `name` whose labels include every `label="value"` given.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// `promtool check metrics` on a scrape: the exposition parses and follows Prometheus'
/// naming rules.
fn promtool_check(service: &str, text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; .ci/run installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics on {service}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Series that appear only once what they count has happened (a request shed, an event
/// dead-lettered): the happy path above exports neither.
const ONLY_ON_EVENTS: &[&str] = &["fd_server_shed_total", "fd_consumer_dead_letters_total"];

/// The series names and label names of a scrape.
fn names_and_labels(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, rest) = line
            .split_once('{')
            .unwrap_or((line.split(' ').next().unwrap_or(""), ""));
        out.insert(name.to_string());
        for pair in rest.split("\",") {
            if let Some((label, _)) = pair.split_once('=') {
                out.insert(label.trim_start_matches(',').to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_reports_rpcs_events_outbox_and_pool_to_prometheus_and_otlp() {
    let otlp = Otlp::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let otlp_url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(MetricsServiceServer::new(otlp.clone()))
            .add_service(TraceServiceServer::new(otlp.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let dir = tempfile::tempdir().expect("dir");
    let opts = Options::new(bin_dir(), dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp_url)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300");
    let sys = ProcessSystem::start(opts).await.expect("system");
    let channel = || {
        Channel::from_shared(sys.url("order"))
            .expect("url")
            .connect_lazy()
    };
    let mut alice = order::order_service_client::OrderServiceClient::new(
        fd_testkit::issuer::with_token(channel(), &sys.issuer().token_for("alice", &["customer"])),
    );
    let placed = alice
        .place_order(order::PlaceOrderRequest {
            idempotency_key: "metrics-1".into(),
            customer_id: "alice".into(),
            store_id: "store-1".into(),
            items: vec![order::LineItem {
                menu_item_id: "pizza".into(),
                name: "Margherita".into(),
                quantity: 1,
                unit_price: Some(fd_proto::common::v1::Money {
                    amount_minor: 1250,
                    currency_code: "EUR".into(),
                }),
            }],
            delivery_address: "1 Main Street".into(),
        })
        .await
        .expect("placed");
    assert!(placed.into_inner().order.is_some());
    // A caller without a token: refused, and counted as such.
    let denied = order::order_service_client::OrderServiceClient::new(channel())
        .get_order(order::GetOrderRequest {
            order_id: "x".into(),
        })
        .await
        .expect_err("no token");
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);

    // The event reached the store: its consumer's processing shows there.
    let store_text = eventually("store's consumer metrics", || async {
        let text = scrape(&sys.metrics_url("store")).await;
        value(
            &text,
            "messaging_process_duration_seconds_count",
            &[
                "fd_outcome=\"processed\"",
                "messaging_destination_name=\"fooddelivery.order.v1.OrderPlaced\"",
            ],
        )
        .is_some_and(|n| n >= 1.0)
        .then_some(text)
    })
    .await;
    assert!(
        value(&store_text, "fd_consumer_lag_seconds", &[]).is_some(),
        "{store_text}"
    );
    assert!(
        value(&store_text, "fd_consumer_pending", &[]).is_some(),
        "{store_text}"
    );

    let order_text = scrape(&sys.metrics_url("order")).await;
    let method = "rpc_method=\"fooddelivery.order.v1.OrderService/PlaceOrder\"";
    let count = "rpc_server_call_duration_seconds_count";
    assert_eq!(
        value(
            &order_text,
            count,
            &[
                method,
                "rpc_response_status_code=\"OK\"",
                "service_name=\"order\""
            ]
        ),
        Some(1.0),
        "{order_text}"
    );
    assert_eq!(
        value(
            &order_text,
            count,
            &[
                "rpc_method=\"fooddelivery.order.v1.OrderService/GetOrder\"",
                "rpc_response_status_code=\"UNAUTHENTICATED\""
            ]
        ),
        Some(1.0),
        "{order_text}"
    );
    // The bucket at +Inf holds every call; health checks are not counted.
    assert_eq!(
        value(
            &order_text,
            "rpc_server_call_duration_seconds_bucket",
            &[method, "rpc_response_status_code=\"OK\"", "le=\"+Inf\""]
        ),
        Some(1.0)
    );
    assert!(!order_text.contains("grpc.health"), "{order_text}");
    assert_eq!(
        value(
            &order_text,
            "rpc_client_call_duration_seconds_count",
            &[
                "rpc_method=\"fooddelivery.payment.v1.PaymentService/Authorize\"",
                "rpc_response_status_code=\"OK\""
            ]
        ),
        Some(1.0),
        "{order_text}"
    );
    assert_eq!(
        value(
            &order_text,
            "fd_breaker_state",
            &["fd_breaker_name=\"payment\""]
        ),
        Some(0.0),
        "{order_text}"
    );
    assert!(
        value(&order_text, "fd_outbox_backlog", &[]).is_some(),
        "{order_text}"
    );
    assert!(
        value(&order_text, "fd_outbox_oldest_age_seconds", &[]).is_some(),
        "{order_text}"
    );
    assert!(
        value(&order_text, "db_client_connections_max", &[]).is_some_and(|n| n >= 1.0),
        "{order_text}"
    );
    assert!(
        order_text.contains(&format!(
            "service_version=\"{}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "{order_text}"
    );

    let mut exported = BTreeSet::new();
    for (name, _) in SERVICES {
        let text = scrape(&sys.metrics_url(name)).await;
        promtool_check(name, &text);
        exported.extend(names_and_labels(&text));
    }
    // What operators read (the dashboard, the alerts, the canary analysis) names only series
    // and labels the services export: a renamed metric breaks this test, not a dashboard.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in [
        "istio/observability/dashboards/fooddelivery.json",
        "deploy/prometheus/rules.yml",
        "istio/progressive/metrictemplates.yaml",
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        for token in text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|t| !t.contains(':'))
            .filter(|t| {
                ["rpc_", "fd_", "messaging_", "db_client_"]
                    .iter()
                    .any(|p| t.starts_with(p))
            })
        {
            assert!(
                exported.contains(token) || ONLY_ON_EVENTS.contains(&token),
                "{file} reads {token}, which no service exports"
            );
        }
    }

    // The same instruments over OTLP.
    eventually("metrics over OTLP", || async {
        let seen = otlp.0.lock().expect("lock").clone();
        let has =
            |service: &str, metric: &str| seen.get(service).is_some_and(|m| m.contains(metric));
        (has("order", "rpc.server.call.duration")
            && has("order", "rpc.client.call.duration")
            && has("store", "messaging.process.duration")
            && has("payment", "db.client.connections.usage"))
        .then_some(())
    })
    .await;
    sys.stop().await;
}
