from fooddelivery.common.v1 import common_pb2 as _common_pb2
from fooddelivery.order.v1 import order_pb2 as _order_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CancelledBy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCELLED_BY_UNSPECIFIED: _ClassVar[CancelledBy]
    CANCELLED_BY_CUSTOMER: _ClassVar[CancelledBy]
    CANCELLED_BY_STORE: _ClassVar[CancelledBy]
CANCELLED_BY_UNSPECIFIED: CancelledBy
CANCELLED_BY_CUSTOMER: CancelledBy
CANCELLED_BY_STORE: CancelledBy

class OrderPlaced(_message.Message):
    __slots__ = ("metadata", "order_id", "customer_id", "store_id", "items", "total", "payment_id", "delivery_address")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    order_id: str
    customer_id: str
    store_id: str
    items: _containers.RepeatedCompositeFieldContainer[_order_pb2.LineItem]
    total: _common_pb2.Money
    payment_id: str
    delivery_address: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., order_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., store_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[_order_pb2.LineItem, _Mapping]]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., payment_id: _Optional[str] = ..., delivery_address: _Optional[str] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("metadata", "order_id", "customer_id", "reason", "cancelled_by", "payment_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_BY_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    order_id: str
    customer_id: str
    reason: str
    cancelled_by: CancelledBy
    payment_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., order_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., reason: _Optional[str] = ..., cancelled_by: _Optional[_Union[CancelledBy, str]] = ..., payment_id: _Optional[str] = ...) -> None: ...
