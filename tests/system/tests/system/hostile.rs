//! Hostile input for every RPC of the five services, over the wire: random, boundary, huge and
//! odd-unicode values. Each answer must be a deliberate one (OK or a client-error code with a
//! reason), never INTERNAL or UNKNOWN, and no service may fall over.

use fd_proto::delivery::v1 as delivery;
use fd_proto::notification::v1 as notification;
use fd_proto::order::v1 as order;
use fd_proto::order::v2 as order_v2;
use fd_proto::payment::v1 as payment;
use fd_proto::store::v1 as store;
use fd_testkit::Backend;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use tonic::Code;

use fd_system_tests::System;

fn deliberate(rpc: &str, r: Result<(), tonic::Status>) {
    if let Err(s) = r {
        assert!(
            matches!(
                s.code(),
                Code::InvalidArgument
                    | Code::PermissionDenied
                    | Code::NotFound
                    | Code::FailedPrecondition
                    | Code::AlreadyExists
                    | Code::OutOfRange
            ),
            "{rpc}: unexpected {s:?}"
        );
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9-]{1,12}",
        "\\PC{0,64}",
        ".{0,16}",
        Just("x".repeat(70_000)),
        Just(uuid_like()),
    ]
}

fn uuid_like() -> String {
    "6f726465-722e-5631-8000-000000000001".to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_hostile_input_deliberately() {
    let sys = System::start(Backend::Sqlite).await;
    let mut runner = TestRunner::deterministic();
    let strings = text();
    let ints = any::<i32>();
    for round in 0..25 {
        let mut pick = || strings.new_tree(&mut runner).expect("value").current();
        let (a, b, c) = (pick(), pick(), pick());
        let n = ints.new_tree(&mut runner).expect("int").current();
        let o = sys.order().await;
        deliberate(
            "CancelOrder",
            o.clone()
                .cancel_order(order::CancelOrderRequest {
                    order_id: a.clone(),
                    reason: b.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "GetOrder",
            o.clone()
                .get_order(order::GetOrderRequest {
                    order_id: a.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "ListOrders",
            o.clone()
                .list_orders(order::ListOrdersRequest {
                    customer_id: a.clone(),
                    page_size: n,
                    page_token: c.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "WatchOrder",
            o.clone()
                .watch_order(order::WatchOrderRequest {
                    order_id: b.clone(),
                })
                .await
                .map(drop),
        );
        let p = sys.payment().await;
        let money = Some(fd_proto::common::v1::Money {
            amount_minor: i64::from(n) * 1_000_000,
            currency_code: c.chars().take(4).collect(),
        });
        deliberate(
            "Authorize",
            p.clone()
                .authorize(payment::AuthorizeRequest {
                    order_id: a.clone(),
                    customer_id: b.clone(),
                    amount: money,
                })
                .await
                .map(drop),
        );
        deliberate(
            "Refund",
            p.clone()
                .refund(payment::RefundRequest {
                    order_id: a.clone(),
                    reason: c.clone(),
                })
                .await
                .map(drop),
        );
        let lookup = if round % 2 == 0 {
            payment::get_payment_request::Lookup::OrderId(a.clone())
        } else {
            payment::get_payment_request::Lookup::PaymentId(b.clone())
        };
        deliberate(
            "GetPayment",
            p.clone()
                .get_payment(payment::GetPaymentRequest {
                    lookup: Some(lookup),
                })
                .await
                .map(drop),
        );
        let s = sys.store().await;
        deliberate(
            "ListStoreOrders",
            s.clone()
                .list_store_orders(store::ListStoreOrdersRequest {
                    store_id: a.clone(),
                    state: n,
                    page_size: n,
                    page_token: b.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "AcceptOrder",
            s.clone()
                .accept_order(store::AcceptOrderRequest {
                    order_id: a.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "RejectOrder",
            s.clone()
                .reject_order(store::RejectOrderRequest {
                    order_id: a.clone(),
                    reason: b.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "FinishCooking",
            s.clone()
                .finish_cooking(store::FinishCookingRequest {
                    order_id: c.clone(),
                })
                .await
                .map(drop),
        );
        let money = |minor: i32, currency: &str| {
            Some(fd_proto::common::v1::Money {
                amount_minor: i64::from(minor),
                currency_code: currency.chars().take(4).collect(),
            })
        };
        deliberate(
            "CreateStore",
            s.clone()
                .create_store(store::CreateStoreRequest {
                    store_id: a.clone(),
                    owner_id: b.clone(),
                    name: c.clone(),
                    currency_code: b.chars().take(3).collect(),
                    open: n % 2 == 0,
                })
                .await
                .map(drop),
        );
        deliberate(
            "UpdateStore",
            s.clone()
                .update_store(store::UpdateStoreRequest {
                    store_id: a.clone(),
                    name: (n % 3 == 0).then(|| b.clone()),
                    open: (n % 5 == 0).then_some(true),
                })
                .await
                .map(drop),
        );
        deliberate(
            "CreateMenuItem",
            s.clone()
                .create_menu_item(store::CreateMenuItemRequest {
                    store_id: a.clone(),
                    menu_item_id: b.clone(),
                    name: c.clone(),
                    description: c.clone(),
                    price: money(n, &c),
                    available: true,
                })
                .await
                .map(drop),
        );
        deliberate(
            "UpdateMenuItem",
            s.clone()
                .update_menu_item(store::UpdateMenuItemRequest {
                    store_id: a.clone(),
                    menu_item_id: b.clone(),
                    name: Some(c.clone()),
                    description: None,
                    price: money(n, "EUR"),
                    available: Some(false),
                })
                .await
                .map(drop),
        );
        deliberate(
            "DeleteMenuItem",
            s.clone()
                .delete_menu_item(store::DeleteMenuItemRequest {
                    store_id: a.clone(),
                    menu_item_id: c.clone(),
                })
                .await
                .map(drop),
        );
        let cat =
            store::catalog_service_client::CatalogServiceClient::new(fd_testkit::issuer::as_user(
                tonic::transport::Channel::from_shared(sys.url("store"))
                    .expect("url")
                    .connect_lazy(),
                "ada",
                &["customer"],
            ));
        deliberate(
            "ListStores",
            cat.clone()
                .list_stores(store::ListStoresRequest {
                    open_only: n % 2 == 0,
                    page_size: n,
                    page_token: a.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "GetStore",
            cat.clone()
                .get_store(store::GetStoreRequest {
                    store_id: b.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "ListMenuItems",
            cat.clone()
                .list_menu_items(store::ListMenuItemsRequest {
                    store_id: a.clone(),
                    page_size: n,
                    page_token: c.clone(),
                })
                .await
                .map(drop),
        );
        let o2 =
            order_v2::order_service_client::OrderServiceClient::new(fd_testkit::issuer::as_user(
                tonic::transport::Channel::from_shared(sys.url("order"))
                    .expect("url")
                    .connect_lazy(),
                "hostile",
                &["customer"],
            ));
        let lines = vec![order_v2::OrderLine {
            menu_item_id: b.clone(),
            quantity: n,
        }];
        deliberate(
            "QuoteOrder",
            o2.clone()
                .quote_order(order_v2::QuoteOrderRequest {
                    store_id: a.clone(),
                    lines: lines.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "PlaceOrder v2",
            o2.clone()
                .place_order(order_v2::PlaceOrderRequest {
                    idempotency_key: c.clone(),
                    customer_id: a.clone(),
                    store_id: if round % 2 == 0 {
                        "store-1".into()
                    } else {
                        a.clone()
                    },
                    lines,
                    delivery_address: b.clone(),
                })
                .await
                .map(drop),
        );
        let d = sys.delivery().await;
        deliberate(
            "GetDelivery",
            d.clone()
                .get_delivery(delivery::GetDeliveryRequest {
                    order_id: a.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "PickUp",
            d.clone()
                .pick_up(delivery::PickUpRequest {
                    order_id: a.clone(),
                    rider_id: b.clone(),
                })
                .await
                .map(drop),
        );
        deliberate(
            "CompleteDelivery",
            d.clone()
                .complete_delivery(delivery::CompleteDeliveryRequest {
                    order_id: c.clone(),
                })
                .await
                .map(drop),
        );
        let nt = sys.notification().await;
        deliberate(
            "ListNotifications",
            nt.clone()
                .list_notifications(notification::ListNotificationsRequest {
                    customer_id: a,
                    order_id: b,
                    page_size: n,
                    page_token: c,
                })
                .await
                .map(drop),
        );
    }
    // Still serving after all that.
    let placed = sys.place("survivor", "after-hostile").await;
    assert_eq!(placed.state(), order::OrderState::Placed);
}
