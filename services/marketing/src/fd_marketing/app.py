"""The service: configuration, database, NATS, consumers, relay, digest job and the gRPC server,
started in that order and stopped in reverse on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field

import grpc
from fooddelivery.marketing.v1 import marketing_pb2, marketing_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client as NATS
from sqlalchemy.ext.asyncio import AsyncEngine

from . import SERVICE, VERSION, db, digest_job, messaging, metrics, telemetry
from .api import SERVICE_NAME, MarketingApi
from .auth import Verifier
from .clock import Clock, SystemClock
from .config import Config
from .policies import COUPON_ON_DELIVERED, ORDER_HISTORY, CouponOnDelivered, OrderHistory

log = logging.getLogger("fd_marketing")


@dataclass
class Marketing:
    """A running marketing service (tests start it in-process with their own clock)."""

    cfg: Config
    clock: Clock = field(default_factory=SystemClock)
    engine: AsyncEngine | None = None
    nc: NATS | None = None
    server: grpc.aio.Server | None = None
    health: health.aio.HealthServicer | None = None
    relay: messaging.Relay | None = None
    port: int = 0
    metrics_server: asyncio.Server | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        cfg = self.cfg
        self.engine = db.connect(cfg.database_url)
        newer = await db.migrate(self.engine)
        if newer is not None:
            telemetry.log(
                log,
                logging.WARNING,
                "the database was migrated by a newer version; running on its schema",
                revision=newer,
            )
        verifier = Verifier(cfg.jwks_url or "", cfg.issuer, cfg.audience, cfg.leeway_s)
        try:
            await verifier.refresh()
        except OSError as e:  # the issuer may come later: keys are fetched on first use
            telemetry.log(log, logging.WARNING, "cannot fetch the issuer's keys yet", error=repr(e))
        self.nc = await messaging.connect(cfg)
        js = self.nc.jetstream()
        await messaging.ensure_streams(js, cfg.stream_replicas)
        self.relay = messaging.Relay(js, self.engine, self.clock)
        consumers = [
            messaging.Consumer(
                self.nc,
                js,
                self.engine,
                self.clock,
                ORDER_HISTORY,
                OrderHistory(self.clock),
                self.relay.wake,
                cfg.stream_replicas,
            ),
            messaging.Consumer(
                self.nc,
                js,
                self.engine,
                self.clock,
                COUPON_ON_DELIVERED,
                CouponOnDelivered(cfg.coupons),
                self.relay.wake,
                cfg.stream_replicas,
            ),
        ]
        self.tasks = [asyncio.create_task(c.run(self.stop_event), name=c.spec.durable) for c in consumers]
        self.tasks.append(asyncio.create_task(self.relay.run(self.stop_event), name="outbox-relay"))
        self.tasks.append(
            asyncio.create_task(
                digest_job.run(self.engine, self.clock, cfg.digest, self.relay.wake, self.stop_event),
                name="digest",
            )
        )
        self.server = grpc.aio.server()
        marketing_pb2_grpc.add_MarketingServiceServicer_to_server(
            MarketingApi(self.engine, verifier, self.clock, cfg.digest), self.server
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = self.server.add_insecure_port(cfg.listen_addr)
        if self.port == 0:
            raise OSError(f"cannot listen on {cfg.listen_addr}: address in use")
        await self.server.start()
        if cfg.metrics_addr is not None:
            self.metrics_server = await metrics.serve(cfg.metrics_addr)
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        telemetry.log(
            log,
            logging.INFO,
            "marketing serving",
            addr=cfg.listen_addr,
            port=self.port,
            version=VERSION,
            database=cfg.database_url.split(":", 1)[0],
        )

    async def stop(self) -> None:
        """Stops taking requests, lets in-flight ones and the event batch in hand finish,
        publishes what the outbox holds, then closes NATS and the database."""
        if self.health is not None:
            await self.health.enter_graceful_shutdown()
        if self.server is not None:
            await self.server.stop(self.cfg.shutdown_grace_s)
        self.stop_event.set()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=self.cfg.shutdown_grace_s)
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.drain()
        if self.engine is not None:
            await self.engine.dispose()
        if self.metrics_server is not None:
            self.metrics_server.close()
        telemetry.log(log, logging.INFO, "marketing stopped")


async def serve(cfg: Config) -> None:
    app = Marketing(cfg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
        await stop.wait()
    finally:
        await app.stop()


__all__ = ["SERVICE", "Marketing", "marketing_pb2", "serve"]
