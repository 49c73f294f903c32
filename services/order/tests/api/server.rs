//! The chassis as every service gets it: health, reflection, graceful shutdown, config errors.

use std::time::Duration;

use fd_testkit::{Backend, NatsServer, TestDb};
use tokio_stream::StreamExt;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::helpers::*;

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_services() {
    let app = spawn(Backend::Sqlite).await;
    let mut health = HealthClient::new(channel(&app.order_server.url()).await);
    for service in ["", "fooddelivery.order.v1.OrderService"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("check")
            .into_inner();
        assert_eq!(r.status(), ServingStatus::Serving, "{service:?}");
    }

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut refl = ServerReflectionClient::new(channel(&app.order_server.url()).await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("reflection")
        .into_inner();
    let resp = stream.next().await.expect("one response").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected {resp:?}")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "fooddelivery.order.v1.OrderService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }

    // v1alpha too: grpcio-reflection, Postman and evans speak only that.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let mut alpha = AlphaClient::new(channel(&app.order_server.url()).await);
    let req = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::ListServices(String::new())),
    };
    let resp = alpha
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .expect("v1alpha reflection")
        .into_inner()
        .next()
        .await
        .expect("one response")
        .expect("ok");
    let Some(AlphaResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected {resp:?}")
    };
    assert!(
        list.service
            .iter()
            .any(|s| s.name == "fooddelivery.order.v1.OrderService"),
        "{list:?}"
    );
}

#[tokio::test]
async fn shutdown_reports_not_serving_and_finishes_in_flight_calls() {
    let payment_db = TestDb::new(Backend::Sqlite, "payment").await;
    let order_db = TestDb::new(Backend::Sqlite, "order").await;
    let nats = NatsServer::start().await;
    let payment = start_payment(
        &payment_db,
        &nats,
        &[("DRILL_LATENCY_MS", "600"), ("SHUTDOWN_GRACE_MS", "3000")],
    )
    .await;
    let order = start_order(
        &order_db,
        &nats,
        &payment.url(),
        &[("PAYMENT_TIMEOUT_MS", "5000")],
    )
    .await;

    let mut health = HealthClient::new(channel(&payment.url()).await);
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(
        watch.next().await.expect("status").expect("ok").status(),
        ServingStatus::Serving
    );

    let mut client = fd_proto::order::v1::order_service_client::OrderServiceClient::new(
        as_customer(channel(&order.url()).await, "nia"),
    );
    let in_flight = tokio::spawn(async move { client.place_order(place("nia", "k")).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    payment.begin_shutdown();

    let status = tokio::time::timeout(Duration::from_secs(2), watch.next())
        .await
        .expect("in time")
        .expect("status")
        .expect("ok");
    assert_eq!(status.status(), ServingStatus::NotServing);
    let placed = in_flight
        .await
        .expect("task")
        .expect("the in-flight call finished");
    assert!(placed.into_inner().order.is_some());
    drop(watch);
    payment.stop().await;
}

#[test]
fn bad_configuration_is_a_readable_error_and_exit_code_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_order"))
        .env("PAYMENT_ADDR", "ftp://payment")
        .env("BREAKER_FAILURE_THRESHOLD", "0")
        .env("LISTEN_ADDR", "localhost")
        .output()
        .expect("run order");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in ["PAYMENT_ADDR", "BREAKER_FAILURE_THRESHOLD", "LISTEN_ADDR"] {
        assert!(stderr.contains(key), "{key} missing: {stderr}");
    }
}

#[tokio::test]
async fn oversized_requests_are_refused_and_store_nothing() {
    let payment_db = TestDb::new(Backend::Sqlite, "payment").await;
    let order_db = TestDb::new(Backend::Sqlite, "order").await;
    let nats = NatsServer::start().await;
    let payment = start_payment(&payment_db, &nats, &[]).await;
    let order = start_order(
        &order_db,
        &nats,
        &payment.url(),
        &[("MAX_MESSAGE_BYTES", "65536")],
    )
    .await;
    let mut client = fd_proto::order::v1::order_service_client::OrderServiceClient::new(
        as_customer(channel(&order.url()).await, "oscar"),
    );
    let mut req = place("oscar", "huge");
    req.items[0].name = "x".repeat(100_000);
    let err = client.place_order(req).await.expect_err("too large");
    // tonic answers OUT_OF_RANGE here (the gRPC spec suggests RESOURCE_EXHAUSTED).
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err:?}");
    assert!(
        err.message().contains("too large") && err.message().contains("65536"),
        "{}",
        err.message()
    );
    let list = client
        .list_orders(fd_proto::order::v1::ListOrdersRequest {
            customer_id: "oscar".into(),
            page_size: 10,
            page_token: String::new(),
        })
        .await
        .expect("list");
    assert!(list.into_inner().orders.is_empty());
}

#[tokio::test]
async fn beyond_max_in_flight_requests_are_shed_but_health_answers() {
    const SERVED: Duration = Duration::from_millis(1_500);
    use fd_proto::payment::v1::payment_service_client::PaymentServiceClient;
    use tonic_types::StatusExt;
    let payment_db = TestDb::new(Backend::Sqlite, "payment").await;
    let nats = NatsServer::start().await;
    let payment = start_payment(
        &payment_db,
        &nats,
        // Served calls take this long; a queued one would take at least as long, a shed one
        // comes back at once (the bound is half of it: CI's loaded machine has stalled a call
        // for over 200 ms).
        &[
            ("DRILL_LATENCY_MS", &SERVED.as_millis().to_string()),
            ("MAX_IN_FLIGHT", "2"),
        ],
    )
    .await;
    let ch = channel(&payment.url()).await;
    let calls = (0..6).map(|i| {
        let mut c = PaymentServiceClient::new(as_user(ch.clone(), "service:order", &["service"]));
        async move {
            let started = std::time::Instant::now();
            let r = c
                .authorize(fd_proto::payment::v1::AuthorizeRequest {
                    order_id: format!("o{i}"),
                    customer_id: "c".into(),
                    amount: eur(100),
                })
                .await;
            (r, started.elapsed())
        }
    });
    let health = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        HealthClient::new(channel(&payment.url()).await)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
    };
    let (results, health) = tokio::join!(futures::future::join_all(calls), health);
    assert_eq!(
        health
            .expect("health answers under load")
            .into_inner()
            .status(),
        ServingStatus::Serving
    );
    let ok = results.iter().filter(|(r, _)| r.is_ok()).count();
    let shed: Vec<_> = results
        .iter()
        .filter_map(|(r, took)| r.as_ref().err().map(|e| (e, *took)))
        .collect();
    assert_eq!(ok, 2, "two in flight are served");
    assert_eq!(shed.len(), 4);
    for (e, took) in shed {
        assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
        assert!(
            e.get_error_details().retry_info().is_some(),
            "tells the client when to retry"
        );
        assert!(took < SERVED / 2, "refused at once, not queued: {took:?}");
    }
}
