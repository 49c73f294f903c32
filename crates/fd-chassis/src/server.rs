//! Starting a gRPC server the same way in every service.
//!
//! Every server gets `grpc.health.v1.Health` (each added service plus `""` report SERVING while
//! it runs) and gRPC reflection over the whole `fooddelivery` descriptor set, so that grpcurl
//! and other tools work without local `.proto` files.
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
}

impl GrpcServer {
    /// A server with no services yet.
    pub fn new() -> Self {
        Self::default()
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
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(fd_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        self.routes.add_service(health_service);
        self.routes.add_service(reflection);

        let addr = listener.local_addr().ok();
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
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
