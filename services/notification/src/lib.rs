//! The notification context: every customer-visible status change → exactly one notification.
//!
//! Layout: [`domain`] holds the messages and the retry schedule, pure; [`db`] stores
//! notifications; [`policies`] stores one PENDING notification per visible event;
//! [`sender`] delivers them through a [`channel`] (log or webhook) with retries and publishes
//! NotificationSent; [`api`] lists them. This file reads [`Config`] and wires them in [`run`].

pub mod api;
pub mod channel;
pub mod db;
pub mod domain;
pub mod policies;
pub mod sender;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fd_chassis::config::{CommonConfig, ConfigError, Env};
use fd_chassis::service::{Definition, Service, ServiceConfig};
use fd_proto::notification::v1::notification_service_server::NotificationServiceServer;
use tokio::net::TcpListener;

/// The notification service: its one name, its port and its migrations.
pub const SERVICE: Definition = Definition {
    name: "notification",
    about: "the notification context: tells customers about every status change (log or webhook)",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 50055,
    migrator: &MIGRATOR,
    consumes: &["order", "store", "delivery"],
};

/// The embedded migrations of the notification database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Everything the notification service can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, NATS, shutdown grace, log format.
    pub common: CommonConfig,
    /// `NOTIFY_WEBHOOK_URL`: POST notifications there (http:// or https://); unset = the log
    /// channel. Never logged whole (it may carry a token).
    pub webhook_url: Option<channel::WebhookUrl>,
    /// `NOTIFY_WEBHOOK_TIMEOUT_MS`: per request.
    pub webhook_timeout: Duration,
    /// `NOTIFY_MAX_ATTEMPTS`: attempts before a notification is given up (FAILED).
    pub max_attempts: i64,
    /// `NOTIFY_WEBHOOK_CA_FILE`: PEM certificates trusted for an https:// webhook besides the
    /// public roots (an internal CA).
    pub webhook_ca: Option<Vec<u8>>,
    /// `NOTIFY_RETENTION_DAYS`: how long customers can list a notification (default 90).
    /// Never shorter than the consumers remember events
    /// ([`fd_chassis::nats::PROCESSED_RETENTION`]): a notification row is also what makes a
    /// replayed event notify once.
    pub retention: Duration,
}

impl ServiceConfig for Config {
    fn common(&self) -> &CommonConfig {
        &self.common
    }

    /// Reads the configuration from `env`, reporting every bad value.
    fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, &SERVICE);
        let webhook_url = env.get("NOTIFY_WEBHOOK_URL").map(str::to_string);
        if let Some(url) = &webhook_url {
            let ok = url.starts_with("http://") || url.starts_with("https://");
            env.check(
                "NOTIFY_WEBHOOK_URL",
                ok,
                "expected an http:// or https:// URL",
            );
        }
        let webhook_timeout = env.millis("NOTIFY_WEBHOOK_TIMEOUT_MS", 5_000);
        let max_attempts: i64 = env.parse("NOTIFY_MAX_ATTEMPTS", 10);
        env.check(
            "NOTIFY_MAX_ATTEMPTS",
            (1..=1000).contains(&max_attempts),
            "expected 1 to 1000",
        );
        let webhook_ca = match env.get("NOTIFY_WEBHOOK_CA_FILE").map(str::to_string) {
            None => None,
            Some(path) => match std::fs::read(&path) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    env.check("NOTIFY_WEBHOOK_CA_FILE", false, format!("cannot read: {e}"));
                    None
                }
            },
        };
        let retention_days: u64 = env.parse("NOTIFY_RETENTION_DAYS", 90);
        let min_days = fd_chassis::nats::PROCESSED_RETENTION
            .as_secs()
            .div_ceil(86_400);
        env.check(
            "NOTIFY_RETENTION_DAYS",
            (min_days..=36_500).contains(&retention_days),
            format!(
                "expected {min_days} to 36500: notifications are kept at least as long as \
                 consumers remember events, or a replayed event could notify twice"
            ),
        );
        env.finish()?;
        Ok(Self {
            common,
            retention: Duration::from_secs(retention_days * 86_400),
            webhook_ca,
            webhook_url: webhook_url.map(channel::WebhookUrl::new),
            webhook_timeout,
            max_attempts,
        })
    }
}

/// Deletes notifications past `retention` (done ones only) at start and every hour.
async fn prune_every_hour(
    pool: sqlx::AnyPool,
    retention: Duration,
    shutdown: fd_chassis::shutdown::Shutdown,
) {
    loop {
        let cutoff =
            fd_chassis::time::now_ms() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        match db::prune(&pool, cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "notifications past retention deleted"),
            Err(e) => tracing::warn!(error = %e, "pruning notifications failed; will retry"),
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            () = shutdown.wait() => return,
        }
    }
}

/// Runs the notification service on `listener` until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut svc = Service::start(&SERVICE, &cfg.common, shutdown).await?;
    let channel = match &cfg.webhook_url {
        Some(url) => {
            channel::Channel::webhook(url.clone(), cfg.webhook_timeout, cfg.webhook_ca.as_deref())?
        }
        None => channel::Channel::Log,
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    for spec in policies::NotifyCustomer::specs() {
        svc.consume(
            spec,
            policies::NotifyCustomer {
                channel: channel.kind(),
                wake: wake.clone(),
            },
        );
    }
    let sender = sender::Sender {
        db: svc.db.clone(),
        channel,
        wake,
        max_attempts: cfg.max_attempts,
        lease: cfg.webhook_timeout * 2 + Duration::from_secs(5),
    };
    let shutdown = svc.shutdown.clone();
    svc.spawn(sender.run(shutdown));
    svc.spawn(prune_every_hour(
        svc.db.pool.clone(),
        cfg.retention,
        svc.shutdown.clone(),
    ));
    let api = api::NotificationApi::new(svc.db.pool.clone());
    svc.serve_api(NotificationServiceServer::new(api), listener)
        .await
}
