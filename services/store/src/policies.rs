//! OrderPlaced → a ticket for the store owner; OrderCancelled → the ticket is voided.
//!
//! Both events come through one consumer (one durable, stream order), and each handles the
//! other arriving first: a cancellation without a ticket leaves a VOIDED tombstone that the
//! late OrderPlaced finds and leaves alone.

use fd_chassis::consumer::{ConsumerSpec, Incoming, Policy, PolicyError};
use fd_chassis::time::now_ms;
use fd_chassis::work::Aggregate;
use fd_proto::order::v1 as order;
use fd_proto::Event;
use sqlx::AnyConnection;
use tracing::Instrument;

use crate::db;
use crate::domain::{Item, Ticket, TicketState};

/// The ticket policy.
#[derive(Debug, Clone, Copy)]
pub struct Tickets;

impl Tickets {
    /// Its consumer.
    pub fn spec() -> ConsumerSpec {
        ConsumerSpec::new(
            crate::SERVICE.name,
            "tickets",
            &[order::OrderPlaced::TYPE, order::OrderCancelled::TYPE],
        )
    }
}

/// The ticket an OrderPlaced asks for, continuing the current span's trace.
fn ticket_for(msg: &Incoming, now: i64) -> Result<Ticket, PolicyError> {
    let e: order::OrderPlaced = msg.decode()?;
    let total = e.total.unwrap_or_default();
    Ok(Ticket {
        order_id: e.order_id,
        store_id: e.store_id,
        customer_id: e.customer_id,
        items: e
            .items
            .into_iter()
            .map(|i| Item {
                menu_item_id: i.menu_item_id,
                name: i.name,
                quantity: i.quantity,
            })
            .collect(),
        total_minor: total.amount_minor,
        currency_code: total.currency_code,
        state: TicketState::New,
        reject_reason: String::new(),
        created_at_ms: now,
        updated_at_ms: now,
        trace_context: fd_chassis::telemetry::current_context_json(),
    })
}

/// Inserts `tickets` where their order has none yet (a late OrderPlaced leaves a
/// cancellation's tombstone alone), in one statement.
async fn insert_absent(tx: &mut AnyConnection, tickets: &[Ticket]) -> Result<(), PolicyError> {
    let inserted = db::insert_absent(tx, tickets).await?;
    for t in tickets.iter().filter(|t| inserted.contains(&t.order_id)) {
        tracing::info!(order_id = %t.order_id, store_id = %t.store_id, "new ticket");
    }
    Ok(())
}

#[async_trait::async_trait]
impl Policy for Tickets {
    async fn handle(&self, tx: &mut AnyConnection, msg: &Incoming) -> Result<(), PolicyError> {
        let now = now_ms();
        match msg.subject.as_str() {
            order::OrderPlaced::TYPE => insert_absent(tx, &[ticket_for(msg, now)?]).await?,
            order::OrderCancelled::TYPE => {
                let e: order::OrderCancelled = msg.decode()?;
                match db::get(&mut *tx, &e.order_id).await? {
                    Some(t) => {
                        if let Some(voided) = t.void(now) {
                            // The owner may have acted on the ticket since it was read (another
                            // replica, a concurrent AcceptOrder): then nothing was written, and
                            // the event must not be acknowledged as if it had been — it is
                            // retried and meets the ticket as it is now.
                            if !voided.store_if_unchanged(tx, &t).await? {
                                return Err(PolicyError::Transient(format!(
                                    "ticket {} changed while it was being voided",
                                    t.order_id
                                )));
                            }
                            tracing::info!(order_id = %t.order_id, "ticket voided");
                        }
                    }
                    None => {
                        // A plain insert, not insert_if_absent: on PostgreSQL (read committed)
                        // a ticket committed by another replica after the read above would be
                        // seen by a second read, and the cancellation acknowledged without
                        // voiding it. The insert collides with it instead, and the event is
                        // retried against the ticket as it is now.
                        db::insert(&mut *tx, &Ticket::tombstone(e.order_id, e.customer_id, now))
                            .await?;
                    }
                }
            }
            other => return Err(PolicyError::Permanent(format!("unexpected event {other}"))),
        }
        Ok(())
    }

    /// A run of OrderPlaced events is one insert; any other event ends the run (its tickets
    /// are written first) and is handled alone, so a cancellation still sees the ticket of
    /// an OrderPlaced before it in the batch.
    async fn handle_batch(
        &self,
        tx: &mut AnyConnection,
        msgs: &[&Incoming],
        spans: &[tracing::Span],
    ) -> Result<(), PolicyError> {
        let now = now_ms();
        let mut run = Vec::new();
        for (msg, span) in msgs.iter().zip(spans) {
            if msg.subject == order::OrderPlaced::TYPE {
                // In the event's span: the ticket keeps its trace.
                run.push(span.in_scope(|| ticket_for(msg, now))?);
                continue;
            }
            if !run.is_empty() {
                insert_absent(tx, &std::mem::take(&mut run)).await?;
            }
            self.handle(tx, msg).instrument(span.clone()).await?;
        }
        if !run.is_empty() {
            insert_absent(tx, &run).await?;
        }
        Ok(())
    }
}
