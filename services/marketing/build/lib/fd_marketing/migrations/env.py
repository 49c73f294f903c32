"""Alembic environment: migrations run inside the connection the service hands over."""

from alembic import context

from fd_marketing.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run the migrations through the service (fd_marketing.db.migrate)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
