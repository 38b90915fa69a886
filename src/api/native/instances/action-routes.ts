import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TSchema } from 'typebox';
import type { InstanceActionRequest } from '../../../core/instances/instance-requests.js';
import type { DialectOptions } from '../../http/api-server.js';
import { IDEMPOTENT_REPLAYED_HEADER } from '../../http/idempotency.js';
import { parseIfMatch } from '../../http/preconditions.js';
import { requestContext } from '../../http/request-context.js';
import { invalidField } from '../../http/request-errors.js';
import { EmptyBody } from '../common-schemas.js';
import { ERROR_RESPONSES } from '../native-errors.js';
import { parseInstanceTypeUri } from '../native-uris.js';
import { OperationView } from '../operations/schemas.js';
import { operationView } from '../operations/views.js';
import { inNativeTerms } from '../native-field-paths.js';
import { INSTANCE } from './routes.js';
import { InstanceParams, RebootBody, ResizeBody, SnapshotBody, StopBody } from './schemas.js';

interface ActionBody {
  force?: boolean;
  hard?: boolean;
  type?: string;
  imageId?: string;
  displayName?: string;
}

interface ActionRoute {
  /** The custom method in the URL: `POST …/instances/{id}:<verb>`. */
  verb: string;
  summary: string;
  body: TSchema;
  toRequest(body: ActionBody, region: string): InstanceActionRequest;
}

const ACTIONS: ActionRoute[] = [
  { verb: 'start', summary: 'Start a stopped instance', body: EmptyBody, toRequest: () => ({ action: 'start' }) },
  {
    verb: 'stop',
    summary: 'Stop an instance (graceful; `force` powers it off)',
    body: StopBody,
    toRequest: (body) => ({ action: 'stop', force: body.force ?? false }),
  },
  {
    verb: 'reboot',
    summary: 'Reboot an instance (soft; `hard` resets it)',
    body: RebootBody,
    toRequest: (body) => ({ action: 'reboot', hard: body.hard ?? false }),
  },
  { verb: 'pause', summary: 'Pause an instance', body: EmptyBody, toRequest: () => ({ action: 'pause' }) },
  { verb: 'unpause', summary: 'Resume a paused instance', body: EmptyBody, toRequest: () => ({ action: 'unpause' }) },
  {
    verb: 'resize',
    summary: 'Resize an instance to another instance type',
    body: ResizeBody,
    toRequest: (body, region) => {
      const type = parseInstanceTypeUri(body.type ?? '');
      if (!type) throw invalidField('body', '/type', 'must be /v1/regions/{region}/zones/{zone}/instance-types/{type}');
      if (type.regionId !== region) throw invalidField('body', '/type', `names region ${type.regionId}, not ${region}`);
      return { action: 'resize', instanceTypeId: type.instanceTypeId };
    },
  },
  {
    verb: 'confirmResize',
    summary: 'Keep a resize waiting in VERIFY_RESIZE',
    body: EmptyBody,
    toRequest: () => ({ action: 'confirm-resize' }),
  },
  {
    verb: 'revertResize',
    summary: 'Undo a resize waiting in VERIFY_RESIZE',
    body: EmptyBody,
    toRequest: () => ({ action: 'revert-resize' }),
  },
  {
    verb: 'snapshot',
    summary: 'Snapshot the boot disk into a project image',
    body: SnapshotBody,
    toRequest: (body) => ({
      action: 'snapshot',
      ...(body.imageId !== undefined ? { imageId: body.imageId } : {}),
      ...(body.displayName !== undefined ? { imageName: body.displayName } : {}),
    }),
  },
];

/** Actions may be posted without a body (curl -X POST); that means `{}`. */
async function absentBodyIsEmpty(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}

/** Core field names of action parameters, in native terms. */
function actionFieldPath(corePath: string): string {
  return corePath === 'instanceTypeId' ? '/type' : `/${corePath}`;
}

/**
 * Instance actions as Google-style custom methods, `POST …/instances/{id}:start`. Each answers 202 with the operation
 * (`Location` is its selfLink) and honours `If-Match` and `Idempotency-Key`.
 */
export const instanceActionRoutes: FastifyPluginAsync<DialectOptions> = async (app, { deps }) => {
  for (const action of ACTIONS) {
    app.post(
      `${INSTANCE}::${action.verb}`,
      {
        preValidation: absentBodyIsEmpty,
        schema: {
          tags: ['instances'],
          summary: action.summary,
          params: InstanceParams,
          body: action.body,
          response: { 202: OperationView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const { region, project, id } = request.params as { region: string; project: string; id: string };
        const actionRequest = action.toRequest(request.body as ActionBody, region);
        const result = await deps.instances
          .act(requestContext(request, 'native'), project, id, actionRequest, parseIfMatch(request.headers['if-match']))
          .catch((error: unknown) => {
            throw inNativeTerms(error, actionFieldPath);
          });
        // Every action but delete records an operation (confirm-resize one that is already done).
        const operation = result.operation;
        if (!operation) throw new Error(`action ${action.verb} recorded no operation`);
        const view = operationView(operation, region);
        reply.code(202).header('location', view.selfLink).header('operation-id', operation.id);
        if (result.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
        return view;
      },
    );
  }
};
