-- One delivery per order. A delivery cancelled before CookingFinished arrived is kept as a
-- CANCELLED tombstone so the late CookingFinished does not create it.
CREATE TABLE deliveries (
    delivery_id    TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL UNIQUE,
    store_id       TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    rider_id       TEXT NOT NULL,
    state          TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
