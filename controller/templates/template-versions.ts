import { readdir, rm } from 'node:fs/promises';
import type { Layout } from '../layout.js';
import { SCHEMA_SUFFIX, compareVersionIds, isVersionId } from '../layout.js';
import type { SchemaSnapshot, VersionMeta } from '../objects/index.js';
import { readJson, writeJsonAtomic } from '../util/files.js';

/** The complete versions of each template, found on disk every time (newest first). */
export class TemplateVersions {
  constructor(readonly layout: Layout) {}

  async list(template: string): Promise<VersionMeta[]> {
    return (await this.#scan(template)).complete;
  }

  async current(template: string): Promise<VersionMeta | undefined> {
    return (await this.list(template))[0];
  }

  /**
   * Version dirs and meta files that do not make a complete version (a crash between seal and meta):
   * only where a part is absent. A version whose metadata cannot be read (EACCES, EIO, garbage) is
   * damaged, not incomplete: it is neither served nor removed.
   */
  async incomplete(template: string): Promise<string[]> {
    return (await this.#scan(template)).incomplete;
  }

  /** Versions whose metadata exists but cannot be read: reported, never removed. */
  async damaged(template: string): Promise<{ version: string; error: string }[]> {
    return (await this.#scan(template)).damaged;
  }

  async #scan(template: string): Promise<{
    complete: VersionMeta[];
    incomplete: string[];
    damaged: { version: string; error: string }[];
  }> {
    let entries: string[];
    try {
      entries = await readdir(this.layout.templateDir(template));
    } catch (error) {
      // Only a missing folder means "no versions"; an unreadable one is an error, never an absence.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { complete: [], incomplete: [], damaged: [] };
      throw error;
    }
    const dirs = new Set(entries.filter(isVersionId));
    const withSuffix = (suffix: string) =>
      new Set(
        entries
          .filter((e) => e.endsWith(suffix))
          .map((e) => e.slice(0, -suffix.length))
          .filter(isVersionId),
      );
    const metas = withSuffix('.json');
    // A recorded schema is part of its version: one left alone (a crash before the metadata) is a leftover.
    const schemas = withSuffix(SCHEMA_SUFFIX);
    const complete: VersionMeta[] = [];
    const damaged: { version: string; error: string }[] = [];
    for (const id of metas) {
      if (!dirs.has(id)) continue;
      try {
        const meta = await readJson<VersionMeta>(this.layout.versionMetaFile(template, id));
        if (meta?.version === id) complete.push(meta);
        else if (meta) damaged.push({ version: id, error: 'its metadata names another version' });
      } catch (error) {
        damaged.push({ version: id, error: (error as Error).message });
      }
    }
    const incomplete = [...new Set([...dirs, ...metas, ...schemas])].filter(
      (id) => !dirs.has(id) || !metas.has(id),
    );
    // Ordered by the sequence in the id (see newVersionId), never by the wall clock alone.
    complete.sort((a, b) => compareVersionIds(b.version, a.version));
    return { complete, incomplete, damaged };
  }

  writeMeta(template: string, meta: VersionMeta): Promise<void> {
    return writeJsonAtomic(this.layout.versionMetaFile(template, meta.version), meta);
  }

  /** Removes a version's metadata and recorded schema (its data is the storage's to remove). */
  async removeMeta(template: string, version: string): Promise<void> {
    await rm(this.layout.versionMetaFile(template, version), { force: true });
    await rm(this.layout.versionSchemaFile(template, version), { force: true });
  }

  /** Records the schema a version was imported with; written before its metadata, like its data. */
  writeSchema(template: string, version: string, schema: SchemaSnapshot): Promise<void> {
    return writeJsonAtomic(this.layout.versionSchemaFile(template, version), schema);
  }

  /** Names of templates that have anything on disk. */
  async names(): Promise<string[]> {
    try {
      return await readdir(this.layout.templatesDir);
    } catch {
      return [];
    }
  }
}
