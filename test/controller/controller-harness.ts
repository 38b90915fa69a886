/**
 * A real store (a fresh PostgreSQL database), the core's instance service, the scheduler, simulated hosts with their
 * agents, and controllers: everything the controller tests drive through public interfaces.
 */
import type { AgentClient } from '../../src/agent/agent-client.js';
import { Agent } from '../../src/agent/agent.js';
import { AgentRegistry } from '../../src/agent/agent-registry.js';
import { silentLogger } from '../../src/agent/logger.js';
import { Controller, type ControllerOptions } from '../../src/controller/controller.js';
import {
  CatalogService,
  InstanceService,
  RandomIds,
  SystemClock,
  TenancyService,
  type CatalogDocument,
  type CreateInstanceRequest,
  type Instance,
  type InstanceActionRequest,
  type Operation,
  type Principal,
  type RequestContext,
  type Store,
} from '../../src/core/index.js';
import type { GuestSpec, GuestStatus } from '../../src/drivers/hypervisor-driver.js';
import { SimulatedDriver, type SimulatedDriverOptions } from '../../src/drivers/simulated/simulated-driver.js';
import { HostScheduler } from '../../src/scheduler/host-scheduler.js';
import { createTestStore } from '../support/test-database.js';

export const PROJECT = 'project-controller';

const CATALOG: CatalogDocument = {
  regions: [{ id: 'r1', name: 'Region 1' }],
  zones: [{ id: 'z1', regionId: 'r1' }],
  images: [{ id: 'test-image', name: 'Test image', os: 'linux', osVersion: '1', minDiskGb: 1, boot: { kind: 'none' } }],
  instanceTypes: [
    { id: 'small', vcpus: 1, ramMb: 1_024, diskGb: 10 },
    { id: 'large', vcpus: 2, ramMb: 2_048, diskGb: 20 },
    { id: 'huge', vcpus: 64, ramMb: 1_000_000, diskGb: 20 },
  ],
  networks: [{ id: 'net-1', regionId: 'r1', subnets: [{ id: 'subnet-1', cidr: '10.20.0.0/16' }] }],
};

/** A simulated driver that counts creates per guest, to prove that replicas never duplicate work. */
export class CountingDriver extends SimulatedDriver {
  readonly creates = new Map<string, number>();

  override async create(spec: GuestSpec, options?: { readyTimeoutMs?: number; signal?: AbortSignal }): Promise<GuestStatus> {
    this.creates.set(spec.id, (this.creates.get(spec.id) ?? 0) + 1);
    return super.create(spec, options);
  }
}

export interface HarnessOptions {
  hosts?: number;
  driver?: SimulatedDriverOptions;
  controller?: Partial<ControllerOptions>;
  /** Start no controller; the test starts its own with `startController`. */
  noController?: boolean;
  /** Guests a status sweep compares in one statement (the store's default otherwise). */
  guestSliceSize?: number;
}

export interface ControllerHarness {
  store: Store;
  /** The harness's own database, for tests that look at or change it directly. */
  databaseUrl: string;
  instances: InstanceService;
  agents: AgentRegistry;
  drivers: CountingDriver[];
  hostAgents: Agent[];
  controllers: Controller[];
  startController(options?: Partial<ControllerOptions>): Controller;
  create(overrides?: Partial<CreateInstanceRequest>): Promise<{ instance: Instance; operation: Operation }>;
  act(uid: string, request: InstanceActionRequest): Promise<Operation>;
  remove(uid: string): Promise<Operation>;
  waitFor(uid: string, predicate: (instance: Instance) => boolean, timeoutMs?: number): Promise<Instance>;
  operation(id: string): Promise<Operation>;
  close(): Promise<void>;
}

const ADMIN: Principal = { id: 'test-admin', role: 'admin', projectId: null };
const CONTEXT: RequestContext = { principal: ADMIN, idempotency: null, requestId: null, via: 'test' };

export async function startHarness(options: HarnessOptions = {}): Promise<ControllerHarness> {
  const database = await createTestStore(options.guestSliceSize === undefined ? {} : { guestSliceSize: options.guestSliceSize });
  const { store } = database;
  const clock = new SystemClock();
  const ids = new RandomIds();
  const tenancy = new TenancyService(store, clock, ids);
  const catalog = new CatalogService(store, clock, ids);
  const team = await tenancy.createTeam({ name: 'controller-tests' });
  await tenancy.createProject({ id: PROJECT, teamId: team.id, quota: { instances: 100_000, vcpus: 1_000_000, ramMb: 1_000_000_000 } });
  await catalog.applyCatalog(CATALOG);

  const agents = new AgentRegistry();
  const scheduler = new HostScheduler(store, { cacheTtlMs: 0 });
  const controllers: Controller[] = [];
  const notifier = { wake: () => controllers.forEach((controller) => controller.wake()) };
  const instances = new InstanceService(store, catalog, tenancy, scheduler, clock, ids, notifier, agents);

  const startController = (overrides: Partial<ControllerOptions> = {}) => {
    const controller = new Controller({
      store,
      agents,
      logger: silentLogger,
      deadlines: { create: 5_000, start: 5_000, stop: 5_000, reboot: 5_000, resize: 5_000, snapshot: 5_000, delete: 5_000 },
      stopGracefulTimeoutMs: 1_000,
      sweepIntervalMs: 500,
      ...options.controller,
      ...overrides,
    });
    controllers.push(controller);
    controller.start();
    return controller;
  };
  if (!options.noController) startController();

  const drivers: CountingDriver[] = [];
  const hostAgents: Agent[] = [];
  for (let index = 0; index < (options.hosts ?? 2); index++) {
    const driver = new CountingDriver({
      capacity: { vcpus: 8, ramMb: 16_384, diskGb: 500, gpus: [], arch: 'x86_64' },
      hostName: `host-${index}`,
      ...options.driver,
    });
    const agent = new Agent({
      host: { id: `host-${index}`, regionId: 'r1', zoneId: 'z1', cpuAllocationRatio: 1 },
      driver,
      store,
      statusSink: {
        // Whichever controller is first: in production the sink is the one in the agent's process.
        guestEvent: (hostId, event) => (controllers[0] ? controllers[0].hostStatus.guestEvent(hostId, event) : Promise.resolve()),
        guestReport: (hostId, guests, context) =>
          controllers[0] ? controllers[0].hostStatus.guestReport(hostId, guests, context) : Promise.resolve(),
      },
      onHostChanged: () => scheduler.invalidate(),
      sweepIntervalMs: 60_000,
    });
    agents.register(agent.client);
    await agent.start();
    drivers.push(driver);
    hostAgents.push(agent);
  }

  const waitFor = async (uid: string, predicate: (instance: Instance) => boolean, timeoutMs = 5_000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const instance = await store.getInstanceByUid(uid);
      if (instance && predicate(instance)) return instance;
      if (Date.now() > until) {
        throw new Error(`instance ${uid} did not get there in ${timeoutMs} ms: ${JSON.stringify({ phase: instance?.phase, statusMessage: instance?.statusMessage })}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  return {
    store,
    databaseUrl: database.databaseUrl,
    instances,
    agents,
    drivers,
    hostAgents,
    controllers,
    startController,
    async create(overrides = {}) {
      const result = await instances.create(CONTEXT, {
        projectId: PROJECT,
        regionId: 'r1',
        zoneId: null,
        name: null,
        instanceTypeId: 'small',
        imageId: 'test-image',
        ...overrides,
      });
      if (!result.operation) throw new Error('create returned no operation');
      return { instance: result.instance, operation: result.operation };
    },
    async act(uid, request) {
      const result = await instances.act(CONTEXT, PROJECT, uid, request, null);
      if (!result.operation) throw new Error(`${request.action} returned no operation`);
      return result.operation;
    },
    async remove(uid) {
      const result = await instances.delete(CONTEXT, PROJECT, uid, null);
      if (!result.operation) throw new Error('delete returned no operation');
      return result.operation;
    },
    waitFor,
    async operation(id) {
      const operation = await store.getOperation(null, id);
      if (!operation) throw new Error(`operation ${id} not found`);
      return operation;
    },
    async close() {
      for (const controller of controllers) await controller.stop();
      for (const agent of hostAgents) await agent.stop();
      await database.close();
    },
  };
}

/** The agent of the host an instance was placed on. */
export function agentOf(harness: ControllerHarness, instance: Instance): AgentClient {
  const agent = instance.hostId ? harness.agents.agentFor(instance.hostId) : undefined;
  if (!agent) throw new Error(`instance ${instance.uid} has no agent`);
  return agent;
}

/** The simulated driver of the host an instance was placed on. */
export function driverOf(harness: ControllerHarness, instance: Instance): CountingDriver {
  const index = harness.hostAgents.findIndex((agent) => agent.hostId === instance.hostId);
  const driver = harness.drivers[index];
  if (!driver) throw new Error(`instance ${instance.uid} has no driver`);
  return driver;
}
