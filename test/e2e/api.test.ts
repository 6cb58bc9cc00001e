import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { silentLogger } from '../../controller/log.js';
import { shopDump } from '../support/dumps.js';
import { MARIADB } from '../support/flavors.js';
import { TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');
const TOKEN = 'test-token-123';

describe('HTTP API and CLI against a running controller (docker + btrfs)', () => {
  const bed = new TestBed('api', { config: { implicitTemplates: true } });
  let api: ApiServer;
  let base: string;
  const call = (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${route}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const cli = async (...args: string[]) => {
    try {
      const { stdout } = await run(process.execPath, [MAIN, ...args], {
        env: { ...process.env, MYAAS_URL: base, MYAAS_API_TOKEN: TOKEN },
      });
      return { code: 0, stdout };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout + e.stderr };
    }
  };

  beforeAll(async () => {
    // As in the original README: a dump in the dumps dir becomes the template test_db.
    bed.writeDump(
      'test_db.sql',
      "create table test (id int, name varchar(32));\ninsert into test values (1, 'alice'); insert into test values (2, 'bob');\n",
    );
    const running = await bed.start();
    api = createApi(running, silentLogger, TOKEN);
    base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
  });
  afterAll(async () => {
    await api?.close();
    await bed.destroy();
  });

  it('runs the original quickstart: GET /templates, POST /db/test_db/newdb ttl 3600, connect and read the rows', async () => {
    await waitFor(
      'test_db listed',
      async () =>
        ((await (await call('GET', '/templates')).json()) as { templates: string[] }).templates.includes(
          'test_db',
        ),
      120_000,
      200,
    );
    const response = await call('POST', '/db/test_db/newdb', { ttl: 3600 });
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      'created',
      'database',
      'expires_at',
      'host',
      'name',
      'password',
      'port',
      'running',
      'status',
      'user',
    ]);
    expect(body).toMatchObject({
      database: 'default',
      host: 'localhost',
      name: 'newdb',
      running: true,
      user: 'myaas',
    });
    expect(typeof body.port).toBe('string');
    expect(Number.isInteger(body.created)).toBe(true);
    expect(Number(body.expires_at) - (body.created as number)).toBeGreaterThan(3590);
    expect(body.status).toMatch(/^Up /);
    expect(await MARIADB.queryAs(body, 'select * from test order by id')).toEqual([
      { id: 1, name: 'alice' },
      { id: 2, name: 'bob' },
    ]);
    const root = (await (await call('GET', '/')).json()) as Record<string, unknown>;
    expect(root).toEqual({
      status: 'Service is running',
      templates: ['test_db'],
      databases: ['test_db,newdb'],
    });
    const list = (await (await call('GET', '/db')).json()) as { databases: Record<string, unknown>[] };
    expect(list.databases).toEqual([
      {
        template: 'test_db',
        name: 'newdb',
        state: expect.stringMatching(/^Up /),
        created: body.created,
        expires_at: body.expires_at,
      },
    ]);
    const one = (await (await call('GET', '/db/test_db/newdb')).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ name: 'newdb', port: body.port, password: body.password });
  });

  it('answers every seed status code', async () => {
    expect((await call('POST', '/db/test_db/newdb', { ttl: 3600 })).status).toBe(304);
    const unknown = await call('POST', '/db/nope/x', { ttl: 60 });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ status: 'Template "nope" does not exist.' });
    expect(await (await call('GET', '/db/test_db/nobody')).json()).toEqual({ status: 'Not found' });
    expect((await call('GET', '/db/test_db/nobody')).status).toBe(404);
    expect((await call('GET', '/no/such/path')).status).toBe(404);
    const badTtl = await call('POST', '/db/test_db/x1', { ttl: 'soon' });
    expect(badTtl.status).toBe(400);
    expect(((await badTtl.json()) as { status: string }).status).toContain('Invalid ttl');
    expect((await call('POST', '/db/test_db/Bad..Name', { ttl: 60 })).status).toBe(400);
    expect(
      (await call('POST', '/db/test_db/x1', '{not json', { 'content-type': 'application/json' })).status,
    ).toBe(400);
    // A form field ttl, as the sidecar client posts it; and ?wait=false answers 202 at once.
    const form = await call('POST', '/db/test_db/formdb?wait=false', 'ttl=120', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(202);
    await bed.waitForDatabase('formdb', 'Ready');
    const formBody = (await (await call('GET', '/db/test_db/formdb')).json()) as {
      created: number;
      expires_at: string;
    };
    expect(Math.round(Number(formBody.expires_at) - formBody.created)).toBeLessThanOrEqual(121);
    // 423 while a template's first import runs; 409 when the name belongs to another template's database.
    bed.writeDump('slow.sql', `${shopDump(1)}\nDO SLEEP(5);\n`);
    await waitFor('slow importing', () => bed.template('slow')?.status.phase === 'Importing', 30_000);
    const locked = await call('POST', '/db/slow/s1', { ttl: 60 });
    expect(locked.status).toBe(423);
    expect(await locked.json()).toEqual({ status: 'Database not available, content is being imported.' });
    await bed.waitForTemplate('slow', (s) => s.phase === 'Ready', 'slow Ready');
    expect((await call('POST', '/db/slow/newdb', { ttl: 60 })).status).toBe(409);
    expect((await call('GET', '/db/slow/newdb')).status).toBe(404);
    // DELETE: 204, then 404.
    expect((await call('DELETE', '/db/test_db/formdb')).status).toBe(204);
    await waitFor(
      'formdb gone',
      async () => (await call('GET', '/db/test_db/formdb')).status === 404,
      10_000,
    );
    expect((await call('DELETE', '/db/test_db/formdb')).status).toBe(404);
  });

  it('guards every route but health with the bearer token, and bounds bodies', async () => {
    expect((await fetch(`${base}/templates`)).status).toBe(401);
    expect((await fetch(`${base}/templates`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
      401,
    );
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(
      (await call('POST', '/db/test_db/big', 'x'.repeat(200_000), { 'content-type': 'application/json' }))
        .status,
    ).toBe(413);
    expect((await call('GET', '/api/v1/databases/..%2F..%2Fetc')).status).toBe(404);
  });

  it('200 concurrent POSTs for one name make exactly one database', async () => {
    const responses = await Promise.all(
      Array.from({ length: 200 }, () => call('POST', '/db/test_db/race?wait=false', { ttl: 600 })),
    );
    const codes = responses.map((r) => r.status);
    expect(codes.filter((c) => c === 202)).toHaveLength(1);
    expect(codes.filter((c) => c === 304)).toHaveLength(199);
    await bed.waitForDatabase('race', 'Ready');
    expect(readdirSync(path.join(bed.specsDir, 'api-managed')).filter((f) => f.includes('race'))).toEqual([
      'database-race.yaml',
    ]);
    expect(await bed.serversOf('race')).toHaveLength(1);
  });

  it('native API: objects with status, problems, events, reset, reimport, metrics', async () => {
    const put = await call('PUT', '/api/v1/databases/native', {
      metadata: { name: 'native' },
      spec: { template: 'test-db', ttl: '1h' },
    });
    expect(put.status).toBe(201);
    await bed.waitForDatabase('native', 'Ready');
    const object = (await (await call('GET', '/api/v1/databases/native')).json()) as {
      spec: unknown;
      status: { phase: string };
    };
    expect(object).toMatchObject({
      kind: 'Database',
      spec: { template: 'test-db', ttl: '1h', state: 'Running' },
      status: { phase: 'Ready' },
    });
    const invalid = await call('PUT', '/api/v1/databases/bad', {
      metadata: { name: 'bad' },
      spec: { template: 'test-db', ttl: 'soon' },
    });
    expect(invalid.status).toBe(400);
    expect(JSON.stringify(await invalid.json())).toContain('spec.ttl');
    bed.writeSpec('broken.yaml', {
      apiVersion: 'myaas.dev/v1alpha1',
      kind: 'Database',
      metadata: { name: 'broken' },
      spec: { template: 'x', state: 'Paused' },
    });
    await waitFor('problem listed', async () =>
      ((await (await call('GET', '/api/v1/problems')).json()) as { items: { file: string }[] }).items.some(
        (p) => p.file === 'broken.yaml',
      ),
    );
    bed.removeSpec('broken.yaml');
    const before = bed.database('native')!.status.templateVersion;
    expect((await call('POST', '/api/v1/databases/native/reset')).status).toBe(202);
    await waitFor(
      'reset applied',
      () =>
        (bed.database('native')?.record.resetToken ?? '') !== '' &&
        bed.database('native')?.status.phase === 'Ready',
      30_000,
    );
    expect(bed.database('native')!.status.templateVersion).toBe(before);
    const version = bed.template('test-db')!.status.currentVersion;
    expect((await call('POST', '/api/v1/templates/test-db/reimport')).status).toBe(202);
    await bed.waitForTemplate(
      'test-db',
      (s) => s.phase === 'Ready' && s.currentVersion !== version,
      'reimported',
    );
    const events = (await (await call('GET', '/api/v1/events')).json()) as {
      items: { object: string; reason: string }[];
    };
    expect(events.items.some((e) => e.object === 'Template/test-db' && e.reason === 'ImportSucceeded')).toBe(
      true,
    );
    const metrics = await (await call('GET', '/metrics')).text();
    expect(metrics).toMatch(/myaas_reconciles_total\{kind="Database",result="success"\} \d+/);
    expect(metrics).toMatch(/myaas_databases\{phase="Ready"\} \d+/);
    expect(metrics).toMatch(/myaas_clone_to_ready_seconds_count \d+/);
    expect(metrics).toMatch(/myaas_import_bytes_total \d+/);
    expect((await call('DELETE', '/api/v1/databases/native')).status).toBe(204);
  });

  it('CLI: get, describe, apply, connect --print, reset, delete, and a clear error without a controller', async () => {
    const file = path.join(bed.dir, 'cli.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      file,
      'apiVersion: myaas.dev/v1alpha1\nkind: Database\nmetadata:\n  name: cli-db\nspec:\n  template: test-db\n  ttl: 2h\n',
    );
    expect(await cli('apply', '-f', file)).toEqual({ code: 0, stdout: 'database/cli-db created\n' });
    await bed.waitForDatabase('cli-db', 'Ready');
    const get = await cli('get', 'databases');
    expect(get.code).toBe(0);
    expect(get.stdout.split('\n')[0]).toMatch(/^NAME\s+TEMPLATE\s+PHASE\s+PORT\s+EXPIRES\s+IDLE\s+AGE$/);
    expect(get.stdout).toMatch(
      new RegExp(
        `cli-db\\s+test-db\\s+Ready\\s+${bed.database('cli-db')!.status.connection!.port}\\s+(1h|119m|120m)\\s+-\\s+`,
      ),
    );
    const json = JSON.parse((await cli('get', 'database', 'cli-db', '-o', 'json')).stdout) as {
      status: { phase: string };
    };
    expect(json.status.phase).toBe('Ready');
    const describe = await cli('describe', 'database', 'cli-db');
    expect(describe.stdout).toContain('Phase:    Ready');
    expect(describe.stdout).toMatch(/Normal\s+Ready/);
    const print = await cli('connect', 'cli-db', '--print');
    const password = bed.database('cli-db')!.record.user.password;
    expect(print.stdout.trim()).toBe(
      `MYSQL_PWD=${password} mariadb --host=localhost --port=${bed.database('cli-db')!.status.connection!.port} --user=myaas default`,
    );
    expect((await cli('get', 'templates')).stdout).toMatch(/test-db\s+Ready\s+v\d{8}/);
    expect(await cli('reset', 'cli-db')).toEqual({ code: 0, stdout: 'database/cli-db reset requested\n' });
    writeFileSync(
      file,
      'apiVersion: myaas.dev/v1alpha1\nkind: Database\nmetadata:\n  name: cli-db\nspec:\n  template: test-db\n  ttl: forever\n',
    );
    const refused = await cli('apply', '-f', file);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`${file}:7: Database/cli-db: spec.ttl`);
    expect(await cli('delete', 'database', 'cli-db')).toEqual({
      code: 0,
      stdout: 'database/cli-db deleted\n',
    });
    const offline = await run(process.execPath, [MAIN, 'get', 'databases'], {
      env: { ...process.env, MYAAS_URL: 'http://127.0.0.1:1' },
    }).then(
      () => '',
      (e: { stderr: string }) => e.stderr,
    );
    expect(offline).toContain('no myaas controller answers at http://127.0.0.1:1');
  });
});
