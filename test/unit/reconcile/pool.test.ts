import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiState } from '../../../controller/api/api-state.js';
import type { ApiContext } from '../../../controller/api/routes.js';
import { Layout } from '../../../controller/layout.js';
import { silentLogger } from '../../../controller/log.js';
import { OWNER_ANNOTATION, type PoolMember } from '../../../controller/objects/index.js';
import { PoolMembers } from '../../../controller/pool/pool-members.js';
import { DatabaseReconciler } from '../../../controller/reconcile/database-reconciler.js';
import { PoolReconciler } from '../../../controller/reconcile/pool-reconciler.js';
import { StatusStore } from '../../../controller/state/status-store.js';
import { CopyStorage } from '../../../controller/storage/copy-storage.js';
import { TemplateVersions } from '../../../controller/templates/template-versions.js';
import { FakeDesired, FakeEngine, FakeRuntime } from '../../support/fakes.js';
import { db, reconcilerDeps, writeReadyVersion } from '../../support/reconciler-deps.js';

const VERSION = 'v20261122-100000-aaaa';
const VERSION2 = 'v20261122-110000-bbbb';

describe('warm pool (PoolReconciler and the claim in DatabaseReconciler, with a fake runtime and engine)', () => {
  let root: string;
  let layout: Layout;
  let desired: FakeDesired;
  let runtime: FakeRuntime;
  let engine: FakeEngine;
  let store: StatusStore;
  let versions: TemplateVersions;
  let pool: PoolMembers;
  let pools: PoolReconciler;
  let databases: DatabaseReconciler;
  let claimed: string[];
  let down: string[];

  const addVersion = async (version: string, label = version) => {
    await writeReadyVersion(layout, 'shop', version);
    writeFileSync(path.join(layout.versionDir('shop', version), 'label'), label);
  };
  const shop = (size: number) =>
    desired.set({
      kind: 'Template',
      metadata: { name: 'shop', labels: {}, annotations: {} },
      spec: { engine: 'mariadb', source: { path: 'shop.sql' }, import: {}, pool: { size } },
    });
  /** A reconciler set as a restarted controller has it: nothing in memory but what is on disk. */
  const build = () => {
    store = new StatusStore(layout, silentLogger);
    pool = new PoolMembers(layout);
    const shared = reconcilerDeps({
      root,
      layout,
      desired,
      store,
      runtime,
      versions,
      engine,
      config: { hostname: 'db.example' },
      inventory: async () => ({ existing: new Set(), unwanted: new Set() }),
    });
    pools = new PoolReconciler({ ...shared, pool, onAdoptedServerDown: (d) => down.push(d) });
    databases = new DatabaseReconciler({ ...shared, pool, onClaimed: (t) => claimed.push(t) });
  };
  const fill = () => pools.reconcile('shop', silentLogger);
  const members = () => pool.list('shop');
  const poolServers = () => [...runtime.servers.values()].filter((s) => s.role === 'Pool');
  const present = (p: string) => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };

  beforeEach(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'myaas-pool-'));
    layout = new Layout(root);
    desired = new FakeDesired();
    runtime = new FakeRuntime();
    engine = new FakeEngine();
    versions = new TemplateVersions(layout);
    claimed = [];
    down = [];
    build();
    await store.load();
    await addVersion(VERSION, 'one');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('refills one member per pass up to spec.pool.size, each with its own throwaway credentials', async () => {
    shop(2);
    expect(await fill()).toEqual({ requeueAfterMs: 0 });
    expect(await fill()).toBeUndefined();
    expect(await fill()).toBeUndefined();
    const made = await members();
    expect(made.map((m) => [m.version, m.ready])).toEqual([
      [VERSION, true],
      [VERSION, true],
    ]);
    expect(
      poolServers()
        .map((s) => s.owner)
        .sort(),
    ).toEqual(made.map((m) => `shop.${m.id}`).sort());
    // Each member's first login replaced the template's admin password with its own.
    expect(engine.configured.map((c) => c.admin.password).sort()).toEqual(
      made.map((m) => m.adminPassword).sort(),
    );
    expect(new Set(engine.configured.map((c) => c.user.password)).size).toBe(2);
    expect(store.get('Template/shop')).toBeUndefined(); // no status yet: nothing to report on
    // Members are no databases.
    expect(store.keys('Database')).toEqual([]);
  });

  it('a fresh database claims a ready member: clone moved, server kept, own credentials at the first login', async () => {
    shop(1);
    await fill();
    const [member] = await members();
    desired.set(db('alice'));
    await databases.reconcile('alice', silentLogger);
    const record = store.get('Database/alice')!.record;
    expect(store.get('Database/alice')!.status).toMatchObject({ phase: 'Ready', templateVersion: VERSION });
    expect(record.adoptedServer).toBe(member!.server);
    expect(record.claim).toBeUndefined();
    // No server of its own: the member's serves it, on the member's port.
    expect(runtime.calls.filter((c) => c.startsWith('create Database'))).toEqual([]);
    expect(store.get('Database/alice')!.status.connection?.port).toBe(member!.port);
    expect(existsSync(path.join(layout.databaseDir('alice'), 'label'))).toBe(true);
    expect(await members()).toEqual([]);
    // The member's old path is a link to the moved clone (host servers open some files by it).
    expect(lstatSync(layout.poolMemberDir('shop', member!.id)).isSymbolicLink()).toBe(true);
    expect(engine.configured.at(-1)).toEqual({
      admin: { user: 'root', password: record.adminPassword },
      user: record.user,
    });
    expect(record.templateAdminPassword).toBe(member!.adminPassword);
    expect(claimed).toEqual(['shop']);
    // The pool refills; the claimed server and the link stay while the server does.
    await fill();
    expect((await members()).map((m) => m.ready)).toEqual([true]);
    expect(runtime.servers.has(member!.server!)).toBe(true);
    expect(present(layout.poolMemberDir('shop', member!.id))).toBe(true);
    expect(down).toEqual([]);
    // Its server gone (its events say Pool: the pool's pass tells the database), then replaced.
    await runtime.servers.remove(member!.server!);
    await fill();
    expect(down).toEqual(['alice']);
    await databases.reconcile('alice', silentLogger);
    expect(store.get('Database/alice')!.record.adoptedServer).toBeUndefined();
    expect(runtime.calls).toContain('create Database/alice');
    await fill();
    expect(present(layout.poolMemberDir('shop', member!.id))).toBe(false);
    expect(existsSync(path.join(layout.databaseDir('alice'), 'label'))).toBe(true);
  });

  it('a database the member does not fit (fixed port, other memory limit, Stopped) clones cold', async () => {
    shop(1);
    await fill();
    desired.set(db('fixed', { port: 41234 }));
    desired.set(db('big', { memoryMiB: 4096 }));
    desired.set(db('stopped', { state: 'Stopped' }));
    for (const name of ['fixed', 'big', 'stopped']) await databases.reconcile(name, silentLogger);
    for (const name of ['fixed', 'big', 'stopped'])
      expect(store.get(`Database/${name}`)!.record.adoptedServer, name).toBeUndefined();
    expect((await members()).length).toBe(1);
    expect(claimed).toEqual([]);
  });

  it('drains members of an old version when a new one is current, and fills with the new one', async () => {
    shop(1);
    await fill();
    const [old] = await members();
    await addVersion(VERSION2, 'two');
    await fill();
    const now = await members();
    expect(now.map((m) => m.version)).toEqual([VERSION2]);
    expect(runtime.servers.has(old!.server!)).toBe(false);
    expect(present(layout.poolMemberDir('shop', old!.id))).toBe(false);
    desired.set(db('bob'));
    await databases.reconcile('bob', silentLogger);
    expect(store.get('Database/bob')!.status.templateVersion).toBe(VERSION2);
  });

  it('removes dead members, extra members, and everything when the template goes', async () => {
    shop(2);
    await fill();
    await fill();
    const [first, second] = await members();
    await runtime.servers.stop(first!.server!);
    shop(1);
    await fill();
    // The dead one went; the live one is enough for a pool of one.
    expect((await members()).map((m) => m.id)).toEqual([second!.id]);
    shop(0);
    await fill();
    expect(await members()).toEqual([]);
    expect(poolServers()).toEqual([]);
    shop(1);
    await fill();
    desired.delete('Template/shop');
    await fill();
    expect(await members()).toEqual([]);
    expect(poolServers()).toEqual([]);
  });

  it('a member left unfinished by a crash, and a server or clone without a member, are removed', async () => {
    shop(1);
    await fill();
    const [member] = await members();
    // As a crash mid-fill leaves it: the record says not ready.
    await pool.save({ ...member!, ready: false });
    const stray = await runtime.servers.create({
      ...runtime.servers.get(member!.server!)!.spec,
      owner: 'shop.0badc0de',
    });
    mkdirSync(layout.poolMemberDir('shop', '0badc0d2'), { recursive: true });
    build();
    await fill();
    const now = await members();
    expect(now.map((m) => m.id)).not.toContain(member!.id);
    expect(now.every((m) => m.ready)).toBe(true);
    expect(runtime.servers.has(member!.server!)).toBe(false);
    expect(runtime.servers.has(stray.id)).toBe(false);
    expect(existsSync(layout.poolMemberDir('shop', '0badc0d2'))).toBe(false);
  });

  describe('a restart mid-claim leaves either a member or a database, never both or neither', () => {
    /** The journal as a crash leaves it after each step: claim saved, clone moved, member record removed. */
    const crashAfter = async (step: 'intent' | 'move' | 'forget'): Promise<PoolMember> => {
      shop(1);
      await fill();
      const [member] = await members();
      desired.set(db('carol'));
      await store.save(
        'Database/carol',
        { phase: 'Cloning', conditions: [] },
        {
          template: 'shop',
          templateVersion: VERSION,
          templateAdminPassword: member!.adminPassword,
          user: { user: 'myaas', password: 'carol-password' },
          adminPassword: 'carol-admin',
          configured: false,
          resetToken: '',
          protected: false,
          claim: { template: 'shop', member: member!.id, server: member!.server! },
        },
      );
      if (step !== 'intent') {
        await new CopyStorage(silentLogger).move(
          layout.poolMemberDir('shop', member!.id),
          layout.databaseDir('carol'),
        );
        if (step === 'forget') rmSync(layout.poolMemberRecord('shop', member!.id));
      }
      await store.flush();
      build();
      await store.load();
      return member!;
    };

    it.each(['intent', 'move', 'forget'] as const)(
      'after %s: the pool leaves the claimed member alone, the database finishes',
      async (step) => {
        const member = await crashAfter(step);
        // The pool's pass may come first: it must not take the member (or its server) from the claim.
        await fill();
        expect(runtime.servers.has(member.server!)).toBe(true);
        if (step === 'intent') expect(existsSync(layout.poolMemberDir('shop', member.id))).toBe(true);
        await databases.reconcile('carol', silentLogger);
        const record = store.get('Database/carol')!.record;
        expect(store.get('Database/carol')!.status.phase).toBe('Ready');
        expect(record.claim).toBeUndefined();
        expect(existsSync(path.join(layout.databaseDir('carol'), 'label'))).toBe(true);
        const left = (await members()).map((m) => m.id);
        if (step === 'intent') {
          // The move never happened: the claim is forgotten and the database claims afresh (the
          // same member, untouched) — it holds the clone, the member record went with the claim.
          expect(left).not.toContain(member.id);
        } else {
          // Rolled forward: the member's server serves the database, the member is gone.
          expect(left).not.toContain(member.id);
          expect(record.adoptedServer).toBe(member.server);
          expect(runtime.calls.filter((c) => c.startsWith('create Database'))).toEqual([]);
        }
        expect(engine.configured.at(-1)?.user).toEqual({ user: 'myaas', password: 'carol-password' });
        // Exactly one holds it: no member folder of that id but the claim's link.
        const memberPath = layout.poolMemberDir('shop', member.id);
        expect(!present(memberPath) || lstatSync(memberPath).isSymbolicLink()).toBe(true);
      },
    );

    it('after intent, a pool shrunk to 0 meanwhile still leaves the claimed member to the claim', async () => {
      const member = await crashAfter('intent');
      shop(0);
      // The claim holds it: the pool does not remove a member a database is claiming.
      await fill();
      expect((await members()).map((m) => m.id)).toEqual([member.id]);
      expect(existsSync(layout.poolMemberDir('shop', member.id))).toBe(true);
      await databases.reconcile('carol', silentLogger);
      expect(store.get('Database/carol')!.record.claim).toBeUndefined();
      expect(store.get('Database/carol')!.status.phase).toBe('Ready');
      // The database took it (the member was untouched); nothing of the pool is left.
      expect(store.get('Database/carol')!.record.adoptedServer).toBe(member.server);
      await fill();
      expect(await members()).toEqual([]);
    });
  });

  it('members count against no quota: a user owns the databases they made, claimed or not', async () => {
    shop(2);
    await fill();
    await fill();
    desired.set(db('mine', {}, { [OWNER_ANNOTATION]: 'bob' }));
    await databases.reconcile('mine', silentLogger);
    expect(store.get('Database/mine')!.record.adoptedServer).toBeDefined();
    const state = new ApiState({ running: { desired, store } } as unknown as ApiContext);
    expect(state.ownedBy('bob')).toBe(1);
    expect(state.ownedBy('operator')).toBe(0);
    expect(state.databases().map((d) => d.object.metadata.name)).toEqual(['mine']);
  });
});
