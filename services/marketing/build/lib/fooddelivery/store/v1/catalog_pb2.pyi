from fooddelivery.store.v1 import store_pb2 as _store_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListStoresRequest(_message.Message):
    __slots__ = ("open_only", "page_size", "page_token")
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    open_only: bool
    page_size: int
    page_token: str
    def __init__(self, open_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStoresResponse(_message.Message):
    __slots__ = ("stores", "next_page_token")
    STORES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    stores: _containers.RepeatedCompositeFieldContainer[_store_pb2.Store]
    next_page_token: str
    def __init__(self, stores: _Optional[_Iterable[_Union[_store_pb2.Store, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetStoreRequest(_message.Message):
    __slots__ = ("store_id",)
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    def __init__(self, store_id: _Optional[str] = ...) -> None: ...

class GetStoreResponse(_message.Message):
    __slots__ = ("store",)
    STORE_FIELD_NUMBER: _ClassVar[int]
    store: _store_pb2.Store
    def __init__(self, store: _Optional[_Union[_store_pb2.Store, _Mapping]] = ...) -> None: ...

class ListMenuItemsRequest(_message.Message):
    __slots__ = ("store_id", "page_size", "page_token")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    page_size: int
    page_token: str
    def __init__(self, store_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMenuItemsResponse(_message.Message):
    __slots__ = ("items", "next_page_token")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_store_pb2.MenuItem]
    next_page_token: str
    def __init__(self, items: _Optional[_Iterable[_Union[_store_pb2.MenuItem, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
