import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Credentials, Engine, ParallelLoad } from '../engine/engine.js';
import type { ExecResult, ExecSession } from '../engine/sessions.js';
import type { Logger } from '../log.js';
import type { ImportProgress } from '../objects/index.js';
import type { Runtime, ServerInfo } from '../runtime/runtime.js';
import type { DumpFile, ResolvedStep } from './dump-file.js';
import { ProgressCounter, ProgressReporter, eachLine } from './import-progress.js';
import { SchemaOnlyFilter } from './schema-only.js';

/** Everything a load strategy works with: the import server, its admin, the dump and where to report. */
export interface LoadContext {
  readonly runtime: Runtime;
  readonly server: ServerInfo;
  readonly engine: Engine;
  readonly admin: Credentials;
  readonly database: string;
  readonly dump: DumpFile;
  /** The dump's bytes go through this as they are read (kept with the version). */
  readonly hash: Hash;
  readonly onProgress: (progress: ImportProgress) => void;
  readonly log: Logger;
  /** Every client session goes through this, so an abort can end it. */
  readonly track: (session: ExecSession) => ExecSession;
  /** Load no rows (spec.import.schemaOnly): text dumps are filtered as they stream, archives by a flag. */
  readonly schemaOnly?: boolean;
  /** A dump table's rows past this many bytes load through LOAD DATA where the engine can (-1: never). */
  readonly loadDataAfterBytes?: number;
}

/** What running a script needs: the load's context without the dump (a snapshot template has none). */
export type ScriptContext = Omit<LoadContext, 'dump' | 'hash' | 'onProgress'>;

/** What a load ended with, and how to read its client's output. */
export interface LoadOutcome {
  readonly result: ExecResult;
  /** Whether the client's "at line N" counts lines of the dump. */
  readonly linesValid: boolean;
  readonly clientName: string;
  /** The lines of the output that say what went wrong. */
  readonly problems: (output: string) => string;
}

/**
 * Streams the dump (decompressed on the way) into the engine's client, as `client < dump` would.
 * `opened` gets the file stream, so the caller can close it whatever happens.
 */
export async function streamDump(
  context: LoadContext,
  opened: (file: ReturnType<typeof createReadStream>) => void,
): Promise<LoadOutcome> {
  const { dump, log } = context;
  const progress = new ProgressCounter(
    new ProgressReporter(dump.size, context.onProgress, log),
    context.hash,
  );
  const file = createReadStream(dump.path);
  opened(file);
  // Decompressed while streaming, never to a temp file; a read or gzip error ends the input.
  const decoded = dump.gzip ? createGunzip() : new PassThrough();
  file.on('error', (error) => decoded.destroy(error));
  progress.on('error', (error) => decoded.destroy(error));
  file.pipe(progress).pipe(decoded);
  let input: Readable = decoded;
  if (context.schemaOnly) {
    const filter = new SchemaOnlyFilter();
    decoded.on('error', (error) => filter.destroy(error));
    input = decoded.pipe(filter);
    filter.once('end', () =>
      log.info({ skippedLines: filter.skippedLines }, 'schema only: the rows were skipped'),
    );
  }
  const outcome = await loadThroughClient(context, input);
  progress.finish();
  return outcome;
}

/**
 * A post-import step: its script (or inline SQL) through the engine's client, as a dump is, so the
 * same refusal of commands applies; its "at line N" counts the script's lines.
 */
export async function runScript(context: ScriptContext, step: ResolvedStep): Promise<LoadOutcome> {
  const input = step.file ? createReadStream(step.file.path) : Readable.from([Buffer.from(step.sql ?? '')]);
  try {
    return await loadThroughClient(context, input);
  } finally {
    input.destroy();
  }
}

async function loadThroughClient(context: ScriptContext, input: Readable): Promise<LoadOutcome> {
  const { runtime, server, engine, log } = context;
  let clientName = 'client';
  const { result, linesValid } = await engine.loader.load(
    input,
    (format = 'sql', options = {}) => {
      const c = engine.loader.client(
        runtime.programs.endpoint(server),
        context.admin,
        context.database,
        format,
        runtime.programs.place,
        { schemaOnly: context.schemaOnly ?? false, ...options },
      );
      // The loader's own LOAD DATA clients are not the one a failure should name.
      if (options.execute === undefined) clientName = c.argv[0] ?? clientName;
      return runtime.programs.exec(server.id, c.argv, c.env).then(context.track);
    },
    log,
    runtime.programs.place,
    context.loadDataAfterBytes === undefined ? {} : { loadDataAfterBytes: context.loadDataAfterBytes },
  );
  return { result, linesValid, clientName, problems: (output) => output };
}

/**
 * The engine's client reads the dump file itself with several connections; progress counts the
 * dump's items as the client reports them done.
 */
export async function loadFromFile(context: LoadContext, load: ParallelLoad): Promise<LoadOutcome> {
  const { runtime, server, dump, log } = context;
  const file = runtime.programs.inputPath(dump.path);
  const problems = (output: string) => load.problems(output);
  // Listing the items first also fails early, and clearly, on a broken dump.
  const list = load.list(file);
  const { result: listResult, items } = await listItems(context, list.argv, list.env, load);
  if (listResult.exitCode !== 0) {
    return { result: listResult, linesValid: false, clientName: list.argv[0] ?? 'client', problems };
  }
  const reporter = new ProgressReporter(dump.size, context.onProgress, log);
  const client = load.load(file, runtime.programs.endpoint(server), context.admin, context.database);
  const session = context.track(await runtime.programs.exec(server.id, client.argv, client.env));
  session.stdin.end();
  // The dump's hash (kept with the version) is read beside the load, which reads the file itself;
  // awaited only when the load succeeded, and stopped when it did not.
  const hashInput = createReadStream(dump.path);
  const hashed = (async () => {
    for await (const chunk of hashInput) context.hash.update(chunk as Buffer);
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

/** Runs the listing beside the server: the ids of the items progress counts. */
async function listItems(
  context: LoadContext,
  argv: string[],
  env: Record<string, string>,
  load: ParallelLoad,
): Promise<{ result: ExecResult; items: Set<string> }> {
  const items = new Set<string>();
  const listing = context.track(await context.runtime.programs.exec(context.server.id, argv, env));
  const listed = eachLine((line) => {
    const item = load.listedItem(line);
    if (item !== undefined) items.add(item);
  });
  listing.onOutput(listed.push);
  listing.stdin.end();
  const result = await listing.result;
  listed.end();
  return { result, items };
}

/** The first 4 KiB of a file (what engines tell dump formats by). */
export async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
