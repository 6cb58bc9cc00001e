import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import {
  type DatabaseRecord,
  type DatabaseStatus,
  KINDS,
  type KeyOf,
  type Kind,
  type ObjectEvent,
  type ObjectKey,
  type TemplateRecord,
  type TemplateStatus,
  parseKey,
} from '../objects/index.js';
import { isValidName } from '../spec/names.js';
import { readJson, writeFileAtomic } from '../util/files.js';

/** Status and record types per kind. */
interface StoredKinds {
  Template: { status: TemplateStatus; record: TemplateRecord };
  Database: { status: DatabaseStatus; record: DatabaseRecord };
}
export type StatusOf<K extends Kind> = StoredKinds[K]['status'];
export type RecordOf<K extends Kind> = StoredKinds[K]['record'];

/** What is kept per object: the status users read, the controller's bookkeeping, recent events. */
export interface StoredObject<K extends Kind = Kind> {
  status: StatusOf<K>;
  record: RecordOf<K>;
  events: ObjectEvent[];
}

const MAX_EVENTS = 30;

/**
 * Status and bookkeeping per object, in `state/<kind>s/<name>.json` (mode 0600: it holds passwords),
 * written atomically and one write at a time per object. Read at start; the files are the truth.
 */
export class StatusStore {
  readonly #layout: Layout;
  readonly #log: Logger;
  readonly #objects = new Map<ObjectKey, StoredObject>();
  readonly #writes = new Map<ObjectKey, Promise<void>>();
  readonly #listeners = new Set<(key: ObjectKey) => void>();
  /** What each file holds, as written: a save that changes nothing writes nothing. */
  readonly #written = new Map<ObjectKey, string>();
  /** Writes queued or under way, per object. */
  readonly #pending = new Map<ObjectKey, number>();

  constructor(layout: Layout, log: Logger) {
    this.#layout = layout;
    this.#log = log.child({ component: 'status' });
  }

  async load(): Promise<void> {
    for (const kind of KINDS) {
      const dir = path.dirname(this.#layout.statusFile(kind, 'x'));
      let files: string[] = [];
      try {
        files = await readdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      for (const file of files) {
        const name = file.replace(/\.json$/, '');
        if (!file.endsWith('.json') || !isValidName(name)) continue;
        try {
          const stored = await readJson<StoredObject>(path.join(dir, file));
          if (stored) {
            this.#objects.set(`${kind}/${name}`, stored);
            this.#written.set(`${kind}/${name}`, serialize(stored));
          }
        } catch (error) {
          this.#log.warn({ file, err: error }, 'unreadable status file ignored');
        }
      }
    }
  }

  get<K extends Kind>(key: KeyOf<K>): StoredObject<K> | undefined {
    return this.#objects.get(key) as StoredObject<K> | undefined;
  }

  keys(kind: Kind): ObjectKey[] {
    return [...this.#objects.keys()].filter((k) => k.startsWith(`${kind}/`));
  }

  /**
   * Replaces status and record, keeps events, and persists, unless nothing changed: a resync pass
   * over a thousand idle databases then costs no write (and no fsync) at all.
   */
  async save<K extends Kind>(key: KeyOf<K>, status: StatusOf<K>, record: RecordOf<K>): Promise<void> {
    const current = this.#objects.get(key);
    const next = { status, record, events: current?.events ?? [] } as StoredObject;
    this.#objects.set(key, next);
    // Equal to the file, and no write under way that could still change the file: nothing to do.
    if (!this.#pending.has(key) && this.#written.get(key) === serialize(next)) return;
    await this.#persist(key);
  }

  /**
   * Appends an event (bounded). It is written in the background, in order with the object's other
   * writes: events are history, and waiting for their fsync would slow every reconcile down.
   */
  async event(key: ObjectKey, type: ObjectEvent['type'], reason: string, message: string): Promise<void> {
    const current = this.#objects.get(key);
    if (!current) return;
    const event = { time: new Date().toISOString(), type, reason, message };
    current.events = [...current.events, event].slice(-MAX_EVENTS);
    this.#log[type === 'Warning' ? 'warn' : 'info']({ key, reason }, message);
    this.#persist(key).catch((error) => this.#log.warn({ key, err: error }, 'event not written'));
  }

  /** Waits for every write started so far (background event writes included). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writes.values()]);
  }

  async delete(key: ObjectKey): Promise<void> {
    this.#objects.delete(key);
    const { kind, name } = parseKey(key);
    await this.#serialize(key, async () => {
      await rm(this.#layout.statusFile(kind, name), { force: true });
      // After any write queued before the removal: the file is gone, nothing is "written".
      this.#written.delete(key);
    });
    this.#notify(key);
  }

  /** Called after every change of an object's stored state. */
  subscribe(listener: (key: ObjectKey) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #persist(key: ObjectKey): Promise<void> {
    const { kind, name } = parseKey(key);
    await this.#serialize(key, async () => {
      const value = this.#objects.get(key);
      if (!value) return;
      const text = serialize(value);
      await writeFileAtomic(this.#layout.statusFile(kind, name), text);
      this.#written.set(key, text);
    });
    this.#notify(key);
  }

  #serialize(key: ObjectKey, write: () => Promise<unknown>): Promise<void> {
    const previous = this.#writes.get(key) ?? Promise.resolve();
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1);
    const next = previous
      .catch(() => undefined)
      .then(write)
      .then(() => undefined)
      .finally(() => {
        const left = (this.#pending.get(key) ?? 1) - 1;
        if (left > 0) this.#pending.set(key, left);
        else this.#pending.delete(key);
      });
    this.#writes.set(key, next);
    return next;
  }

  #notify(key: ObjectKey): void {
    for (const listener of this.#listeners) listener(key);
  }
}

const serialize = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
