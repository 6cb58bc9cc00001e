import type { ObjectStore } from './object-store.js';
import { ApiError } from './status.js';

/**
 * The garbage collector's background mode: an object all of whose owners (ownerReferences, by uid) are
 * gone is deleted, whether its owner was deleted after it or never existed (a dangling reference).
 * Asynchronous like the real controller: dependents go shortly after their owner, not in the same
 * request.
 */
export class GarbageCollector {
  readonly #store: ObjectStore;
  #scheduled = false;
  readonly #off: () => void;

  constructor(store: ObjectStore) {
    this.#store = store;
    this.#off = store.subscribe((event) => {
      if (event.type === 'DELETED' || (event.object.metadata.ownerReferences ?? []).length > 0)
        this.#schedule();
    });
  }

  stop(): void {
    this.#off();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#collect();
    });
  }

  #collect(): void {
    const all = this.#store.all();
    const live = new Map(all.map((e) => [e.object.metadata.uid, e]));
    for (const { resource, object } of all) {
      const refs = object.metadata.ownerReferences ?? [];
      if (refs.length === 0 || object.metadata.deletionTimestamp) continue;
      const ownerLives = refs.some((ref) => {
        const owner = live.get(ref.uid);
        // A namespaced owner counts only in the dependent's namespace.
        return (
          owner !== undefined &&
          (!owner.resource.namespaced || owner.object.metadata.namespace === object.metadata.namespace)
        );
      });
      if (ownerLives) continue;
      try {
        this.#store.delete(resource, object.metadata.namespace, object.metadata.name, {
          uid: object.metadata.uid!,
        });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
      }
    }
  }
}
