import { chownSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../controller/config.js';
import { createLogger, silentLogger } from '../../controller/log.js';
import { createStorage } from '../../controller/run.js';
import { CopyStorage } from '../../controller/storage/copy-storage.js';
import { testEnvironment } from '../support/environment.js';
import { databaseObject } from '../support/specs.js';
import { PROCESS_COPY, TestBed } from '../support/testbed.js';

describe('storage copy and auto', () => {
  const env = testEnvironment();
  const beds: string[] = [];
  afterAll(async () => {
    const { rmSync } = await import('node:fs');
    for (const d of beds) rmSync(d, { recursive: true, force: true });
  });

  it('copy clones by reflink on btrfs and by a full copy elsewhere, and says which', async () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', stream: { write: (line: string) => void lines.push(line) } });
    const storage = new CopyStorage(log);
    for (const [base, expected] of [
      [env.btrfsRoot, 'reflink'],
      ['/var/tmp', 'copy'],
    ] as const) {
      const dir = path.join(base, `copy-${Date.now()}`);
      beds.push(dir);
      mkdirSync(path.join(dir, 'src'), { recursive: true });
      writeFileSync(path.join(dir, 'src', 'ibdata1'), Buffer.alloc(1024 * 1024, 7));
      // The second clone on a filesystem that refused the reflink skips the attempt, same result.
      for (const clone of ['clone', 'clone2']) {
        expect(await storage.clone(path.join(dir, 'src'), path.join(dir, clone))).toBe(expected);
        expect(readFileSync(path.join(dir, clone, 'ibdata1')).equals(Buffer.alloc(1024 * 1024, 7))).toBe(
          true,
        );
      }
      expect(readdirSync(dir).sort()).toEqual(['clone', 'clone2', 'src']); // no partial copy left
    }
    // Said once for the filesystem that cannot reflink, not once per clone.
    expect(lines.filter((l) => l.includes('cannot reflink'))).toHaveLength(1);
  });

  it('clones made at once by a fresh storage on a filesystem without reflink are all whole and flat', async () => {
    // On the real filesystem: each failed reflink attempt leaves a partial tree its clone must clear
    // (a cp into a leftover directory nests the copy). The interleaving that once skipped the
    // clearing is pinned down in test/unit/storage/copy-storage.test.ts.
    const storage = new CopyStorage(silentLogger);
    const dir = path.join('/var/tmp', `copy-burst-${Date.now()}`);
    beds.push(dir);
    mkdirSync(path.join(dir, 'src', 'db'), { recursive: true });
    writeFileSync(path.join(dir, 'src', 'ibdata1'), Buffer.alloc(256 * 1024, 3));
    writeFileSync(path.join(dir, 'src', 'db', 't.ibd'), Buffer.alloc(64 * 1024, 4));
    const names = Array.from({ length: 6 }, (_, i) => `clone${i}`);
    const methods = await Promise.all(
      names.map((n) => storage.clone(path.join(dir, 'src'), path.join(dir, n))),
    );
    expect(methods).toEqual(names.map(() => 'copy'));
    for (const n of names) {
      expect(readdirSync(path.join(dir, n)).sort()).toEqual(['db', 'ibdata1']);
      expect(readFileSync(path.join(dir, n, 'db', 't.ibd')).equals(Buffer.alloc(64 * 1024, 4))).toBe(true);
    }
    expect(readdirSync(dir).sort()).toEqual([...names, 'src'].sort());
  });

  it('auto picks btrfs subvolumes on btrfs, and copy elsewhere', async () => {
    const onBtrfs = path.join(env.btrfsRoot, `auto-${Date.now()}`);
    beds.push(onBtrfs);
    expect(
      (await createStorage({ ...defaultConfig(onBtrfs), dataDir: onBtrfs, storage: 'auto' }, silentLogger))
        .name,
    ).toBe('btrfs');
    expect(readdirSync(onBtrfs)).toEqual([]); // the probe subvolume is gone
    const offBtrfs = path.join('/var/tmp', `auto-${Date.now()}`);
    beds.push(offBtrfs);
    expect(
      (await createStorage({ ...defaultConfig(offBtrfs), dataDir: offBtrfs, storage: 'auto' }, silentLogger))
        .name,
    ).toBe('copy');
  });
});

describe('runtime process as a normal user', () => {
  const bed = new TestBed('nobody', { pair: PROCESS_COPY });
  afterAll(async () => {
    await bed.destroy();
  });

  it('imports and serves a database with servers running as that user', async () => {
    const nobody = { uid: 65534, gid: 65534 };
    for (const d of [bed.dir, bed.specsDir, bed.dumpsDir, bed.dataDir]) chownSync(d, nobody.uid, nobody.gid);
    bed.declareShop('shop.sql', databaseObject('mine'));
    await bed.spawn(nobody);
    await bed.waitForDatabase('mine', 'Ready', 120_000);
    expect(await bed.query('mine', 'SELECT v FROM meta')).toEqual([{ v: 'v1' }]);
    const [server] = await bed.serversOf('mine');
    const pid = JSON.parse(
      (await import('node:fs')).readFileSync(
        path.join(bed.dataDir, 'run', server!.id, 'server.json'),
        'utf8',
      ),
    ).pid as number;
    expect(statSync(`/proc/${pid}`).uid).toBe(nobody.uid);
  });
});
