import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { CatalogDocument } from '../../../core/catalog/catalog.js';
import type { DialectOptions } from '../../http/api-server.js';
import { principalOf } from '../../http/request-context.js';
import { ERROR_RESPONSES } from '../native-errors.js';
import {
  ApiKeyParams,
  ApiKeyView,
  CatalogBody,
  CreateApiKeyBody,
  CreateProjectBody,
  CreateTeamBody,
  ProjectList,
  ProjectParams,
  ProjectView,
  QuotaBody,
  QuotaView,
  TeamList,
  TeamParams,
  TeamView,
  UpdateTeamBody,
} from './schemas.js';
import { projectView, teamView } from './views.js';

/**
 * Operator routes under `/v1/admin`: teams and their billing state, projects and quotas, API keys, the catalog.
 * Every route needs a global admin key.
 */
export const adminRoutes: FastifyPluginAsync<DialectOptions> = async (app, { deps }) => {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { tenancy, catalog } = deps;
  api.addHook('preHandler', async (request) => tenancy.requireAdmin(principalOf(request)));
  const tags = ['admin'];

  api.get('/admin/teams', { schema: { tags, summary: 'List teams', response: { 200: TeamList, ...ERROR_RESPONSES } } }, async () => ({
    items: (await tenancy.listTeams()).map((team) => teamView(team, team.projectIds)),
  }));

  api.post(
    '/admin/teams',
    { schema: { tags, summary: 'Create a team', body: CreateTeamBody, response: { 201: TeamView, ...ERROR_RESPONSES } } },
    async (request, reply) => {
      const team = await tenancy.createTeam(request.body);
      return reply.code(201).send(teamView(team, []));
    },
  );

  api.patch(
    '/admin/teams/:team',
    {
      schema: {
        tags,
        summary: "Set a team's billing status or balance",
        params: TeamParams,
        body: UpdateTeamBody,
        response: { 200: TeamView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const team = await tenancy.setBilling(request.params.team, request.body);
      const projects = await tenancy.listProjects(team.id);
      return teamView(team, projects.map((project) => project.id));
    },
  );

  api.get('/admin/projects', { schema: { tags, summary: 'List projects', response: { 200: ProjectList, ...ERROR_RESPONSES } } }, async () => ({
    items: (await tenancy.listProjects()).map(projectView),
  }));

  api.post(
    '/admin/projects',
    { schema: { tags, summary: 'Create a project', body: CreateProjectBody, response: { 201: ProjectView, ...ERROR_RESPONSES } } },
    async (request, reply) => {
      const { id, team, name, quota } = request.body;
      const project = await tenancy.createProject({ id, teamId: team, ...(name ? { name } : {}), ...(quota ? { quota } : {}) });
      return reply.code(201).send(projectView(project));
    },
  );

  api.get(
    '/admin/projects/:project/quota',
    { schema: { tags, summary: "A project's quota and usage", params: ProjectParams, response: { 200: QuotaView, ...ERROR_RESPONSES } } },
    async (request) => tenancy.getQuota(request.params.project),
  );

  api.patch(
    '/admin/projects/:project/quota',
    {
      schema: { tags, summary: "Change a project's quota", params: ProjectParams, body: QuotaBody, response: { 200: QuotaView, ...ERROR_RESPONSES } },
    },
    async (request) => {
      await tenancy.setQuota(request.params.project, request.body);
      return tenancy.getQuota(request.params.project);
    },
  );

  api.post(
    '/admin/api-keys',
    { schema: { tags, summary: 'Create an API key (the token is shown once)', body: CreateApiKeyBody, response: { 201: ApiKeyView, ...ERROR_RESPONSES } } },
    async (request, reply) => {
      const { key, token } = await tenancy.createApiKey(request.body);
      return reply.code(201).send({ id: key.id, name: key.name, projectId: key.projectId, role: key.role, token, createdAt: key.createdAt.toISOString() });
    },
  );

  api.delete(
    '/admin/api-keys/:key',
    { schema: { tags, summary: 'Revoke an API key', params: ApiKeyParams, response: { 204: Type.Null(), ...ERROR_RESPONSES } } },
    async (request, reply) => {
      await tenancy.revokeApiKey(request.params.key);
      return reply.code(204).send(null);
    },
  );

  api.put(
    '/admin/catalog',
    { schema: { tags, summary: 'Load a catalog document (upsert by id)', body: CatalogBody, response: { 204: Type.Null(), ...ERROR_RESPONSES } } },
    async (request, reply) => {
      await catalog.applyCatalog(request.body as CatalogDocument);
      return reply.code(204).send(null);
    },
  );
};
