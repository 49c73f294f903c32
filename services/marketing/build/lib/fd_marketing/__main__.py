"""``python -m fd_marketing``: configuration comes from environment variables only."""

from __future__ import annotations

import asyncio
import sys

from . import SERVICE, telemetry
from .config import Config, ConfigError
from .db import DatabaseError
from .messaging import ServerTooOld

HELP = f"""{SERVICE}: the marketing context of the food-delivery system.

Configuration (environment variables):
  LISTEN_ADDR            gRPC address (127.0.0.1:50056)
  DATABASE_URL           sqlite://PATH or postgres://... (sqlite://$DATA_DIR/marketing.db)
  NATS_URL               nats://host:port[,..] (nats://127.0.0.1:4222)
  NATS_NKEY_SEED | NATS_USER + NATS_PASSWORD, NATS_CA_FILE, NATS_CERT_FILE + NATS_KEY_FILE
  NATS_STREAM_REPLICAS   copies of the MARKETING stream (1)
  AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE (fooddelivery), AUTH_LEEWAY_S (30)
  COUPON_MIN_ORDERS (3), COUPON_WINDOW_DAYS (30), COUPON_PERCENT_OFF (10), COUPON_VALID_DAYS (30)
  DIGEST_HOUR (9), DIGEST_DEFAULT_TIME_ZONE (UTC), DIGEST_TICK_MS (30000)
  LOG_LEVEL (info), SHUTDOWN_GRACE_S (10), OTEL_* (OpenTelemetry, e.g. OTEL_EXPORTER_OTLP_ENDPOINT)
"""


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(HELP)
        return
    if len(sys.argv) > 1:
        sys.exit(
            f"{SERVICE}: unexpected argument {sys.argv[1]!r}; configuration comes from "
            f"environment variables (see {SERVICE} --help)"
        )
    try:
        cfg = Config.from_env()
    except ConfigError as e:
        print(f"{SERVICE}: {e}", file=sys.stderr)
        sys.exit(2)
    from .app import serve  # after the configuration: a bad one fails fast

    telemetry.init(cfg.log_level)
    try:
        asyncio.run(serve(cfg))
    except (DatabaseError, ServerTooOld, OSError) as e:
        print(f"{SERVICE}: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
