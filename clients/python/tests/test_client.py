"""The Python client against the running system (started by `fdctl with-system`, see make test-clients)."""
import asyncio
import json
import os
import urllib.parse
import urllib.request
import uuid

import grpc
import pytest

from fooddelivery.order.v1 import events_pb2, order_pb2
from fooddelivery_client import Item, OrderClient, ServiceError, subscribe


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests with fdctl with-system (make test-clients)")
    return value


def token_for(user: str, role: str = "customer") -> str:
    """A token from the system's issuer (FD_ISSUER_URL), as a sign-in would give one."""
    body = urllib.parse.urlencode({"grant_type": "password", "username": user, "role": role}).encode()
    with urllib.request.urlopen(f"{env('FD_ISSUER_URL')}/token", data=body, timeout=5) as resp:
        return json.load(resp)["access_token"]


@pytest.fixture
def who() -> str:
    """A fresh customer for each test."""
    return f"py-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def orders(who):
    with OrderClient(env("FD_ORDER_ADDR"), token=token_for(who)) as client:
        yield client


ITEMS = [Item("pizza", "Margherita", 2, 1250), Item("cola", "Cola", 1, 400)]


def test_place_get_and_cancel_an_order(orders, who):
    placed = orders.place_order(customer_id=who, store_id="store-1", items=ITEMS, delivery_address="1 Main St")
    assert placed.order_id
    assert placed.customer_id == who
    assert placed.state == order_pb2.ORDER_STATE_PLACED
    assert (placed.total.amount_minor, placed.total.currency_code) == (2 * 1250 + 400, "EUR")
    assert placed.payment_id, "the order was paid before it existed"

    got = orders.get_order(placed.order_id)
    assert (got.order_id, got.total.amount_minor, list(got.items)) == (placed.order_id, 2900, list(placed.items))
    assert [o.order_id for o in orders.list_orders(who)] == [placed.order_id]

    cancelled = orders.cancel_order(placed.order_id, reason="changed my mind")
    assert cancelled.state == order_pb2.ORDER_STATE_CANCELLED
    assert cancelled.cancel_reason == "changed my mind"
    # Cancelling again is a no-op that returns the order.
    assert orders.cancel_order(placed.order_id).state == order_pb2.ORDER_STATE_CANCELLED


def test_a_retry_with_the_same_key_returns_the_same_order(orders, who):
    key = str(uuid.uuid4())
    first = orders.place_order(customer_id=who, store_id="store-1", items=ITEMS, delivery_address="x", idempotency_key=key)
    again = orders.place_order(customer_id=who, store_id="store-1", items=ITEMS, delivery_address="x", idempotency_key=key)
    assert again.order_id == first.order_id
    assert again.payment_id == first.payment_id


def test_bad_input_names_each_bad_field(orders):
    with pytest.raises(ServiceError) as err:
        orders.place_order(customer_id="", store_id="store-1", items=[Item("pizza", "Margherita", 0, 1250)], delivery_address="x")
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    fields = {v.field for v in err.value.field_violations}
    assert {"customer_id", "items[0].quantity"} <= fields, fields
    with pytest.raises(ServiceError) as err:
        orders.get_order(str(uuid.uuid4()))
    assert err.value.code == grpc.StatusCode.NOT_FOUND


def test_without_a_token_nothing_is_answered():
    with OrderClient(env("FD_ORDER_ADDR")) as anonymous:
        with pytest.raises(ServiceError) as err:
            anonymous.get_order(str(uuid.uuid4()))
    assert err.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_someone_elses_order_is_not_found(orders, who):
    placed = orders.place_order(customer_id=who, store_id="store-1", items=ITEMS, delivery_address="x")
    with OrderClient(env("FD_ORDER_ADDR"), token=token_for(who + "-other")) as other:
        with pytest.raises(ServiceError) as err:
            other.get_order(placed.order_id)
    assert err.value.code == grpc.StatusCode.NOT_FOUND


def test_events_decode_with_their_cloudevents_headers(orders, who):
    async def scenario():
        async with subscribe(env("NATS_URL"), ["fooddelivery.order.v1.>"]) as events:
            placed = orders.place_order(customer_id=who, store_id="store-1", items=ITEMS, delivery_address="2 Side St")
            orders.cancel_order(placed.order_id, reason="test")
            seen = {}
            while len(seen) < 2:
                event = await events.next(timeout=10)
                if event.subject == placed.order_id:
                    seen[event.type] = event
            return placed, seen

    placed, seen = asyncio.run(scenario())
    p = seen["fooddelivery.order.v1.OrderPlaced"]
    c = seen["fooddelivery.order.v1.OrderCancelled"]
    for e in (p, c):
        assert e.specversion == "1.0"
        assert e.source == "/fooddelivery/order"
        assert e.content_type == "application/protobuf"
        assert e.id == e.message.metadata.event_id and e.id
        assert e.message.metadata.aggregate_id == placed.order_id
        assert e.time
    assert isinstance(p.message, events_pb2.OrderPlaced)
    assert (p.message.order_id, p.message.customer_id, p.message.total.amount_minor) == (placed.order_id, placed.customer_id, 2900)
    assert p.message.payment_id == placed.payment_id
    assert [i.menu_item_id for i in p.message.items] == ["pizza", "cola"]
    assert isinstance(c.message, events_pb2.OrderCancelled)
    assert (c.message.order_id, c.message.reason) == (placed.order_id, "test")
    assert c.message.cancelled_by == events_pb2.CANCELLED_BY_CUSTOMER


def test_reflection_v1alpha_lists_every_service():
    """grpcio-reflection (like Postman and evans) speaks only v1alpha reflection."""
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    for name, service in [
        ("FD_ORDER_ADDR", "fooddelivery.order.v1.OrderService"),
        ("FD_PAYMENT_ADDR", "fooddelivery.payment.v1.PaymentService"),
        ("FD_STORE_ADDR", "fooddelivery.store.v1.StoreService"),
        ("FD_DELIVERY_ADDR", "fooddelivery.delivery.v1.DeliveryService"),
        ("FD_NOTIFICATION_ADDR", "fooddelivery.notification.v1.NotificationService"),
    ]:
        with grpc.insecure_channel(env(name)) as channel:
            services = ProtoReflectionDescriptorDatabase(channel).get_services()
        assert service in services, (name, services)
        assert "grpc.health.v1.Health" in services
