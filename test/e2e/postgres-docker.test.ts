import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { silentLogger } from '../../controller/log.js';
import { POSTGRES } from '../support/flavors.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';
import { describeLifecycle } from './cases/lifecycle.js';
import { describeArchiveImports } from './cases/postgres-archives.js';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');

describeLifecycle(DOCKER_BTRFS, POSTGRES);

describeArchiveImports(DOCKER_BTRFS);

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
    expect(await POSTGRES.queryAs(body, 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
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
