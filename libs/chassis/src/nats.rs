//! NATS JetStream: connecting, the one stream per publishing context, CloudEvents headers.
//!
//! Subjects are the events' fully qualified protobuf names (`fooddelivery.order.v1.OrderPlaced`),
//! so the stream of context `order` captures `fooddelivery.order.>`. Payloads are protobuf
//! binary; the CloudEvents attributes travel as headers (binary content mode).

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;

/// Window in which JetStream drops a second message with the same `Nats-Msg-Id`.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Subject prefix of dead letters: `deadletter.<service>.<policy>`.
pub const DEAD_LETTER_PREFIX: &str = "deadletter";
/// Name of the stream that keeps dead letters.
pub const DEAD_LETTER_STREAM: &str = "DEADLETTER";
/// How long a context's stream keeps its events (new consumers and redeliveries read them).
pub const EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long dead letters wait to be replayed.
pub const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a consumer remembers that it applied an event: longer than any copy of it can
/// come back (a replayed dead letter is the oldest), so no event is applied twice.
pub const PROCESSED_RETENTION: Duration = Duration::from_secs(31 * 24 * 3600);

/// Who a service is to NATS and how it trusts the server: `NATS_NKEY_SEED` (the service's
/// own user, whose permissions the server holds: see `fdctl nats-auth`) or `NATS_USER` +
/// `NATS_PASSWORD` (or `nats://user:pass@host` in `NATS_URL`), and for `tls://` URLs
/// `NATS_CA_FILE` (the server's CA) and `NATS_CERT_FILE` + `NATS_KEY_FILE` (a client
/// certificate, if the server asks for one). Secrets never appear in logs or errors.
#[derive(Clone, Default)]
pub struct Access {
    /// `NATS_NKEY_SEED`: the seed of the service's nkey user (`SU...`).
    pub nkey_seed: Option<String>,
    /// `NATS_USER` and `NATS_PASSWORD`.
    pub user_password: Option<(String, String)>,
    /// `NATS_CA_FILE`: PEM roots to trust for the server's certificate.
    pub ca_file: Option<std::path::PathBuf>,
    /// `NATS_CERT_FILE` and `NATS_KEY_FILE`: a client certificate (PEM).
    pub client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("nkey_seed", &self.nkey_seed.as_ref().map(|_| "<redacted>"))
            .field(
                "user",
                &self.user_password.as_ref().map(|(u, _)| u.as_str()),
            )
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .finish()
    }
}

impl Access {
    /// Reads `NATS_NKEY_SEED`, `NATS_USER`, `NATS_PASSWORD`, `NATS_CA_FILE`, `NATS_CERT_FILE`,
    /// `NATS_KEY_FILE`; every problem is recorded without echoing a secret.
    pub fn read(env: &mut crate::config::Env) -> Self {
        let nkey_seed = env.get("NATS_NKEY_SEED").map(str::to_string);
        if let Some(seed) = &nkey_seed {
            let ok = nkeys::KeyPair::from_seed(seed.trim())
                .is_ok_and(|k| k.key_pair_type() == nkeys::KeyPairType::User);
            env.check_secret(
                "NATS_NKEY_SEED",
                ok,
                "not the seed of an nkey user (expected SU..., as `fdctl nats-auth` writes)",
            );
        }
        let user = env.get("NATS_USER").map(str::to_string);
        let password = env.get("NATS_PASSWORD").map(str::to_string);
        env.check_secret(
            "NATS_PASSWORD",
            user.is_some() == password.is_some(),
            "NATS_USER and NATS_PASSWORD go together",
        );
        env.check_secret(
            "NATS_NKEY_SEED",
            !(nkey_seed.is_some() && user.is_some()),
            "set either NATS_NKEY_SEED or NATS_USER/NATS_PASSWORD, not both",
        );
        let file = |env: &mut crate::config::Env, key: &str| {
            let path = env.get(key).map(std::path::PathBuf::from)?;
            env.check(key, path.is_file(), "no such file");
            Some(path)
        };
        let ca_file = file(env, "NATS_CA_FILE");
        let cert = file(env, "NATS_CERT_FILE");
        let key = file(env, "NATS_KEY_FILE");
        env.check(
            "NATS_CERT_FILE",
            cert.is_some() == key.is_some(),
            "NATS_CERT_FILE and NATS_KEY_FILE go together",
        );
        Self {
            nkey_seed: nkey_seed.map(|s| s.trim().to_string()),
            user_password: user.zip(password),
            ca_file,
            client_cert: cert.zip(key),
        }
    }
}

/// `url` with any password replaced by `***`, for logs and errors (each server of a
/// comma-separated list).
pub fn redact(url: &str) -> String {
    if url.contains(',') {
        return servers(url).map(redact).collect::<Vec<_>>().join(",");
    }
    match split_credentials(url) {
        (bare, Some((user, _))) => match bare.split_once("://") {
            Some((scheme, rest)) => format!("{scheme}://{user}:***@{rest}"),
            None => bare,
        },
        (bare, None) => bare,
    }
}

/// `url` without its `user:password@` part, and that part (async-nats ignores credentials in
/// a URL, so they are taken out and given to it separately).
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (
                format!("{scheme}://{host}{path}"),
                Some((user.to_string(), password.to_string())),
            )
        }
        None => (url.to_string(), None),
    }
}

/// The servers of a `NATS_URL`: one URL, or several separated by commas (the members of a
/// cluster; the client connects to one and moves to another when it goes away).
pub fn servers(url: &str) -> impl Iterator<Item = &str> {
    url.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// Why a `NATS_URL` cannot be used, if it cannot: every server must be `nats://` or `tls://`.
pub fn check_url(url: &str) -> Result<(), String> {
    let mut any = false;
    for server in servers(url) {
        any = true;
        if !(server.starts_with("nats://") || server.starts_with("tls://")) {
            return Err(format!(
                "{:?}: expected a URL such as nats://127.0.0.1:4222 (or several, comma-separated)",
                redact(server)
            ));
        }
        let (bare, _) = split_credentials(server);
        if bare.parse::<async_nats::ServerAddr>().is_err() {
            return Err(format!("{:?}: not a server address", redact(server)));
        }
    }
    if any {
        Ok(())
    } else {
        Err("no server given".into())
    }
}

/// The servers of `url` without credentials, and the first `user:password@` found.
fn addresses(url: &str) -> (Vec<async_nats::ServerAddr>, Option<(String, String)>) {
    let mut credentials = None;
    let mut addrs = Vec::new();
    for server in servers(url) {
        let (bare, c) = split_credentials(server);
        credentials = credentials.or(c);
        if let Ok(addr) = bare.parse() {
            addrs.push(addr);
        }
    }
    (addrs, credentials)
}

/// Connects once to `url`, using the `user:password@` in it if there is one (tools and tests;
/// services use [`connect`]).
pub async fn connect_url(url: &str) -> Result<async_nats::Client, async_nats::ConnectError> {
    let (addrs, credentials) = addresses(url);
    let mut opts = async_nats::ConnectOptions::new();
    if let Some((user, password)) = credentials {
        opts = opts.user_and_password(user, password);
    }
    opts.connect(addrs).await
}

/// Connects to `url` as `name` with `access`. Returns at once even if NATS is down: the
/// client keeps reconnecting in the background, so a service takes orders while NATS is away
/// (the outbox holds the events). Replies come to `_INBOX_<name>.>`, so a server can let each
/// service subscribe to its own inbox only.
pub async fn connect(
    url: &str,
    name: &str,
    access: &Access,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let mut opts = async_nats::ConnectOptions::new()
        .name(name)
        .custom_inbox_prefix(inbox_prefix(name))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2));
    if let Some(seed) = &access.nkey_seed {
        opts = opts.nkey(seed.clone());
    }
    let (addrs, in_url) = addresses(url);
    if let Some((user, password)) = access.user_password.clone().or(in_url) {
        opts = opts.user_and_password(user, password);
    }
    if servers(url).any(|s| s.starts_with("tls://")) {
        opts = opts.require_tls(true);
    }
    if let Some(ca) = &access.ca_file {
        opts = opts.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &access.client_cert {
        opts = opts.add_client_certificate(cert.clone(), key.clone());
    }
    opts.connect(addrs).await
}

/// The inbox prefix of service `name`: `_INBOX_<name>`.
pub fn inbox_prefix(name: &str) -> String {
    format!("_INBOX_{name}")
}

/// The oldest NATS server the services run on: consumers filter by several subjects
/// (`filter_subjects`), which older servers silently ignore.
pub const MIN_SERVER_VERSION: (u64, u64) = (2, 10);

/// Error when the server is older than [`MIN_SERVER_VERSION`].
#[derive(Debug, thiserror::Error)]
#[error(
    "NATS server {version} at {url} is too old: this system needs NATS >= {}.{} (JetStream \
     consumers with filter_subjects, which older servers silently ignore); upgrade the server \
     or point NATS_URL at a newer one (`make run` provides one)",
    MIN_SERVER_VERSION.0,
    MIN_SERVER_VERSION.1
)]
pub struct TooOld {
    /// What the server reported.
    pub version: String,
    /// Where it is.
    pub url: String,
}

/// `(major, minor)` of a server version such as `2.10.22` or `v2.9.10-beta`.
pub fn parse_version(v: &str) -> Option<(u64, u64)> {
    let mut parts = v.trim_start_matches('v').split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Refuses a connected server older than [`MIN_SERVER_VERSION`]. Does nothing while not
/// connected (nothing is consumed then either).
pub async fn require_server_version(client: &async_nats::Client) -> Result<(), TooOld> {
    if client.connection_state() != async_nats::connection::State::Connected {
        return Ok(());
    }
    // The client may report Connected a moment before it has stored the server's INFO.
    let mut info = client.server_info();
    for _ in 0..200 {
        if !info.version.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        info = client.server_info();
    }
    if info.version.is_empty() {
        // Cannot tell (no INFO yet): the consumers check again when they (re)connect.
        return Ok(());
    }
    match parse_version(&info.version) {
        Some(v) if v >= MIN_SERVER_VERSION => Ok(()),
        _ => Err(TooOld {
            version: info.version.clone(),
            url: format!("{}:{}", info.host, info.port),
        }),
    }
}

/// Waits up to `wait` for the first connection, then checks the server's version: a service
/// refuses to start on a server that would break its consumers. A NATS that is down at start
/// is not an error (the outbox holds events until it is back; consumers check again then).
pub async fn check_server_at_start(
    client: &async_nats::Client,
    url: &str,
    wait: Duration,
) -> Result<(), TooOld> {
    let deadline = tokio::time::Instant::now() + wait;
    while client.connection_state() != async_nats::connection::State::Connected
        && tokio::time::Instant::now() < deadline
    {
        // Short: this wait is part of every service's start-up time.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    require_server_version(client).await.map_err(|e| TooOld {
        url: redact(url),
        ..e
    })
}

/// Stream name of a context: `ORDER` for `order`.
pub fn stream_name(context: &str) -> String {
    context.to_ascii_uppercase()
}

/// The stream of a publishing context: file storage, duplicate window, every subject of the
/// context's packages, kept on `replicas` servers (`NATS_STREAM_REPLICAS`: 1 on one server,
/// 3 in a cluster, so that one lost server loses nothing and stops nothing).
pub fn stream_config(context: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: stream_name(context),
        subjects: vec![format!("fooddelivery.{context}.>")],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: EVENT_RETENTION,
        num_replicas: replicas.max(1),
        ..Default::default()
    }
}

/// Creates or updates the stream of `context` (idempotent; safe at every start; a changed
/// replica count or retention is applied to an existing stream).
pub async fn ensure_stream(
    js: &jetstream::Context,
    context: &str,
    replicas: usize,
) -> Result<(), async_nats::Error> {
    js.create_or_update_stream(stream_config(context, replicas))
        .await?;
    Ok(())
}

/// Creates the dead-letter stream unless it exists (every service may create it, none may
/// change it: a service's NATS user has `STREAM.CREATE.DEADLETTER`, not `UPDATE`).
pub async fn ensure_dead_letter_stream(
    js: &jetstream::Context,
    replicas: usize,
) -> Result<(), async_nats::Error> {
    js.get_or_create_stream(stream::Config {
        name: DEAD_LETTER_STREAM.into(),
        subjects: vec![format!("{DEAD_LETTER_PREFIX}.>")],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: DEAD_LETTER_RETENTION,
        num_replicas: replicas.max(1),
        ..Default::default()
    })
    .await?;
    Ok(())
}

/// What a published event says about itself, as CloudEvents attributes.
#[derive(Debug, Clone)]
pub struct CloudEvent<'a> {
    /// `ce-id` and `Nats-Msg-Id`: the event id.
    pub id: &'a str,
    /// `ce-source`: the publishing service, e.g. `/fooddelivery/order`.
    pub source: &'a str,
    /// `ce-type`: the event's fully qualified name.
    pub event_type: &'a str,
    /// `ce-subject`: the aggregate id.
    pub subject: &'a str,
    /// `ce-time`: when it occurred, ms since the epoch.
    pub time_ms: i64,
}

/// The NATS headers of an event (CloudEvents binary content mode plus `Nats-Msg-Id`).
pub fn headers(ce: &CloudEvent<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", ce.id);
    h.insert("ce-specversion", "1.0");
    h.insert("ce-id", ce.id);
    h.insert("ce-source", ce.source);
    h.insert("ce-type", ce.event_type);
    h.insert("ce-subject", ce.subject);
    h.insert("ce-time", crate::time::rfc3339(ce.time_ms).as_str());
    // The NATS protocol binding carries every attribute as a `ce-` header, datacontenttype
    // included; `content-type` is kept for NATS tools that read only that.
    h.insert("ce-datacontenttype", "application/protobuf");
    h.insert("content-type", "application/protobuf");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_of_a_context_captures_its_packages() {
        let c = stream_config("order", 1);
        assert_eq!(c.name, "ORDER");
        assert_eq!(c.num_replicas, 1);
        assert_eq!(stream_config("order", 3).num_replicas, 3);
        assert_eq!(c.subjects, ["fooddelivery.order.>"]);
        assert_eq!(c.duplicate_window, DUPLICATE_WINDOW);
        assert_eq!(c.max_age, EVENT_RETENTION);
        // A consumer forgets an event only after every copy of it is gone.
        assert!(PROCESSED_RETENTION > DEAD_LETTER_RETENTION);
        assert!(DEAD_LETTER_RETENTION > EVENT_RETENTION);
    }

    #[test]
    fn headers_carry_cloudevents_attributes() {
        let h = headers(&CloudEvent {
            id: "e1",
            source: "/fooddelivery/order",
            event_type: "fooddelivery.order.v1.OrderPlaced",
            subject: "o1",
            time_ms: 0,
        });
        let get = |k: &str| h.get(k).map(|v| v.as_str().to_string());
        assert_eq!(get("Nats-Msg-Id").as_deref(), Some("e1"));
        assert_eq!(
            get("ce-type").as_deref(),
            Some("fooddelivery.order.v1.OrderPlaced")
        );
        assert_eq!(get("ce-subject").as_deref(), Some("o1"));
        assert_eq!(get("ce-time").as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(get("content-type").as_deref(), Some("application/protobuf"));
        assert_eq!(
            get("ce-datacontenttype").as_deref(),
            Some("application/protobuf")
        );
    }

    #[test]
    fn credentials_in_a_url_are_taken_out_and_never_shown() {
        let url = "nats://admin:s3cret@127.0.0.1:4222";
        assert_eq!(
            split_credentials(url),
            (
                "nats://127.0.0.1:4222".to_string(),
                Some(("admin".to_string(), "s3cret".to_string()))
            )
        );
        assert_eq!(redact(url), "nats://admin:***@127.0.0.1:4222");
        assert_eq!(redact("tls://nats:4222"), "tls://nats:4222");
        // Bad settings are reported without echoing a password or a seed.
        let mut env2 = crate::config::Env::from_pairs([
            ("NATS_URL", "http://admin:s3cret@nats"),
            ("NATS_NKEY_SEED", "SUnotaseed"),
            ("NATS_USER", "order"),
            ("AUTH_JWKS_URL", "http://127.0.0.1:1/jwks"),
            ("AUTH_ISSUER", "http://127.0.0.1:1"),
        ]);
        let def = crate::service::Definition {
            name: "order",
            about: "",
            version: "0",
            default_port: 1,
            migrator: &NONE,
            consumes: &[],
        };
        crate::config::CommonConfig::read(&mut env2, &def);
        let msg = env2.finish().expect_err("bad").to_string();
        assert!(
            msg.contains("NATS_URL") && msg.contains("NATS_NKEY_SEED"),
            "{msg}"
        );
        assert!(msg.contains("NATS_PASSWORD"), "{msg}");
        assert!(
            !msg.contains("s3cret") && !msg.contains("SUnotaseed"),
            "{msg}"
        );
    }

    static NONE: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

    #[test]
    fn a_cluster_is_a_comma_separated_list_of_servers() {
        let url = "nats://a:4222, nats://admin:pw@b:4222,tls://c:4222";
        assert_eq!(
            servers(url).collect::<Vec<_>>(),
            ["nats://a:4222", "nats://admin:pw@b:4222", "tls://c:4222"]
        );
        let (addrs, credentials) = addresses(url);
        assert_eq!(addrs.len(), 3);
        assert_eq!(credentials, Some(("admin".into(), "pw".into())));
        assert_eq!(
            redact(url),
            "nats://a:4222,nats://admin:***@b:4222,tls://c:4222"
        );
        assert!(check_url(url).is_ok());
        let bad = check_url("nats://a:4222,http://admin:pw@b").expect_err("http");
        assert!(
            bad.contains("http://admin:***@b") && !bad.contains("pw"),
            "{bad}"
        );
        assert!(check_url(" , ").is_err());
    }

    #[test]
    fn server_versions_are_compared_numerically() {
        assert_eq!(parse_version("2.10.22"), Some((2, 10)));
        assert_eq!(parse_version("v2.9.10-beta"), Some((2, 9)));
        assert!(parse_version("2.9.10").is_some_and(|v| v < MIN_SERVER_VERSION));
        assert!(parse_version("2.15.1").is_some_and(|v| v >= MIN_SERVER_VERSION));
        assert!(parse_version("3.0.0").is_some_and(|v| v >= MIN_SERVER_VERSION));
        assert_eq!(parse_version("garbage"), None);
    }
}
