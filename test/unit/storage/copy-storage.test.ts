import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** `cp` as the storage runs it, played by hand: each call waits until the test settles it. */
const calls: { argv: string[]; settle: (fail?: string) => void }[] = [];
vi.mock('../../../controller/util/exec.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../controller/util/exec.js')>();
  return {
    ...original,
    run: (_program: string, argv: string[]) =>
      new Promise<string>((resolve, reject) => {
        const [, ...rest] = argv;
        const reflink = rest[0] === '--reflink=always';
        const [source, target] = reflink ? rest.slice(1) : rest;
        // Like cp -a: into an existing directory it copies *inside* it (the nesting to avoid).
        const into = existsSync(target!) ? path.join(target!, path.basename(source!)) : target!;
        mkdirSync(into, { recursive: true });
        calls.push({
          argv,
          settle: (fail) =>
            fail ? reject(new original.CommandError(['cp', ...argv], 1, fail)) : resolve(''),
        });
      }),
  };
});

const { CopyStorage } = await import('../../../controller/storage/copy-storage.js');
const { silentLogger } = await import('../../../controller/log.js');

const REFUSED = "cp: failed to clone 'a' from 'b': Operation not supported";
const waitForCalls = async (n: number) => {
  while (calls.length < n) await new Promise((r) => setTimeout(r, 1));
};

describe('CopyStorage without reflink', () => {
  let dir: string;
  afterEach(() => {
    calls.length = 0;
    rmSync(dir, { recursive: true, force: true });
  });

  it('a clone whose reflink attempt fails after another clone learnt the filesystem refuses still clears its partial tree', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'myaas-copy-'));
    mkdirSync(path.join(dir, 'src'));
    const storage = new CopyStorage(silentLogger);
    const a = storage.clone(path.join(dir, 'src'), path.join(dir, 'a'));
    const b = storage.clone(path.join(dir, 'src'), path.join(dir, 'b'));
    await waitForCalls(2); // both reflink attempts running
    // The two clones reach cp in either order (their stat calls race): calls are told apart by target.
    const callFor = (clone: string, reflink: boolean) =>
      calls.find(
        (c) =>
          c.argv.includes('--reflink=always') === reflink &&
          path.basename(c.argv.at(-1)!).startsWith(`${clone}.partial-`),
      )!;
    callFor('a', true).settle(REFUSED); // a learns the filesystem cannot reflink...
    await waitForCalls(3);
    callFor('a', false).settle(); // ...and makes its full copy
    expect(await a).toBe('copy');
    callFor('b', true).settle(REFUSED); // b's attempt fails only now
    await waitForCalls(4);
    callFor('b', false).settle();
    expect(await b).toBe('copy');
    // Flat: b's full copy did not land inside a leftover partial directory.
    for (const clone of ['a', 'b']) expect(readdirSync(path.join(dir, clone))).toEqual([]);
    // A third clone skips the attempt: one cp, the full copy.
    const c = storage.clone(path.join(dir, 'src'), path.join(dir, 'c'));
    await waitForCalls(5);
    expect(calls[4]!.argv).not.toContain('--reflink=always');
    calls[4]!.settle();
    expect(await c).toBe('copy');
  });

  it('a failure other than a refusal (no space) is not remembered: the next clone tries a reflink again', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'myaas-copy-'));
    mkdirSync(path.join(dir, 'src'));
    const storage = new CopyStorage(silentLogger);
    const a = storage.clone(path.join(dir, 'src'), path.join(dir, 'a'));
    await waitForCalls(1);
    calls[0]!.settle("cp: error writing 'x': No space left on device");
    await waitForCalls(2);
    calls[1]!.settle();
    expect(await a).toBe('copy');
    const b = storage.clone(path.join(dir, 'src'), path.join(dir, 'b'));
    await waitForCalls(3);
    expect(calls[2]!.argv).toContain('--reflink=always');
    calls[2]!.settle();
    expect(await b).toBe('reflink');
  });
});

describe('exists', () => {
  it('is false only when the path is absent; any other error is thrown, never taken for absence', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'myaas-exists-'));
    try {
      const storage = new CopyStorage(silentLogger);
      expect(await storage.exists(path.join(dir, 'missing'))).toBe(false);
      writeFileSync(path.join(dir, 'file'), 'x');
      // A path through a file: ENOTDIR, not ENOENT (as EACCES or EIO would be).
      await expect(storage.exists(path.join(dir, 'file', 'clone'))).rejects.toThrow(/ENOTDIR/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
