import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Layout } from '../../../controller/layout.js';
import { silentLogger } from '../../../controller/log.js';
import { DatabaseReconciler } from '../../../controller/reconcile/database-reconciler.js';
import type { DeletionGuard } from '../../../controller/reconcile/deletion-guard.js';
import {
  type ServerCache,
  ServersUnavailableError,
  withServerCache,
} from '../../../controller/runtime/server-cache.js';
import { StatusStore } from '../../../controller/state/status-store.js';
import { TemplateVersions } from '../../../controller/templates/template-versions.js';
import type { Trash } from '../../../controller/trash/trash.js';
import { FakeDesired, FakeEngine, FakeRuntime } from '../../support/fakes.js';
import { db, reconcilerDeps, writeReadyVersion } from '../../support/reconciler-deps.js';

const VERSION = 'v20261122-100000-aaaa';
const VERSION2 = 'v20261122-110000-bbbb';

describe('DatabaseReconciler (logic, with a fake runtime and engine)', () => {
  let root: string;
  let layout: Layout;
  let desired: FakeDesired;
  let runtime: FakeRuntime;
  let engine: FakeEngine;
  let guard: DeletionGuard;
  let trash: Trash;
  let store: StatusStore;
  let versions: TemplateVersions;
  let reconciler: DatabaseReconciler;
  let deps: ConstructorParameters<typeof DatabaseReconciler>[0];

  const addVersion = (version: string) => writeReadyVersion(layout, 'shop', version);
  const reconcile = (name: string) => reconciler.reconcile(name, silentLogger);
  const stored = (name: string) => store.get(`Database/${name}`);
  const serversOf = (name: string) => [...runtime.servers.values()].filter((s) => s.owner === name);

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'myaas-dbr-'));
    layout = new Layout(root);
    desired = new FakeDesired();
    runtime = new FakeRuntime();
    engine = new FakeEngine();
    store = new StatusStore(layout, silentLogger);
    versions = new TemplateVersions(layout);
    deps = reconcilerDeps({
      root,
      layout,
      desired,
      store,
      runtime,
      versions,
      engine,
      config: { hostname: 'db.example' },
      inventory: async () => {
        const existing = new Set([...runtime.servers.values()].map((s) => `Database/${s.owner}` as const));
        const wanted = new Set(desired.list('Database').map((r) => r.key));
        return { existing, unwanted: new Set([...existing].filter((k) => !wanted.has(k))) };
      },
    });
    guard = deps.guard;
    trash = deps.trash;
    reconciler = new DatabaseReconciler(deps);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const shopTemplate = () =>
    desired.set({
      kind: 'Template',
      metadata: { name: 'shop', labels: {}, annotations: {} },
      spec: { engine: 'mariadb', source: { path: 'shop.sql' }, import: {} },
    });

  it('waits in Pending while the template has no ready version', async () => {
    shopTemplate();
    desired.set(db('alice'));
    const result = await reconcile('alice');
    expect(stored('alice')?.status).toMatchObject({
      phase: 'Pending',
      message: expect.stringContaining('waiting for template shop'),
    });
    expect(result?.requeueAfterMs).toBeGreaterThan(0);
    expect(runtime.calls).toEqual([]);
  });

  it('says so when the template does not exist at all, instead of a silent wait', async () => {
    desired.set(db('alice', { template: 'nope' }));
    await reconcile('alice');
    const status = stored('alice')!.status;
    expect(status).toMatchObject({
      phase: 'Pending',
      message: expect.stringContaining('template "nope" does not exist'),
    });
    expect(status.conditions.find((c) => c.type === 'Ready')?.reason).toBe('TemplateNotFound');
  });

  it('a fixed port another database holds fails with its name, not with what a login there says', async () => {
    await addVersion(VERSION);
    desired.set(db('alice', { port: 40123 }));
    await reconcile('alice');
    expect(stored('alice')?.status.phase).toBe('Ready');
    desired.set(db('bob', { port: 40123 }));
    await expect(reconcile('bob')).rejects.toThrow(/port 40123 is held by database alice/);
    expect(stored('bob')?.status).toMatchObject({
      phase: 'Failed',
      message: expect.stringContaining('port 40123 is held by database alice'),
    });
    expect(serversOf('bob')).toHaveLength(0);
    // Once alice lets it go, bob starts on it.
    desired.set(db('alice', { port: 40123, state: 'Stopped' }));
    await reconcile('alice');
    await reconcile('bob');
    expect(stored('bob')?.status).toMatchObject({ phase: 'Ready', connection: { port: 40123 } });
  });

  it('clones the current version, starts a server, sets its own credentials, and reports Ready', async () => {
    await addVersion(VERSION);
    desired.set(db('alice'));
    await reconcile('alice');
    const s = stored('alice')!;
    expect(s.status).toMatchObject({
      phase: 'Ready',
      templateVersion: VERSION,
      cloneMethod: expect.stringMatching(/reflink|copy/),
      connection: { host: 'db.example', user: 'myaas', database: 'default', port: expect.any(Number) },
    });
    expect(existsSync(layout.databaseDir('alice'))).toBe(true);
    expect(serversOf('alice')).toHaveLength(1);
    expect(engine.configured).toEqual([
      { admin: { user: 'root', password: s.record.adminPassword }, user: s.record.user },
    ]);
    expect(s.record.adminPassword).not.toBe(`admin-${VERSION}`);
    // A second pass changes nothing.
    runtime.calls.length = 0;
    await reconcile('alice');
    expect(runtime.calls).toEqual([]);
    expect(engine.configured).toHaveLength(1);
  });

  it('behind the server cache: a runtime that cannot be listed neither recreates nor removes anything', async () => {
    await addVersion(VERSION);
    const cached = withServerCache(runtime, { log: silentLogger });
    const behindCache = new DatabaseReconciler({ ...deps, runtime: cached });
    desired.set(db('alice'));
    await behindCache.reconcile('alice', silentLogger);
    expect(stored('alice')?.status.phase).toBe('Ready');
    const before = serversOf('alice').map((s) => s.id);
    expect(before).toHaveLength(1);
    // dockerd goes away: the listing fails, the cache's snapshot is stale.
    const list = runtime.servers.list.bind(runtime.servers);
    runtime.servers.list = async () => {
      throw new Error('connect ECONNREFUSED /var/run/docker.sock');
    };
    // The next listing (an event, the period) finds it so.
    await expect((cached.servers as ServerCache).refresh()).rejects.toBeInstanceOf(ServersUnavailableError);
    runtime.calls.length = 0;
    // Still wanted: not started again. No longer wanted: not removed.
    await expect(behindCache.reconcile('alice', silentLogger)).rejects.toBeInstanceOf(
      ServersUnavailableError,
    );
    desired.delete('Database/alice');
    await expect(behindCache.reconcile('alice', silentLogger)).rejects.toBeInstanceOf(
      ServersUnavailableError,
    );
    expect(runtime.calls).toEqual([]);
    expect(serversOf('alice').map((s) => s.id)).toEqual(before);
    expect(existsSync(layout.databaseDir('alice'))).toBe(true);
    // Back: the spec is there again and the server is found, not made twice.
    runtime.servers.list = list;
    desired.set(db('alice'));
    await behindCache.reconcile('alice', silentLogger);
    expect(runtime.calls.filter((c) => c.startsWith('create'))).toEqual([]);
    expect(serversOf('alice').map((s) => s.id)).toEqual(before);
    (cached.servers as ServerCache).close();
  });

  it('Stopped stops the server and keeps the clone; Running serves the same clone on the same port again', async () => {
    await addVersion(VERSION);
    desired.set(db('alice'));
    await reconcile('alice');
    const port = stored('alice')!.status.connection!.port;
    desired.set(db('alice', { state: 'Stopped' }));
    await reconcile('alice');
    expect(stored('alice')?.status.phase).toBe('Stopped');
    expect(serversOf('alice')[0]?.running).toBe(false);
    expect(existsSync(layout.databaseDir('alice'))).toBe(true);
    desired.set(db('alice'));
    await reconcile('alice');
    expect(serversOf('alice')).toHaveLength(1);
    expect(serversOf('alice')[0]?.spec.hostPort).toBe(port);
    expect(stored('alice')?.status).toMatchObject({ phase: 'Ready', connection: { port } });
  });

  it('records Stopped once when a database stops, and Deleted before its status goes (what webhooks hear)', async () => {
    const heard: string[] = [];
    store.subscribeEvents((key, event, object) =>
      heard.push(`${key} ${event.reason} ${object.status.phase}`),
    );
    await addVersion(VERSION);
    desired.set(db('alice'));
    await reconcile('alice');
    desired.set(db('alice', { state: 'Stopped' }));
    await reconcile('alice');
    await reconcile('alice');
    desired.delete('Database/alice');
    await reconcile('alice');
    expect(stored('alice')).toBeUndefined();
    expect(heard).toEqual([
      'Database/alice Cloned Cloning',
      'Database/alice Ready Ready',
      'Database/alice Stopped Stopped',
      'Database/alice Deleted Stopped',
    ]);
  });

  it('removes server, clone and status when the spec is gone, but only once the source is synced and available', async () => {
    await addVersion(VERSION);
    desired.set(db('alice'));
    await reconcile('alice');
    desired.delete('Database/alice');
    desired.synced = false;
    await reconcile('alice');
    expect(serversOf('alice')).toHaveLength(1);
    desired.synced = true;
    desired.available = false;
    await reconcile('alice');
    expect(serversOf('alice')).toHaveLength(1);
    desired.available = true;
    await reconcile('alice');
    expect(serversOf('alice')).toHaveLength(0);
    expect(existsSync(layout.databaseDir('alice'))).toBe(false);
    expect(stored('alice')).toBeUndefined();
  });

  it('expires on ttl, stays expired while the spec is unchanged, and comes back fresh for a new ttl', async () => {
    await addVersion(VERSION);
    desired.set(db('alice', { ttlSeconds: 60 }));
    const result = await reconcile('alice');
    expect(result?.requeueAfterMs).toBeGreaterThan(59_000);
    const first = stored('alice')!.record;
    first.createdAt = Date.now() - 61_000; // as if a minute went by
    await reconcile('alice');
    expect(stored('alice')?.status).toMatchObject({ phase: 'Expired', expiredAt: expect.any(String) });
    expect(serversOf('alice')).toHaveLength(0);
    expect(existsSync(layout.databaseDir('alice'))).toBe(false);
    await reconcile('alice');
    expect(runtime.calls.filter((c) => c.startsWith('create'))).toHaveLength(1);
    desired.set(db('alice', { ttlSeconds: 120 }));
    await reconcile('alice');
    expect(stored('alice')?.status.phase).toBe('Ready');
    expect(stored('alice')!.record.user.password).not.toBe(first.user.password);
  });

  it('protected: neither expired nor removed', async () => {
    await addVersion(VERSION);
    desired.set(db('alice', { expiresAt: Date.now() - 1000, protected: true }));
    await reconcile('alice');
    expect(stored('alice')?.status.phase).toBe('Ready');
    desired.delete('Database/alice');
    await reconcile('alice');
    expect(serversOf('alice')).toHaveLength(1);
    expect(stored('alice')?.status.message).toContain('protected');
  });

  it('reset clones the current version again and keeps port and credentials', async () => {
    await addVersion(VERSION);
    desired.set(db('alice'));
    await reconcile('alice');
    const before = stored('alice')!;
    await addVersion(VERSION2);
    desired.set(db('alice', {}, { 'myaas.dev/reset': 'now' }));
    await reconcile('alice');
    const after = stored('alice')!;
    expect(after.status.templateVersion).toBe(VERSION2);
    expect(after.status.connection?.port).toBe(before.status.connection?.port);
    expect(after.record.user).toEqual(before.record.user);
    expect(serversOf('alice')).toHaveLength(1);
    expect(serversOf('alice')[0]?.templateVersion).toBe(VERSION2);
  });

  it('keeps one server when it finds duplicates, and replaces one of another version', async () => {
    await addVersion(VERSION);
    desired.set(db('alice'));
    await reconcile('alice');
    const spec = serversOf('alice')[0]!.spec;
    await runtime.servers.create(spec);
    await runtime.servers.create({ ...spec, templateVersion: 'v20200101-000000-0000' });
    await reconcile('alice');
    expect(serversOf('alice')).toHaveLength(1);
  });

  it('a server that does not become ready is reported Failed and the error thrown for backoff', async () => {
    await addVersion(VERSION);
    desired.set(db('alice'));
    engine.notReady = new Error('server exited before accepting connections');
    await expect(reconcile('alice')).rejects.toThrow('server did not become ready');
    expect(stored('alice')?.status).toMatchObject({
      phase: 'Failed',
      message: expect.stringContaining('fake log line'),
    });
  });

  it('when the old port is taken after a restart, takes any port unless the spec fixes one', async () => {
    await addVersion(VERSION);
    desired.set(db('alice'));
    await reconcile('alice');
    const port = stored('alice')!.status.connection!.port;
    for (const s of serversOf('alice')) runtime.servers.delete(s.id);
    runtime.failNextCreate = new Error('port is already allocated');
    await reconcile('alice');
    expect(stored('alice')?.status.phase).toBe('Ready');
    expect(stored('alice')?.status.connection?.port).not.toBe(port);
  });

  it('holds removals when more than 3 and more than half go at once', async () => {
    await addVersion(VERSION);
    const names = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
    for (const n of names) {
      desired.set(db(n));
      await reconcile(n);
    }
    for (const n of names.slice(0, 4)) desired.delete(`Database/${n}`);
    await reconcile('a1');
    expect(serversOf('a1')).toHaveLength(1);
    expect(stored('a1')?.status.message).toContain('held');
    // One comes back: three pending is within the bound, but the held set stays held as a whole.
    desired.set(db('a1'));
    await reconcile('a2');
    expect(serversOf('a2')).toHaveLength(1);
    // Confirmed: the rest goes, into the trash.
    expect(await guard.confirm()).toEqual(['Database/a2', 'Database/a3', 'Database/a4']);
    for (const n of ['a2', 'a3', 'a4']) await reconcile(n);
    for (const n of ['a2', 'a3', 'a4']) expect(serversOf(n)).toHaveLength(0);
    expect((await trash.list('Database')).map((e) => e.name).sort()).toEqual(['a2', 'a3', 'a4']);
  });
});
