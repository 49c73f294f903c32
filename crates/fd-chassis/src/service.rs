//! Wiring shared by every service: database, NATS, the outbox relay, consumers and the gRPC
//! server, all on one shutdown signal.
//!
//! ```text
//! let svc = Service::start("store", &cfg.common, &MIGRATOR, shutdown).await?;
//! svc.consume(ConsumerSpec::new(..), policy);
//! svc.serve(GrpcServer::new().add_service(..), listener).await
//! ```
//!
//! On shutdown the server drains first (in-flight calls finish), then consumers finish the
//! message in hand and the relay makes a last attempt to flush the outbox.

use std::future::Future;

use async_nats::jetstream;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::CommonConfig;
use crate::consumer::{ConsumerSpec, Policy};
use crate::db::Db;
use crate::outbox::{OutboxSignal, Relay, RelayConfig};
use crate::server::GrpcServer;
use crate::shutdown::Shutdown;

/// A running service's shared resources.
#[derive(Debug)]
pub struct Service {
    /// Its database.
    pub db: Db,
    /// JetStream.
    pub js: jetstream::Context,
    /// Wakes the relay after a commit that wrote outbox rows.
    pub outbox: OutboxSignal,
    /// The shutdown signal every task follows.
    pub shutdown: Shutdown,
    grace: std::time::Duration,
    max_in_flight: usize,
    tasks: Vec<JoinHandle<()>>,
}

impl Service {
    /// Opens the database (with migrations), connects to NATS (in the background if it is
    /// down) and starts the outbox relay.
    pub async fn start(
        name: &str,
        common: &CommonConfig,
        migrator: &sqlx::migrate::Migrator,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Self> {
        let db = crate::db::connect(&common.database_url, migrator).await?;
        let client = crate::nats::connect(&common.nats_url, name).await?;
        let js = jetstream::new(client);
        let outbox = OutboxSignal::default();
        let shutdown = Shutdown::from_future(shutdown);
        let relay = Relay::new(
            db.pool.clone(),
            js.clone(),
            RelayConfig::for_service(name),
            outbox.clone(),
        );
        let tasks = vec![tokio::spawn(relay.run(shutdown.clone()))];
        Ok(Self {
            db,
            js,
            outbox,
            shutdown,
            grace: common.shutdown_grace,
            max_in_flight: common.max_in_flight,
            tasks,
        })
    }

    /// Starts a durable consumer running `policy`.
    pub fn consume<P: Policy>(&mut self, spec: ConsumerSpec, policy: P) {
        self.tasks.push(tokio::spawn(crate::consumer::run(
            self.js.clone(),
            self.db.pool.clone(),
            spec,
            policy,
            self.outbox.clone(),
            self.shutdown.clone(),
        )));
    }

    /// Runs a background task of the service's own until shutdown (it must watch
    /// [`Service::shutdown`]); `serve` waits for it before closing the database.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// Serves `server` on `listener` until shutdown, then waits for the background tasks.
    pub async fn serve(self, server: GrpcServer, listener: TcpListener) -> anyhow::Result<()> {
        let result = server
            .max_in_flight(self.max_in_flight)
            .serve(listener, self.shutdown.wait(), self.grace)
            .await;
        // Consumers finish the message in hand, the relay flushes: all within one grace period.
        let _ = tokio::time::timeout(self.grace, futures::future::join_all(self.tasks)).await;
        self.db.pool.close().await;
        result.map_err(Into::into)
    }
}

/// The whole `main` of a service binary: reads the configuration (a readable error and exit
/// code 2 if it is bad), starts telemetry, binds the listen address, runs the service until
/// SIGTERM/SIGINT, and flushes traces on the way out.
///
/// ```text
/// fn main() -> ExitCode {
///     fd_chassis::service::main("order", env!("CARGO_PKG_VERSION"), order::Config::from_env,
///         |c| &c.common, |cfg, listener| order::run(cfg, listener, fd_chassis::shutdown::signal()))
/// }
/// ```
pub fn main<C, R>(
    name: &str,
    version: &str,
    load: impl FnOnce(crate::config::Env) -> Result<C, crate::config::ConfigError>,
    common: impl Fn(&C) -> &CommonConfig,
    run: impl FnOnce(C, TcpListener) -> R,
) -> std::process::ExitCode
where
    R: Future<Output = anyhow::Result<()>>,
{
    use std::process::ExitCode;
    let cfg = match load(crate::config::Env::from_process()) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let telemetry = crate::telemetry::init(name, version, common(&cfg).log_format);
        let code = match crate::server::bind(common(&cfg).listen_addr).await {
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::from(1)
            }
            Ok(listener) => match run(cfg, listener).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "{name} failed");
                    ExitCode::from(1)
                }
            },
        };
        telemetry.shutdown();
        code
    })
}
