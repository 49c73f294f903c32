//! New authorizations are written together: concurrent Authorize calls that arrive while one
//! batch is being written form the next ([`fd_chassis::batch`]), one transaction that reads
//! which orders already have a payment, inserts the new payments in one statement and records
//! their events in another. Each call still gets its own answer.
//!
//! If the batch fails as a whole (a replica inserted one of its orders first: a unique
//! violation) each call is written alone, so one call's conflict fails only that call
//! ([`fd_chassis::batch::together_or_alone`]).

use fd_chassis::batch::Batcher;
use fd_chassis::db::Db;
use fd_chassis::errors::AppError;
use fd_chassis::outbox::Outgoing;

use crate::db::{self, DbError};
use crate::domain::Payment;

/// Calls written together at most.
const MAX_BATCH: usize = 64;

/// A decided authorization to store: the payment and, if authorized, its event.
#[derive(Debug)]
pub struct NewAuthorization {
    /// The payment as decided.
    pub payment: Payment,
    /// `PaymentAuthorized` with the calling request's trace, or none for a decline.
    pub event: Option<Outgoing>,
}

/// What storing an authorization did.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// It is stored as decided.
    New(Payment),
    /// The order already had this payment (a repeated call): nothing was written.
    Existing(Payment),
}

/// The writer every Authorize call goes through.
pub type Writer = Batcher<NewAuthorization, Result<Stored, AppError>>;

/// Starts the writer over `db`.
pub fn writer(db: Db) -> Writer {
    Batcher::spawn("payment authorization", MAX_BATCH, move |items| {
        let db = db.clone();
        async move { store(&db, items).await }
    })
}

async fn store(db: &Db, items: Vec<NewAuthorization>) -> Vec<Result<Stored, AppError>> {
    fd_chassis::batch::together_or_alone(&items, |some| Box::pin(store_together(db.clone(), some)))
        .await
}

fn storage(e: DbError) -> AppError {
    match e {
        DbError::Sqlx(e) => AppError::Storage(e),
        corrupt => AppError::Storage(sqlx::Error::Decode(corrupt.into())),
    }
}

/// One transaction for `items`, one result per item, in order.
async fn store_together(db: Db, items: &[NewAuthorization]) -> Result<Vec<Stored>, AppError> {
    let mut work = db.begin().await?;
    let ids: Vec<&str> = items.iter().map(|i| i.payment.order_id.as_str()).collect();
    // Read inside the write transaction: on SQLite it holds the write lock, so no other
    // writer of this database inserts one of these orders between the read and the insert.
    let mut known = db::by_orders(work.conn(), &ids).await.map_err(storage)?;
    let mut out = Vec::with_capacity(items.len());
    let (mut new, mut events) = (Vec::new(), Vec::new());
    for item in items {
        let p = &item.payment;
        if let Some(existing) = known.get(&p.order_id) {
            // Stored before, or earlier in this batch (the same call twice at once).
            out.push(Stored::Existing(existing.clone()));
            continue;
        }
        known.insert(p.order_id.clone(), p.clone());
        new.push(p);
        events.extend(item.event.clone());
        out.push(Stored::New(p.clone()));
    }
    if !new.is_empty() {
        db::insert_all(work.conn(), &new).await?;
        work.record_all(&events).await?;
        work.commit().await?;
    }
    Ok(out)
}
