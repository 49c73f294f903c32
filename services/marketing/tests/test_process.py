"""The service as a process, the way it is deployed: configuration errors, refusals at start,
health and reflection, and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from conftest import ROOT, Issuer, NatsServer, free_port
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DATABASE_URL", "NATS_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "fd_marketing"],
        env={**clean, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_serving(addr: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        with grpc.insecure_channel(addr) as ch:
            try:
                r = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service="fooddelivery.marketing.v1.MarketingService"),
                    timeout=1,
                )
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        time.sleep(0.1)
    raise AssertionError("marketing did not become SERVING")


def test_bad_configuration_exits_2_naming_every_variable() -> None:
    proc = start({"LISTEN_ADDR": "nowhere", "DIGEST_HOUR": "24", "NATS_URL": "http://x"})
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    text = err.decode()
    assert text.startswith("marketing: invalid configuration:\n"), text
    for key in ("LISTEN_ADDR", "DIGEST_HOUR", "NATS_URL", "AUTH_JWKS_URL"):
        assert key in text, text


def test_it_serves_health_and_reflection_and_stops_gracefully_on_sigterm(
    nats_server: NatsServer, issuer: Issuer, tmp_path: Path
) -> None:
    port = free_port()
    addr = f"127.0.0.1:{port}"
    proc = start(
        {
            "LISTEN_ADDR": addr,
            "NATS_URL": nats_server.url,
            "DATA_DIR": str(tmp_path),
            "AUTH_JWKS_URL": issuer.url + "/jwks",
            "AUTH_ISSUER": issuer.url,
            "METRICS_ADDR": "off",
        }
    )
    try:
        wait_serving(addr, proc)
        with grpc.insecure_channel(addr) as ch:
            stub = reflection_pb2_grpc.ServerReflectionStub(ch)
            [resp] = list(
                stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
            )
            names = {s.name for s in resp.list_services_response.service}
        assert {"fooddelivery.marketing.v1.MarketingService", "grpc.health.v1.Health"} <= names
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err.decode()
        assert time.monotonic() - started < 10
        lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
        messages = [line["message"] for line in lines]
        assert "marketing serving" in messages and messages[-1] == "marketing stopped", messages
        assert all(line["service"] == "marketing" and "level" in line for line in lines)
        assert (tmp_path / "marketing.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_version_before_runs_on_a_schema_a_newer_version_migrated(
    nats_server: NatsServer, issuer: Issuer, tmp_path: Path
) -> None:
    """During a canary v1 and v2 share the database; v2's migration only expands it, and v1
    (this code) must still start on it — as the Rust services do."""
    import asyncio
    import sqlite3

    from fd_marketing import db as marketing_db

    path = tmp_path / "marketing.db"

    async def migrate() -> None:
        engine = marketing_db.connect(f"sqlite://{path}")
        await marketing_db.migrate(engine)
        await engine.dispose()

    asyncio.run(migrate())
    with sqlite3.connect(path) as conn:  # what a newer version's expand migration would do
        conn.execute("ALTER TABLE coupons ADD COLUMN channel VARCHAR(16)")
        conn.execute("UPDATE alembic_version SET version_num = '0002_from_the_future'")
    addr = f"127.0.0.1:{free_port()}"
    proc = start(
        {
            "LISTEN_ADDR": addr,
            "NATS_URL": nats_server.url,
            "DATABASE_URL": f"sqlite://{path}",
            "AUTH_JWKS_URL": issuer.url + "/jwks",
            "METRICS_ADDR": "off",
        }
    )
    try:
        wait_serving(addr, proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert "migrated by a newer version; running on its schema" in err.decode()
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (
                "0002_from_the_future",
            )
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_nats_server_older_than_2_10_is_refused(issuer: Issuer, tmp_path: Path) -> None:
    old = Path(os.environ.get("OLD_NATS_SERVER_BIN", ROOT / ".tools/nats-2.9/nats-server"))
    if not old.is_file():
        pytest.fail(f"no nats-server 2.9 at {old}: run `make tools-old-nats` (make test-marketing does)")
    port = free_port()
    server = subprocess.Popen(
        [str(old), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "js")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        proc = start(
            {
                "LISTEN_ADDR": f"127.0.0.1:{free_port()}",
                "NATS_URL": f"nats://127.0.0.1:{port}",
                "DATA_DIR": str(tmp_path),
                "AUTH_JWKS_URL": issuer.url + "/jwks",
            }
        )
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1
        assert "is too old: this system needs NATS >= 2.10" in err.decode(), err.decode()
    finally:
        server.terminate()
        server.wait(10)
