-- The controller's writes, one statement per batch: each update applies only while the caller holds the instance's
-- lease, merges the observed fields into the instance document, appends the operation step, releases resources when
-- asked, and records the change events. Business outcomes are returned per update, in order.

CREATE OR REPLACE FUNCTION kumo_utc_now() RETURNS text
LANGUAGE sql STABLE AS $fn$
  SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$fn$;

-- Moves an instance's claim to a new size on the same host, atomically; false when the host cannot take it.
-- Project usage follows the claim, relative to the size the instance document records.
CREATE OR REPLACE FUNCTION kumo_reclaim(p_uid uuid, p_size jsonb) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  old record;
  v integer := (p_size->>'vcpus')::integer;
  r bigint := (p_size->>'ramMb')::bigint;
  d bigint := (p_size->>'diskGb')::bigint;
  g integer := (p_size->>'gpus')::integer;
BEGIN
  SELECT * INTO old FROM instance_claims WHERE instance_uid = p_uid FOR UPDATE;
  IF NOT FOUND THEN RETURN false; END IF;
  UPDATE hosts h SET used_vcpus = h.used_vcpus - old.vcpus + v, used_ram_mb = h.used_ram_mb - old.ram_mb + r,
                     used_disk_gb = h.used_disk_gb - old.disk_gb + d, used_gpus = h.used_gpus - old.gpus + g
   WHERE h.id = old.host_id
     AND h.used_vcpus - old.vcpus + v <= h.vcpu_capacity AND h.used_ram_mb - old.ram_mb + r <= h.ram_capacity
     AND h.used_disk_gb - old.disk_gb + d <= h.disk_capacity AND h.used_gpus - old.gpus + g <= h.gpu_capacity;
  IF NOT FOUND THEN RETURN false; END IF;
  UPDATE instance_claims SET vcpus = v, ram_mb = r, disk_gb = d, gpus = g WHERE instance_uid = p_uid;
  UPDATE project_usage u SET vcpus = u.vcpus - (i.doc->>'vcpus')::integer + v, ram_mb = u.ram_mb - (i.doc->>'ramMb')::bigint + r
    FROM instances i WHERE i.uid = p_uid AND u.project_id = i.project_id;
  RETURN true;
END
$fn$;

-- p_updates: [{ uid, set: {document fields}, reclaim?, operation?: {id, status?, step?, error?}, releaseResources?,
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
  results jsonb := '[]'::jsonb;
BEGIN
  FOR u IN SELECT value FROM jsonb_array_elements(p_updates) LOOP
    SELECT i.uid, i.doc, i.resource_version, i.project_id INTO cur
      FROM instances i WHERE i.uid = (u->>'uid')::uuid AND i.lease_owner = p_owner FOR UPDATE;
    IF NOT FOUND THEN
      results := results || jsonb_build_array(jsonb_build_object('kind', 'lease-lost'));
      CONTINUE;
    END IF;
    IF jsonb_typeof(u->'reclaim') = 'object' AND NOT kumo_reclaim(cur.uid, u->'reclaim') THEN
      results := results || jsonb_build_array(jsonb_build_object('kind', 'reclaim-failed'));
      CONTINUE;
    END IF;
    finalize := COALESCE((u->>'finalizeDelete')::boolean, false);
    release := COALESCE((u->>'releaseResources')::boolean, false);
    new_doc := cur.doc || COALESCE(u->'set', '{}'::jsonb)
           || jsonb_build_object('resourceVersion', cur.resource_version + 1, 'updatedAt', now_text);
    IF finalize THEN
      new_doc := new_doc || jsonb_build_object('phase', 'deleted', 'powerState', 'shutdown', 'deletedAt', now_text);
    ELSIF release THEN
      new_doc := new_doc || jsonb_build_object('hostId', NULL);
    END IF;
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
    INSERT INTO events (project_id, resource, resource_id, type, data)
    VALUES (cur.project_id, 'instance', cur.uid::text, CASE WHEN finalize THEN 'deleted' ELSE 'updated' END, new_doc);

    op := u->'operation';
    IF jsonb_typeof(op) = 'object' THEN
      UPDATE operations o
         SET doc = o.doc || jsonb_build_object('updatedAt', now_text)
                   || CASE WHEN op ? 'status' THEN jsonb_build_object('status', op->'status') ELSE '{}'::jsonb END
                   || CASE WHEN op ? 'error' THEN jsonb_build_object('error', op->'error') ELSE '{}'::jsonb END
                   || CASE WHEN jsonb_typeof(op->'step') = 'object'
                           THEN jsonb_build_object('steps', COALESCE(o.doc->'steps', '[]'::jsonb) || jsonb_build_array(op->'step'))
                           ELSE '{}'::jsonb END
                   || jsonb_build_object('completedAt',
                        CASE WHEN COALESCE(op->>'status', o.status) IN ('succeeded', 'failed')
                             THEN COALESCE(NULLIF(o.doc->'completedAt', 'null'::jsonb), to_jsonb(now_text))
                             ELSE 'null'::jsonb END),
             status = COALESCE(op->>'status', o.status)
       WHERE o.id = op->>'id'
       RETURNING o.doc, o.project_id INTO op_doc, op_project;
      IF FOUND THEN
        INSERT INTO events (project_id, resource, resource_id, type, data) VALUES (op_project, 'operation', op->>'id', 'updated', op_doc);
      END IF;
    END IF;
    results := results || jsonb_build_array(jsonb_build_object('kind', 'applied', 'instance', new_doc));
  END LOOP;
  RETURN results;
END
$fn$;
