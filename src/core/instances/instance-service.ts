import type { CatalogService } from '../catalog/catalog-service.js';
import type { Image, InstanceType } from '../catalog/catalog.js';
import { parsePublicKey } from '../catalog/ssh-public-key.js';
import {
  CapacityError,
  ConflictError,
  ForbiddenError,
  IdempotencyMismatchError,
  NotFoundError,
  QuotaExceededError,
  ValidationError,
  type CapacityAlternative,
  type FieldViolation,
} from '../errors.js';
import type { ResourceClaim } from '../hosts.js';
import { cidrContains, isAssignable, isRfc1035Hostname, parseCidr, parseIpv4, RFC1035_LABEL } from '../networking/ipv4.js';
import type {
  CatalogStore,
  Clock,
  CreateLease,
  HostCandidate,
  Ids,
  InstancePage,
  InstanceStore,
  ListInstancesQuery,
  MutationResult,
  Placement,
  PlacementRequest,
} from '../ports.js';
import type { TenancyService } from '../tenancy/tenancy-service.js';
import type { Principal } from '../tenancy/tenancy.js';
import type { Instance, InstanceDisk, InstanceNic, Operation, OperationKind } from './instance.js';
import { buildActionMutation, buildUpdateMutation } from './instance-mutations.js';
import type {
  CreateInstanceRequest,
  CreateNicRequest,
  InstanceActionRequest,
  RequestContext,
  UpdateInstanceRequest,
} from './instance-requests.js';

/**
 * The controller as the instance service sees it: woken after a commit so work starts without waiting for a poll,
 * and offered new instances directly. A create leased to this process's controller in its own transaction
 * ({@link WorkNotifier.leaseForCreate}) starts its first step without a lease query or a second write.
 */
export interface WorkNotifier {
  wake(): void;
  /** The lease a create may take for this controller; null when it has no room (the instance waits for any replica). */
  leaseForCreate?(): CreateLease | null;
  /** A committed create; `leased` when it holds the lease from {@link leaseForCreate}. */
  created?(instance: Instance, leased: boolean): void;
}

/** Reads a guest's serial console through whichever agent runs its host. */
export interface GuestConsole {
  consoleOutput(hostId: string, instanceUid: string, maxLines: number): Promise<string>;
}

interface ResolvedCreate {
  type: InstanceType;
  image: Image;
  nics: Array<{ networkId: string; subnetId: string; cidr: string; gatewayIp: string; prefixLength: number; fixedIpv4: string | null; ipv6Address: string | null; vlan: number | null }>;
  disks: InstanceDisk[];
  sshPublicKeys: string[];
  userData: string | null;
}

/**
 * The instance use cases every dialect calls: create, read, list, update, delete and actions. It validates business
 * rules, asks the scheduler for candidates and hands the store one command per change; it never touches HTTP or SQL.
 */
export class InstanceService {
  constructor(
    private readonly store: InstanceStore & Pick<CatalogStore, 'getServerGroup'>,
    private readonly catalog: CatalogService,
    private readonly tenancy: TenancyService,
    private readonly placement: Placement,
    private readonly clock: Clock,
    private readonly ids: Ids,
    private readonly notifier: WorkNotifier,
    private readonly guestConsole: GuestConsole | null = null,
  ) {}

  async create(ctx: RequestContext, request: CreateInstanceRequest): Promise<MutationResult> {
    await this.tenancy.authorize(ctx.principal, request.projectId, 'mutate');
    const resolved = await this.resolveCreate(request);
    const now = this.clock.now();
    const name = request.name ?? this.ids.instanceName();
    const claim: ResourceClaim = {
      vcpus: resolved.type.vcpus,
      ramMb: resolved.type.ramMb,
      diskGb: resolved.disks.reduce((sum, disk) => sum + disk.sizeGb, 0),
      gpus: resolved.type.gpus.reduce((sum, gpu) => sum + gpu.count, 0),
    };
    const serverGroup = request.serverGroupUid ? await this.resolveServerGroup(request.projectId, request.serverGroupUid) : null;
    const placementRequest: PlacementRequest = {
      regionId: request.regionId,
      zoneId: request.zoneId,
      claim,
      arch: resolved.image.arch,
      gpuType: resolved.type.gpus[0]?.type ?? null,
      serverGroup,
      excludeHostIds: [],
    };
    const uid = this.ids.uuid();
    const operation: Operation = {
      id: this.ids.operationId(),
      projectId: request.projectId,
      kind: 'create',
      targetUid: uid,
      targetName: name,
      status: 'pending',
      error: null,
      steps: [{ name: 'accepted', status: 'succeeded', at: now.toISOString(), elapsedMs: 0 }],
      requestId: ctx.requestId,
      principalId: ctx.principal.id,
      params: {},
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    };
    const nics: InstanceNic[] = resolved.nics.map((nic) => ({
      networkId: nic.networkId,
      subnetId: nic.subnetId,
      ipv4Address: nic.fixedIpv4 ?? '',
      prefixLength: nic.prefixLength,
      gatewayIp: nic.gatewayIp,
      macAddress: this.ids.macAddress(),
      ipv6Address: nic.ipv6Address,
      vlan: nic.vlan,
      publicIpv4: null,
    }));
    const instance: Instance = {
      uid,
      shortId: 0,
      projectId: request.projectId,
      name,
      displayName: request.displayName ?? name,
      description: request.description ?? '',
      hostname: (request.hostname ?? name).toLowerCase(),
      labels: request.labels ?? {},
      tags: request.tags ?? [],
      metadata: request.metadata ?? {},
      instanceMetadata: request.instanceMetadata ?? [],
      regionId: request.regionId,
      zoneId: request.zoneId ?? '',
      instanceTypeId: resolved.type.id,
      pendingInstanceTypeId: null,
      previousInstanceTypeId: null,
      vcpus: resolved.type.vcpus,
      ramMb: resolved.type.ramMb,
      diskGb: claim.diskGb,
      gpus: resolved.type.gpus,
      imageId: resolved.image.id,
      disks: resolved.disks,
      nics,
      sshKeyIds: request.sshKeyIds ?? [],
      sshPublicKeys: resolved.sshPublicKeys,
      keyName: request.keyName ?? null,
      userData: resolved.userData,
      securityGroups: request.securityGroups ?? [],
      serverGroupUid: serverGroup?.uid ?? null,
      withPublicIp: request.withPublicIp ?? false,
      hostId: null,
      desiredPower: request.desiredPower ?? 'running',
      phase: 'provisioning',
      powerState: 'unknown',
      statusMessage: 'waiting for the host to create the instance',
      conditions: [],
      generation: 1,
      observedGeneration: 0,
      resourceVersion: 1,
      currentOperationId: operation.id,
      createdVia: ctx.via,
      createdAt: now,
      updatedAt: now,
      launchedAt: null,
      deletedAt: null,
    };
    const publicIpPool = instance.withPublicIp ? await this.catalog.publicIpPool(request.regionId) : null;
    if (instance.withPublicIp && !publicIpPool) {
      throw new ValidationError('this region has no public IPv4 pool', [{ path: 'withPublicIp', message: 'no pool in region' }]);
    }

    for (let attempt = 0; attempt < 2; attempt++) {
      const ranked = await this.placement.rank(placementRequest);
      if (ranked.candidates.length === 0) {
        // The scheduler's view of the hosts may predate a release; look at the hosts as they are before refusing.
        if (attempt === 0) {
          this.placement.invalidate();
          continue;
        }
        throw await this.capacityError(placementRequest, ranked.excludedBy, resolved.type);
      }
      const outcome = await this.store.createInstance({
        instance,
        candidates: ranked.candidates,
        addressRequests: resolved.nics.map((nic) => ({
          subnetId: nic.subnetId,
          cidr: nic.cidr,
          gatewayIp: nic.gatewayIp,
          fixedIpv4: nic.fixedIpv4,
        })),
        publicIpPool,
        operation,
        idempotency: ctx.idempotency,
        lease: this.notifier.leaseForCreate?.() ?? null,
      });
      switch (outcome.kind) {
        case 'created':
          if (this.notifier.created) this.notifier.created(outcome.result.instance, outcome.leased);
          else this.notifier.wake();
          return outcome.result;
        case 'replayed':
          return outcome.result;
        case 'idempotency-mismatch':
          throw new IdempotencyMismatchError(ctx.idempotency?.key ?? '');
        case 'name-taken':
          throw new ConflictError(`an instance named ${name} already exists in project ${request.projectId}`, {
            resource: 'instance',
            name,
          });
        case 'quota-exceeded':
          throw new QuotaExceededError(outcome.resource, outcome.limit, outcome.used, outcome.requested);
        case 'address-in-use':
          throw new ConflictError(`address ${outcome.address} is already in use`, { address: outcome.address });
        case 'address-exhausted':
          throw new ConflictError(`subnet ${outcome.subnetId} has no free address`, { subnet: outcome.subnetId });
        case 'no-capacity':
          // Every candidate lost a race for its capacity: refresh the view of the hosts once and rank again.
          this.placement.invalidate();
          break;
      }
    }
    throw await this.capacityError(placementRequest, { capacity: 1 }, resolved.type);
  }

  async get(principal: Principal, projectId: string, id: string): Promise<Instance> {
    await this.tenancy.authorize(principal, projectId, 'read');
    const instance = await this.store.getInstance({ projectId, id });
    if (!instance) throw new NotFoundError('instance', id);
    return instance;
  }

  /** Lists a project's instances; `projectId: null` lists every project and needs a global admin. */
  async list(principal: Principal, query: ListInstancesQuery): Promise<InstancePage> {
    if (query.projectId === null) {
      if (principal.projectId !== null || principal.role !== 'admin') throw new ForbiddenError('listing every project needs a global admin key');
    } else {
      await this.tenancy.authorize(principal, query.projectId, 'read');
    }
    return this.store.listInstances(query);
  }

  async update(
    ctx: RequestContext,
    projectId: string,
    id: string,
    request: UpdateInstanceRequest,
    expectedVersion: number | null,
  ): Promise<MutationResult> {
    await this.tenancy.authorize(ctx.principal, projectId, 'mutate');
    this.validateMetadata(request);
    const operation = this.newOperation(ctx, projectId, 'update', {});
    return this.store.mutateInstance(
      { projectId, id },
      (current) => buildUpdateMutation(current, request, { ...operation, targetUid: current.uid, targetName: current.name }, this.clock.now()),
      { idempotency: ctx.idempotency, expectedVersion },
    );
  }

  async delete(ctx: RequestContext, projectId: string, id: string, expectedVersion: number | null): Promise<MutationResult> {
    await this.tenancy.authorize(ctx.principal, projectId, 'release');
    const operation = this.newOperation(ctx, projectId, 'delete', {});
    const result = await this.store.mutateInstance(
      { projectId, id },
      (current) => buildActionMutation(current, { action: 'delete' }, { ...operation, targetUid: current.uid, targetName: current.name }, this.clock.now()),
      { idempotency: ctx.idempotency, expectedVersion },
    );
    this.notifier.wake();
    return result;
  }

  async act(
    ctx: RequestContext,
    projectId: string,
    id: string,
    request: InstanceActionRequest,
    expectedVersion: number | null,
  ): Promise<MutationResult> {
    const releasing = request.action === 'stop';
    await this.tenancy.authorize(ctx.principal, projectId, releasing ? 'release' : 'mutate');
    const params: Record<string, unknown> = {};
    if (request.action === 'resize') {
      await this.catalog.getInstanceType(request.instanceTypeId).catch(() => {
        throw new ValidationError(`unknown instance type ${request.instanceTypeId}`, [
          { path: 'instanceTypeId', message: 'no such instance type' },
        ]);
      });
      params.instanceTypeId = request.instanceTypeId;
      params.autoConfirm = request.autoConfirm ?? true;
    }
    if (request.action === 'reboot') params.kind = request.hard ? 'hard' : 'soft';
    if (request.action === 'stop') params.force = request.force ?? false;
    if (request.action === 'snapshot') {
      const imageId = request.imageId ?? `snapshot-${this.ids.uuid().slice(0, 8)}`;
      if (!RFC1035_LABEL.test(imageId) || imageId.length > 63) {
        throw new ValidationError('invalid image id', [{ path: 'imageId', message: 'must be an RFC 1035 label' }]);
      }
      params.imageId = imageId;
      params.imageName = request.imageName ?? imageId;
    }
    const operation = this.newOperation(ctx, projectId, request.action, params);
    const result = await this.store.mutateInstance(
      { projectId, id },
      (current) => buildActionMutation(current, request, { ...operation, targetUid: current.uid, targetName: current.name }, this.clock.now()),
      { idempotency: ctx.idempotency, expectedVersion },
    );
    this.notifier.wake();
    return result;
  }

  async getOperation(principal: Principal, projectId: string, id: string): Promise<Operation> {
    await this.tenancy.authorize(principal, projectId, 'read');
    const operation = await this.store.getOperation(projectId, id);
    if (!operation) throw new NotFoundError('operation', id);
    return operation;
  }

  async listOperations(principal: Principal, projectId: string, id: string): Promise<Operation[]> {
    const instance = await this.get(principal, projectId, id);
    return this.store.listOperations(instance.uid);
  }

  async consoleOutput(principal: Principal, projectId: string, id: string, maxLines: number): Promise<string> {
    const instance = await this.get(principal, projectId, id);
    if (!instance.hostId || !this.guestConsole || instance.phase === 'provisioning') return '';
    return this.guestConsole.consoleOutput(instance.hostId, instance.uid, maxLines);
  }

  private newOperation(ctx: RequestContext, projectId: string, kind: OperationKind, params: Record<string, unknown>): Operation {
    const now = this.clock.now();
    return {
      id: this.ids.operationId(),
      projectId,
      kind,
      targetUid: '',
      targetName: '',
      status: 'pending',
      error: null,
      steps: [{ name: 'accepted', status: 'succeeded', at: now.toISOString(), elapsedMs: 0 }],
      requestId: ctx.requestId,
      principalId: ctx.principal.id,
      params,
      createdAt: now,
      updatedAt: now,
      completedAt: null,
    };
  }

  private validateMetadata(request: { instanceMetadata?: Array<{ key: string; value: string }> | undefined }): void {
    const violations: FieldViolation[] = [];
    request.instanceMetadata?.forEach((item, index) => {
      if (item.key === 'ssh-keys') {
        const bad = parseSshKeysMetadata(item.value).invalidLines;
        if (bad.length) violations.push({ path: `instanceMetadata/${index}/value`, message: `invalid SSH key on line ${bad[0]}` });
      }
    });
    if (violations.length) throw new ValidationError('invalid instance metadata', violations);
  }

  private async resolveServerGroup(projectId: string, uid: string) {
    const group = await this.store.getServerGroup(uid);
    if (!group || group.projectId !== projectId) {
      throw new ValidationError(`unknown server group ${uid}`, [{ path: 'serverGroupUid', message: 'no such server group' }]);
    }
    return { uid: group.uid, policy: group.policy };
  }

  /** Resolves and checks every catalog reference of a create; collects all violations before failing. */
  private async resolveCreate(request: CreateInstanceRequest): Promise<ResolvedCreate> {
    const violations: FieldViolation[] = [];
    const fail = (path: string, message: string) => violations.push({ path, message });
    const found = async <T>(path: string, lookup: Promise<T>): Promise<T | null> =>
      lookup.catch((error: unknown) => {
        if (error instanceof NotFoundError) {
          fail(path, `${error.resource} ${error.id} does not exist`);
          return null;
        }
        throw error;
      });

    const region = await found('regionId', this.catalog.getRegion(request.regionId));
    if (region && request.zoneId !== null) await found('zoneId', this.catalog.getZone(region.id, request.zoneId));
    const type = await found('instanceTypeId', this.catalog.getInstanceType(request.instanceTypeId));
    if (type && request.zoneId && type.zones.length > 0 && !type.zones.includes(request.zoneId)) {
      fail('instanceTypeId', `instance type ${type.id} is not offered in zone ${request.zoneId}`);
    }
    const image = await found('imageId', this.catalog.getImage(request.imageId, request.projectId));
    if (image && image.status !== 'active') fail('imageId', `image ${image.id} is ${image.status}, not active`);

    if (request.name !== null && (!RFC1035_LABEL.test(request.name) || request.name.length > 63)) {
      fail('name', 'must be 1-63 characters: a lowercase letter, then lowercase letters, digits or hyphens, not ending in a hyphen');
    }
    const hostname = request.hostname ?? request.name;
    if (hostname && !isRfc1035Hostname(hostname)) fail('hostname', 'must be an RFC 1035 host name');

    if (type && request.gpus && request.gpus.length > 0) {
      for (const [index, gpu] of request.gpus.entries()) {
        const offered = type.gpus.find((g) => g.type === gpu.type);
        if (!offered || gpu.count > offered.count || gpu.count < 1) {
          fail(`gpus/${index}`, `instance type ${type.id} does not offer ${gpu.count} × ${gpu.type}`);
        }
      }
    }

    // Disks: the boot disk comes from the image; default is one boot disk of the type's size.
    const defaultBootSize = Math.max(type?.diskGb ?? 1, image?.minDiskGb ?? 1);
    const disks: InstanceDisk[] = (request.disks && request.disks.length > 0
      ? request.disks
      : [{ interface: 'VIRTIO' as const, imageId: request.imageId, boot: true, type: 'PERSISTENT' as const, mode: 'READ_WRITE' as const }]
    ).map((disk, index) => {
      if (disk.sizeGb === undefined && !disk.boot) fail(`disks/${index}/sizeGb`, 'is required for a disk that is not the boot disk');
      return { ...disk, imageId: disk.imageId, sizeGb: disk.sizeGb ?? (disk.boot ? defaultBootSize : 1) };
    });
    if (disks.filter((disk) => disk.boot).length !== 1) fail('disks', 'exactly one disk must be the boot disk');
    disks.forEach((disk, index) => {
      if (!Number.isInteger(disk.sizeGb) || disk.sizeGb < 1 || disk.sizeGb > 65_536) fail(`disks/${index}/sizeGb`, 'must be 1-65536');
      if (disk.boot && image && disk.sizeGb < image.minDiskGb) fail(`disks/${index}/sizeGb`, `image needs at least ${image.minDiskGb} GB`);
    });

    // NICs: default to the project's network in the region (its own before a shared one).
    const nicRequests = request.nics && request.nics.length > 0 ? request.nics : null;
    const nics: ResolvedCreate['nics'] = [];
    if (region) {
      const wanted = nicRequests ?? (await this.defaultNic(request.projectId, region.id));
      if (!wanted) fail('nics', `project ${request.projectId} has no network in region ${region.id}`);
      for (const [index, nic] of (wanted ?? []).entries()) {
        const network = await found(`nics/${index}/networkId`, this.catalog.getNetwork(nic.networkId, request.projectId));
        if (!network) continue;
        if (network.regionId !== region.id) {
          fail(`nics/${index}/networkId`, `network ${network.id} is in region ${network.regionId}`);
          continue;
        }
        const subnets = await this.catalog.listSubnets(network.id);
        const subnet = nic.subnetId ? subnets.find((s) => s.id === nic.subnetId || s.uid === nic.subnetId) : subnets[0];
        if (!subnet) {
          fail(`nics/${index}/subnetId`, nic.subnetId ? `subnet ${nic.subnetId} is not in network ${network.id}` : `network ${network.id} has no subnet`);
          continue;
        }
        const cidr = parseCidr(subnet.cidr);
        let fixedIpv4: string | null = null;
        if (nic.ipv4Address) {
          const address = parseIpv4(nic.ipv4Address);
          if (address === null || !cidr || !cidrContains(cidr, address) || !isAssignable(cidr, address, parseIpv4(subnet.gatewayIp))) {
            fail(`nics/${index}/ipv4Address`, `must be a usable address in ${subnet.cidr}`);
          } else fixedIpv4 = nic.ipv4Address;
        }
        nics.push({
          networkId: network.id,
          subnetId: subnet.id,
          cidr: subnet.cidr,
          gatewayIp: subnet.gatewayIp,
          prefixLength: cidr?.prefixLength ?? 24,
          fixedIpv4,
          ipv6Address: nic.ipv6Address ?? null,
          vlan: nic.vlan ?? null,
        });
      }
    }

    // SSH keys: registered keys by id, raw public keys, and k0rdent `ssh-keys` metadata (`user:key` lines).
    const sshPublicKeys: string[] = [];
    if (request.sshKeyIds && request.sshKeyIds.length > 0) {
      const keys = await this.catalog.listSshKeys(request.projectId);
      request.sshKeyIds.forEach((id, index) => {
        const key = keys.find((k) => k.id === id || k.name === id || k.uid === id);
        if (key) sshPublicKeys.push(key.publicKey);
        else fail(`sshKeyIds/${index}`, `ssh key ${id} does not exist`);
      });
    }
    request.sshPublicKeys?.forEach((line, index) => {
      const parsed = parsePublicKey(line);
      if (parsed) sshPublicKeys.push(parsed.normalized);
      else fail(`sshPublicKeys/${index}`, 'not an OpenSSH public key');
    });
    let userData = request.userData ?? null;
    request.instanceMetadata?.forEach((item, index) => {
      if (item.key === 'ssh-keys') {
        const parsed = parseSshKeysMetadata(item.value);
        if (parsed.invalidLines.length) fail(`instanceMetadata/${index}/value`, `invalid SSH key on line ${parsed.invalidLines[0]}`);
        sshPublicKeys.push(...parsed.keys);
      }
      if ((item.key === 'user-data' || item.key === 'startup-script') && userData === null) userData = item.value;
    });
    if (userData !== null && Buffer.byteLength(userData) > 64 * 1024) fail('userData', 'must be at most 64 KiB');

    if (violations.length > 0 || !type || !image) throw new ValidationError('the instance request is invalid', violations);
    return { type, image, nics, disks, sshPublicKeys: [...new Set(sshPublicKeys)], userData };
  }

  private async defaultNic(projectId: string, regionId: string): Promise<CreateNicRequest[] | null> {
    const networks = (await this.catalog.listNetworks(projectId)).filter((n) => n.regionId === regionId);
    const network = networks.find((n) => n.projectId === projectId) ?? networks[0];
    return network ? [{ networkId: network.id }] : null;
  }

  /** A capacity error that says which filters excluded hosts and what would fit now (other zones or types). */
  private async capacityError(request: PlacementRequest, excludedBy: Record<string, number>, type: InstanceType): Promise<CapacityError> {
    const fitsNow: CapacityAlternative[] = [];
    const zones = await this.catalog.listZones(request.regionId);
    for (const zone of zones) {
      if (zone.id === request.zoneId) continue;
      const ranked = await this.placement.rank({ ...request, zoneId: zone.id });
      if (ranked.candidates.length > 0) fitsNow.push({ zone: zone.id, instanceType: type.id });
    }
    const types = await this.catalog.listInstanceTypes(request.zoneId ?? undefined);
    for (const other of types) {
      if (other.id === type.id || other.gpus.length !== type.gpus.length) continue;
      const claim = { vcpus: other.vcpus, ramMb: other.ramMb, diskGb: other.diskGb, gpus: other.gpus.reduce((s, g) => s + g.count, 0) };
      const ranked = await this.placement.rank({ ...request, claim });
      if (ranked.candidates.length > 0) fitsNow.push({ zone: request.zoneId ?? '', instanceType: other.id });
      if (fitsNow.length >= 10) break;
    }
    const reasons = Object.entries(excludedBy)
      .filter(([, count]) => count > 0)
      .map(([filter, count]) => `${count} excluded by ${filter}`);
    return new CapacityError(
      `no host can take a ${type.id} instance${request.zoneId ? ` in zone ${request.zoneId}` : ''}${reasons.length ? ` (${reasons.join(', ')})` : ''}`,
      excludedBy,
      fitsNow,
    );
  }
}

/** Parses k0rdent `ssh-keys` metadata: one `user:key` (or bare key) per line. */
export function parseSshKeysMetadata(value: string): { keys: string[]; invalidLines: number[] } {
  const keys: string[] = [];
  const invalidLines: number[] = [];
  value.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line) return;
    const colon = line.indexOf(':');
    const candidate = colon > 0 && !line.slice(0, colon).includes(' ') ? line.slice(colon + 1) : line;
    const parsed = parsePublicKey(candidate);
    if (parsed) keys.push(parsed.normalized);
    else invalidLines.push(index + 1);
  });
  return { keys, invalidLines };
}

export type { HostCandidate };
