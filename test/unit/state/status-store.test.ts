import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Layout } from '../../../controller/layout.js';
import { silentLogger } from '../../../controller/log.js';
import { type ObjectKey, setCondition } from '../../../controller/objects/index.js';
import { StatusStore } from '../../../controller/state/status-store.js';

/** The store is typed per kind; these tests store any shape, to pin what it does with whatever it holds. */
const looseSave = (store: StatusStore, key: ObjectKey, status: object, record: object) =>
  store.save(key, status as never, record as never);

describe('StatusStore', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'myaas-status-'));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes status with its secrets in mode 0600 files, and reads them back after a restart', async () => {
    const layout = new Layout(root);
    const store = new StatusStore(layout, silentLogger);
    await looseSave(store, 'Database/alice', { phase: 'Ready' }, { user: { password: 'secret' } });
    await store.event('Database/alice', 'Normal', 'Ready', 'ready');
    await store.flush();
    const file = layout.statusFile('Database', 'alice');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = new StatusStore(layout, silentLogger);
    await again.load();
    expect(again.get('Database/alice')).toMatchObject({
      status: { phase: 'Ready' },
      record: { user: { password: 'secret' } },
      events: [{ reason: 'Ready' }],
    });
    await again.delete('Database/alice');
    const third = new StatusStore(layout, silentLogger);
    await third.load();
    expect(third.keys('Database')).toEqual([]);
  });

  it('a save that changes nothing writes nothing; a change, or content restored in memory, is written', async () => {
    const layout = new Layout(root);
    const store = new StatusStore(layout, silentLogger);
    const file = layout.statusFile('Database', 'idle');
    const status = { phase: 'Stopped' };
    await looseSave(store, 'Database/idle', status, { n: 1 });
    const first = statSync(file).ino;
    await looseSave(store, 'Database/idle', { ...status }, { n: 1 });
    expect(statSync(file).ino).toBe(first); // atomic writes make a new inode: none happened
    status.phase = 'Ready'; // callers mutate the stored object in place: still seen as a change
    await looseSave(store, 'Database/idle', status, { n: 1 });
    const second = statSync(file).ino;
    expect(second).not.toBe(first);
    const again = new StatusStore(layout, silentLogger);
    await again.load();
    expect(again.get('Database/idle')?.status).toEqual({ phase: 'Ready' });
    await looseSave(again, 'Database/idle', { phase: 'Ready' }, { n: 1 });
    expect(statSync(file).ino).toBe(second); // what was loaded counts as written
  });

  it('serialises writes of one object: the last save wins on disk', async () => {
    const layout = new Layout(root);
    const store = new StatusStore(layout, silentLogger);
    await Promise.all(Array.from({ length: 20 }, (_, i) => looseSave(store, 'Template/shop', { n: i }, {})));
    const again = new StatusStore(layout, silentLogger);
    await again.load();
    expect(again.get('Template/shop')?.status).toEqual({ n: 19 });
  });

  it('keeps a condition transition time while its status holds', () => {
    const first = setCondition([], 'Ready', 'True', 'A', 'a');
    const same = setCondition(first, 'Ready', 'True', 'B', 'b');
    expect(same[0]!.lastTransitionTime).toBe(first[0]!.lastTransitionTime);
    expect(same[0]!.reason).toBe('B');
  });

  it('gives back the same conditions when nothing in them changes, a new list when anything does', () => {
    const first = setCondition(setCondition([], 'Expired', 'False', 'No', 'n'), 'Ready', 'True', 'A', 'a');
    // Equal text in a new string (as a reconcile builds it) still counts as unchanged.
    expect(setCondition(first, 'Ready', 'True', 'A', ['a'].join(''))).toBe(first);
    for (const changed of [
      setCondition(first, 'Ready', 'False', 'A', 'a'),
      setCondition(first, 'Ready', 'True', 'B', 'a'),
      setCondition(first, 'Ready', 'True', 'A', 'b'),
      setCondition(first, 'Other', 'True', 'A', 'a'),
    ]) {
      expect(changed).not.toBe(first);
      expect(first.map((c) => c.reason)).toEqual(['No', 'A']);
    }
  });

  it('keeps the stored object when a save brings back the objects it holds', async () => {
    const store = new StatusStore(new Layout(root), silentLogger);
    const status = { phase: 'Stopped', conditions: [] };
    const record = { template: 'shop' };
    await looseSave(store, 'Database/db', status, record);
    const held = store.get('Database/db');
    await looseSave(store, 'Database/db', status, record);
    expect(store.get('Database/db')).toBe(held);
    await looseSave(store, 'Database/db', { ...status }, record);
    expect(store.get('Database/db')).not.toBe(held);
    expect(store.get('Database/db')?.status).toEqual(status);
  });
});
