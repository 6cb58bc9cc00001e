import { readdir, rm } from 'node:fs/promises';
import type { Layout } from '../layout.js';
import { isVersionId } from '../layout.js';
import type { EngineName } from '../spec/types.js';
import { readJson, writeJsonAtomic } from '../util/files.js';

/** What decides whether a template must be imported again. */
export interface ImportTrigger {
  /** Digest of the import-relevant spec fields (engine, image, source, database). */
  readonly specDigest: string;
  /** `size:mtimeMs` of the dump when the import started. */
  readonly dump: string;
  /** Value of the reimport annotation. */
  readonly reimportToken: string;
}

/** Written beside a version once it is complete: a version without it does not exist. */
export interface VersionMeta {
  readonly version: string;
  readonly createdAt: number;
  readonly engine: EngineName;
  readonly image: string;
  readonly database: string;
  /** The template's admin password: clones start with it and replace it at once. */
  readonly adminPassword: string;
  readonly trigger: ImportTrigger;
  readonly dumpSha256: string;
  readonly dumpBytes: number;
  readonly durationSeconds: number;
  /** Connections the dump was loaded with: 1 when streamed to one client, more when read in parallel. */
  readonly loadJobs?: number;
  /** Where the time went: server start (with datadir init), loading the dump, clean shutdown + snapshot. */
  readonly phases?: {
    readonly startSeconds: number;
    readonly loadSeconds: number;
    readonly finishSeconds: number;
  };
}

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
