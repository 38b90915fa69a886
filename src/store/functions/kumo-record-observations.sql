-- The controller's writes, one statement per batch (docs/adr/0005): each update applies only while the caller
-- holds the instance's lease and the instance is still at the generation the step acted on (a user's action since
-- bumped it, and the same controller may have leased the instance again meanwhile); it merges the observed fields
-- into the document, appends the operation's steps, releases resources when asked and records the change events.
-- Each update answers whether it applied (and its project, for the change-stream hint), in order.
--
-- A routine, not a migration: applied on every start after the numbered migrations (store/migrations.ts).

-- p_updates: [{ uid, generation?, set: {document fields}, reclaim?, operation?: {id, status?, steps?, error?}, releaseResources?,
--               finalizeDelete?, releaseLease?, requeueAfterMs? }]
CREATE OR REPLACE FUNCTION kumo_record_observations(p_owner text, p_updates jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  u jsonb;
  op jsonb;
  cur record;
  new_doc jsonb;
  op_doc jsonb;
  op_project text;
  now_text text := kumo_utc_now();
  finalize boolean;
  release boolean;
  results jsonb[] := '{}';
BEGIN
  FOR u IN SELECT value FROM jsonb_array_elements(p_updates) LOOP
    SELECT i.uid, i.doc, i.resource_version, i.project_id INTO cur
      FROM instances i WHERE i.uid = (u->>'uid')::uuid AND i.lease_owner = p_owner FOR UPDATE;
    IF NOT FOUND THEN
      results := results || jsonb_build_object('kind', 'lease-lost');
      CONTINUE;
    END IF;
    -- A user's action since the step began bumped the generation: the step's outcome is stale, even when this same
    -- controller has leased the instance again meanwhile (a delete that lands during a create's boot).
    IF u ? 'generation' AND (cur.doc->>'generation')::bigint IS DISTINCT FROM (u->>'generation')::bigint THEN
      results := results || jsonb_build_object('kind', 'lease-lost');
      CONTINUE;
    END IF;
    -- Nested, not `a AND NOT f()`: SQL's AND goes on past a NULL left side, so f() would run for every update.
    IF jsonb_typeof(u->'reclaim') = 'object' THEN
      IF NOT kumo_reclaim(cur.uid, u->'reclaim') THEN
        results := results || jsonb_build_object('kind', 'reclaim-failed');
        CONTINUE;
      END IF;
    END IF;
    finalize := COALESCE((u->>'finalizeDelete')::boolean, false);
    release := COALESCE((u->>'releaseResources')::boolean, false);
    -- The small patches are merged first and the document once: each `||` with the document rebuilds all of it.
    new_doc := cur.doc || (COALESCE(u->'set', '{}'::jsonb)
           || jsonb_build_object('resourceVersion', cur.resource_version + 1, 'updatedAt', now_text)
           || CASE WHEN finalize THEN jsonb_build_object('phase', 'deleted', 'powerState', 'shutdown', 'deletedAt', now_text)
                   WHEN release THEN jsonb_build_object('hostId', NULL)
                   ELSE '{}'::jsonb END);
    IF finalize OR release THEN
      PERFORM kumo_release_instances(ARRAY[cur.uid]);
    END IF;
    UPDATE instances i
       SET doc = new_doc, phase = new_doc->>'phase', desired_power = new_doc->>'desiredPower', host_id = new_doc->>'hostId',
           labels = new_doc->'labels', resource_version = cur.resource_version + 1, updated_at = now(),
           deleted_at = (new_doc->>'deletedAt')::timestamptz,
           lease_owner = CASE WHEN finalize OR COALESCE((u->>'releaseLease')::boolean, false) OR u ? 'requeueAfterMs'
                              THEN NULL ELSE i.lease_owner END,
           lease_until = CASE WHEN finalize OR COALESCE((u->>'releaseLease')::boolean, false) OR u ? 'requeueAfterMs'
                              THEN NULL ELSE i.lease_until END,
           requeue_at = CASE WHEN u ? 'requeueAfterMs'
                             THEN now() + make_interval(secs => (u->>'requeueAfterMs')::double precision / 1000) END
     WHERE i.uid = cur.uid;

    op := u->'operation';
    op_doc := NULL;
    IF jsonb_typeof(op) = 'object' THEN
      UPDATE operations o
         SET doc = o.doc || (jsonb_build_object('updatedAt', now_text)
                   || CASE WHEN op ? 'status' THEN jsonb_build_object('status', op->'status') ELSE '{}'::jsonb END
                   || CASE WHEN op ? 'error' THEN jsonb_build_object('error', op->'error') ELSE '{}'::jsonb END
                   || CASE WHEN jsonb_typeof(op->'steps') = 'array'
                           THEN jsonb_build_object('steps', COALESCE(o.doc->'steps', '[]'::jsonb) || (op->'steps'))
                           ELSE '{}'::jsonb END
                   || jsonb_build_object('completedAt',
                        CASE WHEN COALESCE(op->>'status', o.status) IN ('succeeded', 'failed')
                             THEN COALESCE(NULLIF(o.doc->'completedAt', 'null'::jsonb), to_jsonb(now_text))
                             ELSE 'null'::jsonb END)),
             status = COALESCE(op->>'status', o.status)
       WHERE o.id = op->>'id'
       RETURNING o.doc, o.project_id INTO op_doc, op_project;
    END IF;
    -- The instance's change event, then its operation's when one was updated, in one statement.
    INSERT INTO events (project_id, resource, resource_id, type, data)
    SELECT e.project_id, e.resource, e.resource_id, e.type, e.data
      FROM (VALUES (cur.project_id, 'instance', cur.uid::text, CASE WHEN finalize THEN 'deleted' ELSE 'updated' END, new_doc),
                   (op_project, 'operation', op->>'id', 'updated', op_doc)) AS e(project_id, resource, resource_id, type, data)
     WHERE e.data IS NOT NULL;
    results := results || jsonb_build_object('kind', 'applied', 'projectId', cur.project_id);
  END LOOP;
  RETURN to_jsonb(results);
END
$fn$;
