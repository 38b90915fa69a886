import { Type, type Static } from 'typebox';
import { ProjectParams, Rfc1035Label, Slug, Timestamp } from '../common-schemas.js';
import { Nullable } from '../common-schemas.js';

/** Operation statuses, Google-style: PENDING → RUNNING → DONE or FAILED. */
export const OPERATION_STATUSES = ['PENDING', 'RUNNING', 'DONE', 'FAILED'] as const;

export const OperationView = Type.Object(
  {
    id: Type.String({ examples: ['op-01hzx3k9q4'] }),
    selfLink: Type.String(),
    kind: Type.String({ description: 'create, update, delete, start, stop, reboot, pause, unpause, resize, confirm-resize, revert-resize, snapshot.' }),
    target: Type.String({ description: 'selfLink of the instance the operation acts on.' }),
    targetUid: Type.String(),
    status: Type.String({ enum: [...OPERATION_STATUSES] }),
    error: Nullable(
      Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }),
    ),
    steps: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          status: Type.String({ enum: ['STARTED', 'SUCCEEDED', 'FAILED'] }),
          at: Timestamp,
          elapsedMs: Type.Optional(Type.Integer({ description: 'Milliseconds since the operation was accepted.' })),
          message: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
    ),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    completedAt: Nullable(Timestamp),
  },
  { additionalProperties: false },
);
export type OperationView = Static<typeof OperationView>;

export const OperationList = Type.Object({ items: Type.Array(OperationView) }, { additionalProperties: false });

export const OperationParams = Type.Object(
  { region: Slug, project: Rfc1035Label, operationId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }) },
  { additionalProperties: false },
);
export { ProjectParams };
