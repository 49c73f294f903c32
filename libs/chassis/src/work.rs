//! The one way to write: a unit of work.
//!
//! ```text
//! let mut work = db.begin().await?;        // BEGIN (IMMEDIATE on SQLite)
//! db::insert(work.conn(), &order).await?;  // change state
//! work.record(&order_placed).await?;       // record events (transactional outbox)
//! work.commit().await?;                    // COMMIT, then wake the relay
//! ```
//!
//! A command on an existing aggregate is load → decide → compare-and-set, done once here by
//! [`Db::change`] for every service: the aggregate is loaded inside the transaction, the pure
//! domain decides, the new state is written only if the stored one is still what was loaded,
//! and the event is recorded continuing the saga's trace. A concurrent change is retried on the
//! fresh state a few times and then reported as [`AppError::Conflict`] (`ABORTED`), the same in
//! every service.
//!
//! Dropping a unit of work without committing rolls it back.

use fd_proto::Event;
use sqlx::AnyConnection;

use crate::db::Db;
use crate::errors::AppError;
use crate::outbox::{self, OutboxSignal};

/// One transaction that changes state and records the events reporting the change.
#[derive(Debug)]
pub struct UnitOfWork {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    outbox: OutboxSignal,
    recorded: usize,
}

impl Db {
    /// Begins a unit of work (see [`crate::db::begin`] for why SQLite takes the write lock up
    /// front).
    pub async fn begin(&self) -> Result<UnitOfWork, AppError> {
        Ok(UnitOfWork {
            tx: crate::db::begin(&self.pool).await?,
            outbox: self.outbox.clone(),
            recorded: 0,
        })
    }

    /// Runs a command on the aggregate `id`: load it, let `decide` return its new state (or
    /// `None` when the command already took effect: nothing is written, the current state is
    /// returned), compare-and-set it, record `event(&new)` continuing the aggregate's saga
    /// trace, and commit. NOT_FOUND when there is no such aggregate; ABORTED when it kept
    /// changing under us.
    ///
    /// `decide`'s error is the domain's reason for refusing (FAILED_PRECONDITION).
    pub async fn change<A, E, R>(
        &self,
        id: &A::Id,
        decide: impl Fn(&A) -> Result<Option<A>, R>,
        event: impl Fn(&A) -> E,
    ) -> Result<Changed<A>, AppError>
    where
        A: Aggregate,
        E: Event,
        R: std::fmt::Display,
    {
        for _ in 0..CONFLICT_ATTEMPTS {
            let mut work = self.begin().await?;
            let before = A::load(work.conn(), id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no {} {id}", A::NAME)))?;
            let Some(after) = decide(&before).map_err(AppError::not_allowed)? else {
                return Ok(Changed {
                    state: before,
                    changed: false,
                });
            };
            if !after.store_if_unchanged(work.conn(), &before).await? {
                continue; // changed under us: roll back, decide again on the fresh state
            }
            let saga = before.saga_context();
            crate::telemetry::link_current_span(saga);
            work.record_continuing(&event(&after), saga).await?;
            work.commit().await?;
            tracing::info!(%id, event = E::TYPE, "{} changed", A::NAME);
            return Ok(Changed {
                state: after,
                changed: true,
            });
        }
        Err(AppError::Conflict(format!(
            "the {} {id} kept changing concurrently; retry",
            A::NAME
        )))
    }
}

/// Attempts of [`Db::change`] before a concurrent change is reported as a conflict.
const CONFLICT_ATTEMPTS: usize = 3;

/// What [`Db::change`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed<A> {
    /// The aggregate as it is now.
    pub state: A,
    /// False when the command had already taken effect (an idempotent repeat).
    pub changed: bool,
}

impl UnitOfWork {
    /// The transaction's connection, for the service's own queries.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Records `event` in the outbox, continuing the current span's trace.
    pub async fn record<E: Event>(&mut self, event: &E) -> Result<(), AppError> {
        outbox::record(&mut self.tx, event).await?;
        self.recorded += 1;
        Ok(())
    }

    /// Records `event`, continuing the trace in `trace_context` (a saga step taken by a later
    /// command continues the saga's trace; empty = the current span's).
    pub async fn record_continuing<E: Event>(
        &mut self,
        event: &E,
        trace_context: &str,
    ) -> Result<(), AppError> {
        outbox::record_with_context(&mut self.tx, event, trace_context).await?;
        self.recorded += 1;
        Ok(())
    }

    /// Records events built beforehand ([`outbox::Outgoing`], each with the trace it
    /// continues) in one statement: a batch of requests' events.
    pub async fn record_all(&mut self, events: &[outbox::Outgoing]) -> Result<(), AppError> {
        outbox::insert(&mut self.tx, events)
            .await
            .map_err(AppError::Storage)?;
        self.recorded += events.len();
        Ok(())
    }

    /// Commits, then wakes the relay if events were recorded.
    pub async fn commit(self) -> Result<(), AppError> {
        self.tx.commit().await?;
        if self.recorded > 0 {
            self.outbox.wake();
        }
        Ok(())
    }
}

/// An aggregate that commands change through [`Db::change`]: how to load it and how to write
/// it back only if nobody changed it meanwhile. Implemented by each service's storage adapter.
#[async_trait::async_trait]
pub trait Aggregate: Sized + Send + Sync {
    /// What it is called in errors: `no {NAME} {id}`.
    const NAME: &'static str;
    /// Its identifier.
    type Id: ?Sized + std::fmt::Display + Sync;
    /// Loads the aggregate a command may act on (`None`: there is none).
    async fn load(conn: &mut AnyConnection, id: &Self::Id) -> Result<Option<Self>, sqlx::Error>;
    /// Writes `self` if the stored state is still `before` (compare-and-set); false if not.
    async fn store_if_unchanged(
        &self,
        conn: &mut AnyConnection,
        before: &Self,
    ) -> Result<bool, sqlx::Error>;
    /// The trace context (JSON) of the saga this aggregate belongs to; its events continue it.
    fn saga_context(&self) -> &str {
        ""
    }
}
