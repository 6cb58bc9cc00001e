import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { EngineName } from '../../controller/objects/index.js';
import { shopDump, shopDumpPostgres } from './dumps.js';
import type { TestBed } from './testbed.js';

/** A `POST /db/<template>/<name>` answer: port (a string there), user, password, database. */
export type SeedAnswer = Readonly<Record<string, unknown>>;

/** What the shared end-to-end cases need to know about an engine: its dump, its SQL, its logins. */
export interface Flavor {
  readonly engine: EngineName;
  readonly adminUser: string;
  /** The shop dump (tables, a view, a trigger and a routine) in the engine's own dump language. */
  shopDump(rows: number, label: string): string;
  /** Calls the dump's routine that counts products. */
  countProducts(bed: TestBed, database: string): Promise<number>;
  /** Logs in and out; rejects when the credentials are refused. */
  login(port: number, user: string, password: string): Promise<void>;
  /** Runs a query as the seed API's answer says (its port, user, password and database): the rows. */
  queryAs(answer: SeedAnswer, sql: string): Promise<unknown[]>;
  /** What the engine says when a login is refused. */
  readonly refused: RegExp;
  /** Checks a template version's files (e.g. what a clone's first start would otherwise redo). */
  checkVersion(dir: string): void;
}

export const MARIADB: Flavor = {
  engine: 'mariadb',
  adminUser: 'root',
  shopDump,
  async countProducts(bed, database) {
    const rows = await bed.query<Record<string, unknown>[]>(
      database,
      'CALL count_products(@n); SELECT @n AS n',
    );
    return Number((rows[1] as unknown as { n: number }[])[0]?.n);
  },
  async login(port, user, password) {
    const c = await mysql.createConnection({ host: '127.0.0.1', port, user, password });
    await c.end();
  },
  async queryAs(answer, sql) {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: Number(answer.port),
      user: String(answer.user),
      password: String(answer.password),
      database: String(answer.database),
    });
    try {
      const [rows] = await c.query(sql);
      return rows as unknown[];
    } finally {
      await c.end();
    }
  },
  refused: /Access denied/,
  checkVersion(dir) {
    // The import's settings do not leak into the version: the redo log has its default size.
    if (statSync(path.join(dir, 'ib_logfile0')).size !== 96 * 1024 * 1024)
      throw new Error(`${dir}/ib_logfile0 is not the default 96 MiB`);
  },
};

export const POSTGRES: Flavor = {
  engine: 'postgres',
  adminUser: 'postgres',
  shopDump: shopDumpPostgres,
  async countProducts(bed, database) {
    const [row] = await bed.query<{ n: number }>(database, 'SELECT count_products() AS n');
    return Number(row?.n);
  },
  async queryAs(answer, sql) {
    const c = new pg.Client({
      host: '127.0.0.1',
      port: Number(answer.port),
      user: String(answer.user),
      password: String(answer.password),
      database: String(answer.database),
    });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  },
  async login(port, user, password) {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    await c.end();
  },
  refused: /password authentication failed/,
  checkVersion(dir) {
    // Shut down cleanly: no postmaster.pid, so a clone starts without crash recovery.
    if (!existsSync(path.join(dir, 'PG_VERSION'))) throw new Error(`${dir} holds no PostgreSQL datadir`);
    if (existsSync(path.join(dir, 'postmaster.pid'))) throw new Error(`${dir} was not shut down cleanly`);
  },
};
