import { Type, type Static } from 'typebox';
import { ItemList, Nullable, ProjectParams, RegionParams, Slug, Timestamp, ZoneParams } from '../common-schemas.js';

export const RegionView = Type.Object(
  { selfLink: Type.String(), id: Type.String(), displayName: Type.String(), country: Nullable(Type.String()) },
  { additionalProperties: false },
);
export type RegionView = Static<typeof RegionView>;

export const ZoneView = Type.Object(
  { selfLink: Type.String(), id: Type.String(), region: Type.String(), displayName: Type.String() },
  { additionalProperties: false },
);
export type ZoneView = Static<typeof ZoneView>;

export const InstanceTypeView = Type.Object(
  {
    selfLink: Type.String(),
    uid: Type.String(),
    id: Type.String(),
    displayName: Type.String(),
    vcpus: Type.Integer(),
    memoryMb: Type.Integer(),
    diskGb: Type.Integer(),
    gpus: Type.Array(Type.Object({ type: Type.String(), count: Type.Integer() }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type InstanceTypeView = Static<typeof InstanceTypeView>;

export const ImageView = Type.Object(
  {
    selfLink: Type.String(),
    uid: Type.String(),
    id: Type.String(),
    displayName: Type.String(),
    os: Type.String(),
    osVersion: Type.String(),
    architecture: Type.String({ enum: ['x86_64', 'aarch64'] }),
    minDiskGb: Type.Integer(),
    minMemoryMb: Type.Integer(),
    sizeBytes: Type.Integer(),
    status: Type.String({ enum: ['QUEUED', 'SAVING', 'ACTIVE', 'ERROR', 'DELETED'] }),
    visibility: Type.String({ enum: ['PUBLIC', 'PROJECT'], description: 'PROJECT: a snapshot owned by the caller\'s project.' }),
    sourceInstance: Type.Optional(Type.String({ description: 'uid of the instance a snapshot was taken from.' })),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);
export type ImageView = Static<typeof ImageView>;

export const SubnetView = Type.Object(
  { id: Type.String(), uid: Type.String(), displayName: Type.String(), cidr: Type.String(), gatewayIp: Type.String() },
  { additionalProperties: false },
);

export const NetworkView = Type.Object(
  {
    selfLink: Type.String(),
    uid: Type.String(),
    id: Type.String(),
    displayName: Type.String(),
    shared: Type.Boolean({ description: 'True for a network every project of the region may use.' }),
    subnets: Type.Array(SubnetView),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);
export type NetworkView = Static<typeof NetworkView>;

export const RegionList = ItemList(RegionView);
export const ZoneList = ItemList(ZoneView);
export const InstanceTypeList = ItemList(InstanceTypeView);
export const ImageList = ItemList(ImageView);
export const NetworkList = ItemList(NetworkView);

export const InstanceTypeParams = Type.Object({ region: Slug, zone: Slug, type: Slug }, { additionalProperties: false });
export const ImageParams = Type.Object({ region: Slug, image: Slug }, { additionalProperties: false });
export const ProjectImageParams = Type.Object(
  { region: Slug, project: ProjectParams.properties.project, image: Slug },
  { additionalProperties: false },
);
export const NetworkParams = Type.Object(
  { region: Slug, project: ProjectParams.properties.project, network: Slug },
  { additionalProperties: false },
);
export { ProjectParams, RegionParams, ZoneParams };
