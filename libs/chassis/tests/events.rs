//! The outbox relay and the consumer runner against a real nats-server (started per test on a
//! free port) and real databases (SQLite and PostgreSQL).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use fd_chassis::consumer::{ConsumerSpec, Incoming, Policy, PolicyError};
use fd_chassis::outbox::{self, OutboxSignal, Relay, RelayConfig};
use fd_chassis::shutdown::Shutdown;
use fd_proto::order::v1::{OrderCancelled, OrderPlaced};
use fd_testkit::{both_backends, Backend, NatsServer, TestDb};
use sqlx::AnyPool;

static NO_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

async fn db(backend: Backend) -> (TestDb, AnyPool) {
    let t = TestDb::new(backend, "events").await;
    let db = fd_chassis::db::connect(&t.url, &NO_MIGRATIONS)
        .await
        .expect("db");
    (t, db.pool)
}

async fn js(nats: &NatsServer) -> jetstream::Context {
    jetstream::new(
        fd_chassis::nats::connect(&nats.url, "test", &Default::default())
            .await
            .expect("connect"),
    )
}

fn relay(pool: &AnyPool, js: &jetstream::Context) -> Relay {
    let mut cfg = RelayConfig::for_service("order");
    cfg.ack_timeout = Duration::from_millis(500);
    Relay::new(pool.clone(), js.clone(), cfg, OutboxSignal::default())
}

fn placed(order_id: &str) -> OrderPlaced {
    OrderPlaced {
        metadata: Some(outbox::metadata(order_id, 1)),
        order_id: order_id.into(),
        customer_id: "alice".into(),
        ..Default::default()
    }
}

async fn record(pool: &AnyPool, order_id: &str) -> OrderPlaced {
    let e = placed(order_id);
    let mut tx = fd_chassis::db::begin(pool).await.expect("tx");
    outbox::record(&mut tx, &e).await.expect("record");
    tx.commit().await.expect("commit");
    e
}

async fn stream_messages(js: &jetstream::Context, stream: &str) -> u64 {
    js.get_stream(stream)
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .state
        .messages
}

async fn relay_publishes_with_cloudevents_headers_and_marks_sent(backend: Backend) {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(backend).await;
    let js = js(&nats).await;
    let relay = relay(&pool, &js);
    let events: Vec<_> = futures::future::join_all((0..5).map(|i| {
        let pool = pool.clone();
        async move { record(&pool, &format!("o{i}")).await }
    }))
    .await;
    assert_eq!(relay.pending().await.expect("pending"), 5);
    assert_eq!(relay.relay_once().await.expect("relay"), 5);
    assert_eq!(relay.pending().await.expect("pending"), 0);
    assert_eq!(relay.relay_once().await.expect("nothing left"), 0);

    let stream = js.get_stream("ORDER").await.expect("stream exists");
    let msg = stream
        .get_last_raw_message_by_subject("fooddelivery.order.v1.OrderPlaced")
        .await
        .expect("message");
    let h = msg.headers;
    let ids: Vec<_> = events
        .iter()
        .map(|e| {
            e.metadata
                .as_ref()
                .map(|m| m.event_id.clone())
                .unwrap_or_default()
        })
        .collect();
    let ce_id = h
        .get("ce-id")
        .map(|v| v.as_str().to_string())
        .expect("ce-id");
    assert!(ids.contains(&ce_id));
    assert_eq!(
        h.get("Nats-Msg-Id").map(|v| v.as_str()),
        Some(ce_id.as_str())
    );
    assert_eq!(
        h.get("ce-type").map(|v| v.as_str()),
        Some("fooddelivery.order.v1.OrderPlaced")
    );
    assert_eq!(
        h.get("ce-source").map(|v| v.as_str()),
        Some("/fooddelivery/order")
    );
    assert_eq!(h.get("ce-specversion").map(|v| v.as_str()), Some("1.0"));
    assert_eq!(
        h.get("content-type").map(|v| v.as_str()),
        Some("application/protobuf")
    );
    let decoded: OrderPlaced = prost::Message::decode(msg.payload).expect("protobuf payload");
    assert_eq!(
        h.get("ce-subject").map(|v| v.as_str()),
        Some(decoded.order_id.as_str())
    );
}

async fn nats_outage_keeps_events_until_it_returns_then_publishes_each_once(backend: Backend) {
    let mut nats = NatsServer::start().await;
    let (_t, pool) = db(backend).await;
    let js = js(&nats).await;
    let relay = relay(&pool, &js);
    record(&pool, "before").await;
    relay.relay_once().await.expect("published");

    nats.kill();
    for i in 0..3 {
        record(&pool, &format!("during-{i}")).await; // the service keeps writing
    }
    assert!(relay.relay_once().await.is_err(), "NATS is down");
    assert_eq!(
        relay.pending().await.expect("pending"),
        3,
        "nothing lost, nothing marked"
    );

    nats.restart().await;
    let mut published = 0;
    for _ in 0..50 {
        if let Ok(n) = relay.relay_once().await {
            published += n;
        }
        if relay.pending().await.expect("pending") == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(relay.pending().await.expect("pending"), 0);
    assert_eq!(
        stream_messages(&js, "ORDER").await,
        4,
        "each event exactly once"
    );
    assert!(published >= 3);
}

async fn crash_between_publish_and_mark_sent_is_deduplicated(backend: Backend) {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(backend).await;
    let js = js(&nats).await;
    let relay = relay(&pool, &js);
    for i in 0..3 {
        record(&pool, &format!("o{i}")).await;
    }
    relay.relay_once().await.expect("published");
    // The process died after the acks, before the rows were marked: they look unsent.
    sqlx::query("UPDATE fd_outbox SET sent_at_ms = NULL")
        .execute(&pool)
        .await
        .expect("reset");
    assert_eq!(relay.relay_once().await.expect("republished"), 3);
    assert_eq!(
        stream_messages(&js, "ORDER").await,
        3,
        "JetStream dropped the duplicates"
    );
}

/// Counts OrderPlaced events in a table; fails on purpose for poison and flaky inputs.
struct Counting {
    attempts: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Policy for Counting {
    async fn handle(
        &self,
        tx: &mut sqlx::AnyConnection,
        msg: &Incoming,
    ) -> Result<(), PolicyError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let e: OrderPlaced = msg.decode()?;
        if e.customer_id == "flaky" {
            return Err(PolicyError::Transient("database busy".into()));
        }
        sqlx::query("INSERT INTO seen (order_id) VALUES ($1)")
            .bind(&e.order_id)
            .execute(tx)
            .await?;
        Ok(())
    }
}

/// Runs a [`Counting`] consumer of OrderPlaced (3 deliveries, 50 ms apart) until the trigger
/// fires.
fn counting_consumer(
    js: &jetstream::Context,
    pool: &AnyPool,
    policy: &str,
    attempts: &Arc<AtomicUsize>,
) -> (fd_chassis::shutdown::Trigger, tokio::task::JoinHandle<()>) {
    let spec = ConsumerSpec {
        service: "test".into(),
        policy: policy.into(),
        stream: "ORDER".into(),
        subjects: vec!["fooddelivery.order.v1.OrderPlaced".into()],
        max_deliver: 3,
        retry_delay: Duration::from_millis(50),
        max_retry_delay: Duration::from_millis(100),
    };
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(fd_chassis::consumer::run(
        js.clone(),
        pool.clone(),
        spec,
        Counting {
            attempts: attempts.clone(),
        },
        OutboxSignal::default(),
        shutdown,
        1,
    ));
    (trigger, task)
}

async fn seen(pool: &AnyPool) -> Vec<String> {
    sqlx::query_scalar("SELECT order_id FROM seen ORDER BY order_id")
        .fetch_all(pool)
        .await
        .expect("seen")
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn consumer_is_idempotent_and_dead_letters_poison(backend: Backend) {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(backend).await;
    sqlx::query("CREATE TABLE seen (order_id TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("table");
    let js = js(&nats).await;
    fd_chassis::nats::ensure_stream(&js, "order", 1)
        .await
        .expect("stream");
    fd_chassis::nats::ensure_dead_letter_stream(&js, 1)
        .await
        .expect("dlq stream");

    let publish = |subject: &'static str, id: String, payload: Vec<u8>| {
        let js = js.clone();
        async move {
            let h = fd_chassis::nats::headers(&fd_chassis::nats::CloudEvent {
                id: &id,
                source: "/test",
                event_type: subject,
                subject: "x",
                time_ms: 0,
            });
            js.publish_with_headers(subject, h, payload.into())
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
    };
    let good = placed("o1");
    let good_id = good
        .metadata
        .as_ref()
        .map(|m| m.event_id.clone())
        .unwrap_or_default();
    publish(
        "fooddelivery.order.v1.OrderPlaced",
        good_id.clone(),
        prost::Message::encode_to_vec(&good),
    )
    .await;
    // The same event again under another message id (a republish): no second effect.
    let mut h = fd_chassis::nats::headers(&fd_chassis::nats::CloudEvent {
        id: &good_id,
        source: "/test",
        event_type: "fooddelivery.order.v1.OrderPlaced",
        subject: "x",
        time_ms: 0,
    });
    h.insert("Nats-Msg-Id", "another-message-id");
    js.publish_with_headers(
        "fooddelivery.order.v1.OrderPlaced",
        h,
        prost::Message::encode_to_vec(&good).into(),
    )
    .await
    .expect("pub")
    .await
    .expect("ack");
    // Poison: random bytes that are not an OrderPlaced.
    publish(
        "fooddelivery.order.v1.OrderPlaced",
        "poison".into(),
        vec![0xff, 0xff, 0xff, 0x0f, 0x01],
    )
    .await;
    // Flaky: fails transiently every time, so it exhausts its deliveries.
    let mut flaky = placed("o-flaky");
    flaky.customer_id = "flaky".into();
    publish(
        "fooddelivery.order.v1.OrderPlaced",
        "flaky".into(),
        prost::Message::encode_to_vec(&flaky),
    )
    .await;
    // A later good one, and an event type the policy does not subscribe to.
    let later = placed("o2");
    publish(
        "fooddelivery.order.v1.OrderPlaced",
        later
            .metadata
            .as_ref()
            .map(|m| m.event_id.clone())
            .unwrap_or_default(),
        prost::Message::encode_to_vec(&later),
    )
    .await;
    publish(
        "fooddelivery.order.v1.OrderCancelled",
        "c1".into(),
        prost::Message::encode_to_vec(&OrderCancelled::default()),
    )
    .await;

    let attempts = Arc::new(AtomicUsize::new(0));
    let (trigger, task) = counting_consumer(&js, &pool, "count-placed", &attempts);

    wait_until("two dead letters", || async {
        stream_messages(&js, "DEADLETTER").await == 2
    })
    .await;
    wait_until("both good events", || async {
        seen(&pool).await.len() == 2
    })
    .await;
    assert_eq!(
        seen(&pool).await,
        ["o1", "o2"],
        "each good event once; the poison did not block o2"
    );

    let dl = js.get_stream("DEADLETTER").await.expect("dlq");
    let mut reasons = Vec::new();
    for seq in 1..=2 {
        let m = dl.get_raw_message(seq).await.expect("dead letter");
        assert_eq!(m.subject.as_str(), "deadletter.test.count-placed");
        let h = m.headers;
        assert_eq!(
            h.get("fd-original-subject").map(|v| v.as_str()),
            Some("fooddelivery.order.v1.OrderPlaced")
        );
        reasons.push((
            h.get("ce-id").map(|v| v.as_str().to_string()),
            h.get("fd-error").map(|v| v.as_str().to_string()),
            h.get("fd-deliveries").map(|v| v.as_str().to_string()),
        ));
    }
    reasons.sort();
    assert_eq!(reasons[0].0.as_deref(), Some("flaky"));
    assert!(
        reasons[0]
            .1
            .as_deref()
            .is_some_and(|r| r.contains("database busy")),
        "{reasons:?}"
    );
    assert_eq!(
        reasons[0].2.as_deref(),
        Some("3"),
        "retried up to max_deliver"
    );
    assert_eq!(reasons[1].0.as_deref(), Some("poison"));
    assert!(
        reasons[1]
            .1
            .as_deref()
            .is_some_and(|r| r.contains("undecodable")),
        "{reasons:?}"
    );
    assert_eq!(
        reasons[1].2.as_deref(),
        Some("1"),
        "poison goes to dead letter at once"
    );

    trigger.fire();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("task");
    // One at a time: good + poison + 3 × flaky + later = 6 handler runs (the duplicate is
    // recognised before its handler runs). The events arrive together, so the consumer first
    // tries them as one batch; the poison fails that batch, nothing of it commits, and each
    // message is then taken alone: the handlers that ran in the failed batch run once more
    // (their effects above are still exactly once).
    let runs = attempts.load(Ordering::SeqCst);
    assert!((6..=6 + 6).contains(&runs), "{runs} handler runs");
}

/// Records the order in which events are applied.
struct InOrder {
    attempts: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Policy for InOrder {
    async fn handle(
        &self,
        tx: &mut sqlx::AnyConnection,
        msg: &Incoming,
    ) -> Result<(), PolicyError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let e: OrderPlaced = msg.decode()?;
        sqlx::query("INSERT INTO applied (n, order_id) SELECT COUNT(*) + 1, $1 FROM applied")
            .bind(&e.order_id)
            .execute(tx)
            .await?;
        Ok(())
    }
}

/// A backlog (here: everything published before the consumer starts) is taken in batches that
/// share a transaction: every event is applied once, in the order published, and a republished
/// duplicate never reaches the handler, whether it lands in the same batch or a later one.
async fn a_backlog_is_applied_once_each_in_order(backend: Backend) {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(backend).await;
    sqlx::query("CREATE TABLE applied (n BIGINT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE)")
        .execute(&pool)
        .await
        .expect("table");
    let js = js(&nats).await;
    fd_chassis::nats::ensure_stream(&js, "order", 1)
        .await
        .expect("stream");
    let mut expected = Vec::new();
    for i in 0..100 {
        let e = placed(&format!("o{i:03}"));
        let id = e
            .metadata
            .as_ref()
            .map(|m| m.event_id.clone())
            .unwrap_or_default();
        // Every tenth event is published twice, under two message ids (a republish).
        let copies: &[&str] = if i % 10 == 0 { &["a", "b"] } else { &["a"] };
        for copy in copies {
            let mut h = fd_chassis::nats::headers(&fd_chassis::nats::CloudEvent {
                id: &id,
                source: "/test",
                event_type: "fooddelivery.order.v1.OrderPlaced",
                subject: "x",
                time_ms: 0,
            });
            h.insert("Nats-Msg-Id", format!("{id}-{copy}").as_str());
            js.publish_with_headers(
                "fooddelivery.order.v1.OrderPlaced",
                h,
                prost::Message::encode_to_vec(&e).into(),
            )
            .await
            .expect("publish")
            .await
            .expect("ack");
        }
        expected.push(e.order_id);
    }
    let attempts = Arc::new(AtomicUsize::new(0));
    let spec = ConsumerSpec {
        service: "test".into(),
        policy: "in-order".into(),
        stream: "ORDER".into(),
        subjects: vec!["fooddelivery.order.v1.OrderPlaced".into()],
        max_deliver: 3,
        retry_delay: Duration::from_millis(50),
        max_retry_delay: Duration::from_millis(100),
    };
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(fd_chassis::consumer::run(
        js.clone(),
        pool.clone(),
        spec,
        InOrder {
            attempts: attempts.clone(),
        },
        OutboxSignal::default(),
        shutdown,
        1,
    ));
    let applied = || async {
        sqlx::query_scalar::<_, String>("SELECT order_id FROM applied ORDER BY n")
            .fetch_all(&pool)
            .await
            .expect("applied")
    };
    wait_until("the backlog applied", || async {
        applied().await.len() == 100
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        applied().await,
        expected,
        "each once, in the order published"
    );
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        100,
        "duplicates never reach the handler"
    );
    trigger.fire();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("task");
}

async fn sent_rows_are_pruned_after_the_retention_period(backend: Backend) {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(backend).await;
    let js = js(&nats).await;
    let mut cfg = RelayConfig::for_service("order");
    cfg.retention = Duration::from_millis(50);
    let relay = Relay::new(pool.clone(), js.clone(), cfg, OutboxSignal::default());
    record(&pool, "old").await;
    relay.relay_once().await.expect("published");
    record(&pool, "unsent").await; // never published: must survive pruning
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(relay.prune().await.expect("prune"), 1);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fd_outbox")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(left, 1, "only the sent row was pruned");
    assert_eq!(relay.pending().await.expect("pending"), 1);

    // Processed event ids are forgotten only once no copy of the event can come back.
    let horizon = i64::try_from(fd_chassis::nats::PROCESSED_RETENTION.as_millis()).expect("fits");
    let now = fd_chassis::time::now_ms();
    for (id, at) in [
        ("ancient", now - horizon - 60_000),
        ("recent", now - horizon + 60_000),
    ] {
        sqlx::query(
            "INSERT INTO fd_processed_events (consumer, event_id, processed_at_ms) VALUES ($1, $2, $3)",
        )
        .bind("test-consumer")
        .bind(id)
        .bind(at)
        .execute(&pool)
        .await
        .expect("insert");
    }
    assert_eq!(relay.prune().await.expect("prune"), 1);
    let kept: Vec<String> = sqlx::query_scalar("SELECT event_id FROM fd_processed_events")
        .fetch_all(&pool)
        .await
        .expect("ids");
    assert_eq!(kept, ["recent"]);
}

/// The relay reads the oldest unsent rows from an index that holds only those, in the relay's
/// order: after hundreds of rows were sent, a round neither sorts nor visits the sent rows.
/// (Issue 19: on PostgreSQL a bitmap scan of an index over every row visited each sent row's
/// old unsent version, 1.3 ms per relay round under load.)
async fn the_relay_reads_only_the_unsent_rows_in_index_order(backend: Backend) {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(backend).await;
    let js = js(&nats).await;
    let mut cfg = RelayConfig::for_service("order");
    // As the service sets it: replicas claim rows on PostgreSQL.
    cfg.claim_rows = backend == Backend::Postgres;
    let relay = Relay::new(pool.clone(), js.clone(), cfg, OutboxSignal::default());
    for i in 0..300 {
        record(&pool, &format!("sent-{i}")).await;
        if i % 50 == 49 {
            relay.relay_once().await.expect("published");
        }
    }
    record(&pool, "unsent").await;
    let plan = relay.round_plan().await.expect("plan");
    assert!(
        plan.contains("fd_outbox_unsent"),
        "reads the partial index:\n{plan}"
    );
    for scan_or_sort in ["Bitmap", "Sort", "Seq Scan", "TEMP B-TREE"] {
        assert!(!plan.contains(scan_or_sort), "no {scan_or_sort}:\n{plan}");
    }
    assert_eq!(
        relay.relay_once().await.expect("published"),
        1,
        "only the unsent row"
    );
}

both_backends!(
    the_relay_reads_only_the_unsent_rows_in_index_order,
    sent_rows_are_pruned_after_the_retention_period,
    relay_publishes_with_cloudevents_headers_and_marks_sent,
    nats_outage_keeps_events_until_it_returns_then_publishes_each_once,
    crash_between_publish_and_mark_sent_is_deduplicated,
    consumer_is_idempotent_and_dead_letters_poison,
    a_backlog_is_applied_once_each_in_order,
);

#[tokio::test]
async fn stream_creation_is_idempotent() {
    let nats = NatsServer::start().await;
    let js = js(&nats).await;
    for _ in 0..2 {
        fd_chassis::nats::ensure_stream(&js, "payment", 1)
            .await
            .expect("create or update");
    }
    let info = js
        .get_stream("PAYMENT")
        .await
        .expect("stream")
        .info()
        .await
        .expect("info")
        .config
        .clone();
    assert_eq!(info.duplicate_window, fd_chassis::nats::DUPLICATE_WINDOW);
    assert_eq!(info.storage, jetstream::stream::StorageType::File);
    drop(nats);
}

/// A message whose `ce-type` names another event than its subject (the bug a NATS server that
/// ignores `filter_subjects` turned into wrong decodes) is dead-lettered with the reason and
/// never reaches the handler; the good event after it is applied.
#[tokio::test]
async fn a_message_of_another_type_is_dead_lettered_not_decoded() {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(Backend::Sqlite).await;
    sqlx::query("CREATE TABLE seen (order_id TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("table");
    let js = js(&nats).await;
    fd_chassis::nats::ensure_stream(&js, "order", 1)
        .await
        .expect("stream");
    fd_chassis::nats::ensure_dead_letter_stream(&js, 1)
        .await
        .expect("dlq stream");
    let publish = |event_type: &'static str, id: &'static str, e: OrderPlaced| {
        let js = js.clone();
        async move {
            let h = fd_chassis::nats::headers(&fd_chassis::nats::CloudEvent {
                id,
                source: "/test",
                event_type,
                subject: "x",
                time_ms: 0,
            });
            js.publish_with_headers(
                "fooddelivery.order.v1.OrderPlaced",
                h,
                prost::Message::encode_to_vec(&e).into(),
            )
            .await
            .expect("publish")
            .await
            .expect("ack");
        }
    };
    // A payload that decodes fine as OrderPlaced, but says it is an OrderCancelled.
    publish(
        "fooddelivery.order.v1.OrderCancelled",
        "wrong",
        placed("o-wrong"),
    )
    .await;
    publish(
        "fooddelivery.order.v1.OrderPlaced",
        "right",
        placed("o-right"),
    )
    .await;

    let attempts = Arc::new(AtomicUsize::new(0));
    let (trigger, task) = counting_consumer(&js, &pool, "typed", &attempts);
    wait_until("the good event", || async { seen(&pool).await.len() == 1 }).await;
    wait_until("one dead letter", || async {
        stream_messages(&js, "DEADLETTER").await == 1
    })
    .await;
    assert_eq!(
        seen(&pool).await,
        ["o-right"],
        "the mismatched one was never applied"
    );
    let m = js
        .get_stream("DEADLETTER")
        .await
        .expect("dlq")
        .get_raw_message(1)
        .await
        .expect("dead letter");
    let reason = m
        .headers
        .get("fd-error")
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    assert!(
        reason.contains("ce-type fooddelivery.order.v1.OrderCancelled does not match subject"),
        "{reason}"
    );
    assert_eq!(
        m.headers.get("ce-id").map(|v| v.as_str()),
        Some("wrong"),
        "the dead letter keeps the original headers"
    );
    trigger.fire();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

/// `decode` refuses to read a message as a type other than its subject's.
#[test]
fn decode_refuses_another_type() {
    let msg = Incoming {
        subject: "fooddelivery.order.v1.OrderCancelled".into(),
        event_id: "e".into(),
        payload: prost::Message::encode_to_vec(&placed("o")).into(),
        headers: async_nats::HeaderMap::new(),
    };
    match msg.decode::<OrderPlaced>() {
        Err(PolicyError::Permanent(reason)) => assert!(
            reason.contains("cannot be decoded as fooddelivery.order.v1.OrderPlaced"),
            "{reason}"
        ),
        other => panic!("decoded as the wrong type: {other:?}"),
    }
}

/// A durable consumer that exists with an older configuration (other subjects, other
/// retries) is updated to the service's when the service starts, not silently kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_consumer_configuration_is_applied_at_start() {
    let nats = NatsServer::start().await;
    let js = js(&nats).await;
    fd_chassis::nats::ensure_stream(&js, "order", 1)
        .await
        .expect("stream");
    let stream = js.get_stream("ORDER").await.expect("ORDER");
    stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("test-updated".into()),
            filter_subjects: vec!["fooddelivery.order.v1.OrderCancelled".into()],
            max_deliver: 2,
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .expect("an old consumer");
    let (_t, pool) = db(Backend::Sqlite).await;
    sqlx::query("CREATE TABLE seen (order_id TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("table");
    let attempts = Arc::new(AtomicUsize::new(0));
    let (trigger, task) = counting_consumer(&js, &pool, "updated", &attempts);
    drop(stream);
    wait_until("the consumer's configuration is the service's", || {
        let js = js.clone();
        async move {
            let Ok(stream) = js.get_stream("ORDER").await else {
                return false;
            };
            match stream.consumer_info("test-updated").await {
                Ok(info) => {
                    info.config.filter_subjects == ["fooddelivery.order.v1.OrderPlaced"]
                        && info.config.max_deliver == 4
                }
                Err(_) => false,
            }
        }
    })
    .await;
    trigger.fire();
    let _ = task.await;
}

/// Two replicas' relays over one PostgreSQL outbox claim their rows: together they publish
/// each row once (without claiming, each would publish every row it read).
#[tokio::test]
async fn relays_of_two_replicas_share_the_outbox_without_publishing_a_row_twice() {
    let nats = NatsServer::start().await;
    let (_t, pool) = db(Backend::Postgres).await;
    let js = js(&nats).await;
    let claiming = |batch: i64| {
        let mut cfg = RelayConfig::for_service("order");
        cfg.ack_timeout = Duration::from_secs(2);
        cfg.claim_rows = true;
        cfg.batch = batch;
        Relay::new(pool.clone(), js.clone(), cfg, OutboxSignal::default())
    };
    for i in 0..200 {
        record(&pool, &format!("r{i}")).await;
    }
    let (a, b) = (claiming(200), claiming(200));
    let (na, nb) = tokio::join!(a.relay_once(), b.relay_once());
    let (na, nb) = (na.unwrap_or(0), nb.unwrap_or(0));
    // Whatever one of them holds, the other skips; what is left goes in a second round.
    let rest = a.relay_once().await.unwrap_or(0) + b.relay_once().await.unwrap_or(0);
    assert_eq!(
        na + nb + rest,
        200,
        "each row published by exactly one relay ({na} + {nb} + {rest})"
    );
    assert_eq!(a.pending().await.expect("pending"), 0);
    assert_eq!(stream_messages(&js, "ORDER").await, 200);
}
