import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

describe('database lifecycle edges on docker + btrfs', () => {
  const bed = new TestBed('databases', { config: { deletionGuardMax: 3, deletionGuardFraction: 0.5 } });
  const containersOf = async (name: string) =>
    (await bed.containers()).filter((c) => c.Labels['myaas.dev/name'] === name);

  beforeAll(async () => {
    bed.declareShop();
    await bed.start();
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('a short ttl expires: container and clone removed, phase Expired, not recreated while the spec is unchanged', async () => {
    bed.writeSpec('short.yaml', databaseObject('short', { ttl: '4s' }));
    const ready = await bed.waitForDatabase('short', 'Ready');
    expect(ready.status.expiresAt).toBeDefined();
    const expired = await bed.waitForDatabase('short', 'Expired', 20_000);
    expect(expired.status.expiredAt).toBeDefined();
    expect(await containersOf('short')).toEqual([]);
    expect(existsSync(path.join(bed.dataDir, 'databases', 'short'))).toBe(false);
    await bed.running!.controller.resync();
    await sleep(3000);
    expect(bed.database('short')?.status.phase).toBe('Expired');
    expect(await containersOf('short')).toEqual([]);
    // A new ttl gives a fresh database.
    bed.writeSpec('short.yaml', databaseObject('short', { ttl: '1h' }));
    await bed.waitForDatabase('short', 'Ready');
  });

  it('an expiresAt in the past never creates the database', async () => {
    bed.writeSpec('past.yaml', databaseObject('past', { expiresAt: '2020-01-01T00:00:00Z' }));
    await bed.waitForDatabase('past', 'Expired');
    expect(await containersOf('past')).toEqual([]);
  });

  it('a container removed from outside is recreated on the same clone, data intact, same port', async () => {
    bed.writeSpec('dora.yaml', databaseObject('dora'));
    const before = await bed.waitForDatabase('dora', 'Ready');
    await bed.query('dora', "INSERT INTO products VALUES (50, 'dora-row', 1)");
    const [container] = await containersOf('dora');
    await bed.docker.getContainer(container!.Id).remove({ force: true });
    await waitFor(
      'a new container',
      async () => {
        const now = await containersOf('dora');
        return now.length === 1 && now[0]!.Id !== container!.Id && now[0]!.State === 'running';
      },
      30_000,
      100,
    );
    const after = await bed.waitForDatabase('dora', 'Ready');
    await waitFor('query works', () => bed.query('dora', 'SELECT 1'), 30_000, 200);
    expect(after.status.connection?.port).toBe(before.status.connection?.port);
    expect(await bed.query('dora', 'SELECT name FROM products WHERE id = 50')).toEqual([
      { name: 'dora-row' },
    ]);
  });

  it('a killed server is started again with its data', async () => {
    const [container] = await containersOf('dora');
    await bed.docker.getContainer(container!.Id).kill();
    await waitFor(
      'restarted',
      async () =>
        (await containersOf('dora'))[0]?.State === 'running' &&
        bed.database('dora')?.status.phase === 'Ready',
      30_000,
      100,
    );
    const rows = await waitFor(
      'query works',
      () => bed.query('dora', 'SELECT name FROM products WHERE id = 50'),
      30_000,
      200,
    );
    expect(rows).toEqual([{ name: 'dora-row' }]);
  });

  it('reset gives a fresh clone of the template, keeping port and credentials', async () => {
    const before = bed.database('dora')!;
    bed.writeSpec('dora.yaml', databaseObject('dora', {}, { annotations: { 'myaas.dev/reset': 'one' } }));
    await waitFor(
      'reset done',
      () =>
        bed.database('dora')?.record.resetToken === 'one' && bed.database('dora')?.status.phase === 'Ready',
      30_000,
    );
    const after = bed.database('dora')!;
    expect(after.status.connection?.port).toBe(before.status.connection?.port);
    expect(after.record.user.password).toBe(before.record.user.password);
    expect(await bed.query('dora', 'SELECT COUNT(*) AS n FROM products WHERE id = 50')).toEqual([{ n: 0 }]);
  });

  it('a fixed spec.port is served on that port', async () => {
    bed.writeSpec('fixed.yaml', databaseObject('fixed', { port: 34567 }));
    const db = await bed.waitForDatabase('fixed', 'Ready');
    expect(db.status.connection?.port).toBe(34567);
    expect(await bed.query('fixed', 'SELECT COUNT(*) AS n FROM products')).toEqual([{ n: 3 }]);
  });

  it('protected blocks expiry and removal', async () => {
    bed.writeSpec('safe.yaml', databaseObject('safe', { ttl: '3s', protected: true }));
    await bed.waitForDatabase('safe', 'Ready');
    await sleep(5000);
    await bed.running!.controller.resync();
    await sleep(1000);
    expect(bed.database('safe')?.status.phase).toBe('Ready');
    bed.removeSpec('safe.yaml');
    await waitFor(
      'protected message',
      () => bed.database('safe')?.status.message?.includes('protected'),
      20_000,
    );
    expect(await containersOf('safe')).toHaveLength(1);
    expect(await bed.query('safe', 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    // Unprotect, then remove: now it goes.
    bed.writeSpec('safe.yaml', databaseObject('safe', { protected: false }));
    await waitFor('unprotected', () => bed.database('safe')?.record.protected === false, 20_000);
    bed.removeSpec('safe.yaml');
    await waitFor(
      'safe removed',
      async () => (await containersOf('safe')).length === 0 && !bed.database('safe'),
      30_000,
    );
  });

  it('holds a mass removal until confirmed', async () => {
    for (const n of ['m1', 'm2', 'm3', 'm4', 'm5']) bed.writeSpec(`${n}.yaml`, databaseObject(n));
    for (const n of ['m1', 'm2', 'm3', 'm4', 'm5']) await bed.waitForDatabase(n, 'Ready');
    // Existing now: short, dora, fixed, m1..m5 = 8; removing 5 is more than 3 and more than half.
    for (const n of ['m1', 'm2', 'm3', 'm4', 'm5']) bed.removeSpec(`${n}.yaml`);
    await waitFor('held', () => bed.database('m1')?.status.message?.includes('held'), 20_000);
    await sleep(2000);
    for (const n of ['m1', 'm2', 'm3', 'm4', 'm5']) expect(await containersOf(n)).toHaveLength(1);
    expect(bed.running!.controller.guard.held).toHaveLength(5);
    const confirmed = (await bed.running!.controller.guard.confirm()).map((key) => key.split('/')[1]);
    expect(confirmed.sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await waitFor(
      'all five removed',
      async () => (await bed.containers()).every((c) => !/^m\d$/.test(c.Labels['myaas.dev/name'] ?? '')),
      30_000,
      200,
    );
    expect(await containersOf('dora')).toHaveLength(1);
  });
});
