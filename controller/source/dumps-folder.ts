import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_ENGINE } from '../engine/defaults.js';
import type { Logger } from '../log.js';
import {
  type DeclaredSpec,
  type EngineName,
  type ObjectKey,
  SEED_NAME_ANNOTATION,
  type TemplateObject,
} from '../objects/index.js';
import { isValidName } from '../spec/names.js';
import { digestOf } from '../spec/parse.js';
import type { SpecProblem } from '../spec/problems.js';
import { DebouncedWatcher } from './debounced-watcher.js';

/** Annotation on an implicit template: the dump's own name, as the original myaas called it. */

export interface DumpsChange {
  readonly files: string[];
  readonly keys: ObjectKey[];
}

const DUMP = /^(.+)\.sql(\.gz)?$/;

/** `test_db.sql` → `test-db`: the original myaas named templates after their dumps. */
export function implicitTemplateName(file: string): string | undefined {
  const match = DUMP.exec(file);
  return match ? match[1]!.toLowerCase().replace(/_/g, '-') : undefined;
}

export interface DumpsFolderOptions {
  readonly dir: string;
  readonly log: Logger;
  /** Make a template of every unclaimed `<name>.sql[.gz]`, like the original updater. */
  readonly implicitTemplates: boolean;
  /** Engine of the implicit templates (the original service knew only MySQL). @default mariadb */
  readonly implicitEngine?: EngineName;
  /** @default 10000 */
  readonly resyncMs?: number;
}

/**
 * The dumps dir, watched: a dump that changes asks for a reconcile of the templates made from it,
 * and (seed compatibility) each top-level dump file is an implicit Template with defaults.
 */
export class DumpsFolder {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #implicit: boolean;
  readonly #engine: EngineName;
  readonly #resyncMs: number;
  readonly #listeners = new Set<(change: DumpsChange) => void>();
  #records = new Map<ObjectKey, DeclaredSpec>();
  #problems: SpecProblem[] = [];
  readonly #watcher: DebouncedWatcher;
  #resync: NodeJS.Timeout | undefined;

  constructor(options: DumpsFolderOptions) {
    this.#dir = path.resolve(options.dir);
    this.#log = options.log.child({ component: 'dumps-folder' });
    this.#implicit = options.implicitTemplates;
    this.#engine = options.implicitEngine ?? DEFAULT_ENGINE;
    this.#resyncMs = options.resyncMs ?? 10_000;
    this.#watcher = new DebouncedWatcher({
      dir: this.#dir,
      log: this.#log,
      ignore: (rel) => path.basename(rel).startsWith('.'),
      // The files of a folder added or removed raise their own events, and every batch re-lists the top level.
      folderEvents: false,
      // No bound on the wait: a dump still being written is reported once it is quiet.
      debounceMs: 200,
      errorMessage: 'dumps watch error',
      onBatch: ({ paths }) => void this.scan().then(() => this.#emit({ files: paths, keys: [] })),
    });
  }

  get dir(): string {
    return this.#dir;
  }

  /** Implicit templates found at the last scan. */
  records(): DeclaredSpec[] {
    return [...this.#records.values()];
  }

  problems(): SpecProblem[] {
    return this.#problems;
  }

  /** Called with the dump files (relative to the dumps dir) and implicit templates that changed. */
  subscribe(listener: (change: DumpsChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async start(): Promise<void> {
    await this.#watcher.start();
    await this.scan();
    this.#resync = setInterval(() => void this.scan().catch(() => undefined), this.#resyncMs);
    this.#resync.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#resync);
    await this.#watcher.stop();
  }

  /** Re-lists the top level for implicit templates. */
  async scan(): Promise<void> {
    if (!this.#implicit) return;
    let entries: string[];
    try {
      entries = await readdir(this.#dir);
    } catch (error) {
      this.#problems = [
        {
          file: this.#dir,
          message: `dumps dir cannot be read (${(error as NodeJS.ErrnoException).code}): create it or fix --dumps`,
        },
      ];
      return; // keep the last known implicit templates: an unreadable dir removes nothing
    }
    const records = new Map<ObjectKey, DeclaredSpec>();
    const problems: SpecProblem[] = [];
    for (const file of entries.sort()) {
      const name = implicitTemplateName(file);
      if (!name || file.startsWith('.')) continue;
      const s = await stat(path.join(this.#dir, file)).catch(() => undefined);
      if (!s?.isFile()) continue;
      if (!isValidName(name)) {
        problems.push({
          file: path.join(this.#dir, file),
          message: `\`${name}\` (from the file name) is not a valid template name: rename the file to lower-case letters, digits, - or _ (at most 63), or declare a Template spec for it`,
        });
        continue;
      }
      const key: ObjectKey = `Template/${name}`;
      if (records.has(key)) {
        problems.push({
          file: path.join(this.#dir, file),
          key,
          message: `${key} is already made from another dump; rename one of them`,
        });
        continue;
      }
      const object: TemplateObject = {
        kind: 'Template',
        metadata: { name, labels: {}, annotations: { [SEED_NAME_ANNOTATION]: DUMP.exec(file)![1]! } },
        spec: { engine: this.#engine, source: { path: file }, import: {} },
      };
      const old = this.#records.get(key);
      const digest = digestOf(object);
      records.set(key, {
        key,
        object,
        file: path.join(this.#dir, file),
        line: 0,
        fileMtimeMs: 0,
        digest,
        generation: old ? (old.digest === digest ? old.generation : old.generation + 1) : 1,
      });
    }
    const changed = [...new Set([...records.keys(), ...this.#records.keys()])].filter(
      (k) => records.get(k)?.digest !== this.#records.get(k)?.digest,
    );
    this.#records = records;
    this.#problems = problems;
    if (changed.length > 0) this.#emit({ files: [], keys: changed });
  }

  #emit(change: DumpsChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}
