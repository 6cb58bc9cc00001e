import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Layout } from '../../../controller/layout.js';
import { silentLogger } from '../../../controller/log.js';
import type { DatabaseRecord, VersionMeta } from '../../../controller/objects/index.js';
import { CopyStorage } from '../../../controller/storage/copy-storage.js';
import { Trash } from '../../../controller/trash/trash.js';

const record: DatabaseRecord = {
  template: 'shop',
  user: { user: 'myaas', password: 'pw' },
  adminPassword: 'admin',
  configured: true,
  resetToken: '',
  protected: false,
};

describe('Trash', () => {
  let root: string;
  let layout: Layout;
  let now: number;
  let short: boolean[];
  const trashWith = (retentionSeconds = 3600) =>
    new Trash({
      layout,
      storage: new CopyStorage(silentLogger),
      log: silentLogger,
      retentionSeconds,
      minFreePercent: 10,
      now: () => now,
      spaceShort: async () => short.shift() ?? false,
    });
  const clone = (name: string, content: string) => {
    const dir = layout.databaseDir(name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'ibdata1'), content);
    return dir;
  };
  const put = (trash: Trash, name: string, reason: 'SpecRemoved' | 'Expired' = 'SpecRemoved') =>
    trash.putDatabase(
      { name, reason, record, status: { phase: 'Ready', conditions: [] } },
      layout.databaseDir(name),
    );

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'myaas-trash-'));
    layout = new Layout(root);
    now = Date.UTC(2026, 11, 5, 8, 0, 0);
    short = [];
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('moves a clone in with its record, lists it, and gives it back whole', async () => {
    const trash = trashWith();
    clone('alice', 'data-of-alice');
    const entry = await put(trash, 'alice');
    expect(existsSync(layout.databaseDir('alice'))).toBe(false);
    expect(entry).toMatchObject({
      kind: 'Database',
      name: 'alice',
      reason: 'SpecRemoved',
      expiresAt: now + 3600_000,
    });
    expect((await trash.list('Database')).map((e) => e.id)).toEqual([entry!.id]);
    const found = await trash.find('Database', 'alice');
    await trash.takeDatabase(found as never, layout.databaseDir('alice'));
    expect(readFileSync(path.join(layout.databaseDir('alice'), 'ibdata1'), 'utf8')).toBe('data-of-alice');
    expect(await trash.list()).toEqual([]);
  });

  it('with retention 0 a removal is final at once', async () => {
    const trash = trashWith(0);
    clone('bob', 'x');
    expect(await put(trash, 'bob')).toBeUndefined();
    expect(existsSync(layout.databaseDir('bob'))).toBe(false);
    expect(await trash.list()).toEqual([]);
  });

  it('forgets entries past their retention, and the oldest first while space is short', async () => {
    const trash = trashWith(100);
    for (const name of ['a', 'b', 'c']) {
      clone(name, name);
      await put(trash, name);
      now += 10_000;
    }
    // Space short twice: the two oldest go, the newest stays.
    short = [true, true, false];
    expect((await trash.sweep()).map((id) => id.split('@')[0])).toEqual(['a', 'b']);
    expect((await trash.list()).map((e) => e.name)).toEqual(['c']);
    now += 100_000;
    expect((await trash.sweep()).map((id) => id.split('@')[0])).toEqual(['c']);
    expect(await trash.list()).toEqual([]);
  });

  it('a removal interrupted between its record and its data is completed by the next one, never lost', async () => {
    const trash = trashWith();
    clone('carol', 'carol-data');
    // As a crash right after the entry's record was written: the clone has not moved yet.
    const first = await put(trash, 'carol');
    const dir = layout.trashEntry('Database', first!.id);
    // Put the data back where it was, as if the move never happened.
    rmSync(layout.databaseDir('carol'), { recursive: true, force: true });
    mkdirSync(path.dirname(layout.databaseDir('carol')), { recursive: true });
    renameSync(path.join(dir, 'data'), layout.databaseDir('carol'));
    expect(await trash.list()).toEqual([]); // incomplete: not offered for restore
    expect(await trash.sweep()).toEqual([]); // and not forgotten while the clone is still there
    const second = await put(trash, 'carol');
    expect(second!.id).toBe(first!.id);
    expect((await trash.list()).map((e) => e.id)).toEqual([first!.id]);
  });

  describe('template versions with their recorded schemas', () => {
    const version = 'v20261205-080000-a1b2';
    const meta = {
      version,
      createdAt: 0,
      engine: 'mariadb',
      image: 'mariadb:11.4',
      database: 'shop',
      adminPassword: 'pw',
      trigger: { dump: 'sig' },
      dumpSha256: '',
      dumpBytes: 0,
      durationSeconds: 0,
    } as unknown as VersionMeta;
    const files = () => [
      layout.versionDir('shop', version),
      layout.versionMetaFile('shop', version),
      layout.versionSchemaFile('shop', version),
    ];
    beforeEach(() => {
      mkdirSync(layout.versionDir('shop', version), { recursive: true });
      writeFileSync(path.join(layout.versionDir('shop', version), 'ibdata1'), 'x');
      writeFileSync(layout.versionMetaFile('shop', version), JSON.stringify(meta));
      writeFileSync(layout.versionSchemaFile('shop', version), '{"format":1}');
    });

    it('go to the trash with the version and come back with it', async () => {
      const trash = trashWith();
      const entry = await trash.putTemplate({ name: 'shop', reason: 'SpecRemoved', versions: [meta] });
      expect(files().map(existsSync)).toEqual([false, false, false]);
      const written: string[] = [];
      await trash.takeTemplate(entry!, async (m) => {
        written.push(m.version);
        writeFileSync(layout.versionMetaFile('shop', m.version), JSON.stringify(m));
      });
      expect(written).toEqual([version]);
      expect(files().map(existsSync)).toEqual([true, true, true]);
      expect(readFileSync(layout.versionSchemaFile('shop', version), 'utf8')).toBe('{"format":1}');
    });

    it('go for good with the version when the trash is off', async () => {
      await trashWith(0).putTemplate({ name: 'shop', reason: 'SpecRemoved', versions: [meta] });
      expect(files().map(existsSync)).toEqual([false, false, false]);
    });

    it('a version imported before schemas were recorded moves without one', async () => {
      rmSync(layout.versionSchemaFile('shop', version));
      const trash = trashWith();
      const entry = await trash.putTemplate({ name: 'shop', reason: 'SpecRemoved', versions: [meta] });
      await trash.takeTemplate(entry!, async () => undefined);
      expect(files().map(existsSync)).toEqual([true, false, false]);
    });
  });
});
