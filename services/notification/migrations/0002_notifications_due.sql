-- contract: replaces a plain (non-unique) index; the version before runs unchanged beside it, its sender's query only gets a different plan.
-- The sender claims the oldest PENDING notifications that are due. Each is PENDING only for
-- moments, so on PostgreSQL an index over every status kept an entry for each notification's
-- PENDING versions until vacuum got to them, and every claim visited them (issue 19). A partial
-- index in the claim's order holds only the PENDING ones; a claim's lease (next_attempt_at_ms)
-- no longer changes an indexed column, so PostgreSQL can update the row in place.
CREATE INDEX notifications_due ON notifications (created_at_ms, notification_id) WHERE status = 'PENDING';
DROP INDEX notifications_pending;
