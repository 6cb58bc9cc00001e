import type { Logger } from '../log.js';
import type { ObjectKey } from '../objects/index.js';
import type { StatusStore, StoredObject } from './status-store.js';

/**
 * Where an object's status is published for its users, beside the status store (which stays the
 * controller's own record: in file mode it is all there is, `state/<kind>s/<name>.json`). A Kubernetes
 * source publishes to the resource's status subresource and the database's credentials Secret.
 */
export interface StatusSink {
  /** Publishes the object's current stored state; throws to be tried again later. */
  publish(key: ObjectKey, stored: StoredObject): Promise<void>;
}

export interface StatusForwarderOptions {
  readonly store: StatusStore;
  readonly sink: StatusSink;
  readonly log: Logger;
  /** Wait before publishing a key again after a failure. @default 2000 */
  readonly retryMs?: number;
}

/**
 * Feeds a sink from the store: every change of an object's stored state, and every key asked for
 * (`publish`), reaches the sink; one publish per key at a time, the latest state when it runs, and a
 * failed one is tried again (an API server away for a while misses nothing once it is back).
 */
export class StatusForwarder {
  readonly #options: StatusForwarderOptions;
  readonly #log: Logger;
  readonly #running = new Set<ObjectKey>();
  readonly #again = new Set<ObjectKey>();
  readonly #retries = new Map<ObjectKey, NodeJS.Timeout>();
  readonly #idle = new Set<() => void>();
  #off: (() => void) | undefined;
  #stopped = false;

  constructor(options: StatusForwarderOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'status-sink' });
  }

  start(): void {
    this.#off = this.#options.store.subscribe((key) => this.publish([key]));
  }

  stop(): void {
    this.#stopped = true;
    this.#off?.();
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
  }

  /** Publishes these keys' stored state (those the store has). */
  publish(keys: Iterable<ObjectKey>): void {
    for (const key of keys) {
      if (this.#stopped) return;
      if (this.#running.has(key)) {
        this.#again.add(key);
        continue;
      }
      void this.#run(key);
    }
  }

  /** Resolves when no publish is running (tests). */
  async onIdle(): Promise<void> {
    if (this.#running.size === 0) return;
    await new Promise<void>((resolve) => this.#idle.add(resolve));
  }

  async #run(key: ObjectKey): Promise<void> {
    this.#running.add(key);
    clearTimeout(this.#retries.get(key));
    this.#retries.delete(key);
    try {
      const stored = this.#options.store.get(key);
      if (stored) await this.#options.sink.publish(key, stored);
    } catch (error) {
      this.#log.warn({ key, err: error }, 'status not published; trying again');
      if (!this.#stopped)
        this.#retries.set(
          key,
          setTimeout(() => this.publish([key]), this.#options.retryMs ?? 2000),
        );
    } finally {
      this.#running.delete(key);
      if (this.#again.delete(key)) this.publish([key]);
      if (this.#running.size === 0) for (const resolve of this.#idle) resolve();
      if (this.#running.size === 0) this.#idle.clear();
    }
  }
}
