import datetime

from fooddelivery.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATE_UNSPECIFIED: _ClassVar[OrderState]
    ORDER_STATE_PLACED: _ClassVar[OrderState]
    ORDER_STATE_ACCEPTED: _ClassVar[OrderState]
    ORDER_STATE_READY_FOR_PICKUP: _ClassVar[OrderState]
    ORDER_STATE_OUT_FOR_DELIVERY: _ClassVar[OrderState]
    ORDER_STATE_DELIVERED: _ClassVar[OrderState]
    ORDER_STATE_CANCELLED: _ClassVar[OrderState]

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_AUTHORIZED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REFUNDED: _ClassVar[PaymentStatus]

class StoreStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STORE_STATUS_UNSPECIFIED: _ClassVar[StoreStatus]
    STORE_STATUS_WAITING: _ClassVar[StoreStatus]
    STORE_STATUS_ACCEPTED: _ClassVar[StoreStatus]
    STORE_STATUS_REJECTED: _ClassVar[StoreStatus]
    STORE_STATUS_COOKING_FINISHED: _ClassVar[StoreStatus]

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_NOT_STARTED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_WAITING_FOR_PICKUP: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_IN_TRANSIT: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_DELIVERED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_CANCELLED: _ClassVar[DeliveryStatus]
ORDER_STATE_UNSPECIFIED: OrderState
ORDER_STATE_PLACED: OrderState
ORDER_STATE_ACCEPTED: OrderState
ORDER_STATE_READY_FOR_PICKUP: OrderState
ORDER_STATE_OUT_FOR_DELIVERY: OrderState
ORDER_STATE_DELIVERED: OrderState
ORDER_STATE_CANCELLED: OrderState
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PAYMENT_STATUS_AUTHORIZED: PaymentStatus
PAYMENT_STATUS_REFUNDED: PaymentStatus
STORE_STATUS_UNSPECIFIED: StoreStatus
STORE_STATUS_WAITING: StoreStatus
STORE_STATUS_ACCEPTED: StoreStatus
STORE_STATUS_REJECTED: StoreStatus
STORE_STATUS_COOKING_FINISHED: StoreStatus
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_NOT_STARTED: DeliveryStatus
DELIVERY_STATUS_WAITING_FOR_PICKUP: DeliveryStatus
DELIVERY_STATUS_IN_TRANSIT: DeliveryStatus
DELIVERY_STATUS_DELIVERED: DeliveryStatus
DELIVERY_STATUS_CANCELLED: DeliveryStatus

class OrderLine(_message.Message):
    __slots__ = ("menu_item_id", "quantity")
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    menu_item_id: str
    quantity: int
    def __init__(self, menu_item_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class PricedLine(_message.Message):
    __slots__ = ("menu_item_id", "name", "quantity", "unit_price", "line_total")
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    LINE_TOTAL_FIELD_NUMBER: _ClassVar[int]
    menu_item_id: str
    name: str
    quantity: int
    unit_price: _common_pb2.Money
    line_total: _common_pb2.Money
    def __init__(self, menu_item_id: _Optional[str] = ..., name: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., line_total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class TimelineEntry(_message.Message):
    __slots__ = ("state", "time", "detail")
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    state: OrderState
    time: _timestamp_pb2.Timestamp
    detail: str
    def __init__(self, state: _Optional[_Union[OrderState, str]] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "customer_id", "store_id", "lines", "total", "delivery_address", "state", "payment_id", "payment_status", "store_status", "delivery_status", "timeline", "create_time", "update_time", "cancel_reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    STORE_STATUS_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    customer_id: str
    store_id: str
    lines: _containers.RepeatedCompositeFieldContainer[PricedLine]
    total: _common_pb2.Money
    delivery_address: str
    state: OrderState
    payment_id: str
    payment_status: PaymentStatus
    store_status: StoreStatus
    delivery_status: DeliveryStatus
    timeline: _containers.RepeatedCompositeFieldContainer[TimelineEntry]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    cancel_reason: str
    def __init__(self, order_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., store_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[PricedLine, _Mapping]]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., delivery_address: _Optional[str] = ..., state: _Optional[_Union[OrderState, str]] = ..., payment_id: _Optional[str] = ..., payment_status: _Optional[_Union[PaymentStatus, str]] = ..., store_status: _Optional[_Union[StoreStatus, str]] = ..., delivery_status: _Optional[_Union[DeliveryStatus, str]] = ..., timeline: _Optional[_Iterable[_Union[TimelineEntry, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_reason: _Optional[str] = ...) -> None: ...

class QuoteOrderRequest(_message.Message):
    __slots__ = ("store_id", "lines")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    def __init__(self, store_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ...) -> None: ...

class QuoteOrderResponse(_message.Message):
    __slots__ = ("lines", "total")
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[PricedLine]
    total: _common_pb2.Money
    def __init__(self, lines: _Optional[_Iterable[_Union[PricedLine, _Mapping]]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class PlaceOrderRequest(_message.Message):
    __slots__ = ("idempotency_key", "customer_id", "store_id", "lines", "delivery_address")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    customer_id: str
    store_id: str
    lines: _containers.RepeatedCompositeFieldContainer[OrderLine]
    delivery_address: str
    def __init__(self, idempotency_key: _Optional[str] = ..., customer_id: _Optional[str] = ..., store_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[OrderLine, _Mapping]]] = ..., delivery_address: _Optional[str] = ...) -> None: ...

class PlaceOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("order_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class WatchOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class WatchOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...
