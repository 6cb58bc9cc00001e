import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { StatusCause } from './status.js';

// ajv-formats ships CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * A CRD version's openAPIV3Schema applied as the API server applies it to a custom resource: unknown
 * fields pruned (structural schemas; kept under x-kubernetes-preserve-unknown-fields), defaults filled
 * in, then validated. Validation is ajv's: a structural schema is a JSON Schema subset (type,
 * properties, items, required, enum, pattern, minimum/maximum, minLength/maxLength, format, anyOf,
 * not), so ajv checks it as written; only the x-kubernetes-* keywords need teaching (int-or-string
 * widens `type`). Errors become Status causes worded as the real server words them.
 */

export type JsonSchema = { [key: string]: unknown };
type Obj = Record<string, unknown>;

const K8S_KEYWORDS = [
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-validations',
];

const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Drops fields the schema does not declare (what the real server does to stored custom resources). */
export function prune(value: unknown, schema: JsonSchema | undefined, root = false): unknown {
  if (!schema) return value;
  if (Array.isArray(value)) return value.map((item) => prune(item, schema.items as JsonSchema | undefined));
  if (!isObject(value)) return value;
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  const additional = schema.additionalProperties as JsonSchema | boolean | undefined;
  const keep = schema['x-kubernetes-preserve-unknown-fields'] === true;
  const out: Obj = {};
  for (const [key, child] of Object.entries(value)) {
    // apiVersion, kind and metadata of the root are the server's, whatever the schema says.
    if (root && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) out[key] = child;
    else if (properties?.[key]) out[key] = prune(child, properties[key]);
    else if (isObject(additional)) out[key] = prune(child, additional);
    else if (keep || additional === true) out[key] = child;
  }
  return out;
}

/** The fields pruning would drop, as dotted paths: what fieldValidation=Strict refuses. */
export function unknownFields(
  value: unknown,
  schema: JsonSchema | undefined,
  path = '',
  root = false,
): string[] {
  if (!schema) return [];
  if (Array.isArray(value))
    return value.flatMap((item, i) =>
      unknownFields(item, schema.items as JsonSchema | undefined, `${path}[${i}]`),
    );
  if (!isObject(value)) return [];
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  const additional = schema.additionalProperties as JsonSchema | boolean | undefined;
  const keep = schema['x-kubernetes-preserve-unknown-fields'] === true;
  return Object.entries(value).flatMap(([key, child]) => {
    const at = path ? `${path}.${key}` : key;
    if (root && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) return [];
    if (properties?.[key]) return unknownFields(child, properties[key], at);
    if (isObject(additional)) return unknownFields(child, additional, at);
    return keep || additional === true ? [] : [at];
  });
}

/** Fills in `default`s of absent properties of the objects that are present. */
export function applyDefaults(value: unknown, schema: JsonSchema | undefined): unknown {
  if (!schema) return value;
  if (Array.isArray(value))
    return value.map((item) => applyDefaults(item, schema.items as JsonSchema | undefined));
  if (!isObject(value)) return value;
  const out: Obj = { ...value };
  for (const [key, child] of Object.entries((schema.properties as Record<string, JsonSchema>) ?? {})) {
    if (out[key] === undefined && child.default !== undefined) out[key] = structuredClone(child.default);
    if (out[key] !== undefined) out[key] = applyDefaults(out[key], child);
  }
  return out;
}

/** The schema as ajv takes it (ajv knows OpenAPI's `nullable`; int-or-string comes with its anyOf). */
function toJsonSchema(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'default' || key === 'enum' || key === 'example') out[key] = value;
    else if (key === 'properties' && isObject(value))
      out[key] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, toJsonSchema(v as JsonSchema)]),
      );
    else if (Array.isArray(value)) out[key] = value.map((v) => (isObject(v) ? toJsonSchema(v) : v));
    else if (isObject(value)) out[key] = toJsonSchema(value);
    else out[key] = value;
  }
  return out;
}

const show = (v: unknown) => JSON.stringify(v);

function cause(error: ErrorObject): StatusCause {
  const parts = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') parts.push((error.params as { missingProperty: string }).missingProperty);
  const field = parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
  const data = error.data;
  switch (error.keyword) {
    case 'required':
      return { reason: 'FieldValueRequired', message: 'Required value', field };
    case 'enum':
      return {
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: ${show(data)}: supported values: ${(error.params as { allowedValues: unknown[] }).allowedValues.map(show).join(', ')}`,
        field,
      };
    case 'type':
      return {
        reason: 'FieldValueTypeInvalid',
        message: `Invalid value: ${show(typeof data)}: ${field} in body must be of type ${(error.params as { type: string }).type}: ${show(typeof data)}`,
        field,
      };
    case 'pattern':
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${show(data)}: ${field} in body should match '${(error.params as { pattern: string }).pattern}'`,
        field,
      };
    case 'minimum':
    case 'maximum':
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${show(data)}: ${field} in body should be ${error.keyword === 'minimum' ? 'greater' : 'less'} than or equal to ${(error.params as { limit: number }).limit}`,
        field,
      };
    case 'minLength':
    case 'maxLength':
      return {
        reason: error.keyword === 'maxLength' ? 'FieldValueTooLong' : 'FieldValueInvalid',
        message: `Invalid value: ${show(data)}: ${field} in body should be at ${error.keyword === 'minLength' ? 'least' : 'most'} ${(error.params as { limit: number }).limit} chars long`,
        field,
      };
    case 'format':
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${show(data)}: ${field} in body must be of type ${(error.params as { format: string }).format}: ${show(data)}`,
        field,
      };
    default:
      return {
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${show(data)}: ${error.message ?? 'is not valid'}`,
        field,
      };
  }
}

export interface CrdValidator {
  readonly schema: JsonSchema;
  /** Prunes and defaults a resource; returns it with the causes that make it invalid (none: valid). */
  admit(object: Obj): { object: Obj; causes: StatusCause[]; unknown: string[] };
}

export function crdValidator(schema: JsonSchema): CrdValidator {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
  addFormats(ajv);
  ajv.addVocabulary(K8S_KEYWORDS);
  const validate: ValidateFunction = ajv.compile(toJsonSchema(schema));
  return {
    schema,
    admit(input) {
      const unknown = unknownFields(input, schema, '', true);
      const object = applyDefaults(prune(input, schema, true), schema) as Obj;
      if (validate(object)) return { object, causes: [], unknown };
      // A failed anyOf (int-or-string) reports each branch: keep the anyOf error alone.
      const errors = validate.errors ?? [];
      const anyOf = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
      const causes = errors.filter((e) => !anyOf.some((p) => e.schemaPath.startsWith(p))).map(cause);
      return { object, causes, unknown };
    },
  };
}
