"""gRPC errors as Python exceptions, with the google.rpc details the services send."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, as named by the service (e.g. ``items[0].quantity``)."""

    field: str
    description: str


@dataclass
class ServiceError(Exception):
    """A call failed: the gRPC status code, its message and the structured details."""

    code: grpc.StatusCode
    message: str
    field_violations: List[FieldViolation] = field(default_factory=list)
    retry_after_seconds: Optional[float] = None
    reason: Optional[str] = None

    def __str__(self) -> str:
        fields = ", ".join(v.field for v in self.field_violations)
        return f"{self.code.name}: {self.message}" + (f" [{fields}]" if fields else "")

    @classmethod
    def from_rpc_error(cls, err: grpc.RpcError) -> "ServiceError":
        code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
        message = err.details() if hasattr(err, "details") else str(err)
        out = cls(code=code, message=message or "")
        status = rpc_status.from_call(err) if hasattr(err, "trailing_metadata") else None
        for detail in status.details if status else []:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                out.field_violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                out.retry_after_seconds = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                out.reason = info.reason
        return out
