"""Configuration from environment variables, read once at start.

Every problem is collected and reported together (``invalid configuration:`` and one line per
variable), and the process exits with status 2, as the Rust services do.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 50056


class ConfigError(Exception):
    """Every configuration problem found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Coupons:
    """The best-customer rule: ``min_orders`` delivered orders in the last ``window_days``."""

    min_orders: int = 3
    window_days: int = 30
    percent_off: int = 10
    valid_days: int = 30


@dataclass(frozen=True)
class DigestSettings:
    """The daily digest: at ``hour`` o'clock local time, checked every ``tick_s`` seconds."""

    hour: int = 9
    default_time_zone: str = "UTC"
    tick_s: float = 30.0


@dataclass(frozen=True)
class Config:
    listen_addr: str = f"127.0.0.1:{DEFAULT_PORT}"
    database_url: str = "sqlite:///data/marketing.db"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_nkey_seed: str | None = None
    nats_user: str | None = None
    nats_password: str | None = None
    nats_ca_file: str | None = None
    nats_cert_file: str | None = None
    nats_key_file: str | None = None
    stream_replicas: int = 1
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str = "fooddelivery"
    leeway_s: int = 30
    coupons: Coupons = field(default_factory=Coupons)
    digest: DigestSettings = field(default_factory=DigestSettings)
    log_level: str = "info"
    shutdown_grace_s: float = 10.0
    metrics_addr: str | None = None  # None: no /metrics

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Config:
        """Reads the configuration; raises :class:`ConfigError` naming every bad variable."""
        e = dict(os.environ if env is None else env)
        problems: list[str] = []

        def text(key: str, default: str | None = None) -> str | None:
            v = e.get(key, "").strip()
            return v if v else default

        def integer(key: str, default: int, lo: int, hi: int) -> int:
            raw = text(key)
            if raw is None:
                return default
            try:
                v = int(raw)
            except ValueError:
                problems.append(f"{key}: {raw!r} is not a whole number")
                return default
            if not lo <= v <= hi:
                problems.append(f"{key}: {v} is out of range ({lo} to {hi})")
                return default
            return v

        listen = text("LISTEN_ADDR", f"127.0.0.1:{DEFAULT_PORT}") or ""
        if (
            not re.fullmatch(r"[^\s:]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}", listen)
            or int(listen.rsplit(":", 1)[1]) > 65535
        ):
            problems.append(f"LISTEN_ADDR: {listen!r} is not host:port")
        data_dir = Path(text("DATA_DIR", "data") or "data")
        database_url = text("DATABASE_URL", f"sqlite://{data_dir / 'marketing.db'}") or ""
        if not database_url.startswith(("sqlite:", "postgres://", "postgresql://")):
            problems.append(
                f"DATABASE_URL: {redact(database_url)!r} is neither sqlite://PATH nor postgres://..."
            )
        nats_url = text("NATS_URL", "nats://127.0.0.1:4222") or ""
        for url in nats_url.split(","):
            if not re.fullmatch(r"(nats|tls)://\S+", url.strip()):
                problems.append(f"NATS_URL: {redact(url)!r} is not nats://host:port or tls://host:port")
        cert, key = text("NATS_CERT_FILE"), text("NATS_KEY_FILE")
        if (cert is None) != (key is None):
            problems.append("NATS_CERT_FILE and NATS_KEY_FILE: give both or neither")
        for k in ("NATS_CA_FILE", "NATS_CERT_FILE", "NATS_KEY_FILE"):
            p = text(k)
            if p is not None and not Path(p).is_file():
                problems.append(f"{k}: {p} is not a readable file")
        jwks = text("AUTH_JWKS_URL")
        if jwks is None:
            problems.append("AUTH_JWKS_URL: not set; every RPC checks the caller's token against it")
        default_tz = text("DIGEST_DEFAULT_TIME_ZONE", "UTC") or "UTC"
        if not valid_time_zone(default_tz):
            problems.append(f"DIGEST_DEFAULT_TIME_ZONE: {default_tz!r} is not an IANA time zone")
        tick_ms = integer("DIGEST_TICK_MS", 30_000, 10, 3_600_000)
        metrics = metrics_addr(text("METRICS_ADDR"), listen, problems)
        level = (text("LOG_LEVEL", "info") or "info").lower()
        if level not in ("debug", "info", "warning", "error"):
            problems.append(f"LOG_LEVEL: {level!r} is not debug, info, warning or error")
        cfg = Config(
            listen_addr=listen,
            database_url=database_url,
            nats_url=nats_url,
            nats_nkey_seed=text("NATS_NKEY_SEED"),
            nats_user=text("NATS_USER"),
            nats_password=text("NATS_PASSWORD"),
            nats_ca_file=text("NATS_CA_FILE"),
            nats_cert_file=cert,
            nats_key_file=key,
            stream_replicas=integer("NATS_STREAM_REPLICAS", 1, 1, 5),
            jwks_url=jwks,
            issuer=text("AUTH_ISSUER"),
            audience=text("AUTH_AUDIENCE", "fooddelivery") or "fooddelivery",
            leeway_s=integer("AUTH_LEEWAY_S", 30, 0, 600),
            coupons=Coupons(
                min_orders=integer("COUPON_MIN_ORDERS", 3, 1, 1000),
                window_days=integer("COUPON_WINDOW_DAYS", 30, 1, 366),
                percent_off=integer("COUPON_PERCENT_OFF", 10, 1, 100),
                valid_days=integer("COUPON_VALID_DAYS", 30, 1, 366),
            ),
            digest=DigestSettings(
                hour=integer("DIGEST_HOUR", 9, 0, 23),
                default_time_zone=default_tz,
                tick_s=tick_ms / 1000,
            ),
            log_level=level,
            shutdown_grace_s=integer("SHUTDOWN_GRACE_S", 10, 0, 300),
            metrics_addr=metrics,
        )
        if problems:
            raise ConfigError(problems)
        return cfg


ADDR = r"[^\s:]+:\d{1,5}|\[[0-9a-fA-F:]+\]:\d{1,5}"


def metrics_addr(raw: str | None, listen: str, problems: list[str]) -> str | None:
    """``METRICS_ADDR``: unset means the gRPC port + 1000 on loopback (as the Rust services);
    ``off`` means none."""
    if raw == "off":
        return None
    if raw is None:
        port = int(listen.rsplit(":", 1)[1]) if re.fullmatch(ADDR, listen) else 0
        return f"127.0.0.1:{port + 1000}" if 0 < port <= 64535 else None
    if not re.fullmatch(ADDR, raw):
        problems.append(f"METRICS_ADDR: {raw!r} is not host:port (or `off`)")
        return None
    return raw


def valid_time_zone(name: str) -> bool:
    """True for an IANA time zone name this machine knows."""
    if not name or name.startswith("/") or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def redact(url: str) -> str:
    """A URL without its password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
