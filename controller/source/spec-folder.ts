import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Logger } from '../log.js';
import {
  type DeclaredSpec,
  type DesiredState,
  KINDS,
  type Kind,
  type ObjectKey,
  type ObjectOfKind,
  keyOf,
} from '../objects/index.js';
import { isValidName } from '../spec/names.js';
import { type ParseResult, type ParsedObject, digestOf, parseSpecFile } from '../spec/parse.js';
import { type SpecProblem, formatProblem } from '../spec/problems.js';
import type { SchemaSet } from '../spec/schema.js';
import { textDigest } from '../util/digest.js';
import { readJson, writeFileAtomic } from '../util/files.js';
import { DebouncedWatcher, type WatchBatch } from './debounced-watcher.js';
import { isIgnoredDir, isSpecFile, listSpecFiles } from './spec-files.js';

export interface SpecFolderOptions {
  readonly dir: string;
  readonly schemas: SchemaSet;
  readonly log: Logger;
  /** Quiet time that closes a burst of file events into one batch. @default 25 */
  readonly debounceMs?: number;
  /** A batch is processed at the latest this long after its first event. @default 1000 */
  readonly maxBatchDelayMs?: number;
  /**
   * A change that removes objects (file deleted, documents dropped) is applied only after the file
   * looks the same twice this far apart, so a half-written file never removes a database. @default 500
   */
  readonly removalGraceMs?: number;
  /** Full re-list of the folder to catch lost events. @default 10000 */
  readonly resyncMs?: number;
  /**
   * The data root's state dir: each file's last good objects are kept in `last-good-specs.json` there,
   * so a file broken (or unreadable) while the controller was down keeps its objects at the next start.
   * None: not kept (a file with problems at the first scan then holds no objects).
   */
  readonly stateDir?: string;
}

/** How each file's last good objects are kept across restarts. */
interface SavedSpecs {
  readonly version: 1;
  /** In order of first sight (which file wins a conflict survives a restart too). */
  readonly files: { file: string; mtimeMs: number; objects: ParsedObject[] }[];
}

export const LAST_GOOD_SPECS_FILE = 'last-good-specs.json';

interface FileEntry {
  /** Order of first sight: the first file to declare a key keeps it on a conflict. */
  readonly seq: number;
  signature: string;
  good: { objects: ParsedObject[]; mtimeMs: number };
  problems: SpecProblem[];
  /** A removal seen once and waiting for a second look. */
  pendingRemoval?: { signature: string; since: number };
  /**
   * It had problems when first seen and its objects before this start are unknown (no saved last good
   * objects): nothing counts as absent until it is fixed or deleted, as it may have declared anything.
   */
  unknown?: boolean;
}

const ABSENT = 'absent';
/** Files looked at between two turns of the event loop during a scan (its stats are synchronous). */
const SCAN_SLICE = 500;
/** The signature of an entry loaded from the saved last good objects: equal to no file's. */
const SAVED = 'saved';

/** Nothing but whitespace: what a truncated file holds. */
function isBlank(content: Buffer): boolean {
  return content.every((byte) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09);
}

/** A relative path inside the folder that names a spec file. */
function isSafeRelative(file: string): boolean {
  return !path.isAbsolute(file) && !file.split(/[\\/]/).includes('..') && isSpecFile(file);
}

/** A saved object that still looks like one: a known kind, a valid name, its digest matching. */
function isSavedObject(value: unknown): value is ParsedObject {
  const parsed = value as ParsedObject | undefined;
  const object = parsed?.object;
  if (!object || !KINDS.includes(object.kind) || typeof object.metadata?.name !== 'string') return false;
  if (!isValidName(object.metadata.name) || typeof object.spec !== 'object') return false;
  return typeof parsed.line === 'number' && parsed.digest === digestOf(object);
}

function serializeSaved(files: Map<string, FileEntry>): string {
  const saved: SavedSpecs = {
    version: 1,
    files: [...files.entries()]
      .filter(([, entry]) => entry.good.objects.length > 0)
      .sort((a, b) => a[1].seq - b[1].seq)
      .map(([file, entry]) => ({ file, mtimeMs: entry.good.mtimeMs, objects: entry.good.objects })),
  };
  return `${JSON.stringify(saved)}\n`;
}

/**
 * The watched specs dir (the file source): like the kubelet's static-pod source, but a file that stops
 * parsing keeps its last good objects, and a missing folder never means "everything deleted".
 */
export class SpecFolder implements DesiredState {
  readonly #dir: string;
  readonly #schemas: SchemaSet;
  readonly #log: Logger;
  readonly #removalGraceMs: number;
  readonly #resyncMs: number;
  readonly #savedFile: string | undefined;
  /**
   * A digest of what the saved file holds, as written: a change of good objects writes it, nothing else
   * does. A digest, not the text: that is every object's spec again (2.5 MiB at 10,000 objects).
   */
  #savedDigest: string | undefined;
  /** The last write of the saved file failed: tried again at the next scan even when nothing changed. */
  #saveOwed = false;
  /** Whether the last good objects of before this start are known (saved and read back), when kept. */
  #savedLoaded = false;
  /** Set once the folder has been listed: files with problems seen after that are new ones. */
  #listed = false;
  readonly #files = new Map<string, FileEntry>();
  readonly #records = new Map<ObjectKey, DeclaredSpec>();
  readonly #listeners = new Set<(keys: ObjectKey[]) => void>();
  #seq = 0;
  #synced = false;
  #available = true;
  #unavailableReason = '';
  readonly #watcher: DebouncedWatcher;
  #resyncTimer: NodeJS.Timeout | undefined;
  #recheckTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: SpecFolderOptions) {
    this.#dir = path.resolve(options.dir);
    this.#schemas = options.schemas;
    this.#log = options.log.child({ component: 'spec-folder' });
    this.#removalGraceMs = options.removalGraceMs ?? 500;
    this.#resyncMs = options.resyncMs ?? 10_000;
    this.#savedFile = options.stateDir ? path.join(options.stateDir, LAST_GOOD_SPECS_FILE) : undefined;
    this.#watcher = new DebouncedWatcher({
      dir: this.#dir,
      log: this.#log,
      ignore: isIgnoredDir,
      accept: isSpecFile,
      // One watch per folder, not per file: 10,000 spec files are 10,000 inotify watches otherwise.
      perFolder: true,
      // Short: it is on every spec-to-ready path; bursts (a checkout) arrive within a few ms anyway.
      debounceMs: options.debounceMs ?? 25,
      maxBatchDelayMs: options.maxBatchDelayMs ?? 1000,
      errorMessage: 'watch error; relying on periodic resync',
      onBatch: (batch) => this.#onBatch(batch),
    });
  }

  get synced(): boolean {
    return this.#synced;
  }

  get available(): boolean {
    return this.#available;
  }

  get dir(): string {
    return this.#dir;
  }

  /**
   * Whether the absence of an object from this folder means it is not wanted: not before the first
   * scan, nor while the folder is missing or unreadable, nor while a file with problems whose objects
   * before this start are unknown might declare it.
   */
  absenceTrusted(_key?: ObjectKey): boolean {
    if (!this.#synced || !this.#available) return false;
    for (const entry of this.#files.values()) if (entry.unknown) return false;
    return true;
  }

  get<K extends Kind>(key: `${K}/${string}`): DeclaredSpec<ObjectOfKind<K>> | undefined {
    return this.#records.get(key) as DeclaredSpec<ObjectOfKind<K>> | undefined;
  }

  list<K extends Kind>(kind: K): DeclaredSpec<ObjectOfKind<K>>[];
  list(): DeclaredSpec[];
  list(kind?: Kind): DeclaredSpec[] {
    const all = [...this.#records.values()];
    return kind ? all.filter((r) => r.object.kind === kind) : all;
  }

  problems(): SpecProblem[] {
    const out: SpecProblem[] = [];
    if (!this.#available) out.push({ file: this.#dir, message: this.#unavailableReason });
    for (const [file, entry] of this.#files) {
      out.push(...entry.problems);
      if (entry.unknown)
        out.push({
          file,
          message:
            'its objects before this start are unknown (no saved last good specs): nothing declared in the specs dir is removed until it is fixed or deleted',
        });
    }
    out.push(...this.#conflicts());
    return out;
  }

  subscribe(listener: (keys: ObjectKey[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts watching, then scans the folder once; resolves when that first scan is complete. */
  async start(): Promise<void> {
    // The last good objects first: a file broken while the controller was down serves them.
    await this.#loadSaved();
    // Scan only once the watcher is ready: what changes after the scan is then sure to raise an event.
    await this.#watcher.start();
    await this.#enqueue(() => this.#fullScan());
    this.#synced = true;
    this.#log.info(
      { dir: this.#dir, objects: this.#records.size, available: this.#available },
      'initial scan complete',
    );
    this.#emit([...this.#records.keys()]);
    this.#resyncTimer = setInterval(() => void this.#enqueue(() => this.#fullScan()), this.#resyncMs);
    this.#resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#recheckTimer);
    clearInterval(this.#resyncTimer);
    await this.#watcher.stop();
    await this.#running;
  }

  /**
   * Reads these files (relative to the folder) now, as a watcher event would, without the debounce:
   * for writers that know what they changed. Resolves once they are applied. `removed`: the writer
   * deleted them on purpose (an API deletion), so a file that is gone removes its objects at once,
   * without the second look that guards against half-written files.
   */
  refresh(files: string[], how: { removed?: boolean } = {}): Promise<void> {
    // Only what the watcher would report: spec files inside the folder (a touched dump is not one).
    const specs = files.filter(
      (f) => !path.isAbsolute(f) && !f.split(path.sep).includes('..') && isSpecFile(f),
    );
    if (!this.#synced || this.#stopped || specs.length === 0) return Promise.resolve();
    return this.#enqueue(() => this.#processFiles(specs, false, how.removed === true));
  }

  /** Re-reads the whole folder now (also runs periodically). */
  resync(): Promise<void> {
    return this.#enqueue(() => this.#fullScan());
  }

  #onBatch({ paths, relist }: WatchBatch): void {
    void this.#enqueue(() => (relist ? this.#fullScan() : this.#processFiles(paths)));
  }

  /** Batches run one at a time, in order. */
  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#running.then(work).catch((error: unknown) => {
      this.#log.error({ err: error }, 'spec folder processing failed; will retry at the next resync');
    });
    this.#running = next;
    return next;
  }

  async #fullScan(): Promise<void> {
    let listed: string[];
    try {
      listed = await listSpecFiles(this.#dir);
    } catch (error) {
      this.#setUnavailable(error as NodeJS.ErrnoException);
      return;
    }
    const wasUnavailable = !this.#available;
    this.#available = true;
    if (wasUnavailable) {
      await this.#watcher.found();
      this.#log.info({ dir: this.#dir }, 'specs dir available again');
    }
    await this.#processFiles([...new Set([...listed, ...this.#files.keys()])], true);
    this.#listed = true;
  }

  #setUnavailable(error: NodeJS.ErrnoException): void {
    const reason =
      error.code === 'ENOENT'
        ? 'specs dir does not exist; nothing is removed until it is back (create it or fix --specs)'
        : `specs dir cannot be read (${error.code ?? error.message}); nothing is removed until it can (fix its permissions)`;
    if (this.#available || reason !== this.#unavailableReason) {
      this.#log.error({ dir: this.#dir, code: error.code }, reason);
    }
    this.#available = false;
    this.#unavailableReason = reason;
    // Nothing reports a folder put back: the watcher asks for a full scan every second until then.
    this.#watcher.lost();
  }

  async #processFiles(files: string[], fromScan = false, deliberate = false): Promise<void> {
    // A file reported gone only counts as gone while the folder itself is readable.
    try {
      await stat(this.#dir).then((s) => {
        if (!s.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      });
    } catch (error) {
      this.#setUnavailable(error as NodeJS.ErrnoException);
      return;
    }
    if (!fromScan && !this.#available) return this.#fullScan();
    const before = this.#snapshot();
    let changed = false;
    for (const [i, file] of files.entries()) {
      if (i > 0 && i % SCAN_SLICE === 0) await yieldToLoop();
      if (await this.#processFile(file, deliberate)) changed = true;
    }
    // A scan that found every file as it was (the usual periodic one) recomputes and writes nothing.
    if (!changed && !this.#saveOwed) return;
    this.#resolve(before);
    await this.#save();
  }

  /** A file with problems seen for the first time: its objects before this start are unknown? */
  #unknownAtStart(): boolean {
    return this.#savedFile !== undefined && !this.#savedLoaded && !this.#listed;
  }

  /** Looks at a file and takes in what changed; says whether anything did (false: as it was). */
  async #processFile(file: string, deliberate = false): Promise<boolean> {
    const full = path.join(this.#dir, file);
    let signature = ABSENT;
    let mtimeMs = 0;
    try {
      // Synchronous: a scan stats every file (10,000 at scale, every resync), and a local stat(2) costs
      // ~3 µs where the promise API's thread-pool round trip costs ~35 µs of CPU (measured side by
      // side); the scan yields to the event loop every SCAN_SLICE files.
      const s = statSync(full);
      if (!s.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      mtimeMs = s.mtimeMs;
      signature = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.#setFileProblems(file, [
          { file, message: `cannot read: ${(error as Error).message}; fix its permissions` },
        ]);
        return true;
      }
    }
    const entry = this.#files.get(file);
    if (entry && entry.signature === signature && !entry.pendingRemoval) return false; // unchanged since last look
    if (signature === ABSENT && !entry) return false;

    let parsed: ParseResult = { objects: [], problems: [] };
    if (signature !== ABSENT) {
      const read = await this.#read(file, entry);
      if (!read) return true; // unreadable: held, its problem set
      if (read === 'gone') signature = ABSENT;
      else parsed = read;
    }

    const current: FileEntry = entry ?? {
      seq: this.#seq++,
      signature,
      good: { objects: [], mtimeMs: 0 },
      problems: [],
      ...(parsed.problems.length > 0 && this.#unknownAtStart() ? { unknown: true } : {}),
    };
    if (parsed.problems.length > 0) {
      // Held: the last good objects stay; only the problems change.
      current.signature = signature;
      current.problems = parsed.problems;
      current.pendingRemoval = undefined;
      this.#files.set(file, current);
      for (const p of parsed.problems)
        this.#log.warn({ file, line: p.line, key: p.key, field: p.field }, formatProblem(p));
      return true;
    }

    const newKeys = new Set(parsed.objects.map((o) => keyOf(o.object)));
    const removes = current.good.objects.some((o) => !newKeys.has(keyOf(o.object)));
    // A file its writer deleted on purpose is gone for sure: no second look.
    const certain = deliberate && signature === ABSENT;
    if (removes && this.#synced && !certain) {
      const now = Date.now();
      const pending = current.pendingRemoval;
      if (!pending || pending.signature !== signature) {
        current.pendingRemoval = { signature, since: now };
        current.signature = signature;
        this.#files.set(file, current);
        this.#scheduleRecheck(file);
        return true;
      }
      if (now - pending.since < this.#removalGraceMs) {
        this.#scheduleRecheck(file);
        return true;
      }
    }
    current.pendingRemoval = undefined;
    current.problems = [];
    current.unknown = undefined;
    current.signature = signature;
    current.good = { objects: parsed.objects, mtimeMs };
    if (signature === ABSENT) this.#files.delete(file);
    else this.#files.set(file, current);
    return true;
  }

  /** Reads and parses a file: 'gone' when it vanished, undefined when it cannot be read (then held). */
  async #read(file: string, entry: FileEntry | undefined): Promise<ParseResult | 'gone' | undefined> {
    let content: Buffer;
    try {
      content = await readFile(path.join(this.#dir, file));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      this.#setFileProblems(file, [{ file, message: `cannot read: ${(error as Error).message}` }]);
      return undefined;
    }
    const parsed = parseSpecFile(content, file, this.#schemas);
    if (parsed.problems.length > 0 || !isBlank(content)) return parsed;
    const held = entry?.good.objects.length ?? 0;
    if (held > 0) {
      // Truncation (a full disk, a crashed editor, `> file`) looks like this; a deliberate
      // removal deletes the file or leaves a comment. Keep the objects until then.
      const message = `file is empty, keeping its ${held} object(s); to remove them delete the file or leave a comment in it`;
      return { objects: [], problems: [{ file, message }] };
    }
    // Empty at the first look, and what it held before this start is unknown: held too.
    if (!entry && this.#unknownAtStart())
      return { objects: [], problems: [{ file, message: 'file is empty' }] };
    return parsed;
  }

  #scheduleRecheck(file: string): void {
    this.#watcher.addToNextBatch(file);
    if (this.#recheckTimer) return;
    this.#recheckTimer = setTimeout(() => {
      this.#recheckTimer = undefined;
      this.#watcher.relist();
    }, this.#removalGraceMs);
  }

  #setFileProblems(file: string, problems: SpecProblem[]): void {
    const entry = this.#files.get(file);
    if (entry) entry.problems = problems;
    else
      this.#files.set(file, {
        seq: this.#seq++,
        signature: 'error',
        good: { objects: [], mtimeMs: 0 },
        problems,
        ...(this.#unknownAtStart() ? { unknown: true } : {}),
      });
    for (const p of problems) this.#log.warn({ file }, formatProblem(p));
  }

  /**
   * Reads the saved last good objects into file entries, before the first scan: a file that is fine
   * replaces its entry, one that is gone (ENOENT) drops it, and one with problems, or unreadable,
   * keeps serving them. An unreadable or missing save leaves the objects of broken files unknown.
   */
  async #loadSaved(): Promise<void> {
    const file = this.#savedFile;
    if (!file) return;
    let saved: SavedSpecs | undefined;
    try {
      saved = await readJson<SavedSpecs>(file);
    } catch (error) {
      this.#log.warn(
        { file, err: error },
        'saved last good specs unreadable: a spec file with problems at start holds back every removal until it is fixed',
      );
      return;
    }
    if (!saved) return; // the first start with a state dir, or it was lost: nothing known
    if (saved.version !== 1 || !Array.isArray(saved.files)) {
      this.#log.warn({ file }, 'saved last good specs in an unknown format: ignored');
      return;
    }
    let objects = 0;
    for (const entry of saved.files) {
      if (typeof entry?.file !== 'string' || !isSafeRelative(entry.file) || this.#files.has(entry.file))
        continue;
      const good = (Array.isArray(entry.objects) ? entry.objects : []).filter(isSavedObject);
      if (good.length === 0) continue;
      objects += good.length;
      this.#files.set(entry.file, {
        seq: this.#seq++,
        signature: SAVED,
        good: { objects: good, mtimeMs: Number(entry.mtimeMs) || 0 },
        problems: [],
      });
    }
    this.#savedLoaded = true;
    this.#savedDigest = textDigest(serializeSaved(this.#files));
    this.#resolve(new Map());
    this.#log.info({ file, files: this.#files.size, objects }, 'last good specs loaded');
  }

  /** Writes the last good objects when they changed; a failed write is tried again at the next change or scan. */
  async #save(): Promise<void> {
    const file = this.#savedFile;
    if (!file || this.#stopped) return;
    const text = serializeSaved(this.#files);
    const digest = textDigest(text);
    if (digest === this.#savedDigest) return;
    try {
      await writeFileAtomic(file, text);
      this.#savedDigest = digest;
      this.#saveOwed = false;
    } catch (error) {
      this.#saveOwed = true;
      this.#log.warn({ file, err: error }, 'last good specs not saved; trying again at the next change');
    }
  }

  /** Declaring files per key, in order of first sight. */
  #declarations(): Map<ObjectKey, { file: string; entry: FileEntry; parsed: ParsedObject }[]> {
    const byKey = new Map<ObjectKey, { file: string; entry: FileEntry; parsed: ParsedObject }[]>();
    const files = [...this.#files.entries()].sort((a, b) => a[1].seq - b[1].seq);
    for (const [file, entry] of files) {
      for (const parsed of entry.good.objects) {
        const key = keyOf(parsed.object);
        const list = byKey.get(key) ?? [];
        list.push({ file, entry, parsed });
        byKey.set(key, list);
      }
    }
    return byKey;
  }

  #conflicts(): SpecProblem[] {
    const out: SpecProblem[] = [];
    for (const [key, decls] of this.#declarations()) {
      if (decls.length < 2) continue;
      const [winner, ...others] = decls;
      const message = `${key} is declared in ${decls.map((d) => d.file).join(' and ')}; the one in ${winner!.file} (seen first) is used: remove the others`;
      for (const d of [winner!, ...others]) out.push({ file: d.file, line: d.parsed.line, key, message });
    }
    return out;
  }

  #snapshot(): Map<ObjectKey, DeclaredSpec> {
    return new Map(this.#records);
  }

  /** Recomputes the records from the files and tells listeners which keys changed. */
  #resolve(before: Map<ObjectKey, DeclaredSpec>): void {
    const next = new Map<ObjectKey, DeclaredSpec>();
    for (const [key, decls] of this.#declarations()) {
      const { file, entry, parsed } = decls[0]!;
      const old = before.get(key);
      const generation = !old ? 1 : old.digest === parsed.digest ? old.generation : old.generation + 1;
      next.set(key, {
        key,
        object: parsed.object,
        file,
        line: parsed.line,
        fileMtimeMs: entry.good.mtimeMs,
        digest: parsed.digest,
        generation,
      });
    }
    const changed: ObjectKey[] = [];
    for (const [key, record] of next) {
      const old = before.get(key);
      if (
        !old ||
        old.digest !== record.digest ||
        old.fileMtimeMs !== record.fileMtimeMs ||
        old.file !== record.file
      ) {
        changed.push(key);
      }
    }
    for (const key of before.keys()) if (!next.has(key)) changed.push(key);
    this.#records.clear();
    for (const [key, record] of next) this.#records.set(key, record);
    if (changed.length > 0 && this.#synced) {
      this.#log.debug({ keys: changed }, 'desired state changed');
      this.#emit(changed);
    }
  }

  #emit(keys: ObjectKey[]): void {
    for (const listener of this.#listeners) {
      try {
        listener(keys);
      } catch (error) {
        this.#log.error({ err: error }, 'spec listener failed');
      }
    }
  }
}
