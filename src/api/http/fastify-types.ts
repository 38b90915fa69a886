/**
 * What the HTTP layer adds to Fastify's request and route config. Imported for its side effect by every module that
 * reads `request.principal` or sets route config flags.
 */
import type { Access } from '../../core/tenancy/tenancy-service.js';
import type { Principal } from '../../core/tenancy/tenancy.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook; null only on public routes and unmatched URLs. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Public routes (health, metrics, the OpenAPI document) skip authentication and rate limiting. */
    public?: boolean;
    /**
     * When set, a hook authorizes the principal for the `:project` path parameter with this access before the handler
     * runs. Routes whose core service authorizes by itself (instances) leave it unset, so the check runs once.
     */
    projectAccess?: Access;
  }
}

export {};
