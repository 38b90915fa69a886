/**
 * Starts a Kumo for the native API tests. It prefers the lead's full harness (test/support/test-kumo.ts: real
 * PostgreSQL, simulated hosts, the controller) and falls back to the core services over an in-memory store when that
 * harness is not there yet, or when KUMO_TEST_IN_MEMORY=1. Either way the HTTP app and the core are the real ones.
 */
import type { FastifyInstance } from 'fastify';
import {
  CatalogService,
  EventService,
  formatApiKey,
  InstanceService,
  RandomIds,
  SystemClock,
  TenancyService,
  type Role,
  type Store,
} from '../../../src/core/index.js';
import { buildApiServer, type ApiServerOptions } from '../../../src/api/http/api-server.js';
import { bootstrap } from '../../../src/server/bootstrap.js';
import { InMemoryStore, SingleHostPlacement } from './in-memory-store.js';

export interface TestKumo {
  app: FastifyInstance;
  adminToken: string;
  store: Store;
  createProjectKey(projectId: string, role: Role): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  api?: ApiServerOptions;
}

type StartTestKumo = (options?: HarnessOptions) => Promise<TestKumo>;

const FULL_HARNESS = '../../support/test-kumo.js';

async function fullHarness(): Promise<StartTestKumo | null> {
  if (process.env.KUMO_TEST_IN_MEMORY === '1') return null;
  try {
    const module = (await import(FULL_HARNESS)) as { startTestKumo?: StartTestKumo };
    return module.startTestKumo ?? null;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw error;
  }
}

/** The core over an in-memory store, bootstrapped with the seed catalog, behind the real API server. */
export async function startInMemoryKumo(options: HarnessOptions = {}): Promise<TestKumo & { store: InMemoryStore }> {
  const store = new InMemoryStore();
  const clock = new SystemClock();
  const ids = new RandomIds();
  const tenancy = new TenancyService(store, clock, ids);
  const catalog = new CatalogService(store, clock, ids);
  const instances = new InstanceService(store, catalog, tenancy, new SingleHostPlacement(), clock, ids, { wake() {} }, {
    async consoleOutput(_host, uid, maxLines) {
      return Array.from({ length: Math.min(maxLines, 3) }, (_, line) => `[ ${line}.000000] ${uid} booting`).join('\n');
    },
  });
  const events = new EventService(store, tenancy);
  const adminToken = formatApiKey('admin', ids.secret());
  await bootstrap({ catalog, tenancy }, { adminToken });
  const app = await buildApiServer({ instances, catalog, tenancy, events, health: store }, { principalCacheMs: 0, sseHeartbeatMs: 200, ...options.api });
  return {
    app,
    adminToken,
    store,
    async createProjectKey(projectId, role) {
      return (await tenancy.createApiKey({ name: `${projectId}-${role}`, projectId, role })).token;
    },
    async close() {
      await app.close();
      await store.close();
    },
  };
}

/** The full harness when present, else the in-memory one. */
export async function startNativeHarness(options: HarnessOptions = {}): Promise<TestKumo> {
  const full = await fullHarness();
  return full ? full(options) : startInMemoryKumo(options);
}
