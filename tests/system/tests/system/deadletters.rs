//! Dead letters are listed and replayed with `fdctl deadletters`: the event reaches the
//! consumer that gave up on it (store's tickets here), once, and a second replay finds nothing.

use async_nats::jetstream;
use fd_proto::order::v1 as order;
use fd_proto::store::v1 as st;
use fd_proto::Event;
use fd_testkit::issuer::as_user;
use fd_testkit::{both_backends, Backend};
use prost::Message as _;
use tonic::transport::Channel;

use fd_system_tests::{bin_dir, eventually, System};

fn fdctl(args: &[&str], nats_url: &str) -> String {
    let out = std::process::Command::new(bin_dir().join("fdctl"))
        .args(args)
        .env("NATS_URL", nats_url)
        .output()
        .expect("fdctl runs");
    assert!(
        out.status.success(),
        "fdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn a_dead_letter_is_replayed_to_its_consumer_once(backend: Backend) {
    let sys = System::start(backend).await;
    // What store's consumer would have dead-lettered after its retries: the event as it was
    // published, with the reason.
    let event = order::OrderPlaced {
        order_id: "o-from-the-dead".into(),
        customer_id: "alice".into(),
        store_id: "store-1".into(),
        items: vec![order::LineItem {
            menu_item_id: "pizza".into(),
            name: "Margherita".into(),
            quantity: 1,
            unit_price: None,
        }],
        ..Default::default()
    };
    let js = jetstream::new(
        fd_chassis::nats::connect_url(&sys.nats.url)
            .await
            .expect("admin"),
    );
    fd_chassis::nats::ensure_dead_letter_stream(&js, 1)
        .await
        .expect("DEADLETTER");
    let mut headers = fd_chassis::nats::headers(&fd_chassis::nats::CloudEvent {
        id: "ev-dead-1",
        source: "/fooddelivery/order",
        event_type: order::OrderPlaced::TYPE,
        subject: "o-from-the-dead",
        time_ms: 0,
    });
    headers.insert("Nats-Msg-Id", "dl-store-tickets-999");
    headers.insert("fd-error", "transient: the database was away");
    headers.insert("fd-original-subject", order::OrderPlaced::TYPE);
    headers.insert("fd-consumer", "store-tickets");
    headers.insert("fd-deliveries", "20");
    js.publish_with_headers(
        "deadletter.store.tickets",
        headers,
        event.encode_to_vec().into(),
    )
    .await
    .expect("publish")
    .await
    .expect("ack");

    let listed = fdctl(&["deadletters", "list"], &sys.nats.url);
    assert!(
        listed.contains("store-tickets")
            && listed.contains("ev-dead-1")
            && listed.contains("the database was away"),
        "{listed}"
    );
    let out = fdctl(&["deadletters", "replay", "--all"], &sys.nats.url);
    assert!(out.contains("replayed 1"), "{out}");

    let mut owner = st::store_service_client::StoreServiceClient::new(as_user(
        Channel::from_shared(sys.url("store"))
            .expect("url")
            .connect_lazy(),
        "olga",
        &["owner"],
    ));
    eventually("the ticket of the replayed event", || {
        let mut owner = owner.clone();
        async move {
            let r = owner
                .list_store_orders(st::ListStoreOrdersRequest {
                    store_id: "store-1".into(),
                    page_size: 100,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            r.orders
                .iter()
                .any(|t| t.order_id == "o-from-the-dead")
                .then_some(())
        }
    })
    .await;
    // Nothing left to replay; replaying again changes nothing.
    assert!(fdctl(&["deadletters", "list"], &sys.nats.url).contains("no dead letters"));
    assert!(fdctl(&["deadletters", "replay", "--all"], &sys.nats.url).contains("replayed 0"));
    let tickets = owner
        .list_store_orders(st::ListStoreOrdersRequest {
            store_id: "store-1".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .orders;
    assert_eq!(
        tickets
            .iter()
            .filter(|t| t.order_id == "o-from-the-dead")
            .count(),
        1
    );
}

both_backends!(a_dead_letter_is_replayed_to_its_consumer_once);
