import { chmodSync, copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POSTGRES } from '../../support/flavors.js';
import { dumpArchive } from '../../support/pg-dump.js';
import { databaseObject, templateObject } from '../../support/specs.js';
import { type Pair, TestBed } from '../../support/testbed.js';

/**
 * Custom-format archives (pg_dump -Fc) on one runtime: read from the file by pg_restore --jobs (the
 * bed's --import-jobs 2), then, after a restart with --import-jobs 1, streamed into one pg_restore.
 */
export function describeArchiveImports(pair: Pair): void {
  describe(`postgres custom-format dumps through pg_restore on ${pair.runtime} + ${pair.storage}`, () => {
    const bed = new TestBed(`pg-archive-${pair.runtime}`, { pair });

    beforeAll(async () => {
      bed.writeDump('shop.sql', POSTGRES.shopDump(3, 'v1'));
      bed.writeSpec(
        'shop.yaml',
        templateObject('shop', { engine: 'postgres', source: { path: 'shop.sql' } }),
      );
      bed.writeSpec('src.yaml', databaseObject('src'));
      await bed.spawn();
      await bed.waitForDatabase('src', 'Ready', 180_000);
      await bed.query('src', "INSERT INTO products VALUES (7, 'archived', 70)");
      dumpArchive(bed, 'src', path.join(bed.dumpsDir, 'archive.dump'));
    });
    afterAll(async () => {
      await bed.destroy();
    });

    /** Declares a template of `dump` and waits for its import to fail. */
    async function failedImport(template: string, dump: string) {
      bed.writeSpec(
        `${template}.yaml`,
        templateObject(template, { engine: 'postgres', source: { path: dump } }),
      );
      return bed.waitForTemplate(template, (s) => s.lastImport?.result === 'Failed', 'failed', 120_000);
    }

    /** Declares a template of archive.dump and checks what its clones hold. */
    async function importAndCheck(template: string, jobs: number, dump = 'archive.dump'): Promise<void> {
      bed.writeSpec(
        `${template}.yaml`,
        templateObject(template, { engine: 'postgres', source: { path: dump } }),
      );
      const t = await bed.waitForTemplate(template, (s) => s.phase === 'Ready', 'Ready', 180_000);
      expect(t.status.lastImport!.jobs).toBe(jobs);
      const clone = `from-${template}`;
      bed.writeSpec(`${clone}.yaml`, databaseObject(clone, { template }));
      await bed.waitForDatabase(clone, 'Ready');
      expect(await bed.query(clone, 'SELECT name FROM expensive ORDER BY name')).toEqual([
        { name: 'archived' },
        { name: 'item-2' },
        { name: 'item-3' },
      ]);
      await bed.query(clone, "INSERT INTO products VALUES (8, 'after', 1)");
      expect(await bed.query(clone, "SELECT note FROM audit WHERE note = 'added after'")).toEqual([
        { note: 'added after' },
      ]);
      expect(await POSTGRES.countProducts(bed, clone)).toBe(5);
    }

    it('an archive is read from its file by parallel pg_restore jobs; its clones have its tables, view, trigger and function', async () => {
      await importAndCheck('archive', 2);
      // Progress counted the archive's items as pg_restore finished them: all of those it listed.
      const lines = readFileSync(path.join(bed.dir, 'controller.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"template":"archive"'))
        .map(
          (l) =>
            JSON.parse(l) as {
              msg: string;
              jobs?: number;
              itemsDone?: number;
              itemsTotal?: number;
              unreported?: string[];
            },
        );
      expect(lines.find((l) => l.msg === 'loading the dump from its file in parallel')?.jobs).toBe(2);
      const items = lines.find((l) => l.msg === 'dump items loaded');
      // products, meta and audit: their data and their primary keys at least.
      expect(items?.itemsTotal).toBeGreaterThanOrEqual(6);
      expect(items).toMatchObject({ itemsDone: items?.itemsTotal, unreported: [] });
    });

    it('a broken archive fails the import with pg_restore saying why, and keeps nothing', async () => {
      bed.writeDump('broken.dump', 'PGDMP this is not an archive');
      const t = await failedImport('broken', 'broken.dump');
      expect(t.status.lastImport!.error).toMatch(/^pg_restore exited with \d+: pg_restore: error: /);
      expect(t.status.currentVersion).toBeUndefined();
      expect((await bed.servers()).filter((s) => s.role === 'Import')).toEqual([]);
    });

    it('a plain dump with an SQL error fails with the dump line', async () => {
      bed.writeDump(
        'bad.sql',
        'CREATE TABLE ok (id int);\nINSERT INTO ok VALUES (1);\nINSERT INTO missing VALUES (1);\n',
      );
      const t = await failedImport('bad', 'bad.sql');
      expect(t.status.lastImport!.error).toMatch(/relation "missing" does not exist/);
      expect(t.status.lastImport!.errorLine).toBe(3);
    });

    // The import's clients never run as root: in the container as its user, on the host as the
    // server's OS user when the controller is root. A 0600 file of root's is theirs to read only
    // when the controller runs as that same user.
    const asRoot = process.getuid?.() === 0;
    it(`an archive the import server's programs cannot read themselves is streamed to them (${pair.runtime === 'docker' ? 'docker: a 0600 file is not readable by the container user' : asRoot ? "process as root: nor by the server's user, which the clients run as" : 'process: the clients run as the controller, which reads it'})`, async () => {
      copyFileSync(path.join(bed.dumpsDir, 'archive.dump'), path.join(bed.dumpsDir, 'private.dump'));
      chmodSync(path.join(bed.dumpsDir, 'private.dump'), 0o600);
      await importAndCheck('private', pair.runtime === 'docker' || asRoot ? 1 : 2, 'private.dump');
    });

    it('with --import-jobs 1 an archive streams into one pg_restore, same result; a broken one still says why', async () => {
      await bed.stop();
      bed.config = { ...bed.config, importJobs: 1 };
      await bed.spawn();
      await importAndCheck('streamed', 1);
      const t = await failedImport('broken2', 'broken.dump');
      expect(t.status.lastImport!.error).toMatch(/^pg_restore exited with \d+: .*pg_restore/s);
      expect((await bed.servers()).filter((s) => s.role === 'Import')).toEqual([]);
    });
  });
}
