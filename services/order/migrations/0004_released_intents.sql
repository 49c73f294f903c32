-- An intent whose authorization order's recovery has released (orphans.rs): set in the same
-- statement that claims it, so the order can no longer be stored with that authorization (the
-- transaction that stores an order deletes only an intent not released), and a retry of the
-- request is refused instead of refreshing it. 0 = not released.
ALTER TABLE payment_intents ADD COLUMN released_at_ms BIGINT NOT NULL DEFAULT 0;
