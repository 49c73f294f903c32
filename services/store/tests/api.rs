//! The store service on its own: a real server on port 0, a real nats-server, its own
//! database (SQLite and PostgreSQL). Orders arrive as OrderPlaced events, as order publishes
//! them; the owner's commands answer over gRPC and publish their events.

use fd_chassis::outbox::metadata;
use fd_proto::common::v1::Money;
use fd_proto::order::v1 as order;
use fd_proto::store::v1 as pb;
use fd_proto::store::v1::store_service_client::StoreServiceClient;
use fd_testkit::events::{connect, publish, publish_on, published};
use fd_testkit::issuer::{as_user, AuthChannel};
use fd_testkit::{both_backends, Alone, Backend};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

struct App {
    /// As olga, the owner of store-1.
    client: StoreServiceClient<AuthChannel>,
    nats_url: String,
    _alone: Alone,
}

async fn spawn(backend: Backend) -> App {
    let alone = Alone::start(backend, "store", &[], store::run).await;
    let mut client = StoreServiceClient::new(as_user(
        Channel::from_shared(alone.server.url())
            .expect("url")
            .connect_lazy(),
        "olga",
        &["owner"],
    ));
    client
        .create_store(pb::CreateStoreRequest {
            store_id: "store-1".into(),
            owner_id: "olga".into(),
            name: "Luigi's".into(),
            currency_code: "EUR".into(),
            open: true,
        })
        .await
        .expect("olga's store");
    App {
        client,
        nats_url: alone.nats.url.clone(),
        _alone: alone,
    }
}

fn placed(order_id: &str) -> order::OrderPlaced {
    order::OrderPlaced {
        metadata: Some(metadata(order_id, 1)),
        order_id: order_id.into(),
        customer_id: "alice".into(),
        store_id: "store-1".into(),
        items: vec![order::LineItem {
            menu_item_id: "pizza".into(),
            name: "Margherita".into(),
            quantity: 2,
            unit_price: Some(Money {
                amount_minor: 1250,
                currency_code: "EUR".into(),
            }),
        }],
        total: Some(Money {
            amount_minor: 2500,
            currency_code: "EUR".into(),
        }),
        ..Default::default()
    }
}

fn cancelled(order_id: &str) -> order::OrderCancelled {
    order::OrderCancelled {
        metadata: Some(metadata(order_id, 2)),
        order_id: order_id.into(),
        customer_id: "alice".into(),
        ..Default::default()
    }
}

impl App {
    /// Waits until the ticket of `order_id` is on the owner's list.
    async fn ticket(&mut self, order_id: &str) -> pb::StoreOrder {
        for _ in 0..200 {
            let list = self
                .client
                .list_store_orders(pb::ListStoreOrdersRequest {
                    store_id: "store-1".into(),
                    ..Default::default()
                })
                .await
                .expect("list")
                .into_inner();
            if let Some(t) = list.orders.into_iter().find(|t| t.order_id == order_id) {
                return t;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no ticket for {order_id}");
    }

    async fn accept(&mut self, order_id: &str) -> Result<pb::StoreOrder, tonic::Status> {
        self.client
            .accept_order(pb::AcceptOrderRequest {
                order_id: order_id.into(),
            })
            .await
            .map(|r| r.into_inner().order.expect("order"))
    }
}

async fn an_order_becomes_a_ticket_the_owner_accepts_and_cooks(backend: Backend) {
    let mut app = spawn(backend).await;
    publish(&app.nats_url, &placed("o-1")).await;
    let t = app.ticket("o-1").await;
    assert_eq!(t.state(), pb::TicketState::New);
    assert_eq!(t.total.as_ref().map(|m| m.amount_minor), Some(2500));
    assert_eq!(t.items[0].quantity, 2);

    let accepted = app.accept("o-1").await.expect("accept");
    assert_eq!(accepted.state(), pb::TicketState::Accepted);
    // A repeat is harmless and publishes nothing more.
    let again = app.accept("o-1").await.expect("accept again");
    assert_eq!(again.state(), pb::TicketState::Accepted);
    let cooked = app
        .client
        .finish_cooking(pb::FinishCookingRequest {
            order_id: "o-1".into(),
        })
        .await
        .expect("finish")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(cooked.state(), pb::TicketState::CookingFinished);

    // The relay publishes in commit order: once CookingFinished is out, so is every
    // OrderAccepted there will ever be.
    let cooked: Vec<pb::CookingFinished> = published(&app.nats_url, 1).await;
    assert_eq!(cooked.len(), 1);
    assert_eq!(
        cooked[0].metadata.as_ref().map(|m| m.aggregate_version),
        Some(3)
    );
    let events: Vec<pb::OrderAccepted> = published(&app.nats_url, 1).await;
    assert_eq!(events.len(), 1, "one OrderAccepted for two accepts");
    assert_eq!(events[0].order_id, "o-1");
    assert_eq!(events[0].customer_id, "alice");
}

async fn commands_the_ticket_does_not_allow_are_refused_with_the_reason(backend: Backend) {
    let mut app = spawn(backend).await;
    publish(&app.nats_url, &placed("o-2")).await;
    app.ticket("o-2").await;
    let rejected = app
        .client
        .reject_order(pb::RejectOrderRequest {
            order_id: "o-2".into(),
            reason: "out of basil".into(),
        })
        .await
        .expect("reject")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(rejected.state(), pb::TicketState::Rejected);
    assert_eq!(rejected.reject_reason, "out of basil");

    let e = app
        .accept("o-2")
        .await
        .expect_err("rejected tickets stay rejected");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("REJECTED"), "{}", e.message());

    let e = app.accept("no-such-order").await.expect_err("unknown");
    assert_eq!(e.code(), Code::NotFound);
    assert!(e.message().contains("no-such-order"), "{}", e.message());

    let events: Vec<pb::OrderRejected> = published(&app.nats_url, 1).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].reason, "out of basil");
}

async fn bad_requests_name_each_bad_field(backend: Backend) {
    let mut app = spawn(backend).await;
    let e = app
        .client
        .reject_order(pb::RejectOrderRequest {
            order_id: " ".into(),
            reason: String::new(),
        })
        .await
        .expect_err("invalid");
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = e
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["order_id", "reason"]);
}

async fn a_cancellation_voids_the_ticket_even_before_it_arrives(backend: Backend) {
    let mut app = spawn(backend).await;
    // In order: the ticket is voided.
    publish(&app.nats_url, &placed("o-3")).await;
    app.ticket("o-3").await;
    publish(&app.nats_url, &cancelled("o-3")).await;
    for _ in 0..200 {
        if app.ticket("o-3").await.state() == pb::TicketState::Voided {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.ticket("o-3").await.state(), pb::TicketState::Voided);
    let e = app.accept("o-3").await.expect_err("voided");
    assert_eq!(e.code(), Code::FailedPrecondition);

    // The cancellation first: the late order never becomes a ticket the owner could accept.
    publish(&app.nats_url, &cancelled("o-4")).await;
    publish(&app.nats_url, &placed("o-4")).await;
    publish(&app.nats_url, &placed("o-5")).await;
    app.ticket("o-5").await; // o-4's events were handled before this one
    let e = app.accept("o-4").await.expect_err("never a ticket");
    assert_eq!(e.code(), Code::NotFound);
}

/// A burst (taken in batches: runs of OrderPlaced are one insert, a cancellation in between
/// still sees the ticket placed before it in the same batch) ends as each event says.
async fn a_burst_of_orders_and_cancellations_ends_as_each_event_says(backend: Backend) {
    let mut app = spawn(backend).await;
    let js = connect(&app.nats_url).await;
    for i in 0..60 {
        let id = format!("burst-{i}");
        publish_on(&js, &placed(&id)).await;
        // Every third order is cancelled right after it was placed; the placing is sent
        // twice for every fifth (a redelivery): one ticket all the same.
        if i % 3 == 0 {
            publish_on(&js, &cancelled(&id)).await;
        }
        if i % 5 == 0 {
            publish_on(&js, &placed(&id)).await;
        }
    }
    app.ticket("burst-59").await;
    let mut states = std::collections::HashMap::new();
    for _ in 0..200 {
        let list = app
            .client
            .list_store_orders(pb::ListStoreOrdersRequest {
                store_id: "store-1".into(),
                page_size: 100,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        states = list
            .orders
            .iter()
            .map(|t| (t.order_id.clone(), t.state()))
            .collect();
        if states.len() == 60
            && states
                .values()
                .filter(|s| **s == pb::TicketState::Voided)
                .count()
                == 20
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for i in 0..60 {
        let want = if i % 3 == 0 {
            pb::TicketState::Voided
        } else {
            pb::TicketState::New
        };
        assert_eq!(states.get(&format!("burst-{i}")), Some(&want), "burst-{i}");
    }
}

both_backends!(
    a_burst_of_orders_and_cancellations_ends_as_each_event_says,
    an_order_becomes_a_ticket_the_owner_accepts_and_cooks,
    commands_the_ticket_does_not_allow_are_refused_with_the_reason,
    bad_requests_name_each_bad_field,
    a_cancellation_voids_the_ticket_even_before_it_arrives,
);
