import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFoundError } from '../../../core/errors.js';
import type { DialectOptions } from '../../http/api-server.js';
import { idempotencyContext, IDEMPOTENT_REPLAYED_HEADER } from '../../http/idempotency.js';
import { inNativeTerms } from '../native-field-paths.js';
import { ERROR_RESPONSES } from '../native-errors.js';
import { CreateSshKeyBody, ProjectParams, SshKeyList, SshKeyParams, SshKeyView } from './schemas.js';
import { sshKeyView } from './views.js';

const PATH = '/regions/:region/projects/:project/compute/ssh-keys';
const TAGS = ['ssh-keys'];

/** A project's registered SSH keys. The project is authorized by the `projectAccess` hook before each handler. */
export const sshKeyRoutes: FastifyPluginAsync<DialectOptions> = async (app, { deps }) => {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { catalog } = deps;

  api.get(
    PATH,
    { config: { projectAccess: 'read' }, schema: { tags: TAGS, summary: 'List SSH keys', params: ProjectParams, response: { 200: SshKeyList, ...ERROR_RESPONSES } } },
    async (request) => {
      const { region, project } = request.params;
      return { items: (await catalog.listSshKeys(project)).map((key) => sshKeyView(key, region)) };
    },
  );

  api.get(
    `${PATH}/:key`,
    { config: { projectAccess: 'read' }, schema: { tags: TAGS, summary: 'Get an SSH key', params: SshKeyParams, response: { 200: SshKeyView, ...ERROR_RESPONSES } } },
    async (request) => {
      const { region, project, key: id } = request.params;
      const key = (await catalog.listSshKeys(project)).find((candidate) => candidate.id === id || candidate.uid === id);
      if (!key) throw new NotFoundError('ssh key', id);
      return sshKeyView(key, region);
    },
  );

  api.post(
    PATH,
    {
      config: { projectAccess: 'mutate' },
      schema: {
        tags: TAGS,
        summary: 'Register an SSH key',
        description: 'Answers 201 with the key and its fingerprint; `Location` is its selfLink.',
        params: ProjectParams,
        body: CreateSshKeyBody,
        response: { 201: SshKeyView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { region, project } = request.params;
      const { id, displayName, publicKey } = request.body;
      const created = await catalog
        .createSshKey(project, { id, publicKey, ...(displayName !== undefined ? { name: displayName } : {}) }, idempotencyContext(request))
        .catch((error: unknown) => {
          throw inNativeTerms(error, (path) => (path === 'name' ? '/displayName' : `/${path}`));
        });
      const view = sshKeyView(created.key, region);
      reply.code(201).header('location', view.selfLink);
      if (created.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return view;
    },
  );

  api.delete(
    `${PATH}/:key`,
    {
      config: { projectAccess: 'release' },
      schema: { tags: TAGS, summary: 'Delete an SSH key', params: SshKeyParams, response: { 204: Type.Null(), ...ERROR_RESPONSES } },
    },
    async (request, reply) => {
      await catalog.deleteSshKey(request.params.project, request.params.key);
      return reply.code(204).send(null);
    },
  );
};
