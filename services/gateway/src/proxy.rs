//! Passing gRPC calls to the service whose package they name, and telling gRPC-Web calls
//! from requests for the web app.

use std::collections::HashMap;
use std::convert::Infallible;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic::Status;

/// A channel to each service behind the edge.
#[derive(Debug, Clone)]
pub struct Upstreams {
    channels: HashMap<String, Channel>,
}

impl Upstreams {
    /// Channels (connected on first use) to `(context, url)`.
    pub fn connect(upstreams: &[(String, String)]) -> anyhow::Result<Self> {
        let mut channels = HashMap::new();
        for (name, url) in upstreams {
            let channel = Channel::from_shared(url.clone())?
                .connect_timeout(std::time::Duration::from_secs(2))
                .connect_lazy();
            channels.insert(name.clone(), channel);
        }
        Ok(Self { channels })
    }

    /// The service a path belongs to: `/fooddelivery.order.v1.OrderService/PlaceOrder` →
    /// order's channel.
    fn route(&self, path: &str) -> Option<&Channel> {
        let package = path.trim_start_matches('/').split('/').next()?;
        let mut parts = package.split('.');
        match (parts.next(), parts.next()) {
            (Some("fooddelivery"), Some(context)) => self.channels.get(context),
            _ => None,
        }
    }

    /// `grpc.health.v1` of every service: `SERVING`, or why not.
    pub async fn health(&self) -> Vec<(String, serde_json::Value)> {
        use tonic_health::pb::health_client::HealthClient;
        let mut out = Vec::new();
        let mut names: Vec<&String> = self.channels.keys().collect();
        names.sort();
        for name in names {
            let mut client = HealthClient::new(self.channels[name].clone());
            let mut req = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            });
            req.set_timeout(std::time::Duration::from_secs(2));
            let state = match client.check(req).await {
                Ok(r) if r.get_ref().status == 1 => "SERVING".to_string(),
                Ok(r) => format!("status {}", r.get_ref().status),
                Err(s) => format!("{:?}: {}", s.code(), s.message()),
            };
            out.push((name.clone(), serde_json::Value::String(state)));
        }
        out
    }
}

/// Headers that belong to one HTTP/1.1 hop and are not allowed on HTTP/2.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
];

impl tower::Service<http::Request<Body>> for Upstreams {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let path = req.uri().path().to_string();
        let Some(channel) = self.route(&path).cloned() else {
            let status = Status::unimplemented(format!(
                "{path} is not served at the edge (order, store, delivery and notification are)"
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        };
        for h in HOP_BY_HOP {
            req.headers_mut().remove(h);
        }
        // Only the path travels on: the channel adds its own scheme and authority.
        if let Ok(uri) = http::Uri::builder()
            .path_and_query(req.uri().path_and_query().map_or("/", |p| p.as_str()))
            .build()
        {
            *req.uri_mut() = uri;
        }
        *req.version_mut() = http::Version::HTTP_2;
        let mut channel = channel;
        Box::pin(async move {
            use tower::ServiceExt;
            let ready = match channel.ready().await {
                Ok(c) => c,
                Err(e) => return Ok(unavailable(&path, &e)),
            };
            match tower::Service::call(ready, req).await {
                Ok(resp) => Ok(resp),
                Err(e) => Ok(unavailable(&path, &e)),
            }
        })
    }
}

fn unavailable(path: &str, e: &dyn std::fmt::Display) -> http::Response<Body> {
    tracing::warn!(%path, error = %e, "the service behind the edge is unreachable");
    fd_chassis::errors::unavailable_retry(
        "the service is unreachable; retry shortly".to_string(),
        std::time::Duration::from_secs(1),
    )
    .into_http()
}

/// gRPC-Web calls to `grpc_web`, everything else (the app's files) to `other`.
#[derive(Clone)]
pub struct ByContentType<O> {
    /// The gRPC-Web stack.
    pub grpc_web: tower::util::BoxCloneSyncService<
        http::Request<axum::body::Body>,
        http::Response<Body>,
        Infallible,
    >,
    /// The web app.
    pub other: O,
}

impl<O> std::fmt::Debug for ByContentType<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ByContentType")
    }
}

impl<O, OB> tower::Service<http::Request<axum::body::Body>> for ByContentType<O>
where
    O: tower::Service<
            http::Request<axum::body::Body>,
            Response = http::Response<OB>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    O::Future: Send + 'static,
    OB: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    OB::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<axum::response::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<axum::body::Body>) -> Self::Future {
        let grpc_web = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc-web"));
        use tower::ServiceExt;
        if grpc_web {
            let svc = self.grpc_web.clone();
            Box::pin(async move { Ok(svc.oneshot(req).await?.map(axum::body::Body::new)) })
        } else {
            let svc = self.other.clone();
            Box::pin(async move { Ok(svc.oneshot(req).await?.map(axum::body::Body::new)) })
        }
    }
}
