//! Pricing from the menu replica: v1 price tampering refused, v2 priced by the menu, every
//! menu problem named, a replica that is behind, and v1 and v2 over the same orders.

use fd_proto::order::v1 as pb;
use fd_proto::order::v2;
use fd_proto::order::v2::order_service_client::OrderServiceClient as V2Client;
use fd_proto::store::v1 as st;
use fd_testkit::events::publish;
use fd_testkit::{both_backends, Backend};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

async fn v2_client(app: &App) -> V2Client<AuthChannel> {
    app.v2()
}

fn line(id: &str, quantity: i32) -> v2::OrderLine {
    v2::OrderLine {
        menu_item_id: id.into(),
        quantity,
    }
}

fn place_v2(customer: &str, key: &str, lines: Vec<v2::OrderLine>) -> v2::PlaceOrderRequest {
    v2::PlaceOrderRequest {
        idempotency_key: key.into(),
        customer_id: customer.into(),
        store_id: "store-1".into(),
        lines,
        delivery_address: "1 Main Street".into(),
    }
}

/// (type, subject) of each PreconditionFailure violation.
fn problems(s: &tonic::Status) -> Vec<(String, String)> {
    assert_eq!(s.code(), Code::FailedPrecondition, "{s:?}");
    s.get_error_details()
        .precondition_failure()
        .expect("PreconditionFailure detail")
        .violations
        .iter()
        .map(|v| (v.r#type.clone(), v.subject.clone()))
        .collect()
}

/// The first problem of the issue: 100 pizzas at 0.01 EUR. v1 names the menu's price and
/// stores and charges nothing; v2 cannot even say a price.
async fn a_client_cannot_choose_its_price(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("mallory");
    let mut req = place("mallory", "cheap");
    req.items = vec![item("pizza", 100, 1)];
    let err = app.order.place_order(req).await.expect_err("tampered");
    assert_eq!(reason(&err), "PRICE_CHANGED");
    assert_eq!(
        problems(&err),
        [(
            "PRICE_CHANGED".to_string(),
            "items[0].unit_price".to_string()
        )]
    );
    assert!(
        err.message()
            .contains("Margherita costs 12.50 EUR now, not 0.01 EUR"),
        "{}",
        err.message()
    );
    assert_eq!(count_orders(&app, "mallory").await, 0);
    assert!(payment_of(&app, &order_id("mallory", "cheap"))
        .await
        .is_none());

    // v2: ids and quantities only; the menu prices and names them.
    let placed = v2_client(&app)
        .await
        .place_order(place_v2("mallory", "v2", vec![line("pizza", 40)]))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(placed.total, eur(50_000));
    assert_eq!(placed.lines[0].name, "Margherita");
    assert_eq!(placed.lines[0].unit_price, eur(1250));
    assert_eq!(placed.lines[0].line_total, eur(50_000));
    let payment = payment_of(&app, &placed.order_id).await.expect("paid");
    assert_eq!(
        payment.amount,
        eur(50_000),
        "the menu's total was authorized"
    );
}

async fn every_menu_problem_is_named(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("nina");
    let nats = &app.nats.url;
    publish(
        nats,
        &st::MenuItemUpdated {
            metadata: meta("store-1/soup", 2),
            item: Some(menu_item("store-1", "soup", "Minestrone", 700, false, 2)),
        },
    )
    .await;
    publish(
        nats,
        &st::MenuItemRemoved {
            metadata: meta("store-1/cola", 2),
            store_id: "store-1".into(),
            menu_item_id: "cola".into(),
        },
    )
    .await;
    let url = app.order_server.url();
    wait_for_menu(&url, "store-1", "soup", Err("MENU_ITEM_UNAVAILABLE")).await;
    wait_for_menu(&url, "store-1", "cola", Err("MENU_ITEM_UNKNOWN")).await;

    let mut v2c = v2_client(&app).await;
    let err = v2c
        .place_order(place_v2(
            "nina",
            "k",
            vec![
                line("pizza", 1),
                line("soup", 1),
                line("cola", 1),
                line("sushi", 1),
            ],
        ))
        .await
        .expect_err("refused");
    assert_eq!(
        problems(&err),
        [
            (
                "MENU_ITEM_UNAVAILABLE".into(),
                "lines[1].menu_item_id".into()
            ),
            ("MENU_ITEM_UNKNOWN".into(), "lines[2].menu_item_id".into()),
            ("MENU_ITEM_UNKNOWN".into(), "lines[3].menu_item_id".into()),
        ]
    );
    assert!(err
        .message()
        .contains("Minestrone is not available right now"));
    assert!(err.message().contains("has no item cola"));

    // A closed store, then an unknown one.
    publish(
        nats,
        &st::StoreUpdated {
            metadata: meta("store-1", 2),
            store: Some(store_state("store-1", false, 2)),
        },
    )
    .await;
    wait_for_menu(&url, "store-1", "pizza", Err("STORE_CLOSED")).await;
    let mut v1 = app.order.clone();
    let err = v1
        .place_order(place("nina", "closed"))
        .await
        .expect_err("closed");
    assert_eq!(reason(&err), "STORE_CLOSED");
    assert!(err.message().contains("is closed"), "{}", err.message());
    let mut req = place("nina", "nowhere");
    req.store_id = "store-9".into();
    let err = v1.place_order(req).await.expect_err("unknown store");
    assert_eq!(
        problems(&err),
        [("STORE_UNKNOWN".into(), "store_id".into())]
    );
    assert_eq!(
        count_orders(&app, "nina").await,
        0,
        "nothing refused was stored"
    );
}

/// The replica is eventually consistent. Until a price change reaches it, orders are priced as
/// it has them: a v1 client sending the new price is told the price order knows, v2 orders at
/// that price. Once the change arrives the new price holds, and a late copy of an older event
/// changes nothing. A retry of an order placed before the change returns that order as it was.
async fn a_replica_that_is_behind_prices_as_it_knows(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("omar");
    let first = app
        .order
        .place_order(place("omar", "before"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(first.total, eur(2900));

    // The store changed the price to 13.90; the event has not reached order yet.
    let mut req = place("omar", "new-price");
    req.items = vec![item("pizza", 1, 1390)];
    let err = app
        .order
        .place_order(req.clone())
        .await
        .expect_err("behind");
    assert_eq!(reason(&err), "PRICE_CHANGED");
    assert!(
        err.message().contains("costs 12.50 EUR now, not 13.90 EUR"),
        "{}",
        err.message()
    );
    let q = v2_client(&app)
        .await
        .quote_order(v2::QuoteOrderRequest {
            store_id: "store-1".into(),
            lines: vec![line("pizza", 1)],
        })
        .await
        .expect("quote")
        .into_inner();
    assert_eq!(q.total, eur(1250), "v2 prices as the replica knows");

    publish(
        &app.nats.url,
        &st::MenuItemUpdated {
            metadata: meta("store-1/pizza", 2),
            item: Some(menu_item("store-1", "pizza", "Margherita", 1390, true, 2)),
        },
    )
    .await;
    wait_for_menu(&app.order_server.url(), "store-1", "pizza", Ok(1390)).await;
    let placed = app
        .order
        .place_order(req)
        .await
        .expect("the new price now")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(placed.total, eur(1390));

    // A redelivered older state does not bring the old price back.
    publish(
        &app.nats.url,
        &st::MenuItemAdded {
            metadata: meta("store-1/pizza", 1),
            item: Some(menu_item("store-1", "pizza", "Margherita", 1250, true, 1)),
        },
    )
    .await;
    // A newer event behind it proves the old one was processed (one consumer, stream order).
    publish(
        &app.nats.url,
        &st::MenuItemUpdated {
            metadata: meta("store-1/cola", 2),
            item: Some(menu_item("store-1", "cola", "Cola", 450, true, 2)),
        },
    )
    .await;
    wait_for_menu(&app.order_server.url(), "store-1", "cola", Ok(450)).await;
    wait_for_menu(&app.order_server.url(), "store-1", "pizza", Ok(1390)).await;

    // The retry of the first order (sent with the old prices) is that order, not a refusal.
    let again = app
        .order
        .place_order(place("omar", "before"))
        .await
        .expect("replayed")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(again, first);
}

/// One order service, two contracts, the same orders.
async fn v1_and_v2_see_the_same_orders(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("pia");
    let mut v2c = v2_client(&app).await;
    let by_v1 = app
        .order
        .place_order(place("pia", "v1"))
        .await
        .expect("v1")
        .into_inner()
        .order
        .expect("order");
    let by_v2 = v2c
        .place_order(place_v2(
            "pia",
            "v2",
            vec![line("pizza", 2), line("cola", 1)],
        ))
        .await
        .expect("v2")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(by_v1.total, by_v2.total);

    let seen_by_v2 = v2c
        .get_order(v2::GetOrderRequest {
            order_id: by_v1.order_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(seen_by_v2.lines.len(), 2);
    assert_eq!(seen_by_v2.store_status(), v2::StoreStatus::Waiting);
    assert_eq!(seen_by_v2.delivery_status(), v2::DeliveryStatus::NotStarted);
    assert_eq!(seen_by_v2.total, by_v1.total);

    let seen_by_v1 = app
        .order
        .get_order(pb::GetOrderRequest {
            order_id: by_v2.order_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(seen_by_v1.items[0].name, "Margherita");
    assert_eq!(seen_by_v1.items[0].unit_price, eur(1250));

    // Cancelled through v2, cancelled for v1.
    v2c.cancel_order(v2::CancelOrderRequest {
        order_id: by_v1.order_id.clone(),
        reason: "changed my mind".into(),
    })
    .await
    .expect("cancel");
    let listed = v2c
        .list_orders(v2::ListOrdersRequest {
            customer_id: "pia".into(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("list")
        .into_inner()
        .orders;
    assert_eq!(listed.len(), 2);
    let v1_view = app
        .order
        .get_order(pb::GetOrderRequest {
            order_id: by_v1.order_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(v1_view.state(), pb::OrderState::Cancelled);
    assert_eq!(count_orders(&app, "pia").await, 2);

    // The idempotency key is shared: a v2 retry of the v1 order is that order.
    let replay = v2c
        .place_order(place_v2(
            "pia",
            "v1",
            vec![line("pizza", 2), line("cola", 1)],
        ))
        .await
        .expect("replay")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(replay.order_id, by_v1.order_id);
    // v2 validation names v2's fields.
    let err = v2c
        .place_order(place_v2("pia", "bad", vec![line("", 0)]))
        .await
        .expect_err("invalid");
    assert_eq!(
        violated_fields(&err),
        ["lines[0].menu_item_id", "lines[0].quantity"]
    );
}

both_backends!(
    a_client_cannot_choose_its_price,
    every_menu_problem_is_named,
    a_replica_that_is_behind_prices_as_it_knows,
    v1_and_v2_see_the_same_orders,
);
