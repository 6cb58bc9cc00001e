import { createHash } from 'node:crypto';
import { readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import {
  type BranchSource,
  copyBranchSource,
  findBranchSource,
  isUnavailable,
  lineageOf,
} from '../branches/branch-source.js';
import type { ControllerConfig } from '../config.js';
import { defaultImage } from '../engine/defaults.js';
import { newVersionId, workEntryVersion } from '../layout.js';
import type { Logger } from '../log.js';
import {
  type DeclaredSpec,
  type ImportTrigger,
  REIMPORT_ANNOTATION,
  type TemplateObject,
  type TemplateRecord,
  type TemplateStatus,
  type VersionMeta,
  dumpPathOf,
  setCondition,
  sourceDatabaseOf,
} from '../objects/index.js';
import {
  type DumpFile,
  DumpNotFoundError,
  type ResolvedStep,
  dumpSignature,
  resolveDump,
  resolveSteps,
  stepsSignature,
} from '../templates/dump-file.js';
import { ImportRunner } from '../templates/import-runner.js';
import { ImportError, type Importer, type SnapshotInput } from '../templates/importer.js';
import { explainFailure } from '../util/disk-space.js';
import type { ReconcilerDeps } from './reconciler-deps.js';
import type { ReconcileResult } from './work-queue.js';

export interface TemplateReconcilerDeps extends ReconcilerDeps {
  readonly importer: Importer;
  /** Asks for a reconcile of a key (this template again, or databases waiting for it). */
  readonly enqueue: (key: `Template/${string}` | `Database/${string}`) => void;
}

/** One import to run: what to import, why, and as which version. */
interface ImportJob {
  readonly name: string;
  readonly template: TemplateObject;
  readonly record: DeclaredSpec<TemplateObject>;
  readonly trigger: ImportTrigger;
  /** What the import reads: a dump, or a database copied as it is (a snapshot template). */
  readonly input: ImportInput;
  readonly steps: readonly ResolvedStep[];
  readonly reason: string;
  readonly version: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
}

type ImportInput = { readonly dump: DumpFile } | { readonly database: BranchSource };

/**
 * Dumps younger than this may still be being written (cp, scp): wait before importing them. Short, so
 * a replaced dump starts its import within a second (issue 17): the dumps watcher already waits for
 * 200 ms of quiet, and a dump that still changes during its import is caught when the import is
 * sealed (its size and mtime are checked again) and imported afresh.
 */
export const DUMP_SETTLE_MS = 500;

/** How long to wait before importing a dump last modified at `mtimeMs` (0: import now). */
export function dumpSettleWaitMs(mtimeMs: number, now = Date.now()): number {
  const age = now - mtimeMs;
  return age < DUMP_SETTLE_MS ? DUMP_SETTLE_MS - Math.max(0, age) : 0;
}
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 15 * 60_000;

/** The import-relevant part of a Template spec, digested: metadata edits do not reimport. */
export function importDigest(spec: TemplateObject['spec'], config: ControllerConfig): string {
  const relevant = {
    engine: spec.engine,
    image: spec.image ?? defaultImage(config, spec.engine),
    source: dumpPathOf(spec) ?? { database: sourceDatabaseOf(spec) },
    database: spec.database ?? config.defaultDatabase,
    // Only when set: templates without them keep the digest (and version) they had.
    ...(spec.import.steps ? { steps: spec.import.steps } : {}),
    ...(spec.import.schemaOnly ? { schemaOnly: true } : {}),
  };
  return createHash('sha256').update(JSON.stringify(relevant)).digest('hex').slice(0, 16);
}

/**
 * Reconciles `Template/<name>`: imports a new version when the spec, the dump or a touch asks for one,
 * keeps the newest versions, and removes everything when the spec is gone. Imports run in the
 * background under their own concurrency bound, so databases keep being served meanwhile.
 */
export class TemplateReconciler {
  readonly #deps: TemplateReconcilerDeps;
  readonly #imports: ImportRunner;

  constructor(deps: TemplateReconcilerDeps) {
    this.#deps = deps;
    this.#imports = new ImportRunner(deps.config.importConcurrency, deps.log);
  }

  /** Imports running or queued now, by template name. */
  get importing(): ReadonlySet<string> {
    return this.#imports.importing;
  }

  stop(): Promise<void> {
    return this.#imports.stop();
  }

  async reconcile(name: string, log: Logger): Promise<ReconcileResult> {
    const { desired, store } = this.#deps;
    const key = `Template/${name}` as const;
    const record = desired.get(key);
    await this.#removeLeftovers(name, log);

    if (!record) {
      if (!desired.absenceTrusted(key)) return undefined;
      return this.#remove(name, log);
    }
    const template = record.object;
    let versions = await this.#deps.versions.list(name);
    if (
      versions.length === 0 &&
      !this.#imports.get(name) &&
      (await this.#restoreFromTrash(name, template, log))
    ) {
      versions = await this.#deps.versions.list(name);
    }
    const stored = store.get(key);
    const status: TemplateStatus = stored?.status ?? { phase: 'Pending', versions: [], conditions: [] };
    const bookkeeping: TemplateRecord = stored?.record ?? {};
    bookkeeping.lastSpec = template.spec;
    const current = versions[0];
    status.observedGeneration = record.generation;
    // First seen: its oldest version's time when it has one (a status from before this field), else now.
    status.createdAt ??= new Date(Math.min(Date.now(), ...versions.map((v) => v.createdAt))).toISOString();
    status.currentVersion = current?.version;
    status.currentVersionInfo = current && versionInfo(current);
    status.versions = versions.map((v) => v.version);

    const sourceDatabase = sourceDatabaseOf(template.spec);
    const found = sourceDatabase
      ? await this.#findSourceDatabase(
          key,
          sourceDatabase,
          template,
          status,
          bookkeeping,
          current !== undefined,
        )
      : await this.#findDump(key, template, status, bookkeeping, current !== undefined);
    if (!found) return { requeueAfterMs: sourceDatabase ? 5_000 : 30_000 };
    const { input, steps } = found;
    const trigger: ImportTrigger = {
      specDigest: importDigest(template.spec, this.#deps.config),
      // The post-import scripts' files too: a changed script is a changed template. A database
      // source is imported again only when asked (a touch, the annotation, a changed spec).
      dump:
        ('dump' in input ? dumpSignature(input.dump) : `database:${sourceDatabase}`) + stepsSignature(steps),
      // Edge-triggered: a new value asks for an import; the annotation's absence never does.
      reimportToken:
        template.metadata.annotations[REIMPORT_ANNOTATION] || (current?.trigger.reimportToken ?? ''),
    };

    const inflight = this.#imports.get(name);
    if (inflight) {
      if (sameTrigger(inflight.trigger, trigger) && record.fileMtimeMs <= inflight.requestedAt)
        return undefined;
      log.info('template changed during its import: abandoning it for a fresh one');
      await this.#imports.cancel(name, 'the template or its dump changed');
    }

    const reason = importReason(trigger, current?.trigger, record, bookkeeping);
    if (!reason) {
      status.phase = 'Ready';
      status.message = undefined;
      status.progress = undefined;
      await this.#pruneVersions(
        name,
        versions.map((v) => v.version),
        log,
      );
      status.versions = (await this.#deps.versions.list(name)).map((v) => v.version);
      await store.save(key, status, bookkeeping);
      return undefined;
    }
    const retryInMs = backoffLeft(bookkeeping, trigger, record);
    if (retryInMs > 0) {
      // The same broken input again: retry with capped backoff, not in a tight loop.
      await store.save(key, status, bookkeeping);
      return { requeueAfterMs: retryInMs };
    }
    const settle = 'dump' in input ? dumpSettleWaitMs(input.dump.mtimeMs) : 0;
    if (settle > 0) return { requeueAfterMs: settle };
    const version = newVersionId(new Date(), [
      ...versions.map((v) => v.version),
      ...(await this.#deps.versions.incomplete(name)),
    ]);
    this.#imports.start(
      name,
      version,
      trigger,
      (signal) =>
        this.#import({ name, template, record, trigger, input, steps, reason, version, signal, log }),
      () => this.#deps.enqueue(key),
    );
    return undefined;
  }

  /**
   * The template's dump and post-import scripts; when one is missing or refused, says so in status
   * and returns nothing.
   */
  async #findDump(
    key: `Template/${string}`,
    template: TemplateObject,
    status: TemplateStatus,
    bookkeeping: TemplateRecord,
    hasVersion: boolean,
  ): Promise<{ input: ImportInput; steps: ResolvedStep[] } | undefined> {
    try {
      const dump = await resolveDump(this.#deps.config.dumpsDir, dumpPathOf(template.spec) ?? '');
      const steps = await resolveSteps(this.#deps.config.dumpsDir, template.spec.import.steps ?? []);
      status.conditions = setCondition(status.conditions, 'DumpAvailable', 'True', 'DumpFound', dump.path);
      return { input: { dump }, steps };
    } catch (error) {
      const missing = error instanceof DumpNotFoundError;
      status.phase = hasVersion ? 'Ready' : missing ? 'Pending' : 'Failed';
      status.message = (error as Error).message;
      status.conditions = setCondition(
        status.conditions,
        'DumpAvailable',
        'False',
        missing ? 'DumpNotFound' : 'DumpRefused',
        status.message,
      );
      await this.#deps.store.save(key, status, bookkeeping);
      // The dumps dir watcher asks again when the file appears; the caller polls slowly in case it cannot.
      return undefined;
    }
  }

  /**
   * A snapshot template's source database and its post-import scripts; when the database does not
   * exist or is not ready, says so in status (a template with versions stays Ready) and returns nothing.
   */
  async #findSourceDatabase(
    key: `Template/${string}`,
    name: string,
    template: TemplateObject,
    status: TemplateStatus,
    bookkeeping: TemplateRecord,
    hasVersion: boolean,
  ): Promise<{ input: ImportInput; steps: ResolvedStep[] } | undefined> {
    const source = await findBranchSource(this.#deps, name, 'spec.source.database');
    if (isUnavailable(source)) {
      status.phase = hasVersion ? 'Ready' : 'Pending';
      status.message = source.message;
      status.conditions = setCondition(
        status.conditions,
        'SourceAvailable',
        'False',
        source.reason,
        source.message,
      );
      await this.#deps.store.save(key, status, bookkeeping);
      return undefined;
    }
    try {
      const steps = await resolveSteps(this.#deps.config.dumpsDir, template.spec.import.steps ?? []);
      status.conditions = setCondition(
        status.conditions,
        'SourceAvailable',
        'True',
        'SourceReady',
        `database ${name}`,
      );
      return { input: { database: source }, steps };
    } catch (error) {
      status.phase = hasVersion ? 'Ready' : 'Failed';
      status.message = (error as Error).message;
      await this.#deps.store.save(key, status, bookkeeping);
      return undefined;
    }
  }

  /**
   * How a snapshot import takes its data: the source database found again when the import runs (it
   * may have restarted since the import was queued) and copied at a consistent point.
   */
  #snapshotOf(found: BranchSource, log: Logger): SnapshotInput {
    return {
      take: async (target) => {
        const deps = { ...this.#deps, log };
        const source = await findBranchSource(deps, found.name, 'spec.source.database');
        if (isUnavailable(source)) throw new ImportError(source.message);
        const taken = await copyBranchSource(deps, source, target);
        return { admin: source.admin, lineage: lineageOf(source, taken) };
      },
    };
  }

  /** One import, run by the ImportRunner: status says it started, then how it ended. */
  async #import(job: ImportJob): Promise<void> {
    const { store, config } = this.#deps;
    const { name, template, trigger, version, log } = job;
    const key = `Template/${name}` as const;
    const stored = store.get(key);
    const status: TemplateStatus = stored?.status ?? { phase: 'Pending', versions: [], conditions: [] };
    const previous = stored?.record.lastAttempt;
    const startedAt = Date.now();
    const failures =
      previous && sameTrigger(previous.trigger, trigger) && previous.failed ? previous.failures : 0;
    const bookkeeping: TemplateRecord = {
      lastSpec: template.spec,
      lastAttempt: { trigger, startedAt, failures },
    };
    status.createdAt ??= new Date(startedAt).toISOString();
    status.phase = 'Importing';
    const input = job.input;
    status.message = `importing ${'dump' in input ? dumpPathOf(template.spec) : `a snapshot of database ${input.database.name}`} as ${version} (${job.reason})`;
    status.observedGeneration = job.record.generation;
    status.lastImport = { version, startedAt: new Date(startedAt).toISOString() };
    status.progress = {
      bytesRead: 0,
      bytesTotal: 'dump' in input ? input.dump.size : 0,
      bytesPerSecond: 0,
      etaSeconds: -1,
    };
    status.conditions = setCondition(status.conditions, 'Importing', 'True', 'ImportStarted', status.message);
    try {
      // Written before any work: a controller killed mid-import finds the attempt and starts again.
      // Inside the try: when even this write fails (a full disk), it is a failed attempt with backoff.
      await store.save(key, status, bookkeeping);
      await store.event(key, 'Normal', 'ImportStarted', status.message);
      // A snapshot's data is in its source's format: its engine and image, whatever the spec says.
      const source = 'database' in input ? input.database : undefined;
      const engine = source?.engine ?? this.#deps.engineFor(template.spec.engine);
      const meta = await this.#deps.importer.run({
        template: name,
        version,
        engine,
        image: source?.record.image ?? template.spec.image ?? defaultImage(config, engine.name),
        database: source?.record.database ?? template.spec.database ?? config.defaultDatabase,
        ...('dump' in input ? { dump: input.dump } : { snapshot: this.#snapshotOf(input.database, log) }),
        steps: job.steps,
        schemaOnly: template.spec.import.schemaOnly ?? false,
        trigger,
        timeoutSeconds: template.spec.import.timeoutSeconds ?? config.importTimeoutSeconds,
        memoryMiB: config.importMemoryMiB,
        jobs: config.importJobs,
        loadDataAfterBytes: config.importLoadDataAfterBytes,
        signal: job.signal,
        onProgress: (progress) => {
          status.progress = progress;
          store
            .save(key, status, bookkeeping)
            .catch((error) => log.warn({ err: error }, 'import progress not saved'));
        },
      });
      await this.#imported(job, status, startedAt, meta);
    } catch (error) {
      await this.#importFailed(job, status, startedAt, failures, error as Error);
    }
  }

  async #imported(
    job: ImportJob,
    status: TemplateStatus,
    startedAt: number,
    meta: VersionMeta,
  ): Promise<void> {
    const { store } = this.#deps;
    const { name, version, trigger } = job;
    const key = `Template/${name}` as const;
    const bookkeeping: TemplateRecord = {
      lastSpec: job.template.spec,
      lastAttempt: { trigger, startedAt, finishedAt: Date.now(), failed: false, failures: 0 },
    };
    this.#deps.metrics?.importSeconds.observe({ result: 'success' }, meta.durationSeconds);
    this.#deps.metrics?.importBytes.inc(meta.dumpBytes);
    status.phase = 'Ready';
    status.message = undefined;
    status.progress = undefined;
    status.currentVersion = version;
    status.currentVersionInfo = versionInfo(meta);
    status.versions = (await this.#deps.versions.list(name)).map((v) => v.version);
    status.lastImport = {
      version,
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date().toISOString(),
      durationSeconds: meta.durationSeconds,
      bytes: meta.dumpBytes,
      result: 'Succeeded',
      ...(meta.loadJobs ? { jobs: meta.loadJobs } : {}),
      ...(meta.phases ? { phases: meta.phases } : {}),
    };
    status.conditions = setCondition(
      status.conditions,
      'Importing',
      'False',
      'ImportSucceeded',
      `version ${version} is current`,
    );
    await store.save(key, status, bookkeeping);
    await store.event(
      key,
      'Normal',
      'ImportSucceeded',
      `version ${version} imported in ${meta.durationSeconds.toFixed(1)}s`,
    );
    for (const db of this.#deps.desired.list('Database')) {
      if (db.object.spec.template === name) this.#deps.enqueue(db.key as `Database/${string}`);
    }
  }

  async #importFailed(
    job: ImportJob,
    status: TemplateStatus,
    startedAt: number,
    failures: number,
    error: Error,
  ): Promise<void> {
    const { store } = this.#deps;
    const { name, version, trigger, log } = job;
    const key = `Template/${name}` as const;
    const abandoned = job.signal.aborted;
    this.#deps.metrics?.importSeconds.observe({ result: 'failure' }, (Date.now() - startedAt) / 1000);
    const message = await explainFailure(this.#deps.layout.root, error.message);
    const bookkeeping: TemplateRecord = {
      lastSpec: job.template.spec,
      lastAttempt: {
        trigger,
        startedAt,
        finishedAt: Date.now(),
        failed: !abandoned,
        failures: abandoned ? failures : failures + 1,
      },
    };
    const versions = await this.#deps.versions.list(name);
    status.phase = versions.length > 0 ? 'Ready' : abandoned ? 'Pending' : 'Failed';
    status.message =
      versions.length > 0
        ? `import failed; version ${versions[0]!.version} still serves: ${message}`
        : message;
    status.progress = undefined;
    status.lastImport = {
      version,
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date().toISOString(),
      durationSeconds: (Date.now() - startedAt) / 1000,
      result: 'Failed',
      error: message,
      ...(error instanceof ImportError && error.line !== undefined ? { errorLine: error.line } : {}),
      ...(error instanceof ImportError && error.file !== undefined ? { errorFile: error.file } : {}),
    };
    status.conditions = setCondition(status.conditions, 'Importing', 'False', 'ImportFailed', message);
    // Kept in memory (and served) even when it cannot be written.
    await store
      .save(key, status, bookkeeping)
      .catch((saveError) => log.warn({ err: saveError }, 'import failure not saved'));
    await store.event(key, 'Warning', abandoned ? 'ImportAbandoned' : 'ImportFailed', message);
  }

  /** Work volumes, import servers and half-made versions that no running import owns. */
  async #removeLeftovers(name: string, log: Logger): Promise<void> {
    const { layout, storage, runtime, versions } = this.#deps;
    const inflight = this.#imports.get(name);
    let work: string[] = [];
    try {
      work = (await readdir(layout.workDir)).filter((e) => e.startsWith(`${name}@`));
    } catch {
      // no work dir yet
    }
    for (const entry of work) {
      // `<name>@<version>`, or a copy storage's partial clone of it (`….partial-<hex>`) while it is made.
      const version = workEntryVersion(entry, name);
      if (!version || inflight?.version === version) continue;
      log.info({ version, entry }, 'removing an interrupted import');
      await storage.remove(path.join(layout.workDir, entry));
    }
    for (const server of await runtime.servers.list()) {
      if (server.role === 'Import' && server.owner === name && inflight?.version !== server.templateVersion) {
        await runtime.servers.remove(server.id);
      }
    }
    for (const version of await versions.incomplete(name)) {
      if (inflight?.version === version) continue;
      await storage.remove(layout.versionDir(name, version));
      await versions.removeMeta(name, version);
    }
  }

  async #pruneVersions(name: string, newestFirst: string[], log: Logger): Promise<void> {
    for (const version of newestFirst.slice(Math.max(1, this.#deps.config.versionsToKeep))) {
      log.info({ version }, 'removing an old template version');
      await this.#deps.versions.removeMeta(name, version);
      await this.#deps.storage.remove(this.#deps.layout.versionDir(name, version));
    }
  }

  async #remove(name: string, log: Logger): Promise<ReconcileResult> {
    const key = `Template/${name}` as const;
    const inflight = this.#imports.get(name);
    const versions = await this.#deps.versions.list(name);
    if (!inflight && versions.length === 0) {
      if (this.#deps.store.get(key)) await this.#deps.store.delete(key);
      await this.#deps.storage.remove(this.#deps.layout.templateDir(name)).catch(() => undefined);
      return undefined;
    }
    const verdict = await this.#deps.guard.check(key);
    const stored = this.#deps.store.get(key);
    if (!verdict.allowed) {
      if (stored) {
        stored.status.message = verdict.message;
        stored.status.conditions = setCondition(
          stored.status.conditions,
          'Removal',
          'False',
          'DeletionHeld',
          verdict.message ?? 'removal held',
        );
        await this.#deps.store.save(key, stored.status, stored.record);
      }
      return { requeueAfterMs: verdict.retryAfterMs ?? 10_000 };
    }
    await this.#imports.cancel(name, 'the template spec was removed');
    const reason = this.#deps.guard.isExplicit(key) ? 'Deleted' : 'SpecRemoved';
    log.info({ versions: versions.length, reason }, 'template spec removed: its versions go to the trash');
    // Databases cloned from them keep their data: clones are independent of their template.
    await this.#deps.trash.putTemplate({
      name,
      reason,
      versions,
      ...(stored ? { status: stored.status, record: stored.record } : {}),
      ...(stored?.record.lastSpec ? { spec: stored.record.lastSpec } : {}),
    });
    // Only when empty: a version whose metadata cannot be read stays where it is.
    await rmdir(this.#deps.layout.templateDir(name)).catch(() => undefined);
    await this.#deps.store.delete(key);
    return undefined;
  }

  /**
   * A template declared again whose versions are in the trash (its spec file came back, its dumps
   * dir was remounted) takes them back instead of importing again, when the source is the same.
   */
  async #restoreFromTrash(name: string, template: TemplateObject, log: Logger): Promise<boolean> {
    const { trash, versions } = this.#deps;
    const entry = await trash.find('Template', name, ['SpecRemoved']);
    if (!entry || entry.versions.length === 0) return false;
    const sameSource =
      entry.spec !== undefined &&
      JSON.stringify(entry.spec.source) === JSON.stringify(template.spec.source) &&
      entry.spec.engine === template.spec.engine;
    if (!sameSource) return false;
    await trash.takeTemplate(entry, (meta) => versions.writeMeta(name, meta));
    log.info(
      { entry: entry.id, versions: entry.versions.length },
      'template versions restored from the trash',
    );
    const key = `Template/${name}` as const;
    if (!this.#deps.store.get(key)) {
      // Its status went with it (the last import shows again; an event needs an object to go to). The
      // bookkeeping starts over, as it did: the returning spec file's new mtime is no touch to act on.
      const status = entry.status ?? { phase: 'Pending', versions: [], conditions: [] };
      const conditions = status.conditions.filter((c) => c.type !== 'Removal');
      await this.#deps.store.save(key, { ...status, message: undefined, conditions }, {});
    }
    await this.#deps.store.event(
      `Template/${name}`,
      'Normal',
      'Restored',
      `versions restored from the trash (${entry.id})`,
    );
    return true;
  }
}

/** How long a failed import of this same input must still wait (capped exponential backoff), or 0. */
function backoffLeft(bookkeeping: TemplateRecord, trigger: ImportTrigger, record: DeclaredSpec): number {
  const attempt = bookkeeping.lastAttempt;
  if (!attempt?.failed || !sameTrigger(attempt.trigger, trigger) || touchedSince(record, bookkeeping))
    return 0;
  const waitMs = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt.failures - 1));
  return Math.max(0, (attempt.finishedAt ?? attempt.startedAt) + waitMs - Date.now());
}

function sameTrigger(a: ImportTrigger, b: ImportTrigger): boolean {
  return a.specDigest === b.specDigest && a.dump === b.dump && a.reimportToken === b.reimportToken;
}

/** The spec file was touched after the last import started (`touch shop.yaml` from cron). */
function touchedSince(record: DeclaredSpec, bookkeeping: TemplateRecord): boolean {
  const started = bookkeeping.lastAttempt?.startedAt;
  return started !== undefined && record.fileMtimeMs > started;
}

/** Why a new version is needed, or undefined when the current one is up to date. */
export function importReason(
  trigger: ImportTrigger,
  current: ImportTrigger | undefined,
  record: DeclaredSpec,
  bookkeeping: TemplateRecord,
): string | undefined {
  if (!current) return 'no version yet';
  if (current.specDigest !== trigger.specDigest) return 'spec changed';
  if (current.dump !== trigger.dump) return 'dump changed';
  if (current.reimportToken !== trigger.reimportToken) return 'reimport requested';
  if (touchedSince(record, bookkeeping)) return 'spec file touched';
  return undefined;
}

/** What the status tells of a version. */
function versionInfo(meta: VersionMeta): NonNullable<TemplateStatus['currentVersionInfo']> {
  return {
    createdAt: new Date(meta.createdAt).toISOString(),
    dumpBytes: meta.dumpBytes,
    importSeconds: meta.durationSeconds,
  };
}
