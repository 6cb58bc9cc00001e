import type { V1Node } from '@kubernetes/client-node';
import {
  type DeclaredSpec,
  type DesiredState,
  type Kind,
  type ObjectKey,
  type ObjectOfKind,
  type TemplateObject,
  parseKey,
} from '../objects/index.js';
import type { SpecProblem } from '../spec/problems.js';
import { selects } from './template-labels.js';

/**
 * What a node agent's template controller is asked for: the Templates whose nodeSelector selects the
 * agent's Node, and no Databases (their servers are Pods, their clones the agent's ClonePreparer's).
 * A warm pool is dropped: its members would be servers outside Kubernetes. The absence of a Database
 * is never trusted here, so the template controller never removes anything of a database's.
 */
export class NodeTemplates implements DesiredState {
  readonly #desired: DesiredState;
  readonly #node: () => V1Node | undefined;
  readonly #listeners = new Set<(keys: ObjectKey[]) => void>();
  readonly #off: () => void;

  constructor(desired: DesiredState, node: () => V1Node | undefined) {
    this.#desired = desired;
    this.#node = node;
    this.#off = desired.subscribe((keys) => {
      const templates = keys.filter((k) => parseKey(k).kind === 'Template');
      if (templates.length > 0) this.#emit(templates);
    });
  }

  /** The Node's labels changed: every template may be selected or not now. */
  nodeChanged(): void {
    this.#emit(this.#desired.list('Template').map((d) => d.key));
  }

  close(): void {
    this.#off();
  }

  get synced(): boolean {
    return this.#desired.synced && this.#node() !== undefined;
  }

  get available(): boolean {
    return this.#desired.available;
  }

  absenceTrusted(key: ObjectKey): boolean {
    if (parseKey(key).kind !== 'Template') return false;
    return this.synced && this.#desired.absenceTrusted(key);
  }

  get<K extends Kind>(key: `${K}/${string}`): DeclaredSpec<ObjectOfKind<K>> | undefined {
    if (parseKey(key as ObjectKey).kind !== 'Template') return undefined;
    const declared = this.#desired.get(key);
    return declared && this.#selected(declared as DeclaredSpec<TemplateObject>)
      ? (this.#forNode(declared as DeclaredSpec<TemplateObject>) as DeclaredSpec<ObjectOfKind<K>>)
      : undefined;
  }

  list<K extends Kind>(kind: K): DeclaredSpec<ObjectOfKind<K>>[];
  list(): DeclaredSpec[];
  list(kind?: Kind): DeclaredSpec[] {
    if (kind === 'Database') return [];
    return this.#desired
      .list('Template')
      .filter((d) => this.#selected(d))
      .map((d) => this.#forNode(d));
  }

  problems(): SpecProblem[] {
    return this.#desired.problems();
  }

  subscribe(listener: (keys: ObjectKey[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #selected(declared: DeclaredSpec<TemplateObject>): boolean {
    const node = this.#node();
    return node !== undefined && selects(declared.object.spec.nodeSelector, node);
  }

  #forNode(declared: DeclaredSpec<TemplateObject>): DeclaredSpec<TemplateObject> {
    if (!declared.object.spec.pool) return declared;
    const { pool: _pool, ...spec } = declared.object.spec;
    return { ...declared, object: { ...declared.object, spec } };
  }

  #emit(keys: ObjectKey[]): void {
    for (const listener of this.#listeners) listener(keys);
  }
}
