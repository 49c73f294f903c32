from fooddelivery.common.v1 import common_pb2 as _common_pb2
from fooddelivery.marketing.v1 import marketing_pb2 as _marketing_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CouponIssued(_message.Message):
    __slots__ = ("metadata", "coupon")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    COUPON_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    coupon: _marketing_pb2.Coupon
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., coupon: _Optional[_Union[_marketing_pb2.Coupon, _Mapping]] = ...) -> None: ...

class DigestSent(_message.Message):
    __slots__ = ("metadata", "digest")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    metadata: _common_pb2.EventMetadata
    digest: _marketing_pb2.Digest
    def __init__(self, metadata: _Optional[_Union[_common_pb2.EventMetadata, _Mapping]] = ..., digest: _Optional[_Union[_marketing_pb2.Digest, _Mapping]] = ...) -> None: ...
