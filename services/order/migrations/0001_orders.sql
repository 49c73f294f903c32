-- The Order aggregate and its status view in one row. Items and the timeline are JSON because
-- they are only ever read and written with their order; one row keeps reads to one query.
-- order_id is derived from (customer_id, idempotency_key), so the primary key is also what
-- makes PlaceOrder idempotent.
CREATE TABLE orders (
    order_id         TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    store_id         TEXT NOT NULL,
    delivery_address TEXT NOT NULL,
    items_json       TEXT NOT NULL,
    total_minor      BIGINT NOT NULL,
    currency_code    TEXT NOT NULL,
    state            TEXT NOT NULL,
    payment_id       TEXT NOT NULL,
    payment_status   TEXT NOT NULL,
    store_status     TEXT NOT NULL,
    delivery_status  TEXT NOT NULL,
    timeline_json    TEXT NOT NULL,
    cancel_reason    TEXT NOT NULL,
    version          BIGINT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    updated_at_ms    BIGINT NOT NULL
);

CREATE INDEX orders_by_customer ON orders (customer_id, created_at_ms, order_id);
