//! Fault isolation: orders are taken while store, delivery and notification are down, or while
//! NATS is; everything catches up afterwards, each order reaching each service exactly once.

use fd_testkit::{both_backends, Backend};

use fd_system_tests::{eventually, System};

async fn each_order_reached_once(sys: &System, customer: &str, order_ids: &[String]) {
    for id in order_ids {
        let t = eventually(&format!("ticket for {id}"), || async {
            sys.ticket(id).await
        })
        .await;
        assert_eq!(&t.order_id, id);
    }
    let notes = eventually("one notification per order", || async {
        let n = sys.notifications(customer).await;
        (n.len() >= order_ids.len()).then_some(n)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let notes_after = sys.notifications(customer).await;
    assert_eq!(notes_after.len(), notes.len(), "no late duplicates");
    let mut per_order: Vec<_> = notes.iter().map(|n| n.order_id.clone()).collect();
    per_order.sort();
    let mut want = order_ids.to_vec();
    want.sort();
    assert_eq!(
        per_order, want,
        "exactly one OrderPlaced notification per order"
    );
}

async fn orders_flow_while_downstream_services_are_down(backend: Backend) {
    let mut sys = System::start(backend).await;
    for name in ["store", "delivery", "notification"] {
        sys.stop(name).await;
    }
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(sys.place("eve", &format!("down-{i}")).await.order_id);
    }
    for name in ["store", "delivery", "notification"] {
        sys.restart(name).await;
    }
    each_order_reached_once(&sys, "eve", &ids).await;
}

async fn orders_flow_while_nats_is_down(backend: Backend) {
    let mut sys = System::start(backend).await;
    let warm = sys.place("fay", "before").await.order_id;
    eventually("first ticket", || async { sys.ticket(&warm).await }).await;

    sys.nats.kill();
    let mut ids = vec![warm];
    for i in 0..3 {
        ids.push(sys.place("fay", &format!("outage-{i}")).await.order_id); // still succeeds
    }
    sys.nats.restart().await;
    each_order_reached_once(&sys, "fay", &ids).await;
}

both_backends!(
    orders_flow_while_downstream_services_are_down,
    orders_flow_while_nats_is_down
);
