//! NATS is locked down: each service is a user of its own that may publish only its own
//! context's events, create and change only its own stream, and read only the streams it
//! consumes. Here a real nats-server with the generated configuration refuses what a
//! compromised store would try: forge an order event, read payments, listen to every event,
//! delete or rewrite another context's stream.

use std::time::Duration;

use async_nats::jetstream;
use fd_testkit::NatsServer;
use tokio::sync::mpsc;

/// Connects as service `name` (its own nkey), collecting the server's error messages.
async fn connect_as(
    nats: &NatsServer,
    name: &str,
) -> (jetstream::Context, mpsc::UnboundedReceiver<String>) {
    let seed = nats.auth().and_then(|a| a.seed(name)).expect("a seed");
    let (tx, rx) = mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::with_nkey(seed.to_string())
        .custom_inbox_prefix(fd_chassis::nats::inbox_prefix(name))
        .event_callback(move |e| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(e.to_string());
            }
        })
        .connect(nats.server_url())
        .await
        .expect("a service connects as itself");
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_millis(1500));
    (js, rx)
}

/// The next server error that mentions `what`, within 3 s.
async fn violation(rx: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) if e.contains("Permissions Violation") && e.contains(what) => return e,
            Ok(Some(_)) => {}
            _ => panic!("the server reported no permissions violation for {what}"),
        }
    }
}

async fn admin_streams(nats: &NatsServer) -> jetstream::Context {
    let js = jetstream::new(
        fd_chassis::nats::connect_url(&nats.url)
            .await
            .expect("admin"),
    );
    for context in ["order", "store", "payment"] {
        fd_chassis::nats::ensure_stream(&js, context, 1)
            .await
            .expect("the admin creates streams");
    }
    js
}

#[tokio::test]
async fn a_service_cannot_publish_another_contexts_events() {
    let nats = NatsServer::start_locked().await;
    let admin = admin_streams(&nats).await;
    let (store, mut errors) = connect_as(&nats, "store").await;

    // Its own events go through, acknowledged by the stream.
    store
        .publish("fooddelivery.store.v1.OrderAccepted", "ok".into())
        .await
        .expect("publish")
        .await
        .expect("its own context's event is stored");

    // An OrderCancelled from store would have payment refund and delivery cancel: refused.
    let forged = store
        .publish("fooddelivery.order.v1.OrderCancelled", "forged".into())
        .await
        .expect("sent")
        .await;
    assert!(forged.is_err(), "the forged event was acknowledged");
    violation(&mut errors, "fooddelivery.order.v1.OrderCancelled").await;
    let order = admin.get_stream("ORDER").await.expect("ORDER");
    let mut order = order;
    let info = order.info().await.expect("info");
    assert_eq!(
        info.state.messages, 0,
        "the forged event reached the ORDER stream"
    );

    // Nor may it write into another service's dead letters.
    let _ = store
        .publish("deadletter.payment.refund-on-cancelled", "x".into())
        .await;
    violation(&mut errors, "deadletter.payment").await;
}

#[tokio::test]
async fn a_service_reads_only_the_streams_it_consumes() {
    let nats = NatsServer::start_locked().await;
    let _admin = admin_streams(&nats).await;
    let (store, mut errors) = connect_as(&nats, "store").await;

    // store consumes ORDER: it may create its durable consumer there.
    let order = store.get_stream("ORDER").await.expect("ORDER info");
    order
        .get_or_create_consumer(
            "store-tickets",
            jetstream::consumer::pull::Config {
                durable_name: Some("store-tickets".into()),
                ..Default::default()
            },
        )
        .await
        .expect("a consumer on a stream it consumes");

    // It does not consume PAYMENT: not even the stream's info, let alone a consumer.
    assert!(store.get_stream("PAYMENT").await.is_err());
    violation(&mut errors, "$JS.API.STREAM.INFO.PAYMENT").await;

    // A plain subscription to every event is refused too.
    let client = store.client();
    let _sub = client.subscribe("fooddelivery.>").await.expect("sent");
    violation(&mut errors, "fooddelivery.>").await;
}

#[tokio::test]
async fn only_a_streams_publisher_may_change_it_and_nobody_may_delete_it() {
    let nats = NatsServer::start_locked().await;
    let admin = admin_streams(&nats).await;
    let (store, mut errors) = connect_as(&nats, "store").await;

    assert!(store.delete_stream("ORDER").await.is_err());
    violation(&mut errors, "$JS.API.STREAM.DELETE.ORDER").await;
    assert!(
        store.delete_stream("STORE").await.is_err(),
        "not even its own"
    );
    violation(&mut errors, "$JS.API.STREAM.DELETE.STORE").await;

    // Rewriting ORDER to capture nothing would silence order's events.
    let mut hijack = fd_chassis::nats::stream_config("order", 1);
    hijack.subjects = vec!["nothing.>".into()];
    assert!(store.update_stream(hijack).await.is_err());
    violation(&mut errors, "$JS.API.STREAM.UPDATE.ORDER").await;

    // Its own stream it keeps up to date (the relay does at every start).
    fd_chassis::nats::ensure_stream(&store, "store", 1)
        .await
        .expect("its own stream");
    fd_chassis::nats::ensure_dead_letter_stream(&store, 1)
        .await
        .expect("creates the dead-letter stream if missing");

    let mut order = admin.get_stream("ORDER").await.expect("still there");
    let info = order.info().await.expect("info");
    assert_eq!(info.config.subjects, ["fooddelivery.order.>"]);
}

#[tokio::test]
async fn nobody_without_credentials_gets_in() {
    let nats = NatsServer::start_locked().await;
    let anonymous = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats.server_url());
    // The client keeps retrying an authorization failure; it never becomes connected.
    let client = tokio::time::timeout(Duration::from_secs(2), anonymous).await;
    let connected = matches!(&client, Ok(Ok(c))
        if c.connection_state() == async_nats::connection::State::Connected);
    assert!(!connected, "an anonymous client got in");
    let refused = async_nats::connect(nats.server_url()).await;
    let msg = refused.expect_err("anonymous").to_string();
    assert!(msg.to_lowercase().contains("authorization"), "{msg}");
}

/// NATS over TLS: a service given `tls://` and the server's CA logs in as itself and creates
/// its stream; without the CA it does not connect at all.
#[tokio::test]
async fn a_service_talks_to_nats_over_tls_as_itself() {
    let dir = tempfile::tempdir().expect("dir");
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("cert");
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("ca.pem"), ca.pem()).expect("write");
    std::fs::write(path("server.pem"), cert.pem()).expect("write");
    std::fs::write(path("server.key"), key.serialize_pem()).expect("write");

    let auth = fd_testkit::nats_auth::LocalAuth::generate();
    let port = fd_testkit::system::free_port().expect("port");
    let tls = fd_testkit::nats_auth::ServerTls {
        cert_file: path("server.pem"),
        key_file: path("server.key"),
        ca_file: None,
    };
    std::fs::write(
        path("nats.conf"),
        auth.server_config(port, &path("js"), Some(&tls)),
    )
    .expect("conf");
    let _nats = tokio::process::Command::new(fd_testkit::nats_server_bin())
        .arg("-c")
        .arg(path("nats.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nats-server");
    fd_testkit::wait_for_port(([127, 0, 0, 1], port).into()).await;
    let url = format!("tls://localhost:{port}");

    // Without the CA the server's certificate is not trusted: no connection.
    let untrusted = fd_chassis::nats::connect(
        &url,
        "store",
        &fd_chassis::nats::Access {
            nkey_seed: auth.seed("store").map(String::from),
            ..Default::default()
        },
    )
    .await
    .expect("the client keeps trying in the background");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_ne!(
        untrusted.connection_state(),
        async_nats::connection::State::Connected
    );

    // The real store service, configured by environment as in production.
    let db = fd_testkit::TestDb::new(fd_testkit::Backend::Sqlite, "store").await;
    let ca_file = path("ca.pem").display().to_string();
    let seed = auth.seed("store").expect("seed").to_string();
    let _store = fd_testkit::Server::service(
        vec![
            ("DATABASE_URL".into(), db.url.clone()),
            ("NATS_URL".into(), url.clone()),
            ("NATS_CA_FILE".into(), ca_file.clone()),
            ("NATS_NKEY_SEED".into(), seed),
        ],
        store::run,
    )
    .await;
    // The admin, over TLS too, sees the stream the store's relay created at start.
    let admin = async_nats::ConnectOptions::new()
        .user_and_password(
            fd_testkit::nats_auth::ADMIN.into(),
            fd_chassis::nats::split_credentials(&auth.admin_url("nats://x"))
                .1
                .expect("admin credentials")
                .1,
        )
        .add_root_certificates(path("ca.pem"))
        .require_tls(true)
        .connect(format!("localhost:{port}"))
        .await
        .expect("admin over TLS");
    let js = jetstream::new(admin);
    let mut found = false;
    for _ in 0..100 {
        if js.get_stream("STORE").await.is_ok() {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(found, "the store never created its stream over TLS");
}
