-- Change events and idempotency records are kept for a while, not for ever: a store that only grows runs out of disk
-- (four events of 1–2 kB a create). The store's retention task deletes events older than the retention and
-- idempotency records past their expiry, and records here the newest stream position it deleted, so that a client
-- resuming from before it is told it missed events (410) instead of silently skipping them.
CREATE TABLE event_horizon (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  xid xid8 NOT NULL,
  id bigint NOT NULL
);
INSERT INTO event_horizon (xid, id) VALUES ('0', 0);
