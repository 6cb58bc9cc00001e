import mysql from 'mysql2/promise';
import pg from 'pg';
import type { TestBed } from './testbed.js';

/**
 * One connection to a database that stays open, as its own user: a client using a source while it is
 * branched, or a developer's tool that keeps an idle database awake.
 */
export interface Session {
  query(sql: string): Promise<void>;
  close(): Promise<void>;
}

export async function openSession(bed: TestBed, name: string): Promise<Session> {
  const db = bed.database(name)!;
  const connection = db.status.connection!;
  if (db.status.engine === 'postgres') {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: connection.port,
      user: connection.user,
      password: db.record.user.password,
      database: connection.database,
    });
    client.on('error', () => undefined);
    await client.connect();
    return { query: async (sql) => void (await client.query(sql)), close: () => client.end() };
  }
  const client = await mysql.createConnection({
    host: '127.0.0.1',
    port: connection.port,
    user: connection.user,
    password: db.record.user.password,
    database: connection.database,
  });
  return { query: async (sql) => void (await client.query(sql)), close: () => client.end() };
}
