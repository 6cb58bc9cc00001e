import type { DeclaredSpec, ObjectKey } from '../objects/index.js';
import { canonicalName, seedTemplateName } from './objects.js';
import type { ApiContext } from './routes.js';

/** Shared reads of the desired state and status, for both APIs. */
export class ApiState {
  constructor(readonly context: ApiContext) {}

  get #running() {
    return this.context.running;
  }

  templates(): DeclaredSpec[] {
    return this.#running.desired.list('Template').sort((a, b) => a.key.localeCompare(b.key));
  }

  databases(): DeclaredSpec[] {
    return this.#running.desired.list('Database').sort((a, b) => a.key.localeCompare(b.key));
  }

  /** A template by its name, its seed (dump) name, or the canonical form of either. */
  findTemplate(name: string): DeclaredSpec | undefined {
    const canonical = canonicalName(name);
    return this.templates().find(
      (t) =>
        t.object.metadata.name === name ||
        seedTemplateName(t) === name ||
        t.object.metadata.name === canonical,
    );
  }

  templateStatus(name: string) {
    return this.#running.store.get(`Template/${name}`);
  }

  databaseStatus(name: string) {
    return this.#running.store.get(`Database/${name}`);
  }

  /** Waits until `check` holds for the stored state of `key`, or the deadline passes. */
  waitFor(key: ObjectKey, check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      // Woken by status writes and by spec changes of that key; a slow poll covers anything else.
      const poll = setInterval(() => check() && finish(true), 1000);
      const offStore = this.#running.store.subscribe((changed) => {
        if (changed === key && check()) finish(true);
      });
      const offDesired = this.#running.desired.subscribe((keys) => {
        if (keys.includes(key) && check()) finish(true);
      });
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        clearInterval(poll);
        offStore();
        offDesired();
        resolve(ok);
      };
    });
  }
}
