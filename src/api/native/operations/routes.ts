import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { DialectOptions } from '../../http/api-server.js';
import { principalOf } from '../../http/request-context.js';
import { ERROR_RESPONSES } from '../native-errors.js';
import { OperationParams, OperationView } from './schemas.js';
import { operationView } from './views.js';

/** `GET /regions/{region}/projects/{project}/operations/{operationId}`: poll an operation. */
export const operationRoutes: FastifyPluginAsync<DialectOptions> = async (app, { deps }) => {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.get(
    '/regions/:region/projects/:project/operations/:operationId',
    {
      schema: {
        tags: ['operations'],
        summary: 'Get an operation',
        params: OperationParams,
        response: { 200: OperationView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { region, project, operationId } = request.params;
      return operationView(await deps.instances.getOperation(principalOf(request), project, operationId), region);
    },
  );
};
