-- Moves an instance's claim to a new size on the same host, atomically; false when the host cannot take it (or the
-- instance holds no claim). Project usage follows the claim, relative to the size the instance document records.
--
-- A routine, not a migration: applied on every start after the numbered migrations (store/migrations.ts).

CREATE OR REPLACE FUNCTION kumo_reclaim(p_uid uuid, p_size jsonb) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  old record;
  v integer := (p_size->>'vcpus')::integer;
  r bigint := (p_size->>'ramMb')::bigint;
  d bigint := (p_size->>'diskGb')::bigint;
  g integer := (p_size->>'gpus')::integer;
BEGIN
  SELECT i.host_id, i.claim_vcpus, i.claim_ram_mb, i.claim_disk_gb, i.claim_gpus, i.project_id,
         (i.doc->>'vcpus')::integer AS doc_vcpus, (i.doc->>'ramMb')::bigint AS doc_ram_mb
    INTO old FROM instances i WHERE i.uid = p_uid AND i.claim_vcpus IS NOT NULL FOR UPDATE;
  IF NOT FOUND THEN RETURN false; END IF;
  UPDATE hosts h SET used_vcpus = h.used_vcpus - old.claim_vcpus + v, used_ram_mb = h.used_ram_mb - old.claim_ram_mb + r,
                     used_disk_gb = h.used_disk_gb - old.claim_disk_gb + d, used_gpus = h.used_gpus - old.claim_gpus + g
   WHERE h.id = old.host_id
     AND h.used_vcpus - old.claim_vcpus + v <= h.vcpu_capacity AND h.used_ram_mb - old.claim_ram_mb + r <= h.ram_capacity
     AND h.used_disk_gb - old.claim_disk_gb + d <= h.disk_capacity AND h.used_gpus - old.claim_gpus + g <= h.gpu_capacity;
  IF NOT FOUND THEN RETURN false; END IF;
  UPDATE instances SET claim_vcpus = v, claim_ram_mb = r, claim_disk_gb = d, claim_gpus = g WHERE uid = p_uid;
  UPDATE project_usage u SET vcpus = u.vcpus - old.doc_vcpus + v, ram_mb = u.ram_mb - old.doc_ram_mb + r
   WHERE u.project_id = old.project_id;
  RETURN true;
END
$fn$;
