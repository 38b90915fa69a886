import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Agent, AgentRegistry, DEFAULT_SWEEP_INTERVAL_MS, silentLogger, consoleLogger, type Logger } from '../agent/index.js';
import { buildApiServer } from '../api/http/api-server.js';
import { MetricsRegistry } from '../api/http/metrics-registry.js';
import { Controller } from '../controller/index.js';
import {
  CatalogService,
  EventService,
  InstanceService,
  RandomIds,
  SystemClock,
  TenancyService,
  type Store,
} from '../core/index.js';
import type { HypervisorDriver } from '../drivers/hypervisor-driver.js';
import { SimulatedDriver, type SimulatedDriverOptions } from '../drivers/simulated/simulated-driver.js';
import { HostScheduler } from '../scheduler/index.js';
import { acquireDataDirLock, type DataDirLock } from '../store/data-dir-lock.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../store/embedded-postgres-server.js';
import { openPostgresStore } from '../store/postgres-store.js';
import { bootstrap } from './bootstrap.js';
import type { KumoConfig } from './config.js';
import { prepareQemuHost } from './qemu-host.js';

export interface RunningKumo {
  url: string;
  port: number;
  /** The admin token when this start generated it (shown once), else null. */
  generatedAdminToken: string | null;
  /** Where a generated admin token was written (mode 0600). */
  adminTokenFile: string;
  databaseUrl: string;
  embeddedPostgres: EmbeddedPostgresHandle | null;
  store: Store;
  app: FastifyInstance;
  controller: Controller | null;
  instances: InstanceService;
  tenancy: TenancyService;
  catalog: CatalogService;
  agents: Agent[];
  /** The simulated drivers by host id, for fault injection in tests. */
  simulatedDrivers: Map<string, SimulatedDriver>;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: (line: string) => void;
  /** Extra options for every simulated driver (tests: faults). */
  simulated?: Partial<SimulatedDriverOptions>;
  /** Controller tuning (tests: short deadlines). */
  controller?: Partial<ConstructorParameters<typeof Controller>[0]>;
  logger?: Logger;
  /** Principal cache of the API; tests that revoke keys set 0. */
  principalCacheMs?: number;
  /** Interval of SSE heartbeat comments (tests shorten it). */
  sseHeartbeatMs?: number;
  /** How often event retention runs and how much a statement deletes (tests shorten both; the retention itself is KUMO_EVENT_RETENTION_SECONDS). */
  retention?: { intervalMs?: number; batch?: number };
}

/**
 * Starts one Kumo process: the data directory lock, PostgreSQL (embedded, or DATABASE_URL), the store, the core
 * services, the in-process agents with their drivers, the controller and the HTTP API. `stop()` undoes it in reverse;
 * guests of the QEMU driver keep running and are adopted by the next start.
 */
export async function startKumo(config: KumoConfig, options: StartOptions = {}): Promise<RunningKumo> {
  const log = options.log ?? (() => undefined);
  const logger = options.logger ?? (config.requestLog ? consoleLogger : silentLogger);
  await mkdir(config.dataDir, { recursive: true });
  // As root, the embedded PostgreSQL runs as the postgres user, which must be able to pass through Kumo's directory
  // to its own (0700) one below it; traversal is all it gets.
  if (!config.databaseUrl && process.getuid?.() === 0) await chmod(config.dataDir, 0o711);
  const undo: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const step of undo.reverse()) await step().catch(() => undefined);
  };
  try {
    const lock: DataDirLock = await acquireDataDirLock(config.dataDir);
    undo.push(() => lock.release());

    let embedded: EmbeddedPostgresHandle | null = null;
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log });
      undo.push(() => embedded!.stop());
      databaseUrl = embedded.connectionString;
      log(embedded.adopted ? `adopted the embedded PostgreSQL left running on port ${embedded.port}` : `embedded PostgreSQL on 127.0.0.1:${embedded.port}`);
    }

    const store = await openPostgresStore({
      connectionString: databaseUrl,
      poolSize: config.dbPoolSize,
      retention: { eventsMs: config.eventRetentionMs, ...options.retention },
    });
    undo.push(() => store.close());

    const clock = new SystemClock();
    const ids = new RandomIds();
    const catalog = new CatalogService(store, clock, ids);
    const tenancy = new TenancyService(store, clock, ids);
    const scheduler = new HostScheduler(store);
    const agents = new AgentRegistry();

    // Replicas starting together on a fresh database must not both seed it.
    const boot = await store.exclusively('kumo-bootstrap', () => bootstrap({ catalog, tenancy }, { adminToken: config.adminToken }));
    const adminTokenFile = join(config.dataDir, 'admin-token');
    if (boot.generatedAdminToken) await writeFile(adminTokenFile, `${boot.generatedAdminToken}\n`, { mode: 0o600 });

    const controller = config.controller
      ? new Controller({ store, agents, clock, logger, ...options.controller })
      : null;
    const notifier = controller ?? { wake: () => undefined };
    const instances = new InstanceService(store, catalog, tenancy, scheduler, clock, ids, notifier, agents);
    const events = new EventService(store, tenancy);

    // Hosts: the in-process agents of this machine.
    const hostAgents: Agent[] = [];
    const simulatedDrivers = new Map<string, SimulatedDriver>();
    const drivers: Array<{ id: string; zoneId: string; regionId: string; driver: HypervisorDriver; cpuRatio: number; ramRatio: number }> = [];
    if (config.driver === 'qemu') {
      const qemu = await prepareQemuHost(config, { catalog, store, log });
      drivers.push(qemu);
    } else {
      const zones = await catalog.listZones();
      for (const { zoneId, count } of config.simulatedHosts) {
        const zone = zones.find((z) => z.id === zoneId);
        if (!zone) throw new Error(`KUMO_SIMULATED_HOSTS names zone ${zoneId}, which is not in the catalog`);
        for (let n = 1; n <= count; n++) {
          const id = `${config.hostPrefix}-${zoneId}-${n}`.toLowerCase();
          const driver = new SimulatedDriver({
            hostName: id,
            bootDelayMs: config.simulatedBootDelayMs,
            stopDelayMs: config.simulatedStopDelayMs,
            capacity: { ...config.simulatedHostCapacity, gpus: zoneId === 'us1-a' && n === 3 ? [{ type: 'nvidia-l4', count: 4 }] : [], arch: 'x86_64' },
            ...options.simulated,
          });
          simulatedDrivers.set(id, driver);
          drivers.push({ id, zoneId, regionId: zone.regionId, driver, cpuRatio: 4, ramRatio: 1.5 });
        }
      }
    }
    // The agents of one process sweep a third (a half, …) of the interval apart, not all at once: each sweep holds
    // its host's guest list for a round trip (≈4 MB at 33,000 guests), and three at once were the peaks of idle RSS.
    const sweepIntervalMs = DEFAULT_SWEEP_INTERVAL_MS;
    for (const [index, entry] of drivers.entries()) {
      const agent = new Agent({
        host: { id: entry.id, regionId: entry.regionId, zoneId: entry.zoneId, cpuAllocationRatio: entry.cpuRatio, ramAllocationRatio: entry.ramRatio },
        driver: entry.driver,
        store,
        ...(controller ? { statusSink: controller.hostStatus } : {}),
        onHostChanged: () => scheduler.invalidate(),
        owner: `${hostname()}:${config.dataDir}`,
        sweepIntervalMs,
        sweepOffsetMs: Math.round((index * sweepIntervalMs) / drivers.length),
        logger,
      });
      // Registered before it starts: its first guest report is handled through the registry.
      agents.register(agent.client);
      await agent.start();
      undo.push(() => agent.stop());
      hostAgents.push(agent);
    }

    if (controller) {
      await controller.start();
      undo.push(() => controller.stop());
    }

    const metrics = new MetricsRegistry();
    const app = await buildApiServer(
      { instances, catalog, tenancy, events, health: store, metrics },
      {
        logger: config.requestLog,
        rateLimit: { ratePerSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst },
        ...(options.principalCacheMs !== undefined ? { principalCacheMs: options.principalCacheMs } : {}),
        ...(options.sseHeartbeatMs !== undefined ? { sseHeartbeatMs: options.sseHeartbeatMs } : {}),
      },
    );
    await app.listen({ port: config.port, host: config.host });
    undo.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;

    return {
      url: `http://${config.host}:${port}`,
      port,
      generatedAdminToken: boot.generatedAdminToken,
      adminTokenFile,
      databaseUrl,
      embeddedPostgres: embedded,
      store,
      app,
      controller,
      instances,
      tenancy,
      catalog,
      agents: hostAgents,
      simulatedDrivers,
      stop: unwind,
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}
