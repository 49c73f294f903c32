//! The edge's limits: calls per second per client address (a token bucket each) and request
//! size. Both refuse with RESOURCE_EXHAUSTED, in gRPC, before the call reaches a service.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tonic::body::Body;
use tonic::Status;

/// Calls per second per client, and how many may come at once.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Sustained calls per second.
    pub per_second: f64,
    /// Largest burst.
    pub burst: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client address.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    rate: Rate,
    buckets: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimitLayer {
    /// Limits every client to `rate`.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a token for `client` at `now`; `Err(wait)` if none is left.
    fn take(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // Forget clients that have been quiet long enough to be full again (bounded memory).
        if buckets.len() > 10_000 {
            let full_after = Duration::from_secs_f64(self.rate.burst / self.rate.per_second);
            buckets.retain(|_, b| now.duration_since(b.at) < full_after);
        }
        let b = buckets.entry(client).or_insert(Bucket {
            tokens: self.rate.burst,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * self.rate.per_second;
        b.tokens = (b.tokens + refill).min(self.rate.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - b.tokens) / self.rate.per_second,
            ))
        }
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            limit: self.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] wraps.
#[derive(Debug, Clone)]
pub struct RateLimited<S> {
    inner: S,
    limit: RateLimitLayer,
}

/// The client's address: the connection's peer (a proxy in front would set
/// X-Forwarded-For, which is not trusted here).
fn client<B>(req: &http::Request<B>) -> IpAddr {
    req.extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip())
}

impl<S, B> tower::Service<http::Request<B>> for RateLimited<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        match self.limit.take(client(&req), Instant::now()) {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(wait) => {
                let status = fd_chassis::errors::resource_exhausted_retry(
                    format!(
                        "too many calls from this client (at most {}/s); retry in {} ms",
                        self.limit.rate.per_second,
                        wait.as_millis().max(1)
                    ),
                    wait,
                );
                Box::pin(async move { Ok(status.into_http()) })
            }
        }
    }
}

/// Refuses requests whose body is larger than the limit (by Content-Length, or while
/// reading it).
#[derive(Debug, Clone, Copy)]
pub struct SizeLimitLayer {
    max: usize,
}

impl SizeLimitLayer {
    /// At most `max` bytes of request body.
    pub fn new(max: usize) -> Self {
        Self { max }
    }
}

impl<S> tower::Layer<S> for SizeLimitLayer {
    type Service = SizeLimited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SizeLimited {
            inner,
            max: self.max,
        }
    }
}

/// The service [`SizeLimitLayer`] wraps.
#[derive(Debug, Clone)]
pub struct SizeLimited<S> {
    inner: S,
    max: usize,
}

impl<S> tower::Service<http::Request<Body>> for SizeLimited<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let max = self.max;
        let too_large = move || {
            Status::resource_exhausted(format!(
                "request larger than {max} bytes (the edge's MAX_MESSAGE_BYTES)"
            ))
            .into_http()
        };
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > max) {
            return Box::pin(async move { Ok(too_large()) });
        }
        // Unary calls from browsers are small and whole: read the body (at most `max`) and
        // pass it on; a stream of requests is not something browsers send.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            use http_body_util::BodyExt;
            let (parts, body) = req.into_parts();
            let limited = http_body_util::Limited::new(body, max);
            match limited.collect().await {
                Ok(collected) => {
                    let req = http::Request::from_parts(
                        parts,
                        Body::new(http_body_util::Full::new(collected.to_bytes())),
                    );
                    inner.call(req).await
                }
                Err(_) => Ok(too_large()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let limit = RateLimitLayer::new(Rate {
            per_second: 10.0,
            burst: 3.0,
        });
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limit.take(a, t0).is_ok());
        }
        let wait = limit.take(a, t0).expect_err("burst spent");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(
            limit.take(b, t0).is_ok(),
            "another client has its own bucket"
        );
        // 100 ms later one more token has come back, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert!(limit.take(a, t1).is_ok());
        assert!(limit.take(a, t1).is_err());
    }
}
