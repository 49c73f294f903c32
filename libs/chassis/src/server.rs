//! Starting a gRPC server the same way in every service.
//!
//! Every server gets `grpc.health.v1.Health` (each added service plus `""` report SERVING while
//! it runs) and gRPC reflection (v1 and v1alpha) over the whole `fooddelivery` descriptor set,
//! so that grpcurl, grpcio-reflection, Postman and evans work without local `.proto` files.
//!
//! Shutdown: when the `shutdown` future resolves, every service is reported NOT_SERVING, the
//! listener stops accepting, and in-flight calls get `grace` to finish before the server is
//! dropped.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;

/// Error of a gRPC server run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The transport failed.
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The reflection service could not be built.
    #[error("cannot build reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The services one process serves, with health and reflection added on [`GrpcServer::serve`].
#[derive(Debug, Default)]
pub struct GrpcServer {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
    max_in_flight: Option<usize>,
    auth: Option<std::sync::Arc<crate::auth::Verifier>>,
}

impl GrpcServer {
    /// A server with no services yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses requests beyond `max` in flight at once with RESOURCE_EXHAUSTED (load
    /// shedding) instead of queueing them; health checks are never refused.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = Some(max);
        self
    }

    /// Requires a valid token on every API request ([`crate::auth::AuthLayer`]); health and
    /// reflection stay open.
    pub fn auth(mut self, verifier: Option<std::sync::Arc<crate::auth::Verifier>>) -> Self {
        self.auth = verifier;
        self
    }

    /// Adds a tonic service (e.g. `OrderServiceServer::new(api)`).
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes.add_service(svc);
        self
    }

    /// Serves on `listener` until `shutdown` resolves, then drains for at most `grace`.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> Result<(), ServeError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        for name in &self.names {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }
        // Reflection in both versions: grpcurl speaks v1, while grpcio-reflection, Postman and
        // evans still speak only v1alpha.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(fd_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        self.routes.add_service(health_service);
        self.routes.add_service(reflection().build_v1()?);
        self.routes.add_service(reflection().build_v1alpha()?);

        let addr = listener.local_addr().ok();
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            // One server span per RPC, continuing the caller's W3C trace context.
            .layer(GrpcTraceLayer)
            // Beyond the in-flight maximum, refuse at once rather than queue without bound.
            .layer(InFlightLimitLayer::new(
                self.max_in_flight.unwrap_or(usize::MAX >> 4),
            ))
            // Who is calling: UNAUTHENTICATED before any handler runs (when configured).
            .layer(tower::util::option_layer(
                self.auth.clone().map(crate::auth::AuthLayer::new),
            ))
            .add_routes(self.routes.routes())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_rx.await;
            });
        tokio::pin!(server);
        tracing::info!(?addr, services = ?self.names, "gRPC server SERVING");

        tokio::select! {
            res = &mut server => return res.map_err(Into::into),
            () = shutdown => {}
        }

        // Tell load balancers and probes first, then stop accepting and drain.
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        for name in &self.names {
            health
                .set_service_status(name, ServingStatus::NotServing)
                .await;
        }
        let _ = stop_tx.send(());
        match tokio::time::timeout(grace, server).await {
            Ok(res) => {
                tracing::info!("gRPC server stopped; in-flight calls finished");
                res.map_err(Into::into)
            }
            Err(_) => {
                tracing::warn!(?grace, "grace period over; dropping unfinished calls");
                Ok(())
            }
        }
    }
}

/// Binds `addr` (port 0 picks a free port) and returns the listener.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Tower layer: a span per incoming RPC with the OpenTelemetry RPC semantic conventions
/// ([`crate::semconv`]), child of the trace context in the request's metadata. Health checks and reflection are not traced.
#[derive(Debug, Clone, Copy)]
pub struct GrpcTraceLayer;

impl<S> tower::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GrpcTrace { inner }
    }
}

/// The service [`GrpcTraceLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct GrpcTrace<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for GrpcTrace<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use tracing::Instrument;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let path = req.uri().path().trim_start_matches('/').to_string();
        let service = path.split('/').next().unwrap_or_default();
        if service.starts_with("grpc.health.") || service.starts_with("grpc.reflection.") {
            return Box::pin(self.inner.call(req));
        }
        let span = crate::semconv::server_span(&path);
        let _ = span.set_parent(crate::telemetry::extract_http(req.headers()));
        let fut = self.inner.call(req);
        let started = std::time::Instant::now();
        Box::pin(
            async move {
                let resp = fut.await?;
                // Errors are answered "trailers-only", with grpc-status in the headers; a
                // success carries grpc-status 0 in the trailers.
                let code = resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                crate::semconv::record_status(&tracing::Span::current(), code, server_error(code));
                // Until the response head: all of a unary call; a stream's opening.
                crate::metrics::rpc_served(&path, code, started.elapsed());
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

/// gRPC codes that mean the server failed (per the RPC semantic conventions for servers).
fn server_error(code: i64) -> bool {
    // UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// Tower layer: at most `max` requests in flight; the next ones get RESOURCE_EXHAUSTED at once
/// (a client should back off and retry). Health checks pass regardless, so a busy pod is not
/// mistaken for a dead one.
#[derive(Debug, Clone)]
pub struct InFlightLimitLayer {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    max: usize,
}

impl InFlightLimitLayer {
    /// A limit of `max` requests.
    pub fn new(max: usize) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(max)),
            max,
        }
    }
}

impl<S> tower::Layer<S> for InFlightLimitLayer {
    type Service = InFlightLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        InFlightLimit {
            inner,
            limit: self.clone(),
        }
    }
}

/// The service [`InFlightLimitLayer`] wraps around the routes.
#[derive(Debug, Clone)]
pub struct InFlightLimit<S> {
    inner: S,
    limit: InFlightLimitLayer,
}

impl<S, B> tower::Service<http::Request<B>> for InFlightLimit<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path().starts_with("/grpc.health.") {
            return Box::pin(self.inner.call(req));
        }
        match self.limit.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let resp = fut.await;
                    drop(permit);
                    resp
                })
            }
            Err(_) => {
                crate::metrics::instruments().shed.add(
                    1,
                    &[opentelemetry::KeyValue::new(
                        "rpc.method",
                        req.uri().path().trim_start_matches('/').to_string(),
                    )],
                );
                let status = crate::errors::resource_exhausted_retry(
                    format!(
                        "server overloaded: {} requests in flight; retry shortly",
                        self.limit.max
                    ),
                    Duration::from_millis(200),
                );
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}
