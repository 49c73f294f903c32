//! The payment context: authorizes and refunds the amount of an order.
//!
//! Layout (hexagonal): [`domain`] holds the pure rules (decline rule, refund state machine);
//! [`db`] stores payments; [`api`] is the gRPC adapter; [`refunds`] is the refund shared by
//! the RPC and the saga policy (OrderCancelled / OrderRejected → refund); this file reads [`Config`] and wires
//! them together in [`run`]. `main.rs` only loads the config and calls `run`.

pub mod api;
pub mod authorizations;
pub mod db;
pub mod domain;
pub mod refunds;

use std::future::Future;

use fd_chassis::config::{CommonConfig, ConfigError, Env};
use fd_chassis::service::{Definition, Service, ServiceConfig};
use fd_proto::payment::v1::payment_service_server::PaymentServiceServer;
use tokio::net::TcpListener;

/// The payment service: its one name, its port and its migrations.
pub const SERVICE: Definition = Definition {
    name: "payment",
    about: "the payment context: authorizes and refunds payments for orders",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 50052,
    migrator: &MIGRATOR,
    consumes: &["order", "store"],
};

/// The embedded migrations of the payment database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Everything the payment service can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, shutdown grace, log format.
    pub common: CommonConfig,
    /// `DECLINE_OVER_MINOR`: amounts above this many minor units are declined.
    pub decline_over_minor: i64,
    /// `DRILL_LATENCY_MS`, `DRILL_FAILURE_RATE`: artificial latency and failures.
    pub drill: api::Drill,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    /// Reads the configuration from `env`, reporting every bad value.
    fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, &SERVICE);
        let decline_over_minor = env.parse("DECLINE_OVER_MINOR", 100_000i64);
        env.check(
            "DECLINE_OVER_MINOR",
            decline_over_minor >= 0,
            "must be >= 0",
        );
        let latency = env.millis("DRILL_LATENCY_MS", 0);
        let failure_rate = env.parse("DRILL_FAILURE_RATE", 0.0f64);
        env.check(
            "DRILL_FAILURE_RATE",
            (0.0..=1.0).contains(&failure_rate),
            "must be between 0.0 and 1.0",
        );
        env.finish()?;
        Ok(Self {
            common,
            decline_over_minor,
            drill: api::Drill {
                latency,
                failure_rate,
            },
        })
    }
}

/// Runs the payment service on `listener` until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut svc = Service::start(&SERVICE, &cfg.common, shutdown).await?;
    for spec in refunds::RefundOnCancel::specs() {
        svc.consume(spec, refunds::RefundOnCancel);
    }
    let api = api::PaymentApi::new(
        svc.db.clone(),
        domain::DeclineRule {
            limit_minor: cfg.decline_over_minor,
        },
        cfg.drill,
    );
    svc.serve_api(PaymentServiceServer::new(api), listener)
        .await
}
