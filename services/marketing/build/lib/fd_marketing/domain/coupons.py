"""Coupons for the best customers: who qualifies, for which period, what they get.

A customer qualifies when at least ``min_orders`` of their orders were delivered in the
``window_days`` up to now (a rolling window). They get one coupon per calendar month (UTC) at
most: the coupon's id is derived from (customer, period), so a redelivered event, a second
replica or a replayed dead letter can only ever produce the same coupon.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Coupons

DAY_MS = 86_400_000
# Namespace of the ids marketing derives (coupons and their events).
NAMESPACE = uuid.UUID("5b0d6f0e-8a43-4c8e-9a57-6f1c2d3e4b5a")


@dataclass(frozen=True)
class DeliveredOrder:
    order_id: str
    delivered_at_ms: int
    total_minor: int
    currency: str


@dataclass(frozen=True)
class Coupon:
    coupon_id: str
    customer_id: str
    code: str
    percent_off: int
    period: str
    delivered_orders: int
    spend_minor: int
    currency: str
    issued_at_ms: int
    expires_at_ms: int


def period_of(ms: int) -> str:
    """The calendar month (UTC) an instant falls in: ``2026-11``."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m")


def coupon_id(customer_id: str, period: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"coupon/{customer_id}/{period}"))


def evaluate(
    rule: Coupons, customer_id: str, delivered: Iterable[DeliveredOrder], now_ms: int, currency: str
) -> Coupon | None:
    """The coupon ``customer_id`` earns at ``now_ms``, if they qualify (else ``None``).

    ``delivered`` are the customer's delivered orders (any time); only those in the rolling
    window count. Spend is summed in ``currency`` (the triggering order's).
    """
    start = now_ms - rule.window_days * DAY_MS
    in_window = [o for o in delivered if start < o.delivered_at_ms <= now_ms]
    if len(in_window) < rule.min_orders:
        return None
    period = period_of(now_ms)
    cid = coupon_id(customer_id, period)
    return Coupon(
        coupon_id=cid,
        customer_id=customer_id,
        code=f"BEST-{period}-{cid[:4].upper()}",
        percent_off=rule.percent_off,
        period=period,
        delivered_orders=len(in_window),
        spend_minor=sum(o.total_minor for o in in_window if o.currency == currency),
        currency=currency,
        issued_at_ms=now_ms,
        expires_at_ms=now_ms + rule.valid_days * DAY_MS,
    )
