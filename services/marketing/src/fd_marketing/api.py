"""``fooddelivery.marketing.v1.MarketingService``: every RPC checks the caller's token first
(UNAUTHENTICATED), then who may see what (PERMISSION_DENIED), then the request (INVALID_ARGUMENT
with a ``BadRequest`` naming the field at fault)."""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from fooddelivery.marketing.v1 import marketing_pb2, marketing_pb2_grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Row, Select, desc, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from . import telemetry
from .auth import PermissionDenied, Unauthenticated, Verifier
from .clock import Clock
from .config import DigestSettings, valid_time_zone
from .db import upsert_replace
from .metrics import REGISTRY
from .schema import coupons, digest_subscribers, digests
from .store import coupon_message, recommendation_message, recommendations

log = logging.getLogger("fd_marketing.api")
SERVICE_NAME = marketing_pb2.DESCRIPTOR.services_by_name["MarketingService"].full_name
RPC_DURATION, RPC_HELP = "rpc_server_call_duration_seconds", "Duration of RPCs served"
Req = TypeVar("Req")
Resp = TypeVar("Resp")


class Invalid(Exception):
    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field, self.description = field, description


def _status(code: grpc.StatusCode, message: str, details: list[Any] | None = None) -> grpc.Status:
    proto = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    for d in details or []:
        packed = any_pb2.Any()
        packed.Pack(d)
        proto.details.append(packed)
    return rpc_status.to_status(proto)


def rpc(
    fn: Callable[[Any, Req, grpc.aio.ServicerContext, str], Awaitable[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    """Token, span, the customer every RPC names (customers their own, operators anyone's),
    and the one mapping from errors to status codes. The method gets the checked customer id."""
    method = fn.__name__

    @functools.wraps(fn)
    async def handler(self: MarketingApi, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        md = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        started = time.perf_counter()
        labels = {"rpc_system_name": "grpc", "rpc_method": f"{SERVICE_NAME}/{method}"}
        with telemetry.tracer.start_as_current_span(
            f"{SERVICE_NAME}/{method}",
            context=telemetry.extract(md),
            kind=SpanKind.SERVER,
            # The current RPC semantic conventions, as the Rust services record them.
            attributes={"rpc.system.name": "grpc", "rpc.method": f"{SERVICE_NAME}/{method}"},
        ) as span:
            try:
                caller = await self.verifier.verify(md)
                customer = _customer(request.customer_id)  # type: ignore[attr-defined]
                caller.require_customer_or_operator(customer, method)
                result = await fn(self, request, context, customer)
                span.set_attribute("rpc.response.status_code", "OK")
                REGISTRY.observe(
                    RPC_DURATION,
                    RPC_HELP,
                    time.perf_counter() - started,
                    rpc_response_status_code="OK",
                    **labels,
                )
                return result
            except Unauthenticated as e:
                status = _status(grpc.StatusCode.UNAUTHENTICATED, str(e))
            except PermissionDenied as e:
                status = _status(grpc.StatusCode.PERMISSION_DENIED, str(e))
            except Invalid as e:
                bad = error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(field=e.field, description=e.description)
                    ]
                )
                status = _status(grpc.StatusCode.INVALID_ARGUMENT, str(e), [bad])
            except (SQLAlchemyError, OSError) as e:
                telemetry.log(log, logging.WARNING, "database unavailable", method=method, error=repr(e))
                status = _status(grpc.StatusCode.UNAVAILABLE, "marketing's database is unavailable; retry")
            span.set_attribute("rpc.response.status_code", status.code.name)
            REGISTRY.observe(
                RPC_DURATION,
                RPC_HELP,
                time.perf_counter() - started,
                rpc_response_status_code=status.code.name,
                **labels,
            )
            if status.code in (grpc.StatusCode.UNAVAILABLE,):
                span.set_status(Status(StatusCode.ERROR, status.details))
        await context.abort_with_status(status)
        raise AssertionError("abort_with_status returns only by raising")

    return handler


def _customer(value: str) -> str:
    if not value:
        raise Invalid("customer_id", "required")
    if len(value) > 128:
        raise Invalid("customer_id", "at most 128 characters")
    return value


def _page(size: int, token: str, max_size: int = 100) -> tuple[int, int]:
    if size < 0 or size > max_size:
        raise Invalid("page_size", f"must be 0 to {max_size}")
    offset = 0
    if token:
        try:
            kind, _, n = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            offset = int(n)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            kind = ""
        if kind != "o" or offset < 0:
            raise Invalid("page_token", "not a token this service handed out")
    return size or 20, offset


def _next(offset: int, size: int, more: bool) -> str:
    return base64.urlsafe_b64encode(f"o:{offset + size}".encode()).decode() if more else ""


class MarketingApi(marketing_pb2_grpc.MarketingServiceServicer):  # type: ignore[misc]
    def __init__(self, engine: AsyncEngine, verifier: Verifier, clock: Clock, digest: DigestSettings) -> None:
        self.engine, self.verifier, self.clock, self.digest = engine, verifier, clock, digest

    @rpc
    async def ListCoupons(
        self, request: marketing_pb2.ListCouponsRequest, context: grpc.aio.ServicerContext, customer: str
    ) -> marketing_pb2.ListCouponsResponse:
        rows, token = await self._page_of(
            select(coupons)
            .where(coupons.c.customer_id == customer)
            .order_by(desc(coupons.c.issued_at_ms), desc(coupons.c.coupon_id)),
            request.page_size,
            request.page_token,
        )
        return marketing_pb2.ListCouponsResponse(
            coupons=[coupon_message(r) for r in rows], next_page_token=token
        )

    async def _page_of(
        self, query: Select[Any], page_size: int, page_token: str
    ) -> tuple[list[Row[Any]], str]:
        """One page of ``query`` (newest first) and the token of the next."""
        size, offset = _page(page_size, page_token)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.offset(offset).limit(size + 1))).all()
        return list(rows[:size]), _next(offset, size, len(rows) > size)

    @rpc
    async def ListRecommendations(
        self,
        request: marketing_pb2.ListRecommendationsRequest,
        context: grpc.aio.ServicerContext,
        customer: str,
    ) -> marketing_pb2.ListRecommendationsResponse:
        if request.max_results < 0 or request.max_results > 50:
            raise Invalid("max_results", "must be 0 to 50")
        async with self.engine.connect() as conn:
            found = await recommendations(conn, customer, request.max_results or 5)
        return marketing_pb2.ListRecommendationsResponse(
            recommendations=[recommendation_message(r) for r in found]
        )

    @rpc
    async def SetDigestPreferences(
        self,
        request: marketing_pb2.SetDigestPreferencesRequest,
        context: grpc.aio.ServicerContext,
        customer: str,
    ) -> marketing_pb2.SetDigestPreferencesResponse:
        tz = request.time_zone or None
        if tz is not None and not valid_time_zone(tz):
            raise Invalid("time_zone", f"{tz!r} is not an IANA time zone (e.g. Europe/Berlin)")
        async with self.engine.begin() as conn:
            existing = (
                await conn.execute(
                    select(digest_subscribers).where(digest_subscribers.c.customer_id == customer)
                )
            ).first()
            await conn.execute(
                upsert_replace(
                    conn,
                    digest_subscribers,
                    ["customer_id"],
                    customer_id=customer,
                    time_zone=tz,
                    enabled=request.enabled,
                    known_since_ms=existing.known_since_ms if existing else self.clock.now_ms(),
                    last_sent_date=existing.last_sent_date if existing else None,
                )
            )
        return marketing_pb2.SetDigestPreferencesResponse(
            customer_id=customer, time_zone=tz or self.digest.default_time_zone, enabled=request.enabled
        )

    @rpc
    async def ListDigests(
        self, request: marketing_pb2.ListDigestsRequest, context: grpc.aio.ServicerContext, customer: str
    ) -> marketing_pb2.ListDigestsResponse:
        rows, token = await self._page_of(
            select(digests.c.body)
            .where(digests.c.customer_id == customer)
            .order_by(desc(digests.c.local_date), desc(digests.c.digest_id)),
            request.page_size,
            request.page_token,
        )
        return marketing_pb2.ListDigestsResponse(
            digests=[marketing_pb2.Digest.FromString(r.body) for r in rows], next_page_token=token
        )
