//! Payment's gRPC API against a real server on port 0 and a real database (SQLite and
//! PostgreSQL).

use std::time::{Duration, Instant};

use fd_proto::common::v1::Money;
use fd_proto::payment::v1 as pb;
use fd_proto::payment::v1::payment_service_client::PaymentServiceClient;
use fd_testkit::issuer::{as_user, AuthChannel};
use fd_testkit::{both_backends, Backend, NatsServer, Server, TestDb};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

struct App {
    /// As the order service, with an operator's reading and refunding rights too.
    client: PaymentServiceClient<AuthChannel>,
    _server: Server,
    _db: TestDb,
    _nats: NatsServer,
}

async fn spawn(backend: Backend, extra: &[(&str, &str)]) -> App {
    let db = TestDb::new(backend, "payment").await;
    let nats = NatsServer::start().await;
    let mut vars = vec![
        ("DATABASE_URL".to_string(), db.url.clone()),
        ("NATS_URL".to_string(), nats.url.clone()),
        ("DECLINE_OVER_MINOR".to_string(), "10000".to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let server = Server::service(vars, payment::run).await;
    let channel = Channel::from_shared(server.url())
        .expect("url")
        .connect_lazy();
    let client =
        PaymentServiceClient::new(as_user(channel, "service:order", &["service", "operator"]));
    App {
        client,
        _server: server,
        _db: db,
        _nats: nats,
    }
}

fn eur(minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor: minor,
        currency_code: "EUR".into(),
    })
}

fn authorize(order: &str, minor: i64) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        order_id: order.into(),
        customer_id: "alice".into(),
        amount: eur(minor),
    }
}

async fn authorize_is_idempotent_per_order(backend: Backend) {
    let mut app = spawn(backend, &[]).await;
    let first = app
        .client
        .authorize(authorize("o-1", 2500))
        .await
        .expect("first")
        .into_inner();
    let p = first.payment.expect("payment");
    assert_eq!(p.state(), pb::PaymentState::Authorized);
    let again = app
        .client
        .authorize(authorize("o-1", 2500))
        .await
        .expect("again")
        .into_inner();
    assert_eq!(
        again.payment.expect("payment").payment_id,
        p.payment_id,
        "charged once"
    );

    // The same order with another amount is a conflict, not a second charge.
    let err = app
        .client
        .authorize(authorize("o-1", 9999))
        .await
        .expect_err("conflict");
    assert_eq!(err.code(), Code::AlreadyExists);

    // Concurrent first calls for one order still make one payment.
    let calls = (0..8).map(|_| {
        let mut c = app.client.clone();
        async move {
            c.authorize(authorize("o-2", 100))
                .await
                .map(|r| r.into_inner().payment.map(|p| p.payment_id))
        }
    });
    let ids: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("ok"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one payment: {ids:?}");
}

async fn amounts_over_the_limit_are_declined(backend: Backend) {
    let mut app = spawn(backend, &[]).await;
    let p = app
        .client
        .authorize(authorize("o-big", 10_001))
        .await
        .expect("answer")
        .into_inner()
        .payment
        .expect("payment");
    assert_eq!(p.state(), pb::PaymentState::Declined);
    assert!(p.decline_reason.contains("limit"), "{}", p.decline_reason);
    let ok = app
        .client
        .authorize(authorize("o-edge", 10_000))
        .await
        .expect("answer")
        .into_inner()
        .payment
        .expect("payment");
    assert_eq!(ok.state(), pb::PaymentState::Authorized);
}

async fn refund_is_idempotent_and_declines_cannot_be_refunded(backend: Backend) {
    let mut app = spawn(backend, &[]).await;
    app.client
        .authorize(authorize("o-r", 700))
        .await
        .expect("authorize");
    let refund = |reason: &str| pb::RefundRequest {
        order_id: "o-r".into(),
        reason: reason.into(),
    };
    let r1 = app
        .client
        .refund(refund("customer cancelled"))
        .await
        .expect("refund")
        .into_inner()
        .payment
        .expect("p");
    assert_eq!(r1.state(), pb::PaymentState::Refunded);
    assert_eq!(r1.refund_reason, "customer cancelled");
    let r2 = app
        .client
        .refund(refund("again"))
        .await
        .expect("second refund")
        .into_inner()
        .payment
        .expect("p");
    assert_eq!(
        r2.refund_reason, "customer cancelled",
        "second refund changes nothing"
    );

    app.client
        .authorize(authorize("o-d", 50_000))
        .await
        .expect("declined");
    let err = app
        .client
        .refund(pb::RefundRequest {
            order_id: "o-d".into(),
            reason: String::new(),
        })
        .await
        .expect_err("declined");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = app
        .client
        .refund(pb::RefundRequest {
            order_id: "nope".into(),
            reason: String::new(),
        })
        .await
        .expect_err("missing");
    assert_eq!(err.code(), Code::NotFound);
}

async fn get_payment_by_id_or_order(backend: Backend) {
    use pb::get_payment_request::Lookup;
    let mut app = spawn(backend, &[]).await;
    let p = app
        .client
        .authorize(authorize("o-g", 300))
        .await
        .expect("ok")
        .into_inner()
        .payment
        .expect("p");
    for lookup in [
        Lookup::PaymentId(p.payment_id.clone()),
        Lookup::OrderId("o-g".into()),
    ] {
        let got = app
            .client
            .get_payment(pb::GetPaymentRequest {
                lookup: Some(lookup),
            })
            .await
            .expect("found");
        assert_eq!(
            got.into_inner().payment.expect("p").payment_id,
            p.payment_id
        );
    }
    let err = app
        .client
        .get_payment(pb::GetPaymentRequest { lookup: None })
        .await
        .expect_err("no lookup");
    assert_eq!(err.code(), Code::InvalidArgument);
}

async fn invalid_input_names_every_field(backend: Backend) {
    let mut app = spawn(backend, &[]).await;
    let err = app
        .client
        .authorize(pb::AuthorizeRequest {
            order_id: String::new(),
            customer_id: "c".repeat(65),
            amount: Some(Money {
                amount_minor: -1,
                currency_code: "euro".into(),
            }),
        })
        .await
        .expect_err("invalid");
    assert_eq!(err.code(), Code::InvalidArgument);
    let details = err.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .expect("bad request")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(
        fields,
        [
            "order_id",
            "customer_id",
            "amount.amount_minor",
            "amount.currency_code"
        ]
    );
}

async fn drill_latency_and_failures_are_applied(backend: Backend) {
    let mut app = spawn(
        backend,
        &[("DRILL_LATENCY_MS", "150"), ("DRILL_FAILURE_RATE", "0.5")],
    )
    .await;
    let started = Instant::now();
    let mut codes = Vec::new();
    for i in 0..4 {
        let r = app
            .client
            .authorize(authorize(&format!("drill-{i}"), 100))
            .await;
        codes.push(r.err().map(|s| s.code()));
    }
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "latency added to each call"
    );
    assert_eq!(
        codes,
        [None, Some(Code::Unavailable), None, Some(Code::Unavailable)]
    );
}

both_backends!(
    authorize_is_idempotent_per_order,
    amounts_over_the_limit_are_declined,
    refund_is_idempotent_and_declines_cannot_be_refunded,
    get_payment_by_id_or_order,
    invalid_input_names_every_field,
    drill_latency_and_failures_are_applied,
);

#[test]
fn bad_configuration_is_a_readable_error_and_exit_code_2() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_payment"))
        .env("DRILL_FAILURE_RATE", "2")
        .env("DECLINE_OVER_MINOR", "lots")
        .output()
        .expect("run payment");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DRILL_FAILURE_RATE") && stderr.contains("DECLINE_OVER_MINOR"),
        "{stderr}"
    );
}
