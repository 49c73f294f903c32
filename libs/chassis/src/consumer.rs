//! Consuming events: one durable JetStream pull consumer per (service, policy).
//!
//! For each message the runner opens a transaction, records the event id in
//! `fd_processed_events` and runs the policy in the same transaction, then commits and acks.
//! A redelivered event finds its id recorded and is acked without effect. A policy error
//! rolls everything back: transient errors (a database away, a lost race) are redelivered with
//! exponential backoff — 200 ms doubling up to a minute, 20 deliveries: about 12 minutes, so
//! an outage of minutes loses nothing; permanent errors (including payloads that do not decode) and exhausted retries go to
//! the dead-letter subject `deadletter.<service>.<policy>` with the reason in the
//! `fd-error` header, and the stream goes on. On shutdown the message in hand is finished.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, AckKind};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use sqlx::{AnyConnection, AnyPool};
use tracing::Instrument;

use crate::db::Engine;
use crate::nats::DEAD_LETTER_PREFIX;
use crate::outbox::OutboxSignal;
use crate::shutdown::Shutdown;
use crate::time::now_ms;

/// An event as a policy sees it.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// NATS subject = event type.
    pub subject: String,
    /// `ce-id`.
    pub event_id: String,
    /// Protobuf payload.
    pub payload: Bytes,
    /// All headers (CloudEvents, trace context).
    pub headers: HeaderMap,
}

impl Incoming {
    /// The event a JetStream message carries, if `spec`'s consumer may apply it; otherwise why
    /// not (the message is then dead-lettered, never applied):
    /// - it has no event id (`ce-id`, or `Nats-Msg-Id` from publishers that only set that);
    /// - its subject is not one the consumer subscribed to (a server that ignored
    ///   `filter_subjects` delivered it);
    /// - its `ce-type` names another type than its subject (a payload would be decoded as the
    ///   wrong message).
    fn from_message(msg: &jetstream::Message, spec: &ConsumerSpec) -> Result<Incoming, String> {
        let headers = msg.headers.clone().unwrap_or_default();
        let subject = msg.subject.to_string();
        if !spec.subjects.contains(&subject) {
            return Err(format!(
                "subject {subject} is not one this consumer subscribed to ({})",
                spec.subjects.join(", ")
            ));
        }
        if let Some(ce_type) = headers.get("ce-type").map(|v| v.as_str()) {
            if ce_type != subject {
                return Err(format!(
                    "ce-type {ce_type} does not match subject {subject}; not applied"
                ));
            }
        }
        let event_id = headers
            .get("ce-id")
            .or_else(|| headers.get("Nats-Msg-Id"))
            .map(|v| v.as_str().to_string())
            .ok_or_else(|| "no ce-id header".to_string())?;
        Ok(Incoming {
            subject,
            event_id,
            payload: msg.payload.clone(),
            headers,
        })
    }

    /// Decodes the payload as the event `E`, which must be the type the message says it is
    /// (its subject): a mismatch is a permanent error, never a wrong decode. Unknown fields
    /// are skipped (additive evolution).
    pub fn decode<E: fd_proto::Event>(&self) -> Result<E, PolicyError> {
        if self.subject != E::TYPE {
            return Err(PolicyError::Permanent(format!(
                "a {} message cannot be decoded as {}",
                self.subject,
                E::TYPE
            )));
        }
        E::decode(self.payload.clone())
            .map_err(|e| PolicyError::Permanent(format!("undecodable {}: {e}", self.subject)))
    }
}

/// Why a policy could not handle an event.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Will never work (bad payload, impossible state): dead letter at once.
    #[error("permanent: {0}")]
    Permanent(String),
    /// May work later (database busy, ...): redeliver with backoff.
    #[error("transient: {0}")]
    Transient(String),
}

impl From<crate::errors::AppError> for PolicyError {
    fn from(e: crate::errors::AppError) -> Self {
        use crate::errors::AppError;
        match e {
            // Storage trouble and lost races may pass; the rest never will.
            AppError::Storage(_) | AppError::Conflict(_) => Self::Transient(e.to_string()),
            _ => Self::Permanent(e.to_string()),
        }
    }
}

impl From<crate::outbox::RecordError> for PolicyError {
    fn from(e: crate::outbox::RecordError) -> Self {
        crate::errors::AppError::from(e).into()
    }
}

impl From<sqlx::Error> for PolicyError {
    fn from(e: sqlx::Error) -> Self {
        Self::Transient(e.to_string())
    }
}

/// A reaction to events.
#[async_trait::async_trait]
pub trait Policy: Send + Sync + 'static {
    /// Applies the event's effect on `tx` (inside the transaction that also records the event
    /// as processed; write outbox rows on it too).
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError>;

    /// Applies the new events of a batch, in order, on the batch's transaction; `spans[i]` is
    /// `msgs[i]`'s process span (enter it for that event's work, so that what it records
    /// continues the event's trace). The default applies each alone with [`Policy::handle`];
    /// a policy whose effect is a row per event can write a run of them in one statement,
    /// as long as a later event still sees the effects of the earlier ones.
    async fn handle_batch(
        &self,
        tx: &mut AnyConnection,
        msgs: &[&Incoming],
        spans: &[tracing::Span],
    ) -> Result<(), PolicyError> {
        for (msg, span) in msgs.iter().zip(spans) {
            self.handle(tx, msg).instrument(span.clone()).await?;
        }
        Ok(())
    }

    /// Called after the effect committed (e.g. to wake watchers of a read model).
    fn after_commit(&self, _msg: &Incoming) {}
}

/// Where a consumer reads and how it retries.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// The consuming service, e.g. `store`.
    pub service: String,
    /// The policy, e.g. `ticket-on-order-placed`. Durable name: `<service>-<policy>`.
    pub policy: String,
    /// Stream to read, e.g. `ORDER`.
    pub stream: String,
    /// Subjects (event types) to receive.
    pub subjects: Vec<String>,
    /// Deliveries before a transiently failing event goes to dead letter.
    pub max_deliver: i64,
    /// Delay before the first redelivery after a transient failure; it doubles each time.
    pub retry_delay: Duration,
    /// The longest delay between two deliveries.
    pub max_retry_delay: Duration,
}

impl ConsumerSpec {
    /// A consumer of `service` running `policy` on the events `subjects` (fully qualified
    /// names, all of one context), with 20 deliveries, 200 ms doubling up to 60 s between
    /// them (≈ 12 minutes before a transiently failing event is dead-lettered).
    pub fn new(service: &str, policy: &str, subjects: &[&str]) -> Self {
        let context = subjects
            .first()
            .and_then(|s| s.split('.').nth(1))
            .unwrap_or("unknown");
        Self {
            service: service.into(),
            policy: policy.into(),
            stream: crate::nats::stream_name(context),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            max_deliver: 20,
            retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(60),
        }
    }

    /// The delay before delivery `delivered + 1` after a transient failure.
    pub fn backoff(&self, delivered: i64) -> Duration {
        let doublings = u32::try_from(delivered.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        self.retry_delay
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max_retry_delay)
    }

    /// The durable consumer name.
    pub fn durable(&self) -> String {
        format!("{}-{}", self.service, self.policy)
    }

    /// The dead-letter subject.
    pub fn dead_letter_subject(&self) -> String {
        format!("{DEAD_LETTER_PREFIX}.{}.{}", self.service, self.policy)
    }
}

/// The consumed stream does not exist yet: its publisher creates it when it starts.
#[derive(Debug, thiserror::Error)]
#[error("stream {0} does not exist yet (its publisher creates it at start)")]
struct NotYet(String);

/// How often a consumer looks for a stream its publisher has not created yet.
const NOT_YET_POLL: Duration = Duration::from_millis(200);

enum Outcome {
    Done,
    Duplicate,
    Retry(String),
    DeadLetter(String),
}

/// Runs one consumer until `shutdown`. Reconnects and re-creates the consumer while NATS or
/// the stream is away.
pub async fn run<P: Policy>(
    js: jetstream::Context,
    pool: AnyPool,
    spec: ConsumerSpec,
    policy: P,
    outbox: OutboxSignal,
    shutdown: Shutdown,
    dead_letter_replicas: usize,
) {
    let mut backoff = Duration::from_millis(100);
    let mut told = false;
    while !shutdown.is_fired() {
        match consume(
            &js,
            &pool,
            &spec,
            &policy,
            &outbox,
            &shutdown,
            dead_letter_replicas,
        )
        .await
        {
            Ok(()) => break,
            Err(e) if e.is::<NotYet>() => {
                // A publisher that starts later is normal: look again soon, say so once.
                if !told {
                    tracing::info!(consumer = %spec.durable(), error = %e, "waiting for the stream");
                    told = true;
                }
                tokio::select! {
                    () = tokio::time::sleep(NOT_YET_POLL) => {}
                    () = shutdown.wait() => break,
                }
            }
            Err(e) => {
                tracing::warn!(consumer = %spec.durable(), error = %e, retry_in = ?backoff, "consumer interrupted");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.wait() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::info!(consumer = %spec.durable(), "consumer stopped");
}

async fn consume<P: Policy>(
    js: &jetstream::Context,
    pool: &AnyPool,
    spec: &ConsumerSpec,
    policy: &P,
    outbox: &OutboxSignal,
    shutdown: &Shutdown,
    dead_letter_replicas: usize,
) -> Result<(), async_nats::Error> {
    // filter_subjects needs NATS 2.10: an older server would deliver every event of the
    // stream. Checked on every (re)connection, since a server can be replaced.
    crate::nats::require_server_version(&js.client()).await?;
    // Only a stream's publisher creates or updates it (and only it may); until it has, wait.
    crate::nats::ensure_dead_letter_stream(js, dead_letter_replicas).await?;
    let stream = match js.get_stream(&spec.stream).await {
        Ok(s) => s,
        Err(e) => {
            if let jetstream::context::GetStreamErrorKind::JetStream(j) = e.kind() {
                if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND {
                    return Err(Box::new(NotYet(spec.stream.clone())));
                }
            }
            return Err(e.into());
        }
    };
    // Created, or updated to this configuration: a changed spec (subjects, retries) takes
    // effect at the next start instead of being ignored by an existing durable.
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            durable_name: Some(spec.durable()),
            filter_subjects: spec.subjects.clone(),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            // One more than ours: we dead-letter at max_deliver ourselves, with the reason.
            max_deliver: spec.max_deliver + 1,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer.messages().await?;
    loop {
        let next = tokio::select! {
            m = messages.next() => m,
            () = shutdown.wait() => return Ok(()),
        };
        let Some(msg) = next else {
            return Err("message stream ended".into());
        };
        // Whatever else has already arrived joins this message in one transaction (group
        // commit): under load that shares BEGIN/COMMIT between messages, and on SQLite every
        // statement saved is a hand-off to the connection's thread saved (see README,
        // Performance). Alone, a message is processed exactly as before.
        let mut batch = vec![msg?];
        while batch.len() < BATCH_MAX {
            match futures::FutureExt::now_or_never(messages.next()) {
                Some(Some(Ok(m))) => batch.push(m),
                Some(Some(Err(e))) => return Err(e.into()),
                Some(None) | None => break,
            }
        }
        for m in &batch {
            observe_lag(spec, m);
        }
        let started = std::time::Instant::now();
        let recorded = crate::outbox::recorded_so_far();
        if batch.len() > 1 && process_batch(pool, spec, policy, &batch).await {
            wake_if_recorded(outbox, recorded);
            for m in &batch {
                observe_processed(spec, m, "processed", started.elapsed());
                m.ack().await?;
            }
            continue;
        }
        // One at a time (and the fallback when a batch failed: each message then gets its own
        // retries and dead-lettering, exactly as if it had come alone).
        for m in &batch {
            finish_one(js, pool, spec, policy, outbox, m).await?;
        }
    }
}

/// Wakes the relay if events were recorded since `before` (by this transaction, or another
/// task's: then the wake-up is one too many, never one too few).
fn wake_if_recorded(outbox: &OutboxSignal, before: u64) {
    if crate::outbox::recorded_so_far() != before {
        outbox.wake();
    }
}

/// Most messages one transaction takes.
const BATCH_MAX: usize = 32;

fn consumer_attrs(spec: &ConsumerSpec) -> opentelemetry::KeyValue {
    opentelemetry::KeyValue::new("messaging.consumer.group.name", spec.durable())
}

/// How far behind the consumer is, from the delivery's own metadata: messages still pending
/// and the age of this one.
fn observe_lag(spec: &ConsumerSpec, msg: &jetstream::Message) {
    let Ok(info) = msg.info() else { return };
    let m = crate::metrics::instruments();
    let group = [consumer_attrs(spec)];
    m.pending.record(info.pending, &group);
    let published_ms = info.published.unix_timestamp_nanos() / 1_000_000;
    #[allow(clippy::cast_precision_loss)]
    let age_s = (i128::from(now_ms()) - published_ms).max(0) as f64 / 1000.0;
    m.lag.record(age_s, &group);
}

/// `messaging.process.duration` of one message and how it ended.
fn observe_processed(
    spec: &ConsumerSpec,
    msg: &jetstream::Message,
    outcome: &'static str,
    elapsed: Duration,
) {
    crate::metrics::instruments().process.record(
        elapsed.as_secs_f64(),
        &[
            consumer_attrs(spec),
            opentelemetry::KeyValue::new("messaging.destination.name", msg.subject.to_string()),
            opentelemetry::KeyValue::new("fd.outcome", outcome),
        ],
    );
}

/// Processes one message in its own transaction, then acks, naks or dead-letters it.
async fn finish_one<P: Policy>(
    js: &jetstream::Context,
    pool: &AnyPool,
    spec: &ConsumerSpec,
    policy: &P,
    outbox: &OutboxSignal,
    msg: &jetstream::Message,
) -> Result<(), async_nats::Error> {
    // The message in hand is always finished, even if shutdown fires meanwhile. Its
    // processing span is a child of the publish span (see `process_span`).
    let span = process_span(spec, msg);
    let started = std::time::Instant::now();
    let recorded = crate::outbox::recorded_so_far();
    let outcome = process(pool, spec, policy, msg)
        .instrument(span.clone())
        .await;
    let label = match &outcome {
        Outcome::Done => "processed",
        Outcome::Duplicate => "duplicate",
        Outcome::Retry(_) => "retry",
        Outcome::DeadLetter(_) => "dead_letter",
    };
    observe_processed(spec, msg, label, started.elapsed());
    if matches!(outcome, Outcome::Retry(_) | Outcome::DeadLetter(_)) {
        span.record("otel.status_code", "ERROR");
    }
    let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
    match outcome {
        Outcome::Done => {
            wake_if_recorded(outbox, recorded);
            msg.ack().await?;
        }
        Outcome::Duplicate => msg.ack().await?,
        Outcome::Retry(reason) if delivered < spec.max_deliver => {
            tracing::warn!(consumer = %spec.durable(), %reason, delivered, "handler failed; redelivering");
            msg.ack_with(AckKind::Nak(Some(spec.backoff(delivered))))
                .await?;
        }
        Outcome::Retry(reason) | Outcome::DeadLetter(reason) => {
            dead_letter(js, spec, msg, &reason, delivered).await?;
            msg.ack().await?;
        }
    }
    Ok(())
}

/// Processes several messages in one transaction: each is recorded as processed (a duplicate,
/// also within the batch, is skipped) and handled in order, so a handler sees the effects of
/// the messages before it. All or nothing: `false` (nothing committed) when any message lacks
/// its id or any handler fails, and the caller then takes them one by one.
async fn process_batch<P: Policy>(
    pool: &AnyPool,
    spec: &ConsumerSpec,
    policy: &P,
    batch: &[jetstream::Message],
) -> bool {
    let Ok(incoming) = batch
        .iter()
        .map(|m| Incoming::from_message(m, spec))
        .collect::<Result<Vec<_>, _>>()
    else {
        return false;
    };
    let result: Result<Vec<bool>, PolicyError> = async {
        let mut tx = crate::db::begin(pool).await?;
        // One statement records the whole batch as processed. ON CONFLICT DO NOTHING: a
        // duplicate must not abort the shared transaction (PostgreSQL would); it is simply
        // not returned, and not applied again. Within the batch, the first copy is the one.
        let sql = crate::db::sql_for(
            tx.backend(),
            format!(
                "INSERT INTO fd_processed_events (consumer, event_id, processed_at_ms) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING event_id",
                crate::db::values(incoming.len(), 3, 1)
            ),
        );
        let (durable, now) = (spec.durable(), now_ms());
        let mut insert = sqlx::query(&sql);
        for inc in &incoming {
            insert = insert.bind(&durable).bind(&inc.event_id).bind(now);
        }
        let mut new_ids: std::collections::HashSet<String> = insert
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| sqlx::Row::try_get(r, "event_id"))
            .collect::<Result<_, _>>()?;
        let mut fresh = Vec::with_capacity(incoming.len());
        let (mut news, mut spans) = (Vec::new(), Vec::new());
        for (msg, inc) in batch.iter().zip(&incoming) {
            // `remove`: a second copy of an event in the same batch is not applied twice.
            let new = new_ids.remove(&inc.event_id);
            if new {
                news.push(inc);
                spans.push(process_span(spec, msg));
            }
            fresh.push(new);
        }
        policy.handle_batch(&mut tx, &news, &spans).await?;
        tx.commit().await?;
        Ok(fresh)
    }
    .await;
    match result {
        Ok(fresh) => {
            for (inc, new) in incoming.iter().zip(fresh) {
                if new {
                    policy.after_commit(inc);
                }
            }
            true
        }
        Err(e) => {
            tracing::debug!(consumer = %spec.durable(), error = ?e, size = batch.len(), "batch failed; one at a time");
            false
        }
    }
}

/// The consumer span of one message, with the messaging semantic conventions.
///
/// Parent–child, not a span link: each delivery is caused by exactly one message, and making
/// it a child keeps a whole saga (PlaceOrder → publish → store → publish → delivery → …) one
/// trace tree that any trace viewer shows from its root. Messages that commit together in one
/// batch still get one span each, under their own publish span: they share a transaction, not
/// a cause.
fn process_span(spec: &ConsumerSpec, msg: &jetstream::Message) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let event_id = msg
        .headers
        .as_ref()
        .and_then(|h| h.get("ce-id"))
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "nats.process",
        otel.name = %format!("{} process", msg.subject),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        messaging.system = "nats",
        messaging.destination.name = %msg.subject,
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.message.id = %event_id,
        messaging.consumer.group.name = %spec.durable(),
    );
    if let Some(h) = &msg.headers {
        let _ = span.set_parent(crate::telemetry::extract_nats(h));
    }
    span
}

async fn process<P: Policy>(
    pool: &AnyPool,
    spec: &ConsumerSpec,
    policy: &P,
    msg: &jetstream::Message,
) -> Outcome {
    let incoming = match Incoming::from_message(msg, spec) {
        Ok(incoming) => incoming,
        Err(reason) => return Outcome::DeadLetter(reason),
    };
    let result: Result<bool, PolicyError> = async {
        let mut tx = crate::db::begin(pool).await?;
        let fresh = sqlx::query(
            "INSERT INTO fd_processed_events (consumer, event_id, processed_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(spec.durable())
        .bind(&incoming.event_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await;
        match fresh {
            Err(e) if crate::db::is_unique_violation(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        policy.handle(&mut tx, &incoming).await?;
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => {
            policy.after_commit(&incoming);
            Outcome::Done
        }
        Ok(false) => Outcome::Duplicate,
        Err(PolicyError::Permanent(r)) => Outcome::DeadLetter(r),
        Err(PolicyError::Transient(r)) => Outcome::Retry(r),
    }
}

async fn dead_letter(
    js: &jetstream::Context,
    spec: &ConsumerSpec,
    msg: &jetstream::Message,
    reason: &str,
    delivered: i64,
) -> Result<(), async_nats::Error> {
    tracing::error!(consumer = %spec.durable(), subject = %msg.subject, %reason, "event sent to dead letter");
    crate::metrics::instruments().dead_letters.add(
        1,
        &[
            consumer_attrs(spec),
            opentelemetry::KeyValue::new("messaging.destination.name", msg.subject.to_string()),
        ],
    );
    let mut headers = msg.headers.clone().unwrap_or_default();
    // One dead letter per (consumer, event), even if dead-lettering is retried after a crash.
    let seq = msg.info().map(|i| i.stream_sequence).unwrap_or_default();
    headers.insert(
        "Nats-Msg-Id",
        format!("dl-{}-{seq}", spec.durable()).as_str(),
    );
    headers.insert("fd-error", reason);
    headers.insert("fd-original-subject", msg.subject.as_str());
    headers.insert("fd-consumer", spec.durable().as_str());
    headers.insert("fd-deliveries", delivered.to_string().as_str());
    js.publish_with_headers(spec.dead_letter_subject(), headers, msg.payload.clone())
        .await?
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fd_proto::order::v1::OrderPlaced;

    #[test]
    fn a_transient_failure_is_retried_for_minutes_not_seconds() {
        let spec = ConsumerSpec::new("store", "tickets", &["fooddelivery.order.v1.OrderPlaced"]);
        let delays: Vec<Duration> = (1..spec.max_deliver).map(|n| spec.backoff(n)).collect();
        assert_eq!(delays[0], Duration::from_millis(200));
        assert_eq!(delays[1], Duration::from_millis(400));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(60)));
        let total: Duration = delays.iter().sum();
        // A database away for several minutes loses nothing.
        assert!(total > Duration::from_secs(10 * 60), "{total:?}");
        assert!(total < Duration::from_secs(15 * 60), "{total:?}");
    }

    #[test]
    fn consumers_ignore_fields_they_do_not_know() {
        // A newer producer added field 99 (additive change); this consumer predates it.
        let mut payload = prost::Message::encode_to_vec(&OrderPlaced {
            order_id: "o1".into(),
            ..Default::default()
        });
        payload.extend_from_slice(&[0x98, 0x06, 0x2a]); // field 99, varint 42
        let msg = Incoming {
            subject: "fooddelivery.order.v1.OrderPlaced".into(),
            event_id: "e1".into(),
            payload: payload.into(),
            headers: HeaderMap::new(),
        };
        let decoded: OrderPlaced = msg.decode().expect("unknown fields are skipped");
        assert_eq!(decoded.order_id, "o1");
    }

    #[test]
    fn truncated_protobuf_is_a_permanent_error() {
        let full = prost::Message::encode_to_vec(&OrderPlaced {
            order_id: "o1".into(),
            customer_id: "a-customer-with-a-long-id".into(),
            ..Default::default()
        });
        for cut in 1..full.len() {
            let msg = Incoming {
                subject: "fooddelivery.order.v1.OrderPlaced".into(),
                event_id: "e1".into(),
                payload: Bytes::copy_from_slice(&full[..cut]),
                headers: HeaderMap::new(),
            };
            // A cut inside a field is undecodable; a cut between fields decodes to less.
            if let Err(e) = msg.decode::<OrderPlaced>() {
                assert!(matches!(e, PolicyError::Permanent(_)), "cut at {cut}");
            }
        }
    }

    #[test]
    fn garbage_is_a_permanent_error() {
        let msg = Incoming {
            subject: "fooddelivery.order.v1.OrderPlaced".into(),
            event_id: "e1".into(),
            payload: Bytes::from_static(&[0xff, 0xff, 0xff]),
            headers: HeaderMap::new(),
        };
        assert!(matches!(
            msg.decode::<OrderPlaced>(),
            Err(PolicyError::Permanent(_))
        ));
    }
}
