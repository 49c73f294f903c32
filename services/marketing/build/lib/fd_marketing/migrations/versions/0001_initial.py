"""Marketing's first schema: processed events, outbox, order history, coupons, digests.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "fd_processed_events",
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("processed_at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "fd_outbox",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("aggregate_id", sa.String(128), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("occurred_at_ms", sa.BigInteger, nullable=False),
        sa.Column("traceparent", sa.String(64), nullable=True),
        sa.Column("published_at_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("fd_outbox_unpublished", "fd_outbox", ["published_at_ms", "seq"])
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(128), primary_key=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("store_id", sa.String(128), nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("placed_at_ms", sa.BigInteger, nullable=False),
        sa.Column("cancelled", sa.Boolean, nullable=False),
        sa.Column("delivered_at_ms", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_table(
        "customer_items",
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("store_id", sa.String(128), nullable=False),
        sa.Column("menu_item_id", sa.String(128), nullable=False),
        sa.Column("times", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "store_id", "menu_item_id"),
    )
    op.create_table(
        "item_pairs",
        sa.Column("store_id", sa.String(128), nullable=False),
        sa.Column("item_a", sa.String(128), nullable=False),
        sa.Column("item_b", sa.String(128), nullable=False),
        sa.Column("orders", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("store_id", "item_a", "item_b"),
    )
    op.create_table(
        "items",
        sa.Column("store_id", sa.String(128), nullable=False),
        sa.Column("menu_item_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "menu_item_id"),
    )
    op.create_table(
        "coupons",
        sa.Column("coupon_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("percent_off", sa.Integer, nullable=False),
        sa.Column("delivered_orders", sa.Integer, nullable=False),
        sa.Column("spend_minor", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("issued_at_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_at_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("customer_id", "period", name="coupons_once_per_period"),
    )
    op.create_table(
        "digest_subscribers",
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("known_since_ms", sa.BigInteger, nullable=False),
        sa.Column("last_sent_date", sa.String(10), nullable=True),
    )
    op.create_table(
        "digests",
        sa.Column("digest_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("sent_at_ms", sa.BigInteger, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("customer_id", "local_date", name="digests_once_per_date"),
    )


def downgrade() -> None:
    for table in (
        "digests",
        "digest_subscribers",
        "coupons",
        "items",
        "item_pairs",
        "customer_items",
        "orders",
        "fd_outbox",
        "fd_processed_events",
    ):
        op.drop_table(table)
