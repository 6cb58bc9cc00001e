import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdleWatch, advanceIdleClock } from '../../../controller/idle/idle-watch.js';
import { clearIdleStop } from '../../../controller/idle/start-request.js';
import { Layout } from '../../../controller/layout.js';
import { silentLogger } from '../../../controller/log.js';
import type { ObjectKey, TemplateSpec } from '../../../controller/objects/index.js';
import { DatabaseReconciler } from '../../../controller/reconcile/database-reconciler.js';
import { StatusStore } from '../../../controller/state/status-store.js';
import { TemplateVersions } from '../../../controller/templates/template-versions.js';
import type { Trash } from '../../../controller/trash/trash.js';
import { FakeDesired, FakeEngine, FakeRuntime } from '../../support/fakes.js';
import { db, reconcilerDeps, writeReadyVersion } from '../../support/reconciler-deps.js';

describe('advanceIdleClock (the idle clock, pure)', () => {
  const maxGapMs = 7_000;
  it('counts watched idle time, and starts again at any session', () => {
    const first = advanceIdleClock({ sessions: 0, now: 1_000, maxGapMs });
    expect(first).toMatchObject({ countedFrom: 1_000, idleMs: 0 });
    const second = advanceIdleClock({ previous: first, sessions: 0, now: 6_000, maxGapMs });
    expect(second.idleMs).toBe(5_000);
    const busy = advanceIdleClock({ previous: second, sessions: 2, now: 11_000, maxGapMs });
    expect(busy).toMatchObject({ countedFrom: 11_000, lastActivity: 11_000, idleMs: 0 });
  });

  it('does not count time nobody watched (controller down, clock stepped back or forward)', () => {
    const watched = { countedFrom: 0, watchedAt: 30_000, lastActivity: 0 };
    // Ten minutes later (a restart): the 30 s counted before are kept, the gap is not counted.
    const later = advanceIdleClock({ previous: watched, sessions: 0, now: 630_000, maxGapMs });
    expect(later.idleMs).toBe(30_000);
    expect(later.lastActivity).toBe(0);
    const back = advanceIdleClock({ previous: watched, sessions: 0, now: 20_000, maxGapMs });
    expect(back.idleMs).toBe(30_000);
  });

  it('a server started since the last look is activity', () => {
    const watched = { countedFrom: 0, watchedAt: 30_000, lastActivity: 0 };
    const restarted = advanceIdleClock({
      previous: watched,
      sessions: 0,
      readySince: 33_000,
      now: 35_000,
      maxGapMs,
    });
    expect(restarted).toMatchObject({ countedFrom: 33_000, lastActivity: 33_000, idleMs: 2_000 });
  });
});

const VERSION = 'v20261122-100000-aaaa';

describe('IdleWatch with a fake clock and a fake engine, and the reconciler acting on it', () => {
  let root: string;
  let layout: Layout;
  let desired: FakeDesired;
  let runtime: FakeRuntime;
  let engine: FakeEngine;
  let store: StatusStore;
  let trash: Trash;
  let reconciler: DatabaseReconciler;
  let now: number;
  let enqueued: ObjectKey[];

  const makeWatch = () =>
    new IdleWatch({
      desired,
      store,
      runtime,
      engineFor: () => engine,
      log: silentLogger,
      enqueue: (key) => enqueued.push(key),
      pollMs: 1_000,
      now: () => now,
    });
  let watch: IdleWatch;
  const reconcile = (name: string) => reconciler.reconcile(name, silentLogger);
  const stored = (name: string) => store.get(`Database/${name}`)!;
  const portOf = (name: string) => stored(name).status.connection!.port;
  const running = (name: string) =>
    [...runtime.servers.values()].filter((s) => s.owner === name && s.running).length;
  /** Polls every `step` ms for `ms` (fake time). */
  const watchFor = async (ms: number, step = 5_000) => {
    for (let t = 0; t < ms; t += step) {
      now += step;
      await watch.pass();
    }
  };

  beforeEach(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'myaas-idle-'));
    layout = new Layout(root);
    desired = new FakeDesired();
    runtime = new FakeRuntime();
    engine = new FakeEngine();
    store = new StatusStore(layout, silentLogger);
    enqueued = [];
    now = Date.now() + 1_000;
    await writeReadyVersion(layout, 'shop', VERSION, { adminPassword: 'admin' });
    const deps = reconcilerDeps({
      root,
      layout,
      desired,
      store,
      runtime,
      versions: new TemplateVersions(layout),
      engine,
      inventory: async () => {
        const existing = new Set([...runtime.servers.values()].map((s) => `Database/${s.owner}` as const));
        const unwanted = new Set(
          [...existing].filter((k) => !desired.get(k) || store.get(k)?.record.idleDeleteDue),
        );
        return { existing, unwanted };
      },
    });
    trash = deps.trash;
    reconciler = new DatabaseReconciler(deps);
    watch = makeWatch();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const template = (spec: Partial<TemplateSpec> = {}) =>
    desired.set({
      kind: 'Template',
      metadata: { name: 'shop', labels: {}, annotations: {} },
      spec: { engine: 'mariadb', source: { path: 'shop.sql' }, import: {}, ...spec },
    });

  it('Stop: an open client session keeps it running; idle for `after` stops it and holds it stopped until a start request', async () => {
    template();
    desired.set(db('alice', { idle: { afterSeconds: 60, action: 'Stop' } }));
    await reconcile('alice');
    expect(stored('alice').status.phase).toBe('Ready');
    engine.admin.sessions.set(portOf('alice'), 1);
    await watchFor(120_000);
    expect(stored('alice').record.idleStopped).toBeUndefined();
    expect(stored('alice').status.lastActivity).toBe(new Date(now).toISOString());
    expect(stored('alice').status.idle).toMatchObject({ after: '1m', action: 'Stop', from: 'Database' });

    engine.admin.sessions.set(portOf('alice'), 0);
    await watchFor(55_000);
    expect(stored('alice').record.idleStopped).toBeUndefined();
    await watchFor(5_000);
    expect(stored('alice').record.idleStopped).toMatchObject({ afterSeconds: 60 });
    expect(enqueued).toEqual(['Database/alice']);

    await reconcile('alice');
    const stopped = stored('alice').status;
    expect(stopped.phase).toBe('Stopped');
    expect(stopped.message).toMatch(/stopped after 1m without a client session.*myaas start alice/);
    expect(stopped.conditions.find((c) => c.type === 'IdleStopped')).toMatchObject({ status: 'True' });
    expect(running('alice')).toBe(0);
    // The spec still says Running: the next reconciles do not start it.
    await reconcile('alice');
    await reconcile('alice');
    expect(running('alice')).toBe(0);
    // Nor does the watch look at it while it is stopped.
    await watchFor(120_000);
    expect(enqueued).toHaveLength(1);

    expect(await clearIdleStop(store, 'alice', 'ada')).toBe(true);
    expect(await clearIdleStop(store, 'alice', 'ada')).toBe(false);
    await reconcile('alice');
    expect(stored('alice').status.phase).toBe('Ready');
    expect(running('alice')).toBe(1);
    expect(stored('alice').status.conditions.find((c) => c.type === 'IdleStopped')).toMatchObject({
      status: 'False',
      reason: 'StartRequested',
    });
    // Started again: its idle time counts from the start, not from before the stop.
    now = Math.max(now, Date.parse(stored('alice').status.readySince!)) + 1_000;
    await watch.pass();
    expect(stored('alice').record.idleStopped).toBeUndefined();
    expect(Date.parse(stored('alice').status.idle!.countedFrom)).toBeGreaterThanOrEqual(
      Date.parse(stored('alice').status.readySince!),
    );
  });

  it('a database claimed from the warm pool (served by the adopted Pool server) is watched like any other', async () => {
    template();
    desired.set(db('alice', { idle: { afterSeconds: 60, action: 'Stop' } }));
    await reconcile('alice');
    // As after a claim: the server keeps the member's role and owner; the record names it.
    const [id, server] = [...runtime.servers.entries()].find(([, s]) => s.owner === 'alice')!;
    runtime.servers.set(id, { ...server, role: 'Pool', owner: 'shop.m1' });
    const { status, record } = stored('alice');
    await store.save('Database/alice', status, { ...record, adoptedServer: id });
    engine.admin.sessions.set(portOf('alice'), 0);
    await watchFor(65_000);
    expect(stored('alice').record.idleStopped).toMatchObject({ afterSeconds: 60 });
    expect(enqueued).toEqual(['Database/alice']);
  });

  it('time the controller did not watch is not idle time, across a restart (the clock is persisted)', async () => {
    template();
    desired.set(db('alice', { idle: { afterSeconds: 60, action: 'Stop' } }));
    await reconcile('alice');
    await watch.pass();
    await watchFor(40_000);
    await store.flush();
    // The controller is down for an hour: a new store reads the files, a new watch goes on.
    now += 3600_000;
    store = new StatusStore(layout, silentLogger);
    await store.load();
    watch = makeWatch();
    await watch.pass();
    expect(stored('alice').record.idleStopped).toBeUndefined();
    const counted = now - Date.parse(stored('alice').status.idle!.countedFrom);
    expect(counted).toBe(40_000);
    await watchFor(15_000);
    expect(stored('alice').record.idleStopped).toBeUndefined();
    await watchFor(5_000);
    expect(stored('alice').record.idleStopped).toBeDefined();
  });

  it('a database whose sessions cannot be counted is never acted on, and the gap is not counted', async () => {
    template();
    desired.set(db('alice', { idle: { afterSeconds: 30, action: 'Stop' } }));
    await reconcile('alice');
    await watch.pass();
    engine.admin.sessions.set(portOf('alice'), new Error('connection refused'));
    await watchFor(120_000);
    expect(stored('alice').record.idleStopped).toBeUndefined();
    engine.admin.sessions.set(portOf('alice'), 0);
    await watchFor(5_000);
    expect(stored('alice').record.idleStopped).toBeUndefined();
    expect(enqueued).toEqual([]);
  });

  it("Delete from the template's databaseDefaults: removed through the guard into the trash, restorable", async () => {
    template({ databaseDefaults: { idle: { afterSeconds: 30, action: 'Delete' } } });
    desired.set(db('alice'));
    desired.set(db('keeps', { idle: { action: 'Keep' } }));
    desired.set(db('guarded', { protected: true }));
    for (const name of ['alice', 'keeps', 'guarded']) await reconcile(name);
    await watch.pass();
    await watchFor(30_000);
    expect(stored('alice').record.idleDeleteDue).toMatchObject({ afterSeconds: 30 });
    expect(stored('alice').status.idle).toMatchObject({ action: 'Delete', from: 'Template' });
    expect(stored('keeps').status.idle).toBeUndefined();
    expect(stored('guarded').record.idleDeleteDue).toBeUndefined();
    expect(enqueued).toEqual(['Database/alice']);
    await reconcile('alice');
    expect(stored('alice').status.phase).toBe('Expired');
    expect(stored('alice').status.message).toMatch(/deleted after 30s without a client session/);
    expect(existsSync(layout.databaseDir('alice'))).toBe(false);
    expect(running('alice')).toBe(0);
    const entry = await trash.find('Database', 'alice');
    expect(entry).toMatchObject({ reason: 'IdleDeleted' });
    expect(entry!.record.idleDeleteDue).toBeUndefined();
    // Stays gone while the spec is unchanged; the other two keep running.
    await reconcile('alice');
    expect(running('alice')).toBe(0);
    expect(running('keeps') + running('guarded')).toBe(2);
  });

  it('spec.state Stopped takes over from an idle stop: Running again starts it', async () => {
    template();
    desired.set(db('alice', { idle: { afterSeconds: 10, action: 'Stop' } }));
    await reconcile('alice');
    await watch.pass();
    await watchFor(10_000);
    await reconcile('alice');
    expect(running('alice')).toBe(0);
    desired.set(db('alice', { state: 'Stopped', idle: { afterSeconds: 10, action: 'Stop' } }));
    await reconcile('alice');
    expect(stored('alice').record.idleStopped).toBeUndefined();
    desired.set(db('alice', { idle: { afterSeconds: 10, action: 'Stop' } }));
    await reconcile('alice');
    expect(stored('alice').status.phase).toBe('Ready');
  });
});
