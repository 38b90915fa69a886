import { Type, type Static, type TSchema } from 'typebox';

/** A catalog slug in a path (`us-texas-1`, `KGL-1`, `m1.medium`, `ubuntu-24.04-20260202-3`). */
export const Slug = Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' });

/** An RFC 1035 label (project, instance and key names). */
export const Rfc1035Label = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$' });

/** An instance in a path: its name or its uid. */
export const InstanceIdParam = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$',
  description: 'The instance `id` (name) or `uid`.',
});

export const RegionParams = Type.Object({ region: Slug }, { additionalProperties: false });
export const ZoneParams = Type.Object({ region: Slug, zone: Slug }, { additionalProperties: false });
export const ProjectParams = Type.Object({ region: Slug, project: Rfc1035Label }, { additionalProperties: false });

/** RFC 3339 timestamp, UTC, whole seconds. */
export const Timestamp = Type.String({ format: 'date-time', examples: ['2023-11-07T05:31:56Z'] });

/** Kubernetes label key rule, as a JSON Schema for property names. */
export const LABEL_KEY_SCHEMA = {
  maxLength: 316,
  pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
};

/** A Kubernetes label value: empty or up to 63 characters. */
export const LabelValue = Type.String({ maxLength: 63, pattern: '^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$' });

/** Labels: Kubernetes-style keys and values, at most 64. */
export const Labels = Type.Record(Type.String(), Type.String(), {
  maxProperties: 64,
  propertyNames: LABEL_KEY_SCHEMA,
  additionalProperties: LabelValue,
  description: 'Labels to apply to this resource (Kubernetes syntax; selectable with `labelSelector`).',
});

/** `T | null`, as a `type` array: fast-json-stringify serializes it without trying each branch of an anyOf. */
export function Nullable<T extends TSchema>(schema: T) {
  const type = (schema as { type?: string }).type;
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [type, 'null'] });
}

/** `{ items: [...] }` for catalog lists, which are small and unpaged. */
export function ItemList<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item) }, { additionalProperties: false });
}

/** The body of an empty action (`:start`, `:pause`); absent counts as `{}`. */
export const EmptyBody = Type.Object({}, { additionalProperties: false });
