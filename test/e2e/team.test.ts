import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { hashToken } from '../../controller/api/auth.js';
import { createLogger } from '../../controller/log.js';
import { callApi } from '../support/api.js';
import { TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');
const TOKENS = {
  ada: 'tok-admin-7f3a9c',
  alice: 'tok-alice-41b2d8',
  bob: 'tok-bob-9c0e17',
  val: 'tok-viewer-5d6e22',
  carl: 'tok-carl-2b8f0a',
};

/** Issue 14 on docker + btrfs: users and roles, ownership, quotas, closed by default, no cross-site writes, audit. */
describe('a team server: users, roles, ownership, quotas (docker + btrfs)', () => {
  const bed = new TestBed('team');
  let api: ApiServer;
  let base: string;
  const logFile = () => path.join(bed.dir, 'api.log');
  const call = (
    user: keyof typeof TOKENS | undefined,
    method: string,
    route: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    callApi(base, method, route, body, {
      ...(user ? { authorization: `Bearer ${TOKENS[user]}` } : {}),
      ...headers,
    });

  beforeAll(async () => {
    const users = path.join(bed.dir, 'users.yaml');
    writeFileSync(
      users,
      `roles:
  developer: { maxDatabases: 2, maxTtl: 1d, defaultTtl: 8h }
users:
  - { name: ada, role: admin, tokenSha256: ${hashToken(TOKENS.ada)} }
  - { name: alice, role: developer, tokenSha256: ${hashToken(TOKENS.alice)} }
  - { name: bob, role: developer, tokenSha256: ${hashToken(TOKENS.bob)} }
  - { name: val, role: viewer, tokenSha256: ${hashToken(TOKENS.val)} }
  - { name: carl, role: developer, tokenSha256: ${hashToken(TOKENS.carl)}, quota: { memory: 256 } }
`,
    );
    bed.declareShop();
    const running = await bed.start();
    // The API logs at debug into its own file: the audit lines, and the proof no password is in them.
    const log = createLogger({
      level: 'debug',
      stream: (await import('node:fs')).createWriteStream(logFile()),
    });
    api = createApi(running, log, undefined, users);
    base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
  });
  afterAll(async () => {
    await api?.close();
    await bed.destroy();
  });

  it('asks for a token (401), by bearer header or by basic auth as the original clients can send it', async () => {
    expect((await call(undefined, 'GET', '/db')).status).toBe(401);
    expect((await fetch(`${base}/db`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const basic = Buffer.from(`alice:${TOKENS.alice}`).toString('base64');
    const answer = await fetch(`${base}/db`, { headers: { authorization: `Basic ${basic}` } });
    expect(answer.status).toBe(200);
    expect((await call('alice', 'GET', '/api/v1/whoami')).body).toEqual({
      name: 'alice',
      role: 'developer',
      quota: { maxDatabases: 2, maxTtlSeconds: 86400, defaultTtlSeconds: 28800 },
    });
  });

  it('a developer owns what she makes: another developer can neither see nor delete it (403); an admin can', async () => {
    const made = await call('alice', 'POST', '/db/shop/alice1', { ttl: 3600 });
    expect(made.status).toBe(201);
    expect(made.body.password).toBeTruthy();
    expect(bed.running!.desired.get('Database/alice1')?.object.metadata.annotations['myaas.dev/owner']).toBe(
      'alice',
    );
    expect((await call('bob', 'GET', '/db/shop/alice1')).status).toBe(403);
    expect((await call('bob', 'GET', '/api/v1/databases/alice1')).status).toBe(403);
    expect((await call('bob', 'DELETE', '/db/shop/alice1')).status).toBe(403);
    expect(((await call('bob', 'GET', '/db')).body.databases as unknown[]).length).toBe(0);
    expect((await call('bob', 'POST', '/api/v1/databases/alice1/reset')).status).toBe(403);
    const admin = await call('ada', 'GET', '/db/shop/alice1');
    expect(admin).toMatchObject({ status: 200, body: { password: made.body.password } });
    // Developers read templates, never change them.
    expect((await call('alice', 'GET', '/api/v1/templates')).status).toBe(200);
    expect((await call('alice', 'POST', '/api/v1/templates/shop/reimport')).status).toBe(403);
  });

  it('a viewer reads databases without their passwords and changes nothing', async () => {
    const seen = await call('val', 'GET', '/db/shop/alice1');
    expect(seen.status).toBe(200);
    expect(seen.body.password).toBe('');
    expect((await call('val', 'POST', '/db/shop/val1', { ttl: 60 })).status).toBe(403);
    expect((await call('val', 'DELETE', '/db/shop/alice1')).status).toBe(403);
    expect(bed.running!.desired.get('Database/val1')).toBeUndefined();
  });

  it('quotas: the (N+1)th database is refused with 429 and the numbers; a ttl over the maximum with 403; the default ttl applies', async () => {
    const second = await call('alice', 'POST', '/db/shop/alice2');
    expect(second.status).toBe(201);
    expect(Number(second.body.expires_at) - Number(second.body.created)).toBeGreaterThan(8 * 3600 - 60);
    const third = await call('alice', 'POST', '/db/shop/alice3', { ttl: 60 });
    expect(third.status).toBe(429);
    expect(String(third.body.status)).toContain('may own 2 database(s) and owns 2');
    const long = await call('bob', 'POST', '/db/shop/bob1', { ttl: 7 * 86400 });
    expect(long.status).toBe(403);
    expect(String(long.body.status)).toContain('maximum of 86400s');
    expect(bed.running!.desired.get('Database/alice3')).toBeUndefined();
  });

  it("a user's memory quota is each of its databases' limit: the container gets it, more is refused with 403", async () => {
    const asked = await call('carl', 'POST', '/api/v1/databases', {
      metadata: { name: 'carl-big' },
      spec: { template: 'shop', memoryMiB: 512 },
    });
    expect(asked.status).toBe(403);
    expect(String(asked.body.status)).toContain(
      "a memory limit of 512 MiB is over carl's maximum of 256 MiB",
    );
    expect(bed.running!.desired.get('Database/carl-big')).toBeUndefined();
    const made = await call('carl', 'POST', '/db/shop/carl1');
    expect(made.status).toBe(201);
    const [server] = await bed.serversOf('carl1');
    const inspected = await bed.docker.getContainer(server!.id).inspect();
    expect(inspected.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect((await call('carl', 'GET', '/api/v1/databases/carl1')).body.spec).toMatchObject({
      memoryMiB: 256,
    });
    // Without a quota of its own a database gets the controller's default (1024 MiB).
    const [alices] = await bed.serversOf('alice1');
    expect((await bed.docker.getContainer(alices!.id).inspect()).HostConfig.Memory).toBe(1024 * 1024 * 1024);
  });

  it('refuses a cross-site form post and changes nothing', async () => {
    const forged = await fetch(`${base}/db/shop/csrf1`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKENS.ada}`,
        origin: 'http://evil.example',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'ttl=60',
    });
    expect(forged.status).toBe(403);
    const fetched = await fetch(`${base}/db/shop/csrf2`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.ada}`, 'sec-fetch-site': 'cross-site' },
    });
    expect(fetched.status).toBe(403);
    expect(bed.running!.desired.get('Database/csrf1')).toBeUndefined();
    expect(bed.running!.desired.get('Database/csrf2')).toBeUndefined();
  });

  it('the audit log names who did what, and never holds a password', async () => {
    expect((await call('alice', 'DELETE', '/db/shop/alice2')).status).toBe(204);
    await waitFor('audit written', () => readFileSync(logFile(), 'utf8').includes('"user":"alice"'), 10_000);
    const log = readFileSync(logFile(), 'utf8');
    const audits = log
      .split('\n')
      .filter((l) => l.includes('"msg":"audit"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user: 'alice', method: 'POST', path: '/db/shop/alice1', status: 201 }),
        expect.objectContaining({ user: 'alice', method: 'DELETE', path: '/db/shop/alice2', status: 204 }),
      ]),
    );
    // Every password this run issued, and every token: none appears in the API's or the controller's log.
    const secrets = [...Object.values(TOKENS)];
    for (const name of ['alice1']) {
      const db = bed.database(name)!;
      secrets.push(db.record.user.password, db.record.adminPassword);
    }
    const controllerLog = readFileSync(path.join(bed.dir, 'controller.log'), 'utf8');
    for (const secret of secrets) {
      expect(log.includes(secret), 'a secret in the API log').toBe(false);
      expect(controllerLog.includes(secret), 'a secret in the controller log').toBe(false);
    }
  });

  it('a controller listening beyond loopback without users refuses to start, and says how to add a token', async () => {
    const dir = path.join(bed.dir, 'open');
    const result = await run(process.execPath, [
      MAIN,
      'controller',
      '--listen',
      '0.0.0.0:0',
      '--data',
      path.join(dir, 'data'),
      '--specs',
      path.join(dir, 'specs'),
      '--dumps',
      path.join(dir, 'dumps'),
    ]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('refusing to listen on 0.0.0.0:0 without users');
    expect(result.stderr).toContain('myaas hash-token');
  });
});
