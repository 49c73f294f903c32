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
        fd_chassis::nats::ensure_stream(&js, context)
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
    let mut hijack = fd_chassis::nats::stream_config("order");
    hijack.subjects = vec!["nothing.>".into()];
    assert!(store.update_stream(hijack).await.is_err());
    violation(&mut errors, "$JS.API.STREAM.UPDATE.ORDER").await;

    // Its own stream it keeps up to date (the relay does at every start).
    fd_chassis::nats::ensure_stream(&store, "store")
        .await
        .expect("its own stream");
    fd_chassis::nats::ensure_dead_letter_stream(&store)
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
