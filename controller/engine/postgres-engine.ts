import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, chown, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../log.js';
import type { ExecResult, ExecSession } from '../runtime/runtime.js';
import { run } from '../util/exec.js';
import { dsnOf, firstLogin, pollReady } from './connecting.js';
import type {
  ConnectionInfo,
  Credentials,
  DumpFormat,
  Endpoint,
  Engine,
  HostServerOptions,
  ParallelLoad,
} from './engine.js';
import { SEARCH_PATH, exists, requirePrograms } from './host-programs.js';

/** pg_dump's custom format starts with these bytes; everything else is SQL text for psql. */
const ARCHIVE_MAGIC = Buffer.from('PGDMP');
/** pg_dump's plain format says who wrote it in its first lines. */
const PG_DUMP_HEADER = /^-- PostgreSQL database dump$/m;
const HEAD_BYTES = 4096;

/** A `pg_restore --list` line of an item that takes time to restore: its id. */
const SLOW_ITEM =
  /^(\d+); \d+ \d+ (?:TABLE DATA|INDEX|CONSTRAINT|FK CONSTRAINT|MATERIALIZED VIEW DATA|BLOBS?|LARGE OBJECTS?) /;

/** What a dump is, from its first bytes. */
export function dumpFormatOf(head: Buffer): DumpFormat {
  if (head.subarray(0, ARCHIVE_MAGIC.length).equals(ARCHIVE_MAGIC)) return 'archive';
  return PG_DUMP_HEADER.test(head.subarray(0, HEAD_BYTES).toString('utf8')) ? 'tool-sql' : 'sql';
}

/** Where Debian/Ubuntu and the official image keep the server programs (off PATH). */
async function postgresBinDirs(): Promise<string[]> {
  const root = '/usr/lib/postgresql';
  const versions = await readdir(root).catch(() => [] as string[]);
  // Newest first.
  versions.sort((a, b) => Number(b) - Number(a));
  return [...versions.map((v) => path.join(root, v, 'bin')), ...SEARCH_PATH];
}

/**
 * PostgreSQL: the official `postgres` image's contract (POSTGRES_PASSWORD, POSTGRES_DB, PGDATA at
 * /var/lib/postgresql/data, port 5432, uid 999), plain dumps through psql with ON_ERROR_STOP and
 * custom-format archives through pg_restore.
 */
export class PostgresEngine implements Engine {
  readonly name = 'postgres' as const;
  readonly containerDataDir = '/var/lib/postgresql/data';
  readonly containerPort = 5432;
  readonly adminUser = 'postgres';
  // SIGTERM is a "smart" shutdown that waits for every client to leave; SIGINT is the fast, clean one.
  readonly stopSignal = 'SIGINT' as const;
  // Immediate shutdown: the postmaster ends its backends itself (they run in their own sessions).
  readonly killSignal = 'SIGQUIT' as const;
  readonly hostUser = 'postgres';

  serverEnv(): Record<string, string> {
    // Newer official images moved their default PGDATA; the clone is mounted here, so say so.
    return { PGDATA: this.containerDataDir };
  }

  isAccessDenied(error: unknown): boolean {
    return (error as { code?: string } | undefined)?.code === '28P01';
  }

  async isInitialized(dataDir: string): Promise<boolean> {
    return exists(path.join(dataDir, 'PG_VERSION'));
  }

  clientCommand(c: ConnectionInfo): { command: string; args: string[]; env: Record<string, string> } {
    return {
      command: 'psql',
      args: ['-h', c.host, '-p', String(c.port), '-U', c.user, c.database],
      env: { PGPASSWORD: c.password },
    };
  }

  dsn(c: ConnectionInfo): string {
    return dsnOf('postgresql', c);
  }

  initEnv(adminPassword: string, database?: string): Record<string, string> {
    return { POSTGRES_PASSWORD: adminPassword, ...(database ? { POSTGRES_DB: database } : {}) };
  }

  async adoptImportServer(
    endpoint: Endpoint,
    current: Credentials,
    admin: Credentials,
    database: string,
  ): Promise<void> {
    const client = await this.#connect(endpoint, current);
    try {
      await client.query(
        `ALTER ROLE ${client.escapeIdentifier(admin.user)} PASSWORD ${client.escapeLiteral(admin.password)}`,
      );
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  importServerArgs(memoryMiB: number, jobs = 1): string[] {
    const half = Math.max(64, Math.floor(memoryMiB / 2));
    // Each parallel restore job may build an index at once: they share the maintenance half.
    const maintenance = Math.max(64, Math.floor(half / Math.max(1, jobs)));
    // Nothing of an import needs to survive a crash: a failed import is discarded whole. These are
    // command-line settings only: the clones start with the datadir's own postgresql.conf.
    // biome-ignore format: option pairs read better one per line
    return [
      '-c', 'fsync=off',
      '-c', 'full_page_writes=off',
      '-c', 'synchronous_commit=off',
      '-c', 'wal_level=minimal',
      '-c', 'max_wal_senders=0',
      '-c', 'archive_mode=off',
      '-c', 'autovacuum=off',
      '-c', 'max_wal_size=8GB',
      '-c', 'checkpoint_timeout=1h',
      '-c', `shared_buffers=${half}MB`,
      '-c', `maintenance_work_mem=${maintenance}MB`,
    ];
  }

  serveServerArgs(): string[] {
    return [];
  }

  dumpFormat(head: Buffer): DumpFormat {
    return dumpFormatOf(head);
  }

  parallelLoad(format: DumpFormat, jobs: number): ParallelLoad | undefined {
    // Only archives can be read by several connections; plain SQL is one stream for psql.
    if (format !== 'archive' || jobs < 2) return undefined;
    return {
      list: (file) => ({ argv: ['pg_restore', '--list', file], env: {} }),
      // `--list` prints one line per item ("3382; 0 16390 TABLE DATA public orders postgres"), comments
      // with ';'. Progress counts the items that take the time: data, indexes, constraints.
      listedItem: (line) => SLOW_ITEM.exec(line)?.[1],
      load: (file, endpoint, admin, database) => ({
        argv: [
          'pg_restore',
          '-h',
          endpoint.host,
          '-p',
          String(endpoint.port),
          '-U',
          admin.user,
          '-d',
          database,
          '--exit-on-error',
          '--no-owner',
          '--no-privileges',
          // Without --single-transaction (it excludes --jobs), each table created in this run is
          // loaded in a transaction that starts with TRUNCATE: with wal_level=minimal its COPY still
          // skips the WAL.
          `--jobs=${jobs}`,
          '--verbose',
          file,
        ],
        env: { PGPASSWORD: admin.password },
      }),
      // --verbose says "processing item N" for items done one at a time and "finished item N" for
      // those of the parallel phase; it also processes header items (ENCODING, DATABASE) --list omits.
      // Not anchored: the jobs share stderr and write the "pg_restore: " prefix apart from the
      // message, so prefixes of two processes can meet on one line.
      doneItem: (line) => /\b(?:processing|finished) item (\d+) /.exec(line)?.[1],
      problems: (output) =>
        output
          .split('\n')
          .map((line) => line.replace(/^(?:pg_restore: )+/, 'pg_restore: '))
          .filter((line) => line.trim() && !/^pg_restore: (?!error|warning)/.test(line))
          .join('\n'),
    };
  }

  importClient(
    endpoint: Endpoint,
    admin: Credentials,
    database: string,
    format: DumpFormat = 'sql',
  ): { argv: string[]; env: Record<string, string> } {
    const target = ['-h', endpoint.host, '-p', String(endpoint.port), '-U', admin.user];
    // One transaction for what pg_dump wrote: with wal_level=minimal, tables created and loaded in the
    // same transaction skip the WAL. Other SQL runs as `psql -f` would run it (it may hold statements
    // that cannot run in a transaction block).
    const psql = ['psql', ...target, '-d', database, '-v', 'ON_ERROR_STOP=1', '-q', '-X'];
    return {
      argv:
        format === 'archive'
          ? // Owners and grants name roles that exist where the dump was made, not here.
            [
              'pg_restore',
              ...target,
              '-d',
              database,
              '--exit-on-error',
              '--no-owner',
              '--no-privileges',
              '--single-transaction',
            ]
          : format === 'tool-sql'
            ? [...psql, '--single-transaction', '-f', '-']
            : [...psql, '-f', '-'],
      // PGPASSWORD keeps the password out of the process list.
      env: { PGPASSWORD: admin.password },
    };
  }

  async loadDump(
    input: Readable,
    open: (format?: DumpFormat) => Promise<ExecSession>,
    _log: Logger,
  ): Promise<{ result: ExecResult; linesValid: boolean }> {
    let session: ExecSession | undefined;
    let format: DumpFormat = 'sql';
    // The first bytes decide the client; they may arrive in pieces smaller than the magic.
    let head = Buffer.alloc(0);
    let exited = false;
    for await (const piece of input as AsyncIterable<Buffer>) {
      // The client stopped at an error: reading the rest of the dump would only delay saying so.
      if (exited) break;
      let chunk = piece;
      if (!session) {
        head = Buffer.concat([head, piece]);
        if (head.length < HEAD_BYTES) continue;
        format = dumpFormatOf(head);
        session = await open(format);
        void session.result.then(
          () => {
            exited = true;
          },
          () => {
            exited = true;
          },
        );
        chunk = head;
      }
      if (!session.stdin.write(chunk)) {
        await new Promise<void>((resolve) => {
          session!.stdin.once('drain', resolve);
          session!.result.then(
            () => resolve(),
            () => resolve(),
          );
        });
      }
    }
    if (!session) {
      format = dumpFormatOf(head);
      session = await open(format);
      if (head.length > 0) session.stdin.write(head);
    }
    session.stdin.end();
    return { result: await session.result, linesValid: format !== 'archive' };
  }

  async waitReady(
    endpoint: Endpoint,
    admin: Credentials,
    deadline: number,
    isAlive?: () => Promise<boolean>,
  ): Promise<void> {
    const probe = async () => {
      const client = await this.#connect(endpoint, admin);
      try {
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    await pollReady(probe, (error) => this.isAccessDenied(error), deadline, isAlive);
  }

  async configureClone(
    endpoint: Endpoint,
    admins: Credentials[],
    newAdmin: Credentials,
    user: Credentials,
  ): Promise<void> {
    const client = await firstLogin(
      admins,
      newAdmin,
      (admin) => this.#connect(endpoint, admin),
      this.adminUser,
    );
    try {
      const role = client.escapeIdentifier(user.user);
      const password = client.escapeLiteral(user.password);
      await client.query(
        `ALTER ROLE ${client.escapeIdentifier(newAdmin.user)} PASSWORD ${client.escapeLiteral(newAdmin.password)}`,
      );
      const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user.user]);
      if (found.rowCount === 0) await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${password}`);
      // As the MariaDB user's ALL PRIVILEGES ON *.*: a disposable database's user may alter and drop
      // the template's tables, which only their owner or a superuser can.
      await client.query(`ALTER ROLE ${role} LOGIN SUPERUSER PASSWORD ${password}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async prepareClone(dataDir: string): Promise<void> {
    // Absent after a clean shutdown; a stale one would make the clone's server refuse to start.
    await rm(path.join(dataDir, 'postmaster.pid'), { force: true });
  }

  #programs: { server: string; initdb: string; client: string; restore: string } | undefined;

  async checkHost(): Promise<void> {
    if (this.#programs) return;
    const dirs = await postgresBinDirs();
    this.#programs = await requirePrograms(
      {
        server: { names: ['postgres'], label: 'postgres' },
        initdb: { names: ['initdb'], label: 'initdb' },
        client: { names: ['psql'], label: 'psql' },
        restore: { names: ['pg_restore'], label: 'pg_restore' },
      },
      dirs,
      'PostgreSQL',
      'postgresql',
    );
    // Every installed major, for datadirs made by an older one (Debian keeps them side by side).
    for (const dir of dirs) {
      const major = /\/postgresql\/(\d+)\/bin$/.exec(dir)?.[1];
      if (major && (await exists(path.join(dir, 'postgres'))))
        this.#servers.set(major, path.join(dir, 'postgres'));
    }
  }

  readonly #servers = new Map<string, string>();

  /** The server of the datadir's own major version when installed (a newer one refuses the datadir). */
  #serverFor(dataDir: string): string {
    let major: string | undefined;
    try {
      major = dataDir ? readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim() : undefined;
    } catch {
      // not initialised yet: the newest
    }
    return (major && this.#servers.get(major)) || this.#requirePrograms().server;
  }

  hostServer(options: HostServerOptions): { command: string; args: string[]; switchUser?: boolean } {
    return {
      command: this.#serverFor(options.dataDir),
      args: [
        '-D',
        options.dataDir,
        '-p',
        String(options.port),
        '-c',
        'listen_addresses=*',
        // A directory: the server makes .s.PGSQL.<port> in it.
        '-k',
        path.dirname(options.socket),
        // Local connections are trusted (as in the official image): only the server's user may use them.
        '-c',
        'unix_socket_permissions=0700',
        '-c',
        `external_pid_file=${options.pidFile}`,
        ...options.args,
      ],
      // postgres refuses to run as root and cannot switch user itself.
      switchUser: true,
    };
  }

  async hostInitialize(
    options: HostServerOptions & { adminPassword: string; database?: string },
  ): Promise<void> {
    const programs = this.#requirePrograms();
    const owner = options.user ? await userIds(options.user) : undefined;
    const asUser = owner ? { uid: owner.uid, gid: owner.gid } : {};
    // In the server's own run dir (the socket may live in /tmp when paths are long).
    const pwfile = path.join(path.dirname(options.pidFile), 'initdb.pw');
    await writeFile(pwfile, `${options.adminPassword}\n`, { mode: 0o600 });
    if (owner) await chown(pwfile, owner.uid, owner.gid);
    try {
      // As the official image's entrypoint: initdb, password auth for TCP, then the database.
      await runAs(
        programs.initdb,
        [
          '-D',
          options.dataDir,
          '-U',
          this.adminUser,
          `--pwfile=${pwfile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '-E',
          'UTF8',
        ],
        asUser,
      );
    } finally {
      await rm(pwfile, { force: true });
    }
    await appendFile(path.join(options.dataDir, 'pg_hba.conf'), '\nhost all all all scram-sha-256\n');
    if (options.database) {
      const { command, args } = this.hostServer({ ...options, args: ['-c', 'listen_addresses='] });
      const server = spawn(command, args, { stdio: 'ignore', ...asUser });
      const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
      try {
        const socketDir = path.dirname(options.socket);
        const deadline = Date.now() + 120_000;
        for (;;) {
          const client = new pg.Client({
            host: socketDir,
            port: options.port,
            user: this.adminUser,
            database: 'postgres',
          });
          try {
            await client.connect();
            await client.query(`CREATE DATABASE ${client.escapeIdentifier(options.database)}`);
            await client.end();
            break;
          } catch (error) {
            await client.end().catch(() => undefined);
            if (Date.now() > deadline || server.exitCode !== null)
              throw new Error(`initialising ${options.dataDir} failed: ${(error as Error).message}`);
            await sleep(100);
          }
        }
        server.kill('SIGINT');
        const code = await Promise.race([exited, sleep(120_000).then(() => 'timeout' as const)]);
        if (code === 'timeout')
          throw new Error(`initialising ${options.dataDir}: the server did not shut down`);
      } finally {
        if (server.exitCode === null) server.kill('SIGKILL');
      }
    }
  }

  #requirePrograms() {
    if (!this.#programs) throw new Error('checkHost() must run before the process runtime uses the engine');
    return this.#programs;
  }

  errorLine(clientOutput: string): number | undefined {
    // psql: "psql:<stdin>:12: ERROR:  ..."
    const match = /psql:[^:\n]*:(\d+): (?:ERROR|FATAL)/.exec(clientOutput);
    return match ? Number(match[1]) : undefined;
  }

  async #connect(endpoint: Endpoint, admin: Credentials): Promise<pg.Client> {
    const client = new pg.Client({
      host: endpoint.host,
      port: endpoint.port,
      user: admin.user,
      password: admin.password,
      database: 'postgres',
      connectionTimeoutMillis: 2000,
    });
    // A server that goes away later must not crash the controller with an unhandled 'error'.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }
}

/** uid and gid of a host user, from `id`. */
async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', user])).trim());
  const gid = Number((await run('id', ['-g', user])).trim());
  return { uid, gid };
}

/** Runs a program (as another user when given), failing with its output. */
function runAs(command: string, args: string[], as: { uid?: number; gid?: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...as });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => chunks.push(d));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(
              `${path.basename(command)} exited with ${code}: ${Buffer.concat(chunks).toString().trim()}`,
            ),
          ),
    );
  });
}
