//! The eight scenarios of the domain (docs/architecture.md), asserted through the public RPCs and the status view.

use fd_proto::delivery::v1 as delivery;
use fd_proto::order::v1 as order;
use fd_proto::payment::v1 as payment;
use fd_proto::store::v1 as store;
use fd_testkit::{both_backends, Backend};

use fd_system_tests::{eventually, System};

async fn state_becomes(sys: &System, order_id: &str, want: order::OrderState) -> order::Order {
    eventually(&format!("order {order_id} {want:?}"), || async {
        let o = sys.get(order_id).await;
        (o.state() == want).then_some(o)
    })
    .await
}

async fn payment_state(sys: &System, order_id: &str) -> payment::PaymentState {
    let lookup = Some(payment::get_payment_request::Lookup::OrderId(
        order_id.into(),
    ));
    sys.payment()
        .await
        .get_payment(payment::GetPaymentRequest { lookup })
        .await
        .expect("payment")
        .into_inner()
        .payment
        .expect("p")
        .state()
}

async fn delivery_of(sys: &System, order_id: &str) -> Option<delivery::Delivery> {
    sys.delivery()
        .await
        .get_delivery(delivery::GetDeliveryRequest {
            order_id: order_id.into(),
        })
        .await
        .ok()
        .and_then(|r| r.into_inner().delivery)
}

fn timeline(o: &order::Order) -> Vec<order::OrderState> {
    o.timeline.iter().map(|t| t.state()).collect()
}

async fn notified(sys: &System, customer: &str, order_id: &str, expected: &[&str]) {
    let want: Vec<String> = expected
        .iter()
        .map(|t| format!("fooddelivery.{t}"))
        .collect();
    let got = eventually(
        &format!("{} notifications for {order_id}", want.len()),
        || async {
            let mut got: Vec<String> = sys
                .notifications(customer)
                .await
                .into_iter()
                .filter(|n| n.order_id == order_id)
                .map(|n| n.source_event_type)
                .collect();
            got.sort();
            (got.len() >= want.len()).then_some(got)
        },
    )
    .await;
    let mut want = want;
    want.sort();
    assert_eq!(got, want, "exactly one notification per visible change");
}

async fn all_eight_scenarios(backend: Backend) {
    let sys = System::start(backend).await;
    use order::OrderState as S;

    // 1, 2: pick items, place, pay.
    let o = sys.place("ada", "happy").await;
    assert_eq!(o.state(), S::Placed);
    assert_eq!(
        payment_state(&sys, &o.order_id).await,
        payment::PaymentState::Authorized
    );
    // 3: it reaches the store owner.
    let t = eventually("ticket", || async { sys.ticket(&o.order_id).await }).await;
    assert_eq!(t.state(), store::TicketState::New);
    assert_eq!(t.items.len(), 1);
    // 4: accepted, cooked, out for delivery, delivered; 7: the view follows each step.
    sys.store()
        .await
        .accept_order(store::AcceptOrderRequest {
            order_id: o.order_id.clone(),
        })
        .await
        .expect("accept");
    let v = state_becomes(&sys, &o.order_id, S::Accepted).await;
    assert_eq!(v.store_status(), order::StoreStatus::Accepted);
    sys.store()
        .await
        .finish_cooking(store::FinishCookingRequest {
            order_id: o.order_id.clone(),
        })
        .await
        .expect("cooked");
    state_becomes(&sys, &o.order_id, S::ReadyForPickup).await;
    let d = eventually("delivery", || async {
        delivery_of(&sys, &o.order_id).await
    })
    .await;
    assert_eq!(d.state(), delivery::DeliveryState::WaitingForPickup);
    sys.delivery()
        .await
        .pick_up(delivery::PickUpRequest {
            order_id: o.order_id.clone(),
            rider_id: "rider-7".into(),
        })
        .await
        .expect("pick up");
    state_becomes(&sys, &o.order_id, S::OutForDelivery).await;
    sys.delivery()
        .await
        .complete_delivery(delivery::CompleteDeliveryRequest {
            order_id: o.order_id.clone(),
        })
        .await
        .expect("deliver");
    let done = state_becomes(&sys, &o.order_id, S::Delivered).await;
    assert_eq!(
        timeline(&done),
        [
            S::Placed,
            S::Accepted,
            S::ReadyForPickup,
            S::OutForDelivery,
            S::Delivered
        ]
    );
    assert_eq!(done.delivery_status(), order::DeliveryStatus::Delivered);
    // A delivered order cannot be cancelled.
    let err = sys
        .order()
        .await
        .cancel_order(order::CancelOrderRequest {
            order_id: o.order_id.clone(),
            reason: String::new(),
        })
        .await
        .expect_err("delivered");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    // 8: one notification per status change.
    notified(
        &sys,
        "ada",
        &o.order_id,
        &[
            "order.v1.OrderPlaced",
            "store.v1.OrderAccepted",
            "store.v1.CookingFinished",
            "delivery.v1.DeliveryStarted",
            "delivery.v1.Delivered",
        ],
    )
    .await;

    // 5, 6: the customer cancels after cooking: delivery cancelled, payment refunded, ticket voided.
    let c = sys.place("bea", "cancel").await;
    eventually("ticket", || async { sys.ticket(&c.order_id).await }).await;
    sys.store()
        .await
        .accept_order(store::AcceptOrderRequest {
            order_id: c.order_id.clone(),
        })
        .await
        .expect("accept");
    sys.store()
        .await
        .finish_cooking(store::FinishCookingRequest {
            order_id: c.order_id.clone(),
        })
        .await
        .expect("cooked");
    eventually("delivery", || async {
        delivery_of(&sys, &c.order_id).await
    })
    .await;
    sys.order()
        .await
        .cancel_order(order::CancelOrderRequest {
            order_id: c.order_id.clone(),
            reason: "too slow".into(),
        })
        .await
        .expect("cancel");
    let v = eventually("compensations in the view", || async {
        let v = sys.get(&c.order_id).await;
        (v.payment_status() == order::PaymentStatus::Refunded
            && v.delivery_status() == order::DeliveryStatus::Cancelled)
            .then_some(v)
    })
    .await;
    assert_eq!(v.state(), S::Cancelled);
    assert_eq!(
        payment_state(&sys, &c.order_id).await,
        payment::PaymentState::Refunded
    );
    assert_eq!(
        delivery_of(&sys, &c.order_id)
            .await
            .expect("delivery")
            .state(),
        delivery::DeliveryState::Cancelled
    );
    let t = eventually("voided ticket", || async {
        sys.ticket(&c.order_id)
            .await
            .filter(|t| t.state() == store::TicketState::Voided)
    })
    .await;
    assert_eq!(t.order_id, c.order_id);
    notified(
        &sys,
        "bea",
        &c.order_id,
        &[
            "order.v1.OrderPlaced",
            "store.v1.OrderAccepted",
            "store.v1.CookingFinished",
            "order.v1.OrderCancelled",
        ],
    )
    .await;

    // The second saga: the store rejects; the order is cancelled and refunded.
    let r = sys.place("cid", "reject").await;
    eventually("ticket", || async { sys.ticket(&r.order_id).await }).await;
    sys.store()
        .await
        .reject_order(store::RejectOrderRequest {
            order_id: r.order_id.clone(),
            reason: "out of basil".into(),
        })
        .await
        .expect("reject");
    let v = state_becomes(&sys, &r.order_id, S::Cancelled).await;
    assert!(
        v.cancel_reason.contains("out of basil"),
        "{}",
        v.cancel_reason
    );
    assert_eq!(v.store_status(), order::StoreStatus::Rejected);
    eventually("refund", || async {
        (payment_state(&sys, &r.order_id).await == payment::PaymentState::Refunded).then_some(())
    })
    .await;
    notified(
        &sys,
        "cid",
        &r.order_id,
        &["order.v1.OrderPlaced", "order.v1.OrderCancelled"],
    )
    .await;
}

async fn watch_order_streams_each_change(backend: Backend) {
    use futures::StreamExt;
    let sys = System::start(backend).await;
    let o = sys.place("dan", "watch").await;
    let mut stream = sys
        .order()
        .await
        .watch_order(order::WatchOrderRequest {
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
    assert_eq!(first.state(), order::OrderState::Placed);
    eventually("ticket", || async { sys.ticket(&o.order_id).await }).await;
    sys.store()
        .await
        .accept_order(store::AcceptOrderRequest {
            order_id: o.order_id.clone(),
        })
        .await
        .expect("accept");
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
        .await
        .expect("in time")
        .expect("item")
        .expect("ok");
    assert_eq!(next.order.expect("o").state(), order::OrderState::Accepted);
}

both_backends!(all_eight_scenarios, watch_order_streams_each_change);
