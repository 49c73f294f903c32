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
    // Its PaymentRefunded reaches order's status view, which has no order to show it on:
    // taken as handled, not dead-lettered.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let handled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM fd_processed_events WHERE consumer = 'order-status-from-payment'",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        if handled == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refund of the released authorization was never handled (dead-lettered?)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The stored order's payment stays as it was.
    assert_eq!(state(placed.order_id).await, pay::PaymentState::Authorized);
}

both_backends!(an_authorization_without_an_order_is_released);

/// A PlaceOrder that takes longer than ORPHAN_AFTER_MS (a database outage, a slow retry)
/// meets recovery releasing its authorization: whichever comes second loses. Once recovery has
/// claimed the intent, the request is refused (AUTHORIZATION_RELEASED) and nothing is stored,
/// so no order ever exists with a refunded payment; a retry after the release finds the
/// payment refunded and is refused too.
async fn a_request_never_stores_an_order_whose_authorization_is_being_released(backend: Backend) {
    let app = spawn_with(
        backend,
        // Recovery does not run by itself here: the test plays it step by step.
        &[("ORPHAN_AFTER_MS", "600000"), ("ORPHAN_SWEEP_MS", "600000")],
        &[],
    )
    .await;
    let pool = fd_chassis::db::connect(&app.order_db.url, order::SERVICE.migrator)
        .await
        .expect("order db")
        .pool;
    let id = order_id("alice", "slow");
    let now = fd_chassis::time::now_ms();
    // The first attempt recorded its intent a while ago and was authorized...
    assert!(order::db::record_intent(&pool, &id, now - 120_000)
        .await
        .expect("intent"));
    app.payment_as_order()
        .authorize(pay::AuthorizeRequest {
            order_id: id.clone(),
            customer_id: "alice".into(),
            amount: eur(2900),
        })
        .await
        .expect("authorized");
    // ...then recovery claims the stale intent (and is about to release it).
    assert!(
        order::db::claim_stale_intent(&pool, &id, now - 60_000, now)
            .await
            .expect("claim"),
        "a stale intent is claimed"
    );
    assert!(
        !order::db::claim_stale_intent(&pool, &id, now - 60_000, now)
            .await
            .expect("claim"),
        "once"
    );
    // A retry now is refused, and stores nothing.
    let refused = app
        .order
        .clone()
        .place_order(place("alice", "slow"))
        .await
        .expect_err("refused while being released");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert_eq!(reason(&refused), "AUTHORIZATION_RELEASED");
    // The transaction that would store it finds no live intent either.
    assert!(!order::db::forget_intent(&pool, &id).await.expect("forget"));
    // Recovery finishes as orphans::sweep does: Refund as order, then the intent goes.
    app.payment_as_order()
        .refund(pay::RefundRequest {
            order_id: id.clone(),
            reason: "released".into(),
        })
        .await
        .expect("released");
    order::db::drop_released_intent(&pool, &id)
        .await
        .expect("dropped");
    assert_eq!(
        payment_of(&app, &id).await.expect("payment").state(),
        pay::PaymentState::Refunded
    );
    // A later retry: refused, still no order.
    let again = app
        .order
        .clone()
        .place_order(place("alice", "slow"))
        .await
        .expect_err("the payment is refunded");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE order_id = $1")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(orders, 0, "no order with a released authorization");
}

both_backends!(a_request_never_stores_an_order_whose_authorization_is_being_released);
