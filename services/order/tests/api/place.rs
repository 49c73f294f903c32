//! PlaceOrder, GetOrder, ListOrders: paid orders, declines, validation, idempotency.

use fd_proto::order::v1 as pb;
use fd_proto::payment::v1::PaymentState;
use fd_testkit::{both_backends, Backend};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

async fn placed_order_is_paid_and_readable(backend: Backend) {
    let mut app = spawn(backend).await;
    let placed = app
        .order
        .place_order(place("alice", "k1"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(placed.state(), pb::OrderState::Placed);
    assert_eq!(placed.payment_status(), pb::PaymentStatus::Authorized);
    assert_eq!(placed.total, eur(2900));
    assert_eq!(placed.timeline.len(), 1);
    assert_eq!(placed.order_id, order_id("alice", "k1"));

    let payment = payment_of(&app, &placed.order_id)
        .await
        .expect("payment exists");
    assert_eq!(payment.state(), PaymentState::Authorized);
    assert_eq!(payment.payment_id, placed.payment_id);
    assert_eq!(
        payment.amount,
        eur(2900),
        "the order's total was authorized"
    );

    let got = app
        .order
        .get_order(pb::GetOrderRequest {
            order_id: placed.order_id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.order.expect("order"), placed);
}

async fn declined_payment_stores_no_order(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("bob");
    let mut req = place("bob", "big");
    req.items = vec![item("feast", 1, LIMIT + 1)];
    let err = app.order.place_order(req).await.expect_err("declined");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_error_details()
            .error_info()
            .map(|i| i.reason.as_str()),
        Some("PAYMENT_DECLINED")
    );
    assert_eq!(count_orders(&app, "bob").await, 0);
    let err = app
        .order
        .get_order(pb::GetOrderRequest {
            order_id: order_id("bob", "big"),
        })
        .await
        .expect_err("absent");
    assert_eq!(err.code(), Code::NotFound);
}

async fn invalid_input_names_every_bad_field(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("carol");
    let req = pb::PlaceOrderRequest {
        idempotency_key: String::new(),
        customer_id: "c".repeat(65),
        store_id: String::new(),
        items: vec![
            item("ok", 1, 100),
            item("", 0, 100),
            pb::LineItem {
                unit_price: eur(-5),
                ..item("x", 101, 1)
            },
        ],
        delivery_address: "a".repeat(501),
    };
    let err = app.order.place_order(req).await.expect_err("invalid");
    assert_eq!(
        violated_fields(&err),
        [
            "idempotency_key",
            "customer_id",
            "store_id",
            "delivery_address",
            "items[1].menu_item_id",
            "items[1].quantity",
            "items[2].quantity",
            "items[2].unit_price.amount_minor",
        ]
    );
    // Nothing was charged.
    let no_items = pb::PlaceOrderRequest {
        items: vec![],
        ..place("carol", "k")
    };
    let err = app.order.place_order(no_items).await.expect_err("no items");
    assert_eq!(violated_fields(&err), ["items"]);
    assert!(payment_of(&app, &order_id("carol", "k")).await.is_none());
    let err = app
        .order
        .get_order(pb::GetOrderRequest {
            order_id: "not-a-uuid".into(),
        })
        .await
        .expect_err("bad id");
    assert_eq!(violated_fields(&err), ["order_id"]);
}

async fn retried_request_is_one_order_and_one_charge(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("dave");
    let first = app
        .order
        .place_order(place("dave", "same"))
        .await
        .expect("first")
        .into_inner()
        .order
        .expect("o");
    let again = app
        .order
        .place_order(place("dave", "same"))
        .await
        .expect("retry")
        .into_inner()
        .order
        .expect("o");
    assert_eq!(first, again);

    // Concurrent retries of a new request.
    let calls = (0..8).map(|_| {
        let mut c = app.order.clone();
        async move {
            c.place_order(place("dave", "burst"))
                .await
                .map(|r| r.into_inner().order.map(|o| (o.order_id, o.payment_id)))
        }
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("ok"))
        .collect();
    assert!(
        results.windows(2).all(|w| w[0] == w[1]),
        "one order, one payment: {results:?}"
    );
    assert_eq!(count_orders(&app, "dave").await, 2);

    // The same key for a different order is refused, and changes nothing.
    let mut other = place("dave", "same");
    other.items[0].quantity = 3;
    let err = app.order.place_order(other).await.expect_err("reused key");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(count_orders(&app, "dave").await, 2);
}

async fn retry_after_a_lost_reply_charges_once(backend: Backend) {
    // The first attempt authorized the payment, then the reply was lost before the order was
    // stored. The retry must reuse that payment.
    let mut app = spawn(backend).await;
    app.act_as("erin");
    let id = order_id("erin", "lost");
    let earlier = app
        .payment_as_order()
        .authorize(fd_proto::payment::v1::AuthorizeRequest {
            order_id: id.clone(),
            customer_id: "erin".into(),
            amount: eur(2900),
        })
        .await
        .expect("authorized")
        .into_inner()
        .payment
        .expect("p");
    let placed = app
        .order
        .place_order(place("erin", "lost"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("o");
    assert_eq!(placed.order_id, id);
    assert_eq!(placed.payment_id, earlier.payment_id, "no second charge");
}

async fn list_orders_pages_newest_first(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("frank");
    let mut ids = Vec::new();
    for k in ["a", "b", "c"] {
        let o = app
            .order
            .place_order(place("frank", k))
            .await
            .expect("placed")
            .into_inner()
            .order
            .expect("o");
        ids.push(o.order_id);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    app.order_as("someone-else")
        .place_order(place("someone-else", "a"))
        .await
        .expect("placed");
    let list = |token: String| pb::ListOrdersRequest {
        customer_id: "frank".into(),
        page_size: 2,
        page_token: token,
    };
    let p1 = app
        .order
        .list_orders(list(String::new()))
        .await
        .expect("page 1")
        .into_inner();
    let p2 = app
        .order
        .list_orders(list(p1.next_page_token.clone()))
        .await
        .expect("page 2")
        .into_inner();
    let seen: Vec<_> = p1
        .orders
        .iter()
        .chain(&p2.orders)
        .map(|o| o.order_id.clone())
        .collect();
    ids.reverse();
    assert_eq!(seen, ids);
    assert!(!p1.next_page_token.is_empty());
    assert!(p2.next_page_token.is_empty());

    let err = app
        .order
        .list_orders(pb::ListOrdersRequest {
            customer_id: String::new(),
            page_size: 101,
            page_token: "junk".into(),
        })
        .await
        .expect_err("bad");
    assert_eq!(
        violated_fields(&err),
        ["customer_id", "page_size", "page_token"]
    );
}

both_backends!(
    placed_order_is_paid_and_readable,
    declined_payment_stores_no_order,
    invalid_input_names_every_bad_field,
    retried_request_is_one_order_and_one_charge,
    retry_after_a_lost_reply_charges_once,
    list_orders_pages_newest_first,
);

/// Hostile input over the wire: random and boundary values, huge strings and lists, odd
/// unicode, negative and overflowing money, unknown stores and items, wrong prices. Every
/// answer is INVALID_ARGUMENT (naming fields), FAILED_PRECONDITION (naming the reason) or a
/// valid paid order priced from the menu; the server never fails otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_requests_end_in_invalid_argument_or_a_valid_order() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let app = spawn(Backend::Sqlite).await;
    // Mostly plausible values with hostile ones mixed in, so both outcomes are reached.
    let text = prop_oneof![
        6 => "[a-z0-9]{1,8}",
        1 => Just(String::new()),
        1 => "\\PC{0,40}",
        1 => ".{0,12}",
        1 => (0usize..2).prop_map(|k| "ß".repeat(64 + k)),
    ];
    let minor = prop_oneof![6 => 1i64..3000, 1 => Just(i64::MIN), 1 => Just(i64::MAX), 1 => Just(0i64), 1 => Just(-5i64)];
    let quantity = prop_oneof![6 => 1i32..5, 1 => any::<i32>()];
    let currency = prop_oneof![6 => Just("EUR".to_string()), 1 => "[A-Za-z]{0,4}"];
    // Mostly the menu's items at the menu's prices, so that orders are placed too.
    let on_menu = (0..3usize, quantity.clone()).prop_map(|(k, quantity)| {
        let (id, name, minor) = MENU[k];
        pb::LineItem {
            menu_item_id: id.into(),
            name: name.into(),
            quantity,
            unit_price: eur(minor),
        }
    });
    let random = (text.clone(), text.clone(), quantity, minor, currency).prop_map(
        |(id, name, quantity, amount_minor, currency_code)| pb::LineItem {
            menu_item_id: id,
            name,
            quantity,
            unit_price: Some(fd_proto::common::v1::Money {
                amount_minor,
                currency_code,
            }),
        },
    );
    let item = prop_oneof![3 => on_menu, 1 => random];
    let store = prop_oneof![3 => Just("store-1".to_string()), 1 => text.clone()];
    let items = prop_oneof![6 => proptest::collection::vec(item.clone(), 1..4), 1 => proptest::collection::vec(item, 0..55)];
    // Mostly the caller itself; someone else's id is refused (PERMISSION_DENIED).
    let customer = prop_oneof![3 => Just("alice".to_string()), 1 => text.clone()];
    let request = (text.clone(), customer, store, items, text).prop_map(
        |(key, customer, store, items, address)| pb::PlaceOrderRequest {
            idempotency_key: key,
            customer_id: customer,
            store_id: store,
            items,
            delivery_address: address,
        },
    );
    let mut runner = TestRunner::deterministic();
    let (mut rejected, mut refused, mut placed) = (0, 0, 0);
    for _ in 0..150 {
        let req = request.new_tree(&mut runner).expect("value").current();
        let mut c = app.order.clone();
        match c.place_order(req.clone()).await {
            Ok(r) => {
                placed += 1;
                let o = r.into_inner().order.expect("order");
                let sum: i128 = req
                    .items
                    .iter()
                    .map(|i| {
                        i128::from(i.quantity)
                            * i128::from(i.unit_price.as_ref().map_or(0, |m| m.amount_minor))
                    })
                    .sum();
                assert_eq!(
                    i128::from(o.total.as_ref().map_or(0, |m| m.amount_minor)),
                    sum
                );
                assert!((1..=50).contains(&o.items.len()));
            }
            Err(s) if s.code() == Code::InvalidArgument => {
                rejected += 1;
                assert!(!violated_fields(&s).is_empty());
            }
            // Not on the menu, not the menu's price, or the same key reused for another request.
            Err(s) if s.code() == Code::FailedPrecondition => {
                refused += 1;
                assert!(
                    ["STORE_UNKNOWN", "MENU_ITEM_UNKNOWN", "PRICE_CHANGED"]
                        .contains(&reason(&s).as_str()),
                    "{s:?}"
                );
            }
            Err(s) if s.code() == Code::AlreadyExists => {}
            Err(s) if s.code() == Code::PermissionDenied => {
                assert_ne!(req.customer_id, "alice", "{s:?}");
            }
            Err(s) => panic!("unexpected answer {s:?} for {req:?}"),
        }
    }
    assert!(
        rejected > 0 && refused > 0 && placed > 0,
        "the generator reaches every outcome: {rejected} rejected, {refused} refused, {placed} placed"
    );
}
