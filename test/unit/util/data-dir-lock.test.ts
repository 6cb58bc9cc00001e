import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import { DataDirLock, DataDirLockedError } from '../../../controller/util/data-dir-lock.js';

describe('one controller per data dir: the lock file', () => {
  let dir: string;
  let lock: DataDirLock | undefined;
  let child: ChildProcess | undefined;
  const file = () => path.join(dir, 'controller.lock');
  const holder = () => JSON.parse(readFileSync(file(), 'utf8')) as { pid: number; token: string };
  const writeLock = (fields: Record<string, unknown>) =>
    writeFileSync(
      file(),
      JSON.stringify({
        pid: 1,
        hostname: hostname(),
        startedAt: '2026-01-02T03:04:05.000Z',
        command: ['node', 'main.js', 'controller'],
        token: 'theirs',
        ...fields,
      }),
    );
  const liveChild = () => {
    child = spawn('sleep', ['60'], { stdio: 'ignore' });
    return child.pid!;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'myaas-lock-'));
  });
  afterEach(async () => {
    await lock?.release();
    lock = undefined;
    child?.kill('SIGKILL');
    child = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('is taken, refuses a second taker naming the holder, and is removed on release', async () => {
    lock = await DataDirLock.acquire(dir, silentLogger);
    expect(holder()).toMatchObject({ pid: process.pid, hostname: hostname() });
    const second = DataDirLock.acquire(dir, silentLogger);
    await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(second).rejects.toThrow(
      new RegExp(`another controller uses data dir .*: pid ${process.pid}, running since \\d{4}-`),
    );
    await lock.release();
    lock = undefined;
    expect(existsSync(file())).toBe(false);
    lock = await DataDirLock.acquire(dir, silentLogger);
  });

  it('refuses a lock whose holder is alive with the command line it recorded', async () => {
    const pid = liveChild();
    await new Promise((r) => setTimeout(r, 50));
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    writeLock({ pid, command });
    await expect(DataDirLock.acquire(dir, silentLogger)).rejects.toThrow(`pid ${pid}`);
    expect(holder().token).toBe('theirs');
  });

  it('takes over a lock whose process is gone, or whose pid now runs something else', async () => {
    const dead = spawnSync('true').pid;
    writeLock({ pid: dead });
    lock = await DataDirLock.acquire(dir, silentLogger);
    expect(holder()).toMatchObject({ pid: process.pid, token: lock.holder.token });
    await lock.release();
    lock = undefined;
    // A reused pid: alive, but not the command line that took the lock.
    writeLock({ pid: liveChild(), command: ['node', 'dist/controller/main.js', 'controller'] });
    lock = await DataDirLock.acquire(dir, silentLogger);
    expect(holder().token).toBe(lock.holder.token);
  });

  it('never takes over a lock from another host, and a release leaves another taker’s lock alone', async () => {
    writeLock({ pid: process.pid, hostname: 'elsewhere.example' });
    await expect(DataDirLock.acquire(dir, silentLogger)).rejects.toThrow(/on host elsewhere\.example/);
    // Ours, then replaced by another's (removed by hand and taken again): our release leaves it.
    lock = await DataDirLock.acquire(mkdtempSync(path.join(dir, 'other-')), silentLogger);
    const ours = lock.file;
    writeFileSync(ours, readFileSync(file()));
    await lock.release();
    lock = undefined;
    expect(readFileSync(ours, 'utf8')).toContain('elsewhere');
  });
});
