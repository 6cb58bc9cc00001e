import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { TestBed } from './testbed.js';

/** The host's pg_dump (Debian keeps it under /usr/lib/postgresql/<major>/bin, off PATH). */
function hostPgDump(): string {
  const root = '/usr/lib/postgresql';
  const major = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (!major) throw new Error('no PostgreSQL on this host: run scripts/test-env up');
  return path.join(root, major, 'bin', 'pg_dump');
}

/** Writes a custom-format archive (pg_dump -Fc) of a Ready postgres database of the bed to `file`. */
export function dumpArchive(bed: TestBed, database: string, file: string): void {
  const db = bed.database(database);
  if (!db?.status.connection) throw new Error(`database ${database} is not Ready`);
  const c = db.status.connection;
  execFileSync(
    hostPgDump(),
    ['-Fc', '-h', '127.0.0.1', '-p', String(c.port), '-U', c.user, '-f', file, c.database],
    { env: { ...process.env, PGPASSWORD: db.record.user.password } },
  );
}
