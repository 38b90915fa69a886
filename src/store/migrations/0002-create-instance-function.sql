-- Creating an instance is one function call, so a batch of concurrent creates is one statement and one commit.
-- Each call runs in its own subtransaction (the EXCEPTION block): a create that fails undoes only itself.
-- Outcomes are returned as JSON; business failures are raised as SQLSTATE KU001 carrying that JSON.

-- Allocates the next free address of a space (a subnet, or a public pool): after the highest one in use, then the
-- lowest gap once the end is reached. Gateways are reserved as rows owned by the nil uuid, so they are skipped
-- naturally. Concurrent allocators meet on the primary key and move on.
CREATE OR REPLACE FUNCTION kumo_allocate_address(p_space text, p_cidr cidr, p_uid uuid, p_public boolean) RETURNS inet
LANGUAGE plpgsql AS $fn$
DECLARE
  first_ip inet := host(p_cidr)::inet + 1;
  last_ip inet := host(broadcast(p_cidr))::inet - 1;
  candidate inet;
  tries integer := 0;
BEGIN
  SELECT max(address) INTO candidate FROM ip_addresses WHERE space_id = p_space;
  candidate := COALESCE(candidate + 1, first_ip);
  LOOP
    IF candidate > last_ip OR candidate < first_ip THEN
      SELECT g INTO candidate FROM (
        SELECT first_ip AS g
         WHERE NOT EXISTS (SELECT 1 FROM ip_addresses WHERE space_id = p_space AND address = first_ip)
        UNION ALL
        SELECT a.address + 1 FROM ip_addresses a
         WHERE a.space_id = p_space AND a.address >= first_ip AND a.address < last_ip
           AND NOT EXISTS (SELECT 1 FROM ip_addresses b WHERE b.space_id = p_space AND b.address = a.address + 1)
      ) gaps ORDER BY g LIMIT 1;
      IF candidate IS NULL THEN RETURN NULL; END IF;
    END IF;
    INSERT INTO ip_addresses (space_id, address, instance_uid, public) VALUES (p_space, candidate, p_uid, p_public)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN RETURN candidate; END IF;
    tries := tries + 1;
    IF tries > 256 THEN RETURN NULL; END IF;
    candidate := candidate + 1;
  END LOOP;
END
$fn$;

-- Releases everything instances hold: the host claim, addresses, public IPs and the project usage. Safe to repeat:
-- the claim row is the marker, so usage is returned exactly once.
CREATE OR REPLACE FUNCTION kumo_release_instances(p_uids uuid[]) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
  WITH released AS (
    DELETE FROM instance_claims c WHERE c.instance_uid = ANY (p_uids)
    RETURNING c.instance_uid, c.host_id, c.vcpus, c.ram_mb, c.disk_gb, c.gpus
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
    SELECT i.project_id, count(*) AS n, sum((i.doc->>'vcpus')::integer) AS vcpus, sum((i.doc->>'ramMb')::bigint) AS ram_mb
      FROM released r JOIN instances i ON i.uid = r.instance_uid GROUP BY i.project_id
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

-- kumo_create_instance(cmd jsonb) was defined here first; its one definition is now
-- src/store/functions/kumo-create-instance.sql, applied after the migrations on every start (docs/adr/0006).
