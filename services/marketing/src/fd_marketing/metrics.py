"""Prometheus metrics at ``http://METRICS_ADDR/metrics``, under the names and labels the Rust
services export (libs/chassis/src/metrics.rs), so the dashboard, the alerts and the canary
analysis read marketing like any other service: RPC durations, consumer pending and lag, event
processing by outcome, dead letters, outbox backlog; plus marketing's own coupons and digests.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from . import SERVICE, VERSION

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
Labels = tuple[tuple[str, str], ...]


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    n: int = 0


@dataclass
class Metric:
    name: str
    kind: str  # counter, gauge, histogram
    help: str
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, _Histogram] = field(default_factory=lambda: defaultdict(_Histogram))


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, Metric] = {}

    def _metric(self, name: str, kind: str, help_: str) -> Metric:
        m = self._metrics.get(name)
        if m is None:
            m = self._metrics[name] = Metric(name, kind, help_)
        return m

    def add(self, name: str, help_: str, value: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            m = self._metric(name, "counter", help_)
            m.values[key] = m.values.get(key, 0) + value

    def set(self, name: str, help_: str, value: float, **labels: str) -> None:
        with self._lock:
            self._metric(name, "gauge", help_).values[tuple(sorted(labels.items()))] = value

    def observe(self, name: str, help_: str, seconds: float, **labels: str) -> None:
        with self._lock:
            h = self._metric(name, "histogram", help_).histograms[tuple(sorted(labels.items()))]
            h.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            h.total += seconds
            h.n += 1

    def render(self) -> str:
        constant: Labels = (("service_name", SERVICE), ("service_version", VERSION))

        def fmt(labels: Labels, extra: Labels = ()) -> str:
            parts = [f'{k}="{_escape(v)}"' for k, v in (*constant, *labels, *extra)]
            return "{" + ",".join(parts) + "}"

        out = [
            "# HELP target_info The resource this process reports as",
            "# TYPE target_info gauge",
            f'target_info{{service_name="{SERVICE}",service_namespace="fooddelivery",'
            f'service_version="{VERSION}",telemetry_sdk_language="python"}} 1',
        ]
        with self._lock:
            for m in sorted(self._metrics.values(), key=lambda m: m.name):
                out.append(f"# HELP {m.name} {m.help}")
                out.append(f"# TYPE {m.name} {m.kind}")
                if m.kind == "histogram":
                    for labels, h in sorted(m.histograms.items()):
                        cumulative = 0
                        for bound, count in zip(BUCKETS, h.counts, strict=False):
                            cumulative += count
                            out.append(f"{m.name}_bucket{fmt(labels, (('le', repr(bound)),))} {cumulative}")
                        out.append(f"{m.name}_bucket{fmt(labels, (('le', '+Inf'),))} {h.n}")
                        out.append(f"{m.name}_sum{fmt(labels)} {h.total}")
                        out.append(f"{m.name}_count{fmt(labels)} {h.n}")
                else:
                    for labels, value in sorted(m.values.items()):
                        out.append(f"{m.name}{fmt(labels)} {value:g}")
        return "\n".join(out) + "\n"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


REGISTRY = Registry()


async def serve(addr: str) -> asyncio.Server:
    """Serves ``GET /metrics`` on ``addr`` (host:port)."""
    host, _, port = addr.rpartition(":")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] == b"/metrics":
                body = REGISTRY.render().encode()
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
            else:
                body, head = b"not found\n", b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
            writer.write(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host.strip("[]") or "0.0.0.0", int(port))  # noqa: S104
