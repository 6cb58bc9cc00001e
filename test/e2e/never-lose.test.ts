import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { silentLogger } from '../../controller/log.js';
import { callApi } from '../support/api.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');

/**
 * Issue 13, "never lose a database", on docker + btrfs: each path that lost data before has a case
 * here; every removal goes to the trash and comes back with its data, port and credentials.
 */
describe('never lose a database (docker + btrfs)', () => {
  // A low absolute limit, so a handful of removals at once is a mass removal here.
  const bed = new TestBed('never-lose', { config: { deletionGuardLimit: 4 } });
  let api: ApiServer;
  let base: string;
  const call = (method: string, route: string, body?: unknown) => callApi(base, method, route, body);
  const cli = async (...args: string[]) => {
    try {
      const { stdout } = await run(process.execPath, [MAIN, ...args], {
        env: { ...process.env, MYAAS_URL: base },
      });
      return { code: 0, stdout };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout + e.stderr };
    }
  };
  const containersOf = async (name: string) =>
    (await bed.containers()).filter((c) => c.Labels['myaas.dev/name'] === name && c.State === 'running');
  /** A row only this database has: what must survive. */
  const writeOwnRow = (name: string) => bed.query(name, `INSERT INTO audit (note) VALUES ('own-${name}')`);
  const ownRows = async (name: string) =>
    (await bed.query<{ note: string }>(name, `SELECT note FROM audit WHERE note = 'own-${name}'`)).length;

  beforeAll(async () => {
    bed.declareShop();
    const running = await bed.start();
    api = createApi(running, silentLogger);
    base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
  });
  afterAll(async () => {
    await api?.close();
    await bed.destroy();
  });

  it('a removed spec sends the database to the trash; restore brings back its data, port and credentials', async () => {
    bed.writeSpec('keep.yaml', databaseObject('keep'));
    const before = await bed.waitForDatabase('keep', 'Ready');
    await writeOwnRow('keep');
    bed.removeSpec('keep.yaml');
    await waitFor(
      'keep removed',
      async () => !bed.database('keep') && (await containersOf('keep')).length === 0,
      60_000,
    );
    const trash = await call('GET', '/api/v1/trash');
    const entry = (trash.body.items as { name: string; reason: string; id: string }[]).find(
      (e) => e.name === 'keep',
    );
    expect(entry).toMatchObject({ reason: 'SpecRemoved' });
    const restored = await call('POST', '/api/v1/databases/keep/restore');
    expect(restored).toMatchObject({ status: 200, body: { entry: entry!.id, phase: 'Ready' } });
    const after = bed.database('keep')!;
    expect(after.status.connection?.port).toBe(before.status.connection?.port);
    expect(after.record.user.password).toBe(before.record.user.password);
    expect(await ownRows('keep')).toBe(1);
    // Restored through the API: declared again where the API keeps its specs.
    expect(bed.running!.desired.get('Database/keep')?.file).toBe(
      path.join('api-managed', 'database-keep.yaml'),
    );
  });

  it('the CLI lists the trash and restores from it by name', async () => {
    bed.writeSpec('cli.yaml', databaseObject('cli'));
    await bed.waitForDatabase('cli', 'Ready');
    await writeOwnRow('cli');
    bed.removeSpec('cli.yaml');
    await waitFor('cli removed', () => !bed.database('cli'), 60_000);
    const listed = await cli('trash');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^database\s+cli\s+SpecRemoved\s+shop\s/m);
    const restored = await cli('restore', 'cli');
    expect(restored).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/restored from cli@.* \(Ready\)/),
    });
    expect(await ownRows('cli')).toBe(1);
    expect((await cli('restore', 'nothing-here')).stdout).toContain(
      'nothing named "nothing-here" in the trash',
    );
  });

  it('a spec file that comes back (a git revert) restores instead of cloning fresh', async () => {
    bed.writeSpec('back.yaml', databaseObject('back'));
    const before = await bed.waitForDatabase('back', 'Ready');
    await writeOwnRow('back');
    const file = path.join(bed.specsDir, 'back.yaml');
    const content = readFileSync(file);
    bed.removeSpec('back.yaml');
    await waitFor('back removed', () => !bed.database('back'), 60_000);
    writeFileSync(file, content);
    const after = await bed.waitForDatabase('back', 'Ready');
    expect(after.status.restoredFrom?.entry).toMatch(/^back@/);
    expect(after.record.user.password).toBe(before.record.user.password);
    expect(await ownRows('back')).toBe(1);
  });

  it('an API DELETE is final for the name: the next POST makes a fresh database (201, not 304), the old one stays restorable by id', async () => {
    expect((await call('POST', '/db/shop/gone', { ttl: 3600 })).status).toBe(201);
    await writeOwnRow('gone');
    const deleted = await fetch(`${base}/db/shop/gone`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    const again = await call('POST', '/db/shop/gone', { ttl: 3600 });
    expect(again.status).toBe(201);
    expect(again.body.password).toBeTruthy();
    expect(await ownRows('gone')).toBe(0);
    const items = (await call('GET', '/api/v1/trash')).body.items as {
      name: string;
      reason: string;
      id: string;
    }[];
    const old = items.find((e) => e.name === 'gone' && e.reason === 'Deleted');
    expect(old).toBeDefined();
    // Restoring over a live database of that name is refused with what to do.
    const refused = await call('POST', `/api/v1/trash/${old!.id}/restore`);
    expect(refused.status).toBe(409);
    expect(String(refused.body.status)).toContain('delete it first');
  });

  it('a reset fires once per annotation value: an apply without the annotation keeps the data', async () => {
    // Made through the native API, as `myaas apply` does; `myaas reset` then writes the annotation.
    expect(
      (await call('PUT', '/api/v1/databases/rst', { metadata: { name: 'rst' }, spec: { template: 'shop' } }))
        .status,
    ).toBe(201);
    await bed.waitForDatabase('rst', 'Ready');
    expect((await call('POST', '/api/v1/databases/rst/reset')).status).toBe(202);
    await waitFor('reset done', () => Boolean(bed.database('rst')?.status.lastReset), 60_000);
    await bed.waitForDatabase('rst', 'Ready');
    await writeOwnRow('rst');
    // A later apply of the object without the annotation (to stop it): no second reset.
    const put = await call('PUT', '/api/v1/databases/rst', {
      metadata: { name: 'rst' },
      spec: { template: 'shop', state: 'Stopped' },
    });
    expect(put.status).toBe(200);
    await bed.waitForDatabase('rst', 'Stopped');
    await call('PUT', '/api/v1/databases/rst', { metadata: { name: 'rst' }, spec: { template: 'shop' } });
    await bed.waitForDatabase('rst', 'Ready');
    expect(await ownRows('rst')).toBe(1);
  });

  it('expired databases are gone for the original API; a POST of the name makes a fresh one; the expired one stays in the trash', async () => {
    expect((await call('POST', '/db/shop/short', { ttl: 3 })).status).toBe(201);
    await writeOwnRow('short');
    await waitFor('short expired', () => bed.database('short')?.status.phase === 'Expired', 60_000);
    expect((await call('GET', '/db/shop/short')).status).toBe(404);
    const listed = (await call('GET', '/db')).body.databases as { name: string }[];
    expect(listed.map((d) => d.name)).not.toContain('short');
    const fresh = await call('POST', '/db/shop/short', { ttl: 3600 });
    expect(fresh.status).toBe(201);
    expect(await ownRows('short')).toBe(0);
    const items = (await call('GET', '/api/v1/trash')).body.items as {
      name: string;
      reason: string;
      id: string;
    }[];
    expect(items.some((e) => e.name === 'short' && e.reason === 'Expired')).toBe(true);
  });

  it('a mass removal is held as a whole: files coming back one by one release nothing; templates are held too', async () => {
    const names = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    for (const n of names) bed.writeSpec(`${n}.yaml`, databaseObject(n));
    for (const n of names) await bed.waitForDatabase(n, 'Ready');
    const ids = new Map<string, string>();
    for (const n of names) ids.set(n, (await containersOf(n))[0]!.Id);
    // rm specs/*: every database file and the template's.
    const saved = new Map<string, Buffer>();
    for (const n of [...names, 'shop']) saved.set(n, readFileSync(path.join(bed.specsDir, `${n}.yaml`)));
    for (const n of [...names, 'shop']) bed.removeSpec(`${n}.yaml`);
    await waitFor('held', () => bed.running!.controller.guard.held.length >= names.length, 30_000);
    expect(bed.running!.controller.guard.held).toContain('Template/shop');
    // Restored one by one, 1.5 s apart, as `cp` from a backup would: nothing of the rest is released.
    for (const n of [...names.slice(0, 5)]) {
      writeFileSync(path.join(bed.specsDir, `${n}.yaml`), saved.get(n)!);
      await sleep(1500);
      for (const m of names) expect((await containersOf(m)).map((c) => c.Id)).toEqual([ids.get(m)]);
    }
    expect(bed.running!.controller.guard.held).toEqual(
      expect.arrayContaining(['Database/m6', 'Template/shop']),
    );
    writeFileSync(path.join(bed.specsDir, 'm6.yaml'), saved.get('m6')!);
    writeFileSync(path.join(bed.specsDir, 'shop.yaml'), saved.get('shop')!);
    await waitFor('hold lifted', () => bed.running!.controller.guard.held.length === 0, 30_000);
    for (const m of names) expect((await containersOf(m)).map((c) => c.Id)).toEqual([ids.get(m)]);
    expect(bed.template('shop')?.status.currentVersion).toBeTruthy();
  });

  it('a ttl typo in a shared file does not expire everything at once: mass expiry is held', async () => {
    const names = ['t1', 't2', 't3', 't4', 't5'];
    bed.writeSpec('team.yaml', ...names.map((n) => databaseObject(n, { ttl: '1h' })));
    for (const n of names) await bed.waitForDatabase(n, 'Ready');
    // "1h" meant "1d"? No: a typo the other way, 2s, makes every one of them due at once.
    bed.writeSpec('team.yaml', ...names.map((n) => databaseObject(n, { ttl: '2s' })));
    await waitFor(
      'expiry held',
      () => names.every((n) => bed.database(n)?.status.conditions.some((c) => c.reason === 'ExpiryHeld')),
      30_000,
    );
    for (const n of names) expect(await containersOf(n)).toHaveLength(1);
    bed.writeSpec('team.yaml', ...names.map((n) => databaseObject(n, { ttl: '1d' })));
    await sleep(1500);
    for (const n of names) {
      expect(bed.database(n)?.status.phase).toBe('Ready');
      expect(await containersOf(n)).toHaveLength(1);
    }
  });

  it('every kind of removal can be undone: expired, API-deleted, guard-confirmed', async () => {
    // Expired: restored with a new lifetime of its ttl, counted from the restore.
    expect((await call('POST', '/db/shop/exp', { ttl: 8 })).status).toBe(201);
    await writeOwnRow('exp');
    await waitFor('exp expired', () => bed.database('exp')?.status.phase === 'Expired', 60_000);
    expect((await call('POST', '/api/v1/databases/exp/restore')).body).toMatchObject({ phase: 'Ready' });
    expect(await ownRows('exp')).toBe(1);
    // Deleted through the original API.
    expect((await call('POST', '/db/shop/del', { ttl: 3600 })).status).toBe(201);
    await writeOwnRow('del');
    expect((await fetch(`${base}/db/shop/del`, { method: 'DELETE' })).status).toBe(204);
    expect((await call('POST', '/api/v1/databases/del/restore')).body).toMatchObject({ phase: 'Ready' });
    expect(await ownRows('del')).toBe(1);
    // A held mass removal, confirmed.
    const names = ['c1', 'c2', 'c3', 'c4', 'c5'];
    bed.writeSpec('batch.yaml', ...names.map((n) => databaseObject(n)));
    for (const n of names) await bed.waitForDatabase(n, 'Ready');
    await writeOwnRow('c3');
    bed.removeSpec('batch.yaml');
    await waitFor('batch held', () => bed.running!.controller.guard.held.length === 5, 30_000);
    const confirmed = await call('POST', '/api/v1/deletions/confirm');
    expect(confirmed.body).toMatchObject({ databases: names });
    await waitFor('batch removed', () => names.every((n) => !bed.database(n)), 60_000);
    expect((await call('POST', '/api/v1/databases/c3/restore')).body).toMatchObject({ phase: 'Ready' });
    expect(await ownRows('c3')).toBe(1);
  });

  it('a lost or corrupt state file is rebuilt from the record copy beside the clone: same credentials, same data', async () => {
    bed.writeSpec('state.yaml', databaseObject('state'));
    const before = await bed.waitForDatabase('state', 'Ready');
    await writeOwnRow('state');
    await bed.stop();
    writeFileSync(path.join(bed.dataDir, 'state', 'databases', 'state.json'), '{"status": {"pha');
    const running = await bed.start();
    await api.close();
    api = createApi(running, silentLogger);
    base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    const after = await bed.waitForDatabase('state', 'Ready');
    expect(after.record.user.password).toBe(before.record.user.password);
    expect(after.events.some((e) => e.reason === 'RecordRecovered')).toBe(true);
    expect(await ownRows('state')).toBe(1);
  });

  it('a removed template goes to the trash with its versions; its spec coming back takes them back, no reimport', async () => {
    bed.writeDump('old.sql', 'CREATE TABLE t (id INT); INSERT INTO t VALUES (7);\n');
    bed.writeSpec('old.yaml', templateObject('old', { source: { path: 'old.sql' } }));
    const imported = await bed.waitForTemplate('old', (s) => Boolean(s.currentVersion), 'imported');
    const version = imported.status.currentVersion!;
    const content = readFileSync(path.join(bed.specsDir, 'old.yaml'));
    bed.removeSpec('old.yaml');
    await waitFor('old removed', () => !bed.template('old'), 60_000);
    const items = (await call('GET', '/api/v1/trash')).body.items as { name: string; versions?: string[] }[];
    expect(items.find((e) => e.name === 'old')?.versions).toEqual([version]);
    writeFileSync(path.join(bed.specsDir, 'old.yaml'), content);
    const back = await bed.waitForTemplate(
      'old',
      (s) => s.phase === 'Ready' && Boolean(s.currentVersion),
      'back',
    );
    expect(back.status.currentVersion).toBe(version);
    // Its status came back with it: the last import is still the one that made the version.
    expect(back.status.lastImport?.version).toBe(version);
    bed.writeSpec('fromold.yaml', databaseObject('fromold', { template: 'old' }));
    await bed.waitForDatabase('fromold', 'Ready');
    expect(await bed.query('fromold', 'SELECT id FROM t')).toEqual([{ id: 7 }]);
  });

  it('a template version whose metadata cannot be read is kept, not removed as a leftover', async () => {
    const version = bed.template('shop')!.status.currentVersion!;
    const meta = path.join(bed.dataDir, 'templates', 'shop', `${version}.json`);
    const good = readFileSync(meta);
    writeFileSync(meta, '{"version": "v2026');
    await bed.running!.controller.resync();
    await sleep(3000);
    expect(readFileSync(meta, 'utf8')).toBe('{"version": "v2026');
    const dir = path.join(bed.dataDir, 'templates', 'shop', version);
    expect(readFileSync(path.join(dir, 'ibdata1')).length).toBeGreaterThan(0);
    writeFileSync(meta, good);
  });
});
