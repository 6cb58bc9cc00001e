import { rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { SchemaSnapshot } from '../../objects/index.js';
import { firstLogin, pollReady } from '../connecting.js';
import type { Credentials, Endpoint, ServerAdmin } from '../engine.js';
import { readPostgresSchema } from './schema-reader.js';

/** The account the controller administers PostgreSQL servers with. */
export const ADMIN_USER = 'postgres';

/** PostgreSQL administration over the pg driver. */
export class PostgresAdmin implements ServerAdmin {
  readonly user = ADMIN_USER;

  isAccessDenied(error: unknown): boolean {
    return (error as { code?: string } | undefined)?.code === '28P01';
  }

  async waitReady(
    endpoint: Endpoint,
    admin: Credentials,
    deadline: number,
    isAlive?: () => Promise<boolean>,
  ): Promise<void> {
    const probe = async () => {
      const client = await connect(endpoint, admin);
      try {
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    await pollReady(probe, (error) => this.isAccessDenied(error), deadline, isAlive);
  }

  async adoptImportServer(
    endpoint: Endpoint,
    current: Credentials,
    admin: Credentials,
    database: string,
  ): Promise<void> {
    const client = await connect(endpoint, current);
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

  async atConsistentPoint<T>(
    endpoint: Endpoint,
    admin: Credentials,
    copy: () => Promise<T>,
  ): Promise<{ result: T; lockMs: number }> {
    const client = await connect(endpoint, admin);
    try {
      await client.query('CHECKPOINT');
    } finally {
      await client.end().catch(() => undefined);
    }
    return { result: await copy(), lockMs: 0 };
  }

  async prepareClone(dataDir: string): Promise<void> {
    // Absent after a clean shutdown; a stale one would make the clone's server refuse to start.
    await rm(path.join(dataDir, 'postmaster.pid'), { force: true });
  }

  async configureClone(
    endpoint: Endpoint,
    admins: Credentials[],
    newAdmin: Credentials,
    user: Credentials,
  ): Promise<void> {
    const client = await firstLogin(admins, newAdmin, (admin) => connect(endpoint, admin), this.user);
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

  async readSchema(endpoint: Endpoint, admin: Credentials, database: string): Promise<SchemaSnapshot> {
    // The catalogs that list tables are per database: this one's, not `postgres`'s.
    const client = await connect(endpoint, admin, database, { statement_timeout: 60_000 });
    try {
      return await readPostgresSchema(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async clientSessions(endpoint: Endpoint, admin: Credentials): Promise<number> {
    const client = await connect(endpoint, admin, 'postgres', { statement_timeout: 10_000 });
    try {
      // Only client backends (not the checkpointer, walwriter, autovacuum, ...), not the controller's account.
      const result = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            AND usename IS DISTINCT FROM $1`,
        [admin.user],
      );
      return Number(result.rows[0]?.n ?? 0);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** A session as `admin`, in `database` (administration happens in `postgres`; schemas are per database). */
async function connect(
  endpoint: Endpoint,
  admin: Credentials,
  database = 'postgres',
  options: Pick<pg.ClientConfig, 'statement_timeout'> = {},
): Promise<pg.Client> {
  const client = new pg.Client({
    host: endpoint.host,
    port: endpoint.port,
    user: admin.user,
    password: admin.password,
    database,
    connectionTimeoutMillis: 2000,
    ...options,
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
