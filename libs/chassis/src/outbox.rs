//! The transactional outbox: events are written in the same transaction as the state change
//! they report ([`record`]) and published by a [`Relay`] afterwards. No dual writes: if the
//! transaction commits, the event will be published; if it rolls back, it never existed.
//!
//! The relay publishes with `Nats-Msg-Id` = event id, awaits JetStream's ack, then marks the
//! row sent. A crash between ack and mark re-publishes the event, and JetStream's duplicate
//! window drops it. The relay wakes as soon as a writer calls [`OutboxSignal::wake`] after its
//! commit (no polling delay on the happy path), backs off while NATS is unreachable, and prunes
//! sent rows after the retention period.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use fd_proto::common::v1::EventMetadata;
use fd_proto::Event;
use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::Notify;

use crate::db::Engine;
use crate::nats::{self, CloudEvent};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The producer span of one outbox row, with the messaging semantic conventions.
fn publish_span(row: &Row_) -> tracing::Span {
    let span = tracing::info_span!(
        "nats.publish",
        otel.name = %format!("{} publish", row.subject),
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        messaging.system = "nats",
        messaging.destination.name = %row.subject,
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.message.id = %row.event_id,
    );
    if !row.trace_context.is_empty() {
        let _ = span.set_parent(crate::telemetry::context_from_json(&row.trace_context));
    }
    span
}
use crate::shutdown::Shutdown;
use crate::time::{now_ms, timestamp};

/// Metadata for a new event about `aggregate_id` (a fresh UUIDv7 id, occurred now).
pub fn metadata(aggregate_id: &str, aggregate_version: i64) -> EventMetadata {
    EventMetadata {
        event_id: uuid::Uuid::now_v7().to_string(),
        occurred_at: Some(timestamp(now_ms())),
        aggregate_id: aggregate_id.to_string(),
        aggregate_version,
    }
}

/// Error recording an event.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The event has no metadata (a bug in the caller).
    #[error("event {0} has no metadata")]
    NoMetadata(&'static str),
    /// The insert failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// Writes `event` to the outbox on `conn`, which must be inside the transaction that makes the
/// state change. The row keeps the current span's trace context, so the relay's publish span
/// (and every consumer after it) continues the trace of the request that made the change.
pub async fn record<E: Event>(conn: &mut AnyConnection, event: &E) -> Result<(), RecordError> {
    record_with_context(conn, event, "").await
}

/// Like [`record`], with the trace context to continue given explicitly (a saga step done by a
/// later command continues the saga's trace; see the store and delivery services). An empty
/// context falls back to the current span's.
pub async fn record_with_context<E: Event>(
    conn: &mut AnyConnection,
    event: &E,
    trace_context: &str,
) -> Result<(), RecordError> {
    insert(conn, &[Outgoing::new(event, trace_context)?]).await?;
    Ok(())
}

/// An event ready for the outbox, with the trace it continues: built where the change is
/// decided (in the request's span), written later with others in one statement ([`insert`];
/// group commit, see [`crate::batch`]).
#[derive(Debug, Clone)]
pub struct Outgoing {
    event_id: String,
    subject: &'static str,
    aggregate_id: String,
    payload: Vec<u8>,
    trace_context: String,
    occurred_at_ms: i64,
}

impl Outgoing {
    /// `event`, continuing the trace in `trace_context` (empty: the current span's).
    pub fn new<E: Event>(event: &E, trace_context: &str) -> Result<Self, RecordError> {
        let meta = event.metadata().ok_or(RecordError::NoMetadata(E::TYPE))?;
        let trace_context = if trace_context.is_empty() {
            crate::telemetry::current_context_json()
        } else {
            trace_context.to_string()
        };
        Ok(Self {
            event_id: meta.event_id.clone(),
            subject: E::TYPE,
            aggregate_id: meta.aggregate_id.clone(),
            payload: event.encode_to_vec(),
            trace_context,
            occurred_at_ms: meta.occurred_at.as_ref().map_or_else(now_ms, |t| {
                t.seconds * 1000 + i64::from(t.nanos / 1_000_000)
            }),
        })
    }
}

/// Events this process has written to an outbox (any database) so far. A consumer reads it
/// before and after a transaction and wakes the relay only if it moved: a policy that records
/// no event (most of them) no longer sets off an empty relay round per batch. Another task's
/// events can make that one wake-up too many, never one too few.
static RECORDED: AtomicU64 = AtomicU64::new(0);

/// See [`RECORDED`].
pub(crate) fn recorded_so_far() -> u64 {
    RECORDED.load(Ordering::SeqCst)
}

/// Writes `events` to the outbox on `conn` (inside the transaction that makes their changes)
/// in one multi-row statement.
pub async fn insert(conn: &mut AnyConnection, events: &[Outgoing]) -> Result<(), sqlx::Error> {
    // At most 1,000 rows (6,000 parameters) per statement.
    for chunk in events.chunks(1_000) {
        let sql = crate::db::sql_for(
            conn.backend(),
            format!(
                "INSERT INTO fd_outbox (event_id, subject, aggregate_id, payload, trace_context, \
                 occurred_at_ms) VALUES {}",
                crate::db::values(chunk.len(), 6, 1)
            ),
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(&e.event_id)
                .bind(e.subject)
                .bind(&e.aggregate_id)
                .bind(&e.payload)
                .bind(&e.trace_context)
                .bind(e.occurred_at_ms);
        }
        q.execute(&mut *conn).await?;
        RECORDED.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    Ok(())
}

/// Wakes the relay after a commit. Cheap to clone; share one per service.
#[derive(Debug, Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// Tells the relay there is something new to publish.
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// What one relay round did.
#[derive(Debug, Default, Clone, Copy)]
struct Round {
    /// Unsent rows it read.
    fetched: usize,
    /// Of those, published (acknowledged by JetStream) and marked sent.
    published: usize,
}

impl Round {
    /// Whether to go again at once rather than wait for a commit's wake-up: the round read a
    /// full batch (more rows may be waiting), or some of its rows were not acknowledged (they
    /// are tried again). A round that read fewer rows than its batch took every row committed
    /// before it began, and a commit since has woken the relay (the wake-up is kept until the
    /// relay waits). Before, every round that published anything was followed by one more, found
    /// empty: under load that was one empty round (four statements on PostgreSQL) per round.
    fn more_waiting(&self, batch: i64) -> bool {
        i64::try_from(self.fetched).unwrap_or(i64::MAX) >= batch || self.published < self.fetched
    }
}

/// Relay settings.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `ce-source` of published events, e.g. `/fooddelivery/order`.
    pub source: String,
    /// The contexts whose streams this service publishes to (created at start).
    pub contexts: Vec<String>,
    /// Most rows published (pipelined) per round.
    pub batch: i64,
    /// Sent rows older than this are deleted.
    pub retention: Duration,
    /// Longest wait between attempts while NATS is unreachable.
    pub max_backoff: Duration,
    /// Wait for one ack at most this long.
    pub ack_timeout: Duration,
    /// Copies of each stream (`NATS_STREAM_REPLICAS`).
    pub replicas: usize,
    /// Claim the rows of a round (`FOR UPDATE SKIP LOCKED`, PostgreSQL) until they are marked
    /// sent, so that the relays of several replicas over one outbox never publish the same
    /// row at once (JetStream would drop the copy, but a cluster answers the second concurrent
    /// publish of one id with an error first).
    pub claim_rows: bool,
}

impl RelayConfig {
    /// Defaults for `service` publishing to its own context.
    pub fn for_service(service: &str) -> Self {
        Self {
            source: format!("/fooddelivery/{service}"),
            contexts: vec![service.to_string()],
            batch: 256,
            retention: Duration::from_secs(24 * 3600),
            max_backoff: Duration::from_secs(5),
            ack_timeout: Duration::from_secs(5),
            replicas: 1,
            claim_rows: false,
        }
    }
}

/// Error of one relay round.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Reading or marking rows failed.
    #[error("outbox storage: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// NATS did not take the events.
    #[error("publishing to JetStream: {0}")]
    Publish(String),
}

/// Publishes the outbox of one service.
#[derive(Debug, Clone)]
pub struct Relay {
    pool: AnyPool,
    js: jetstream::Context,
    cfg: RelayConfig,
    signal: OutboxSignal,
    streams_ready: Arc<AtomicBool>,
}

struct Row_ {
    event_id: String,
    subject: String,
    aggregate_id: String,
    payload: Vec<u8>,
    occurred_at_ms: i64,
    trace_context: String,
}

/// How often the relay reads its backlog for the metrics.
const BACKLOG_EVERY: Duration = Duration::from_secs(2);

/// The relay's read: the oldest unsent rows, at most `$1` of them (with `claim`, locked for this
/// relay, skipping rows another replica's relay holds). It is answered from the partial index
/// `fd_outbox_unsent` in its order, so it reads no sent row and sorts nothing
/// (migrations/900002_outbox_unsent.sql; on PostgreSQL in a [`crate::db::begin_queue_read`] transaction).
pub fn unsent_rows_sql(claim: bool) -> String {
    format!(
        "SELECT event_id, subject, aggregate_id, payload, occurred_at_ms, trace_context \
         FROM fd_outbox \
         WHERE sent_at_ms IS NULL ORDER BY event_id LIMIT $1{}",
        if claim { " FOR UPDATE SKIP LOCKED" } else { "" }
    )
}

impl Relay {
    /// A relay for `pool`'s outbox, woken by `signal`.
    pub fn new(
        pool: AnyPool,
        js: jetstream::Context,
        cfg: RelayConfig,
        signal: OutboxSignal,
    ) -> Self {
        Self {
            pool,
            js,
            cfg,
            signal,
            streams_ready: Arc::default(),
        }
    }

    /// Number of rows not yet published.
    pub async fn pending(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT COUNT(*) FROM fd_outbox WHERE sent_at_ms IS NULL")
            .fetch_one(&self.pool)
            .await
    }

    async fn ensure_streams(&self) -> Result<(), RelayError> {
        if self.streams_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        for c in &self.cfg.contexts {
            nats::ensure_stream(&self.js, c, self.cfg.replicas)
                .await
                .map_err(|e| RelayError::Publish(format!("stream {c}: {e}")))?;
        }
        self.streams_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Publishes one batch of unsent rows, oldest first; returns how many were published.
    /// Rows whose ack did not come stay unsent and are tried again next round. With
    /// `claim_rows` the round is one transaction holding its rows: other replicas' relays
    /// skip them.
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        Ok(self.round().await?.published)
    }

    async fn round(&self) -> Result<Round, RelayError> {
        if !self.cfg.claim_rows {
            return self.relay_round(None).await;
        }
        let mut tx = crate::db::begin_queue_read(&self.pool).await?;
        let round = self.relay_round(Some(&mut *tx)).await?;
        tx.commit().await?;
        Ok(round)
    }

    /// The plan of a round's read, as the database describes it (`EXPLAIN` on PostgreSQL,
    /// `EXPLAIN QUERY PLAN` on SQLite), one line per element: to check that it reads the
    /// partial index of unsent rows in order.
    pub async fn round_plan(&self) -> Result<String, sqlx::Error> {
        let mut tx = if self.cfg.claim_rows {
            crate::db::begin_queue_read(&self.pool).await?
        } else {
            self.pool.begin().await?
        };
        let (explain, column) = match tx.backend() {
            crate::db::Backend::Postgres => ("EXPLAIN", 0),
            crate::db::Backend::Sqlite => ("EXPLAIN QUERY PLAN", 3),
        };
        let sql = format!("{explain} {}", unsent_rows_sql(self.cfg.claim_rows));
        let lines = sqlx::query(&sql)
            .bind(self.cfg.batch)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(column))
            .collect::<Result<Vec<_>, _>>()?;
        tx.rollback().await?;
        Ok(lines.join("\n"))
    }

    async fn relay_round(
        &self,
        mut claimed: Option<&mut sqlx::AnyConnection>,
    ) -> Result<Round, RelayError> {
        let sql = unsent_rows_sql(claimed.is_some());
        let query = sqlx::query(&sql).bind(self.cfg.batch);
        let fetched = match claimed.as_mut() {
            Some(conn) => query.fetch_all(&mut **conn).await?,
            None => query.fetch_all(&self.pool).await?,
        };
        let mut rows = fetched
            .iter()
            .map(|r| {
                Ok(Row_ {
                    event_id: r.try_get("event_id")?,
                    subject: r.try_get("subject")?,
                    aggregate_id: r.try_get("aggregate_id")?,
                    payload: r.try_get("payload")?,
                    occurred_at_ms: r.try_get("occurred_at_ms")?,
                    trace_context: r.try_get("trace_context")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        if rows.is_empty() {
            return Ok(Round::default());
        }
        self.ensure_streams().await?;

        // Pipelined: send the whole batch, then collect the acks in order. Each message gets a
        // producer span, child of the transaction that wrote it, ended when its ack arrives.
        let mut acks = Vec::with_capacity(rows.len());
        let mut spans = Vec::with_capacity(rows.len());
        for row in &mut rows {
            let span = publish_span(row);
            let mut headers = nats::headers(&CloudEvent {
                id: &row.event_id,
                source: &self.cfg.source,
                event_type: &row.subject,
                subject: &row.aggregate_id,
                time_ms: row.occurred_at_ms,
            });
            crate::telemetry::inject_nats(&span.context(), &mut headers);
            spans.push(span);
            let sent = self
                .js
                .publish_with_headers(
                    row.subject.clone(),
                    headers,
                    // The payload is not needed after this: hand it over without a copy.
                    Bytes::from(std::mem::take(&mut row.payload)),
                )
                .await;
            match sent {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    tracing::debug!(error = %e, "publish failed");
                    break;
                }
            }
        }
        let mut acked = Vec::new();
        let mut failure = None;
        for ((row, ack), span) in rows.iter().zip(acks).zip(&spans) {
            match tokio::time::timeout(self.cfg.ack_timeout, ack).await {
                Ok(Ok(_)) => acked.push(row.event_id.as_str()),
                Ok(Err(e)) => {
                    span.record("otel.status_code", "ERROR");
                    failure = Some(e.to_string());
                    break;
                }
                Err(_) => {
                    span.record("otel.status_code", "ERROR");
                    failure = Some("no ack in time".into());
                    break;
                }
            }
        }
        drop(spans);
        self.mark_sent(&acked, claimed).await?;
        match failure {
            Some(e) if acked.is_empty() => Err(RelayError::Publish(e)),
            _ if acked.is_empty() => Err(RelayError::Publish("NATS unreachable".into())),
            _ => Ok(Round {
                fetched: rows.len(),
                published: acked.len(),
            }),
        }
    }

    async fn mark_sent(
        &self,
        ids: &[&str],
        mut claimed: Option<&mut sqlx::AnyConnection>,
    ) -> Result<(), sqlx::Error> {
        if ids.is_empty() {
            return Ok(());
        }
        let (now, backend) = (now_ms(), self.pool.backend());
        // One statement per chunk, not per row: on SQLite every statement is a round trip to
        // the connection's worker thread (the profile of `make bench` shows those wake-ups).
        for chunk in ids.chunks(200) {
            let sql = crate::db::sql_for(
                backend,
                format!(
                    "UPDATE fd_outbox SET sent_at_ms = $1 WHERE event_id IN ({})",
                    crate::db::values(chunk.len(), 1, 2)
                ),
            );
            let mut q = sqlx::query(&sql).bind(now);
            for id in chunk {
                q = q.bind(*id);
            }
            match claimed.as_mut() {
                Some(conn) => q.execute(&mut **conn).await?,
                None => q.execute(&self.pool).await?,
            };
        }
        Ok(())
    }

    /// Deletes rows sent longer ago than the retention period, and processed event ids older
    /// than [`crate::nats::PROCESSED_RETENTION`] (no copy of those events can come back).
    pub async fn prune(&self) -> Result<u64, sqlx::Error> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms() - ms(self.cfg.retention);
        let done =
            sqlx::query("DELETE FROM fd_outbox WHERE sent_at_ms IS NOT NULL AND sent_at_ms < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?;
        let processed = sqlx::query("DELETE FROM fd_processed_events WHERE processed_at_ms < $1")
            .bind(now_ms() - ms(crate::nats::PROCESSED_RETENTION))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() + processed.rows_affected())
    }

    /// Sets `fd.outbox.backlog` and `fd.outbox.oldest_age` from the table (one indexed query).
    async fn observe_backlog(&self) {
        let row: Result<(i64, Option<i64>), sqlx::Error> = sqlx::query_as(
            "SELECT COUNT(*), MIN(occurred_at_ms) FROM fd_outbox WHERE sent_at_ms IS NULL",
        )
        .fetch_one(&self.pool)
        .await;
        match row {
            Ok((count, oldest)) => {
                let m = crate::metrics::instruments();
                m.outbox_backlog
                    .record(u64::try_from(count).unwrap_or_default(), &[]);
                #[allow(clippy::cast_precision_loss)]
                let age = oldest.map_or(0.0, |t| (now_ms() - t).max(0) as f64 / 1000.0);
                m.outbox_age.record(age, &[]);
            }
            Err(e) => tracing::debug!(error = %e, "reading the outbox backlog failed"),
        }
    }

    /// Runs until `shutdown`, then makes one last attempt to flush what is pending.
    pub async fn run(self, shutdown: Shutdown) {
        // Streams exist from the start, so consumers of other services find them even before
        // the first event; if NATS is down now, the first publish creates them.
        if let Err(e) = self.ensure_streams().await {
            tracing::warn!(error = %e, "cannot create streams yet; will retry on publish");
        }
        let mut backoff = Duration::from_millis(50);
        let mut last_prune = std::time::Instant::now();
        let mut last_observed: Option<std::time::Instant> = None;
        loop {
            if shutdown.is_fired() {
                break;
            }
            if last_observed.is_none_or(|t| t.elapsed() >= BACKLOG_EVERY) {
                last_observed = Some(std::time::Instant::now());
                self.observe_backlog().await;
            }
            match self.round().await {
                Ok(round) if round.more_waiting(self.cfg.batch) => {
                    backoff = Duration::from_millis(50);
                    continue;
                }
                Ok(_) => {
                    backoff = Duration::from_millis(50);
                    if last_prune.elapsed() > Duration::from_secs(60) {
                        last_prune = std::time::Instant::now();
                        if let Err(e) = self.prune().await {
                            tracing::warn!(error = %e, "pruning the outbox failed");
                        }
                    }
                    tokio::select! {
                        () = self.signal.0.notified() => {}
                        // A safety net for wake-ups lost to a crash between commit and wake.
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = shutdown.wait() => break,
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "outbox relay cannot publish; backing off");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shutdown.wait() => break,
                    }
                    backoff = (backoff * 2).min(self.cfg.max_backoff);
                }
            }
        }
        // Flush: one last round, bounded, so a clean stop leaves nothing behind if NATS is up.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(n) = self.relay_once().await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        tracing::info!("outbox relay stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::Round;

    #[test]
    fn the_relay_goes_again_at_once_only_when_rows_may_be_left() {
        let round = |fetched, published| Round { fetched, published };
        assert!(
            round(256, 256).more_waiting(256),
            "a full batch: more may wait"
        );
        assert!(
            round(10, 7).more_waiting(256),
            "unacknowledged rows: try them again"
        );
        assert!(
            !round(10, 10).more_waiting(256),
            "a short batch, all sent: wait for the next commit's wake-up"
        );
        assert!(!round(0, 0).more_waiting(256), "nothing to send");
    }
}
