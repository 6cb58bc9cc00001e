import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
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
import { type ControllerConfig, defaultConfig } from '../../controller/config.js';
import { createLogger } from '../../controller/log.js';
import type { DatabaseRecord, DatabaseStatus } from '../../controller/reconcile/database-reconciler.js';
import type { TemplateRecord, TemplateStatus } from '../../controller/reconcile/template-reconciler.js';
import { type RunningController, controllerIdFor, startController } from '../../controller/run.js';
import { LABELS } from '../../controller/runtime/runtime.js';
import type { StoredObject } from '../../controller/state/status-store.js';
import { BtrfsStorage } from '../../controller/storage/btrfs-storage.js';
import { testEnvironment } from './environment.js';
import { specFile } from './specs.js';
import { waitFor } from './wait.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'dist/controller/main.js');

export interface TestBedOptions {
  readonly storage?: 'btrfs' | 'copy';
  readonly config?: Partial<ControllerConfig>;
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
  readonly config: ControllerConfig;
  readonly docker: Docker;
  running: RunningController | undefined;
  child: ChildProcess | undefined;

  constructor(name: string, options: TestBedOptions = {}) {
    this.dir = path.join(this.env.btrfsRoot, `tb-${name}-${randomBytes(3).toString('hex')}`);
    this.specsDir = path.join(this.dir, 'specs');
    this.dumpsDir = path.join(this.dir, 'dumps');
    this.dataDir = path.join(this.dir, 'data');
    for (const d of [this.specsDir, this.dumpsDir, this.dataDir]) mkdirSync(d, { recursive: true });
    this.config = {
      ...defaultConfig(this.dir),
      specsDir: this.specsDir,
      dumpsDir: this.dumpsDir,
      dataDir: this.dataDir,
      runtime: 'docker',
      storage: options.storage ?? 'btrfs',
      image: this.env.image,
      resyncSeconds: 5,
      importMemoryMiB: 256,
      implicitTemplates: false,
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

  /** Starts the controller in this process. */
  async start(): Promise<RunningController> {
    const log = createLogger({
      level: 'debug',
      stream: createWriteStream(path.join(this.dir, 'controller.log'), { flags: 'a' }),
    });
    this.running = await startController(this.config, log);
    return this.running;
  }

  /** Starts the controller as a child process (the built CLI), so it can be killed for real. */
  async spawn(): Promise<ChildProcess> {
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
        '--resync',
        String(this.config.resyncSeconds),
        ...(this.config.implicitTemplates ? [] : ['--no-implicit-templates']),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, MYAAS_LOG_LEVEL: 'debug', MYAAS_IMPORT_MEMORY_MIB: '256' },
      },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.child = child;
    return child;
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.running?.stop();
    this.running = undefined;
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    this.child = undefined;
  }

  stored<S, R>(kind: 'Database' | 'Template', name: string): StoredObject<S, R> | undefined {
    const file = path.join(this.dataDir, 'state', `${kind.toLowerCase()}s`, `${name}.json`);
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as StoredObject<S, R>;
    } catch {
      return undefined;
    }
  }

  database(name: string) {
    return this.stored<DatabaseStatus, DatabaseRecord>('Database', name);
  }

  template(name: string) {
    return this.stored<TemplateStatus, TemplateRecord>('Template', name);
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
    const connection = await this.connect(name);
    try {
      const [rows] = await connection.query(sql);
      return rows as T[];
    } finally {
      await connection.end();
    }
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
    for (const c of await this.containers().catch(() => [])) {
      await this.docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    }
    const storage = new BtrfsStorage();
    const subvolumes: string[] = [];
    const list = (dir: string) => (existsSync(dir) ? readdirSync(dir).map((e) => path.join(dir, e)) : []);
    for (const t of list(path.join(this.dataDir, 'templates')))
      subvolumes.push(...list(t).filter((p) => !p.endsWith('.json')));
    subvolumes.push(...list(path.join(this.dataDir, 'databases')), ...list(path.join(this.dataDir, 'work')));
    for (const s of subvolumes) await storage.remove(s).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
