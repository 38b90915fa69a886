import { Type } from 'typebox';

const BillingStatus = Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('past-due'), Type.Literal('terminated')]);
const Role = Type.Union([Type.Literal('reader'), Type.Literal('member'), Type.Literal('admin')]);
const Label = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$' });
const Count = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });

export const TeamView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  billingStatus: BillingStatus,
  balanceCents: Type.Integer(),
  projects: Type.Array(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
export const TeamList = Type.Object({ items: Type.Array(TeamView) });
export const CreateTeamBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 128 }), billingStatus: Type.Optional(BillingStatus), balanceCents: Type.Optional(Type.Integer()) },
  { additionalProperties: false },
);
export const UpdateTeamBody = Type.Object(
  { billingStatus: Type.Optional(BillingStatus), balanceCents: Type.Optional(Type.Integer()) },
  { additionalProperties: false },
);
export const TeamParams = Type.Object({ team: Type.String({ minLength: 1, maxLength: 128 }) });

export const QuotaFields = {
  instances: Type.Optional(Count),
  vcpus: Type.Optional(Count),
  ramMb: Type.Optional(Count),
  publicIps: Type.Optional(Count),
};
export const QuotaView = Type.Object({
  quota: Type.Object({ instances: Type.Integer(), vcpus: Type.Integer(), ramMb: Type.Integer(), publicIps: Type.Integer() }),
  usage: Type.Object({ instances: Type.Integer(), vcpus: Type.Integer(), ramMb: Type.Integer(), publicIps: Type.Integer() }),
});
export const QuotaBody = Type.Object(QuotaFields, { additionalProperties: false });

export const ProjectView = Type.Object({ id: Type.String(), uid: Type.String(), teamId: Type.String(), name: Type.String(), createdAt: Type.String() });
export const ProjectList = Type.Object({ items: Type.Array(ProjectView) });
export const CreateProjectBody = Type.Object(
  {
    id: Label,
    team: Type.String({ minLength: 1, maxLength: 128, description: 'Team id or name.' }),
    name: Type.Optional(Type.String({ maxLength: 256 })),
    quota: Type.Optional(Type.Object(QuotaFields, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export const ProjectParams = Type.Object({ project: Label });

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 128 }),
    projectId: Type.Union([Label, Type.Null()]),
    role: Role,
  },
  { additionalProperties: false },
);
export const ApiKeyView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  projectId: Type.Union([Type.String(), Type.Null()]),
  role: Role,
  token: Type.String({ description: 'The secret, shown once; only its hash is stored.' }),
  createdAt: Type.String(),
});
export const ApiKeyParams = Type.Object({ key: Type.String({ minLength: 1, maxLength: 64 }) });

const BootArtifacts = Type.Union([
  Type.Object({ kind: Type.Literal('kernel'), kernel: Type.String(), initrd: Type.String(), cmdline: Type.Optional(Type.String()) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('disk'), disk: Type.String(), format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('none') }, { additionalProperties: false }),
]);
const Slug = Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$' });
const Cidr = Type.String({ pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$' });

/** A catalog document: what `kumo admin catalog load FILE` sends. Everything is upserted by id. */
export const CatalogBody = Type.Object(
  {
    regions: Type.Optional(Type.Array(Type.Object({ id: Slug, name: Type.String(), country: Type.Optional(Type.Union([Type.String(), Type.Null()])) }, { additionalProperties: false }))),
    zones: Type.Optional(Type.Array(Type.Object({ id: Slug, regionId: Slug, name: Type.Optional(Type.String()) }, { additionalProperties: false }))),
    images: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Slug,
            name: Type.String(),
            os: Type.String(),
            osVersion: Type.String(),
            arch: Type.Optional(Type.Union([Type.Literal('x86_64'), Type.Literal('aarch64')])),
            minDiskGb: Type.Optional(Count),
            minRamMb: Type.Optional(Count),
            sizeBytes: Type.Optional(Count),
            boot: Type.Optional(BootArtifacts),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    instanceTypes: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Slug,
            name: Type.Optional(Type.String()),
            vcpus: Type.Integer({ minimum: 1, maximum: 1024 }),
            ramMb: Type.Integer({ minimum: 64 }),
            diskGb: Type.Integer({ minimum: 1 }),
            gpus: Type.Optional(Type.Array(Type.Object({ type: Type.String(), count: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }))),
            zones: Type.Optional(Type.Array(Slug)),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    networks: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Slug,
            name: Type.Optional(Type.String()),
            regionId: Slug,
            projectId: Type.Optional(Type.Union([Label, Type.Null()])),
            subnets: Type.Array(
              Type.Object({ id: Slug, cidr: Cidr, name: Type.Optional(Type.String()), gatewayIp: Type.Optional(Type.String()) }, { additionalProperties: false }),
              { minItems: 1 },
            ),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    publicIpPools: Type.Optional(Type.Array(Type.Object({ id: Slug, regionId: Slug, cidr: Cidr }, { additionalProperties: false }))),
    securityGroups: Type.Optional(
      Type.Array(
        Type.Object(
          { id: Slug, name: Type.String(), projectId: Type.Optional(Type.Union([Label, Type.Null()])), description: Type.Optional(Type.String()) },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
