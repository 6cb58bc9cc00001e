import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * How far V8 lets the old generation grow past what survived the last full GC before it collects
 * again, for the long-running commands (controller, agent). V8's own choice is up to 4x: at 10,000
 * objects the controller kept ~100 MiB live and ~300 MiB of not-yet-collected garbage from its resync
 * passes, 460–490 MiB RSS in all; at 20% the same controller held ~225 MiB (bench/scale, BENCHMARKS.md),
 * for a few more full collections of a small heap.
 */
export const HEAP_GROWING_PERCENT = 20;

/**
 * Makes this process collect garbage before its heap grows far past its live size. A value given on
 * the command line (`node --heap-growing-percent=N`) is kept. V8 reads the flag at every full GC, so
 * setting it at run time takes effect from the next one.
 */
export function preferSmallHeap(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

/** How long the process must have been quiet before a collection can give memory back (see below). */
export const IDLE_COLLECT_AFTER_MS = 6000;
/** CPU time of work since the last such collection that makes another worth it. */
const WORK_WORTH_COLLECTING_MS = 200;

/**
 * After a burst of work (a resync pass) followed by quiet, runs one full collection. V8 gives its young
 * generation back (up to 32 MiB, grown during the pass) only at a collection that sees the allocation
 * rate low over its last ~5 s, and a controller between passes allocates almost nothing, so no
 * collection comes to do it. Measured at 10,000 objects: BENCHMARKS.md "idle collection". Checks every
 * second; costs one full GC (tens of ms) per pass. The timer does not keep the process alive.
 */
export function collectWhenIdle(
  options: { quietMs?: number; gc?: () => void; cpuMs?: () => number } = {},
): () => void {
  const quietMs = options.quietMs ?? IDLE_COLLECT_AFTER_MS;
  const cpuMs = options.cpuMs ?? processCpuMs;
  let gc = options.gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  const tick = 1000;
  let last = cpuMs();
  let quietFor = 0;
  let workSinceCollect = 0;
  const timer = setInterval(() => {
    const usedMs = cpuMs() - last;
    last = cpuMs();
    // Busy: under 5% of a core counts as quiet (timers, a few requests).
    if (usedMs > tick * 0.05) {
      workSinceCollect += usedMs;
      quietFor = 0;
      return;
    }
    quietFor += tick;
    if (quietFor < quietMs || workSinceCollect < WORK_WORTH_COLLECTING_MS) return;
    workSinceCollect = 0;
    gc!();
    // The collection's own CPU is not work.
    last = cpuMs();
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}

function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
