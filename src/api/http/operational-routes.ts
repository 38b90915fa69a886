import v8 from 'node:v8';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { MetricsRegistry } from './metrics-registry.js';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

/**
 * Liveness, readiness, metrics and the OpenAPI document: public, unauthenticated, never rate limited, and left out of
 * the OpenAPI document itself.
 */
export function registerOperationalRoutes(
  app: FastifyInstance,
  health: { ping(): Promise<void> },
  metrics: MetricsRegistry,
): void {
  const config = { public: true };

  app.get('/healthz', { config, schema: { hide: true, response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config, schema: { hide: true, response: { 200: Status, 503: Status } } }, async (request, reply) => {
    try {
      await health.ping();
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error, requestId: request.id }, 'readiness check failed');
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  // The process's memory, under the names Prometheus' own Node.js client uses, read when scraped.
  const residentMemory = metrics.gauge('process_resident_memory_bytes', 'Resident memory size in bytes');
  const heapTotal = metrics.gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes');
  const heapUsed = metrics.gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes');
  // Per V8 space: which part of the heap holds memory the process is not using (new space sized for a burst,
  // old-space pages kept after a collection) is what an operator needs to tell garbage from a leak.
  const spaceTotal = metrics.gauge('nodejs_heap_space_size_total_bytes', 'Process heap space size total from Node.js in bytes', ['space']);
  const spaceUsed = metrics.gauge('nodejs_heap_space_size_used_bytes', 'Process heap space size used from Node.js in bytes', ['space']);
  app.get('/metrics', { config, schema: { hide: true } }, async (_request, reply) => {
    const memory = process.memoryUsage();
    residentMemory.set({}, memory.rss);
    heapTotal.set({}, memory.heapTotal);
    heapUsed.set({}, memory.heapUsed);
    for (const space of v8.getHeapSpaceStatistics()) {
      const name = space.space_name.replace(/_space$/, '');
      spaceTotal.set({ space: name }, space.space_size);
      spaceUsed.set({ space: name }, space.space_used_size);
    }
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render());
  });

  app.get('/openapi.json', { config, schema: { hide: true } }, async () => app.swagger());
}
