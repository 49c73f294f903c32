from fooddelivery.common.v1 import common_pb2 as _common_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveryStarted(_message.Message):
    __slots__ = ("metadata", "delivery_id", "order_id", "rider_id", "customer_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    RIDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    delivery_id: str
    order_id: str
    rider_id: str
    customer_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., delivery_id: _Optional[str] = ..., order_id: _Optional[str] = ..., rider_id: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class Delivered(_message.Message):
    __slots__ = ("metadata", "delivery_id", "order_id", "rider_id", "customer_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    RIDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    delivery_id: str
    order_id: str
    rider_id: str
    customer_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., delivery_id: _Optional[str] = ..., order_id: _Optional[str] = ..., rider_id: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class DeliveryCancelled(_message.Message):
    __slots__ = ("metadata", "delivery_id", "order_id", "customer_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    delivery_id: str
    order_id: str
    customer_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., delivery_id: _Optional[str] = ..., order_id: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...
