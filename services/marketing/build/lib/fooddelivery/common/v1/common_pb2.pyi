import datetime

from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
EVENT_FIELD_NUMBER: _ClassVar[int]
event: _descriptor.FieldDescriptor

class Money(_message.Message):
    __slots__ = ("amount_minor", "currency_code")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency_code: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency_code: _Optional[str] = ...) -> None: ...

class EventMetadata(_message.Message):
    __slots__ = ("event_id", "occurred_at", "aggregate_id", "aggregate_version")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_VERSION_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    aggregate_id: str
    aggregate_version: int
    def __init__(self, event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., aggregate_id: _Optional[str] = ..., aggregate_version: _Optional[int] = ...) -> None: ...

class EventOptions(_message.Message):
    __slots__ = ("aggregate_type",)
    AGGREGATE_TYPE_FIELD_NUMBER: _ClassVar[int]
    aggregate_type: str
    def __init__(self, aggregate_type: _Optional[str] = ...) -> None: ...
