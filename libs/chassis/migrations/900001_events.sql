-- Chassis-owned tables every service gets beside its own (versions 900000+ keep them apart
-- from the service's migrations in the one migration history).

-- The transactional outbox: rows are written in the same transaction as the state change they
-- report and published by the relay. event_id is a UUIDv7, so ordering by it is ordering by
-- time of writing.
CREATE TABLE fd_outbox (
    event_id       TEXT PRIMARY KEY,
    subject        TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    payload        BYTEA NOT NULL,
    trace_context  TEXT NOT NULL,
    occurred_at_ms BIGINT NOT NULL,
    sent_at_ms     BIGINT
);
CREATE INDEX fd_outbox_by_sent ON fd_outbox (sent_at_ms, event_id);

-- Events a consumer has processed, recorded in the same transaction as their effect, so a
-- redelivery is recognised and skipped.
CREATE TABLE fd_processed_events (
    consumer        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    processed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
