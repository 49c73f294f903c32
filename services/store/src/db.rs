//! Storage of tickets (portable SQL for SQLite and PostgreSQL).

use fd_chassis::db::Exec;
use fd_chassis::page::{self, Cursor, PageRequest};
use fd_chassis::work::Aggregate;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use crate::domain::{Ticket, TicketState};

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

/// Inserts a ticket; a unique violation means it exists already.
pub async fn insert<'e>(ex: impl Exec<'e>, t: &Ticket) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO tickets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&t.order_id)
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
    .execute(ex)
    .await?;
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
