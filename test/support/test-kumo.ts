import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Role, Store } from '../../src/core/index.js';
import { loadConfig, type KumoConfig } from '../../src/server/config.js';
import { startKumo, type RunningKumo, type StartOptions } from '../../src/server/kumo-server.js';
import { createTestDatabase } from './test-database.js';

export interface TestKumo {
  kumo: RunningKumo;
  app: FastifyInstance;
  url: string;
  adminToken: string;
  store: Store;
  dataDir: string;
  databaseUrl: string;
  /** A new API key bound to a project. */
  createProjectKey(projectId: string, role?: Role): Promise<string>;
  /** A new team and project (with the seed's default quota unless given). */
  createProject(projectId: string, quota?: Partial<{ instances: number; vcpus: number; ramMb: number; publicIps: number }>): Promise<void>;
  close(): Promise<void>;
}

export interface TestKumoOptions extends StartOptions {
  /** Environment overrides, as a user would set them (KUMO_SIMULATED_HOSTS, KUMO_DRIVER, …). */
  env?: Record<string, string>;
  /** Reuse an existing database (a second replica, a restart). */
  databaseUrl?: string;
  /** Reuse a data directory (a restart). */
  dataDir?: string;
}

/**
 * A full Kumo on a real port: its own database on the test PostgreSQL server, its own data directory, simulated hosts
 * (unless the environment says otherwise) and a known admin token.
 */
export async function startTestKumo(options: TestKumoOptions = {}): Promise<TestKumo> {
  const database = options.databaseUrl ? null : await createTestDatabase();
  const databaseUrl = options.databaseUrl ?? database!.databaseUrl;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'kumo-test-')));
  const adminToken = `test-admin-${randomBytes(12).toString('hex')}`;
  const config: KumoConfig = loadConfig({
    KUMO_PORT: '0',
    KUMO_DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    KUMO_ADMIN_TOKEN: adminToken,
    KUMO_RATE_LIMIT: '100000',
    KUMO_RATE_BURST: '100000',
    KUMO_DB_POOL_SIZE: process.env.KUMO_DB_POOL_SIZE ?? '6',
    ...options.env,
  });
  const kumo = await startKumo(config, { principalCacheMs: 0, ...options });
  let closed = false;
  return {
    kumo,
    app: kumo.app,
    url: kumo.url,
    adminToken,
    store: kumo.store,
    dataDir,
    databaseUrl,
    async createProjectKey(projectId, role = 'member') {
      return (await kumo.tenancy.createApiKey({ name: `test-${role}`, projectId, role })).token;
    },
    async createProject(projectId, quota) {
      const team = await kumo.tenancy.createTeam({ name: `team-${projectId}-${randomBytes(3).toString('hex')}` });
      await kumo.tenancy.createProject({ id: projectId, teamId: team.id, ...(quota ? { quota } : {}) });
    },
    async close() {
      if (closed) return;
      closed = true;
      await kumo.stop();
      if (database) await database.drop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
