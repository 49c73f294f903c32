"""Marketing in the whole system (run by `fdctl with-system`, see `make test-marketing`): the
real Rust services place, cook and deliver orders; marketing learns of them only through their
events and answers through its own API."""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import TypeVar

import grpc
import pytest
from fooddelivery.delivery.v1 import delivery_pb2, delivery_pb2_grpc
from fooddelivery.marketing.v1 import marketing_pb2, marketing_pb2_grpc
from fooddelivery.order.v2 import order_pb2, order_pb2_grpc
from fooddelivery.store.v1 import store_pb2, store_pb2_grpc

T = TypeVar("T")


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests with fdctl with-system (make test-marketing)")
    return value


def token(user: str, role: str) -> list[tuple[str, str]]:
    body = urllib.parse.urlencode({"grant_type": "password", "username": user, "role": role}).encode()
    with urllib.request.urlopen(f"{env('FD_ISSUER_URL')}/token", data=body, timeout=5) as resp:
        return [("authorization", f"Bearer {json.load(resp)['access_token']}")]


def until(check: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s; last: {last!r}")


def retry(call: Callable[[], T], timeout: float = 30.0) -> T:
    """Calls until the eventually consistent side has caught up (a ticket, a delivery)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except grpc.RpcError as e:
            if time.monotonic() > deadline or e.code() not in (
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.FAILED_PRECONDITION,
            ):
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def channels():  # type: ignore[no-untyped-def]
    names = ("ORDER", "STORE", "DELIVERY", "MARKETING")
    chans = {n: grpc.insecure_channel(env(f"FD_{n}_ADDR")) for n in names}
    yield chans
    for c in chans.values():
        c.close()


def order_delivered(channels, customer: str, lines: list[tuple[str, int]]) -> str:  # type: ignore[no-untyped-def]
    orders = order_pb2_grpc.OrderServiceStub(channels["ORDER"])
    placed = orders.PlaceOrder(
        order_pb2.PlaceOrderRequest(
            idempotency_key=str(uuid.uuid4()),
            customer_id=customer,
            store_id="store-1",
            lines=[order_pb2.OrderLine(menu_item_id=i, quantity=q) for i, q in lines],
            delivery_address="1 Main St",
        ),
        metadata=token(customer, "customer"),
    ).order
    store = store_pb2_grpc.StoreServiceStub(channels["STORE"])
    olga = token("olga", "owner")
    retry(lambda: store.AcceptOrder(store_pb2.AcceptOrderRequest(order_id=placed.order_id), metadata=olga))
    store.FinishCooking(store_pb2.FinishCookingRequest(order_id=placed.order_id), metadata=olga)
    deliveries = delivery_pb2_grpc.DeliveryServiceStub(channels["DELIVERY"])
    rider = token("rita", "rider")
    retry(
        lambda: deliveries.PickUp(
            delivery_pb2.PickUpRequest(order_id=placed.order_id, rider_id="rita"), metadata=rider
        )
    )
    deliveries.CompleteDelivery(
        delivery_pb2.CompleteDeliveryRequest(order_id=placed.order_id), metadata=rider
    )
    return str(placed.order_id)


def test_a_best_customer_of_the_real_system_gets_a_coupon_and_recommendations(channels) -> None:  # type: ignore[no-untyped-def]
    marketing = marketing_pb2_grpc.MarketingServiceStub(channels["MARKETING"])
    me = f"mk-{uuid.uuid4().hex[:8]}"
    others = [f"mk-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for o in others:
        order_delivered(channels, o, [("pizza", 1), ("cola", 2)])
    for _ in range(3):
        order_delivered(channels, me, [("pizza", 1)])
    mine = token(me, "customer")

    def coupons() -> list[marketing_pb2.Coupon]:
        return list(
            marketing.ListCoupons(marketing_pb2.ListCouponsRequest(customer_id=me), metadata=mine).coupons
        )

    [coupon] = until(coupons)
    assert coupon.delivered_orders == 3 and coupon.spend.amount_minor == 3 * 1250
    assert coupon.spend.currency_code == "EUR" and coupon.percent_off == 10
    # The others had two items each but one delivered order: no coupon for them.
    assert not marketing.ListCoupons(
        marketing_pb2.ListCouponsRequest(customer_id=others[0]), metadata=token(others[0], "customer")
    ).coupons
    recs = marketing.ListRecommendations(
        marketing_pb2.ListRecommendationsRequest(customer_id=me), metadata=mine
    ).recommendations
    assert [(r.menu_item_id, r.name, r.because_of_menu_item_id) for r in recs][:1] == [
        ("cola", "Cola", "pizza")
    ]
    # Another customer may not look.
    with pytest.raises(grpc.RpcError) as e:
        marketing.ListCoupons(
            marketing_pb2.ListCouponsRequest(customer_id=me), metadata=token(others[0], "customer")
        )
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
