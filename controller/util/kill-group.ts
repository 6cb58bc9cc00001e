import type { ChildProcess } from 'node:child_process';

/**
 * Ends a program spawned with `detached: true` and everything it started (its process group): a
 * wrapper such as `sh -c 'cat | client'` killed alone leaves its pipeline running. Falls back to the
 * program itself when it has no group of its own (or is gone).
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    if (child.pid === undefined) throw new Error('not started');
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
