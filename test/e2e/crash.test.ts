import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

describe('kill -9 of the controller while databases are being cloned', () => {
  const bed = new TestBed('crash');

  afterAll(async () => {
    await bed.destroy();
  });

  it('converges after a restart with no orphan and no duplicate', async () => {
    bed.declareShop();
    await bed.spawn();
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
    const names = ['c1', 'c2', 'c3', 'c4'];
    // Kill at different points of the clone/start/configure sequence.
    for (const [round, delayMs] of [150, 450, 900].entries()) {
      for (const n of names)
        bed.writeSpec(
          `${n}.yaml`,
          databaseObject(n, {}, { annotations: { 'myaas.dev/reset': `r${round}` } }),
        );
      await sleep(delayMs);
      await bed.kill9();
      await bed.spawn();
    }
    bed.writeSpec('gone.yaml', databaseObject('gone'));
    await bed.waitForDatabase('gone', 'Ready');
    bed.removeSpec('gone.yaml');
    await sleep(250);
    await bed.kill9();
    await bed.spawn();
    for (const n of names) {
      const db = await bed.waitForDatabase(n, 'Ready', 120_000);
      expect(db.record.resetToken).toBe('r2');
    }
    // The removed one goes (its server stopped cleanly, its clone into the trash) after the grace.
    await waitFor(
      'gone removed',
      async () => !(await bed.containers()).some((c) => c.Labels['myaas.dev/name'] === 'gone'),
      30_000,
    );
    await sleep(1500);
    const containers = await bed.containers();
    const byOwner = new Map<string, number>();
    for (const c of containers)
      byOwner.set(c.Labels['myaas.dev/name']!, (byOwner.get(c.Labels['myaas.dev/name']!) ?? 0) + 1);
    expect(Object.fromEntries(byOwner)).toEqual({ c1: 1, c2: 1, c3: 1, c4: 1 });
    expect(
      readdirSync(path.join(bed.dataDir, 'databases'))
        .filter((e) => !e.endsWith('.record.json'))
        .sort(),
    ).toEqual(names);
    for (const n of names) {
      expect(await bed.query(n, 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
    }
  });
});
