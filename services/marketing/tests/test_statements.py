"""The event path's statements in each driver's own placeholders (``statements.py``)."""

from __future__ import annotations

import pytest

from fd_marketing.statements import PROCESSED, insert_sql


def test_sqlite_gets_one_plain_placeholder_per_value() -> None:
    sql = insert_sql(PROCESSED, 2, 3, "qmark")
    assert sql == (
        "INSERT INTO fd_processed_events (consumer, event_id, processed_at_ms) "
        "VALUES (?, ?, ?), (?, ?, ?) ON CONFLICT DO NOTHING RETURNING event_id"
    )


def test_postgresql_gets_numbered_placeholders_in_row_order() -> None:
    sql = insert_sql(PROCESSED, 2, 3, "numeric_dollar")
    assert "VALUES ($1, $2, $3), ($4, $5, $6) ON CONFLICT" in sql


def test_a_driver_without_positional_placeholders_is_refused() -> None:
    with pytest.raises(ValueError, match="pyformat"):
        insert_sql(PROCESSED, 1, 3, "pyformat")
