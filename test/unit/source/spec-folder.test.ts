import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import type { DatabaseSpec, ObjectKey } from '../../../controller/objects/index.js';
import { SpecFolder } from '../../../controller/source/spec-folder.js';
import { loadSchemas } from '../../../controller/spec/schema.js';
import { databaseObject, specFile, templateObject } from '../../support/specs.js';
import { sleep, waitFor } from '../../support/wait.js';

const schemas = loadSchemas();

describe('SpecFolder on real files', () => {
  let dir: string;
  let folder: SpecFolder;
  let batches: ObjectKey[][];

  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  const start = async (
    options: {
      removalGraceMs?: number;
      resyncMs?: number;
      debounceMs?: number;
      maxBatchDelayMs?: number;
    } = {},
  ) => {
    folder = new SpecFolder({
      dir,
      schemas,
      log: silentLogger,
      debounceMs: 50,
      removalGraceMs: 200,
      ...options,
    });
    batches = [];
    folder.subscribe((keys) => batches.push(keys));
    await folder.start();
    batches = [];
  };
  const ttlOf = (name: string) =>
    (folder.get(`Database/${name}`)?.object.spec as DatabaseSpec | undefined)?.ttlSeconds;
  const names = () =>
    folder
      .list()
      .map((r) => r.key)
      .sort();

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'myaas-specs-'));
  });
  afterEach(async () => {
    await folder?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads nested multi-document files and ignores dotfiles and editor leftovers', async () => {
    write('a.yaml', specFile(templateObject('shop'), databaseObject('alice')));
    write('team/b.yml', specFile(databaseObject('bob')));
    for (const junk of [
      '.hidden.yaml',
      'a.yaml~',
      'a.yaml.swp',
      '#a.yaml#',
      'a.yaml.tmp',
      'notes.txt',
      '.git/c.yaml',
    ]) {
      write(junk, specFile(databaseObject('junk')));
    }
    await start();
    expect(folder.synced).toBe(true);
    expect(names()).toEqual(['Database/alice', 'Database/bob', 'Template/shop']);
    expect(folder.get('Database/bob')).toMatchObject({
      file: path.join('team', 'b.yml'),
      line: 1,
      generation: 1,
    });
  });

  it('refresh applies a file its writer names at once, without waiting for the watcher', async () => {
    // The watcher's batching far longer than the test: only refresh can make the object appear now.
    await start({ debounceMs: 60_000, maxBatchDelayMs: 60_000 });
    write('api-managed/database-alice.yaml', specFile(databaseObject('alice')));
    await folder.refresh([path.join('api-managed', 'database-alice.yaml')]);
    expect(names()).toEqual(['Database/alice']);
    expect(batches).toEqual([['Database/alice']]);
    // Reading the same unchanged file again (as the watcher's own look later does) changes nothing.
    await folder.refresh([path.join('api-managed', 'database-alice.yaml')]);
    expect(batches).toHaveLength(1);
    // Only spec files inside the folder: a touched dump (an implicit template's file) is not read.
    write('../dump.yaml', specFile(databaseObject('outside')));
    write('dump.sql', specFile(databaseObject('notaspec')));
    await folder.refresh(['../dump.yaml', path.join(path.dirname(dir), 'dump.yaml'), 'dump.sql']);
    expect(names()).toEqual(['Database/alice']);
    expect(folder.problems()).toEqual([]);
    rmSync(path.join(path.dirname(dir), 'dump.yaml'));
  });

  it('folds an editor save (write temp, rename over) into one change of one key', async () => {
    write('a.yaml', specFile(databaseObject('alice', { ttl: '1h' }), databaseObject('carol')));
    await start();
    write('.a.yaml.swp', 'x');
    write('a.yaml.tmp', specFile(databaseObject('alice', { ttl: '2h' }), databaseObject('carol')));
    renameSync(path.join(dir, 'a.yaml.tmp'), path.join(dir, 'a.yaml'));
    await waitFor('ttl change', () => ttlOf('alice') === 7200);
    await sleep(150);
    // One batch; carol rides along because its file's mtime moved (a touch), with no new generation.
    expect(batches).toEqual([['Database/alice', 'Database/carol']]);
    expect(folder.get('Database/alice')?.generation).toBe(2);
    expect(folder.get('Database/carol')?.generation).toBe(1);
  });

  it('coalesces a burst of 50 new files into few batches, one key each', async () => {
    await start();
    for (let i = 0; i < 50; i++) write(`db-${i}.yaml`, specFile(databaseObject(`db-${i}`)));
    await waitFor('50 objects', () => folder.list().length === 50);
    await sleep(150);
    const all = batches.flat();
    expect(all.length).toBe(50);
    expect(new Set(all).size).toBe(50);
    expect(batches.length).toBeLessThanOrEqual(3);
  });

  it('keeps the last good spec of every object in a file that stops validating, and reports why', async () => {
    write('a.yaml', specFile(databaseObject('alice', { ttl: '1h' }), databaseObject('bob')));
    await start();
    write('a.yaml', specFile(databaseObject('alice', { ttl: 'forever' })));
    await waitFor('problem', () => folder.problems().length > 0);
    await sleep(400);
    expect(names()).toEqual(['Database/alice', 'Database/bob']);
    expect(ttlOf('alice')).toBe(3600);
    expect(folder.problems()).toMatchObject([
      { file: 'a.yaml', line: 7, key: 'Database/alice', field: 'spec.ttl' },
    ]);
    expect(batches).toEqual([]);
    write('a.yaml', ': : :\n\t- broken yaml');
    await sleep(300);
    expect(names()).toEqual(['Database/alice', 'Database/bob']);
    write('a.yaml', specFile(databaseObject('alice', { ttl: '2h' })));
    await waitFor('fixed file applied', () => names().length === 1, 3000);
    expect(folder.problems()).toEqual([]);
    expect(ttlOf('alice')).toBe(7200);
  });

  it('removes the objects of a deleted file, after a second look', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    write('b.yaml', specFile(databaseObject('bob')));
    await start();
    rmSync(path.join(dir, 'a.yaml'));
    await sleep(120);
    expect(names()).toEqual(['Database/alice', 'Database/bob']); // still within the grace
    await waitFor('alice removed', () => !folder.get('Database/alice'));
    expect(batches.flat()).toEqual(['Database/alice']);
  });

  it('a file truncated to a valid prefix and completed within the grace removes nothing', async () => {
    write('a.yaml', specFile(databaseObject('alice'), databaseObject('bob')));
    await start();
    let bobMissing = false;
    folder.subscribe(() => {
      bobMissing ||= !folder.get('Database/bob');
    });
    write('a.yaml', specFile(databaseObject('alice')));
    await sleep(80);
    write('a.yaml', specFile(databaseObject('alice'), databaseObject('bob')));
    await sleep(500);
    expect(names()).toEqual(['Database/alice', 'Database/bob']);
    expect(bobMissing).toBe(false);
    expect(folder.get('Database/bob')?.generation).toBe(1);
  });

  it('keeps the objects of a file truncated to nothing, and removes them once it holds a comment', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    write('b.yaml', specFile(databaseObject('bob')));
    await start();
    write('a.yaml', '');
    await waitFor('problem', () => folder.problems().length > 0);
    await sleep(500); // past the removal grace
    expect(names()).toEqual(['Database/alice', 'Database/bob']);
    expect(folder.problems()).toMatchObject([
      { file: 'a.yaml', message: expect.stringContaining('file is empty, keeping its 1 object(s)') },
    ]);
    write('a.yaml', '# nothing here any more\n');
    await waitFor('alice removed', () => !folder.get('Database/alice'));
    expect(folder.problems()).toEqual([]);
  });

  it('a new empty file is no problem', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    await start();
    write('new.yaml', '');
    await sleep(300);
    expect(folder.problems()).toEqual([]);
    expect(names()).toEqual(['Database/alice']);
  });

  it('exposes a touch of a file with unchanged content through its mtime', async () => {
    write('shop.yaml', specFile(templateObject('shop')));
    await start();
    const before = folder.get('Template/shop')!;
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, 'shop.yaml'), later, later);
    await waitFor('mtime change', () => folder.get('Template/shop')!.fileMtimeMs !== before.fileMtimeMs);
    expect(folder.get('Template/shop')).toMatchObject({
      digest: before.digest,
      generation: before.generation,
    });
    expect(batches).toEqual([['Template/shop']]);
  });

  it('treats a removed specs dir as unavailable, never as everything deleted, and recovers when restored', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    write('sub/b.yaml', specFile(databaseObject('bob')));
    await start({ resyncMs: 200 });
    rmSync(dir, { recursive: true, force: true });
    await waitFor('unavailable', () => !folder.available);
    await sleep(600);
    expect(names()).toEqual(['Database/alice', 'Database/bob']);
    expect(folder.problems()[0]?.message).toContain('specs dir does not exist');
    write('a.yaml', specFile(databaseObject('alice', { ttl: 60 })));
    write('sub/b.yaml', specFile(databaseObject('bob')));
    await waitFor('available', () => folder.available, 5000);
    await waitFor('alice updated', () => ttlOf('alice') === 60, 5000);
    expect(names()).toEqual(['Database/alice', 'Database/bob']);
    // and the watcher works again after the restore
    write('c.yaml', specFile(databaseObject('carol')));
    await waitFor('carol', () => folder.get('Database/carol'), 5000);
  });

  it('notices a removed specs dir restored from a copy (a rename into place) within about a second, not at the next resync', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    await start({ resyncMs: 60_000 });
    const aside = `${dir}.aside`;
    mkdirSync(aside);
    writeFileSync(path.join(aside, 'a.yaml'), specFile(databaseObject('alice', { ttl: 60 })));
    rmSync(dir, { recursive: true });
    await waitFor('unavailable', () => !folder.available, 5000);
    await sleep(1000); // the removal's own late events are all in: nothing else will report the return
    renameSync(aside, dir);
    const back = Date.now();
    await waitFor('available', () => folder.available, 5000);
    await waitFor('alice updated', () => ttlOf('alice') === 60, 5000);
    expect(Date.now() - back).toBeLessThan(3000);
    // and the watcher works again after the restore
    write('b.yaml', specFile(databaseObject('bob')));
    await waitFor('bob', () => folder.get('Database/bob'), 5000);
  });

  it('reports a name declared in two files on both, keeps the first one seen, deletes nothing', async () => {
    write('a.yaml', specFile(databaseObject('alice', { ttl: 60 })));
    await start();
    write('b.yaml', specFile(databaseObject('alice', { ttl: 120 }), databaseObject('bob')));
    await waitFor('bob', () => folder.get('Database/bob'));
    expect(folder.get('Database/alice')).toMatchObject({
      file: 'a.yaml',
      object: { spec: { ttlSeconds: 60 } },
    });
    const conflicts = folder.problems();
    expect(conflicts.map((p) => p.file).sort()).toEqual(['a.yaml', 'b.yaml']);
    expect(conflicts[0]!.message).toContain('Database/alice is declared in a.yaml and b.yaml');
    // the first file goes: the second one's declaration takes over, no deletion in between
    rmSync(path.join(dir, 'a.yaml'));
    await waitFor('b owns alice', () => folder.get('Database/alice')?.file === 'b.yaml');
    expect(folder.get('Database/alice')?.object.spec).toMatchObject({ ttlSeconds: 120 });
    expect(folder.problems()).toEqual([]);
  });

  it('counts nothing as present before the initial scan completes', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    folder = new SpecFolder({ dir, schemas, log: silentLogger });
    expect(folder.synced).toBe(false);
    const started = folder.start();
    expect(folder.synced).toBe(false);
    await started;
    expect(folder.synced).toBe(true);
    expect(names()).toEqual(['Database/alice']);
  });
});

describe('SpecFolder across restarts: the last good objects are saved in the state dir', () => {
  let root: string;
  let dir: string;
  let stateDir: string;
  let folder: SpecFolder | undefined;

  const write = (file: string, text: string) => writeFileSync(path.join(dir, file), text);
  const start = async (options: { stateDir?: string; removalGraceMs?: number } = { stateDir }) => {
    await folder?.stop();
    folder = new SpecFolder({ dir, schemas, log: silentLogger, debounceMs: 30, ...options });
    await folder.start();
    return folder;
  };
  const names = () =>
    folder!
      .list()
      .map((r) => r.key)
      .sort();
  const ttlOf = (name: string) =>
    (folder!.get(`Database/${name}`)?.object.spec as DatabaseSpec | undefined)?.ttlSeconds;
  const saved = () => path.join(stateDir, 'last-good-specs.json');

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'myaas-lastgood-'));
    dir = path.join(root, 'specs');
    stateDir = path.join(root, 'state');
    mkdirSync(dir);
  });
  afterEach(async () => {
    await folder?.stop();
    folder = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it('a file broken, unreadable or emptied while stopped serves its saved objects at the next start, with its problem', async () => {
    write('typo.yaml', specFile(databaseObject('alice', { ttl: '1h' }), databaseObject('bob')));
    write('newer.yaml', specFile(templateObject('shop')));
    write('locked.yaml', specFile(databaseObject('carol')));
    write('cut.yaml', specFile(databaseObject('dave')));
    await start();
    const before = folder!.get('Template/shop')!;
    await folder!.stop();
    // While stopped: a typo, a field this version does not know (a downgrade), an unreadable file
    // (a symlink loop: ELOOP, which even root cannot read) and a truncation.
    write('typo.yaml', specFile(databaseObject('alice', { ttl: 'forever' }), databaseObject('bob')));
    write('newer.yaml', specFile(templateObject('shop', { compression: 'zstd' })));
    rmSync(path.join(dir, 'locked.yaml'));
    symlinkSync('locked.yaml', path.join(dir, 'locked.yaml'));
    write('cut.yaml', '');
    const later = new Date(Date.now() + 5000);
    utimesSync(path.join(dir, 'newer.yaml'), later, later);
    await start();
    expect(names()).toEqual([
      'Database/alice',
      'Database/bob',
      'Database/carol',
      'Database/dave',
      'Template/shop',
    ]);
    expect(ttlOf('alice')).toBe(3600);
    // The saved object as it was, mtime included: a broken template file does not ask for a reimport.
    expect(folder!.get('Template/shop')).toMatchObject({
      file: 'newer.yaml',
      digest: before.digest,
      fileMtimeMs: before.fileMtimeMs,
    });
    expect(new Set(folder!.problems().map((p) => p.file))).toEqual(
      new Set(['typo.yaml', 'newer.yaml', 'locked.yaml', 'cut.yaml']),
    );
    expect(folder!.absenceTrusted('Database/zed')).toBe(true);
    // Fixed: the file's objects follow it again, the removal it makes included.
    write('typo.yaml', specFile(databaseObject('alice', { ttl: '2h' })));
    await waitFor('typo.yaml fixed', () => ttlOf('alice') === 7200 && !folder!.get('Database/bob'), 5000);
  });

  it('a file gone while stopped (ENOENT) is absent at the next start; its objects are not served', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    write('b.yaml', specFile(databaseObject('bob')));
    await start();
    await folder!.stop();
    rmSync(path.join(dir, 'a.yaml'));
    await start();
    expect(names()).toEqual(['Database/bob']);
    expect(folder!.problems()).toEqual([]);
  });

  it('serves the saved objects while the specs dir is missing at start', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    await start();
    await folder!.stop();
    renameSync(dir, `${dir}.away`);
    await start();
    expect(folder!.available).toBe(false);
    expect(names()).toEqual(['Database/alice']);
    expect(folder!.absenceTrusted('Database/alice')).toBe(false);
  });

  it('without saved objects, a file with problems at start holds back every absence until it is fixed', async () => {
    write('a.yaml', specFile(databaseObject('alice', { ttl: 'forever' })));
    write('b.yaml', specFile(databaseObject('bob')));
    await start();
    expect(names()).toEqual(['Database/bob']);
    expect(folder!.absenceTrusted('Database/carol')).toBe(false);
    expect(folder!.problems().map((p) => p.message)).toContainEqual(
      expect.stringContaining('its objects before this start are unknown'),
    );
    write('a.yaml', specFile(databaseObject('alice')));
    await waitFor('alice', () => folder!.get('Database/alice'), 5000);
    expect(folder!.absenceTrusted('Database/carol')).toBe(true);
    expect(folder!.problems()).toEqual([]);
  });

  it('a corrupt save is ignored (objects of broken files unknown), then written again', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    mkdirSync(stateDir);
    writeFileSync(saved(), '{"version": 1, "fil');
    write('b.yaml', ': : broken');
    await start();
    expect(folder!.absenceTrusted('Database/x')).toBe(false);
    expect(JSON.parse(readFileSync(saved(), 'utf8')).files.map((f: { file: string }) => f.file)).toEqual([
      'a.yaml',
    ]);
  });

  it('writes the save only when good objects change, never for a problem', async () => {
    write('a.yaml', specFile(databaseObject('alice', { ttl: '1h' })));
    await start();
    const first = statSync(saved());
    write('a.yaml', specFile(databaseObject('alice', { ttl: 'forever' })));
    await waitFor('problem', () => folder!.problems().length > 0, 5000);
    await folder!.resync();
    expect(statSync(saved()).ino).toBe(first.ino);
    write('a.yaml', specFile(databaseObject('alice', { ttl: '2h' })));
    await waitFor('fixed', () => ttlOf('alice') === 7200, 5000);
    expect(statSync(saved()).ino).not.toBe(first.ino);
    expect(readFileSync(saved(), 'utf8')).toContain('"ttlSeconds":7200');
  });

  it('a save that failed is written at the next scan, even when no file changed since', async () => {
    write('a.yaml', specFile(databaseObject('alice', { ttl: '1h' })));
    await start();
    // The save's path taken by a non-empty dir: the atomic rename onto it fails.
    rmSync(saved());
    mkdirSync(path.join(saved(), 'x'), { recursive: true });
    write('a.yaml', specFile(databaseObject('alice', { ttl: '2h' })));
    await waitFor('changed', () => ttlOf('alice') === 7200, 5000);
    await folder!.resync();
    expect(statSync(saved()).isDirectory()).toBe(true);
    rmSync(saved(), { recursive: true });
    await folder!.resync(); // nothing changed in the folder: only the owed save
    expect(readFileSync(saved(), 'utf8')).toContain('"ttlSeconds":7200');
  });

  it('keeps nothing without a state dir: a file broken at start holds no objects and blocks nothing', async () => {
    write('a.yaml', specFile(databaseObject('alice', { ttl: 'forever' })));
    await start({});
    expect(names()).toEqual([]);
    expect(folder!.absenceTrusted('Database/alice')).toBe(true);
  });

  it('a deliberate removal (the API deleting its file) applies at once; any other waits for the second look', async () => {
    write('a.yaml', specFile(databaseObject('alice')));
    write('b.yaml', specFile(databaseObject('bob')));
    await start({ removalGraceMs: 60_000 });
    rmSync(path.join(dir, 'a.yaml'));
    await folder!.refresh(['a.yaml']);
    expect(names()).toEqual(['Database/alice', 'Database/bob']);
    rmSync(path.join(dir, 'b.yaml'));
    await folder!.refresh(['b.yaml'], { removed: true });
    expect(names()).toEqual(['Database/alice']);
    // `removed` for a file that is still there is an ordinary look: nothing goes.
    write('c.yaml', specFile(databaseObject('carol'), databaseObject('dan')));
    await folder!.refresh(['c.yaml']);
    write('c.yaml', specFile(databaseObject('carol')));
    await folder!.refresh(['c.yaml'], { removed: true });
    expect(folder!.get('Database/dan')).toBeDefined();
  });
});
