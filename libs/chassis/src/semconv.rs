//! OpenTelemetry semantic conventions for RPC spans, in one place: the current ones always
//! (`rpc.system.name`, the fully qualified `rpc.method` = `package.Service/Method`, the status
//! as a string in `rpc.response.status_code`, `server.address` / `server.port` on clients),
//! and the deprecated ones (`rpc.system`, `rpc.service`, `rpc.grpc.status_code`) only when
//! `OTEL_SEMCONV_STABILITY_OPT_IN` contains `rpc/dup`, for dashboards that still read them.

use std::sync::OnceLock;

/// True when the deprecated RPC attributes are wanted too (`rpc/dup`).
pub fn rpc_dup() -> bool {
    static DUP: OnceLock<bool> = OnceLock::new();
    *DUP.get_or_init(|| {
        std::env::var("OTEL_SEMCONV_STABILITY_OPT_IN")
            .is_ok_and(|v| v.split(',').any(|x| x.trim() == "rpc/dup"))
    })
}

/// The gRPC status code's name, as `rpc.response.status_code` carries it.
pub fn grpc_code_name(code: i64) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// An RPC span (`kind` = `server` or `client`) for `full_method` = `package.Service/Method`.
/// The status is recorded later with [`record_status`].
macro_rules! rpc_span {
    ($name:literal, $kind:literal, $full_method:expr) => {
        tracing::info_span!(
            $name,
            otel.name = %$full_method,
            otel.kind = $kind,
            otel.status_code = tracing::field::Empty,
            rpc.system.name = "grpc",
            rpc.method = %$full_method,
            rpc.response.status_code = tracing::field::Empty,
            server.address = tracing::field::Empty,
            server.port = tracing::field::Empty,
            rpc.system = tracing::field::Empty,
            rpc.service = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
        )
    };
}

/// A server span for `full_method` (`package.Service/Method`).
pub fn server_span(full_method: &str) -> tracing::Span {
    let span = rpc_span!("grpc.server", "server", full_method);
    deprecated_names(&span, full_method);
    span
}

/// A client span for `full_method`, calling `host:port`.
pub fn client_span(full_method: &str, host: &str, port: u16) -> tracing::Span {
    let span = rpc_span!("grpc.client", "client", full_method);
    span.record("server.address", host);
    span.record("server.port", i64::from(port));
    deprecated_names(&span, full_method);
    span
}

fn deprecated_names(span: &tracing::Span, full_method: &str) {
    if rpc_dup() {
        let service = full_method.split('/').next().unwrap_or(full_method);
        span.record("rpc.system", "grpc");
        span.record("rpc.service", service);
    }
}

/// Records the outcome: the status name; ERROR when `is_error` says the code is a failure
/// from this side's point of view (servers: their own faults; clients: any non-OK).
pub fn record_status(span: &tracing::Span, code: i64, is_error: bool) {
    span.record("rpc.response.status_code", grpc_code_name(code));
    if rpc_dup() {
        span.record("rpc.grpc.status_code", code);
    }
    if is_error {
        span.record("otel.status_code", "ERROR");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grpc_code_has_its_name() {
        assert_eq!(grpc_code_name(0), "OK");
        assert_eq!(grpc_code_name(5), "NOT_FOUND");
        assert_eq!(grpc_code_name(16), "UNAUTHENTICATED");
        assert_eq!(grpc_code_name(99), "UNKNOWN");
    }
}
