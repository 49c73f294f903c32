//! Two replicas of order and of store on one PostgreSQL database each: a watcher on one order
//! replica sees what is done through the other, and commands racing each other on different
//! replicas end as the state machines say — no policy acknowledges an effect that lost.

use std::time::Duration;

use fd_proto::order::v1 as order;
use fd_proto::payment::v1 as payment;
use fd_proto::store::v1 as store;
use fd_testkit::issuer::as_user;
use fd_testkit::Backend;
use futures::StreamExt;
use tonic::transport::Channel;

use fd_system_tests::{eventually, System};

/// The next order a watch stream sends, within 10 s.
async fn next(stream: &mut tonic::Streaming<order::WatchOrderResponse>) -> order::Order {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a change within 10 s")
        .expect("an item")
        .expect("ok")
        .order
        .expect("order")
}

fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("url")
        .connect_lazy()
}

#[tokio::test]
async fn a_watcher_on_one_replica_sees_changes_made_through_the_other() {
    let mut sys = System::start(Backend::Postgres).await;
    let order_2 = sys.add_replica("order").await;
    let o = sys.place("wanda", "replica-watch").await;
    // Watch through replica 2; the order was placed through replica 1.
    let mut watch_2 = order::order_service_client::OrderServiceClient::new(as_user(
        channel(&order_2),
        "wanda",
        &["customer"],
    ));
    let mut stream = watch_2
        .watch_order(order::WatchOrderRequest {
            order_id: o.order_id.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = stream.next().await.expect("first").expect("ok");
    assert_eq!(first.order.expect("o").state(), order::OrderState::Placed);
    // The store accepts: whichever replica's consumer projects it, replica 2's watcher hears.
    eventually("ticket", || async { sys.ticket(&o.order_id).await }).await;
    sys.store()
        .await
        .accept_order(store::AcceptOrderRequest {
            order_id: o.order_id.clone(),
        })
        .await
        .expect("accept");
    assert_eq!(next(&mut stream).await.state(), order::OrderState::Accepted);
    // The customer cancels through replica 1.
    sys.order_as("wanda")
        .await
        .cancel_order(order::CancelOrderRequest {
            order_id: o.order_id.clone(),
            reason: "changed my mind".into(),
        })
        .await
        .expect("cancel through replica 1");
    // Accepted → Cancelled; the refund may land in the same or a later change.
    let mut seen = next(&mut stream).await;
    while seen.state() != order::OrderState::Cancelled {
        seen = next(&mut stream).await;
    }
    assert_eq!(seen.state(), order::OrderState::Cancelled);
}

#[tokio::test]
async fn commands_racing_on_different_replicas_end_as_the_state_machines_say() {
    let mut sys = System::start(Backend::Postgres).await;
    let order_2 = sys.add_replica("order").await;
    let store_2 = sys.add_replica("store").await;
    let _payment_2 = sys.add_replica("payment").await;
    let mut orders = Vec::new();
    for i in 0..12 {
        let o = sys.place("rita", &format!("race-{i}")).await;
        eventually("ticket", || async { sys.ticket(&o.order_id).await }).await;
        orders.push(o.order_id);
    }
    // For each order at once: the owner accepts through store replica 2 and the customer
    // cancels through order replica 2 (and again through replica 1).
    let cancel_2 = order::order_service_client::OrderServiceClient::new(as_user(
        channel(&order_2),
        "rita",
        &["customer"],
    ));
    let accept_2 = store::store_service_client::StoreServiceClient::new(as_user(
        channel(&store_2),
        "olga",
        &["owner"],
    ));
    let cancel_1 = sys.order_as("rita").await;
    let races = orders.iter().map(|id| {
        let (c2, mut a2, c1) = (cancel_2.clone(), accept_2.clone(), cancel_1.clone());
        let id = id.clone();
        async move {
            let cancel = |mut c: order::order_service_client::OrderServiceClient<_>| {
                let id = id.clone();
                async move {
                    c.cancel_order(order::CancelOrderRequest {
                        order_id: id,
                        reason: "race".into(),
                    })
                    .await
                }
            };
            let (accepted, cancelled_2, cancelled_1) = tokio::join!(
                a2.accept_order(store::AcceptOrderRequest {
                    order_id: id.clone()
                }),
                cancel(c2),
                cancel(c1),
            );
            // Accepting may lose to the cancellation (FAILED_PRECONDITION), never error else.
            if let Err(s) = &accepted {
                assert_eq!(s.code(), tonic::Code::FailedPrecondition, "{s:?}");
            }
            // Cancelling an accepted or cancelled order is allowed: both succeed.
            cancelled_2.expect("cancel through replica 2");
            cancelled_1.expect("cancel through replica 1");
        }
    });
    futures::future::join_all(races).await;

    // Every order: cancelled once, refunded once, its ticket voided (even if accepted).
    for id in &orders {
        let o = eventually(&format!("{id} cancelled"), || async {
            let o = sys.get(id).await;
            (o.state() == order::OrderState::Cancelled).then_some(o)
        })
        .await;
        assert_eq!(o.state(), order::OrderState::Cancelled);
        eventually(&format!("{id} refunded"), || async {
            let p = sys
                .payment()
                .await
                .get_payment(payment::GetPaymentRequest {
                    lookup: Some(payment::get_payment_request::Lookup::OrderId(id.clone())),
                })
                .await
                .expect("payment")
                .into_inner()
                .payment
                .expect("p");
            (p.state() == payment::PaymentState::Refunded).then_some(())
        })
        .await;
        let ticket = eventually(&format!("{id} ticket voided"), || async {
            sys.ticket(id)
                .await
                .filter(|t| t.state() == store::TicketState::Voided)
        })
        .await;
        assert_eq!(ticket.state(), store::TicketState::Voided);
    }
    // Exactly one OrderCancelled and one PaymentRefunded per order in JetStream.
    let cancelled =
        fd_testkit::events::published::<order::OrderCancelled>(&sys.nats.url, orders.len()).await;
    let refunded =
        fd_testkit::events::published::<payment::PaymentRefunded>(&sys.nats.url, orders.len())
            .await;
    for id in &orders {
        assert_eq!(
            cancelled.iter().filter(|e| &e.order_id == id).count(),
            1,
            "{id} OrderCancelled"
        );
        assert_eq!(
            refunded.iter().filter(|e| &e.order_id == id).count(),
            1,
            "{id} PaymentRefunded"
        );
    }
}
