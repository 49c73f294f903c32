//! An authorization whose order was never stored (a crash or a failed insert between
//! Authorize and the commit) is released by order within ORPHAN_AFTER_MS + ORPHAN_SWEEP_MS;
//! the payment of an order that was stored is never touched.

use std::time::Duration;

use fd_proto::payment::v1 as pay;
use fd_testkit::{both_backends, Backend};

use crate::helpers::*;

async fn an_authorization_without_an_order_is_released(backend: Backend) {
    let app = spawn_with(
        backend,
        &[("ORPHAN_AFTER_MS", "3100"), ("ORPHAN_SWEEP_MS", "100")],
        &[],
    )
    .await;
    // A placed order: its intent is gone with the commit.
    let placed = app
        .order
        .clone()
        .place_order(place("alice", "kept"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("order");

    // What a crash right after Authorize leaves: the intent, and an AUTHORIZED payment for an
    // order that does not exist.
    let lost = order_id("alice", "lost");
    let pool = fd_chassis::db::connect(&app.order_db.url, order::SERVICE.migrator)
        .await
        .expect("order db")
        .pool;
    order::db::record_intent(&pool, &lost, fd_chassis::time::now_ms())
        .await
        .expect("intent");
    let authorized = app
        .payment_as_order()
        .authorize(pay::AuthorizeRequest {
            order_id: lost.clone(),
            customer_id: "alice".into(),
            amount: eur(2900),
        })
        .await
        .expect("authorized")
        .into_inner()
        .payment
        .expect("payment");
    assert_eq!(authorized.state(), pay::PaymentState::Authorized);

    let state = |id: String| {
        let app = &app;
        async move { payment_of(app, &id).await.expect("a payment").state() }
    };
    // Not before its time (a request may still be in flight)...
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(state(lost.clone()).await, pay::PaymentState::Authorized);
    // ...and then released.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while state(lost.clone()).await != pay::PaymentState::Refunded {
        assert!(
            std::time::Instant::now() < deadline,
            "the orphaned authorization was never released"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let intents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payment_intents")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(intents, 0);
    // The stored order's payment stays as it was.
    assert_eq!(state(placed.order_id).await, pay::PaymentState::Authorized);
}

both_backends!(an_authorization_without_an_order_is_released);
