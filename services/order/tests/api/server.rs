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

    let mut client =
        fd_proto::order::v1::order_service_client::OrderServiceClient::connect(order.url())
            .await
            .expect("connect");
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
