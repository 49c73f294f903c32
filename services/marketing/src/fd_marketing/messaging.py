"""NATS JetStream the way the Rust chassis uses it, so marketing behaves like every service:

- its own stream ``MARKETING`` (subjects ``fooddelivery.marketing.>``), created or updated at
  start; the dead-letter stream created if missing, never changed;
- one durable pull consumer per policy (``marketing-<policy>``), created or updated at start,
  each event applied in one transaction together with its id in ``fd_processed_events``, so a
  redelivered event is acknowledged without effect; whatever has already arrived is applied in
  one transaction (group commit), and a batch that fails is taken again one event at a time;
- transient failures redelivered with exponential backoff (200 ms doubling to 60 s, 20
  deliveries: about 12 minutes); permanent ones, and exhausted retries, to
  ``deadletter.marketing.<policy>`` with the reason in ``fd-error``;
- its own events through an outbox: written in the transaction of the change, published with
  ``Nats-Msg-Id`` = event id (JetStream drops a second copy) and the CloudEvents headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
from google.protobuf.message import DecodeError, Message
from nats import nuid
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import SERVICE, telemetry
from .clock import Clock
from .config import Config
from .db import insert_ignore
from .metrics import REGISTRY
from .schema import outbox, processed_events
from .statements import PROCESSED, execute

log = logging.getLogger("fd_marketing.messaging")

MIN_SERVER = (2, 10)
DUPLICATE_WINDOW_S = 120
EVENT_RETENTION_S = 7 * 24 * 3600
DEAD_LETTER_STREAM = "DEADLETTER"
DEAD_LETTER_RETENTION_S = 30 * 24 * 3600
# Longer than any copy of an event can come back (a replayed dead letter is the oldest).
PROCESSED_RETENTION_MS = 31 * 24 * 3600 * 1000
PUBLISHED_RETENTION_MS = 24 * 3600 * 1000
BATCH_MAX = 64
PUBLISH_BATCH = 100
SOURCE = f"/fooddelivery/{SERVICE}"


def stream_name(context: str) -> str:
    return context.upper()


def rfc3339(ms: int) -> str:
    t = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def cloud_event_headers(event_id: str, event_type: str, subject: str, time_ms: int) -> dict[str, str]:
    """CloudEvents binary content mode over NATS, plus ``Nats-Msg-Id`` (as the chassis)."""
    return {
        "Nats-Msg-Id": event_id,
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": SOURCE,
        "ce-type": event_type,
        "ce-subject": subject,
        "ce-time": rfc3339(time_ms),
        "ce-datacontenttype": "application/protobuf",
        "content-type": "application/protobuf",
    }


class ServerTooOld(Exception):
    pass


async def connect(cfg: Config) -> NATS:
    """Connects as the service's own NATS user; refuses a server older than 2.10 (it would
    ignore ``filter_subjects`` and deliver every event of a stream)."""
    opts: dict[str, Any] = {
        "servers": [s.strip() for s in cfg.nats_url.split(",")],
        "name": SERVICE,
        "inbox_prefix": f"_INBOX_{SERVICE}".encode(),
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 2,
        "allow_reconnect": True,
    }
    if cfg.nats_nkey_seed:
        opts["nkeys_seed_str"] = cfg.nats_nkey_seed
    elif cfg.nats_user and cfg.nats_password:
        opts["user"], opts["password"] = cfg.nats_user, cfg.nats_password
    if cfg.nats_ca_file or cfg.nats_cert_file:
        ctx = ssl.create_default_context(cafile=cfg.nats_ca_file)
        if cfg.nats_cert_file and cfg.nats_key_file:
            ctx.load_cert_chain(cfg.nats_cert_file, cfg.nats_key_file)
        opts["tls"] = ctx
    nc = await nats.connect(**opts)
    version = nc.connected_server_version
    if (version.major, version.minor) < MIN_SERVER:
        await nc.close()
        raise ServerTooOld(
            f"NATS server {version} at {cfg.nats_url} is too old: this system needs NATS >= "
            f"{MIN_SERVER[0]}.{MIN_SERVER[1]} (JetStream consumers with filter_subjects, which "
            "older servers silently ignore); upgrade the server"
        )
    return nc


async def ensure_streams(js: JetStreamContext, replicas: int) -> None:
    """Creates or updates the MARKETING stream; creates the dead-letter stream if missing."""
    own = js_api.StreamConfig(
        name=stream_name(SERVICE),
        subjects=[f"fooddelivery.{SERVICE}.>"],
        storage=js_api.StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_age=EVENT_RETENTION_S,
        num_replicas=replicas,
    )
    try:
        await js.stream_info(own.name or "")
        await js.update_stream(own)
    except NotFoundError:
        await js.add_stream(own)
    try:
        await js.stream_info(DEAD_LETTER_STREAM)
    except NotFoundError:
        await js.add_stream(
            js_api.StreamConfig(
                name=DEAD_LETTER_STREAM,
                subjects=["deadletter.>"],
                storage=js_api.StorageType.FILE,
                duplicate_window=DUPLICATE_WINDOW_S,
                max_age=DEAD_LETTER_RETENTION_S,
                num_replicas=replicas,
            )
        )


class PermanentError(Exception):
    """The event can never be applied (bad payload, impossible content): dead letter."""


class TransientError(Exception):
    """The event cannot be applied yet (a database away, an order not known yet): retried."""


@dataclass(frozen=True)
class Incoming:
    subject: str
    event_id: str
    payload: bytes
    headers: dict[str, str]

    def decode(self, cls: type[Message]) -> Any:
        """The payload as ``cls``, which must be the type the subject names (unknown fields
        are skipped: additive evolution)."""
        full_name = cls.DESCRIPTOR.full_name
        if self.subject != full_name:
            raise PermanentError(f"{self.subject} is not a {full_name}")
        msg = cls()
        try:
            msg.ParseFromString(self.payload)
        except DecodeError as e:
            raise PermanentError(f"payload is not a valid {full_name}: {e}") from e
        return msg


Handler = Callable[[AsyncConnection, Incoming], Awaitable[None]]


@dataclass
class ConsumerSpec:
    """A consumer of ``policy`` on ``subjects`` (all of one context)."""

    policy: str
    subjects: list[str]
    max_deliver: int = 20
    retry_delay_s: float = 0.2
    max_retry_delay_s: float = 60.0
    stream: str = field(init=False)

    def __post_init__(self) -> None:
        self.stream = stream_name(self.subjects[0].split(".")[1])

    @property
    def durable(self) -> str:
        return f"{SERVICE}-{self.policy}"

    @property
    def dead_letter_subject(self) -> str:
        return f"deadletter.{SERVICE}.{self.policy}"

    def backoff_s(self, delivered: int) -> float:
        """The delay before delivery ``delivered + 1`` after a transient failure."""
        doublings = max(0, min(delivered - 1, 30))
        return float(min(self.retry_delay_s * 2**doublings, self.max_retry_delay_s))


def incoming(msg: Msg, spec: ConsumerSpec) -> Incoming:
    """The event in ``msg``; :class:`PermanentError` if this consumer may not apply it."""
    headers = dict(msg.headers or {})
    if msg.subject not in spec.subjects:
        raise PermanentError(
            f"subject {msg.subject} is not one this consumer subscribed to ({', '.join(spec.subjects)})"
        )
    ce_type = headers.get("ce-type")
    if ce_type is not None and ce_type != msg.subject:
        raise PermanentError(f"ce-type {ce_type} does not match subject {msg.subject}; not applied")
    event_id = headers.get("ce-id") or headers.get("Nats-Msg-Id")
    if not event_id:
        raise PermanentError("no ce-id header")
    return Incoming(msg.subject, event_id, msg.data, headers)


class Puller:
    """A continuous pull from a durable consumer, as async-nats' ``messages()`` does it: one
    pull request of up to ``batch`` messages outstanding at a time, renewed when the server
    ends it (408/404/409) or it is used up. Messages arrive through a subscription callback
    into a queue, and waiting on the queue never loses a message to a timeout (nats-py's
    ``fetch`` waits with ``asyncio.wait_for``, which on Python 3.11 can drop a message that
    arrives just as the timeout fires; JetStream then redelivers it only after ``ack_wait``)."""

    def __init__(
        self, nc: NATS, stream: str, durable: str, batch: int = BATCH_MAX, expires_s: float = 5.0
    ) -> None:
        self.nc, self.batch, self.expires_s = nc, batch, expires_s
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.inbox = f"_INBOX_{SERVICE}.{nuid.NUID().next().decode()}"
        self.queue: asyncio.Queue[Msg] = asyncio.Queue()
        self.outstanding = 0
        self.renew_at = 0.0
        self.sub: Any = None

    async def start(self) -> None:
        async def deliver(msg: Msg) -> None:
            self.queue.put_nowait(msg)

        self.sub = await self.nc.subscribe(self.inbox, cb=deliver)

    async def close(self) -> None:
        if self.sub is not None:
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()

    async def _request(self) -> None:
        now = time.monotonic()
        if self.outstanding > 0 and now < self.renew_at:
            return
        body = {"batch": self.batch, "expires": int(self.expires_s * 1e9)}
        await self.nc.publish(self.subject, json.dumps(body).encode(), reply=self.inbox)
        self.outstanding = self.batch
        # A request whose end never arrived (a reconnection) is replaced after its expiry.
        self.renew_at = now + self.expires_s + 1.0

    def _take(self, msg: Msg, out: list[Msg]) -> None:
        status = (msg.headers or {}).get("Status")
        if status is None and msg.reply:
            self.outstanding -= 1
            out.append(msg)
        elif status in ("404", "408", "409"):
            self.outstanding = 0  # the request ended: ask again

    async def next_batch(self, stop: asyncio.Event, wait_s: float = 0.5) -> list[Msg]:
        """What has arrived (at least one message), or ``[]`` after ``wait_s`` or on stop."""
        out: list[Msg] = []
        await self._request()
        first = await _get(self.queue, wait_s)
        if first is None:
            return out
        self._take(first, out)
        while len(out) < self.batch and not self.queue.empty():
            self._take(self.queue.get_nowait(), out)
        return out


async def _get(queue: asyncio.Queue[Msg], wait_s: float) -> Msg | None:
    """The next item, or ``None`` after ``wait_s``; an item is never lost to the timeout."""
    if not queue.empty():
        return queue.get_nowait()
    getter = asyncio.ensure_future(queue.get())
    done, _ = await asyncio.wait({getter}, timeout=wait_s)
    if getter in done:
        return getter.result()
    getter.cancel()
    try:
        return await getter
    except asyncio.CancelledError:
        return None


class Consumer:
    """Runs one durable consumer until ``stop`` is set."""

    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        engine: AsyncEngine,
        clock: Clock,
        spec: ConsumerSpec,
        handler: Handler,
        on_commit: Callable[[], None],
        replicas: int,
    ) -> None:
        self.nc, self.js, self.engine, self.clock, self.spec = nc, js, engine, clock, spec
        self.handler, self.on_commit, self.replicas = handler, on_commit, replicas
        self.tracer = telemetry.tracer

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        told = False
        while not stop.is_set():
            try:
                await self._consume(stop)
                return
            except NotFoundError:
                if not told:
                    telemetry.log(
                        log,
                        logging.INFO,
                        "waiting for the stream",
                        consumer=self.spec.durable,
                        stream=self.spec.stream,
                    )
                    told = True
                await _sleep_or_stop(stop, 0.2)
            except Exception as e:
                telemetry.log(
                    log,
                    logging.WARNING,
                    "consumer interrupted",
                    consumer=self.spec.durable,
                    error=repr(e),
                    retry_in_s=backoff,
                )
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 5.0)
        telemetry.log(log, logging.INFO, "consumer stopped", consumer=self.spec.durable)

    async def _consume(self, stop: asyncio.Event) -> None:
        spec = self.spec
        await self.js.stream_info(spec.stream)  # NotFoundError until its publisher created it
        await self.js.add_consumer(
            spec.stream,
            js_api.ConsumerConfig(
                durable_name=spec.durable,
                filter_subjects=spec.subjects,
                ack_policy=js_api.AckPolicy.EXPLICIT,
                ack_wait=30,
                # One more than ours: we dead-letter at max_deliver ourselves, with the reason.
                max_deliver=spec.max_deliver + 1,
            ),
        )
        puller = Puller(self.nc, spec.stream, spec.durable)
        await puller.start()
        try:
            while not stop.is_set():
                batch = await puller.next_batch(stop)
                if not batch:
                    continue
                # Gauges: the last message's values are the ones they would end with.
                self._observe_lag(batch[-1])
                # The batch in hand is always finished, even if stop is set meanwhile.
                started = time.perf_counter()
                recorded = recorded_so_far()
                if len(batch) > 1 and await self._process_batch(batch):
                    if recorded_so_far() != recorded:
                        self.on_commit()
                    for m in batch:
                        self._observe(m, "processed", time.perf_counter() - started)
                        await m.ack()
                    continue
                for m in batch:
                    await self._finish_one(m)
        finally:
            await puller.close()

    def _observe_lag(self, msg: Msg) -> None:
        """Messages still pending behind this one, and its age (as the Rust consumers)."""
        group = self.spec.durable
        md = msg.metadata
        REGISTRY.set(
            "fd_consumer_pending",
            "Messages the consumer has not received yet",
            md.num_pending or 0,
            messaging_consumer_group_name=group,
        )
        if md.timestamp is not None:
            age = max(0.0, self.clock.now_ms() / 1000 - md.timestamp.timestamp())
            REGISTRY.set(
                "fd_consumer_lag_seconds",
                "Age of the message being processed",
                age,
                messaging_consumer_group_name=group,
            )

    def _observe(self, msg: Msg, outcome: str, seconds: float) -> None:
        REGISTRY.observe(
            "messaging_process_duration_seconds",
            "Duration of processing one event",
            seconds,
            messaging_consumer_group_name=self.spec.durable,
            messaging_destination_name=msg.subject,
            fd_outcome=outcome,
        )

    def _span(self, msg: Msg) -> trace.Span:
        headers = dict(msg.headers or {})
        return self.tracer.start_span(
            f"{msg.subject} process",
            context=telemetry.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
                "messaging.message.id": headers.get("ce-id", ""),
                "messaging.consumer.group.name": self.spec.durable,
            },
        )

    async def _apply(self, conn: AsyncConnection, inc: Incoming) -> bool:
        """Records the event id and applies the event; False if it was applied before."""
        if not await self._record_batch(conn, [inc]):
            return False
        await self.handler(conn, inc)
        return True

    async def _record_batch(self, conn: AsyncConnection, events: list[Incoming]) -> list[Incoming]:
        """Records every event id of a batch in one statement; the events not applied before
        (each once, in order)."""
        at = self.clock.now_ms()
        rows = [(self.spec.durable, inc.event_id, at) for inc in events]
        fresh = {r[0] for result in await execute(conn, PROCESSED, rows) for r in result}
        out = []
        for inc in events:
            if inc.event_id in fresh:
                fresh.discard(inc.event_id)
                out.append(inc)
        return out

    async def _process_batch(self, batch: list[Msg]) -> bool:
        """Everything in one transaction, or nothing (then one at a time). A handler with an
        ``apply_batch`` applies the batch's new events together (one statement per table);
        otherwise each in turn."""
        try:
            events = [incoming(m, self.spec) for m in batch]
        except PermanentError:
            return False
        apply_batch = getattr(self.handler, "apply_batch", None)
        # A batch handler runs outside the events' spans, so they only matter when exported; a
        # handler per event runs inside its event's span (events it records continue the trace).
        spans = [self._span(m) for m in batch] if apply_batch is None or telemetry.exporting() else []
        try:
            async with self.engine.begin() as conn:
                fresh = await self._record_batch(conn, events)
                if apply_batch is not None:
                    await apply_batch(conn, fresh)
                else:
                    by_id = {inc.event_id: span for inc, span in zip(events, spans, strict=True)}
                    for inc in fresh:
                        with trace.use_span(by_id[inc.event_id], end_on_exit=False):
                            await self.handler(conn, inc)
            return True
        except Exception as e:
            log.debug("batch failed; one at a time: %r", e)
            for span in spans:
                span.set_attribute("fd.batch_retried", True)
            return False
        finally:
            for span in spans:
                span.end()

    async def _finish_one(self, msg: Msg) -> None:
        started = time.perf_counter()
        outcome = await self._finish(msg)
        self._observe(msg, outcome, time.perf_counter() - started)

    async def _finish(self, msg: Msg) -> str:
        spec = self.spec
        delivered = msg.metadata.num_delivered or 1
        span = self._span(msg)
        with trace.use_span(span, end_on_exit=True):
            try:
                inc = incoming(msg, spec)
                recorded = recorded_so_far()
                async with self.engine.begin() as conn:
                    fresh = await self._apply(conn, inc)
                if fresh and recorded_so_far() != recorded:
                    self.on_commit()
                await msg.ack()
                return "processed" if fresh else "duplicate"
            except PermanentError as e:
                reason = str(e)
            except Exception as e:  # a database away, a lost race, ...
                reason = str(e) if isinstance(e, TransientError) else f"{type(e).__name__}: {e}"
                if delivered < spec.max_deliver:
                    span.set_status(Status(StatusCode.ERROR, reason))
                    telemetry.log(
                        log,
                        logging.WARNING,
                        "handler failed; redelivering",
                        consumer=spec.durable,
                        reason=reason,
                        delivered=delivered,
                    )
                    await msg.nak(delay=spec.backoff_s(delivered))
                    return "retry"
            span.set_status(Status(StatusCode.ERROR, reason))
            await self._dead_letter(msg, reason, delivered)
            await msg.ack()
            return "dead_letter"

    async def _dead_letter(self, msg: Msg, reason: str, delivered: int) -> None:
        spec = self.spec
        telemetry.log(
            log,
            logging.ERROR,
            "event sent to dead letter",
            consumer=spec.durable,
            subject=msg.subject,
            reason=reason,
        )
        REGISTRY.add(
            "fd_consumer_dead_letters_total",
            "Events sent to the dead letters",
            messaging_consumer_group_name=spec.durable,
            messaging_destination_name=msg.subject,
        )
        headers = dict(msg.headers or {})
        # One dead letter per (consumer, event), even if dead-lettering is retried after a crash.
        headers["Nats-Msg-Id"] = f"dl-{spec.durable}-{msg.metadata.sequence.stream}"
        headers["fd-error"] = reason
        headers["fd-original-subject"] = msg.subject
        headers["fd-consumer"] = spec.durable
        headers["fd-deliveries"] = str(delivered)
        await self.js.publish(spec.dead_letter_subject, msg.data, headers=headers)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


_recorded = 0


def recorded_so_far() -> int:
    """Events this process has written to its outbox so far: a consumer wakes the relay only if
    its transaction moved it (most batches record nothing, and each wake-up was a read of the
    outbox). Another task's event can make that one wake-up too many, never one too few."""
    return _recorded


async def record(
    conn: AsyncConnection, event: Message, event_id: str, aggregate_id: str, occurred_at_ms: int
) -> None:
    """Writes ``event`` to the outbox in the caller's transaction, with the current trace."""
    global _recorded
    _recorded += 1
    await conn.execute(
        insert_ignore(
            conn,
            outbox,
            event_id=event_id,
            event_type=event.DESCRIPTOR.full_name,
            aggregate_id=aggregate_id,
            payload=event.SerializeToString(),
            occurred_at_ms=occurred_at_ms,
            traceparent=telemetry.current_traceparent(),
        )
    )


class Relay:
    """Publishes the outbox: after every commit that wrote to it (``wake``) and every second.
    A row is marked published only after JetStream acknowledged it; a crash in between
    publishes it again, and JetStream drops the copy (same ``Nats-Msg-Id``)."""

    def __init__(self, js: JetStreamContext, engine: AsyncEngine, clock: Clock) -> None:
        self.js, self.engine, self.clock = js, engine, clock
        self._wake = asyncio.Event()
        self._last_prune = 0
        self._last_backlog = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while True:
            # Cleared before the round, not after: a commit during the round sets it again, and
            # the next wait returns at once instead of after the one-second poll.
            self._wake.clear()
            try:
                # Again at once only after a full batch: a shorter one took every row there was.
                while await self.publish_pending() == PUBLISH_BATCH:
                    pass
                await self._observe_backlog()
                await self._prune()
            except Exception as e:
                telemetry.log(log, logging.WARNING, "outbox relay interrupted", error=repr(e))
            if stop.is_set():
                return
            wake = asyncio.ensure_future(self._wake.wait())
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({wake, halt}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            wake.cancel()
            halt.cancel()

    async def publish_pending(self, limit: int = PUBLISH_BATCH) -> int:
        """Publishes up to ``limit`` unpublished events in order; how many it published."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(outbox)
                    .where(outbox.c.published_at_ms.is_(None))
                    .order_by(outbox.c.seq)
                    .limit(limit)
                )
            ).all()
        done = []
        for row in rows:
            headers = cloud_event_headers(row.event_id, row.event_type, row.aggregate_id, row.occurred_at_ms)
            parent = telemetry.extract({"traceparent": row.traceparent} if row.traceparent else {})
            with telemetry.tracer.start_as_current_span(
                f"{row.event_type} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.destination.name": row.event_type,
                    "messaging.operation.type": "send",
                    "messaging.operation.name": "publish",
                    "messaging.message.id": row.event_id,
                },
            ):
                telemetry.inject(headers)
                await self.js.publish(row.event_type, row.payload, headers=headers)
            done.append(row.seq)
        if done:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(outbox).where(outbox.c.seq.in_(done)).values(published_at_ms=self.clock.now_ms())
                )
        return len(done)

    async def _observe_backlog(self) -> None:
        """The backlog gauges, at most once a second (a COUNT, not on every wake)."""
        now = self.clock.now_ms()
        if now - self._last_backlog < 1000:
            return
        self._last_backlog = now
        async with self.engine.connect() as conn:
            count, oldest = (
                await conn.execute(
                    select(func.count(), func.min(outbox.c.occurred_at_ms)).where(
                        outbox.c.published_at_ms.is_(None)
                    )
                )
            ).one()
        REGISTRY.set("fd_outbox_backlog", "Events written but not yet published", count or 0)
        age = max(0.0, (self.clock.now_ms() - oldest) / 1000) if oldest else 0.0
        REGISTRY.set("fd_outbox_oldest_age_seconds", "Age of the oldest unpublished event", age)

    async def _prune(self) -> None:
        now = self.clock.now_ms()
        if now - self._last_prune < 3_600_000:
            return
        self._last_prune = now
        async with self.engine.begin() as conn:
            await conn.execute(delete(outbox).where(outbox.c.published_at_ms < now - PUBLISHED_RETENTION_MS))
            await conn.execute(
                delete(processed_events).where(
                    processed_events.c.processed_at_ms < now - PROCESSED_RETENTION_MS
                )
            )
