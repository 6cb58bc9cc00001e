import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Flavor, MARIADB } from '../../support/flavors.js';
import { databaseObject, templateObject } from '../../support/specs.js';
import { type Pair, TestBed } from '../../support/testbed.js';
import { sleep, waitFor } from '../../support/wait.js';

/**
 * The lifecycle every runtime/storage pair must pass: one set of cases, run once per pair.
 * The controller runs as a child process so that it can be killed for real.
 */
export function describeLifecycle(pair: Pair, flavor: Flavor = MARIADB): void {
  describe(`lifecycle of ${flavor.engine} on ${pair.runtime} + ${pair.storage}`, () => {
    const bed = new TestBed(`life-${flavor.engine}-${pair.runtime}`, { pair });

    beforeAll(async () => {
      bed.writeDump('shop.sql.gz', flavor.shopDump(3, 'v1'));
      bed.writeSpec(
        'shop.yaml',
        templateObject('shop', { engine: flavor.engine, source: { path: 'shop.sql.gz' } }),
      );
      await bed.spawn();
      await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
    });
    afterAll(async () => {
      await bed.destroy();
    });

    it('imports a gzipped dump with a view, a trigger and a procedure into a version, leaving no import server', async () => {
      const t = bed.template('shop')!;
      expect(t.status.currentVersion).toMatch(/^v\d{8}-\d{6}-[0-9a-f]{4}$/);
      expect(t.status.lastImport).toMatchObject({ result: 'Succeeded', bytes: expect.any(Number) });
      const version = path.join(bed.dataDir, 'templates', 'shop', t.status.currentVersion!);
      expect(existsSync(version)).toBe(true);
      flavor.checkVersion(version);
      expect((await bed.servers()).filter((s) => s.role === 'Import')).toEqual([]);
    });

    it('a Database becomes Ready and serves the template data, its view, trigger and procedure', async () => {
      bed.writeSpec('alice.yaml', databaseObject('alice', { template: 'shop' }));
      const db = await bed.waitForDatabase('alice', 'Ready');
      expect(db.status.connection).toMatchObject({ host: 'localhost', user: 'myaas', database: 'default' });
      expect(db.status.engine).toBe(flavor.engine);
      expect(db.status.cloneMethod).toBe(pair.storage === 'btrfs' ? 'snapshot' : 'copy');
      expect(await bed.query('alice', 'SELECT name FROM expensive ORDER BY name')).toEqual([
        { name: 'item-2' },
        { name: 'item-3' },
      ]);
      await bed.query('alice', "INSERT INTO products VALUES (4, 'new', 1)");
      expect(await bed.query('alice', 'SELECT note FROM audit')).toEqual([{ note: 'added new' }]);
      expect(await flavor.countProducts(bed, 'alice')).toBe(4);
    });

    it('a write in one clone is invisible in another and in the template', async () => {
      bed.writeSpec('bob.yaml', databaseObject('bob', { template: 'shop' }));
      await bed.waitForDatabase('bob', 'Ready');
      await bed.query('bob', "UPDATE meta SET v = 'bob-was-here'");
      expect(await bed.query('alice', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
      bed.writeSpec('carol.yaml', databaseObject('carol', { template: 'shop' }));
      await bed.waitForDatabase('carol', 'Ready');
      expect(await bed.query('carol', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
      expect(await bed.query('carol', 'SELECT COUNT(*) AS n FROM products')).toEqual([{ n: 3 }]);
    });

    it('each database has its own credentials; the template admin password does not open it', async () => {
      const alice = bed.database('alice')!;
      const bob = bed.database('bob')!;
      expect(alice.record.user.password).not.toBe(bob.record.user.password);
      const version = bed.template('shop')!.status.currentVersion!;
      const meta = JSON.parse(
        readFileSync(path.join(bed.dataDir, 'templates', 'shop', `${version}.json`), 'utf8'),
      ) as {
        adminPassword: string;
      };
      const port = alice.status.connection!.port;
      await expect(flavor.login(port, flavor.adminUser, meta.adminPassword)).rejects.toThrow(flavor.refused);
      await expect(flavor.login(port, 'myaas', bob.record.user.password)).rejects.toThrow(flavor.refused);
      await flavor.login(port, 'myaas', alice.record.user.password);
    });

    it('Stopped stops the server and keeps the data; Running brings it back on the same port', async () => {
      const port = bed.database('carol')!.status.connection!.port;
      await bed.query('carol', "INSERT INTO products VALUES (99, 'kept', 5)");
      bed.writeSpec('carol.yaml', databaseObject('carol', { template: 'shop', state: 'Stopped' }));
      await bed.waitForDatabase('carol', 'Stopped');
      expect((await bed.serversOf('carol')).map((s) => s.running)).toEqual([false]);
      bed.writeSpec('carol.yaml', databaseObject('carol', { template: 'shop', state: 'Running' }));
      const back = await bed.waitForDatabase('carol', 'Ready');
      expect(back.status.connection?.port).toBe(port);
      expect(await bed.query('carol', 'SELECT name FROM products WHERE id = 99')).toEqual([{ name: 'kept' }]);
    });

    it('a short ttl expires and is not recreated', async () => {
      bed.writeSpec('short.yaml', databaseObject('short', { ttl: '3s' }));
      await bed.waitForDatabase('short', 'Ready');
      await bed.waitForDatabase('short', 'Expired', 20_000);
      expect(await bed.serversOf('short')).toEqual([]);
      expect(existsSync(path.join(bed.dataDir, 'databases', 'short'))).toBe(false);
      await sleep(2500);
      expect(bed.database('short')?.status.phase).toBe('Expired');
      expect(await bed.serversOf('short')).toEqual([]);
    });

    it('removing the spec removes the server and the clone', async () => {
      bed.removeSpec('bob.yaml');
      await waitFor('bob gone', () => !bed.database('bob'), 30_000);
      expect(existsSync(path.join(bed.dataDir, 'databases', 'bob'))).toBe(false);
      expect(await bed.serversOf('bob')).toEqual([]);
    });

    it('a killed server is brought back with its data', async () => {
      await bed.killServer('alice');
      await waitFor('alice back', async () => (await bed.serversOf('alice'))[0]?.running, 30_000, 100);
      const rows = await waitFor(
        'query',
        () => bed.query('alice', 'SELECT name FROM products WHERE id = 4'),
        30_000,
        200,
      );
      expect(rows).toEqual([{ name: 'new' }]);
    });

    it('kill -9 of the controller: servers keep running and are re-adopted, never duplicated', async () => {
      const before = await bed.servers();
      await bed.kill9();
      expect(await bed.query('alice', 'SELECT COUNT(*) AS n FROM products')).toEqual([{ n: 4 }]);
      bed.writeSpec('dave.yaml', databaseObject('dave', { template: 'shop' }));
      await bed.spawn();
      await bed.waitForDatabase('dave', 'Ready');
      await sleep(1500);
      const after = await bed.servers();
      for (const s of before)
        expect(after.filter((a) => a.owner === s.owner && a.role === s.role).map((a) => a.id)).toEqual([
          s.id,
        ]);
      expect(after.filter((s) => s.owner === 'dave')).toHaveLength(1);
    });

    it('a new dump version reaches new databases while old ones keep their data', async () => {
      const v1 = bed.template('shop')!.status.currentVersion;
      bed.writeDump('shop.sql.gz', flavor.shopDump(5, 'v2'));
      await bed.waitForTemplate('shop', (s) => s.phase === 'Ready' && s.currentVersion !== v1, 'new version');
      bed.writeSpec('erin.yaml', databaseObject('erin', { template: 'shop' }));
      await bed.waitForDatabase('erin', 'Ready');
      expect(await bed.query('erin', 'SELECT v FROM meta')).toEqual([{ v: 'v2' }]);
      expect(await bed.query('carol', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
    });
  });
}
