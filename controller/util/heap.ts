import { setFlagsFromString } from 'node:v8';

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
