import { type Hash, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Credentials, Engine, ParallelLoad } from '../engine/engine.js';
import type { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import type { ImportProgress, ImportTrigger, VersionMeta } from '../objects/index.js';
import type { ExecResult, ExecSession, Runtime, ServerInfo } from '../runtime/runtime.js';
import type { Storage } from '../storage/storage.js';
import { explainFailure } from '../util/disk-space.js';
import { newSecret, readJson, writeJsonAtomic } from '../util/files.js';
import { type DumpFile, dumpSignature } from './dump-file.js';
import type { TemplateVersions } from './template-versions.js';

/** An initialised empty datadir, and the admin password it was made with. */
interface CachedDataDir {
  readonly dir: string;
  readonly adminPassword: string;
  readonly createdAt: number;
}

export interface ImportRequest {
  readonly template: string;
  readonly version: string;
  readonly engine: Engine;
  readonly image: string;
  readonly database: string;
  readonly dump: DumpFile;
  readonly trigger: ImportTrigger;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** Connections the import may load with, where the engine and the dump allow (Engine.parallelLoad). */
  readonly jobs: number;
  readonly onProgress: (progress: ImportProgress) => void;
  /** Aborting removes the import server; the import then fails with the signal's reason. */
  readonly signal: AbortSignal;
}

/** An import that failed: the client's first lines, and the dump line when it said. */
export class ImportError extends Error {
  constructor(
    message: string,
    readonly line?: number,
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
}

/**
 * One import: a fresh work volume, an import server with throw-away settings, the dump streamed into
 * the engine's own client beside it, a clean shutdown, then a sealed read-only version. On any failure
 * the work volume and the server go, and the previous version stays current.
 */
export class Importer {
  /** Cache builds under way, so two imports of one image build it once. */
  readonly #building = new Map<string, Promise<CachedDataDir>>();

  constructor(readonly deps: ImporterDeps) {}

  async run(request: ImportRequest): Promise<VersionMeta> {
    const { layout, storage, runtime, versions } = this.deps;
    const log = this.deps.log.child({ template: request.template, version: request.version });
    const work = layout.workVolume(request.template, request.version);
    const started = Date.now();
    let server: ServerInfo | undefined;
    let timedOut = false;
    // Clients beside the server: ended with it (a host client would otherwise outlive an abort).
    const sessions = new Set<ExecSession>();
    const track = (session: ExecSession) => {
      sessions.add(session);
      void session.result.finally(() => sessions.delete(session)).catch(() => undefined);
      return session;
    };
    const abort = () => {
      for (const session of sessions) session.abort();
      if (server) void runtime.remove(server.id).catch(() => undefined);
    };
    request.signal.addEventListener('abort', abort);
    let dumpFile: ReturnType<typeof createReadStream> | undefined;
    // setTimeout fires at once past 2^31-1 ms: a longer timeout is as good as none.
    const timeout = setTimeout(
      () => {
        log.warn({ timeoutSeconds: request.timeoutSeconds }, 'import timed out; stopping it');
        timedOut = true;
        abort();
      },
      Math.min(request.timeoutSeconds * 1000, 2 ** 31 - 1),
    );
    const failIfStopped = () => {
      if (timedOut) throw new ImportError(`import timed out after ${request.timeoutSeconds}s`);
      if (request.signal.aborted) throw new ImportError(`import abandoned: ${String(request.signal.reason)}`);
    };
    try {
      log.info(
        { image: request.image, dump: request.dump.path, bytes: request.dump.size },
        'import starting',
      );
      // A copy of an initialised empty datadir: initialising one takes seconds, copying it milliseconds.
      const cached = await this.#initializedDataDir(request, log);
      failIfStopped();
      await storage.clone(cached.dir, work);
      const current: Credentials = { user: request.engine.admin.user, password: cached.adminPassword };
      const admin: Credentials = { user: request.engine.admin.user, password: newSecret() };
      // Loaded from its file by several connections where the engine and the dump allow it (a
      // seekable, uncompressed file); streamed otherwise.
      let parallel = request.dump.gzip
        ? undefined
        : request.engine.loader.parallel(
            request.engine.loader.format(await readHead(request.dump.path)),
            request.jobs,
          );
      if (parallel && !(await runtime.canReadInput(request.dump.path))) {
        log.info(
          { dump: request.dump.path },
          "the import server's programs cannot read the dump file (its permissions); streaming it instead",
        );
        parallel = undefined;
      }
      server = await runtime.create({
        role: 'Import',
        owner: request.template,
        template: request.template,
        templateVersion: request.version,
        image: request.image,
        dataDir: work,
        engine: request.engine,
        args: request.engine.loader.serverArgs(request.memoryMiB, parallel ? request.jobs : 1),
        ...(parallel ? { inputFile: request.dump.path } : {}),
      });
      failIfStopped();
      const importServer = server;
      const alive = async () => (await runtime.inspect(importServer.id))?.running ?? false;
      const startDeadline = Date.now() + (this.deps.startTimeoutSeconds ?? 300) * 1000;
      const endpoint = { host: runtime.connectHost, port: server.hostPort ?? 0 };
      await request.engine.admin.waitReady(endpoint, current, startDeadline, alive).catch(async (error) => {
        failIfStopped();
        const logs = await runtime.logs(importServer.id, 20);
        throw new ImportError(`import server did not start: ${(error as Error).message}\n${logs}`);
      });
      await request.engine.admin.adoptImportServer(endpoint, current, admin, request.database);

      const readyAt = Date.now();
      log.info({ seconds: (readyAt - started) / 1000 }, 'import server ready; loading the dump');
      const hash = createHash('sha256');
      if (parallel) log.info({ jobs: request.jobs }, 'loading the dump from its file in parallel');
      const loaded = await (parallel
        ? this.#loadFromFile(request, importServer, admin, parallel, hash, log, track)
        : this.#stream(request, importServer, admin, hash, log, track, (file) => {
            dumpFile = file;
          })
      ).catch((error) => {
        failIfStopped();
        throw new ImportError(`reading the dump failed: ${(error as Error).message}`);
      });
      failIfStopped();
      if (loaded.result.exitCode !== 0) {
        const text = loaded.problems(loaded.result.output).trim().split('\n').slice(0, 5).join('\n');
        throw new ImportError(
          `${loaded.clientName} exited with ${loaded.result.exitCode}: ${text || '(no output)'}`,
          loaded.linesValid ? request.engine.loader.errorLine(loaded.result.output) : undefined,
        );
      }
      const loadedAt = Date.now();
      log.info({ seconds: (loadedAt - readyAt) / 1000 }, 'dump loaded; shutting the server down cleanly');
      const after = await stat(request.dump.path);
      if (dumpSignature(after) !== request.trigger.dump) {
        throw new ImportError('the dump changed while it was being imported; importing again');
      }
      // A clean shutdown, so clones start without crash recovery.
      await runtime.stop(server.id, 600);
      const stopped = await runtime.inspect(server.id);
      if (stopped?.exitCode !== undefined && stopped.exitCode !== 0) {
        const logs = await runtime.logs(server.id, 20);
        throw new ImportError(`import server did not shut down cleanly (exit ${stopped.exitCode}):\n${logs}`);
      }
      await runtime.remove(server.id);
      server = undefined;
      await storage.seal(work, layout.versionDir(request.template, request.version));
      const meta: VersionMeta = {
        version: request.version,
        createdAt: Date.now(),
        engine: request.engine.name,
        image: request.image,
        database: request.database,
        adminPassword: admin.password,
        trigger: request.trigger,
        dumpSha256: hash.digest('hex'),
        dumpBytes: request.dump.size,
        durationSeconds: (Date.now() - started) / 1000,
        loadJobs: parallel ? request.jobs : 1,
        phases: {
          startSeconds: (readyAt - started) / 1000,
          loadSeconds: (loadedAt - readyAt) / 1000,
          finishSeconds: (Date.now() - loadedAt) / 1000,
        },
      };
      await versions.writeMeta(request.template, meta);
      log.info({ seconds: meta.durationSeconds, bytes: meta.dumpBytes }, 'import succeeded');
      return meta;
    } catch (error) {
      // Measured before the discard gives the space back: a full disk is then still visible.
      const explained = await explainFailure(layout.root, (error as Error).message);
      await this.#discard(request, server);
      if (explained !== (error as Error).message) {
        throw new ImportError(explained, error instanceof ImportError ? error.line : undefined);
      }
      throw error;
    } finally {
      dumpFile?.destroy();
      clearTimeout(timeout);
      request.signal.removeEventListener('abort', abort);
    }
  }

  /** Streams the dump (decompressed on the way) into the engine's client, as `client < dump` would. */
  async #stream(
    request: ImportRequest,
    server: ServerInfo,
    admin: Credentials,
    hash: Hash,
    log: Logger,
    track: (session: ExecSession) => ExecSession,
    opened: (file: ReturnType<typeof createReadStream>) => void,
  ): Promise<LoadOutcome> {
    const { runtime } = this.deps;
    const progress = new ProgressCounter(
      new ProgressReporter(request.dump.size, request.onProgress, log),
      hash,
    );
    const file = createReadStream(request.dump.path);
    opened(file);
    // Decompressed while streaming, never to a temp file; a read or gzip error ends the input.
    const decoded = request.dump.gzip ? createGunzip() : new PassThrough();
    file.on('error', (error) => decoded.destroy(error));
    progress.on('error', (error) => decoded.destroy(error));
    file.pipe(progress).pipe(decoded);
    let clientName = 'client';
    const { result, linesValid } = await request.engine.loader.load(
      decoded,
      (format) => {
        const c = request.engine.loader.client(runtime.execEndpoint(server), admin, request.database, format);
        clientName = c.argv[0] ?? clientName;
        return runtime.exec(server.id, c.argv, c.env).then(track);
      },
      log,
    );
    progress.finish();
    return { result, linesValid, clientName, problems: (output) => output };
  }

  /**
   * The engine's client reads the dump file itself with several connections; progress counts the
   * dump's items as the client reports them done.
   */
  async #loadFromFile(
    request: ImportRequest,
    server: ServerInfo,
    admin: Credentials,
    load: ParallelLoad,
    hash: Hash,
    log: Logger,
    track: (session: ExecSession) => ExecSession,
  ): Promise<LoadOutcome> {
    const { runtime } = this.deps;
    const file = runtime.inputPath(request.dump.path);
    // Listing the items first also fails early, and clearly, on a broken dump.
    const list = load.list(file);
    const items = new Set<string>();
    const listing = track(await runtime.exec(server.id, list.argv, list.env));
    const listed = eachLine((line) => {
      const item = load.listedItem(line);
      if (item !== undefined) items.add(item);
    });
    listing.onOutput(listed.push);
    listing.stdin.end();
    const listResult = await listing.result;
    listed.end();
    const problems = (output: string) => load.problems(output);
    if (listResult.exitCode !== 0) {
      return { result: listResult, linesValid: false, clientName: list.argv[0] ?? 'client', problems };
    }
    const reporter = new ProgressReporter(request.dump.size, request.onProgress, log);
    const client = load.load(file, runtime.execEndpoint(server), admin, request.database);
    const session = track(await runtime.exec(server.id, client.argv, client.env));
    session.stdin.end();
    // The dump's hash (kept with the version) is read beside the load, which reads the file itself;
    // awaited only when the load succeeded, and stopped when it did not.
    const hashInput = createReadStream(request.dump.path);
    const hashed = (async () => {
      for await (const chunk of hashInput) hash.update(chunk as Buffer);
    })();
    hashed.catch(() => undefined);
    const total = items.size;
    const finished = new Set<string>();
    const output = eachLine((line) => {
      const item = load.doneItem(line);
      if (item === undefined || !items.has(item) || finished.has(item)) return;
      finished.add(item);
      reporter.items(finished.size, total);
    });
    session.onOutput(output.push);
    const result = await session.result;
    output.end();
    if (result.exitCode === 0) await hashed;
    else hashInput.destroy();
    const unreported = [...items].filter((item) => !finished.has(item)).slice(0, 10);
    log.info(
      { itemsDone: finished.size, itemsTotal: total, unreported, exitCode: result.exitCode },
      'dump items loaded',
    );
    if (result.exitCode === 0) reporter.items(total, total);
    return { result, linesValid: false, clientName: client.argv[0] ?? 'client', problems };
  }

  /** The initialised empty datadir for this server identity, made once (by the image's own init). */
  async #initializedDataDir(request: ImportRequest, log: Logger): Promise<CachedDataDir> {
    const identity = await this.deps.runtime.serverIdentity(request.image, request.engine);
    const dir = this.deps.layout.initCache(identity);
    const meta = await readJson<CachedDataDir>(`${dir}.json`).catch(() => undefined);
    if (meta && (await this.deps.storage.exists(dir))) return { ...meta, dir };
    let building = this.#building.get(identity);
    if (!building) {
      building = this.#buildCache(request, identity, log).finally(() => this.#building.delete(identity));
      this.#building.set(identity, building);
    }
    return building;
  }

  async #buildCache(request: ImportRequest, identity: string, log: Logger): Promise<CachedDataDir> {
    const { layout, storage, runtime } = this.deps;
    const dir = layout.initCache(identity);
    const building = `${dir}.building`;
    // Whatever a crash left half-made goes first.
    await storage.remove(building);
    await storage.remove(dir);
    await rm(`${dir}.json`, { force: true });
    log.info({ identity }, 'initialising an empty datadir for this server (once per image)');
    await storage.createVolume(building);
    await runtime.prepareDataDir(building, request.engine);
    const adminPassword = newSecret();
    const server = await runtime.create({
      role: 'Import',
      owner: request.template,
      template: request.template,
      templateVersion: request.version,
      image: request.image,
      dataDir: building,
      engine: request.engine,
      init: { adminPassword },
      args: [],
    });
    try {
      const alive = async () => (await runtime.inspect(server.id))?.running ?? false;
      const deadline = Date.now() + (this.deps.startTimeoutSeconds ?? 300) * 1000;
      const admin = { user: request.engine.admin.user, password: adminPassword };
      await request.engine.admin
        .waitReady({ host: runtime.connectHost, port: server.hostPort ?? 0 }, admin, deadline, alive)
        .catch(async (error) => {
          const logs = await runtime.logs(server.id, 20);
          throw new ImportError(
            `the server could not initialise a datadir: ${(error as Error).message}\n${logs}`,
          );
        });
      await runtime.stop(server.id, 120);
      await runtime.remove(server.id);
      await storage.seal(building, dir);
      const cached = { adminPassword, createdAt: Date.now() };
      await writeJsonAtomic(`${dir}.json`, cached);
      return { ...cached, dir };
    } catch (error) {
      await runtime.remove(server.id).catch(() => undefined);
      await storage.remove(building).catch(() => undefined);
      throw error;
    }
  }

  async #discard(request: ImportRequest, server: ServerInfo | undefined): Promise<void> {
    const { layout, storage, runtime } = this.deps;
    if (server) await runtime.remove(server.id).catch(() => undefined);
    await storage.remove(layout.workVolume(request.template, request.version)).catch(() => undefined);
    await storage.remove(layout.versionDir(request.template, request.version)).catch(() => undefined);
  }
}

/** Reports progress to the status now and then (every 2 s) and to the log less often (every 10 s). */
class ProgressReporter {
  #lastReport = 0;
  #lastLog = 0;
  readonly #started = Date.now();

  constructor(
    readonly total: number,
    readonly report: (progress: ImportProgress) => void,
    readonly log: Logger,
  ) {}

  /** Bytes of the dump read so far. */
  bytes(read: number, force = false): void {
    this.#update(read, undefined, force);
  }

  /** Items done of all: the bytes are estimated in proportion (items differ in size; it is a guide). */
  items(done: number, total: number): void {
    const read = total > 0 ? Math.round((this.total * Math.min(done, total)) / total) : 0;
    this.#update(read, { itemsDone: Math.min(done, total), itemsTotal: total }, done >= total);
  }

  #update(read: number, items: Pick<ImportProgress, 'itemsDone' | 'itemsTotal'> | undefined, force: boolean) {
    const now = Date.now();
    if (!force && now - this.#lastReport < 2000) return;
    this.#lastReport = now;
    const seconds = Math.max(0.001, (now - this.#started) / 1000);
    const rate = read / seconds;
    const progress: ImportProgress = {
      bytesRead: read,
      bytesTotal: this.total,
      bytesPerSecond: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round((this.total - read) / rate) : -1,
      ...items,
    };
    this.report(progress);
    if (now - this.#lastLog >= 10_000) {
      this.#lastLog = now;
      this.log.info(progress, 'import progress');
    }
  }
}

/** Counts dump bytes as they are read (before decompression), hashing them. */
class ProgressCounter extends Transform {
  #bytes = 0;

  constructor(
    readonly reporter: ProgressReporter,
    readonly hash: Hash,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    this.hash.update(chunk);
    this.reporter.bytes(this.#bytes);
    callback(null, chunk);
  }

  finish(): void {
    this.reporter.bytes(this.#bytes, true);
  }
}

/** What a load ended with, and how to read its client's output. */
interface LoadOutcome {
  readonly result: ExecResult;
  /** Whether the client's "at line N" counts lines of the dump. */
  readonly linesValid: boolean;
  readonly clientName: string;
  /** The lines of the output that say what went wrong. */
  readonly problems: (output: string) => string;
}

/** Calls `onLine` with each complete line of text pushed in pieces. */
function eachLine(onLine: (line: string) => void): { push: (text: string) => void; end: () => void } {
  let rest = '';
  return {
    push: (text) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    },
    end: () => {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

/** The first 4 KiB of a file (what engines tell dump formats by). */
async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
