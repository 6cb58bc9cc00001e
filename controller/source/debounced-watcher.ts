import path from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { Logger } from '../log.js';
import { DirTreeWatcher } from './dir-tree-watcher.js';

/** What one burst of file events comes to. */
export interface WatchBatch {
  /** Paths (relative to the dir) added, changed or removed, in order of first event. */
  readonly paths: string[];
  /** A folder was added or removed as a whole: re-list everything instead of trusting `paths`. */
  readonly relist: boolean;
}

export interface DebouncedWatcherOptions {
  readonly dir: string;
  readonly log: Logger;
  /** Paths (relative to the dir) not watched at all; the dir itself always is. */
  readonly ignore: (relativePath: string) => boolean;
  /** Files (relative to the dir) whose add, change or unlink counts. @default every file */
  readonly accept?: (relativePath: string) => boolean;
  /** Report a folder added or removed (the dir included) as a batch with `relist`. @default true */
  readonly folderEvents?: boolean;
  /** Quiet time that closes a burst of events into one batch. */
  readonly debounceMs: number;
  /** A batch is reported at the latest this long after its first event. @default no bound */
  readonly maxBatchDelayMs?: number;
  /** While the folder is lost (`lost()`), a re-list is reported this often. @default 1000 */
  readonly lostPollMs?: number;
  /**
   * Watch each folder, not each file (DirTreeWatcher): for folders of many small files (specs). chokidar
   * (the default) also watches each file, and so follows symlinked files to targets outside the tree.
   * @default false
   */
  readonly perFolder?: boolean;
  /** Logged (as a warning, with the error) when the watch fails; the owner's periodic re-list covers it. */
  readonly errorMessage: string;
  readonly onBatch: (batch: WatchBatch) => void;
}

/**
 * A folder watched with chokidar, its events batched: a burst (a checkout, an editor's save) is
 * reported once it has been quiet for a while, or once it has lasted the longest delay.
 */
export class DebouncedWatcher {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #options: DebouncedWatcherOptions;
  readonly #maxBatchDelayMs: number;
  #watcher: FSWatcher | undefined;
  #tree: DirTreeWatcher | undefined;
  #pending = new Set<string>();
  #relist = false;
  #timer: NodeJS.Timeout | undefined;
  #batchStarted = 0;
  #stopped = false;
  #lostTimer: NodeJS.Timeout | undefined;

  constructor(options: DebouncedWatcherOptions) {
    this.#dir = path.resolve(options.dir);
    this.#log = options.log;
    this.#options = options;
    this.#maxBatchDelayMs = options.maxBatchDelayMs ?? Number.POSITIVE_INFINITY;
  }

  /** Starts watching; resolves once the watcher is ready (what changes after that raises an event). */
  start(): Promise<void> {
    const { ignore, accept = () => true, folderEvents = true } = this.#options;
    if (this.#options.perFolder) {
      this.#tree = new DirTreeWatcher({
        dir: this.#dir,
        ignore,
        onFile: (rel) => {
          if (accept(rel)) this.#schedule([rel], false);
        },
        onFolder: () => {
          if (folderEvents) this.#schedule([], true);
        },
        onError: (error) => this.#log.warn({ err: error }, this.#options.errorMessage),
      });
      this.#tree.start();
      return Promise.resolve();
    }
    const watcher = watch(this.#dir, {
      ignoreInitial: true,
      persistent: true,
      ignored: (p: string) => {
        const rel = path.relative(this.#dir, p);
        return rel !== '' && ignore(rel);
      },
    });
    const onPath = (p: string) => {
      const rel = path.relative(this.#dir, p);
      if (accept(rel)) this.#schedule([rel], false);
    };
    watcher.on('add', onPath).on('change', onPath).on('unlink', onPath);
    if (folderEvents) {
      // A folder removed or added as a whole: re-list instead of trusting per-file events.
      watcher.on('unlinkDir', () => this.#schedule([], true)).on('addDir', () => this.#schedule([], true));
    }
    watcher.on('error', (error) => this.#log.warn({ err: error }, this.#options.errorMessage));
    this.#watcher = watcher;
    return new Promise((resolve) => watcher.once('ready', () => resolve()));
  }

  /**
   * The owner found the folder unusable (missing, unreadable, an empty mount point). Its watch may have
   * died with it, and nothing reports a folder put back at the path (restored from a copy, renamed into
   * place, remounted): until `found()`, a batch with `relist` is reported every `lostPollMs`, so the
   * owner's full scan finds it back within about that long.
   */
  lost(): void {
    if (this.#lostTimer || this.#stopped) return;
    this.#lostTimer = setInterval(() => this.#schedule([], true), this.#options.lostPollMs ?? 1000);
    this.#lostTimer.unref();
  }

  /** The owner can use the folder again: the polling ends, and it is watched afresh (keeping the batch in progress). */
  found(): Promise<void> {
    clearInterval(this.#lostTimer);
    this.#lostTimer = undefined;
    if (this.#stopped) return Promise.resolve();
    this.#watcher?.close().catch(() => undefined);
    this.#tree?.close();
    return this.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#lostTimer);
    this.#tree?.close();
    await this.#watcher?.close();
  }

  /** Asks for a batch with `relist`, as a folder event would. */
  relist(): void {
    this.#schedule([], true);
  }

  /** Adds a path to the next batch, without starting or extending its wait. */
  addToNextBatch(relativePath: string): void {
    this.#pending.add(relativePath);
  }

  #schedule(paths: string[], relist: boolean): void {
    if (this.#stopped) return;
    if (relist) this.#relist = true;
    for (const p of paths) this.#pending.add(p);
    if (this.#timer === undefined) this.#batchStarted = Date.now();
    clearTimeout(this.#timer);
    const wait = Math.min(
      this.#options.debounceMs,
      Math.max(0, this.#batchStarted + this.#maxBatchDelayMs - Date.now()),
    );
    this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#timer = undefined;
    const batch: WatchBatch = { paths: [...this.#pending], relist: this.#relist };
    this.#pending.clear();
    this.#relist = false;
    this.#options.onBatch(batch);
  }
}
