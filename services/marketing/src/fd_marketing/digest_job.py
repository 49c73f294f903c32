"""Sends each subscribed customer's digest once per local date, at the configured hour in their
own time zone (``domain.digest`` decides which date is due). The claim of a date, the digest
and its ``DigestSent`` event commit together, and the claim is a compare-and-set: two replicas
or a restart in the middle never send a date twice."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from fooddelivery.common.v1 import common_pb2
from fooddelivery.marketing.v1 import events_pb2, marketing_pb2
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from . import telemetry
from .clock import Clock
from .config import DigestSettings
from .db import insert_ignore
from .domain import coupons as coupon_rules
from .domain import digest as schedule
from .messaging import record
from .metrics import REGISTRY
from .schema import digest_subscribers, digests
from .store import event_id, recommendation_message, recommendations, timestamp, valid_coupons

log = logging.getLogger("fd_marketing.digest")
RECOMMENDED = 5


def digest_id(customer_id: str, local_date: str) -> str:
    return str(uuid.uuid5(coupon_rules.NAMESPACE, f"digest/{customer_id}/{local_date}"))


async def send_due(engine: AsyncEngine, clock: Clock, settings: DigestSettings) -> int:
    """Sends every digest due now; how many it sent."""
    now = clock.now_ms()
    async with engine.connect() as conn:
        subscribers = (
            await conn.execute(select(digest_subscribers).where(digest_subscribers.c.enabled.is_(True)))
        ).all()
    sent = 0
    for s in subscribers:
        tz = s.time_zone or settings.default_time_zone
        date = schedule.to_send(now, tz, settings.hour, s.last_sent_date, int(s.known_since_ms))
        if date is None:
            continue
        with telemetry.tracer.start_as_current_span(
            "marketing.digest", attributes={"customer_id": s.customer_id}
        ):
            async with engine.begin() as conn:
                claimed = await conn.execute(
                    update(digest_subscribers)
                    .where(digest_subscribers.c.customer_id == s.customer_id)
                    .where(
                        or_(
                            digest_subscribers.c.last_sent_date.is_(None),
                            digest_subscribers.c.last_sent_date < date,
                        )
                    )
                    .values(last_sent_date=date)
                )
                if claimed.rowcount != 1:
                    continue
                did = digest_id(s.customer_id, date)
                digest = marketing_pb2.Digest(
                    digest_id=did,
                    customer_id=s.customer_id,
                    local_date=date,
                    time_zone=tz,
                    send_time=timestamp(now),
                    recommendations=[
                        recommendation_message(r)
                        for r in await recommendations(conn, s.customer_id, RECOMMENDED)
                    ],
                    coupon_codes=[c.code for c in await valid_coupons(conn, s.customer_id, now)],
                )
                await conn.execute(
                    insert_ignore(
                        conn,
                        digests,
                        digest_id=did,
                        customer_id=s.customer_id,
                        local_date=date,
                        time_zone=tz,
                        sent_at_ms=now,
                        body=digest.SerializeToString(),
                    )
                )
                eid = event_id("DigestSent", did)
                event = events_pb2.DigestSent(
                    metadata=common_pb2.EventMetadata(
                        event_id=eid, occurred_at=timestamp(now), aggregate_id=did, aggregate_version=1
                    ),
                    digest=digest,
                )
                await record(conn, event, eid, did, now)
            # The mail itself lies outside the system: the log line stands for it.
            telemetry.log(
                log,
                logging.INFO,
                "digest sent",
                customer_id=s.customer_id,
                local_date=date,
                time_zone=tz,
                recommendations=len(digest.recommendations),
                coupons=len(digest.coupon_codes),
            )
            REGISTRY.add("fd_marketing_digests_sent_total", "Daily digests sent")
            sent += 1
    return sent


async def run(
    engine: AsyncEngine,
    clock: Clock,
    settings: DigestSettings,
    on_sent: Callable[[], None],
    stop: asyncio.Event,
) -> None:
    """Looks for due digests every ``settings.tick_s`` until ``stop``."""
    while not stop.is_set():
        try:
            if await send_due(engine, clock, settings):
                on_sent()
        except Exception as e:
            telemetry.log(log, logging.WARNING, "digest run failed", error=repr(e))
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.tick_s)
        except TimeoutError:
            pass
