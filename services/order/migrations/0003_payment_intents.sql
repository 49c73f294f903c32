-- A payment about to be authorized for an order not stored yet. The row commits before
-- Authorize is called and is deleted in the transaction that stores the order; one that stays
-- (a crash or a failed insert in between) is an authorization without an order, which
-- order's recovery releases (orphans.rs).
CREATE TABLE payment_intents (
    order_id       TEXT PRIMARY KEY,
    created_at_ms  BIGINT NOT NULL
);
