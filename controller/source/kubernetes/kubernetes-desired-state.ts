import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '../../log.js';
import {
  type DeclaredSpec,
  type DesiredState,
  KINDS,
  type Kind,
  type ObjectKey,
  type ObjectOfKind,
  parseKey,
} from '../../objects/index.js';
import { parseSpecObject } from '../../spec/parse.js';
import type { SpecProblem } from '../../spec/problems.js';
import type { SchemaSet } from '../../spec/schema.js';
import {
  type CustomResource,
  GROUP,
  type NamespaceScope,
  PLURALS,
  VERSION,
  collectionPath,
  sourceOf,
  specDocumentOf,
} from './custom-resources.js';
import { type InformerEvent, ResourceInformer } from './resource-informer.js';

export interface KubernetesDesiredStateOptions {
  readonly kubeConfig: KubeConfig;
  readonly scope: NamespaceScope;
  readonly schemas: SchemaSet;
  readonly log: Logger;
  /** Backoff of a failed list or watch. @default 500 */
  readonly retryMinMs?: number;
  /** @default 30000 */
  readonly retryMaxMs?: number;
}

/** Where the custom resource behind a key lives: what status and Secrets are written against. */
export interface ResourceLocation {
  readonly kind: Kind;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** One custom resource as last seen, with its last good object (a resource that stops validating keeps it). */
interface Entry {
  readonly kind: Kind;
  readonly namespace: string;
  readonly name: string;
  uid: string;
  created: string;
  good?: { declared: DeclaredSpec; generation: number };
  problems: SpecProblem[];
}

/**
 * Template and Database custom resources as the desired state, read through informers. The same rules
 * as the spec folder: every resource goes through the spec parser (a resource that stops validating
 * keeps its last good spec, with the problem shown); nothing counts as absent before both first lists,
 * while the API server is unavailable, nor for a name whose resource never validated. The same name in
 * two namespaces (`--namespace all`): the older resource is used, both are reported.
 */
export class KubernetesDesiredState implements DesiredState {
  readonly #options: KubernetesDesiredStateOptions;
  readonly #log: Logger;
  readonly #informers: Map<Kind, ResourceInformer>;
  /** By kind, then `namespace/name`. */
  readonly #entries = new Map<Kind, Map<string, Entry>>(KINDS.map((k) => [k, new Map()]));
  readonly #records = new Map<ObjectKey, { declared: DeclaredSpec; entry: Entry }>();
  readonly #listeners = new Set<(keys: ObjectKey[]) => void>();
  #started = false;

  constructor(options: KubernetesDesiredStateOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'kubernetes-source' });
    const api = options.kubeConfig.makeApiClient(CustomObjectsApi);
    const { scope } = options;
    this.#informers = new Map(
      KINDS.map((kind) => {
        const plural = PLURALS[kind];
        const list = (): Promise<KubernetesListObject<KubernetesObject>> =>
          scope.all
            ? api.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
            : api.listNamespacedCustomObject({
                group: GROUP,
                version: VERSION,
                namespace: scope.namespace,
                plural,
              });
        return [
          kind,
          new ResourceInformer({
            kubeConfig: options.kubeConfig,
            path: collectionPath(kind, scope),
            list,
            log: this.#log,
            onObject: (event, object) => this.#onObject(kind, event, object),
            ...(options.retryMinMs === undefined ? {} : { retryMinMs: options.retryMinMs }),
            ...(options.retryMaxMs === undefined ? {} : { retryMaxMs: options.retryMaxMs }),
          }),
        ];
      }),
    );
  }

  /** Lists and watches both kinds; resolves once both first lists are read (retrying until then). */
  async start(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.start()));
    this.#started = true;
    this.#log.info({ objects: this.#records.size, scope: this.#options.scope }, 'initial list complete');
    this.#emit([...this.#records.keys()]);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
  }

  get synced(): boolean {
    return this.#started && [...this.#informers.values()].every((i) => i.synced);
  }

  get available(): boolean {
    return [...this.#informers.values()].every((i) => i.available);
  }

  absenceTrusted(key: ObjectKey): boolean {
    if (!this.synced || !this.available) return false;
    const { kind, name } = parseKey(key);
    // A resource of that name exists but never validated: what it asks for is unknown.
    for (const entry of this.#entries.get(kind)?.values() ?? [])
      if (entry.name === name && !entry.good) return false;
    return true;
  }

  get<K extends Kind>(key: `${K}/${string}`): DeclaredSpec<ObjectOfKind<K>> | undefined {
    return this.#records.get(key)?.declared as DeclaredSpec<ObjectOfKind<K>> | undefined;
  }

  list<K extends Kind>(kind: K): DeclaredSpec<ObjectOfKind<K>>[];
  list(): DeclaredSpec[];
  list(kind?: Kind): DeclaredSpec[] {
    const all = [...this.#records.values()].map((r) => r.declared);
    return kind ? all.filter((d) => d.object.kind === kind) : all;
  }

  /** The custom resource a key's desired state comes from (for status and Secrets). */
  locate(key: ObjectKey): ResourceLocation | undefined {
    const entry = this.#records.get(key)?.entry;
    return entry && { kind: entry.kind, namespace: entry.namespace, name: entry.name, uid: entry.uid };
  }

  problems(): SpecProblem[] {
    const out: SpecProblem[] = [];
    for (const [kind, informer] of this.#informers)
      if (!informer.available && informer.lastError)
        out.push({
          file: collectionPath(kind, this.#options.scope),
          message: `Kubernetes API server unavailable (${informer.lastError}): nothing is removed until it answers again`,
        });
    for (const entries of this.#entries.values())
      for (const entry of entries.values()) out.push(...entry.problems);
    for (const [key, group] of this.#byName()) {
      if (group.length < 2) continue;
      const message = `${key} is declared in namespaces ${group.map((e) => e.namespace).join(' and ')}; the one in ${group[0]!.namespace} (the oldest) is used: rename the others`;
      for (const entry of group)
        out.push({ file: sourceOf(entry.kind, entry.namespace, entry.name), key, message });
    }
    return out;
  }

  subscribe(listener: (keys: ObjectKey[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #onObject(kind: Kind, event: InformerEvent, resource: CustomResource): void {
    const meta = resource.metadata ?? {};
    const name = meta.name ?? '';
    const namespace = meta.namespace ?? '';
    const entries = this.#entries.get(kind)!;
    const id = `${namespace}/${name}`;
    // Being deleted is deleted: its owner asked for it to go (the deletion guard and trash still apply).
    if (event === 'delete' || meta.deletionTimestamp) entries.delete(id);
    else {
      const entry: Entry = entries.get(id) ?? { kind, namespace, name, uid: '', created: '', problems: [] };
      entry.uid = meta.uid ?? '';
      entry.created = String(meta.creationTimestamp ?? '');
      const source = sourceOf(kind, namespace, name);
      const parsed = parseSpecObject(specDocumentOf(resource), source, this.#options.schemas);
      entry.problems = parsed.problems;
      const object = parsed.objects[0];
      if (object && parsed.problems.length === 0) {
        const key = `${kind}/${name}` as ObjectKey;
        entry.good = {
          generation: meta.generation ?? 1,
          declared: {
            key,
            object: object.object,
            file: source,
            line: 1,
            fileMtimeMs: 0,
            digest: object.digest,
            generation: meta.generation ?? 1,
          },
        };
      } else {
        for (const p of parsed.problems)
          this.#log.warn({ resource: source, field: p.field }, `${p.message}; its last good spec is kept`);
      }
      entries.set(id, entry);
    }
    this.#resolve(kind, name);
  }

  /** Entries per key, oldest first (the one used when a name is taken in several namespaces). */
  #byName(): Map<ObjectKey, Entry[]> {
    const out = new Map<ObjectKey, Entry[]>();
    for (const [kind, entries] of this.#entries)
      for (const entry of entries.values()) {
        const key = `${kind}/${entry.name}` as ObjectKey;
        out.set(key, [...(out.get(key) ?? []), entry]);
      }
    for (const group of out.values()) group.sort(oldestFirst);
    return out;
  }

  #resolve(kind: Kind, name: string): void {
    const key = `${kind}/${name}` as ObjectKey;
    const before = this.#records.get(key)?.declared;
    // Only this name's entries: grouping every entry on each event made a first list of N resources N².
    const winner = [...this.#entries.get(kind)!.values()].filter((e) => e.name === name).sort(oldestFirst)[0];
    if (winner?.good) this.#records.set(key, { declared: winner.good.declared, entry: winner });
    else if (!winner) this.#records.delete(key);
    // A winner that never validated: whatever was used before stays (absence is not trusted for it).
    const after = this.#records.get(key)?.declared;
    const changed =
      before?.digest !== after?.digest ||
      before?.generation !== after?.generation ||
      before?.file !== after?.file;
    if (changed && this.#started) this.#emit([key]);
  }

  #emit(keys: ObjectKey[]): void {
    if (keys.length === 0) return;
    for (const listener of this.#listeners) {
      try {
        listener(keys);
      } catch (error) {
        this.#log.error({ err: error }, 'desired-state listener failed');
      }
    }
  }
}

/** The resource used when a name is taken in several namespaces: the oldest (then by namespace). */
function oldestFirst(a: Entry, b: Entry): number {
  return a.created.localeCompare(b.created) || a.namespace.localeCompare(b.namespace);
}
