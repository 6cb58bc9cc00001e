import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Layout } from '../../../controller/layout.js';
import { silentLogger } from '../../../controller/log.js';
import { Metrics } from '../../../controller/metrics.js';
import type { DatabaseRecord, DatabaseStatus, TemplateStatus } from '../../../controller/objects/index.js';
import { StatusStore } from '../../../controller/state/status-store.js';
import type { Transport, WebhookRequest } from '../../../controller/webhooks/delivery-queue.js';
import { WEBHOOK_EVENTS } from '../../../controller/webhooks/webhook-events.js';
import { WebhookNotifier } from '../../../controller/webhooks/webhook-notifier.js';
import type { WebhookEndpoint } from '../../../controller/webhooks/webhooks-file.js';

const endpoint = (name: string, events: readonly string[]): WebhookEndpoint => ({
  name,
  url: `http://${name}.test/`,
  secret: `${name}-secret-0123456789`,
  events: new Set(events as (typeof WEBHOOK_EVENTS)[number][]),
  timeoutMs: 1000,
  retryForMs: 1000,
});

class Receiver implements Transport {
  readonly requests: WebhookRequest[] = [];
  constructor(readonly status = 200) {}
  async post(request: WebhookRequest): Promise<number> {
    this.requests.push(request);
    return this.status;
  }
}

describe('WebhookNotifier', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'myaas-hooks-'));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  async function setup(endpoints: WebhookEndpoint[], status = 200) {
    const store = new StatusStore(new Layout(root), silentLogger);
    const receiver = new Receiver(status);
    const metrics = new Metrics();
    const notifier = new WebhookNotifier({
      endpoints,
      events: store,
      transport: receiver,
      log: silentLogger,
      metrics,
    });
    notifier.start();
    return { store, receiver, metrics, notifier };
  }

  it('turns the events reconcilers record into bodies with key, phase, owner, times and version; each endpoint gets what it asked for', async () => {
    const { store, receiver, notifier } = await setup([
      endpoint('all', WEBHOOK_EVENTS),
      endpoint('imports', ['template.imported', 'template.import_failed']),
    ]);
    const status: DatabaseStatus = {
      phase: 'Ready',
      template: 'shop',
      templateVersion: 'v1',
      engine: 'mariadb',
      createdAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2026-01-01T08:00:00.000Z',
      readySince: '2026-01-01T00:00:01.000Z',
      connection: { host: 'localhost', port: 3307, user: 'myaas', database: 'default' },
      conditions: [],
    };
    const record = { template: 'shop', owner: 'alice', user: { user: 'myaas', password: 'pw-never-sent' } };
    await store.save('Database/alice-shop', status, record as unknown as DatabaseRecord);
    await store.event('Database/alice-shop', 'Normal', 'Cloned', 'not a webhook');
    await store.event('Database/alice-shop', 'Normal', 'Ready', 'ready on port 3307');
    // Changed after the event: the body is what was true when it happened.
    status.phase = 'Stopped';
    const template: TemplateStatus = {
      phase: 'Ready',
      currentVersion: 'v2',
      versions: ['v2', 'v1'],
      createdAt: '2026-01-01T00:00:00.000Z',
      lastImport: {
        version: 'v2',
        startedAt: '2026-01-02T00:00:00.000Z',
        result: 'Succeeded',
        durationSeconds: 3,
      },
      conditions: [],
    };
    await store.save('Template/shop', template, {});
    await store.event('Template/shop', 'Normal', 'ImportSucceeded', 'version v2 imported in 3.0s');
    await notifier.onIdle();
    await store.flush();

    const sent = receiver.requests.map((r) => [r.url, r.headers['X-Myaas-Event']]);
    expect(sent).toEqual([
      ['http://all.test/', 'database.ready'],
      ['http://all.test/', 'template.imported'],
      ['http://imports.test/', 'template.imported'],
    ]);
    const ready = JSON.parse(receiver.requests[0]!.body);
    expect(ready).toEqual({
      id: expect.any(String),
      delivery: receiver.requests[0]!.headers['X-Myaas-Delivery'],
      type: 'database.ready',
      time: expect.any(String),
      object: { kind: 'Database', name: 'alice-shop', key: 'Database/alice-shop' },
      reason: 'Ready',
      message: 'ready on port 3307',
      phase: 'Ready',
      owner: 'alice',
      template: 'shop',
      templateVersion: 'v1',
      engine: 'mariadb',
      times: {
        event: ready.time,
        created: '2026-01-01T00:00:00.000Z',
        expires: '2026-01-01T08:00:00.000Z',
        readySince: '2026-01-01T00:00:01.000Z',
      },
      connection: { host: 'localhost', port: 3307, user: 'myaas', database: 'default' },
    });
    expect(receiver.requests[0]!.body).not.toContain('pw-never-sent');
    const imported = receiver.requests.slice(1).map((r) => JSON.parse(r.body));
    // One event, one id; each endpoint its own delivery id.
    expect(imported[0].id).toBe(imported[1].id);
    expect(imported[0].delivery).not.toBe(imported[1].delivery);
    expect(imported[0]).toMatchObject({
      type: 'template.imported',
      phase: 'Ready',
      owner: null,
      template: 'shop',
      templateVersion: 'v2',
      import: { result: 'Succeeded', durationSeconds: 3 },
    });
    // Outcomes are events on the object, and are not themselves sent.
    expect(store.get('Database/alice-shop')!.events.map((e) => e.reason)).toEqual([
      'Cloned',
      'Ready',
      'WebhookDelivered',
    ]);
    expect(store.get('Template/shop')!.events.map((e) => e.message)).toContain(
      'webhook template.imported delivered to imports (HTTP 200, attempt 1)',
    );
    notifier.stop();
  });

  it('an idle Delete is sent as database.expired, its reason saying IdleDeleted', async () => {
    const { store, receiver, notifier } = await setup([endpoint('expiry', ['database.expired'])]);
    const status = { phase: 'Expired', conditions: [] } as unknown as DatabaseStatus;
    await store.save('Database/idle-one', status, { template: 'shop' } as unknown as DatabaseRecord);
    await store.event(
      'Database/idle-one',
      'Normal',
      'IdleDeleted',
      'deleted after 30m without a client session',
    );
    await notifier.onIdle();
    await store.flush();
    expect(receiver.requests.map((r) => JSON.parse(r.body))).toMatchObject([
      { type: 'database.expired', reason: 'IdleDeleted', phase: 'Expired' },
    ]);
    notifier.stop();
  });

  it('counts delivered and failed per endpoint; a failure is a Warning event on the object', async () => {
    const { store, metrics, notifier } = await setup([endpoint('down', ['database.deleted'])], 410);
    await store.save('Database/gone', { phase: 'Ready', conditions: [] }, {} as DatabaseRecord);
    await store.event('Database/gone', 'Normal', 'Deleted', 'its spec was removed: removed');
    await notifier.onIdle();
    const text = await metrics.registry.metrics();
    expect(text).toContain('myaas_webhook_failed_total{endpoint="down"} 1');
    expect(store.get('Database/gone')!.events.at(-1)).toMatchObject({
      type: 'Warning',
      reason: 'WebhookFailed',
      message: expect.stringMatching(
        /^webhook database\.deleted to down \(http:\/\/down\.test\/\) not delivered: answered HTTP 410/,
      ),
    });
    notifier.stop();
    await store.flush();
  });
});
