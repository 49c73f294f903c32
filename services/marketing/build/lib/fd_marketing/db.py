"""The database: SQLite by default, PostgreSQL by URL, schema by Alembic migrations.

``DATABASE_URL`` takes the same forms as the Rust services' (``sqlite://PATH``,
``postgres://user:pass@host/db``). Migrations run at start; a database migrated by a newer
version of this service (a revision this code does not know) is refused with a clear message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.util.exc import CommandError
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Insert
from sqlalchemy.sql.schema import Table

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be used (unreachable, or migrated by a newer version)."""


def sqlalchemy_url(url: str) -> tuple[str, dict[str, Any]]:
    """The SQLAlchemy URL and driver arguments for a ``DATABASE_URL``."""
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:").removeprefix("//").split("?", 1)[0]
        if path in ("", ":memory:"):
            return "sqlite+aiosqlite://", {}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}", {}
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    args: dict[str, Any] = {}
    mode = query.pop("sslmode", None)
    if mode is not None and mode != "disable":
        args["ssl"] = mode  # asyncpg takes libpq's sslmode names
    rebuilt = parts._replace(scheme="postgresql+asyncpg", query=urlencode(query))
    return urlunsplit(rebuilt), args


def connect(url: str) -> AsyncEngine:
    """An engine for ``DATABASE_URL``. SQLite: one connection (one writer, WAL, a busy
    timeout); PostgreSQL: a small pool."""
    sa_url, args = sqlalchemy_url(url)
    if sa_url.startswith("sqlite"):
        engine = create_async_engine(sa_url, pool_size=1, max_overflow=0)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            for pragma in ("journal_mode=WAL", "busy_timeout=10000", "synchronous=NORMAL", "foreign_keys=ON"):
                cur.execute(f"PRAGMA {pragma}")
            cur.close()

        return engine
    return create_async_engine(sa_url, connect_args=args, pool_size=8, max_overflow=4, pool_pre_ping=True)


def _upgrade(conn: Connection) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Applies every migration not applied yet (safe at every start, from every replica:
    PostgreSQL serializes them with an advisory lock)."""
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7242016)")
            await conn.run_sync(_upgrade)
    except CommandError as e:
        raise DatabaseError(
            f"the database was migrated by another version of marketing ({e}); "
            "run a version that knows its schema"
        ) from e


def insert_ignore(conn: AsyncConnection | Connection, table: Table, **values: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt: Insert = dialect.insert(table).values(**values).on_conflict_do_nothing()
    return stmt


def upsert_add(
    conn: AsyncConnection | Connection, table: Table, keys: list[str], column: str, **values: Any
) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET column = column + excluded.column``."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    out: Insert = stmt.on_conflict_do_update(
        index_elements=keys, set_={column: table.c[column] + stmt.excluded[column]}
    )
    return out


def upsert_replace(
    conn: AsyncConnection | Connection, table: Table, keys: list[str], **values: Any
) -> Insert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET`` every other column."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    out: Insert = stmt.on_conflict_do_update(
        index_elements=keys, set_={k: stmt.excluded[k] for k in values if k not in keys}
    )
    return out
