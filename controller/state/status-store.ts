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
import { textDigest } from '../util/digest.js';
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
  readonly #eventListeners = new Set<(key: ObjectKey, event: ObjectEvent, object: StoredObject) => void>();
  /**
   * A digest of the status and record each file holds, as written: a save that changes nothing writes
   * nothing. A digest, not the text: at 10,000 objects the texts (events included) were ~100 MB.
   */
  readonly #written = new Map<ObjectKey, string>();
  /** Writes queued or under way, per object. */
  readonly #pending = new Map<ObjectKey, number>();
  /** A digest of each database's record copy as written beside its clone. */
  readonly #recordCopies = new Map<ObjectKey, string>();
  readonly #unreadable = new Map<ObjectKey, string>();

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
        const key = `${kind}/${name}` as ObjectKey;
        try {
          const stored = await readJson<StoredObject>(path.join(dir, file));
          if (!stored || typeof stored !== 'object' || !('record' in stored))
            throw new Error('no record in it');
          this.#objects.set(key, stored);
          this.#written.set(key, stateDigest(stored));
          if (kind === 'Database') this.#recordCopies.set(key, textDigest(serializeRecord(stored.record)));
        } catch (error) {
          await this.#recover(key, path.join(dir, file), error as Error);
        }
      }
    }
    await this.#removeTempFiles();
    // A database whose state file is gone but whose record copy (beside its clone) is there.
    for (const file of await readdir(this.#layout.databasesDir).catch(() => [] as string[])) {
      const name = file.replace(/\.record\.json$/, '');
      if (name === file || !isValidName(name) || this.#objects.has(`Database/${name}`)) continue;
      await this.#recover(
        `Database/${name}`,
        this.#layout.statusFile('Database', name),
        new Error('missing'),
      );
    }
  }

  /** Temp files of atomic writes a kill -9 interrupted (the file they were for is whole, old or new). */
  async #removeTempFiles(): Promise<void> {
    const dirs = [
      this.#layout.databasesDir,
      ...KINDS.map((k) => path.dirname(this.#layout.statusFile(k, 'x'))),
    ];
    for (const dir of dirs) {
      for (const file of await readdir(dir).catch(() => [] as string[])) {
        if (/\.json\.[0-9a-f]{8}\.tmp$/.test(file)) await rm(path.join(dir, file), { force: true });
      }
    }
  }

  /**
   * A state file that cannot be read, or is gone: a database's record is rebuilt from its copy beside
   * the clone (credentials, port, lifetime, protection); failing that, the key is marked unreadable, so
   * its database is held with its data, never taken for new or removed.
   */
  async #recover(key: ObjectKey, file: string, error: Error): Promise<void> {
    const { kind, name } = parseKey(key);
    if (kind === 'Database') {
      try {
        const record = await readJson<DatabaseRecord>(this.#layout.databaseRecordCopy(name));
        if (record?.user && record.adminPassword) {
          const status: DatabaseStatus = { phase: 'Pending', conditions: [], template: record.template };
          const event = {
            time: new Date().toISOString(),
            type: 'Warning' as const,
            reason: 'RecordRecovered',
            message: `state file ${file} unreadable (${error.message}): record rebuilt from its copy beside the clone`,
          };
          this.#objects.set(key, { status, record, events: [event] } as StoredObject);
          this.#recordCopies.set(key, textDigest(serializeRecord(record)));
          this.#log.warn({ key, file, err: error }, event.message);
          return;
        }
      } catch (copyError) {
        this.#log.warn({ key, err: copyError }, 'record copy unreadable too');
      }
    }
    // A template's record is bookkeeping only (its versions are on disk): it starts over.
    if (kind === 'Template' || error.message === 'missing') return;
    this.#unreadable.set(key, `${file}: ${error.message}`);
    this.#log.error(
      { key, file, err: error },
      'state file unreadable and no usable copy: the object is held as it is',
    );
  }

  /** Databases whose state could not be read nor rebuilt, with why: held as they are, never acted on. */
  unreadable(key: ObjectKey): string | undefined {
    return this.#unreadable.get(key);
  }

  unreadableKeys(): ObjectKey[] {
    return [...this.#unreadable.keys()];
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
    // The reconcilers change the stored objects in place: the same two back need no new holder (one
    // per object per resync pass otherwise, promoted and then garbage in the old generation).
    const same = current?.status === status && current.record === record;
    const next = same ? current : ({ status, record, events: current?.events ?? [] } as StoredObject);
    if (!same) this.#objects.set(key, next);
    // Equal to the file, and no write under way that could still change the file: nothing to do.
    // Events are not compared: each one is written when it is recorded.
    if (!this.#pending.has(key) && this.#written.get(key) === stateDigest(next)) return;
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
    for (const listener of this.#eventListeners) {
      try {
        listener(key, event, current);
      } catch (error) {
        this.#log.error({ key, reason, err: error }, 'an event listener failed');
      }
    }
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
      if (kind === 'Database') await rm(this.#layout.databaseRecordCopy(name), { force: true });
      // After any write queued before the removal: the file is gone, nothing is "written".
      this.#written.delete(key);
      this.#recordCopies.delete(key);
      this.#unreadable.delete(key);
    });
    this.#notify(key);
  }

  /**
   * Called with every event as it is recorded, with the object as it is then (webhooks): the one place
   * the reconcilers tell what happened. A listener must only look (synchronously) and queue.
   */
  subscribeEvents(listener: (key: ObjectKey, event: ObjectEvent, object: StoredObject) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Called after every change of an object's stored state. */
  subscribe(listener: (key: ObjectKey) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A database's record, copied beside its clone when it changed: what a lost state file is rebuilt from. */
  async #copyRecord(key: ObjectKey, value: StoredObject): Promise<void> {
    const { kind, name } = parseKey(key);
    if (kind !== 'Database') return;
    const text = serializeRecord(value.record);
    const written = textDigest(text);
    if (this.#recordCopies.get(key) === written) return;
    await writeFileAtomic(this.#layout.databaseRecordCopy(name), text);
    this.#recordCopies.set(key, written);
  }

  async #persist(key: ObjectKey): Promise<void> {
    const { kind, name } = parseKey(key);
    await this.#serialize(key, async () => {
      const value = this.#objects.get(key);
      if (!value) return;
      // Taken before the write: the object may change while it is under way (and is then saved again).
      const written = stateDigest(value);
      await writeFileAtomic(this.#layout.statusFile(kind, name), serialize(value));
      await this.#copyRecord(key, value);
      this.#written.set(key, written);
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
        // The last write of the chain done: nothing to keep per object (10,000 settled promises otherwise).
        if (this.#writes.get(key) === next) this.#writes.delete(key);
      });
    this.#writes.set(key, next);
    return next;
  }

  #notify(key: ObjectKey): void {
    for (const listener of this.#listeners) listener(key);
  }
}

const serialize = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const serializeRecord = (record: unknown) => `${JSON.stringify(record)}\n`;
/** What a save compares: status and record (compact, without the events). */
const stateDigest = (value: StoredObject) =>
  textDigest(JSON.stringify({ status: value.status, record: value.record }));
