//! Storage of tickets, stores and menu items (portable SQL for SQLite and PostgreSQL).

use fd_chassis::db::{sql_for, Engine, Exec};
use fd_chassis::page::{self, Cursor, PageRequest};
use fd_chassis::work::Aggregate;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use crate::catalog::{ItemKey, MenuItem, Store};
use crate::domain::{Ticket, TicketState};
use fd_chassis::money::{Currency, Money};

pub use crate::domain::Item;

const COLUMNS: &str = "order_id, store_id, customer_id, items_json, total_minor, currency_code, \
                       state, reject_reason, created_at_ms, updated_at_ms, trace_context";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Ticket, sqlx::Error> {
    let state: String = r.try_get("state")?;
    let items: String = r.try_get("items_json")?;
    Ok(Ticket {
        order_id: r.try_get("order_id")?,
        store_id: r.try_get("store_id")?,
        customer_id: r.try_get("customer_id")?,
        items: serde_json::from_str(&items).map_err(|e| sqlx::Error::Decode(e.into()))?,
        total_minor: r.try_get("total_minor")?,
        currency_code: r.try_get("currency_code")?,
        state: TicketState::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown state {state}").into()))?,
        reject_reason: r.try_get("reject_reason")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        trace_context: r.try_get("trace_context")?,
    })
}

/// The ticket of `order_id`.
pub async fn get<'e>(ex: impl Exec<'e>, order_id: &str) -> Result<Option<Ticket>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM tickets WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Inserts the tickets of orders that have none yet (a ticket, or a cancellation's tombstone,
/// stays as it is) in one statement: the order ids inserted.
pub async fn insert_absent(
    conn: &mut sqlx::AnyConnection,
    tickets: &[Ticket],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let mut inserted = std::collections::HashSet::new();
    for chunk in tickets.chunks(100) {
        let sql = sql_for(
            conn.backend(),
            format!(
                "INSERT INTO tickets ({COLUMNS}) VALUES {} ON CONFLICT (order_id) DO NOTHING \
                 RETURNING order_id",
                fd_chassis::db::values(chunk.len(), 11, 1)
            ),
        );
        let mut q = sqlx::query(&sql);
        for t in chunk {
            q = bind_ticket(q, t);
        }
        for r in q.fetch_all(&mut *conn).await? {
            inserted.insert(sqlx::Row::try_get(&r, "order_id")?);
        }
    }
    Ok(inserted)
}

/// The values of `t`'s row, in [`COLUMNS`] order.
fn bind_ticket<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    t: &'q Ticket,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(&t.order_id)
        .bind(&t.store_id)
        .bind(&t.customer_id)
        .bind(serde_json::to_string(&t.items).unwrap_or_default())
        .bind(t.total_minor)
        .bind(&t.currency_code)
        .bind(t.state.as_str())
        .bind(&t.reject_reason)
        .bind(t.created_at_ms)
        .bind(t.updated_at_ms)
        .bind(&t.trace_context)
}

/// Inserts a ticket (a unique violation if its order has one).
pub async fn insert<'e>(ex: impl Exec<'e>, t: &Ticket) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO tickets ({COLUMNS}) VALUES {}",
        fd_chassis::db::values(1, 11, 1)
    );
    bind_ticket(sqlx::query(&sql), t).execute(ex).await?;
    Ok(())
}

/// Moves a ticket from `from` to `to` (compare-and-set). False if it was not in `from`.
pub async fn transition<'e>(
    ex: impl Exec<'e>,
    order_id: &str,
    from: TicketState,
    to: TicketState,
    reason: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE tickets SET state = $1, reject_reason = $2, updated_at_ms = $3 \
         WHERE order_id = $4 AND state = $5",
    )
    .bind(to.as_str())
    .bind(reason)
    .bind(now_ms)
    .bind(order_id)
    .bind(from.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A store's tickets, newest first, optionally in one state.
pub async fn list(
    pool: &AnyPool,
    store_id: &str,
    state: Option<TicketState>,
    page: &PageRequest,
) -> Result<(Vec<Ticket>, String), sqlx::Error> {
    let (ms, id) = Cursor::bounds(page.after.as_ref());
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM tickets WHERE store_id = $1 AND ($2 = '' OR state = $2) \
         AND (created_at_ms < $3 OR (created_at_ms = $3 AND order_id < $4)) \
         ORDER BY created_at_ms DESC, order_id DESC LIMIT $5"
    ))
    .bind(store_id)
    .bind(state.map_or("", TicketState::as_str))
    .bind(ms)
    .bind(&id)
    .bind(i64::try_from(page.limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut tickets = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next = page::finish(&mut tickets, page.limit, |t| Cursor {
        created_at_ms: t.created_at_ms,
        id: t.order_id.clone(),
    });
    Ok((tickets, next))
}

/// The ticket a command acts on: tombstones are not tickets the owner saw.
#[async_trait::async_trait]
impl Aggregate for Ticket {
    const NAME: &'static str = "ticket for order";
    type Id = str;

    async fn load(conn: &mut AnyConnection, order_id: &str) -> Result<Option<Self>, sqlx::Error> {
        Ok(get(conn, order_id).await?.filter(|t| !t.is_tombstone()))
    }

    async fn store_if_unchanged(
        &self,
        conn: &mut AnyConnection,
        before: &Self,
    ) -> Result<bool, sqlx::Error> {
        transition(
            conn,
            &self.order_id,
            before.state,
            self.state,
            &self.reject_reason,
            self.updated_at_ms,
        )
        .await
    }

    fn saga_context(&self) -> &str {
        &self.trace_context
    }
}

// ---- Stores and menus (crate::catalog) ----

const STORE_COLUMNS: &str =
    "store_id, owner_id, name, currency_code, is_open, created_at_ms, updated_at_ms, version";
const ITEM_COLUMNS: &str = "store_id, menu_item_id, name, description, price_minor, \
                            currency_code, available, removed, updated_at_ms, version";

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} is not valid").into())
}

fn store_from_row(r: &sqlx::any::AnyRow) -> Result<Store, sqlx::Error> {
    let currency: String = r.try_get("currency_code")?;
    Ok(Store {
        store_id: r.try_get("store_id")?,
        owner_id: r.try_get("owner_id")?,
        name: r.try_get("name")?,
        currency: Currency::parse(&currency).ok_or_else(|| corrupt("currency"))?,
        open: r.try_get::<i64, _>("is_open")? != 0,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        version: r.try_get("version")?,
    })
}

fn item_from_row(r: &sqlx::any::AnyRow) -> Result<MenuItem, sqlx::Error> {
    let currency: String = r.try_get("currency_code")?;
    Ok(MenuItem {
        key: ItemKey {
            store_id: r.try_get("store_id")?,
            menu_item_id: r.try_get("menu_item_id")?,
        },
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        price: Money::from_stored(r.try_get("price_minor")?, &currency)
            .ok_or_else(|| corrupt("price"))?,
        available: r.try_get::<i64, _>("available")? != 0,
        removed: r.try_get::<i64, _>("removed")? != 0,
        updated_at_ms: r.try_get("updated_at_ms")?,
        version: r.try_get("version")?,
    })
}

/// The store `store_id`.
pub async fn get_store<'e>(
    ex: impl Exec<'e>,
    store_id: &str,
) -> Result<Option<Store>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {STORE_COLUMNS} FROM stores WHERE store_id = $1"
    ))
    .bind(store_id)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(store_from_row)
    .transpose()
}

/// Inserts a new store; a unique violation means the id is taken.
pub async fn insert_store<'e>(ex: impl Exec<'e>, s: &Store) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO stores ({STORE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&s.store_id)
    .bind(&s.owner_id)
    .bind(&s.name)
    .bind(s.currency.as_str())
    .bind(i64::from(s.open))
    .bind(s.created_at_ms)
    .bind(s.updated_at_ms)
    .bind(s.version)
    .execute(ex)
    .await?;
    Ok(())
}

/// Stores in id order, optionally only open ones.
pub async fn list_stores(
    pool: &AnyPool,
    open_only: bool,
    page: &PageRequest,
) -> Result<(Vec<Store>, String), sqlx::Error> {
    let after = page.after.as_ref().map_or("", |c| c.id.as_str());
    let rows = sqlx::query(&format!(
        "SELECT {STORE_COLUMNS} FROM stores WHERE store_id > $1 AND ($2 = 0 OR is_open = 1) \
         ORDER BY store_id LIMIT $3"
    ))
    .bind(after)
    .bind(i64::from(open_only))
    .bind(i64::try_from(page.limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut stores = rows
        .iter()
        .map(store_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next = page::finish(&mut stores, page.limit, |s| Cursor {
        created_at_ms: 0,
        id: s.store_id.clone(),
    });
    Ok((stores, next))
}

/// The item `key`, removed or not.
pub async fn get_item<'e>(
    ex: impl Exec<'e>,
    key: &ItemKey,
) -> Result<Option<MenuItem>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM menu_items WHERE store_id = $1 AND menu_item_id = $2"
    ))
    .bind(&key.store_id)
    .bind(&key.menu_item_id)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(item_from_row)
    .transpose()
}

/// Inserts a new item; a unique violation means the id is taken.
pub async fn insert_item<'e>(ex: impl Exec<'e>, i: &MenuItem) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO menu_items ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&i.key.store_id)
    .bind(&i.key.menu_item_id)
    .bind(&i.name)
    .bind(&i.description)
    .bind(i.price.minor())
    .bind(i.price.currency().as_str())
    .bind(i64::from(i.available))
    .bind(i64::from(i.removed))
    .bind(i.updated_at_ms)
    .bind(i.version)
    .execute(ex)
    .await?;
    Ok(())
}

/// A store's items (removed ones left out) in id order.
pub async fn list_items(
    pool: &AnyPool,
    store_id: &str,
    page: &PageRequest,
) -> Result<(Vec<MenuItem>, String), sqlx::Error> {
    let after = page.after.as_ref().map_or("", |c| c.id.as_str());
    let rows = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM menu_items WHERE store_id = $1 AND removed = 0 \
         AND menu_item_id > $2 ORDER BY menu_item_id LIMIT $3"
    ))
    .bind(store_id)
    .bind(after)
    .bind(i64::try_from(page.limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut items = rows
        .iter()
        .map(item_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next = page::finish(&mut items, page.limit, |i| Cursor {
        created_at_ms: 0,
        id: i.key.menu_item_id.clone(),
    });
    Ok((items, next))
}

#[async_trait::async_trait]
impl Aggregate for Store {
    const NAME: &'static str = "store";
    type Id = str;

    async fn load(conn: &mut AnyConnection, store_id: &str) -> Result<Option<Self>, sqlx::Error> {
        get_store(conn, store_id).await
    }

    async fn store_if_unchanged(
        &self,
        conn: &mut AnyConnection,
        before: &Self,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE stores SET name = $1, is_open = $2, updated_at_ms = $3, version = $4 \
             WHERE store_id = $5 AND version = $6",
        )
        .bind(&self.name)
        .bind(i64::from(self.open))
        .bind(self.updated_at_ms)
        .bind(self.version)
        .bind(&self.store_id)
        .bind(before.version)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait::async_trait]
impl Aggregate for MenuItem {
    const NAME: &'static str = "menu item";
    type Id = ItemKey;

    async fn load(conn: &mut AnyConnection, key: &ItemKey) -> Result<Option<Self>, sqlx::Error> {
        get_item(conn, key).await
    }

    async fn store_if_unchanged(
        &self,
        conn: &mut AnyConnection,
        before: &Self,
    ) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "UPDATE menu_items SET name = $1, description = $2, price_minor = $3, \
             available = $4, removed = $5, updated_at_ms = $6, version = $7 \
             WHERE store_id = $8 AND menu_item_id = $9 AND version = $10",
        )
        .bind(&self.name)
        .bind(&self.description)
        .bind(self.price.minor())
        .bind(i64::from(self.available))
        .bind(i64::from(self.removed))
        .bind(self.updated_at_ms)
        .bind(self.version)
        .bind(&self.key.store_id)
        .bind(&self.key.menu_item_id)
        .bind(before.version)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
