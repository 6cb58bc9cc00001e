import { randomUUID } from 'node:crypto';
import { type Resource, apiVersionOf } from './resources.js';
import { type StatusCause, alreadyExists, badRequest, conflict, gone, invalid, notFound } from './status.js';

/**
 * What etcd plus the generic registry do for the server: objects, one global resourceVersion counter
 * that every write moves forward, the recent history of changes for watches to replay, and the
 * metadata rules of api-conventions.md ("Metadata", "Concurrency Control and Consistency", "Spec and
 * Status"): uid, creationTimestamp, generation, resourceVersion preconditions, finalizers.
 */

export type Obj = Record<string, unknown> & { metadata: Metadata };
export interface Metadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  generateName?: string;
  [key: string]: unknown;
}
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoreEvent {
  readonly type: EventType;
  readonly resource: Resource;
  readonly object: Obj;
  /** The object before a change (MODIFIED, DELETED): a watch with a selector needs both sides. */
  readonly old?: Obj;
  readonly resourceVersion: number;
}

/** Where a write is aimed: the main resource, or its status subresource. */
export type Target = 'main' | 'status';

const clone = <T>(v: T): T => structuredClone(v);
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Everything but metadata (and status when it is a subresource): what moves generation. */
function specOf(object: Obj, resource: Resource): string {
  const { metadata: _m, status, ...rest } = object;
  return JSON.stringify(resource.statusSubresource ? rest : { ...rest, status });
}

export interface WriteOptions {
  /** fieldValidation=Strict: unknown fields are an error instead of being dropped. */
  readonly strict?: boolean;
}

export interface ObjectStoreOptions {
  /** Changes kept for watches to replay; older resourceVersions answer 410 Gone. @default 1000 */
  readonly historyLimit?: number;
}

export class ObjectStore {
  #revision = 0;
  /** Watches from a resourceVersion below this cannot be served: its events are gone (compacted). */
  #compacted = 0;
  readonly #historyLimit: number;
  readonly #objects = new Map<string, { resource: Resource; object: Obj }>();
  readonly #history: StoreEvent[] = [];
  readonly #listeners = new Set<(event: StoreEvent) => void>();

  constructor(options: ObjectStoreOptions = {}) {
    this.#historyLimit = options.historyLimit ?? 1000;
  }

  get revision(): number {
    return this.#revision;
  }

  /**
   * Forgets every change so far, as an etcd compaction does: watches from before now answer 410.
   * `advance`: the revision first moves on (writes elsewhere in etcd do that), so a watch from the
   * latest resourceVersion a client saw answers 410 too.
   */
  compact(options: { advance?: boolean } = {}): void {
    if (options.advance) this.#revision++;
    this.#compacted = this.#revision;
    this.#history.length = 0;
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The retained changes after `from`, or 410 when some of them are no longer retained. */
  eventsSince(from: number): StoreEvent[] {
    if (from < this.#compacted) throw gone(`too old resource version: ${from} (${this.#compacted + 1})`);
    return this.#history.filter((e) => e.resourceVersion > from);
  }

  list(resource: Resource, namespace?: string): Obj[] {
    const out: Obj[] = [];
    for (const entry of this.#objects.values()) {
      if (entry.resource !== resource) continue;
      if (namespace !== undefined && entry.object.metadata.namespace !== namespace) continue;
      out.push(clone(entry.object));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
      ),
    );
  }

  /**
   * A list as it was at `revision` (resourceVersionMatch=Exact): the current objects with the retained
   * changes after it undone; 410 Gone when some of them are no longer retained.
   */
  listAt(resource: Resource, namespace: string | undefined, revision: number): Obj[] {
    if (revision > this.#revision)
      throw gone(`too large resource version: ${revision}, current: ${this.#revision}`);
    const byName = new Map(
      this.list(resource, namespace).map((o) => [`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]),
    );
    for (const event of this.eventsSince(revision).reverse()) {
      if (event.resource !== resource) continue;
      if (namespace !== undefined && event.object.metadata.namespace !== namespace) continue;
      const id = `${event.object.metadata.namespace ?? ''}/${event.object.metadata.name}`;
      if (event.type === 'ADDED') byName.delete(id);
      else byName.set(id, clone(event.old!));
    }
    return [...byName.values()].sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace ?? ''}/${b.metadata.name}`,
      ),
    );
  }

  /** Every stored object of every resource (the garbage collector's view). */
  all(): { resource: Resource; object: Obj }[] {
    return [...this.#objects.values()].map((e) => ({ resource: e.resource, object: clone(e.object) }));
  }

  get(resource: Resource, namespace: string | undefined, name: string): Obj {
    const entry = this.#objects.get(keyOf(resource, namespace, name));
    if (!entry) throw notFound(resource, name);
    return clone(entry.object);
  }

  find(resource: Resource, namespace: string | undefined, name: string): Obj | undefined {
    const entry = this.#objects.get(keyOf(resource, namespace, name));
    return entry ? clone(entry.object) : undefined;
  }

  create(resource: Resource, namespace: string | undefined, body: Obj, options: WriteOptions = {}): Obj {
    const metadata = { ...(body.metadata ?? {}) } as Metadata;
    if (!metadata.name && metadata.generateName)
      metadata.name = `${metadata.generateName}${randomUUID().replace(/-/g, '').slice(0, 5)}`;
    if (!metadata.name)
      throw invalid(resource, '', [
        {
          reason: 'FieldValueRequired',
          message: 'Required value: name or generateName is required',
          field: 'metadata.name',
        },
      ]);
    if (metadata.namespace && namespace && metadata.namespace !== namespace)
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    const key = keyOf(resource, namespace, metadata.name);
    if (this.#objects.has(key)) throw alreadyExists(resource, metadata.name);
    const object = clone({ ...body, apiVersion: apiVersionOf(resource), kind: resource.kind }) as Obj;
    // A create sets no status through a status subresource's main resource (api-conventions "Spec and Status").
    if (resource.statusSubresource && resource.validator) object.status = undefined;
    object.metadata = {
      ...metadata,
      ...(resource.namespaced ? { namespace } : {}),
      uid: randomUUID(),
      creationTimestamp: now(),
      generation: 1,
    };
    object.metadata.deletionTimestamp = undefined;
    object.metadata.resourceVersion = undefined;
    const admitted = this.#admit(resource, object, options.strict === true);
    admitted.metadata.resourceVersion = String(++this.#revision);
    this.#objects.set(key, { resource, object: admitted });
    this.#emit({ type: 'ADDED', resource, object: admitted, resourceVersion: this.#revision });
    return clone(admitted);
  }

  /**
   * PUT: to the main resource, status is kept as stored; to /status, only status is taken. A stale
   * metadata.resourceVersion is a 409 Conflict; none means an unconditional update.
   */
  update(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    body: Obj,
    target: Target = 'main',
    options: WriteOptions = {},
  ): Obj {
    const key = keyOf(resource, namespace, name);
    const entry = this.#objects.get(key);
    if (!entry) throw notFound(resource, name);
    const old = entry.object;
    if (body.metadata?.name !== undefined && body.metadata.name !== name)
      throw badRequest(
        `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
      );
    const wanted = body.metadata?.resourceVersion;
    if (wanted !== undefined && wanted !== '' && wanted !== old.metadata.resourceVersion)
      throw conflict(resource, name);

    let next: Obj;
    if (target === 'status') {
      next = { ...clone(old), status: clone(body.status) };
      if (body.status === undefined) next.status = undefined;
    } else {
      next = clone({ ...body, apiVersion: old.apiVersion, kind: old.kind }) as Obj;
      if (resource.statusSubresource) {
        if (old.status === undefined) next.status = undefined;
        else next.status = clone(old.status);
      }
      // Server-managed metadata cannot be changed by a client.
      next.metadata = {
        ...(body.metadata ?? {}),
        name,
        ...(resource.namespaced ? { namespace } : {}),
        uid: old.metadata.uid,
        creationTimestamp: old.metadata.creationTimestamp,
        generation: old.metadata.generation,
        ...(old.metadata.deletionTimestamp
          ? { deletionTimestamp: old.metadata.deletionTimestamp, deletionGracePeriodSeconds: 0 }
          : {}),
      } as Metadata;
      if (!next.metadata.deletionTimestamp) next.metadata.deletionTimestamp = undefined;
      if (old.metadata.deletionTimestamp) {
        const added = (next.metadata.finalizers ?? []).filter(
          (f) => !(old.metadata.finalizers ?? []).includes(f),
        );
        if (added.length > 0)
          throw invalid(resource, name, [
            {
              reason: 'FieldValueForbidden',
              message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
              field: 'metadata.finalizers',
            },
          ]);
      }
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    const admitted = this.#admit(resource, next, options.strict === true);
    if (specOf(admitted, resource) !== specOf(old, resource) && target === 'main')
      admitted.metadata.generation = (old.metadata.generation ?? 1) + 1;
    // A write that changes nothing is no write: no new resourceVersion, no event.
    if (JSON.stringify(admitted) === JSON.stringify(old)) return clone(old);
    admitted.metadata.resourceVersion = String(++this.#revision);
    if (admitted.metadata.deletionTimestamp && (admitted.metadata.finalizers ?? []).length === 0) {
      this.#objects.delete(key);
      this.#emit({ type: 'DELETED', resource, object: admitted, old, resourceVersion: this.#revision });
      return clone(admitted);
    }
    entry.object = admitted;
    this.#emit({ type: 'MODIFIED', resource, object: admitted, old, resourceVersion: this.#revision });
    return clone(admitted);
  }

  /**
   * DELETE: with finalizers the object only gets a deletionTimestamp (and is gone once the last
   * finalizer is removed); without, it is gone now. Returns the object and whether it is gone.
   */
  delete(
    resource: Resource,
    namespace: string | undefined,
    name: string,
    preconditions: { uid?: string; resourceVersion?: string } = {},
    /** Graceful deletion (a Pod on a node): marked, and gone once its kubelet deletes it with 0. */
    graceSeconds = 0,
  ): { object: Obj; deleted: boolean } {
    const key = keyOf(resource, namespace, name);
    const entry = this.#objects.get(key);
    if (!entry) throw notFound(resource, name);
    const old = entry.object;
    if (
      (preconditions.uid && preconditions.uid !== old.metadata.uid) ||
      (preconditions.resourceVersion && preconditions.resourceVersion !== old.metadata.resourceVersion)
    )
      throw conflict(resource, name);
    if ((old.metadata.finalizers ?? []).length > 0 || graceSeconds > 0) {
      if (old.metadata.deletionTimestamp) return { object: clone(old), deleted: false };
      const next = clone(old);
      next.metadata.deletionTimestamp = now();
      next.metadata.deletionGracePeriodSeconds = graceSeconds;
      next.metadata.generation = (old.metadata.generation ?? 1) + 1;
      next.metadata.resourceVersion = String(++this.#revision);
      entry.object = next;
      this.#emit({ type: 'MODIFIED', resource, object: next, old, resourceVersion: this.#revision });
      return { object: clone(next), deleted: false };
    }
    this.#objects.delete(key);
    const last = clone(old);
    last.metadata.resourceVersion = String(++this.#revision);
    this.#emit({ type: 'DELETED', resource, object: last, old, resourceVersion: this.#revision });
    return { object: clone(last), deleted: true };
  }

  #admit(resource: Resource, object: Obj, strict: boolean): Obj {
    const name = object.metadata.name;
    const causes: StatusCause[] = [];
    if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253)
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        field: 'metadata.name',
      });
    (object.metadata.ownerReferences ?? []).forEach((ref, i) => {
      for (const field of ['apiVersion', 'kind', 'name', 'uid'] as const)
        if (!ref[field])
          causes.push({
            reason: 'FieldValueRequired',
            message: 'Required value',
            field: `metadata.ownerReferences[${i}].${field}`,
          });
    });
    if (causes.length > 0) throw invalid(resource, name, causes);
    if (resource.kind === 'Secret' && object.stringData) {
      // stringData is write-only: merged into data, base64-encoded (core/v1 Secret).
      const encoded = Object.entries(object.stringData as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v, 'utf8').toString('base64'),
      ]);
      object.data = { ...((object.data as object | undefined) ?? {}), ...Object.fromEntries(encoded) };
      object.stringData = undefined;
    }
    if (!resource.validator) return object;
    const { object: admitted, causes: schemaCauses, unknown } = resource.validator.admit(object);
    // fieldValidation=Strict (what kubectl sends): unknown fields are refused, not pruned.
    if (strict && unknown.length > 0)
      throw badRequest(
        `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
      );
    if (schemaCauses.length > 0) throw invalid(resource, name, schemaCauses);
    return admitted as Obj;
  }

  #emit(event: StoreEvent): void {
    this.#history.push(event);
    while (this.#history.length > this.#historyLimit)
      this.#compacted = this.#history.shift()!.resourceVersion;
    for (const listener of this.#listeners) listener(event);
  }
}

function keyOf(resource: Resource, namespace: string | undefined, name: string): string {
  return `${resource.group}/${resource.resource}/${resource.namespaced ? (namespace ?? '') : ''}/${name}`;
}
