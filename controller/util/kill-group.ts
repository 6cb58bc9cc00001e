import type { ChildProcess } from 'node:child_process';

/**
 * Ends a program spawned with `detached: true` and everything it started (its process group): a
 * wrapper such as `sh -c 'cat | client'` killed alone leaves its pipeline running. Falls back to the
 * program itself when it has no group of its own (or is gone).
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    // Once the program is reaped its pid (the group's id) may be another's: only while it runs.
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
      throw new Error('not running');
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
