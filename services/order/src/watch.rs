//! Change notifications for WatchOrder: every write to an order announces its id here, and
//! each watcher re-reads the order it follows when its id goes by.
//!
//! Replicas share the feed through the database. On PostgreSQL every transaction that writes
//! an order also runs `pg_notify(CHANNEL, order_id)` ([`announce`]): PostgreSQL delivers it to
//! every replica's listener ([`listen`]) when — and only if — the transaction commits, so a
//! watcher on any replica sees changes made through any other. After its listener reconnects
//! (notifications may have been missed meanwhile) a replica wakes every watcher once
//! ([`EVERYTHING`]). SQLite is one process's database: the in-process fan-out is all there is.

use std::time::Duration;

use fd_chassis::db::{Backend, Engine};
use fd_chassis::shutdown::Shutdown;
use sqlx::AnyConnection;
use tokio::sync::broadcast;

/// The PostgreSQL notification channel of order changes.
pub const CHANNEL: &str = "fd_order_changed";

/// Announced instead of an id when changes may have been missed: every watcher re-reads.
pub const EVERYTHING: &str = "*";

/// A fan-out of changed order ids, shared by the API and the event projections.
#[derive(Debug, Clone)]
pub struct Changes {
    tx: broadcast::Sender<String>,
}

impl Default for Changes {
    fn default() -> Self {
        Self::new()
    }
}

impl Changes {
    /// A hub with room for 1024 unread ids per watcher (a slower watcher re-reads its order).
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(1024).0,
        }
    }

    /// Announces that `order_id` changed.
    pub fn changed(&self, order_id: &str) {
        // No receivers is fine: nobody is watching.
        let _ = self.tx.send(order_id.to_string());
    }

    /// Starts listening; subscribe before reading the current state so nothing is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }
}

/// True if an announced id concerns a watcher of `order_id`.
pub fn concerns(announced: &str, order_id: &str) -> bool {
    announced == order_id || announced == EVERYTHING
}

/// Tells the other replicas, when `conn`'s transaction commits, that `order_id` changed
/// (PostgreSQL; nothing to do on SQLite).
pub async fn announce(conn: &mut AnyConnection, order_id: &str) -> Result<(), sqlx::Error> {
    announce_all(conn, &[order_id]).await
}

/// [`announce`] for several orders in one statement.
pub async fn announce_all(conn: &mut AnyConnection, order_ids: &[&str]) -> Result<(), sqlx::Error> {
    if conn.backend() == Backend::Postgres && !order_ids.is_empty() {
        let sql = format!(
            "SELECT pg_notify($1, v.id) FROM unnest(ARRAY[{}]) AS v(id)",
            fd_chassis::db::values(order_ids.len(), 1, 2)
        );
        let mut q = sqlx::query(&sql).bind(CHANNEL);
        for id in order_ids {
            q = q.bind(*id);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Feeds `changes` with the changes every replica commits, until `shutdown`. Reconnects with
/// backoff while the database is away, and wakes every watcher after a reconnection.
pub async fn listen(database_url: String, changes: Changes, shutdown: Shutdown) {
    let mut backoff = Duration::from_millis(200);
    let mut first = true;
    while !shutdown.is_fired() {
        let connected = async {
            let mut l = sqlx::postgres::PgListener::connect(&database_url).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let mut listener = match connected {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "order change feed: cannot listen");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.wait() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        if !first {
            changes.changed(EVERYTHING);
        }
        first = false;
        loop {
            let next = tokio::select! {
                n = listener.try_recv() => n,
                () = shutdown.wait() => return,
            };
            match next {
                Ok(Some(n)) => changes.changed(n.payload()),
                // The connection was lost and is back: what happened in between is unknown.
                Ok(None) => changes.changed(EVERYTHING),
                // It cannot be re-established now: listen anew after a pause.
                Err(e) => {
                    tracing::warn!(error = %e, "order change feed interrupted");
                    break;
                }
            }
        }
    }
}
