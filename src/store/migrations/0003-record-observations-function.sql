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

-- kumo_record_observations(p_owner text, p_updates jsonb) was defined here first; its one definition is now
-- src/store/functions/kumo-record-observations.sql, applied after the migrations on every start (docs/adr/0006).
