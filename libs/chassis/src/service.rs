//! What a service is and the wiring every service shares: a [`Definition`] declared once in
//! the service's `lib.rs` (name, default port, migrations), a configuration that implements
//! [`ServiceConfig`], and `run`, which starts the database, NATS, the outbox relay, consumers
//! and the gRPC server on one shutdown signal. `main.rs` is one line: [`main`].
//!
//! ```text
//! let svc = Service::start(&SERVICE, &cfg.common, shutdown).await?;
//! svc.consume(ConsumerSpec::new(..), policy);
//! svc.serve_api(StoreServiceServer::new(api), listener).await
//! ```
//!
//! On shutdown the server drains first (in-flight calls finish), then consumers finish the
//! message in hand and the relay makes a last attempt to flush the outbox.

use std::future::Future;

use async_nats::jetstream;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{CommonConfig, ConfigError, Env};
use crate::consumer::{ConsumerSpec, Policy};
use crate::db::Db;
use crate::outbox::{Relay, RelayConfig};
use crate::server::GrpcServer;
use crate::shutdown::Shutdown;

/// What a service is, declared once in its `lib.rs`. The name is the one name of the context
/// everywhere: binary, database file, NATS stream and client name, Kubernetes Service, logs.
#[derive(Debug)]
pub struct Definition {
    /// `order`, `payment`, ...
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// `env!("CARGO_PKG_VERSION")` of the service crate.
    pub version: &'static str,
    /// Its gRPC port unless `LISTEN_ADDR` says otherwise.
    pub default_port: u16,
    /// Its embedded migrations (the chassis adds its own tables).
    pub migrator: &'static sqlx::migrate::Migrator,
    /// The contexts whose events it consumes (`"order"`, ...). Its NATS user may read those
    /// streams and no others (`fdctl nats-auth`); a consumer of any other is refused at start.
    pub consumes: &'static [&'static str],
}

/// A service's configuration: read from the environment (every bad value reported at once),
/// with the settings all services share.
pub trait ServiceConfig: Sized {
    /// Reads the configuration.
    fn from_env(env: Env) -> Result<Self, ConfigError>;
    /// The shared settings.
    fn common(&self) -> &CommonConfig;
}

/// The shutdown future `main` hands to a service's `run`.
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A running service's shared resources.
#[derive(Debug)]
pub struct Service {
    /// Its database (with the signal that wakes the relay after a commit).
    pub db: Db,
    /// JetStream.
    pub js: jetstream::Context,
    /// The shutdown signal every task follows.
    pub shutdown: Shutdown,
    /// Verifies callers' tokens (`AUTH_*`).
    pub verifier: std::sync::Arc<crate::auth::Verifier>,
    consumes: &'static [&'static str],
    stream_replicas: usize,
    grace: std::time::Duration,
    max_in_flight: usize,
    max_message_bytes: usize,
    tasks: Vec<JoinHandle<()>>,
}

impl Service {
    /// Opens the database (with migrations), connects to NATS (in the background if it is
    /// down) and starts the outbox relay.
    pub async fn start(
        def: &Definition,
        common: &CommonConfig,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Self> {
        let name = def.name;
        let db = crate::db::connect(&common.database_url, def.migrator).await?;
        crate::metrics::observe_pool(db.pool.clone(), name);
        let client = crate::nats::connect(&common.nats_url, name, &common.nats_access).await?;
        crate::nats::check_server_at_start(
            &client,
            &common.nats_url,
            std::time::Duration::from_secs(2),
        )
        .await?;
        let js = jetstream::new(client);
        let shutdown = Shutdown::from_future(shutdown);
        let relay = Relay::new(
            db.pool.clone(),
            js.clone(),
            RelayConfig {
                replicas: common.stream_replicas,
                // Replicas share a PostgreSQL outbox; SQLite has one process.
                claim_rows: db.backend == crate::db::Backend::Postgres,
                ..RelayConfig::for_service(name)
            },
            db.outbox.clone(),
        );
        let tasks = vec![tokio::spawn(relay.run(shutdown.clone()))];
        let verifier = crate::auth::Verifier::new(common.auth.clone()).await;
        Ok(Self {
            db,
            js,
            shutdown,
            verifier,
            consumes: def.consumes,
            stream_replicas: common.stream_replicas,
            grace: common.shutdown_grace,
            max_in_flight: common.max_in_flight,
            max_message_bytes: common.max_message_bytes,
            tasks,
        })
    }

    /// Starts a durable consumer running `policy`.
    ///
    /// # Panics
    /// If the consumed stream is not one the [`Definition`] declares in `consumes`: the
    /// service's NATS user could not read it (a programming error, found at start).
    pub fn consume<P: Policy>(&mut self, spec: ConsumerSpec, policy: P) {
        assert!(
            self.consumes
                .iter()
                .any(|c| crate::nats::stream_name(c) == spec.stream),
            "consumer {} reads stream {}, which the service's Definition does not declare in \
             `consumes` (its NATS user may read only those)",
            spec.durable(),
            spec.stream
        );
        self.tasks.push(tokio::spawn(crate::consumer::run(
            self.js.clone(),
            self.db.pool.clone(),
            spec,
            policy,
            self.db.outbox.clone(),
            self.shutdown.clone(),
            self.stream_replicas,
        )));
    }

    /// Runs a background task of the service's own until shutdown (it must watch
    /// [`Service::shutdown`]); `serve` waits for it before closing the database.
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// `api` with this service's limits (`MAX_MESSAGE_BYTES`), for [`Service::serve`] when one
    /// process serves several APIs.
    pub fn limit<S: fd_proto::GrpcApi>(&self, api: S) -> S {
        api.with_max_message_bytes(self.max_message_bytes)
    }

    /// Serves the service's gRPC API (with health, reflection, the in-flight limit and
    /// `MAX_MESSAGE_BYTES`) on `listener` until shutdown; see [`Service::serve`].
    pub async fn serve_api<S>(self, api: S, listener: TcpListener) -> anyhow::Result<()>
    where
        S: fd_proto::GrpcApi
            + tower::Service<http::Request<tonic::body::Body>, Error = std::convert::Infallible>
            + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        let api = api.with_max_message_bytes(self.max_message_bytes);
        self.serve(GrpcServer::new().add_service(api), listener)
            .await
    }

    /// Serves `server` on `listener` until shutdown, then waits for the background tasks.
    pub async fn serve(self, server: GrpcServer, listener: TcpListener) -> anyhow::Result<()> {
        let result = server
            .max_in_flight(self.max_in_flight)
            .auth(Some(self.verifier.clone()))
            .serve(listener, self.shutdown.wait(), self.grace)
            .await;
        // Consumers finish the message in hand, the relay flushes: all within one grace period.
        let _ = tokio::time::timeout(self.grace, futures::future::join_all(self.tasks)).await;
        self.db.pool.close().await;
        result.map_err(Into::into)
    }
}

/// The whole `main` of a service binary:
///
/// ```text
/// fn main() -> std::process::ExitCode {
///     fd_chassis::service::main(&order::SERVICE, order::run)
/// }
/// ```
///
/// `--help` and `--version` answer without touching anything. Otherwise it reads the
/// configuration (a readable error and exit code 2 if it is bad), starts telemetry, binds the
/// listen address, runs the service until SIGTERM/SIGINT, and flushes traces on the way out.
pub fn main<C, R>(
    def: &Definition,
    run: impl FnOnce(C, TcpListener, ShutdownSignal) -> R,
) -> std::process::ExitCode
where
    C: ServiceConfig,
    R: Future<Output = anyhow::Result<()>>,
{
    use std::process::ExitCode;
    let name = def.name;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        // Written without print!: a closed pipe (`order --help | head -1`) is not a panic.
        Some("-h" | "--help") => {
            let _ = std::io::Write::write_all(&mut std::io::stdout(), help::<C>(def).as_bytes());
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            let line = format!("{name} {}\n", def.version);
            let _ = std::io::Write::write_all(&mut std::io::stdout(), line.as_bytes());
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("{name}: unexpected argument {other:?}; configuration comes from environment variables (see {name} --help)");
            return ExitCode::from(2);
        }
    }
    let cfg = match C::from_env(Env::from_process()) {
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
        let common = cfg.common();
        let telemetry = crate::telemetry::init(name, def.version, common.log_format);
        if let Some(addr) = common.metrics_addr {
            match crate::server::bind(addr).await {
                Ok(listener) => {
                    tokio::spawn(async move {
                        if let Err(e) = crate::metrics::serve(listener).await {
                            tracing::error!(error = %e, "the /metrics endpoint stopped");
                        }
                    });
                }
                Err(e) => {
                    eprintln!("{name}: METRICS_ADDR: {e}");
                    telemetry.shutdown();
                    return ExitCode::from(1);
                }
            }
        }
        let code = match crate::server::bind(common.listen_addr).await {
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::from(1)
            }
            Ok(listener) => match run(cfg, listener, Box::pin(crate::shutdown::signal())).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{name}: {e:#}");
                    tracing::error!(error = %format!("{e:#}"), "{name} failed");
                    ExitCode::from(1)
                }
            },
        };
        telemetry.shutdown();
        code
    })
}

/// The `--help` text: what the service is and every environment variable its configuration
/// reads (found by reading it from an empty, recording environment: nothing else runs).
pub fn help<C: ServiceConfig>(def: &Definition) -> String {
    let (env, read) = Env::recording();
    let _ = C::from_env(env);
    let keys = read.lock().map(|k| k.clone()).unwrap_or_default();
    let mut out = format!(
        "{name} {version}: {about}\n\n\
         Usage: {name} [--help | --version]\n\n\
         Serves gRPC on 127.0.0.1:{port} unless LISTEN_ADDR says otherwise, and Prometheus\n\
         metrics at http://METRICS_ADDR/metrics; stops on SIGTERM or Ctrl-C. Configured by\n\
         environment variables (every bad value is reported, exit 2):\n",
        name = def.name,
        version = def.version,
        about = def.about,
        port = def.default_port,
    );
    for key in keys {
        out.push_str(&format!("  {key}\n"));
    }
    out.push_str("  OTEL_* (OpenTelemetry: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SDK_DISABLED, ...)\n");
    out
}
