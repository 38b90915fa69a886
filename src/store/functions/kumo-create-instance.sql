-- Creating an instance is one function call, so a batch of concurrent creates is one statement and one commit
-- (docs/adr/0002). Each call runs in its own subtransaction (the EXCEPTION block): a create that fails undoes only
-- itself. Outcomes are returned as JSON; business failures are raised as SQLSTATE KU001 carrying that JSON.
-- A create placed on one of `cmd.lease.hostIds` is leased to that controller in the insert (docs/adr/0005).
--
-- A routine, not a migration: this file is the function's one definition, applied on every start after the
-- numbered migrations (store/migrations.ts).

CREATE OR REPLACE FUNCTION kumo_create_instance(cmd jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
  inst jsonb := cmd->'instance';
  op jsonb := cmd->'operation';
  idem jsonb := cmd->'idempotency';
  pool jsonb := cmd->'publicIpPool';
  lease jsonb := cmd->'lease';
  leased_to text;
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

    -- Leased to the creating controller only where its agents run the chosen host.
    IF jsonb_typeof(lease) = 'object' AND lease->'hostIds' ? chosen_host THEN leased_to := lease->>'owner'; END IF;
    sid := nextval('instance_short_id_seq');
    inst := inst || jsonb_build_object(
      'shortId', sid,
      'hostId', chosen_host,
      'zoneId', CASE WHEN COALESCE(inst->>'zoneId', '') = '' THEN chosen_zone ELSE inst->>'zoneId' END);
    INSERT INTO instances (uid, short_id, project_id, name, phase, desired_power, host_id, labels, doc, resource_version,
                           created_at, updated_at, lease_owner, lease_until,
                           claim_vcpus, claim_ram_mb, claim_disk_gb, claim_gpus)
    VALUES (p_uid, sid, project, inst->>'name', inst->>'phase', inst->>'desiredPower', chosen_host, inst->'labels', inst,
            (inst->>'resourceVersion')::bigint, (inst->>'createdAt')::timestamptz, (inst->>'updatedAt')::timestamptz,
            leased_to,
            CASE WHEN leased_to IS NOT NULL THEN now() + make_interval(secs => (lease->>'leaseMs')::double precision / 1000) END,
            (claim->>'vcpus')::integer, (claim->>'ramMb')::bigint, (claim->>'diskGb')::bigint, (claim->>'gpus')::integer);
    INSERT INTO operations (id, project_id, target_uid, status, doc, created_at)
    VALUES (op->>'id', project, p_uid, op->>'status', op, (op->>'createdAt')::timestamptz);
    INSERT INTO events (project_id, resource, resource_id, type, data)
    VALUES (project, 'instance', p_uid::text, 'created', inst), (project, 'operation', op->>'id', 'created', op);

    IF jsonb_typeof(idem) = 'object' THEN
      UPDATE idempotency_keys k SET result = jsonb_build_object('instance', inst, 'operation', op)
       WHERE k.principal_id = idem->>'principalId' AND k.scope = idem->>'scope' AND k.key = idem->>'key';
    END IF;
    -- Only what the create decided: the caller has the rest of both documents already, and sending them back
    -- cost the server and the caller a serialisation and a parse of each.
    RETURN jsonb_build_object('kind', 'created', 'leased', leased_to IS NOT NULL, 'placed', jsonb_build_object(
      'shortId', sid, 'hostId', chosen_host, 'zoneId', inst->'zoneId', 'nics', inst->'nics'));
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
