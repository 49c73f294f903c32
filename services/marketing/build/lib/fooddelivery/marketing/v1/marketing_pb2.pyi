import datetime

from fooddelivery.common.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Coupon(_message.Message):
    __slots__ = ("coupon_id", "customer_id", "code", "percent_off", "period", "delivered_orders", "spend", "issue_time", "expire_time")
    COUPON_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_OFF_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_ORDERS_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    ISSUE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    coupon_id: str
    customer_id: str
    code: str
    percent_off: int
    period: str
    delivered_orders: int
    spend: _common_pb2.Money
    issue_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, coupon_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., code: _Optional[str] = ..., percent_off: _Optional[int] = ..., period: _Optional[str] = ..., delivered_orders: _Optional[int] = ..., spend: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., issue_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Recommendation(_message.Message):
    __slots__ = ("store_id", "menu_item_id", "name", "score", "because_of_menu_item_id")
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    BECAUSE_OF_MENU_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    store_id: str
    menu_item_id: str
    name: str
    score: int
    because_of_menu_item_id: str
    def __init__(self, store_id: _Optional[str] = ..., menu_item_id: _Optional[str] = ..., name: _Optional[str] = ..., score: _Optional[int] = ..., because_of_menu_item_id: _Optional[str] = ...) -> None: ...

class Digest(_message.Message):
    __slots__ = ("digest_id", "customer_id", "local_date", "time_zone", "send_time", "recommendations", "coupon_codes")
    DIGEST_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DATE_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    COUPON_CODES_FIELD_NUMBER: _ClassVar[int]
    digest_id: str
    customer_id: str
    local_date: str
    time_zone: str
    send_time: _timestamp_pb2.Timestamp
    recommendations: _containers.RepeatedCompositeFieldContainer[Recommendation]
    coupon_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, digest_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., local_date: _Optional[str] = ..., time_zone: _Optional[str] = ..., send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recommendations: _Optional[_Iterable[_Union[Recommendation, _Mapping]]] = ..., coupon_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCouponsRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCouponsResponse(_message.Message):
    __slots__ = ("coupons", "next_page_token")
    COUPONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    coupons: _containers.RepeatedCompositeFieldContainer[Coupon]
    next_page_token: str
    def __init__(self, coupons: _Optional[_Iterable[_Union[Coupon, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListRecommendationsRequest(_message.Message):
    __slots__ = ("customer_id", "max_results")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    max_results: int
    def __init__(self, customer_id: _Optional[str] = ..., max_results: _Optional[int] = ...) -> None: ...

class ListRecommendationsResponse(_message.Message):
    __slots__ = ("recommendations",)
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    recommendations: _containers.RepeatedCompositeFieldContainer[Recommendation]
    def __init__(self, recommendations: _Optional[_Iterable[_Union[Recommendation, _Mapping]]] = ...) -> None: ...

class SetDigestPreferencesRequest(_message.Message):
    __slots__ = ("customer_id", "time_zone", "enabled")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    time_zone: str
    enabled: bool
    def __init__(self, customer_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class SetDigestPreferencesResponse(_message.Message):
    __slots__ = ("customer_id", "time_zone", "enabled")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    time_zone: str
    enabled: bool
    def __init__(self, customer_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class ListDigestsRequest(_message.Message):
    __slots__ = ("customer_id", "page_size", "page_token")
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDigestsResponse(_message.Message):
    __slots__ = ("digests", "next_page_token")
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    digests: _containers.RepeatedCompositeFieldContainer[Digest]
    next_page_token: str
    def __init__(self, digests: _Optional[_Iterable[_Union[Digest, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
