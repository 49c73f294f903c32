//! The outgoing port to the payment context: Payment.Authorize behind a deadline and a
//! circuit breaker.
//!
//! Every call carries a deadline (sent as `grpc-timeout` and enforced here too). Failures that
//! say payment is unhealthy (unavailable, deadline exceeded or cancelled, overloaded, internal) count
//! against the breaker; answers that show it healthy (a decline, a conflict) do not. While the
//! breaker is open no call is made at all: the customer is told at once to retry later.

use std::time::Duration;

use fd_chassis::breaker::{BreakerConfig, CircuitBreaker};
use fd_chassis::money::Money;
use fd_proto::payment::v1 as pb;
use fd_proto::payment::v1::payment_service_client::PaymentServiceClient;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

/// Settings of the payment client.
#[derive(Debug, Clone)]
pub struct PaymentClientConfig {
    /// `PAYMENT_ADDR`: URL of the payment service, e.g. `http://127.0.0.1:50052`, or several
    /// comma-separated (replicas, balanced by the client when no mesh does it).
    pub addr: String,
    /// `PAYMENT_TIMEOUT_MS`: deadline of one Authorize call.
    pub timeout: Duration,
    /// `BREAKER_FAILURE_THRESHOLD`, `BREAKER_COOLDOWN_MS`, `BREAKER_HALF_OPEN_PROBES`.
    pub breaker: BreakerConfig,
    /// `AUTH_TOKEN_URL`, `AUTH_CLIENT_ID`, `AUTH_CLIENT_SECRET`: order's own identity towards
    /// payment (which admits Authorize only from `service:order`).
    pub credentials: Option<fd_chassis::auth::ClientCredentials>,
}

/// Why payment could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// Payment is down, slow or the breaker is open: try again after `retry_after`.
    #[error("payment is unavailable: {reason}")]
    Unavailable {
        /// What happened.
        reason: String,
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// The order was authorized before for a different amount or customer.
    #[error("{0}")]
    Conflict(String),
    /// Payment answered with an error that is our fault (a bug), e.g. INVALID_ARGUMENT.
    #[error("payment rejected the call: {0}")]
    Unexpected(tonic::Status),
}

/// A shared, cheaply cloned client of the payment service.
#[derive(Debug, Clone)]
pub struct PaymentGateway {
    client: PaymentServiceClient<Channel>,
    breaker: CircuitBreaker,
    timeout: Duration,
    /// `server.address` / `server.port` of the client spans.
    host: String,
    port: u16,
    token: Option<fd_chassis::auth::ServiceToken>,
}

impl PaymentGateway {
    /// A gateway to `cfg.addr`. Connects lazily: payment need not be up when order starts.
    pub fn new(cfg: &PaymentClientConfig) -> Result<Self, tonic::transport::Error> {
        // Several comma-separated URLs (replicas without a mesh in front) are balanced.
        let endpoints = cfg
            .addr
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| {
                Ok(Endpoint::from_shared(a.to_string())?
                    .connect_timeout(cfg.timeout)
                    .tcp_nodelay(true))
            })
            .collect::<Result<Vec<_>, tonic::transport::Error>>()?;
        let first = match endpoints.first() {
            Some(e) => e.clone(),
            None => Endpoint::from_shared(cfg.addr.clone())?,
        };
        let uri = first.uri().clone();
        let host = uri.host().unwrap_or_default().to_string();
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let channel = if endpoints.len() > 1 {
            Channel::balance_list(endpoints.into_iter())
        } else {
            first.connect_lazy()
        };
        Ok(Self {
            client: PaymentServiceClient::new(channel),
            breaker: CircuitBreaker::new("payment", cfg.breaker),
            timeout: cfg.timeout,
            host,
            port,
            token: cfg
                .credentials
                .clone()
                .map(fd_chassis::auth::ServiceToken::new),
        })
    }

    /// The breaker, for inspection.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// Authorizes `amount` for `order_id`. Returns the payment (AUTHORIZED or DECLINED).
    /// The call is a client span (RPC semantic conventions) whose context travels in the
    /// request's metadata, so payment's server span is its child.
    pub async fn authorize(
        &self,
        order_id: &str,
        customer_id: &str,
        amount: Money,
    ) -> Result<pb::Payment, PaymentError> {
        use tracing::Instrument;
        let span = fd_chassis::semconv::client_span(
            "fooddelivery.payment.v1.PaymentService/Authorize",
            &self.host,
            self.port,
        );
        let started = std::time::Instant::now();
        let result = self
            .authorize_inner(order_id, customer_id, amount)
            .instrument(span.clone())
            .await;
        let code = match &result {
            Ok(_) => 0,
            Err(PaymentError::Unavailable { .. }) => tonic::Code::Unavailable as i64,
            Err(PaymentError::Conflict(_)) => tonic::Code::AlreadyExists as i64,
            Err(PaymentError::Unexpected(s)) => s.code() as i64,
        };
        fd_chassis::semconv::record_status(&span, code, code != 0);
        fd_chassis::metrics::rpc_made(
            "fooddelivery.payment.v1.PaymentService/Authorize",
            &self.host,
            code,
            started.elapsed(),
        );
        result
    }

    /// Releases the authorization of `order_id` whose order was never stored (payment's
    /// Refund, as order itself): `Ok(true)` if one was released, `Ok(false)` if there was none
    /// to release (never authorized, declined, already refunded); `Err` to try again later.
    pub async fn release(&self, order_id: &str, reason: &str) -> Result<bool, String> {
        let bearer = match &self.token {
            Some(token) => Some(token.bearer().await?),
            None => None,
        };
        let mut req = tonic::Request::new(pb::RefundRequest {
            order_id: order_id.to_string(),
            reason: reason.to_string(),
        });
        req.set_timeout(self.timeout);
        fd_chassis::telemetry::inject_grpc(&mut req);
        if let Some(bearer) = bearer.and_then(|b| b.parse().ok()) {
            req.metadata_mut().insert("authorization", bearer);
        }
        let mut client = self.client.clone();
        let started = std::time::Instant::now();
        let result = client.refund(req).await;
        fd_chassis::metrics::rpc_made(
            "fooddelivery.payment.v1.PaymentService/Refund",
            &self.host,
            result.as_ref().map_or_else(|s| s.code() as i64, |_| 0),
            started.elapsed(),
        );
        match result {
            Ok(resp) => Ok(resp
                .into_inner()
                .payment
                .is_some_and(|p| p.state() == pb::PaymentState::Refunded)),
            Err(s) if matches!(s.code(), Code::NotFound | Code::FailedPrecondition) => Ok(false),
            Err(s) => Err(format!("{:?}: {}", s.code(), s.message())),
        }
    }

    async fn authorize_inner(
        &self,
        order_id: &str,
        customer_id: &str,
        amount: Money,
    ) -> Result<pb::Payment, PaymentError> {
        // Order's own token first: the issuer being down is not payment being unhealthy.
        let bearer = match &self.token {
            Some(token) => {
                Some(
                    token
                        .bearer()
                        .await
                        .map_err(|reason| PaymentError::Unavailable {
                            reason,
                            retry_after: Duration::from_secs(1),
                        })?,
                )
            }
            None => None,
        };
        let permit = self
            .breaker
            .acquire()
            .map_err(|r| PaymentError::Unavailable {
                reason: "circuit breaker open after repeated payment failures".into(),
                retry_after: r.retry_after,
            })?;
        let mut req = tonic::Request::new(pb::AuthorizeRequest {
            order_id: order_id.to_string(),
            customer_id: customer_id.to_string(),
            amount: Some(amount.to_proto()),
        });
        req.set_timeout(self.timeout);
        fd_chassis::telemetry::inject_grpc(&mut req);
        if let Some(bearer) = bearer.and_then(|b| b.parse().ok()) {
            req.metadata_mut().insert("authorization", bearer);
        }
        let mut client = self.client.clone();
        let outcome = tokio::time::timeout(self.timeout, client.authorize(req)).await;
        let retry_after = Duration::from_secs(1);
        match outcome {
            Err(_) => {
                permit.failure();
                Err(PaymentError::Unavailable {
                    reason: format!("no answer within {} ms", self.timeout.as_millis()),
                    retry_after,
                })
            }
            Ok(Ok(resp)) => {
                permit.success();
                resp.into_inner().payment.ok_or_else(|| {
                    PaymentError::Unexpected(tonic::Status::internal("empty payment"))
                })
            }
            Ok(Err(status)) => match status.code() {
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::ResourceExhausted
                | Code::Internal
                | Code::Unknown
                | Code::Aborted
                | Code::Cancelled => {
                    permit.failure();
                    Err(PaymentError::Unavailable {
                        reason: format!("{:?}: {}", status.code(), status.message()),
                        retry_after,
                    })
                }
                Code::AlreadyExists => {
                    permit.success();
                    Err(PaymentError::Conflict(status.message().to_string()))
                }
                _ => {
                    permit.success();
                    tracing::error!(code = ?status.code(), message = status.message(), "unexpected answer from payment");
                    Err(PaymentError::Unexpected(status))
                }
            },
        }
    }
}
