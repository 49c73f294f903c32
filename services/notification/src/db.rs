//! Storage of notifications (portable SQL for SQLite and PostgreSQL).

use fd_chassis::db::{sql_for, Engine, Exec};
use fd_chassis::page::{self, Cursor, PageRequest};
use sqlx::{AnyPool, Row};

use crate::domain::{ChannelKind, Notification, SendStatus};

const COLUMNS: &str = "notification_id, customer_id, order_id, source_event_type, \
    source_event_id, message, channel, status, attempts, next_attempt_at_ms, last_error, \
    created_at_ms, sent_at_ms";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Notification, sqlx::Error> {
    let channel: String = r.try_get("channel")?;
    let status: String = r.try_get("status")?;
    Ok(Notification {
        notification_id: r.try_get("notification_id")?,
        customer_id: r.try_get("customer_id")?,
        order_id: r.try_get("order_id")?,
        source_event_type: r.try_get("source_event_type")?,
        source_event_id: r.try_get("source_event_id")?,
        message: r.try_get("message")?,
        channel: ChannelKind::parse(&channel)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown channel {channel}").into()))?,
        status: SendStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown status {status}").into()))?,
        attempts: r.try_get("attempts")?,
        next_attempt_at_ms: r.try_get("next_attempt_at_ms")?,
        last_error: r.try_get("last_error")?,
        created_at_ms: r.try_get("created_at_ms")?,
        sent_at_ms: r.try_get("sent_at_ms")?,
    })
}

/// Stores new PENDING notifications, each unless one exists for its source event, in one
/// statement. Returns how many were new.
pub async fn insert_once(
    conn: &mut sqlx::AnyConnection,
    all: &[Notification],
) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for chunk in all.chunks(100) {
        let sql = sql_for(
            conn.backend(),
            format!(
                "INSERT INTO notifications ({COLUMNS}) VALUES {} \
                 ON CONFLICT (source_event_id) DO NOTHING",
                fd_chassis::db::values(chunk.len(), 13, 1)
            ),
        );
        let mut q = sqlx::query(&sql);
        for n in chunk {
            q = q
                .bind(&n.notification_id)
                .bind(&n.customer_id)
                .bind(&n.order_id)
                .bind(&n.source_event_type)
                .bind(&n.source_event_id)
                .bind(&n.message)
                .bind(n.channel.as_str())
                .bind(n.status.as_str())
                .bind(n.attempts)
                .bind(n.next_attempt_at_ms)
                .bind(&n.last_error)
                .bind(n.created_at_ms)
                .bind(n.sent_at_ms);
        }
        inserted += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(inserted)
}

/// Takes up to `limit` due PENDING notifications for one sending attempt, oldest first, in one
/// statement: moves their next attempt to `lease_until_ms`, so that no other replica sends
/// them meanwhile (and, should this one die mid-attempt, they fall due again then). A row
/// another replica claimed first is not returned (PostgreSQL re-checks the condition once the
/// other's update committed; SQLite has one writer).
pub async fn claim_due(
    pool: &AnyPool,
    now_ms: i64,
    lease_until_ms: i64,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    let sql = format!(
        "UPDATE notifications SET next_attempt_at_ms = $1 \
         WHERE status = 'PENDING' AND next_attempt_at_ms <= $2 AND notification_id IN \
         (SELECT notification_id FROM notifications WHERE status = 'PENDING' \
          AND next_attempt_at_ms <= $2 ORDER BY created_at_ms, notification_id LIMIT $3) \
         RETURNING {COLUMNS}"
    );
    let query = sqlx::query(&sql)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(limit);
    let rows = if pool.backend() == fd_chassis::db::Backend::Sqlite {
        query.fetch_all(pool).await?
    } else {
        // The pending ones are read from the partial index notifications_due (migration 0002)
        // by an index scan: see fd_chassis::db::begin_queue_read.
        let mut tx = fd_chassis::db::begin_queue_read(pool).await?;
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows
    };
    let mut claimed = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by(|a, b| {
        (a.created_at_ms, &a.notification_id).cmp(&(b.created_at_ms, &b.notification_id))
    });
    Ok(claimed)
}

/// Marks notifications sent, in one statement: the ids that were still PENDING (and are now
/// SENT).
pub async fn mark_sent<'e>(
    ex: impl Exec<'e>,
    ids: &[&str],
    now_ms: i64,
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = sql_for(
        ex.backend(),
        format!(
            "UPDATE notifications SET status = 'SENT', sent_at_ms = $1, attempts = attempts + 1 \
             WHERE status = 'PENDING' AND notification_id IN ({}) RETURNING notification_id",
            fd_chassis::db::values(ids.len(), 1, 2)
        ),
    );
    let mut q = sqlx::query(&sql).bind(now_ms);
    for id in ids {
        q = q.bind(*id);
    }
    q.fetch_all(ex)
        .await?
        .iter()
        .map(|r| r.try_get("notification_id"))
        .collect()
}

/// Records a failed attempt and when to try again (`None`: never; the notification is
/// FAILED).
pub async fn mark_failed<'e>(
    ex: impl Exec<'e>,
    id: &str,
    error: &str,
    next_attempt_at_ms: Option<i64>,
) -> Result<(), sqlx::Error> {
    let status = match next_attempt_at_ms {
        Some(_) => SendStatus::Pending,
        None => SendStatus::Failed,
    };
    sqlx::query(
        "UPDATE notifications SET attempts = attempts + 1, last_error = $1, \
         next_attempt_at_ms = $2, status = $3 WHERE notification_id = $4",
    )
    .bind(error)
    .bind(next_attempt_at_ms.unwrap_or(i64::MAX))
    .bind(status.as_str())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Deletes notifications created before `cutoff_ms` that are done (SENT or FAILED); a PENDING
/// one stays until it is. Returns how many went.
pub async fn prune(pool: &AnyPool, cutoff_ms: i64) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM notifications WHERE created_at_ms < $1 AND status <> 'PENDING'")
            .bind(cutoff_ms)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}

/// A customer's notifications, newest first, optionally for one order.
pub async fn list(
    pool: &AnyPool,
    customer_id: &str,
    order_id: &str,
    page: &PageRequest,
) -> Result<(Vec<Notification>, String), sqlx::Error> {
    let (ms, id) = Cursor::bounds(page.after.as_ref());
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE customer_id = $1 AND ($2 = '' OR order_id = $2) \
         AND (created_at_ms < $3 OR (created_at_ms = $3 AND notification_id < $4)) \
         ORDER BY created_at_ms DESC, notification_id DESC LIMIT $5"
    ))
    .bind(customer_id)
    .bind(order_id)
    .bind(ms)
    .bind(&id)
    .bind(i64::try_from(page.limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut list = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next = page::finish(&mut list, page.limit, |n| Cursor {
        created_at_ms: n.created_at_ms,
        id: n.notification_id.clone(),
    });
    Ok((list, next))
}
