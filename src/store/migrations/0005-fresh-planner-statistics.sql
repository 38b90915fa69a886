-- Instances and their change events grow by thousands a minute under load, and the planner chooses between the
-- label index and a scan of the whole project from the table's statistics. Before the first ANALYZE it guessed 16
-- rows for a project holding 60,000 and scanned them all for a label-selector page (130 ms; 400 ms at 100,000).
-- Re-analyse after 5% growth rather than PostgreSQL's default 10% (the embedded server also looks every 10 s
-- instead of every minute; an external server keeps its own autovacuum_naptime).
ALTER TABLE instances SET (autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE events SET (autovacuum_analyze_scale_factor = 0.05);
