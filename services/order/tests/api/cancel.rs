//! CancelOrder's state machine and WatchOrder.

use fd_proto::order::v1 as pb;
use fd_testkit::{both_backends, Backend};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::helpers::*;

fn cancel(order_id: &str, reason: &str) -> pb::CancelOrderRequest {
    pb::CancelOrderRequest {
        order_id: order_id.into(),
        reason: reason.into(),
    }
}

async fn cancel_rules(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("gina");
    let o = app
        .order
        .place_order(place("gina", "k"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("o");

    let c1 = app
        .order
        .cancel_order(cancel(&o.order_id, "changed my mind"))
        .await
        .expect("cancel")
        .into_inner()
        .order
        .expect("o");
    assert_eq!(c1.state(), pb::OrderState::Cancelled);
    assert_eq!(c1.cancel_reason, "changed my mind");
    let states: Vec<_> = c1.timeline.iter().map(|t| t.state()).collect();
    assert_eq!(states, [pb::OrderState::Placed, pb::OrderState::Cancelled]);

    // Cancelling twice is harmless: same order, no new timeline entry.
    let c2 = app
        .order
        .cancel_order(cancel(&o.order_id, "again"))
        .await
        .expect("cancel again")
        .into_inner()
        .order
        .expect("o");
    // (The payment's status may move on meanwhile: the refund runs in the background.)
    assert_eq!(c2.state(), pb::OrderState::Cancelled);
    assert_eq!(c2.cancel_reason, c1.cancel_reason);
    assert_eq!(c2.timeline, c1.timeline);

    let err = app
        .order
        .cancel_order(cancel(&order_id("nobody", "x"), ""))
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::NotFound);
    let err = app
        .order
        .cancel_order(cancel("nope", &"r".repeat(501)))
        .await
        .expect_err("invalid");
    assert_eq!(violated_fields(&err), ["order_id", "reason"]);
}

async fn delivered_order_cannot_be_cancelled(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("hank");
    let o = app
        .order
        .place_order(place("hank", "k"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("o");
    // Deliveries arrive by events (a later stage); here the test moves the stored order on.
    let db = fd_chassis::db::connect(&app.order_db.url, &order::MIGRATOR)
        .await
        .expect("db");
    let mut stored = order::db::get(&db.pool, &o.order_id)
        .await
        .expect("read")
        .expect("exists");
    let loaded = stored.version;
    stored.apply(
        order::domain::Fact::Delivered,
        fd_chassis::time::now_ms(),
        "",
    );
    assert!(order::db::update(&db.pool, &stored, loaded)
        .await
        .expect("update"));

    let err = app
        .order
        .cancel_order(cancel(&o.order_id, "too late"))
        .await
        .expect_err("delivered");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let now = app
        .order
        .get_order(pb::GetOrderRequest {
            order_id: o.order_id,
        })
        .await
        .expect("get")
        .into_inner()
        .order
        .expect("o");
    assert_eq!(now.state(), pb::OrderState::Delivered);
}

async fn watch_streams_each_change_until_final(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("ivy");
    let o = app
        .order
        .place_order(place("ivy", "k"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("o");
    let mut stream = app
        .order
        .watch_order(pb::WatchOrderRequest {
            order_id: o.order_id.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = stream
        .next()
        .await
        .expect("first")
        .expect("ok")
        .order
        .expect("o");
    assert_eq!(first.state(), pb::OrderState::Placed);
    app.order
        .cancel_order(cancel(&o.order_id, "bye"))
        .await
        .expect("cancel");
    let second = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .expect("in time")
        .expect("second")
        .expect("ok");
    assert_eq!(second.order.expect("o").state(), pb::OrderState::Cancelled);
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), stream.next())
        .await
        .expect("in time");
    assert!(end.is_none(), "stream ends at a final state");
}

/// A replica serves at most MAX_WATCHES streams; the next is refused with RESOURCE_EXHAUSTED
/// (and a RetryInfo), and a stream that ends frees its place.
async fn watches_per_replica_are_capped(backend: Backend) {
    let mut app = spawn_with(backend, &[("MAX_WATCHES", "1")], &[]).await;
    app.act_as("ivy");
    let o = app
        .order
        .place_order(place("ivy", "capped"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("o");
    let watch = || pb::WatchOrderRequest {
        order_id: o.order_id.clone(),
    };
    let mut first = app
        .order
        .watch_order(watch())
        .await
        .expect("watch")
        .into_inner();
    first.next().await.expect("first").expect("ok");
    let err = app
        .order
        .watch_order(watch())
        .await
        .expect_err("over the cap");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    drop(first);
    // The server notices the closed stream and frees its place.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match app.order.watch_order(watch()).await {
            Ok(_) => break,
            Err(e) if e.code() == Code::ResourceExhausted => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the place was never freed"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

both_backends!(
    cancel_rules,
    delivered_order_cannot_be_cancelled,
    watch_streams_each_change_until_final,
    watches_per_replica_are_capped
);
