import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { RateLimitedError, UnauthenticatedError } from '../../core/errors.js';
import type { CatalogService } from '../../core/catalog/catalog-service.js';
import type { InstanceService } from '../../core/instances/instance-service.js';
import type { EventService } from '../../core/operations/event-service.js';
import type { TenancyService } from '../../core/tenancy/tenancy-service.js';
import { nativeApi } from '../native/native-api.js';
import { renderNativeError } from '../native/native-errors.js';
import { installErrorHandling } from './error-handling.js';
import { MetricsRegistry } from './metrics-registry.js';
import { registerOperationalRoutes } from './operational-routes.js';
import { bearerToken, PrincipalCache } from './principal-cache.js';
import { REQUEST_ID_HEADER, requestIdFrom } from './request-id.js';
import { RouteMethods } from './route-methods.js';
import { schemaValidatorCompiler } from './schema-validators.js';
import { DEFAULT_RATE_LIMIT, TokenBucketRateLimiter, type RateLimitOptions } from './token-bucket-rate-limiter.js';
import './fastify-types.js';

/** The core services the API translates to, plus what the operational endpoints need. */
export interface ApiDependencies {
  instances: InstanceService;
  catalog: CatalogService;
  tenancy: TenancyService;
  events: EventService;
  health: { ping(): Promise<void> };
  /** Where request metrics go and `/metrics` reads from; a private registry when absent. */
  metrics?: MetricsRegistry;
}

export interface ApiServerOptions {
  /** Log errors and one access-log line per request. */
  logger?: boolean;
  /** Per-principal token bucket; defaults to {@link DEFAULT_RATE_LIMIT}. */
  rateLimit?: RateLimitOptions;
  /** Trust X-Forwarded-* (behind a load balancer), so rate limits of anonymous clients key on the real address. */
  trustProxy?: boolean;
  /** Largest accepted request body in bytes; 1 MiB by default. */
  bodyLimit?: number;
  /** Interval of SSE heartbeat comments; 15 s by default. */
  sseHeartbeatMs?: number;
  /** How long an authenticated token is trusted without asking the store again; 5 s by default, 0 disables. */
  principalCacheMs?: number;
}

/** What every dialect plugin receives. */
export interface DialectOptions {
  deps: ApiDependencies;
  sseHeartbeatMs: number;
}

const ONE_MIB = 1024 * 1024;

/**
 * Builds the HTTP API: cross-cutting hooks (request ids, authentication, rate limits, metrics, access logs), one
 * error handler, the operational endpoints and every dialect under its prefix. The returned instance is ready; the
 * caller listens or injects.
 */
export async function buildApiServer(deps: ApiDependencies, options: ApiServerOptions = {}): Promise<FastifyInstance> {
  const metrics = deps.metrics ?? new MetricsRegistry();
  const requests = metrics.counter('kumo_http_requests_total', 'HTTP requests by route, method and status', ['method', 'route', 'status']);
  const latency = metrics.histogram('kumo_http_request_duration_seconds', 'HTTP request latency by route and method', ['method', 'route']);
  const rateLimited = metrics.counter('kumo_http_rate_limited_total', 'Requests refused by the rate limiter');
  const limiter = new TokenBucketRateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const principals = new PrincipalCache(options.principalCacheMs ?? 5_000);
  const routes = new RouteMethods();

  const app = Fastify({
    logger: options.logger ? { level: 'info' } : false,
    // Fastify's own two log lines per request are replaced by one access-log line below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? ONE_MIB,
    trustProxy: options.trustProxy ?? false,
    genReqId: (raw) => requestIdFrom(raw.headers[REQUEST_ID_HEADER]),
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 256 },
  });
  app.setValidatorCompiler(schemaValidatorCompiler());
  app.decorateRequest('principal', null);
  // RFC 7396 merge patches are JSON; parse them with the same guarded parser.
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  app.addHook('onRoute', (route) => routes.add(route.url, route.method));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Kumo API', version: '1', description: 'The Kumo compute control plane.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  installErrorHandling(app, renderNativeError, routes);

  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    // Unmatched URLs go straight to the not-found handler: a 404 or 405 reveals nothing the OpenAPI document doesn't.
    if (request.routeOptions.config.public || request.routeOptions.url === undefined) return;
    const token = bearerToken(request.headers.authorization);
    const now = Date.now();
    let principal = token ? principals.get(token, now) : null;
    if (!principal) {
      if (!token) {
        takeToken(limiter, `ip:${request.ip}`, now, rateLimited);
        throw new UnauthenticatedError('an Authorization: Bearer <token> header is required');
      }
      try {
        const authenticated = await deps.tenancy.authenticate(token);
        principal = { id: authenticated.id, role: authenticated.role, projectId: authenticated.projectId };
      } catch (error) {
        // Failed attempts are throttled per client address, so tokens cannot be guessed at full speed.
        takeToken(limiter, `ip:${request.ip}`, now, rateLimited);
        throw error;
      }
      principals.set(token, principal, now);
    }
    request.principal = principal;
    takeToken(limiter, `principal:${principal.id}`, now, rateLimited);
  });

  app.addHook('preHandler', async (request: FastifyRequest) => {
    const access = request.routeOptions.config.projectAccess;
    if (!access || !request.principal) return;
    const project = (request.params as { project?: string } | undefined)?.project;
    if (project !== undefined) await deps.tenancy.authorize(request.principal, project, access);
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    requests.inc({ method: request.method, route, status });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (options.logger) {
      request.log.info(
        { requestId: request.id, method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, principal: request.principal?.id },
        'request',
      );
    }
  });

  registerOperationalRoutes(app, deps.health, metrics);
  const dialect: DialectOptions = { deps, sseHeartbeatMs: options.sseHeartbeatMs ?? 15_000 };
  await app.register(nativeApi, { prefix: '/v1', ...dialect });
  await app.ready();
  return app;
}

function takeToken(limiter: TokenBucketRateLimiter, key: string, now: number, refused: { inc(): void }): void {
  const decision = limiter.take(key, now);
  if (!decision.allowed) {
    refused.inc();
    throw new RateLimitedError(decision.retryAfterSeconds);
  }
}
