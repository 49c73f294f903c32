//! The whole system in one process: the five services as real gRPC servers on port 0, one
//! real nats-server, a database each (SQLite or PostgreSQL); used by the system tests and the
//! provider verification. Wired by the same `service_env` as the process launcher
//! ([`crate::system`]); which function runs which service is the [`Launcher`]'s to say
//! (`tests/system` implements it for the five services: the test kit cannot link them).

use std::future::Future;
use std::time::Duration;

use fd_proto::delivery::v1::delivery_service_client::DeliveryServiceClient;
use fd_proto::notification::v1 as notification;
use fd_proto::notification::v1::notification_service_client::NotificationServiceClient;
use fd_proto::order::v1 as order;
use fd_proto::order::v1::order_service_client::OrderServiceClient;
use fd_proto::payment::v1::payment_service_client::PaymentServiceClient;
use fd_proto::store::v1 as store;
use fd_proto::store::v1::store_service_client::StoreServiceClient;
use tonic::transport::Channel;

use crate::issuer::{as_user, AuthChannel};
use crate::{Backend, NatsServer, Server, TestDb};

/// Runs service `name` in this process with the configuration in `env`.
pub trait Launcher {
    /// Starts it (on a port-0 listener) and returns once it is SERVING
    /// (`Server::service` does exactly that for a service's `run`.)
    fn launch(
        name: &'static str,
        vars: Vec<(String, String)>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Server> + Send>>;
}

/// The services, in start order (payment first: order calls it).
pub const SERVICES: [&str; 5] = {
    let s = crate::system::SERVICES;
    [s[0].0, s[1].0, s[2].0, s[3].0, s[4].0]
};

/// The running system; `L` says how each service runs.
#[derive(Debug)]
pub struct System<L: Launcher> {
    /// Its nats-server (tests kill and restart it).
    pub nats: NatsServer,
    dbs: Vec<(&'static str, TestDb)>,
    servers: Vec<(&'static str, Option<Server>, String)>,
    /// Further replicas of services, sharing their database ([`System::add_replica`]).
    replicas: Vec<Server>,
    extra: Vec<(String, String)>,
    launcher: std::marker::PhantomData<L>,
}

async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .expect("url")
        .connect_lazy()
}

impl<L: Launcher> System<L> {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, &[]).await
    }

    pub async fn start_with(backend: Backend, extra: &[(&str, &str)]) -> Self {
        let nats = NatsServer::start_locked().await;
        let mut dbs = Vec::new();
        for name in SERVICES {
            dbs.push((name, TestDb::new(backend, name).await));
        }
        let mut s = Self {
            nats,
            dbs,
            servers: Vec::new(),
            replicas: Vec::new(),
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            launcher: std::marker::PhantomData,
        };
        for name in SERVICES {
            let server = s.spawn(name).await;
            let url = server.url();
            s.servers.push((name, Some(server), url));
        }
        let ops = crate::issuer::shared().token_for("ops", &["operator"]);
        crate::demo::seed(&s.url("store"), &ops)
            .await
            .expect("seeding the demo menus");
        crate::demo::wait_until_priced(&s.url("order"), &ops, Duration::from_secs(30))
            .await
            .expect("order prices from the demo menus");
        s
    }

    fn env(&self, name: &str) -> Vec<(String, String)> {
        let db = &self.dbs.iter().find(|(n, _)| *n == name).expect("db").1;
        let payment = self
            .servers
            .iter()
            .find(|(n, _, _)| *n == "payment")
            .map(|(_, _, url)| url.as_str());
        // LISTEN_ADDR is unused in process: each server gets a port-0 listener.
        let mut vars =
            crate::system::service_env(name, "127.0.0.1:0", &self.nats.server_url(), payment);
        // Each service is its own NATS user with only its grants.
        vars.extend(
            self.nats
                .auth()
                .map(|a| a.service_env(name))
                .unwrap_or_default(),
        );
        vars.push(("DATABASE_URL".to_string(), db.url.clone()));
        vars.push(("SHUTDOWN_GRACE_MS".to_string(), "2000".to_string()));
        vars.extend(self.extra.iter().cloned());
        vars
    }

    async fn spawn(&self, name: &'static str) -> Server {
        L::launch(name, self.env(name)).await
    }

    fn slot(&mut self, name: &str) -> &mut (&'static str, Option<Server>, String) {
        self.servers
            .iter_mut()
            .find(|(n, _, _)| *n == name)
            .expect("service")
    }

    /// The `DATABASE_URL` of service `name`.
    pub fn database_url(&self, name: &str) -> &str {
        &self.dbs.iter().find(|(n, _)| *n == name).expect("db").1.url
    }

    /// Starts one more replica of service `name` on the same database, NATS user and
    /// consumers (they share the durables' work); returns its URL. PostgreSQL only: replicas
    /// of a SQLite service would not share anything.
    pub async fn add_replica(&mut self, name: &'static str) -> String {
        let server = self.spawn(name).await;
        let url = server.url();
        self.replicas.push(server);
        url
    }

    /// Stops a service gracefully (its consumers stop; its events wait in JetStream).
    pub async fn stop(&mut self, name: &str) {
        if let Some(server) = self.slot(name).1.take() {
            server.stop().await;
        }
    }

    /// Starts a stopped service again, on a new port, with the same database.
    pub async fn restart(&mut self, name: &'static str) {
        let server = self.spawn(name).await;
        let url = server.url();
        let slot = self.slot(name);
        slot.1 = Some(server);
        slot.2 = url;
    }

    pub fn url(&self, name: &str) -> String {
        self.servers
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, u)| u.clone())
            .expect("url")
    }

    /// Order, as an operator (reads and cancels any order).
    pub async fn order(&self) -> OrderServiceClient<AuthChannel> {
        OrderServiceClient::new(as_user(
            channel(&self.url("order")).await,
            "ops",
            &["operator"],
        ))
    }
    /// Order, as customer `who`.
    pub async fn order_as(&self, who: &str) -> OrderServiceClient<AuthChannel> {
        OrderServiceClient::new(as_user(
            channel(&self.url("order")).await,
            who,
            &["customer"],
        ))
    }
    /// Payment, as an operator.
    pub async fn payment(&self) -> PaymentServiceClient<AuthChannel> {
        PaymentServiceClient::new(as_user(
            channel(&self.url("payment")).await,
            "ops",
            &["operator"],
        ))
    }
    /// Store, as olga, the owner of the demo's store-1.
    pub async fn store(&self) -> StoreServiceClient<AuthChannel> {
        StoreServiceClient::new(as_user(
            channel(&self.url("store")).await,
            "olga",
            &["owner"],
        ))
    }
    /// Delivery, as the rider `rider-7` (who may also read every delivery, as an operator).
    pub async fn delivery(&self) -> DeliveryServiceClient<AuthChannel> {
        DeliveryServiceClient::new(as_user(
            channel(&self.url("delivery")).await,
            "rider-7",
            &["rider", "operator"],
        ))
    }
    /// Notification, as an operator.
    pub async fn notification(&self) -> NotificationServiceClient<AuthChannel> {
        NotificationServiceClient::new(as_user(
            channel(&self.url("notification")).await,
            "ops",
            &["operator"],
        ))
    }

    pub async fn place(&self, customer: &str, key: &str) -> order::Order {
        let req = order::PlaceOrderRequest {
            idempotency_key: key.into(),
            customer_id: customer.into(),
            store_id: "store-1".into(),
            items: vec![order::LineItem {
                menu_item_id: "pizza".into(),
                name: "Margherita".into(),
                quantity: 2,
                unit_price: Some(fd_proto::common::v1::Money {
                    amount_minor: 1250,
                    currency_code: "EUR".into(),
                }),
            }],
            delivery_address: "1 Main Street".into(),
        };
        self.order_as(customer)
            .await
            .place_order(req)
            .await
            .expect("placed")
            .into_inner()
            .order
            .expect("order")
    }

    pub async fn get(&self, order_id: &str) -> order::Order {
        self.order()
            .await
            .get_order(order::GetOrderRequest {
                order_id: order_id.into(),
            })
            .await
            .expect("get")
            .into_inner()
            .order
            .expect("order")
    }

    pub async fn ticket(&self, order_id: &str) -> Option<store::StoreOrder> {
        let list = self
            .store()
            .await
            .list_store_orders(store::ListStoreOrdersRequest {
                store_id: "store-1".into(),
                state: 0,
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .expect("list")
            .into_inner();
        let mut found: Vec<_> = list
            .orders
            .into_iter()
            .filter(|t| t.order_id == order_id)
            .collect();
        assert!(found.len() <= 1, "one ticket per order");
        found.pop()
    }

    pub async fn notifications(&self, customer: &str) -> Vec<notification::Notification> {
        self.notification()
            .await
            .list_notifications(notification::ListNotificationsRequest {
                customer_id: customer.into(),
                order_id: String::new(),
                page_size: 100,
                page_token: String::new(),
            })
            .await
            .expect("list")
            .into_inner()
            .notifications
    }
}

/// Polls `check` until it returns Some (at most 20 s).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
