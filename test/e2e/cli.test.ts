import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { silentLogger } from '../../controller/log.js';
import { TEAM_TOKENS, startTeamApi } from '../support/api.js';
import { databaseObject } from '../support/specs.js';
import { PROCESS_COPY, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');
const TOKENS = TEAM_TOKENS;

// biome-ignore lint/suspicious/noExplicitAny: API answers, read field by field as the tests need them
type Json = any;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A free TCP port on loopback right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Issue 15's CLI half on the quick start's runtime (host processes, copies): kubectl and compose
 * habits against one controller, through the built CLI.
 */
describe('CLI habits against a running controller (process + copy)', () => {
  const bed = new TestBed('cli', { pair: PROCESS_COPY });
  let api: ApiServer;
  let teamApi: ApiServer;
  let base: string;
  let teamBase: string;

  /** Runs the built CLI (stdin from `input`), bounded by a timeout; never throws. */
  const cli = (args: string[], input?: string, timeoutMs = 120_000): Promise<Result> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [MAIN, ...args], {
        env: {
          ...process.env,
          MYAAS_URL: base,
          MYAAS_TOKEN: '',
          MYAAS_API_TOKEN: '',
          MYAAS_TOKEN_FILE: path.join(bed.dir, 'no-token'),
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input ?? '');
    });
  const call = async (method: string, route: string, body?: unknown, on = base, token?: string) => {
    const response = await fetch(`${on}${route}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a log
    }
    return { status: response.status, body: parsed as Json };
  };
  const object = async (name: string) => (await call('GET', `/api/v1/databases/${name}`)).body;
  const waitPhase = (name: string, phase: string, timeoutMs = 90_000) =>
    waitFor(
      `${name} ${phase}`,
      async () => {
        const o = await object(name);
        return o.status?.phase === phase ? o : undefined;
      },
      timeoutMs,
      200,
    );

  beforeAll(async () => {
    // filed: a database declared in a spec file (the operator's), beside the shop template.
    bed.declareShop('shop.sql', databaseObject('filed'));
    const running = await bed.start();
    api = createApi(running, silentLogger);
    base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    // The same controller behind a users file: a developer and a viewer, for who may read logs.
    ({ api: teamApi, base: teamBase } = await startTeamApi(running, bed.dir));
    await waitPhase('filed', 'Ready', 180_000);
  });
  afterAll(async () => {
    await teamApi?.close();
    await api?.close();
    await bed.destroy();
  });

  it('create database --ttl 1h --wait: ready when it returns; a taken name, an unknown template, a bad name are refused', async () => {
    const made = await cli(['create', 'database', 'mine', '--template', 'shop', '--ttl', '1h', '--wait']);
    expect(made.stderr).toBe('');
    expect(made.stdout).toMatch(
      /^database\/mine created\ndatabase\/mine ready on port \d+ \(myaas connect mine\)\n$/,
    );
    const mine = await object('mine');
    expect(mine.status.phase).toBe('Ready');
    expect(mine.spec.ttl).toBe('1h');
    expect(Date.parse(mine.status.expiresAt) - Date.parse(mine.status.createdAt)).toBe(3600_000);
    const again = await cli(['create', 'database', 'mine', '--template', 'shop']);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('Database "mine" exists') });
    const unknown = await cli(['create', 'database', 'other', '--template', 'nope']);
    expect(unknown).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Template "nope" does not exist'),
    });
    const bad = await cli(['create', 'database', 'MyDB', '--template', 'shop']);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('`MyDB` is not a valid name') });
    expect((await call('GET', '/api/v1/databases/other')).status).toBe(404);
  });

  it('the original POST takes ttl=1h, and refuses MyDB with a message instead of making mydb', async () => {
    const form = await fetch(`${base}/db/shop/seeded?wait=false`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'ttl=1h',
    });
    expect(form.status).toBe(202);
    const seeded = await waitPhase('seeded', 'Ready');
    expect(Date.parse(seeded.status.expiresAt) - Date.parse(seeded.status.createdAt)).toBe(3600_000);
    const upper = await call('POST', '/db/shop/MyDB', { ttl: 60 });
    expect(upper.status).toBe(400);
    expect(upper.body.status).toMatch(/Invalid database name "MyDB".*did you mean "mydb"/);
    expect((await call('GET', '/api/v1/databases/mydb')).status).toBe(404);
    expect((await call('DELETE', '/db/shop/seeded')).status).toBe(204);
  });

  it('get -o yaml applies back unchanged (nothing written), a change is configured, lists apply too', async () => {
    const file = path.join(bed.specsDir, 'api-managed', 'database-mine.yaml');
    const before = statSync(file).mtimeMs;
    const yaml = (await cli(['get', 'db', 'mine', '-o', 'yaml'])).stdout;
    expect(yaml).toContain('status:');
    expect(await cli(['apply', '-f', '-'], yaml)).toMatchObject({
      code: 0,
      stdout: 'database/mine unchanged\n',
    });
    expect(statSync(file).mtimeMs).toBe(before);
    // A template applied back unchanged is not written either: a rewrite would import it again.
    const shop = (await cli(['get', 'template', 'shop', '-o', 'yaml'])).stdout;
    expect((await cli(['apply', '-f', '-'], shop)).stdout).toBe('template/shop unchanged\n');
    // The whole list, a database of a spec file included (unchanged, so no "declared in" refusal).
    const list = (await cli(['get', 'databases', '-o', 'yaml'])).stdout;
    const applied = await cli(['apply', '-f', '-'], list);
    expect(applied).toMatchObject({ code: 0 });
    expect(applied.stdout).toContain('database/filed unchanged\n');
    expect(applied.stdout).toContain('database/mine unchanged\n');
    const changed = await cli(['apply', '-f', '-'], yaml.replace('ttl: 1h', 'ttl: 2h'));
    expect(changed).toMatchObject({ code: 0, stdout: 'database/mine configured\n' });
    expect((await object('mine')).spec.ttl).toBe('2h');
  });

  it('stop and start; connect on a stopped database says how to start it', async () => {
    expect((await cli(['stop', 'mine', '--wait'])).stdout).toBe(
      'database/mine stopping\ndatabase/mine stopped\n',
    );
    expect((await object('mine')).status.phase).toBe('Stopped');
    const connect = await cli(['connect', 'mine', '--print']);
    expect(connect).toMatchObject({
      code: 1,
      stderr: 'myaas: database mine is stopped: start it with `myaas start mine --wait`\n',
    });
    const filed = await cli(['stop', 'filed']);
    expect(filed).toMatchObject({ code: 1, stderr: expect.stringContaining('declared in shop.yaml') });
    expect((await cli(['start', 'mine', '--wait'])).stdout).toBe(
      'database/mine starting\ndatabase/mine ready\n',
    );
    expect((await cli(['connect', 'mine', '--print'])).stdout).toMatch(/^MYSQL_PWD=\S+ mariadb .*--port=\d+/);
  });

  it('extend NAME 3h: expires 3h from now (spec.expiresAt, ttl dropped); a shorter extend changes nothing', async () => {
    const started = Date.now();
    const extended = await cli(['extend', 'mine', '3h']);
    expect(extended).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^database\/mine extended: expires at /),
    });
    const mine = await waitFor(
      'the new expiry in status',
      async () => {
        const o = await object('mine');
        return o.spec.expiresAt && o.status.expiresAt === new Date(o.spec.expiresAt).toISOString()
          ? o
          : undefined;
      },
      30_000,
      200,
    );
    expect(mine.spec.ttl).toBeUndefined();
    const expiry = Date.parse(mine.status.expiresAt);
    expect(expiry).toBeGreaterThanOrEqual(started + 3 * 3600_000);
    expect(expiry).toBeLessThan(Date.now() + 3 * 3600_000 + 2000);
    const shorter = await cli(['extend', 'mine', '1m']);
    expect(shorter.stdout).toMatch(/^database\/mine unchanged: it expires at /);
    expect((await object('mine')).spec.expiresAt).toBe(mine.spec.expiresAt);
  });

  it("logs NAME: the server's own log, for its owner or an admin only", async () => {
    const logs = await cli(['logs', 'mine', '--tail', '500']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/ready for connections/i);
    const five = await cli(['logs', 'mine', '--tail', '5']);
    expect(five.stdout.trimEnd().split('\n')).toHaveLength(5);
    // mine belongs to the local admin: another developer and a viewer may not read it.
    expect((await call('GET', '/api/v1/databases/mine/logs', undefined, teamBase, TOKENS.bob)).status).toBe(
      403,
    );
    expect((await call('GET', '/api/v1/databases/mine/logs', undefined, teamBase, TOKENS.val)).status).toBe(
      403,
    );
    expect((await call('GET', '/api/v1/databases/mine/logs?lines=0')).status).toBe(400);
  });

  it('get -w prints the list, then rows as they change, and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [MAIN, 'get', 'databases', '-w'], {
      env: { ...process.env, MYAAS_URL: base, MYAAS_TOKEN_FILE: path.join(bed.dir, 'no-token') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(
        'the first list',
        () => /^NAME\s+TEMPLATE\s+PHASE/.test(out) && out.includes('mine'),
        15_000,
      );
      expect((await call('POST', '/db/shop/watched?wait=false', { ttl: 600 })).status).toBe(202);
      await waitFor('watched Ready in the watch', () => /\nwatched\s+shop\s+Ready\s/.test(out), 90_000, 100);
      const rowsOfWatched = out.split('\n').filter((l) => l.startsWith('watched '));
      // Each change once (Pending/Cloning/Starting/Ready), not a row a second.
      expect(rowsOfWatched.length).toBeLessThanOrEqual(5);
      expect(out.match(/^NAME/gm)).toHaveLength(1);
      const sent = Date.now();
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(Date.now() - sent).toBeLessThan(5000);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
    expect((await call('DELETE', '/db/shop/watched')).status).toBe(204);
  });

  it('get templates shows PROGRESS, and AGE counts from creation across a reimport', async () => {
    const listed = await cli(['get', 'templates']);
    expect(listed.stdout).toMatch(/^NAME\s+PHASE\s+VERSION\s+LAST IMPORT\s+PROGRESS\s+POOL\s+AGE\n/);
    // No warm pool on shop: POOL says '-'.
    expect(listed.stdout).toMatch(/\nshop\s+Ready\s+v\S+\s+Succeeded \S+ ago\s+-\s+-\s+\d+[smhd]\n/);
    const before = (await call('GET', '/api/v1/templates/shop')).body;
    expect(before.status.createdAt).toBeDefined();
    expect((await cli(['reimport', 'shop'])).code).toBe(0);
    const after = await waitFor(
      'a new version of shop',
      async () => {
        const t = (await call('GET', '/api/v1/templates/shop')).body;
        return t.status.phase === 'Ready' && t.status.currentVersion !== before.status.currentVersion
          ? t
          : undefined;
      },
      120_000,
      200,
    );
    expect(after.status.createdAt).toBe(before.status.createdAt);
    expect(Date.parse(after.status.lastImport.startedAt)).toBeGreaterThan(
      Date.parse(before.status.createdAt),
    );
  });

  it('describe shows the problems of a database whose template does not exist (status and /api/v1/problems say so)', async () => {
    const orphan =
      'apiVersion: myaas.dev/v1alpha1\nkind: Database\nmetadata: { name: orphan }\nspec: { template: nope }\n';
    expect((await cli(['apply', '-f', '-'], orphan)).stdout).toBe('database/orphan created\n');
    await waitFor(
      'orphan says its template is missing',
      async () => (await object('orphan')).status?.message?.includes('template "nope" does not exist'),
      30_000,
      200,
    );
    const problems = (await call('GET', '/api/v1/problems')).body.items as { key?: string; text: string }[];
    expect(problems.find((p) => p.key === 'Database/orphan')?.text).toContain(
      'spec.template: template "nope" does not exist',
    );
    const described = await cli(['describe', 'database', 'orphan']);
    expect(described.stdout).toMatch(/Message: {2}template "nope" does not exist/);
    expect(described.stdout).toMatch(
      /\nProblems:\n {2}api-managed\/database-orphan\.yaml:\d+: Database\/orphan: spec\.template: template "nope"/,
    );
    expect((await cli(['delete', 'database', 'orphan'])).code).toBe(0);
  });

  it('a fixed port held by another database names it; one held by another program says address already in use', async () => {
    const port = await freePort();
    expect(
      (await cli(['create', 'database', 'porta', '--template', 'shop', '--port', String(port), '--wait']))
        .code,
    ).toBe(0);
    expect(
      (await cli(['create', 'database', 'portb', '--template', 'shop', '--port', String(port)])).code,
    ).toBe(0);
    const b = await waitPhase('portb', 'Failed');
    expect(b.status.message).toContain(`port ${port} is held by database porta`);
    expect((await cli(['describe', 'db', 'portb'])).stdout).toContain(
      `spec.port: port ${port} is also fixed by Database/porta`,
    );
    expect((await cli(['delete', 'database', 'portb'])).code).toBe(0);

    const holder: Server = createServer();
    const held = await freePort();
    await new Promise<void>((resolve) => holder.listen(held, '127.0.0.1', resolve));
    try {
      expect(
        (await cli(['create', 'database', 'portc', '--template', 'shop', '--port', String(held)])).code,
      ).toBe(0);
      const c = await waitPhase('portc', 'Failed');
      expect(c.status.message).toContain(`port ${held} on 127.0.0.1: address already in use`);
      const waited = await cli([
        'create',
        'database',
        'portd',
        '--template',
        'shop',
        '--port',
        String(held),
        '--wait',
      ]);
      expect(waited).toMatchObject({ code: 1, stderr: expect.stringContaining('address already in use') });
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    expect((await cli(['delete', 'database', 'portc'])).code).toBe(0);
    expect((await cli(['delete', 'database', 'portd'])).code).toBe(0);
  });

  it('controller --banner (the quick start) prints the API address once it answers, and the web UI line exactly when /ui/ is served', async () => {
    expect(api.serves('/api/v1/databases')).toBe(true);
    const ui = api.serves('/ui/');
    const dir = path.join(bed.dir, 'banner');
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'controller',
        '--banner',
        '--specs',
        path.join(dir, 'specs'),
        '--dumps',
        path.join(dir, 'dumps'),
        '--data',
        path.join(dir, 'data'),
        '--runtime',
        'process',
        '--storage',
        'copy',
        '--listen',
        '127.0.0.1:0',
      ],
      { env: { ...process.env, MYAAS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const url = await waitFor(
        'the banner',
        () => /API: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1],
        30_000,
        50,
      );
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect(out).toContain('npx myaas create database mine --template shop --wait');
      expect(out).toContain('To stop everything: npx myaas down');
      expect(out.includes('/ui/')).toBe(ui);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }
  });

  it('down stops every API-made database (data kept) and names the file of the others; --remove deletes them into the trash', async () => {
    const down = await cli(['down']);
    expect(down.code).toBe(0);
    expect(down.stdout).toContain(
      "database/filed is declared in the spec file shop.yaml (in the controller's specs dir): set spec.state: Stopped there; myaas leaves spec files to their owner\n",
    );
    expect(down.stdout).toContain('database/mine stopped\n');
    expect(down.stdout).toContain('database/porta stopped\n');
    expect((await object('mine')).status.phase).toBe('Stopped');
    expect((await object('porta')).status.phase).toBe('Stopped');
    expect((await object('filed')).status.phase).toBe('Ready');
    // Nothing left to stop but the file's.
    expect((await cli(['down'])).stdout).not.toContain('stopped');

    const removed = await cli(['down', '--remove']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain('database/mine deleted (into the trash');
    expect(removed.stdout).toContain(
      "database/filed is declared in the spec file shop.yaml (in the controller's specs dir): delete it there",
    );
    expect((await call('GET', '/api/v1/databases/mine')).status).toBe(404);
    const trash = (await call('GET', '/api/v1/trash')).body.items as { name: string; reason: string }[];
    expect(trash.filter((e) => e.reason === 'Deleted').map((e) => e.name)).toEqual(
      expect.arrayContaining(['mine', 'porta']),
    );
    expect((await object('filed')).status.phase).toBe('Ready');
  });
});
