import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { engineFor } from '../controller/engine/engines.js';
import type { EngineName } from '../controller/objects/index.js';
import { run as runCommand } from '../controller/util/exec.js';
import { DOCKER_BTRFS, PROCESS_COPY, type Pair, type TestBed } from '../test/support/testbed.js';
import { waitFor } from '../test/support/wait.js';

/** Statistics and reporting shared by the benchmarks: figures are always side by side with a reference. */

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
}

export interface Comparison {
  readonly name: string;
  readonly ours: number[];
  readonly reference: number[];
  readonly unit: string;
  /** What the ratio should be at most (ours / reference), or at least when `atLeast`. */
  readonly target?: number;
  readonly atLeast?: boolean;
}

export function summarize(c: Comparison) {
  const oursMedian = median(c.ours);
  const refMedian = median(c.reference);
  const ratio = oursMedian / refMedian;
  const met =
    c.target === undefined ? undefined : c.atLeast ? refMedian / oursMedian >= c.target : ratio <= c.target;
  return {
    name: c.name,
    unit: c.unit,
    n: c.ours.length,
    ours: { median: round(oursMedian), p95: round(p95(c.ours)) },
    reference: { median: round(refMedian), p95: round(p95(c.reference)) },
    ratio: round(ratio, 3),
    ...(c.atLeast ? { speedup: round(refMedian / oursMedian, 3) } : {}),
    ...(c.target === undefined
      ? {}
      : { target: c.atLeast ? `>= ${c.target}x faster` : `<= ${c.target}x`, met }),
  };
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function printTable(rows: ReturnType<typeof summarize>[]): void {
  const header = ['benchmark', 'n', 'ours median', 'ours p95', 'ref median', 'ref p95', 'ours/ref', 'target'];
  const lines = rows.map((r) => [
    r.name,
    String(r.n),
    `${r.ours.median} ${r.unit}`,
    `${r.ours.p95} ${r.unit}`,
    `${r.reference.median} ${r.unit}`,
    `${r.reference.p95} ${r.unit}`,
    'speedup' in r ? `${r.speedup}x faster` : `${r.ratio}x`,
    'target' in r ? `${r.target} ${r.met ? 'met' : 'MISSED'}` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  for (const line of [header, ...lines]) console.log(line.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

export function machine() {
  let fs = '';
  try {
    fs = execFileSync('stat', ['-f', '-c', '%T', '/var/lib/myaas-test/btrfs']).toString().trim();
  } catch {
    fs = 'unknown';
  }
  return {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: os.release(),
    benchFilesystem: fs,
  };
}

export function writeResults(name: string, data: unknown): string {
  const dir = path.resolve(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** A server of `image` started by hand (labelled for test-env's clean-up), its container port published. */
export async function runServer(
  docker: Docker,
  options: {
    image: string;
    containerPort: number;
    env?: string[];
    cmd?: string[];
    user?: string;
    binds?: string[];
    stopSignal?: string;
  },
): Promise<{ container: Docker.Container; port: number }> {
  const key = `${options.containerPort}/tcp`;
  const container = await docker.createContainer({
    Image: options.image,
    ...(options.cmd ? { Cmd: options.cmd } : {}),
    ...(options.env ? { Env: options.env } : {}),
    ...(options.user ? { User: options.user } : {}),
    ...(options.stopSignal ? { StopSignal: options.stopSignal } : {}),
    Labels: { 'myaas.test': '1' },
    ExposedPorts: { [key]: {} },
    HostConfig: {
      ...(options.binds ? { Binds: options.binds } : {}),
      PortBindings: { [key]: [{ HostPort: '' }] },
    },
  });
  await container.start();
  const port = await waitFor(
    'port',
    async () => Number((await container.inspect()).NetworkSettings.Ports[key]?.[0]?.HostPort ?? 0),
    30_000,
    5,
  );
  return { container, port };
}

/** Polls until a client of `engine` connects and runs `SELECT 1`: the first query, as users see it. */
export async function firstQuery(
  engine: EngineName,
  port: number,
  user: string,
  password: string,
  options: { database?: string; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    try {
      if (engine === 'postgres') {
        const client = new pg.Client({
          host: '127.0.0.1',
          port,
          user,
          password,
          database: options.database ?? 'postgres',
          connectionTimeoutMillis: 2000,
        });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
        } finally {
          await client.end().catch(() => undefined);
        }
      } else {
        const c = await mysql.createConnection({
          host: '127.0.0.1',
          port,
          user,
          password,
          connectTimeout: 2000,
        });
        await c.query('SELECT 1');
        await c.end();
      }
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/**
 * The MariaDB raw floor by hand: a btrfs snapshot of a template version and the image's server on
 * it, as the controller would run it (same user, datadir mount and server option).
 */
export async function snapshotAndRunMariadb(
  docker: Docker,
  image: string,
  source: string,
  clone: string,
): Promise<{ container: Docker.Container; port: number }> {
  await runCommand('btrfs', ['subvolume', 'snapshot', source, clone]);
  return runServer(docker, {
    image,
    containerPort: 3306,
    cmd: ['--skip-name-resolve'],
    user: '999:999',
    binds: [`${clone}:/var/lib/mysql`],
  });
}

/** A tiny dump that makes a big datadir: rows generated server-side from the Sequence engine. */
export function generatedMariadbDump(mib: number): string {
  const rows = Math.round((mib * 1024 * 1024) / 290);
  return `CREATE TABLE items (id INT PRIMARY KEY, k INT NOT NULL, name VARCHAR(64) NOT NULL, pad CHAR(200) NOT NULL, KEY (k)) ENGINE=InnoDB;
INSERT INTO items SELECT seq, seq % 1000, CONCAT('name-', seq), REPEAT('x', 200) FROM seq_1_to_${rows};
`;
}

/**
 * The process runtime's raw floor by hand: the host's MariaDB server started on `dataDir` (as the
 * controller starts it: its own run dir, the mysql user when we are root), on a random port. The
 * caller runs the first query; `stop` kills the server and removes the run dir.
 */
export async function runHostMariadb(
  dataDir: string,
  runDir: string,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const engine = engineFor('mariadb');
  await engine.host.check();
  const port = 20000 + Math.floor(Math.random() * 20000);
  // The server's own files, where its user (mysql, when we are root) may write them.
  await mkdir(runDir, { recursive: true });
  if (process.getuid?.() === 0) await runCommand('chown', ['mysql:mysql', runDir]);
  const { command, args } = engine.host.command({
    dataDir,
    port,
    bindAddress: '127.0.0.1',
    socket: path.join(runDir, 'mysqld.sock'),
    pidFile: path.join(runDir, 'mysqld.pid'),
    errorLog: path.join(runDir, 'error.log'),
    ...(process.getuid?.() === 0 ? { user: 'mysql' } : {}),
    args: ['--skip-name-resolve'],
  });
  const child = spawn(command, args, { stdio: 'ignore' });
  return {
    port,
    stop: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await rm(runDir, { recursive: true, force: true });
    },
  };
}

/**
 * The MariaDB raw floor of both pairs, by hand: copy `sourceDir` (btrfs snapshot, or cp with reflink
 * where it can), start the same server on the copy, first query as root. Returns the milliseconds;
 * the server and the copy are always removed (a server left on a deleted snapshot keeps it alive,
 * and every later `btrfs subvolume sync` waits for it).
 */
export async function mariadbFloor(
  bed: TestBed,
  pair: Pair,
  sourceDir: string,
  rootPassword: string,
  i: number,
): Promise<number> {
  const clone = path.join(bed.dir, `floor-${i}`);
  const started = performance.now();
  if (pair.runtime === 'docker') {
    const { container, port } = await snapshotAndRunMariadb(bed.docker, bed.config.image, sourceDir, clone);
    try {
      await firstQuery('mariadb', port, 'root', rootPassword, { timeoutMs: 60_000 });
      return performance.now() - started;
    } finally {
      await container.remove({ force: true });
      await runCommand('btrfs', ['subvolume', 'delete', clone]);
    }
  }
  await runCommand('cp', ['-a', '--reflink=auto', sourceDir, clone], { timeoutMs: 600_000 });
  // A live source's pid file came along; the server refuses a datadir that names another pid.
  await rm(path.join(clone, 'mysqld.pid'), { force: true });
  const server = await runHostMariadb(clone, path.join(bed.dir, `floor-run-${i}`));
  try {
    await firstQuery('mariadb', server.port, 'root', rootPassword, { timeoutMs: 60_000 });
    return performance.now() - started;
  } finally {
    await server.stop();
    await rm(clone, { recursive: true, force: true });
  }
}

/** Removes a database (its spec file, or a DELETE to `viaApi`) and waits until its server is gone too. */
export async function removeDatabaseAndWait(
  bed: TestBed,
  name: string,
  options: { viaApi?: string; timeoutMs?: number } = {},
): Promise<void> {
  if (options.viaApi) await fetch(options.viaApi, { method: 'DELETE' });
  else bed.removeSpec(`${name}.yaml`);
  await waitFor(
    `${name} removed`,
    async () => !bed.database(name) && (await bed.serversOf(name)).length === 0,
    options.timeoutMs ?? 60_000,
    20,
  );
}

/** What a database's stored status says about reaching it, and its own user's password. */
export interface StoredDatabase {
  readonly status: {
    readonly phase: string;
    readonly connection?: { readonly port: number; readonly user: string; readonly database: string };
  };
  readonly record: { readonly user: { readonly password: string } };
}

/**
 * Polls `lookup` every `pollMs` until the database is Ready, then runs its first query as its own
 * user: what a user of a spec waits for.
 */
export async function queryWhenReady(
  engine: EngineName,
  name: string,
  lookup: () => StoredDatabase | undefined,
  timeoutMs: number,
  pollMs: number,
): Promise<void> {
  const ready = await waitFor(
    `${name} Ready`,
    () => {
      const stored = lookup();
      return stored?.status.phase === 'Ready' ? stored : undefined;
    },
    timeoutMs,
    pollMs,
  );
  const c = ready.status.connection!;
  await firstQuery(engine, c.port, c.user, ready.record.user.password, { database: c.database });
}

/**
 * Waits until btrfs has reclaimed deleted subvolumes and the page cache is written (a no-op
 * elsewhere): each repetition starts on a quiet filesystem, not paying for the previous one.
 */
export function settleFilesystem(dir: string): Promise<void> {
  return new Promise<void>((resolve) =>
    // Bounded: a deleted subvolume still in use by some leftover server is never cleaned, and an
    // unbounded sync would hang the benchmark (and everyone queued behind it) on it.
    execFile('btrfs', ['subvolume', 'sync', dir], { timeout: 60_000 }, () =>
      execFile('sync', [], () => resolve()),
    ),
  );
}

/** `--name value` from the command line, or the fallback. */
export function option(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
}

/** `--pairs docker,process` (or the fallback): the runtime/storage pairs a benchmark runs on. */
export function pairsOption(fallback = 'docker,process'): Pair[] {
  return option('pairs', fallback)
    .split(',')
    .map((p) => (p === 'docker' ? DOCKER_BTRFS : PROCESS_COPY));
}

/** `--sizes 10,1024` (or the fallback): the template sizes in MiB. */
export function sizesOption(fallback: string): number[] {
  return option('sizes', fallback).split(',').map(Number);
}

/** POST to the seed API, then the answer's credentials and SELECT 1: what a seed API client waits for. */
export async function postToQuery(base: string, template: string, name: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${base}/db/${template}/${name}`, {
    method: 'POST',
    body: 'ttl=3600',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { port: string; user: string; password: string };
  await firstQuery('mariadb', Number(body.port), body.user, body.password);
  return performance.now() - started;
}
