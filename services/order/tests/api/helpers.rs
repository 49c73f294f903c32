//! Spawning order + payment for one test, and small request builders.

use std::collections::HashMap;

use fd_proto::common::v1::Money;
use fd_proto::order::v1 as pb;
use fd_proto::order::v1::order_service_client::OrderServiceClient;
use fd_proto::order::v2 as v2pb;
use fd_proto::order::v2::order_service_client::OrderServiceClient as V2Client;
use fd_proto::payment::v1::payment_service_client::PaymentServiceClient;
use fd_proto::store::v1 as st;
use fd_testkit::events::publish;
pub use fd_testkit::issuer::{as_user, with_token, AuthChannel};
use fd_testkit::{Backend, NatsServer, Server, TestDb};
use tonic::transport::Channel;

/// Largest amount the test payment service approves.
pub const LIMIT: i64 = 100_000;

pub struct App {
    /// Order, called as the test's customer ([`App::act_as`]; "alice" at first).
    pub order: OrderServiceClient<AuthChannel>,
    /// Payment, called by an operator (who may read every payment).
    pub payment: PaymentServiceClient<AuthChannel>,
    pub customer: String,
    pub order_server: Server,
    pub order_db: TestDb,
    _payment_db: TestDb,
    pub nats: NatsServer,
    pub payment_server: Server,
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
    let server = Server::service(vars, order::run).await;
    // What the store context would have published: order prices from its replica.
    publish_menu(&nats.url).await;
    for (id, _, minor) in MENU {
        wait_for_menu(&server.url(), "store-1", id, Ok(minor)).await;
    }
    server
}

/// The test menu of `store-1` (the store context is not running in these tests: its events
/// are published as the store would).
pub const MENU: [(&str, &str, i64); 4] = [
    ("pizza", "Margherita", 1250),
    ("cola", "Cola", 400),
    ("soup", "Minestrone", 700),
    ("feast", "Feast", LIMIT + 1),
];

/// Event metadata as the store's outbox writes it.
pub fn meta(aggregate_id: &str, version: i64) -> Option<fd_proto::common::v1::EventMetadata> {
    Some(fd_chassis::outbox::metadata(aggregate_id, version))
}

/// A store as StoreCreated/StoreUpdated carry it.
pub fn store_state(store_id: &str, open: bool, version: i64) -> st::Store {
    st::Store {
        store_id: store_id.into(),
        owner_id: "olga".into(),
        name: format!("Store {store_id}"),
        currency_code: "EUR".into(),
        open,
        create_time: None,
        update_time: None,
        version,
    }
}

/// A menu item as MenuItemAdded/MenuItemUpdated carry it.
pub fn menu_item(
    store_id: &str,
    id: &str,
    name: &str,
    minor: i64,
    available: bool,
    version: i64,
) -> st::MenuItem {
    st::MenuItem {
        store_id: store_id.into(),
        menu_item_id: id.into(),
        name: name.into(),
        description: String::new(),
        price: eur(minor),
        available,
        update_time: None,
        version,
    }
}

/// Publishes `store-1` with [`MENU`] as the store context would.
pub async fn publish_menu(nats_url: &str) {
    publish(
        nats_url,
        &st::StoreCreated {
            metadata: meta("store-1", 1),
            store: Some(store_state("store-1", true, 1)),
        },
    )
    .await;
    for (id, name, minor) in MENU {
        publish(
            nats_url,
            &st::MenuItemAdded {
                metadata: meta(&format!("store-1/{id}"), 1),
                item: Some(menu_item("store-1", id, name, minor, true, 1)),
            },
        )
        .await;
    }
}

/// Waits until order's replica prices `store_id`'s `menu_item_id` at `minor` (or, with
/// `None`, refuses it with `reason`).
pub async fn wait_for_menu(
    order_url: &str,
    store_id: &str,
    menu_item_id: &str,
    expect: Result<i64, &str>,
) {
    let mut v2 = V2Client::new(as_customer(channel(order_url).await, "menu-watcher"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = v2
            .quote_order(v2pb::QuoteOrderRequest {
                store_id: store_id.into(),
                lines: vec![v2pb::OrderLine {
                    menu_item_id: menu_item_id.into(),
                    quantity: 1,
                }],
            })
            .await;
        let now: Result<i64, String> = match got {
            Ok(q) => Ok(q.into_inner().total.map_or(0, |t| t.amount_minor)),
            Err(s) => Err(reason(&s)),
        };
        if now == expect.map_err(str::to_string) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order's replica never got {store_id}/{menu_item_id} to {expect:?}: {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The ErrorInfo reason of a status.
pub fn reason(s: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
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
        order: OrderServiceClient::new(as_customer(channel(&order_server.url()).await, "alice")),
        payment: PaymentServiceClient::new(as_user(
            channel(&payment_server.url()).await,
            "ops",
            &["operator"],
        )),
        customer: "alice".into(),
        order_server,
        order_db,
        _payment_db: payment_db,
        nats,
        payment_server,
    }
}

/// `channel` calling as customer `who`.
pub fn as_customer(channel: Channel, who: &str) -> AuthChannel {
    as_user(channel, who, &["customer"])
}

impl App {
    /// From now on `app.order` calls as customer `who`.
    pub fn act_as(&mut self, who: &str) {
        self.customer = who.to_string();
        self.order = self.order_as(who);
    }

    /// An order client calling as customer `who`.
    pub fn order_as(&self, who: &str) -> OrderServiceClient<AuthChannel> {
        OrderServiceClient::new(as_customer(self.channel(), who))
    }

    /// Payment, called as the order service calls it (its service token).
    pub fn payment_as_order(&self) -> PaymentServiceClient<AuthChannel> {
        let channel = Channel::from_shared(self.payment_server.url())
            .expect("url")
            .connect_lazy();
        PaymentServiceClient::new(as_user(channel, "service:order", &["service"]))
    }

    /// The v2 client, calling as the test's customer.
    pub fn v2(&self) -> V2Client<AuthChannel> {
        V2Client::new(as_customer(self.channel(), &self.customer))
    }

    fn channel(&self) -> Channel {
        Channel::from_shared(self.order_server.url())
            .expect("url")
            .connect_lazy()
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
        name: MENU
            .iter()
            .find(|m| m.0 == id)
            .map_or_else(|| format!("Item {id}"), |m| m.1.to_string()),
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
