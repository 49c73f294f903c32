//! Storage of deliveries (portable SQL for SQLite and PostgreSQL).

use fd_chassis::db::Exec;
use fd_chassis::work::Aggregate;
use sqlx::AnyConnection;
use sqlx::Row;

use crate::domain::{Delivery, DeliveryState};

const COLUMNS: &str =
    "delivery_id, order_id, store_id, customer_id, rider_id, state, created_at_ms, updated_at_ms, \
     trace_context";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Delivery, sqlx::Error> {
    let state: String = r.try_get("state")?;
    Ok(Delivery {
        delivery_id: r.try_get("delivery_id")?,
        order_id: r.try_get("order_id")?,
        store_id: r.try_get("store_id")?,
        customer_id: r.try_get("customer_id")?,
        rider_id: r.try_get("rider_id")?,
        state: DeliveryState::parse(&state)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown state {state}").into()))?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        trace_context: r.try_get("trace_context")?,
    })
}

/// The delivery of `order_id`.
pub async fn by_order<'e>(
    ex: impl Exec<'e>,
    order_id: &str,
) -> Result<Option<Delivery>, sqlx::Error> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM deliveries WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(ex)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Inserts a delivery.
pub async fn insert<'e>(ex: impl Exec<'e>, d: &Delivery) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO deliveries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&d.delivery_id)
    .bind(&d.order_id)
    .bind(&d.store_id)
    .bind(&d.customer_id)
    .bind(&d.rider_id)
    .bind(d.state.as_str())
    .bind(d.created_at_ms)
    .bind(d.updated_at_ms)
    .bind(&d.trace_context)
    .execute(ex)
    .await?;
    Ok(())
}

/// Compare-and-set of the state (and rider). False if it was not in `from` any more.
pub async fn transition<'e>(
    ex: impl Exec<'e>,
    d: &Delivery,
    from: DeliveryState,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE deliveries SET state = $1, rider_id = $2, updated_at_ms = $3 \
         WHERE delivery_id = $4 AND state = $5",
    )
    .bind(d.state.as_str())
    .bind(&d.rider_id)
    .bind(d.updated_at_ms)
    .bind(&d.delivery_id)
    .bind(from.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The delivery a rider's command acts on: tombstones are no delivery.
#[async_trait::async_trait]
impl Aggregate for Delivery {
    const NAME: &'static str = "delivery for order";
    type Id = str;

    async fn load(conn: &mut AnyConnection, order_id: &str) -> Result<Option<Self>, sqlx::Error> {
        Ok(by_order(conn, order_id)
            .await?
            .filter(|d| !d.is_tombstone()))
    }

    async fn store_if_unchanged(
        &self,
        conn: &mut AnyConnection,
        before: &Self,
    ) -> Result<bool, sqlx::Error> {
        transition(conn, self, before.state).await
    }

    fn saga_context(&self) -> &str {
        &self.trace_context
    }
}

/// A rider's work list (see `ListDeliveries`): deliveries waiting for pickup and those of
/// `rider_id` (every one when `rider_id` is `None`, for operators), in `state` if given,
/// newest first. Tombstones are not listed.
pub async fn list(
    pool: &sqlx::AnyPool,
    rider_id: Option<&str>,
    state: Option<DeliveryState>,
    page: &fd_chassis::page::PageRequest,
) -> Result<(Vec<Delivery>, String), sqlx::Error> {
    use fd_chassis::page::{self, Cursor};
    let (ms, id) = Cursor::bounds(page.after.as_ref());
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM deliveries \
         WHERE ($1 = '*' OR state = 'WAITING_FOR_PICKUP' OR rider_id = $1) \
         AND ($2 = '' OR state = $2) AND NOT (state = 'CANCELLED' AND rider_id = '' AND created_at_ms = 0) \
         AND (created_at_ms < $3 OR (created_at_ms = $3 AND order_id < $4)) \
         ORDER BY created_at_ms DESC, order_id DESC LIMIT $5"
    ))
    .bind(rider_id.unwrap_or("*"))
    .bind(state.map_or("", DeliveryState::as_str))
    .bind(ms)
    .bind(&id)
    .bind(i64::try_from(page.limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut deliveries = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next = page::finish(&mut deliveries, page.limit, |d| Cursor {
        created_at_ms: d.created_at_ms,
        id: d.order_id.clone(),
    });
    Ok((deliveries, next))
}
