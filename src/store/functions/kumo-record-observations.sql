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
  target uuid;
  patch jsonb;
  new_doc jsonb;
  project text;
  now_text text := kumo_utc_now();
  finalize boolean;
  release boolean;
  unlease boolean;
  results jsonb[] := '{}';
BEGIN
  FOR u IN SELECT value FROM jsonb_array_elements(p_updates) LOOP
    target := (u->>'uid')::uuid;
    finalize := COALESCE((u->>'finalizeDelete')::boolean, false);
    release := COALESCE((u->>'releaseResources')::boolean, false);
    unlease := finalize OR COALESCE((u->>'releaseLease')::boolean, false) OR u ? 'requeueAfterMs';
    -- An update that moves resources first checks the lease and the generation (and keeps the row locked): the
    -- claim must change before the document does, and only while the caller may still act. The common update (a
    -- step's outcome, nothing to release) is one UPDATE that checks both itself.
    IF jsonb_typeof(u->'reclaim') = 'object' OR finalize OR release THEN
      PERFORM 1 FROM instances i
        WHERE i.uid = target AND i.lease_owner = p_owner
          AND (NOT u ? 'generation' OR (i.doc->>'generation')::bigint = (u->>'generation')::bigint)
        FOR UPDATE;
      IF NOT FOUND THEN
        results := results || jsonb_build_object('kind', 'lease-lost');
        CONTINUE;
      END IF;
      -- Nested, not `a AND NOT f()`: SQL's AND goes on past a NULL left side, so f() would run for every update.
      IF jsonb_typeof(u->'reclaim') = 'object' THEN
        IF NOT kumo_reclaim(target, u->'reclaim') THEN
          results := results || jsonb_build_object('kind', 'reclaim-failed');
          CONTINUE;
        END IF;
      END IF;
      IF finalize OR release THEN
        PERFORM kumo_release_instances(ARRAY[target]);
      END IF;
    END IF;
    patch := COALESCE(u->'set', '{}'::jsonb)
           || CASE WHEN finalize THEN jsonb_build_object('phase', 'deleted', 'powerState', 'shutdown', 'deletedAt', now_text)
                   WHEN release THEN jsonb_build_object('hostId', NULL)
                   ELSE '{}'::jsonb END;
    -- The columns follow the patch where it names them: they mirror the document, and reading them back out of the
    -- merged document cost a lookup each.
    UPDATE instances i
       SET doc = i.doc || (patch || jsonb_build_object('resourceVersion', i.resource_version + 1, 'updatedAt', now_text)),
           phase = CASE WHEN patch ? 'phase' THEN patch->>'phase' ELSE i.phase END,
           desired_power = CASE WHEN patch ? 'desiredPower' THEN patch->>'desiredPower' ELSE i.desired_power END,
           host_id = CASE WHEN patch ? 'hostId' THEN patch->>'hostId' ELSE i.host_id END,
           labels = CASE WHEN patch ? 'labels' THEN patch->'labels' ELSE i.labels END,
           deleted_at = CASE WHEN patch ? 'deletedAt' THEN (patch->>'deletedAt')::timestamptz ELSE i.deleted_at END,
           resource_version = i.resource_version + 1, updated_at = now(),
           lease_owner = CASE WHEN unlease THEN NULL ELSE i.lease_owner END,
           lease_until = CASE WHEN unlease THEN NULL ELSE i.lease_until END,
           requeue_at = CASE WHEN u ? 'requeueAfterMs'
                             THEN now() + make_interval(secs => (u->>'requeueAfterMs')::double precision / 1000) END
     -- A user's action since the step began bumped the generation: the step's outcome is stale, even when this same
     -- controller has leased the instance again meanwhile (a delete that lands during a create's boot).
     WHERE i.uid = target AND i.lease_owner = p_owner
       AND (NOT u ? 'generation' OR (i.doc->>'generation')::bigint = (u->>'generation')::bigint)
     RETURNING i.doc, i.project_id INTO new_doc, project;
    IF NOT FOUND THEN
      results := results || jsonb_build_object('kind', 'lease-lost');
      CONTINUE;
    END IF;
    -- The operation's update and both change events (the instance's first), in one statement.
    op := u->'operation';
    WITH updated_operation AS (
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
       RETURNING o.project_id, o.id, o.doc
    )
    INSERT INTO events (project_id, resource, resource_id, type, data)
    SELECT project, 'instance', target::text, CASE WHEN finalize THEN 'deleted' ELSE 'updated' END, new_doc
    UNION ALL
    SELECT o.project_id, 'operation', o.id, 'updated', o.doc FROM updated_operation o;
    results := results || jsonb_build_object('kind', 'applied', 'projectId', project);
  END LOOP;
  RETURN to_jsonb(results);
END
$fn$;
