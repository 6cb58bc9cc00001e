import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import type { EngineName, ObjectKey } from '../../../controller/objects/index.js';
import { CombinedDesiredState } from '../../../controller/source/desired-state.js';
import { DumpsFolder } from '../../../controller/source/dumps-folder.js';
import { SpecFolder } from '../../../controller/source/spec-folder.js';
import { loadSchemas } from '../../../controller/spec/schema.js';
import { specFile, templateObject } from '../../support/specs.js';
import { sleep, waitFor } from '../../support/wait.js';

describe('implicit templates from the dumps dir', () => {
  let dir: string;
  let specs: SpecFolder;
  let dumps: DumpsFolder;
  let desired: CombinedDesiredState;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'myaas-dumps-'));
    mkdirSync(path.join(dir, 'specs'));
    mkdirSync(path.join(dir, 'dumps'));
  });
  afterEach(async () => {
    await specs?.stop();
    await dumps?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (implicitEngine?: EngineName, stateDir?: string) => {
    specs = new SpecFolder({
      dir: path.join(dir, 'specs'),
      schemas: loadSchemas(),
      log: silentLogger,
      debounceMs: 30,
      ...(stateDir ? { stateDir } : {}),
    });
    dumps = new DumpsFolder({
      dir: path.join(dir, 'dumps'),
      log: silentLogger,
      implicitTemplates: true,
      ...(implicitEngine ? { implicitEngine } : {}),
      ...(stateDir ? { stateDir } : {}),
    });
    await dumps.start();
    await specs.start();
    desired = new CombinedDesiredState(specs, dumps);
  };

  it('makes a template of every unclaimed dump, keeps the seed name, and reports bad names', async () => {
    for (const f of [
      'test_db.sql',
      'shop.sql.gz',
      'claimed.sql',
      'bad name!.sql',
      '.hidden.sql',
      'notes.txt',
    ]) {
      writeFileSync(path.join(dir, 'dumps', f), 'select 1;');
    }
    writeFileSync(
      path.join(dir, 'specs', 'mine.yaml'),
      specFile(templateObject('mine', { source: { path: 'claimed.sql' } })),
    );
    await start();
    expect(
      desired
        .list('Template')
        .map((r) => r.key)
        .sort(),
    ).toEqual(['Template/mine', 'Template/shop', 'Template/test-db']);
    expect(desired.get('Template/test-db')?.object.metadata.annotations['myaas.dev/seed-name']).toBe(
      'test_db',
    );
    expect(desired.problems().map((p) => p.message)).toEqual([
      expect.stringContaining('`bad name!` (from the file name) is not a valid template name'),
    ]);
  });

  it("a template's post-import scripts are not dumps of their own, and a changed script asks for its template", async () => {
    writeFileSync(path.join(dir, 'dumps', 'shop.sql'), 'select 1;');
    writeFileSync(path.join(dir, 'dumps', 'mask.sql'), 'update t set x = 1;');
    writeFileSync(
      path.join(dir, 'specs', 'masked.yaml'),
      specFile(
        templateObject('masked', { source: { path: 'shop.sql' }, import: { steps: [{ path: 'mask.sql' }] } }),
      ),
    );
    await start();
    expect(
      desired
        .list('Template')
        .map((r) => r.key)
        .sort(),
    ).toEqual(['Template/masked']);
    const seen: ObjectKey[] = [];
    desired.subscribe((keys) => seen.push(...keys));
    writeFileSync(path.join(dir, 'dumps', 'mask.sql'), 'update t set x = 2;');
    await waitFor('template masked asked for', () => seen.includes('Template/masked'), 5000);
  });

  it('implicit templates are MariaDB unless configured otherwise', async () => {
    writeFileSync(path.join(dir, 'dumps', 'a.sql'), 'select 1;');
    await start();
    expect((desired.get('Template/a')?.object.spec as { engine: string }).engine).toBe('mariadb');
    await dumps.stop();
    await specs.stop();
    await start('postgres');
    expect((desired.get('Template/a')?.object.spec as { engine: string }).engine).toBe('postgres');
  });

  it('a changed dump asks for a reconcile of the templates made from it', async () => {
    writeFileSync(path.join(dir, 'dumps', 'a.sql'), 'select 1;');
    writeFileSync(
      path.join(dir, 'specs', 'b.yaml'),
      specFile(templateObject('b', { source: { path: 'a.sql' } })),
    );
    await start();
    const seen: ObjectKey[] = [];
    desired.subscribe((keys) => seen.push(...keys));
    writeFileSync(path.join(dir, 'dumps', 'a.sql'), 'select 2;');
    await waitFor('template b asked for', () => seen.includes('Template/b'), 5000);
  });

  it('a named dump replaced by a rename, or rewritten behind a link, asks for its template within a second', async () => {
    mkdirSync(path.join(dir, 'dumps', 'releases'));
    writeFileSync(path.join(dir, 'dumps', 'a.sql'), 'select 1;');
    writeFileSync(path.join(dir, 'dumps', 'releases', 'c-1.sql'), 'select 1;');
    symlinkSync('releases/c-1.sql', path.join(dir, 'dumps', 'c.sql'));
    writeFileSync(
      path.join(dir, 'specs', 'b.yaml'),
      specFile(
        templateObject('b', { source: { path: 'a.sql' } }),
        templateObject('c', { source: { path: 'c.sql' } }),
      ),
    );
    await start();
    const seen: ObjectKey[] = [];
    desired.subscribe((keys) => seen.push(...keys));
    // As a release script replaces a dump: written aside, renamed over it.
    writeFileSync(path.join(dir, 'dumps', '.a.sql.new'), 'select 2;');
    renameSync(path.join(dir, 'dumps', '.a.sql.new'), path.join(dir, 'dumps', 'a.sql'));
    await waitFor('template b asked for', () => seen.includes('Template/b'), 1000, 10);
    expect(seen).not.toContain('Template/c');
    // The file the link points to, rewritten: the event names releases/c-1.sql, not c.sql.
    writeFileSync(path.join(dir, 'dumps', 'releases', 'c-1.sql'), 'select 2;');
    await waitFor('template c asked for', () => seen.includes('Template/c'), 1000, 10);
  });

  const restart = async () => {
    await specs.stop();
    await dumps.stop();
    await start(undefined, path.join(dir, 'state'));
  };
  const templates = () =>
    desired
      .list('Template')
      .map((r) => r.key)
      .sort();

  it('a dumps dir missing, or empty where it held dumps, at start is unavailable: its implicit templates stay, no template counts as absent', async () => {
    writeFileSync(path.join(dir, 'dumps', 'test_db.sql'), 'select 1;');
    writeFileSync(path.join(dir, 'dumps', 'shop.sql.gz'), 'select 1;');
    await start(undefined, path.join(dir, 'state'));
    expect(desired.absenceTrusted('Template/gone')).toBe(true);
    // Stopped, the share goes away (renamed: missing), then the controller starts.
    renameSync(path.join(dir, 'dumps'), path.join(dir, 'dumps.away'));
    await restart();
    expect(dumps.available).toBe(false);
    expect(templates()).toEqual(['Template/shop', 'Template/test-db']);
    expect(desired.get('Template/test-db')?.object.metadata.annotations['myaas.dev/seed-name']).toBe(
      'test_db',
    );
    expect(desired.absenceTrusted('Template/test-db')).toBe(false);
    expect(desired.absenceTrusted('Template/other')).toBe(false);
    expect(desired.absenceTrusted('Database/x')).toBe(true);
    expect(desired.problems().map((p) => p.message)).toEqual([
      expect.stringContaining('dumps dir does not exist'),
    ]);
    // An empty mount point where the share was: still unavailable, across a restart too.
    mkdirSync(path.join(dir, 'dumps'));
    await dumps.scan();
    expect(dumps.available).toBe(false);
    await restart();
    expect(dumps.available).toBe(false);
    expect(templates()).toEqual(['Template/shop', 'Template/test-db']);
    expect(desired.problems().map((p) => p.message)).toEqual([
      expect.stringContaining('dumps dir is empty but held 2 dump(s)'),
    ]);
    // The share is back.
    rmSync(path.join(dir, 'dumps'), { recursive: true });
    renameSync(path.join(dir, 'dumps.away'), path.join(dir, 'dumps'));
    await dumps.scan();
    expect(dumps.available).toBe(true);
    expect(desired.absenceTrusted('Template/test-db')).toBe(true);
    expect(desired.problems()).toEqual([]);
    expect(templates()).toEqual(['Template/shop', 'Template/test-db']);
  });

  it('a dumps dir removed while running and put back (a rename into place) is available again within about a second, without a scan asked for', async () => {
    writeFileSync(path.join(dir, 'dumps', 'shop.sql'), 'select 1;');
    await start();
    renameSync(path.join(dir, 'dumps'), path.join(dir, 'dumps.away'));
    await dumps.scan();
    expect(dumps.available).toBe(false);
    await sleep(500); // the removal's own late events are all in: nothing else will report the return
    renameSync(path.join(dir, 'dumps.away'), path.join(dir, 'dumps'));
    const back = Date.now();
    await waitFor('dumps dir available', () => dumps.available, 5000);
    expect(Date.now() - back).toBeLessThan(3000);
    expect(templates()).toEqual(['Template/shop']);
  });

  it('one dump gone from a dir that is fine is absent; the last one goes only when the dir holds another file', async () => {
    writeFileSync(path.join(dir, 'dumps', 'a.sql'), 'select 1;');
    writeFileSync(path.join(dir, 'dumps', 'b.sql'), 'select 1;');
    await start(undefined, path.join(dir, 'state'));
    rmSync(path.join(dir, 'dumps', 'a.sql'));
    await dumps.scan();
    expect(templates()).toEqual(['Template/b']);
    expect(desired.absenceTrusted('Template/a')).toBe(true);
    rmSync(path.join(dir, 'dumps', 'b.sql'));
    await dumps.scan();
    expect(templates()).toEqual(['Template/b']);
    expect(dumps.available).toBe(false);
    writeFileSync(path.join(dir, 'dumps', '.keep'), '');
    await dumps.scan();
    expect(dumps.available).toBe(true);
    expect(templates()).toEqual([]);
  });
});
