//! The store context: the owner's tickets.
//!
//! Layout (hexagonal): [`domain`] is the ticket state machine and [`catalog`] the store and
//! menu aggregates, both pure; [`db`] stores them; [`policies`] turns OrderPlaced into tickets
//! and voids them on OrderCancelled; [`api`] is the owner's gRPC API (tickets, the store, its
//! menu; each change publishes its event through the outbox) and the customers' read-only
//! CatalogService. This file reads [`Config`] and wires them in [`run`].

pub mod api;
pub mod catalog;
pub mod db;
pub mod domain;
pub mod policies;

use std::future::Future;

use fd_chassis::config::{CommonConfig, ConfigError, Env};
use fd_chassis::server::GrpcServer;
use fd_chassis::service::{Definition, Service, ServiceConfig};
use fd_proto::store::v1::catalog_service_server::CatalogServiceServer;
use fd_proto::store::v1::store_service_server::StoreServiceServer;
use tokio::net::TcpListener;

/// The store service: its one name, its port and its migrations.
pub const SERVICE: Definition = Definition {
    name: "store",
    about: "the store context: stores and their menus; the owner accepts, rejects and cooks orders",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 50053,
    migrator: &MIGRATOR,
    consumes: &["order"],
};

/// The embedded migrations of the store database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Everything the store service can be configured with.
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

/// Runs the store service on `listener` until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut svc = Service::start(&SERVICE, &cfg.common, shutdown).await?;
    svc.consume(policies::Tickets::spec(), policies::Tickets);
    let server = GrpcServer::new()
        .add_service(svc.limit(StoreServiceServer::new(api::StoreApi::new(svc.db.clone()))))
        .add_service(svc.limit(CatalogServiceServer::new(api::CatalogApi::new(
            svc.db.clone(),
        ))));
    svc.serve(server, listener).await
}
