//! Storage of orders and of the menu replica (sqlx, portable SQL for SQLite and PostgreSQL).

use fd_chassis::money::Money;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

use crate::domain::{LineItem, NewOrder, Order, OrderState, PaymentStatus, TimelineEntry};
use crate::menu::{Menu, MenuEntry, MenuStore};
use fd_chassis::db::{sql_for, Engine, Exec};
use fd_chassis::page::{self, Cursor, PageRequest};

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The query failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A row holds a value this version cannot read.
    #[error("corrupt order row {0}: {1}")]
    Corrupt(String, String),
}

/// How items are kept in `items_json` (the currency is the order's).
#[derive(Serialize, Deserialize)]
struct StoredItem {
    menu_item_id: String,
    name: String,
    quantity: i32,
    unit_price_minor: i64,
}

const COLUMNS: &str = "order_id, customer_id, idempotency_key, store_id, delivery_address, \
    items_json, total_minor, currency_code, state, payment_id, payment_status, store_status, \
    delivery_status, timeline_json, cancel_reason, version, created_at_ms, updated_at_ms";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Order, DbError> {
    let order_id: String = r.try_get("order_id")?;
    let corrupt = |what: &str| DbError::Corrupt(order_id.clone(), what.to_string());
    let currency: String = r.try_get("currency_code")?;
    let items: Vec<StoredItem> = serde_json::from_str(&r.try_get::<String, _>("items_json")?)
        .map_err(|e| corrupt(&e.to_string()))?;
    let items = items
        .into_iter()
        .map(|i| {
            Some(LineItem {
                unit_price: Money::from_stored(i.unit_price_minor, &currency)?,
                menu_item_id: i.menu_item_id,
                name: i.name,
                quantity: i.quantity,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("currency"))?;
    let timeline: Vec<TimelineEntry> =
        serde_json::from_str(&r.try_get::<String, _>("timeline_json")?)
            .map_err(|e| corrupt(&e.to_string()))?;
    Ok(Order {
        request: NewOrder {
            idempotency_key: r.try_get("idempotency_key")?,
            customer_id: r.try_get("customer_id")?,
            store_id: r.try_get("store_id")?,
            items,
            delivery_address: r.try_get("delivery_address")?,
            total: Money::from_stored(r.try_get("total_minor")?, &currency)
                .ok_or_else(|| corrupt("currency"))?,
        },
        // Derived below from the timeline; the stored copies are for queries only.
        state: OrderState::Placed,
        payment_status: PaymentStatus::Authorized,
        store_status: None,
        delivery_status: None,
        cancel_reason: String::new(),
        payment_id: r.try_get("payment_id")?,
        timeline,
        version: r.try_get("version")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        order_id,
    }
    .from_stored())
}

fn items_json(o: &Order) -> String {
    let items: Vec<StoredItem> = o
        .request
        .items
        .iter()
        .map(|i| StoredItem {
            menu_item_id: i.menu_item_id.clone(),
            name: i.name.clone(),
            quantity: i.quantity,
            unit_price_minor: i.unit_price.minor(),
        })
        .collect();
    // Serializing plain structs of strings and integers cannot fail.
    serde_json::to_string(&items).unwrap_or_default()
}

fn timeline_json(o: &Order) -> String {
    serde_json::to_string(&o.timeline).unwrap_or_default()
}

/// The order `order_id`, if any.
pub async fn get<'e>(pool: impl Exec<'e>, order_id: &str) -> Result<Option<Order>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM orders WHERE order_id = $1"))
        .bind(order_id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Runs `sql`, whose list `{ids}` becomes one placeholder per id of `order_ids`, and returns
/// the `order_id`s of its rows.
async fn order_ids<'e>(
    ex: impl Exec<'e>,
    sql: &str,
    order_ids: &[&str],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    if order_ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = sql_for(
        ex.backend(),
        sql.replace("{ids}", &fd_chassis::db::values(order_ids.len(), 1, 1)),
    );
    let mut q = sqlx::query(&sql);
    for id in order_ids {
        q = q.bind(*id);
    }
    q.fetch_all(ex)
        .await?
        .iter()
        .map(|r| r.try_get("order_id"))
        .collect()
}

/// The ids among `order_ids` (at most a few hundred) that are stored.
pub async fn stored_ids<'e>(
    ex: impl Exec<'e>,
    order_ids: &[&str],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    self::order_ids(
        ex,
        "SELECT order_id FROM orders WHERE order_id IN ({ids})",
        order_ids,
    )
    .await
}

/// Inserts new orders in one statement. A unique violation means one of them (same customer
/// and idempotency key) was inserted concurrently.
pub async fn insert_all(
    conn: &mut sqlx::AnyConnection,
    orders: &[&Order],
) -> Result<(), sqlx::Error> {
    for chunk in orders.chunks(100) {
        let sql = sql_for(
            conn.backend(),
            format!(
                "INSERT INTO orders ({COLUMNS}) VALUES {}",
                fd_chassis::db::values(chunk.len(), 18, 1)
            ),
        );
        let mut q = sqlx::query(&sql);
        for o in chunk {
            q = q
                .bind(&o.order_id)
                .bind(&o.request.customer_id)
                .bind(&o.request.idempotency_key)
                .bind(&o.request.store_id)
                .bind(&o.request.delivery_address)
                .bind(items_json(o))
                .bind(o.request.total.minor())
                .bind(o.request.total.currency().as_str().to_string())
                .bind(o.state.as_str())
                .bind(&o.payment_id)
                .bind(o.payment_status.as_str())
                .bind(o.store_status.map_or("", |s| s.as_str()))
                .bind(o.delivery_status.map_or("", |s| s.as_str()))
                .bind(timeline_json(o))
                .bind(&o.cancel_reason)
                .bind(o.version)
                .bind(o.created_at_ms)
                .bind(o.updated_at_ms);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes the mutable part of `o` if the stored version is still `loaded_version` (optimistic
/// concurrency). Returns false if someone else changed the order first.
pub async fn update<'e>(
    pool: impl Exec<'e>,
    o: &Order,
    loaded_version: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE orders SET state = $1, payment_status = $2, store_status = $3, \
         delivery_status = $4, timeline_json = $5, cancel_reason = $6, version = $7, \
         updated_at_ms = $8 WHERE order_id = $9 AND version = $10",
    )
    .bind(o.state.as_str())
    .bind(o.payment_status.as_str())
    .bind(o.store_status.map_or("", |s| s.as_str()))
    .bind(o.delivery_status.map_or("", |s| s.as_str()))
    .bind(timeline_json(o))
    .bind(&o.cancel_reason)
    .bind(o.version)
    .bind(o.updated_at_ms)
    .bind(&o.order_id)
    .bind(loaded_version)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A customer's orders, newest first: a page of `page.limit` and the next page's token.
pub async fn list(
    pool: &AnyPool,
    customer_id: &str,
    page: &PageRequest,
) -> Result<(Vec<Order>, String), DbError> {
    let (ms, id) = Cursor::bounds(page.after.as_ref());
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM orders WHERE customer_id = $1 \
         AND (created_at_ms < $2 OR (created_at_ms = $2 AND order_id < $3)) \
         ORDER BY created_at_ms DESC, order_id DESC LIMIT $4"
    ))
    .bind(customer_id)
    .bind(ms)
    .bind(&id)
    .bind(i64::try_from(page.limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut orders = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next = page::finish(&mut orders, page.limit, |o| Cursor {
        created_at_ms: o.created_at_ms,
        id: o.order_id.clone(),
    });
    Ok((orders, next))
}

/// Commands on an order: loaded in the unit of work, written back by version.
#[async_trait::async_trait]
impl fd_chassis::work::Aggregate for Order {
    const NAME: &'static str = "order";
    type Id = str;

    async fn load(
        conn: &mut sqlx::AnyConnection,
        order_id: &str,
    ) -> Result<Option<Self>, sqlx::Error> {
        get(conn, order_id).await.map_err(|e| match e {
            DbError::Sqlx(e) => e,
            corrupt => sqlx::Error::Decode(corrupt.into()),
        })
    }

    async fn store_if_unchanged(
        &self,
        conn: &mut sqlx::AnyConnection,
        before: &Self,
    ) -> Result<bool, sqlx::Error> {
        let stored = update(&mut *conn, self, before.version).await?;
        if stored {
            crate::watch::announce(conn, &self.order_id).await?;
        }
        Ok(stored)
    }
}

// ---- The menu replica (crate::menu) ----

/// Applies a store's state if it is newer than the replica's. True if it was.
pub async fn apply_store<'e>(ex: impl Exec<'e>, s: &MenuStore) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO menu_stores (store_id, name, is_open, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (store_id) DO UPDATE SET name = excluded.name, is_open = excluded.is_open, \
         version = excluded.version WHERE menu_stores.version < excluded.version",
    )
    .bind(&s.store_id)
    .bind(&s.name)
    .bind(i64::from(s.open))
    .bind(s.version)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Applies an item's state (of `store_id`) if it is newer than the replica's. True if it was.
pub async fn apply_item<'e>(
    ex: impl Exec<'e>,
    store_id: &str,
    e: &MenuEntry,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO menu_items (store_id, menu_item_id, name, price_minor, currency_code, \
         available, removed, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (store_id, menu_item_id) DO UPDATE SET name = excluded.name, \
         price_minor = excluded.price_minor, currency_code = excluded.currency_code, \
         available = excluded.available, removed = excluded.removed, version = excluded.version \
         WHERE menu_items.version < excluded.version",
    )
    .bind(store_id)
    .bind(&e.menu_item_id)
    .bind(&e.name)
    .bind(e.price.map_or(0, |p| p.minor()))
    .bind(e.price.map_or(String::new(), |p| p.currency().to_string()))
    .bind(i64::from(e.available))
    .bind(i64::from(e.removed))
    .bind(e.version)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What the replica knows about `store_id` and the items `ids` (the lines of a batch of
/// orders), in one query: the store's row joined with those of its items.
pub async fn menu(pool: &AnyPool, store_id: &str, ids: &[&str]) -> Result<Menu, sqlx::Error> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    // `IN ('')` when there are no ids: the store alone.
    let sql = format!(
        "SELECT s.name AS store_name, s.is_open, s.version AS store_version, i.menu_item_id, \
         i.name, i.price_minor, i.currency_code, i.available, i.removed, i.version \
         FROM menu_stores s LEFT JOIN menu_items i ON i.store_id = s.store_id \
         AND i.menu_item_id IN ({}) WHERE s.store_id = $1",
        fd_chassis::db::values(ids.len().max(1), 1, 2)
    );
    let mut query = sqlx::query(&sql).bind(store_id);
    if ids.is_empty() {
        query = query.bind("");
    }
    for id in &ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(pool).await?;
    let mut menu = Menu::default();
    for r in &rows {
        if menu.store.is_none() {
            menu.store = Some(MenuStore {
                store_id: store_id.to_string(),
                name: r.try_get("store_name")?,
                open: r.try_get::<i64, _>("is_open")? != 0,
                version: r.try_get("store_version")?,
            });
        }
        // No matching item: the LEFT JOIN's NULLs.
        let Some(menu_item_id) = r.try_get::<Option<String>, _>("menu_item_id")? else {
            continue;
        };
        let currency: String = r.try_get("currency_code")?;
        let e = MenuEntry {
            menu_item_id,
            name: r.try_get("name")?,
            price: Money::from_stored(r.try_get("price_minor")?, &currency),
            available: r.try_get::<i64, _>("available")? != 0,
            removed: r.try_get::<i64, _>("removed")? != 0,
            version: r.try_get("version")?,
        };
        menu.items.insert(e.menu_item_id.clone(), e);
    }
    Ok(menu)
}

// ---- Payment intents (crate::orphans) ----

/// Records that a payment is about to be authorized for `order_id` (a retry refreshes it).
/// False if recovery has released that order's authorization: the request must not go on.
pub async fn record_intent<'e>(
    conn: impl Exec<'e>,
    order_id: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    Ok(!record_intents(conn, &[order_id], now_ms).await?.is_empty())
}

/// [`record_intent`] for several orders in one statement (distinct ids): the ids whose intent
/// is live.
pub async fn record_intents<'e>(
    conn: impl Exec<'e>,
    order_ids: &[&str],
    now_ms: i64,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    if order_ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = sql_for(
        conn.backend(),
        format!(
            "INSERT INTO payment_intents (order_id, created_at_ms) VALUES {} \
             ON CONFLICT (order_id) DO UPDATE SET created_at_ms = excluded.created_at_ms \
             WHERE payment_intents.released_at_ms = 0 RETURNING order_id",
            fd_chassis::db::values(order_ids.len(), 2, 1)
        ),
    );
    let mut q = sqlx::query(&sql);
    for id in order_ids {
        q = q.bind(*id).bind(now_ms);
    }
    q.fetch_all(conn)
        .await?
        .iter()
        .map(|r| r.try_get("order_id"))
        .collect()
}

/// Forgets the intent of `order_id` (its order is stored, or nothing was authorized). False
/// if there was no live intent: recovery released the authorization meanwhile, and the order
/// must not be stored with it.
pub async fn forget_intent<'e>(conn: impl Exec<'e>, order_id: &str) -> Result<bool, sqlx::Error> {
    Ok(!forget_intents(conn, &[order_id]).await?.is_empty())
}

/// [`forget_intent`] for several orders in one statement: the ids whose intent was live.
pub async fn forget_intents<'e>(
    conn: impl Exec<'e>,
    order_ids: &[&str],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    self::order_ids(
        conn,
        "DELETE FROM payment_intents WHERE released_at_ms = 0 AND order_id IN ({ids}) \
         RETURNING order_id",
        order_ids,
    )
    .await
}

/// Claims a stale intent for release: marks it released if it is still older than
/// `before_ms` and not released. True if this caller claimed it (from then on no request can
/// store the order or refresh the intent).
pub async fn claim_stale_intent<'e>(
    conn: impl Exec<'e>,
    order_id: &str,
    before_ms: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payment_intents SET released_at_ms = $1 \
         WHERE order_id = $2 AND released_at_ms = 0 AND created_at_ms < $3",
    )
    .bind(now_ms)
    .bind(order_id)
    .bind(before_ms)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Drops the intent of `order_id` once its authorization is released (a later retry of the
/// request finds the payment refunded and is refused).
pub async fn drop_released_intent<'e>(
    conn: impl Exec<'e>,
    order_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM payment_intents WHERE order_id = $1 AND released_at_ms > 0")
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Intents older than `before_ms` and those claimed whose release is not confirmed yet,
/// oldest first, each with whether it is claimed already.
pub async fn stale_intents<'e>(
    conn: impl Exec<'e>,
    before_ms: i64,
) -> Result<Vec<(String, bool)>, sqlx::Error> {
    sqlx::query(
        "SELECT order_id, released_at_ms FROM payment_intents \
         WHERE created_at_ms < $1 OR released_at_ms > 0 ORDER BY created_at_ms LIMIT 100",
    )
    .bind(before_ms)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("order_id")?,
            r.try_get::<i64, _>("released_at_ms")? > 0,
        ))
    })
    .collect()
}
