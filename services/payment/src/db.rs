//! Storage of payments (sqlx, portable SQL for SQLite and PostgreSQL).

use fd_chassis::db::{sql_for, Engine, Exec};
use sqlx::Row;

use crate::domain::{Payment, PaymentState};
use fd_chassis::money::Money;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The query failed.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    /// A row holds a value this version does not know.
    #[error("corrupt payment row {0}")]
    Corrupt(String),
}

const COLUMNS: &str = "payment_id, order_id, customer_id, amount_minor, currency_code, state, \
                       decline_reason, refund_reason, created_at_ms, updated_at_ms";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Payment, DbError> {
    let payment_id: String = r.try_get("payment_id")?;
    let state: String = r.try_get("state")?;
    let currency: String = r.try_get("currency_code")?;
    let corrupt = || DbError::Corrupt(payment_id.clone());
    Ok(Payment {
        amount: Money::from_stored(r.try_get("amount_minor")?, &currency).ok_or_else(corrupt)?,
        state: PaymentState::parse(&state).ok_or_else(corrupt)?,
        order_id: r.try_get("order_id")?,
        customer_id: r.try_get("customer_id")?,
        decline_reason: r.try_get("decline_reason")?,
        refund_reason: r.try_get("refund_reason")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        payment_id,
    })
}

/// The payment of `order_id`, if any.
pub async fn by_order<'e>(pool: impl Exec<'e>, order_id: &str) -> Result<Option<Payment>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE order_id = $1"
    ))
    .bind(order_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The payment with id `payment_id`, if any.
pub async fn by_id<'e>(pool: impl Exec<'e>, payment_id: &str) -> Result<Option<Payment>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM payments WHERE payment_id = $1"
    ))
    .bind(payment_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The payments of `order_ids`, by order id.
pub async fn by_orders(
    conn: &mut sqlx::AnyConnection,
    order_ids: &[&str],
) -> Result<std::collections::HashMap<String, Payment>, DbError> {
    let mut found = std::collections::HashMap::new();
    for chunk in order_ids.chunks(500) {
        let sql = sql_for(
            conn.backend(),
            format!(
                "SELECT {COLUMNS} FROM payments WHERE order_id IN ({})",
                fd_chassis::db::values(chunk.len(), 1, 1)
            ),
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *conn).await? {
            let p = from_row(&r)?;
            found.insert(p.order_id.clone(), p);
        }
    }
    Ok(found)
}

/// Inserts new payments in one statement. Fails with a unique violation if an order already
/// has one.
pub async fn insert_all(
    conn: &mut sqlx::AnyConnection,
    ps: &[&Payment],
) -> Result<(), sqlx::Error> {
    for chunk in ps.chunks(500) {
        let sql = sql_for(
            conn.backend(),
            format!(
                "INSERT INTO payments ({COLUMNS}) VALUES {}",
                fd_chassis::db::values(chunk.len(), 10, 1)
            ),
        );
        let mut q = sqlx::query(&sql);
        for p in chunk {
            q = q
                .bind(&p.payment_id)
                .bind(&p.order_id)
                .bind(&p.customer_id)
                .bind(p.amount.minor())
                .bind(p.amount.currency().as_str().to_string())
                .bind(p.state.as_str())
                .bind(&p.decline_reason)
                .bind(&p.refund_reason)
                .bind(p.created_at_ms)
                .bind(p.updated_at_ms);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks an authorized payment refunded. Returns false if it was not AUTHORIZED any more
/// (a concurrent refund won).
pub async fn mark_refunded<'e>(
    pool: impl Exec<'e>,
    payment_id: &str,
    reason: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payments SET state = 'REFUNDED', refund_reason = $1, updated_at_ms = $2 \
         WHERE payment_id = $3 AND state = 'AUTHORIZED'",
    )
    .bind(reason)
    .bind(now_ms)
    .bind(payment_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
