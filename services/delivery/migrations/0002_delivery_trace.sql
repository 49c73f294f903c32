-- The trace context of the CookingFinished processing that created the delivery: events the
-- rider's later commands publish continue the order's trace (the saga), see api.rs.
ALTER TABLE deliveries ADD COLUMN trace_context TEXT NOT NULL DEFAULT '';
