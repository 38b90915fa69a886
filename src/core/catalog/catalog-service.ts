import { NotFoundError, ValidationError } from '../errors.js';
import type { CatalogStore, IdempotencyContext } from '../ports.js';
import type { Clock, Ids } from '../ports.js';
import type {
  CatalogDocument,
  Image,
  InstanceType,
  Network,
  PublicIpPool,
  Region,
  SecurityGroup,
  SshKey,
  Subnet,
  Zone,
} from './catalog.js';
import { parsePublicKey } from './ssh-public-key.js';

interface CatalogSnapshot {
  regions: Map<string, Region>;
  zones: Map<string, Zone>;
  images: Map<string, Image>;
  instanceTypes: Map<string, InstanceType>;
  networks: Map<string, Network>;
  subnets: Map<string, Subnet>;
  pools: PublicIpPool[];
  securityGroups: Map<string, SecurityGroup>;
  loadedAt: number;
}

/** How long a catalog snapshot is trusted before it is reloaded; the catalog changes rarely. */
const SNAPSHOT_TTL_MS = 2_000;

/**
 * Reads of the catalog, served from an in-memory snapshot because every create resolves a type, an image, a network
 * and a subnet; writes go to the store and drop the snapshot.
 */
export class CatalogService {
  private snapshot: CatalogSnapshot | null = null;
  private loading: Promise<CatalogSnapshot> | null = null;

  constructor(
    private readonly store: CatalogStore,
    private readonly clock: Clock,
    private readonly ids: Ids,
  ) {}

  invalidate(): void {
    this.snapshot = null;
  }

  private async current(): Promise<CatalogSnapshot> {
    if (this.snapshot && Date.now() - this.snapshot.loadedAt < SNAPSHOT_TTL_MS) return this.snapshot;
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async load(): Promise<CatalogSnapshot> {
    const [regions, zones, images, types, networks, subnets, pools, groups] = await Promise.all([
      this.store.listRegions(),
      this.store.listZones(),
      this.store.listImages(null),
      this.store.listInstanceTypes(),
      this.store.listNetworks(null),
      this.store.listSubnets(),
      this.store.listPublicIpPools(),
      this.store.listSecurityGroups(null),
    ]);
    const byId = <T extends { id: string }>(rows: T[]) => new Map(rows.map((row) => [row.id, row]));
    this.snapshot = {
      regions: byId(regions),
      zones: byId(zones),
      images: byId(images),
      instanceTypes: byId(types),
      networks: byId(networks),
      subnets: byId(subnets),
      pools,
      securityGroups: byId(groups),
      loadedAt: Date.now(),
    };
    return this.snapshot;
  }

  async listRegions(): Promise<Region[]> {
    return [...(await this.current()).regions.values()];
  }

  async getRegion(id: string): Promise<Region> {
    const region = (await this.current()).regions.get(id);
    if (!region) throw new NotFoundError('region', id);
    return region;
  }

  async listZones(regionId?: string): Promise<Zone[]> {
    const zones = [...(await this.current()).zones.values()];
    return regionId ? zones.filter((zone) => zone.regionId === regionId) : zones;
  }

  async getZone(regionId: string, id: string): Promise<Zone> {
    const zone = (await this.current()).zones.get(id);
    if (!zone || zone.regionId !== regionId) throw new NotFoundError('zone', id);
    return zone;
  }

  /** Public images plus the project's own (snapshots); a project never sees another project's images. */
  async listImages(projectId: string | null): Promise<Image[]> {
    const images = await this.store.listImages(projectId);
    return images.filter((image) => image.status !== 'deleted');
  }

  async getImage(id: string, projectId: string | null): Promise<Image> {
    let image: Image | null | undefined = (await this.current()).images.get(id);
    if (!image) image = await this.store.getImage(id);
    if (!image || image.status === 'deleted' || (image.projectId !== null && projectId !== null && image.projectId !== projectId)) {
      throw new NotFoundError('image', id);
    }
    return image;
  }

  async listInstanceTypes(zoneId?: string): Promise<InstanceType[]> {
    const types = [...(await this.current()).instanceTypes.values()];
    return zoneId ? types.filter((type) => type.zones.length === 0 || type.zones.includes(zoneId)) : types;
  }

  async getInstanceType(id: string): Promise<InstanceType> {
    const type = (await this.current()).instanceTypes.get(id);
    if (!type) throw new NotFoundError('instance type', id);
    return type;
  }

  async listNetworks(projectId: string | null): Promise<Network[]> {
    const networks = [...(await this.current()).networks.values()];
    return projectId === null ? networks : networks.filter((n) => n.projectId === null || n.projectId === projectId);
  }

  /** A network visible to the project: its own or a shared one. */
  async getNetwork(id: string, projectId: string | null): Promise<Network> {
    const network = (await this.current()).networks.get(id);
    if (!network || (projectId !== null && network.projectId !== null && network.projectId !== projectId)) {
      throw new NotFoundError('network', id);
    }
    return network;
  }

  async listSubnets(networkId: string): Promise<Subnet[]> {
    return [...(await this.current()).subnets.values()].filter((s) => s.networkId === networkId);
  }

  async getSubnet(id: string): Promise<Subnet> {
    const subnet = (await this.current()).subnets.get(id);
    if (!subnet) throw new NotFoundError('subnet', id);
    return subnet;
  }

  async publicIpPool(regionId: string): Promise<PublicIpPool | null> {
    return (await this.current()).pools.find((pool) => pool.regionId === regionId) ?? null;
  }

  async listSecurityGroups(projectId: string | null): Promise<SecurityGroup[]> {
    const groups = [...(await this.current()).securityGroups.values()];
    return projectId === null ? groups : groups.filter((g) => g.projectId === null || g.projectId === projectId);
  }

  async listSshKeys(projectId: string): Promise<SshKey[]> {
    return this.store.listSshKeys(projectId);
  }

  async createSshKey(
    projectId: string,
    input: { id: string; name?: string; publicKey: string },
    idempotency: IdempotencyContext | null,
  ): Promise<{ key: SshKey; replayed: boolean }> {
    const parsed = parsePublicKey(input.publicKey);
    if (!parsed) throw new ValidationError('invalid SSH public key', [{ path: 'publicKey', message: 'not an OpenSSH public key' }]);
    return this.store.createSshKey(
      {
        id: input.id,
        uid: this.ids.uuid(),
        projectId,
        name: input.name ?? input.id,
        publicKey: parsed.normalized,
        fingerprint: parsed.fingerprint,
        createdAt: this.clock.now(),
      },
      idempotency,
    );
  }

  async deleteSshKey(projectId: string, id: string): Promise<void> {
    if (!(await this.store.deleteSshKey(projectId, id))) throw new NotFoundError('ssh key', id);
  }

  async applyCatalog(document: CatalogDocument): Promise<void> {
    await this.store.applyCatalog(document);
    this.invalidate();
  }
}
