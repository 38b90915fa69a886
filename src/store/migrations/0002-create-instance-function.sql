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

CREATE OR REPLACE FUNCTION kumo_create_instance(cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  inst jsonb := cmd->'instance';
  op jsonb := cmd->'operation';
  idem jsonb := cmd->'idempotency';
  pool jsonb := cmd->'publicIpPool';
  project text := inst->>'projectId';
  p_uid uuid := (inst->>'uid')::uuid;
  want_public integer := CASE WHEN jsonb_typeof(cmd->'publicIpPool') = 'object' THEN 1 ELSE 0 END;
  need_vcpus integer := (inst->>'vcpus')::integer;
  need_ram bigint := (inst->>'ramMb')::bigint;
  existing record;
  usage record;
  quota record;
  cand jsonb;
  claim jsonb;
  chosen_host text;
  chosen_zone text;
  req jsonb;
  addr inet;
  sid bigint;
  outcome jsonb;
  i integer;
  violated text;
BEGIN
  BEGIN
    IF jsonb_typeof(idem) = 'object' THEN
      INSERT INTO idempotency_keys (principal_id, scope, key, fingerprint, expires_at)
      VALUES (idem->>'principalId', idem->>'scope', idem->>'key', idem->>'fingerprint', now() + interval '24 hours')
      ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        SELECT k.fingerprint, k.result, k.expires_at INTO existing FROM idempotency_keys k
         WHERE k.principal_id = idem->>'principalId' AND k.scope = idem->>'scope' AND k.key = idem->>'key' FOR UPDATE;
        IF existing.expires_at < now() THEN
          UPDATE idempotency_keys k SET fingerprint = idem->>'fingerprint', result = NULL, created_at = now(),
                 expires_at = now() + interval '24 hours'
           WHERE k.principal_id = idem->>'principalId' AND k.scope = idem->>'scope' AND k.key = idem->>'key';
        ELSIF existing.fingerprint <> idem->>'fingerprint' THEN
          RETURN jsonb_build_object('kind', 'idempotency-mismatch');
        ELSIF existing.result IS NULL THEN
          RETURN jsonb_build_object('kind', 'in-flight');
        ELSE
          RETURN jsonb_build_object('kind', 'replayed', 'result', existing.result);
        END IF;
      END IF;
    END IF;

    UPDATE project_usage u
       SET instances = u.instances + 1, vcpus = u.vcpus + need_vcpus, ram_mb = u.ram_mb + need_ram,
           public_ips = u.public_ips + want_public
      FROM project_quotas q
     WHERE u.project_id = project AND q.project_id = project
       AND u.instances + 1 <= q.instances AND u.vcpus + need_vcpus <= q.vcpus
       AND u.ram_mb + need_ram <= q.ram_mb AND u.public_ips + want_public <= q.public_ips;
    IF NOT FOUND THEN
      SELECT * INTO usage FROM project_usage WHERE project_id = project;
      SELECT * INTO quota FROM project_quotas WHERE project_id = project;
      RAISE EXCEPTION USING ERRCODE = 'KU001', MESSAGE = (CASE
        WHEN quota IS NULL OR usage IS NULL THEN
          jsonb_build_object('kind', 'quota-exceeded', 'resource', 'instances', 'limit', 0, 'used', 0, 'requested', 1)
        WHEN usage.instances + 1 > quota.instances THEN
          jsonb_build_object('kind', 'quota-exceeded', 'resource', 'instances', 'limit', quota.instances, 'used', usage.instances, 'requested', 1)
        WHEN usage.vcpus + need_vcpus > quota.vcpus THEN
          jsonb_build_object('kind', 'quota-exceeded', 'resource', 'vcpus', 'limit', quota.vcpus, 'used', usage.vcpus, 'requested', need_vcpus)
        WHEN usage.ram_mb + need_ram > quota.ram_mb THEN
          jsonb_build_object('kind', 'quota-exceeded', 'resource', 'ramMb', 'limit', quota.ram_mb, 'used', usage.ram_mb, 'requested', need_ram)
        ELSE
          jsonb_build_object('kind', 'quota-exceeded', 'resource', 'publicIps', 'limit', quota.public_ips, 'used', usage.public_ips, 'requested', want_public)
      END)::text;
    END IF;

    FOR cand IN SELECT value FROM jsonb_array_elements(cmd->'candidates') LOOP
      claim := cand->'claim';
      UPDATE hosts h
         SET used_vcpus = h.used_vcpus + (claim->>'vcpus')::integer,
             used_ram_mb = h.used_ram_mb + (claim->>'ramMb')::bigint,
             used_disk_gb = h.used_disk_gb + (claim->>'diskGb')::bigint,
             used_gpus = h.used_gpus + (claim->>'gpus')::integer,
             instance_count = h.instance_count + 1
       WHERE h.id = cand->>'hostId' AND h.state = 'up'
         AND h.used_vcpus + (claim->>'vcpus')::integer <= h.vcpu_capacity
         AND h.used_ram_mb + (claim->>'ramMb')::bigint <= h.ram_capacity
         AND h.used_disk_gb + (claim->>'diskGb')::bigint <= h.disk_capacity
         AND h.used_gpus + (claim->>'gpus')::integer <= h.gpu_capacity
      RETURNING h.id, h.zone_id INTO chosen_host, chosen_zone;
      EXIT WHEN chosen_host IS NOT NULL;
    END LOOP;
    IF chosen_host IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'KU001',
        MESSAGE = jsonb_build_object('kind', 'no-capacity', 'hostsTried', jsonb_array_length(cmd->'candidates'))::text;
    END IF;

    FOR i IN 0 .. COALESCE(jsonb_array_length(cmd->'addressRequests'), 0) - 1 LOOP
      req := cmd->'addressRequests'->i;
      IF jsonb_typeof(req->'fixedIpv4') = 'string' THEN
        addr := (req->>'fixedIpv4')::inet;
        INSERT INTO ip_addresses (space_id, address, instance_uid) VALUES (req->>'subnetId', addr, p_uid) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
          RAISE EXCEPTION USING ERRCODE = 'KU001',
            MESSAGE = jsonb_build_object('kind', 'address-in-use', 'address', host(addr))::text;
        END IF;
      ELSE
        addr := kumo_allocate_address(req->>'subnetId', (req->>'cidr')::cidr, p_uid, false);
        IF addr IS NULL THEN
          RAISE EXCEPTION USING ERRCODE = 'KU001',
            MESSAGE = jsonb_build_object('kind', 'address-exhausted', 'subnetId', req->>'subnetId')::text;
        END IF;
      END IF;
      inst := jsonb_set(inst, ARRAY['nics', i::text, 'ipv4Address'], to_jsonb(host(addr)));
    END LOOP;

    IF want_public = 1 THEN
      addr := kumo_allocate_address(pool->>'id', (pool->>'cidr')::cidr, p_uid, true);
      IF addr IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'KU001',
          MESSAGE = jsonb_build_object('kind', 'address-exhausted', 'subnetId', pool->>'id')::text;
      END IF;
      inst := jsonb_set(inst, ARRAY['nics', '0', 'publicIpv4'], to_jsonb(host(addr)));
    END IF;

    sid := nextval('instance_short_id_seq');
    inst := inst || jsonb_build_object(
      'shortId', sid,
      'hostId', chosen_host,
      'zoneId', CASE WHEN COALESCE(inst->>'zoneId', '') = '' THEN chosen_zone ELSE inst->>'zoneId' END);
    INSERT INTO instances (uid, short_id, project_id, name, phase, desired_power, host_id, labels, doc, resource_version,
                           created_at, updated_at)
    VALUES (p_uid, sid, project, inst->>'name', inst->>'phase', inst->>'desiredPower', chosen_host, inst->'labels', inst,
            (inst->>'resourceVersion')::bigint, (inst->>'createdAt')::timestamptz, (inst->>'updatedAt')::timestamptz);
    INSERT INTO instance_claims (instance_uid, host_id, vcpus, ram_mb, disk_gb, gpus)
    VALUES (p_uid, chosen_host, (claim->>'vcpus')::integer, (claim->>'ramMb')::bigint, (claim->>'diskGb')::bigint,
            (claim->>'gpus')::integer);
    INSERT INTO operations (id, project_id, target_uid, status, doc, created_at)
    VALUES (op->>'id', project, p_uid, op->>'status', op, (op->>'createdAt')::timestamptz);
    INSERT INTO events (project_id, resource, resource_id, type, data)
    VALUES (project, 'instance', p_uid::text, 'created', inst), (project, 'operation', op->>'id', 'created', op);

    outcome := jsonb_build_object('instance', inst, 'operation', op);
    IF jsonb_typeof(idem) = 'object' THEN
      UPDATE idempotency_keys k SET result = outcome
       WHERE k.principal_id = idem->>'principalId' AND k.scope = idem->>'scope' AND k.key = idem->>'key';
    END IF;
    RETURN jsonb_build_object('kind', 'created', 'result', outcome);
  EXCEPTION
    WHEN SQLSTATE 'KU001' THEN
      RETURN SQLERRM::jsonb;
    WHEN unique_violation THEN
      GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
      IF violated = 'instances_live_name' THEN
        RETURN jsonb_build_object('kind', 'name-taken');
      END IF;
      RAISE;
  END;
END
$fn$;
