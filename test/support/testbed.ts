import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import Docker from 'dockerode';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { type ControllerConfig, defaultConfig } from '../../controller/config.js';
import { engineFor } from '../../controller/engine/engines.js';
import { createLogger, silentLogger } from '../../controller/log.js';
import type { DatabaseStatus, Kind, TemplateStatus } from '../../controller/objects/index.js';
import { type RunningController, controllerIdFor, startController } from '../../controller/run.js';
import { DockerRuntime } from '../../controller/runtime/docker-runtime.js';
import { ProcessRuntime } from '../../controller/runtime/process-runtime.js';
import { LABELS, type Runtime, type ServerInfo } from '../../controller/runtime/runtime.js';
import type { StoredObject } from '../../controller/state/status-store.js';
import { BtrfsStorage } from '../../controller/storage/btrfs-storage.js';
import { shopDump } from './dumps.js';
import { testEnvironment } from './environment.js';
import { specFile, templateObject } from './specs.js';
import { waitFor } from './wait.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'dist/controller/main.js');

/** A runtime/storage pair the shared cases run on. */
export interface Pair {
  readonly runtime: 'docker' | 'process';
  readonly storage: 'btrfs' | 'copy';
}

export const DOCKER_BTRFS: Pair = { runtime: 'docker', storage: 'btrfs' };
export const PROCESS_COPY: Pair = { runtime: 'process', storage: 'copy' };

export interface TestBedOptions {
  readonly pair?: Pair;
  readonly config?: Partial<ControllerConfig>;
  /** Log level of the controller (default debug: the log is the first thing read when a test fails). */
  readonly logLevel?: string;
  /** The data root, when it must live elsewhere than the bed's folder (a filesystem of its own). */
  readonly dataDir?: string;
}

/**
 * One controller on real parts (dockerd, btrfs, MariaDB) with its own folders; run in-process or as
 * a child process (to kill -9 it). `destroy` removes what it made, by id.
 */
export class TestBed {
  readonly env = testEnvironment();
  readonly dir: string;
  readonly specsDir: string;
  readonly dumpsDir: string;
  readonly dataDir: string;
  /** Tests may change it between a stop and the next start/spawn. */
  config: ControllerConfig;
  readonly docker: Docker;
  running: RunningController | undefined;
  readonly #logLevel: string;
  child: ChildProcess | undefined;

  constructor(name: string, options: TestBedOptions = {}) {
    const pair = options.pair ?? DOCKER_BTRFS;
    // process+copy runs on the machine's ordinary filesystem, as on a laptop; docker+btrfs on the loop btrfs.
    const base = pair.storage === 'btrfs' ? this.env.btrfsRoot : '/var/tmp';
    this.dir = path.join(base, `tb-${name}-${randomBytes(3).toString('hex')}`);
    this.specsDir = path.join(this.dir, 'specs');
    this.dumpsDir = path.join(this.dir, 'dumps');
    this.dataDir = options.dataDir ?? path.join(this.dir, 'data');
    this.#logLevel = options.logLevel ?? 'debug';
    // Readable by the server's own user: the process runtime runs mariadbd as mysql when we are root.
    for (const d of [this.dir, this.specsDir, this.dumpsDir, this.dataDir])
      mkdirSync(d, { recursive: true, mode: 0o755 });
    this.config = {
      ...defaultConfig(this.dir),
      specsDir: this.specsDir,
      dumpsDir: this.dumpsDir,
      dataDir: this.dataDir,
      runtime: pair.runtime,
      storage: pair.storage,
      image: this.env.image,
      postgresImage: this.env.pgImage,
      resyncSeconds: 5,
      importMemoryMiB: 256,
      // Fixed, not the machine's core count: the parallel load path runs on every machine.
      importJobs: 2,
      implicitTemplates: false,
      // Short: most tests remove specs and wait for the removal; the grace has tests of its own.
      removalGraceSeconds: 1,
      ...options.config,
    };
    this.docker = new Docker({ socketPath: this.env.dockerSocket });
  }

  get controllerId(): string {
    return controllerIdFor(this.dataDir);
  }

  writeSpec(file: string, ...objects: Record<string, unknown>[]): void {
    const full = path.join(this.specsDir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, specFile(...objects));
  }

  removeSpec(file: string): void {
    rmSync(path.join(this.specsDir, file), { force: true });
  }

  writeDump(file: string, sql: string): void {
    const full = path.join(this.dumpsDir, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, file.endsWith('.gz') ? gzipSync(sql) : sql);
  }

  /**
   * Declares the `shop` template (the shared test dump, gzipped when `dumpFile` ends in .gz) in
   * shop.yaml, with any other objects the test wants in the same file.
   */
  declareShop(dumpFile = 'shop.sql', ...objects: Record<string, unknown>[]): void {
    this.writeDump(dumpFile, shopDump(3, 'v1'));
    this.writeSpec('shop.yaml', templateObject('shop', { source: { path: dumpFile } }), ...objects);
  }

  /** Starts the controller in this process. */
  async start(): Promise<RunningController> {
    const log = createLogger({
      level: this.#logLevel,
      stream: createWriteStream(path.join(this.dir, 'controller.log'), { flags: 'a' }),
    });
    this.running = await startController(this.config, log);
    return this.running;
  }

  /**
   * Starts the controller as a child process (the built CLI), so it can be killed for real; `env` adds
   * to its environment (e.g. MYAAS_FAULT_POINT).
   */
  async spawn(as?: { uid: number; gid: number }, env: Record<string, string> = {}): Promise<ChildProcess> {
    const log = createWriteStream(path.join(this.dir, 'controller.log'), { flags: 'a' });
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'controller',
        '--specs',
        this.specsDir,
        '--dumps',
        this.dumpsDir,
        '--data',
        this.dataDir,
        '--runtime',
        this.config.runtime,
        '--storage',
        this.config.storage,
        '--image',
        this.config.image,
        '--postgres-image',
        this.config.postgresImage,
        '--resync',
        String(this.config.resyncSeconds),
        ...(this.config.implicitTemplates ? [] : ['--no-implicit-templates']),
        '--database-memory',
        String(this.config.databaseMemoryMiB),
        '--deletion-guard',
        String(this.config.deletionGuardMax),
        '--deletion-guard-limit',
        String(this.config.deletionGuardLimit),
        '--removal-grace',
        String(this.config.removalGraceSeconds),
        '--trash-retention',
        String(this.config.trashRetentionSeconds),
        '--import-jobs',
        String(this.config.importJobs),
        '--import-load-data-after',
        this.config.importLoadDataAfterBytes < 0 ? 'off' : String(this.config.importLoadDataAfterBytes),
        // Any free port: several beds may run at once.
        '--listen',
        '127.0.0.1:0',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MYAAS_LOG_LEVEL: this.#logLevel, MYAAS_IMPORT_MEMORY_MIB: '256', ...env },
        ...(as ? { uid: as.uid, gid: as.gid } : {}),
      },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    return child;
  }

  async kill9(): Promise<void> {
    const child = this.child;
    // A child killed by a signal has no exit code, only a signal code.
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.child = undefined;
      return;
    }
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.running?.stop();
    this.running = undefined;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      // The controller gives itself 20 s; a test must never leave one behind.
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    this.child = undefined;
  }

  stored<K extends Kind>(kind: K, name: string): StoredObject<K> | undefined {
    const file = path.join(this.dataDir, 'state', `${kind.toLowerCase()}s`, `${name}.json`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as StoredObject<K>;
    } catch {
      return undefined;
    }
  }

  database(name: string) {
    return this.stored('Database', name);
  }

  template(name: string) {
    return this.stored('Template', name);
  }

  async waitForDatabase(name: string, phase: DatabaseStatus['phase'], timeoutMs = 90_000) {
    return waitFor(
      `Database/${name} ${phase} (${JSON.stringify(this.database(name)?.status.message ?? '')})`,
      () => {
        const db = this.database(name);
        return db?.status.phase === phase ? db : undefined;
      },
      timeoutMs,
      50,
    );
  }

  async waitForTemplate(
    name: string,
    check: (status: TemplateStatus) => boolean,
    what: string,
    timeoutMs = 120_000,
  ) {
    return waitFor(
      `Template/${name} ${what} (${JSON.stringify(this.template(name)?.status ?? {})})`,
      () => {
        const t = this.template(name);
        return t && check(t.status) ? t : undefined;
      },
      timeoutMs,
      100,
    );
  }

  /** Connects to a ready database with the credentials its status gives. */
  async connect(name: string): Promise<mysql.Connection> {
    const db = this.database(name);
    if (!db?.status.connection) throw new Error(`Database/${name} has no connection info`);
    return mysql.createConnection({
      host: '127.0.0.1',
      port: db.status.connection.port,
      user: db.status.connection.user,
      password: db.record.user.password,
      database: db.status.connection.database,
      multipleStatements: true,
    });
  }

  async query<T = unknown>(name: string, sql: string): Promise<T[]> {
    const db = this.database(name);
    if (db?.status.engine === 'postgres') {
      const client = new pg.Client({
        host: '127.0.0.1',
        port: db.status.connection?.port,
        user: db.status.connection?.user,
        password: db.record.user.password,
        database: db.status.connection?.database,
      });
      client.on('error', () => undefined);
      await client.connect();
      try {
        return (await client.query(sql)).rows as T[];
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    const connection = await this.connect(name);
    try {
      const [rows] = await connection.query(sql);
      return rows as T[];
    } finally {
      await connection.end();
    }
  }

  /** This controller's servers, as its runtime finds them (containers, or host processes). */
  async servers(): Promise<ServerInfo[]> {
    return (await this.#runtime()).servers.list();
  }

  async serversOf(name: string): Promise<ServerInfo[]> {
    return (await this.servers()).filter((s) => s.role === 'Database' && s.owner === name);
  }

  /** Kills a database's server from outside (docker kill, or SIGKILL of the process). */
  async killServer(name: string): Promise<void> {
    const [server] = await this.serversOf(name);
    if (!server) throw new Error(`no server for ${name}`);
    if (this.config.runtime === 'docker') {
      await this.docker.getContainer(server.id).kill();
    } else {
      const file = JSON.parse(
        readFileSync(path.join(this.dataDir, 'run', server.id, 'server.json'), 'utf8'),
      ) as { pid: number };
      process.kill(file.pid, 'SIGKILL');
    }
  }

  /** This controller's runtime, as a second instance (servers are found, not remembered). */
  async runtime(): Promise<Runtime> {
    return this.#runtime();
  }

  #runtimeInstance: Runtime | undefined;
  async #runtime(): Promise<Runtime> {
    this.#runtimeInstance ??=
      this.config.runtime === 'docker'
        ? new DockerRuntime({
            docker: this.docker,
            controllerId: this.controllerId,
            containerUser: '999:999',
            log: silentLogger,
          })
        : new ProcessRuntime({ root: this.dataDir, engineFor, log: silentLogger });
    return this.#runtimeInstance;
  }

  /** This controller's containers, as Docker sees them. */
  async containers(): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.controller}=${this.controllerId}`] },
    });
  }

  /** Stops the controller, removes its containers (by id) and subvolumes, and the folders. */
  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    await this.kill9().catch(() => undefined);
    if (this.config.runtime === 'docker') {
      for (const c of await this.containers().catch(() => [])) {
        await this.docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined);
      }
    } else {
      const runtime = await this.#runtime();
      for (const server of await runtime.servers.list()) await runtime.servers.remove(server.id);
    }
    const storage = new BtrfsStorage();
    const subvolumes: string[] = [];
    const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).map((e) => path.join(dir, e)) : []);
    for (const t of list(path.join(this.dataDir, 'templates')))
      subvolumes.push(...list(t).filter((p) => !p.endsWith('.json')));
    // The trash holds volumes too: a template's versions (read-only) and a database's data.
    const trash = (kind: string) =>
      list(path.join(this.dataDir, 'trash', kind)).filter((p) => !p.endsWith('.json'));
    for (const entry of trash('templates')) subvolumes.push(...list(entry));
    for (const entry of trash('databases')) subvolumes.push(path.join(entry, 'data'));
    subvolumes.push(
      ...list(path.join(this.dataDir, 'databases')).filter((p) => !p.endsWith('.json')),
      ...list(path.join(this.dataDir, 'work')),
      // Branch points are read-only subvolumes: rm -rf cannot remove them.
      ...list(path.join(this.dataDir, 'branches')),
      ...list(path.join(this.dataDir, 'cache')).filter((p) => !p.endsWith('.json')),
      // Warm pool members' clones (never the link a claim leaves: it points at a database's clone).
      ...list(path.join(this.dataDir, 'pool'))
        .flatMap(list)
        .filter((p) => !p.endsWith('.json') && !lstatSync(p).isSymbolicLink()),
    );
    for (const s of subvolumes) await storage.remove(s).catch(() => undefined);
    // MYAAS_TEST_LOGS=DIR keeps each bed's controller log there (the bed's folder goes).
    const keepLogs = process.env.MYAAS_TEST_LOGS;
    if (keepLogs && existsSync(path.join(this.dir, 'controller.log'))) {
      mkdirSync(keepLogs, { recursive: true });
      copyFileSync(
        path.join(this.dir, 'controller.log'),
        path.join(keepLogs, `${path.basename(this.dir)}.log`),
      );
    }
    rmSync(this.dir, { recursive: true, force: true });
    const leftovers = liveServersUnder(this.dir);
    if (leftovers.length > 0)
      throw new Error(`servers left running under ${this.dir}: ${leftovers.join(', ')}`);
  }
}

// Counts come back as numbers from both engines (pg gives bigint as text by default).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** Live (not zombie) server processes whose command line names a path under `dir`. */
export function liveServersUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      // mariadbd --datadir=<dir>/..., postgres -D <dir>/...
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (!['mariadbd', 'mysqld', 'postgres'].includes(comm)) continue;
      if (cmdline.split('\0').some((arg) => arg.startsWith(`${dir}/`) || arg.startsWith(`--datadir=${dir}/`)))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
