import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFor } from '../../controller/engine/engines.js';
import type { FaultPointName } from '../../controller/util/fault-points.js';
import { crashAt } from '../support/crash.js';
import { shopDump } from '../support/dumps.js';
import { databaseObject } from '../support/specs.js';
import { DOCKER_BTRFS, PROCESS_COPY, type Pair, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

/**
 * Issue 13's crash windows, one at a time and deterministically: the controller runs with
 * MYAAS_FAULT_POINT set, kills itself (SIGKILL) at that point, and a restart without it must finish
 * the job: the database Ready with its data and the credentials recorded before the crash, exactly
 * one server, nothing orphaned; a version sealed but without metadata removed and imported again.
 */

const DATABASE_POINTS = [
  'database:after-record',
  'database:after-clone',
  'database:after-server',
  'database:after-configure',
] as const satisfies readonly FaultPointName[];

const ADMIN_USER = engineFor('mariadb').admin.user;

function login(port: number | undefined, user: string, password: string, database?: string) {
  return mysql.createConnection({ host: '127.0.0.1', port, user, password, database });
}

describe.each([
  ['docker+btrfs', DOCKER_BTRFS],
  ['process+copy', PROCESS_COPY],
] as [string, Pair][])('controller stopped at each crash window (%s)', (_, pair) => {
  const bed = new TestBed(`crash-windows-${pair.runtime}`, { pair });
  /** Databases made so far, with the row each was given once Ready. */
  const made: string[] = [];
  let v1: string;

  beforeAll(async () => {
    bed.declareShop();
    await bed.spawn();
    v1 = (await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 180_000)).status
      .currentVersion!;
  });

  afterAll(async () => {
    await bed.destroy();
  });

  /** Every database made so far: Ready, its own row, one running server each, no stray clone or volume. */
  async function expectConverged(template: Record<string, string>): Promise<void> {
    for (const name of made) {
      await bed.waitForDatabase(name, 'Ready', 120_000);
      expect(await bed.query(name, 'SELECT name FROM products WHERE id = 100'), name).toEqual([
        { name: `own-${name}` },
      ]);
      expect(await bed.query(name, `SELECT v FROM meta WHERE k = 'label'`), name).toEqual([
        { v: template[name] ?? 'v1' },
      ]);
    }
    const servers = await bed.servers();
    expect(servers.filter((s) => s.role !== 'Database').map((s) => `${s.role}/${s.owner}`)).toEqual([]);
    expect(
      servers
        .filter((s) => s.running)
        .map((s) => s.owner)
        .sort(),
      'one running server per database',
    ).toEqual([...made].sort());
    expect(servers.length, 'no stopped leftovers').toBe(made.length);
    // A record copy being written (an atomic write's .tmp) is not a leftover: the controller may still be
    // writing after a status says Ready. One that stays for seconds is, and fails below.
    const databasesDir = path.join(bed.dataDir, 'databases');
    await waitFor(
      'no write in flight',
      () => !readdirSync(databasesDir).some((e) => e.endsWith('.tmp')),
      5000,
    ).catch(() => undefined);
    expect(
      readdirSync(databasesDir)
        .filter((e) => !e.endsWith('.record.json'))
        .sort(),
    ).toEqual([...made].sort());
    const work = path.join(bed.dataDir, 'work');
    expect(existsSync(work) ? readdirSync(work) : []).toEqual([]);
  }

  it.each(DATABASE_POINTS)(
    '%s: a restart finishes the database with the recorded credentials',
    async (point) => {
      const name = point.split(':')[1]!;
      await crashAt(bed, point, () => bed.writeSpec(`${name}.yaml`, databaseObject(name)));

      // What the crash left, as the point promises it.
      const atCrash = bed.database(name);
      expect(atCrash?.record.templateVersion).toBe(v1);
      expect(atCrash?.status.phase).not.toBe('Ready');
      const cloneExists = existsSync(path.join(bed.dataDir, 'databases', name));
      const servers = await bed.serversOf(name);
      expect({ clone: cloneExists, servers: servers.length }).toEqual({
        clone: point !== 'database:after-record',
        servers: point === 'database:after-server' || point === 'database:after-configure' ? 1 : 0,
      });
      const user = atCrash!.record.user;
      if (point === 'database:after-server') {
        // Its own user does not exist yet: the template's admin still holds the clone.
        await expect(login(servers[0]!.hostPort, user.user, user.password)).rejects.toMatchObject({
          code: 'ER_ACCESS_DENIED_ERROR',
        });
      }
      if (point === 'database:after-configure') {
        // The clone already has this database's credentials; the template's admin password is gone.
        const own = await login(servers[0]!.hostPort, user.user, user.password, atCrash!.record.database);
        const [rows] = await own.query(`SELECT v FROM meta WHERE k = 'label'`);
        await own.end();
        expect(rows).toEqual([{ v: 'v1' }]);
        await expect(
          login(servers[0]!.hostPort, ADMIN_USER, atCrash!.record.templateAdminPassword!),
        ).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
      }

      await bed.spawn();
      const db = await bed.waitForDatabase(name, 'Ready', 120_000);
      expect(db.record.user, 'the credentials recorded before the crash').toEqual(user);
      expect(db.record.configured).toBe(true);
      expect(await bed.query(name, 'SELECT COUNT(*) AS n FROM products')).toEqual([{ n: 3 }]);
      await bed.query(name, `INSERT INTO products VALUES (100, 'own-${name}', 1)`);
      made.push(name);
      await expectConverged({});
    },
  );

  for (const point of DATABASE_POINTS)
    it(`${point} during a reset: a restart finishes the reset, same credentials and port`, async () => {
      const name = point.split(':')[1]!;
      const before = bed.database(name)!;
      await crashAt(bed, point, () =>
        bed.writeSpec(`${name}.yaml`, databaseObject(name, {}, { annotations: { 'myaas.dev/reset': 'r1' } })),
      );
      const atCrash = bed.database(name);
      expect(atCrash?.record.resetToken).toBe('r1');
      expect(atCrash?.status.phase).not.toBe('Ready');

      await bed.spawn();
      const db = await waitFor(
        `${name} Ready after its reset`,
        () => {
          const d = bed.database(name);
          return d?.status.phase === 'Ready' && d.record.resetToken === 'r1' ? d : undefined;
        },
        120_000,
        100,
      );
      expect(db.record.user, 'the same credentials').toEqual(before.record.user);
      expect(db.status.connection?.port, 'the same port').toBe(before.status.connection?.port);
      // A fresh clone: the row written before the reset is gone, the template's rows are there.
      const own = await bed.query(name, 'SELECT name FROM products WHERE id = 100');
      // (A reset killed at after-record lost itself before the old clone went to the trash first.)
      expect(own, 'own row after reset').toEqual([]);
      await bed.query(name, `INSERT INTO products VALUES (100, 'own-${name}', 1)`);
      expect(await bed.query(name, 'SELECT COUNT(*) AS n FROM products WHERE id < 100')).toEqual([{ n: 3 }]);
      await expectConverged({});
    });

  it('template:after-seal: a restart removes the version without metadata and imports again', async () => {
    await crashAt(bed, 'template:after-seal', () => bed.writeDump('shop.sql', shopDump(3, 'v2')));
    const killed = bed.template('shop')?.status.lastImport?.version;
    expect(killed).toBeDefined();
    expect(killed).not.toBe(v1);
    const shopDir = path.join(bed.dataDir, 'templates', 'shop');
    expect(existsSync(path.join(shopDir, killed!)), 'sealed at the crash').toBe(true);
    expect(existsSync(path.join(shopDir, `${killed}.json`)), 'no metadata at the crash').toBe(false);

    await bed.spawn();
    const t = await bed.waitForTemplate(
      'shop',
      (s) => s.lastImport?.result === 'Succeeded' && s.currentVersion !== v1 && s.currentVersion !== killed,
      'imported again',
      180_000,
    );
    const v2 = t.status.currentVersion!;
    expect(readdirSync(shopDir).sort()).toEqual(
      [v1, `${v1}.json`, `${v1}.schema.json`, v2, `${v2}.json`, `${v2}.schema.json`].sort(),
    );
    // Databases cloned from v1 keep it; a reset gets the new version.
    const reset = made[0]!;
    bed.writeSpec(`${reset}.yaml`, databaseObject(reset, {}, { annotations: { 'myaas.dev/reset': 'r2' } }));
    await waitFor(
      `${reset} reset to ${v2}`,
      () => {
        const db = bed.database(reset);
        return db?.status.phase === 'Ready' && db.record.templateVersion === v2;
      },
      120_000,
      100,
    );
    await bed.query(reset, `INSERT INTO products VALUES (100, 'own-${reset}', 1)`);
    await expectConverged({ [reset]: 'v2' });
  });

  it('trash:after-move: a removal killed once the clone is in the trash finishes, and the database restores whole', async () => {
    const name = made.at(-1)!;
    const before = bed.database(name)!;
    const trashDir = path.join(bed.dataDir, 'trash', 'databases');
    const entriesOf = () =>
      readdirSync(trashDir).filter((e) => e.startsWith(`${name}@`) && !e.endsWith('.json'));
    // Its reset earlier left the replaced data there already: only the new entry counts.
    const earlier = new Set(entriesOf());
    await crashAt(bed, 'trash:after-move', () => bed.removeSpec(`${name}.yaml`));
    const entries = entriesOf().filter((e) => !earlier.has(e));
    expect(entries, 'the clone moved at the crash').toHaveLength(1);
    expect(existsSync(path.join(bed.dataDir, 'databases', name))).toBe(false);
    await bed.spawn();
    await waitFor(`${name} removal finished`, () => !bed.database(name), 60_000);
    made.splice(made.indexOf(name), 1);
    await expectConverged({ [made[0]!]: 'v2' });
    // Restored by its spec coming back: same credentials, its own row.
    bed.writeSpec(`${name}.yaml`, databaseObject(name));
    const back = await bed.waitForDatabase(name, 'Ready', 120_000);
    expect(back.record.user).toEqual(before.record.user);
    expect(back.status.restoredFrom?.entry).toBe(entries[0]);
    made.push(name);
    await expectConverged({ [made[0]!]: 'v2' });
  });
});
