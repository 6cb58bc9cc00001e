import { execFile } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseObject, templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, PROCESS_COPY, type Pair, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');
const SECRET = 'e2e-webhook-secret-4f2a9c';
const FLAKY_SECRET = 'e2e-flaky-secret-77d1e0b';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly body: Record<string, unknown> & { type: string; object: { name: string } };
  /** The receiver's own check of X-Myaas-Signature (HMAC-SHA256 of the raw body), as README shows it. */
  readonly signed: boolean;
}

/**
 * A webhook receiver on node:http, as an operator would write one: it checks each signature itself and
 * answers as told: 200, 503 for the next N requests, or not at all (its port closed).
 */
class Receiver {
  readonly received: Received[] = [];
  /** Requests answered 503 before it accepts again. */
  failNext = 0;
  requests = 0;
  port = 0;
  #server: Server | undefined;

  constructor(readonly secret: string) {}

  async open(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests++;
        if (this.failNext > 0) {
          this.failNext--;
          res.writeHead(503).end('busy');
          return;
        }
        const raw = Buffer.concat(chunks);
        const expected = Buffer.from(`sha256=${createHmac('sha256', this.secret).update(raw).digest('hex')}`);
        const given = Buffer.from(String(req.headers['x-myaas-signature'] ?? ''));
        const signed = given.length === expected.length && timingSafeEqual(given, expected);
        this.received.push({
          headers: req.headers,
          raw: raw.toString(),
          body: JSON.parse(raw.toString()),
          signed,
        });
        res.writeHead(signed ? 204 : 401).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Closes the port, and the connections kept alive on it: the next attempt is refused. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/myaas`;
  }

  /** The deliveries of one event type about one object. */
  of(type: string, name: string): Received[] {
    return this.received.filter((r) => r.body.type === type && r.body.object.name === name);
  }

  async waitFor(type: string, name: string, timeoutMs = 90_000): Promise<Received> {
    return waitFor(
      `webhook ${type} for ${name} (got ${this.received.map((r) => `${r.body.type}:${r.body.object.name}`).join(', ')})`,
      () => this.of(type, name)[0],
      timeoutMs,
      50,
    );
  }
}

/** Every delivery checks out: signature, headers that agree with the body, JSON content type. */
function expectWellFormed(delivery: Received): void {
  expect(delivery.signed).toBe(true);
  expect(delivery.headers['content-type']).toBe('application/json');
  expect(delivery.headers['x-myaas-event']).toBe(delivery.body.type);
  expect(delivery.headers['x-myaas-delivery']).toBe(delivery.body.delivery);
  expect(Number(delivery.headers['x-myaas-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 600);
}

const OWNER = { annotations: { 'myaas.dev/owner': 'alice' } };

for (const pair of [PROCESS_COPY, DOCKER_BTRFS] as Pair[]) {
  describe(`webhooks (${pair.runtime} + ${pair.storage})`, () => {
    // A low limit: three removals at once are a held mass removal here.
    const bed = new TestBed(`hooks-${pair.runtime}`, {
      pair,
      config: { deletionGuardLimit: 2, deletionGuardMax: 2 },
    });
    const receiver = new Receiver(SECRET);
    const flaky = new Receiver(FLAKY_SECRET);
    const metric = async (name: string, endpoint: string) => {
      const text = await bed.running!.metrics.registry.metrics();
      const match = new RegExp(`^${name}\\{endpoint="${endpoint}"\\} (\\d+)$`, 'm').exec(text);
      return Number(match?.[1] ?? 0);
    };

    beforeAll(async () => {
      await receiver.open();
      await flaky.open();
      const file = path.join(bed.dir, 'webhooks.yaml');
      writeFileSync(
        file,
        `- name: all
  url: ${receiver.url}
  secret: ${SECRET}
  events: ["*"]
- name: flaky
  url: ${flaky.url}
  secretEnv: MYAAS_E2E_FLAKY_SECRET
  events: [database.ready]
  timeout: 5s
  retryFor: 2m
`,
      );
      process.env.MYAAS_E2E_FLAKY_SECRET = FLAKY_SECRET;
      bed.config = { ...bed.config, webhooksFile: file };
      bed.declareShop();
      await bed.start();
      await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
    });
    afterAll(async () => {
      await bed.destroy();
      await receiver.close();
      await flaky.close();
      Reflect.deleteProperty(process.env, 'MYAAS_E2E_FLAKY_SECRET');
    });

    it('template imported: the version, the import, signed', async () => {
      const imported = await receiver.waitFor('template.imported', 'shop');
      expectWellFormed(imported);
      const status = bed.template('shop')!.status;
      expect(imported.body).toMatchObject({
        object: { kind: 'Template', name: 'shop', key: 'Template/shop' },
        phase: 'Ready',
        template: 'shop',
        templateVersion: status.currentVersion,
        import: { result: 'Succeeded' },
      });
      expect(imported.headers['user-agent']).toMatch(/^myaas\//);
    });

    it('database ready, stopped, deleted: key, phase, owner, times, template and version, connection without password', async () => {
      bed.writeSpec('w1.yaml', databaseObject('w1', { ttl: '8h' }, OWNER));
      const db = await bed.waitForDatabase('w1', 'Ready');
      const ready = await receiver.waitFor('database.ready', 'w1');
      expectWellFormed(ready);
      expect(ready.body).toMatchObject({
        object: { kind: 'Database', name: 'w1', key: 'Database/w1' },
        phase: 'Ready',
        owner: 'alice',
        template: 'shop',
        templateVersion: db.status.templateVersion,
        engine: 'mariadb',
        times: {
          created: db.status.createdAt,
          expires: db.status.expiresAt,
          readySince: db.status.readySince,
        },
        connection: { port: db.status.connection!.port, user: 'myaas' },
      });
      expect(ready.raw).not.toContain(db.record.user.password);

      bed.writeSpec('w1.yaml', databaseObject('w1', { ttl: '8h', state: 'Stopped' }, OWNER));
      const stopped = await receiver.waitFor('database.stopped', 'w1');
      expectWellFormed(stopped);
      expect(stopped.body).toMatchObject({ phase: 'Stopped', owner: 'alice' });

      bed.removeSpec('w1.yaml');
      const deleted = await receiver.waitFor('database.deleted', 'w1');
      expectWellFormed(deleted);
      expect(deleted.body).toMatchObject({ phase: 'Deleted', owner: 'alice', template: 'shop' });
      expect(deleted.body.message).toMatch(/its spec was removed/);
      // Each once: a resync pass over a stopped database tells nothing again.
      expect(receiver.of('database.stopped', 'w1')).toHaveLength(1);
      expect(receiver.of('database.ready', 'w1')).toHaveLength(1);
    });

    it('expired, then restored from the trash', async () => {
      bed.writeSpec('w2.yaml', databaseObject('w2', { ttl: '4s' }));
      // Told, rather than polled: it is Ready for a few seconds only.
      await receiver.waitFor('database.ready', 'w2');
      const expired = await receiver.waitFor('database.expired', 'w2', 60_000);
      expectWellFormed(expired);
      expect(expired.body).toMatchObject({ phase: 'Expired', owner: null });
      const times = expired.body.times as Record<string, string>;
      expect(Date.parse(times.expired!)).toBeGreaterThanOrEqual(Date.parse(times.expires!));
      const entry = await bed.running!.controller.trash.find('Database', 'w2');
      expect(entry?.reason).toBe('Expired');
      bed.running!.controller.requestRestore('w2', entry!.id);
      const restored = await receiver.waitFor('database.restored', 'w2');
      expectWellFormed(restored);
      expect(restored.body).toMatchObject({ restoredFrom: entry!.id });
      // The outcome is on the object too.
      await waitFor('WebhookDelivered on w2', () =>
        bed
          .running!.store.get('Database/w2')
          ?.events.some(
            (e) => e.reason === 'WebhookDelivered' && /database\.restored delivered to all/.test(e.message),
          ),
      );
    });

    it('import failed: the error and the version that failed', async () => {
      bed.writeDump('broken.sql', 'CREATE TABLE t (id INT);\nINSERT INTO no_such_table VALUES (1);\n');
      bed.writeSpec('broken.yaml', templateObject('broken'));
      const failed = await receiver.waitFor('template.import_failed', 'broken', 120_000);
      expectWellFormed(failed);
      expect(failed.body).toMatchObject({
        phase: 'Failed',
        template: 'broken',
        import: { result: 'Failed' },
      });
      expect(String((failed.body.import as { error: string }).error)).toMatch(/no_such_table/);
      expect(failed.body.templateVersion).toBe(bed.template('broken')!.status.lastImport?.version);
      bed.removeSpec('broken.yaml');
    });

    it('deletion held: each member of a held mass removal is told once; confirmed, each is deleted', async () => {
      const names = ['h1', 'h2', 'h3'];
      bed.writeSpec('held.yaml', ...names.map((n) => databaseObject(n)));
      for (const n of names) await bed.waitForDatabase(n, 'Ready');
      bed.removeSpec('held.yaml');
      for (const n of names) {
        const held = await receiver.waitFor('deletion.held', n, 30_000);
        expectWellFormed(held);
        expect(held.body).toMatchObject({ object: { kind: 'Database', name: n }, phase: 'Ready' });
      }
      // A few passes later, still held: told once.
      await new Promise((r) => setTimeout(r, 2_000));
      for (const n of names) expect(receiver.of('deletion.held', n)).toHaveLength(1);
      for (const n of names) expect(bed.database(n)?.status.phase).toBe('Ready');
      await bed.running!.controller.guard.confirm();
      for (const n of names) expectWellFormed(await receiver.waitFor('database.deleted', n, 60_000));
    });

    it('a receiver that is down (port closed), then answers 503, gets each delivery once it is back', async () => {
      const port = flaky.port;
      const retriesBefore = await metric('myaas_webhook_retries_total', 'flaky');
      await flaky.close();
      bed.writeSpec('w3.yaml', databaseObject('w3'));
      await bed.waitForDatabase('w3', 'Ready');
      // Refused at least twice (attempts at 0, 1 s, 3 s ...) while the port is closed.
      await waitFor(
        'two refused attempts',
        async () => (await metric('myaas_webhook_retries_total', 'flaky')) >= retriesBefore + 2,
        30_000,
      );
      expect(flaky.of('database.ready', 'w3')).toHaveLength(0);
      await flaky.open(port);
      const late = await flaky.waitFor('database.ready', 'w3', 60_000);
      expectWellFormed(late);
      expect(Number(late.headers['x-myaas-attempt'])).toBeGreaterThanOrEqual(3);
      // The other endpoint was never held up by this one.
      expect(receiver.of('database.ready', 'w3')[0]!.headers['x-myaas-attempt']).toBe('1');

      flaky.failNext = 2;
      const requestsBefore = flaky.requests;
      bed.writeSpec('w4.yaml', databaseObject('w4'));
      await bed.waitForDatabase('w4', 'Ready');
      const after503 = await flaky.waitFor('database.ready', 'w4', 30_000);
      expectWellFormed(after503);
      expect(after503.headers['x-myaas-attempt']).toBe('3');
      expect(flaky.requests - requestsBefore).toBe(3);
      expect(await metric('myaas_webhook_delivered_total', 'flaky')).toBeGreaterThanOrEqual(2);
      expect(await metric('myaas_webhook_failed_total', 'flaky')).toBe(0);
      expect(bed.running!.store.get('Database/w3')?.events.map((e) => e.message)).toContainEqual(
        expect.stringMatching(/^webhook database\.ready delivered to flaky \(HTTP 204, attempt [3-9]\)$/),
      );
    });
  });
}

describe('a bad webhooks file', () => {
  it('refuses the start of the built controller, naming the file, the line, the field and the fix', async () => {
    const dir = path.join('/var/tmp', `hooks-bad-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'webhooks.yaml');
    writeFileSync(
      file,
      '- name: ci\n  url: http://127.0.0.1:9/hook\n  secretEnv: MYAAS_E2E_UNSET_SECRET\n  events: [database.redy]\n',
    );
    const started = Date.now();
    const outcome = await run(
      process.execPath,
      [
        MAIN,
        'controller',
        '--webhooks',
        file,
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
      { env: { ...process.env, MYAAS_LOG_FORMAT: 'json' }, timeout: 30_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(
      `myaas: webhooks file refused, the controller does not start (fix it, or leave out --webhooks):\n  ${file}:4: ci: [0].events[0]: \`database.redy\` is not allowed; allowed: *, database.ready,`,
    );
    // The schema's problems come first; with them fixed, the next run says what is left.
    writeFileSync(
      file,
      '- name: ci\n  url: http://127.0.0.1:9/hook\n  secretEnv: MYAAS_E2E_UNSET_SECRET\n  events: ["*"]\n',
    );
    const second = await run(
      process.execPath,
      [MAIN, 'controller', '--webhooks', file, '--data', path.join(dir, 'data')],
      {
        env: { ...process.env, MYAAS_LOG_FORMAT: 'json' },
        timeout: 30_000,
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(
      `${file}:3: ci: [0].secretEnv: MYAAS_E2E_UNSET_SECRET is not set (or empty) in the controller's environment: export it`,
    );
    // Refused before anything was made: no data dir, no lock.
    expect(await run('ls', [dir]).then((r) => r.stdout.trim().split('\n'))).toEqual(['webhooks.yaml']);
    expect(Date.now() - started).toBeLessThan(30_000);
    await run('rm', ['-rf', dir]);
  });
});
