//! Something to order from: the demo stores and menus that `make run` (`fdctl up`),
//! `fdctl with-system`, the system tests, the chaos drill and the benchmark start with.
//!
//! Seeding goes through the store owner's API like any owner would (CreateStore,
//! CreateMenuItem), so it is idempotent (a repeat of the same create is a no-op) and every item
//! reaches the order context's menu replica through the store's events.
//! [`wait_until_priced`] returns once order can price from every demo menu.

use std::time::{Duration, Instant};

use fd_proto::common::v1::Money;
use fd_proto::order::v2 as order;
use fd_proto::store::v1 as store;
use tonic::transport::Channel;

/// A demo menu item.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub price_minor: i64,
    pub available: bool,
}

/// A demo store.
#[derive(Debug, Clone, Copy)]
pub struct Store {
    pub id: &'static str,
    pub owner: &'static str,
    pub name: &'static str,
    pub open: bool,
    pub items: &'static [Item],
}

const fn item(
    id: &'static str,
    name: &'static str,
    description: &'static str,
    price_minor: i64,
) -> Item {
    Item {
        id,
        name,
        description,
        price_minor,
        available: true,
    }
}

/// The demo's currency.
pub const CURRENCY: &str = "EUR";

/// The demo stores. `store-1` is what the v1 clients' examples and tests order from (pizza at
/// 12.50, cola at 4.00), so they keep working unchanged; `caviar` is priced above the demo
/// payment limit (1,000.00) to show a declined payment.
pub const STORES: &[Store] = &[
    Store {
        id: "store-1",
        owner: "olga",
        name: "Luigi's Pizzeria",
        open: true,
        items: &[
            item("pizza", "Margherita", "Tomato, mozzarella, basil", 1250),
            item("cola", "Cola", "0.33 l", 400),
            item(
                "pasta",
                "Carbonara",
                "Spaghetti, egg, guanciale, pecorino",
                1100,
            ),
            item("soup", "Minestrone", "Vegetable soup", 700),
            item("tiramisu", "Tiramisu", "Made in the morning", 600),
            item("caviar", "Caviar", "Beluga, 250 g", 500_000),
            Item {
                available: false,
                ..item("calzone", "Calzone", "Sold out for today", 1400)
            },
        ],
    },
    Store {
        id: "sakura",
        owner: "kenji",
        name: "Sakura Sushi",
        open: true,
        items: &[
            item("maki", "Salmon maki", "8 pieces", 900),
            item("ramen", "Shoyu ramen", "Soy broth, chashu, egg", 1300),
            item("edamame", "Edamame", "Salted", 450),
        ],
    },
    Store {
        id: "green-bowl",
        owner: "gina",
        name: "Green Bowl",
        open: false,
        items: &[item("salad", "Harvest salad", "Quinoa, squash, feta", 850)],
    },
];

/// The demo store `id`.
pub fn store(id: &str) -> Option<&'static Store> {
    STORES.iter().find(|s| s.id == id)
}

fn channel(url: &str, token: &str) -> anyhow::Result<crate::issuer::AuthChannel> {
    Ok(crate::issuer::with_token(
        Channel::from_shared(url.to_string())?.connect_lazy(),
        token,
    ))
}

/// Creates the demo stores and menus through the store service at `store_url`
/// (`http://host:port`) with an operator's `token` (an operator may create a store for its
/// owner); repeats are no-ops. Returns how many items the menus have.
pub async fn seed(store_url: &str, token: &str) -> anyhow::Result<usize> {
    let mut owner =
        store::store_service_client::StoreServiceClient::new(channel(store_url, token)?);
    let mut items = 0;
    for s in STORES {
        owner
            .create_store(store::CreateStoreRequest {
                store_id: s.id.into(),
                owner_id: s.owner.into(),
                name: s.name.into(),
                currency_code: CURRENCY.into(),
                open: s.open,
            })
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "creating demo store {}: {:?} {}",
                    s.id,
                    e.code(),
                    e.message()
                )
            })?;
        for i in s.items {
            owner
                .create_menu_item(store::CreateMenuItemRequest {
                    store_id: s.id.into(),
                    menu_item_id: i.id.into(),
                    name: i.name.into(),
                    description: i.description.into(),
                    price: Some(Money {
                        amount_minor: i.price_minor,
                        currency_code: CURRENCY.into(),
                    }),
                    available: i.available,
                })
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "creating demo item {}/{}: {:?} {}",
                        s.id,
                        i.id,
                        e.code(),
                        e.message()
                    )
                })?;
            items += 1;
        }
    }
    Ok(items)
}

/// Waits until the order service at `order_url` prices every available demo item (and knows
/// the closed store is closed): its menu replica has caught up with the seed.
pub async fn wait_until_priced(
    order_url: &str,
    token: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut orders =
        order::order_service_client::OrderServiceClient::new(channel(order_url, token)?);
    let deadline = Instant::now() + timeout;
    for s in STORES {
        let lines: Vec<_> = s
            .items
            .iter()
            .filter(|i| i.available)
            .map(|i| order::OrderLine {
                menu_item_id: i.id.into(),
                quantity: 1,
            })
            .collect();
        let expected: i64 = s
            .items
            .iter()
            .filter(|i| i.available)
            .map(|i| i.price_minor)
            .sum();
        loop {
            let answer = orders
                .quote_order(order::QuoteOrderRequest {
                    store_id: s.id.into(),
                    lines: lines.clone(),
                })
                .await;
            let caught_up = match &answer {
                Ok(q) => q.get_ref().total.as_ref().map(|t| t.amount_minor) == Some(expected),
                // A closed store is refused as closed once the replica knows it.
                Err(e) => !s.open && e.message().contains("is closed"),
            };
            if caught_up {
                break;
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "order's menu replica did not catch up with the demo menus in {timeout:?} \
                     (store {}: {answer:?})",
                    s.id
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
