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
  dumpPathOf,
} from '../objects/index.js';
import { isValidName } from '../spec/names.js';
import { digestOf } from '../spec/parse.js';
import type { SpecProblem } from '../spec/problems.js';
import { readJson, writeFileAtomic } from '../util/files.js';
import { DebouncedWatcher } from './debounced-watcher.js';

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
  /**
   * The data root's state dir: the dumps of the implicit templates last seen are kept in
   * `dumps-seen.json` there, so a dumps dir found empty at start (an unmounted share) keeps them.
   */
  readonly stateDir?: string;
}

export const DUMPS_SEEN_FILE = 'dumps-seen.json';

interface SavedDumps {
  readonly version: 1;
  /** The dump files (top level of the dumps dir) the implicit templates were made of. */
  readonly dumps: string[];
}

/**
 * The dumps dir, watched: a dump that changes asks for a reconcile of the templates made from it,
 * and (seed compatibility) each top-level dump file is an implicit Template with defaults.
 *
 * Like the specs dir, a dumps dir that cannot be listed is unavailable, never emptied: its implicit
 * templates stay as last seen (across a restart too, from the state dir) and none counts as absent.
 * So is one that is entirely empty (no entry at all, hidden ones included) while it held dumps when
 * last seen: that is what the mount point of an unmounted share looks like. To remove the last
 * implicit templates on purpose, leave any other file in the dir (`.keep`), as a comment keeps a
 * spec file from looking truncated. One dump gone from a dir that is fine is a removal like any other
 * (through the deletion guard's grace and the trash, which gives its versions back when it returns).
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
  readonly #savedFile: string | undefined;
  #savedText: string | undefined;
  #synced = false;
  #available = true;
  #stopped = false;
  #scanning: Promise<void> = Promise.resolve();

  constructor(options: DumpsFolderOptions) {
    this.#dir = path.resolve(options.dir);
    this.#log = options.log.child({ component: 'dumps-folder' });
    this.#implicit = options.implicitTemplates;
    this.#engine = options.implicitEngine ?? DEFAULT_ENGINE;
    this.#resyncMs = options.resyncMs ?? 10_000;
    this.#savedFile = options.stateDir ? path.join(options.stateDir, DUMPS_SEEN_FILE) : undefined;
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

  /** True once the first scan is done. */
  get synced(): boolean {
    return this.#synced;
  }

  /** False while the dir cannot be listed, or is empty where it held dumps (unmounted). */
  get available(): boolean {
    return this.#available;
  }

  /** Whether an implicit template missing from here is really gone (its removal may begin). */
  get absenceTrusted(): boolean {
    return !this.#implicit || (this.#synced && this.#available);
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
    await this.#loadSaved();
    await this.#watcher.start();
    await this.scan();
    this.#synced = true;
    this.#resync = setInterval(() => void this.scan().catch(() => undefined), this.#resyncMs);
    this.#resync.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resync);
    await this.#watcher.stop();
  }

  /** Re-lists the top level for implicit templates (one listing at a time). */
  scan(): Promise<void> {
    const next = this.#scanning.then(() => this.#scan());
    this.#scanning = next.catch(() => undefined);
    return next;
  }

  async #scan(): Promise<void> {
    if (!this.#implicit) return;
    let entries: string[];
    try {
      entries = await readdir(this.#dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Keep the last known implicit templates: an unreadable dir removes nothing.
      return this.#unavailable(
        code === 'ENOENT'
          ? 'dumps dir does not exist (an unmounted share?); its implicit templates are kept until it is back: create or mount it, or fix --dumps'
          : `dumps dir cannot be read (${code ?? (error as Error).message}); its implicit templates are kept until it can: fix its permissions or --dumps`,
      );
    }
    if (entries.length === 0 && this.#records.size > 0) {
      return this.#unavailable(
        `dumps dir is empty but held ${this.#records.size} dump(s) when last seen (an unmounted share?); their implicit templates are kept until it holds them again. To remove them for good, leave any other file in it (e.g. .keep)`,
      );
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
      records.set(key, this.#recordOf(file, name));
    }
    if (!this.#available) {
      this.#log.info({ dir: this.#dir, dumps: records.size }, 'dumps dir available again');
      this.#available = true;
      // A dir that was missing or replaced (a remount) is a new one: the old watch sees nothing of it.
      await this.#watcher.found();
    }
    const changed = [...new Set([...records.keys(), ...this.#records.keys()])].filter(
      (k) => records.get(k)?.digest !== this.#records.get(k)?.digest,
    );
    this.#records = records;
    this.#problems = problems;
    await this.#save();
    if (changed.length > 0) this.#emit({ files: [], keys: changed });
  }

  /** The implicit template of a dump file (`name` from implicitTemplateName). */
  #recordOf(file: string, name: string): DeclaredSpec {
    const key: ObjectKey = `Template/${name}`;
    const object: TemplateObject = {
      kind: 'Template',
      metadata: { name, labels: {}, annotations: { [SEED_NAME_ANNOTATION]: DUMP.exec(file)![1]! } },
      spec: { engine: this.#engine, source: { path: file }, import: {} },
    };
    const old = this.#records.get(key);
    const digest = digestOf(object);
    return {
      key,
      object,
      file: path.join(this.#dir, file),
      line: 0,
      fileMtimeMs: 0,
      digest,
      generation: old ? (old.digest === digest ? old.generation : old.generation + 1) : 1,
    };
  }

  #unavailable(message: string): void {
    if (this.#available || this.#problems[0]?.message !== message)
      this.#log.error({ dir: this.#dir, templates: this.#records.size }, message);
    this.#available = false;
    this.#problems = [{ file: this.#dir, message }];
    // Nothing reports a dir put back or remounted: the watcher asks for a scan every second until then.
    this.#watcher.lost();
  }

  /** The implicit templates last seen, before the first scan: what an unavailable dir keeps serving. */
  async #loadSaved(): Promise<void> {
    const file = this.#savedFile;
    if (!file || !this.#implicit) return;
    let saved: SavedDumps | undefined;
    try {
      saved = await readJson<SavedDumps>(file);
    } catch (error) {
      this.#log.warn({ file, err: error }, 'saved list of dumps unreadable: ignored');
      return;
    }
    if (!saved || saved.version !== 1 || !Array.isArray(saved.dumps)) return;
    for (const dump of saved.dumps) {
      const name = typeof dump === 'string' && !dump.includes('/') ? implicitTemplateName(dump) : undefined;
      if (!name || !isValidName(name) || dump.startsWith('.')) continue;
      const record = this.#recordOf(dump, name);
      if (!this.#records.has(record.key)) this.#records.set(record.key, record);
    }
    this.#savedText = serializeDumps(this.#records);
  }

  async #save(): Promise<void> {
    const file = this.#savedFile;
    if (!file || this.#stopped) return;
    const text = serializeDumps(this.#records);
    if (text === this.#savedText) return;
    try {
      await writeFileAtomic(file, text);
      this.#savedText = text;
    } catch (error) {
      this.#log.warn({ file, err: error }, 'list of dumps not saved; trying again at the next scan');
    }
  }

  #emit(change: DumpsChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

function serializeDumps(records: Map<ObjectKey, DeclaredSpec>): string {
  // Implicit templates are all made of dumps.
  const dumps = [...records.values()].map((r) => dumpPathOf((r.object as TemplateObject).spec) ?? '').sort();
  const saved: SavedDumps = { version: 1, dumps };
  return `${JSON.stringify(saved)}\n`;
}
