"""The statements of the event path, written once as SQL that SQLite (>= 3.24) and PostgreSQL
both accept, and compiled once: building a SQLAlchemy insert construct per event spent most of
the consumer's time compiling it again (3,000 OrderPlaced on SQLite: 92/s with constructs,
533/s with these, 3,183/s with batches applied together). Each table's rows of a batch are one
multi-row statement, not one statement per row (issue 19)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import TextClause, text

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
ROWS_PER_STATEMENT = 250


def values(
    statement: tuple[str, str], rows: list[tuple[object, ...]]
) -> Iterator[tuple[TextClause, dict[str, object]]]:
    """``statement`` for ``rows``, as few statements as it takes (each with its bound values):
    one per ``ROWS_PER_STATEMENT`` rows instead of one per row."""
    into, tail = statement
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        params: dict[str, object] = {}
        tuples = []
        for i, row in enumerate(chunk):
            names = [f"v{i}_{j}" for j in range(len(row))]
            params.update(zip(names, row, strict=True))
            tuples.append("(" + ", ".join(f":{n}" for n in names) + ")")
        yield insert_rows(into, tuples, tail), params


def insert_rows(into: str, rows: list[str], tail: str) -> TextClause:
    """``INSERT INTO <into> VALUES <rows> <tail>`` for a batch: ``rows`` are placeholder
    tuples (``(:o0, :c0)``); only names are written into the SQL, every value is bound."""
    sql = f"INSERT INTO {into} VALUES {', '.join(rows)} {tail}"  # noqa: S608 (placeholders only)
    return text(sql)
