import { badRequest, unsupportedMediaType } from './status.js';

/**
 * The patch types a custom resource accepts: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
 * Strategic merge patch is refused with 415 for every resource here, as the real server refuses it for
 * custom resources; built-in kinds would take it there, but nothing the product does sends one.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';

const isObject = (v: unknown): v is Record<string, Json> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key] ?? null, value);
  }
  return out;
}

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: Json;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[], path: string): { parent: Json; last: string } {
  let node: Json = doc;
  for (const part of parts.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(node)
      ? node[Number(part)]
      : isObject(node)
        ? node[part]
        : undefined;
    if (next === undefined)
      throw badRequest(
        `the server rejected our request due to an error in our request: path ${path} does not exist`,
      );
    node = next;
  }
  return { parent: node, last: parts[parts.length - 1]! };
}

function get(doc: Json, path: string): Json {
  let node: Json | undefined = doc;
  for (const part of pointer(path))
    node = Array.isArray(node) ? node[Number(part)] : isObject(node) ? node[part] : undefined;
  if (node === undefined) throw badRequest(`path ${path} does not exist`);
  return node;
}

function remove(doc: Json, path: string): Json {
  const { parent, last } = parentOf(doc, pointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!(i >= 0 && i < parent.length)) throw badRequest(`path ${path} does not exist`);
    return parent.splice(i, 1)[0]!;
  }
  if (!isObject(parent) || !(last in parent)) throw badRequest(`path ${path} does not exist`);
  const value = parent[last]!;
  delete parent[last];
  return value;
}

function add(doc: Json, path: string, value: Json, replace = false): Json {
  const parts = pointer(path);
  if (parts.length === 0) return value;
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!(i >= 0 && i <= parent.length)) throw badRequest(`path ${path} is out of range`);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
  } else if (isObject(parent)) {
    if (replace && !(last in parent)) throw badRequest(`path ${path} does not exist`);
    parent[last] = value;
  } else throw badRequest(`path ${path} does not exist`);
  return doc;
}

export function jsonPatch(target: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) throw badRequest('a JSON patch is an array of operations');
  let doc: Json = structuredClone(target);
  for (const op of operations as Operation[]) {
    switch (op.op) {
      case 'add':
        doc = add(doc, op.path, structuredClone(op.value ?? null));
        break;
      case 'replace':
        doc = add(doc, op.path, structuredClone(op.value ?? null), true);
        break;
      case 'remove':
        remove(doc, op.path);
        break;
      case 'move':
        doc = add(doc, op.path, remove(doc, op.from ?? ''));
        break;
      case 'copy':
        doc = add(doc, op.path, structuredClone(get(doc, op.from ?? '')));
        break;
      case 'test':
        if (JSON.stringify(get(doc, op.path)) !== JSON.stringify(op.value))
          throw new PatchTestFailed(op.path);
        break;
      default:
        throw badRequest(`unknown JSON patch operation ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  }
  return doc;
}

/** A failed `test` operation: the real server answers 422 with this wording. */
export class PatchTestFailed extends Error {
  constructor(readonly path: string) {
    super(`testing value ${path} failed`);
  }
}

/** Applies a patch body by its Content-Type. */
export function applyPatch(contentType: string, target: unknown, body: unknown): unknown {
  const type = contentType.split(';')[0]!.trim();
  if (type === MERGE_PATCH) return mergePatch(target as Json, body as Json);
  if (type === JSON_PATCH) return jsonPatch(target as Json, body);
  throw unsupportedMediaType(type);
}
