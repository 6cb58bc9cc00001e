import { existsSync, readdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokenDump, shopDump } from '../support/dumps.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

const versionsOf = (bed: TestBed, name: string) =>
  existsSync(path.join(bed.dataDir, 'templates', name))
    ? readdirSync(path.join(bed.dataDir, 'templates', name))
        .filter((e) => !e.endsWith('.json'))
        .sort()
    : [];

describe('template imports on docker + btrfs', () => {
  const bed = new TestBed('templates', { config: { versionsToKeep: 2 } });

  beforeAll(async () => {
    bed.declareShop();
    await bed.start();
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('a changed dump gives a new version that new databases see while old ones keep their data', async () => {
    bed.writeSpec('old.yaml', databaseObject('old'));
    await bed.waitForDatabase('old', 'Ready');
    const v1 = bed.template('shop')!.status.currentVersion!;
    await sleep(20); // a different mtime even on coarse clocks
    bed.writeDump('shop.sql', shopDump(5, 'v2'));
    const t = await bed.waitForTemplate(
      'shop',
      (s) => s.phase === 'Ready' && s.currentVersion !== v1,
      'new version',
    );
    expect(t.status.versions).toHaveLength(2);
    bed.writeSpec('new.yaml', databaseObject('new'));
    await bed.waitForDatabase('new', 'Ready');
    expect(await bed.query('new', 'SELECT v FROM meta')).toEqual([{ v: 'v2' }]);
    expect(await bed.query('old', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
    expect(bed.database('old')!.status.templateVersion).toBe(v1);
  });

  it('a touch of the spec file with identical content reimports, and only the newest versions are kept', async () => {
    const before = bed.template('shop')!.status.currentVersion!;
    const future = new Date(Date.now() + 1000);
    utimesSync(path.join(bed.specsDir, 'shop.yaml'), future, future);
    const t = await bed.waitForTemplate(
      'shop',
      (s) => s.phase === 'Ready' && s.currentVersion !== before,
      'reimport after touch',
    );
    expect(t.status.lastImport?.result).toBe('Succeeded');
    await waitFor('pruned to 2', () => versionsOf(bed, 'shop').length === 2, 20_000);
    expect(versionsOf(bed, 'shop')).toContain(t.status.currentVersion);
    // The oldest version went, yet the database cloned from it still serves its data.
    expect(await bed.query('old', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
  });

  it('a controller restart alone does not reimport', async () => {
    const before = bed.template('shop')!.status.currentVersion;
    await bed.stop();
    await bed.start();
    await sleep(3000);
    expect(bed.template('shop')!.status.currentVersion).toBe(before);
    expect(bed.template('shop')!.status.phase).toBe('Ready');
  });

  it('a broken dump leaves the previous version serving and reports the SQL error with its line', async () => {
    const good = bed.template('shop')!.status.currentVersion;
    bed.writeDump('shop.sql', brokenDump);
    const t = await bed.waitForTemplate('shop', (s) => s.lastImport?.result === 'Failed', 'failed import');
    expect(t.status.phase).toBe('Ready');
    expect(t.status.currentVersion).toBe(good);
    expect(t.status.lastImport?.error).toMatch(/ERROR 1146.*missing_table/);
    expect(t.status.lastImport?.errorLine).toBe(3);
    expect(t.status.conditions.find((c) => c.type === 'Importing')?.reason).toBe('ImportFailed');
    expect(readdirSync(path.join(bed.dataDir, 'work'))).toEqual([]);
    expect((await bed.containers()).filter((c) => c.Labels['myaas.dev/kind'] === 'Import')).toEqual([]);
    bed.writeSpec('after.yaml', databaseObject('after'));
    await bed.waitForDatabase('after', 'Ready');
    expect(await bed.query('after', 'SELECT v FROM meta')).toEqual([{ v: 'v2' }]);
    // Not retried in a tight loop: the same broken dump waits out a backoff.
    const attempts = bed.template('shop')!.record.lastAttempt!;
    await sleep(4000);
    expect(bed.template('shop')!.record.lastAttempt!.startedAt).toBe(attempts.startedAt);
    // The next trigger retries at once.
    bed.writeDump('shop.sql', shopDump(2, 'v3'));
    await bed.waitForTemplate(
      'shop',
      (s) => s.lastImport?.result === 'Succeeded' && s.currentVersion !== good,
      'fixed dump',
    );
  });

  it('refuses a dump path that leaves the dumps dir, also through a symlink', async () => {
    writeFileSync(path.join(bed.dir, 'outside.sql'), shopDump(1));
    symlinkSync(path.join(bed.dir, 'outside.sql'), path.join(bed.dumpsDir, 'link.sql'));
    bed.writeSpec('escape.yaml', templateObject('escape', { source: { path: 'link.sql' } }));
    const t = await bed.waitForTemplate('escape', (s) => s.phase === 'Failed', 'refused');
    expect(t.status.message).toMatch(/outside the dumps dir/);
    expect(versionsOf(bed, 'escape')).toEqual([]);
    bed.writeSpec('escape.yaml', templateObject('escape', { source: { path: '../outside.sql' } }));
    await waitFor('spec refused', () =>
      bed
        .running!.desired.problems()
        .some((p) => p.field === 'spec.source.path' && p.message.includes('leaves the dumps dir')),
    );
    bed.removeSpec('escape.yaml');
  });
});

describe('a replaced dump is noticed at once (issue 17)', () => {
  // No resync to fall back on: only the watch of the dumps dir can notice the change in time.
  const bed = new TestBed('dump-notice', { config: { resyncSeconds: 600 } });

  beforeAll(async () => {
    bed.declareShop();
    await bed.start();
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('a dump replaced by a rename starts its import within about a second, with no other event, and the next database gets the new data', async () => {
    const v1 = bed.template('shop')!.status.currentVersion!;
    // As a release script replaces a dump: written aside (ignored dotfile), renamed over the named one.
    writeFileSync(path.join(bed.dumpsDir, '.shop.sql.new'), shopDump(4, 'v2'));
    renameSync(path.join(bed.dumpsDir, '.shop.sql.new'), path.join(bed.dumpsDir, 'shop.sql'));
    // Before this change a fresh dump waited 2 s (DUMP_SETTLE_MS) before its import could start:
    // 1.5 s is generous for the watcher's 200 ms quiet + the 0.5 s settle, and fails the old wait.
    const started = await bed.waitForTemplate(
      'shop',
      (s) => s.lastImport !== undefined && s.lastImport.version !== v1,
      'import of the replaced dump started',
      1500,
    );
    const v2 = started.status.lastImport!.version;
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready' && s.currentVersion === v2, 'new version');
    bed.writeSpec('after.yaml', databaseObject('after'));
    await bed.waitForDatabase('after', 'Ready');
    expect(bed.database('after')!.status.templateVersion).toBe(v2);
    expect(await bed.query('after', 'SELECT v FROM meta')).toEqual([{ v: 'v2' }]);
  });
});

describe('removing a template spec', () => {
  const bed = new TestBed('template-removal');
  afterAll(async () => {
    await bed.destroy();
  });

  it('removes its versions while databases cloned from it keep running', async () => {
    bed.writeDump('gone.sql', shopDump(2, 'gone'));
    bed.writeSpec('gone.yaml', templateObject('gone', { source: { path: 'gone.sql' } }));
    bed.writeSpec('keeper.yaml', databaseObject('keeper', { template: 'gone' }));
    await bed.start();
    await bed.waitForDatabase('keeper', 'Ready');
    expect(versionsOf(bed, 'gone')).toHaveLength(1);
    bed.removeSpec('gone.yaml');
    await waitFor(
      'versions removed',
      () => !existsSync(path.join(bed.dataDir, 'templates', 'gone')) && !bed.template('gone'),
      30_000,
    );
    expect(await bed.query('keeper', 'SELECT v FROM meta')).toEqual([{ v: 'gone' }]);
    expect(bed.database('keeper')?.status.phase).toBe('Ready');
    // A new database of the removed template waits in Pending, saying the template does not exist.
    bed.writeSpec('late.yaml', databaseObject('late', { template: 'gone' }));
    const late = await bed.waitForDatabase('late', 'Pending');
    expect(late.status.message).toContain('template "gone" does not exist');
  });
});

describe('imports interrupted by kill -9 of the controller', () => {
  const bed = new TestBed('import-kill');

  afterAll(async () => {
    await bed.destroy();
  });

  it('restart removes the partial work and imports again', async () => {
    bed.writeDump('slow.sql', `${shopDump(2, 'slow')}\nDO SLEEP(6);\n`);
    bed.writeSpec('slow.yaml', templateObject('slow', { source: { path: 'slow.sql' } }));
    await bed.spawn();
    await bed.waitForTemplate('slow', (s) => s.phase === 'Importing', 'Importing');
    const interrupted = bed.template('slow')!.status.lastImport!.version;
    // Killed while the dump loads: its work volume exists, its import server runs.
    await waitFor('loading', () => existsSync(path.join(bed.dataDir, 'work', `slow@${interrupted}`)), 60_000);
    await waitFor(
      'import server up',
      async () => (await bed.containers()).some((c) => c.Labels['myaas.dev/kind'] === 'Import'),
      60_000,
    );
    await sleep(1000);
    await bed.kill9();
    expect(readdirSync(path.join(bed.dataDir, 'work'))).toEqual([`slow@${interrupted}`]);
    await bed.spawn();
    const t = await bed.waitForTemplate('slow', (s) => s.phase === 'Ready', 'Ready after restart', 180_000);
    expect(t.status.currentVersion).not.toBe(interrupted);
    expect(readdirSync(path.join(bed.dataDir, 'work'))).toEqual([]);
    expect((await bed.containers()).filter((c) => c.Labels['myaas.dev/kind'] === 'Import')).toEqual([]);
    expect(versionsOf(bed, 'slow')).toEqual([t.status.currentVersion]);
    expect(readdirSync(path.join(bed.dataDir, 'cache')).filter((e) => e.includes('building'))).toEqual([]);
  });
});
