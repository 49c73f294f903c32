from fooddelivery.common.v1 import common_pb2 as _common_pb2
from fooddelivery.store.v1 import store_pb2 as _store_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OrderAccepted(_message.Message):
    __slots__ = ("metadata", "order_id", "store_id", "customer_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    order_id: str
    store_id: str
    customer_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., order_id: _Optional[str] = ..., store_id: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class OrderRejected(_message.Message):
    __slots__ = ("metadata", "order_id", "store_id", "reason", "customer_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    order_id: str
    store_id: str
    reason: str
    customer_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., order_id: _Optional[str] = ..., store_id: _Optional[str] = ..., reason: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class CookingFinished(_message.Message):
    __slots__ = ("metadata", "order_id", "store_id", "customer_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    order_id: str
    store_id: str
    customer_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., order_id: _Optional[str] = ..., store_id: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class StoreCreated(_message.Message):
    __slots__ = ("metadata", "store")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    store: _store_pb2.Store
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., store: _Optional[_Union[_store_pb2.Store, _Mapping]] = ...) -> None: ...

class StoreUpdated(_message.Message):
    __slots__ = ("metadata", "store")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    store: _store_pb2.Store
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., store: _Optional[_Union[_store_pb2.Store, _Mapping]] = ...) -> None: ...

class MenuItemAdded(_message.Message):
    __slots__ = ("metadata", "item")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    item: _store_pb2.MenuItem
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., item: _Optional[_Union[_store_pb2.MenuItem, _Mapping]] = ...) -> None: ...

class MenuItemUpdated(_message.Message):
    __slots__ = ("metadata", "item")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    item: _store_pb2.MenuItem
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., item: _Optional[_Union[_store_pb2.MenuItem, _Mapping]] = ...) -> None: ...

class MenuItemRemoved(_message.Message):
    __slots__ = ("metadata", "store_id", "menu_item_id")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    store_id: str
    menu_item_id: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., store_id: _Optional[str] = ..., menu_item_id: _Optional[str] = ...) -> None: ...
