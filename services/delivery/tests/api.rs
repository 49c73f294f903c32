//! The delivery service on its own: a real server on port 0, a real nats-server, its own
//! database (SQLite and PostgreSQL). Cooked orders arrive as CookingFinished events, as the
//! store publishes them; the rider's commands answer over gRPC and publish their events.

use fd_chassis::outbox::metadata;
use fd_proto::delivery::v1 as pb;
use fd_proto::delivery::v1::delivery_service_client::DeliveryServiceClient;
use fd_proto::order::v1::OrderCancelled;
use fd_proto::store::v1::CookingFinished;
use fd_testkit::events::{publish, published};
use fd_testkit::issuer::{as_user, AuthChannel};
use fd_testkit::{both_backends, Alone, Backend};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

struct App {
    /// As an operator (reads every delivery).
    client: DeliveryServiceClient<AuthChannel>,
    url: String,
    nats_url: String,
    _alone: Alone,
}

async fn spawn(backend: Backend) -> App {
    let alone = Alone::start(backend, "delivery", &[], delivery::run).await;
    App {
        client: DeliveryServiceClient::new(as_user(
            channel(&alone.server.url()),
            "ops",
            &["operator"],
        )),
        url: alone.server.url(),
        nats_url: alone.nats.url.clone(),
        _alone: alone,
    }
}

fn cooked(order_id: &str) -> CookingFinished {
    CookingFinished {
        metadata: Some(metadata(order_id, 3)),
        order_id: order_id.into(),
        store_id: "store-1".into(),
        customer_id: "alice".into(),
    }
}

fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("url")
        .connect_lazy()
}

impl App {
    fn rider(&self, who: &str) -> DeliveryServiceClient<AuthChannel> {
        DeliveryServiceClient::new(as_user(channel(&self.url), who, &["rider"]))
    }

    async fn get(&mut self, order_id: &str) -> Result<pb::Delivery, tonic::Status> {
        self.client
            .get_delivery(pb::GetDeliveryRequest {
                order_id: order_id.into(),
            })
            .await
            .map(|r| r.into_inner().delivery.expect("delivery"))
    }

    /// Waits until a delivery exists for `order_id`.
    async fn waiting(&mut self, order_id: &str) -> pb::Delivery {
        for _ in 0..200 {
            if let Ok(d) = self.get(order_id).await {
                return d;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no delivery for {order_id}");
    }

    async fn pick_up(
        &mut self,
        order_id: &str,
        rider: &str,
    ) -> Result<pb::Delivery, tonic::Status> {
        self.rider(rider)
            .pick_up(pb::PickUpRequest {
                order_id: order_id.into(),
                rider_id: rider.into(),
            })
            .await
            .map(|r| r.into_inner().delivery.expect("delivery"))
    }

    /// Completes as rita, the rider of these tests.
    async fn complete(&mut self, order_id: &str) -> Result<pb::Delivery, tonic::Status> {
        self.rider("rita")
            .complete_delivery(pb::CompleteDeliveryRequest {
                order_id: order_id.into(),
            })
            .await
            .map(|r| r.into_inner().delivery.expect("delivery"))
    }
}

async fn a_cooked_order_is_picked_up_and_delivered_by_one_rider(backend: Backend) {
    let mut app = spawn(backend).await;
    publish(&app.nats_url, &cooked("o-1")).await;
    let d = app.waiting("o-1").await;
    assert_eq!(d.state(), pb::DeliveryState::WaitingForPickup);

    let e = app.complete("o-1").await.expect_err("not picked up yet");
    assert_eq!(e.code(), Code::FailedPrecondition);

    let d = app.pick_up("o-1", "rita").await.expect("pick up");
    assert_eq!(d.state(), pb::DeliveryState::InTransit);
    assert_eq!(d.rider_id, "rita");
    app.pick_up("o-1", "rita")
        .await
        .expect("the same rider again is harmless");
    let e = app.pick_up("o-1", "rob").await.expect_err("another rider");
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("rita"), "{}", e.message());

    let d = app.complete("o-1").await.expect("complete");
    assert_eq!(d.state(), pb::DeliveryState::Delivered);

    let delivered: Vec<pb::Delivered> = published(&app.nats_url, 1).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].rider_id, "rita");
    let started: Vec<pb::DeliveryStarted> = published(&app.nats_url, 1).await;
    assert_eq!(started.len(), 1, "one DeliveryStarted for two pick-ups");
}

async fn a_cancelled_order_cancels_its_delivery_unless_delivered(backend: Backend) {
    let mut app = spawn(backend).await;
    let cancelled = |id: &str| OrderCancelled {
        metadata: Some(metadata(id, 2)),
        order_id: id.into(),
        customer_id: "alice".into(),
        ..Default::default()
    };
    publish(&app.nats_url, &cooked("o-2")).await;
    app.waiting("o-2").await;
    publish(&app.nats_url, &cancelled("o-2")).await;
    let mut state = pb::DeliveryState::WaitingForPickup;
    for _ in 0..200 {
        state = app.waiting("o-2").await.state();
        if state == pb::DeliveryState::Cancelled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state, pb::DeliveryState::Cancelled);
    let e = app.pick_up("o-2", "rita").await.expect_err("cancelled");
    assert_eq!(e.code(), Code::FailedPrecondition);
    let events: Vec<pb::DeliveryCancelled> = published(&app.nats_url, 1).await;
    assert_eq!(events[0].order_id, "o-2");

    let e = app.get("never-cooked").await.expect_err("unknown");
    assert_eq!(e.code(), Code::NotFound);
}

async fn bad_requests_name_each_bad_field(backend: Backend) {
    let mut app = spawn(backend).await;
    let e = app.pick_up("", &"r".repeat(65)).await.expect_err("invalid");
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = e
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["order_id", "rider_id"]);
}

both_backends!(
    a_cooked_order_is_picked_up_and_delivered_by_one_rider,
    a_cancelled_order_cancels_its_delivery_unless_delivered,
    bad_requests_name_each_bad_field,
);

/// Riders act only as themselves and complete only what they hold; a customer sees only their
/// own order's delivery; nobody calls without a token.
async fn riders_and_customers_see_only_what_is_theirs(backend: Backend) {
    let mut app = spawn(backend).await;
    publish(&app.nats_url, &cooked("o-9")).await;
    app.waiting("o-9").await;
    let ch = channel(&app.url);
    let as_ = |who: &str, role: &str| DeliveryServiceClient::new(as_user(ch.clone(), who, &[role]));
    let get = || pb::GetDeliveryRequest {
        order_id: "o-9".into(),
    };
    // The order's customer sees it; another customer does not (NOT_FOUND); any rider sees a
    // delivery that waits for pickup.
    as_("alice", "customer")
        .get_delivery(get())
        .await
        .expect("alice's");
    let err = as_("bob", "customer")
        .get_delivery(get())
        .await
        .expect_err("bob");
    assert_eq!(err.code(), Code::NotFound);
    as_("rob", "rider")
        .get_delivery(get())
        .await
        .expect("waiting: any rider");
    // Nobody picks up for another rider, and customers do not pick up.
    let err = as_("rob", "rider")
        .pick_up(pb::PickUpRequest {
            order_id: "o-9".into(),
            rider_id: "rita".into(),
        })
        .await
        .expect_err("for rita");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_("alice", "customer")
        .pick_up(pb::PickUpRequest {
            order_id: "o-9".into(),
            rider_id: "alice".into(),
        })
        .await
        .expect_err("customer");
    assert_eq!(err.code(), Code::PermissionDenied);
    app.pick_up("o-9", "rita").await.expect("rita");
    // Once rita holds it, another rider neither sees nor completes it.
    let err = as_("rob", "rider")
        .get_delivery(get())
        .await
        .expect_err("rob");
    assert_eq!(err.code(), Code::NotFound);
    let err = as_("rob", "rider")
        .complete_delivery(pb::CompleteDeliveryRequest {
            order_id: "o-9".into(),
        })
        .await
        .expect_err("rob completes");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = DeliveryServiceClient::new(ch.clone())
        .get_delivery(get())
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    app.complete("o-9").await.expect("rita completes");
}

both_backends!(riders_and_customers_see_only_what_is_theirs);

async fn a_riders_work_list_is_what_waits_and_what_is_theirs(backend: Backend) {
    let mut app = spawn(backend).await;
    for id in ["o-20", "o-21", "o-22"] {
        publish(&app.nats_url, &cooked(id)).await;
        app.waiting(id).await;
    }
    app.pick_up("o-21", "rita").await.expect("rita takes o-21");
    app.pick_up("o-22", "rob").await.expect("rob takes o-22");
    let list = |who: &str, role: &str, state: pb::DeliveryState| {
        let mut c = DeliveryServiceClient::new(as_user(channel(&app.url), who, &[role]));
        async move {
            c.list_deliveries(pb::ListDeliveriesRequest {
                state: state.into(),
                page_size: 0,
                page_token: String::new(),
            })
            .await
            .map(|r| {
                r.into_inner()
                    .deliveries
                    .into_iter()
                    .map(|d| d.order_id)
                    .collect::<Vec<_>>()
            })
        }
    };
    // Newest first: what waits (o-20), and rita's own (o-21); not rob's.
    let all = pb::DeliveryState::Unspecified;
    assert_eq!(
        list("rita", "rider", all).await.expect("rita"),
        ["o-21", "o-20"]
    );
    assert_eq!(
        list("rita", "rider", pb::DeliveryState::WaitingForPickup)
            .await
            .expect("waiting"),
        ["o-20"]
    );
    assert_eq!(
        list("ops", "operator", all).await.expect("ops"),
        ["o-22", "o-21", "o-20"]
    );
    let err = list("alice", "customer", all).await.expect_err("customers");
    assert_eq!(err.code(), Code::PermissionDenied);
    // Pages of one: each page's token leads to the next, and the last has none.
    let mut c = DeliveryServiceClient::new(as_user(channel(&app.url), "ops", &["operator"]));
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page = c
            .list_deliveries(pb::ListDeliveriesRequest {
                state: all.into(),
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .expect("page")
            .into_inner();
        seen.extend(page.deliveries.into_iter().map(|d| d.order_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["o-22", "o-21", "o-20"]);
    let err = c
        .list_deliveries(pb::ListDeliveriesRequest {
            state: all.into(),
            page_size: 1000,
            page_token: "garbage".into(),
        })
        .await
        .expect_err("bad page");
    assert_eq!(err.code(), Code::InvalidArgument);
}

both_backends!(a_riders_work_list_is_what_waits_and_what_is_theirs);
