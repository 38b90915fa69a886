import { createHash } from 'node:crypto';
import {
  BillingError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
} from '../errors.js';
import type { Clock, Ids, TenancyStore } from '../ports.js';
import type { ApiKey, BillingStatus, Principal, Project, ProjectQuota, ProjectUsage, Role, Team } from './tenancy.js';

/** What a principal wants to do in a project; billing blocks `mutate` but never `read` or `release`. */
export type Access = 'read' | 'mutate' | 'release';

export const DEFAULT_QUOTA: Omit<ProjectQuota, 'projectId'> = {
  instances: 100,
  vcpus: 400,
  ramMb: 1_600_000,
  publicIps: 20,
};

const PROJECT_ID = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Hash of an API key secret as stored; keys are high-entropy random strings, so a plain sha-256 suffices. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** An API key as handed to its owner once: `kumo_<key id>_<secret>`. */
export function formatApiKey(keyId: string, secret: string): string {
  return `kumo_${keyId}_${secret}`;
}

/** How long a project's billing status is trusted without reading it again. */
const PROJECT_CACHE_MS = 1_000;

export class TenancyService {
  private readonly projects = new Map<string, { project: Project & { billingStatus: BillingStatus }; expires: number }>();

  constructor(
    private readonly store: TenancyStore,
    private readonly clock: Clock,
    private readonly ids: Ids,
  ) {}

  /** Resolves a Bearer token to a principal; every failure is the same 401 so keys cannot be probed. */
  async authenticate(token: string | undefined): Promise<Principal & { billingStatus: BillingStatus | null }> {
    if (!token || token.length > 512) throw new UnauthenticatedError();
    const found = await this.store.findApiKeyBySecretHash(hashSecret(token));
    if (!found || found.key.revokedAt) throw new UnauthenticatedError();
    return { id: found.key.id, role: found.key.role, projectId: found.key.projectId, billingStatus: found.billingStatus };
  }

  /**
   * Checks that the principal may act in the project. A project the principal cannot see is reported as not found,
   * so its existence does not leak; a reader who tries to change something is forbidden.
   */
  async authorize(principal: Principal, projectId: string, access: Access): Promise<Project & { billingStatus: BillingStatus }> {
    if (principal.projectId !== null && principal.projectId !== projectId) throw new NotFoundError('project', projectId);
    if (access !== 'read' && principal.role === 'reader') throw new ForbiddenError('a reader key cannot change resources');
    const project = await this.cachedProject(projectId);
    if (!project) throw new NotFoundError('project', projectId);
    if (access === 'mutate' && project.billingStatus !== 'active') throw new BillingError(project.billingStatus);
    return project;
  }

  /**
   * Every request authorizes against its project; at a thousand requests a second that read is worth caching for a
   * moment. A billing change made through this process applies at once, through another replica within the TTL.
   */
  private async cachedProject(projectId: string): Promise<(Project & { billingStatus: BillingStatus }) | null> {
    const now = Date.now();
    const hit = this.projects.get(projectId);
    if (hit && hit.expires > now) return hit.project;
    const project = await this.store.getProject(projectId);
    if (this.projects.size > 10_000) this.projects.clear();
    if (project) this.projects.set(projectId, { project, expires: now + PROJECT_CACHE_MS });
    return project;
  }

  requireAdmin(principal: Principal): void {
    if (principal.role !== 'admin' || principal.projectId !== null) throw new ForbiddenError('this needs a global admin key');
  }

  async createTeam(input: { name: string; billingStatus?: BillingStatus; balanceCents?: number }): Promise<Team> {
    if (!input.name.trim()) throw new ValidationError('team name is required', [{ path: 'name', message: 'required' }]);
    if (await this.store.findTeamByName(input.name)) throw new ConflictError(`team ${input.name} exists`);
    const now = this.clock.now();
    return this.store.createTeam({
      id: this.ids.uuid(),
      name: input.name,
      billingStatus: input.billingStatus ?? 'active',
      balanceCents: input.balanceCents ?? 0,
      createdAt: now,
      updatedAt: now,
    });
  }

  async findTeam(idOrName: string): Promise<Team> {
    const team = (await this.store.getTeam(idOrName).catch(() => null)) ?? (await this.store.findTeamByName(idOrName));
    if (!team) throw new NotFoundError('team', idOrName);
    return team;
  }

  listTeams() {
    return this.store.listTeams();
  }

  async setBilling(teamIdOrName: string, patch: { billingStatus?: BillingStatus; balanceCents?: number }): Promise<Team> {
    const team = await this.findTeam(teamIdOrName);
    const updated = await this.store.updateTeam(team.id, patch);
    if (!updated) throw new NotFoundError('team', teamIdOrName);
    this.projects.clear();
    return updated;
  }

  async createProject(input: { id: string; teamId: string; name?: string; quota?: Partial<Omit<ProjectQuota, 'projectId'>> }): Promise<Project> {
    if (!PROJECT_ID.test(input.id) || input.id.length > 63) {
      throw new ValidationError('invalid project id', [{ path: 'id', message: 'must be an RFC 1035 label' }]);
    }
    const team = await this.findTeam(input.teamId);
    if (await this.store.getProject(input.id)) throw new ConflictError(`project ${input.id} exists`);
    return this.store.createProject(
      { id: input.id, uid: this.ids.uuid(), teamId: team.id, name: input.name ?? input.id, createdAt: this.clock.now() },
      { projectId: input.id, ...DEFAULT_QUOTA, ...input.quota },
    );
  }

  async getProject(id: string): Promise<Project & { billingStatus: BillingStatus }> {
    const project = await this.store.getProject(id);
    if (!project) throw new NotFoundError('project', id);
    return project;
  }

  listProjects(teamId?: string): Promise<Project[]> {
    return this.store.listProjects(teamId);
  }

  /** Creates an API key and returns its secret once; only the hash is stored. */
  async createApiKey(input: { name: string; projectId: string | null; role: Role; secret?: string }): Promise<{ key: ApiKey; token: string }> {
    if (input.projectId !== null) await this.getProject(input.projectId);
    if (input.projectId === null && input.role !== 'admin') {
      throw new ValidationError('a key without a project must be an admin key', [{ path: 'role', message: 'must be admin' }]);
    }
    const id = this.ids.uuid().replaceAll('-', '').slice(0, 16);
    const token = input.secret ?? formatApiKey(id, this.ids.secret());
    const key = await this.store.createApiKey({
      id,
      name: input.name,
      projectId: input.projectId,
      role: input.role,
      secretHash: hashSecret(token),
      createdAt: this.clock.now(),
      revokedAt: null,
    });
    return { key, token };
  }

  async revokeApiKey(id: string): Promise<void> {
    if (!(await this.store.revokeApiKey(id))) throw new NotFoundError('api key', id);
  }

  async getQuota(projectId: string): Promise<{ quota: ProjectQuota; usage: ProjectUsage }> {
    const found = await this.store.getQuota(projectId);
    if (!found) throw new NotFoundError('project', projectId);
    return found;
  }

  async setQuota(projectId: string, patch: Partial<Omit<ProjectQuota, 'projectId'>>): Promise<ProjectQuota> {
    const { quota } = await this.getQuota(projectId);
    const next = { ...quota, ...patch };
    await this.store.setQuota(next);
    return next;
  }
}
