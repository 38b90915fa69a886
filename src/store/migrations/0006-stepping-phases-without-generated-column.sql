-- Instances with a step to take are found by their phase directly, not through the stored generated column
-- `needs_work`: PostgreSQL rebuilt that column's expression from the catalog for every insert and update of an
-- instance (perf on the create path: ≈4% of the server's CPU, in ExecInitGenerated and stringToNode). The list is
-- TRANSITIONAL_PHASES (src/core/instances/lifecycle.ts), in its order; the controller's lease query repeats it so
-- the planner matches this index, and a test holds the two together.
DROP INDEX instances_needing_work;
ALTER TABLE instances DROP COLUMN needs_work;
CREATE INDEX instances_needing_work ON instances (updated_at)
  WHERE phase IN ('provisioning', 'stopping', 'starting', 'rebooting', 'pausing', 'unpausing', 'resizing', 'snapshotting', 'deleting');
