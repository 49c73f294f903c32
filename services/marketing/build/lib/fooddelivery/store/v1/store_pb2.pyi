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

class TicketState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TICKET_STATE_UNSPECIFIED: _ClassVar[TicketState]
    TICKET_STATE_NEW: _ClassVar[TicketState]
    TICKET_STATE_ACCEPTED: _ClassVar[TicketState]
    TICKET_STATE_REJECTED: _ClassVar[TicketState]
    TICKET_STATE_COOKING_FINISHED: _ClassVar[TicketState]
    TICKET_STATE_VOIDED: _ClassVar[TicketState]
TICKET_STATE_UNSPECIFIED: TicketState
TICKET_STATE_NEW: TicketState
TICKET_STATE_ACCEPTED: TicketState
TICKET_STATE_REJECTED: TicketState
TICKET_STATE_COOKING_FINISHED: TicketState
TICKET_STATE_VOIDED: TicketState

class TicketItem(_message.Message):
    __slots__ = ("menu_item_id", "name", "quantity")
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    menu_item_id: str
    name: str
    quantity: int
    def __init__(self, menu_item_id: _Optional[str] = ..., name: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class StoreOrder(_message.Message):
    __slots__ = ("order_id", "store_id", "items", "total", "state", "reject_reason", "create_time", "update_time")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    store_id: str
    items: _containers.RepeatedCompositeFieldContainer[TicketItem]
    total: _common_pb2.Money
    state: TicketState
    reject_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, order_id: _Optional[str] = ..., store_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[TicketItem, _Mapping]]] = ..., total: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., state: _Optional[_Union[TicketState, str]] = ..., reject_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListStoreOrdersRequest(_message.Message):
    __slots__ = ("store_id", "state", "page_size", "page_token")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    state: TicketState
    page_size: int
    page_token: str
    def __init__(self, store_id: _Optional[str] = ..., state: _Optional[_Union[TicketState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStoreOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[StoreOrder]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[StoreOrder, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AcceptOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class AcceptOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: StoreOrder
    def __init__(self, order: _Optional[_Union[StoreOrder, _Mapping]] = ...) -> None: ...

class RejectOrderRequest(_message.Message):
    __slots__ = ("order_id", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    reason: str
    def __init__(self, order_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: StoreOrder
    def __init__(self, order: _Optional[_Union[StoreOrder, _Mapping]] = ...) -> None: ...

class FinishCookingRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class FinishCookingResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: StoreOrder
    def __init__(self, order: _Optional[_Union[StoreOrder, _Mapping]] = ...) -> None: ...

class Store(_message.Message):
    __slots__ = ("store_id", "owner_id", "name", "currency_code", "open", "create_time", "update_time", "version")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    owner_id: str
    name: str
    currency_code: str
    open: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, store_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., name: _Optional[str] = ..., currency_code: _Optional[str] = ..., open: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class MenuItem(_message.Message):
    __slots__ = ("store_id", "menu_item_id", "name", "description", "price", "available", "update_time", "version")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    menu_item_id: str
    name: str
    description: str
    price: _common_pb2.Money
    available: bool
    update_time: _timestamp_pb2.Timestamp
    version: int
    def __init__(self, store_id: _Optional[str] = ..., menu_item_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., available: _Optional[bool] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class CreateStoreRequest(_message.Message):
    __slots__ = ("store_id", "owner_id", "name", "currency_code", "open")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    owner_id: str
    name: str
    currency_code: str
    open: bool
    def __init__(self, store_id: _Optional[str] = ..., owner_id: _Optional[str] = ..., name: _Optional[str] = ..., currency_code: _Optional[str] = ..., open: _Optional[bool] = ...) -> None: ...

class CreateStoreResponse(_message.Message):
    __slots__ = ("store",)
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class UpdateStoreRequest(_message.Message):
    __slots__ = ("store_id", "name", "open")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    name: str
    open: bool
    def __init__(self, store_id: _Optional[str] = ..., name: _Optional[str] = ..., open: _Optional[bool] = ...) -> None: ...

class UpdateStoreResponse(_message.Message):
    __slots__ = ("store",)
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: Store
    def __init__(self, store: _Optional[_Union[Store, _Mapping]] = ...) -> None: ...

class CreateMenuItemRequest(_message.Message):
    __slots__ = ("store_id", "menu_item_id", "name", "description", "price", "available")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    menu_item_id: str
    name: str
    description: str
    price: _common_pb2.Money
    available: bool
    def __init__(self, store_id: _Optional[str] = ..., menu_item_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., available: _Optional[bool] = ...) -> None: ...

class CreateMenuItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: MenuItem
    def __init__(self, item: _Optional[_Union[MenuItem, _Mapping]] = ...) -> None: ...

class UpdateMenuItemRequest(_message.Message):
    __slots__ = ("store_id", "menu_item_id", "name", "description", "price", "available")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    menu_item_id: str
    name: str
    description: str
    price: _common_pb2.Money
    available: bool
    def __init__(self, store_id: _Optional[str] = ..., menu_item_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., price: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., available: _Optional[bool] = ...) -> None: ...

class UpdateMenuItemResponse(_message.Message):
    __slots__ = ("item",)
    ITEM_FIELD_NUMBER: _ClassVar[int]
    item: MenuItem
    def __init__(self, item: _Optional[_Union[MenuItem, _Mapping]] = ...) -> None: ...

class DeleteMenuItemRequest(_message.Message):
    __slots__ = ("store_id", "menu_item_id")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    menu_item_id: str
    def __init__(self, store_id: _Optional[str] = ..., menu_item_id: _Optional[str] = ...) -> None: ...

class DeleteMenuItemResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
