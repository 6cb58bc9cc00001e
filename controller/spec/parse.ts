import { createHash } from 'node:crypto';
import path from 'node:path';
import { type Document, LineCounter, isScalar, parseAllDocuments } from 'yaml';
import { DEFAULT_ENGINE } from '../engine/defaults.js';
import { readIdlePolicy } from '../idle/idle-policy.js';
import {
  API_VERSION,
  type DatabaseSpec,
  type ImportStep,
  KINDS,
  type Kind,
  type ObjectMeta,
  type SpecObject,
  type TemplateSpec,
  keyOf,
} from '../objects/index.js';
import { DURATION_HELP, parseDuration } from './duration.js';
import { nameProblem } from './names.js';
import type { SpecProblem } from './problems.js';
import { type SchemaSet, showValue } from './schema.js';

/** Larger files are refused unread, as the kubelet caps manifests: specs are small. */
export const MAX_SPEC_FILE_BYTES = 1024 * 1024;

export interface ParsedObject {
  readonly object: SpecObject;
  /** 1-based line of the document's start. */
  readonly line: number;
  /** Digest of the normalised object: equal content, equal digest, whatever the formatting. */
  readonly digest: string;
}

export interface ParseResult {
  readonly objects: ParsedObject[];
  readonly problems: SpecProblem[];
}

const META_FIELDS = new Set(['name', 'namespace', 'labels', 'annotations']);

/**
 * Turns one spec file's bytes into validated objects. Never throws: every defect becomes a problem
 * naming the file, the line when known, the object and the field. Callers treat a file with any
 * problem as held (none of its objects change), so one bad document never removes its siblings.
 */
export function parseSpecFile(bytes: Uint8Array, file: string, schemas: SchemaSet): ParseResult {
  const problems: SpecProblem[] = [];
  if (bytes.length > MAX_SPEC_FILE_BYTES) {
    return {
      objects: [],
      problems: [
        { file, message: `file is ${bytes.length} bytes; spec files are limited to ${MAX_SPEC_FILE_BYTES}` },
      ],
    };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { objects: [], problems: [{ file, message: 'file is not valid UTF-8; save it as UTF-8' }] };
  }
  const lineCounter = new LineCounter();
  let documents: Document.Parsed[];
  try {
    documents = parseAllDocuments(text, {
      lineCounter,
      prettyErrors: false,
      uniqueKeys: true,
    }) as Document.Parsed[];
  } catch (error) {
    return { objects: [], problems: [{ file, message: `YAML: ${(error as Error).message}` }] };
  }
  if (!Array.isArray(documents)) documents = [documents];
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  const objects: ParsedObject[] = [];
  for (const doc of documents) {
    const docLine = lineAt((doc.contents as { range?: number[] } | null)?.range?.[0] ?? doc.range[0]) ?? 1;
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        problems.push({ file, line: lineAt(error.pos[0]), message: `YAML: ${firstLine(error.message)}` });
      }
      continue;
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue; // empty, e.g. a trailing `---`
    const fieldLine = (fieldPath: readonly string[]) => lineOfPath(doc, lineCounter, fieldPath) ?? docLine;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An alias to no anchor, or an alias flood (billion laughs): a YAML problem, not a crash.
      problems.push({ file, line: docLine, message: `YAML: ${firstLine((error as Error).message)}` });
      continue;
    }
    const result = toObject(value, schemas);
    for (const p of result.problems) {
      problems.push({
        file,
        line: fieldLine(p.path),
        key: result.key,
        field: p.path.join('.') || undefined,
        message: p.message,
      });
    }
    if (result.object) {
      const key = keyOf(result.object);
      if (objects.some((o) => keyOf(o.object) === key)) {
        problems.push({
          file,
          line: docLine,
          key,
          message: `${key} is declared twice in this file; keep one`,
        });
        continue;
      }
      objects.push({ object: result.object, line: docLine, digest: digestOf(result.object) });
    }
  }
  return { objects, problems };
}

/** The 1-based line of the node at `fieldPath`, else of its nearest enclosing node that has one. */
export function lineOfPath(
  doc: Document.Parsed,
  lineCounter: LineCounter,
  fieldPath: readonly (string | number)[],
): number | undefined {
  for (let n = fieldPath.length; n >= 0; n--) {
    const node = doc.getIn(fieldPath.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/**
 * Validates one object that arrived already decoded (a custom resource read from the Kubernetes API):
 * the same schema and rules as a spec file's documents, so both sources accept exactly the same
 * objects. `source` names where it came from in problems (no line: it has none).
 */
export function parseSpecObject(value: unknown, source: string, schemas: SchemaSet): ParseResult {
  const result = toObject(value, schemas);
  const problems: SpecProblem[] = result.problems.map((p) => ({
    file: source,
    key: result.key,
    field: p.path.join('.') || undefined,
    message: p.message,
  }));
  const objects = result.object ? [{ object: result.object, line: 1, digest: digestOf(result.object) }] : [];
  return { objects, problems };
}

const firstLine = (message: string) => message.split('\n')[0] ?? message;

export function digestOf(object: SpecObject): string {
  return createHash('sha256').update(JSON.stringify(object)).digest('hex').slice(0, 16);
}

interface FieldIssue {
  path: string[];
  message: string;
}

function toObject(
  value: unknown,
  schemas: SchemaSet,
): { object?: SpecObject; key?: string; problems: FieldIssue[] } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      problems: [{ path: [], message: 'expected a mapping with apiVersion, kind, metadata and spec' }],
    };
  }
  const raw = value as Record<string, unknown>;
  const kind = raw.kind as Kind;
  if (raw.apiVersion !== API_VERSION) {
    return {
      problems: [
        { path: ['apiVersion'], message: `expected ${API_VERSION}, got ${showValue(raw.apiVersion)}` },
      ],
    };
  }
  if (!KINDS.includes(kind)) {
    return {
      problems: [
        {
          path: ['kind'],
          message: `${showValue(raw.kind)} is not allowed; allowed: ${KINDS.join(', ')}`,
        },
      ],
    };
  }
  const problems: FieldIssue[] = [];
  const metadata = readMetadata(raw.metadata, problems);
  const key = metadata ? `${kind}/${metadata.name}` : `${kind}/?`;
  problems.push(...schemas.validate(kind, raw));
  if (problems.length > 0 || !metadata) return { key, problems };

  const spec = raw.spec as Record<string, unknown>;
  if (kind === 'Template') {
    const source = spec.source as { path?: string; database?: string };
    const sourcePath = source.path;
    if ((sourcePath === undefined) === (source.database === undefined))
      problems.push({
        path: ['spec', 'source'],
        message:
          sourcePath === undefined
            ? 'needs path (a dump in the dumps dir, e.g. shop.sql.gz) or database (a Database to snapshot)'
            : 'path and database are exclusive: keep path to import a dump, or database to snapshot a database',
      });
    const leaves = sourcePath === undefined ? undefined : dumpPathProblem(sourcePath);
    if (leaves) problems.push({ path: ['spec', 'source', 'path'], message: leaves });
    const imp = (spec.import ?? {}) as { timeout?: unknown; steps?: ImportStep[]; schemaOnly?: boolean };
    (imp.steps ?? []).forEach((step, i) => {
      if (!('path' in step)) return;
      const problem = stepPathProblem(step.path);
      if (problem) problems.push({ path: ['spec', 'import', 'steps', String(i), 'path'], message: problem });
    });
    const timeoutSeconds = imp.timeout === undefined ? undefined : parseDuration(imp.timeout);
    if (imp.timeout !== undefined && timeoutSeconds === undefined) {
      problems.push({
        path: ['spec', 'import', 'timeout'],
        message: `${JSON.stringify(imp.timeout)} is not valid: ${DURATION_HELP}`,
      });
    }
    const defaults = spec.databaseDefaults as { idle?: unknown } | undefined;
    const defaultIdle = defaults?.idle === undefined ? undefined : readIdlePolicy(defaults.idle);
    for (const p of defaultIdle?.problems ?? [])
      problems.push({ path: ['spec', 'databaseDefaults', 'idle', ...p.path], message: p.message });
    if (problems.length > 0) return { key, problems };
    const poolSize = (spec.pool as { size?: number } | undefined)?.size ?? 0;
    const templateSpec: TemplateSpec = {
      engine: (spec.engine as TemplateSpec['engine'] | undefined) ?? DEFAULT_ENGINE,
      ...(spec.image === undefined ? {} : { image: spec.image as string }),
      source:
        sourcePath === undefined
          ? { database: source.database as string }
          : { path: path.posix.normalize(sourcePath) },
      ...(spec.database === undefined ? {} : { database: spec.database as string }),
      import: {
        ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }),
        ...(imp.steps?.length
          ? {
              steps: imp.steps.map((step) =>
                'path' in step ? { path: path.posix.normalize(step.path) } : step,
              ),
            }
          : {}),
        ...(imp.schemaOnly ? { schemaOnly: true } : {}),
      },
      ...(defaultIdle?.policy ? { databaseDefaults: { idle: defaultIdle.policy } } : {}),
      ...(poolSize ? { pool: { size: poolSize } } : {}),
      ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector as Record<string, string> } : {}),
    };
    return { key, problems, object: { kind, metadata, spec: templateSpec } };
  }

  const ttlSeconds = spec.ttl === undefined ? undefined : parseDuration(spec.ttl);
  if (spec.ttl !== undefined && ttlSeconds === undefined) {
    problems.push({
      path: ['spec', 'ttl'],
      message: `${JSON.stringify(spec.ttl)} is not valid: ${DURATION_HELP}`,
    });
  }
  const expiresAt = spec.expiresAt === undefined ? undefined : Date.parse(spec.expiresAt as string);
  if (expiresAt !== undefined && Number.isNaN(expiresAt)) {
    problems.push({
      path: ['spec', 'expiresAt'],
      message: `${JSON.stringify(spec.expiresAt)} is not an RFC 3339 time`,
    });
  }
  const idle = spec.idle === undefined ? undefined : readIdlePolicy(spec.idle);
  for (const p of idle?.problems ?? [])
    problems.push({ path: ['spec', 'idle', ...p.path], message: p.message });
  if (spec.template === undefined && spec.source === undefined)
    problems.push({
      path: ['spec', 'template'],
      message:
        'is required: name the Template to clone (e.g. template: shop), or give source.database to branch another database',
    });
  if (spec.template !== undefined && spec.source !== undefined)
    problems.push({
      path: ['spec', 'source'],
      message:
        'template and source are exclusive: keep template to clone a template, or source to branch a database',
    });
  if (problems.length > 0) return { key, problems };
  const source = spec.source as { database: string } | undefined;
  if (source && source.database === metadata.name)
    return {
      key,
      problems: [
        {
          path: ['spec', 'source', 'database'],
          message: 'names this database itself: name another database',
        },
      ],
    };
  const databaseSpec: DatabaseSpec = {
    ...(spec.template === undefined ? {} : { template: spec.template as string }),
    ...(source ? { source: { database: source.database } } : {}),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
    state: (spec.state as DatabaseSpec['state'] | undefined) ?? 'Running',
    ...(spec.port === undefined ? {} : { port: spec.port as number }),
    ...(spec.memoryMiB === undefined ? {} : { memoryMiB: spec.memoryMiB as number }),
    protected: (spec.protected as boolean | undefined) ?? false,
    ...(idle?.policy ? { idle: idle.policy } : {}),
  };
  return { key, problems, object: { kind, metadata, spec: databaseSpec } };
}

/** Dump paths are relative to the dumps dir and may not leave it (checked again against symlinks at import). */
export function dumpPathProblem(sourcePath: string): string | undefined {
  if (path.posix.isAbsolute(sourcePath) || path.win32.isAbsolute(sourcePath)) {
    return `\`${sourcePath}\` is absolute; give a path relative to the dumps dir, e.g. shop.sql.gz`;
  }
  if (sourcePath.split(/[\\/]/).includes('..')) {
    return `\`${sourcePath}\` leaves the dumps dir (..); give a path inside it, e.g. shop.sql.gz`;
  }
  // The object keeps the normalised path: it must still pass the CRD's pattern (`./.sql` is `.sql`).
  const normalized = path.posix.normalize(sourcePath);
  if (!/^[^/].*(\.sql(\.gz)?|\.dump)$/.test(normalized)) {
    return `\`${sourcePath}\` is \`${normalized}\`, which names no dump; give a file name ending in .sql, .sql.gz or .dump, e.g. shop.sql.gz`;
  }
  return undefined;
}

/** Why a post-import script path cannot be used (same rules as a dump's: inside the dumps dir), if so. */
export function stepPathProblem(stepPath: string): string | undefined {
  if (
    path.posix.isAbsolute(stepPath) ||
    path.win32.isAbsolute(stepPath) ||
    stepPath.split(/[\\/]/).includes('..')
  ) {
    return `\`${stepPath}\` is not inside the dumps dir; give a path relative to it, e.g. mask-emails.sql`;
  }
  if (!/^[^/].*\.sql$/.test(path.posix.normalize(stepPath))) {
    return `\`${stepPath}\` names no SQL script; give a file name ending in .sql, e.g. mask-emails.sql`;
  }
  return undefined;
}

function readMetadata(value: unknown, problems: FieldIssue[]): ObjectMeta | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ path: ['metadata'], message: 'is required: a mapping with at least name' });
    return undefined;
  }
  const meta = value as Record<string, unknown>;
  for (const field of Object.keys(meta)) {
    if (!META_FIELDS.has(field)) {
      problems.push({
        path: ['metadata', field],
        message: `unknown field; allowed fields here: ${[...META_FIELDS].join(', ')}`,
      });
    }
  }
  const maps: Record<'labels' | 'annotations', Record<string, string>> = { labels: {}, annotations: {} };
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object' || Array.isArray(map)) {
      problems.push({ path: ['metadata', field], message: 'expected a mapping of strings to strings' });
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      if (typeof v !== 'string') {
        problems.push({
          path: ['metadata', field, k],
          message: `expected a string, got ${typeof v}; quote the value`,
        });
      } else {
        maps[field][k] = v;
      }
    }
  }
  const problem = nameProblem(meta.name);
  if (problem) {
    problems.push({ path: ['metadata', 'name'], message: problem });
    return undefined;
  }
  return { name: meta.name as string, labels: maps.labels, annotations: maps.annotations };
}
