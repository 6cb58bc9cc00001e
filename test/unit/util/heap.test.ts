import { execFileSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';

const setFlagsFromString = vi.hoisted(() => vi.fn());
vi.mock('node:v8', async (original) => ({ ...(await original<object>()), setFlagsFromString }));

const { HEAP_GROWING_PERCENT, IDLE_COLLECT_AFTER_MS, collectWhenIdle, preferSmallHeap } = await import(
  '../../../controller/util/heap.js'
);

/** Peak heap of a process keeping a live set while its garbage is promoted: with and without the flag. */
function peakHeapMiB(percent?: number): number {
  const script = `
    const v8 = require('node:v8');
    if (process.argv[1]) v8.setFlagsFromString('--heap-growing-percent=' + process.argv[1]);
    const live = Array.from({ length: 150000 }, (_, i) => ({ i, s: 'live-' + i, a: [i, i + 1] }));
    const window = []; let max = 0;
    for (let round = 0; round < 250; round++) {
      window.push(Array.from({ length: 10000 }, (_, i) => ({ round, i, s: 'g-' + round + '-' + i })));
      if (window.length > 20) window.shift();
      max = Math.max(max, process.memoryUsage().heapTotal);
    }
    console.log(max / 1048576, live.length);`;
  const out = execFileSync(process.execPath, ['-e', script, percent === undefined ? '' : String(percent)], {
    encoding: 'utf8',
  });
  return Number(out.split(' ')[0]);
}

describe('preferSmallHeap', () => {
  it('sets the heap growing percent, unless the command line gave one', () => {
    preferSmallHeap([]);
    expect(setFlagsFromString).toHaveBeenLastCalledWith(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    setFlagsFromString.mockClear();
    preferSmallHeap(['--heap-growing-percent=50']);
    preferSmallHeap(['--heap_growing_percent=50']);
    expect(setFlagsFromString).not.toHaveBeenCalled();
  });

  // The flag is V8's, not Node's: if a Node upgrade stopped honouring it, this fails rather than the
  // controller's memory quietly growing back.
  it("this Node's V8 honours the flag set at run time: the heap stays far smaller", () => {
    const usual = peakHeapMiB();
    const small = peakHeapMiB(HEAP_GROWING_PERCENT);
    expect(small).toBeLessThan(usual * 0.7);
  });
});

describe('collectWhenIdle', () => {
  /** Runs `seconds` of ticks, with `busyMs` of CPU in each second `busy(second)` says. */
  function drive(busy: (second: number) => number, seconds: number) {
    vi.useFakeTimers();
    let cpu = 0;
    const gc = vi.fn();
    const collected: number[] = [];
    gc.mockImplementation(() => collected.push(second));
    let second = 0;
    const stop = collectWhenIdle({ gc, cpuMs: () => cpu });
    try {
      for (second = 1; second <= seconds; second++) {
        cpu += busy(second);
        vi.advanceTimersByTime(1000);
      }
    } finally {
      stop();
      vi.useRealTimers();
    }
    return collected;
  }

  it('collects once after a burst of work followed by quiet, and again only after more work', () => {
    const quiet = IDLE_COLLECT_AFTER_MS / 1000;
    // Work in seconds 1-3 (a pass), quiet after; again in seconds 30-31.
    const collected = drive((s) => (s <= 3 || s === 30 || s === 31 ? 400 : 0), 60);
    expect(collected).toEqual([3 + quiet, 31 + quiet]);
  });

  it('does not collect while the work goes on, nor when there was no work', () => {
    expect(drive(() => 300, 30)).toEqual([]);
    expect(drive(() => 0, 30)).toEqual([]);
    // Timers and a few requests (under 5% of a core) are quiet, not work.
    expect(drive(() => 20, 30)).toEqual([]);
  });

  it('uses the real collector when none is given', async () => {
    const real = await vi.importActual<typeof import('node:v8')>('node:v8');
    setFlagsFromString.mockImplementationOnce((flag: string) => real.setFlagsFromString(flag));
    const stop = collectWhenIdle();
    stop();
    expect(setFlagsFromString).toHaveBeenCalledWith('--expose-gc');
  });
});
