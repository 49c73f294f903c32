//! The notification service on its own: a real server on port 0, a real nats-server, its own
//! database (SQLite and PostgreSQL). Status events arrive as the other contexts publish them;
//! the customer's notifications are read over gRPC; a webhook receiver is a real HTTP server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fd_chassis::outbox::metadata;
use fd_proto::notification::v1 as pb;
use fd_proto::notification::v1::notification_service_client::NotificationServiceClient;
use fd_proto::order::v1::OrderPlaced;
use fd_proto::store::v1::OrderAccepted;
use fd_testkit::events::{publish, published};
use fd_testkit::issuer::{as_user, AuthChannel};
use fd_testkit::{both_backends, Alone, Backend};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;
use tonic::Code;

struct App {
    /// As an operator (reads every customer's notifications).
    client: NotificationServiceClient<AuthChannel>,
    nats_url: String,
    db_url: String,
    url: String,
    _alone: Alone,
}

async fn spawn(backend: Backend, extra: &[(&str, &str)]) -> App {
    let alone = Alone::start(backend, "notification", extra, notification::run).await;
    App {
        client: NotificationServiceClient::new(as_user(
            Channel::from_shared(alone.server.url())
                .expect("url")
                .connect_lazy(),
            "ops",
            &["operator"],
        )),
        nats_url: alone.nats.url.clone(),
        db_url: alone.db.url.clone(),
        url: alone.server.url(),
        _alone: alone,
    }
}

fn placed(order_id: &str) -> OrderPlaced {
    OrderPlaced {
        metadata: Some(metadata(order_id, 1)),
        order_id: order_id.into(),
        customer_id: "alice".into(),
        store_id: "store-1".into(),
        ..Default::default()
    }
}

impl App {
    async fn list(&mut self, order_id: &str) -> Vec<pb::Notification> {
        self.client
            .list_notifications(pb::ListNotificationsRequest {
                customer_id: "alice".into(),
                order_id: order_id.into(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner()
            .notifications
    }

    async fn wait_for(&mut self, order_id: &str, n: usize) -> Vec<pb::Notification> {
        for _ in 0..200 {
            let list = self.list(order_id).await;
            if list.len() >= n && list.iter().all(|x| x.send_time.is_some()) {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} sent notifications for {order_id}");
    }

    async fn status(&self, order_id: &str) -> Vec<(String, i64)> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db_url).await.expect("db");
        sqlx::query_as("SELECT status, attempts FROM notifications WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(&pool)
            .await
            .expect("notifications table")
    }
}

async fn each_visible_change_is_told_once(backend: Backend) {
    let mut app = spawn(backend, &[]).await;
    let event = placed("o-1");
    publish(&app.nats_url, &event).await;
    publish(
        &app.nats_url,
        &OrderAccepted {
            metadata: Some(metadata("o-1", 2)),
            order_id: "o-1".into(),
            store_id: "store-1".into(),
            customer_id: "alice".into(),
        },
    )
    .await;
    let list = app.wait_for("o-1", 2).await;
    assert_eq!(list.len(), 2);
    let mut texts: Vec<&str> = list.iter().map(|n| n.message.as_str()).collect();
    texts.sort();
    assert!(texts[0].contains("is placed and paid"), "{texts:?}");
    assert!(texts[1].contains("accepted order"), "{texts:?}");
    assert!(list.iter().all(|n| n.channel() == pb::Channel::Log));

    // The same event again (a republish after a crash): no second notification.
    publish(&app.nats_url, &event).await;
    publish(&app.nats_url, &placed("o-2")).await;
    app.wait_for("o-2", 1).await;
    assert_eq!(app.list("o-1").await.len(), 2);

    let sent: Vec<pb::NotificationSent> = published(&app.nats_url, 3).await;
    assert_eq!(sent.len(), 3);
}

/// A webhook receiver that answers every POST with `status` and counts them.
async fn receiver(status: u16) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://{}/hooks/secret-token",
        listener.local_addr().expect("addr")
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buf).await;
                counter.fetch_add(1, Ordering::SeqCst);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

async fn webhook_retries_are_bounded(backend: Backend) {
    let (url, hits) = receiver(503).await;
    let mut app = spawn(
        backend,
        &[
            ("NOTIFY_WEBHOOK_URL", &url),
            ("NOTIFY_MAX_ATTEMPTS", "2"),
            ("NOTIFY_WEBHOOK_TIMEOUT_MS", "1000"),
        ],
    )
    .await;
    publish(&app.nats_url, &placed("o-3")).await;
    let mut status = Vec::new();
    for _ in 0..100 {
        status = app.status("o-3").await;
        if status.first().is_some_and(|(s, _)| s == "FAILED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        [("FAILED".to_string(), 2)],
        "given up after 2 attempts"
    );
    // And it stays given up.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2, "no attempt after giving up");
    let list = app.list("o-3").await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].send_time, None, "never sent");
}

async fn a_working_webhook_gets_each_notification(backend: Backend) {
    let (url, hits) = receiver(200).await;
    let mut app = spawn(backend, &[("NOTIFY_WEBHOOK_URL", &url)]).await;
    publish(&app.nats_url, &placed("o-4")).await;
    let list = app.wait_for("o-4", 1).await;
    assert_eq!(list[0].channel(), pb::Channel::Webhook);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_webhook_that_is_not_http_is_a_configuration_error() {
    use fd_chassis::service::ServiceConfig;
    let env = fd_chassis::config::Env::from_pairs([
        ("NOTIFY_WEBHOOK_URL", "ftp://hooks.example.com/x"),
        ("NOTIFY_MAX_ATTEMPTS", "0"),
        ("NOTIFY_RETENTION_DAYS", "7"),
    ]);
    let e = notification::Config::from_env(env).expect_err("bad config");
    let msg = e.to_string();
    assert!(msg.contains("NOTIFY_WEBHOOK_URL"), "{msg}");
    assert!(msg.contains("NOTIFY_MAX_ATTEMPTS"), "{msg}");
    assert!(
        msg.contains("NOTIFY_RETENTION_DAYS") && msg.contains("replayed event"),
        "{msg}"
    );
}

#[tokio::test]
async fn listing_needs_a_customer() {
    let mut app = spawn(Backend::Sqlite, &[]).await;
    let e = app
        .client
        .list_notifications(pb::ListNotificationsRequest::default())
        .await
        .expect_err("invalid");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("customer_id"), "{}", e.message());
}

/// A notification row as the policy stores it for an OrderPlaced (`id` names it, its order
/// and its event), created and due at `at_ms`.
fn stored(
    customer: &str,
    id: &str,
    channel: notification::domain::ChannelKind,
    status: notification::domain::SendStatus,
    at_ms: i64,
) -> notification::domain::Notification {
    notification::domain::Notification {
        notification_id: id.into(),
        customer_id: customer.into(),
        order_id: format!("order-{id}"),
        source_event_type: "fooddelivery.order.v1.OrderPlaced".into(),
        source_event_id: format!("event-{id}"),
        message: "m".into(),
        channel,
        status,
        attempts: 0,
        next_attempt_at_ms: at_ms,
        last_error: String::new(),
        created_at_ms: at_ms,
        sent_at_ms: 0,
    }
}

/// Notifications past retention go once they are done; pending ones and recent ones stay.
async fn old_notifications_are_pruned_once_done(backend: Backend) {
    use notification::domain::{ChannelKind, Notification, SendStatus};
    // The table alone: a running service would send the pending row and prune on its own.
    let db_handle = fd_testkit::TestDb::new(backend, "notification").await;
    let db = fd_chassis::db::connect(&db_handle.url, &notification::MIGRATOR)
        .await
        .expect("db");
    let now = fd_chassis::time::now_ms();
    let day = 86_400_000;
    let row = |id: &str, status: SendStatus, age_days: i64| Notification {
        attempts: 1,
        next_attempt_at_ms: 0,
        ..stored("pat", id, ChannelKind::Log, status, now - age_days * day)
    };
    let rows = [
        row("old-sent", SendStatus::Sent, 100),
        row("old-failed", SendStatus::Failed, 100),
        row("old-pending", SendStatus::Pending, 100),
        row("recent-sent", SendStatus::Sent, 10),
    ];
    let mut conn = db.pool.acquire().await.expect("connection");
    assert_eq!(
        notification::db::insert_once(&mut conn, &rows)
            .await
            .expect("insert"),
        4
    );
    // Once per source event: the same rows again insert nothing.
    assert_eq!(
        notification::db::insert_once(&mut conn, &rows)
            .await
            .expect("insert again"),
        0
    );
    drop(conn);
    let pruned = notification::db::prune(&db.pool, now - 90 * day)
        .await
        .expect("prune");
    assert_eq!(pruned, 2);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT notification_id FROM notifications ORDER BY notification_id")
            .fetch_all(&db.pool)
            .await
            .expect("rows");
    assert_eq!(left, ["old-pending", "recent-sent"]);
}

/// `n` due notifications of one customer in a fresh table, and two replicas' senders over it
/// with the channel `channel` makes (the database handle keeps the table alive).
async fn two_senders_over(
    backend: Backend,
    kind: notification::domain::ChannelKind,
    n: usize,
    channel: impl Fn() -> notification::channel::Channel,
) -> (
    fd_testkit::TestDb,
    fd_chassis::db::Db,
    notification::sender::Sender,
    notification::sender::Sender,
) {
    let db_handle = fd_testkit::TestDb::new(backend, "notification").await;
    let db = fd_chassis::db::connect(&db_handle.url, &notification::MIGRATOR)
        .await
        .expect("db");
    let now = fd_chassis::time::now_ms();
    for i in 0..n {
        let row = stored(
            "sam",
            &format!("n-{i}"),
            kind,
            notification::domain::SendStatus::Pending,
            now,
        );
        let mut conn = db.pool.acquire().await.expect("connection");
        assert_eq!(
            notification::db::insert_once(&mut conn, &[row])
                .await
                .expect("insert"),
            1
        );
    }
    let replica = || notification::sender::Sender {
        db: db.clone(),
        channel: channel(),
        wake: Arc::new(tokio::sync::Notify::new()),
        max_attempts: 3,
        lease: Duration::from_secs(10),
    };
    let (a, b) = (replica(), replica());
    (db_handle, db, a, b)
}

/// Two replicas' senders over one table: each notification reaches the webhook once.
async fn two_replicas_send_each_notification_once(backend: Backend) {
    let (url, hits) = receiver(200).await;
    let n = 40;
    let (_table, _db, a, b) = two_senders_over(
        backend,
        notification::domain::ChannelKind::Webhook,
        n,
        || {
            notification::channel::Channel::webhook(
                notification::channel::WebhookUrl::new(url.clone()),
                Duration::from_secs(2),
                None,
            )
            .expect("channel")
        },
    )
    .await;
    let (sa, sb) = tokio::join!(a.send_due(), b.send_due());
    let (sa, sb) = (sa.expect("a"), sb.expect("b"));
    assert_eq!(sa + sb, n, "every notification sent by one of them");
    assert_eq!(hits.load(Ordering::SeqCst), n, "and each POSTed once");
}

/// Two replicas writing to the log claim many at once: each notification is still sent (and
/// its NotificationSent recorded) by one of them only.
async fn two_log_senders_claim_each_notification_once(backend: Backend) {
    let n = 150; // more than one round of 64 each
    let (_table, db, a, b) =
        two_senders_over(backend, notification::domain::ChannelKind::Log, n, || {
            notification::channel::Channel::Log
        })
        .await;
    let mut total = 0;
    loop {
        let (sa, sb) = tokio::join!(a.send_due(), b.send_due());
        let round = sa.expect("a") + sb.expect("b");
        if round == 0 {
            break;
        }
        total += round;
    }
    assert_eq!(total, n, "each claimed by one sender");
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fd_outbox")
        .fetch_one(&db.pool)
        .await
        .expect("outbox");
    assert_eq!(
        events,
        i64::try_from(n).expect("n"),
        "one NotificationSent each"
    );
    let pending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE status <> 'SENT'")
            .fetch_one(&db.pool)
            .await
            .expect("rows");
    assert_eq!(pending, 0);
}

both_backends!(
    two_log_senders_claim_each_notification_once,
    two_replicas_send_each_notification_once,
    old_notifications_are_pruned_once_done,
    each_visible_change_is_told_once,
    webhook_retries_are_bounded,
    a_working_webhook_gets_each_notification,
);

/// An HTTPS webhook receiver with a certificate of its own CA; returns its URL, the CA's PEM
/// and the request lines it got.
async fn https_receiver() -> (String, String, Arc<std::sync::Mutex<Vec<String>>>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("cert");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("tls config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, log) = (acceptor.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return; // a client that does not trust us
                };
                let mut buf = vec![0u8; 16 * 1024];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some(line) = request.lines().next() {
                    log.lock().expect("lock").push(line.to_string());
                }
                let _ = tls
                    .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (
        format!("https://localhost:{port}/hooks/s3cret"),
        ca.pem(),
        seen,
    )
}

async fn an_https_webhook_is_verified_and_delivered(backend: Backend) {
    let (url, ca_pem, seen) = https_receiver().await;
    let dir = tempfile::tempdir().expect("dir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).expect("ca file");
    let ca_path = ca_file.display().to_string();
    let mut app = spawn(
        backend,
        &[
            ("NOTIFY_WEBHOOK_URL", &url),
            ("NOTIFY_WEBHOOK_CA_FILE", &ca_path),
        ],
    )
    .await;
    publish(&app.nats_url, &placed("o-5")).await;
    let list = app.wait_for("o-5", 1).await;
    assert_eq!(list[0].channel(), pb::Channel::Webhook);
    assert_eq!(
        seen.lock().expect("lock").as_slice(),
        ["POST /hooks/s3cret HTTP/1.1"]
    );
}

/// Without the receiver's CA the TLS handshake fails: nothing is sent, and it is retried.
async fn an_untrusted_https_webhook_gets_nothing(backend: Backend) {
    let (url, _ca, seen) = https_receiver().await;
    let app = spawn(
        backend,
        &[("NOTIFY_WEBHOOK_URL", &url), ("NOTIFY_MAX_ATTEMPTS", "1")],
    )
    .await;
    publish(&app.nats_url, &placed("o-6")).await;
    let mut status = Vec::new();
    for _ in 0..100 {
        status = app.status("o-6").await;
        if status.first().is_some_and(|(s, _)| s == "FAILED") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, [("FAILED".to_string(), 1)]);
    assert!(seen.lock().expect("lock").is_empty());
}

both_backends!(
    an_https_webhook_is_verified_and_delivered,
    an_untrusted_https_webhook_gets_nothing,
);

/// A customer lists only their own notifications; nobody lists without a token.
async fn customers_list_only_their_own_notifications(backend: Backend) {
    let app = spawn(backend, &[]).await;
    let ch = Channel::from_shared(app.url.clone())
        .expect("url")
        .connect_lazy();
    let list = |who: &str| pb::ListNotificationsRequest {
        customer_id: who.into(),
        order_id: String::new(),
        page_size: 10,
        page_token: String::new(),
    };
    let mut alice = NotificationServiceClient::new(as_user(ch.clone(), "alice", &["customer"]));
    alice
        .list_notifications(list("alice"))
        .await
        .expect("her own");
    let err = alice
        .list_notifications(list("bob"))
        .await
        .expect_err("bob's");
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = NotificationServiceClient::new(ch)
        .list_notifications(list("alice"))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
}

fd_testkit::both_backends!(customers_list_only_their_own_notifications);
