import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { appendFile, chown, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { run } from '../../util/exec.js';
import type { HostServer, HostServerOptions } from '../engine.js';
import { SEARCH_PATH, exists, requirePrograms } from '../host-programs.js';
import { ADMIN_USER } from './admin.js';

/** Where Debian/Ubuntu and the official image keep the server programs (off PATH). */
async function postgresBinDirs(): Promise<string[]> {
  const root = '/usr/lib/postgresql';
  const versions = await readdir(root).catch(() => [] as string[]);
  // Newest first.
  versions.sort((a, b) => Number(b) - Number(a));
  return [...versions.map((v) => path.join(root, v, 'bin')), ...SEARCH_PATH];
}

/** The host's PostgreSQL (`postgres -D`, initdb), for the process runtime; each datadir with its own major. */
export class PostgresHostServer implements HostServer {
  readonly user = 'postgres';
  // Immediate shutdown: the postmaster ends its backends itself (they run in their own sessions).
  readonly killSignal = 'SIGQUIT' as const;

  async isInitialized(dataDir: string): Promise<boolean> {
    return exists(path.join(dataDir, 'PG_VERSION'));
  }

  #programs: { server: string; initdb: string; client: string; restore: string } | undefined;

  async check(): Promise<void> {
    if (this.#programs) return;
    const dirs = await postgresBinDirs();
    const programs = await requirePrograms(
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
    await requireRestrictedMode(programs.client);
    this.#programs = programs;
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
    return (major && this.#servers.get(major)) || this.#required().server;
  }

  command(options: HostServerOptions): { command: string; args: string[]; switchUser?: boolean } {
    return {
      command: this.#serverFor(options.dataDir),
      args: [
        '-D',
        options.dataDir,
        '-p',
        String(options.port),
        '-c',
        `listen_addresses=${options.bindAddress === '0.0.0.0' ? '*' : options.bindAddress}`,
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

  async initialize(options: HostServerOptions & { adminPassword: string; database?: string }): Promise<void> {
    const programs = this.#required();
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
          ADMIN_USER,
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
      const { command, args } = this.command({ ...options, args: ['-c', 'listen_addresses='] });
      const server = spawn(command, args, { stdio: 'ignore', ...asUser });
      const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
      try {
        const socketDir = path.dirname(options.socket);
        const deadline = Date.now() + 120_000;
        for (;;) {
          const client = new pg.Client({
            host: socketDir,
            port: options.port,
            user: ADMIN_USER,
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

  #required() {
    if (!this.#programs) throw new Error('check() must run before the process runtime uses the engine');
    return this.#programs;
  }
}

/**
 * Imports pipe plain dumps into the host's psql, which runs a dump's meta-commands (`\!`, `\copy ...
 * program`) on this host: besides the import's own check, psql runs restricted there (`\restrict`).
 */
async function requireRestrictedMode(psql: string): Promise<void> {
  const help = await run(psql, ['--help=commands']).catch((error: Error) => error.message);
  if (/^\s*\\restrict\b/m.test(help)) return;
  throw new Error(
    `runtime process needs psql with \\restrict (PostgreSQL 13.22, 14.19, 15.14, 16.10, 17.6 or later): ${psql} has none, and it would run a dump's meta-commands on this host; upgrade the PostgreSQL client or use --runtime docker`,
  );
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
