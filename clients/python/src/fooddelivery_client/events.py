"""Decoding the events published on NATS JetStream: protobuf payload + CloudEvents headers."""
from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from typing import AsyncIterator, Dict, Iterable, Optional

import nats
from google.protobuf import descriptor_pool, message, message_factory
from nats.js import api

# Importing the generated event modules registers every event type in the default pool.
for _context in ("order", "payment", "store", "delivery", "notification"):
    importlib.import_module(f"fooddelivery.{_context}.v1.events_pb2")


@dataclass(frozen=True)
class Event:
    """One event: its CloudEvents attributes and the decoded protobuf message."""

    type: str  # ce-type = fully qualified message name = NATS subject
    id: str  # ce-id = EventMetadata.event_id = Nats-Msg-Id
    source: str  # ce-source, e.g. /fooddelivery/order
    subject: str  # ce-subject = aggregate id (e.g. the order id)
    time: str  # ce-time, RFC 3339
    specversion: str
    content_type: str
    message: message.Message


def decode_event(subject: str, data: bytes, headers: Optional[Dict[str, str]]) -> Event:
    """Decodes a JetStream message. Unknown fields are kept, never an error."""
    headers = headers or {}
    type_name = headers.get("ce-type", subject)
    descriptor = descriptor_pool.Default().FindMessageTypeByName(type_name)
    msg = message_factory.GetMessageClass(descriptor)()
    msg.ParseFromString(data)
    return Event(
        type=type_name,
        id=headers.get("ce-id", ""),
        source=headers.get("ce-source", ""),
        subject=headers.get("ce-subject", ""),
        time=headers.get("ce-time", ""),
        specversion=headers.get("ce-specversion", ""),
        content_type=headers.get("content-type", ""),
        message=msg,
    )


class Subscription:
    """Events published from the moment it is open, on the given subjects.

    async with subscribe(url, ["fooddelivery.order.v1.>"]) as events:
        event = await events.next(timeout=5)
    """

    def __init__(self, nats_url: str, subjects: Iterable[str]):
        self._url = nats_url
        self._subjects = list(subjects)
        self._nc = None
        self._subs = []

    async def __aenter__(self) -> "Subscription":
        self._nc = await nats.connect(self._url)
        js = self._nc.jetstream()
        # Ordered consumers: ephemeral, in order, from now on; nothing to clean up afterwards.
        self._subs = [await js.subscribe(s, ordered_consumer=True, deliver_policy=api.DeliverPolicy.NEW) for s in self._subjects]
        return self

    async def __aexit__(self, *exc) -> None:
        if self._nc is not None:
            await self._nc.close()

    async def next(self, timeout: float = 5.0) -> Event:
        """The next event on any of the subjects; TimeoutError if none comes in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for sub in self._subs:
                try:
                    msg = await sub.next_msg(timeout=0.02)
                except nats.errors.TimeoutError:
                    continue
                return decode_event(msg.subject, msg.data, msg.headers)
            if loop.time() > deadline:
                raise TimeoutError(f"no event on {self._subjects} within {timeout} s")

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.next(timeout=3600)


def subscribe(nats_url: str, subjects: Iterable[str] = ("fooddelivery.order.v1.>",)) -> Subscription:
    """Subscribes to events published from now on (use with ``async with``)."""
    return Subscription(nats_url, subjects)
