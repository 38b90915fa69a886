import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { DialectOptions } from '../http/api-server.js';
import { adminRoutes } from './admin/routes.js';
import { catalogRoutes } from './catalog/routes.js';
import { eventRoutes } from './events/routes.js';
import { instanceActionRoutes } from './instances/action-routes.js';
import { instanceRoutes } from './instances/routes.js';
import { operationRoutes } from './operations/routes.js';
import { sshKeyRoutes } from './ssh-keys/routes.js';

/**
 * The k0rdent-style native API, registered under `/v1`. Every resource lives under a region; a region that does not
 * exist is a 404 before any handler runs (the catalog is an in-memory snapshot, so the check costs nothing).
 */
export const nativeApi: FastifyPluginAsync<DialectOptions> = async (app, { deps, sseHeartbeatMs }) => {
  const { catalog } = deps;
  // Only the dialect's own options go down: a `prefix` passed on would be applied again by every child.
  const options: DialectOptions = { deps, sseHeartbeatMs };
  app.addHook('preHandler', async (request: FastifyRequest) => {
    const region = (request.params as { region?: string } | undefined)?.region;
    if (region !== undefined) await catalog.getRegion(region);
  });
  await app.register(catalogRoutes, options);
  await app.register(instanceRoutes, options);
  await app.register(instanceActionRoutes, options);
  await app.register(operationRoutes, options);
  await app.register(sshKeyRoutes, options);
  await app.register(eventRoutes, options);
  await app.register(adminRoutes, options);
};
