//! Menus owned by the store, prices from order's replica: an owner's change reaches order
//! through the store's events, and orders are priced and placed while the store service is
//! down; their tickets reach the store when it is back.

use fd_proto::common::v1::Money;
use fd_proto::order::v1;
use fd_proto::order::v2;
use fd_proto::store::v1 as st;
use fd_testkit::issuer::{as_user, AuthChannel};
use fd_testkit::{both_backends, Backend};
use tonic::transport::Channel;
use tonic::Code;

use fd_system_tests::{eventually, System};

fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("url")
        .connect_lazy()
}

fn as_(url: &str, who: &str, role: &str) -> AuthChannel {
    as_user(channel(url), who, &[role])
}

fn lines(id: &str, quantity: i32) -> Vec<v2::OrderLine> {
    vec![v2::OrderLine {
        menu_item_id: id.into(),
        quantity,
    }]
}

async fn quote(sys: &System, id: &str) -> Result<i64, tonic::Status> {
    let mut c = v2::order_service_client::OrderServiceClient::new(as_(
        &sys.url("order"),
        "quinn",
        "customer",
    ));
    c.quote_order(v2::QuoteOrderRequest {
        store_id: "store-1".into(),
        lines: lines(id, 1),
    })
    .await
    .map(|q| q.into_inner().total.map_or(0, |t| t.amount_minor))
}

async fn orders_are_priced_from_the_replica_while_the_store_is_down(backend: Backend) {
    let mut sys = System::start(backend).await;
    let mut owner =
        st::store_service_client::StoreServiceClient::new(as_(&sys.url("store"), "olga", "owner"));
    owner
        .update_menu_item(st::UpdateMenuItemRequest {
            store_id: "store-1".into(),
            menu_item_id: "pizza".into(),
            price: Some(Money {
                amount_minor: 1390,
                currency_code: "EUR".into(),
            }),
            ..Default::default()
        })
        .await
        .expect("new price");
    owner
        .update_menu_item(st::UpdateMenuItemRequest {
            store_id: "store-1".into(),
            menu_item_id: "soup".into(),
            available: Some(false),
            ..Default::default()
        })
        .await
        .expect("sold out");
    // The owner's changes reach order's replica through the store's events.
    eventually("the new price in order's replica", || async {
        (quote(&sys, "pizza").await.ok() == Some(1390)).then_some(())
    })
    .await;
    eventually("the sold-out soup in order's replica", || async {
        quote(&sys, "soup").await.is_err().then_some(())
    })
    .await;

    sys.stop("store").await;
    let mut orders_v2 = v2::order_service_client::OrderServiceClient::new(as_(
        &sys.url("order"),
        "quinn",
        "customer",
    ));
    let placed = orders_v2
        .place_order(v2::PlaceOrderRequest {
            idempotency_key: "while-down".into(),
            customer_id: "quinn".into(),
            store_id: "store-1".into(),
            lines: lines("pizza", 2),
            delivery_address: "1 Main Street".into(),
        })
        .await
        .expect("placed while the store service is down")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(placed.total.as_ref().map(|t| t.amount_minor), Some(2780));
    let refused = orders_v2
        .place_order(v2::PlaceOrderRequest {
            idempotency_key: "soup".into(),
            customer_id: "quinn".into(),
            store_id: "store-1".into(),
            lines: lines("soup", 1),
            delivery_address: "1 Main Street".into(),
        })
        .await
        .expect_err("sold out");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("Minestrone is not available"),
        "{}",
        refused.message()
    );

    // A v1 client with the old price is told the new one, also while the store is down.
    let mut orders_v1 = v1::order_service_client::OrderServiceClient::new(as_(
        &sys.url("order"),
        "quinn",
        "customer",
    ));
    let old = v1::PlaceOrderRequest {
        idempotency_key: "old-price".into(),
        customer_id: "quinn".into(),
        store_id: "store-1".into(),
        items: vec![v1::LineItem {
            menu_item_id: "pizza".into(),
            name: "Margherita".into(),
            quantity: 1,
            unit_price: Some(Money {
                amount_minor: 1250,
                currency_code: "EUR".into(),
            }),
        }],
        delivery_address: "1 Main Street".into(),
    };
    let err = orders_v1.place_order(old).await.expect_err("old price");
    assert!(
        err.message().contains("costs 13.90 EUR now, not 12.50 EUR"),
        "{}",
        err.message()
    );

    sys.restart("store").await;
    let ticket = eventually("the ticket once the store is back", || async {
        sys.ticket(&placed.order_id).await
    })
    .await;
    assert_eq!(
        ticket.total.map(|t| t.amount_minor),
        Some(2780),
        "the store sees the price the menu set"
    );
}

both_backends!(orders_are_priced_from_the_replica_while_the_store_is_down);
