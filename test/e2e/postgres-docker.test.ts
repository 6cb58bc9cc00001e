import { execFile, execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { silentLogger } from '../../controller/log.js';
import { POSTGRES } from '../support/flavors.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';
import { describeLifecycle } from './cases/lifecycle.js';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');

describeLifecycle(DOCKER_BTRFS, POSTGRES);

/** The host's pg_dump (Debian keeps it under /usr/lib/postgresql/<major>/bin). */
function pgDump(): string {
  const root = '/usr/lib/postgresql';
  const major = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (!major) throw new Error('no PostgreSQL on this host: run scripts/test-env up');
  return path.join(root, major, 'bin', 'pg_dump');
}

describe('postgres custom-format dumps (pg_dump -Fc) through pg_restore', () => {
  const bed = new TestBed('pg-archive');

  beforeAll(async () => {
    bed.writeDump('shop.sql', POSTGRES.shopDump(3, 'v1'));
    bed.writeSpec('shop.yaml', templateObject('shop', { engine: 'postgres', source: { path: 'shop.sql' } }));
    bed.writeSpec('src.yaml', databaseObject('src'));
    await bed.spawn();
    await bed.waitForDatabase('src', 'Ready', 180_000);
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('a .dump archive becomes a template whose clones have its tables, view, trigger and function', async () => {
    await bed.query('src', "INSERT INTO products VALUES (7, 'archived', 70)");
    const src = bed.database('src')!;
    execFileSync(
      pgDump(),
      [
        '-Fc',
        '-h',
        '127.0.0.1',
        '-p',
        String(src.status.connection!.port),
        '-U',
        'myaas',
        '-f',
        path.join(bed.dumpsDir, 'archive.dump'),
        'default',
      ],
      { env: { ...process.env, PGPASSWORD: src.record.user.password } },
    );
    bed.writeSpec(
      'archive.yaml',
      templateObject('archive', { engine: 'postgres', source: { path: 'archive.dump' } }),
    );
    await bed.waitForTemplate('archive', (s) => s.phase === 'Ready', 'Ready', 180_000);
    bed.writeSpec('from-archive.yaml', databaseObject('from-archive', { template: 'archive' }));
    await bed.waitForDatabase('from-archive', 'Ready');
    expect(await bed.query('from-archive', 'SELECT name FROM expensive ORDER BY name')).toEqual([
      { name: 'archived' },
      { name: 'item-2' },
      { name: 'item-3' },
    ]);
    await bed.query('from-archive', "INSERT INTO products VALUES (8, 'after', 1)");
    expect(await bed.query('from-archive', "SELECT note FROM audit WHERE note = 'added after'")).toEqual([
      { note: 'added after' },
    ]);
    expect(await POSTGRES.countProducts(bed, 'from-archive')).toBe(5);
  });

  it('a broken archive fails the import with pg_restore saying why, and keeps nothing', async () => {
    bed.writeDump('broken.dump', 'PGDMP this is not an archive');
    bed.writeSpec(
      'broken.yaml',
      templateObject('broken', { engine: 'postgres', source: { path: 'broken.dump' } }),
    );
    const t = await bed.waitForTemplate(
      'broken',
      (s) => s.lastImport?.result === 'Failed',
      'failed',
      120_000,
    );
    expect(t.status.lastImport!.error).toMatch(/^pg_restore exited with \d+: .*pg_restore/s);
    expect(t.status.currentVersion).toBeUndefined();
    expect((await bed.servers()).filter((s) => s.role === 'Import')).toEqual([]);
  });

  it('a plain dump with an SQL error fails with the dump line', async () => {
    bed.writeDump(
      'bad.sql',
      'CREATE TABLE ok (id int);\nINSERT INTO ok VALUES (1);\nINSERT INTO missing VALUES (1);\n',
    );
    bed.writeSpec('bad.yaml', templateObject('bad', { engine: 'postgres', source: { path: 'bad.sql' } }));
    const t = await bed.waitForTemplate('bad', (s) => s.lastImport?.result === 'Failed', 'failed', 120_000);
    expect(t.status.lastImport!.error).toMatch(/relation "missing" does not exist/);
    expect(t.status.lastImport!.errorLine).toBe(3);
  });
});

describe('the original API and the CLI work unchanged for postgres databases', () => {
  const bed = new TestBed('pg-api');
  let api: ApiServer;
  let base: string;

  beforeAll(async () => {
    bed.writeDump('pgshop.sql', POSTGRES.shopDump(3, 'v1'));
    bed.writeSpec(
      'pgshop.yaml',
      templateObject('pgshop', { engine: 'postgres', source: { path: 'pgshop.sql' } }),
    );
    const running = await bed.start();
    api = createApi(running, silentLogger);
    base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    await bed.waitForTemplate('pgshop', (s) => s.phase === 'Ready', 'Ready', 180_000);
  });
  afterAll(async () => {
    await api?.close();
    await bed.destroy();
  });

  it('POST /db/<template>/<name> answers with credentials that open a postgres database; DELETE removes it', async () => {
    const response = await fetch(`${base}/db/pgshop/mine`, {
      method: 'POST',
      body: new URLSearchParams({ ttl: '3600' }),
    });
    expect(response.status).toBe(201);
    const body = (await response.json()) as {
      host: string;
      port: string;
      user: string;
      password: string;
      database: string;
    };
    expect(body).toMatchObject({ user: 'myaas', database: 'default' });
    const client = new pg.Client({
      host: '127.0.0.1',
      port: Number(body.port),
      user: body.user,
      password: body.password,
      database: body.database,
    });
    await client.connect();
    expect((await client.query('SELECT v FROM meta')).rows).toEqual([{ v: 'v1' }]);
    await client.end();
    expect((await fetch(`${base}/db/pgshop/mine`, { method: 'DELETE' })).status).toBeLessThan(300);
    await waitFor(
      'mine removed',
      async () => !bed.database('mine') && (await bed.serversOf('mine')).length === 0,
      60_000,
      100,
    );
  });

  it('myaas connect --print gives psql, --dsn a postgresql:// URL', async () => {
    bed.writeSpec('cli.yaml', databaseObject('cli', { template: 'pgshop' }));
    const db = await bed.waitForDatabase('cli', 'Ready');
    // Asynchronous: the API answering the CLI runs in this very process.
    const cli = async (...args: string[]) =>
      (
        await run(process.execPath, [MAIN, ...args], { env: { ...process.env, MYAAS_URL: base } })
      ).stdout.trim();
    const { port } = db.status.connection!;
    const password = db.record.user.password;
    expect(await cli('connect', 'cli', '--print')).toBe(
      `PGPASSWORD=${password} psql -h localhost -p ${port} -U myaas default`,
    );
    expect(await cli('connect', 'cli', '--dsn')).toBe(
      `postgresql://myaas:${password}@localhost:${port}/default`,
    );
  });
});
