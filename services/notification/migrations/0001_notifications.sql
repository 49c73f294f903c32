-- Notifications, one per customer-visible event (source_event_id is unique). They are stored
-- PENDING by the policy and sent by the sender task, which retries with backoff.
CREATE TABLE notifications (
    notification_id    TEXT PRIMARY KEY,
    customer_id        TEXT NOT NULL,
    order_id           TEXT NOT NULL,
    source_event_type  TEXT NOT NULL,
    source_event_id    TEXT NOT NULL UNIQUE,
    message            TEXT NOT NULL,
    channel            TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error         TEXT NOT NULL,
    created_at_ms      BIGINT NOT NULL,
    sent_at_ms         BIGINT NOT NULL
);
CREATE INDEX notifications_by_customer ON notifications (customer_id, created_at_ms, notification_id);
CREATE INDEX notifications_pending ON notifications (status, next_attempt_at_ms);
