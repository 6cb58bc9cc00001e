import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import type { Logger } from '../log.js';
import type { EngineName } from '../objects/index.js';
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
} from './engine.js';
import { SEARCH_PATH, exists, requirePrograms } from './host-programs.js';
import { MysqlDumpLoader } from './mysql-dump-loader.js';

/** MariaDB and MySQL: the official images share the env contract, datadir and port. */
export class MariadbEngine implements Engine {
  readonly containerDataDir = '/var/lib/mysql';
  readonly containerPort = 3306;
  readonly adminUser = 'root';
  readonly stopSignal = 'SIGTERM' as const;
  readonly killSignal = 'SIGKILL' as const;
  readonly hostUser = 'mysql';

  constructor(
    readonly name: EngineName = 'mariadb',
    /** Where the process runtime looks for the server, init tool and client. */
    readonly searchPath: readonly string[] = SEARCH_PATH,
  ) {}

  serverEnv(): Record<string, string> {
    return {};
  }

  isAccessDenied(error: unknown): boolean {
    return (error as { code?: string } | undefined)?.code === 'ER_ACCESS_DENIED_ERROR';
  }

  async isInitialized(dataDir: string): Promise<boolean> {
    return exists(path.join(dataDir, 'mysql'));
  }

  clientCommand(c: ConnectionInfo): { command: string; args: string[]; env: Record<string, string> } {
    return {
      command: this.name === 'mysql' ? 'mysql' : 'mariadb',
      args: [`--host=${c.host}`, `--port=${c.port}`, `--user=${c.user}`, c.database],
      env: { MYSQL_PWD: c.password },
    };
  }

  dsn(c: ConnectionInfo): string {
    return dsnOf('mysql', c);
  }

  get #prefix(): string {
    return this.name === 'mysql' ? 'MYSQL' : 'MARIADB';
  }

  initEnv(adminPassword: string, database?: string): Record<string, string> {
    return {
      [`${this.#prefix}_ROOT_PASSWORD`]: adminPassword,
      ...(database ? { [`${this.#prefix}_DATABASE`]: database } : {}),
      [`${this.#prefix}_ROOT_HOST`]: '%',
    };
  }

  async adoptImportServer(
    endpoint: Endpoint,
    current: Credentials,
    admin: Credentials,
    database: string,
  ): Promise<void> {
    const connection = await this.#connect(endpoint, current);
    try {
      await this.#rotateAdmin(connection, admin.password);
      await connection.query(`CREATE DATABASE IF NOT EXISTS ${connection.escapeId(database)}`);
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  /** `root` exists as root@'%' and root@'localhost' in the official images: rotate every one. */
  async #rotateAdmin(connection: mysql.Connection, password: string): Promise<void> {
    const [roots] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT Host FROM mysql.user WHERE User = ?',
      [this.adminUser],
    );
    for (const row of roots) {
      await connection.query(
        `ALTER USER ${connection.escape(this.adminUser)}@${connection.escape(row.Host)} IDENTIFIED BY ${connection.escape(password)}`,
      );
    }
  }

  importServerArgs(memoryMiB: number): string[] {
    return [
      // Nothing of an import needs to survive a crash: a failed import is discarded whole.
      '--skip-log-bin',
      '--innodb-flush-log-at-trx-commit=0',
      '--innodb-doublewrite=0',
      '--sync-binlog=0',
      `--innodb-buffer-pool-size=${Math.max(128, memoryMiB)}M`,
      // Big extended INSERTs from mysqldump/mariadb-dump must fit in one packet.
      '--max-allowed-packet=1G',
      // Skip host name look-ups: the client connects from inside the container.
      '--skip-name-resolve',
    ];
  }

  dumpFormat(): DumpFormat {
    return 'sql';
  }

  parallelLoad(): undefined {
    // One client stream: a dump's statements depend on the session state its header sets.
    return undefined;
  }

  serveServerArgs(): string[] {
    return ['--skip-name-resolve'];
  }

  importClient(
    endpoint: Endpoint,
    admin: Credentials,
    database: string,
  ): { argv: string[]; env: Record<string, string> } {
    const client = this.name === 'mysql' ? 'mysql' : 'mariadb';
    return {
      argv: [
        client,
        `--host=${endpoint.host}`,
        `--port=${endpoint.port}`,
        `--user=${admin.user}`,
        '--max-allowed-packet=1G',
        '--default-character-set=utf8mb4',
        // Output as each statement ends (not when a pipe buffer fills): the loader's barriers read it.
        '--unbuffered',
        database,
      ],
      // MYSQL_PWD keeps the password out of the process list; both clients honour it.
      env: { MYSQL_PWD: admin.password },
    };
  }

  async loadDump(
    input: Readable,
    open: (format?: DumpFormat) => Promise<ExecSession>,
    log: Logger,
  ): Promise<{ result: ExecResult; linesValid: boolean }> {
    const loader = new MysqlDumpLoader(() => open('sql'), log);
    const result = await loader.load(input);
    return { result, linesValid: !loader.rearranged };
  }

  async waitReady(
    endpoint: Endpoint,
    admin: Credentials,
    deadline: number,
    isAlive?: () => Promise<boolean>,
  ): Promise<void> {
    await pollReady(
      () => this.#query(endpoint, admin, 'SELECT 1'),
      (error) => this.isAccessDenied(error),
      deadline,
      isAlive,
    );
  }

  async configureClone(
    endpoint: Endpoint,
    admins: Credentials[],
    newAdmin: Credentials,
    user: Credentials,
  ): Promise<void> {
    const connection = await firstLogin(
      admins,
      newAdmin,
      (admin) => this.#connect(endpoint, admin),
      this.adminUser,
    );
    try {
      const pw = (p: string) => connection.escape(p);
      const u = connection.escape(user.user);
      await this.#rotateAdmin(connection, newAdmin.password);
      await connection.query(`CREATE USER IF NOT EXISTS ${u}@'%' IDENTIFIED BY ${pw(user.password)}`);
      await connection.query(`ALTER USER ${u}@'%' IDENTIFIED BY ${pw(user.password)}`);
      await connection.query(`GRANT ALL PRIVILEGES ON *.* TO ${u}@'%' WITH GRANT OPTION`);
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  async prepareClone(dataDir: string): Promise<void> {
    // MySQL keeps server_uuid in auto.cnf: clones must not share it (replication and GTIDs rely on it).
    if (this.name === 'mysql') await rm(path.join(dataDir, 'auto.cnf'), { force: true });
  }

  #programs: { server: string; install?: string; client: string } | undefined;

  async checkHost(): Promise<void> {
    if (this.#programs) return;
    const mysqlFamily = this.name === 'mysql';
    const dirs = this.searchPath;
    const server = { names: mysqlFamily ? ['mysqld'] : ['mariadbd', 'mysqld'], label: 'server (mariadbd)' };
    const client = { names: mysqlFamily ? ['mysql'] : ['mariadb', 'mysql'], label: 'client (mariadb)' };
    const install = { names: ['mariadb-install-db', 'mysql_install_db'], label: 'mariadb-install-db' };
    // MySQL initialises a datadir with the server itself (--initialize-insecure).
    this.#programs = mysqlFamily
      ? await requirePrograms({ server, client }, dirs, this.name, 'mysql-server')
      : await requirePrograms({ server, install, client }, dirs, this.name, 'mariadb-server mariadb-client');
  }

  hostServer(options: HostServerOptions): { command: string; args: string[] } {
    const programs = this.#requirePrograms();
    return {
      command: programs.server,
      args: [
        // The host's own my.cnf (Debian's sets a datadir, socket and bind address) must not apply.
        '--no-defaults',
        `--datadir=${options.dataDir}`,
        `--port=${options.port}`,
        '--bind-address=0.0.0.0',
        `--socket=${options.socket}`,
        `--pid-file=${options.pidFile}`,
        `--log-error=${options.errorLog}`,
        ...(options.user ? [`--user=${options.user}`] : []),
        ...options.args,
      ],
    };
  }

  async hostInitialize(
    options: HostServerOptions & { adminPassword: string; database: string },
  ): Promise<void> {
    const programs = this.#requirePrograms();
    const user = options.user ? [`--user=${options.user}`] : [];
    if (programs.install) {
      await run(
        programs.install,
        [
          '--no-defaults',
          `--datadir=${options.dataDir}`,
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          ...user,
        ],
        { timeoutMs: 300_000 },
      );
    } else {
      await run(
        programs.server,
        ['--no-defaults', '--initialize-insecure', `--datadir=${options.dataDir}`, ...user],
        {
          timeoutMs: 300_000,
        },
      );
    }
    // As the official entrypoint does: a server without networking, the init SQL over its socket, a shutdown.
    const { command, args } = this.hostServer({ ...options, args: ['--skip-networking', '--skip-log-bin'] });
    const server = spawn(command, args, { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    try {
      let connection: mysql.Connection | undefined;
      const deadline = Date.now() + 120_000;
      while (!connection) {
        try {
          connection = await mysql.createConnection({
            socketPath: options.socket,
            user: this.adminUser,
            password: '',
          });
        } catch (error) {
          if (Date.now() > deadline || server.exitCode !== null) {
            throw new Error(
              `initialising ${options.dataDir} failed: ${(error as Error).message} (see ${options.errorLog})`,
            );
          }
          await sleep(100);
        }
      }
      const pw = connection.escape(options.adminPassword);
      // install-db may make root@localhost, @127.0.0.1, @::1 and @<hostname>, all without a password.
      const [users] = await connection.query<mysql.RowDataPacket[]>(
        "SELECT User, Host FROM mysql.user WHERE User IN ('root', '') AND Host <> '%'",
      );
      for (const { User, Host } of users) {
        const account = `${connection.escape(User)}@${connection.escape(Host)}`;
        // Only root@localhost and root@'%' stay, as in the official image; host-named ones go
        // (servers run with skip-name-resolve, where they cannot even be altered).
        const keep = User === 'root' && Host === 'localhost';
        await connection.query(keep ? `ALTER USER ${account} IDENTIFIED BY ${pw}` : `DROP USER ${account}`);
      }
      await connection.query(`CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY ${pw}`);
      await connection.query(`GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION`);
      if (options.database)
        await connection.query(`CREATE DATABASE IF NOT EXISTS ${connection.escapeId(options.database)}`);
      await connection.query('SHUTDOWN');
      await connection.end().catch(() => undefined);
      const code = await Promise.race([exited, sleep(120_000).then(() => 'timeout' as const)]);
      if (code === 'timeout')
        throw new Error(`initialising ${options.dataDir}: the server did not shut down`);
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  }

  #requirePrograms(): { server: string; install?: string; client: string } {
    if (!this.#programs) throw new Error('checkHost() must run before the process runtime uses the engine');
    return this.#programs;
  }

  errorLine(clientOutput: string): number | undefined {
    const match = /\bat line (\d+)/.exec(clientOutput);
    return match ? Number(match[1]) : undefined;
  }

  async #connect(endpoint: Endpoint, admin: Credentials): Promise<mysql.Connection> {
    return mysql.createConnection({
      host: endpoint.host,
      port: endpoint.port,
      user: admin.user,
      password: admin.password,
      connectTimeout: 2000,
    });
  }

  async #query(endpoint: Endpoint, admin: Credentials, sql: string): Promise<void> {
    const connection = await this.#connect(endpoint, admin);
    try {
      await connection.query(sql);
    } finally {
      await connection.end().catch(() => undefined);
    }
  }
}
