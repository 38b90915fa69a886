-- Releases everything instances hold: the host claim, addresses, public IPs and the project usage. Safe to repeat:
-- the claim columns are the marker, so usage is returned exactly once.
--
-- A routine, not a migration: applied on every start after the numbered migrations (store/migrations.ts).

CREATE OR REPLACE FUNCTION kumo_release_instances(p_uids uuid[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  WITH held AS (
    SELECT i.uid, i.host_id, i.claim_vcpus, i.claim_ram_mb, i.claim_disk_gb, i.claim_gpus
      FROM instances i
     WHERE i.uid = ANY (p_uids) AND i.claim_vcpus IS NOT NULL
       FOR UPDATE
  ), released AS (
    UPDATE instances i SET claim_vcpus = NULL, claim_ram_mb = NULL, claim_disk_gb = NULL, claim_gpus = NULL
      FROM held
     WHERE i.uid = held.uid
    RETURNING held.host_id, held.claim_vcpus AS vcpus, held.claim_ram_mb AS ram_mb, held.claim_disk_gb AS disk_gb,
              held.claim_gpus AS gpus, i.project_id, (i.doc->>'vcpus')::integer AS doc_vcpus,
              (i.doc->>'ramMb')::bigint AS doc_ram_mb
  ), per_host AS (
    SELECT host_id, sum(vcpus) AS vcpus, sum(ram_mb) AS ram_mb, sum(disk_gb) AS disk_gb, sum(gpus) AS gpus, count(*) AS n
      FROM released GROUP BY host_id
  ), hosts_done AS (
    UPDATE hosts h SET used_vcpus = h.used_vcpus - p.vcpus, used_ram_mb = h.used_ram_mb - p.ram_mb,
                       used_disk_gb = h.used_disk_gb - p.disk_gb, used_gpus = h.used_gpus - p.gpus,
                       instance_count = h.instance_count - p.n
      FROM per_host p WHERE h.id = p.host_id
    RETURNING h.id
  ), per_project AS (
    SELECT project_id, count(*) AS n, sum(doc_vcpus) AS vcpus, sum(doc_ram_mb) AS ram_mb
      FROM released GROUP BY project_id
  )
  UPDATE project_usage u SET instances = u.instances - p.n, vcpus = u.vcpus - p.vcpus, ram_mb = u.ram_mb - p.ram_mb
    FROM per_project p WHERE u.project_id = p.project_id;

  WITH gone AS (DELETE FROM ip_addresses a WHERE a.instance_uid = ANY (p_uids) RETURNING a.instance_uid, a.public),
       per_project AS (
         SELECT i.project_id, count(*) AS n FROM gone g JOIN instances i ON i.uid = g.instance_uid WHERE g.public
          GROUP BY i.project_id)
  UPDATE project_usage u SET public_ips = u.public_ips - p.n FROM per_project p WHERE u.project_id = p.project_id;
END
$fn$;
