"""The statements of the event path, written once as SQL that SQLite (>= 3.24) and PostgreSQL
both accept, and handed to the driver as they are. Building a SQLAlchemy insert construct per
event spent most of the consumer's time compiling it again (3,000 OrderPlaced on SQLite: 92/s
with constructs, 533/s with these, 3,183/s with batches applied together). Each table's rows of
a batch are one multi-row statement, not one statement per row (issue 19). Even a ``text()``
construct was a fifth of the consumer's CPU under load (its bind names found by a regular
expression, then a cache key, then compiled); these go to ``exec_driver_sql`` with the
driver's own placeholders, each statement's text built once per shape (issue 19, third
session)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache

from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection

# A batch's rows of each table go in one statement (``values``): (table and columns, tail).
# Counts are summed per key before (``excluded`` carries the batch's count), so a key that
# occurs twice in a batch is one row of the statement, as PostgreSQL requires of an upsert.
# The same order under two event ids is counted once: only the new orders are returned.
REMEMBER_ORDER = (
    "orders (order_id, customer_id, store_id, total_minor, currency, placed_at_ms, cancelled)",
    "ON CONFLICT DO NOTHING RETURNING order_id",
)
NAME_ITEM = (
    "items (store_id, menu_item_id, name)",
    "ON CONFLICT (store_id, menu_item_id) DO UPDATE SET name = excluded.name",
)
COUNT_CUSTOMER_ITEM = (
    "customer_items (customer_id, store_id, menu_item_id, times)",
    "ON CONFLICT (customer_id, store_id, menu_item_id) "
    "DO UPDATE SET times = customer_items.times + excluded.times",
)
COUNT_PAIR = (
    "item_pairs (store_id, item_a, item_b, orders)",
    "ON CONFLICT (store_id, item_a, item_b) DO UPDATE SET orders = item_pairs.orders + excluded.orders",
)
SUBSCRIBE = (
    "digest_subscribers (customer_id, time_zone, enabled, known_since_ms)",
    "ON CONFLICT DO NOTHING",
)
PROCESSED = (
    "fd_processed_events (consumer, event_id, processed_at_ms)",
    "ON CONFLICT DO NOTHING RETURNING event_id",
)
ROWS_PER_STATEMENT = 250


def values(
    conn: AsyncConnection, statement: tuple[str, str], rows: Sequence[tuple[object, ...]]
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """``statement`` for ``rows`` in ``conn``'s driver's placeholders, as few statements as it
    takes (each with its values, in order): one per ``ROWS_PER_STATEMENT`` rows instead of one
    per row. Every row has as many values as the first."""
    style = conn.dialect.paramstyle
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        width = len(chunk[0])
        flat = tuple(v for row in chunk for v in row)
        if len(flat) != width * len(chunk):
            raise ValueError(f"rows of {statement[0]} differ in length")
        yield insert_sql(statement, len(chunk), width, style), flat


async def execute(
    conn: AsyncConnection, statement: tuple[str, str], rows: Sequence[tuple[object, ...]]
) -> list[CursorResult[tuple[object, ...]]]:
    """Runs ``statement`` for ``rows`` (see :func:`values`); the result of each statement."""
    return [await conn.exec_driver_sql(sql, params) for sql, params in values(conn, statement, rows)]


@lru_cache(maxsize=512)
def insert_sql(statement: tuple[str, str], rows: int, width: int, paramstyle: str) -> str:
    """``INSERT INTO <into> VALUES (...), ... <tail>`` with ``rows`` tuples of ``width``
    placeholders: ``?`` (SQLite's driver) or ``$1, $2, ...`` (asyncpg's). Only placeholders are
    written into the SQL; every value is bound."""
    into, tail = statement
    if paramstyle == "qmark":
        one = "(" + ", ".join("?" * width) + ")"
        tuples = ", ".join([one] * rows)
    elif paramstyle == "numeric_dollar":
        tuples = ", ".join(
            "(" + ", ".join(f"${r * width + c + 1}" for c in range(width)) + ")" for r in range(rows)
        )
    else:
        raise ValueError(f"no positional placeholders for paramstyle {paramstyle}")
    return f"INSERT INTO {into} VALUES {tuples} {tail}"  # noqa: S608 (placeholders only)
