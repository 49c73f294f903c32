"""What marketing does with the other contexts' events: one durable consumer per policy.

- ``order-history`` (ORDER: OrderPlaced, OrderCancelled): remembers each order, how often the
  customer ordered each item, which items were ordered together, and subscribes the customer
  to the digest.
- ``coupon-on-delivered`` (DELIVERY: Delivered): marks the order delivered and issues the
  customer's coupon for the period if they now qualify (once per customer and period).
"""

from __future__ import annotations

from collections import Counter

from fooddelivery.delivery.v1 import events_pb2 as delivery_events
from fooddelivery.order.v1 import events_pb2 as order_events
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .clock import Clock
from .config import Coupons
from .db import insert_ignore
from .domain import coupons as coupon_rules
from .domain import recommendations as rec
from .messaging import ConsumerSpec, Incoming, PermanentError, TransientError, record
from .metrics import REGISTRY
from .schema import coupons, orders
from .statements import COUNT_CUSTOMER_ITEM, COUNT_PAIR, NAME_ITEM, REMEMBER_ORDER, SUBSCRIBE, execute
from .store import coupon_issued

ORDER_PLACED = order_events.OrderPlaced.DESCRIPTOR.full_name
ORDER_CANCELLED = order_events.OrderCancelled.DESCRIPTOR.full_name
DELIVERED = delivery_events.Delivered.DESCRIPTOR.full_name

ORDER_HISTORY = ConsumerSpec("order-history", [ORDER_PLACED, ORDER_CANCELLED])
COUPON_ON_DELIVERED = ConsumerSpec("coupon-on-delivered", [DELIVERED])


def millis(t: Timestamp) -> int:
    return int(t.seconds) * 1000 + int(t.nanos) // 1_000_000


class OrderHistory:
    """Applies a batch of events together: one statement per table for all its orders."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def __call__(self, conn: AsyncConnection, inc: Incoming) -> None:
        await self.apply_batch(conn, [inc])

    async def apply_batch(self, conn: AsyncConnection, events: list[Incoming]) -> None:
        # Placements first: a cancellation in the same batch then finds its order.
        placed = [inc.decode(order_events.OrderPlaced) for inc in events if inc.subject == ORDER_PLACED]
        if placed:
            await self.placed(conn, placed)
        for inc in events:
            if inc.subject == ORDER_CANCELLED:
                await self.cancelled(conn, inc.decode(order_events.OrderCancelled))

    async def placed(self, conn: AsyncConnection, events: list[order_events.OrderPlaced]) -> None:
        for ev in events:
            if not ev.order_id or not ev.customer_id or not ev.store_id:
                raise PermanentError("OrderPlaced without order_id, customer_id or store_id")
        now = self.clock.now_ms()
        rows: list[tuple[object, ...]] = [
            (
                ev.order_id,
                ev.customer_id,
                ev.store_id,
                ev.total.amount_minor,
                ev.total.currency_code,
                millis(ev.metadata.occurred_at) or now,
                False,
            )
            for ev in events
        ]
        # Only new orders go on.
        new = {r[0] for result in await execute(conn, REMEMBER_ORDER, rows) for r in result}
        names: dict[tuple[str, str], str] = {}
        counts: Counter[tuple[str, str, str]] = Counter()
        pairs: Counter[tuple[str, str, str]] = Counter()
        subscribers: dict[str, None] = {}
        for ev in events:
            if ev.order_id not in new:
                continue
            new.discard(ev.order_id)
            lines = sorted({(ev.store_id, it.menu_item_id) for it in ev.items if it.menu_item_id})
            for it in ev.items:
                if it.menu_item_id and it.name:
                    names[(ev.store_id, it.menu_item_id)] = it.name  # the latest name wins
            counts.update((ev.customer_id, s, i) for s, i in lines)
            pairs.update((a[0], a[1], b[1]) for a, b in rec.pairs(lines))
            subscribers.setdefault(ev.customer_id)
        tables: list[tuple[tuple[str, str], list[tuple[object, ...]]]] = [
            (NAME_ITEM, [(s, i, name) for (s, i), name in names.items()]),
            (COUNT_CUSTOMER_ITEM, [(*key, n) for key, n in counts.items()]),
            (COUNT_PAIR, [(*key, n) for key, n in pairs.items()]),
            (SUBSCRIBE, [(c, None, True, now) for c in subscribers]),
        ]
        for statement, table_rows in tables:
            await execute(conn, statement, table_rows)

    async def cancelled(self, conn: AsyncConnection, ev: order_events.OrderCancelled) -> None:
        res = await conn.execute(
            update(orders).where(orders.c.order_id == ev.order_id).values(cancelled=True)
        )
        if res.rowcount != 1:
            raise TransientError(f"order {ev.order_id} is not known yet (its OrderPlaced comes first)")


class CouponOnDelivered:
    def __init__(self, rule: Coupons) -> None:
        self.rule = rule

    async def __call__(self, conn: AsyncConnection, inc: Incoming) -> None:
        ev = inc.decode(delivery_events.Delivered)
        if not ev.order_id:
            raise PermanentError("Delivered without order_id")
        delivered_at = millis(ev.metadata.occurred_at)
        if delivered_at <= 0:
            raise PermanentError("Delivered without metadata.occurred_at")
        order = (await conn.execute(select(orders).where(orders.c.order_id == ev.order_id))).first()
        if order is None:
            # Marketing reads ORDER and DELIVERY through two consumers: this order's OrderPlaced
            # has not been applied yet. Retried with backoff until it has.
            raise TransientError(f"order {ev.order_id} is not known yet (its OrderPlaced comes first)")
        await conn.execute(
            update(orders).where(orders.c.order_id == ev.order_id).values(delivered_at_ms=delivered_at)
        )
        history = [
            coupon_rules.DeliveredOrder(r.order_id, int(r.delivered_at_ms), int(r.total_minor), r.currency)
            for r in await conn.execute(
                select(orders).where(
                    and_(
                        orders.c.customer_id == order.customer_id,
                        orders.c.delivered_at_ms.is_not(None),
                        orders.c.cancelled.is_(False),
                    )
                )
            )
        ]
        # Anchored at the customer's latest delivery, not this event's: Delivered events can be
        # applied out of order (a retried one after later ones), and the final evaluation must
        # see every delivery, whichever event comes last.
        if not history:
            return  # the order was cancelled: nothing delivered counts
        anchor = max(o.delivered_at_ms for o in history)
        coupon = coupon_rules.evaluate(self.rule, order.customer_id, history, anchor, order.currency)
        if coupon is None:
            return
        res = await conn.execute(
            insert_ignore(
                conn,
                coupons,
                coupon_id=coupon.coupon_id,
                customer_id=coupon.customer_id,
                period=coupon.period,
                code=coupon.code,
                percent_off=coupon.percent_off,
                delivered_orders=coupon.delivered_orders,
                spend_minor=coupon.spend_minor,
                currency=coupon.currency,
                issued_at_ms=coupon.issued_at_ms,
                expires_at_ms=coupon.expires_at_ms,
            )
        )
        if res.rowcount == 1:  # this period's coupon is new: tell the others
            event, eid = coupon_issued(coupon)
            await record(conn, event, eid, coupon.coupon_id, coupon.issued_at_ms)
            REGISTRY.add("fd_marketing_coupons_issued_total", "Coupons issued to best customers")
