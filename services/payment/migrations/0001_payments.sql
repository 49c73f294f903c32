-- One payment per order: order_id is unique, which is what makes Authorize idempotent.
CREATE TABLE payments (
    payment_id     TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL UNIQUE,
    customer_id    TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL,
    currency_code  TEXT NOT NULL,
    state          TEXT NOT NULL,
    decline_reason TEXT NOT NULL,
    refund_reason  TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
