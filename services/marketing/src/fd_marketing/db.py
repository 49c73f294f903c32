"""The database: SQLite by default, PostgreSQL by URL, schema by Alembic migrations.

``DATABASE_URL`` takes the same forms as the Rust services' (``sqlite://PATH``,
``postgres://user:pass@host/db``). Migrations run at start; a database a newer version of this
service migrated (a revision this code does not know) is used as it is (expand/contract).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util.exc import CommandError
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Insert
from sqlalchemy.sql.schema import Table

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be used (unreachable, or its migrations fail)."""


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


def _upgrade(conn: Connection) -> str | None:
    """Applies the migrations this version has; if the database is at a revision it does not
    know (a newer version migrated it), changes nothing and returns that revision."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        try:
            ScriptDirectory.from_config(cfg).get_revision(current)
        except (CommandError, ResolutionError):
            return current
    command.upgrade(cfg, "head")
    return None


async def migrate(engine: AsyncEngine) -> str | None:
    """Applies every migration not applied yet (safe at every start, from every replica:
    PostgreSQL serializes them with an advisory lock). A database a newer version migrated is
    used as it is — migrations only expand (tests/test_migrations.py), so the version before
    runs on it during a canary and after a rollback, as the Rust services do; the newer
    revision is returned so that the caller can say so."""
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7242016)")
            newer: str | None = await conn.run_sync(_upgrade)
            return newer
    except (OSError, SQLAlchemyError) as e:
        raise DatabaseError(f"the database is not usable: {e}") from e


def insert_ignore(conn: AsyncConnection | Connection, table: Table, **values: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the connection's dialect."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt: Insert = dialect.insert(table).values(**values).on_conflict_do_nothing()
    return stmt


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
