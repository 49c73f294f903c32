"""The tables marketing owns (created and changed only by the migrations in ``migrations/``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

# Events this service applied, per consumer: the id is committed with the event's effect.
processed_events = Table(
    "fd_processed_events",
    metadata,
    Column("consumer", String(128), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("processed_at_ms", BigInteger, nullable=False),
    PrimaryKeyConstraint("consumer", "event_id"),
)

# Events to publish, written in the transaction of the change they report.
outbox = Table(
    "fd_outbox",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(128), nullable=False),
    Column("aggregate_id", String(128), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("occurred_at_ms", BigInteger, nullable=False),
    Column("traceparent", String(64), nullable=True),
    Column("published_at_ms", BigInteger, nullable=True),
    Index("fd_outbox_unpublished", "published_at_ms", "seq"),
)

# What marketing knows of each order (from OrderPlaced, OrderCancelled and Delivered).
orders = Table(
    "orders",
    metadata,
    Column("order_id", String(128), primary_key=True),
    Column("customer_id", String(128), nullable=False, index=True),
    Column("store_id", String(128), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("placed_at_ms", BigInteger, nullable=False),
    Column("cancelled", Boolean, nullable=False, default=False),
    Column("delivered_at_ms", BigInteger, nullable=True),
)

# How often each customer ordered each item.
customer_items = Table(
    "customer_items",
    metadata,
    Column("customer_id", String(128), nullable=False),
    Column("store_id", String(128), nullable=False),
    Column("menu_item_id", String(128), nullable=False),
    Column("times", BigInteger, nullable=False),
    PrimaryKeyConstraint("customer_id", "store_id", "menu_item_id"),
)

# Orders that had both items (both directions).
item_pairs = Table(
    "item_pairs",
    metadata,
    Column("store_id", String(128), nullable=False),
    Column("item_a", String(128), nullable=False),
    Column("item_b", String(128), nullable=False),
    Column("orders", BigInteger, nullable=False),
    PrimaryKeyConstraint("store_id", "item_a", "item_b"),
)

# Item names as last seen in an order.
items = Table(
    "items",
    metadata,
    Column("store_id", String(128), nullable=False),
    Column("menu_item_id", String(128), nullable=False),
    Column("name", String(256), nullable=False),
    PrimaryKeyConstraint("store_id", "menu_item_id"),
)

coupons = Table(
    "coupons",
    metadata,
    Column("coupon_id", String(64), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("period", String(7), nullable=False),
    Column("code", String(64), nullable=False),
    Column("percent_off", Integer, nullable=False),
    Column("delivered_orders", Integer, nullable=False),
    Column("spend_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("issued_at_ms", BigInteger, nullable=False),
    Column("expires_at_ms", BigInteger, nullable=False),
    UniqueConstraint("customer_id", "period", name="coupons_once_per_period"),
)

# Who gets a digest, in which time zone; a row appears with a customer's first order.
digest_subscribers = Table(
    "digest_subscribers",
    metadata,
    Column("customer_id", String(128), primary_key=True),
    Column("time_zone", String(64), nullable=True),  # NULL: the configured default
    Column("enabled", Boolean, nullable=False),
    Column("known_since_ms", BigInteger, nullable=False),
    Column("last_sent_date", String(10), nullable=True),
)

digests = Table(
    "digests",
    metadata,
    Column("digest_id", String(64), primary_key=True),
    Column("customer_id", String(128), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("sent_at_ms", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),  # the Digest message
    UniqueConstraint("customer_id", "local_date", name="digests_once_per_date"),
)
