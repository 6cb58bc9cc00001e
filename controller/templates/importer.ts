import { createHash } from 'node:crypto';
import type { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Credentials, Engine, ParallelLoad } from '../engine/engine.js';
import type { ExecSession } from '../engine/sessions.js';
import { UnsafeDumpError } from '../engine/unsafe-dump.js';
import type { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import type {
  BranchLineage,
  ImportProgress,
  ImportTrigger,
  SchemaSnapshot,
  VersionMeta,
} from '../objects/index.js';
import type { Runtime, ServerInfo } from '../runtime/runtime.js';
import { startAndWaitReady } from '../runtime/start-and-wait.js';
import type { Storage } from '../storage/storage.js';
import { explainFailure } from '../util/disk-space.js';
import { faultPoint } from '../util/fault-points.js';
import { newSecret } from '../util/files.js';
import { DataDirCache } from './datadir-cache.js';
import { type DumpFile, type ResolvedStep, dumpSignature } from './dump-file.js';
import {
  type LoadContext,
  type LoadOutcome,
  type ScriptContext,
  loadFromFile,
  readHead,
  runScript,
  streamDump,
} from './dump-loading.js';
import type { TemplateVersions } from './template-versions.js';

export interface ImportRequest {
  readonly template: string;
  readonly version: string;
  readonly engine: Engine;
  readonly image: string;
  readonly database: string;
  /** The dump to load; absent for a snapshot (`snapshot`), whose data is a copy of a database. */
  readonly dump?: DumpFile;
  readonly snapshot?: SnapshotInput;
  /** SQL run after the load, before the seal (masking, subsetting). */
  readonly steps?: readonly ResolvedStep[];
  /** Load the schema only: the dump's rows are skipped as it streams. */
  readonly schemaOnly?: boolean;
  readonly trigger: ImportTrigger;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** Connections the import may load with, where the engine and the dump allow (DumpLoader.parallel). */
  readonly jobs: number;
  /** A dump table's rows past this many bytes load through LOAD DATA where the engine can (-1: never). */
  readonly loadDataAfterBytes?: number;
  readonly onProgress: (progress: ImportProgress) => void;
  /** Aborting removes the import server; the import then fails with the signal's reason. */
  readonly signal: AbortSignal;
}

/**
 * A snapshot template's input: a copy of a database's data at a consistent point, made into the work
 * volume, instead of a dump loaded into an empty datadir.
 */
export interface SnapshotInput {
  /** Copies the data to `target`; says the login the copy's data has, and where it came from. */
  take(target: string): Promise<{ admin: Credentials; lineage: BranchLineage }>;
}

/** An import that failed: the client's first lines, and the line (of the dump, or of `file`) when it said. */
export class ImportError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    /** The post-import script the line is in; absent for the dump. */
    readonly file?: string,
  ) {
    super(message);
  }
}

export interface ImporterDeps {
  readonly layout: Layout;
  readonly storage: Storage;
  readonly runtime: Runtime;
  readonly versions: TemplateVersions;
  readonly log: Logger;
  /** How long the import server may take to initialise and accept connections. @default 300 */
  readonly startTimeoutSeconds?: number;
  /**
   * The admin password a template's versions get. Kubernetes mode: derived from the cluster key, so
   * the controller can log in to a clone an agent made on another node. @default a new random one
   */
  readonly adminPasswordFor?: (template: string) => string;
}

/**
 * One import's lifetime: its server and client sessions, which an abort or the timeout ends, and
 * the check that says why the import stopped.
 */
class ImportAttempt {
  server: ServerInfo | undefined;
  dumpFile: ReturnType<typeof createReadStream> | undefined;
  #timedOut = false;
  readonly #sessions = new Set<ExecSession>();
  readonly #timeout: NodeJS.Timeout;
  readonly #onAbort = () => this.#abort();

  constructor(
    readonly request: ImportRequest,
    readonly runtime: Runtime,
    log: Logger,
  ) {
    request.signal.addEventListener('abort', this.#onAbort);
    // setTimeout fires at once past 2^31-1 ms: a longer timeout is as good as none.
    this.#timeout = setTimeout(
      () => {
        log.warn({ timeoutSeconds: request.timeoutSeconds }, 'import timed out; stopping it');
        this.#timedOut = true;
        this.#abort();
      },
      Math.min(request.timeoutSeconds * 1000, 2 ** 31 - 1),
    );
  }

  /** Clients beside the server are ended with it (a host client would otherwise outlive an abort). */
  readonly track = (session: ExecSession): ExecSession => {
    this.#sessions.add(session);
    void session.result.finally(() => this.#sessions.delete(session)).catch(() => undefined);
    return session;
  };

  /** Throws why the import stopped, when it was stopped (timeout or abort). */
  failIfStopped(): void {
    if (this.#timedOut) throw new ImportError(`import timed out after ${this.request.timeoutSeconds}s`);
    if (this.request.signal.aborted)
      throw new ImportError(`import abandoned: ${String(this.request.signal.reason)}`);
  }

  close(): void {
    this.dumpFile?.destroy();
    clearTimeout(this.#timeout);
    this.request.signal.removeEventListener('abort', this.#onAbort);
  }

  #abort(): void {
    for (const session of this.#sessions) session.abort();
    if (this.server) void this.runtime.servers.remove(this.server.id).catch(() => undefined);
  }
}

/** How an import will load its dump, and with which credentials. */
interface ImportPlan {
  /** The cached datadir's admin, which the import server starts with. */
  readonly current: Credentials;
  /** The version's own admin, set once the server is up. */
  readonly admin: Credentials;
  /** Set when the dump is read from its file by several connections. */
  readonly parallel: ParallelLoad | undefined;
  /** A snapshot's: where its data came from. */
  readonly lineage?: BranchLineage;
}

/**
 * One import: a fresh work volume, an import server with throw-away settings, the dump streamed into
 * the engine's own client beside it, a clean shutdown, then a sealed read-only version. On any failure
 * the work volume and the server go, and the previous version stays current.
 */
export class Importer {
  readonly #cache: DataDirCache;

  constructor(readonly deps: ImporterDeps) {
    this.#cache = new DataDirCache({ ...deps, startTimeoutSeconds: deps.startTimeoutSeconds ?? 300 });
  }

  async run(request: ImportRequest): Promise<VersionMeta> {
    const log = this.deps.log.child({ template: request.template, version: request.version });
    const started = Date.now();
    const attempt = new ImportAttempt(request, this.deps.runtime, log);
    try {
      log.info(
        request.dump
          ? { image: request.image, dump: request.dump.path, bytes: request.dump.size }
          : { image: request.image, snapshot: true },
        'import starting',
      );
      const plan = await this.#prepare(request, attempt, log);
      const server = await this.#startServer(request, attempt, plan);
      const readyAt = Date.now();
      log.info({ seconds: (readyAt - started) / 1000 }, 'import server ready; loading the dump');
      const hash = createHash('sha256');
      if (request.dump) await this.#load(request, request.dump, attempt, { ...plan, server, hash, log });
      await this.#runSteps(request, attempt, { ...plan, server, log });
      const loadedAt = Date.now();
      log.info({ seconds: (loadedAt - readyAt) / 1000 }, 'dump loaded; reading its schema');
      const schema = await this.#readSchema(request, attempt, { ...plan, server, log });
      log.info('shutting the import server down cleanly');
      await this.#seal(request, attempt, server);
      faultPoint('template:after-seal');
      // Beside the version, before its metadata: a version is complete, schema and all, once that is written.
      if (schema) await this.deps.versions.writeSchema(request.template, request.version, schema);
      const meta: VersionMeta = {
        version: request.version,
        createdAt: Date.now(),
        engine: request.engine.name,
        image: request.image,
        database: request.database,
        adminPassword: plan.admin.password,
        trigger: request.trigger,
        dumpSha256: request.dump ? hash.digest('hex') : '',
        dumpBytes: request.dump?.size ?? 0,
        ...(plan.lineage ? { fromDatabase: plan.lineage } : {}),
        durationSeconds: (Date.now() - started) / 1000,
        loadJobs: plan.parallel ? request.jobs : 1,
        phases: {
          startSeconds: (readyAt - started) / 1000,
          loadSeconds: (loadedAt - readyAt) / 1000,
          finishSeconds: (Date.now() - loadedAt) / 1000,
        },
      };
      await this.deps.versions.writeMeta(request.template, meta);
      log.info({ seconds: meta.durationSeconds, bytes: meta.dumpBytes }, 'import succeeded');
      return meta;
    } catch (error) {
      // Measured before the discard gives the space back: a full disk is then still visible.
      const explained = await explainFailure(this.deps.layout.root, (error as Error).message);
      await this.#discard(request, attempt.server);
      if (explained !== (error as Error).message) {
        throw new ImportError(explained, error instanceof ImportError ? error.line : undefined);
      }
      throw error;
    } finally {
      attempt.close();
    }
  }

  #adminPassword(template: string): string {
    return this.deps.adminPasswordFor?.(template) ?? newSecret();
  }

  /** The work volume (a copy of the cached initialised datadir), the credentials, the load strategy. */
  async #prepare(request: ImportRequest, attempt: ImportAttempt, log: Logger): Promise<ImportPlan> {
    const user = request.engine.admin.user;
    if (!request.dump) {
      // A snapshot: the work volume is a consistent copy of the source database's data, which the
      // import server recovers as after a crash, then shuts down cleanly like any import.
      const work = this.deps.layout.workVolume(request.template, request.version);
      const taken = await request.snapshot!.take(work);
      // The copy of a running server has its lock files (PostgreSQL's postmaster.pid names the live
      // source's pid, and the server would refuse to start): cleared as for any clone.
      await request.engine.admin.prepareClone(work);
      attempt.failIfStopped();
      return {
        current: taken.admin,
        admin: { user, password: this.#adminPassword(request.template) },
        parallel: undefined,
        lineage: taken.lineage,
      };
    }
    const dump = request.dump;
    const cached = await this.#cache.get(request, log);
    attempt.failIfStopped();
    await this.deps.storage.clone(cached.dir, this.deps.layout.workVolume(request.template, request.version));
    // Loaded from its file by several connections where the engine and the dump allow it (a
    // seekable, uncompressed file); streamed otherwise.
    const loader = request.engine.loader;
    // A schema-only load is short and streams through the filter: never the parallel path.
    let parallel =
      dump.gzip || request.schemaOnly
        ? undefined
        : loader.parallel(loader.format(await readHead(dump.path)), request.jobs);
    if (parallel && !(await this.deps.runtime.programs.canReadInput(dump.path, request.engine))) {
      log.info(
        { dump: dump.path },
        "the import server's programs cannot read the dump file (its permissions); streaming it instead",
      );
      parallel = undefined;
    }
    if (parallel) log.info({ jobs: request.jobs }, 'loading the dump from its file in parallel');
    return {
      current: { user, password: cached.adminPassword },
      admin: { user, password: this.#adminPassword(request.template) },
      parallel,
    };
  }

  /** Starts the import server on the work volume and gives it the version's own admin and schema. */
  async #startServer(request: ImportRequest, attempt: ImportAttempt, plan: ImportPlan): Promise<ServerInfo> {
    const { runtime } = this.deps;
    const create = async () => {
      attempt.server = await runtime.servers.create({
        role: 'Import',
        owner: request.template,
        template: request.template,
        templateVersion: request.version,
        image: request.image,
        dataDir: this.deps.layout.workVolume(request.template, request.version),
        engine: request.engine,
        args: request.engine.loader.serverArgs(request.memoryMiB, plan.parallel ? request.jobs : 1),
        ...(plan.parallel && request.dump ? { inputFile: request.dump.path } : {}),
      });
      attempt.failIfStopped();
      return attempt.server;
    };
    const deadline = Date.now() + (this.deps.startTimeoutSeconds ?? 300) * 1000;
    const server = await startAndWaitReady(
      runtime,
      create,
      (endpoint, alive) => request.engine.admin.waitReady(endpoint, plan.current, deadline, alive),
      (reason) => {
        try {
          attempt.failIfStopped();
        } catch (stopped) {
          return stopped as Error;
        }
        return new ImportError(`import server did not start: ${reason}`);
      },
    );
    const endpoint = { host: runtime.connectHost, port: server.hostPort ?? 0 };
    await request.engine.admin.adoptImportServer(endpoint, plan.current, plan.admin, request.database);
    return server;
  }

  /** Loads the dump the planned way; a client that failed says why, and at which dump line. */
  async #load(
    request: ImportRequest,
    dump: DumpFile,
    attempt: ImportAttempt,
    plan: ImportPlan & Pick<LoadContext, 'server' | 'hash' | 'log'>,
  ): Promise<void> {
    const context: LoadContext = {
      ...plan,
      runtime: this.deps.runtime,
      engine: request.engine,
      database: request.database,
      dump,
      onProgress: request.onProgress,
      track: attempt.track,
      schemaOnly: request.schemaOnly ?? false,
      ...(request.loadDataAfterBytes === undefined ? {} : { loadDataAfterBytes: request.loadDataAfterBytes }),
    };
    const loaded: LoadOutcome = await (plan.parallel
      ? loadFromFile(context, plan.parallel)
      : streamDump(context, (file) => {
          attempt.dumpFile = file;
        })
    ).catch((error) => {
      attempt.failIfStopped();
      if (error instanceof UnsafeDumpError) throw new ImportError(error.message, error.line);
      throw new ImportError(`reading the dump failed: ${(error as Error).message}`);
    });
    attempt.failIfStopped();
    if (loaded.result.exitCode !== 0) {
      const text = loaded.problems(loaded.result.output).trim().split('\n').slice(0, 5).join('\n');
      throw new ImportError(
        `${loaded.clientName} exited with ${loaded.result.exitCode}: ${text || '(no output)'}`,
        loaded.linesValid ? request.engine.loader.errorLine(loaded.result.output) : undefined,
      );
    }
  }

  /** Runs the post-import steps in order; the first that fails fails the import, naming it and its line. */
  async #runSteps(
    request: ImportRequest,
    attempt: ImportAttempt,
    plan: ImportPlan & Pick<LoadContext, 'server' | 'log'>,
  ): Promise<void> {
    for (const step of request.steps ?? []) {
      plan.log.info({ step: step.name }, 'running a post-import step');
      const context: ScriptContext = {
        ...plan,
        runtime: this.deps.runtime,
        engine: request.engine,
        database: request.database,
        track: attempt.track,
      };
      const ran = await runScript(context, step).catch((error) => {
        attempt.failIfStopped();
        if (error instanceof UnsafeDumpError)
          throw new ImportError(`post-import step ${step.name}: ${error.message}`, error.line, step.name);
        throw new ImportError(`post-import step ${step.name} could not be read: ${(error as Error).message}`);
      });
      attempt.failIfStopped();
      if (ran.result.exitCode !== 0) {
        const text = ran.problems(ran.result.output).trim().split('\n').slice(0, 5).join('\n');
        throw new ImportError(
          `post-import step ${step.name} failed: ${ran.clientName} exited with ${ran.result.exitCode}: ${text || '(no output)'}`,
          ran.linesValid ? request.engine.loader.errorLine(ran.result.output) : undefined,
          step.name,
        );
      }
    }
  }

  /**
   * The schema as loaded (steps included), for `myaas diff`: read now, while the import server runs,
   * so a diff never needs a second server. A failure to read it is logged and the import goes on:
   * the version serves clones all the same, and a diff against it says no schema was recorded.
   */
  async #readSchema(
    request: ImportRequest,
    attempt: ImportAttempt,
    plan: ImportPlan & { server: ServerInfo; log: Logger },
  ): Promise<SchemaSnapshot | undefined> {
    const endpoint = { host: this.deps.runtime.connectHost, port: plan.server.hostPort ?? 0 };
    try {
      return await request.engine.admin.readSchema(endpoint, plan.admin, request.database);
    } catch (error) {
      attempt.failIfStopped();
      plan.log.warn(
        { err: error },
        'reading the imported schema failed: the version is kept, but `myaas diff` cannot compare its clones with it',
      );
      return undefined;
    }
  }

  /** Checks the dump did not change, shuts the server down cleanly and seals the work volume. */
  async #seal(request: ImportRequest, attempt: ImportAttempt, server: ServerInfo): Promise<void> {
    const { runtime, storage, layout } = this.deps;
    // The trigger's signature is the dump's, then its scripts' (`+...`): the dump is what is checked here;
    // a script changed meanwhile differs from the version's trigger and is imported again next.
    if (request.dump && dumpSignature(await stat(request.dump.path)) !== request.trigger.dump.split('+')[0]) {
      throw new ImportError('the dump changed while it was being imported; importing again');
    }
    // A clean shutdown, so clones start without crash recovery.
    await runtime.servers.stop(server.id, 600);
    const stopped = await runtime.servers.inspect(server.id);
    if (stopped?.exitCode !== undefined && stopped.exitCode !== 0) {
      const logs = await runtime.servers.logs(server.id, 20);
      throw new ImportError(`import server did not shut down cleanly (exit ${stopped.exitCode}):\n${logs}`);
    }
    await runtime.servers.remove(server.id);
    attempt.server = undefined;
    await storage.seal(
      layout.workVolume(request.template, request.version),
      layout.versionDir(request.template, request.version),
    );
  }

  async #discard(request: ImportRequest, server: ServerInfo | undefined): Promise<void> {
    const { layout, storage, runtime } = this.deps;
    if (server) await runtime.servers.remove(server.id).catch(() => undefined);
    await storage.remove(layout.workVolume(request.template, request.version)).catch(() => undefined);
    await storage.remove(layout.versionDir(request.template, request.version)).catch(() => undefined);
    await this.deps.versions.removeMeta(request.template, request.version).catch(() => undefined);
  }
}
