//! PlaceOrder reads and writes together with the calls that arrive meanwhile (group commit,
//! [`fd_chassis::batch`]): the menu with one query per store, the payment intents with the
//! replay lookup in two statements, and the orders with their `OrderPlaced` events in one
//! transaction with a statement per table. Each call still gets its own answer, and a lone
//! call is a batch of one, written at once.
//!
//! A batch that fails as a whole is written again one call at a time, so that one call's
//! failure (say, a unique violation from a replica) fails only that call.

use std::collections::{HashMap, HashSet};

use fd_chassis::batch::{together_or_alone, Batcher};
use fd_chassis::db::Db;
use fd_chassis::errors::AppError;
use fd_chassis::outbox::Outgoing;
use fd_chassis::time::now_ms;
use futures::future::BoxFuture;

use crate::db;
use crate::domain::Order;
use crate::menu::Menu;

/// Calls written together at most.
const MAX_BATCH: usize = 64;

/// An authorized order to store, with its `OrderPlaced` (in the calling request's trace).
#[derive(Debug)]
pub struct Placed {
    /// The order.
    pub order: Order,
    /// Its event.
    pub event: Outgoing,
}

/// What recording a payment intent found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Recorded (or refreshed): go on and authorize.
    Live,
    /// The order is stored already (a repeated request): answer from it, pay nothing.
    Stored,
    /// Recovery released this order's authorization: the call must stop.
    Released,
}

/// What storing a placed order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored with its event.
    Stored,
    /// The same order (customer and idempotency key) was stored before, or by a concurrent
    /// call: nothing written; answer from what is stored.
    Existing,
    /// Recovery released its authorization meanwhile (the call took longer than
    /// `ORPHAN_AFTER_MS`): nothing written.
    Released,
}

/// A menu read for one call: the store and the items of its cart.
type MenuQuery = (String, Vec<String>);

/// The readers and writers of PlaceOrder.
#[derive(Debug, Clone)]
pub struct Placements {
    menus: Batcher<MenuQuery, Result<Menu, String>>,
    intents: Batcher<String, Result<Intent, AppError>>,
    orders: Batcher<Placed, Result<Outcome, AppError>>,
}

impl Placements {
    /// Starts the writers over `db`.
    pub fn start(db: &Db) -> Self {
        let intents = {
            let db = db.clone();
            Batcher::spawn("order intent", MAX_BATCH, move |ids: Vec<String>| {
                let db = db.clone();
                async move { together_or_alone(&ids, |some| intents(db.clone(), some)).await }
            })
        };
        let orders = {
            let db = db.clone();
            Batcher::spawn("order", MAX_BATCH, move |items: Vec<Placed>| {
                let db = db.clone();
                async move { together_or_alone(&items, |some| orders(db.clone(), some)).await }
            })
        };
        let menus = {
            let db = db.clone();
            Batcher::spawn("menu", MAX_BATCH, move |queries: Vec<MenuQuery>| {
                let db = db.clone();
                async move { menus(&db, queries).await }
            })
        };
        Self {
            menus,
            intents,
            orders,
        }
    }

    /// What the menu replica knows about `store_id` and (at least) the items `ids`.
    pub async fn menu(&self, store_id: &str, ids: &[&str]) -> Result<Menu, String> {
        let query = (
            store_id.to_string(),
            ids.iter().map(|i| (*i).to_string()).collect(),
        );
        self.menus.call(query).await.map_err(|e| e.to_string())?
    }

    /// Records that a payment is about to be authorized for `order_id` (see
    /// [`db::record_intent`]), unless the order is stored already.
    pub async fn intend(&self, order_id: &str) -> Result<Intent, AppError> {
        self.intents
            .call(order_id.to_string())
            .await
            .map_err(stopped)?
    }

    /// Stores an authorized order and its event, if its intent is still live.
    pub async fn store(&self, placed: Placed) -> Result<Outcome, AppError> {
        self.orders.call(placed).await.map_err(stopped)?
    }
}

/// A writer that stopped (it panicked, or the runtime is going down): storage failed.
fn stopped(e: fd_chassis::batch::Stopped) -> AppError {
    tracing::error!(error = %e, "a PlaceOrder writer stopped");
    AppError::Storage(sqlx::Error::WorkerCrashed)
}

/// One query per store for `queries`, each answered with its store's menu (the items of
/// every query of that store: pricing looks up only its own).
async fn menus(db: &Db, queries: Vec<MenuQuery>) -> Vec<Result<Menu, String>> {
    let mut wanted: HashMap<&str, Vec<&str>> = HashMap::new();
    for (store, ids) in &queries {
        wanted
            .entry(store.as_str())
            .or_default()
            .extend(ids.iter().map(String::as_str));
    }
    let mut read: HashMap<&str, Result<Menu, String>> = HashMap::new();
    for (store, ids) in wanted {
        let menu = db::menu(&db.pool, store, &ids)
            .await
            .map_err(|e| e.to_string());
        read.insert(store, menu);
    }
    queries
        .iter()
        .map(|(store, _)| {
            read.get(store.as_str())
                .cloned()
                .unwrap_or_else(|| Err("menu not read".into()))
        })
        .collect()
}

/// The distinct ids of `ids` that are not in `stored`.
fn not_in<'a>(ids: &[&'a str], stored: &HashSet<String>) -> Vec<&'a str> {
    let mut rest: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| !stored.contains(*id))
        .collect();
    rest.sort_unstable();
    rest.dedup();
    rest
}

/// Two statements for the intents of `ids`: which orders are stored already, then the
/// intents of the others, which are live. (Not one transaction: an intent left for an order
/// that a concurrent repeat stored meanwhile is dropped by recovery, which releases only
/// authorizations whose order does not exist.)
fn intents(db: Db, ids: &[String]) -> BoxFuture<'_, Result<Vec<Intent>, AppError>> {
    Box::pin(async move {
        let all: Vec<&str> = ids.iter().map(String::as_str).collect();
        let stored = db::stored_ids(&db.pool, &all).await?;
        let live = db::record_intents(&db.pool, &not_in(&all, &stored), now_ms()).await?;
        Ok(ids
            .iter()
            .map(|id| {
                if stored.contains(id) {
                    Intent::Stored
                } else if live.contains(id) {
                    Intent::Live
                } else {
                    Intent::Released
                }
            })
            .collect())
    })
}

/// One transaction for `items`: which are stored now, which were before, which were released.
fn orders(db: Db, items: &[Placed]) -> BoxFuture<'_, Result<Vec<Outcome>, AppError>> {
    Box::pin(async move {
        let mut work = db.begin().await?;
        let ids: Vec<&str> = items.iter().map(|p| p.order.order_id.as_str()).collect();
        let mut stored: HashSet<String> = db::stored_ids(&mut *work.conn(), &ids).await?;
        // Taking the intent ends recovery's claim on the authorization: from here on the
        // order is stored with it (or, if the transaction fails, the intent is back).
        let live = db::forget_intents(work.conn(), &not_in(&ids, &stored)).await?;
        let mut out = Vec::with_capacity(items.len());
        let (mut new, mut events) = (Vec::new(), Vec::new());
        for p in items {
            let id = p.order.order_id.as_str();
            if stored.contains(id) {
                out.push(Outcome::Existing);
            } else if !live.contains(id) {
                out.push(Outcome::Released);
            } else {
                stored.insert(id.to_string());
                new.push(&p.order);
                events.push(p.event.clone());
                out.push(Outcome::Stored);
            }
        }
        if !new.is_empty() {
            db::insert_all(work.conn(), &new).await?;
            let new_ids: Vec<&str> = new.iter().map(|o| o.order_id.as_str()).collect();
            crate::watch::announce_all(work.conn(), &new_ids).await?;
            work.record_all(&events).await?;
            work.commit().await?;
        }
        Ok(out)
    })
}
