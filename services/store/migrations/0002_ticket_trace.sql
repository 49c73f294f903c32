-- The trace context of the OrderPlaced processing that opened the ticket: events the owner's
-- later commands publish continue the order's trace (the saga), see api.rs.
ALTER TABLE tickets ADD COLUMN trace_context TEXT NOT NULL DEFAULT '';
