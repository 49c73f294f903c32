//! What must hold after the drill, read from every service's database and from JetStream.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sqlx::any::AnyRow;
use sqlx::AnyPool;
use sqlx::Row;

use crate::drive::{Fate, Outcome};
use crate::system::System;

/// A service's database: its PostgreSQL database in a cluster drill, else its SQLite file
/// (read-only).
async fn open(sys: &System, name: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let url = match sys.database_url(name) {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}?mode=ro", sys.db(name).display()),
    };
    Ok(sqlx::pool::PoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await?)
}

async fn rows(pool: &AnyPool, sql: &str) -> anyhow::Result<Vec<AnyRow>> {
    Ok(sqlx::query(sql).fetch_all(pool).await?)
}

/// How many `subject` events `stream` holds per key (`key` reads it from the payload).
async fn events_per_key(
    js: &async_nats::jetstream::Context,
    stream: &str,
    subject: &str,
    key: impl Fn(bytes::Bytes) -> anyhow::Result<String>,
) -> anyhow::Result<HashMap<String, usize>> {
    use async_nats::jetstream::consumer;
    use futures::StreamExt;
    let mut out = HashMap::new();
    let Ok(stream) = js.get_stream(stream).await else {
        return Ok(out);
    };
    let mut reader: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: subject.into(),
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(60),
            ..Default::default()
        })
        .await?;
    let mut left = reader.info().await?.num_pending;
    while left > 0 {
        let mut batch = reader
            .fetch()
            .max_messages(500)
            .expires(Duration::from_secs(2))
            .messages()
            .await?;
        let mut got = 0;
        while let Some(m) = batch.next().await {
            let m = m.map_err(|e| anyhow::anyhow!("{e}"))?;
            *out.entry(key(m.payload.clone())?).or_default() += 1;
            got += 1;
        }
        if got == 0 {
            anyhow::bail!("{left} {subject} events could not be read");
        }
        left = left.saturating_sub(got);
    }
    Ok(out)
}

/// How many PaymentRefunded events JetStream holds for each order.
async fn refunds_per_order(
    js: &async_nats::jetstream::Context,
) -> anyhow::Result<HashMap<String, usize>> {
    use prost::Message as _;
    events_per_key(
        js,
        "PAYMENT",
        "fooddelivery.payment.v1.PaymentRefunded",
        |p| Ok(fd_proto::payment::v1::PaymentRefunded::decode(p)?.order_id),
    )
    .await
}

/// Marketing's coupons against the orders really delivered: every customer with at least
/// `min_orders` delivered orders has a coupon (none lost), no one else has one, no customer
/// has two for a period, and JetStream holds exactly one CouponIssued per coupon (none
/// doubled, none missing), however often marketing was killed.
async fn check_coupons(
    sys: &System,
    js: &async_nats::jetstream::Context,
    delivered_per_customer: &HashMap<String, usize>,
    min_orders: usize,
    v: &mut Vec<String>,
) -> anyhow::Result<usize> {
    use prost::Message as _;
    let mut coupons: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in rows(
        &open(sys, "marketing").await?,
        "SELECT customer_id, period, coupon_id FROM coupons",
    )
    .await?
    {
        coupons
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    let issued = events_per_key(
        js,
        "MARKETING",
        "fooddelivery.marketing.v1.CouponIssued",
        |p| {
            Ok(fd_proto::marketing::v1::CouponIssued::decode(p)?
                .coupon
                .unwrap_or_default()
                .coupon_id)
        },
    )
    .await?;
    let mut customers: Vec<&String> = delivered_per_customer
        .keys()
        .chain(coupons.keys())
        .collect();
    customers.sort();
    customers.dedup();
    for customer in customers {
        let delivered = delivered_per_customer.get(customer).copied().unwrap_or(0);
        let theirs = coupons.get(customer).map(Vec::as_slice).unwrap_or_default();
        if delivered >= min_orders && theirs.is_empty() {
            v.push(format!(
                "{customer}: {delivered} delivered orders, no coupon"
            ));
        }
        if delivered < min_orders && !theirs.is_empty() {
            v.push(format!(
                "{customer}: {delivered} delivered orders, yet a coupon"
            ));
        }
        let mut periods: Vec<&str> = theirs.iter().map(|(p, _)| p.as_str()).collect();
        periods.sort_unstable();
        if periods.windows(2).any(|w| w[0] == w[1]) {
            v.push(format!(
                "{customer}: two coupons for one period {periods:?}"
            ));
        }
        for (_, coupon_id) in theirs {
            let n = issued.get(coupon_id).copied().unwrap_or(0);
            if n != 1 {
                v.push(format!(
                    "coupon {coupon_id} of {customer}: {n} CouponIssued events"
                ));
            }
        }
    }
    let stored: usize = coupons.values().map(Vec::len).sum();
    if issued.len() != stored {
        v.push(format!(
            "{} coupons announced, {stored} stored",
            issued.len()
        ));
    }
    Ok(stored)
}

/// Unpublished outbox rows over all services, and messages not yet processed (or in
/// flight) over all durable consumers, and dead letters.
pub async fn backlog(sys: &System) -> anyhow::Result<(i64, u64, u64)> {
    let mut unsent = 0;
    for name in ["order", "payment", "store", "delivery", "notification"] {
        let pool = open(sys, name).await?;
        unsent +=
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM fd_outbox WHERE sent_at_ms IS NULL")
                .fetch_one(&pool)
                .await?;
        if name == "order" {
            // A payment intent still open: an authorization not yet stored or released.
            unsent += sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM payment_intents")
                .fetch_one(&pool)
                .await?;
        }
        pool.close().await;
    }
    if sys.runs_marketing() {
        let pool = open(sys, "marketing").await?;
        unsent += sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM fd_outbox WHERE published_at_ms IS NULL",
        )
        .fetch_one(&pool)
        .await?;
        pool.close().await;
    }
    let client = fd_chassis::nats::connect_url(&sys.nats_admin_url()).await?;
    let js = async_nats::jetstream::new(client);
    let mut pending = 0;
    for stream in ["ORDER", "PAYMENT", "STORE", "DELIVERY"] {
        let Ok(mut s) = js.get_stream(stream).await else {
            continue;
        };
        let names: Vec<String> = {
            use futures::TryStreamExt;
            s.consumer_names().try_collect().await.unwrap_or_default()
        };
        for n in names {
            let mut c: async_nats::jetstream::consumer::PullConsumer = s
                .get_consumer(&n)
                .await
                .map_err(|e| anyhow::anyhow!("consumer {n}: {e}"))?;
            let info = c.info().await?;
            pending += info.num_pending + info.num_ack_pending as u64;
        }
        let _ = s.info().await?;
    }
    let dead = match js.get_stream(fd_chassis::nats::DEAD_LETTER_STREAM).await {
        Ok(mut s) => s.info().await?.state.messages,
        Err(_) => 0,
    };
    Ok((unsent, pending, dead))
}

/// Waits until outboxes are empty and every consumer caught up (at most `limit`).
pub async fn quiesce(sys: &System, limit: Duration) -> anyhow::Result<()> {
    let until = std::time::Instant::now() + limit;
    let mut calm = 0;
    while std::time::Instant::now() < until {
        match backlog(sys).await {
            Ok((0, 0, _)) => {
                calm += 1;
                if calm >= 3 {
                    return Ok(());
                }
            }
            _ => calm = 0,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("the system did not settle within {limit:?}")
}

/// Marketing's best-customer rule as the drill sets it (`COUPON_MIN_ORDERS`; the 30-day window
/// is never left in a drill).
pub const COUPON_MIN_ORDERS: usize = 2;

/// Counts of the drill.
#[derive(Debug, Default)]
pub struct Counts {
    pub orders: usize,
    pub delivered: usize,
    pub cancelled: usize,
    pub declined: usize,
    pub notifications: usize,
    /// Authorizations whose order was never stored, released by order's recovery.
    pub released: usize,
    /// Marketing's coupons (none if marketing did not run).
    pub coupons: usize,
    pub violations: Vec<String>,
}

/// Checks every invariant; each violation is one line naming the order.
pub async fn check(
    sys: &System,
    outcomes: &[Outcome],
    stream_replicas: Option<usize>,
) -> anyhow::Result<Counts> {
    let mut c = Counts::default();
    let mut v = Vec::new();
    let orders = rows(&open(sys, "order").await?, "SELECT order_id, state, payment_id, payment_status, store_status, delivery_status, timeline_json, customer_id FROM orders").await?;
    let js =
        async_nats::jetstream::new(fd_chassis::nats::connect_url(&sys.nats_admin_url()).await?);
    let refunds = refunds_per_order(&js).await?;
    let payments: HashMap<String, (String, String)> = rows(
        &open(sys, "payment").await?,
        "SELECT order_id, payment_id, state FROM payments",
    )
    .await?
    .iter()
    .map(|r| {
        (
            r.get::<String, _>(0),
            (r.get::<String, _>(1), r.get::<String, _>(2)),
        )
    })
    .collect();
    let mut tickets: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in rows(
        &open(sys, "store").await?,
        "SELECT order_id, state, store_id FROM tickets",
    )
    .await?
    {
        tickets
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    let mut deliveries: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for r in rows(
        &open(sys, "delivery").await?,
        "SELECT order_id, state, store_id FROM deliveries",
    )
    .await?
    {
        deliveries
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    let mut notes: HashMap<String, BTreeMap<String, usize>> = HashMap::new();
    for r in rows(
        &open(sys, "notification").await?,
        "SELECT order_id, source_event_type FROM notifications",
    )
    .await?
    {
        *notes
            .entry(r.get(0))
            .or_default()
            .entry(r.get(1))
            .or_default() += 1;
        c.notifications += 1;
    }

    for o in &orders {
        let id: String = o.get(0);
        let state: String = o.get(1);
        let payment_id: String = o.get(2);
        let (view_payment, view_store, view_delivery): (String, String, String) =
            (o.get(3), o.get(4), o.get(5));
        let timeline: String = o.get(6);
        c.orders += 1;
        // No order without an authorized payment.
        match payments.get(&id) {
            Some((pid, pstate))
                if *pid == payment_id && (pstate == "AUTHORIZED" || pstate == "REFUNDED") =>
            {
                // Every cancelled (or rejected) order has exactly one refund; others none.
                let want = if state == "CANCELLED" {
                    "REFUNDED"
                } else {
                    "AUTHORIZED"
                };
                if pstate != want {
                    v.push(format!("{id}: order {state} but payment {pstate}"));
                }
                let refunded = refunds.get(&id).copied().unwrap_or(0);
                if refunded != usize::from(state == "CANCELLED") {
                    v.push(format!("{id}: order {state}, {refunded} refund events"));
                }
                if view_payment != *pstate {
                    v.push(format!(
                        "{id}: view says payment {view_payment}, payment says {pstate}"
                    ));
                }
            }
            other => v.push(format!(
                "{id}: order without an authorized payment ({other:?})"
            )),
        }
        // Exactly one store ticket.
        let t = tickets.get(&id).cloned().unwrap_or_default();
        if t.len() != 1 {
            v.push(format!("{id}: {} store tickets", t.len()));
        }
        if let Some((tstate, _)) = t.first() {
            let expected_view = match tstate.as_str() {
                "VOIDED" => None, // the view keeps what the store said before the cancel
                s => Some(if s == "NEW" { "" } else { s }),
            };
            if let Some(e) = expected_view {
                if view_store != e {
                    v.push(format!(
                        "{id}: view says store {view_store:?}, ticket is {tstate}"
                    ));
                }
            }
            if state == "CANCELLED" && !(tstate == "VOIDED" || tstate == "REJECTED") {
                v.push(format!("{id}: cancelled order's ticket is {tstate}"));
            }
        }
        // One delivery once cooked (unless cancelled first), matching the view.
        let d: Vec<_> = deliveries.get(&id).cloned().unwrap_or_default();
        let real: Vec<_> = d.iter().filter(|(_, store)| !store.is_empty()).collect();
        if d.len() > 1 {
            v.push(format!("{id}: {} deliveries", d.len()));
        }
        if let Some((dstate, _)) = real.first() {
            if view_delivery != *dstate {
                v.push(format!(
                    "{id}: view says delivery {view_delivery:?}, delivery is {dstate}"
                ));
            }
            if state == "CANCELLED" && dstate != "CANCELLED" {
                v.push(format!("{id}: cancelled order's delivery is {dstate}"));
            }
        }
        if state == "DELIVERED" {
            c.delivered += 1;
            if real.first().map(|(s, _)| s.as_str()) != Some("DELIVERED") {
                v.push(format!(
                    "{id}: delivered order without a delivered delivery"
                ));
            }
        }
        if state == "CANCELLED" {
            c.cancelled += 1;
        }
        // Exactly one notification per customer-visible status change.
        let visible = [
            "PLACED",
            "ACCEPTED",
            "COOKING_FINISHED",
            "DELIVERY_STARTED",
            "DELIVERED",
            "CANCELLED",
        ];
        let facts: usize = visible
            .iter()
            .filter(|f| timeline.contains(&format!("\"{f}\"")))
            .count();
        let sent = notes.get(&id).cloned().unwrap_or_default();
        if sent.values().any(|n| *n != 1) || sent.len() != facts {
            v.push(format!(
                "{id}: {facts} visible changes but notifications {sent:?}"
            ));
        }
    }
    // What the clients were told.
    let stored: std::collections::HashSet<String> =
        orders.iter().map(|o| o.get::<String, _>(0)).collect();
    // No authorization without an order: every one is stored or released (once).
    for (order_id, (_, pstate)) in &payments {
        if stored.contains(order_id) {
            continue;
        }
        match pstate.as_str() {
            "AUTHORIZED" => v.push(format!(
                "{order_id}: authorization without an order, never released"
            )),
            "REFUNDED" => {
                c.released += 1;
                let n = refunds.get(order_id).copied().unwrap_or(0);
                if n != 1 {
                    v.push(format!(
                        "{order_id}: released authorization, {n} refund events"
                    ));
                }
            }
            _ => {}
        }
    }
    for out in outcomes {
        let derived = order::domain::order_id_for(&out.customer, &out.key).to_string();
        match (&out.order_id, out.fate) {
            (Some(id), _) if !stored.contains(id) => v.push(format!(
                "{id}: the client got it placed, but it is not stored"
            )),
            (_, Fate::Declined) if stored.contains(&derived) => {
                v.push(format!("{derived}: declined payment, order stored"))
            }
            _ => {}
        }
        if out.fate == Fate::Declined {
            c.declined += 1;
        }
    }
    // Every stream is kept in as many copies as the services asked for, all of them current.
    if let Some(replicas) = stream_replicas {
        for stream in [
            "ORDER",
            "PAYMENT",
            "STORE",
            "DELIVERY",
            "MARKETING",
            "DEADLETTER",
        ] {
            let Ok(mut s) = js.get_stream(stream).await else {
                continue;
            };
            let info = s.info().await?;
            let copies = info
                .cluster
                .as_ref()
                .map_or(1, |c| 1 + c.replicas.iter().filter(|r| r.current).count());
            if info.config.num_replicas != replicas || copies != replicas {
                v.push(format!(
                    "stream {stream}: {} replicas configured, {copies} current (want {replicas})",
                    info.config.num_replicas
                ));
            }
        }
    }
    if sys.runs_marketing() {
        let mut delivered_per_customer: HashMap<String, usize> = HashMap::new();
        for o in &orders {
            if o.get::<String, _>(1) == "DELIVERED" {
                *delivered_per_customer
                    .entry(o.get::<String, _>(7))
                    .or_default() += 1;
            }
        }
        c.coupons =
            check_coupons(sys, &js, &delivered_per_customer, COUPON_MIN_ORDERS, &mut v).await?;
    }
    let (unsent, pending, dead) = backlog(sys).await?;
    if unsent > 0 {
        v.push(format!("{unsent} outbox rows never published"));
    }
    if pending > 0 {
        v.push(format!("{pending} messages not processed"));
    }
    if dead > 0 {
        v.push(format!("{dead} messages in dead letter"));
    }
    c.violations = v;
    Ok(c)
}
