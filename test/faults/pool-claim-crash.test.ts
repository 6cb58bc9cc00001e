import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultPointName } from '../../controller/util/fault-points.js';
import { crashAt } from '../support/crash.js';
import { MARIADB } from '../support/flavors.js';
import { poolMembers } from '../support/pool.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, PROCESS_COPY, type Pair, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

/**
 * A crash mid-claim of a warm pool member (issue 17): the controller kills itself at each step of the
 * claim's journal, and a restart leaves either a member or a database holding the member's clone,
 * never both or neither, and the database comes up with the template's data and its own credentials.
 */

const POINTS = [
  'pool:after-claim-intent',
  'pool:after-claim-move',
] as const satisfies readonly FaultPointName[];

describe.each([
  ['docker+btrfs', DOCKER_BTRFS],
  ['process+copy', PROCESS_COPY],
] as [string, Pair][])('controller killed mid-claim of a pool member (%s)', (_, pair) => {
  const bed = new TestBed(`pool-crash-${pair.runtime}`, { pair });
  const poolDir = () => path.join(bed.dataDir, 'pool', 'shop');
  const memberRecord = (id: string) => path.join(poolDir(), `${id}.json`);
  const members = () => poolMembers(bed, 'shop');
  const readyMember = () =>
    waitFor('a ready pool member', () => members().find((m) => m.ready), 180_000, 100);

  beforeAll(async () => {
    bed.writeDump('shop.sql', MARIADB.shopDump(3, 'v1'));
    bed.writeSpec('shop.yaml', templateObject('shop', { source: { path: 'shop.sql' }, pool: { size: 1 } }));
    await bed.spawn();
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 180_000);
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it.each(POINTS)('%s: a restart leaves the clone with exactly one of member and database', async (point) => {
    const name = point.split(':')[1]!.replace('after-claim-', 'claim-');
    const member = await readyMember();
    await crashAt(bed, point, () => bed.writeSpec(`${name}.yaml`, databaseObject(name)));

    // The journal as the crash left it: the claim recorded, the clone moved or not.
    const clone = path.join(bed.dataDir, 'databases', name);
    const memberDir = path.join(poolDir(), member.id);
    expect(bed.database(name)?.record.claim).toMatchObject({ template: 'shop', member: member.id });
    expect(existsSync(memberRecord(member.id)), 'member record at the crash').toBe(true);
    expect(existsSync(clone), 'clone moved at the crash').toBe(point === 'pool:after-claim-move');

    await bed.spawn();
    await bed.waitForDatabase(name, 'Ready', 120_000);
    const stored = bed.database(name)!;
    expect(stored.record.claim).toBeUndefined();
    expect(await bed.query(name, `SELECT v FROM meta WHERE k = 'label'`)).toEqual([{ v: 'v1' }]);
    await bed.query(name, `INSERT INTO products VALUES (100, 'own-${name}', 1)`);

    // Exactly one of them holds the member's clone.
    const stillMember = existsSync(memberRecord(member.id));
    if (point === 'pool:after-claim-move') {
      // Rolled forward: the database is the member's clone, served by its server.
      expect(stillMember).toBe(false);
      expect(stored.record.adoptedServer).toBe(member.server);
    }
    if (stillMember) {
      // Not claimed in the end: the member keeps its own clone (a real folder, not the database's).
      expect(lstatSync(memberDir).isDirectory()).toBe(true);
      expect(
        statSync(memberDir).ino === statSync(clone).ino && statSync(memberDir).dev === statSync(clone).dev,
      ).toBe(false);
      expect(stored.record.adoptedServer).not.toBe(member.server);
    } else {
      expect(existsSync(memberDir) && !lstatSync(memberDir).isSymbolicLink(), 'no member folder left').toBe(
        false,
      );
    }
    expect(existsSync(clone)).toBe(true);

    // Converges: the pool has one ready member again, every Pool server is a member's or the database's.
    const refilled = await readyMember();
    await waitFor(
      'only known servers',
      async () => {
        const servers = await bed.servers();
        const known = new Set([
          ...members().map((m) => m.server),
          ...[...readdirSync(path.join(bed.dataDir, 'state', 'databases'))]
            .filter((e) => e.endsWith('.json'))
            .map((e) => bed.database(e.slice(0, -5))?.record.adoptedServer),
        ]);
        return servers.filter((s) => s.role === 'Pool').every((s) => known.has(s.id));
      },
      30_000,
    );
    expect(refilled.ready).toBe(true);
    expect(await bed.query(name, 'SELECT name FROM products WHERE id = 100')).toEqual([
      { name: `own-${name}` },
    ]);
  });
});
