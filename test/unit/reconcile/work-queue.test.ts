import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import { WorkQueue } from '../../../controller/reconcile/work-queue.js';
import { sleep, waitFor } from '../../support/wait.js';

describe('WorkQueue', () => {
  it('folds repeated adds of a queued key into one reconcile', async () => {
    const calls: string[] = [];
    const queue = new WorkQueue<string>({
      log: silentLogger,
      concurrency: 1,
      reconcile: async (k) => void calls.push(k),
    });
    queue.add('busy');
    queue.add('a');
    queue.add('a');
    queue.add('a');
    await queue.onIdle();
    expect(calls).toEqual(['busy', 'a']);
  });

  it('never runs one key twice at once, and runs it once more after a change during a run', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    let release!: () => void;
    const queue = new WorkQueue<string>({
      log: silentLogger,
      concurrency: 4,
      reconcile: async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        if (runs === 1) {
          await new Promise<void>((r) => {
            release = r;
          });
        }
        running--;
        return undefined;
      },
    });
    queue.add('k');
    await waitFor('first run', () => runs === 1);
    queue.add('k');
    queue.add('k');
    await sleep(20);
    expect(runs).toBe(1);
    release();
    await waitFor('second run', () => runs === 2);
    await queue.onIdle();
    await sleep(20);
    expect(runs).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('runs different keys concurrently up to the bound', async () => {
    let running = 0;
    let maxRunning = 0;
    const queue = new WorkQueue<string>({
      log: silentLogger,
      concurrency: 3,
      reconcile: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(30);
        running--;
        return undefined;
      },
    });
    for (let i = 0; i < 10; i++) queue.add(`k${i}`);
    await queue.onIdle();
    expect(maxRunning).toBe(3);
  });

  it('runs a long queue once per key, oldest first, and stop() drops what has not started', async () => {
    const calls: string[] = [];
    let gate!: () => void;
    const opened = new Promise<void>((r) => {
      gate = r;
    });
    const queue = new WorkQueue<string>({
      log: silentLogger,
      concurrency: 2,
      reconcile: async (k) => {
        calls.push(k);
        if (!k.startsWith('k')) await opened;
        return undefined;
      },
    });
    const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    for (const k of keys) queue.add(k);
    // Re-adding keys still waiting changes neither the order nor the count.
    for (const k of keys.slice(100, 200)) queue.add(k);
    await queue.onIdle();
    expect(calls).toEqual(keys);
    expect(queue.size).toBe(0);

    calls.length = 0;
    queue.add('hold');
    for (let i = 0; i < 10; i++) queue.add(`later${i}`);
    await waitFor('two running', () => calls.length === 2);
    const stopped = queue.stop();
    gate();
    await stopped;
    // The two that started before the stop finish; the rest never run.
    expect(calls).toEqual(['hold', 'later0']);
  });

  it('a failing metrics hook changes nothing: the run counts as done, no retry, the key runs again when asked', async () => {
    const calls: string[] = [];
    const queue = new WorkQueue<string>({
      log: silentLogger,
      concurrency: 1,
      backoffBaseMs: 10,
      reconcile: async (k) => void calls.push(k),
      observe: () => {
        throw new Error('metrics registry broken');
      },
    });
    queue.add('a');
    await queue.onIdle();
    await sleep(50);
    expect(calls).toEqual(['a']);
    expect(queue.failures('a')).toBe(0);
    queue.add('a');
    await queue.onIdle();
    expect(calls).toEqual(['a', 'a']);
  });

  it('onIdle waits for what runs and resolves at once when nothing does', async () => {
    let release!: () => void;
    const queue = new WorkQueue<string>({
      log: silentLogger,
      concurrency: 1,
      reconcile: () =>
        new Promise<undefined>((r) => {
          release = () => r(undefined);
        }),
    });
    await queue.onIdle();
    queue.add('a');
    let idle = false;
    const waiting = queue.onIdle().then(() => {
      idle = true;
    });
    await sleep(20);
    expect(idle).toBe(false);
    release();
    await waiting;
    expect(idle).toBe(true);
  });

  it('retries a failing key with capped exponential backoff and survives the errors', async () => {
    const times: number[] = [];
    const queue = new WorkQueue<string>({
      log: silentLogger,
      backoffBaseMs: 20,
      backoffMaxMs: 80,
      reconcile: async () => {
        times.push(Date.now());
        if (times.length < 6) throw new Error('boom');
        return undefined;
      },
    });
    expect([1, 2, 3, 4, 5].map((n) => queue.backoffMs(n))).toEqual([20, 40, 80, 80, 80]);
    queue.add('k');
    await waitFor('six attempts', () => times.length === 6, 5000);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(18);
    expect(gaps[1]).toBeGreaterThanOrEqual(38);
    expect(gaps[3]).toBeGreaterThanOrEqual(78);
    expect(gaps[4]).toBeLessThan(400);
    expect(queue.failures('k')).toBe(0);
  });

  it('a change retries a failed key at once instead of waiting out the backoff', async () => {
    let runs = 0;
    const queue = new WorkQueue<string>({
      log: silentLogger,
      backoffBaseMs: 60_000,
      reconcile: async () => {
        runs++;
        if (runs === 1) throw new Error('boom');
        return undefined;
      },
    });
    queue.add('k');
    await waitFor('failed once', () => queue.failures('k') === 1);
    queue.add('k');
    await waitFor('second run', () => runs === 2, 1000);
  });

  it('requeues after the delay a reconcile asks for', async () => {
    const times: number[] = [];
    const queue = new WorkQueue<string>({
      log: silentLogger,
      reconcile: async () => {
        times.push(Date.now());
        return times.length === 1 ? { requeueAfterMs: 50 } : undefined;
      },
    });
    queue.add('k');
    await waitFor('two runs', () => times.length === 2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(45);
  });

  it('says what it expected of a bad concurrency', () => {
    expect(
      () => new WorkQueue({ log: silentLogger, concurrency: 0, reconcile: async () => undefined }),
    ).toThrow('Expected `concurrency` to be an integer from 1 and up, got `0`');
  });
});

describe('WorkQueue after a failure', () => {
  it('a change seen during a failed run waits for the backoff instead of looping', async () => {
    let runs = 0;
    const queue: WorkQueue<string> = new WorkQueue<string>({
      log: silentLogger,
      backoffBaseMs: 300,
      reconcile: async (key) => {
        runs++;
        queue.add(key); // e.g. a container event caused by this very run
        throw new Error('server exited at start');
      },
    });
    queue.add('k');
    await waitFor('first run', () => runs === 1);
    await sleep(150);
    expect(runs).toBe(1);
    await waitFor('retry after the backoff', () => runs === 2, 2000);
  });
});
