"""``python -m fd_marketing.health [HOST:PORT]``: exit 0 if marketing reports SERVING (the
container's health check; Kubernetes uses its native gRPC probe)."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .api import SERVICE_NAME


def main() -> int:
    addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    with grpc.insecure_channel(addr) as channel:
        try:
            resp = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=2
            )
        except grpc.RpcError as e:
            print(f"{addr}: {e.code().name}", file=sys.stderr)
            return 1
    serving = resp.status == health_pb2.HealthCheckResponse.SERVING
    print(f"{addr}: {health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)}")
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
