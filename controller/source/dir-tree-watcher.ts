import { type Dirent, type FSWatcher, type Stats, lstatSync, readdirSync, watch } from 'node:fs';
import path from 'node:path';

export interface DirTreeWatcherOptions {
  readonly dir: string;
  /** Paths (relative to the dir) not watched at all; the dir itself always is. */
  readonly ignore: (relativePath: string) => boolean;
  /** A file (relative to the dir) was added, changed, removed or renamed. */
  readonly onFile: (relativePath: string) => void;
  /** A folder was added or removed (the dir itself included), or an event named nothing: re-list. */
  readonly onFolder: () => void;
  readonly onError: (error: Error) => void;
}

/**
 * A folder tree watched one inotify watch per folder, not per file: a folder's watch reports what
 * happens to the files in it (created, written, removed, renamed in or out). chokidar also watches
 * every file on its own; with 10,000 spec files that was 10,000 watches (past the 8,192 that
 * fs.inotify.max_user_watches allows by default on kernels before 5.11) and ~27 MiB of the
 * controller's heap. What it gives up: a change to the target of a symlinked spec file outside the
 * tree raises no event (the owner's periodic re-list sees it).
 */
export class DirTreeWatcher {
  readonly #dir: string;
  readonly #options: DirTreeWatcherOptions;
  /** Watched folders, relative to the dir ('' is the dir itself). */
  readonly #watchers = new Map<string, FSWatcher>();
  #closed = false;

  constructor(options: DirTreeWatcherOptions) {
    this.#dir = path.resolve(options.dir);
    this.#options = options;
  }

  /** Watches the tree as it is now; a folder that cannot be watched is left to the owner's re-list. */
  start(): void {
    this.#sync(false);
  }

  /**
   * Watches folders added since, and drops the watches of folders gone: when a folder appears, or events
   * were lost. The files a new folder already holds are reported: they may have been written before its
   * watch began.
   */
  sync(): void {
    this.#sync(true);
  }

  #sync(reportNew: boolean): void {
    if (this.#closed) return;
    const present = new Set<string>();
    const walk = (rel: string) => {
      let entries: Dirent[];
      try {
        entries = readdirSync(path.join(this.#dir, rel), { withFileTypes: true });
      } catch {
        return; // gone or unreadable: the owner's scan says so
      }
      present.add(rel);
      const isNew = !this.#watchers.has(rel);
      if (isNew) this.#watch(rel);
      for (const entry of entries) {
        const child = rel ? path.join(rel, entry.name) : entry.name;
        if (this.#options.ignore(child)) continue;
        if (entry.isDirectory()) walk(child);
        else if (isNew && reportNew) this.#options.onFile(child);
      }
    };
    walk('');
    for (const [rel, watcher] of this.#watchers) {
      if (present.has(rel)) continue;
      watcher.close();
      this.#watchers.delete(rel);
    }
  }

  /** Forgets the watches of a folder and everything under it. */
  #drop(rel: string): void {
    const under = `${rel}${path.sep}`;
    for (const [watched, watcher] of this.#watchers) {
      if (watched !== rel && !watched.startsWith(under)) continue;
      watcher.close();
      this.#watchers.delete(watched);
    }
  }

  close(): void {
    this.#closed = true;
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  #watch(rel: string): void {
    let watcher: FSWatcher;
    try {
      watcher = watch(path.join(this.#dir, rel), { persistent: true }, (event, name) =>
        this.#event(rel, event, name),
      );
    } catch (error) {
      // Vanished between the listing and the watch, or out of watches: the re-list covers it.
      this.#options.onError(error as Error);
      return;
    }
    watcher.on('error', (error) => {
      if (this.#watchers.get(rel) === watcher) this.#drop(rel);
      else watcher.close();
      this.#options.onError(error);
      this.#options.onFolder();
      this.sync();
    });
    this.#watchers.set(rel, watcher);
  }

  #event(folder: string, event: string, name: string | Buffer | null): void {
    if (this.#closed) return;
    if (name === null) {
      // Events were lost (the kernel's queue overflowed): re-list, and watch what is there now.
      this.#options.onFolder();
      this.sync();
      return;
    }
    const rel = folder ? path.join(folder, name.toString()) : name.toString();
    if (this.#options.ignore(rel)) return;
    // A watched folder renamed or removed: its watch (and its subfolders') died with it, even when a
    // folder of the same name is already back (a checkout replacing it).
    const folderGone = event === 'rename' && this.#watchers.has(rel);
    if (folderGone) this.#drop(rel);
    let stats: Stats | undefined;
    try {
      stats = lstatSync(path.join(this.#dir, rel), { throwIfNoEntry: false });
    } catch {
      stats = undefined;
    }
    if (stats?.isDirectory()) {
      this.#options.onFolder();
      this.sync();
    } else if (folderGone || (event === 'rename' && !stats && !this.#dirExists())) {
      // A subfolder gone, or the watched folder itself (its own watch names it by its name).
      this.#options.onFolder();
    } else {
      this.#options.onFile(rel);
    }
  }

  #dirExists(): boolean {
    try {
      return lstatSync(this.#dir, { throwIfNoEntry: false })?.isDirectory() === true;
    } catch {
      return false;
    }
  }
}
