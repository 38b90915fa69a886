import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { NotFoundError } from '../../../core/errors.js';
import type { DialectOptions } from '../../http/api-server.js';
import { principalOf } from '../../http/request-context.js';
import { ERROR_RESPONSES } from '../native-errors.js';
import {
  ImageList,
  ImageParams,
  ImageView,
  InstanceTypeList,
  InstanceTypeParams,
  InstanceTypeView,
  NetworkList,
  NetworkParams,
  NetworkView,
  ProjectImageParams,
  ProjectParams,
  RegionList,
  RegionParams,
  RegionView,
  ZoneList,
  ZoneParams,
} from './schemas.js';
import { imageView, instanceTypeView, networkView, regionView, zoneView } from './views.js';

const read = { projectAccess: 'read' as const };

/**
 * Read-only catalog: regions, zones, instance types, images and networks. Public catalog entries need only a valid
 * key; project-scoped ones (snapshots, networks) are authorized for the project in the path.
 */
export const catalogRoutes: FastifyPluginAsync<DialectOptions> = async (app, { deps }) => {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { catalog } = deps;

  api.get('/regions', { schema: { tags: ['catalog'], summary: 'List regions', response: { 200: RegionList, ...ERROR_RESPONSES } } }, async () => ({
    items: (await catalog.listRegions()).map(regionView),
  }));

  api.get(
    '/regions/:region',
    { schema: { tags: ['catalog'], summary: 'Get a region', params: RegionParams, response: { 200: RegionView, ...ERROR_RESPONSES } } },
    async (request) => regionView(await catalog.getRegion(request.params.region)),
  );

  api.get(
    '/regions/:region/zones',
    { schema: { tags: ['catalog'], summary: 'List zones of a region', params: RegionParams, response: { 200: ZoneList, ...ERROR_RESPONSES } } },
    async (request) => ({ items: (await catalog.listZones(request.params.region)).map(zoneView) }),
  );

  api.get(
    '/regions/:region/zones/:zone/instance-types',
    {
      schema: { tags: ['catalog'], summary: 'List instance types offered in a zone', params: ZoneParams, response: { 200: InstanceTypeList, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const { region, zone } = request.params;
      await catalog.getZone(region, zone);
      return { items: (await catalog.listInstanceTypes(zone)).map((type) => instanceTypeView(type, region, zone)) };
    },
  );

  api.get(
    '/regions/:region/zones/:zone/instance-types/:type',
    {
      schema: { tags: ['catalog'], summary: 'Get an instance type', params: InstanceTypeParams, response: { 200: InstanceTypeView, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const { region, zone, type: id } = request.params;
      await catalog.getZone(region, zone);
      const type = await catalog.getInstanceType(id);
      if (type.zones.length > 0 && !type.zones.includes(zone)) throw new NotFoundError('instance type', id);
      return instanceTypeView(type, region, zone);
    },
  );

  api.get(
    '/regions/:region/compute/images',
    { schema: { tags: ['catalog'], summary: 'List public images', params: RegionParams, response: { 200: ImageList, ...ERROR_RESPONSES } } },
    async (request) => ({
      items: (await catalog.listImages(null)).filter((image) => image.projectId === null).map((image) => imageView(image, request.params.region)),
    }),
  );

  api.get(
    '/regions/:region/compute/images/:image',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Get an image',
        description: "A public image, or one of the caller's project's snapshots.",
        params: ImageParams,
        response: { 200: ImageView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      // Scoped by the caller: a project key sees public images and its project's, a global admin every image.
      const image = await catalog.getImage(request.params.image, principalOf(request).projectId);
      return imageView(image, request.params.region);
    },
  );

  api.get(
    '/regions/:region/projects/:project/compute/images',
    {
      config: read,
      schema: {
        tags: ['catalog'],
        summary: "List public images and the project's snapshots",
        params: ProjectParams,
        response: { 200: ImageList, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { region, project } = request.params;
      const images = await catalog.listImages(project);
      return { items: images.filter((image) => image.projectId === null || image.projectId === project).map((image) => imageView(image, region)) };
    },
  );

  api.get(
    '/regions/:region/projects/:project/compute/images/:image',
    {
      config: read,
      schema: { tags: ['catalog'], summary: 'Get an image visible to the project', params: ProjectImageParams, response: { 200: ImageView, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const { region, project, image } = request.params;
      return imageView(await catalog.getImage(image, project), region);
    },
  );

  api.get(
    '/regions/:region/projects/:project/compute/networks',
    {
      config: read,
      schema: { tags: ['catalog'], summary: 'List networks the project may use', params: ProjectParams, response: { 200: NetworkList, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const { region, project } = request.params;
      const networks = (await catalog.listNetworks(project)).filter((network) => network.regionId === region);
      const items = await Promise.all(networks.map(async (network) => networkView(network, project, await catalog.listSubnets(network.id))));
      return { items };
    },
  );

  api.get(
    '/regions/:region/projects/:project/compute/networks/:network',
    {
      config: read,
      schema: { tags: ['catalog'], summary: 'Get a network with its subnets', params: NetworkParams, response: { 200: NetworkView, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const { region, project, network: id } = request.params;
      const network = await catalog.getNetwork(id, project);
      if (network.regionId !== region) throw new NotFoundError('network', id);
      return networkView(network, project, await catalog.listSubnets(network.id));
    },
  );
};
