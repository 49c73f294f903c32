-- ListDeliveries pages through deliveries newest first.
CREATE INDEX deliveries_by_time ON deliveries (created_at_ms, order_id);
