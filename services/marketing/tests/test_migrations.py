"""The migrations: they build exactly the schema the code reads and writes, on both databases,
and they only expand (so two versions can share a database during a canary)."""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from fd_marketing import db
from fd_marketing.schema import metadata

VERSIONS = Path(db.MIGRATIONS) / "versions"
# Operations that remove or change what an older version relies on.
CONTRACTING = {"drop_table", "drop_column", "alter_column", "rename_table", "drop_index", "drop_constraint"}


async def test_the_migrations_build_the_schema_the_code_uses(database_url: str) -> None:
    engine = db.connect(database_url)
    try:
        await db.migrate(engine)
        await db.migrate(engine)  # at every start: nothing to do the second time
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
        assert diff == []
    finally:
        await engine.dispose()


def test_every_migration_only_expands_unless_it_says_why() -> None:
    files = sorted(VERSIONS.glob("*.py"))
    assert files
    for f in files:
        tree = ast.parse(f.read_text())
        upgrade = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade")
        used = {
            n.func.attr
            for n in ast.walk(upgrade)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        }
        doc = ast.get_docstring(tree) or ""
        assert not (used & CONTRACTING) or "contract:" in doc, (
            f"{f.name} contracts the schema ({sorted(used & CONTRACTING)}) without a 'contract:' line"
        )
