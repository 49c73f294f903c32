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

/// Connects to `url`. Returns at once even if NATS is down: the client keeps reconnecting in
/// the background, so a service takes orders while NATS is away (the outbox holds the events).
pub async fn connect(
    url: &str,
    name: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .connect(url)
        .await
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
        url: url.to_string(),
        ..e
    })
}

/// Stream name of a context: `ORDER` for `order`.
pub fn stream_name(context: &str) -> String {
    context.to_ascii_uppercase()
}

/// The stream of a publishing context: file storage, duplicate window, every subject of the
/// context's packages.
pub fn stream_config(context: &str) -> stream::Config {
    stream::Config {
        name: stream_name(context),
        subjects: vec![format!("fooddelivery.{context}.>")],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    }
}

/// Creates or updates the stream of `context` (idempotent; safe at every start).
pub async fn ensure_stream(
    js: &jetstream::Context,
    context: &str,
) -> Result<(), async_nats::Error> {
    js.create_or_update_stream(stream_config(context)).await?;
    Ok(())
}

/// Creates or updates the dead-letter stream.
pub async fn ensure_dead_letter_stream(js: &jetstream::Context) -> Result<(), async_nats::Error> {
    js.create_or_update_stream(stream::Config {
        name: DEAD_LETTER_STREAM.into(),
        subjects: vec![format!("{DEAD_LETTER_PREFIX}.>")],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
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
        let c = stream_config("order");
        assert_eq!(c.name, "ORDER");
        assert_eq!(c.subjects, ["fooddelivery.order.>"]);
        assert_eq!(c.duplicate_window, DUPLICATE_WINDOW);
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
    fn server_versions_are_compared_numerically() {
        assert_eq!(parse_version("2.10.22"), Some((2, 10)));
        assert_eq!(parse_version("v2.9.10-beta"), Some((2, 9)));
        assert!(parse_version("2.9.10").is_some_and(|v| v < MIN_SERVER_VERSION));
        assert!(parse_version("2.15.1").is_some_and(|v| v >= MIN_SERVER_VERSION));
        assert!(parse_version("3.0.0").is_some_and(|v| v >= MIN_SERVER_VERSION));
        assert_eq!(parse_version("garbage"), None);
    }
}
