import { execFileSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDump } from '../../bench/dump-generator.js';
import type { Kind } from '../../controller/objects/index.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const STATE = process.env.MYAAS_TEST_STATE ?? '/var/lib/myaas-test';

/**
 * A btrfs filesystem of its own (1 GiB on a loop file), filled up on purpose during a clone and
 * during an import. Mounted and unmounted here; nothing else shares it.
 */
describe('the data filesystem full (btrfs)', () => {
  const image = path.join(STATE, `disk-full-${process.pid}.img`);
  const mount = path.join(STATE, `disk-full-${process.pid}`);
  const filler = () => path.join(mount, 'filler');
  let bed: TestBed;

  beforeAll(async () => {
    execFileSync('truncate', ['-s', '1G', image]);
    execFileSync('mkfs.btrfs', ['-q', '-f', image]);
    mkdirSync(mount, { recursive: true });
    execFileSync('mount', ['-o', 'loop', image, mount]);
    // Only the data root is on the small filesystem, as in a deployment with a dedicated btrfs.
    bed = new TestBed('disk-full', { dataDir: path.join(mount, 'data'), config: { resyncSeconds: 2 } });
    bed.declareShop();
    bed.writeSpec('before.yaml', databaseObject('before'));
    // In-process: status is read from the controller's memory, which is what the API serves when the
    // full disk keeps the status files from being written.
    await bed.start();
    await bed.waitForDatabase('before', 'Ready', 180_000);
    await bed.query('before', `INSERT INTO products VALUES (100, 'own', 1)`);
  }, 300_000);

  afterAll(async () => {
    if (process.env.FAULT_LOGS) cpSync(path.join(bed.dir, 'controller.log'), process.env.FAULT_LOGS);
    await bed?.destroy();
    execFileSync('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
    rmSync(image, { force: true });
  });

  /** Fills the filesystem until `leaveMiB` remain (0: until ENOSPC). */
  function fill(leaveMiB: number): void {
    const fd = openSync(filler(), 'a');
    const chunk = Buffer.alloc(1024 * 1024, 7);
    try {
      for (;;) {
        const free = statfsSync(mount);
        if (free.bavail * free.bsize <= leaveMiB * 1024 * 1024) break;
        writeSync(fd, chunk);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      closeSync(fd);
    }
    execFileSync('sync');
  }

  const status = <K extends Kind>(kind: K, name: string) =>
    bed.running!.store.get<K>(`${kind}/${name}`)?.status;

  /** No temp file left by failed writes anywhere under the data root. */
  function tempFiles(dir = bed.dataDir): string[] {
    const found: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && !['templates', 'databases', 'work', 'cache'].includes(entry.name))
        found.push(...tempFiles(full));
      else if (entry.name.endsWith('.tmp')) found.push(full);
    }
    return found;
  }

  function freeSpace(): void {
    rmSync(filler(), { force: true });
    execFileSync('sync');
  }

  it('a clone on a full filesystem fails with a clear error, and succeeds once space returns', async () => {
    fill(0);
    bed.writeSpec('during.yaml', databaseObject('during'));
    const failed = await waitFor(
      'during Failed',
      () => {
        const s = status('Database', 'during');
        return s?.phase === 'Failed' ? s : undefined;
      },
      120_000,
      200,
    );
    expect(failed.message).toMatch(/^(no|little) space left on the filesystem holding .*: free space there/);
    freeSpace();
    await bed.waitForDatabase('during', 'Ready', 180_000);
    // A server that needed to write meanwhile may have stopped (MariaDB aborts on a full disk); once
    // space is back the one that was there answers again with its data.
    await waitFor(
      'before answers',
      () => bed.query('before', 'SELECT name FROM products WHERE id = 100'),
      120_000,
      500,
    );
    expect(await bed.query('before', 'SELECT name FROM products WHERE id = 100')).toEqual([{ name: 'own' }]);
    expect(tempFiles()).toEqual([]);
    expect(await bed.query('during', `SELECT v FROM meta WHERE k = 'label'`)).toEqual([{ v: 'v1' }]);
  });

  it('an import that fills the filesystem fails clearly, keeps the previous version, and leaves nothing behind', async () => {
    const v1 = bed.template('shop')!.status.currentVersion!;
    await writeDump(path.join(bed.dumpsDir, 'big.sql'), 120);
    bed.writeSpec('big.yaml', templateObject('big', { source: { path: 'big.sql' } }));
    // The disk fills up while the rows go in.
    await waitFor(
      'big loading rows',
      () => (status('Template', 'big')?.progress?.bytesRead ?? 0) > 10 * 2 ** 20,
      300_000,
      100,
    );
    fill(0);
    const failed = await waitFor(
      'big import failed',
      () => {
        const s = status('Template', 'big');
        return s?.lastImport?.result === 'Failed' ? s : undefined;
      },
      Number(process.env.FAULT_IMPORT_WAIT_MS ?? 300_000),
      200,
    );
    expect(failed.lastImport!.error).toMatch(
      /^(no|little) space left on the filesystem holding .*: free space there/,
    );
    expect(failed.currentVersion).toBeUndefined();
    // The other template's version is untouched and still clones.
    expect(bed.template('shop')!.status.currentVersion).toBe(v1);

    freeSpace();
    await waitFor(
      'before answers',
      () => bed.query('before', 'SELECT COUNT(*) AS n FROM products'),
      120_000,
      500,
    );
    expect(await bed.query('before', 'SELECT COUNT(*) AS n FROM products')).toEqual([{ n: 4 }]);
    // Nothing half-made: no work volume, no import server.
    await waitFor(
      'no work volume',
      () => readdirSync(path.join(bed.dataDir, 'work')).length === 0,
      60_000,
      200,
    );
    expect((await bed.containers()).filter((c) => c.Labels['myaas.dev/kind'] === 'Import')).toEqual([]);
    // A touch of the spec (what an operator does once space is back) imports at once.
    const spec = path.join(bed.specsDir, 'big.yaml');
    utimesSync(spec, new Date(), new Date());
    const ok = await bed.waitForTemplate('big', (s) => s.phase === 'Ready', 'Ready', 300_000);
    expect(ok.status.versions).toHaveLength(1);
    expect(tempFiles()).toEqual([]);
    expect(existsSync(path.join(bed.dataDir, 'templates', 'big', ok.status.currentVersion!))).toBe(true);
  });
});
