-- The agents' status sweep reads a host's instances a page at a time in uid order (keyset paging), so that a host
-- with 30,000 instances is never held in memory at once; the host index carries the uid to serve that order.
DROP INDEX instances_by_host;
CREATE INDEX instances_by_host ON instances (host_id, uid) WHERE deleted_at IS NULL;
