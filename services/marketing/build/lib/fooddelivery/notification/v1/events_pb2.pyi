from fooddelivery.common.v1 import common_pb2 as _common_pb2
from fooddelivery.notification.v1 import notification_pb2 as _notification_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NotificationSent(_message.Message):
    __slots__ = ("metadata", "notification_id", "customer_id", "order_id", "channel", "source_event_type")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    notification_id: str
    customer_id: str
    order_id: str
    channel: _notification_pb2.Channel
    source_event_type: str
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., notification_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., order_id: _Optional[str] = ..., channel: _Optional[_Union[_notification_pb2.Channel, str]] = ..., source_event_type: _Optional[str] = ...) -> None: ...
