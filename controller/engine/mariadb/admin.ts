import { rm } from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import type { SchemaSnapshot } from '../../objects/index.js';
import { firstLogin, pollReady } from '../connecting.js';
import type { Credentials, Endpoint, ServerAdmin } from '../engine.js';
import { ADMIN_USER, type MysqlFlavor } from './flavor.js';
import { readMariadbSchema } from './schema-reader.js';

/** MariaDB/MySQL administration over the mysql2 driver. */
export class MariadbAdmin implements ServerAdmin {
  readonly user = ADMIN_USER;

  constructor(readonly flavor: MysqlFlavor) {}

  isAccessDenied(error: unknown): boolean {
    return (error as { code?: string } | undefined)?.code === 'ER_ACCESS_DENIED_ERROR';
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

  async atConsistentPoint<T>(
    endpoint: Endpoint,
    admin: Credentials,
    copy: () => Promise<T>,
  ): Promise<{ result: T; lockMs: number }> {
    const connection = await this.#connect(endpoint, admin);
    try {
      // A long-running statement would keep FTWRL waiting while every new write queues behind it:
      // give up after a while and say so, rather than stall the source.
      await connection.query('SET SESSION lock_wait_timeout = 30');
      await connection.query('FLUSH TABLES WITH READ LOCK');
      const locked = Date.now();
      try {
        const result = await copy();
        return { result, lockMs: Date.now() - locked };
      } finally {
        await connection.query('UNLOCK TABLES');
      }
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  async prepareClone(dataDir: string): Promise<void> {
    // MySQL keeps server_uuid in auto.cnf: clones must not share it (replication and GTIDs rely on it).
    if (this.flavor.isMysql) await rm(path.join(dataDir, 'auto.cnf'), { force: true });
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
      this.user,
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

  async readSchema(endpoint: Endpoint, admin: Credentials, database: string): Promise<SchemaSnapshot> {
    const connection = await this.#connect(endpoint, admin);
    try {
      return await readMariadbSchema(connection, database);
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  async clientSessions(endpoint: Endpoint, admin: Credentials): Promise<number> {
    const connection = await this.#connect(endpoint, admin);
    try {
      // Background threads are `system user` (MariaDB), `event_scheduler`, or a Daemon command (MySQL);
      // a login still in its handshake is `unauthenticated user`. The admin account is the controller's.
      const [rows] = await connection.query<mysql.RowDataPacket[]>(
        `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST
          WHERE ID <> CONNECTION_ID()
            AND USER NOT IN (?, 'system user', 'event_scheduler', 'unauthenticated user')
            AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID')`,
        [admin.user],
      );
      return Number(rows[0]?.n ?? 0);
    } finally {
      await connection.end().catch(() => undefined);
    }
  }

  /** The admin accounts the official image leaves, with this password; any other root account goes. */
  async #rotateAdmin(connection: mysql.Connection, password: string): Promise<void> {
    await keepOfficialAdminAccounts(connection, this.user, password);
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

/**
 * Leaves the admin accounts the official image leaves, with `password`: `<admin>@localhost` and
 * `<admin>@'%'`. The others an image's first start (or mariadb-install-db) may leave go:
 * `<admin>@127.0.0.1`, `@::1`, `@<hostname>` (servers run with --skip-name-resolve, where an account
 * named by host name cannot even be altered, and each would keep the image's password), and
 * anonymous users. Other accounts (mariadb.sys, which owns system views) stay.
 */
export async function keepOfficialAdminAccounts(
  connection: mysql.Connection,
  admin: string,
  password: string,
): Promise<void> {
  const [accounts] = await connection.query<mysql.RowDataPacket[]>(
    "SELECT User, Host FROM mysql.user WHERE User IN (?, '')",
    [admin],
  );
  for (const { User, Host } of accounts) {
    const account = `${connection.escape(User)}@${connection.escape(Host)}`;
    const keep = User === admin && (Host === 'localhost' || Host === '%');
    // DROP USER works on an account --skip-name-resolve ignored; ALTER USER does not.
    await connection.query(
      keep ? `ALTER USER ${account} IDENTIFIED BY ${connection.escape(password)}` : `DROP USER ${account}`,
    );
  }
}
