"""The daily digest's schedule: at ``hour`` o'clock in the customer's own time zone.

The digest of local date D is due at D ``hour``:00 local time. At any moment the one to send is
the latest that is due; older missed ones are not sent (a service that was down for three days
sends one digest, not three), a date already sent is never sent again, and nothing is due from
before the customer was known.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def due_instant_ms(local_date: dt.date, time_zone: str, hour: int) -> int:
    at = dt.datetime.combine(local_date, dt.time(hour), tzinfo=ZoneInfo(time_zone))
    return int(at.timestamp() * 1000)


def latest_due(now_ms: int, time_zone: str, hour: int) -> dt.date:
    """The latest local date whose digest is due at ``now_ms``."""
    today = dt.datetime.fromtimestamp(now_ms / 1000, ZoneInfo(time_zone)).date()
    if due_instant_ms(today, time_zone, hour) <= now_ms:
        return today
    return today - dt.timedelta(days=1)


def to_send(now_ms: int, time_zone: str, hour: int, last_sent: str | None, known_since_ms: int) -> str | None:
    """The local date (ISO) to send a digest for now, or ``None``."""
    date = latest_due(now_ms, time_zone, hour)
    if due_instant_ms(date, time_zone, hour) < known_since_ms:
        return None
    iso = date.isoformat()
    if last_sent is not None and last_sent >= iso:
        return None
    return iso
