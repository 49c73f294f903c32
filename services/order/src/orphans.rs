//! Authorizations without an order. PlaceOrder records a payment intent (committed) before it
//! calls Authorize and deletes it in the transaction that stores the order; an intent older
//! than `ORPHAN_AFTER_MS` (default 60 s, far beyond the payment deadline and its retries) whose
//! order does not exist is an authorization nobody will ever capture — a crash or a failed
//! insert between Authorize and the commit. This task releases it (payment's Refund, as order)
//! and forgets the intent; a retry of the same PlaceOrder refreshes its intent, so a request
//! still in flight is never touched.

use std::time::Duration;

use fd_chassis::shutdown::Shutdown;
use fd_chassis::time::now_ms;
use sqlx::AnyPool;

use crate::db;
use crate::payment::PaymentGateway;

/// How long an intent may wait for its order, and how often they are looked at.
#[derive(Debug, Clone, Copy)]
pub struct OrphanConfig {
    /// `ORPHAN_AFTER_MS`.
    pub after: Duration,
    /// `ORPHAN_SWEEP_MS`.
    pub every: Duration,
}

/// Releases orphaned authorizations until `shutdown`.
pub async fn run(pool: AnyPool, payment: PaymentGateway, cfg: OrphanConfig, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(cfg.every) => {}
            () = shutdown.wait() => return,
        }
        if let Err(e) = sweep(&pool, &payment, cfg.after).await {
            tracing::warn!(error = %e, "releasing orphaned authorizations failed; will retry");
        }
    }
}

/// One pass: every intent older than `after`. Returns how many authorizations were released.
pub async fn sweep(
    pool: &AnyPool,
    payment: &PaymentGateway,
    after: Duration,
) -> Result<usize, String> {
    let cutoff = now_ms() - i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
    let stale = db::stale_intents(pool, cutoff)
        .await
        .map_err(|e| e.to_string())?;
    let mut released = 0;
    let err = |e: sqlx::Error| e.to_string();
    for (order_id, claimed_before) in stale {
        // Claim it first (a retry that refreshed the intent meanwhile keeps it), so that no
        // request stores the order with an authorization being released. A claim that an
        // earlier pass made but could not finish (payment away) is finished now.
        if !claimed_before
            && !db::claim_stale_intent(pool, &order_id, cutoff, now_ms())
                .await
                .map_err(err)?
        {
            continue;
        }
        if db::get(pool, &order_id)
            .await
            .map_err(|e| e.to_string())?
            .is_none()
        {
            let did = payment
                .release(
                    &order_id,
                    "the order was never stored; the authorization is released",
                )
                .await?;
            if did {
                released += 1;
                tracing::warn!(
                    order_id,
                    "released an authorization whose order was never stored"
                );
            }
        }
        db::drop_released_intent(pool, &order_id)
            .await
            .map_err(err)?;
    }
    Ok(released)
}
