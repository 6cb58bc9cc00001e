import { readdir, rm } from 'node:fs/promises';
import type { Layout } from '../layout.js';
import { isVersionId } from '../layout.js';
import type { VersionMeta } from '../objects/index.js';
import { readJson, writeJsonAtomic } from '../util/files.js';

/** The complete versions of each template, found on disk every time (newest first). */
export class TemplateVersions {
  constructor(readonly layout: Layout) {}

  async list(template: string): Promise<VersionMeta[]> {
    let entries: string[];
    try {
      entries = await readdir(this.layout.templateDir(template));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const ids = new Set(entries.filter(isVersionId));
    const metas: VersionMeta[] = [];
    for (const entry of entries) {
      const id = entry.replace(/\.json$/, '');
      if (!entry.endsWith('.json') || !ids.has(id)) continue;
      const meta = await readJson<VersionMeta>(this.layout.versionMetaFile(template, id)).catch(
        () => undefined,
      );
      if (meta?.version === id) metas.push(meta);
    }
    return metas.sort((a, b) => (a.version < b.version ? 1 : -1));
  }

  async current(template: string): Promise<VersionMeta | undefined> {
    return (await this.list(template))[0];
  }

  /** Version dirs and meta files that do not make a complete version (a crash between seal and meta). */
  async incomplete(template: string): Promise<string[]> {
    let entries: string[];
    try {
      entries = await readdir(this.layout.templateDir(template));
    } catch {
      return [];
    }
    const complete = new Set((await this.list(template)).map((m) => m.version));
    return [...new Set(entries.map((e) => e.replace(/\.json$/, '')))].filter(
      (id) => isVersionId(id) && !complete.has(id),
    );
  }

  writeMeta(template: string, meta: VersionMeta): Promise<void> {
    return writeJsonAtomic(this.layout.versionMetaFile(template, meta.version), meta);
  }

  async removeMeta(template: string, version: string): Promise<void> {
    await rm(this.layout.versionMetaFile(template, version), { force: true });
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
