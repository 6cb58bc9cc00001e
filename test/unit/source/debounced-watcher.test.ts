import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import {
  DebouncedWatcher,
  type DebouncedWatcherOptions,
  type WatchBatch,
} from '../../../controller/source/debounced-watcher.js';
import { sleep, waitFor } from '../../support/wait.js';

describe.each([
  ['chokidar (a watch per file)', false],
  ['a watch per folder', true],
])('DebouncedWatcher on a real folder: %s', (_, perFolder) => {
  let dir: string;
  let watcher: DebouncedWatcher | undefined;
  let batches: { at: number; batch: WatchBatch }[];

  const write = (file: string, text = 'x') => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  const start = async (options: Partial<DebouncedWatcherOptions> = {}) => {
    watcher = new DebouncedWatcher({
      dir,
      log: silentLogger,
      ignore: (rel) => rel.split(path.sep).some((s) => s.startsWith('.')),
      debounceMs: 50,
      errorMessage: 'watch error',
      onBatch: (batch) => batches.push({ at: Date.now(), batch }),
      perFolder,
      ...options,
    });
    await watcher.start();
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'myaas-watch-'));
    batches = [];
  });
  afterEach(async () => {
    await watcher?.stop();
    watcher = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a burst as one batch of the paths it accepts, the ignored ones left out', async () => {
    // A debounce longer than the events of four writes can spread under a loaded machine (chokidar
    // stats each file before it reports it): one burst, one batch.
    await start({ accept: (rel) => rel.endsWith('.yaml'), debounceMs: 200 });
    write('a.yaml');
    write('b.yaml');
    write('notes.txt');
    write('.hidden.yaml');
    await waitFor('a batch', () => batches.length > 0);
    await sleep(400);
    expect(batches.map((b) => b.batch)).toEqual([{ paths: ['a.yaml', 'b.yaml'], relist: false }]);
  });

  it('reports a burst that never goes quiet after the longest delay, not at its end', async () => {
    await start({ debounceMs: 200, maxBatchDelayMs: 300 });
    const began = Date.now();
    // A write every 40 ms for 1.5 s: never quiet for the 200 ms the debounce waits for.
    while (Date.now() - began < 1500) {
      write('growing.sql', String(Date.now()));
      await sleep(40);
    }
    const ended = Date.now();
    await waitFor('the last batch', () => batches.some((b) => b.at >= ended));
    const during = batches.filter((b) => b.at < ended);
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during[0]!.at - began).toBeLessThan(1000);
    for (const { batch } of batches) expect(batch).toEqual({ paths: ['growing.sql'], relist: false });
  });

  it('reports a folder added or removed as a re-list, unless folder events are off', async () => {
    await start();
    mkdirSync(path.join(dir, 'team'));
    await waitFor('a re-list', () => batches.some((b) => b.batch.relist));
    await watcher!.stop();

    batches = [];
    await start({ folderEvents: false });
    mkdirSync(path.join(dir, 'other'));
    write('other/a.sql');
    await waitFor('a batch', () => batches.length > 0);
    await sleep(200);
    expect(batches.map((b) => b.batch)).toEqual([{ paths: [path.join('other', 'a.sql')], relist: false }]);
  });

  it('asks for a re-list on request, carries a path into the next batch, and reports nothing once stopped', async () => {
    await start();
    watcher!.addToNextBatch('later.yaml');
    await sleep(150);
    expect(batches).toEqual([]);
    watcher!.relist();
    await waitFor('a batch', () => batches.length > 0);
    expect(batches.map((b) => b.batch)).toEqual([{ paths: ['later.yaml'], relist: true }]);

    batches = [];
    await watcher!.stop();
    write('after.yaml');
    watcher!.relist();
    await sleep(200);
    expect(batches).toEqual([]);
  });
  it('while the folder is lost, asks for a re-list every lostPollMs; once found, stops asking and watches afresh', async () => {
    await start({ lostPollMs: 100, folderEvents: false });
    watcher!.lost();
    watcher!.lost(); // twice is once
    await sleep(450);
    const asked = batches.length;
    expect(asked).toBeGreaterThanOrEqual(3);
    expect(asked).toBeLessThanOrEqual(5);
    expect(batches.every((b) => b.batch.relist)).toBe(true);
    await watcher!.found();
    await sleep(100); // a re-list asked for just before found() is still reported
    batches = [];
    await sleep(300);
    expect(batches).toEqual([]);
    write('new.yaml');
    await waitFor('the new file reported', () => batches.some((b) => b.batch.paths.includes('new.yaml')));
  });

  it('reports files in folders at any depth, made after the start, and files removed or renamed', async () => {
    mkdirSync(path.join(dir, 'a'));
    await start({ accept: (rel) => rel.endsWith('.yaml'), folderEvents: false });
    write('a/one.yaml');
    mkdirSync(path.join(dir, 'a', 'b', 'c'), { recursive: true });
    write('a/b/c/deep.yaml'); // at once: perhaps before the new folders are watched
    await waitFor('both reported', () => {
      const seen = batches.flatMap((b) => b.batch.paths);
      return (
        seen.includes(path.join('a', 'one.yaml')) && seen.includes(path.join('a', 'b', 'c', 'deep.yaml'))
      );
    });
    await sleep(200);
    batches = [];
    write('a/b/c/later.yaml'); // the new folder's own watch
    await waitFor('later', () =>
      batches.some((b) => b.batch.paths.includes(path.join('a', 'b', 'c', 'later.yaml'))),
    );
    batches = [];
    renameSync(path.join(dir, 'a', 'one.yaml'), path.join(dir, 'a', 'two.yaml'));
    rmSync(path.join(dir, 'a', 'b', 'c', 'deep.yaml'));
    await waitFor('rename and removal', () => {
      const seen = batches.flatMap((b) => b.batch.paths);
      return ['a/one.yaml', 'a/two.yaml', 'a/b/c/deep.yaml'].every((p) =>
        seen.includes(path.join(...p.split('/'))),
      );
    });
  });
});

describe('DebouncedWatcher, a watch per folder', () => {
  // chokidar reports nothing when the watched folder itself goes (hence lost()); a folder's own watch does.
  it('reports the folder itself removed as a re-list', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'myaas-watch-'));
    const batches: WatchBatch[] = [];
    const watcher = new DebouncedWatcher({
      dir,
      log: silentLogger,
      ignore: () => false,
      debounceMs: 50,
      errorMessage: 'watch error',
      onBatch: (batch) => batches.push(batch),
      perFolder: true,
    });
    await watcher.start();
    try {
      rmSync(dir, { recursive: true });
      await waitFor('a re-list', () => batches.some((b) => b.relist));
    } finally {
      await watcher.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DebouncedWatcher, a watch per folder: folders replaced', () => {
  // A checkout that replaces a folder removes and makes it within one batch: the dead watch of the old
  // folder must not stand in for the new one.
  it('a folder (with a subfolder) removed and made again at once is watched again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'myaas-watch-'));
    mkdirSync(path.join(dir, 'team', 'sub'), { recursive: true });
    const batches: WatchBatch[] = [];
    const watcher = new DebouncedWatcher({
      dir,
      log: silentLogger,
      ignore: () => false,
      debounceMs: 50,
      errorMessage: 'watch error',
      onBatch: (batch) => batches.push(batch),
      perFolder: true,
    });
    await watcher.start();
    try {
      rmSync(path.join(dir, 'team'), { recursive: true });
      mkdirSync(path.join(dir, 'team', 'sub'), { recursive: true });
      await sleep(300);
      batches.length = 0;
      writeFileSync(path.join(dir, 'team', 'a.yaml'), 'x');
      writeFileSync(path.join(dir, 'team', 'sub', 'b.yaml'), 'x');
      await waitFor('both reported', () => {
        const seen = batches.flatMap((b) => b.paths);
        return (
          seen.includes(path.join('team', 'a.yaml')) && seen.includes(path.join('team', 'sub', 'b.yaml'))
        );
      });
    } finally {
      await watcher.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
