import type { CatalogService, TenancyService } from '../core/index.js';
import { DEFAULT_PROJECT_ID, SEED_PUBLIC_KEY, seedCatalog } from './seed-catalog.js';

export interface BootstrapResult {
  /** Set only when this start generated the admin token: it is shown once. */
  generatedAdminToken: string | null;
  seeded: boolean;
}

/**
 * Makes a fresh database usable: the seed catalog, a default team and project, the seed's SSH keys, and an admin key.
 * Idempotent: on a database that already has regions it changes nothing but the admin key given by KUMO_ADMIN_TOKEN.
 */
export async function bootstrap(
  services: { catalog: CatalogService; tenancy: TenancyService },
  options: { adminToken: string | null },
): Promise<BootstrapResult> {
  const { catalog, tenancy } = services;
  const seeded = (await catalog.listRegions()).length === 0;
  let generatedAdminToken: string | null = null;
  if (seeded) {
    const team = await tenancy.createTeam({ name: 'default' });
    await tenancy.createProject({ id: DEFAULT_PROJECT_ID, teamId: team.id, name: 'Default project' });
    await catalog.applyCatalog(seedCatalog(DEFAULT_PROJECT_ID));
    for (const id of ['key-001', 'my-keypair']) {
      await catalog.createSshKey(DEFAULT_PROJECT_ID, { id, publicKey: SEED_PUBLIC_KEY }, null);
    }
    if (!options.adminToken) {
      generatedAdminToken = (await tenancy.createApiKey({ name: 'bootstrap admin', projectId: null, role: 'admin' })).token;
    }
  }
  if (options.adminToken) {
    await tenancy.createApiKey({ name: 'admin (KUMO_ADMIN_TOKEN)', projectId: null, role: 'admin', secret: options.adminToken });
  }
  return { generatedAdminToken, seeded };
}
