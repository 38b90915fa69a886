import { Type, type Static } from 'typebox';
import { INSTANCE_PHASES } from '../../../core/instances/lifecycle.js';
import { InstanceIdParam, LABEL_KEY_SCHEMA, LabelValue, Labels, ProjectParams, Rfc1035Label, Slug, Timestamp } from '../common-schemas.js';

/** k0rdent lifecycle statuses: the canonical phases in upper case with `_` (`VERIFY_RESIZE`). */
export const LIFECYCLE_STATUSES = INSTANCE_PHASES.map((phase) => phase.toUpperCase().replaceAll('-', '_'));

const Uri = (description: string, example: string) =>
  Type.String({ minLength: 1, maxLength: 512, format: 'uri-reference', description, examples: [example] });

const MetadataItem = Type.Object(
  {
    key: Type.String({ minLength: 1, maxLength: 128 }),
    value: Type.String({ maxLength: 262_144 }),
  },
  { additionalProperties: false },
);
const InstanceMetadata = Type.Array(MetadataItem, {
  maxItems: 128,
  description: 'Metadata served to the guest; `ssh-keys` holds `user:key` lines, `user-data` a cloud-init document.',
});

const DiskInterface = Type.Union([Type.Literal('SCSI'), Type.Literal('NVME'), Type.Literal('VIRTIO')]);
const DiskType = Type.Union([Type.Literal('PERSISTENT'), Type.Literal('SCRATCH')]);
const DiskMode = Type.Union([Type.Literal('READ_WRITE'), Type.Literal('READ_ONLY')]);

const CreateDisk = Type.Object(
  {
    sizeGb: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65_536, description: "Default for the boot disk: the instance type's disk size." }),
    ),
    interface: Type.Optional(DiskInterface),
    source: Type.Optional(Uri('Image URI the disk is created from; the boot disk needs one.', '/v1/regions/us-texas-1/compute/images/ubuntu-24.04-20260202-3')),
    boot: Type.Optional(Type.Boolean()),
    type: Type.Optional(DiskType),
    mode: Type.Optional(DiskMode),
  },
  { additionalProperties: false },
);

const CreateNic = Type.Object(
  {
    network: Uri('Network URI in this project.', '/v1/regions/us-texas-1/projects/project-x9y8z7/compute/networks/network-g7h8i9'),
    subnet: Type.Optional(Type.String({ maxLength: 63, description: 'Subnet id; the network\'s first subnet when absent.' })),
    ipv4Address: Type.Optional(Type.String({ maxLength: 64, description: 'A fixed address in the subnet; assigned when absent.' })),
    ipv6Address: Type.Optional(Type.String({ maxLength: 64 })),
    vlan: Type.Optional(Type.Integer({ minimum: 0, maximum: 4094 })),
  },
  { additionalProperties: false },
);

const Gpu = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 63 }), count: Type.Integer({ minimum: 1, maximum: 1024 }) },
  { additionalProperties: false },
);

/** The k0rdent create request, field for field. */
export const CreateInstanceBody = Type.Object(
  {
    type: Uri('URI of the instance type.', '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-xlarge'),
    id: Type.Optional(Rfc1035Label),
    displayName: Type.Optional(Type.String({ maxLength: 255 })),
    description: Type.Optional(Type.String({ maxLength: 2048 })),
    labels: Type.Optional(Labels),
    instanceMetadata: Type.Optional(InstanceMetadata),
    hostname: Type.Optional(Type.String({ maxLength: 253, description: 'RFC 1035 host name; the id when absent.' })),
    disks: Type.Array(CreateDisk, { minItems: 1, maxItems: 16 }),
    nics: Type.Optional(Type.Array(CreateNic, { maxItems: 8 })),
    gpus: Type.Optional(Type.Array(Gpu, { maxItems: 8 })),
  },
  { additionalProperties: false },
);
export type CreateInstanceBody = Static<typeof CreateInstanceBody>;

/** A JSON merge patch (RFC 7396) of the mutable fields; `null` resets a field, and removes a label. */
export const UpdateInstanceBody = Type.Object(
  {
    displayName: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
    description: Type.Optional(Type.Union([Type.String({ maxLength: 2048 }), Type.Null()])),
    labels: Type.Optional(
      Type.Union([
        Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
          maxProperties: 64,
          propertyNames: LABEL_KEY_SCHEMA,
          additionalProperties: Type.Union([LabelValue, Type.Null()]),
        }),
        Type.Null(),
      ]),
    ),
    instanceMetadata: Type.Optional(Type.Union([InstanceMetadata, Type.Null()])),
  },
  { additionalProperties: false },
);
export type UpdateInstanceBody = Static<typeof UpdateInstanceBody>;

/** Fields of the instance view that a PATCH may not change; named in the 400 so clients know why. */
export const IMMUTABLE_FIELDS = ['selfLink', 'uid', 'id', 'type', 'hostname', 'lifecycle', 'disks', 'nics', 'gpus', 'createdAt', 'updatedAt', 'operationId'];

export const InstanceParams = Type.Object(
  { region: Slug, project: Rfc1035Label, id: InstanceIdParam },
  { additionalProperties: false },
);
export { ProjectParams };

export const ListInstancesQuery = Type.Object(
  {
    pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    pageToken: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    labelSelector: Type.Optional(Type.String({ maxLength: 2048, description: 'Kubernetes syntax: `env=prod,tier!=db,app in (a,b),!legacy,team`.' })),
    status: Type.Optional(Type.String({ maxLength: 512, description: `Comma-separated lifecycle statuses: ${LIFECYCLE_STATUSES.join(', ')}.` })),
    orderBy: Type.Optional(
      Type.Union([Type.Literal('createdAt'), Type.Literal('-createdAt'), Type.Literal('name'), Type.Literal('-name')], { default: 'createdAt' }),
    ),
  },
  { additionalProperties: false },
);
export type ListInstancesQuery = Static<typeof ListInstancesQuery>;

export const ConsoleQuery = Type.Object(
  { lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 100 })) },
  { additionalProperties: false },
);

export const ConsoleView = Type.Object(
  { contents: Type.String({ description: 'The last `lines` lines of the serial console.' }) },
  { additionalProperties: false },
);

/** The k0rdent instance view; `operationId` is a Kumo extra naming the operation in progress. */
export const InstanceView = Type.Object(
  {
    selfLink: Type.String(),
    uid: Type.String({ format: 'uuid' }),
    id: Type.String(),
    displayName: Type.String(),
    description: Type.String(),
    labels: Type.Record(Type.String(), Type.String()),
    type: Type.String(),
    instanceMetadata: Type.Array(Type.Object({ key: Type.String(), value: Type.String() }, { additionalProperties: false })),
    hostname: Type.String(),
    lifecycle: Type.Object(
      {
        status: Type.String({ enum: LIFECYCLE_STATUSES }),
        statusMessage: Type.String(),
      },
      { additionalProperties: false },
    ),
    disks: Type.Array(
      Type.Object(
        {
          sizeGb: Type.Integer(),
          interface: Type.String(),
          source: Type.Optional(Type.String()),
          boot: Type.Boolean(),
          type: Type.String(),
          mode: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
    nics: Type.Array(
      Type.Object(
        {
          network: Type.String(),
          subnet: Type.String(),
          ipv4Address: Type.String(),
          ipv6Address: Type.Optional(Type.String()),
          vlan: Type.Optional(Type.Integer()),
          externalIpv4: Type.Optional(Type.String({ description: 'Public IPv4, when the instance has one.' })),
        },
        { additionalProperties: false },
      ),
    ),
    gpus: Type.Array(Gpu),
    operationId: Type.Optional(Type.String({ description: 'The operation in progress, if any.' })),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { additionalProperties: false },
);
export type InstanceView = Static<typeof InstanceView>;

export const InstanceList = Type.Object(
  {
    items: Type.Array(InstanceView),
    nextPageToken: Type.Optional(Type.String({ description: 'Pass as `pageToken` for the next page; absent on the last.' })),
  },
  { additionalProperties: false },
);

export const StopBody = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export const RebootBody = Type.Object({ hard: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export const ResizeBody = Type.Object(
  { type: Uri('URI of the new instance type.', '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-2xlarge') },
  { additionalProperties: false },
);
export const SnapshotBody = Type.Object(
  {
    imageId: Type.Optional(Rfc1035Label),
    displayName: Type.Optional(Type.String({ maxLength: 255 })),
  },
  { additionalProperties: false },
);
