//! The ceiling: a bare tonic service (grpc.health.v1 Check answered at once) and a bare
//! two-hop chain (the first server's Check calls the second's), nothing else in the path.

use std::net::SocketAddr;
use std::pin::Pin;

use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

#[derive(Debug, Clone)]
pub struct Echo {
    next: Option<HealthClient<Channel>>,
}

#[tonic::async_trait]
impl Health for Echo {
    async fn check(
        &self,
        req: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match &self.next {
            // One shared channel to the next hop (cloning a tonic client is cheap).
            Some(c) => c.clone().check(req.into_inner()).await,
            None => Ok(Response::new(HealthCheckResponse { status: 1 })),
        }
    }

    type WatchStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        _req: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("echo only"))
    }
}

/// Serves until the process is killed. `next`: URL of the hop to call.
pub async fn serve(listen: SocketAddr, next: Option<String>) -> anyhow::Result<()> {
    let next = match next {
        Some(url) => Some(HealthClient::new(Channel::from_shared(url)?.connect_lazy())),
        None => None,
    };
    Server::builder()
        .add_service(HealthServer::new(Echo { next }))
        .serve(listen)
        .await?;
    Ok(())
}
