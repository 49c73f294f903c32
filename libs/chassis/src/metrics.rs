//! Metrics: OpenTelemetry instruments, read two ways — pushed over OTLP with the traces
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, every `OTEL_METRIC_EXPORT_INTERVAL` ms, 60 s by default;
//! `OTEL_METRICS_EXPORTER=none` turns that off) and served for Prometheus at
//! `http://METRICS_ADDR/metrics` (text format 0.0.4).
//!
//! What every service reports (OpenTelemetry name → Prometheus name):
//!
//! | instrument | Prometheus | attributes |
//! |---|---|---|
//! | `rpc.server.call.duration` (s) | `rpc_server_call_duration_seconds` | `rpc_method`, `rpc_response_status_code` |
//! | `rpc.client.call.duration` (s) | `rpc_client_call_duration_seconds` | same, and `server_address` |
//! | `fd.server.shed` | `fd_server_shed_total` | `rpc_method` (refused by `MAX_IN_FLIGHT`) |
//! | `messaging.process.duration` (s) | `messaging_process_duration_seconds` | `messaging_consumer_group_name`, `messaging_destination_name`, `fd_outcome` |
//! | `fd.consumer.pending` | `fd_consumer_pending` | `messaging_consumer_group_name`: messages still waiting |
//! | `fd.consumer.lag` (s) | `fd_consumer_lag_seconds` | same: age of the message last taken |
//! | `fd.consumer.dead_letters` | `fd_consumer_dead_letters_total` | `messaging_consumer_group_name`, `messaging_destination_name` |
//! | `fd.outbox.backlog` | `fd_outbox_backlog` | events not yet published |
//! | `fd.outbox.oldest_age` (s) | `fd_outbox_oldest_age_seconds` | age of the oldest of them |
//! | `fd.breaker.state` | `fd_breaker_state` | `fd_breaker_name`: 0 closed, 1 half-open, 2 open |
//! | `db.client.connections.usage` | `db_client_connections_usage` | `state` (`idle`/`used`), `pool_name` |
//! | `db.client.connections.max` | `db_client_connections_max` | `pool_name` |
//!
//! Every series also carries `service_name` and `service_version` (the resource's, so a
//! dashboard splits by version without relabelling), and `target_info` carries the whole
//! resource. Exemplars: the Rust SDK (0.33) does not sample them yet, so none are exported.
//!
//! The pool's metrics keep the semantic conventions' earlier names (`db.client.connections.*`):
//! the current `db.client.connection.count` becomes `db_client_connection_count` in
//! Prometheus, a gauge ending in `_count`, which Prometheus' own linter rejects.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};
use opentelemetry_sdk::Resource;

/// Bucket bounds (seconds) of every duration histogram: 1 ms to 10 s, finer where the
/// services' latency objectives lie (50–250 ms).
pub const DURATION_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
];

/// The pull side: a manual reader the `/metrics` handler collects from.
#[derive(Debug, Clone)]
struct Scrape(Arc<ManualReader>);

impl MetricReader for Scrape {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, _kind: InstrumentKind) -> Temporality {
        // Prometheus wants running totals.
        Temporality::Cumulative
    }
}

static SCRAPE: OnceLock<Scrape> = OnceLock::new();

/// Builds the meter provider (the scrape reader, and an OTLP exporter when `otlp`), installs
/// it globally and returns it (shut it down at exit to push the last values). Calling it
/// again in one process keeps the first provider.
pub fn init(resource: Resource, otlp: bool) -> Option<SdkMeterProvider> {
    if SCRAPE.get().is_some() {
        return None;
    }
    let scrape = Scrape(Arc::new(ManualReader::builder().build()));
    let mut builder = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(scrape.clone());
    let wanted = std::env::var("OTEL_METRICS_EXPORTER")
        .map(|v| !v.eq_ignore_ascii_case("none"))
        .unwrap_or(true);
    if otlp && wanted {
        match metric_exporter() {
            Ok(exporter) => {
                builder = builder.with_reader(
                    opentelemetry_sdk::metrics::PeriodicReader::builder(exporter).build(),
                );
            }
            Err(e) => eprintln!("OTLP metrics exporter not started: {e}"),
        }
    }
    let provider = builder.build();
    if SCRAPE.set(scrape).is_err() {
        return None;
    }
    opentelemetry::global::set_meter_provider(provider.clone());
    Some(provider)
}

fn metric_exporter(
) -> Result<opentelemetry_otlp::MetricExporter, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::MetricExporter;
    let chosen = std::env::var("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .ok()
        .filter(|v| !v.is_empty());
    match chosen {
        // As for spans (see telemetry): the HTTP client is a blocking one, built off the
        // runtime.
        Some(_) => std::thread::spawn(|| MetricExporter::builder().build())
            .join()
            .unwrap_or_else(|_| {
                Err(opentelemetry_otlp::ExporterBuildError::InternalFailure(
                    "building the OTLP metrics exporter panicked".into(),
                ))
            }),
        None => MetricExporter::builder().with_tonic().build(),
    }
}

/// The instruments the chassis records into.
#[derive(Debug)]
pub struct Instruments {
    /// `rpc.server.call.duration`.
    pub rpc_server: Histogram<f64>,
    /// `rpc.client.call.duration`.
    pub rpc_client: Histogram<f64>,
    /// `fd.server.shed`.
    pub shed: Counter<u64>,
    /// `messaging.process.duration`.
    pub process: Histogram<f64>,
    /// `fd.consumer.pending`.
    pub pending: Gauge<u64>,
    /// `fd.consumer.lag`.
    pub lag: Gauge<f64>,
    /// `fd.consumer.dead_letters`.
    pub dead_letters: Counter<u64>,
    /// `fd.outbox.backlog`.
    pub outbox_backlog: Gauge<u64>,
    /// `fd.outbox.oldest_age`.
    pub outbox_age: Gauge<f64>,
    /// `fd.breaker.state`.
    pub breaker: Gauge<i64>,
}

fn meter() -> Meter {
    opentelemetry::global::meter("fd-chassis")
}

/// The chassis' instruments (bound to the provider installed by [`init`], or to a no-op one
/// where nothing was installed, e.g. services run inside a test).
pub fn instruments() -> &'static Instruments {
    static I: OnceLock<Instruments> = OnceLock::new();
    I.get_or_init(|| {
        let m = meter();
        let duration = |name: &'static str, what: &'static str| {
            m.f64_histogram(name)
                .with_unit("s")
                .with_description(what)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        Instruments {
            rpc_server: duration("rpc.server.call.duration", "Duration of RPCs served"),
            rpc_client: duration("rpc.client.call.duration", "Duration of RPCs made"),
            shed: m
                .u64_counter("fd.server.shed")
                .with_description("Requests refused with RESOURCE_EXHAUSTED by MAX_IN_FLIGHT")
                .build(),
            process: duration(
                "messaging.process.duration",
                "Time to process an event (its transaction, with the batch it joined)",
            ),
            pending: m
                .u64_gauge("fd.consumer.pending")
                .with_description(
                    "Messages still waiting for the consumer (from the last delivery)",
                )
                .build(),
            lag: m
                .f64_gauge("fd.consumer.lag")
                .with_unit("s")
                .with_description("Age of the message the consumer took last")
                .build(),
            dead_letters: m
                .u64_counter("fd.consumer.dead_letters")
                .with_description("Events sent to the dead-letter stream")
                .build(),
            outbox_backlog: m
                .u64_gauge("fd.outbox.backlog")
                .with_description("Events recorded but not yet published")
                .build(),
            outbox_age: m
                .f64_gauge("fd.outbox.oldest_age")
                .with_unit("s")
                .with_description("Age of the oldest event not yet published (0 when none)")
                .build(),
            breaker: m
                .i64_gauge("fd.breaker.state")
                .with_description("Circuit breaker: 0 closed, 1 half-open, 2 open")
                .build(),
        }
    })
}

/// The attributes of an RPC's duration: the semantic conventions' system, method and status.
fn rpc_attrs(full_method: &str, code: i64) -> [KeyValue; 3] {
    [
        KeyValue::new("rpc.system.name", "grpc"),
        KeyValue::new("rpc.method", full_method.to_string()),
        KeyValue::new(
            "rpc.response.status_code",
            crate::semconv::grpc_code_name(code),
        ),
    ]
}

/// Records one RPC served: `full_method` = `package.Service/Method`, its gRPC `code`.
pub fn rpc_served(full_method: &str, code: i64, elapsed: Duration) {
    instruments()
        .rpc_server
        .record(elapsed.as_secs_f64(), &rpc_attrs(full_method, code));
}

/// Records one RPC made to `server_address`.
pub fn rpc_made(full_method: &str, server_address: &str, code: i64, elapsed: Duration) {
    let [system, method, status] = rpc_attrs(full_method, code);
    let server = KeyValue::new("server.address", server_address.to_string());
    instruments()
        .rpc_client
        .record(elapsed.as_secs_f64(), &[system, method, status, server]);
}

/// Watches a connection pool: `db.client.connections.usage` by state, and its maximum.
pub fn observe_pool(pool: sqlx::AnyPool, name: &str) {
    // The callbacks live as long as the provider; the handles are kept so nothing depends
    // on that detail.
    static KEEP: Mutex<Vec<Box<dyn std::any::Any + Send>>> = Mutex::new(Vec::new());
    let m = meter();
    let pool_name = KeyValue::new("pool.name", name.to_string());
    let (p, n) = (pool.clone(), pool_name.clone());
    let count = m
        .i64_observable_gauge("db.client.connections.usage")
        .with_description("Connections in the pool, by state")
        .with_callback(move |o| {
            let size = i64::from(p.size());
            let idle = i64::try_from(p.num_idle()).unwrap_or(i64::MAX);
            o.observe(idle, &[n.clone(), KeyValue::new("state", "idle")]);
            o.observe(
                (size - idle).max(0),
                &[n.clone(), KeyValue::new("state", "used")],
            );
        })
        .build();
    let max = m
        .i64_observable_gauge("db.client.connections.max")
        .with_description("Most connections the pool opens")
        .with_callback(move |o| {
            o.observe(
                i64::from(pool.options().get_max_connections()),
                std::slice::from_ref(&pool_name),
            );
        })
        .build();
    if let Ok(mut keep) = KEEP.lock() {
        keep.push(Box::new(count));
        keep.push(Box::new(max));
    }
}

/// What `/metrics` answers: everything collected now, in the Prometheus text format.
pub fn scrape() -> String {
    let Some(reader) = SCRAPE.get() else {
        return String::new();
    };
    let mut rm = ResourceMetrics::default();
    if let Err(e) = reader.collect(&mut rm) {
        tracing::warn!(error = %e, "collecting metrics failed");
    }
    render(&rm)
}

/// Serves `GET /metrics` on `listener` (HTTP/1.1) until the process ends.
pub async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                scrape(),
            )
        }),
    );
    axum::serve(listener, app).await
}

/// The Prometheus name of an OpenTelemetry instrument: dots to underscores, the unit as a
/// suffix (`s` → `_seconds`, `By` → `_bytes`; annotations such as `{message}` dropped),
/// `_total` on counters.
pub fn prometheus_name(name: &str, unit: &str, counter: bool) -> String {
    let mut out = sanitize(name);
    let suffix = match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        _ => "",
    };
    if !suffix.is_empty() && !out.ends_with(suffix) {
        out.push('_');
        out.push_str(suffix);
    }
    if counter && !out.ends_with("_total") {
        out.push_str("_total");
    }
    out
}

fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn label_value(v: &Value) -> String {
    v.to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels<'a>(
    constant: &[(String, String)],
    attrs: impl Iterator<Item = &'a KeyValue>,
    extra: Option<(&str, String)>,
) -> String {
    let mut parts: Vec<String> = constant
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    for kv in attrs {
        parts.push(format!(
            "{}=\"{}\"",
            sanitize(kv.key.as_str()),
            label_value(&kv.value)
        ));
    }
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn number(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.is_nan() {
        "NaN".to_string()
    } else {
        format!("{v}")
    }
}

trait AsF64: Copy {
    fn f(self) -> f64;
}
impl AsF64 for f64 {
    fn f(self) -> f64 {
        self
    }
}
impl AsF64 for u64 {
    #[allow(clippy::cast_precision_loss)]
    fn f(self) -> f64 {
        self as f64
    }
}
impl AsF64 for i64 {
    #[allow(clippy::cast_precision_loss)]
    fn f(self) -> f64 {
        self as f64
    }
}

fn render_data<T: AsF64>(
    out: &mut String,
    name: &str,
    unit: &str,
    help: &str,
    constant: &[(String, String)],
    data: &MetricData<T>,
) {
    let header = |out: &mut String, pname: &str, kind: &str| {
        if !help.is_empty() {
            let _ = writeln!(out, "# HELP {pname} {}", help.replace('\n', " "));
        }
        let _ = writeln!(out, "# TYPE {pname} {kind}");
    };
    match data {
        MetricData::Gauge(g) => {
            let pname = prometheus_name(name, unit, false);
            header(out, &pname, "gauge");
            for p in g.data_points() {
                let l = labels(constant, p.attributes(), None);
                let _ = writeln!(out, "{pname}{l} {}", number(p.value().f()));
            }
        }
        MetricData::Sum(s) => {
            let counter = s.is_monotonic();
            let pname = prometheus_name(name, unit, counter);
            header(out, &pname, if counter { "counter" } else { "gauge" });
            for p in s.data_points() {
                let l = labels(constant, p.attributes(), None);
                let _ = writeln!(out, "{pname}{l} {}", number(p.value().f()));
            }
        }
        MetricData::Histogram(h) => {
            let pname = prometheus_name(name, unit, false);
            header(out, &pname, "histogram");
            for p in h.data_points() {
                let mut cumulative = 0u64;
                for (bound, count) in p.bounds().zip(p.bucket_counts()) {
                    cumulative += count;
                    let l = labels(constant, p.attributes(), Some(("le", number(bound))));
                    let _ = writeln!(out, "{pname}_bucket{l} {cumulative}");
                }
                let l = labels(constant, p.attributes(), Some(("le", "+Inf".into())));
                let _ = writeln!(out, "{pname}_bucket{l} {}", p.count());
                let l = labels(constant, p.attributes(), None);
                let _ = writeln!(out, "{pname}_sum{l} {}", number(p.sum().f()));
                let _ = writeln!(out, "{pname}_count{l} {}", p.count());
            }
        }
        // Not configured anywhere (no view asks for one).
        MetricData::ExponentialHistogram(_) => {}
    }
}

/// Renders collected metrics in the Prometheus text format.
pub fn render(rm: &ResourceMetrics) -> String {
    let resource = rm.resource();
    let get = |key: &str| {
        resource
            .get(&opentelemetry::Key::from(key.to_string()))
            .map(|v| label_value(&v))
            .unwrap_or_default()
    };
    let constant = vec![
        ("service_name".to_string(), get("service.name")),
        ("service_version".to_string(), get("service.version")),
    ];
    let mut out = String::new();
    out.push_str("# HELP target_info The resource this process reports as\n");
    out.push_str("# TYPE target_info gauge\n");
    let mut attrs: Vec<(String, String)> = resource
        .iter()
        .map(|(k, v)| (sanitize(k.as_str()), label_value(v)))
        .collect();
    attrs.sort();
    let target: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let _ = writeln!(out, "target_info{{{}}} 1", target.join(","));
    for scope in rm.scope_metrics() {
        for m in scope.metrics() {
            match m.data() {
                AggregatedMetrics::F64(d) => {
                    render_data(&mut out, m.name(), m.unit(), m.description(), &constant, d);
                }
                AggregatedMetrics::U64(d) => {
                    render_data(&mut out, m.name(), m.unit(), m.description(), &constant, d);
                }
                AggregatedMetrics::I64(d) => {
                    render_data(&mut out, m.name(), m.unit(), m.description(), &constant, d);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prometheus_compatibility_rules() {
        assert_eq!(
            prometheus_name("rpc.server.call.duration", "s", false),
            "rpc_server_call_duration_seconds"
        );
        assert_eq!(
            prometheus_name("fd.consumer.dead_letters", "", true),
            "fd_consumer_dead_letters_total"
        );
        assert_eq!(
            prometheus_name("fd.consumer.pending", "{message}", false),
            "fd_consumer_pending"
        );
        assert_eq!(prometheus_name("9lives", "By", false), "_9lives_bytes");
    }

    #[test]
    fn a_histogram_renders_cumulative_buckets_with_the_resource_labels() {
        let reader = Scrape(Arc::new(ManualReader::builder().build()));
        let provider = SdkMeterProvider::builder()
            .with_resource(
                Resource::builder_empty()
                    .with_service_name("order")
                    .with_attribute(KeyValue::new("service.version", "v2"))
                    .build(),
            )
            .with_reader(reader.clone())
            .build();
        let m = opentelemetry::metrics::MeterProvider::meter(&provider, "t");
        let h = m
            .f64_histogram("rpc.server.call.duration")
            .with_unit("s")
            .with_boundaries(vec![0.1, 1.0])
            .build();
        let attrs = [KeyValue::new("rpc.method", "a.B/C")];
        h.record(0.05, &attrs);
        h.record(0.5, &attrs);
        h.record(5.0, &attrs);
        let c = m.u64_counter("fd.consumer.dead_letters").build();
        c.add(2, &[KeyValue::new("note", "say \"hi\"")]);
        let mut rm = ResourceMetrics::default();
        reader.collect(&mut rm).expect("collect");
        let text = render(&rm);
        let l = r#"service_name="order",service_version="v2",rpc_method="a.B/C""#;
        for line in [
            "# TYPE rpc_server_call_duration_seconds histogram".to_string(),
            format!("rpc_server_call_duration_seconds_bucket{{{l},le=\"0.1\"}} 1"),
            format!("rpc_server_call_duration_seconds_bucket{{{l},le=\"1\"}} 2"),
            format!("rpc_server_call_duration_seconds_bucket{{{l},le=\"+Inf\"}} 3"),
            format!("rpc_server_call_duration_seconds_sum{{{l}}} 5.55"),
            format!("rpc_server_call_duration_seconds_count{{{l}}} 3"),
            "# TYPE fd_consumer_dead_letters_total counter".to_string(),
            r#"fd_consumer_dead_letters_total{service_name="order",service_version="v2",note="say \"hi\""} 2"#.to_string(),
        ] {
            assert!(text.lines().any(|x| x == line), "missing {line}\n{text}");
        }
        assert!(
            text.lines()
                .any(|x| x.starts_with("target_info{") && x.contains(r#"service_name="order""#)),
            "{text}"
        );
    }
}
