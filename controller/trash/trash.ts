import { mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { type Layout, newTrashId, trashIdName } from '../layout.js';
import type { Logger } from '../log.js';
import type { Kind, TrashEntry, TrashedDatabase, TrashedTemplate } from '../objects/index.js';
import type { Storage } from '../storage/storage.js';
import { faultPoint } from '../util/fault-points.js';
import { readJson, writeJsonAtomic } from '../util/files.js';

export interface TrashOptions {
  readonly layout: Layout;
  readonly storage: Storage;
  readonly log: Logger;
  /** How long an entry stays restorable; 0 turns the trash off (removals are final at once). */
  readonly retentionSeconds: number;
  /** Below this share of free space on the data filesystem, the oldest entries go first. */
  readonly minFreePercent: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Whether the data filesystem is short of space now. @default below minFreePercent free (statfs) */
  readonly spaceShort?: () => Promise<boolean>;
}

type NewEntry<E extends TrashEntry> = Omit<E, 'id' | 'kind' | 'trashedAt' | 'expiresAt'>;

/**
 * Where removals go first: a removed database's clone (its server stopped cleanly) with its record,
 * or a removed template's versions, kept restorable for the retention. Each entry is a folder and a
 * `.json` beside it; the `.json` is written before the data moves, so a crash between the two leaves
 * an entry that the next removal of that name completes, never data without its record.
 */
export class Trash {
  readonly #o: TrashOptions;
  readonly #now: () => number;

  constructor(options: TrashOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#o.retentionSeconds > 0;
  }

  /** Moves a database's clone (and record) into the trash; with the trash off, removes it. */
  async putDatabase(
    entry: NewEntry<TrashedDatabase>,
    cloneDir: string,
  ): Promise<TrashedDatabase | undefined> {
    if (!this.enabled) {
      await this.#o.storage.remove(cloneDir);
      return undefined;
    }
    const full = this.#complete('Database', entry, await this.#unfinishedId('Database', entry.name));
    await writeJsonAtomic(`${this.#o.layout.trashEntry('Database', full.id)}.json`, full);
    if (await this.#o.storage.exists(cloneDir)) {
      await this.#o.storage.move(cloneDir, path.join(this.#o.layout.trashEntry('Database', full.id), 'data'));
    }
    faultPoint('trash:after-move');
    this.#o.log.info(
      { name: entry.name, entry: full.id, reason: entry.reason },
      'database moved to the trash',
    );
    return full;
  }

  /**
   * Moves a template's versions (data, recorded schema and metadata files) into the trash; with the
   * trash off, removes them.
   */
  async putTemplate(entry: NewEntry<TrashedTemplate>): Promise<TrashedTemplate | undefined> {
    const { layout, storage } = this.#o;
    if (!this.enabled) {
      for (const v of entry.versions) {
        await storage.remove(layout.versionDir(entry.name, v.version));
        await rm(layout.versionSchemaFile(entry.name, v.version), { force: true });
        await rm(layout.versionMetaFile(entry.name, v.version), { force: true });
      }
      return undefined;
    }
    const unfinishedId = await this.#unfinishedId('Template', entry.name);
    const unfinished = unfinishedId ? await this.#read('Template', unfinishedId) : undefined;
    // A removal a crash interrupted: the versions it moved already are no longer listed under the template.
    const earlier = unfinished?.kind === 'Template' ? unfinished.versions : [];
    const versions = [
      ...earlier,
      ...entry.versions.filter((v) => !earlier.some((e) => e.version === v.version)),
    ];
    const full = this.#complete<TrashedTemplate>('Template', { ...entry, versions }, unfinishedId);
    const dir = layout.trashEntry('Template', full.id);
    await writeJsonAtomic(`${dir}.json`, full);
    for (const v of full.versions) {
      const source = layout.versionDir(entry.name, v.version);
      const target = path.join(dir, v.version);
      if ((await storage.exists(source)) && !(await storage.exists(target)))
        await storage.move(source, target);
      await moveIfThere(layout.versionSchemaFile(entry.name, v.version), schemaFileIn(dir, v.version));
      // The metadata last: a version without it does not exist, so a half-moved one is never served.
      await rm(layout.versionMetaFile(entry.name, v.version), { force: true });
    }
    this.#o.log.info(
      { name: entry.name, entry: full.id, versions: entry.versions.length },
      'template moved to the trash',
    );
    return full;
  }

  /** Complete entries (their data moved in), newest first; of one kind when given. */
  async list(kind?: Kind): Promise<TrashEntry[]> {
    const kinds: Kind[] = kind ? [kind] : ['Database', 'Template'];
    const out: TrashEntry[] = [];
    for (const k of kinds) {
      for (const id of await this.#ids(k)) {
        const entry = await this.#read(k, id);
        if (entry && (await this.#hasData(entry))) out.push(entry);
      }
    }
    return out.sort((a, b) => b.trashedAt - a.trashedAt);
  }

  /** The entry with this id, or the newest of this name (optionally only with one of `reasons`). */
  async find<K extends Kind>(
    kind: K,
    nameOrId: string,
    reasons?: readonly TrashEntry['reason'][],
  ): Promise<Extract<TrashEntry, { kind: K }> | undefined> {
    const entries = (await this.list(kind)) as Extract<TrashEntry, { kind: K }>[];
    return entries.find(
      (e) => (e.id === nameOrId || e.name === nameOrId) && (!reasons || reasons.includes(e.reason)),
    );
  }

  /** Moves a database entry's data to `target` and forgets the entry: the restore. */
  async takeDatabase(entry: TrashedDatabase, target: string): Promise<void> {
    const dir = this.#o.layout.trashEntry('Database', entry.id);
    await this.#o.storage.move(path.join(dir, 'data'), target);
    await this.#forget('Database', entry.id);
  }

  /**
   * Moves a template entry's versions back under the template, each with its recorded schema, metadata
   * last, and forgets the entry.
   */
  async takeTemplate(
    entry: TrashedTemplate,
    writeMeta: (meta: TrashedTemplate['versions'][number]) => Promise<void>,
  ) {
    const { layout, storage } = this.#o;
    const dir = layout.trashEntry('Template', entry.id);
    for (const v of entry.versions) {
      const source = path.join(dir, v.version);
      if (!(await storage.exists(source))) continue;
      await storage.move(source, layout.versionDir(entry.name, v.version));
      await moveIfThere(schemaFileIn(dir, v.version), layout.versionSchemaFile(entry.name, v.version));
      await writeMeta(v);
    }
    await this.#forget('Template', entry.id);
  }

  /**
   * Removes entries past their retention, entries whose data never arrived (and whose original is
   * gone), and, while the data filesystem is short of space, the oldest ones. Returns what went.
   */
  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    const now = this.#now();
    const all: TrashEntry[] = [];
    for (const kind of ['Database', 'Template'] as const) {
      for (const id of await this.#ids(kind)) {
        const entry = await this.#read(kind, id);
        if (!entry) continue;
        if (
          entry.expiresAt <= now ||
          !((await this.#hasData(entry)) || (await this.#originalExists(entry)))
        ) {
          await this.#remove(entry, entry.expiresAt <= now ? 'retention ended' : 'its data never arrived');
          removed.push(id);
        } else all.push(entry);
      }
    }
    all.sort((a, b) => a.trashedAt - b.trashedAt);
    while (all.length > 0 && (await this.#short())) {
      const oldest = all.shift()!;
      await this.#remove(oldest, `less than ${this.#o.minFreePercent}% free on the data filesystem`);
      removed.push(oldest.id);
    }
    return removed;
  }

  #complete<E extends TrashEntry>(kind: E['kind'], entry: NewEntry<E>, id: string | undefined): E {
    const trashedAt = this.#now();
    return {
      ...entry,
      kind,
      id: id ?? newTrashId(entry.name, new Date(trashedAt)),
      trashedAt,
      expiresAt: trashedAt + this.#o.retentionSeconds * 1000,
    } as unknown as E;
  }

  /** An entry of this name whose data has not arrived: a removal a crash interrupted, to complete. */
  async #unfinishedId(kind: Kind, name: string): Promise<string | undefined> {
    for (const id of await this.#ids(kind)) {
      if (trashIdName(id) !== name) continue;
      const entry = await this.#read(kind, id);
      if (entry && !(await this.#hasData(entry))) return id;
    }
    return undefined;
  }

  async #ids(kind: Kind): Promise<string[]> {
    let files: string[];
    try {
      files = await readdir(this.#o.layout.trashKindDir(kind));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return files.filter((f) => f.endsWith('.json') && trashIdName(f.slice(0, -5))).map((f) => f.slice(0, -5));
  }

  async #read(kind: Kind, id: string): Promise<TrashEntry | undefined> {
    try {
      return await readJson<TrashEntry>(`${this.#o.layout.trashEntry(kind, id)}.json`);
    } catch (error) {
      this.#o.log.warn({ kind, id, err: error }, 'unreadable trash entry left as it is');
      return undefined;
    }
  }

  async #hasData(entry: TrashEntry): Promise<boolean> {
    const dir = this.#o.layout.trashEntry(entry.kind, entry.id);
    if (entry.kind === 'Database') return this.#o.storage.exists(path.join(dir, 'data'));
    // Every version moved in (a crash part-way leaves the entry to complete).
    for (const v of entry.versions)
      if (!(await this.#o.storage.exists(path.join(dir, v.version)))) return false;
    return true;
  }

  async #originalExists(entry: TrashEntry): Promise<boolean> {
    const { layout, storage } = this.#o;
    return entry.kind === 'Database'
      ? storage.exists(layout.databaseDir(entry.name))
      : storage.exists(layout.templateDir(entry.name));
  }

  async #short(): Promise<boolean> {
    if (this.#o.spaceShort) return this.#o.spaceShort();
    try {
      const s = await statfs(this.#o.layout.root);
      return s.bavail / s.blocks < this.#o.minFreePercent / 100;
    } catch {
      return false;
    }
  }

  async #remove(entry: TrashEntry, why: string): Promise<void> {
    const dir = this.#o.layout.trashEntry(entry.kind, entry.id);
    if (entry.kind === 'Database') await this.#o.storage.remove(path.join(dir, 'data'));
    else for (const v of entry.versions) await this.#o.storage.remove(path.join(dir, v.version));
    await this.#forget(entry.kind, entry.id);
    this.#o.log.warn({ entry: entry.id, kind: entry.kind, why }, `trash entry removed for good: ${why}`);
  }

  async #forget(kind: Kind, id: string): Promise<void> {
    const dir = this.#o.layout.trashEntry(kind, id);
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.json`, { force: true });
  }
}

/** Where a trashed version's recorded schema waits: beside its data in the entry's folder. */
function schemaFileIn(entryDir: string, version: string): string {
  return path.join(entryDir, `${version}.schema.json`);
}

/**
 * Moves a small file within the data root; absent is fine (a version imported before schemas were
 * recorded, or a move a crash already made).
 */
async function moveIfThere(from: string, to: string): Promise<void> {
  try {
    await stat(from);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  await mkdir(path.dirname(to), { recursive: true });
  await rename(from, to);
}
