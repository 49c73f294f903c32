//! Who may call what on order (v1 and v2): no token, a bad token, someone else's order, the
//! wrong role. Part of the role × RPC matrix (docs/identity.md).

use fd_proto::order::v1 as pb;
use fd_proto::order::v1::order_service_client::OrderServiceClient;
use fd_proto::order::v2;
use fd_testkit::issuer::{shared, Claims};
use fd_testkit::{both_backends, Backend};
use tonic::Code;

use crate::helpers::*;

fn get(id: &str) -> pb::GetOrderRequest {
    pb::GetOrderRequest {
        order_id: id.into(),
    }
}

async fn every_call_needs_a_valid_token(backend: Backend) {
    let app = spawn(backend).await;
    let ch = || {
        tonic::transport::Channel::from_shared(app.order_server.url())
            .expect("url")
            .connect_lazy()
    };
    // No token at all.
    let err = OrderServiceClient::new(ch())
        .place_order(place("alice", "anon"))
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(
        err.message().contains("authorization: Bearer"),
        "{}",
        err.message()
    );
    // Expired, for another audience, from another issuer, forged.
    let issuer = shared();
    let other = fd_testkit::issuer::Issuer::start().await;
    let mut expired = Claims::for_user("alice", &["customer"]);
    expired.expires_in = -300;
    let mut audience = Claims::for_user("alice", &["customer"]);
    audience.audience = "another-app".into();
    let mut iss = Claims::for_user("alice", &["customer"]);
    iss.issuer = Some("https://evil.example".into());
    for (token, why) in [
        (issuer.token(&expired), "expired"),
        (issuer.token(&audience), "audience"),
        (issuer.token(&iss), "issuer"),
        (issuer.forged_token("alice", &["customer"]), "signature"),
        (other.token_for("alice", &["customer"]), "does not publish"),
    ] {
        let err = OrderServiceClient::new(with_token(ch(), &token))
            .get_order(get(&order_id("alice", "k")))
            .await
            .expect_err(why);
        assert_eq!(err.code(), Code::Unauthenticated, "{why}: {err:?}");
        assert!(err.message().contains(why), "{why}: {}", err.message());
    }
    // Health needs no token (probes).
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health is open");
}

async fn a_customer_sees_only_their_own_orders(backend: Backend) {
    let mut app = spawn(backend).await;
    app.act_as("quinn");
    let mine = app
        .order
        .place_order(place("quinn", "k"))
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("order");
    let mut other = app.order_as("rosa");
    // Someone else's order does not exist for them: NOT_FOUND, as for a made-up id.
    for err in [
        other.get_order(get(&mine.order_id)).await.expect_err("get"),
        other
            .cancel_order(pb::CancelOrderRequest {
                order_id: mine.order_id.clone(),
                reason: String::new(),
            })
            .await
            .expect_err("cancel"),
        other
            .watch_order(pb::WatchOrderRequest {
                order_id: mine.order_id.clone(),
            })
            .await
            .map(drop)
            .expect_err("watch"),
    ] {
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    let mut v2c = fd_proto::order::v2::order_service_client::OrderServiceClient::new(as_customer(
        tonic::transport::Channel::from_shared(app.order_server.url())
            .expect("url")
            .connect_lazy(),
        "rosa",
    ));
    let err = v2c
        .get_order(v2::GetOrderRequest {
            order_id: mine.order_id.clone(),
        })
        .await
        .expect_err("v2 get");
    assert_eq!(err.code(), Code::NotFound);
    // Naming someone else as the customer: PERMISSION_DENIED (nothing to hide about a name).
    let err = other
        .place_order(place("quinn", "on-their-behalf"))
        .await
        .expect_err("for someone else");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = other
        .list_orders(pb::ListOrdersRequest {
            customer_id: "quinn".into(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect_err("their list");
    assert_eq!(err.code(), Code::PermissionDenied);
    // Owners and riders do not order; an operator reads and cancels anyone's.
    for role in ["owner", "rider", "operator"] {
        let mut c = OrderServiceClient::new(as_user(
            tonic::transport::Channel::from_shared(app.order_server.url())
                .expect("url")
                .connect_lazy(),
            "quinn",
            &[role],
        ));
        let err = c
            .place_order(place("quinn", role))
            .await
            .expect_err("not a customer");
        assert_eq!(err.code(), Code::PermissionDenied, "{role}");
    }
    let mut ops = OrderServiceClient::new(as_user(
        tonic::transport::Channel::from_shared(app.order_server.url())
            .expect("url")
            .connect_lazy(),
        "ops",
        &["operator"],
    ));
    ops.get_order(get(&mine.order_id))
        .await
        .expect("operator reads");
    ops.list_orders(pb::ListOrdersRequest {
        customer_id: "quinn".into(),
        page_size: 10,
        page_token: String::new(),
    })
    .await
    .expect("operator lists");
    let cancelled = ops
        .cancel_order(pb::CancelOrderRequest {
            order_id: mine.order_id.clone(),
            reason: "support".into(),
        })
        .await
        .expect("operator cancels")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(cancelled.state(), pb::OrderState::Cancelled);
    // v2 takes the customer from the token when the request leaves it out.
    let placed = app
        .v2()
        .place_order(v2::PlaceOrderRequest {
            idempotency_key: "v2-implicit".into(),
            customer_id: String::new(),
            store_id: "store-1".into(),
            lines: vec![v2::OrderLine {
                menu_item_id: "pizza".into(),
                quantity: 1,
            }],
            delivery_address: "1 Main Street".into(),
        })
        .await
        .expect("placed")
        .into_inner()
        .order
        .expect("order");
    assert_eq!(placed.customer_id, "quinn");
}

async fn payment_admits_authorize_only_from_the_order_service(backend: Backend) {
    let app = spawn(backend).await;
    let ch = tonic::transport::Channel::from_shared(app.payment_server.url())
        .expect("url")
        .connect_lazy();
    let req = || fd_proto::payment::v1::AuthorizeRequest {
        order_id: order_id("alice", "direct"),
        customer_id: "alice".into(),
        amount: eur(100),
    };
    for (who, roles) in [
        ("alice", &["customer"][..]),
        ("ops", &["operator"][..]),
        ("service:store", &["service"][..]),
    ] {
        let mut c = fd_proto::payment::v1::payment_service_client::PaymentServiceClient::new(
            as_user(ch.clone(), who, roles),
        );
        let err = c.authorize(req()).await.expect_err("not order");
        assert_eq!(err.code(), Code::PermissionDenied, "{who}: {err:?}");
    }
    app.payment_as_order()
        .authorize(req())
        .await
        .expect("order's service token");
    // Refund: an operator by hand, order to release an authorization it never stored an order
    // for; nobody else.
    let refund = || fd_proto::payment::v1::RefundRequest {
        order_id: order_id("alice", "direct"),
        reason: "test".into(),
    };
    for (who, roles) in [
        ("alice", &["customer"][..]),
        ("olga", &["owner"][..]),
        ("service:store", &["service"][..]),
    ] {
        let mut c = fd_proto::payment::v1::payment_service_client::PaymentServiceClient::new(
            as_user(ch.clone(), who, roles),
        );
        let err = c.refund(refund()).await.expect_err("may not refund");
        assert_eq!(err.code(), Code::PermissionDenied, "{who}: {err:?}");
    }
    app.payment_as_order()
        .refund(refund())
        .await
        .expect("order releases an authorization");
}

both_backends!(
    every_call_needs_a_valid_token,
    a_customer_sees_only_their_own_orders,
    payment_admits_authorize_only_from_the_order_service,
);
