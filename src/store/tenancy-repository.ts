import type pg from 'pg';
import type { ApiKey, ApiKeyLookup, BillingStatus, Project, ProjectQuota, ProjectUsage, Team, TeamWithProjects, TenancyStore } from '../core/index.js';
import { withTransaction } from './database.js';

interface TeamRow {
  id: string;
  name: string;
  billing_status: BillingStatus;
  balance_cents: number;
  created_at: Date;
  updated_at: Date;
}

const teamFromRow = (row: TeamRow): Team => ({
  id: row.id,
  name: row.name,
  billingStatus: row.billing_status,
  balanceCents: Number(row.balance_cents),
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

interface ProjectRow {
  id: string;
  uid: string;
  team_id: string;
  name: string;
  created_at: Date;
}

const projectFromRow = (row: ProjectRow): Project => ({ id: row.id, uid: row.uid, teamId: row.team_id, name: row.name, createdAt: row.created_at });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class TenancyRepository implements TenancyStore {
  constructor(private readonly pool: pg.Pool) {}

  async findApiKeyBySecretHash(secretHash: string): Promise<ApiKeyLookup | null> {
    const { rows } = await this.pool.query(
      `SELECT k.*, t.billing_status FROM api_keys k
         LEFT JOIN projects p ON p.id = k.project_id LEFT JOIN teams t ON t.id = p.team_id
        WHERE k.secret_hash = $1`,
      [secretHash],
    );
    const row = rows[0];
    if (!row) return null;
    const key: ApiKey = {
      id: row.id,
      name: row.name,
      projectId: row.project_id,
      role: row.role,
      secretHash: row.secret_hash,
      createdAt: row.created_at,
      revokedAt: row.revoked_at,
    };
    return { key, billingStatus: row.billing_status ?? null };
  }

  async createTeam(team: Team): Promise<Team> {
    const { rows } = await this.pool.query<TeamRow>(
      'INSERT INTO teams (id, name, billing_status, balance_cents, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6) RETURNING *',
      [team.id, team.name, team.billingStatus, team.balanceCents, team.createdAt, team.updatedAt],
    );
    return teamFromRow(rows[0]!);
  }

  async getTeam(id: string): Promise<Team | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query<TeamRow>('SELECT * FROM teams WHERE id = $1', [id]);
    return rows[0] ? teamFromRow(rows[0]) : null;
  }

  async findTeamByName(name: string): Promise<Team | null> {
    const { rows } = await this.pool.query<TeamRow>('SELECT * FROM teams WHERE name = $1', [name]);
    return rows[0] ? teamFromRow(rows[0]) : null;
  }

  async listTeams(): Promise<TeamWithProjects[]> {
    const { rows } = await this.pool.query<TeamRow & { project_ids: string[] }>(
      `SELECT t.*, COALESCE(array_agg(p.id ORDER BY p.id) FILTER (WHERE p.id IS NOT NULL), '{}') AS project_ids
         FROM teams t LEFT JOIN projects p ON p.team_id = t.id GROUP BY t.id ORDER BY t.name`,
    );
    return rows.map((row) => ({ ...teamFromRow(row), projectIds: row.project_ids }));
  }

  async updateTeam(id: string, patch: Partial<Pick<Team, 'billingStatus' | 'balanceCents' | 'name'>>): Promise<Team | null> {
    const { rows } = await this.pool.query<TeamRow>(
      `UPDATE teams SET billing_status = COALESCE($2, billing_status), balance_cents = COALESCE($3, balance_cents),
              name = COALESCE($4, name), updated_at = now() WHERE id = $1 RETURNING *`,
      [id, patch.billingStatus ?? null, patch.balanceCents ?? null, patch.name ?? null],
    );
    return rows[0] ? teamFromRow(rows[0]) : null;
  }

  async createProject(project: Project, quota: ProjectQuota): Promise<Project> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<ProjectRow>(
        'INSERT INTO projects (id, uid, team_id, name, created_at) VALUES ($1,$2,$3,$4,$5) RETURNING *',
        [project.id, project.uid, project.teamId, project.name, project.createdAt],
      );
      await client.query('INSERT INTO project_quotas (project_id, instances, vcpus, ram_mb, public_ips) VALUES ($1,$2,$3,$4,$5)', [
        project.id,
        quota.instances,
        quota.vcpus,
        quota.ramMb,
        quota.publicIps,
      ]);
      await client.query('INSERT INTO project_usage (project_id) VALUES ($1)', [project.id]);
      return projectFromRow(rows[0]!);
    });
  }

  async getProject(id: string): Promise<(Project & { billingStatus: BillingStatus }) | null> {
    const { rows } = await this.pool.query<ProjectRow & { billing_status: BillingStatus }>(
      'SELECT p.*, t.billing_status FROM projects p JOIN teams t ON t.id = p.team_id WHERE p.id = $1',
      [id],
    );
    const row = rows[0];
    return row ? { ...projectFromRow(row), billingStatus: row.billing_status } : null;
  }

  async listProjects(teamId?: string): Promise<Project[]> {
    const { rows } = await this.pool.query<ProjectRow>(
      'SELECT * FROM projects WHERE ($1::uuid IS NULL OR team_id = $1) ORDER BY id',
      [teamId ?? null],
    );
    return rows.map(projectFromRow);
  }

  async createApiKey(key: ApiKey): Promise<ApiKey> {
    await this.pool.query(
      'INSERT INTO api_keys (id, name, project_id, role, secret_hash, created_at) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (secret_hash) DO NOTHING',
      [key.id, key.name, key.projectId, key.role, key.secretHash, key.createdAt],
    );
    return key;
  }

  async revokeApiKey(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL', [id]);
    return (rowCount ?? 0) > 0;
  }

  async getQuota(projectId: string): Promise<{ quota: ProjectQuota; usage: ProjectUsage } | null> {
    const { rows } = await this.pool.query(
      `SELECT q.instances AS qi, q.vcpus AS qv, q.ram_mb AS qr, q.public_ips AS qp,
              u.instances AS ui, u.vcpus AS uv, u.ram_mb AS ur, u.public_ips AS up
         FROM project_quotas q JOIN project_usage u USING (project_id) WHERE project_id = $1`,
      [projectId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      quota: { projectId, instances: row.qi, vcpus: row.qv, ramMb: Number(row.qr), publicIps: row.qp },
      usage: { projectId, instances: row.ui, vcpus: row.uv, ramMb: Number(row.ur), publicIps: row.up },
    };
  }

  async setQuota(quota: ProjectQuota): Promise<void> {
    await this.pool.query('UPDATE project_quotas SET instances = $2, vcpus = $3, ram_mb = $4, public_ips = $5 WHERE project_id = $1', [
      quota.projectId,
      quota.instances,
      quota.vcpus,
      quota.ramMb,
      quota.publicIps,
    ]);
  }
}
