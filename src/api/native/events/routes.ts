import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { DialectOptions } from '../../http/api-server.js';
import { invalidField } from '../../http/request-errors.js';
import { isEventCursor } from '../../../core/operations/event-service.js';
import { ProjectParams } from '../common-schemas.js';
import { ERROR_RESPONSES } from '../native-errors.js';
import { eventFrame } from './views.js';

const EventsQuery = Type.Object(
  {
    after: Type.Optional(
      Type.String({ pattern: '^[0-9]{1,19}\\.[0-9]{1,19}$', description: 'Resume after this event id (as Last-Event-ID).' }),
    ),
  },
  { additionalProperties: false },
);

const BATCH = 500;
const EVENT_POLL_MS = 1000;
/** A client this far behind is disconnected; it resumes with Last-Event-ID instead of growing our memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

function lastEventId(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !isEventCursor(header.trim())) {
    throw invalidField('header', '/Last-Event-ID', 'must be an event id');
  }
  return header.trim();
}

/**
 * `GET …/projects/{project}/events`: the project's change stream as server-sent events. Events are read from the
 * store after the cursor (Last-Event-ID, `?after=`, or "now"), so a client that reconnects misses nothing; the
 * store's notifications only say when to read again. A comment line every heartbeat keeps proxies from timing out.
 */
export const eventRoutes: FastifyPluginAsync<DialectOptions> = async (app, { deps, sseHeartbeatMs }) => {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { events } = deps;

  api.get(
    '/regions/:region/projects/:project/events',
    {
      config: { projectAccess: 'read' },
      schema: {
        tags: ['events'],
        summary: 'Stream project changes (server-sent events)',
        description:
          'text/event-stream. Each event: `id:` event id, `event:` instance.created|updated|deleted or operation.*, ' +
          '`data:` the resource view. Resume with the Last-Event-ID header or `?after=`; without either, only new events. ' +
          'Events are kept for KUMO_EVENT_RETENTION_SECONDS (24 h by default): resuming from before that answers 410 EXPIRED.',
        params: ProjectParams,
        querystring: EventsQuery,
        produces: ['text/event-stream'],
        response: { 200: Type.String({ description: 'An endless text/event-stream.' }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { region, project } = request.params;
      const resumeFrom = lastEventId(request.headers['last-event-id']) ?? request.query.after;
      // Before the stream starts, so that a client resuming from before the events still kept gets a 410 envelope.
      if (resumeFrom !== undefined) await events.assertResumable(resumeFrom);
      let cursor = resumeFrom ?? (await events.latestId(project));

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      raw.write(': connected\n\n');

      let closed = false;
      let pumping = false;
      let again = false;
      const close = () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        clearInterval(heartbeat);
        clearInterval(poll);
        raw.end();
      };
      const write = (chunk: string) => {
        if (closed) return;
        raw.write(chunk);
        if (raw.writableLength > MAX_BUFFERED_BYTES) close();
      };
      // One reader at a time; a notification during a read asks for one more pass instead of a parallel read.
      const pump = async (): Promise<void> => {
        if (pumping) {
          again = true;
          return;
        }
        pumping = true;
        try {
          do {
            again = false;
            let batch;
            do {
              batch = await events.listAfter(project, cursor, BATCH);
              // One write per read: a frame per write cost a syscall per event on both ends of the stream.
              let frames = '';
              for (const event of batch) {
                frames += eventFrame(event, region);
                cursor = event.id;
              }
              if (frames) write(frames);
            } while (batch.length === BATCH && !closed);
          } while (again && !closed);
        } catch (error) {
          request.log.warn({ err: error, requestId: request.id }, 'event stream read failed');
          close();
        } finally {
          pumping = false;
        }
      };

      // Subscribe before the first read so nothing committed in between is missed.
      const unsubscribe = events.subscribe((changed) => {
        if (changed === project && !closed) void pump();
      });
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), sseHeartbeatMs);
      heartbeat.unref();
      // Events become readable only once every older transaction has ended, and the one that ends may belong to
      // another project (whose notification does not reach this stream): look again now and then.
      const poll = setInterval(() => void pump(), EVENT_POLL_MS);
      poll.unref();
      raw.on('close', close);
      await pump();
    },
  );
};
