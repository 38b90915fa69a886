-- Kumo's schema. Nothing here sends NOTIFY: a notifying transaction holds a database-wide lock through its commit
-- (fsync included), which would serialise every write. Wake-ups are sent after commit (post-commit-notifier.ts).
-- The database enforces what it can: unique live names per project, unique live addresses per
-- subnet, host capacity never negative or oversubscribed, one live claim per instance.

CREATE TABLE teams (
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE,
  billing_status text NOT NULL CHECK (billing_status IN ('active', 'suspended', 'past-due', 'terminated')),
  balance_cents bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE projects (
  id text PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  team_id uuid NOT NULL REFERENCES teams (id),
  name text NOT NULL,
  created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  project_id text REFERENCES projects (id),
  role text NOT NULL CHECK (role IN ('reader', 'member', 'admin')),
  secret_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz
);

CREATE TABLE project_quotas (
  project_id text PRIMARY KEY REFERENCES projects (id),
  instances integer NOT NULL CHECK (instances >= 0),
  vcpus integer NOT NULL CHECK (vcpus >= 0),
  ram_mb bigint NOT NULL CHECK (ram_mb >= 0),
  public_ips integer NOT NULL CHECK (public_ips >= 0)
);

-- Counters kept in the same transactions that claim and release, so a quota check is one row, not a count.
CREATE TABLE project_usage (
  project_id text PRIMARY KEY REFERENCES projects (id),
  instances integer NOT NULL DEFAULT 0 CHECK (instances >= 0),
  vcpus integer NOT NULL DEFAULT 0 CHECK (vcpus >= 0),
  ram_mb bigint NOT NULL DEFAULT 0 CHECK (ram_mb >= 0),
  public_ips integer NOT NULL DEFAULT 0 CHECK (public_ips >= 0)
);

CREATE TABLE regions (
  id text PRIMARY KEY,
  name text NOT NULL,
  country text
);

CREATE TABLE zones (
  id text PRIMARY KEY,
  region_id text NOT NULL REFERENCES regions (id),
  name text NOT NULL
);

CREATE TABLE images (
  id text PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  doc jsonb NOT NULL,
  status text NOT NULL,
  project_id text REFERENCES projects (id),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TABLE instance_types (
  id text PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  doc jsonb NOT NULL
);

CREATE TABLE networks (
  id text PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  region_id text NOT NULL REFERENCES regions (id),
  project_id text REFERENCES projects (id),
  doc jsonb NOT NULL
);

CREATE TABLE subnets (
  id text PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  network_id text NOT NULL REFERENCES networks (id),
  cidr cidr NOT NULL,
  gateway_ip inet NOT NULL,
  doc jsonb NOT NULL
);

CREATE TABLE public_ip_pools (
  id text PRIMARY KEY,
  region_id text NOT NULL REFERENCES regions (id),
  cidr cidr NOT NULL
);

CREATE TABLE security_groups (
  id text PRIMARY KEY,
  uid uuid NOT NULL UNIQUE,
  project_id text REFERENCES projects (id),
  doc jsonb NOT NULL
);

CREATE TABLE ssh_keys (
  project_id text NOT NULL REFERENCES projects (id),
  id text NOT NULL,
  uid uuid NOT NULL UNIQUE,
  doc jsonb NOT NULL,
  PRIMARY KEY (project_id, id)
);

CREATE TABLE server_groups (
  uid uuid PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects (id),
  doc jsonb NOT NULL
);

CREATE TABLE hosts (
  id text PRIMARY KEY,
  name text NOT NULL,
  region_id text NOT NULL,
  zone_id text NOT NULL,
  driver text NOT NULL,
  state text NOT NULL CHECK (state IN ('up', 'down', 'disabled')),
  arch text NOT NULL,
  vcpus integer NOT NULL,
  ram_mb bigint NOT NULL,
  disk_gb bigint NOT NULL,
  gpus jsonb NOT NULL DEFAULT '[]',
  cpu_ratio real NOT NULL DEFAULT 1,
  ram_ratio real NOT NULL DEFAULT 1,
  disk_ratio real NOT NULL DEFAULT 1,
  vcpu_capacity integer GENERATED ALWAYS AS (floor(vcpus * cpu_ratio)::integer) STORED,
  ram_capacity bigint GENERATED ALWAYS AS (floor(ram_mb * ram_ratio)::bigint) STORED,
  disk_capacity bigint GENERATED ALWAYS AS (floor(disk_gb * disk_ratio)::bigint) STORED,
  gpu_capacity integer NOT NULL DEFAULT 0,
  used_vcpus integer NOT NULL DEFAULT 0,
  used_ram_mb bigint NOT NULL DEFAULT 0,
  used_disk_gb bigint NOT NULL DEFAULT 0,
  used_gpus integer NOT NULL DEFAULT 0,
  instance_count integer NOT NULL DEFAULT 0,
  heartbeat_at timestamptz,
  -- The Kumo process (machine and data directory) whose agent runs the host; another one may take it over only
  -- once its heartbeat has gone stale.
  owner text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT hosts_capacity_never_negative CHECK (
    used_vcpus >= 0 AND used_ram_mb >= 0 AND used_disk_gb >= 0 AND used_gpus >= 0 AND instance_count >= 0
  )
);

CREATE SEQUENCE instance_short_id_seq START 100;

CREATE TABLE instances (
  uid uuid PRIMARY KEY,
  short_id bigint NOT NULL UNIQUE,
  project_id text NOT NULL REFERENCES projects (id),
  name text NOT NULL,
  phase text NOT NULL,
  desired_power text NOT NULL,
  host_id text REFERENCES hosts (id),
  labels jsonb NOT NULL DEFAULT '{}',
  doc jsonb NOT NULL,
  resource_version bigint NOT NULL DEFAULT 1,
  needs_work boolean GENERATED ALWAYS AS (
    phase IN ('provisioning', 'stopping', 'starting', 'rebooting', 'pausing', 'unpausing', 'resizing', 'snapshotting', 'deleting')
  ) STORED,
  lease_owner text,
  lease_until timestamptz,
  requeue_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz
);
CREATE UNIQUE INDEX instances_live_name ON instances (project_id, name) WHERE deleted_at IS NULL;
CREATE INDEX instances_by_created ON instances (project_id, created_at, uid) WHERE deleted_at IS NULL;
CREATE INDEX instances_by_name ON instances (project_id, name, uid) WHERE deleted_at IS NULL;
CREATE INDEX instances_labels ON instances USING gin (labels jsonb_path_ops) WHERE deleted_at IS NULL;
CREATE INDEX instances_needing_work ON instances (updated_at) WHERE needs_work;
CREATE INDEX instances_requeued ON instances (requeue_at) WHERE requeue_at IS NOT NULL;
CREATE INDEX instances_by_host ON instances (host_id) WHERE deleted_at IS NULL;

-- One live claim per instance: the primary key is the instance.
CREATE TABLE instance_claims (
  instance_uid uuid PRIMARY KEY REFERENCES instances (uid),
  host_id text NOT NULL REFERENCES hosts (id),
  vcpus integer NOT NULL CHECK (vcpus >= 0),
  ram_mb bigint NOT NULL CHECK (ram_mb >= 0),
  disk_gb bigint NOT NULL CHECK (disk_gb >= 0),
  gpus integer NOT NULL CHECK (gpus >= 0)
);

-- A live address is a row; releasing deletes it. An address space is a subnet (private addresses) or a public pool;
-- the primary key makes an address unique in its space.
CREATE TABLE ip_addresses (
  space_id text NOT NULL,
  address inet NOT NULL,
  instance_uid uuid NOT NULL,
  public boolean NOT NULL DEFAULT false,
  PRIMARY KEY (space_id, address)
);
CREATE INDEX ip_addresses_by_instance ON ip_addresses (instance_uid);

CREATE TABLE operations (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  target_uid uuid NOT NULL,
  status text NOT NULL,
  doc jsonb NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX operations_by_target ON operations (target_uid, created_at);

-- The change stream. `xid` lets readers skip rows of transactions that have not committed yet, so an event id seen
-- by a client is never followed by a smaller one committed later.
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id text NOT NULL,
  resource text NOT NULL,
  resource_id text NOT NULL,
  type text NOT NULL,
  data jsonb NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_project ON events (project_id, xid, id);

CREATE TABLE idempotency_keys (
  principal_id text NOT NULL,
  scope text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  result jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (principal_id, scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
