/**
 * What the core needs from the outside world, as interfaces. The store implements them on PostgreSQL, the scheduler
 * implements {@link Placement}; the core never imports either.
 */
import type {
  CatalogDocument,
  Image,
  InstanceType,
  Network,
  PublicIpPool,
  Region,
  SecurityGroup,
  ServerGroup,
  SshKey,
  Subnet,
  Zone,
} from './catalog/catalog.js';
import type { Host, HostState, ResourceClaim } from './hosts.js';
import type { ChangeEvent, Condition, Instance, Operation, OperationStep, PowerState } from './instances/instance.js';
import type { InstancePhase } from './instances/lifecycle.js';
import type { ApiKey, BillingStatus, Project, ProjectQuota, ProjectUsage, Team } from './tenancy/tenancy.js';

export interface Clock {
  now(): Date;
}

export interface Ids {
  uuid(): string;
  /** `op-` followed by a sortable random suffix. */
  operationId(): string;
  /** A generated RFC 1035 instance name (`instance-xxxxxx`). */
  instanceName(): string;
  /** A locally administered MAC address (52:54:00:…). */
  macAddress(): string;
  /** A random secret for API keys. */
  secret(): string;
}

/** Identifies one idempotent request: the same principal, route and key. */
export interface IdempotencyContext {
  principalId: string;
  /** Method + route + path parameters, so a key is never shared between two resources. */
  scope: string;
  key: string;
  /** Hash of the canonical request body. */
  fingerprint: string;
}

/** The result an idempotent mutation recorded, replayed as-is for the same key and body. */
export interface MutationResult {
  instance: Instance;
  operation: Operation | null;
  /** True when this result is a replay of an earlier request. */
  replayed: boolean;
}

/** One placement candidate: a host and what to claim on it. */
export interface HostCandidate {
  hostId: string;
  claim: ResourceClaim;
}

/** Everything the store needs to create an instance in one transaction. */
export interface CreateInstanceCommand {
  /** The new instance; the store assigns `shortId`, the NIC addresses, `hostId`, and the timestamps. */
  instance: Instance;
  /** Hosts to try in order; the first whose atomic claim succeeds wins. */
  candidates: HostCandidate[];
  /** Per NIC: the subnet to allocate from and an address the caller asked for, if any. */
  addressRequests: Array<{ subnetId: string; cidr: string; gatewayIp: string; fixedIpv4: string | null }>;
  /** A public IPv4 from this pool, when the instance asked for one. */
  publicIpPool: PublicIpPool | null;
  operation: Operation;
  idempotency: IdempotencyContext | null;
  /** Lease the new instance to this controller when it lands on one of `hostIds`. */
  lease?: CreateLease | null;
}

/** A controller's lease taken inside a create's transaction. */
export interface CreateLease {
  owner: string;
  leaseMs: number;
  /** The hosts this controller's agents run; an instance placed elsewhere is left for the replica that runs its host. */
  hostIds: string[];
}

export type CreateInstanceOutcome =
  | { kind: 'created'; result: MutationResult; leased: boolean }
  | { kind: 'replayed'; result: MutationResult }
  | { kind: 'idempotency-mismatch' }
  | { kind: 'name-taken' }
  | { kind: 'no-capacity'; hostsTried: number }
  | { kind: 'quota-exceeded'; resource: string; limit: number; used: number; requested: number }
  | { kind: 'address-in-use'; address: string }
  | { kind: 'address-exhausted'; subnetId: string };

/** A pure change the core computes from the current instance, applied by the store under a row lock. */
export interface InstanceMutation {
  /** Fields to change. */
  patch: Partial<Instance>;
  /** The operation this mutation records, if any. */
  operation: Operation | null;
}

export interface InstanceRef {
  projectId: string;
  /** The instance's name or uid. */
  id: string;
}

export interface MutateOptions {
  idempotency: IdempotencyContext | null;
  /** If-Match: the resource version the caller last saw. */
  expectedVersion: number | null;
}

export type LabelRequirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

export type InstanceOrder = 'createdAt' | '-createdAt' | 'name' | '-name';

/** A keyset position: the sort value and uid of the last item of the previous page. */
export interface ListCursor {
  order: InstanceOrder;
  value: string;
  uid: string;
}

export interface ListInstancesQuery {
  /** null: every project (admin). */
  projectId: string | null;
  limit: number;
  order: InstanceOrder;
  after: ListCursor | null;
  phases: InstancePhase[] | null;
  labels: LabelRequirement[];
  /** Exact-match filters some dialects want. */
  name?: string;
  hostId?: string;
  includeDeleted?: boolean;
}

export interface InstancePage {
  instances: Instance[];
  /** Set when more items may follow. */
  next: ListCursor | null;
}

/** What the controller learned and wants recorded, applied only while it still holds the lease. */
export interface ObservationUpdate {
  uid: string;
  phase?: InstancePhase;
  powerState?: PowerState;
  statusMessage?: string;
  conditions?: Condition[];
  observedGeneration?: number;
  launchedAt?: Date;
  /** Instance fields the controller may change as part of a step (instance type after resize, etc.). */
  patch?: Partial<Pick<Instance, 'instanceTypeId' | 'pendingInstanceTypeId' | 'previousInstanceTypeId' | 'vcpus' | 'ramMb' | 'diskGb' | 'currentOperationId' | 'desiredPower'>>;
  /** Adjust the host claim to a new size (resize) — an atomic claim that may fail. */
  reclaim?: ResourceClaim;
  /** `steps` are appended to the operation's timeline in order, in the same write as the rest of the update. */
  operation?: { id: string; status?: Operation['status']; steps?: OperationStep[]; error?: Operation['error'] };
  /** Release the host claim and addresses (failed create). */
  releaseResources?: boolean;
  /** Finish a deletion: release everything and mark the instance deleted. */
  finalizeDelete?: boolean;
  /** Drop the lease so any replica may pick the instance up again. */
  releaseLease?: boolean;
  /** Re-queue for another step after this many milliseconds (a wait). */
  requeueAfterMs?: number;
  /**
   * The generation the step acted on. The update applies only while the instance still has it: a user's action
   * since (a delete during a create, say) bumped it, and the step's outcome is stale even if the same controller
   * has leased the instance again meanwhile.
   */
  generation?: number;
}

export type ObservationResult =
  | { kind: 'applied' }
  | { kind: 'lease-lost' }
  | { kind: 'reclaim-failed' };

export interface TeamWithProjects extends Team {
  projectIds: string[];
}

export interface ApiKeyLookup {
  key: ApiKey;
  /** The billing status of the key's project's team (null for global keys). */
  billingStatus: BillingStatus | null;
}

export interface TenancyStore {
  findApiKeyBySecretHash(secretHash: string): Promise<ApiKeyLookup | null>;
  createTeam(team: Team): Promise<Team>;
  getTeam(id: string): Promise<Team | null>;
  findTeamByName(name: string): Promise<Team | null>;
  listTeams(): Promise<TeamWithProjects[]>;
  updateTeam(id: string, patch: Partial<Pick<Team, 'billingStatus' | 'balanceCents' | 'name'>>): Promise<Team | null>;
  createProject(project: Project, quota: ProjectQuota): Promise<Project>;
  getProject(id: string): Promise<(Project & { billingStatus: BillingStatus }) | null>;
  listProjects(teamId?: string): Promise<Project[]>;
  createApiKey(key: ApiKey): Promise<ApiKey>;
  revokeApiKey(id: string): Promise<boolean>;
  getQuota(projectId: string): Promise<{ quota: ProjectQuota; usage: ProjectUsage } | null>;
  setQuota(quota: ProjectQuota): Promise<void>;
}

export interface CatalogStore {
  listRegions(): Promise<Region[]>;
  listZones(regionId?: string): Promise<Zone[]>;
  listImages(projectId: string | null): Promise<Image[]>;
  getImage(id: string): Promise<Image | null>;
  createImage(image: Image): Promise<Image>;
  updateImage(id: string, patch: Partial<Pick<Image, 'status' | 'boot' | 'sizeBytes'>>): Promise<Image | null>;
  listInstanceTypes(): Promise<InstanceType[]>;
  listNetworks(projectId: string | null): Promise<Network[]>;
  listSubnets(networkId?: string): Promise<Subnet[]>;
  listPublicIpPools(): Promise<PublicIpPool[]>;
  listSecurityGroups(projectId: string | null): Promise<SecurityGroup[]>;
  listSshKeys(projectId: string): Promise<SshKey[]>;
  createSshKey(key: SshKey, idempotency: IdempotencyContext | null): Promise<{ key: SshKey; replayed: boolean }>;
  deleteSshKey(projectId: string, id: string): Promise<boolean>;
  getServerGroup(uid: string): Promise<ServerGroup | null>;
  createServerGroup(group: ServerGroup): Promise<ServerGroup>;
  /** Upserts everything in the document in one transaction. */
  applyCatalog(document: CatalogDocument): Promise<void>;
}

export interface InstanceStore {
  createInstance(command: CreateInstanceCommand): Promise<CreateInstanceOutcome>;
  getInstance(ref: InstanceRef): Promise<Instance | null>;
  getInstanceByUid(uid: string): Promise<Instance | null>;
  listInstances(query: ListInstancesQuery): Promise<InstancePage>;
  /**
   * Locks the instance, calls `mutate` with its current state (the function may throw a KumoError to refuse), writes
   * the patch, the operation, a change event and the idempotency record in one transaction.
   */
  mutateInstance(
    ref: InstanceRef,
    mutate: (current: Instance) => InstanceMutation,
    options: MutateOptions,
  ): Promise<MutationResult>;
  getOperation(projectId: string | null, id: string): Promise<Operation | null>;
  listOperations(targetUid: string): Promise<Operation[]>;
  /** Members of a server group, for affinity filters. */
  listServerGroupHosts(serverGroupUid: string): Promise<string[]>;
}

export interface EventStore {
  /** Events of a project after the cursor (a {@link ChangeEvent.id}), in commit order. */
  listEvents(projectId: string, after: string, limit: number): Promise<ChangeEvent[]>;
  /** A cursor that skips everything committed so far: a new reader sees only what comes next. */
  latestEventId(projectId: string): Promise<string>;
  /** The newest position retention deleted (`0.0` when none): a reader resuming from before it missed events. */
  eventHorizon(): Promise<string>;
  /** Calls `listener` whenever any replica committed events for a project. */
  subscribeEvents(listener: (projectId: string) => void): () => void;
}

export interface HostStore {
  /**
   * Registers or updates a host for `owner` (the Kumo process whose agent runs it). Throws a ConflictError when another
   * owner's heartbeat on the host is younger than `staleAfterMs`: two agents must never drive one host.
   */
  upsertHost(
    host: Omit<Host, 'usedVcpus' | 'usedRamMb' | 'usedDiskGb' | 'usedGpus' | 'instanceCount' | 'createdAt'>,
    owner: string,
    staleAfterMs: number,
  ): Promise<Host>;
  listHosts(): Promise<Host[]>;
  setHostState(id: string, state: HostState): Promise<void>;
  heartbeat(id: string, at: Date): Promise<void>;
}

/** The controller's view of the store: leases, observations, wake-ups. */
export interface ControllerStore {
  /**
   * Claims up to `limit` instances that need a step (transitional phases, or due re-queues) and whose lease is free or
   * expired, for `leaseMs`, among the instances placed on `hostIds` (or on no host, such as the deletion of a create
   * that failed): a controller only takes work it can carry out through the agents it reaches.
   */
  leaseInstances(owner: string, limit: number, leaseMs: number, hostIds: string[]): Promise<Instance[]>;
  renewLeases(owner: string, uids: string[], leaseMs: number): Promise<void>;
  /** Applies the updates in one transaction; each only where `owner` still holds the lease. */
  recordObservations(owner: string, updates: ObservationUpdate[]): Promise<ObservationResult[]>;
  /** Calls `listener` when any replica committed work for the controller. */
  subscribeWork(listener: () => void): () => void;
  /**
   * Compares a host's guests (ids and power states, in the same order) with the live instances placed on the host,
   * in the database, and returns only what disagrees: each instance whose (phase, power) pair is not one of `inStep`
   * (power `'missing'` when the host has no guest of that id) and each guest no live instance on the host owns.
   */
  compareHostGuests(
    hostId: string,
    guestIds: readonly string[],
    guestPowers: readonly string[],
    inStep: ReadonlyArray<readonly [InstancePhase, string]>,
  ): Promise<HostGuestComparison>;
}

/** What a status sweep needs to tell what to do about an instance and its guest. */
export interface HostInstanceSummary extends Pick<Instance, 'uid' | 'phase'> {
  /** The guest's power as the host reported it; `'missing'` when the host has no guest for the instance. */
  power: string;
  /** Whether the instance ever ran (it has a `launchedAt`): a guest to create again after its host restarted. */
  launched: boolean;
}

export interface HostGuestComparison {
  outOfStep: HostInstanceSummary[];
  unownedGuestIds: string[];
}

export interface Store extends TenancyStore, CatalogStore, InstanceStore, EventStore, HostStore, ControllerStore {
  /** Runs `work` while holding a database-wide lock named `name`: one process at a time, across replicas. */
  exclusively<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** Round-trips to the database: for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Placement request, as the scheduler sees it. */
export interface PlacementRequest {
  regionId: string;
  /** null: any zone of the region. */
  zoneId: string | null;
  claim: ResourceClaim;
  arch: string;
  gpuType: string | null;
  serverGroup: { uid: string; policy: ServerGroup['policy'] } | null;
  excludeHostIds: string[];
}

export interface PlacementResult {
  /** Ranked, best first. */
  candidates: HostCandidate[];
  /** How many hosts each filter excluded. */
  excludedBy: Record<string, number>;
  hostsConsidered: number;
}

/** Ranks hosts for a placement; the claim itself is made atomically by the store. */
export interface Placement {
  rank(request: PlacementRequest): Promise<PlacementResult>;
  /** Forget cached host capacity (after a failed claim or a release). */
  invalidate(): void;
}
