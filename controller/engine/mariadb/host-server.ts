import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { run } from '../../util/exec.js';
import type { HostServer, HostServerOptions } from '../engine.js';
import { SEARCH_PATH, exists, requirePrograms } from '../host-programs.js';
import { keepOfficialAdminAccounts } from './admin.js';
import { ADMIN_USER, type MysqlFlavor } from './flavor.js';

interface Programs {
  readonly server: string;
  readonly install?: string;
  readonly client: string;
}

/** The host's mariadbd (or mysqld), for the process runtime. */
export class MariadbHostServer implements HostServer {
  readonly user = 'mysql';
  readonly killSignal = 'SIGKILL' as const;
  #programs: Programs | undefined;

  constructor(
    readonly flavor: MysqlFlavor,
    /** Where the server, init tool and client are looked for. */
    readonly searchPath: readonly string[] = SEARCH_PATH,
  ) {}

  async check(): Promise<void> {
    if (this.#programs) return;
    const mysqlFamily = this.flavor.isMysql;
    const dirs = this.searchPath;
    const server = { names: mysqlFamily ? ['mysqld'] : ['mariadbd', 'mysqld'], label: 'server (mariadbd)' };
    const client = { names: mysqlFamily ? ['mysql'] : ['mariadb', 'mysql'], label: 'client (mariadb)' };
    const install = { names: ['mariadb-install-db', 'mysql_install_db'], label: 'mariadb-install-db' };
    const name = this.flavor.name;
    // MySQL initialises a datadir with the server itself (--initialize-insecure).
    const programs = mysqlFamily
      ? await requirePrograms({ server, client }, dirs, name, 'mysql-server')
      : await requirePrograms({ server, install, client }, dirs, name, 'mariadb-server mariadb-client');
    await requireSandbox(programs.client);
    this.#programs = programs;
  }

  async isInitialized(dataDir: string): Promise<boolean> {
    return exists(path.join(dataDir, 'mysql'));
  }

  command(options: HostServerOptions): { command: string; args: string[] } {
    return {
      command: this.#required().server,
      args: [
        // The host's own my.cnf (Debian's sets a datadir, socket and bind address) must not apply.
        '--no-defaults',
        `--datadir=${options.dataDir}`,
        `--port=${options.port}`,
        `--bind-address=${options.bindAddress}`,
        `--socket=${options.socket}`,
        `--pid-file=${options.pidFile}`,
        `--log-error=${options.errorLog}`,
        ...(options.user ? [`--user=${options.user}`] : []),
        ...options.args,
      ],
    };
  }

  async initialize(options: HostServerOptions & { adminPassword: string; database?: string }): Promise<void> {
    await this.#installDb(options);
    // As the official entrypoint does: a server without networking, the init SQL over its socket, a shutdown.
    const { command, args } = this.command({ ...options, args: ['--skip-networking', '--skip-log-bin'] });
    const server = spawn(command, args, { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    try {
      const connection = await this.#connectToSocket(options, () => server.exitCode !== null);
      await setUpAccounts(connection, options.adminPassword, options.database);
      await connection.query('SHUTDOWN');
      await connection.end().catch(() => undefined);
      const code = await Promise.race([exited, sleep(120_000).then(() => 'timeout' as const)]);
      if (code === 'timeout')
        throw new Error(`initialising ${options.dataDir}: the server did not shut down`);
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  }

  /** The system tables: mariadb-install-db, or MySQL's server with --initialize-insecure. */
  async #installDb(options: HostServerOptions): Promise<void> {
    const programs = this.#required();
    const user = options.user ? [`--user=${options.user}`] : [];
    const datadir = `--datadir=${options.dataDir}`;
    if (programs.install) {
      const args = [
        '--no-defaults',
        datadir,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        ...user,
      ];
      await run(programs.install, args, { timeoutMs: 300_000 });
    } else {
      await run(programs.server, ['--no-defaults', '--initialize-insecure', datadir, ...user], {
        timeoutMs: 300_000,
      });
    }
  }

  async #connectToSocket(options: HostServerOptions, exited: () => boolean): Promise<mysql.Connection> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        return await mysql.createConnection({ socketPath: options.socket, user: ADMIN_USER, password: '' });
      } catch (error) {
        if (Date.now() > deadline || exited()) {
          throw new Error(
            `initialising ${options.dataDir} failed: ${(error as Error).message} (see ${options.errorLog})`,
          );
        }
        await sleep(100);
      }
    }
  }

  #required(): Programs {
    if (!this.#programs) throw new Error('check() must run before the process runtime uses the engine');
    return this.#programs;
  }
}

/**
 * Imports pipe dumps into the host's client, where a dump's `\!` or `system` line would run a shell
 * command on this host: the client must have the sandbox that refuses them.
 */
async function requireSandbox(client: string): Promise<void> {
  const help = await run(client, ['--no-defaults', '--help']).catch((error: Error) => error.message);
  if (/^\s*--sandbox\b/m.test(help)) return;
  throw new Error(
    `runtime process needs a client with --sandbox (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.0.6 or later): ${client} has none, and a dump's \\! or system line would run a command on this host; upgrade the client or use --runtime docker`,
  );
}

/** Leaves the accounts the official image leaves: root@localhost and root@'%' with the admin password. */
async function setUpAccounts(
  connection: mysql.Connection,
  adminPassword: string,
  database?: string,
): Promise<void> {
  const pw = connection.escape(adminPassword);
  // install-db may make root@localhost, @127.0.0.1, @::1 and @<hostname>, all without a password.
  await keepOfficialAdminAccounts(connection, ADMIN_USER, adminPassword);
  await connection.query(`CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY ${pw}`);
  await connection.query(`GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION`);
  if (database) await connection.query(`CREATE DATABASE IF NOT EXISTS ${connection.escapeId(database)}`);
}
