import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callApi } from '../support/api.js';
import { shopDump } from '../support/dumps.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Issue 13, the sources' side (docker + btrfs, real controllers spawned from the built CLI): a spec
 * file broken while the controller is down, a dumps dir gone at start, an implicit template claimed by
 * a Template spec, and two controllers on one data dir.
 */

const MAIN = path.resolve(import.meta.dirname, '../../dist/controller/main.js');

/** The API ports the bed's controllers announced, in order (from its log). */
function apiPorts(bed: TestBed): number[] {
  const log = path.join(bed.dir, 'controller.log');
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"API listening"'))
    .map((line) => (JSON.parse(line) as { port: number }).port);
}

/** Spawns the bed's controller; resolves with its API's base URL once it listens (its first pass started). */
async function spawnApi(bed: TestBed): Promise<string> {
  const before = apiPorts(bed).length;
  await bed.spawn();
  const port = await waitFor('the controller API listening', () => apiPorts(bed)[before], 120_000, 100);
  return `http://127.0.0.1:${port}`;
}

const call = (base: string, method: string, route: string, body?: unknown) =>
  callApi(base, method, route, body);

type Problem = { file: string; message: string };
const problems = async (base: string) =>
  (await call(base, 'GET', '/api/v1/problems')).body.items as Problem[];

/** Running containers of a database, by id. */
const containerIds = async (bed: TestBed, name: string) =>
  (await bed.containers())
    .filter((c) => c.Labels['myaas.dev/name'] === name && c.State === 'running')
    .map((c) => c.Id);

const writeOwnRow = (bed: TestBed, name: string) =>
  bed.query(name, `INSERT INTO audit (note) VALUES ('own-${name}')`);
const ownRows = async (bed: TestBed, name: string) =>
  (await bed.query<{ note: string }>(name, `SELECT note FROM audit WHERE note = 'own-${name}'`)).length;

describe('a spec file broken while the controller is down; one controller per data dir', () => {
  const bed = new TestBed('lastgood');
  const names = ['typo', 'newer', 'locked'];
  const lockFile = () => path.join(bed.dataDir, 'controller.lock');
  let base: string;
  const ids = new Map<string, string[]>();

  beforeAll(async () => {
    bed.declareShop();
    for (const n of names) bed.writeSpec(`${n}.yaml`, databaseObject(n, { ttl: '1h' }));
    base = await spawnApi(bed);
    for (const n of names) await bed.waitForDatabase(n, 'Ready');
    for (const n of names) {
      await writeOwnRow(bed, n);
      ids.set(n, await containerIds(bed, n));
    }
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('serves the files’ last good objects at the next start: same containers, same data, the problems shown', async () => {
    await bed.stop();
    expect(existsSync(lockFile())).toBe(false); // released on a clean shutdown
    // While it is down: a ttl typo, a field this version does not know (as after a downgrade), and a
    // file that cannot be read (a symlink loop: ELOOP, whoever reads it).
    bed.writeSpec('typo.yaml', databaseObject('typo', { ttl: '1hh' }));
    bed.writeSpec('newer.yaml', databaseObject('newer', { ttl: '1h', color: 'blue' }));
    rmSync(path.join(bed.specsDir, 'locked.yaml'));
    symlinkSync('locked.yaml', path.join(bed.specsDir, 'locked.yaml'));
    base = await spawnApi(bed);
    // Past the removal grace (1 s) and a resync (5 s): an orphan would be in the trash by now.
    await sleep(8000);
    for (const n of names) {
      expect(bed.database(n)?.status.phase).toBe('Ready');
      expect(await containerIds(bed, n)).toEqual(ids.get(n));
      expect(await ownRows(bed, n)).toBe(1);
    }
    const typo = await call(base, 'GET', '/api/v1/databases/typo');
    expect(typo).toMatchObject({ status: 200, body: { spec: { ttl: '1h' } } });
    const files = new Set((await problems(base)).map((p) => p.file));
    for (const n of names) expect(files).toContain(`${n}.yaml`);
    // Fixed: no problem left, nothing changed for the databases.
    bed.writeSpec('typo.yaml', databaseObject('typo', { ttl: '1h' }));
    bed.writeSpec('newer.yaml', databaseObject('newer', { ttl: '1h' }));
    rmSync(path.join(bed.specsDir, 'locked.yaml'));
    bed.writeSpec('locked.yaml', databaseObject('locked', { ttl: '1h' }));
    await waitFor('no problems', async () => (await problems(base)).length === 0, 30_000);
    for (const n of names) expect(await containerIds(bed, n)).toEqual(ids.get(n));
  });

  it('a second controller on the same data dir refuses to start, naming the first; after a kill -9 the next takes the stale lock', async () => {
    const first = bed.child!.pid!;
    const second = spawn(
      process.execPath,
      [
        MAIN,
        'controller',
        ...['--specs', bed.specsDir, '--dumps', bed.dumpsDir, '--data', bed.dataDir],
        ...['--runtime', 'docker', '--storage', 'btrfs', '--image', bed.config.image],
        ...['--no-implicit-templates', '--listen', '127.0.0.1:0'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    second.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    second.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => second.once('exit', (code) => resolve(code)));
    const code = await Promise.race([exited, sleep(30_000).then(() => 'still running' as const)]);
    if (code === 'still running') {
      second.kill('SIGTERM');
      await exited;
    }
    expect(code).toBe(2);
    expect(output).toContain(`another controller uses data dir ${bed.dataDir}: pid ${first}, running since `);
    expect(output).toContain('stop that one first');
    // The first one is untouched and still holds the lock.
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: first });
    expect((await call(base, 'GET', '/readyz')).status).toBe(200);

    await bed.kill9();
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: first });
    base = await spawnApi(bed);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: bed.child!.pid });
    expect(readFileSync(path.join(bed.dir, 'controller.log'), 'utf8')).toContain(
      `stale controller lock taken over (process ${first} is gone)`,
    );
    for (const n of names) expect(await containerIds(bed, n)).toEqual(ids.get(n));
  });
});

describe('implicit templates: the dumps dir gone at start, one dump moved away, a dump claimed by a spec', () => {
  const bed = new TestBed('dumps-src', { config: { implicitTemplates: true } });
  const away = () => `${bed.dumpsDir}.away`;
  let base: string;
  let version: string;
  let fromDump: string[];

  beforeAll(async () => {
    bed.writeDump('test_db.sql', shopDump(3, 'v1'));
    // Another entry, so that the last dump moved away (below) leaves a dir that is not empty.
    writeFileSync(path.join(bed.dumpsDir, '.keep'), '');
    bed.writeSpec('fromdump.yaml', databaseObject('fromdump', { template: 'test-db' }));
    base = await spawnApi(bed);
    const template = await bed.waitForTemplate('test-db', (s) => s.phase === 'Ready', 'Ready');
    version = template.status.currentVersion!;
    await bed.waitForDatabase('fromdump', 'Ready');
    await writeOwnRow(bed, 'fromdump');
    fromDump = await containerIds(bed, 'fromdump');
  });
  afterAll(async () => {
    require('node:fs').copyFileSync(
      path.join(bed.dir, 'controller.log'),
      '/tmp/sources-dumps-controller.log',
    );
    await bed.destroy();
    rmSync(away(), { recursive: true, force: true });
  });

  it('a dumps dir gone at start is unavailable: the template keeps its versions, its databases run; back, no reimport', async () => {
    const lastImport = bed.template('test-db')!.status.lastImport?.startedAt;
    await bed.stop();
    renameSync(bed.dumpsDir, away());
    base = await spawnApi(bed);
    await sleep(8000);
    expect(bed.template('test-db')?.status.currentVersion).toBe(version);
    expect(existsSync(path.join(bed.dataDir, 'templates', 'test-db', version))).toBe(true);
    expect(await containerIds(bed, 'fromdump')).toEqual(fromDump);
    expect(await ownRows(bed, 'fromdump')).toBe(1);
    // The controller made an empty dir where the share was (as a mount point looks unmounted).
    expect((await problems(base)).map((p) => p.message)).toContainEqual(
      expect.stringContaining('dumps dir is empty but held 1 dump(s)'),
    );
    rmSync(bed.dumpsDir, { recursive: true });
    renameSync(away(), bed.dumpsDir);
    await waitFor('dumps dir available', async () => (await problems(base)).length === 0, 30_000, 500);
    await sleep(4000); // past the dump's settle time: a reimport would have begun
    expect(bed.template('test-db')?.status).toMatchObject({ phase: 'Ready', currentVersion: version });
    expect(bed.template('test-db')?.status.lastImport?.startedAt).toBe(lastImport);
    expect(await containerIds(bed, 'fromdump')).toEqual(fromDump);
  });

  it('one dump moved away from a dir that is fine goes to the trash; back, its versions return without an import', async () => {
    const outside = path.join(bed.dir, 'test_db.sql');
    renameSync(path.join(bed.dumpsDir, 'test_db.sql'), outside);
    await waitFor('test-db trashed', () => !bed.template('test-db'), 60_000, 200);
    const trash = (await call(base, 'GET', '/api/v1/trash')).body.items as { name: string; reason: string }[];
    expect(trash).toContainEqual(expect.objectContaining({ name: 'test-db', reason: 'SpecRemoved' }));
    expect(await containerIds(bed, 'fromdump')).toEqual(fromDump);
    renameSync(outside, path.join(bed.dumpsDir, 'test_db.sql'));
    await bed.waitForTemplate(
      'test-db',
      (s) => s.phase === 'Ready' && s.currentVersion === version,
      'restored',
      60_000,
    );
    // The restored status is saved first and its event written just after (events go in the background).
    const back = await waitFor(
      'the Restored event',
      () => {
        const t = bed.template('test-db');
        return t?.events.some((e) => e.reason === 'Restored') ? t : undefined;
      },
      10_000,
      100,
    );
    expect(back.status).toMatchObject({ phase: 'Ready', currentVersion: version });
    expect(back.events.map((e) => e.reason)).not.toContain('ImportStarted');
  });

  it('a Template spec claiming the dump: the implicit template’s databases stay reachable through the original routes', async () => {
    expect((await call(base, 'POST', '/db/test_db/x', { ttl: 3600 })).status).toBe(201);
    const before = await call(base, 'GET', '/db/test_db/x');
    expect(before.status).toBe(200);
    await writeOwnRow(bed, 'x');
    bed.writeSpec('shop2.yaml', templateObject('shop2', { source: { path: 'test_db.sql' } }));
    await bed.waitForTemplate('shop2', (s) => s.phase === 'Ready', 'Ready');
    await waitFor('implicit test-db gone', () => !bed.template('test-db'), 60_000, 200);
    for (const route of ['/db/test_db/x', '/db/test-db/x']) {
      const got = await call(base, 'GET', route);
      expect(got.status, route).toBe(200);
      expect(got.body).toMatchObject({ port: before.body.port, password: before.body.password });
    }
    // What `myaas connect x` and `myaas describe database x` do: the object, then its original route.
    const object = await call(base, 'GET', '/api/v1/databases/x');
    expect(object.body.spec).toMatchObject({ template: 'test-db' });
    expect((await call(base, 'GET', '/db/test-db/x')).status).toBe(200);
    expect(await ownRows(bed, 'x')).toBe(1);
    // A repeated POST says it exists; a new one under the dump's name is made from the template now holding it.
    expect((await call(base, 'POST', '/db/test_db/x', { ttl: 3600 })).status).toBe(304);
    expect((await call(base, 'POST', '/db/test_db/y', { ttl: 3600 })).status).toBe(201);
    expect((await call(base, 'GET', '/api/v1/databases/y')).body.spec).toMatchObject({ template: 'shop2' });
    expect((await call(base, 'GET', '/db/shop2/x')).status).toBe(404);
    expect((await call(base, 'GET', '/db/shop2/y')).status).toBe(200);
    expect(await containerIds(bed, 'fromdump')).toEqual(fromDump);
  });
});
