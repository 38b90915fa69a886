import { Type, type Static } from 'typebox';
import { ItemList, ProjectParams, Rfc1035Label, Slug, Timestamp } from '../common-schemas.js';

export const SshKeyView = Type.Object(
  {
    selfLink: Type.String(),
    uid: Type.String(),
    id: Type.String(),
    displayName: Type.String(),
    publicKey: Type.String(),
    fingerprint: Type.String({ examples: ['SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU'] }),
    createdAt: Timestamp,
  },
  { additionalProperties: false },
);
export type SshKeyView = Static<typeof SshKeyView>;

export const SshKeyList = ItemList(SshKeyView);

export const CreateSshKeyBody = Type.Object(
  {
    id: Rfc1035Label,
    displayName: Type.Optional(Type.String({ maxLength: 255 })),
    publicKey: Type.String({ minLength: 1, maxLength: 16_384, description: 'One OpenSSH public key line.' }),
  },
  { additionalProperties: false },
);

export const SshKeyParams = Type.Object(
  { region: Slug, project: Rfc1035Label, key: Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' }) },
  { additionalProperties: false },
);
export { ProjectParams };
