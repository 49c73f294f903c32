"""The order API (fooddelivery.order.v1.OrderService) as plain Python calls."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import grpc
from fooddelivery.common.v1 import common_pb2
from fooddelivery.order.v1 import order_pb2, order_pb2_grpc

from .errors import ServiceError

Order = order_pb2.Order


@dataclass(frozen=True)
class Item:
    """One line of an order: a menu item, how many, and the price of one in minor units."""

    menu_item_id: str
    name: str
    quantity: int
    unit_price_minor: int


class OrderClient:
    """Places, reads, lists, watches and cancels orders. Every failure is a ServiceError."""

    def __init__(
        self,
        target: str,
        *,
        token: Optional[str] = None,
        timeout: float = 5.0,
        channel: Optional[grpc.Channel] = None,
    ):
        """`token` is the caller's access token (an OIDC JWT); every call sends it as
        `authorization: Bearer <token>`. The services refuse calls without one."""
        self._channel = channel or grpc.insecure_channel(target)
        self._stub = order_pb2_grpc.OrderServiceStub(self._channel)
        self._timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def __enter__(self) -> "OrderClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as err:
            raise ServiceError.from_rpc_error(err) from None

    def place_order(
        self,
        *,
        customer_id: str,
        store_id: str,
        items: Sequence[Item],
        delivery_address: str,
        currency: str = "EUR",
        idempotency_key: Optional[str] = None,
    ) -> Order:
        """Places an order and pays it. Retrying with the same idempotency_key is safe."""
        request = order_pb2.PlaceOrderRequest(
            idempotency_key=idempotency_key or str(uuid.uuid4()),
            customer_id=customer_id,
            store_id=store_id,
            delivery_address=delivery_address,
            items=[
                order_pb2.LineItem(
                    menu_item_id=i.menu_item_id,
                    name=i.name,
                    quantity=i.quantity,
                    unit_price=common_pb2.Money(amount_minor=i.unit_price_minor, currency_code=currency),
                )
                for i in items
            ],
        )
        return self._call(self._stub.PlaceOrder, request).order

    def get_order(self, order_id: str) -> Order:
        return self._call(self._stub.GetOrder, order_pb2.GetOrderRequest(order_id=order_id)).order

    def cancel_order(self, order_id: str, reason: str = "") -> Order:
        return self._call(self._stub.CancelOrder, order_pb2.CancelOrderRequest(order_id=order_id, reason=reason)).order

    def list_orders(self, customer_id: str, page_size: int = 50) -> Iterator[Order]:
        """Every order of a customer, newest first, fetching a page at a time."""
        token = ""
        while True:
            page = self._call(
                self._stub.ListOrders,
                order_pb2.ListOrdersRequest(customer_id=customer_id, page_size=page_size, page_token=token),
            )
            yield from page.orders
            token = page.next_page_token
            if not token:
                return

    def watch_order(self, order_id: str) -> Iterator[Order]:
        """The order now, then after each change, until it is delivered or cancelled."""
        try:
            for update in self._stub.WatchOrder(order_pb2.WatchOrderRequest(order_id=order_id), metadata=self._metadata):
                yield update.order
        except grpc.RpcError as err:
            raise ServiceError.from_rpc_error(err) from None
