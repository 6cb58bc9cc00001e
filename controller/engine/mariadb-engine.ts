import { rm } from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { EngineName } from '../spec/types.js';
import type { ConnectionInfo, Credentials, Endpoint, Engine } from './engine.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** MariaDB and MySQL: the official images share the env contract, datadir and port. */
export class MariadbEngine implements Engine {
  readonly containerDataDir = '/var/lib/mysql';
  readonly containerPort = 3306;
  readonly adminUser = 'root';

  constructor(readonly name: EngineName = 'mariadb') {}

  get #prefix(): string {
    return this.name === 'mysql' ? 'MYSQL' : 'MARIADB';
  }

  initEnv(adminPassword: string, database: string): Record<string, string> {
    return {
      [`${this.#prefix}_ROOT_PASSWORD`]: adminPassword,
      [`${this.#prefix}_DATABASE`]: database,
      [`${this.#prefix}_ROOT_HOST`]: '%',
    };
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
        database,
      ],
      // MYSQL_PWD keeps the password out of the process list; both clients honour it.
      env: { MYSQL_PWD: admin.password },
    };
  }

  async waitReady(
    endpoint: Endpoint,
    admin: Credentials,
    deadline: number,
    isAlive?: () => Promise<boolean>,
  ): Promise<void> {
    let lastError: unknown;
    let attempt = 0;
    while (Date.now() < deadline) {
      try {
        await this.#query(endpoint, admin, 'SELECT 1');
        return;
      } catch (error) {
        lastError = error;
        // A wrong password will not fix itself: fail at once.
        if ((error as { code?: string }).code === 'ER_ACCESS_DENIED_ERROR') throw error;
      }
      attempt++;
      if (isAlive && attempt % 10 === 0 && !(await isAlive())) {
        throw new Error(`server exited before accepting connections (last error: ${String(lastError)})`);
      }
      await sleep(Math.min(25 * attempt, 200));
    }
    throw new Error(`server did not accept connections in time: ${String(lastError)}`);
  }

  async configureClone(
    endpoint: Endpoint,
    admins: Credentials[],
    newAdmin: Credentials,
    user: Credentials,
  ): Promise<void> {
    let connection: mysql.Connection | undefined;
    let lastError: unknown;
    for (const admin of [newAdmin, ...admins]) {
      try {
        connection = await this.#connect(endpoint, admin);
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (!connection) throw new Error(`cannot log in to the clone as ${this.adminUser}: ${String(lastError)}`);
    try {
      const pw = (p: string) => connection!.escape(p);
      const u = connection.escape(user.user);
      // `root` exists as root@'%' and root@'localhost' in the official images: rotate both.
      const [roots] = await connection.query<mysql.RowDataPacket[]>(
        'SELECT Host FROM mysql.user WHERE User = ?',
        [this.adminUser],
      );
      for (const row of roots) {
        await connection.query(
          `ALTER USER ${connection.escape(this.adminUser)}@${connection.escape(row.Host)} IDENTIFIED BY ${pw(newAdmin.password)}`,
        );
      }
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

  connectCommand(info: ConnectionInfo): string {
    const client = this.name === 'mysql' ? 'mysql' : 'mariadb';
    return `${client} -h ${info.host} -P ${info.port} -u ${info.user} -p'${info.password}' ${info.database}`;
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

export function engineFor(name: EngineName): Engine {
  return new MariadbEngine(name);
}
