-- instances_by_name (project_id, name, uid) repeated instances_live_name (project_id, name), the unique index of live
-- names: every insert and every non-HOT update of an instance (each step's write) maintained both. A list ordered by
-- name reads instances_live_name and sorts each name's single row by uid (an incremental sort of groups of one);
-- measured at 100,000 instances, a page of 100 after a keyset position: 1.6 ms, against 2.2 ms through the dropped one.
DROP INDEX instances_by_name;
