import { execFileSync } from 'node:child_process';
import { cpSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../controller/runtime/runtime.js';
import { databaseObject, specFile } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Abuse of the specs folder while databases run: every step ends with no database lost (same clone,
 * same server, own rows intact) and the state matching the files as they end up.
 */
describe('specs folder faults', () => {
  const bed = new TestBed('faults-specs');
  const live = ['live0', 'live1', 'live2'];
  const many = Array.from({ length: 100 }, (_, i) => `d${String(i).padStart(3, '0')}`);
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', bed.specsDir, ...args], { stdio: 'pipe' }).toString();
  /** What must never change: when each database was made, and the server each live one runs in. */
  const created = new Map<string, string>();
  const serverOf = new Map<string, string>();
  /** Set when any database was seen removed or recreated during the run. */
  const lost: string[] = [];
  let watching = true;

  const liveSpec = (name: string, ttl = '24h') => specFile(databaseObject(name, { ttl }));
  const manySpec = (name: string, ttl: string) => specFile(databaseObject(name, { ttl, state: 'Stopped' }));

  beforeAll(async () => {
    bed.declareShop();
    for (const n of live) writeFileSync(path.join(bed.specsDir, `${n}.yaml`), liveSpec(n));
    for (const n of many)
      bed.writeSpec(`many/${n}.yaml`, databaseObject(n, { ttl: '24h', state: 'Stopped' }));
    git('init', '-q', '-b', 'main');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'main');
    // The other branch: all 100 files changed (a new ttl each), as a GitOps merge would.
    git('checkout', '-qb', 'other');
    for (const n of many) writeFileSync(path.join(bed.specsDir, 'many', `${n}.yaml`), manySpec(n, '48h'));
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'other');
    git('checkout', '-q', 'main');

    await bed.spawn();
    for (const n of live) {
      const db = await bed.waitForDatabase(n, 'Ready', 180_000);
      created.set(n, db.status.createdAt!);
      serverOf.set(n, (await bed.serversOf(n))[0]!.id);
      await bed.query(n, `INSERT INTO products VALUES (100, 'own-${n}', 1)`);
    }
    for (const n of many)
      created.set(n, (await bed.waitForDatabase(n, 'Stopped', 180_000)).status.createdAt!);
    // A watcher over the whole run: any removal or recreation is a loss.
    void (async () => {
      while (watching) {
        for (const [n, at] of created) {
          const db = bed.database(n);
          if (!db || db.status.createdAt !== at)
            lost.push(`${n}: ${db ? `recreated at ${db.status.createdAt}` : 'removed'}`);
        }
        await sleep(100);
      }
    })();
  }, 600_000);

  afterAll(async () => {
    watching = false;
    await bed.destroy();
  });

  it('a partial write completed later removes nothing', async () => {
    const file = path.join(bed.specsDir, 'live0.yaml');
    const full = liveSpec('live0', '12h');
    writeFileSync(file, full.slice(0, Math.floor(full.length / 2)));
    await sleep(300);
    writeFileSync(file, full);
    await waitFor(
      'ttl 12h applied',
      () => bed.database('live0')?.status.expiresAt !== undefined && expiresIn('live0') === 12 * 3600,
    );
  });

  it('a file truncated to zero bytes keeps its database', async () => {
    truncateSync(path.join(bed.specsDir, 'live1.yaml'), 0);
    await sleep(2000); // four times the removal grace
    expect(bed.database('live1')?.status.phase).toBe('Ready');
    writeFileSync(path.join(bed.specsDir, 'live1.yaml'), liveSpec('live1'));
  });

  it('invalid UTF-8 keeps the database and the last good spec', async () => {
    const file = path.join(bed.specsDir, 'live2.yaml');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from(liveSpec('live2', '1h')), Buffer.from([0xff, 0xfe, 0x0a])]),
    );
    await sleep(2000);
    expect(bed.database('live2')?.status.phase).toBe('Ready');
    expect(expiresIn('live2')).toBe(24 * 3600); // the bad file's 1h was not applied
    writeFileSync(file, liveSpec('live2'));
  });

  it('a 10 MB file is refused without harm', async () => {
    const file = path.join(bed.specsDir, 'huge.yaml');
    writeFileSync(file, `${liveSpec('huge')}# ${'x'.repeat(10 * 1024 * 1024)}\n`);
    await sleep(2000);
    expect(bed.database('huge')).toBeUndefined();
    rmSync(file);
  });

  it('100 rapid edits of one spec end in the last one, applied to the same database', async () => {
    const file = path.join(bed.specsDir, 'live0.yaml');
    for (let i = 1; i <= 100; i++) {
      writeFileSync(file, liveSpec('live0', `${i}h`));
      await sleep(i % 10 === 0 ? 30 : 2);
    }
    await waitFor('ttl 100h applied', () => expiresIn('live0') === 100 * 3600, 30_000, 100);
  });

  it('the specs dir removed and restored loses nothing', async () => {
    const aside = `${bed.specsDir}.aside`;
    cpSync(bed.specsDir, aside, { recursive: true });
    rmSync(bed.specsDir, { recursive: true });
    await sleep(3000);
    renameSync(aside, bed.specsDir);
    await sleep(2000);
    for (const n of live) expect(bed.database(n)?.status.phase).toBe('Ready');
  });

  it('a git checkout that swaps 100 files applies them all and loses nothing', async () => {
    git('checkout', '-q', 'other');
    await waitFor('all 100 at 48h', () => many.every((n) => expiresIn(n) === 48 * 3600), 60_000, 200);
    git('checkout', '-q', 'main');
    await waitFor('all 100 back at 24h', () => many.every((n) => expiresIn(n) === 24 * 3600), 60_000, 200);
  });

  it('after all of it: nothing lost, same servers, own rows, state as the files say', async () => {
    await sleep(1000);
    expect(lost).toEqual([]);
    for (const n of live) {
      expect(bed.database(n)?.status.phase).toBe('Ready');
      expect((await bed.serversOf(n)).map((s) => s.id)).toEqual([serverOf.get(n)]);
      expect(await bed.query(n, 'SELECT name FROM products WHERE id = 100')).toEqual([{ name: `own-${n}` }]);
    }
    // live0 ends at its last edit (100h); git reset the rest to the committed files.
    expect(expiresIn('live0')).toBe(100 * 3600);
    for (const n of many) expect(bed.database(n)?.status.phase).toBe('Stopped');
    // Only the live databases' servers run, once the state settles: restoring the folder from a copy
    // touched the template's spec (new mtimes), which asks for a reimport; its import server runs a
    // while. Named by role and owner, so a failure says which server is one too many.
    const expected = live.map((n) => `Database/${n}`).join(', ');
    let running = '';
    await waitFor(
      `only ${expected} running`,
      async () => {
        running = (await bed.containers())
          .filter((c) => c.State === 'running')
          .map((c) => `${c.Labels[LABELS.kind]}/${c.Labels[LABELS.name]}`)
          .sort()
          .join(', ');
        return running === expected;
      },
      60_000,
      200,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; running: ${running}`);
    });
  });

  /** Seconds from creation to expiry, as status reports them. */
  function expiresIn(name: string): number | undefined {
    const status = bed.database(name)?.status;
    if (!status?.expiresAt || !status.createdAt) return undefined;
    return Math.round((Date.parse(status.expiresAt) - Date.parse(status.createdAt)) / 1000);
  }
});
