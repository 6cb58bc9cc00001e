import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shopDump } from '../support/dumps.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

describe('templates and databases on docker + btrfs', () => {
  const bed = new TestBed('lifecycle');

  beforeAll(async () => {
    bed.writeDump('shop.sql.gz', shopDump(3, 'v1'));
    bed.writeSpec('shop.yaml', templateObject('shop', { source: { path: 'shop.sql.gz' } }));
    await bed.start();
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('imports a gzipped dump with a view, a trigger and a procedure into a read-only version', async () => {
    const t = bed.template('shop')!;
    expect(t.status.currentVersion).toMatch(/^v\d{8}-\d{6}-[0-9a-f]{4}$/);
    expect(t.status.lastImport).toMatchObject({ result: 'Succeeded', bytes: expect.any(Number) });
    const versionDir = path.join(bed.dataDir, 'templates', 'shop', t.status.currentVersion!);
    expect(existsSync(versionDir)).toBe(true);
    expect(await bed.containers()).toEqual([]); // the import server is gone
  });

  it('a Database becomes Ready and serves the template data, its view, trigger and procedure', async () => {
    bed.writeSpec('alice.yaml', databaseObject('alice', { template: 'shop' }));
    const db = await bed.waitForDatabase('alice', 'Ready');
    expect(db.status.connection).toMatchObject({ host: 'localhost', user: 'myaas', database: 'default' });
    expect(db.record.user.password).toHaveLength(24);
    expect(await bed.query('alice', 'SELECT name FROM expensive ORDER BY name')).toEqual([
      { name: 'item-2' },
      { name: 'item-3' },
    ]);
    await bed.query('alice', "INSERT INTO products VALUES (4, 'new', 1)");
    expect(await bed.query('alice', 'SELECT note FROM audit')).toEqual([{ note: 'added new' }]);
    const rows = await bed.query<Record<string, unknown>[]>(
      'alice',
      'CALL count_products(@n); SELECT @n AS n',
    );
    expect(rows[1]).toEqual([{ n: 4 }]);
  });

  it('a write in one clone is invisible in another and in the template', async () => {
    bed.writeSpec('bob.yaml', databaseObject('bob', { template: 'shop' }));
    await bed.waitForDatabase('bob', 'Ready');
    await bed.query('bob', "UPDATE meta SET v = 'bob-was-here'");
    expect(await bed.query('bob', 'SELECT v FROM meta')).toEqual([{ v: 'bob-was-here' }]);
    expect(await bed.query('alice', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
    bed.writeSpec('carol.yaml', databaseObject('carol', { template: 'shop' }));
    await bed.waitForDatabase('carol', 'Ready');
    expect(await bed.query('carol', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
    expect(await bed.query('carol', 'SELECT COUNT(*) AS n FROM products')).toEqual([{ n: 3 }]);
  });

  it('each database has its own password, and the template admin password does not open it', async () => {
    const alice = bed.database('alice')!;
    const bob = bed.database('bob')!;
    expect(alice.record.user.password).not.toBe(bob.record.user.password);
    expect(alice.record.adminPassword).not.toBe(bob.record.adminPassword);
    const mysql = await import('mysql2/promise');
    const meta = JSON.parse(
      (await import('node:fs')).readFileSync(
        path.join(bed.dataDir, 'templates', 'shop', `${bed.template('shop')!.status.currentVersion}.json`),
        'utf8',
      ),
    ) as { adminPassword: string };
    await expect(
      mysql.createConnection({
        host: '127.0.0.1',
        port: alice.status.connection!.port,
        user: 'root',
        password: meta.adminPassword,
      }),
    ).rejects.toThrow(/Access denied/);
    await expect(
      mysql.createConnection({
        host: '127.0.0.1',
        port: alice.status.connection!.port,
        user: 'myaas',
        password: bob.record.user.password,
      }),
    ).rejects.toThrow(/Access denied/);
  });

  it('state Stopped stops the server and keeps the data; Running brings it back', async () => {
    await bed.query('carol', "INSERT INTO products VALUES (99, 'kept', 5)");
    bed.writeSpec('carol.yaml', databaseObject('carol', { template: 'shop', state: 'Stopped' }));
    await bed.waitForDatabase('carol', 'Stopped');
    const [container] = (await bed.containers()).filter((c) => c.Labels['myaas.dev/name'] === 'carol');
    expect(container?.State).toBe('exited');
    bed.writeSpec('carol.yaml', databaseObject('carol', { template: 'shop', state: 'Running' }));
    await bed.waitForDatabase('carol', 'Ready');
    expect(await bed.query('carol', 'SELECT name FROM products WHERE id = 99')).toEqual([{ name: 'kept' }]);
  });

  it('removing the spec removes the container and the clone', async () => {
    bed.removeSpec('bob.yaml');
    await waitFor('bob gone', () => !bed.database('bob'), 30_000);
    expect(existsSync(path.join(bed.dataDir, 'databases', 'bob'))).toBe(false);
    expect((await bed.containers()).filter((c) => c.Labels['myaas.dev/name'] === 'bob')).toEqual([]);
  });

  it('a broken spec file keeps its database running', async () => {
    bed.writeSpec('alice.yaml', {
      apiVersion: 'myaas.dev/v1alpha1',
      kind: 'Database',
      metadata: { name: 'alice' },
      spec: { template: 'shop', ttl: 'soon' },
    });
    await waitFor('problem reported', () => bed.running!.desired.problems().length > 0);
    await sleep(2000);
    expect(bed.database('alice')?.status.phase).toBe('Ready');
    expect(await bed.query('alice', 'SELECT COUNT(*) AS n FROM products')).toEqual([{ n: 4 }]);
    bed.writeSpec('alice.yaml', databaseObject('alice', { template: 'shop' }));
  });
});
