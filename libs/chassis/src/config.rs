//! Configuration from environment variables, with every problem reported at once.
//!
//! A service reads its settings through [`Env`], which records each bad value instead of
//! stopping at the first, then calls [`Env::finish`]: the operator sees the whole list in one
//! readable message and the process exits non-zero.
//!
//! ```
//! use fd_chassis::config::Env;
//! let mut env = Env::from_pairs([("PAYMENT_TIMEOUT_MS", "abc")]);
//! let _timeout = env.millis("PAYMENT_TIMEOUT_MS", 1000);
//! let err = env.finish().unwrap_err();
//! assert!(err.to_string().contains("PAYMENT_TIMEOUT_MS"));
//! ```

use std::collections::HashMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Every configuration problem found, one line each.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  {}", .0.join("\n  "))]
pub struct ConfigError(pub Vec<String>);

/// A snapshot of environment variables plus the problems found while reading them.
#[derive(Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    errors: Vec<String>,
    /// Every key read, in order (for `--help`), shared with [`Env::recording`]'s caller.
    read: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// Uses the given pairs instead of the process environment (tests, tools).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            errors: Vec::new(),
            read: Default::default(),
        }
    }

    /// An empty environment that remembers which keys are read: reading a configuration from
    /// it lists every variable the configuration knows (what `--help` prints).
    pub fn recording() -> (Self, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let env = Self::default();
        let read = env.read.clone();
        (env, read)
    }

    /// The raw value, if set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        if let Ok(mut read) = self.read.lock() {
            if !read.iter().any(|k| k == key) {
                read.push(key.to_string());
            }
        }
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A string value, or `default` when unset.
    pub fn string(&mut self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    /// A value parsed with `FromStr`, or `default` when unset. A value that does not parse is
    /// recorded as an error and `default` is returned so reading can go on.
    pub fn parse<T>(&mut self, key: &str, default: T) -> T
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.get(key) {
            None => default,
            Some(raw) => match raw.trim().parse() {
                Ok(v) => v,
                Err(e) => {
                    self.errors.push(format!("{key}={raw:?}: {e}"));
                    default
                }
            },
        }
    }

    /// A duration given in milliseconds.
    pub fn millis(&mut self, key: &str, default_ms: u64) -> Duration {
        Duration::from_millis(self.parse(key, default_ms))
    }

    /// Records `message` against `key` unless `ok`.
    pub fn check(&mut self, key: &str, ok: bool, message: impl Display) {
        if !ok {
            let shown = self.get(key).unwrap_or("<default>").to_string();
            self.errors.push(format!("{key}={shown:?}: {message}"));
        }
    }

    /// Records `message` against `key` unless `ok`, without showing the value (secrets).
    pub fn check_secret(&mut self, key: &str, ok: bool, message: impl Display) {
        if !ok {
            self.errors.push(format!("{key}: {message}"));
        }
    }

    /// Ok if every value read so far was valid.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.errors))
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?}; expected text or json"
            )),
        }
    }
}

/// Settings every service has.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `LISTEN_ADDR`: where the gRPC server listens.
    pub listen_addr: SocketAddr,
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`; default `sqlite://$DATA_DIR/<service>.db`.
    pub database_url: String,
    /// `SHUTDOWN_GRACE_MS`: how long in-flight calls may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// `LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `NATS_URL`: the NATS server with JetStream.
    pub nats_url: String,
    /// `NATS_NKEY_SEED`, `NATS_USER`/`NATS_PASSWORD`, `NATS_CA_FILE`, ...: the service's
    /// own NATS user and how it trusts the server ([`crate::nats::Access`]).
    pub nats_access: crate::nats::Access,
    /// `NATS_STREAM_REPLICAS`: copies JetStream keeps of the service's stream and of the dead
    /// letters (1; 3 on a three-server cluster).
    pub stream_replicas: usize,
    /// `MAX_IN_FLIGHT`: requests served at once; more are refused with RESOURCE_EXHAUSTED
    /// instead of queueing without bound (health checks are exempt).
    pub max_in_flight: usize,
    /// `MAX_MESSAGE_BYTES`: largest request message accepted.
    pub max_message_bytes: usize,
    /// `AUTH_JWKS_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_LEEWAY_S`: who may call
    /// ([`crate::auth`]); every API request must carry a token this issuer signed.
    pub auth: crate::auth::AuthConfig,
    /// `METRICS_ADDR`: where Prometheus scrapes `/metrics` ([`crate::metrics`]); by default
    /// the gRPC port + 1000 on loopback (order 51051), `off` for none.
    pub metrics_addr: Option<SocketAddr>,
}

impl CommonConfig {
    /// Reads the common settings of the service `def`.
    pub fn read(env: &mut Env, def: &crate::service::Definition) -> Self {
        let (service, default_port) = (def.name, def.default_port);
        let listen_addr = env.parse(
            "LISTEN_ADDR",
            SocketAddr::from(([127, 0, 0, 1], default_port)),
        );
        let data_dir = PathBuf::from(env.string("DATA_DIR", "data"));
        let default_url = format!(
            "sqlite://{}",
            data_dir.join(format!("{service}.db")).display()
        );
        let database_url = env.string("DATABASE_URL", &default_url);
        let scheme_ok = database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://");
        env.check(
            "DATABASE_URL",
            scheme_ok,
            "expected a sqlite://PATH or postgres://USER@HOST/DB URL",
        );
        let shutdown_grace = env.millis("SHUTDOWN_GRACE_MS", 10_000);
        let log_format = env.parse("LOG_FORMAT", LogFormat::Text);
        let nats_url = env.string("NATS_URL", "nats://127.0.0.1:4222");
        if let Err(why) = crate::nats::check_url(&nats_url) {
            env.check_secret("NATS_URL", false, why);
        }
        let nats_access = crate::nats::Access::read(env);
        let stream_replicas = env.parse("NATS_STREAM_REPLICAS", 1usize);
        env.check(
            "NATS_STREAM_REPLICAS",
            (1..=5).contains(&stream_replicas),
            "must be 1 to 5 (JetStream's limit), at most the servers in the cluster",
        );
        let max_in_flight = env.parse("MAX_IN_FLIGHT", 1024usize);
        env.check("MAX_IN_FLIGHT", max_in_flight > 0, "must be > 0");
        let max_message_bytes = env.parse("MAX_MESSAGE_BYTES", 1024 * 1024usize);
        env.check(
            "MAX_MESSAGE_BYTES",
            max_message_bytes >= 1024,
            "must be >= 1024",
        );
        let auth = crate::auth::AuthConfig::read(env);
        let default_metrics = SocketAddr::from(([127, 0, 0, 1], default_port.saturating_add(1000)));
        let metrics = env.string("METRICS_ADDR", &default_metrics.to_string());
        let metrics_addr = if metrics.eq_ignore_ascii_case("off") {
            None
        } else {
            let parsed = metrics.parse::<SocketAddr>().ok();
            env.check(
                "METRICS_ADDR",
                parsed.is_some(),
                format!("expected HOST:PORT (e.g. 0.0.0.0:9464) or off, got {metrics:?}"),
            );
            parsed
        };
        Self {
            listen_addr,
            database_url,
            shutdown_grace,
            log_format,
            nats_url,
            nats_access,
            stream_replicas,
            max_in_flight,
            max_message_bytes,
            auth,
            metrics_addr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;
    const TEST: crate::service::Definition = crate::service::Definition {
        name: "order",
        about: "test",
        version: "0",
        default_port: 50051,
        migrator: &NONE,
        consumes: &[],
    };

    #[test]
    fn a_recording_env_lists_every_key_read() {
        let (mut env, read) = Env::recording();
        CommonConfig::read(&mut env, &TEST);
        let keys = read.lock().expect("lock").clone();
        for key in [
            "LISTEN_ADDR",
            "DATABASE_URL",
            "NATS_URL",
            "LOG_FORMAT",
            "AUTH_JWKS_URL",
            "AUTH_ISSUER",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} not in {keys:?}");
        }
    }

    #[test]
    fn defaults_apply_when_unset() {
        // Everything has a default but whom to trust.
        let mut env = Env::from_pairs([
            (
                "AUTH_JWKS_URL",
                "http://127.0.0.1:50050/.well-known/jwks.json",
            ),
            ("AUTH_ISSUER", "http://127.0.0.1:50050"),
        ]);
        let c = CommonConfig::read(&mut env, &TEST);
        env.finish().expect("defaults are valid");
        assert_eq!(c.auth.audience, "fooddelivery");
        assert_eq!(c.listen_addr.port(), 50051);
        assert_eq!(c.database_url, "sqlite://data/order.db");
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(
            c.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 51051)))
        );
    }

    #[test]
    fn metrics_can_move_or_be_turned_off_and_a_bad_address_is_named() {
        let trust = [
            (
                "AUTH_JWKS_URL",
                "http://127.0.0.1:50050/.well-known/jwks.json",
            ),
            ("AUTH_ISSUER", "http://127.0.0.1:50050"),
        ];
        let read = |value: &str| {
            let mut env = Env::from_pairs(trust.iter().copied().chain([("METRICS_ADDR", value)]));
            let c = CommonConfig::read(&mut env, &TEST);
            env.finish().map(|()| c.metrics_addr)
        };
        assert_eq!(
            read("0.0.0.0:9464").expect("valid"),
            Some(SocketAddr::from(([0, 0, 0, 0], 9464)))
        );
        assert_eq!(read("off").expect("valid"), None);
        let msg = read("9464").expect_err("no host").to_string();
        assert!(
            msg.contains("METRICS_ADDR") && msg.contains("HOST:PORT"),
            "{msg}"
        );
    }

    #[test]
    fn a_service_that_does_not_know_whom_to_trust_does_not_start() {
        let mut env = Env::from_pairs(Vec::<(String, String)>::new());
        CommonConfig::read(&mut env, &TEST);
        let msg = env.finish().expect_err("no issuer").to_string();
        assert!(
            msg.contains("AUTH_JWKS_URL") && msg.contains("AUTH_ISSUER"),
            "{msg}"
        );
    }

    #[test]
    fn every_bad_value_is_reported_at_once() {
        let mut env = Env::from_pairs([
            ("LISTEN_ADDR", "nowhere"),
            ("DATABASE_URL", "mysql://x"),
            ("SHUTDOWN_GRACE_MS", "-5"),
            ("LOG_FORMAT", "xml"),
            ("NATS_URL", "http://nats"),
        ]);
        CommonConfig::read(&mut env, &TEST);
        let msg = env.finish().expect_err("all four are bad").to_string();
        for key in [
            "LISTEN_ADDR",
            "DATABASE_URL",
            "SHUTDOWN_GRACE_MS",
            "LOG_FORMAT",
        ] {
            assert!(msg.contains(key), "{key} missing from: {msg}");
        }
    }
}
