//! The order context: customers place, cancel and follow orders.
//!
//! Layout (hexagonal): [`domain`] holds the Order aggregate and its validation, pure;
//! [`menu`] is the replica of the stores' menus and prices orders from it, pure; [`db`] stores
//! orders and the replica; [`payment`] is the outgoing port to Payment.Authorize (deadline and
//! circuit breaker); [`api`] holds the operations and the v1 gRPC adapter, [`api_v2`] the v2
//! adapter over the same operations; [`watch`] fans out changes to WatchOrder streams;
//! [`events`] builds the published events; [`policies`] reacts to other contexts' events
//! (menu replica, status view, rejection saga). This file reads [`Config`] and wires them in
//! [`run`].

pub mod api;
pub mod api_v2;
pub mod db;
pub mod domain;
pub mod events;
pub mod menu;
pub mod orphans;
pub mod payment;
pub mod placement;
pub mod policies;
pub mod watch;

use std::future::Future;

use fd_chassis::breaker::BreakerConfig;
use fd_chassis::config::{CommonConfig, ConfigError, Env};
use fd_chassis::server::GrpcServer;
use fd_chassis::service::{Definition, Service, ServiceConfig};
use fd_proto::order::{v1, v2};
use tokio::net::TcpListener;

/// The order service: its one name, its port and its migrations.
pub const SERVICE: Definition = Definition {
    name: "order",
    about: "the order context: customers place, cancel and follow orders (pays through payment before anything is stored)",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 50051,
    migrator: &MIGRATOR,
    consumes: &["store", "delivery", "payment"],
};

/// The embedded migrations of the order database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Everything the order service can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, shutdown grace, log format.
    pub common: CommonConfig,
    /// How to reach payment.
    pub payment: payment::PaymentClientConfig,
    /// `ORPHAN_AFTER_MS`, `ORPHAN_SWEEP_MS`: when an authorization without an order is
    /// released.
    pub orphans: orphans::OrphanConfig,
    /// `MAX_WATCHES`: WatchOrder streams one replica serves at once; more are refused with
    /// RESOURCE_EXHAUSTED.
    pub max_watches: usize,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    /// Reads the configuration from `env`, reporting every bad value.
    fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, &SERVICE);
        let addr = env.string("PAYMENT_ADDR", "http://127.0.0.1:50052");
        env.check(
            "PAYMENT_ADDR",
            addr.split(',')
                .map(str::trim)
                .all(|a| a.starts_with("http://") || a.starts_with("https://")),
            "expected a URL such as http://127.0.0.1:50052 (or several, comma-separated)",
        );
        let timeout = env.millis("PAYMENT_TIMEOUT_MS", 2_000);
        env.check("PAYMENT_TIMEOUT_MS", !timeout.is_zero(), "must be > 0");
        let failure_threshold = env.parse("BREAKER_FAILURE_THRESHOLD", 5u32);
        env.check(
            "BREAKER_FAILURE_THRESHOLD",
            failure_threshold > 0,
            "must be > 0",
        );
        let cooldown = env.millis("BREAKER_COOLDOWN_MS", 5_000);
        let half_open_probes = env.parse("BREAKER_HALF_OPEN_PROBES", 1u32);
        env.check(
            "BREAKER_HALF_OPEN_PROBES",
            half_open_probes > 0,
            "must be > 0",
        );
        let credentials = fd_chassis::auth::ClientCredentials::read(&mut env, SERVICE.name);
        let orphan_after = env.millis("ORPHAN_AFTER_MS", 60_000);
        env.check(
            "ORPHAN_AFTER_MS",
            orphan_after > timeout * 3,
            "must exceed three payment deadlines (PAYMENT_TIMEOUT_MS), or a request in flight could be released",
        );
        let max_watches = env.parse("MAX_WATCHES", 1000usize);
        env.check("MAX_WATCHES", max_watches > 0, "must be > 0");
        let orphan_sweep = env.millis("ORPHAN_SWEEP_MS", 10_000);
        env.check("ORPHAN_SWEEP_MS", !orphan_sweep.is_zero(), "must be > 0");
        env.finish()?;
        Ok(Self {
            common,
            payment: payment::PaymentClientConfig {
                credentials,
                addr,
                timeout,
                breaker: BreakerConfig {
                    failure_threshold,
                    cooldown,
                    half_open_probes,
                },
            },
            orphans: orphans::OrphanConfig {
                after: orphan_after,
                every: orphan_sweep,
            },
            max_watches,
        })
    }
}

/// Runs the order service on `listener` until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut svc = Service::start(&SERVICE, &cfg.common, shutdown).await?;
    let gateway = payment::PaymentGateway::new(&cfg.payment)?;
    let changes = watch::Changes::new();
    for spec in policies::StatusProjection::specs() {
        svc.consume(
            spec,
            policies::StatusProjection {
                changes: changes.clone(),
            },
        );
    }
    svc.consume(
        policies::CancelOnRejected::spec(),
        policies::CancelOnRejected {
            changes: changes.clone(),
        },
    );
    svc.consume(policies::MenuReplica::spec(), policies::MenuReplica);
    if svc.db.backend == fd_chassis::db::Backend::Postgres {
        // Changes committed through the other replicas reach this one's watchers.
        svc.spawn(watch::listen(
            cfg.common.database_url.clone(),
            changes.clone(),
            svc.shutdown.clone(),
        ));
    }
    svc.spawn(orphans::run(
        svc.db.pool.clone(),
        gateway.clone(),
        cfg.orphans,
        svc.shutdown.clone(),
    ));
    let api = api::OrderApi::new(
        svc.db.clone(),
        gateway,
        changes,
        svc.shutdown.clone(),
        cfg.max_watches,
    );
    // v1 and v2 side by side, over the same orders.
    let server = GrpcServer::new()
        .add_service(svc.limit(v1::order_service_server::OrderServiceServer::new(
            api.clone(),
        )))
        .add_service(svc.limit(v2::order_service_server::OrderServiceServer::new(
            api_v2::OrderApiV2::new(api),
        )));
    svc.serve(server, listener).await
}
