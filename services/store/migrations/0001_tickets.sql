-- The store owner's tickets, one per order. A ticket voided before its OrderPlaced arrived is
-- kept as a VOIDED tombstone so the late OrderPlaced does not open it again.
CREATE TABLE tickets (
    order_id       TEXT PRIMARY KEY,
    store_id       TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    items_json     TEXT NOT NULL,
    total_minor    BIGINT NOT NULL,
    currency_code  TEXT NOT NULL,
    state          TEXT NOT NULL,
    reject_reason  TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
CREATE INDEX tickets_by_store ON tickets (store_id, created_at_ms, order_id);
