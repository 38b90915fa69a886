import type { FastifySchemaCompiler } from 'fastify';
import { Ajv, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: under NodeNext its default import is the module object, whose `default` is the plugin.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv }).default;

const SHARED: Options = { useDefaults: true, allErrors: false, strict: false, removeAdditional: false };

/**
 * Validators for route schemas. Bodies are JSON and validated strictly: no type coercion (`"1"` is not a number),
 * unknown fields refused rather than silently dropped. Query strings, path parameters and headers arrive as text, so
 * they are coerced to the schema's types. `allErrors` stays off: reporting every error of a hostile body costs more
 * than the first one is worth.
 */
export function schemaValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = new Ajv({ ...SHARED, coerceTypes: false });
  const textAjv = new Ajv({ ...SHARED, coerceTypes: 'array' });
  addFormats(bodyAjv);
  addFormats(textAjv);
  return ({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object);
}
