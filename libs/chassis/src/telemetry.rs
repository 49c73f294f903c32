//! Tracing and logs, configured only through the standard `OTEL_*` variables.
//!
//! - Spans go to an OTLP endpoint when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set: gRPC, or HTTP when
//!   `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`; `https://` endpoints use TLS. Batched
//!   (`OTEL_BSP_*`), sampled by `OTEL_TRACES_SAMPLER`/`_ARG`; `OTEL_SDK_DISABLED=true` turns
//!   export off. Without an endpoint nothing is exported, but spans still get ids, so trace
//!   context still flows through this service to the next.
//! - RPC spans follow the current semantic conventions ([`crate::semconv`]).
//! - Metrics go to the same endpoint (and to Prometheus at `METRICS_ADDR`): [`crate::metrics`].
//! - Resource: `service.name` (`OTEL_SERVICE_NAME`, else the service), `service.version`,
//!   `deployment.environment.name` (default `development`), overridable by
//!   `OTEL_RESOURCE_ATTRIBUTES`.
//! - Propagation: W3C `traceparent`, `tracestate` and `baggage`, in gRPC metadata (see
//!   [`crate::server`] and [`inject_grpc`]) and NATS headers (outbox, relay, consumer).
//! - Logs (stderr, `RUST_LOG`, default `info`) carry `trace_id` and `span_id`; `LOG_FORMAT=json`
//!   writes one JSON object per line.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector, TextMapCompositePropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{global, Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::resource::{EnvResourceDetector, ResourceDetector};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::{FmtSpan, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;

use crate::config::LogFormat;

/// Keeps the tracer provider; [`Telemetry::shutdown`] flushes pending spans.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    meters: Option<opentelemetry_sdk::metrics::SdkMeterProvider>,
}

impl Telemetry {
    /// Exports what is still batched and stops the exporters (call at the end of `main`).
    pub fn shutdown(&self) {
        if let Some(p) = &self.provider {
            if let Err(e) = p.force_flush() {
                eprintln!("flushing traces failed: {e}");
            }
            let _ = p.shutdown();
        }
        if let Some(m) = &self.meters {
            let _ = m.shutdown();
        }
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// The resource describing this process.
pub fn resource(service: &str, version: &str) -> Resource {
    let from_env = EnvResourceDetector::new().detect();
    let name = env("OTEL_SERVICE_NAME")
        .or_else(|| {
            from_env
                .get(&opentelemetry::Key::new("service.name"))
                .map(|v| v.to_string())
        })
        .unwrap_or_else(|| service.to_string());
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.version", version.to_string()),
            // Overridden by OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=...
            KeyValue::new("deployment.environment.name", "development"),
        ])
        .with_detector(Box::new(EnvResourceDetector::new()))
        .with_service_name(name)
        .build()
}

/// The OTLP span exporter: gRPC unless `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` says
/// `http/protobuf` (the deployments' collectors listen on 4317, so gRPC stays the default
/// here); an `https://` endpoint is verified against the webpki roots.
fn span_exporter(
) -> Result<opentelemetry_otlp::SpanExporter, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::SpanExporter;
    let chosen =
        env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"));
    match chosen {
        // The library picks the transport the variable names (and says if it cannot). The
        // HTTP transport's client is a blocking one, used from the batch processor's own
        // thread; it is built off the async runtime, where blocking clients may not be made.
        Some(_) => std::thread::spawn(|| SpanExporter::builder().build())
            .join()
            .unwrap_or_else(|_| {
                Err(opentelemetry_otlp::ExporterBuildError::InternalFailure(
                    "building the OTLP exporter panicked".into(),
                ))
            }),
        None => SpanExporter::builder().with_tonic().build(),
    }
}

/// Installs the propagator, the tracer provider and the log subscriber. Calling it again in
/// the same process (tests) keeps the first subscriber.
pub fn init(service: &str, version: &str, format: LogFormat) -> Telemetry {
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let export = !disabled
        && (env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some());
    // One TLS provider for the whole process (ring, as tonic and async-nats use); the OTLP
    // HTTP clients ask for the process default. Already installed is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let meters = crate::metrics::init(resource(service, version), export);
    let mut builder = SdkTracerProvider::builder().with_resource(resource(service, version));
    if export {
        match span_exporter() {
            Ok(exporter) => builder = builder.with_batch_exporter(exporter),
            Err(e) => eprintln!("{service}: OTLP exporter not started: {e}"),
        }
    }
    let provider = builder.build();
    let tracer = provider.tracer(service.to_string());
    global::set_tracer_provider(provider.clone());

    // Two filters: RUST_LOG quiets the logs without silently dropping spans (and so breaking
    // traces); spans are recorded at info and above whatever the log level.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Per span only what a trace shows: no busy/idle times (two clock reads on every poll of
    // an instrumented future), no thread id and name (an allocation per span; tokio moves a
    // task between threads anyway), and no OpenTelemetry context attached on every enter
    // (nothing here reads `Context::current()`: propagation takes the span's own context).
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_context_activation(false)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi && format == LogFormat::Text)
        .with_span_events(FmtSpan::NONE);
    let installed = match format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(otel)
            .with(
                fmt.event_format(WithTraceIds {
                    inner: tracing_subscriber::fmt::format().with_target(false),
                    json: false,
                })
                .with_filter(filter),
            )
            .try_init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(otel)
            .with(
                // Span fields must be recorded as JSON too, or the JSON formatter cannot
                // embed them.
                fmt.fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
                    .event_format(WithTraceIds {
                        inner: tracing_subscriber::fmt::format().json().flatten_event(true),
                        json: true,
                    })
                    .with_filter(filter),
            )
            .try_init(),
    };
    Telemetry {
        provider: installed.is_ok().then_some(provider),
        meters,
    }
}

/// `(trace_id, span_id)` of the current span, if it is being traced.
pub fn current_ids() -> Option<(String, String)> {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid()
        .then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// Adds `trace_id` and `span_id` to every log line: a prefix in text, two keys in JSON.
struct WithTraceIds<F> {
    inner: F,
    json: bool,
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let ids = current_ids();
        if !self.json {
            if let Some((t, s)) = &ids {
                write!(writer, "trace_id={t} span_id={s} ")?;
            }
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match (
            ids,
            serde_json::from_str::<serde_json::Value>(line.trim_end()),
        ) {
            (Some((t, s)), Ok(serde_json::Value::Object(mut obj))) => {
                obj.insert("trace_id".into(), t.into());
                obj.insert("span_id".into(), s.into());
                writeln!(writer, "{}", serde_json::Value::Object(obj))
            }
            _ => writer.write_str(&line),
        }
    }
}

struct MapCarrier<'a>(&'a mut HashMap<String, String>);

impl Injector for MapCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

struct MapReader<'a>(&'a HashMap<String, String>);

impl Extractor for MapReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The trace context of the current span as JSON (`{"traceparent": ...}`), for storing with
/// work that continues later (outbox rows, a saga's state); empty if not traced.
pub fn current_context_json() -> String {
    context_json(&tracing::Span::current().context())
}

/// `cx` as JSON (see [`current_context_json`]).
pub fn context_json(cx: &Context) -> String {
    let mut map = HashMap::new();
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut MapCarrier(&mut map)));
    if map.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&map).unwrap_or_default()
    }
}

/// The context stored by [`current_context_json`] (an empty context for "" or junk).
pub fn context_from_json(json: &str) -> Context {
    let map: HashMap<String, String> = serde_json::from_str(json).unwrap_or_default();
    global::get_text_map_propagator(|p| p.extract(&MapReader(&map)))
}

/// Links the current span to the trace stored in `json` (a command that continues a saga
/// has a trace of its own; the link lets either be found from the other). No-op for "".
pub fn link_current_span(json: &str) {
    if json.is_empty() {
        return;
    }
    let cx = context_from_json(json);
    tracing::Span::current().add_link(cx.span().span_context().clone());
}

/// Writes the current trace context into NATS headers.
pub fn inject_nats(cx: &Context, headers: &mut async_nats::HeaderMap) {
    struct H<'a>(&'a mut async_nats::HeaderMap);
    impl Injector for H<'_> {
        fn set(&mut self, key: &str, value: String) {
            self.0.insert(key, value.as_str());
        }
    }
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut H(headers)));
}

/// Reads a trace context from NATS headers.
pub fn extract_nats(headers: &async_nats::HeaderMap) -> Context {
    struct H<'a>(&'a async_nats::HeaderMap);
    impl Extractor for H<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).map(|v| v.as_str())
        }
        fn keys(&self) -> Vec<&str> {
            ["traceparent", "tracestate", "baggage"]
                .into_iter()
                .filter(|k| self.0.get(*k).is_some())
                .collect()
        }
    }
    global::get_text_map_propagator(|p| p.extract(&H(headers)))
}

/// Reads a trace context from HTTP/2 headers (gRPC metadata, server side).
pub fn extract_http(headers: &http::HeaderMap) -> Context {
    struct H<'a>(&'a http::HeaderMap);
    impl Extractor for H<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    global::get_text_map_propagator(|p| p.extract(&H(headers)))
}

/// Writes the current span's trace context into an outgoing gRPC request's metadata.
pub fn inject_grpc<T>(req: &mut tonic::Request<T>) {
    struct M<'a>(&'a mut tonic::metadata::MetadataMap);
    impl Injector for M<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_str()),
            ) {
                self.0.insert(k, v);
            }
        }
    }
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut M(req.metadata_mut())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_has_service_version_and_environment() {
        let r = resource("order", "1.2.3");
        let get = |k: &'static str| r.get(&opentelemetry::Key::new(k)).map(|v| v.to_string());
        // OTEL_SERVICE_NAME is not set in unit tests.
        assert_eq!(get("service.name").as_deref(), Some("order"));
        assert_eq!(get("service.version").as_deref(), Some("1.2.3"));
        assert_eq!(
            get("deployment.environment.name").as_deref(),
            Some("development")
        );
        assert_eq!(get("deployment.environment"), None, "the deprecated name");
    }

    #[test]
    fn stored_context_round_trips() {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let json = r#"{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#;
        let cx = context_from_json(json);
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert!(context_json(&cx).contains("0af7651916cd43dd8448eb211c80319c"));
        assert_eq!(context_json(&context_from_json("")), "");
    }
}
