import { resolve } from 'node:path';

/** Kumo's configuration, all from the environment, with the defaults a newcomer gets. */
export interface KumoConfig {
  /** KUMO_PORT, default 8080. */
  port: number;
  /** KUMO_HOST, default 127.0.0.1. */
  host: string;
  /** KUMO_DATA_DIR, default ./.kumo: the embedded PostgreSQL, the admin token file, QEMU guests and images. */
  dataDir: string;
  /** DATABASE_URL: an external PostgreSQL server instead of the embedded one. */
  databaseUrl: string | null;
  /** KUMO_ADMIN_TOKEN: the bootstrap admin API key; generated and printed once when unset. */
  adminToken: string | null;
  /** KUMO_DRIVER: `simulated` (default) or `qemu`. */
  driver: 'simulated' | 'qemu';
  /** KUMO_SIMULATED_HOSTS: `zone=count,…`, default `us1-a=3,kgl1-a=1,nova=1`. */
  simulatedHosts: Array<{ zoneId: string; count: number }>;
  /**
   * KUMO_HOST_PREFIX: simulated hosts are named `<prefix>-<zone>-<n>` (default `sim`). Each Kumo process runs its own
   * hosts' agents, so two processes sharing a database need different prefixes.
   */
  hostPrefix: string;
  /** KUMO_SIM_BOOT_DELAY_MS / KUMO_SIM_STOP_DELAY_MS: simulated boot and shutdown times, default 0. */
  simulatedBootDelayMs: number;
  simulatedStopDelayMs: number;
  /** KUMO_SIM_HOST_VCPUS / KUMO_SIM_HOST_RAM_MB / KUMO_SIM_HOST_DISK_GB: each simulated host's size (32 / 131072 / 2000). */
  simulatedHostCapacity: { vcpus: number; ramMb: number; diskGb: number };
  /** KUMO_RATE_LIMIT / KUMO_RATE_BURST: requests per second per principal and bucket size. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** KUMO_CONTROLLER=off runs the API without reconcilers (a second API-only replica). */
  controller: boolean;
  /** KUMO_DB_POOL_SIZE: connections to PostgreSQL per process, default 20 (plus one for notifications). */
  dbPoolSize: number;
  /** KUMO_LOG=1 turns on request logs. */
  requestLog: boolean;
  /** KUMO_QEMU_ACCEL: tcg (default), kvm, or kvm:tcg. */
  qemuAccel: string;
  /** KUMO_QEMU_ZONE: the zone of the single-machine QEMU host, default us1-a. */
  qemuZone: string;
  /** KUMO_QEMU_READY_TIMEOUT_MS: how long a guest may take to report ready, default 120000. */
  qemuReadyTimeoutMs: number;
  /** KUMO_EVENT_RETENTION_SECONDS: how long change events are kept for streams to resume from, default 86400 (24 h). */
  eventRetentionMs: number;
}

function integer(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, not ${JSON.stringify(raw)}`);
  return value;
}

function parseHosts(raw: string): Array<{ zoneId: string; count: number }> {
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [zoneId, count] = part.split('=');
      const n = Number(count ?? '1');
      if (!zoneId || !Number.isInteger(n) || n < 0) throw new Error(`KUMO_SIMULATED_HOSTS: cannot read ${JSON.stringify(part)}`);
      return { zoneId, count: n };
    });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): KumoConfig {
  const driver = env.KUMO_DRIVER ?? 'simulated';
  if (driver !== 'simulated' && driver !== 'qemu') throw new Error(`KUMO_DRIVER must be simulated or qemu, not ${JSON.stringify(driver)}`);
  return {
    port: integer('KUMO_PORT', 8080, env),
    host: env.KUMO_HOST || '127.0.0.1',
    dataDir: resolve(env.KUMO_DATA_DIR || '.kumo'),
    databaseUrl: env.DATABASE_URL || null,
    adminToken: env.KUMO_ADMIN_TOKEN || null,
    driver,
    simulatedHosts: parseHosts(env.KUMO_SIMULATED_HOSTS ?? 'us1-a=3,kgl1-a=1,nova=1'),
    hostPrefix: (env.KUMO_HOST_PREFIX || 'sim').toLowerCase(),
    simulatedBootDelayMs: integer('KUMO_SIM_BOOT_DELAY_MS', 0, env),
    simulatedStopDelayMs: integer('KUMO_SIM_STOP_DELAY_MS', 0, env),
    simulatedHostCapacity: {
      vcpus: integer('KUMO_SIM_HOST_VCPUS', 32, env),
      ramMb: integer('KUMO_SIM_HOST_RAM_MB', 131_072, env),
      diskGb: integer('KUMO_SIM_HOST_DISK_GB', 2_000, env),
    },
    rateLimitPerSecond: integer('KUMO_RATE_LIMIT', 2000, env),
    rateLimitBurst: integer('KUMO_RATE_BURST', 4000, env),
    controller: env.KUMO_CONTROLLER !== 'off',
    dbPoolSize: Math.max(2, integer('KUMO_DB_POOL_SIZE', 20, env)),
    requestLog: env.KUMO_LOG === '1',
    qemuAccel: env.KUMO_QEMU_ACCEL || 'tcg',
    qemuZone: env.KUMO_QEMU_ZONE || 'us1-a',
    qemuReadyTimeoutMs: integer('KUMO_QEMU_READY_TIMEOUT_MS', 120_000, env),
    eventRetentionMs: integer('KUMO_EVENT_RETENTION_SECONDS', 86_400, env) * 1000,
  };
}
