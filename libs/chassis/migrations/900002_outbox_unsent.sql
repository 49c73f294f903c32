-- contract: replaces a plain (non-unique) index; the version before runs unchanged beside it, its relay query only gets a different plan.
-- The relay asks for the oldest unsent rows. Every row is marked sent soon after it is written,
-- so on PostgreSQL an index that also holds the sent rows keeps an entry for each row's unsent
-- version until vacuum gets to it, and a bitmap scan of `sent_at_ms IS NULL` visited every one
-- of them (1.3 ms per relay round under load, issue 19). A partial index in the relay's order
-- holds only the unsent rows; the relay reads it in order and stops at its LIMIT, and entries
-- found dead on the way are marked so the next round skips them.
CREATE INDEX fd_outbox_unsent ON fd_outbox (event_id) WHERE sent_at_ms IS NULL;
-- Pruning (sent rows older than the retention) reads only the sent ones.
CREATE INDEX fd_outbox_sent ON fd_outbox (sent_at_ms) WHERE sent_at_ms IS NOT NULL;
DROP INDEX fd_outbox_by_sent;
