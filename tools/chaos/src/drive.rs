//! The load: customers placing orders, each order driven to its fate (delivered, cancelled by
//! the customer, rejected by the store, or declined by payment). Every call is retried with
//! the same idempotency key while services come and go, as a real client would.

use std::future::Future;
use std::time::{Duration, Instant};

use fd_proto::delivery::v1 as delivery;
use fd_proto::order::v2 as order;
use fd_proto::store::v1 as store;
use fd_testkit::issuer::{with_token, AuthChannel, Issuer};
use tonic::transport::Channel;
use tonic::Code;

/// What the drill decided for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    CancelledByCustomer,
    RejectedByStore,
    Declined,
}

impl Fate {
    pub fn of(n: u64) -> Self {
        match n % 20 {
            0 | 1 => Self::Declined,
            2..=4 => Self::CancelledByCustomer,
            5 | 6 => Self::RejectedByStore,
            _ => Self::Delivered,
        }
    }
}

/// The outcome the client saw.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub customer: String,
    pub key: String,
    pub fate: Fate,
    /// The order id, if PlaceOrder succeeded.
    pub order_id: Option<String>,
    /// Whether every step the fate asked for was acknowledged.
    pub completed: bool,
}

/// The drill's callers, each with a real token: customers (one per order's customer), olga,
/// the owner of store-1, and the rider rider-1.
pub struct Clients {
    order: Channel,
    issuer: Issuer,
    pub store: store::store_service_client::StoreServiceClient<AuthChannel>,
    pub delivery: delivery::delivery_service_client::DeliveryServiceClient<AuthChannel>,
}

impl Clients {
    pub fn new(
        issuer: &Issuer,
        order_url: &str,
        store_url: &str,
        delivery_url: &str,
    ) -> anyhow::Result<Self> {
        // One URL, or several (replicas) that the channel balances over.
        let ch = |urls: &str| -> anyhow::Result<Channel> {
            let endpoints = urls
                .split(',')
                .map(|u| {
                    Ok(Channel::from_shared(u.to_string())?
                        .connect_timeout(Duration::from_millis(500))
                        .timeout(Duration::from_secs(5)))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(match endpoints.as_slice() {
                [one] => one.connect_lazy(),
                _ => Channel::balance_list(endpoints.into_iter()),
            })
        };
        let as_ = |u: &str, who: &str, role: &str| -> anyhow::Result<AuthChannel> {
            Ok(with_token(ch(u)?, &issuer.token_for(who, &[role])))
        };
        Ok(Self {
            order: ch(order_url)?,
            issuer: issuer.clone(),
            store: store::store_service_client::StoreServiceClient::new(as_(
                store_url, "olga", "owner",
            )?),
            delivery: delivery::delivery_service_client::DeliveryServiceClient::new(as_(
                delivery_url,
                "rider-1",
                "rider",
            )?),
        })
    }

    /// Order, as `customer`.
    pub fn order(
        &self,
        customer: &str,
    ) -> order::order_service_client::OrderServiceClient<AuthChannel> {
        order::order_service_client::OrderServiceClient::new(with_token(
            self.order.clone(),
            &self.issuer.token_for(customer, &["customer"]),
        ))
    }
}

/// Retries `call` until it succeeds, fails with a code in `stop_on`, or `deadline` passes.
async fn retry<T, F, Fut>(
    deadline: Instant,
    stop_on: &[Code],
    mut call: F,
) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut pause = Duration::from_millis(20);
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(s) if stop_on.contains(&s.code()) => return Err(s),
            Err(s) if Instant::now() >= deadline => return Err(s),
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Places order number `n` and drives it to its fate.
pub async fn one_order(c: &Clients, n: u64, limit: i64) -> Outcome {
    let fate = Fate::of(n);
    let customer = format!("chaos-{}", n % 97);
    let key = format!("order-{n}");
    let mut out = Outcome {
        customer: customer.clone(),
        key: key.clone(),
        fate,
        order_id: None,
        completed: false,
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    // The demo menu's caviar costs more than payment approves: a declined payment.
    let item = if fate == Fate::Declined {
        "caviar"
    } else {
        "pizza"
    };
    let caviar = fd_testkit::demo::store("store-1")
        .and_then(|s| s.items.iter().find(|i| i.id == "caviar"))
        .map_or(0, |i| i.price_minor);
    debug_assert!(caviar > limit, "the demo's caviar must be declined");
    let req = order::PlaceOrderRequest {
        idempotency_key: key,
        customer_id: customer.clone(),
        store_id: "store-1".into(),
        lines: vec![order::OrderLine {
            menu_item_id: item.into(),
            quantity: 1,
        }],
        delivery_address: "1 Main Street".into(),
    };
    let placed = retry(
        deadline,
        &[Code::FailedPrecondition, Code::InvalidArgument],
        || {
            let mut o = c.order(&customer);
            let req = req.clone();
            async move { o.place_order(req).await }
        },
    )
    .await;
    let id = match placed {
        Ok(r) => match r.into_inner().order {
            Some(o) => o.order_id,
            None => return out,
        },
        Err(s) => {
            use tonic_types::StatusExt;
            let declined = s
                .get_error_details()
                .error_info()
                .is_some_and(|i| i.reason == "PAYMENT_DECLINED");
            out.completed = fate == Fate::Declined && declined;
            return out;
        }
    };
    out.order_id = Some(id.clone());
    if fate == Fate::Declined {
        return out; // should not happen: the invariant check reports it
    }
    let gone = [Code::FailedPrecondition, Code::InvalidArgument];
    let ok = match fate {
        Fate::CancelledByCustomer => retry(deadline, &gone, || {
            let mut o = c.order(&customer);
            let id = id.clone();
            async move {
                o.cancel_order(order::CancelOrderRequest {
                    order_id: id,
                    reason: "chaos".into(),
                })
                .await
            }
        })
        .await
        .is_ok(),
        Fate::RejectedByStore => retry(deadline, &gone, || {
            let mut s = c.store.clone();
            let id = id.clone();
            async move {
                s.reject_order(store::RejectOrderRequest {
                    order_id: id,
                    reason: "chaos".into(),
                })
                .await
            }
        })
        .await
        .is_ok(),
        _ => {
            let steps = async {
                retry(deadline, &gone, || {
                    let mut s = c.store.clone();
                    let id = id.clone();
                    async move {
                        s.accept_order(store::AcceptOrderRequest { order_id: id })
                            .await
                    }
                })
                .await?;
                retry(deadline, &gone, || {
                    let mut s = c.store.clone();
                    let id = id.clone();
                    async move {
                        s.finish_cooking(store::FinishCookingRequest { order_id: id })
                            .await
                    }
                })
                .await?;
                retry(deadline, &gone, || {
                    let mut d = c.delivery.clone();
                    let id = id.clone();
                    async move {
                        d.pick_up(delivery::PickUpRequest {
                            order_id: id,
                            rider_id: "rider-1".into(),
                        })
                        .await
                    }
                })
                .await?;
                retry(deadline, &gone, || {
                    let mut d = c.delivery.clone();
                    let id = id.clone();
                    async move {
                        d.complete_delivery(delivery::CompleteDeliveryRequest { order_id: id })
                            .await
                    }
                })
                .await
            };
            steps.await.is_ok()
        }
    };
    out.completed = ok;
    out
}
