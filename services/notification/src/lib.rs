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
use fd_chassis::server::GrpcServer;
use fd_chassis::service::Service;
use fd_proto::notification::v1::notification_service_server::NotificationServiceServer;
use tokio::net::TcpListener;

/// Default gRPC port of the notification service.
pub const DEFAULT_PORT: u16 = 50055;

/// The embedded migrations of the notification database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Everything the notification service can be configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address, database, NATS, shutdown grace, log format.
    pub common: CommonConfig,
    /// `NOTIFY_WEBHOOK_URL`: POST notifications there; unset = the log channel.
    pub webhook_url: Option<String>,
    /// `NOTIFY_WEBHOOK_TIMEOUT_MS`: per request.
    pub webhook_timeout: Duration,
}

impl Config {
    /// Reads the configuration from `env`, reporting every bad value.
    pub fn from_env(mut env: Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::read(&mut env, "notification", DEFAULT_PORT);
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
        env.finish()?;
        Ok(Self {
            common,
            webhook_url,
            webhook_timeout,
        })
    }
}

/// Runs the notification service on `listener` until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut svc = Service::start("notification", &cfg.common, &MIGRATOR, shutdown).await?;
    let channel = match &cfg.webhook_url {
        Some(url) => channel::Channel::webhook(url.clone(), cfg.webhook_timeout)?,
        None => channel::Channel::Log,
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    for spec in policies::NotifyCustomer::specs() {
        svc.consume(
            spec,
            policies::NotifyCustomer {
                channel: channel.name(),
                wake: wake.clone(),
            },
        );
    }
    let sender = sender::Sender {
        pool: svc.db.pool.clone(),
        channel,
        wake,
        outbox: svc.outbox.clone(),
    };
    let shutdown = svc.shutdown.clone();
    svc.spawn(sender.run(shutdown));
    let api = api::NotificationApi::new(svc.db.pool.clone());
    let server = GrpcServer::new().add_service(
        NotificationServiceServer::new(api).max_decoding_message_size(cfg.common.max_message_bytes),
    );
    svc.serve(server, listener).await
}
