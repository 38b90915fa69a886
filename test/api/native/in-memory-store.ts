/**
 * An in-memory implementation of the store ports, for API tests that must run before (or without) PostgreSQL. It
 * keeps the contracts the API relies on — idempotency records, optimistic versions, keyset pages, change events —
 * and emulates the controller by settling transitional phases after a short delay. The real suite runs on
 * test/support/test-kumo.ts; see native-harness.ts.
 */
import { createHash } from 'node:crypto';
import {
  ConflictError,
  IdempotencyMismatchError,
  NotFoundError,
  PreconditionFailedError,
  type ApiKey,
  type ApiKeyLookup,
  type CatalogDocument,
  type ChangeEvent,
  type CreateInstanceCommand,
  type CreateInstanceOutcome,
  type Host,
  type IdempotencyContext,
  type Image,
  type Instance,
  type InstanceMutation,
  type InstancePage,
  type InstancePhase,
  type InstanceRef,
  type InstanceType,
  type ListInstancesQuery,
  type MutateOptions,
  type MutationResult,
  type Network,
  type Operation,
  type Placement,
  type PlacementRequest,
  type PlacementResult,
  type Project,
  type ProjectQuota,
  type PublicIpPool,
  type Region,
  type SecurityGroup,
  type ServerGroup,
  type SshKey,
  type Store,
  type Subnet,
  type Team,
  type Zone,
} from '../../../src/core/index.js';

const clone = <T>(value: T): T => structuredClone(value);

/** Where a transitional phase settles, as the controller would take it. */
const SETTLES: Partial<Record<InstancePhase, InstancePhase>> = {
  provisioning: 'running',
  starting: 'running',
  rebooting: 'running',
  unpausing: 'running',
  stopping: 'stopped',
  pausing: 'paused',
  snapshotting: 'running',
  resizing: 'verify-resize',
  deleting: 'deleted',
};

type IdempotencyRecord = { fingerprint: string; result: unknown };

export class InMemoryStore implements Store {
  readonly teams = new Map<string, Team>();
  readonly projects = new Map<string, { project: Project; quota: ProjectQuota }>();
  readonly apiKeys = new Map<string, ApiKey>();
  readonly regions = new Map<string, Region>();
  readonly zones = new Map<string, Zone>();
  readonly images = new Map<string, Image>();
  readonly types = new Map<string, InstanceType>();
  readonly networks = new Map<string, Network>();
  readonly subnets = new Map<string, Subnet>();
  readonly pools: PublicIpPool[] = [];
  readonly securityGroups = new Map<string, SecurityGroup>();
  readonly sshKeys = new Map<string, SshKey>();
  readonly instances = new Map<string, Instance>();
  readonly operations = new Map<string, Operation>();
  readonly events: ChangeEvent[] = [];
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private readonly listeners = new Set<(projectId: string) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private shortIds = 0;
  private nextAddress = new Map<string, number>();

  constructor(private readonly settleMs = 30) {}

  // Tenancy
  async findApiKeyBySecretHash(secretHash: string): Promise<ApiKeyLookup | null> {
    const key = [...this.apiKeys.values()].find((candidate) => candidate.secretHash === secretHash);
    if (!key) return null;
    const project = key.projectId ? this.projects.get(key.projectId) : undefined;
    return { key: clone(key), billingStatus: project ? (this.teams.get(project.project.teamId)?.billingStatus ?? null) : null };
  }
  async createTeam(team: Team) { this.teams.set(team.id, clone(team)); return team; }
  async getTeam(id: string) { return this.teams.get(id) ?? null; }
  async findTeamByName(name: string) { return [...this.teams.values()].find((team) => team.name === name) ?? null; }
  async listTeams() {
    return [...this.teams.values()].map((team) => ({
      ...team,
      projectIds: [...this.projects.values()].filter((p) => p.project.teamId === team.id).map((p) => p.project.id),
    }));
  }
  async updateTeam(id: string, patch: Partial<Pick<Team, 'billingStatus' | 'balanceCents' | 'name'>>) {
    const team = this.teams.get(id);
    if (!team) return null;
    Object.assign(team, patch);
    return team;
  }
  async createProject(project: Project, quota: ProjectQuota) { this.projects.set(project.id, { project: clone(project), quota }); return project; }
  async getProject(id: string) {
    const found = this.projects.get(id);
    if (!found) return null;
    return { ...found.project, billingStatus: this.teams.get(found.project.teamId)?.billingStatus ?? 'active' };
  }
  async listProjects(teamId?: string) {
    return [...this.projects.values()].map((p) => p.project).filter((p) => !teamId || p.teamId === teamId);
  }
  async createApiKey(key: ApiKey) { this.apiKeys.set(key.id, clone(key)); return key; }
  async revokeApiKey(id: string) {
    const key = this.apiKeys.get(id);
    if (!key) return false;
    key.revokedAt = new Date();
    return true;
  }
  async getQuota(projectId: string) {
    const found = this.projects.get(projectId);
    if (!found) return null;
    const live = [...this.instances.values()].filter((i) => i.projectId === projectId && i.phase !== 'deleted');
    return {
      quota: found.quota,
      usage: {
        projectId,
        instances: live.length,
        vcpus: live.reduce((s, i) => s + i.vcpus, 0),
        ramMb: live.reduce((s, i) => s + i.ramMb, 0),
        publicIps: live.filter((i) => i.withPublicIp).length,
      },
    };
  }
  async setQuota(quota: ProjectQuota) {
    const found = this.projects.get(quota.projectId);
    if (found) found.quota = quota;
  }

  // Catalog
  async listRegions() { return [...this.regions.values()]; }
  async listZones(regionId?: string) { return [...this.zones.values()].filter((z) => !regionId || z.regionId === regionId); }
  async listImages(projectId: string | null) {
    return [...this.images.values()].filter((i) => projectId === null || i.projectId === null || i.projectId === projectId);
  }
  async getImage(id: string) { return this.images.get(id) ?? null; }
  async createImage(image: Image) { this.images.set(image.id, image); return image; }
  async updateImage(id: string, patch: Partial<Pick<Image, 'status' | 'boot' | 'sizeBytes'>>) {
    const image = this.images.get(id);
    if (!image) return null;
    Object.assign(image, patch);
    return image;
  }
  async listInstanceTypes() { return [...this.types.values()]; }
  async listNetworks(projectId: string | null) {
    return [...this.networks.values()].filter((n) => projectId === null || n.projectId === null || n.projectId === projectId);
  }
  async listSubnets(networkId?: string) { return [...this.subnets.values()].filter((s) => !networkId || s.networkId === networkId); }
  async listPublicIpPools() { return this.pools; }
  async listSecurityGroups(projectId: string | null) {
    return [...this.securityGroups.values()].filter((g) => projectId === null || g.projectId === null || g.projectId === projectId);
  }
  async listSshKeys(projectId: string) { return [...this.sshKeys.values()].filter((k) => k.projectId === projectId); }
  async createSshKey(key: SshKey, idempotency: IdempotencyContext | null) {
    const recorded = this.replay<SshKey>(idempotency);
    if (recorded) return { key: recorded, replayed: true };
    const id = `${key.projectId}/${key.id}`;
    if (this.sshKeys.has(id)) throw new ConflictError(`ssh key ${key.id} exists`);
    this.sshKeys.set(id, clone(key));
    this.record(idempotency, key);
    return { key, replayed: false };
  }
  async deleteSshKey(projectId: string, id: string) { return this.sshKeys.delete(`${projectId}/${id}`); }
  async getServerGroup(): Promise<ServerGroup | null> { return null; }
  async createServerGroup(group: ServerGroup) { return group; }
  async applyCatalog(document: CatalogDocument) {
    const now = new Date();
    const uid = (seed: string) => createHash('sha256').update(seed).digest('hex').replace(/^(.{8})(.{4})(.{3})(.{3})(.{12}).*$/, '$1-$2-4$3-8$4-$5');
    for (const r of document.regions ?? []) this.regions.set(r.id, { country: null, ...r });
    for (const z of document.zones ?? []) this.zones.set(z.id, { name: z.id, ...z });
    for (const i of document.images ?? []) {
      this.images.set(i.id, {
        uid: uid(i.id), arch: 'x86_64', minDiskGb: 1, minRamMb: 0, sizeBytes: 0, boot: { kind: 'none' }, status: 'active',
        projectId: null, sourceInstanceUid: null, createdAt: now, updatedAt: now, ...i,
      });
    }
    for (const t of document.instanceTypes ?? []) this.types.set(t.id, { uid: uid(t.id), name: t.id, gpus: [], zones: [], createdAt: now, ...t });
    for (const n of document.networks ?? []) {
      const { subnets, ...network } = n;
      this.networks.set(n.id, { uid: uid(n.id), name: n.id, projectId: null, createdAt: now, ...network });
      for (const s of subnets) {
        this.subnets.set(s.id, { uid: uid(s.id), name: s.id, networkId: n.id, gatewayIp: s.cidr.replace(/\.0\/\d+$/, '.1'), createdAt: now, ...s });
      }
    }
    this.pools.push(...(document.publicIpPools ?? []));
    for (const g of document.securityGroups ?? []) this.securityGroups.set(g.id, { uid: uid(g.id), projectId: null, description: '', createdAt: now, ...g });
  }

  // Instances
  async createInstance(command: CreateInstanceCommand): Promise<CreateInstanceOutcome> {
    const key = this.idempotencyKey(command.idempotency);
    const recorded = key ? this.idempotency.get(key) : undefined;
    if (recorded && command.idempotency) {
      if (recorded.fingerprint !== command.idempotency.fingerprint) return { kind: 'idempotency-mismatch' };
      return { kind: 'replayed', result: { ...(clone(recorded.result) as MutationResult), replayed: true } };
    }
    const instance = clone(command.instance);
    const taken = [...this.instances.values()].some((i) => i.projectId === instance.projectId && i.name === instance.name && i.phase !== 'deleted');
    if (taken) return { kind: 'name-taken' };
    const candidate = command.candidates[0];
    if (!candidate) return { kind: 'no-capacity', hostsTried: 0 };
    instance.hostId = candidate.hostId;
    instance.shortId = ++this.shortIds;
    instance.nics.forEach((nic, index) => {
      const request = command.addressRequests[index];
      if (!request) return;
      const next = (this.nextAddress.get(request.subnetId) ?? 10) + 1;
      this.nextAddress.set(request.subnetId, next);
      nic.ipv4Address = request.fixedIpv4 ?? request.cidr.replace(/\.0\/\d+$/, `.${next}`);
    });
    if (command.publicIpPool) instance.nics[0]!.publicIpv4 = command.publicIpPool.cidr.replace(/\.0\/\d+$/, `.${instance.shortId + 1}`);
    this.instances.set(instance.uid, instance);
    this.operations.set(command.operation.id, clone(command.operation));
    const result: MutationResult = { instance: clone(instance), operation: clone(command.operation), replayed: false };
    this.record(command.idempotency, result);
    this.emit(instance, 'created');
    this.settleLater(instance.uid);
    return { kind: 'created', result };
  }

  async getInstance(ref: InstanceRef) {
    const found = [...this.instances.values()].find(
      (i) => i.projectId === ref.projectId && (i.name === ref.id || i.uid === ref.id) && i.phase !== 'deleted',
    );
    return found ? clone(found) : null;
  }
  async getInstanceByUid(uid: string) { return clone(this.instances.get(uid) ?? null); }

  async listInstances(query: ListInstancesQuery): Promise<InstancePage> {
    const sortValue = (i: Instance) => (query.order.endsWith('createdAt') ? i.createdAt.toISOString() : i.name);
    const descending = query.order.startsWith('-');
    const compare = (a: [string, string], b: [string, string]) => (a[0] === b[0] ? a[1].localeCompare(b[1]) : a[0] < b[0] ? -1 : 1) * (descending ? -1 : 1);
    const rows = [...this.instances.values()]
      .filter((i) => (query.projectId === null || i.projectId === query.projectId) && (query.includeDeleted || i.phase !== 'deleted'))
      .filter((i) => !query.phases || query.phases.includes(i.phase))
      .filter((i) =>
        query.labels.every((r) => {
          const value = i.labels[r.key];
          switch (r.op) {
            case 'eq': return value === r.value;
            case 'neq': return value !== r.value;
            case 'in': return value !== undefined && r.values.includes(value);
            case 'notin': return value === undefined || !r.values.includes(value);
            case 'exists': return value !== undefined;
            case 'notexists': return value === undefined;
          }
          return false;
        }),
      )
      .sort((a, b) => compare([sortValue(a), a.uid], [sortValue(b), b.uid]))
      .filter((i) => !query.after || compare([sortValue(i), i.uid], [query.after.value, query.after.uid]) > 0);
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      instances: clone(page),
      next: rows.length > query.limit && last ? { order: query.order, value: sortValue(last), uid: last.uid } : null,
    };
  }

  async mutateInstance(ref: InstanceRef, mutate: (current: Instance) => InstanceMutation, options: MutateOptions): Promise<MutationResult> {
    const key = this.idempotencyKey(options.idempotency);
    const recorded = key ? this.idempotency.get(key) : undefined;
    if (recorded && options.idempotency) {
      if (recorded.fingerprint !== options.idempotency.fingerprint) {
        throw new IdempotencyMismatchError(options.idempotency.key);
      }
      return { ...(clone(recorded.result) as MutationResult), replayed: true };
    }
    const current = await this.getInstance(ref);
    if (!current) {
      throw new NotFoundError('instance', ref.id);
    }
    if (options.expectedVersion !== null && options.expectedVersion !== current.resourceVersion) {
      throw new PreconditionFailedError(String(options.expectedVersion), String(current.resourceVersion));
    }
    const change = mutate(clone(current));
    const stored = this.instances.get(current.uid)!;
    Object.assign(stored, change.patch, { resourceVersion: stored.resourceVersion + 1, updatedAt: new Date() });
    if (change.operation) this.operations.set(change.operation.id, clone(change.operation));
    const result: MutationResult = { instance: clone(stored), operation: clone(change.operation), replayed: false };
    this.record(options.idempotency, result);
    this.emit(stored, 'updated');
    this.settleLater(stored.uid);
    return result;
  }

  async getOperation(projectId: string | null, id: string) {
    const op = this.operations.get(id);
    return op && (projectId === null || op.projectId === projectId) ? clone(op) : null;
  }
  async listOperations(targetUid: string) {
    return clone([...this.operations.values()].filter((op) => op.targetUid === targetUid));
  }
  async listServerGroupHosts() { return []; }

  // Events
  async listEvents(projectId: string, afterId: number, limit: number) {
    return clone(this.events.filter((e) => e.projectId === projectId && e.id > afterId).slice(0, limit));
  }
  async latestEventId(projectId: string) {
    return this.events.filter((e) => e.projectId === projectId).reduce((max, e) => Math.max(max, e.id), 0);
  }
  subscribeEvents(listener: (projectId: string) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Hosts and controller: not used by the API.
  async upsertHost(): Promise<Host> { throw new Error('not in memory'); }
  async listHosts() { return []; }
  async setHostState() {}
  async heartbeat() {}
  async leaseInstances() { return []; }
  async renewLeases() {}
  async recordObservations() { return []; }
  subscribeWork() { return () => undefined; }
  async listHostInstances() { return []; }

  async ping() {}
  async close() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Sets an instance's phase, as the controller would observe it (tests use it to reach a state quickly). */
  setPhase(uid: string, phase: InstancePhase): void {
    const instance = this.instances.get(uid);
    if (!instance) return;
    Object.assign(instance, { phase, resourceVersion: instance.resourceVersion + 1, updatedAt: new Date() });
    this.emit(instance, phase === 'deleted' ? 'deleted' : 'updated');
  }

  private settleLater(uid: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const instance = this.instances.get(uid);
      const next = instance && SETTLES[instance.phase];
      if (!instance || !next) return;
      const op = instance.currentOperationId ? this.operations.get(instance.currentOperationId) : undefined;
      if (op) Object.assign(op, { status: 'succeeded', completedAt: new Date(), updatedAt: new Date() });
      if (instance.phase === 'resizing' && instance.pendingInstanceTypeId) {
        instance.instanceTypeId = instance.pendingInstanceTypeId;
        instance.pendingInstanceTypeId = null;
      }
      instance.statusMessage = '';
      this.setPhase(uid, next);
    }, this.settleMs);
    this.timers.add(timer);
  }

  private emit(instance: Instance, type: ChangeEvent['type']): void {
    const event: ChangeEvent = {
      id: this.events.length + 1,
      projectId: instance.projectId,
      resource: 'instance',
      resourceId: instance.uid,
      type,
      data: JSON.parse(JSON.stringify(instance)) as Record<string, unknown>,
      at: new Date(),
    };
    this.events.push(event);
    for (const listener of this.listeners) listener(instance.projectId);
  }

  private idempotencyKey(context: IdempotencyContext | null): string | null {
    return context ? `${context.principalId}\u0000${context.scope}\u0000${context.key}` : null;
  }

  private replay<T>(context: IdempotencyContext | null): T | null {
    const key = this.idempotencyKey(context);
    const recorded = key ? this.idempotency.get(key) : undefined;
    if (!recorded || !context) return null;
    if (recorded.fingerprint !== context.fingerprint) throw new ConflictError('idempotency key reused');
    return clone(recorded.result) as T;
  }

  private record(context: IdempotencyContext | null, result: unknown): void {
    const key = this.idempotencyKey(context);
    if (key && context) this.idempotency.set(key, { fingerprint: context.fingerprint, result: clone(result) });
  }
}

/** Ranks the one simulated host for every request. */
export class SingleHostPlacement implements Placement {
  async rank(request: PlacementRequest): Promise<PlacementResult> {
    return { candidates: [{ hostId: 'host-1', claim: request.claim }], excludedBy: {}, hostsConsidered: 1 };
  }
  invalidate(): void {}
}
