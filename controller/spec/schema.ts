import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { API_VERSION, type Kind } from '../objects/index.js';

// ajv-formats ships CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** One thing wrong with one object: a field path (`spec.ttl`) and what is allowed there. */
export interface FieldProblem {
  readonly path: string[];
  readonly message: string;
}

export interface SchemaSet {
  /** Validates a whole object (apiVersion, kind, metadata, spec) of the given kind. */
  validate(kind: Kind, object: unknown): FieldProblem[];
  /** Where the CRDs were read from. */
  readonly crdsDir: string;
}

/** Kubernetes extension keywords that ajv should accept and ignore. */
const K8S_KEYWORDS = [
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-validations',
];

/** The folder holding the CRDs: `crds-examples/` at the package root, found upward from this module. */
export function defaultCrdsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'crds-examples');
    if (existsSync(path.join(candidate, 'template.crd.yaml'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('Cannot find crds-examples/ above the controller code: reinstall myaas');
    dir = parent;
  }
}

type JsonSchema = { [key: string]: unknown };

/**
 * Kubernetes prunes unknown fields; `kubectl --validate=strict` reports them. We report them: a
 * structural CRD may not say `additionalProperties: false`, so the validator closes every object
 * schema that lists its properties.
 */
function closeObjects(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, sub]) => [name, closeObjects(sub)]),
      );
    } else if (Array.isArray(value)) {
      out[key] = value.map((item) =>
        item && typeof item === 'object' ? closeObjects(item as JsonSchema) : item,
      );
    } else if (value && typeof value === 'object' && key !== 'default' && key !== 'enum') {
      out[key] = closeObjects(value as JsonSchema);
    } else {
      out[key] = value;
    }
  }
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    !out['x-kubernetes-preserve-unknown-fields']
  ) {
    out.additionalProperties = false;
  }
  return out;
}

function readCrd(crdsDir: string, kind: Kind): JsonSchema {
  const file = path.join(crdsDir, `${kind.toLowerCase()}.crd.yaml`);
  const crd = parseYaml(readFileSync(file, 'utf8')) as {
    spec?: {
      names?: { kind?: string };
      group?: string;
      versions?: { name: string; schema?: { openAPIV3Schema?: JsonSchema } }[];
    };
  };
  const [group, version] = API_VERSION.split('/');
  if (crd.spec?.names?.kind !== kind || crd.spec.group !== group) {
    throw new Error(`${file}: expected the CustomResourceDefinition of ${kind} in group ${group}`);
  }
  const schema = crd.spec.versions?.find((v) => v.name === version)?.schema?.openAPIV3Schema;
  if (!schema) throw new Error(`${file}: no openAPIV3Schema for version ${version}`);
  return schema;
}

const typeOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;

/** A value for a message: its JSON, or what it is when it has none (YAML aliases can make cycles). */
export function showValue(value: unknown): string {
  try {
    return String(JSON.stringify(value));
  } catch {
    return `a self-referencing ${typeOf(value)}`;
  }
}
const quote = (value: unknown): string => (typeof value === 'string' ? `\`${value}\`` : showValue(value));

function describe(error: ErrorObject): string {
  const parent = error.parentSchema as JsonSchema | undefined;
  const hint = typeof parent?.description === 'string' ? parent.description : undefined;
  const withHint = (text: string) => (hint ? `${text}: ${hint}` : text);
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((parent?.properties as object | undefined) ?? {}).join(', ');
      return `unknown field; allowed fields here: ${allowed}`;
    }
    case 'required': {
      const property = (error.params as { missingProperty: string }).missingProperty;
      const sub = (parent?.properties as Record<string, JsonSchema> | undefined)?.[property];
      const subHint = typeof sub?.description === 'string' ? `: ${sub.description}` : '';
      return `is required${subHint}`;
    }
    case 'enum': {
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.join(', ');
      return `${quote(error.data)} is not allowed; allowed: ${allowed}`;
    }
    case 'type':
      return withHint(`expected ${(error.params as { type: string }).type}, got ${typeOf(error.data)}`);
    case 'not': {
      const not = error.schema as JsonSchema | undefined;
      return typeof not?.description === 'string' ? not.description : 'has a forbidden combination of fields';
    }
    default:
      return withHint(`${quote(error.data)} is not valid`);
  }
}

function toProblems(errors: ErrorObject[]): FieldProblem[] {
  // A failed anyOf reports every branch's errors too; keep the anyOf error alone (it has the description).
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => `${e.schemaPath}/`);
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    if (anyOfPaths.some((prefix) => error.schemaPath.startsWith(prefix))) continue;
    const fieldPath = error.instancePath.split('/').slice(1).map(decodePointer);
    if (error.keyword === 'additionalProperties') {
      fieldPath.push((error.params as { additionalProperty: string }).additionalProperty);
    } else if (error.keyword === 'required') {
      fieldPath.push((error.params as { missingProperty: string }).missingProperty);
    }
    const message = describe(error);
    const id = `${fieldPath.join('.')}\0${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push({ path: fieldPath, message });
  }
  return problems;
}

const decodePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * Compiles the JSON schema of one of the controller's own files (the webhooks file): its problems
 * read as the specs' do (field path, what is allowed there, the schema's description as the fix).
 */
export function compileValidator(schema: Record<string, unknown>): (value: unknown) => FieldProblem[] {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(closeObjects(schema));
  return (value) => (validate(value) ? [] : toProblems(validate.errors ?? []));
}

/** Compiles the CRDs' openAPIV3Schemas into validators: the format has one source of truth. */
export function loadSchemas(crdsDir: string = defaultCrdsDir()): SchemaSet {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false });
  addFormats(ajv);
  ajv.addVocabulary(K8S_KEYWORDS);
  const validators = new Map<Kind, ValidateFunction>();
  for (const kind of ['Template', 'Database'] as const) {
    validators.set(kind, ajv.compile(closeObjects(readCrd(crdsDir, kind))));
  }
  return {
    crdsDir,
    validate(kind, object) {
      const validate = validators.get(kind)!;
      return validate(object) ? [] : toProblems(validate.errors ?? []);
    },
  };
}
