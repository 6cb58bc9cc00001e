import { execFileSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';

const setFlagsFromString = vi.hoisted(() => vi.fn());
vi.mock('node:v8', async (original) => ({ ...(await original<object>()), setFlagsFromString }));

const { HEAP_GROWING_PERCENT, preferSmallHeap } = await import('../../../controller/util/heap.js');

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
