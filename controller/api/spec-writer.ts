import { randomBytes } from 'node:crypto';
import { link, mkdir, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Kind } from '../objects/index.js';
import { assertValidName } from '../spec/names.js';

/** The folder under the specs dir where the API and CLI write their objects. */
export const MANAGED_DIR = 'api-managed';

/**
 * Writes the specs the API and CLI create, into one managed subfolder of the specs dir, so that files,
 * API and CLI all converge on one desired state. Writes are atomic (a hidden temp file, then a rename
 * or a link), so the watcher never sees half a file.
 */
export class SpecWriter {
  readonly dir: string;
  readonly #specsDir: string;
  readonly #written: (relativeFile: string, how: { removed?: boolean }) => Promise<void>;

  /**
   * `written` hears of every file changed here (relative to the specs dir), so the spec folder reads it
   * at once instead of waiting for the file watcher's event and debounce (~30 ms of every API create);
   * `removed` says the file was deleted on purpose (no removal grace for it).
   */
  constructor(
    specsDir: string,
    written: (relativeFile: string, how: { removed?: boolean }) => Promise<void> = async () => {},
  ) {
    this.#specsDir = specsDir;
    this.dir = path.join(specsDir, MANAGED_DIR);
    this.#written = written;
  }

  /** Relative path (to the specs dir) of the managed file of an object. */
  relativeFile(kind: Kind, name: string): string {
    assertValidName(name, `${kind} name`);
    return path.join(MANAGED_DIR, `${kind.toLowerCase()}-${name}.yaml`);
  }

  /** Whether `file` (a declaring file, relative to the specs dir) is the managed file of that object. */
  manages(file: string, kind: Kind, name: string): boolean {
    return path.normalize(file) === this.relativeFile(kind, name);
  }

  file(kind: Kind, name: string): string {
    return path.join(path.dirname(this.dir), this.relativeFile(kind, name));
  }

  /** Creates the file only if it does not exist yet; false when it did. */
  async create(kind: Kind, name: string, object: Record<string, unknown>): Promise<boolean> {
    const temp = await this.#temp(object);
    try {
      await link(temp, this.file(kind, name));
      await this.#written(this.relativeFile(kind, name), {});
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** Creates or replaces the file. */
  async put(kind: Kind, name: string, object: Record<string, unknown>): Promise<void> {
    const temp = await this.#temp(object);
    await rename(temp, this.file(kind, name));
    await this.#written(this.relativeFile(kind, name), {});
  }

  async remove(kind: Kind, name: string): Promise<void> {
    await rm(this.file(kind, name), { force: true });
    await this.#written(this.relativeFile(kind, name), { removed: true });
  }

  /** Moves a file's mtime to now: how a template is asked to reimport without a content change. */
  async touch(file: string): Promise<void> {
    const now = new Date();
    await utimes(file, now, now);
    // An implicit template's "file" is its dump, outside the specs: the spec folder only hears of specs.
    const relative = path.relative(this.#specsDir, file);
    if (!relative.startsWith('..') && !path.isAbsolute(relative)) await this.#written(relative, {});
  }

  async #temp(object: Record<string, unknown>): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const temp = path.join(this.dir, `.tmp-${randomBytes(6).toString('hex')}.yaml`);
    await writeFile(
      temp,
      `# Written by the myaas API/CLI; edit through them or take it over in your own file.\n${stringify(object)}`,
      {
        mode: 0o644,
      },
    );
    return temp;
  }
}
