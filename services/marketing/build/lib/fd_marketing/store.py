"""Reads and writes of marketing's tables that more than one part needs, each in the caller's
transaction. The rules themselves live in ``domain``."""

from __future__ import annotations

import uuid

from fooddelivery.common.v1 import common_pb2
from fooddelivery.marketing.v1 import events_pb2, marketing_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import and_, desc, select, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import coupons as coupon_rules
from .domain import recommendations as rec
from .schema import coupons, customer_items, item_pairs, items

# How many of a customer's items the recommendations start from (their most ordered).
TOP_ITEMS = 20


def timestamp(ms: int) -> Timestamp:
    t = Timestamp()
    t.FromMilliseconds(ms)
    return t


def event_id(kind: str, aggregate_id: str) -> str:
    """The id of the one event of ``kind`` about ``aggregate_id`` (stable across retries)."""
    return str(uuid.uuid5(coupon_rules.NAMESPACE, f"event/{kind}/{aggregate_id}"))


def coupon_message(row: Row[tuple[object, ...]] | coupon_rules.Coupon) -> marketing_pb2.Coupon:
    return marketing_pb2.Coupon(
        coupon_id=str(row.coupon_id),
        customer_id=str(row.customer_id),
        code=str(row.code),
        percent_off=int(row.percent_off),
        period=str(row.period),
        delivered_orders=int(row.delivered_orders),
        spend=common_pb2.Money(amount_minor=int(row.spend_minor), currency_code=str(row.currency)),
        issue_time=timestamp(int(row.issued_at_ms)),
        expire_time=timestamp(int(row.expires_at_ms)),
    )


def coupon_issued(coupon: coupon_rules.Coupon) -> tuple[events_pb2.CouponIssued, str]:
    eid = event_id("CouponIssued", coupon.coupon_id)
    ev = events_pb2.CouponIssued(
        metadata=common_pb2.EventMetadata(
            event_id=eid,
            occurred_at=timestamp(coupon.issued_at_ms),
            aggregate_id=coupon.coupon_id,
            aggregate_version=1,
        ),
        coupon=coupon_message(coupon),
    )
    return ev, eid


async def valid_coupons(conn: AsyncConnection, customer_id: str, now_ms: int) -> list[marketing_pb2.Coupon]:
    rows = await conn.execute(
        select(coupons)
        .where(and_(coupons.c.customer_id == customer_id, coupons.c.expires_at_ms > now_ms))
        .order_by(desc(coupons.c.issued_at_ms))
    )
    return [coupon_message(r) for r in rows]


async def recommendations(
    conn: AsyncConnection, customer_id: str, max_results: int
) -> list[rec.Recommendation]:
    ordered = {
        (r.store_id, r.menu_item_id): int(r.times)
        for r in await conn.execute(
            select(customer_items.c.store_id, customer_items.c.menu_item_id, customer_items.c.times)
            .where(customer_items.c.customer_id == customer_id)
            .order_by(desc(customer_items.c.times), customer_items.c.store_id, customer_items.c.menu_item_id)
            .limit(TOP_ITEMS)
        )
    }
    if not ordered:
        return []
    together: dict[rec.Item, dict[rec.Item, int]] = {}
    for r in await conn.execute(
        select(item_pairs).where(tuple_(item_pairs.c.store_id, item_pairs.c.item_a).in_(list(ordered)))
    ):
        together.setdefault((r.store_id, r.item_a), {})[(r.store_id, r.item_b)] = int(r.orders)
    candidates = {b for bs in together.values() for b in bs if b not in ordered}
    names: dict[rec.Item, str] = {}
    if candidates:
        for r in await conn.execute(
            select(items).where(tuple_(items.c.store_id, items.c.menu_item_id).in_(list(candidates)))
        ):
            names[(r.store_id, r.menu_item_id)] = str(r.name)
    return rec.rank(ordered, together, names, max_results)


def recommendation_message(r: rec.Recommendation) -> marketing_pb2.Recommendation:
    return marketing_pb2.Recommendation(
        store_id=r.store_id,
        menu_item_id=r.menu_item_id,
        name=r.name,
        score=r.score,
        because_of_menu_item_id=r.because_of,
    )
