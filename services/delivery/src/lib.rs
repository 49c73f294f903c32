//! The delivery context: the riders' deliveries.
//!
//! Layout (hexagonal): [`domain`] is the delivery state machine, pure; [`db`] stores
//! deliveries; [`policies`] creates them on CookingFinished and cancels them on OrderCancelled;
//! [`api`] is the rider's gRPC API (pick up, complete; each publishes its event through the
//! outbox); [`events`] builds the events. This file reads [`Config`] and wires them in [`run`].

pub mod api;
pub mod db;
pub mod domain;
pub mod events;
pub mod policies;

use std::future::Future;

use fd_chassis::config::{CommonConfig, ConfigError, Env};
use fd_chassis::service::{Definition, Service, ServiceConfig};
use fd_proto::delivery::v1::delivery_service_server::DeliveryServiceServer;
use tokio::net::TcpListener;

/// The delivery service: its one name, its port and its migrations.
pub const SERVICE: Definition = Definition {
    name: "delivery",
    about: "the delivery context: riders pick up and deliver cooked orders",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 50054,
    migrator: &MIGRATOR,
    consumes: &["store", "order"],
};

/// The embedded migrations of the delivery database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Everything the delivery service can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, NATS, shutdown grace, log format.
    pub common: CommonConfig,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    /// Reads the configuration from `env`, reporting every bad value.
    fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, &SERVICE);
        env.finish()?;
        Ok(Self { common })
    }
}

/// Runs the delivery service on `listener` until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut svc = Service::start(&SERVICE, &cfg.common, shutdown).await?;
    svc.consume(
        policies::CreateOnCookingFinished::spec(),
        policies::CreateOnCookingFinished,
    );
    svc.consume(
        policies::CancelOnOrderCancelled::spec(),
        policies::CancelOnOrderCancelled,
    );
    let api = api::DeliveryApi::new(svc.db.clone());
    svc.serve_api(DeliveryServiceServer::new(api), listener)
        .await
}
