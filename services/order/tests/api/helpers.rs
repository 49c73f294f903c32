//! Spawning order + payment for one test, and small request builders.

use std::collections::HashMap;

use fd_proto::common::v1::Money;
use fd_proto::order::v1 as pb;
use fd_proto::order::v1::order_service_client::OrderServiceClient;
use fd_proto::payment::v1::payment_service_client::PaymentServiceClient;
use fd_testkit::{Backend, NatsServer, Server, TestDb};
use tonic::transport::Channel;

/// Largest amount the test payment service approves.
pub const LIMIT: i64 = 100_000;

pub struct App {
    pub order: OrderServiceClient<Channel>,
    pub payment: PaymentServiceClient<Channel>,
    pub order_server: Server,
    pub order_db: TestDb,
    _payment_db: TestDb,
    _nats: NatsServer,
    _payment_server: Server,
}

pub fn vars(pairs: &[(&str, &str)], overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    vars.into_iter().collect()
}

pub async fn start_payment(db: &TestDb, nats: &NatsServer, overrides: &[(&str, &str)]) -> Server {
    let limit = LIMIT.to_string();
    let vars = vars(
        &[
            ("DATABASE_URL", &db.url),
            ("NATS_URL", &nats.url),
            ("DECLINE_OVER_MINOR", &limit),
        ],
        overrides,
    );
    Server::service(vars, payment::run).await
}

pub async fn start_order(
    db: &TestDb,
    nats: &NatsServer,
    payment_url: &str,
    overrides: &[(&str, &str)],
) -> Server {
    let vars = vars(
        &[
            ("DATABASE_URL", &db.url),
            ("NATS_URL", &nats.url),
            ("PAYMENT_ADDR", payment_url),
            ("PAYMENT_TIMEOUT_MS", "1000"),
            ("SHUTDOWN_GRACE_MS", "2000"),
        ],
        overrides,
    );
    Server::service(vars, order::run).await
}

/// Order and payment, wired together.
pub async fn spawn(backend: Backend) -> App {
    spawn_with(backend, &[], &[]).await
}

pub async fn spawn_with(
    backend: Backend,
    order_env: &[(&str, &str)],
    payment_env: &[(&str, &str)],
) -> App {
    let payment_db = TestDb::new(backend, "payment").await;
    let order_db = TestDb::new(backend, "order").await;
    let nats = NatsServer::start().await;
    let payment_server = start_payment(&payment_db, &nats, payment_env).await;
    let order_server = start_order(&order_db, &nats, &payment_server.url(), order_env).await;
    App {
        order: OrderServiceClient::connect(order_server.url())
            .await
            .expect("order client"),
        payment: PaymentServiceClient::connect(payment_server.url())
            .await
            .expect("payment client"),
        order_server,
        order_db,
        _payment_db: payment_db,
        _nats: nats,
        _payment_server: payment_server,
    }
}

pub fn eur(minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor: minor,
        currency_code: "EUR".into(),
    })
}

pub fn item(id: &str, quantity: i32, price: i64) -> pb::LineItem {
    pb::LineItem {
        menu_item_id: id.into(),
        name: format!("Item {id}"),
        quantity,
        unit_price: eur(price),
    }
}

/// A valid order of 2 × 12.50 + 1 × 4.00 EUR (29.00).
pub fn place(customer: &str, key: &str) -> pb::PlaceOrderRequest {
    pb::PlaceOrderRequest {
        idempotency_key: key.into(),
        customer_id: customer.into(),
        store_id: "store-1".into(),
        items: vec![item("pizza", 2, 1250), item("cola", 1, 400)],
        delivery_address: "1 Main Street".into(),
    }
}

pub fn order_id(customer: &str, key: &str) -> String {
    order::domain::order_id_for(customer, key).to_string()
}

/// The payment for `order_id`, if payment has one.
pub async fn payment_of(app: &App, order_id: &str) -> Option<fd_proto::payment::v1::Payment> {
    use fd_proto::payment::v1::{get_payment_request::Lookup, GetPaymentRequest};
    let mut c = app.payment.clone();
    match c
        .get_payment(GetPaymentRequest {
            lookup: Some(Lookup::OrderId(order_id.into())),
        })
        .await
    {
        Ok(r) => r.into_inner().payment,
        Err(s) if s.code() == tonic::Code::NotFound => None,
        Err(s) => panic!("GetPayment failed: {s}"),
    }
}

/// Number of orders stored for `customer`.
pub async fn count_orders(app: &App, customer: &str) -> usize {
    let mut c = app.order.clone();
    c.list_orders(pb::ListOrdersRequest {
        customer_id: customer.into(),
        page_size: 100,
        page_token: String::new(),
    })
    .await
    .expect("list")
    .into_inner()
    .orders
    .len()
}

/// Field paths of an INVALID_ARGUMENT status.
pub fn violated_fields(s: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(s.code(), tonic::Code::InvalidArgument, "{s:?}");
    s.get_error_details()
        .bad_request()
        .expect("BadRequest detail")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("url")
        .connect()
        .await
        .expect("connect")
}
