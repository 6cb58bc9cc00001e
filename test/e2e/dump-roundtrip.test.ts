import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseObject, templateObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';

const run = promisify(execFile);

/** A real mariadb-dump of a database, imported as a new template, must give back the same database. */
describe('a mariadb-dump file round-trips through the fast import', () => {
  const bed = new TestBed('roundtrip');

  beforeAll(async () => {
    bed.declareShop('shop.sql', databaseObject('src'));
    await bed.start();
    await bed.waitForDatabase('src', 'Ready');
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('imports a real dump (rows over two connections, deferred indexes) to identical tables, indexes, view, trigger and procedure', async () => {
    await bed.query(
      'src',
      `CREATE TABLE big (id INT PRIMARY KEY, k INT NOT NULL, s VARCHAR(20) NOT NULL, KEY k (k), KEY ks (k, s)) ENGINE=InnoDB;
       INSERT INTO big SELECT seq, seq % 97, CONCAT('s', seq) FROM seq_1_to_60000;
       INSERT INTO products VALUES (10, 'tricky ''quote'' \\\\ and ;', 99);`,
    );
    const src = bed.database('src')!;
    const { stdout } = await run(
      'mariadb-dump',
      [
        '-h',
        '127.0.0.1',
        '-P',
        String(src.status.connection!.port),
        '-u',
        src.record.user.user,
        '--routines',
        '--triggers',
        'default',
      ],
      { env: { ...process.env, MYSQL_PWD: src.record.user.password }, maxBuffer: 256 * 1024 * 1024 },
    );
    expect(stdout).toMatch(/^-- MariaDB dump/m);
    writeFileSync(path.join(bed.dumpsDir, 'copy.sql'), stdout);
    bed.writeSpec(
      'copy.yaml',
      templateObject('copy', { source: { path: 'copy.sql' } }),
      databaseObject('dst', { template: 'copy' }),
    );
    await bed.waitForDatabase('dst', 'Ready', 120_000);
    expect(readFileSync(path.join(bed.dir, 'controller.log'), 'utf8')).toContain('loading rows in parallel');

    const checksums = async (name: string) =>
      bed.query<{ Table: string; Checksum: number }>(name, 'CHECKSUM TABLE products, big, meta, audit');
    expect((await checksums('dst')).map((r) => r.Checksum)).toEqual(
      (await checksums('src')).map((r) => r.Checksum),
    );
    const indexes = await bed.query<{ Key_name: string }>('dst', 'SHOW INDEX FROM big');
    expect([...new Set(indexes.map((i) => i.Key_name))].sort()).toEqual(['PRIMARY', 'k', 'ks']);
    expect(await bed.query('dst', 'SELECT name FROM expensive WHERE name = "item-3"')).toEqual([
      { name: 'item-3' },
    ]);
    expect(await bed.query('dst', 'SELECT name FROM products WHERE id = 10')).toEqual([
      { name: "tricky 'quote' \\ and ;" },
    ]);
    await bed.query('dst', "INSERT INTO products VALUES (11, 'via trigger', 1)");
    expect(await bed.query('dst', "SELECT note FROM audit WHERE note = 'added via trigger'")).toEqual([
      { note: 'added via trigger' },
    ]);
    const rows = await bed.query<Record<string, unknown>[]>('dst', 'CALL count_products(@n); SELECT @n AS n');
    expect(rows[1]).toEqual([{ n: 5 }]); // 3 from the template, id 10 in src, id 11 here
  });
});
