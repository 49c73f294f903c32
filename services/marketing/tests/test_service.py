"""The service in-process against a real nats-server and a real database (SQLite and
PostgreSQL): the events the other contexts publish go in, coupons, recommendations, digests
and marketing's own events come out."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from zoneinfo import ZoneInfo

import grpc
import pytest
from conftest import DAY, SPANS, T0, Running, deliver, eventually, place, stream_messages
from fooddelivery.marketing.v1 import events_pb2, marketing_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import func, select

from fd_marketing import digest_job
from fd_marketing.schema import orders

PIZZA, COLA, TIRAMISU = ("pizza", "Margherita", 1250), ("cola", "Cola", 400), ("tiramisu", "Tiramisu", 650)


async def coupon_rows(r: Running, customer: str) -> list[marketing_pb2.Coupon]:
    resp = await r.stub.ListCoupons(
        marketing_pb2.ListCouponsRequest(customer_id=customer), metadata=r.md(customer, "customer")
    )
    return list(resp.coupons)


async def issued_events(r: Running) -> list[events_pb2.CouponIssued]:
    msgs = await stream_messages(r.js, "MARKETING", "fooddelivery.marketing.v1.CouponIssued")
    return msgs


async def order_and_deliver(r: Running, customer: str, at_ms: int, items=(PIZZA, COLA)) -> str:  # type: ignore[no-untyped-def]
    oid = await place(r.js, customer, list(items), at_ms - 3_600_000)
    await deliver(r.js, customer, oid, at_ms)
    return oid


async def test_the_best_customer_gets_one_coupon_per_period_never_twice(running: Running) -> None:
    r = running
    ada = f"ada-{uuid.uuid4().hex[:6]}"
    for days_ago in (5, 4):
        await order_and_deliver(r, ada, T0 - days_ago * DAY)
    # Two delivered orders: not yet a best customer.
    await eventually(lambda: _delivered(r, 2))
    assert await coupon_rows(r, ada) == []
    third = await place(r.js, ada, [PIZZA, COLA], T0 - 3 * DAY - 3_600_000)
    third_event = await deliver(r.js, ada, third, T0 - 3 * DAY)
    [coupon] = await eventually(lambda: coupon_rows(r, ada))
    assert (coupon.period, coupon.delivered_orders, coupon.percent_off) == ("2026-11", 3, 10)
    assert coupon.spend.amount_minor == 3 * 1650 and coupon.spend.currency_code == "EUR"
    # A fourth delivery in the same month, and the third Delivered delivered again (another
    # NATS message id, the same event id): still one coupon.
    await order_and_deliver(r, ada, T0 - 2 * DAY)
    await deliver(r.js, ada, third, T0 - 3 * DAY, event_id=third_event, msg_id=str(uuid.uuid4()))
    await eventually(lambda: _delivered(r, 4))
    # The event: once, with the CloudEvents headers and Nats-Msg-Id = ce-id.
    [msg] = await eventually(lambda: issued_events(r))
    h = msg.headers or {}
    assert h["Nats-Msg-Id"] == h["ce-id"]
    assert (h["ce-type"], h["ce-source"], h["ce-specversion"]) == (
        "fooddelivery.marketing.v1.CouponIssued",
        "/fooddelivery/marketing",
        "1.0",
    )
    assert h["ce-subject"] == coupon.coupon_id and h["ce-time"].endswith("Z")
    event = events_pb2.CouponIssued.FromString(msg.data)
    assert event.coupon == coupon and event.metadata.event_id == h["ce-id"]
    assert await coupon_rows(r, ada) == [coupon]
    # December is another period, and the window rolls: the first December delivery finds
    # five delivered orders in the last 30 days and earns December's coupon.
    await order_and_deliver(r, ada, T0 + DAY)
    got = await eventually(lambda: _at_least(coupon_rows(r, ada), 2))
    assert [(c.period, c.delivered_orders) for c in got] == [("2026-12", 5), ("2026-11", 3)]
    # Page by page.
    md = r.md(ada, "customer")
    first = await r.stub.ListCoupons(
        marketing_pb2.ListCouponsRequest(customer_id=ada, page_size=1), metadata=md
    )
    second = await r.stub.ListCoupons(
        marketing_pb2.ListCouponsRequest(customer_id=ada, page_size=1, page_token=first.next_page_token),
        metadata=md,
    )
    assert [c.period for c in [*first.coupons, *second.coupons]] == ["2026-12", "2026-11"]
    assert first.next_page_token and not second.next_page_token
    assert len(await eventually(lambda: _at_least(issued_events(r), 2))) == 2


async def _at_least(rows, n):  # type: ignore[no-untyped-def]
    got = await rows
    return got if len(got) >= n else None


async def _delivered(r: Running, n: int) -> bool:
    assert r.app.engine is not None
    async with r.app.engine.connect() as conn:
        count = (
            await conn.execute(select(func.count()).where(orders.c.delivered_at_ms.is_not(None)))
        ).scalar()
    return count == n


async def test_a_delivery_seen_before_its_order_is_retried_not_lost(running: Running) -> None:
    r = running
    bob = f"bob-{uuid.uuid4().hex[:6]}"
    oids = [f"o-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    # Delivered first (marketing reads DELIVERY and ORDER through two consumers) ...
    for i, oid in enumerate(oids):
        await deliver(r.js, bob, oid, T0 + i)
    # ... OrderPlaced later: the deliveries are retried with backoff and then applied.
    for oid in oids:
        await place(r.js, bob, [PIZZA], T0 - DAY, order_id=oid)
    [coupon] = await eventually(lambda: coupon_rows(r, bob), timeout=30)
    assert coupon.delivered_orders == 3


async def test_a_poison_event_goes_to_the_dead_letters_with_its_reason(running: Running) -> None:
    r = running
    subject = "fooddelivery.order.v1.OrderPlaced"
    await r.js.publish(
        subject,
        b"\xff\xff not protobuf",
        headers={"Nats-Msg-Id": "bad-1", "ce-id": "bad-1", "ce-type": subject},
    )
    await r.js.publish(
        subject,
        b"",
        headers={"Nats-Msg-Id": "bad-2", "ce-id": "bad-2", "ce-type": "fooddelivery.order.v1.OrderCancelled"},
    )
    carol = f"carol-{uuid.uuid4().hex[:6]}"
    good = await place(r.js, carol, [PIZZA, COLA], T0)  # the stream goes on
    letters = await eventually(
        lambda: _at_least(stream_messages(r.js, "DEADLETTER", "deadletter.marketing.order-history"), 2)
    )
    reasons = {m.headers["ce-id"]: m.headers["fd-error"] for m in letters}
    assert "payload is not a valid fooddelivery.order.v1.OrderPlaced" in reasons["bad-1"]
    assert "does not match subject" in reasons["bad-2"]
    for m in letters:
        assert m.headers["fd-consumer"] == "marketing-order-history"
        assert m.headers["fd-original-subject"] == subject
    assert sorted(m.data or b"" for m in letters) == [b"", b"\xff\xff not protobuf"]
    await eventually(lambda: _order_known(r, good))


async def _order_known(r: Running, order_id: str) -> bool:
    assert r.app.engine is not None
    async with r.app.engine.connect() as conn:
        return (await conn.execute(select(orders).where(orders.c.order_id == order_id))).first() is not None


async def _recommend(r: Running, customer: str, n: int):  # type: ignore[no-untyped-def]
    resp = await r.stub.ListRecommendations(
        marketing_pb2.ListRecommendationsRequest(customer_id=customer, max_results=n),
        metadata=r.md(customer, "customer"),
    )
    return list(resp.recommendations)


async def test_recommendations_are_what_goes_with_what_the_customer_orders_often(running: Running) -> None:
    r = running
    erin = f"erin-{uuid.uuid4().hex[:6]}"
    others = [f"x-{uuid.uuid4().hex[:6]}" for _ in range(4)]
    for o in others[:3]:
        await place(r.js, o, [PIZZA, COLA], T0)
    await place(r.js, others[3], [PIZZA, TIRAMISU], T0)
    erin_orders = [await place(r.js, erin, [PIZZA], T0 + i) for i in range(2)]
    for oid in erin_orders:
        await eventually(lambda oid=oid: _order_known(r, oid))
    recs = await _recommend(r, erin, 5)
    assert [(x.menu_item_id, x.name, x.because_of_menu_item_id) for x in recs] == [
        ("cola", "Cola", "pizza"),
        ("tiramisu", "Tiramisu", "pizza"),
    ]
    assert recs[0].score == 2 * 3 and recs[1].score == 2 * 1
    assert await _recommend(r, f"new-{uuid.uuid4().hex[:4]}", 5) == []


async def test_the_digest_goes_out_at_nine_local_time_once_per_day(running: Running) -> None:
    r = running
    berlin, ny = f"fr-{uuid.uuid4().hex[:6]}", f"ny-{uuid.uuid4().hex[:6]}"
    for c in (berlin, ny):
        await place(r.js, c, [PIZZA, COLA], T0 - DAY)
    for c, tz in ((berlin, "Europe/Berlin"), (ny, "America/New_York")):
        resp = await r.stub.SetDigestPreferences(
            marketing_pb2.SetDigestPreferencesRequest(customer_id=c, time_zone=tz, enabled=True),
            metadata=r.md(c, "customer"),
        )
        assert resp.time_zone == tz
    await eventually(lambda: _subscribers(r, 2))
    assert r.app.engine is not None
    settings = r.app.cfg.digest
    send = lambda: digest_job.send_due(r.app.engine, r.clock, settings)
    # The customers became known "now" (T0 = 07:00 UTC = 08:00 Berlin); nothing is due yet.
    r.clock.set(T0 + 59 * 60_000)  # 08:59 Berlin
    assert await send() == 0
    r.clock.set(T0 + 60 * 60_000)  # 09:00 Berlin, 03:00 New York
    assert await send() == 1
    assert await send() == 0
    r.clock.set(T0 + 7 * 3_600_000)  # 14:00 UTC = 09:00 New York
    assert await send() == 1
    # Three days down: one digest each on return (the latest date), not three.
    r.clock.set(T0 + 3 * DAY + 7 * 3_600_000)
    assert await send() == 2
    assert await send() == 0
    digests = (
        await r.stub.ListDigests(
            marketing_pb2.ListDigestsRequest(customer_id=berlin), metadata=r.md(berlin, "customer")
        )
    ).digests
    assert [d.local_date for d in digests] == ["2026-12-03", "2026-11-30"]
    assert digests[0].time_zone == "Europe/Berlin"
    sent_local = digests[1].send_time.ToDatetime(tzinfo=ZoneInfo("Europe/Berlin"))
    assert (sent_local.hour, sent_local.minute) == (9, 0)
    assert [x.menu_item_id for x in digests[1].recommendations] == []  # nothing ordered together yet
    events = await eventually(
        lambda: _at_least(stream_messages(r.js, "MARKETING", "fooddelivery.marketing.v1.DigestSent"), 4)
    )
    assert len(events) == 4
    assert len({m.headers["Nats-Msg-Id"] for m in events}) == 4


async def _subscribers(r: Running, n: int) -> bool:
    from fd_marketing.schema import digest_subscribers

    assert r.app.engine is not None
    async with r.app.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(digest_subscribers))).scalar() == n


async def test_every_rpc_checks_who_calls(running: Running) -> None:
    r = running
    stub = r.stub
    req = marketing_pb2.ListCouponsRequest(customer_id="ada")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.ListCoupons(req)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED and "bearer" in (e.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.ListCoupons(req, metadata=[("authorization", "Bearer not-a-token")])
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    wrong_audience = r.issuer.token("ada", "customer", audience="someone-else")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.ListCoupons(req, metadata=[("authorization", f"Bearer {wrong_audience}")])
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    for who, roles in (("bob", ("customer",)), ("rita", ("rider",)), ("olga", ("owner",))):
        for call, request in (
            (stub.ListCoupons, req),
            (stub.ListRecommendations, marketing_pb2.ListRecommendationsRequest(customer_id="ada")),
            (stub.ListDigests, marketing_pb2.ListDigestsRequest(customer_id="ada")),
            (stub.SetDigestPreferences, marketing_pb2.SetDigestPreferencesRequest(customer_id="ada")),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await call(request, metadata=r.md(who, *roles))
            assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, (who, e.value)
    assert (await stub.ListCoupons(req, metadata=r.md("ops", "operator"))).coupons == []
    assert (await stub.ListCoupons(req, metadata=r.md("ada", "customer"))).coupons == []


async def test_bad_requests_name_the_field_at_fault(running: Running) -> None:
    r = running
    md = r.md("ada", "customer")
    cases = [
        (
            r.stub.SetDigestPreferences,
            marketing_pb2.SetDigestPreferencesRequest(customer_id="ada", time_zone="Mars/Base"),
            "time_zone",
        ),
        (
            r.stub.ListCoupons,
            marketing_pb2.ListCouponsRequest(customer_id="ada", page_token="garbage!"),
            "page_token",
        ),
        (
            r.stub.ListCoupons,
            marketing_pb2.ListCouponsRequest(customer_id="ada", page_size=1000),
            "page_size",
        ),
        (
            r.stub.ListRecommendations,
            marketing_pb2.ListRecommendationsRequest(customer_id="ada", max_results=51),
            "max_results",
        ),
        (r.stub.ListDigests, marketing_pb2.ListDigestsRequest(customer_id=""), "customer_id"),
    ]
    for call, request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await call(request, metadata=md if field != "customer_id" else r.md("ops", "operator"))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        status = rpc_status.from_call(e.value)
        assert status is not None
        bad = error_details_pb2.BadRequest()
        assert status.details[0].Unpack(bad)
        assert [v.field for v in bad.field_violations] == [field]


async def test_one_trace_from_the_delivery_through_marketing_into_its_event(running: Running) -> None:
    r = running
    SPANS.clear()
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{'ab' * 8}-01"
    fay = f"fay-{uuid.uuid4().hex[:6]}"
    for i in range(3):
        oid = await place(r.js, fay, [PIZZA], T0 - DAY)
        await eventually(lambda oid=oid: _order_known(r, oid))
        # The third Delivered carries the trace: the coupon it earns continues it.
        await deliver(r.js, fay, oid, T0 + i, traceparent=parent if i == 2 else None)
    await eventually(lambda: coupon_rows(r, fay))
    [msg] = await eventually(lambda: issued_events(r))

    async def spans_of_trace() -> list | None:  # type: ignore[type-arg]
        got = [s for s in SPANS.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]
        return got if len(got) >= 2 else None

    got = {s.name: s for s in await eventually(spans_of_trace)}
    process = got["fooddelivery.delivery.v1.Delivered process"]
    publish = got["fooddelivery.marketing.v1.CouponIssued publish"]
    assert f"{process.parent.span_id:016x}" == "ab" * 8
    assert process.attributes["messaging.consumer.group.name"] == "marketing-coupon-on-delivered"
    assert publish.parent.span_id == process.context.span_id
    # ... and the event carries it on to whoever consumes CouponIssued.
    assert msg.headers["traceparent"].split("-")[1] == trace_id


async def test_metrics_are_exported_as_the_rust_services_name_them(running: Running) -> None:
    r = running
    gus = f"gus-{uuid.uuid4().hex[:6]}"
    for days_ago in (3, 2, 1):
        await order_and_deliver(r, gus, T0 - days_ago * DAY)
    await eventually(lambda: coupon_rows(r, gus))
    with pytest.raises(grpc.aio.AioRpcError):
        await r.stub.ListCoupons(marketing_pb2.ListCouponsRequest(customer_id=gus))
    assert r.app.cfg.metrics_addr is not None

    async def scrape() -> str:
        reader, writer = await asyncio.open_connection(*r.app.cfg.metrics_addr.rsplit(":", 1))
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        body = (await reader.read()).decode()
        writer.close()
        return body.split("\r\n\r\n", 1)[1]

    async def ready() -> str | None:
        text = await scrape()
        return text if "fd_marketing_coupons_issued_total" in text and "fd_outbox_backlog" in text else None

    text = await eventually(ready)
    for line in (
        'fd_marketing_coupons_issued_total{service_name="marketing",service_version="0.1.0"}',
        'messaging_process_duration_seconds_count{service_name="marketing",service_version="0.1.0",'
        'fd_outcome="processed",messaging_consumer_group_name="marketing-coupon-on-delivered",'
        'messaging_destination_name="fooddelivery.delivery.v1.Delivered"}',
        'rpc_server_call_duration_seconds_count{service_name="marketing",service_version="0.1.0",'
        'rpc_method="fooddelivery.marketing.v1.MarketingService/ListCoupons",'
        'rpc_response_status_code="UNAUTHENTICATED",rpc_system_name="grpc"}',
        'fd_consumer_pending{service_name="marketing",service_version="0.1.0",'
        'messaging_consumer_group_name="marketing-order-history"}',
    ):
        # (values add up over the tests of this process: one registry per process)
        values = [float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x.startswith(line + " ")]
        assert values and values[0] >= 0, f"{line}\n---\n{text}"
        assert values[0] >= 1 or line.startswith("fd_consumer_pending"), line
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is needed to check the exposition format (Debian: prometheus)")
    check = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await check.communicate(text.encode())
    assert check.returncode == 0, out.decode()


async def test_a_batch_applies_each_order_once_and_cancellations_after_placements(
    nats_server, database_url: str, issuer
) -> None:  # type: ignore[no-untyped-def]
    """Events waiting when marketing starts arrive as one batch, applied together."""
    import nats
    from conftest import config, headers, publisher_streams
    from fooddelivery.order.v1 import events_pb2 as order_events

    from fd_marketing.app import Marketing
    from fd_marketing.clock import FakeClock
    from fd_marketing.schema import customer_items, item_pairs

    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await publisher_streams(js)
    hal = f"hal-{uuid.uuid4().hex[:6]}"
    first = await place(js, hal, [PIZZA], T0, event_id="e-1")
    await place(js, hal, [PIZZA], T0, order_id=first, event_id="e-2")  # the same order again
    await js.publish(  # e-1 once more (another NATS message id)
        "fooddelivery.order.v1.OrderPlaced",
        (await js.get_msg("ORDER", 1)).data or b"",
        headers={**headers("e-1", "fooddelivery.order.v1.OrderPlaced", first), "Nats-Msg-Id": "again"},
    )
    second = await place(js, hal, [PIZZA, COLA], T0)
    cancel = order_events.OrderCancelled(order_id=second, customer_id=hal, reason="changed my mind")
    await js.publish(
        "fooddelivery.order.v1.OrderCancelled",
        cancel.SerializeToString(),
        headers=headers("c-1", "fooddelivery.order.v1.OrderCancelled", second),
    )
    app = Marketing(config(nats_server.url, database_url, issuer), clock=FakeClock(T0))
    await app.start()
    try:
        assert app.engine is not None

        async def applied() -> bool:
            async with app.engine.connect() as conn:
                row = (await conn.execute(select(orders).where(orders.c.order_id == second))).first()
                return row is not None and bool(row.cancelled)

        await eventually(applied)
        async with app.engine.connect() as conn:
            times = (
                await conn.execute(
                    select(customer_items.c.menu_item_id, customer_items.c.times).where(
                        customer_items.c.customer_id == hal
                    )
                )
            ).all()
            pairs = (await conn.execute(select(item_pairs.c.item_a, item_pairs.c.orders))).all()
        assert sorted(times) == [("cola", 1), ("pizza", 2)]  # two orders, not three
        assert sorted(pairs) == [("cola", 1), ("pizza", 1)]
    finally:
        await app.stop()
        await nc.close()
