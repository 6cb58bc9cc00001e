import { idlePolicyToCrd } from '../idle/idle-policy.js';
import {
  API_VERSION,
  type DatabaseObject,
  type DeclaredSpec,
  SEED_NAME_ANNOTATION,
  type SpecObject,
  type TemplateObject,
  dumpPathOf,
} from '../objects/index.js';
import { implicitTemplateName } from '../source/dumps-folder.js';
import { formatDuration } from '../spec/duration.js';

/** An object as the API shows it: the CRD's shape, spec as written, status as observed. */
export interface ApiObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: unknown;
  /** Where the spec came from (a file under the specs dir, or the dumps dir for implicit templates). */
  source?: { file: string; line: number };
}

/** The spec in the CRD's own field names (ttl, expiresAt as RFC 3339), for output and for writing files. */
export function specToCrd(object: SpecObject): Record<string, unknown> {
  if (object.kind === 'Template') {
    const spec = (object as TemplateObject).spec;
    return {
      engine: spec.engine,
      ...(spec.image ? { image: spec.image } : {}),
      source: { ...spec.source },
      ...(spec.database ? { database: spec.database } : {}),
      ...(Object.keys(spec.import).length > 0
        ? {
            import: {
              ...(spec.import.timeoutSeconds ? { timeout: formatDuration(spec.import.timeoutSeconds) } : {}),
              ...(spec.import.steps ? { steps: spec.import.steps.map((s) => ({ ...s })) } : {}),
              ...(spec.import.schemaOnly ? { schemaOnly: true } : {}),
            },
          }
        : {}),
      ...(spec.databaseDefaults?.idle
        ? { databaseDefaults: { idle: idlePolicyToCrd(spec.databaseDefaults.idle) } }
        : {}),
      ...(spec.pool ? { pool: { size: spec.pool.size } } : {}),
    };
  }
  const spec = (object as DatabaseObject).spec;
  return {
    ...(spec.template !== undefined ? { template: spec.template } : {}),
    ...(spec.source ? { source: { database: spec.source.database } } : {}),
    ...(spec.ttlSeconds !== undefined ? { ttl: formatDuration(spec.ttlSeconds) } : {}),
    ...(spec.expiresAt !== undefined ? { expiresAt: new Date(spec.expiresAt).toISOString() } : {}),
    state: spec.state,
    ...(spec.port !== undefined ? { port: spec.port } : {}),
    ...(spec.memoryMiB !== undefined ? { memoryMiB: spec.memoryMiB } : {}),
    ...(spec.protected ? { protected: true } : {}),
    ...(spec.idle ? { idle: idlePolicyToCrd(spec.idle) } : {}),
  };
}

/** An object as its spec file holds it (what the API answers, and what it writes). */
export function specDocument(object: SpecObject): Omit<ApiObject, 'status' | 'source'> {
  const { metadata } = object;
  return {
    apiVersion: API_VERSION,
    kind: object.kind,
    metadata: {
      name: metadata.name,
      ...(Object.keys(metadata.labels).length ? { labels: { ...metadata.labels } } : {}),
      ...(Object.keys(metadata.annotations).length ? { annotations: { ...metadata.annotations } } : {}),
    },
    spec: specToCrd(object),
  };
}

export function toApiObject(record: DeclaredSpec, status: unknown): ApiObject {
  return {
    ...specDocument(record.object),
    ...(status === undefined ? {} : { status }),
    source: { file: record.file, line: record.line },
  };
}

/** The name the original myaas knew a template by (its dump's name), else its own name. */
export function seedTemplateName(record: DeclaredSpec): string {
  return record.object.metadata.annotations[SEED_NAME_ANNOTATION] ?? record.object.metadata.name;
}

/**
 * The implicit template name of the dump a template is made of, when that is a top-level
 * `<name>.sql[.gz]` (`test_db.sql` → `test-db`), whatever the template is called.
 */
export function dumpTemplateName(record: DeclaredSpec): string | undefined {
  if (record.object.kind !== 'Template') return undefined;
  const source = dumpPathOf((record.object as TemplateObject).spec);
  return source === undefined || source.includes('/') ? undefined : implicitTemplateName(source);
}

/**
 * The original myaas names allowed `_`; ours are DNS labels: `test_db` means `test-db`. Nothing else is
 * rewritten: a name in capitals is not a DNS label, and is refused where a name is made.
 */
export function canonicalName(name: string): string {
  return name.replace(/_/g, '-');
}
